/* microaot kernels: ADD (int8 with TFLite rescaling, float32), broadcasting over up to 6 dims. */
#include "microaot/kernels/add.h"

#include <stddef.h>

#include "microaot/qmath.h"
#include "microaot/simd.h"

UAOT_INLINE int8_t uaot_add_one_s8(const uaot_add_params_t *p, int8_t a, int8_t b)
{
    const int32_t sa = (int32_t)((uint32_t)(p->input1_offset + a) << p->left_shift);
    const int32_t sb = (int32_t)((uint32_t)(p->input2_offset + b) << p->left_shift);
    const int32_t ra = uaot_mbqm_lt1(sa, p->input1_mult, p->input1_shift);
    const int32_t rb = uaot_mbqm_lt1(sb, p->input2_mult, p->input2_shift);
    const int32_t raw = uaot_mbqm_lt1(ra + rb, p->output_mult, p->output_shift) + p->output_offset;
    return (int8_t)uaot_clamp_i32(raw, p->act_min, p->act_max);
}

/* int16 (TFLM's general-scale path, left_shift 15; its power-of-two path is not what TFLM Micro runs) */
UAOT_INLINE int16_t uaot_add_one_s16(const uaot_add_params_t *p, int16_t a, int16_t b)
{
    const int32_t sa = (int32_t)((uint32_t)(p->input1_offset + a) << p->left_shift);
    const int32_t sb = (int32_t)((uint32_t)(p->input2_offset + b) << p->left_shift);
    const int32_t ra = uaot_mbqm_lt1(sa, p->input1_mult, p->input1_shift);
    const int32_t rb = uaot_mbqm_lt1(sb, p->input2_mult, p->input2_shift);
    const int32_t raw = uaot_mbqm_lt1(ra + rb, p->output_mult, p->output_shift) + p->output_offset;
    return (int16_t)uaot_clamp_i32(raw, p->act_min, p->act_max);
}

UAOT_INLINE float uaot_add_one_f32(const uaot_add_params_t *p, float a, float b)
{
    float v = a + b;
    return v < p->act_min_f ? p->act_min_f : (v > p->act_max_f ? p->act_max_f : v);
}

/* Walks the 6-D output index, keeping both input offsets. */
#define UAOT_ADD_BROADCAST_LOOP(ONE, CTX)                      \
    do {                                                       \
        int32_t idx[UAOT_ADD_MAX_DIMS] = {0, 0, 0, 0, 0, 0};   \
        int32_t o1 = 0, o2 = 0;                                \
        for (int32_t i = 0; i < p->size; ++i) {                \
            out[i] = ONE(CTX, in1[o1], in2[o2]);               \
            for (int d = UAOT_ADD_MAX_DIMS - 1; d >= 0; --d) { \
                idx[d]++;                                      \
                o1 += p->in1_strides[d];                       \
                o2 += p->in2_strides[d];                       \
                if (idx[d] < p->out_dims[d]) {                 \
                    break;                                     \
                }                                              \
                o1 -= p->in1_strides[d] * idx[d];              \
                o2 -= p->in2_strides[d] * idx[d];              \
                idx[d] = 0;                                    \
            }                                                  \
        }                                                      \
    } while (0)

/* Table path (uaot_add_s8_lut), exact with the per-element reference above. The generator
 * (codegen/ops/add.py add_table_s8) tabulates each input's own rescaling in flash:
 *   t1[a] = 2 * MBQM_lt1((a + off1) << left_shift, m1, s1), t2[b] likewise (256 entries per input cover
 *   every int8 value). It emits them only when |t1| + |t2| < 2^30, so x = t1[a] + t2[b] = 2 * (ra + rb)
 *   fits int32 and
 *   SMMULR(x, mo) = ((ra + rb) * mo + 2^30) >> 31 = SaturatingRoundingDoublingHighMul(ra + rb, mo)
 *   (floor((n + 2^30) / 2^31) equals gemmlowp's truncating form for both signs; ra + rb != INT32_MIN),
 *   then RoundingDivideByPOT(y, r) + out_off = (y + 2^(r-1) - (y < 0) + out_off * 2^r) >> r for
 *   1 <= r <= 22 (|y| < 2^30, no overflow), which the kernel checks again. */

typedef struct {
    const int32_t *t1, *t2;
    int32_t mult, bias, r, lo, hi;
} uaot_add_lut_t;

UAOT_INLINE int32_t uaot_add_lut_raw(const uaot_add_lut_t *t, int8_t a, int8_t b)
{
    const int32_t y = uaot_smmulr(t->t1[a + 128] + t->t2[b + 128], t->mult);
    return (y + t->bias + (y >> 31)) >> t->r;
}

UAOT_INLINE int8_t uaot_add_lut_one(const uaot_add_lut_t *t, int8_t a, int8_t b)
{
    return uaot_clamp8(uaot_add_lut_raw(t, a, b), t->lo, t->hi);
}

uaot_status_t uaot_add_s8_lut(const uaot_add_params_t *p, const int32_t *tables, const int8_t *in1, const int8_t *in2,
                              int8_t *out)
{
    if (p == NULL || tables == NULL || in1 == NULL || in2 == NULL || out == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t r = -p->output_shift;
    if (r < 1 || r > 22 || p->output_mult < 0 || p->output_offset < -128 || p->output_offset > 127) {
        return UAOT_ERR_ARG;
    }
    uaot_add_lut_t t;
    t.t1 = tables;
    t.t2 = tables + 256;
    t.mult = p->output_mult;
    t.r = r;
    t.bias = (int32_t)(((int32_t)1 << (r - 1)) + (int32_t)((uint32_t)p->output_offset << r));
    t.lo = p->act_min;
    t.hi = p->act_max;
    if (!p->broadcast) {
        const int32_t n = p->size;
        if (t.lo == -128 && t.hi == 127) {
            for (int32_t i = 0; i < n; ++i) {
                out[i] = uaot_sat8(uaot_add_lut_raw(&t, in1[i], in2[i]));
            }
        } else {
            for (int32_t i = 0; i < n; ++i) {
                out[i] = uaot_add_lut_one(&t, in1[i], in2[i]);
            }
        }
    } else {
        const uaot_add_lut_t *const tp = &t;
        UAOT_ADD_BROADCAST_LOOP(uaot_add_lut_one, tp);
    }
    return UAOT_OK;
}

uaot_status_t uaot_add_s8(const uaot_add_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    if (p == NULL || in1 == NULL || in2 == NULL || out == NULL) {
        return UAOT_ERR_ARG;
    }
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->size; ++i) {
            out[i] = uaot_add_one_s8(p, in1[i], in2[i]);
        }
    } else {
        UAOT_ADD_BROADCAST_LOOP(uaot_add_one_s8, p);
    }
    return UAOT_OK;
}

uaot_status_t uaot_add_s16(const uaot_add_params_t *p, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    if (p == NULL || in1 == NULL || in2 == NULL || out == NULL) {
        return UAOT_ERR_ARG;
    }
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->size; ++i) {
            out[i] = uaot_add_one_s16(p, in1[i], in2[i]);
        }
    } else {
        UAOT_ADD_BROADCAST_LOOP(uaot_add_one_s16, p);
    }
    return UAOT_OK;
}

uaot_status_t uaot_add_f32(const uaot_add_params_t *p, const float *in1, const float *in2, float *out)
{
    if (p == NULL || in1 == NULL || in2 == NULL || out == NULL) {
        return UAOT_ERR_ARG;
    }
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->size; ++i) {
            out[i] = uaot_add_one_f32(p, in1[i], in2[i]);
        }
    } else {
        UAOT_ADD_BROADCAST_LOOP(uaot_add_one_f32, p);
    }
    return UAOT_OK;
}
