"""Lowering of CONCATENATION along any axis (kernel family ``concat``): a strided byte copy, any element
type (int8/int16 inputs share the output quantization, as TFLM requires)."""

from __future__ import annotations

import math

from microaot.ir.graph import dtype_size
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import require_dtype, require_quant


@register("CONCATENATION", dtypes=("int8", "float32", "int32", "int16", "int64", "uint8", "bool"))
def lower_concatenation(ctx: LoweringContext) -> Lowering:
    y = ctx.output(0)
    xs = [ctx.input(k) for k in range(ctx.num_inputs())]
    dtype = require_dtype(ctx, [*xs, y], ("int8", "int16", "float32", "int32", "int64", "uint8", "bool"))
    act = str(ctx.options.get("fused_activation_function", "NONE"))
    if act != "NONE":
        raise ctx.unsupported(f"fused activation {act} on CONCATENATION is not supported")
    rank = len(y.shape)
    axis = int(ctx.options.get("axis", 0))
    if axis < 0:
        axis += rank
    if not 0 <= axis < rank:
        raise ctx.unsupported(f"axis {ctx.options.get('axis')} out of range for rank {rank}")
    if dtype in ("int8", "int16"):
        q_out = require_quant(ctx, y, "output")
        for k, x in enumerate(xs):
            if require_quant(ctx, x, f"input {k}") != q_out:
                raise ctx.unsupported(f"{dtype} input {k} ({x.name!r}) has a different scale/zero point than the "
                                      "output (TFLM requires them equal)")
    for k, x in enumerate(xs):
        if len(x.shape) != rank or any(x.shape[d] != y.shape[d] for d in range(rank) if d != axis):
            raise ctx.unsupported(f"input {k} shape {list(x.shape)} does not fit output {list(y.shape)} on axis {axis}")
    if sum(x.shape[axis] for x in xs) != y.shape[axis]:
        raise ctx.unsupported(f"inputs do not add up to output dimension {y.shape[axis]} on axis {axis}")
    outer = math.prod(y.shape[:axis])
    inner = math.prod(y.shape[axis + 1:]) * dtype_size(dtype)
    copy = ctx.const_array("copy_bytes", "int32_t", [x.shape[axis] * inner for x in xs])
    p = ctx.params("uaot_concat_params_t", {"num_inputs": len(xs), "outer": outer, "copy_bytes": copy})
    ptrs = ", ".join(f"(const void *){ctx.in_ptr(k)}" for k in range(len(xs)))
    return Lowering(families=("concat",),
                    call=f"uaot_concat({p}, (const void *const[]){{{ptrs}}}, (void *){ctx.out_ptr(0)})")
