/* microaot kernels: AVERAGE_POOL_2D, portable C99. Padded taps are not counted (TFLite semantics). */
#include "microaot/kernels/avg_pool.h"

#include <stddef.h>

#include "microaot/qmath.h"

/* Rounded integer average (TFLM reference), clamped to the activation range. */
static int8_t avg_pool_out_s8(const uaot_avg_pool_params_t *p, int32_t acc, int32_t count)
{
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return (int8_t)uaot_clamp_i32(acc, p->act_min, p->act_max);
}

static float avg_pool_out_f32(const uaot_avg_pool_params_t *p, float acc, int32_t count)
{
    float v = acc / (float)count;
    return v < p->act_min_f ? p->act_min_f : (v > p->act_max_f ? p->act_max_f : v);
}

/* The loops of both kernels: T = element type, ACC = accumulator type (starts at 0),
 * OUT(p, acc, count) -> T = the average of count taps, clamped. */
#define UAOT_AVG_POOL_BODY(T, ACC, OUT)                                                                \
    const int32_t C = p->channels;                                                                  \
    for (int32_t b = 0; b < p->batches; ++b) {                                                      \
        for (int32_t oy = 0; oy < p->out_h; ++oy) {                                                 \
            const int32_t y0 = oy * p->stride_h - p->pad_top;                                       \
            const int32_t fy0 = y0 < 0 ? -y0 : 0;                                                   \
            const int32_t fy1 = (p->in_h - y0) < p->k_h ? (p->in_h - y0) : p->k_h;                  \
            for (int32_t ox = 0; ox < p->out_w; ++ox) {                                             \
                const int32_t x0 = ox * p->stride_w - p->pad_left;                                  \
                const int32_t fx0 = x0 < 0 ? -x0 : 0;                                               \
                const int32_t fx1 = (p->in_w - x0) < p->k_w ? (p->in_w - x0) : p->k_w;              \
                const int32_t count = (fy1 - fy0) * (fx1 - fx0);                                    \
                T *out = output + ((b * p->out_h + oy) * p->out_w + ox) * C;                        \
                for (int32_t c = 0; c < C; ++c) {                                                   \
                    ACC acc = 0;                                                                    \
                    for (int32_t fy = fy0; fy < fy1; ++fy) {                                        \
                        const T *row = input + ((b * p->in_h + (y0 + fy)) * p->in_w) * C + c;       \
                        for (int32_t fx = fx0; fx < fx1; ++fx) {                                    \
                            acc += row[(x0 + fx) * C];                                              \
                        }                                                                           \
                    }                                                                               \
                    if (count <= 0) {                                                               \
                        return UAOT_ERR_INTERNAL;                                                   \
                    }                                                                               \
                    out[c] = OUT(p, acc, count);                                                    \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }

uaot_status_t uaot_avg_pool_s8(const uaot_avg_pool_params_t *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    UAOT_AVG_POOL_BODY(int8_t, int32_t, avg_pool_out_s8)
    return UAOT_OK;
}

uaot_status_t uaot_avg_pool_f32(const uaot_avg_pool_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    UAOT_AVG_POOL_BODY(float, float, avg_pool_out_f32)
    return UAOT_OK;
}
