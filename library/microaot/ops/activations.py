"""Lowering of RELU, RELU6, LOGISTIC, TANH (kernel family ``activation``), int8 and float32.

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


def _lut(ctx: LoweringContext, table: list[int]) -> Lowering:
    name = ctx.const_array("lut", "int8_t", np.array(table, dtype=np.int8))
    return _call(ctx, "uaot_lut_s8", {"table": name})


@register("LOGISTIC", dtypes=("int8", "float32"))
def lower_logistic(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    if require_dtype(ctx, [x, y], ("int8", "float32")) == "float32":
        return _call(ctx, "uaot_logistic_f32", {})
    s_in, z_in = require_quant(ctx, x, "input")
    _, z_out = require_quant(ctx, y, "output")
    if z_out != -128:
        raise ctx.unsupported(f"int8 LOGISTIC needs output zero point -128 (TFLM), got {z_out}")
    return _lut(ctx, logistic_table_s8(s_in, z_in))


@register("TANH", dtypes=("int8", "float32"))
def lower_tanh(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    if require_dtype(ctx, [x, y], ("int8", "float32")) == "float32":
        return _call(ctx, "uaot_tanh_f32", {})
    s_in, z_in = require_quant(ctx, x, "input")
    return _lut(ctx, tanh_table_s8(s_in, z_in))
