"""Lowering of LOG_SOFTMAX over the last axis (kernel family ``log_softmax``): float32 and int8 as TFLM's
log_softmax.cc (int8 output scale 16/256, zero point 127; beta 1)."""

from __future__ import annotations

import math

from microaot.ir.quant import quantize_multiplier
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import require_dtype, require_quant

_INPUT_INTEGER_BITS = 5


def log_softmax_int8_params(input_scale: float) -> dict[str, int]:
    """TFLM PreprocessLogSoftmaxScalingExp(1.0, input_scale, 5) and CalculateInputRadius(5, left_shift)."""
    real = min(input_scale * (1 << (31 - _INPUT_INTEGER_BITS)), float((1 << 31) - 1))
    mult, left_shift = quantize_multiplier(real)  # QuantizeMultiplierGreaterThanOne
    if left_shift < 0:
        raise ValueError(f"input scale {input_scale!r} is too small for TFLM's int8 LOG_SOFTMAX")
    reverse = (1 << (31 - left_shift)) / mult
    rmult, rshift = quantize_multiplier(reverse)  # QuantizeMultiplierSmallerThanOneExp: shift <= 0
    if not 0.0 < reverse < 1.0:
        raise ValueError(f"input scale {input_scale!r} gives a reverse scaling divisor {reverse!r} outside (0, 1)")
    radius = math.floor(1.0 * ((1 << _INPUT_INTEGER_BITS) - 1) * (1 << (31 - _INPUT_INTEGER_BITS))
                        / (1 << left_shift))
    return {"input_mult": mult, "input_left_shift": left_shift, "reverse_scaling_divisor": rmult,
            "reverse_scaling_shift": rshift, "diff_min": -int(radius)}


@register("LOG_SOFTMAX", dtypes=("float32", "int8"))
def lower_log_softmax(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    dtype = require_dtype(ctx, [x, y], ("float32", "int8"))
    if not x.shape or tuple(x.shape) != tuple(y.shape):
        raise ctx.unsupported(f"input {list(x.shape)} and output {list(y.shape)} must have the same shape")
    depth = int(x.shape[-1])
    outer = x.num_elements // depth if depth else 0
    fields: dict[str, object] = {"outer": outer, "depth": depth, "input_mult": 0, "input_left_shift": 0,
                                 "reverse_scaling_divisor": 0, "reverse_scaling_shift": 0, "diff_min": 0}
    if dtype == "int8":
        s_in, _ = require_quant(ctx, x, "input")
        s_out, z_out = require_quant(ctx, y, "output")
        if z_out != 127 or s_out != 16.0 / 256:
            raise ctx.unsupported(f"int8 output must have scale 16/256 and zero point 127, as TFLM requires "
                                  f"(got {s_out}, {z_out})")
        try:
            fields.update(log_softmax_int8_params(s_in))
        except ValueError as e:
            raise ctx.unsupported(str(e)) from None
    p = ctx.params("uaot_log_softmax_params_t", fields)
    fn = "uaot_log_softmax_s8" if dtype == "int8" else "uaot_log_softmax_f32"
    return Lowering(families=("log_softmax",), call=f"{fn}({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")
