/* microaot kernels: elementwise operators with broadcasting, portable C99 (see elementwise.h).
 * The quantized arithmetic follows TFLM's kernels term for term (sub.h, squared_difference.cc, div.h,
 * prelu.h, leaky_relu.h, comparisons.h, elementwise.cc); float math is microaot/fmath.h. One-input int8
 * operators whose output depends on the input byte alone are lookup tables built by the generator
 * (codegen/ops/elementwise.py, the activation family's uaot_lut_s8), so only their int16 forms run here. */
#include "microaot/kernels/elementwise.h"

#include <stddef.h>

#include "microaot/fmath.h"
#include "microaot/qmath.h"

enum { DT_INT8 = 1, DT_UINT8 = 2, DT_INT16 = 3, DT_INT32 = 4, DT_FLOAT32 = 5, DT_BOOL = 6, DT_UINT32 = 9 };

/* Runs BODY once per output element o with i1, i2, i3 = the element indices of inputs 1..3. */
#define EW_LOOP(BODY)                                        \
    do {                                                     \
        int32_t idx_[UAOT_EW_DIMS] = {0, 0, 0, 0, 0, 0};     \
        int32_t i1 = 0, i2 = 0, i3 = 0;                      \
        for (uint32_t o = 0; o < p->size; ++o) {             \
            BODY;                                            \
            for (int d_ = UAOT_EW_DIMS - 1; d_ >= 0; --d_) { \
                i1 += p->s1[d_];                             \
                i2 += p->s2[d_];                             \
                i3 += p->s3[d_];                             \
                if (++idx_[d_] < p->out_dims[d_]) {          \
                    break;                                   \
                }                                            \
                i1 -= p->s1[d_] * p->out_dims[d_];           \
                i2 -= p->s2[d_] * p->out_dims[d_];           \
                i3 -= p->s3[d_] * p->out_dims[d_];           \
                idx_[d_] = 0;                                \
            }                                                \
        }                                                    \
        (void)i1;                                            \
        (void)i2;                                            \
        (void)i3;                                            \
    } while (0)

/* std::max(x, lo) then std::min(., hi), NaN passing through as in TFLM's ActivationFunctionWithMinMax */
static float act_f32(const uaot_ew_params_t *p, float x)
{
    const float y = x < p->act_min_f ? p->act_min_f : x;
    return p->act_max_f < y ? p->act_max_f : y;
}

static float ew_f32_elem(const uaot_ew_params_t *p, float x, float y)
{
    switch (p->op) {
    case UAOT_EW_SUB:
        return act_f32(p, x - y);
    case UAOT_EW_MAXIMUM:
        return x > y ? x : y;
    case UAOT_EW_MINIMUM:
        return x < y ? x : y;
    case UAOT_EW_SQDIFF: {
        const float d = x - y;
        return d * d;
    }
    case UAOT_EW_DIV:
        return act_f32(p, x / y);
    case UAOT_EW_PRELU:
        return x >= 0.0f ? x : x * y;
    case UAOT_EW_ABS:
        return uaot_f32_from_bits(uaot_f32_bits(x) & 0x7fffffffu);
    case UAOT_EW_NEG:
        return -x;
    case UAOT_EW_EXP:
        return uaot_expf(x);
    case UAOT_EW_LOG:
        return uaot_logf(x);
    case UAOT_EW_SQRT:
        return uaot_sqrtf(x);
    case UAOT_EW_RSQRT:
        return 1.0f / uaot_sqrtf(x);
    case UAOT_EW_SQUARE:
        return x * x;
    case UAOT_EW_ELU:
        return x < 0.0f ? uaot_expm1f(x) : x;
    case UAOT_EW_HARD_SWISH: {
        const float r = 0.0f < x + 3.0f ? x + 3.0f : 0.0f; /* std::max(0, in + 3) */
        const float c = r < 6.0f ? r : 6.0f;               /* std::min(6, .) */
        return x * c / 6.0f;
    }
    case UAOT_EW_LEAKY_RELU:
        return x > 0.0f ? x : x * p->alpha;
    case UAOT_EW_CLAMP:
        return act_f32(p, x);
    default:
        return 0.0f;
    }
}

uaot_status_t uaot_ew_f32(const uaot_ew_params_t *p, const float *a, const float *b, float *out)
{
    if (p == NULL || a == NULL || out == NULL || (p->op < UAOT_EW_ABS && b == NULL)) {
        return UAOT_ERR_ARG;
    }
    if (b == NULL) {
        EW_LOOP(out[o] = ew_f32_elem(p, a[i1], 0.0f));
    } else {
        EW_LOOP(out[o] = ew_f32_elem(p, a[i1], b[i2]));
    }
    return UAOT_OK;
}

static int32_t ew_i32_elem(const uaot_ew_params_t *p, int32_t x, int32_t y)
{
    int32_t r;
    switch (p->op) {
    case UAOT_EW_SUB:
        r = (int32_t)((uint32_t)x - (uint32_t)y);
        break;
    case UAOT_EW_ADD:
        r = (int32_t)((uint32_t)x + (uint32_t)y);
        break;
    case UAOT_EW_MUL:
        r = (int32_t)((uint32_t)x * (uint32_t)y);
        break;
    case UAOT_EW_MAXIMUM:
        return x > y ? x : y;
    case UAOT_EW_MINIMUM:
        return x < y ? x : y;
    case UAOT_EW_SQDIFF: {
        const uint32_t d = (uint32_t)x - (uint32_t)y;
        return (int32_t)(d * d);
    }
    case UAOT_EW_DIV:
        /* C truncating division; TFLM leaves x / 0 and INT32_MIN / -1 undefined */
        r = (y == 0 || (y == -1 && x == INT32_MIN)) ? 0 : x / y;
        break;
    default:
        return 0;
    }
    return p->act ? uaot_clamp_i32(r, p->act_min, p->act_max) : r;
}

uaot_status_t uaot_ew_i32(const uaot_ew_params_t *p, const int32_t *a, const int32_t *b, int32_t *out)
{
    if (p == NULL || a == NULL || b == NULL || out == NULL) {
        return UAOT_ERR_ARG;
    }
    EW_LOOP(out[o] = ew_i32_elem(p, a[i1], b[i2]));
    return UAOT_OK;
}

/* ---- gemmlowp pieces (int32 raw values) ------------------------------------------------------- */

static int32_t fp_sat_shl(int32_t x, int exponent)
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

static int32_t fp_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

static int32_t fp_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static int32_t fp_sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

static int clz32(uint32_t x)
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

/* TFLM CountLeadingSignBits (int32) */
static int clrsb32(int32_t x)
{
    if (x >= 0) {
        return clz32((uint32_t)x) - 1;
    }
    if (x == INT32_MIN) {
        return 0;
    }
    return clz32(2u * (uint32_t)(-x) - 1u);
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1: Q0.31 in, Q0.31 out */
static int32_t fp_one_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = fp_rounding_half_sum(a, INT32_MAX);
    const int32_t constant_48_over_17 = 1515870810;
    const int32_t constant_neg_32_over_17 = -1010580540;
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = fp_add(constant_48_over_17, uaot_srdhm(half_denominator, constant_neg_32_over_17));
    for (int i = 0; i < 3; ++i) {
        const int32_t hdx = uaot_srdhm(half_denominator, x);
        const int32_t one_minus = fp_sub(one_q2, hdx);
        x = fp_add(x, fp_sat_shl(uaot_srdhm(x, one_minus), 2));
    }
    return fp_sat_shl(x, 1);
}

/* TFLM GetReciprocal(x, 31, &num_bits_over_unit) */
static int32_t get_reciprocal(int32_t x, int *num_bits_over_unit)
{
    const int headroom_plus_one = clz32((uint32_t)x);
    *num_bits_over_unit = 31 - headroom_plus_one;
    const int32_t shifted_sum_minus_one = (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
    return fp_one_over_one_plus_x(shifted_sum_minus_one);
}

/* TFLM GetInvSqrtQuantizedMultiplierExp(input, kReverseShift = -1, ...) */
static void inv_sqrt_multiplier(int32_t input, int32_t *out_inv_sqrt, int *out_shift)
{
    if (input <= 1) {
        *out_inv_sqrt = INT32_MAX;
        *out_shift = 0;
        return;
    }
    int shift = 11;
    while (input >= (1 << 29)) {
        input /= 4;
        ++shift;
    }
    const unsigned max_left_shift_bits = (unsigned)clz32((uint32_t)input) - 1u;
    const unsigned left_shift_bit_pairs = max_left_shift_bits / 2u - 1u;
    shift -= (int)left_shift_bit_pairs;
    input <<= 2u * left_shift_bit_pairs;
    /* F3 Newton-Raphson on 1/sqrt */
    const int32_t fixedpoint_input = input >> 1;
    const int32_t fixedpoint_half_input = uaot_rdbpot(fixedpoint_input, 1);
    const int32_t fixedpoint_half_three = (1 << 28) + (1 << 27);
    int32_t x = 1 << 28; /* F3 one */
    for (int i = 0; i < 5; ++i) {
        const int32_t x3 = fp_sat_shl(uaot_srdhm(uaot_srdhm(x, x), x), 6);
        x = fp_sat_shl(fp_sub(uaot_srdhm(fixedpoint_half_three, x), uaot_srdhm(fixedpoint_half_input, x3)), 3);
    }
    x = uaot_srdhm(x, 1518500250); /* * sqrt(2)/2 */
    if (shift < 0) {
        x = (int32_t)((uint32_t)x << -shift);
        shift = 0;
    }
    *out_inv_sqrt = x;
    *out_shift = -shift;
}

/* One quantized element (int8 or int16 raw values x, y), before the clamp to [qmin, qmax]. */
static int32_t ew_q_elem(const uaot_ew_params_t *p, int32_t x, int32_t y, int32_t qmax, int *err)
{
    switch (p->op) {
    case UAOT_EW_SUB: {
        const int32_t s1 = uaot_mbqm_lt1((x + p->in1_offset) * (1 << p->left_shift), p->in1_mult, p->in1_shift);
        const int32_t s2 = uaot_mbqm_lt1((y + p->in2_offset) * (1 << p->left_shift), p->in2_mult, p->in2_shift);
        const int32_t r = uaot_mbqm_lt1(s1 - s2, p->out_mult, p->out_shift) + p->out_offset;
        return uaot_clamp_i32(r, p->act_min, p->act_max);
    }
    case UAOT_EW_MAXIMUM:
        return x > y ? x : y;
    case UAOT_EW_MINIMUM:
        return x < y ? x : y;
    case UAOT_EW_SQDIFF: {
        const int32_t s1 = uaot_mbqm_lt1((x + p->in1_offset) * (1 << p->left_shift), p->in1_mult, p->in1_shift);
        const int32_t s2 = uaot_mbqm_lt1((y + p->in2_offset) * (1 << p->left_shift), p->in2_mult, p->in2_shift);
        const int32_t d = s1 - s2;
        const int32_t sq = (int32_t)((uint32_t)d * (uint32_t)d);
        return uaot_clamp_i32(uaot_mbqm(sq, p->out_mult, p->out_shift) + p->out_offset, p->act_min, p->act_max);
    }
    case UAOT_EW_DIV: {
        int32_t v1 = p->in1_offset + x;
        int32_t v2 = p->in2_offset + y;
        if (v2 == 0) { /* undefined in TFLM (a DCHECK): saturate as x / 0 would */
            return v1 >= 0 ? p->act_max : p->act_min;
        }
        if (v2 < 0) {
            v1 = -v1;
            v2 = -v2;
        }
        int recip_shift;
        const int32_t inv = get_reciprocal(v2, &recip_shift);
        const int headroom = clrsb32(v1);
        const int32_t unscaled = uaot_mbqm_gt1(v1, inv, headroom);
        const int total_shift = p->out_shift - recip_shift - headroom;
        if (total_shift > 0) { /* a quotient beyond int32 (undefined in TFLM): saturate */
            return v1 >= 0 ? p->act_max : p->act_min;
        }
        const int32_t r = p->out_offset + uaot_mbqm_lt1(unscaled, p->out_mult, total_shift);
        return uaot_clamp_i32(r, p->act_min, p->act_max);
    }
    case UAOT_EW_PRELU: {
        const int32_t in = p->in1_offset + x;
        int32_t r;
        if (in >= 0) {
            r = uaot_mbqm(in, p->out_mult, p->out_shift);
        } else {
            r = uaot_mbqm(in * (p->in2_offset + y), p->out2_mult, p->out2_shift);
        }
        return r + p->out_offset;
    }
    case UAOT_EW_LEAKY_RELU: {
        const int32_t in = x + p->in1_offset;
        if (in >= 0) {
            return p->out_offset + uaot_mbqm(in, p->out_mult, p->out_shift);
        }
        return p->out_offset + uaot_mbqm(in, p->out2_mult, p->out2_shift);
    }
    case UAOT_EW_ABS: {
        int32_t v = x + p->in1_offset;
        v = v < 0 ? -v : v;
        if (p->act) { /* int16 without quantization: std::abs, stored back as int16 (wraps at -32768) */
            return (int16_t)(uint16_t)(uint32_t)v;
        }
        if (p->out_mult == 0) { /* same scale: no rescale */
            return v + p->out_offset;
        }
        return uaot_mbqm(v, p->out_mult, p->out_shift) + p->out_offset;
    }
    case UAOT_EW_RSQRT: {
        const int32_t v = x + p->in1_offset;
        if (v < 0) {
            *err = 1; /* TFLM: "Rsqrt is only defined for positive values" */
            return 0;
        }
        if (v == 0) {
            return qmax;
        }
        int32_t m;
        int s;
        inv_sqrt_multiplier(v, &m, &s);
        const int32_t data = uaot_mbqm(1, m, s + 20);
        return uaot_mbqm(data, p->out_mult, p->out_shift - 20) + p->out_offset;
    }
    default: /* int8 HARD_SWISH, ELU, RELU_N1_TO_1 / RELU_0_TO_1 are 256-byte tables (activation family) */
        *err = 1;
        return 0;
    }
}

uaot_status_t uaot_ew_s8(const uaot_ew_params_t *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    if (p == NULL || a == NULL || out == NULL || (p->op < UAOT_EW_ABS && b == NULL)) {
        return UAOT_ERR_ARG;
    }
    int err = 0;
    if (b == NULL) {
        EW_LOOP(out[o] = (int8_t)uaot_clamp_i32(ew_q_elem(p, a[i1], 0, INT8_MAX, &err), INT8_MIN, INT8_MAX));
    } else {
        EW_LOOP(out[o] = (int8_t)uaot_clamp_i32(ew_q_elem(p, a[i1], b[i2], INT8_MAX, &err), INT8_MIN, INT8_MAX));
    }
    return err ? UAOT_ERR_RANGE : UAOT_OK;
}

uaot_status_t uaot_ew_s16(const uaot_ew_params_t *p, const int16_t *a, const void *b, int16_t *out)
{
    if (p == NULL || a == NULL || out == NULL || (p->op < UAOT_EW_ABS && b == NULL)) {
        return UAOT_ERR_ARG;
    }
    int err = 0;
    if (b == NULL) {
        EW_LOOP(out[o] = (int16_t)uaot_clamp_i32(ew_q_elem(p, a[i1], 0, INT16_MAX, &err), INT16_MIN, INT16_MAX));
    } else if (p->op == UAOT_EW_PRELU) { /* int8 alpha */
        const int8_t *b8 = (const int8_t *)b;
        EW_LOOP(out[o] = (int16_t)uaot_clamp_i32(ew_q_elem(p, a[i1], b8[i2], INT16_MAX, &err), INT16_MIN, INT16_MAX));
    } else {
        const int16_t *b16 = (const int16_t *)b;
        EW_LOOP(out[o] = (int16_t)uaot_clamp_i32(ew_q_elem(p, a[i1], b16[i2], INT16_MAX, &err), INT16_MIN, INT16_MAX));
    }
    return err ? UAOT_ERR_RANGE : UAOT_OK;
}

/* ---- comparisons and logical ops -> bool ------------------------------------------------------- */

#define EW_CMP(x, y)                               \
    (p->op == UAOT_EW_EQUAL           ? (x) == (y) \
     : p->op == UAOT_EW_NOT_EQUAL     ? (x) != (y) \
     : p->op == UAOT_EW_LESS          ? (x) < (y)  \
     : p->op == UAOT_EW_LESS_EQUAL    ? (x) <= (y) \
     : p->op == UAOT_EW_GREATER       ? (x) > (y)  \
     : p->op == UAOT_EW_GREATER_EQUAL ? (x) >= (y) \
                                      : 0)

static int32_t cmp_scale(const uaot_ew_params_t *p, int32_t v, int k)
{
    if (k == 1) {
        return uaot_mbqm_lt1((v + p->in1_offset) * (1 << p->left_shift), p->in1_mult, p->in1_shift);
    }
    return uaot_mbqm_lt1((v + p->in2_offset) * (1 << p->left_shift), p->in2_mult, p->in2_shift);
}

uaot_status_t uaot_ew_compare(const uaot_ew_params_t *p, const void *a, const void *b, uint8_t *out)
{
    if (p == NULL || a == NULL || out == NULL || (p->op != UAOT_EW_LOGICAL_NOT && b == NULL)) {
        return UAOT_ERR_ARG;
    }
    if (p->op == UAOT_EW_LOGICAL_NOT) {
        const uint8_t *x = (const uint8_t *)a;
        EW_LOOP(out[o] = (uint8_t)(x[i1] == 0));
        return UAOT_OK;
    }
    if (p->op == UAOT_EW_LOGICAL_AND || p->op == UAOT_EW_LOGICAL_OR) {
        const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
        if (p->op == UAOT_EW_LOGICAL_AND) {
            EW_LOOP(out[o] = (uint8_t)(x[i1] != 0 && y[i2] != 0));
        } else {
            EW_LOOP(out[o] = (uint8_t)(x[i1] != 0 || y[i2] != 0));
        }
        return UAOT_OK;
    }
    switch (p->dtype) {
    case DT_FLOAT32: {
        const float *x = (const float *)a, *y = (const float *)b;
        EW_LOOP(out[o] = (uint8_t)(EW_CMP(x[i1], y[i2])));
        break;
    }
    case DT_INT32: {
        const int32_t *x = (const int32_t *)a, *y = (const int32_t *)b;
        EW_LOOP(out[o] = (uint8_t)(EW_CMP(x[i1], y[i2])));
        break;
    }
    case DT_BOOL:
    case DT_UINT8: {
        const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
        EW_LOOP(out[o] = (uint8_t)(EW_CMP(x[i1], y[i2])));
        break;
    }
    case DT_INT8: {
        const int8_t *x = (const int8_t *)a, *y = (const int8_t *)b;
        EW_LOOP(out[o] = (uint8_t)(EW_CMP(cmp_scale(p, x[i1], 1), cmp_scale(p, y[i2], 2))));
        break;
    }
    case DT_INT16: {
        const int16_t *x = (const int16_t *)a, *y = (const int16_t *)b;
        EW_LOOP(out[o] = (uint8_t)(EW_CMP(cmp_scale(p, x[i1], 1), cmp_scale(p, y[i2], 2))));
        break;
    }
    default:
        return UAOT_ERR_UNSUPPORTED;
    }
    return UAOT_OK;
}

uaot_status_t uaot_ew_select(const uaot_ew_params_t *p, const uint8_t *cond, const void *a, const void *b, void *out,
                             uint32_t elem_size)
{
    if (p == NULL || cond == NULL || a == NULL || b == NULL || out == NULL || elem_size == 0) {
        return UAOT_ERR_ARG;
    }
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    uint8_t *z = (uint8_t *)out;
    EW_LOOP({
        const uint8_t *src = cond[i1] ? x + (uint32_t)i2 * elem_size : y + (uint32_t)i3 * elem_size;
        uint8_t *dst = z + o * elem_size;
        for (uint32_t k = 0; k < elem_size; ++k) {
            dst[k] = src[k];
        }
    });
    return UAOT_OK;
}

/* ---- CAST, ZEROS_LIKE ------------------------------------------------------------------------------ */

uaot_status_t uaot_ew_cast(const uaot_ew_params_t *p, const void *in, void *out)
{
    if (p == NULL || in == NULL || out == NULL) {
        return UAOT_ERR_ARG;
    }
    for (uint32_t i = 0; i < p->size; ++i) {
        int32_t iv = 0;
        uint32_t uv = 0;
        float fv = 0.0f;
        int is_float = 0, is_u32 = 0;
        switch (p->dtype) {
        case DT_INT8:
            iv = ((const int8_t *)in)[i];
            break;
        case DT_UINT8:
        case DT_BOOL:
            iv = ((const uint8_t *)in)[i];
            break;
        case DT_INT16:
            iv = ((const int16_t *)in)[i];
            break;
        case DT_INT32:
            iv = ((const int32_t *)in)[i];
            break;
        case DT_UINT32: /* TFLM's static_cast: modulo 2^32 to the integer types, rounded to float */
            uv = ((const uint32_t *)in)[i];
            iv = (int32_t)uv;
            is_u32 = 1;
            break;
        case DT_FLOAT32:
            fv = ((const float *)in)[i];
            is_float = 1;
            break;
        default:
            return UAOT_ERR_UNSUPPORTED;
        }
        switch (p->out_dtype) {
        case DT_FLOAT32:
            ((float *)out)[i] = is_float ? fv : (is_u32 ? (float)uv : (float)iv);
            break;
        case DT_BOOL:
            ((uint8_t *)out)[i] = (uint8_t)(is_float ? fv != 0.0f : iv != 0);
            break;
        default: {
            /* float -> integer: truncation toward zero through int32 (as a C++ static_cast compiles) */
            const int32_t v = is_float ? (int32_t)fv : iv;
            switch (p->out_dtype) {
            case DT_INT8:
                ((int8_t *)out)[i] = (int8_t)(uint8_t)(uint32_t)v;
                break;
            case DT_UINT8:
                ((uint8_t *)out)[i] = (uint8_t)(uint32_t)v;
                break;
            case DT_INT16:
                ((int16_t *)out)[i] = (int16_t)(uint16_t)(uint32_t)v;
                break;
            case DT_INT32:
                ((int32_t *)out)[i] = v;
                break;
            case DT_UINT32: /* from the integer types (the lowering refuses float32 -> uint32) */
                ((uint32_t *)out)[i] = (uint32_t)v;
                break;
            default:
                return UAOT_ERR_UNSUPPORTED;
            }
        }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_ew_zero(void *out, uint32_t bytes)
{
    if (out == NULL) {
        return UAOT_ERR_ARG;
    }
    uint8_t *z = (uint8_t *)out;
    for (uint32_t i = 0; i < bytes; ++i) {
        z[i] = 0;
    }
    return UAOT_OK;
}
