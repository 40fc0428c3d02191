"""Memory figures of a linked firmware, read from its ELF (``microaot eval``, ``pio run``'s budget check,
the bench)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from microaot.report.elf import read_sections, read_symbols
from microaot.report.evaluation import MemoryReport


class BuildFacts(Protocol):
    """What the code-generation step recorded that the ELF does not say (``pio.build.BuildInfo``)."""

    section: str
    workspace_size: int
    weight_symbols: Sequence[str]


def memory_from_elf(elf: Path, info: BuildFacts, stats: object | None = None) -> MemoryReport:
    """Flash and RAM of a linked firmware from its ELF sections (weights wherever the linker put them:
    their section, or their symbols when a framework's linker script folded them into .rodata), with the
    device's STATS (I/O buffers, stack) when given."""
    weight_section = info.section or ".rodata.microaot"
    code = weights = rodata = data = bss = 0
    stack_reserved: int | None = None
    stack_section: int | None = None
    for s in read_sections(elf):
        if s.name == weight_section or s.name.startswith(weight_section + "."):
            weights += s.size
        elif s.name == ".stack":
            stack_reserved = stack_section = s.size
        elif s.kind == "text":
            code += s.size
        elif s.kind == "rodata":
            if s.name == ".isr_vector":
                code += s.size
            else:
                rodata += s.size
        elif s.kind == "data":
            data += s.size
        elif s.kind == "bss":
            bss += s.size
    workspace = info.workspace_size
    io_bytes: int | None = None
    wsyms = set(info.weight_symbols) if weights == 0 else set()
    for sym in read_symbols(elf):
        if sym.name == "uaot_app_workspace" and sym.size:
            workspace = sym.size
        elif sym.name in wsyms and sym.size:
            # a framework's linker script folded the weight section into .rodata: count the arrays
            wsyms.discard(sym.name)
            weights += sym.size
            rodata -= sym.size
    hw = model_stack = None
    if stats is not None:
        io_bytes = getattr(stats, "io_bytes", None)
        hw = getattr(stats, "stack_high_water", None)
        model_stack = getattr(stats, "model_stack", None)
        if stack_reserved is None:
            stack_reserved = getattr(stats, "stack_size", None)
    return MemoryReport(
        code=code,
        weights=weights,
        rodata=rodata,
        data=data,
        bss=bss,
        flash=code + weights + rodata + data,
        static_ram=data + bss,
        workspace=workspace,
        io_buffers=io_bytes,
        stack_reserved=stack_reserved,
        stack_high_water=hw,
        model_stack=model_stack,
        weight_section=weight_section,
        pio_ram=data + bss + stack_section if stack_section is not None else None,
    )
