/* microaot runtime: the few Cortex-M DSP (ARMv7E-M) SIMD instructions the fast kernels use.
 *
 * With __ARM_FEATURE_DSP (Cortex-M4/M7/M33 with DSP) they are the ACLE intrinsics / one instruction
 * each; elsewhere (host, Cortex-M3, M0) they are portable C with the same results, so the same kernel
 * source is bit-exact everywhere and can be tested on the host.
 *   uaot_sxtb16(x)      = SXTB16 x:          (int16)(int8)x[7:0]  | (int16)(int8)x[23:16] << 16
 *   uaot_sxtb16_r8(x)   = SXTB16 x, ROR #8:  bytes 1 and 3 sign-extended
 *   uaot_smlad(a,b,c)   = c + a.lo*b.lo + a.hi*b.hi        (signed 16-bit halves)
 *   uaot_smlabb(a,b,c)  = c + a.lo*b.lo;  uaot_smlatt(a,b,c) = c + a.hi*b.hi
 *   uaot_sxtab16(a,x)   = SXTAB16 a, x:          a + uaot_sxtb16(x)    per 16-bit half, modulo 2^16
 *   uaot_sxtab16_r8(a,x)= SXTAB16 a, x, ROR #8:  a + uaot_sxtb16_r8(x) per 16-bit half, modulo 2^16
 * The portable multiply-accumulates wrap modulo 2^32 as the instructions do (no signed overflow). */
#ifndef MICROAOT_SIMD_H
#define MICROAOT_SIMD_H

#include <stdint.h>
#include <string.h>

#include "microaot/qmath.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__GNUC__)
#define UAOT_HAVE_DSP 1
#include <arm_acle.h>

UAOT_INLINE uint32_t uaot_sxtb16(uint32_t x)
{
    return (uint32_t)__sxtb16((int32_t)x);
}

UAOT_INLINE uint32_t uaot_sxtb16_r8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

UAOT_INLINE uint32_t uaot_sxtab16(uint32_t a, uint32_t x)
{
    return (uint32_t)__sxtab16((int32_t)a, (int32_t)x);
}

UAOT_INLINE uint32_t uaot_sxtab16_r8(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

UAOT_INLINE int32_t uaot_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlad((int32_t)a, (int32_t)b, acc);
}

UAOT_INLINE int32_t uaot_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlabb((int32_t)a, (int32_t)b, acc);
}

UAOT_INLINE int32_t uaot_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlatt((int32_t)a, (int32_t)b, acc);
}
#else
#define UAOT_HAVE_DSP 0

UAOT_INLINE uint32_t uaot_sxtb16(uint32_t x)
{
    uint32_t lo = (uint32_t)(int32_t)(int8_t)(x & 0xFFu) & 0xFFFFu;
    uint32_t hi = (uint32_t)(int32_t)(int8_t)((x >> 16) & 0xFFu) & 0xFFFFu;
    return lo | (hi << 16);
}

UAOT_INLINE uint32_t uaot_sxtb16_r8(uint32_t x)
{
    return uaot_sxtb16((x >> 8) | (x << 24));
}

UAOT_INLINE uint32_t uaot_sxtab16(uint32_t a, uint32_t x)
{
    const uint32_t lo = (a + (uint32_t)(int32_t)(int8_t)(x & 0xFFu)) & 0xFFFFu;
    const uint32_t hi = ((a >> 16) + (uint32_t)(int32_t)(int8_t)((x >> 16) & 0xFFu)) << 16;
    return lo | hi;
}

UAOT_INLINE uint32_t uaot_sxtab16_r8(uint32_t a, uint32_t x)
{
    return uaot_sxtab16(a, (x >> 8) | (x << 24));
}

UAOT_INLINE int32_t uaot_lo16(uint32_t a)
{
    return (int32_t)(int16_t)(uint16_t)(a & 0xFFFFu);
}

UAOT_INLINE int32_t uaot_hi16(uint32_t a)
{
    return (int32_t)(int16_t)(uint16_t)(a >> 16);
}

/* modulo 2^32 like the instructions (an accumulator that starts at a saturated bias wraps as TFLM's does) */
UAOT_INLINE int32_t uaot_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return uaot_u2i((uint32_t)acc + (uint32_t)(uaot_lo16(a) * uaot_lo16(b)) + (uint32_t)(uaot_hi16(a) * uaot_hi16(b)));
}

UAOT_INLINE int32_t uaot_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return uaot_u2i((uint32_t)acc + (uint32_t)(uaot_lo16(a) * uaot_lo16(b)));
}

UAOT_INLINE int32_t uaot_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return uaot_u2i((uint32_t)acc + (uint32_t)(uaot_hi16(a) * uaot_hi16(b)));
}
#endif

/* 32-bit load/store of possibly unaligned data (one LDR/STR on Cortex-M3/M4/M7) */
UAOT_INLINE uint32_t uaot_ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* 4 copies of an int8 value in one word */
UAOT_INLINE uint32_t uaot_splat8(int32_t v)
{
    return ((uint32_t)v & 0xFFu) * 0x01010101u;
}

/* TFLite MultiplyByQuantizedMultiplier (double rounding), exactly uaot_mbqm for multipliers that are
 * not INT32_MIN (the generator never emits one): the rounding high multiply as one 64-bit
 * multiply-accumulate ((a*b + 2^30) >> 31 equals gemmlowp's nudge-and-truncate for both signs), and
 * RoundingDivideByPOT in 32-bit arithmetic. left = max(shift, 0), right = max(-shift, 0). */
UAOT_INLINE int32_t uaot_mbqm_lr(int32_t x, int32_t multiplier, int32_t left, int32_t right)
{
    x = (int32_t)((uint32_t)x << left);
    const int32_t y = (int32_t)(((int64_t)x * multiplier + ((int64_t)1 << 30)) >> 31);
    const uint32_t mask = (1u << right) - 1u;
    const int32_t rem = (int32_t)((uint32_t)y & mask);
    const int32_t threshold = (int32_t)(mask >> 1) + (int32_t)((uint32_t)y >> 31);
    return (y >> right) + (rem > threshold ? 1 : 0);
}

UAOT_INLINE int32_t uaot_mbqm_fast(int32_t x, int32_t multiplier, int32_t shift)
{
    return uaot_mbqm_lr(x, multiplier, shift > 0 ? shift : 0, shift > 0 ? 0 : -shift);
}

/* SMMULR: (a * b + 2^31) >> 32 */
UAOT_INLINE int32_t uaot_smmulr(int32_t a, int32_t b)
{
#if UAOT_HAVE_DSP
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* Requantization with a precomputed table row {m, l1, r, bias} (generator: codegen/ops/_pack.py
 * rq_table), valid when the generator proved that x << l1 fits int32 (l1 = max(shift,0) + 1) and
 * 1 <= r = -shift <= 22, or m = 0:
 *   SMMULR(x << l1, m) = (x*2^l*m + 2^30) >> 31 = SaturatingRoundingDoublingHighMul(x*2^l, m) = y,
 *   RoundingDivideByPOT(y, r) + out_off = (y + 2^(r-1) - (y < 0) + out_off*2^r) >> r   (|y| < 2^30,
 *   no overflow), with bias = 2^(r-1) + out_off*2^r. Returns the value before the activation clamp. */
UAOT_INLINE int32_t uaot_rq_smmulr(int32_t x, const int32_t *rq)
{
    const int32_t y = uaot_smmulr((int32_t)((uint32_t)x << rq[1]), rq[0]);
    return (y + rq[3] + (y >> 31)) >> rq[2];
}

UAOT_INLINE int8_t uaot_clamp8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* saturate to int8 (SSAT #8) */
UAOT_INLINE int8_t uaot_sat8(int32_t v)
{
#if UAOT_HAVE_DSP
    int32_t r;
    __asm__("ssat %0, #8, %1" : "=r"(r) : "r"(v));
    return (int8_t)r;
#else
    return (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
#endif
}

UAOT_INLINE int8_t uaot_requant_out(int32_t acc, int32_t mult, int32_t shift, int32_t out_off, int32_t lo, int32_t hi)
{
    int32_t v = uaot_wrap_add(uaot_mbqm_fast(acc, mult, shift), out_off);
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

#ifdef __cplusplus
}
#endif
#endif
