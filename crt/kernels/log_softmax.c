/* microaot kernels: LOG_SOFTMAX, portable C99. The int8 path re-implements the gemmlowp fixed-point
 * functions of TFLM's reference LogSoftmaxQuantized (int32 raw values, wrap-around adds as gemmlowp). */
#include "microaot/kernels/log_softmax.h"

#include <math.h>
#include <stddef.h>

#include "microaot/qmath.h"

static int32_t ls_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static int32_t ls_sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* SaturatingRoundingMultiplyByPOT for exponent >= 0 (TFLM's ...POTParam) */
static int32_t ls_sat_shl(int32_t x, int exponent)
{
    if (exponent == 0) {
        return x;
    }
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

static int32_t ls_sat_add(int32_t a, int32_t b)
{
    const int64_t s = (int64_t)a + (int64_t)b;
    return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

static int32_t ls_sat_sub(int32_t a, int32_t b)
{
    const int64_t s = (int64_t)a - (int64_t)b;
    return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

static int32_t ls_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

static int ls_clz32(uint32_t x)
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

/* exp(x) for x in [-1/4, 0), Q0.31 in and out */
static int32_t ls_exp_quarter(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = ls_add(a, 1 << 28);
    const int32_t x2 = uaot_srdhm(x, x);
    const int32_t x3 = uaot_srdhm(x2, x);
    const int32_t x4 = uaot_srdhm(x2, x2);
    const int32_t x4_over_4 = uaot_rdbpot(x4, 2);
    const int32_t t = uaot_rdbpot(ls_add(uaot_srdhm(ls_add(x4_over_4, x3), constant_1_over_3), x2), 1);
    return ls_add(constant_term, uaot_srdhm(constant_term, ls_add(x, t)));
}

/* gemmlowp exp_on_negative_values: a <= 0 in Q5.26, result Q0.31 */
static int32_t ls_exp_on_negative_values_q5(int32_t a)
{
    const int32_t one_quarter = (int32_t)1 << 24;
    const int32_t a_mod_quarter_minus_one_quarter = ls_sub(a & (one_quarter - 1), one_quarter);
    int32_t result = ls_exp_quarter(ls_sat_shl(a_mod_quarter_minus_one_quarter, 5));
    const int32_t remainder = ls_sub(a_mod_quarter_minus_one_quarter, a);
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    for (int e = -2; e <= 4; ++e) {
        if (remainder & ((int32_t)1 << (26 + e))) {
            result = uaot_srdhm(result, multipliers[e + 2]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1, Q0.31 in and out */
static int32_t ls_one_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = ls_rounding_half_sum(a, INT32_MAX);
    const int32_t constant_48_over_17 = 1515870810;
    const int32_t constant_neg_32_over_17 = -1010580540;
    int32_t x = ls_add(constant_48_over_17, uaot_srdhm(half_denominator, constant_neg_32_over_17));
    for (int i = 0; i < 3; ++i) {
        const int32_t one_minus = ls_sub((int32_t)1 << 29, uaot_srdhm(half_denominator, x));
        x = ls_add(x, ls_sat_shl(uaot_srdhm(x, one_minus), 2));
    }
    return ls_sat_shl(x, 1);
}

/* TFLM log_x_for_x_greater_than_or_equal_to_1<5>(x in Q12.19): log(x) in Q5.26 */
static int32_t ls_log_q12_to_q5(int32_t z_a)
{
    const int32_t log_2 = 1488522236, sqrt_sqrt_half = 1805811301, sqrt_half = 1518500250;
    const int32_t alpha_n = 117049297, alpha_d = 127690142, alpha_i = 1057819769, alpha_f = 638450708;
    const int32_t shifted_quarter = 536870912 >> 6; /* Rescale<6>(1/4), exact */
    const int z_a_headroom_plus_1 = ls_clz32((uint32_t)z_a);
    const int32_t r_a_tmp = ls_sat_shl(z_a, z_a_headroom_plus_1 - 1);
    const int32_t r_a_raw = ls_sat_shl(uaot_srdhm(r_a_tmp, sqrt_half), 1);
    const int32_t z_a_pow_2_adj = ls_sat_add(ls_sat_shl(12 - z_a_headroom_plus_1, 25), shifted_quarter);
    const int32_t z_b = uaot_srdhm(z_a, sqrt_half);
    const int z_b_headroom = ls_clz32((uint32_t)z_b) - 1;
    const int32_t r_b_raw = ls_sat_shl(z_a, z_b_headroom);
    const int32_t z_b_pow_2_adj = ls_sat_sub(ls_sat_shl(12 - z_b_headroom, 25), shifted_quarter);
    const int32_t r = r_a_raw < r_b_raw ? r_a_raw : r_b_raw;
    const int32_t z_pow_2_adj = z_a_pow_2_adj > z_b_pow_2_adj ? z_a_pow_2_adj : z_b_pow_2_adj;
    const int32_t pp = ls_rounding_half_sum(r, sqrt_sqrt_half);
    int32_t q = ls_sub(r, sqrt_sqrt_half);
    q = ls_add(q, q);
    const int32_t common_sq = uaot_srdhm(q, q);
    const int32_t num = ls_add(uaot_srdhm(q, r), uaot_srdhm(uaot_srdhm(q, common_sq), alpha_n));
    const int32_t denom_minus_one_0 =
        ls_add(uaot_srdhm(pp, ls_add(ls_add(alpha_i, q), uaot_srdhm(alpha_d, common_sq))), uaot_srdhm(alpha_f, q));
    const int32_t recip_denom = ls_one_over_one_plus_x(denom_minus_one_0);
    const int32_t num_scaled = uaot_rdbpot(num, 6); /* Rescale<6> from Q0 */
    return ls_sat_shl(ls_add(uaot_srdhm(z_pow_2_adj, log_2), uaot_srdhm(num_scaled, recip_denom)), 1);
}

uaot_status_t uaot_log_softmax_f32(const uaot_log_softmax_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    for (int32_t i = 0; i < p->outer; ++i) {
        const float *x = input + i * p->depth;
        float max = -3.402823466e+38f;
        for (int32_t c = 0; c < p->depth; ++c) {
            max = x[c] > max ? x[c] : max;
        }
        float sum = 0.0f;
        for (int32_t c = 0; c < p->depth; ++c) {
            sum += expf(x[c] - max);
        }
        const float log_sum = logf(sum);
        for (int32_t c = 0; c < p->depth; ++c) {
            output[i * p->depth + c] = x[c] - max - log_sum;
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_log_softmax_s8(const uaot_log_softmax_params_t *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    for (int32_t i = 0; i < p->outer; ++i) {
        const int8_t *x = input + i * p->depth;
        int32_t max = -128;
        for (int32_t c = 0; c < p->depth; ++c) {
            max = x[c] > max ? x[c] : max;
        }
        int32_t sum_q12 = 0;
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max;
            if (diff >= p->diff_min) {
                const int32_t diff_q5 = uaot_mbqm(diff, p->input_mult, (int)p->input_left_shift);
                sum_q12 = ls_add(sum_q12, uaot_rdbpot(ls_exp_on_negative_values_q5(diff_q5), 12));
            }
        }
        const int32_t log_sum_q5 = ls_log_q12_to_q5(sum_q12);
        const int32_t shifted = ls_add(log_sum_q5, INT32_MIN);
        const int32_t rescaled = uaot_mbqm(shifted, p->reverse_scaling_divisor, (int)p->reverse_scaling_shift);
        const int32_t adjusted_diff_min = p->diff_min - 1 > rescaled ? p->diff_min - 1 : rescaled;
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max;
            int32_t v = -128;
            if (diff > adjusted_diff_min) {
                const int32_t diff_q5 = uaot_mbqm(diff, p->input_mult, (int)p->input_left_shift);
                v = uaot_clamp_i32(uaot_rdbpot(ls_sub(diff_q5, log_sum_q5), 22) + 127, -128, 127);
            }
            output[i * p->depth + c] = (int8_t)v;
        }
    }
    return UAOT_OK;
}
