"""Lowering of L2_NORMALIZATION over the last axis (kernel family ``l2norm``): float32 and int8 as TFLM's
l2norm.cc (no fused activation; TFLM computes the int8 output as q/128 regardless of the output tensor's
quantization, and so does microaot)."""

from __future__ import annotations

from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import require_dtype, require_quant


@register("L2_NORMALIZATION", dtypes=("float32", "int8"))
def lower_l2norm(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    dtype = require_dtype(ctx, [x, y], ("float32", "int8"))
    if not x.shape or tuple(x.shape) != tuple(y.shape) or len(x.shape) > 4:
        raise ctx.unsupported(f"input {list(x.shape)} and output {list(y.shape)} must have one shape of rank 1..4")
    act = str(ctx.options.get("fused_activation_function", "NONE"))
    if act != "NONE":
        raise ctx.unsupported(f"fused activation {act} (TFLM supports none on L2_NORMALIZATION)")
    depth = int(x.shape[-1])
    outer = x.num_elements // depth if depth else 0
    zp = require_quant(ctx, x, "input")[1] if dtype == "int8" else 0
    p = ctx.params("uaot_l2norm_params_t", {"outer": outer, "depth": depth, "input_zp": zp})
    fn = "uaot_l2norm_s8" if dtype == "int8" else "uaot_l2norm_f32"
    return Lowering(families=("l2norm",), call=f"{fn}({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")
