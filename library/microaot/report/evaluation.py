"""The evaluation report of ``microaot eval`` / ``pio test``: data, text table, JSON and a PNG chart."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from microaot import __version__
from microaot.report.metrics import DataMetrics

UNIT_NAMES = {
    "instructions": "instructions",
    "cycles": "cycles",
    "ns": "ns",
    "us": "µs",
}


@dataclass
class Mismatch:
    seed: int  # the random seed (with --inputs: the index of the sequence, = the sample with sequences of 1)
    output: int
    differing: int  # number of differing elements
    max_abs_diff: float
    step: int = 0  # the invocation within the seed's sequence (0 = the first after the state reset)


@dataclass
class OpTime:
    index: int
    name: str
    per_run: float
    share: float  # fraction of the summed operator time
    macs: int = 0  # multiply-accumulates (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ...)
    weight_bytes: int = 0  # constant inputs (weights, biases) in the model file
    output_bytes: int = 0  # the operator's output tensors
    est_cycles: float | None = None  # QEMU boards: the cycle estimate of this operator (docs/cycle-model.md)

    @property
    def per_mac(self) -> float | None:
        return self.per_run / self.macs if self.macs else None


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
    # RAM as PlatformIO counts it (.data + .bss + the reserved .stack section), when the ELF has one
    pio_ram: int | None = None


@dataclass
class CycleEstimate:
    core: str
    wait_states: int
    cache: bool
    f_cpu: int
    cycles_per_inference: float  # mean over the timed runs matched
    instructions_per_inference: float  # the plugin's count of the same runs
    runs: int  # timed runs the estimate covers
    op_cycles: list[float | None] = field(default_factory=list)  # per operator (profile order), None: unmatched

    @property
    def cpi(self) -> float:
        return self.cycles_per_inference / self.instructions_per_inference if self.instructions_per_inference else 0.0

    @property
    def ms(self) -> float | None:
        return self.cycles_per_inference / self.f_cpu * 1e3 if self.f_cpu > 0 else None


SCHEMA = "microaot-eval-report/1"  # docs/schemas/eval-report-1.schema.json


def number_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """SoC settings as numbers where they are numbers (PlatformIO writes f_cpu as "25000000L")."""
    out: dict[str, Any] = {}
    for k, v in settings.items():
        if isinstance(v, str):
            t = v.strip().rstrip("Ll")
            try:
                out[k] = int(t, 0)
                continue
            except ValueError:
                pass
        out[k] = v
    return out


@dataclass
class EvalReport:
    model: str
    model_hash: str
    board: str
    board_name: str
    timer_unit: str
    seeds: int  # sequences evaluated (one per seed; with --inputs, sequences of samples)
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
    # --inputs: metrics on the user's data (accuracy, errors vs a float reference model)
    data_metrics: DataMetrics | None = None
    # budgets checked (RAM, flash, time): name, ok, message
    budgets: list[dict[str, Any]] = field(default_factory=list)
    # the device died or hung during the run (the inputs that finished are still compared and reported)
    device_error: str | None = None
    macs: int = 0  # of the whole model
    # QEMU boards: estimated cycles from the instruction classes (microaot.cycles); why not, when absent
    cycle_estimate: CycleEstimate | None = None
    cycle_note: str | None = None
    flash_limit: int = 0  # the board's flash and RAM (0: unknown)
    ram_limit: int = 0
    # float32 outputs: largest distance from TFLM seen (ulps) and the bound allowed (microaot.fidelity)
    float_max_ulp: int | None = None
    float_ulp_bound: int | None = None
    # what the evaluation could not do, and why (e.g. a firmware without OPCHECK / PROFILE for the model)
    skipped: list[str] = field(default_factory=list)
    # consecutive invocations per seed (a stateful model's sequence, state reset before each), and the
    # model's persistent state in bytes (0: stateless)
    sequence: int = 1
    state_size: int = 0

    @property
    def first_divergence(self) -> str | None:
        """Where the outputs first differ from TFLM: "seed S step K output O" (None when they match)."""
        if not self.mismatches:
            return None
        m = min(self.mismatches, key=lambda m: (m.seed, m.step, m.output))
        step = f" step {m.step}" if self.sequence > 1 else ""
        return f"seed {m.seed}{step} output {m.output}"

    @property
    def per_mac(self) -> float | None:
        """Time units per MAC of the whole model (instructions/MAC on QEMU, cycles/MAC, ns/MAC)."""
        return self.time_mean / self.macs if self.macs and self.time_mean else None

    def to_dict(self) -> dict[str, Any]:
        d = {"schema": SCHEMA, "tool": "microaot", "tool_version": __version__, **asdict(self)}
        d["settings"] = number_settings(self.settings)
        if self.cycle_estimate is not None:
            d["cycle_estimate"].update(cpi=self.cycle_estimate.cpi, ms=self.cycle_estimate.ms,
                                       cycles_per_mac=self.cycle_estimate.cycles_per_inference / self.macs
                                       if self.macs else None)
        d["time_per_mac"] = self.per_mac
        for op, od in zip(self.ops, d["ops"], strict=True):
            od["per_mac"] = op.per_mac
        return d

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf8")

    # ---- text -------------------------------------------------------------------------------
    def format_text(self, *, top: int = 12) -> str:
        unit = UNIT_NAMES.get(self.timer_unit, self.timer_unit)
        m = self.memory
        verdict = ("MATCH (bit-exact)" if self.outputs_match and not self.float_max_ulp
                   else "MATCH" if self.outputs_match else "MISMATCH")
        over = (f"{self.seeds} input(s)" if self.sequence <= 1
                else f"{self.seeds} sequence(s) x {self.sequence} step(s)")
        lines = [
            f"microaot eval: {Path(self.model).name} on {self.board} ({self.board_name})",
            "",
            f"  outputs vs TFLM     : {verdict}"
            f" over {over}{', state reset before each' if self.sequence > 1 else ''}, {self.compared_bytes} output "
            "bytes",
        ]
        if self.state_size:
            lines.append(f"  model state         : {self.state_size:,} bytes kept between runs (NAME_STATE_SIZE)")
        if self.first_divergence is not None and self.sequence > 1:
            lines.append(f"  first divergence    : {self.first_divergence}")
        if self.device_error:
            lines.append(f"  DEVICE FAILED       : {self.device_error}")
        if self.float_max_ulp is not None:
            lines.append(f"  float32 outputs     : at most {self.float_max_ulp} ulp from TFLM (bound "
                         f"{self.float_ulp_bound} "
                         "ulp for this model's operators, docs/operators.md)")
        for oi, vals in enumerate(self.first_outputs):
            shown = ", ".join(f"{v:g}" for v in vals[:16]) + (f", ... ({len(vals)} values)" if len(vals) > 16 else "")
            lines.append(f"  output {oi} (seed 0)   : [{shown}]")
        for mm in self.mismatches[:5]:
            step = f" step {mm.step}" if self.sequence > 1 else ""
            lines.append(
                f"    seed {mm.seed}{step} output {mm.output}: {mm.differing} element(s) differ, max |diff| "
                f"{mm.max_abs_diff:g}"
            )
        if self.data_metrics is not None:
            lines += self.data_metrics.format_text()
        if self.tensors_match is not None:
            lines.append(f"  every tensor        : {'MATCH' if self.tensors_match else 'DIFFER'} (each operator's "
                         "output "
                         f"vs the generic-C build on the host, {over})")
        if self.tensor_diagnosis:
            lines.append(f"    diagnosis: {self.tensor_diagnosis}")
        t = (f"  on-device time      : {self.time_mean:,.0f} {unit} per inference (min {self.time_min:,}, "
             f"max {self.time_max:,}; {over} x {self.runs} run(s), measured on the device)")
        lines.append(t)
        if self.seconds_per_inference is not None:
            lines.append(f"                        = {self.seconds_per_inference * 1e3:.3f} ms")
        if self.per_mac is not None:
            lines.append(f"  MACs                : {self.macs:>10,} ({self.per_mac:.2f} {unit}/MAC)")
        e = self.cycle_estimate
        if e is not None:
            ms = f" = {e.ms:.3f} ms at {e.f_cpu / 1e6:g} MHz" if e.ms is not None else ""
            per_mac = f", {e.cycles_per_inference / self.macs:.2f} cycles/MAC" if self.macs else ""
            lines.append(f"  estimated cycles    : {e.cycles_per_inference:,.0f}{ms} (an ESTIMATE: {e.core} timing "
                         f"model, {e.wait_states} flash wait state(s), cache {'on' if e.cache else 'off'}; CPI "
                         f"{e.cpi:.2f}{per_mac}; docs/cycle-model.md)")
        elif self.cycle_note:
            lines.append(f"  estimated cycles    : none ({self.cycle_note})")
        if self.timer_unit == "instructions":
            lines.append("    (QEMU counts executed instructions, not cycles: a real core takes more cycles than "
                         "instructions - loads, taken branches, flash wait states)")
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
        if m.pio_ram is not None:
            lines.append(f"  RAM as PlatformIO counts it: {m.pio_ram:,} B = static {m.static_ram:,} B + reserved "
                         f"stack {m.pio_ram - m.static_ram:,} B; needed: static + stack high-water = "
                         f"{m.static_ram + (m.stack_high_water or 0):,} B")
        if self.ops:
            est = any(op.est_cycles is not None for op in self.ops)
            lines += ["", f"  per-operator profile ({unit} per inference, top {min(top, len(self.ops))}):",
                      f"    {'op':<4} {'operator':<22} {unit:>14}  share  {'MACs':>11}  {unit[:5]}/MAC"
                      + ("  est. cycles" if est else "")]
            for op in sorted(self.ops, key=lambda o: -o.per_run)[:top]:
                pm = f"{op.per_mac:9.2f}" if op.per_mac is not None else f"{'-':>9}"
                ec = (f"  {op.est_cycles:>11,.0f}" if op.est_cycles is not None else f"  {'-':>11}") if est else ""
                lines.append(f"    #{op.index:<3} {op.name:<22} {op.per_run:>14,.0f}  {op.share * 100:5.1f}%"
                             f"  {op.macs:>11,}  {pm}{ec}")
        for note in self.skipped:
            lines += ["", f"  skipped: {note}"]
        if self.timer_unit == "ns":
            lines += ["", "  SoC settings        : none (a host process: time from the OS clock)"]
        elif self.settings:
            s = ", ".join(f"{k}={v}" for k, v in number_settings(self.settings).items())
            lines += ["", f"  SoC settings        : {s}"]
        return "\n".join(lines)

    # ---- chart ------------------------------------------------------------------------------
    def write_png(self, path: Path) -> None:
        """One page: the per-operator time (with MACs and time/MAC) above the flash and RAM breakdown
        against the board's limits."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter

        unit = UNIT_NAMES.get(self.timer_unit, self.timer_unit)
        ops = self.ops or []
        m = self.memory
        height = max(4.5, 0.26 * len(ops) + 3.2)
        fig, (ax, axm) = plt.subplots(2, 1, figsize=(9, height),
                                      gridspec_kw={"height_ratios": [max(len(ops), 3), 2.2]})
        thousands = FuncFormatter(lambda v, _: f"{v:,.0f}")
        labels = [f"#{o.index} {o.name}" for o in ops]
        ax.barh(range(len(ops)), [o.per_run for o in ops], color="#3b7dd8")
        top = max((o.per_run for o in ops), default=0.0)
        for i, o in enumerate(ops):
            extra = f"  {o.share * 100:.1f}%" + (f", {o.macs:,} MACs, {o.per_mac:.2f}/MAC" if o.per_mac else "")
            ax.text(o.per_run + top * 0.01, i, extra, va="center", fontsize=6.5)
        ax.set_yticks(range(len(ops)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(thousands)
        ax.set_xlim(0, top * 1.45 if top else 1)
        ax.set_xlabel(f"{unit} per inference, measured on the device")
        ax.grid(axis="x", alpha=0.3)
        total = f"{self.time_mean:,.0f} {unit}"
        if self.seconds_per_inference is not None:
            total += f" = {self.seconds_per_inference * 1e3:.3f} ms"
        if self.per_mac is not None:
            total += f", {self.macs:,} MACs, {self.per_mac:.2f} {unit}/MAC"
        match = "bit-exact with TFLM" if self.outputs_match else "MISMATCH vs TFLM"
        ax.set_title(f"{Path(self.model).name} on {self.board}: {total}\n{match} over {self.seeds} input(s)",
                     fontsize=9)
        # memory: flash and RAM as stacked bars against the board's limits
        flash = [("code", m.code, "#4c72b0"), ("weights", m.weights, "#dd8452"), ("other const", m.rodata, "#8c8c8c"),
                 (".data init", m.data, "#937860")]
        other_static = max(m.static_ram - m.workspace - (m.io_buffers or 0), 0)
        ram = [("workspace", m.workspace, "#55a868"), ("I/O buffers", m.io_buffers or 0, "#c44e52"),
               ("other static", other_static, "#8172b3"), ("stack (high-water)", m.stack_high_water or 0, "#ccb974")]
        rows = ((flash, self.flash_limit), (ram, self.ram_limit))
        used = [sum(size for _, size, _ in parts) for parts, _ in rows]
        span = max([*used, *(lim for (_, lim), u in zip(rows, used, strict=True) if lim and lim <= 3 * u), 1])
        for row, ((parts, limit), total_used) in enumerate(zip(rows, used, strict=True)):
            left = 0
            for name, size, color in parts:
                if size:
                    axm.barh(row, size, left=left, color=color, label=f"{name} {size:,} B")
                    left += size
            note = f"  {total_used:,} B"
            if limit:
                note += f" of {limit:,} B ({total_used / limit * 100:.1f}%)"
                if limit <= 3 * total_used:
                    axm.plot([limit, limit], [row - 0.45, row + 0.45], color="black", lw=1.5)
            axm.text(total_used, row, note, va="center", fontsize=7)
        axm.set_xlim(0, span * 1.5)
        axm.set_yticks([0, 1])
        axm.set_yticklabels(["flash", "RAM"], fontsize=8)
        axm.invert_yaxis()
        axm.xaxis.set_major_formatter(thousands)
        axm.set_title("memory (bytes, from the ELF; stack high-water measured on the device; black line: the "
                      "board's limit)", fontsize=8)
        axm.legend(fontsize=6.5, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def summary_line(passed: int, failed: int) -> str:
    """The closing line CI reads."""
    return f"{passed} passed, {failed} failed"
