/* microaot kernels: L2_NORMALIZATION, portable C99 (TFLM reference arithmetic). */
#include "microaot/kernels/l2norm.h"

#include <math.h>
#include <stddef.h>

#include "microaot/qmath.h"

static int uaot_l2_clz32(uint32_t x)
{
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        ++n;
    }
    return n;
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent>, exponent > 0 */
static int32_t uaot_l2_sat_shl(int32_t x, int exponent)
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

/* TFLM GetInvSqrtQuantizedMultiplierExp(input, kReverseShift = -1): 1/sqrt(input) as multiplier and a
 * (left) shift, by 5 Newton-Raphson steps in gemmlowp Q3.28 */
static void uaot_inv_sqrt_exp(int32_t input, int32_t *mult, int *shift)
{
    if (input <= 1) {
        *mult = INT32_MAX;
        *shift = 0;
        return;
    }
    int s = 11;
    while (input >= (1 << 29)) {
        input /= 4;
        ++s;
    }
    const unsigned max_left_shift_bits = (unsigned)uaot_l2_clz32((uint32_t)input) - 1u;
    const unsigned left_shift_bit_pairs = max_left_shift_bits / 2u - 1u;
    s -= (int)left_shift_bit_pairs;
    input = (int32_t)((uint32_t)input << (2u * left_shift_bit_pairs));
    const int32_t fp_input = input >> 1;                    /* Q3.28 */
    const int32_t fp_half_input = uaot_rdbpot(fp_input, 1); /* SaturatingRoundingMultiplyByPOT<-1> */
    const int32_t fp_half_three = (1 << 28) + (1 << 27);    /* 1.5 */
    int32_t x = 1 << 28;                                    /* 1.0 */
    for (int i = 0; i < 5; ++i) {
        const int32_t x3 = uaot_l2_sat_shl(uaot_srdhm(uaot_srdhm(x, x), x), 6); /* Q9 -> Q3 */
        const int32_t t = (int32_t)((uint32_t)uaot_srdhm(fp_half_three, x) - (uint32_t)uaot_srdhm(fp_half_input, x3));
        x = uaot_l2_sat_shl(t, 3); /* Q6 -> Q3 */
    }
    x = uaot_srdhm(x, 1518500250); /* * sqrt(2)/2 (Q0.31) */
    if (s < 0) {
        x = (int32_t)((uint32_t)x << -s);
        s = 0;
    }
    *mult = x;
    *shift = -s;
}

uaot_status_t uaot_l2norm_f32(const uaot_l2norm_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    for (int32_t i = 0; i < p->outer; ++i) {
        const float *x = input + i * p->depth;
        float sq = 0.0f;
        for (int32_t c = 0; c < p->depth; ++c) {
            const float v2 = x[c] * x[c];
            sq += v2;
        }
        float norm = sqrtf(sq);
        norm = norm < 1e-6f ? 1e-6f : norm;
        for (int32_t c = 0; c < p->depth; ++c) {
            output[i * p->depth + c] = x[c] / norm;
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_l2norm_s8(const uaot_l2norm_params_t *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    for (int32_t i = 0; i < p->outer; ++i) {
        const int8_t *x = input + i * p->depth;
        uint32_t acc = 0; /* int32 with wrap-around */
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t d = (int32_t)x[c] - p->input_zp;
            acc += (uint32_t)(d * d);
        }
        int32_t mult;
        int shift;
        uaot_inv_sqrt_exp((int32_t)acc, &mult, &shift);
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t v = uaot_mbqm((int32_t)x[c] - p->input_zp, mult, shift + 7);
            output[i * p->depth + c] = (int8_t)uaot_clamp_i32(v, -128, 127);
        }
    }
    return UAOT_OK;
}
