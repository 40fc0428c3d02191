"""TFLite/TFLM quantization arithmetic on the host side (must match the C side in crt/qmath.h)."""

from __future__ import annotations

import math


def tflite_round(x: float) -> int:
    """std::round: halves away from zero (Python's round() is banker's rounding)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real = q * 2^(shift-31); returns (q_fixed int32, shift).

    shift > 0 means a left shift. Mirrors tensorflow/lite/kernels/internal/quantization_util.cc
    (double-rounding build, as TFLM's reference kernels use).
    """
    if real_multiplier == 0.0:
        return 0, 0
    q, shift = math.frexp(real_multiplier)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed > (1 << 31):
        raise ValueError(f"quantize_multiplier: {real_multiplier!r} out of range")
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift = 0
        q_fixed = 0
    if shift > 31:
        # the C side shifts a 32-bit value left by `shift`: 32 and more is undefined behaviour (TFLM
        # itself overflows here); no sane model needs a rescale factor of 2^31 or more
        raise ValueError(f"requantization multiplier {real_multiplier!r} is too large (2^{shift - 1} or more); "
                         "the tensors' quantization scales are inconsistent or corrupt")
    return int(q_fixed), int(shift)


def quantize_multiplier_smaller_than_one_exp(real_multiplier: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplierSmallerThanOneExp: returns (q_fixed, left_shift<=0)."""
    if not 0.0 < real_multiplier < 1.0:
        raise ValueError(f"multiplier {real_multiplier!r} not in (0, 1)")
    q, shift = quantize_multiplier(real_multiplier)
    return q, shift
