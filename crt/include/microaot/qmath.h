/* microaot runtime: TFLite/TFLM fixed-point arithmetic (gemmlowp semantics, "double rounding",
 * the same as TFLM reference kernels and CMSIS-NN without CMSIS_NN_USE_SINGLE_ROUNDING).
 * Every int8 kernel requantizes through these, which is what makes outputs bit-exact with TFLM. */
#ifndef MICROAOT_QMATH_H
#define MICROAOT_QMATH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define UAOT_INLINE static inline __attribute__((always_inline))
#else
#define UAOT_INLINE static inline
#endif

/* gemmlowp SaturatingRoundingDoublingHighMul */
UAOT_INLINE int32_t uaot_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t ab = (int64_t)a * (int64_t)b;
    int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT (exponent in 0..31) */
UAOT_INLINE int32_t uaot_rdbpot(int32_t x, int exponent)
{
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + ((x < 0) ? 1 : 0);
    return (x >> exponent) + ((remainder > threshold) ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (double rounding). shift > 0 is a left shift. */
UAOT_INLINE int32_t uaot_mbqm(int32_t x, int32_t multiplier, int shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    /* x * (1 << left) with the wrap-around of the reference implementation, without UB */
    int32_t xs = (int32_t)((uint32_t)x << left);
    return uaot_rdbpot(uaot_srdhm(xs, multiplier), right);
}

/* TFLite MultiplyByQuantizedMultiplierSmallerThanOneExp / GreaterThanOne helpers */
UAOT_INLINE int32_t uaot_mbqm_lt1(int32_t x, int32_t multiplier, int left_shift)
{
    return uaot_rdbpot(uaot_srdhm(x, multiplier), -left_shift);
}

UAOT_INLINE int32_t uaot_mbqm_gt1(int32_t x, int32_t multiplier, int left_shift)
{
    return uaot_srdhm((int32_t)((uint32_t)x << left_shift), multiplier);
}

/* uint32 -> int32 modulo 2^32 (two's complement), without the implementation-defined conversion */
UAOT_INLINE int32_t uaot_u2i(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 0x80000000u) - INT32_MAX - 1;
}

/* a + b with int32 wrap-around (what TFLM's int32 adds do on the hardware), without signed overflow */
UAOT_INLINE int32_t uaot_wrap_add(int32_t a, int32_t b)
{
    return uaot_u2i((uint32_t)a + (uint32_t)b);
}

UAOT_INLINE int32_t uaot_clamp_i32(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

#ifdef __cplusplus
}
#endif
#endif
