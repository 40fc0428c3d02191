"""Which operators are byte views (may alias their input) and which need kernel scratch memory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from microaot.errors import MicroaotError, UnsupportedModelError
from microaot.ir.graph import Graph
from microaot.ops.user_kernels import op_def


def view_ops(graph: Graph) -> list[int]:
    """Indices of operators registered with view=True (RESHAPE, ...)."""
    out = []
    for op in graph.operators:
        d = op_def(graph, op)
        if d is not None and d.view:
            out.append(op.index)
    return out


def state_requests(graph: Graph) -> dict[int, int]:
    """op index -> bytes of operator-private persistent state (``register(..., state=)``), for the planner."""
    out = {}
    for op in graph.operators:
        d = op_def(graph, op)  # a user kernel bound to the operator's name keeps no state
        n = int(d.state(graph, op)) if d is not None and d.state is not None else 0
        if n > 0:
            out[op.index] = n
    return out


def scratch_requests(graph: Graph, target: str = "generic",
                     schedules: Mapping[int, Mapping[str, Any]] | None = None) -> dict[int, int]:
    """op index -> scratch bytes, from each operator's declared ``scratch(graph, op, target, knobs)``
    (``microaot.ops.OpDef``; knobs = the op's entry of ``schedules``, {} for its default schedule)."""
    out: dict[int, int] = {}
    for op in graph.operators:
        d = op_def(graph, op)
        if d is not None and d.scratch is not None:
            try:
                n = int(d.scratch(graph, op, target, dict((schedules or {}).get(op.index, {}))))
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
