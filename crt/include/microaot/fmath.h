/* microaot float math: exp, expm1, log, tanh, sqrt of float32, without libm.
 *
 * The float kernels (SOFTMAX, LOGISTIC, TANH, EXP, LOG, SQRT, RSQRT, ELU, ...) call these instead of
 * <math.h>, so a model gives the same bytes on every target: the host's glibc and a device's newlib
 * differ by an ulp here and there, these functions do not (integer and IEEE double arithmetic only,
 * no fused multiply-add: see UAOT_FMATH_NOCONTRACT; on a core without a double FPU the double
 * operations are libgcc's soft-float routines, which are correctly rounded like hardware ones).
 *
 * Accuracy (vs the correctly rounded result): uaot_sqrtf exact (correctly rounded, like IEEE sqrt);
 * uaot_expf (float arithmetic, the one SOFTMAX and LOGISTIC call per element) within 1 ulp;
 * uaot_expm1f, uaot_logf, uaot_tanhf evaluate in double with a relative error below 1e-12 and round
 * once to float, so they are correctly rounded except within 1e-12 of a halfway case (at most 1 ulp). TFLM calls the host libm (glibc: < 1 ulp): see docs/operators.md for the
 * per-operator ulp bounds the tests use. */
#ifndef MICROAOT_FMATH_H
#define MICROAOT_FMATH_H

#include <stdint.h>

#if defined(__clang__)
#define UAOT_FMATH_NOCONTRACT
#elif defined(__GNUC__)
#define UAOT_FMATH_NOCONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define UAOT_FMATH_NOCONTRACT
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

static inline float uaot_f32_from_bits(uint32_t u)
{
    union {
        uint32_t u;
        float f;
    } v;
    v.u = u;
    return v.f;
}

static inline uint32_t uaot_f32_bits(float f)
{
    union {
        float f;
        uint32_t u;
    } v;
    v.f = f;
    return v.u;
}

/* 2^k as a double, k in [-1022, 1023] */
static inline double uaot_pow2_d(int k)
{
    union {
        uint64_t u;
        double d;
    } v;
    v.u = (uint64_t)(k + 1023) << 52;
    return v.d;
}

/* e^x in double for |x| <= 110, relative error < 1e-13 */
static inline UAOT_FMATH_NOCONTRACT double uaot_exp_d(double x)
{
    const double kd = x * 1.4426950408889634;
    const int k = (int)(kd >= 0.0 ? kd + 0.5 : kd - 0.5);
    const double r = (x - (double)k * 6.93147180369123816490e-01) - (double)k * 1.90821492927058770002e-10;
    /* e^r, |r| <= 0.35: Taylor polynomial of degree 12 */
    double p = 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    return p * uaot_pow2_d(k);
}

/* e^x in float arithmetic only (fast on a single-precision FPU): Cody-Waite reduction by ln 2, a
 * degree-7 polynomial (Cephes' expf coefficients), one scaling by 2^k in two steps; within 1 ulp of the
 * correctly rounded result (measured over every 7th float in (-88, 88.7) against glibc: max 1 ulp) */
static inline UAOT_FMATH_NOCONTRACT float uaot_expf(float x)
{
    if (x != x) {
        return x;
    }
    if (x > 88.72283935546875f) {
        return uaot_f32_from_bits(0x7f800000u);
    }
    if (x < -103.972084045410f) {
        return 0.0f;
    }
    float kf = x * 1.44269504088896341f;
    kf = kf >= 0.0f ? kf + 0.5f : kf - 0.5f;
    const int k = (int)kf;
    const float fk = (float)k;
    const float r = (x - fk * 0.693359375f) - fk * -2.12194440e-4f;
    const float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r;
    float y = p + 1.0f;
    const int k1 = k / 2, k2 = k - k1; /* 2^k may be below the normal range: two exact-ish steps */
    y *= uaot_f32_from_bits((uint32_t)(k1 + 127) << 23);
    y *= uaot_f32_from_bits((uint32_t)(k2 + 127) << 23);
    return y;
}

/* e^x - 1 (TFLM's ELU uses expm1) */
static inline UAOT_FMATH_NOCONTRACT float uaot_expm1f(float x)
{
    if (x != x) {
        return x;
    }
    if (x > 88.72283935546875f) {
        return uaot_f32_from_bits(0x7f800000u);
    }
    if (x < -104.0f) {
        return -1.0f;
    }
    const double xd = (double)x;
    if (xd > -0.5 && xd < 0.5) {
        /* Taylor series to x^15: error < 0.5^16 / 16! */
        double p = 1.0 / 1307674368000.0;
        p = p * xd + 1.0 / 87178291200.0;
        p = p * xd + 1.0 / 6227020800.0;
        p = p * xd + 1.0 / 479001600.0;
        p = p * xd + 1.0 / 39916800.0;
        p = p * xd + 1.0 / 3628800.0;
        p = p * xd + 1.0 / 362880.0;
        p = p * xd + 1.0 / 40320.0;
        p = p * xd + 1.0 / 5040.0;
        p = p * xd + 1.0 / 720.0;
        p = p * xd + 1.0 / 120.0;
        p = p * xd + 1.0 / 24.0;
        p = p * xd + 1.0 / 6.0;
        p = p * xd + 0.5;
        p = p * xd + 1.0;
        return (float)(p * xd);
    }
    return (float)(uaot_exp_d(xd) - 1.0);
}

static inline UAOT_FMATH_NOCONTRACT float uaot_logf(float x)
{
    uint32_t u = uaot_f32_bits(x);
    if (x != x) {
        return x;
    }
    if ((u & 0x7fffffffu) == 0) {
        return uaot_f32_from_bits(0xff800000u); /* -inf */
    }
    if (u >> 31) {
        return uaot_f32_from_bits(0x7fc00000u); /* NaN */
    }
    if (u == 0x7f800000u) {
        return x;
    }
    int e = 0;
    if ((u >> 23) == 0) { /* subnormal: scale by 2^23 */
        u = uaot_f32_bits(x * 8388608.0f);
        e = -23;
    }
    e += (int)(u >> 23) - 127;
    /* m in [1, 2) */
    double m = (double)uaot_f32_from_bits((u & 0x007fffffu) | 0x3f800000u);
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e += 1;
    }
    const double s = (m - 1.0) / (m + 1.0);
    const double s2 = s * s;
    /* log(m) = 2 atanh(s), |s| <= 0.1716: series to s^17 */
    double p = 1.0 / 17.0;
    p = p * s2 + 1.0 / 15.0;
    p = p * s2 + 1.0 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    p = p * s2 + 1.0;
    const double lm = 2.0 * s * p;
    return (float)((double)e * 0.6931471805599453094 + lm);
}

static inline UAOT_FMATH_NOCONTRACT float uaot_tanhf(float x)
{
    if (x != x) {
        return x;
    }
    const double xd = (double)x;
    const double ax = xd < 0.0 ? -xd : xd;
    double t;
    if (ax > 9.1) {
        t = 1.0;
    } else if (ax < 0.000244140625) {
        t = ax - ax * ax * ax / 3.0;
    } else {
        const double e = uaot_exp_d(2.0 * ax);
        t = (e - 1.0) / (e + 1.0);
    }
    return (float)(xd < 0.0 ? -t : t);
}

/* correctly rounded square root (IEEE), by an exact integer square root */
static inline UAOT_FMATH_NOCONTRACT float uaot_sqrtf(float x)
{
    const uint32_t u = uaot_f32_bits(x);
    if (x != x || x == 0.0f || u == 0x7f800000u) {
        return x; /* NaN, +-0, +inf */
    }
    if (u >> 31) {
        return uaot_f32_from_bits(0x7fc00000u);
    }
    uint64_t m;
    int e; /* x = m * 2^e */
    if ((u >> 23) == 0) {
        m = u;
        e = -149;
    } else {
        m = (u & 0x007fffffu) | 0x00800000u;
        e = (int)(u >> 23) - 150;
    }
    while (m < 0x00800000u) { /* normalize subnormals to 24 bits */
        m <<= 1;
        e -= 1;
    }
    if (e & 1) {
        m <<= 1;
        e -= 1;
    }
    /* n = m * 2^26 < 2^51; q = floor(sqrt(n)) has 25 or 26 bits */
    const uint64_t n = m << 26;
    e -= 26;
    uint64_t q = 0, rem = 0, bit = (uint64_t)1 << 50;
    uint64_t v = n;
    while (bit > v) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (v >= q + bit) {
            v -= q + bit;
            q = (q >> 1) + bit;
        } else {
            q >>= 1;
        }
        bit >>= 2;
    }
    rem = v;
    /* sticky bit below the rounding position: q*2+1 when inexact (ties cannot happen) */
    q = (q << 1) | (rem != 0 ? 1u : 0u);
    return (float)((double)q * uaot_pow2_d(e / 2 - 1));
}

#endif
