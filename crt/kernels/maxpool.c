/* microaot kernels: MAX_POOL_2D, portable C99 (TFLM reference arithmetic). */
#include "microaot/kernels/maxpool.h"

#include <float.h>
#include <stddef.h>

/* Channels innermost: every window row is read contiguously; the output pixel is the accumulator. */
#define UAOT_MAXPOOL_BODY(T, INIT, LO, HI)                                                                          \
    for (int32_t b = 0; b < p->batches; ++b) {                                                                      \
        for (int32_t oy = 0; oy < p->out_h; ++oy) {                                                                 \
            const int32_t iy0 = oy * p->stride_h - p->pad_top;                                                      \
            const int32_t fy0 = iy0 < 0 ? -iy0 : 0;                                                                 \
            const int32_t fy1 = (p->in_h - iy0) < p->filter_h ? (p->in_h - iy0) : p->filter_h;                      \
            for (int32_t ox = 0; ox < p->out_w; ++ox) {                                                             \
                const int32_t ix0 = ox * p->stride_w - p->pad_left;                                                 \
                const int32_t fx0 = ix0 < 0 ? -ix0 : 0;                                                             \
                const int32_t fx1 = (p->in_w - ix0) < p->filter_w ? (p->in_w - ix0) : p->filter_w;                  \
                T *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->channels;                      \
                for (int32_t c = 0; c < p->channels; ++c) {                                                         \
                    out[c] = (INIT);                                                                                \
                }                                                                                                   \
                for (int32_t fy = fy0; fy < fy1; ++fy) {                                                            \
                    const T *px =                                                                                   \
                        input +                                                                                     \
                        (((size_t)b * p->in_h + (size_t)(iy0 + fy)) * p->in_w + (size_t)(ix0 + fx0)) * p->channels; \
                    for (int32_t fx = fx0; fx < fx1; ++fx, px += p->channels) {                                     \
                        for (int32_t c = 0; c < p->channels; ++c) {                                                 \
                            out[c] = px[c] > out[c] ? px[c] : out[c];                                               \
                        }                                                                                           \
                    }                                                                                               \
                }                                                                                                   \
                for (int32_t c = 0; c < p->channels; ++c) {                                                         \
                    T m = out[c] < (LO) ? (LO) : out[c];                                                            \
                    out[c] = m > (HI) ? (HI) : m;                                                                   \
                }                                                                                                   \
            }                                                                                                       \
        }                                                                                                           \
    }

uaot_status_t uaot_max_pool_s8(const uaot_maxpool_params_t *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int8_t lo = (int8_t)p->act_min;
    const int8_t hi = (int8_t)p->act_max;
    UAOT_MAXPOOL_BODY(int8_t, INT8_MIN, lo, hi)
    return UAOT_OK;
}

uaot_status_t uaot_max_pool_s16(const uaot_maxpool_params_t *p, const int16_t *input, int16_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int16_t lo = (int16_t)p->act_min;
    const int16_t hi = (int16_t)p->act_max;
    UAOT_MAXPOOL_BODY(int16_t, INT16_MIN, lo, hi)
    return UAOT_OK;
}

uaot_status_t uaot_max_pool_f32(const uaot_maxpool_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const float lo = p->act_min_f;
    const float hi = p->act_max_f;
    UAOT_MAXPOOL_BODY(float, -FLT_MAX, lo, hi)
    return UAOT_OK;
}
