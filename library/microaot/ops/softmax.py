"""Lowering of SOFTMAX (kernel family ``softmax``): TFLM's int8 -> int8 reference path, float32."""

from __future__ import annotations

import math

import numpy as np

from microaot.ir.quant import quantize_multiplier
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import require_dtype, require_quant

SCALED_DIFF_INTEGER_BITS = 5


def softmax_int8_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) as TFLM's CalculateSoftmaxParams for int8."""
    real = min(beta * input_scale * (1 << (31 - SCALED_DIFF_INTEGER_BITS)), float((1 << 31) - 1))
    mult, left_shift = quantize_multiplier(real)  # QuantizeMultiplierGreaterThanOne
    if left_shift < 0:
        raise ValueError(f"beta * input_scale = {beta * input_scale!r} too small")
    radius = math.floor(
        1.0 * ((1 << SCALED_DIFF_INTEGER_BITS) - 1) * (1 << (31 - SCALED_DIFF_INTEGER_BITS)) / (1 << left_shift)
    )
    return mult, left_shift, -int(radius)


@register("SOFTMAX")
def lower_softmax(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    dtype = require_dtype(ctx, [x, y], ("int8", "float32"))
    if not x.shape or tuple(x.shape) != tuple(y.shape):
        raise ctx.unsupported(f"input {list(x.shape)} and output {list(y.shape)} must have the same shape")
    depth = int(x.shape[-1])
    outer = x.num_elements // depth if depth else 0
    beta = float(np.float32(ctx.options.get("beta", 1.0)))
    if dtype == "float32":
        p = ctx.params("uaot_softmax_params_t", {"outer": outer, "depth": depth, "input_mult": 0,
                                                  "input_left_shift": 0, "diff_min": 0, "beta": beta})
        return Lowering(families=("softmax",), call=f"uaot_softmax_f32({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")
    s_in, _ = require_quant(ctx, x, "input")
    s_out, zp_out = require_quant(ctx, y, "output")
    if zp_out != -128 or s_out != 1.0 / 256:
        raise ctx.unsupported(f"int8 output must have scale 1/256 and zero point -128 (got {s_out}, {zp_out})")
    try:
        mult, shift, diff_min = softmax_int8_params(beta, s_in)
    except ValueError as e:
        raise ctx.unsupported(str(e)) from None
    p = ctx.params("uaot_softmax_params_t", {"outer": outer, "depth": depth, "input_mult": mult,
                                              "input_left_shift": shift, "diff_min": diff_min, "beta": beta})
    return Lowering(families=("softmax",), call=f"uaot_softmax_s8({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")
