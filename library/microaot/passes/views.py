"""Which operators are byte views (may alias their input) and which need kernel scratch memory."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from microaot import ops as opreg
from microaot.errors import MicroaotError, UnsupportedModelError
from microaot.ir.graph import Graph


def view_ops(graph: Graph) -> list[int]:
    """Indices of operators registered with view=True (RESHAPE, ...)."""
    out = []
    for op in graph.operators:
        d = opreg.get(op.opcode)
        if d is not None and d.view:
            out.append(op.index)
    return out


def _takes_schedule(fn: Any) -> bool:
    try:
        return len(inspect.signature(fn).parameters) >= 4
    except (TypeError, ValueError):
        return False


def scratch_requests(graph: Graph, target: str = "generic",
                     schedules: Mapping[int, Mapping[str, Any]] | None = None) -> dict[int, int]:
    """op index -> scratch bytes, from each lowering's registered scratch() function.

    A scratch function is ``scratch(graph, op)`` or, when the size depends on the schedule,
    ``scratch(graph, op, target, schedule)`` (schedule = the op's knobs, {} for the default)."""
    out: dict[int, int] = {}
    for op in graph.operators:
        d = opreg.get(op.opcode)
        if d is not None and d.scratch is not None:
            try:
                if _takes_schedule(d.scratch):
                    n = int(d.scratch(graph, op, target, dict((schedules or {}).get(op.index, {}))))
                else:
                    n = int(d.scratch(graph, op))
            except MicroaotError:
                raise
            except Exception as e:  # e.g. an operator with fewer inputs than its kind needs
                raise UnsupportedModelError(
                    f"{graph.source}: operator {op.index} ({op.opcode}) with inputs {op.inputs} and outputs "
                    f"{op.outputs}: cannot size its scratch buffer ({type(e).__name__}: {e}); the model "
                    "file may be inconsistent: re-export it, or report this model"
                ) from None
            if n > 0:
                out[op.index] = n
    return out
