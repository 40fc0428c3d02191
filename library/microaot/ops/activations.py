"""Lowering of RELU, RELU6, LOGISTIC, TANH (kernel family ``activation``), int8 and float32; int16
LOGISTIC / TANH (kernel family ``act16``, TFLM's table interpolation).

int8 LOGISTIC/TANH become a 256-byte lookup table computed here with TFLM's exact fixed-point
arithmetic (``_tflm_math``): TFLM's int8 output is a function of the input byte alone.
"""

from __future__ import annotations

import numpy as np

from microaot.ir.quant import quantize_multiplier, tflite_round
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import FLT_MAX, require_dtype, require_quant, unary_call
from microaot.ops._tflm_math import logistic_table_s8, tanh_table_s8

_BASE = {
    "size": 0, "input_zp": 0, "output_zp": 0, "mult": 0, "shift": 0, "act_min": -128, "act_max": 127,
    "lo_f": 0.0, "hi_f": 0.0, "table": "NULL",
}


def _call(ctx: LoweringContext, fn: str, fields: dict[str, object]) -> Lowering:
    return unary_call(ctx, family="activation", params_t="uaot_act_params_t", base=_BASE, fn=fn, fields=fields)


@register("RELU", dtypes=("int8", "float32"))
def lower_relu(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    if require_dtype(ctx, [x, y], ("int8", "float32")) == "float32":
        return _call(ctx, "uaot_clamp_f32", {"lo_f": 0.0, "hi_f": FLT_MAX})
    s_in, z_in = require_quant(ctx, x, "input")
    s_out, z_out = require_quant(ctx, y, "output")
    mult, shift = quantize_multiplier(s_in / s_out)  # TFLM CalculateReluOpData (double ratio)
    act_min = max(-128, z_out + tflite_round(float(np.float32(0.0) / np.float32(s_out))))
    return _call(ctx, "uaot_relu_s8", {"input_zp": z_in, "output_zp": z_out, "mult": mult, "shift": shift,
                                       "act_min": act_min, "act_max": 127})


@register("RELU6", dtypes=("int8", "float32"))
def lower_relu6(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    if require_dtype(ctx, [x, y], ("int8", "float32")) == "float32":
        return _call(ctx, "uaot_clamp_f32", {"lo_f": 0.0, "hi_f": 6.0})
    s_in, z_in = require_quant(ctx, x, "input")
    # TFLM Relu6Prepare: zero = input zp, six = FloatToQuantizedType(6.0f, scale, zp); output quant unused
    six = z_in + tflite_round(float(np.float32(6.0) / np.float32(s_in)))
    six = min(max(six, -128), 127)
    return _call(ctx, "uaot_clamp_s8", {"act_min": z_in, "act_max": six})


def checked_log2(x: float) -> tuple[int, bool]:
    """TFLM CheckedLog2 in float32: (round(log2 x), whether x is a power of two within 1e-3)."""
    lg = np.float32(np.log(np.float32(x))) * (np.float32(1.0) / np.float32(np.log(np.float32(2.0))))
    r = np.float32(tflite_round(float(lg)))
    return int(r), bool(abs(np.float32(lg - r)) < np.float32(1e-3))


def _lower_s16(ctx: LoweringContext, tanh: bool) -> Lowering:
    """int16 LOGISTIC / TANH as TFLM (CalculateArithmeticOpDataLogistic / tanh.cc Prepare): zero points 0,
    output scale 2^-15; the input rescaled to the table domain by 3 << shift (power-of-two input scales
    2^-12, and 2^-11 for TANH) or by a multiplier of about 3 * 4096 * scale with its right shift."""
    x, y = ctx.input(0), ctx.output(0)
    s_in, z_in = require_quant(ctx, x, "input")
    s_out, z_out = require_quant(ctx, y, "output")
    if z_in != 0 or z_out != 0:
        raise ctx.unsupported(f"int16 zero points {z_in} -> {z_out}: TFLM needs zero points 0")
    out_log2, out_pot = checked_log2(s_out)
    if not out_pot or out_log2 != -15:
        raise ctx.unsupported(f"int16 output scale {s_out!r} must be 2^-15 (as TFLM requires)")
    in_log2, pot = checked_log2(s_in)
    shift = 12 + in_log2
    pot = pot and shift in ((0, 1) if tanh else (0,))
    if pot:
        mult, shift = 3 << shift, 0
    else:
        m = s_in * 4096.0 * 3.0
        shift = 0
        while m <= 32767.0 / 2.0 and shift <= 30:
            shift += 1
            m *= 2.0
        mult = int(m)
    if mult > 32767:
        raise ctx.unsupported(f"int16 input scale {s_in!r} is too large for TFLM's table (above ~2.67 / 1024)")
    p = ctx.params("uaot_act16_params_t", {"size": y.num_elements, "mult": mult, "shift": shift})
    if x.num_elements != y.num_elements:
        raise ctx.unsupported(f"input {list(x.shape)} and output {list(y.shape)} differ in size")
    fn = "uaot_tanh_s16" if tanh else "uaot_logistic_s16"
    return Lowering(families=("act16",), call=f"{fn}({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")


def _lut(ctx: LoweringContext, table: list[int]) -> Lowering:
    name = ctx.const_array("lut", "int8_t", np.array(table, dtype=np.int8))
    return _call(ctx, "uaot_lut_s8", {"table": name})


@register("LOGISTIC", dtypes=("int8", "float32", "int16"))
def lower_logistic(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    dtype = require_dtype(ctx, [x, y], ("int8", "int16", "float32"))
    if dtype == "int16":
        return _lower_s16(ctx, tanh=False)
    if dtype == "float32":
        return _call(ctx, "uaot_logistic_f32", {})
    s_in, z_in = require_quant(ctx, x, "input")
    _, z_out = require_quant(ctx, y, "output")
    if z_out != -128:
        raise ctx.unsupported(f"int8 LOGISTIC needs output zero point -128 (TFLM), got {z_out}")
    return _lut(ctx, logistic_table_s8(s_in, z_in))


@register("TANH", dtypes=("int8", "float32", "int16"))
def lower_tanh(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    dtype = require_dtype(ctx, [x, y], ("int8", "int16", "float32"))
    if dtype == "int16":
        return _lower_s16(ctx, tanh=True)
    if dtype == "float32":
        return _call(ctx, "uaot_tanh_f32", {})
    s_in, z_in = require_quant(ctx, x, "input")
    return _lut(ctx, tanh_table_s8(s_in, z_in))
