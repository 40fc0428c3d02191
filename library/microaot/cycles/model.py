"""The cycle estimate of a run on QEMU: instruction classes counted by the QEMU plugin (qemu_cycles.c),
priced with each core's instruction timings, plus flash wait states for the accesses the modelled line
buffer or cache misses. QEMU counts instructions, not cycles; this turns them into an *estimate* that
follows the board's SoC settings (docs/cycle-model.md states the assumptions and how the estimate
compares with published figures).

Timings (cycles) from the Technical Reference Manuals, "Processor instruction timings":
- Cortex-M3 (TRM r2p1, 18.2) and Cortex-M4 (TRM r0p1, 3.3): data processing 1; MUL 1; MLA/MLS 2 (M3)
  / 1 (M4); UMULL/SMULL 3-5 (M3, taken as 4) / 1 (M4); UMLAL/SMLAL 4-7 (M3, 5) / 1 (M4); DSP multiplies
  1 (M4 only); SDIV/UDIV 2-12 (taken as 7); single load/store 2, 1 when it directly follows another
  single load/store (address phase overlap); LDRD/STRD 3; LDM/STM/PUSH/POP 1 + N registers; a taken
  branch (or POP/LDR into PC) adds P = 2 pipeline-refill cycles (1-3 in the TRM); IT 0 (folded); FPU
  (M4F) VADD/VSUB/VMUL/VCVT/VMOV 1, VMLA/VFMA 3, VDIV/VSQRT 14, VLDR 2, VLDM/VSTM 1 + N.
- Cortex-M7 (dual issue, 6-stage pipeline, branch prediction; the TRM gives no per-instruction table):
  an approximation - two ALU instructions issue per cycle (0.5 each), loads/stores 1 (one memory
  pipe), every multiply and MAC 1, DIV 7, taken branches 1 extra (predicted loops), FPU MAC 1 (pipelined).
- Cortex-M33 (like the M4 with the DSP and FPU extensions; branches P = 1: shorter 3-stage pipeline).
- Cortex-M0/M0+: 1 per ALU instruction, loads/stores 2, LDM/STM 1 + N, MUL 1 (fast multiplier),
  taken branches P = 2 (M0) / 1 (M0+).

Wait states: every miss counted by the plugin (an instruction fetch of a 16-byte flash line not in the
line buffer, or - with the board's cache on - not in a 64-line instruction cache; a data read from flash
that is not in an 8-line data cache, or every such read without cache) costs ``flash_wait_states``
cycles. Accesses to SRAM (0x20000000 and up) have no wait states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# the plugin's class order (qemu_cycles.c enum)
CLASSES = (
    "alu", "mul", "mla", "mull", "mlal", "dspmul", "dspmull", "div", "load", "store", "loadd", "stored",
    "ldm", "ldm_regs", "stm", "stm_regs", "pop_pc", "branch", "it", "nop", "fpu", "fpu_mac", "fpu_div",
    "vload", "vstore", "vldm", "vldm_regs", "vstm", "vstm_regs", "other",
    "taken", "ls_pipe", "ifetch_miss", "dflash_miss",
)


@dataclass(frozen=True)
class CoreTiming:
    name: str
    cost: Mapping[str, float]  # cycles per instruction (or per register / event) of each class
    refill: float  # extra cycles of a taken branch (pipeline refill)
    ls_pipe_saving: float = 1.0  # cycles saved by a load/store that follows another


_BASE_M4 = {
    "alu": 1, "mul": 1, "mla": 1, "mull": 1, "mlal": 1, "dspmul": 1, "dspmull": 1, "div": 7,
    "load": 2, "store": 2, "loadd": 3, "stored": 3, "ldm": 1, "ldm_regs": 1, "stm": 1, "stm_regs": 1,
    "pop_pc": 1, "branch": 1, "it": 0, "nop": 1, "fpu": 1, "fpu_mac": 3, "fpu_div": 14, "vload": 2, "vstore": 2,
    "vldm": 1, "vldm_regs": 1, "vstm": 1, "vstm_regs": 1, "other": 2,
}
CORES: dict[str, CoreTiming] = {
    "cortex-m4": CoreTiming("cortex-m4", _BASE_M4, refill=2),
    "cortex-m3": CoreTiming("cortex-m3", {**_BASE_M4, "mla": 2, "mull": 4, "mlal": 5, "dspmul": 2,
                                          "dspmull": 5}, refill=2),
    "cortex-m33": CoreTiming("cortex-m33", _BASE_M4, refill=1),
    # M55: the M33's scalar timings; a 128-bit Helium instruction takes two beats on its 64-bit datapath
    # ("other": 2 cycles; the overlap of beats of different instruction types is not modelled)
    "cortex-m55": CoreTiming("cortex-m55", _BASE_M4, refill=1),
    "cortex-m7": CoreTiming("cortex-m7", {**_BASE_M4, "alu": 0.5, "load": 1, "store": 1, "loadd": 1, "stored": 1,
                                          "ldm_regs": 0.5, "stm_regs": 0.5, "fpu": 0.5, "fpu_mac": 1,
                                          "vload": 1, "vstore": 1, "it": 0, "nop": 0.5},
                            refill=1, ls_pipe_saving=0.0),
    "cortex-m0": CoreTiming("cortex-m0", {**_BASE_M4, "mla": 2, "mull": 4, "mlal": 5}, refill=2),
    "cortex-m0plus": CoreTiming("cortex-m0plus", {**_BASE_M4, "mla": 2, "mull": 4, "mlal": 5}, refill=1),
}


def core_timing(cpu: str) -> CoreTiming:
    """The timing table of a core name (``cortex-m4``, ``cortex-m7``, ...; M85 is priced as the M55)."""
    c = cpu.lower().replace("cortex_m", "cortex-m").replace("+", "plus")
    if c in CORES:
        return CORES[c]
    if c.startswith("cortex-m55") or c.startswith("cortex-m85"):
        return CORES["cortex-m55"]
    raise ValueError(f"no timing model for core {cpu!r}; known: {', '.join(sorted(CORES))}")


@dataclass(frozen=True)
class Segment:
    """The instructions between two entries of the timer read function (qemu_cycles.c)."""

    run: bool  # the model's run function was entered in it
    instructions: int
    counts: dict[str, int]


def estimate(counts: Mapping[str, int], core: CoreTiming, wait_states: int) -> float:
    """Estimated cycles of a segment's class counts."""
    cyc = sum(core.cost.get(k, 0) * n for k, n in counts.items() if k in core.cost)
    taken = counts.get("taken", 0)
    cyc += taken * core.refill
    cyc -= counts.get("ls_pipe", 0) * core.ls_pipe_saving
    cyc += wait_states * (counts.get("ifetch_miss", 0) + counts.get("dflash_miss", 0))
    return float(cyc)


def parse_segments(text: str) -> list[Segment]:
    """Segments from the plugin's output file (lines ``S <run> <instructions> <counts...>``)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0] != "S":
            continue
        vals = [int(v) for v in parts[1:]]
        if len(vals) != 2 + len(CLASSES):
            raise ValueError(f"cycle plugin output has {len(vals) - 2} classes, expected {len(CLASSES)}")
        out.append(Segment(bool(vals[0]), vals[1], dict(zip(CLASSES, vals[2:], strict=True))))
    return out


def match_segments(segments: Sequence[Segment], measured: Sequence[float], *, run_only: bool,
                   start: int = 0) -> tuple[list[Segment | None], int]:
    """In order, the segment that stands for each measured instruction count (the device's timer reads
    bracket the same instructions up to a few: tolerance 64 + 0.1 %), None where none does; and the
    position after the last segment used."""
    found: list[Segment | None] = []
    pos = start
    for m in measured:
        tol = 64 + 0.001 * m
        hit = None
        for j in range(pos, len(segments)):
            s = segments[j]
            if (s.run or not run_only) and abs(s.instructions - m) <= tol:
                hit, pos = s, j + 1
                break
        found.append(hit)
    return found, pos
