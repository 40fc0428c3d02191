/* microaot kernels: MUL, portable C99 (TFLM reference arithmetic for int8). */
#include "microaot/kernels/mul.h"

#include <stddef.h>

#include "microaot/qmath.h"

static inline int8_t mul_s8_one(const uaot_mul_params_t *p, int8_t x, int8_t y)
{
    const int32_t prod = (p->a_offset + (int32_t)x) * (p->b_offset + (int32_t)y);
    const int32_t v = p->output_offset + uaot_mbqm(prod, p->mult, (int)p->shift);
    return (int8_t)uaot_clamp_i32(v, p->act_min, p->act_max);
}

/* int16: the same arithmetic (TFLM requires zero points 0; the product of two int16 fits int32) */
static inline int16_t mul_s16_one(const uaot_mul_params_t *p, int16_t x, int16_t y)
{
    const int32_t prod = (p->a_offset + (int32_t)x) * (p->b_offset + (int32_t)y);
    const int32_t v = p->output_offset + uaot_mbqm(prod, p->mult, (int)p->shift);
    return (int16_t)uaot_clamp_i32(v, p->act_min, p->act_max);
}

static inline float mul_f32_one(const uaot_mul_params_t *p, float x, float y)
{
    const float v = x * y;
    const float lo = v < p->act_min_f ? p->act_min_f : v;
    return lo > p->act_max_f ? p->act_max_f : lo;
}

/* Walks the first five dims with nested loops and the innermost one with a pointer loop. */
#define UAOT_MUL_LOOP(T, ONE)                                                                                     \
    const int32_t *d = p->dims;                                                                                   \
    const int32_t *sa = p->a_stride;                                                                              \
    const int32_t *sb = p->b_stride;                                                                              \
    T *o = output;                                                                                                \
    for (int32_t i0 = 0; i0 < d[0]; ++i0) {                                                                       \
        for (int32_t i1 = 0; i1 < d[1]; ++i1) {                                                                   \
            for (int32_t i2 = 0; i2 < d[2]; ++i2) {                                                               \
                for (int32_t i3 = 0; i3 < d[3]; ++i3) {                                                           \
                    for (int32_t i4 = 0; i4 < d[4]; ++i4) {                                                       \
                        const T *pa = a + (ptrdiff_t)i0 * sa[0] + (ptrdiff_t)i1 * sa[1] + (ptrdiff_t)i2 * sa[2] + \
                                      (ptrdiff_t)i3 * sa[3] + (ptrdiff_t)i4 * sa[4];                              \
                        const T *pb = b + (ptrdiff_t)i0 * sb[0] + (ptrdiff_t)i1 * sb[1] + (ptrdiff_t)i2 * sb[2] + \
                                      (ptrdiff_t)i3 * sb[3] + (ptrdiff_t)i4 * sb[4];                              \
                        const int32_t n = d[5], ta = sa[5], tb = sb[5];                                           \
                        if (ta == 1 && tb == 1) {                                                                 \
                            for (int32_t i = 0; i < n; ++i) {                                                     \
                                o[i] = ONE(p, pa[i], pb[i]);                                                      \
                            }                                                                                     \
                        } else {                                                                                  \
                            for (int32_t i = 0; i < n; ++i) {                                                     \
                                o[i] = ONE(p, pa[(ptrdiff_t)i * ta], pb[(ptrdiff_t)i * tb]);                      \
                            }                                                                                     \
                        }                                                                                         \
                        o += n;                                                                                   \
                    }                                                                                             \
                }                                                                                                 \
            }                                                                                                     \
        }                                                                                                         \
    }

uaot_status_t uaot_mul_s8(const uaot_mul_params_t *p, const int8_t *a, const int8_t *b, int8_t *output)
{
    if (p == NULL || a == NULL || b == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    UAOT_MUL_LOOP(int8_t, mul_s8_one)
    return UAOT_OK;
}

uaot_status_t uaot_mul_s16(const uaot_mul_params_t *p, const int16_t *a, const int16_t *b, int16_t *output)
{
    if (p == NULL || a == NULL || b == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    UAOT_MUL_LOOP(int16_t, mul_s16_one)
    return UAOT_OK;
}

uaot_status_t uaot_mul_f32(const uaot_mul_params_t *p, const float *a, const float *b, float *output)
{
    if (p == NULL || a == NULL || b == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    UAOT_MUL_LOOP(float, mul_f32_one)
    return UAOT_OK;
}
