"""Host-side emulation of the TFLM arithmetic the lowerings of this package need at compile time.

* exact int32 emulation of MultiplyByQuantizedMultiplier (for tests and tables),
* exact int32 emulation of gemmlowp's fixed-point ``logistic`` and ``tanh`` as TFLM's int8 kernels
  use them, to build 256-entry lookup tables (the int8 output of LOGISTIC/TANH depends only on the
  int8 input byte, so a table reproduces TFLM bit for bit).

Everything mirrors the C++ with explicit int32 wrap-around; no floating point enters the
fixed-point paths. The module name starts with ``_`` so the registry does not import it as a
lowering module.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from microaot.ir.quant import tflite_round

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


# --- int32 fixed-point (gemmlowp) ----------------------------------------------------------------


def wrap32(x: int) -> int:
    return ((x + 2**31) % 2**32) - 2**31


def srdhm(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul (int32)."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    # C++ integer division truncates toward zero
    num = ab + nudge
    q = abs(num) // (1 << 31)
    return wrap32(q if num >= 0 else -q)


def rdbpot(x: int, exponent: int) -> int:
    """RoundingDivideByPOT (int32)."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mbqm(x: int, multiplier: int, shift: int) -> int:
    """TFLite MultiplyByQuantizedMultiplier (double rounding)."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    return rdbpot(srdhm(wrap32(x * (1 << left)), multiplier), right)


def _srmbpot(x: int, exponent: int) -> int:
    """SaturatingRoundingMultiplyByPOT<exponent> (int32)."""
    if exponent == 0:
        return x
    if exponent < 0:
        return rdbpot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return wrap32(x << exponent)


def _rounding_half_sum(a: int, b: int) -> int:
    s = a + b
    sign = 1 if s >= 0 else -1
    num = s + sign
    q = abs(num) // 2
    return wrap32(q if num >= 0 else -q)


def _mul(a: int, b: int) -> int:
    return srdhm(a, b)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: int) -> int:
    """F0 -> F0."""
    constant_term = 1895147668
    constant_1_over_3 = 715827883
    x = wrap32(a + (1 << 28))  # a + 1/8 in Q0.31
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4 = _mul(x2, x2)
    x4_over_4 = _srmbpot(x4, -2)
    x4_over_24_plus = _srmbpot(wrap32(_mul(wrap32(x4_over_4 + x3), constant_1_over_3) + x2), -1)
    return wrap32(constant_term + _mul(constant_term, wrap32(x + x4_over_24_plus)))


def _exp_on_negative_values(a: int, integer_bits: int) -> int:
    """FixedPoint<int32, integer_bits> (a <= 0) -> F0."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = wrap32((a & mask) - one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        _srmbpot(a_mod_quarter_minus_one_quarter, integer_bits)  # Rescale<0>: exponent = src - dst bits
    )
    remainder = wrap32(a_mod_quarter_minus_one_quarter - a)
    barrel = [(-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401), (4, 242)]
    for exponent, multiplier in barrel:
        if integer_bits > exponent:
            shift_amount = fractional_bits + exponent
            if remainder & (1 << shift_amount):
                result = _mul(result, multiplier)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        if a < clamp:
            result = 0
    if a == 0:
        result = INT32_MAX  # F0::One()
    return result


def _one_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    """F0 -> F0."""
    half_denominator = _rounding_half_sum(a, INT32_MAX)
    constant_48_over_17 = 1515870810
    constant_neg_32_over_17 = -1010580540
    x = wrap32(constant_48_over_17 + _mul(half_denominator, constant_neg_32_over_17))  # F2
    one_f2 = 1 << 29
    for _ in range(3):
        half_denominator_times_x = _mul(half_denominator, x)  # F2
        one_minus = wrap32(one_f2 - half_denominator_times_x)  # F2
        x = wrap32(x + _srmbpot(_mul(x, one_minus), 2))  # Rescale<2>(F4) -> exponent 2
    # Rescale<0>(ExactMulByPot<-1>(x)): F2 -> F1 (raw same) -> F0: exponent 1
    return _srmbpot(x, 1)


def _one_minus_x_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    half_denominator = _rounding_half_sum(a, INT32_MAX)
    constant_48_over_17 = 1515870810
    constant_neg_32_over_17 = -1010580540
    x = wrap32(constant_48_over_17 + _mul(half_denominator, constant_neg_32_over_17))
    one_f2 = 1 << 29
    for _ in range(3):
        half_denominator_times_x = _mul(half_denominator, x)
        one_minus = wrap32(one_f2 - half_denominator_times_x)
        x = wrap32(x + _srmbpot(_mul(x, one_minus), 2))
    # Rescale<0>(x - F2::One()): F2 -> F0, exponent 2
    return _srmbpot(wrap32(x - one_f2), 2)


def gemmlowp_logistic(a: int, integer_bits: int) -> int:
    """gemmlowp::logistic(FixedPoint<int32, integer_bits>) -> raw F0."""
    if a > 0:
        abs_input = a
    else:
        abs_input = wrap32(-a)
    result_if_positive = _one_over_one_plus_x_for_x_in_0_1(_exp_on_negative_values(wrap32(-abs_input), integer_bits))
    result_if_negative = wrap32(INT32_MAX - result_if_positive)
    if a == 0:
        return 1 << 30
    return result_if_positive if a > 0 else result_if_negative


def gemmlowp_tanh(a: int, integer_bits: int) -> int:
    """gemmlowp::tanh(FixedPoint<int32, integer_bits>) -> raw F0."""
    negative = a < 0
    n = a if negative else wrap32(-a)
    # neg_tanh_on_negative_values: ExactMulByPot<1> adds an integer bit (raw unchanged)
    t = _one_minus_x_over_one_plus_x_for_x_in_0_1(_exp_on_negative_values(n, integer_bits + 1))
    if a == 0:
        return 0
    return wrap32(-t) if negative else t


def _input_params(input_scale: float) -> tuple[int, int, int]:
    """TFLM LOGISTIC/TANH int8 Prepare: (input_multiplier, input_left_shift, input_range_radius)."""
    k_input_integer_bits = 4
    real = float(np.float32(input_scale)) * float(1 << (31 - k_input_integer_bits))
    q, shift = math.frexp(real)
    multiplier = tflite_round(q * (1 << 31))
    multiplier = wrap32(multiplier)  # static_cast<int32_t> of 2^31 wraps
    # CalculateInputRadius(4, shift, 31)
    max_input_rescaled = 1.0 * ((1 << k_input_integer_bits) - 1) * (1 << (31 - k_input_integer_bits)) / (2.0**shift)
    radius = int(math.floor(max_input_rescaled))
    return multiplier, shift, radius


def _table_s8(input_scale: float, input_zero_point: int, rescaled: Callable[[int], int]) -> list[int]:
    """256 int8 outputs of TFLM's int8 LOGISTIC/TANH, indexed by the input byte (uint8 view): inputs
    beyond the input radius saturate to -128/127, the others go through ``rescaled`` (of the input
    in Q4.27, clamped to int8)."""
    multiplier, shift, radius = _input_params(input_scale)
    table = [0] * 256
    for q in range(-128, 128):
        x = q - input_zero_point
        if x <= -radius:
            out = -128
        elif x >= radius:
            out = 127
        else:
            x_q4 = mbqm(x, multiplier, shift)
            out = min(max(rescaled(x_q4), -128), 127)
        table[q & 0xFF] = out
    return table


def logistic_table_s8(input_scale: float, input_zero_point: int) -> list[int]:
    """256 int8 outputs of TFLM's int8 LOGISTIC, indexed by the input byte (uint8 view)."""
    return _table_s8(input_scale, input_zero_point, lambda x_q4: rdbpot(gemmlowp_logistic(x_q4, 4), 31 - 8) - 128)


def tanh_table_s8(input_scale: float, input_zero_point: int) -> list[int]:
    """256 int8 outputs of TFLM's int8 TANH, indexed by the input byte (uint8 view)."""
    return _table_s8(input_scale, input_zero_point, lambda x_q4: rdbpot(gemmlowp_tanh(x_q4, 4), 31 - 7))
