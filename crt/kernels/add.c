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

UAOT_INLINE float uaot_add_one_f32(const uaot_add_params_t *p, float a, float b)
{
    float v = a + b;
    return v < p->act_min_f ? p->act_min_f : (v > p->act_max_f ? p->act_max_f : v);
}

/* Walks the 6-D output index, keeping both input offsets. */
#define UAOT_ADD_BROADCAST_LOOP(ONE, CTX)                                                                \
    do {                                                                                              \
        int32_t idx[UAOT_ADD_MAX_DIMS] = {0, 0, 0, 0, 0, 0};                                          \
        int32_t o1 = 0, o2 = 0;                                                                        \
        for (int32_t i = 0; i < p->size; ++i) {                                                       \
            out[i] = ONE(CTX, in1[o1], in2[o2]);                                                      \
            for (int d = UAOT_ADD_MAX_DIMS - 1; d >= 0; --d) {                                        \
                idx[d]++;                                                                             \
                o1 += p->in1_strides[d];                                                      \
                o2 += p->in2_strides[d];                                                      \
                if (idx[d] < p->out_dims[d]) {                                                        \
                    break;                                                                            \
                }                                                                                     \
                o1 -= p->in1_strides[d] * idx[d];                                    \
                o2 -= p->in2_strides[d] * idx[d];                                    \
                idx[d] = 0;                                                                           \
            }                                                                                         \
        }                                                                                             \
    } while (0)

/* Table path, exact with the per-element reference above:
 *   t1[a] = 2 * MBQM_lt1((a + off1) << left_shift, m1, s1), t2[b] likewise (each input is rescaled on
 *   its own, so 256 entries per input cover every int8 value). When |t1| + |t2| < 2^31 (always for
 *   left_shift <= 21), x = t1[a] + t2[b] = 2 * (ra + rb) fits int32 and
 *   SMMULR(x, mo) = ((ra + rb) * mo + 2^30) >> 31 = SaturatingRoundingDoublingHighMul(ra + rb, mo)
 *   (floor((n + 2^30) / 2^31) equals gemmlowp's truncating form for both signs; ra + rb != INT32_MIN),
 *   then RoundingDivideByPOT(y, r) + out_off = (y + 2^(r-1) - (y < 0) + out_off * 2^r) >> r for
 *   1 <= r <= 22 (|y| < 2^30, no overflow). Used from UAOT_ADD_TABLE_MIN elements on, where building
 *   the 512 entries costs less than the per-element rescaling it replaces; the tables live in the
 *   caller's scratch (UAOT_ADD_S8_SCRATCH bytes, the planner's workspace), not on the stack. */

typedef struct {
    int32_t t1[256];
    int32_t t2[256];
    int32_t mult, bias, r, lo, hi;
} uaot_add_tab_t;
typedef char uaot_add_tab_fits_scratch[sizeof(uaot_add_tab_t) == UAOT_ADD_S8_SCRATCH ? 1 : -1];

static int uaot_add_tab_init(const uaot_add_params_t *p, uaot_add_tab_t *t)
{
    const int32_t r = -p->output_shift;
    if (r < 1 || r > 22 || p->left_shift < 0 || p->left_shift > 21 || p->output_mult < 0 || p->output_offset < -128 ||
        p->output_offset > 127) {
        return 0;
    }
    int64_t max1 = 0, max2 = 0;
    for (int32_t v = -128; v < 128; ++v) {
        const int32_t sa = (int32_t)((uint32_t)(p->input1_offset + v) << p->left_shift);
        const int32_t sb = (int32_t)((uint32_t)(p->input2_offset + v) << p->left_shift);
        const int64_t ra = 2 * (int64_t)uaot_mbqm_lt1(sa, p->input1_mult, p->input1_shift);
        const int64_t rb = 2 * (int64_t)uaot_mbqm_lt1(sb, p->input2_mult, p->input2_shift);
        const int64_t a1 = ra < 0 ? -ra : ra, a2 = rb < 0 ? -rb : rb;
        max1 = a1 > max1 ? a1 : max1;
        max2 = a2 > max2 ? a2 : max2;
        t->t1[v + 128] = (int32_t)ra;
        t->t2[v + 128] = (int32_t)rb;
    }
    if (max1 + max2 >= ((int64_t)1 << 30)) {
        return 0;
    }
    t->mult = p->output_mult;
    t->r = r;
    t->bias = (int32_t)(((int32_t)1 << (r - 1)) + (int32_t)((uint32_t)p->output_offset << r));
    t->lo = p->act_min;
    t->hi = p->act_max;
    return 1;
}

UAOT_INLINE int32_t uaot_add_tab_raw(const uaot_add_tab_t *t, int8_t a, int8_t b)
{
    const int32_t y = uaot_smmulr(t->t1[a + 128] + t->t2[b + 128], t->mult);
    return (y + t->bias + (y >> 31)) >> t->r;
}

UAOT_INLINE int8_t uaot_add_tab_one(const uaot_add_tab_t *t, int8_t a, int8_t b)
{
    return uaot_clamp8(uaot_add_tab_raw(t, a, b), t->lo, t->hi);
}

uaot_status_t uaot_add_s8_tab(const uaot_add_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out,
                              uint8_t *scratch)
{
    if (p == NULL || in1 == NULL || in2 == NULL || out == NULL || ((uintptr_t)scratch & 3u) != 0u) {
        return UAOT_ERR_ARG;
    }
    if (scratch != NULL && p->size >= UAOT_ADD_TABLE_MIN) {
        uaot_add_tab_t *const t = (uaot_add_tab_t *)(void *)scratch;
        if (uaot_add_tab_init(p, t)) {
            if (!p->broadcast) {
                const int32_t n = p->size;
                if (t->lo == -128 && t->hi == 127) {
                    for (int32_t i = 0; i < n; ++i) {
                        out[i] = uaot_sat8(uaot_add_tab_raw(t, in1[i], in2[i]));
                    }
                } else {
                    for (int32_t i = 0; i < n; ++i) {
                        out[i] = uaot_add_tab_one(t, in1[i], in2[i]);
                    }
                }
            } else {
                UAOT_ADD_BROADCAST_LOOP(uaot_add_tab_one, t);
            }
            return UAOT_OK;
        }
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

uaot_status_t uaot_add_s8(const uaot_add_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    return uaot_add_s8_tab(p, in1, in2, out, NULL);
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
