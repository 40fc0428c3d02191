"""In-place options of a graph: what each lowering's ``register(..., inplace=)`` offers, per operator."""

from __future__ import annotations

from microaot.errors import MicroaotError, UnsupportedModelError
from microaot.ir.graph import Graph
from microaot.ops.user_kernels import op_def
from microaot.planner.plan import InPlaceOption


def inplace_options(graph: Graph) -> list[InPlaceOption]:
    """Every in-place variant the lowerings declare legal for the operators' shapes and types.

    Liveness (is the input read after the operator? is it a caller buffer?) is the planner's part."""
    out: list[InPlaceOption] = []
    for op in graph.operators:
        d = op_def(graph, op)
        if d is None or d.inplace is None or not op.outputs:
            continue
        try:
            variants = d.inplace(graph, op)
        except MicroaotError:
            raise
        except Exception as e:  # an operator with fewer inputs than its kind needs, ...
            raise UnsupportedModelError(
                f"{graph.source}: operator {op.index} ({op.opcode}) with inputs {op.inputs} and outputs "
                f"{op.outputs}: cannot decide whether it can run in place ({type(e).__name__}: {e}); the "
                "model file may be inconsistent: re-export it, or report this model"
            ) from None
        for v in variants:
            if 0 <= v.input < len(op.inputs) and op.inputs[v.input] >= 0:
                out.append(InPlaceOption(op=op.index, out=op.outputs[0], inp=op.inputs[v.input], delta=v.delta,
                                         free=v.free, variant=v.variant, slack=v.slack))
    return out
