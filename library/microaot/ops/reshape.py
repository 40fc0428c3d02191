"""Lowering of RESHAPE: a view of its input (no code when the planner aliased it, else a copy)."""

from __future__ import annotations

from microaot.ops import Lowering, LoweringContext, register


@register("RESHAPE", view=True, dtypes=("int8", "uint8", "int16", "int32", "float32"))
def lower_reshape(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    if x.nbytes != y.nbytes or x.dtype != y.dtype:
        raise ctx.unsupported(f"input {list(x.shape)} {x.dtype} and output {list(y.shape)} {y.dtype} differ in size")
    if ctx.aliased:
        return Lowering(call=None)
    return Lowering(call=f"(memcpy({ctx.out_ptr(0)}, {ctx.in_ptr(0)}, {y.nbytes}u), UAOT_OK)")
