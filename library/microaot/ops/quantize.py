"""Lowering of QUANTIZE (float32->int8, int8->int8) and DEQUANTIZE (int8->float32); family ``quantize``."""

from __future__ import annotations

from microaot.ir.quant import quantize_multiplier
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import require_quant, unary_call

_BASE = {"size": 0, "scale": 0.0, "zero_point": 0, "input_zp": 0, "output_zp": 0, "mult": 0, "shift": 0}


def _call(ctx: LoweringContext, fn: str, fields: dict[str, object]) -> Lowering:
    return unary_call(ctx, family="quantize", params_t="uaot_quantize_params_t", base=_BASE, fn=fn, fields=fields)


@register("QUANTIZE")
def lower_quantize(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    if y.dtype != "int8":
        raise ctx.unsupported(f"QUANTIZE to {y.dtype} is not supported (int8 only)")
    s_out, z_out = require_quant(ctx, y, "output")
    if x.dtype == "float32":
        return _call(ctx, "uaot_quantize_f32_s8", {"scale": s_out, "zero_point": z_out})
    if x.dtype == "int8":
        s_in, z_in = require_quant(ctx, x, "input")
        mult, shift = quantize_multiplier(s_in / s_out)  # TFLM: double(in) / double(out)
        return _call(ctx, "uaot_requantize_s8", {"input_zp": z_in, "output_zp": z_out, "mult": mult, "shift": shift})
    raise ctx.unsupported(f"QUANTIZE from {x.dtype} is not supported (float32 or int8 input)")


@register("DEQUANTIZE")
def lower_dequantize(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    if x.dtype != "int8" or y.dtype != "float32":
        raise ctx.unsupported(f"DEQUANTIZE {x.dtype} -> {y.dtype} is not supported (int8 -> float32 only)")
    s_in, z_in = require_quant(ctx, x, "input")
    return _call(ctx, "uaot_dequantize_s8_f32", {"scale": s_in, "zero_point": z_in})
