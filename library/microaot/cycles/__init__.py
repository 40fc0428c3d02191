"""Estimated cycles of a run on a QEMU board: the QEMU TCG plugin ``qemu_cycles.c`` counts executed
instructions by class, :mod:`microaot.cycles.model` prices them with the core's timings and the board's
flash wait states and cache (docs/cycle-model.md).

    plugin = CyclePlugin.prepare(board, firmware, info, work_dir)   # None where it cannot run
    open_link(board, firmware, qemu_args=plugin.qemu_args) ...           # the firmware runs under it
    est = plugin.estimate(run_times, op_times)                           # after QEMU has exited
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microaot.cycles.model import CoreTiming, core_timing, estimate, match_segments, parse_segments
from microaot.report.elf import read_symbols
from microaot.report.evaluation import CycleEstimate, number_settings

SOURCE = Path(__file__).with_name("qemu_cycles.c")


def cache_dir() -> Path:
    """A folder of the current user's (never a shared /tmp path) for the built plugin."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    d = Path(base) / "microaot"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def build_plugin() -> Path:
    """The plugin as a shared library, compiled with the host's cc once per source version."""
    src = SOURCE.read_bytes()
    key = hashlib.sha256(src).hexdigest()[:16]
    lib = cache_dir() / f"libuaot_cycles-{key}.so"
    if lib.is_file():
        return lib
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        raise OSError("no host C compiler (cc / gcc) to build the QEMU cycle plugin")
    fd, tmp = tempfile.mkstemp(dir=lib.parent, suffix=".so")
    os.close(fd)
    try:
        proc = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-o", tmp, str(SOURCE)],
                              capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise OSError(f"building the QEMU cycle plugin failed: {proc.stderr.strip()[-500:]}")
        os.replace(tmp, lib)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return lib


@dataclass
class CyclePlugin:
    out: Path
    qemu_args: list[str]
    core: CoreTiming
    wait_states: int
    cache: bool
    f_cpu: int

    @classmethod
    def prepare(cls, firmware: Path, *, cpu: str, settings: Mapping[str, Any], f_cpu: int, name: str | None,
                work_dir: Path) -> CyclePlugin:
        """Raises OSError / ValueError when the estimate cannot be made (no compiler, unknown core, the
        firmware lacks the symbols)."""
        core = core_timing(cpu)
        syms = {s.name: s for s in read_symbols(firmware) if s.type == "STT_FUNC" and s.section}
        timer = syms.get("uaot_platform_timer_read")
        run = syms.get(f"{name}_run_ex") if name else None
        if run is None:
            run = next((s for n, s in sorted(syms.items()) if n.endswith("_run_ex")), None)
        if timer is None or run is None:
            raise ValueError(f"{firmware}: no uaot_platform_timer_read / NAME_run_ex symbols for the cycle estimate")
        soc = number_settings(settings)
        ws = int(soc.get("flash_wait_states") or 0)
        cache = int(soc.get("cache") or 0) != 0
        out = work_dir / "cycles.txt"
        arg = (f"{build_plugin()},out={out},timer={timer.value:#x},run={run.value:#x},cache={int(cache)},"
               "flash_hi=0x20000000,line=16,ilines=64,dlines=8")
        return cls(out, ["-plugin", arg], core, ws, cache, f_cpu)

    def estimate(self, run_times: Sequence[float], op_times: Sequence[float] = ()) -> CycleEstimate | None:
        """The estimate of the timed runs (device instruction counts, in order) and of the profiled
        operators (one profiled run, operator order); None when no segment matched."""
        if not self.out.is_file():
            return None
        segs = parse_segments(self.out.read_text())
        found, pos = match_segments(segs, run_times, run_only=True)
        runs = [s for s in found if s is not None]
        if not runs:
            return None
        per_op, _ = match_segments(segs, op_times, run_only=False, start=pos)
        ops = [estimate(s.counts, self.core, self.wait_states) if s is not None else None for s in per_op]
        cyc = [estimate(s.counts, self.core, self.wait_states) for s in runs]
        return CycleEstimate(core=self.core.name, wait_states=self.wait_states, cache=self.cache, f_cpu=self.f_cpu,
                             cycles_per_inference=sum(cyc) / len(cyc),
                             instructions_per_inference=sum(s.instructions for s in runs) / len(runs),
                             runs=len(runs), op_cycles=ops)
