/* microaot kernels: SOFTMAX, portable C99. The int8 path re-implements the gemmlowp fixed-point
 * functions TFLM's reference softmax uses (int32 raw values; wrap-around adds like gemmlowp). */
#include "microaot/kernels/softmax.h"

#include "microaot/fmath.h"
#include <stddef.h>

#include "microaot/qmath.h"

/* --- gemmlowp scalar primitives on int32 raw values ----------------------------------------- */
UAOT_INLINE int32_t fp_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

UAOT_INLINE int32_t fp_sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* FixedPoint multiply = SaturatingRoundingDoublingHighMul */
UAOT_INLINE int32_t fp_mul(int32_t a, int32_t b)
{
    return uaot_srdhm(a, b);
}

/* SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0 */
UAOT_INLINE int32_t fp_sat_shl(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

UAOT_INLINE int32_t fp_rounding_half_sum(int32_t a, int32_t b)
{
    int64_t sum = (int64_t)a + (int64_t)b;
    int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* exp(x) for x in [-1/4, 0), Q0.31 in and out */
static int32_t fp_exp_quarter(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    int32_t x = fp_add(a, 1 << 28); /* a + 1/8 */
    int32_t x2 = fp_mul(x, x);
    int32_t x3 = fp_mul(x2, x);
    int32_t x4 = fp_mul(x2, x2);
    int32_t x4_over_4 = uaot_rdbpot(x4, 2);
    int32_t t = uaot_rdbpot(fp_add(fp_mul(fp_add(x4_over_4, x3), constant_1_over_3), x2), 1);
    return fp_add(constant_term, fp_mul(constant_term, fp_add(x, t)));
}

/* exp(a) for a <= 0 given in Q5.26; result Q0.31 */
static int32_t fp_exp_on_negative_values_q5(int32_t a)
{
    const int kFractionalBits = 26;
    const int32_t kOneQuarter = (int32_t)1 << (kFractionalBits - 2);
    const int32_t mask = kOneQuarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = fp_sub(a & mask, kOneQuarter);
    /* Rescale<0> from 5 integer bits: saturating left shift by 5 */
    int32_t result = fp_exp_quarter(fp_sat_shl(a_mod_quarter_minus_one_quarter, 5));
    const int32_t remainder = fp_sub(a_mod_quarter_minus_one_quarter, a);
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    for (int e = -2; e <= 4; ++e) {
        /* kIntegerBits (5) > e always holds here */
        const int shift_amount = kFractionalBits + e;
        if (remainder & ((int32_t)1 << shift_amount)) {
            result = fp_mul(result, multipliers[e + 2]);
        }
    }
    /* kIntegerBits == 5: no clamp to -32 */
    if (a == 0) {
        result = INT32_MAX; /* One() in Q0.31 */
    }
    return result;
}

/* 1 / (1 + x) for x in [0, 1) given in Q0.31; result Q0.31 */
static int32_t fp_one_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = fp_rounding_half_sum(a, INT32_MAX);
    const int32_t constant_48_over_17 = 1515870810; /* Q2.29 */
    const int32_t constant_neg_32_over_17 = -1010580540;
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = fp_add(constant_48_over_17, fp_mul(half_denominator, constant_neg_32_over_17));
    for (int i = 0; i < 3; ++i) {
        int32_t half_denominator_times_x = fp_mul(half_denominator, x); /* Q2 */
        int32_t one_minus = fp_sub(one_q2, half_denominator_times_x);   /* Q2 */
        /* x * one_minus is Q4; Rescale<2> = saturating shl by 2 */
        x = fp_add(x, fp_sat_shl(fp_mul(x, one_minus), 2));
    }
    /* ExactMulByPot<-1> (Q2 -> Q1) then Rescale<0> = saturating shl by 1 */
    return fp_sat_shl(x, 1);
}

static int uaot_clz32(uint32_t x)
{
    if (x == 0) {
        return 32;
    }
#if defined(__GNUC__)
    return __builtin_clz(x); /* one CLZ on Cortex-M3 and up */
#else
    int n = 0;
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        ++n;
    }
    return n;
#endif
}

#define UAOT_SOFTMAX_SUM_LIMIT ((int32_t)1 << 28)

uaot_status_t uaot_softmax_s8(const uaot_softmax_params_t *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t depth = p->depth;
    for (int32_t i = 0; i < p->outer; ++i) {
        const int8_t *x = input + i * depth;
        int8_t *y = output + i * depth;
        int32_t max_in_row = -128;
        for (int32_t c = 0; c < depth; ++c) {
            if (x[c] > max_in_row) {
                max_in_row = x[c];
            }
        }
        /* Q12.19. TFLM adds in int32 and aborts (TFLITE_CHECK on the exponent below) once the sum
         * reaches 512.0 (2^28): 1/sum is then below half an output step, every output rounds to 0
         * (-128), which is what the loop below returns (TFLM's formula continued: exponent >= 32).
         * Each term is at most 1.0 (2^19), so stopping at 2^28 keeps the sum far from int32 overflow
         * for any depth and equal to TFLM's wherever TFLM's is below 512. */
        int32_t sum_of_exps = 0;
        for (int32_t c = 0; c < depth && sum_of_exps < UAOT_SOFTMAX_SUM_LIMIT; ++c) {
            const int32_t diff = (int32_t)x[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t rescaled = uaot_mbqm_gt1(diff, p->input_mult, p->input_left_shift);
                const int32_t e = fp_exp_on_negative_values_q5(rescaled);
                sum_of_exps = fp_add(sum_of_exps, uaot_rdbpot(e, 12)); /* Rescale<12> */
            }
        }
        if (sum_of_exps >= UAOT_SOFTMAX_SUM_LIMIT) {
            for (int32_t c = 0; c < depth; ++c) {
                y[c] = -128;
            }
            continue;
        }
        /* GetReciprocal(sum_of_exps, 12) */
        const int headroom_plus_one = uaot_clz32((uint32_t)sum_of_exps);
        const int num_bits_over_unit = 12 - headroom_plus_one;
        const int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
        const int32_t shifted_scale = fp_one_over_one_plus_x(shifted_sum_minus_one);
        const int exponent = num_bits_over_unit + 31 - 8;
        if (exponent < 0 || exponent > 31) {
            return UAOT_ERR_INTERNAL;
        }
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t rescaled = uaot_mbqm_gt1(diff, p->input_mult, p->input_left_shift);
                const int32_t e = fp_exp_on_negative_values_q5(rescaled);
                const int32_t unsat = uaot_rdbpot(fp_mul(shifted_scale, e), exponent);
                y[c] = (int8_t)uaot_clamp_i32(unsat - 128, -128, 127);
            } else {
                y[c] = -128;
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_softmax_f32(const uaot_softmax_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t depth = p->depth;
    for (int32_t i = 0; i < p->outer; ++i) {
        const float *x = input + i * depth;
        float *y = output + i * depth;
        float max = -3.402823466e+38f;
        for (int32_t c = 0; c < depth; ++c) {
            max = x[c] > max ? x[c] : max;
        }
        float sum = 0.0f;
        for (int32_t c = 0; c < depth; ++c) {
            const float e = uaot_expf((x[c] - max) * p->beta);
            y[c] = e;
            sum += e;
        }
        for (int32_t c = 0; c < depth; ++c) {
            y[c] = y[c] / sum;
        }
    }
    return UAOT_OK;
}
