"""Lowering of SOFTMAX (kernel family ``softmax``): TFLM's int8 -> int8 reference path, float32; int16 -> int16
(kernel family ``softmax16``, TFLM's SoftmaxInt16 with its two interpolated tables)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

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


def _round_f32(v: np.float32) -> np.float32:
    """TfLiteRound on a float: halves away from zero."""
    return np.float32(np.sign(v) * np.floor(np.abs(v) + np.float32(0.5)))


def lut_populate_int16(fn: Callable[[np.float32], np.float32], input_scale: float, input_zp: int,
                       output_scale: float, output_zp: int) -> list[int]:
    """TFLM's LUTPopulate<int16_t> (detail::LUTPopulateInt16<float>), step by step in float32: 512 samples of
    ``fn`` over the input range with a midpoint-error bias, and the value at the end (513 entries)."""
    f = np.float32
    in_s, out_s = f(input_scale), f(output_scale)
    input_min, input_max = in_s * f(-32768 - input_zp), in_s * f(32767 - input_zp)
    output_min, output_max = out_s * f(-32768 - output_zp), out_s * f(32767 - output_zp)
    steps = 512
    step = (input_max - input_min) / f(steps)
    half = step / f(2)
    inv = f(65536) / (output_max - output_min)
    lut = []
    for i in range(steps):
        val = fn(input_min + f(i) * step)
        mid = fn(input_min + f(i) * step + half)
        nxt = fn(input_min + f(i + 1) * step)
        sample = _round_f32(val * inv)
        interp = _round_f32((nxt * inv + _round_f32(val * inv)) / f(2))
        bias = _round_f32((interp - _round_f32(mid * inv)) / f(2))
        lut.append(int(min(max(sample - bias, f(-32768)), f(32767))))
    lut.append(int(min(max(_round_f32(fn(input_max) * inv), f(-32768)), f(32767))))
    return lut


def _expf(v: np.float32) -> np.float32:
    return np.float32(math.exp(float(v)))  # glibc expf is correctly rounded; so is exp in double, rounded


def _one_over_one_plus(v: np.float32) -> np.float32:
    return np.float32(np.float32(1.0) / (np.float32(1.0) + v))


@functools.cache
def softmax_int16_luts() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """TFLM's softmax_common.cc int16 tables: exp over [-10, 0] and 1 / (1 + x) over [0, 1]."""
    rng = 65535
    exp_lut = lut_populate_int16(_expf, float(np.float32(10.0) / np.float32(rng)), 32767,
                                 float(np.float32(2.0) / np.float32(rng)), 0)
    recip = lut_populate_int16(_one_over_one_plus, float(np.float32(1.0) / np.float32(rng)), -32768,
                               float(np.float32(2.0) / np.float32(rng)), 0)
    return tuple(exp_lut), tuple(recip)


def _lower_s16(ctx: LoweringContext, outer: int, depth: int, beta: float) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    s_in, z_in = require_quant(ctx, x, "input")
    s_out, z_out = require_quant(ctx, y, "output")
    if z_in != 0 or z_out != 0 or abs(np.float32(s_out) - np.float32(1.0 / 32768)) > np.float32(0.001 / 32768):
        raise ctx.unsupported(f"int16 SOFTMAX needs zero points 0 and output scale 1/32768 (TFLM; got input zero "
                              f"point {z_in}, output {s_out!r}, {z_out})")
    mult, shift = quantize_multiplier(s_in * beta / (10.0 / 65535.0))
    exp_lut, recip = softmax_int16_luts()
    p = ctx.params("uaot_softmax16_params_t", {
        "outer": outer, "depth": depth, "input_mult": mult, "input_shift": shift,
        "exp_lut": ctx.const_array("exp_lut", "int16_t", np.array(exp_lut, np.int16)),
        "recip_lut": ctx.const_array("recip_lut", "int16_t", np.array(recip, np.int16))})
    return Lowering(families=("softmax16",), call=f"uaot_softmax_s16({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")


@register("SOFTMAX", dtypes=("int8", "float32", "int16"))
def lower_softmax(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    dtype = require_dtype(ctx, [x, y], ("int8", "int16", "float32"))
    if not x.shape or tuple(x.shape) != tuple(y.shape):
        raise ctx.unsupported(f"input {list(x.shape)} and output {list(y.shape)} must have the same shape")
    depth = int(x.shape[-1])
    outer = x.num_elements // depth if depth else 0
    beta = float(np.float32(ctx.options.get("beta", 1.0)))
    if dtype == "int16":
        return _lower_s16(ctx, outer, depth, beta)
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
