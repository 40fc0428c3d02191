"""Budgets that gate an evaluation: RAM, flash and time per inference (``microaot eval --max-*``,
``custom_microaot_max_*`` in ``pio test``). Defaults: the board's maxima (``upload.maximum_ram_size`` /
``upload.maximum_size``, or ``board_upload.*`` in platformio.ini); no time budget.

RAM counted against the budget = static RAM (.data + .bss: workspace, I/O buffers, the runtime's state;
without a reserved stack section) + the stack's high-water mark measured on the device (or, when it was
not measured, the reserved stack). Flash = code + weights + other constants + .data's initial values.
"""

from __future__ import annotations

from dataclasses import dataclass

from microaot.report.evaluation import EvalReport


@dataclass(frozen=True)
class Budgets:
    max_ram: int | None = None  # bytes
    max_flash: int | None = None  # bytes
    max_ms: float | None = None  # milliseconds per inference
    # the option names the user wrote (CLI flag or platformio.ini key), for messages
    names: tuple[str, str, str] = ("--max-ram", "--max-flash", "--max-ms")


def ram_used(rep: EvalReport) -> int:
    m = rep.memory
    stack = m.stack_high_water if m.stack_high_water is not None else (m.stack_reserved or 0)
    return m.static_ram + stack


def check(rep: EvalReport, b: Budgets) -> list[tuple[str, bool, str]]:
    """One (case name, within budget, message) per budget that is set."""
    m = rep.memory
    out: list[tuple[str, bool, str]] = []
    if b.max_ram is not None:
        used = ram_used(rep)
        share = (f"model: workspace {m.workspace:,} B" + (f" + I/O {m.io_buffers:,} B" if m.io_buffers else "")
                 + (f" + stack {m.model_stack:,} B" if m.model_stack is not None else ""))
        out.append(("budget_ram", used <= b.max_ram,
                    f"RAM {used:,} B {'<=' if used <= b.max_ram else '>'} {b.max_ram:,} B ({b.names[0]}; static "
                    f"{m.static_ram:,} B + stack {used - m.static_ram:,} B; {share})"))
    if b.max_flash is not None:
        out.append(("budget_flash", m.flash <= b.max_flash,
                    f"flash {m.flash:,} B {'<=' if m.flash <= b.max_flash else '>'} {b.max_flash:,} B ({b.names[1]}; "
                    f"model: weights {m.weights:,} B, code {m.code:,} B)"))
    if b.max_ms is not None:
        if rep.seconds_per_inference is None:
            out.append(("budget_time", False,
                        f"time per inference cannot be checked against {b.names[2]} = {b.max_ms:g} ms: the board "
                        f"measures {rep.timer_unit}, not time (set the board's clock, f_cpu, or drop the budget)"))
        else:
            ms = rep.seconds_per_inference * 1e3
            out.append(
                (
                    "budget_time",
                    ms <= b.max_ms,
                    f"time {ms:.3f} ms {'<=' if ms <= b.max_ms else '>'} {b.max_ms:g} ms per inference ({b.names[2]})",
                )
            )
    return out


def exceeded(rep: EvalReport, b: Budgets) -> list[str]:
    """One line per exceeded budget."""
    return [f"budget exceeded: {msg}" for _, ok, msg in check(rep, b) if not ok]
