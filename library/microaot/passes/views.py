"""Which operators are byte views (may alias their input) and which need kernel scratch memory."""

from __future__ import annotations

from microaot.codegen import ops as opreg
from microaot.ir.graph import Graph


def view_ops(graph: Graph) -> list[int]:
    """Indices of operators registered with view=True (RESHAPE, ...)."""
    out = []
    for op in graph.operators:
        d = opreg.get(op.opcode)
        if d is not None and d.view:
            out.append(op.index)
    return out


def scratch_requests(graph: Graph) -> dict[int, int]:
    """op index -> scratch bytes, from each lowering's registered scratch() function."""
    out: dict[int, int] = {}
    for op in graph.operators:
        d = opreg.get(op.opcode)
        if d is not None and d.scratch is not None:
            n = int(d.scratch(graph, op))
            if n > 0:
                out[op.index] = n
    return out
