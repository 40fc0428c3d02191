"""The evaluation report of ``microaot eval`` / ``pio test``: data, text table, JSON and a PNG chart."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

UNIT_NAMES = {
    "instructions": "instructions",
    "cycles": "cycles",
    "ns": "ns",
    "us": "µs",
}


@dataclass
class Mismatch:
    seed: int
    output: int
    differing: int  # number of differing elements
    max_abs_diff: float


@dataclass
class OpTime:
    index: int
    name: str
    per_run: float
    share: float  # fraction of the summed operator time


@dataclass
class MemoryReport:
    code: int  # .text (+ vector table) bytes in flash
    weights: int  # the weight section in flash
    rodata: int  # other constants in flash
    data: int  # initialised RAM (also stored in flash)
    bss: int  # zeroed RAM without the stack reservation
    flash: int  # code + weights + rodata + data
    static_ram: int  # data + bss (includes the workspace and I/O buffers)
    workspace: int  # the model's planned workspace (part of bss)
    io_buffers: int | None = None
    stack_reserved: int | None = None
    stack_high_water: int | None = None
    model_stack: int | None = None
    weight_section: str = ".rodata.microaot"


@dataclass
class EvalReport:
    model: str
    model_hash: str
    board: str
    board_name: str
    timer_unit: str
    seeds: int
    runs: int
    outputs_match: bool
    compared_bytes: int
    time_min: int
    time_mean: float
    time_max: int
    memory: MemoryReport
    ops: list[OpTime] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    # the device's outputs for the first input (seed 0), flattened, one list per output tensor
    first_outputs: list[list[float]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    firmware: str = ""
    build_seconds: float = 0.0
    eval_seconds: float = 0.0
    seconds_per_inference: float | None = (
        None  # when the timer unit converts to time (cycles at f_cpu, ns, us)
    )
    # every operator's output (OPCHECK hashes) vs the generic-C build on the host; None: not compared
    tensors_match: bool | None = None
    # on a mismatch: which operator's output first differs from the generic-C build on the host
    tensor_diagnosis: str | None = None
    # what the evaluation could not do, and why (e.g. a firmware without OPCHECK / PROFILE for the model)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf8")

    # ---- text -------------------------------------------------------------------------------
    def format_text(self, *, top: int = 12) -> str:
        unit = UNIT_NAMES.get(self.timer_unit, self.timer_unit)
        m = self.memory
        lines = [
            f"microaot eval: {Path(self.model).name} on {self.board} ({self.board_name})",
            "",
            f"  outputs vs TFLM     : {'MATCH (bit-exact)' if self.outputs_match else 'MISMATCH'}"
            f" over {self.seeds} input(s), {self.compared_bytes} output bytes",
        ]
        for oi, vals in enumerate(self.first_outputs):
            shown = ", ".join(f"{v:g}" for v in vals[:16]) + (f", ... ({len(vals)} values)" if len(vals) > 16 else "")
            lines.append(f"  output {oi} (seed 0)   : [{shown}]")
        for mm in self.mismatches[:5]:
            lines.append(
                f"    seed {mm.seed} output {mm.output}: {mm.differing} element(s) differ, max |diff| {mm.max_abs_diff:g}"
            )
        if self.tensors_match is not None:
            lines.append(f"  every tensor        : {'MATCH' if self.tensors_match else 'DIFFER'} (each operator's output "
                         f"vs the generic-C build on the host, {self.seeds} input(s))")
        if self.tensor_diagnosis:
            lines.append(f"    diagnosis: {self.tensor_diagnosis}")
        t = f"  on-device time      : {self.time_mean:,.0f} {unit} per inference (min {self.time_min:,}, max {self.time_max:,}; {self.seeds} input(s) x {self.runs} run(s), measured on the device)"
        lines.append(t)
        if self.seconds_per_inference is not None:
            lines.append(f"                        = {self.seconds_per_inference * 1e3:.3f} ms")
        lines += [
            f"  code (.text)        : {m.code:>10,} B",
            f"  weights ({m.weight_section}) : {m.weights:>10,} B flash",
            f"  other const         : {m.rodata:>10,} B flash",
            f"  flash total         : {m.flash:>10,} B",
            f"  static RAM          : {m.static_ram:>10,} B (.data {m.data:,} + .bss {m.bss:,})",
            f"    model workspace   : {m.workspace:>10,} B",
        ]
        if m.io_buffers is not None:
            lines.append(f"    I/O buffers       : {m.io_buffers:>10,} B")
        if m.stack_high_water is not None:
            lines.append(
                f"  stack high-water    : {m.stack_high_water:>10,} B of {m.stack_reserved or 0:,} B reserved"
                + (f" (model: {m.model_stack:,} B)" if m.model_stack is not None else "")
            )
        if self.ops:
            lines += ["", f"  per-operator profile ({unit} per inference, top {min(top, len(self.ops))}):"]
            for op in sorted(self.ops, key=lambda o: -o.per_run)[:top]:
                lines.append(f"    #{op.index:<3} {op.name:<22} {op.per_run:>14,.0f}  {op.share * 100:5.1f}%")
        for note in self.skipped:
            lines += ["", f"  skipped: {note}"]
        if self.settings:
            s = ", ".join(f"{k}={v}" for k, v in self.settings.items())
            lines += ["", f"  SoC settings        : {s}"]
        return "\n".join(lines)

    # ---- chart ------------------------------------------------------------------------------
    def write_png(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        unit = UNIT_NAMES.get(self.timer_unit, self.timer_unit)
        ops = self.ops or []
        labels = [f"#{o.index} {o.name}" for o in ops]
        values = [o.per_run for o in ops]
        height = max(2.5, 0.28 * len(ops) + 1.2)
        fig, ax = plt.subplots(figsize=(8, height))
        ax.barh(range(len(ops)), values, color="#3b7dd8")
        ax.set_yticks(range(len(ops)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(f"{unit} per inference (measured on the device)")
        ax.set_title(f"{Path(self.model).name} on {self.board}: per-operator time", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def summary_line(passed: int, failed: int) -> str:
    """The closing line CI reads."""
    return f"{passed} passed, {failed} failed"
