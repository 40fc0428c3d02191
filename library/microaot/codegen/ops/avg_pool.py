"""Lowering of AVERAGE_POOL_2D (kernel family ``avg_pool``)."""

from __future__ import annotations

from microaot.codegen.ops import Lowering, LoweringContext, register
from microaot.codegen.ops._common import (
    act_range_f32,
    act_range_s8,
    check_padding,
    out_size,
    pad_before,
    require_dtype,
    require_quant,
)


@register("AVERAGE_POOL_2D")
def lower_avg_pool(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    if len(x.shape) != 4:
        raise ctx.unsupported(f"needs a 4-D NHWC input, got {list(x.shape)}")
    o = ctx.options
    n, ih, iw, c = x.shape
    kh, kw = int(o["filter_height"]), int(o["filter_width"])
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    padding = str(o.get("padding", "VALID"))
    check_padding(ctx, padding)
    oh, ow = out_size(padding, ih, kh, sh, 1), out_size(padding, iw, kw, sw, 1)
    if tuple(y.shape) != (n, oh, ow, c):
        raise ctx.unsupported(f"output shape {list(y.shape)} does not match the computed [{n}, {oh}, {ow}, {c}]")
    act = str(o.get("fused_activation_function", "NONE"))
    dtype = require_dtype(ctx, [x, y], ("int8", "float32"))
    fields = {
        "batches": n, "in_h": ih, "in_w": iw, "channels": c, "out_h": oh, "out_w": ow,
        "k_h": kh, "k_w": kw, "stride_h": sh, "stride_w": sw,
        "pad_top": pad_before(ih, kh, sh, 1, oh), "pad_left": pad_before(iw, kw, sw, 1, ow),
    }
    if dtype == "int8":
        s_in, zp_in = require_quant(ctx, x, "input")
        s_out, zp_out = require_quant(ctx, y, "output")
        if (s_in, zp_in) != (s_out, zp_out):
            raise ctx.unsupported("int8 AVERAGE_POOL_2D needs equal input and output quantization")
        lo, hi = act_range_s8(ctx, act, s_out, zp_out)
        flo, fhi = act_range_f32(ctx, "NONE")
    else:
        lo, hi = -128, 127
        flo, fhi = act_range_f32(ctx, act)
    p = ctx.params("uaot_avg_pool_params_t", {**fields, "act_min": lo, "act_max": hi,
                                               "act_min_f": flo, "act_max_f": fhi})
    suffix = "s8" if dtype == "int8" else "f32"
    return Lowering(families=("avg_pool",), call=f"uaot_avg_pool_{suffix}({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")
