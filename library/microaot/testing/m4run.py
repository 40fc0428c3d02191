"""Run a compiled model on QEMU mps2-an386 (Cortex-M4F) -- or, for target cortex-m55, on QEMU mps3-an547
(Cortex-M55 with Helium; ``machine_for``) -- and count instructions.

A self-contained firmware (no RPC): the generated model + its kernels + the cmsdk port + a generated
``main.c`` that holds the inputs as constant arrays, runs the model once per input set, and prints
the outputs and the instructions per run and per operator on UART0 (QEMU ``-icount shift=3``: the
port's timer counts guest instructions exactly, 5-instruction resolution; the op_begin/op_end hook
calls are excluded from nothing, they add ~30 instructions per operator).

    r = compile_model(model, out, target="cortex-m4", schedules=...)
    run = run_m4(r, [[x0], [x1]], build_dir)        # -> M4Run(outputs, instructions, op_instructions)

Used by the kernel tests (bit-exactness of the DSP paths) and by bench/ (instructions per inference).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from microaot import schedules as space
from microaot.boards import get_board
from microaot.compiler import CompileResult, compile_model
from microaot.errors import MicroaotError
from microaot.frontend.tflite import load_tflite
from microaot.hostbuild import generic_op_hashes
from microaot.paths import crt_root
from microaot.reference import run_reference
from microaot.rpc.protocol import differing_ops
from microaot.toolchain import cached_objects
from microaot.tune.log import log_schedules

ARM_CC = "arm-none-eabi-gcc"
QEMU = "qemu-system-arm"
ICOUNT_SHIFT = 3
M4_FLAGS = ["-mthumb", "-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]


@dataclass(frozen=True)
class Machine:
    """A QEMU machine the firmware runs on: its compiler flags, the cmsdk port's linker script and defines."""

    qemu: str
    flags: tuple[str, ...]
    ldscript: str
    defines: tuple[str, ...] = ()


MACHINES = {
    "mps2-an386": Machine("mps2-an386", tuple(M4_FLAGS), "mps2.ld"),
    # the boards qemu_mps2_an500 (Cortex-M7) and qemu_mps2_an505 (Cortex-M33, secure aliases, 20 MHz counter)
    "mps2-an500": Machine("mps2-an500", ("-mthumb", "-mcpu=cortex-m7", "-mfloat-abi=hard", "-mfpu=fpv5-d16"),
                          "mps2.ld"),
    "mps2-an505": Machine("mps2-an505", ("-mthumb", "-mcpu=cortex-m33", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"),
                          "mps2_an505.ld",
                          ("-DUAOT_CMSDK_UART0_BASE=0x50200000u", "-DUAOT_CMSDK_FPGAIO_BASE=0x50302000u",
                           "-DUAOT_CMSDK_REFCLK_HZ=20000000u")),
    # the board qemu_mps3_an547 (platform/boards): UART0 / FPGAIO at their secure aliases, a 20 MHz counter
    "mps3-an547": Machine("mps3-an547", ("-mthumb", "-mcpu=cortex-m55", "-mfloat-abi=hard"), "mps3_an547.ld",
                          ("-DUAOT_CMSDK_UART0_BASE=0x59303000u", "-DUAOT_CMSDK_FPGAIO_BASE=0x59302000u",
                           "-DUAOT_CMSDK_REFCLK_HZ=20000000u")),
}


def machine_for(target: str) -> Machine:
    """The machine a target's code runs on here: the M55 (Helium kernels) on mps3-an547, the rest on the M4."""
    return MACHINES["mps3-an547" if target == "cortex-m55" else "mps2-an386"]


CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffunction-sections", "-fdata-sections"]


BOARD = "qemu_mps2_an386"


def board_build(board: str = BOARD) -> tuple[list[str], str, list[str], str]:
    """CPU flags, linker script (crt/ports/cmsdk), extra compiler flags and QEMU machine of a CMSDK QEMU board of
    platform/boards (the default: the Cortex-M4F mps2-an386; also qemu_mps2_an500 (M7), qemu_mps2_an505 (M33))."""
    if board == BOARD:
        return list(M4_FLAGS), "mps2.ld", [], "mps2-an386"
    b = get_board(board)
    build = b.manifest.get("build", {})
    mc = build.get("microaot", {})
    if b.launch != "qemu" or mc.get("port") != "cmsdk" or not b.qemu_machine:
        raise MicroaotError(f"m4run runs CMSDK QEMU boards only; {board} is launched by {b.launch!r} "
                            f"with port {mc.get('port')!r}")
    flags = ["-mthumb", f"-mcpu={build['cpu']}", f"-mfloat-abi={mc.get('float_abi', 'soft')}"]
    flags += [f"-mfpu={mc['fpu']}"] if mc.get("fpu") else []
    return flags, str(mc.get("ldscript", "mps2.ld")), shlex.split(str(build.get("extra_flags", ""))), b.qemu_machine


def board_machine(board: str = BOARD) -> Machine:
    """The Machine of a CMSDK QEMU board of platform/boards (``board_build``)."""
    flags, ldscript, extra, qemu = board_build(board)
    return Machine(qemu, tuple(flags), ldscript, tuple(extra))


def _machine(board: str | None, machine: Machine | None) -> Machine:
    if machine is not None:
        return machine
    return board_machine(board) if board is not None else MACHINES["mps2-an386"]


def available() -> bool:
    return shutil.which(ARM_CC) is not None and shutil.which(QEMU) is not None


@dataclass
class M4Run:
    outputs: list[list[np.ndarray]]  # per input set, per graph output
    instructions: list[int]  # per input set: the whole NAME_run_ex call
    op_instructions: list[int]  # per operator, of the last input set
    text_bytes: int
    elf: Path
    op_hashes: list[list[int]] | None = None  # per input set: FNV-1a 32 of every operator's outputs (OPCHECK's)


def _c_bytes(data: bytes) -> str:
    items = [str(b) for b in data] or ["0"]
    return ",\n".join(", ".join(items[i:i + 24]) for i in range(0, len(items), 24))


def _main_c(result: CompileResult, inputs: Sequence[Sequence[np.ndarray]],
            groups: Sequence[int] | None = None) -> str:
    n = result.name
    g = result.graph
    # a stateful model: the input sets are consecutive sequences of these lengths, each from a reset state
    starts = set(np.cumsum([0, *(groups or [len(inputs)])])[:-1].tolist())
    reset_at = ", ".join("1" if i in starts else "0" for i in range(max(len(inputs), 1)))
    lines = [f'#include "{n}.h"', "#include <stdint.h>", "#include <stddef.h>", '#include "microaot/platform.h"', "",
             "#include <string.h>",
             f"static uint8_t ws[{n}_WORKSPACE_SIZE] __attribute__((aligned(16)));",
             # the state persists from one input set to the next (a sequence, for a stateful model); the hash
             # run replays each step from a copy, so it advances the state exactly once
             f"static uint8_t state[{n}_STATE_SIZE > 0 ? {n}_STATE_SIZE : 1] __attribute__((aligned(16)));",
             f"static uint8_t state_copy[{n}_STATE_SIZE > 0 ? {n}_STATE_SIZE : 1] __attribute__((aligned(16)));",
             f"static const uint8_t reset_at[{max(len(inputs), 1)}] = {{{reset_at}}};"]
    for s, xs in enumerate(inputs):
        for k, x in enumerate(xs):
            t = g.tensors[g.inputs[k]]
            b = np.ascontiguousarray(np.asarray(x).astype(t.dtype if t.dtype != "float32" else np.float32)).tobytes()
            lines.append(f"static const uint8_t in_{s}_{k}[{max(len(b), 1)}] __attribute__((aligned(16))) = {{\n"
                         f"{_c_bytes(b)}\n}};")
    for k, t in enumerate(g.outputs):
        lines.append(f"static uint8_t out_{k}[{max(g.tensors[t].nbytes, 1)}] __attribute__((aligned(16)));")
    lines.append(f"static const void *const inputs[{len(inputs)}][{max(len(g.inputs), 1)}] = {{")
    for s in range(len(inputs)):
        lines.append("    {" + ", ".join(f"in_{s}_{k}" for k in range(len(g.inputs))) + "},")
    lines.append("};")
    lines.append(f"static void *const outputs[{max(len(g.outputs), 1)}] = {{"
                 + ", ".join(f"out_{k}" for k in range(len(g.outputs))) + "};")
    lines.append(f"static const uint32_t out_bytes[{max(len(g.outputs), 1)}] = {{"
                 + ", ".join(str(g.tensors[t].nbytes) for t in g.outputs) + "};")
    lines += [
        f"static uint64_t op_t[{max(len(g.operators), 1)}];",
        "static uint64_t op_t0;",
        "static void on_begin(void *ctx, uint16_t i) { (void)ctx; (void)i; op_t0 = uaot_platform_timer_read(); }",
        "static void on_end(void *ctx, uint16_t i) { (void)ctx; op_t[i] += uaot_platform_timer_read() - op_t0; }",
        f"static uint32_t op_h[{max(len(g.operators), 1)}];",
        "static void on_output(void *ctx, uint16_t i, const void *data, uint32_t n) { const uint8_t *p = data; "
        "uint32_t h = op_h[i]; (void)ctx; for (uint32_t k = 0; k < n; k++) { h = (h ^ p[k]) * 0x01000193u; } "
        "op_h[i] = h; }",
        "static void put(const char *s) { size_t n = 0; while (s[n]) { n++; } "
        "uaot_platform_write((const uint8_t *)s, n); }",
        "static void put_u64(uint64_t v) { char b[24]; int i = 23; b[i] = 0; "
        "do { b[--i] = (char)('0' + (int)(v % 10u)); v /= 10u; } while (v); put(&b[i]); }",
        "static void put_hex(const uint8_t *p, uint32_t n) { static const char h[] = \"0123456789abcdef\"; "
        "char b[2]; for (uint32_t i = 0; i < n; i++) { b[0] = h[p[i] >> 4]; b[1] = h[p[i] & 15]; "
        "uaot_platform_write((const uint8_t *)b, 2); } }",
        "int main(void)", "{",
        "    uaot_hooks_t hooks = {0};",
        "    hooks.op_begin = on_begin;",
        "    hooks.op_end = on_end;",
        f"    for (uint32_t s = 0; s < {len(inputs)}u; s++) {{",
        f"        if (reset_at[s] && {n}_reset_state(state) != UAOT_OK) {{ return 5; }}",
        f"        for (uint32_t i = 0; i < {max(len(g.operators), 1)}u; i++) {{ op_t[i] = 0; }}",
        "        memcpy(state_copy, state, sizeof state);",
        "        uint64_t t0 = uaot_platform_timer_read();",
        f"        uaot_status_t st = {n}_run_ex(inputs[s], outputs, ws, state, &hooks);",
        "        uint64_t t1 = uaot_platform_timer_read();",
        "        if (st != UAOT_OK) { put(\"status \"); put_u64((uint64_t)st); put(\"\\n\"); return 3; }",
        "        put(\"insn \"); put_u64(t1 - t0); put(\"\\n\");",
        f"        for (uint32_t k = 0; k < {len(g.outputs)}u; k++) {{ put(\"out \"); "
        "put_hex((const uint8_t *)outputs[k], out_bytes[k]); put(\"\\n\"); }",
        "        /* a second, untimed run that hashes every operator's outputs */",
        f"        for (uint32_t i = 0; i < {max(len(g.operators), 1)}u; i++) {{ op_h[i] = 0x811C9DC5u; }}",
        "        uaot_hooks_t check = {0};",
        "        check.op_output = on_output;",
        "        memcpy(state, state_copy, sizeof state);",
        f"        if ({n}_run_ex(inputs[s], outputs, ws, state, &check) != UAOT_OK) {{ return 4; }}",
        f"        put(\"hash\"); for (uint32_t i = 0; i < {len(g.operators)}u; i++) {{ put(\" \"); "
        "put_u64(op_h[i]); } put(\"\\n\");",
        "    }",
        f"    for (uint32_t i = 0; i < {len(g.operators)}u; i++) {{ put(\"op \"); put_u64(op_t[i]); put(\"\\n\"); }}",
        "    put(\"done\\n\");",
        "    return 0;",
        "}", ""]
    return "\n".join(lines)


def build_m4(result: CompileResult, inputs: Sequence[Sequence[np.ndarray]], build_dir: str | Path,
             *, extra_cflags: Sequence[str] = (), board: str | None = None, machine: Machine | None = None,
             groups: Sequence[int] | None = None) -> Path:
    """Build the firmware ELF (for ``machine``, or the CMSDK QEMU ``board`` (``board_build``), by default the M4's);
    returns its path. ``groups``: the input sets are consecutive sequences of these lengths, the state reset before
    each (None: one sequence of every set)."""
    mach = _machine(board, machine)
    bd = Path(build_dir)
    bd.mkdir(parents=True, exist_ok=True)
    main = bd / "m4main.c"
    main.write_text(_main_c(result, inputs, groups))
    crt = crt_root()
    port = crt / "ports" / "cmsdk"
    srcs = [main, *result.sources, *result.kernel_sources, port / "startup.c", port / "platform_cmsdk.c",
            crt / "src" / "platform_defaults.c"]
    elf = bd / f"{result.name}_m4.elf"
    compile_cmd = [ARM_CC, *mach.flags, *CFLAGS, *extra_cflags, *mach.defines, f"-DUAOT_ICOUNT_SHIFT={ICOUNT_SHIFT}",
                   f"-I{crt / 'include'}", f"-I{result.header.parent}", "--specs=nano.specs", "--specs=nosys.specs"]
    objs = cached_objects(compile_cmd, srcs, error=MicroaotError)  # the runtime's files: compiled once (toolchain)
    cmd = [*compile_cmd, *map(str, objs), "-nostartfiles", f"-T{port / mach.ldscript}", "-Wl,--gc-sections",
           "-o", str(elf), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise MicroaotError(f"{ARM_CC} failed building {elf.name}:\n{' '.join(cmd)}\n{proc.stderr.strip()}")
    return elf


def _text_bytes(elf: Path) -> int:
    size = shutil.which("arm-none-eabi-size")
    if size is None:
        return 0
    out = subprocess.run([size, str(elf)], capture_output=True, text=True, check=False).stdout.splitlines()
    return int(out[1].split()[0]) if len(out) > 1 else 0


def run_elf(result: CompileResult, elf: Path, n_sets: int, *, timeout: float = 120, board: str | None = None,
            machine: Machine | None = None) -> M4Run:
    cmd = ["timeout", str(int(timeout)), QEMU, "-M", _machine(board, machine).qemu, "-nographic", "-semihosting",
           "-icount", f"shift={ICOUNT_SHIFT}", "-kernel", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10, check=False)
    out = proc.stdout
    if proc.returncode != 0 or "done" not in out:
        raise MicroaotError(f"QEMU run of {elf.name} failed (exit "
                            f"{proc.returncode}):\n{out[-2000:]}\n{proc.stderr[-2000:]}")
    g = result.graph
    insn = [int(v) for v in re.findall(r"^insn (\d+)", out, re.M)]
    hexes = re.findall(r"^out ([0-9a-f]*)", out, re.M)
    ops = [int(v) for v in re.findall(r"^op (\d+)", out, re.M)]
    outs: list[list[np.ndarray]] = []
    no = len(g.outputs)
    for s in range(n_sets):
        row = []
        for k, t in enumerate(g.outputs):
            tt = g.tensors[t]
            dt = np.float32 if tt.dtype == "float32" else np.dtype(tt.dtype)
            row.append(np.frombuffer(bytes.fromhex(hexes[s * no + k]), dtype=dt).reshape(tt.shape))
        outs.append(row)
    hashes = [[int(v) for v in line.split()] for line in re.findall(r"^hash((?: \d+)*)$", out, re.M)]
    return M4Run(outs, insn, ops, _text_bytes(elf), elf, hashes if len(hashes) == n_sets else None)


def run_m4(result: CompileResult, inputs: Sequence[Sequence[np.ndarray]], build_dir: str | Path,
           *, timeout: float = 120, board: str | None = None, machine: Machine | None = None,
           groups: Sequence[int] | None = None) -> M4Run:
    """Build and run on QEMU (mps2-an386, or ``machine`` / ``board``'s machine) under ``timeout`` seconds.
    Instruction counts are exact on machines whose FPGAIO counter runs at 25 MHz (AN386, AN500), not on the AN505
    and AN547 (20 MHz). ``groups``: see :func:`build_m4`."""
    elf = build_m4(result, inputs, build_dir, board=board, machine=machine, groups=groups)
    return run_elf(result, elf, len(inputs), timeout=timeout, board=board, machine=machine)


def count_macs(graph: Any) -> int:
    """MACs of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED (the MLPerf Tiny README convention)."""
    total = 0
    for op in graph.operators:
        if op.opcode not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        w = graph.tensors[op.inputs[1]]
        y = graph.tensors[op.outputs[0]]
        out = int(np.prod(y.shape))
        if op.opcode == "CONV_2D":
            total += out * int(np.prod(w.shape[1:]))
        elif op.opcode == "DEPTHWISE_CONV_2D":
            total += out * int(w.shape[1]) * int(w.shape[2])
        else:
            total += out * int(w.shape[1])
    return total


def measure(model: str | Path, *, target: str = "cortex-m4", schedules: Mapping[int, Mapping[str, Any]] | None = None,
            tuning_log: str | Path | None = None, seed: int = 0, build_dir: str | Path | None = None,
            check: bool = True, machine: Machine | None = None) -> dict[str, Any]:
    """Instructions per inference of ``model`` on QEMU mps2-an386 (mps3-an547 for target cortex-m55; seeded
    int8/float input as in the
    MLPerf README), per operator, instructions/MAC, and bit-exactness against TFLM (``check``)."""
    if build_dir is None:
        with tempfile.TemporaryDirectory(prefix="m4run_") as tmp:
            return measure(model, target=target, schedules=schedules, tuning_log=tuning_log, seed=seed,
                           build_dir=tmp, check=check, machine=machine)
    bd = Path(build_dir)
    sched = {**log_schedules(tuning_log, model, target=target), **(schedules or {})}
    r = compile_model(model, bd / "gen", target=target, schedules=sched)
    g = r.graph
    xs = []
    for t in g.inputs:
        tt = g.tensors[t]
        rng = np.random.default_rng(seed)
        if tt.dtype == "float32":
            xs.append(rng.standard_normal(size=tt.shape).astype(np.float32))
        else:
            xs.append(rng.integers(-128, 128, size=tt.shape, dtype=np.int8))
    run = run_m4(r, [xs], bd / "m4", machine=machine or machine_for(target))
    macs = count_macs(g)
    out: dict[str, Any] = {
        "model": str(model), "target": target, "instructions": run.instructions[0], "macs": macs,
        "instructions_per_mac": run.instructions[0] / macs if macs else None,
        "ops": [{"index": op.index, "opcode": op.opcode, "instructions": n}
                for op, n in zip(g.operators, run.op_instructions, strict=True)],
        "text_bytes": run.text_bytes, "workspace": r.workspace_size, "weight_bytes": r.weight_bytes,
    }
    if check:
        ref = run_reference(model, [xs])[0]
        out["bit_exact"] = all(np.array_equal(a.reshape(-1), b.reshape(-1))
                               for a, b in zip(run.outputs[0], ref, strict=True))
        # every intermediate tensor, not only the outputs (a coarse softmax can hide a wrong layer), vs the
        # generic-C build on the host; a firmware that gave no hashes counts as differing everywhere

        want = generic_op_hashes(model, [xs], bd / "generic")[0]
        diff = differing_ops(run.op_hashes[0], want) if run.op_hashes else list(range(len(want)))
        out["ops_differ"] = diff
        out["bit_exact"] = out["bit_exact"] and not diff
    out["op_hashes"] = run.op_hashes[0] if run.op_hashes else None
    return out


def best_per_op(model: str | Path, *, target: str = "cortex-m4", build_dir: str | Path | None = None,
                seed: int = 0) -> dict[str, Any]:
    """Exhaustive per-operator search on QEMU: run k = 0..max(candidates)-1 where every operator uses its
    k-th distinct schedule (``microaot.schedules.candidates``; the default when it has fewer), read the
    per-operator instructions, keep each operator's cheapest schedule, and measure that combination.
    Operators are independent (each kernel only sees its own schedule), so this finds the per-op best
    in max(candidates) + 1 runs. Returns {"default": measure(), "best": measure(), "schedules": {...}}."""

    if build_dir is None:
        with tempfile.TemporaryDirectory(prefix="m4best_") as tmp:
            return best_per_op(model, target=target, build_dir=tmp, seed=seed)
    g = load_tflite(model)
    bd = Path(build_dir)
    defaults = space.default_schedules(g, target)  # k = 0: what compile_model builds without schedules
    cands = {op.index: space.candidates(g, op, target, defaults.get(op.index)) for op in g.operators}
    n = max((len(c) for c in cands.values()), default=1)
    best: dict[int, tuple[int, dict[str, Any]]] = {}
    default: dict[str, Any] = {}
    want: list[int] | None = None
    for k in range(n):
        sched = {i: (c[k] if k < len(c) else c[0]) for i, c in cands.items()}
        res = measure(model, target=target, schedules=sched, build_dir=bd / f"k{k}", seed=seed, check=k == 0)
        if k == 0:
            default = res
            want = res["op_hashes"]  # the default build's tensors (checked against the generic build)
        # operators are in execution (topological) order: up to the first differing tensor every
        # operator had the default's inputs and produced the default's outputs; later ones are not judged
        diff = differing_ops(res["op_hashes"], want) if res["op_hashes"] and want else []
        upto = diff[0] if diff else len(res["ops"])
        for o in res["ops"][:upto]:
            i = o["index"]
            if i not in best or o["instructions"] < best[i][0]:
                best[i] = (o["instructions"], sched[i])
    chosen = {i: v[1] for i, v in best.items()}
    tuned = measure(model, target=target, schedules=chosen, build_dir=bd / "best", seed=seed)
    return {"default": default, "best": tuned, "schedules": chosen}


def main(argv: Sequence[str] | None = None) -> int:
    """python -m microaot.testing.m4run MODEL [--target T] [--schedules JSON] [--log LOG] [--ops] [--best]"""
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m microaot.testing.m4run", description=main.__doc__)
    ap.add_argument("model")
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--schedules", default=None,
                    help='JSON {op_index: knobs} or {OPCODE: knobs} (applied to every op of that opcode)')
    ap.add_argument("--log", default=None, help="tuning log (JSON lines)")
    ap.add_argument("--ops", action="store_true", help="print per-operator instructions")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--best", action="store_true",
                    help="also search every operator's schedules (best_per_op) and report default vs best")
    a = ap.parse_args(argv)
    if a.best:
        rb = best_per_op(a.model, target=a.target)
        d, b = rb["default"], rb["best"]
        if a.json:
            print(json.dumps(rb, indent=1, default=str))
        else:
            print(f"{Path(a.model).name} {a.target}: default {d['instructions']} ({d['instructions_per_mac']:.3f}/MAC, "
                  f"bit-exact {d.get('bit_exact')}), best per op {b['instructions']} "
                  f"({b['instructions_per_mac']:.3f}/MAC, bit-exact {b.get('bit_exact')}), "
                  f"speed-up {d['instructions'] / b['instructions']:.3f}x, weights {d['weight_bytes']} -> "
                  f"{b['weight_bytes']} B")
        return 0 if d.get("bit_exact", True) and b.get("bit_exact", True) else 1
    sched: dict[int, Mapping[str, Any]] | None = None
    if a.schedules:
        raw = json.loads(a.schedules)
        g = load_tflite(a.model)
        sched = {}
        for k, v in raw.items():
            if k.isdigit():
                sched[int(k)] = v
            else:
                sched.update({op.index: v for op in g.operators if op.opcode == k})
    res = measure(a.model, target=a.target, schedules=sched, tuning_log=a.log)
    if a.json:
        print(json.dumps(res, indent=1))
        return 0 if res.get("bit_exact", True) else 1
    print(f"{Path(a.model).name} {a.target}: {res['instructions']} instructions, {res['macs']} MACs, "
          f"{res['instructions_per_mac']:.3f} instructions/MAC, bit-exact (outputs vs TFLM, every tensor vs "
          f"the generic-C build): {res.get('bit_exact')}"
          + (f"; tensors differ at ops {res['ops_differ']}" if res.get("ops_differ") else ""))
    if a.ops:
        for o in res["ops"]:
            print(f"  op {o['index']:3d} {o['opcode']:<20} {o['instructions']:>10}")
    return 0 if res.get("bit_exact", True) else 1


if __name__ == "__main__":
    raise SystemExit(main())
