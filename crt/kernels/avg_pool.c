/* microaot kernels: AVERAGE_POOL_2D, portable C99. Padded taps are not counted (TFLite semantics). */
#include "microaot/kernels/avg_pool.h"

#include <stddef.h>

#include "microaot/qmath.h"

uaot_status_t uaot_avg_pool_s8(const uaot_avg_pool_params_t *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t C = p->channels;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            const int32_t fy0 = y0 < 0 ? -y0 : 0;
            const int32_t fy1 = (p->in_h - y0) < p->k_h ? (p->in_h - y0) : p->k_h;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                const int32_t fx0 = x0 < 0 ? -x0 : 0;
                const int32_t fx1 = (p->in_w - x0) < p->k_w ? (p->in_w - x0) : p->k_w;
                const int32_t count = (fy1 - fy0) * (fx1 - fx0);
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * C;
                for (int32_t c = 0; c < C; ++c) {
                    int32_t acc = 0;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        const int8_t *row = input + ((b * p->in_h + (y0 + fy)) * p->in_w) * C + c;
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            acc += row[(x0 + fx) * C];
                        }
                    }
                    if (count <= 0) {
                        return UAOT_ERR_INTERNAL;
                    }
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    out[c] = (int8_t)uaot_clamp_i32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_avg_pool_f32(const uaot_avg_pool_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t C = p->channels;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            const int32_t fy0 = y0 < 0 ? -y0 : 0;
            const int32_t fy1 = (p->in_h - y0) < p->k_h ? (p->in_h - y0) : p->k_h;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                const int32_t fx0 = x0 < 0 ? -x0 : 0;
                const int32_t fx1 = (p->in_w - x0) < p->k_w ? (p->in_w - x0) : p->k_w;
                const int32_t count = (fy1 - fy0) * (fx1 - fx0);
                float *out = output + ((b * p->out_h + oy) * p->out_w + ox) * C;
                for (int32_t c = 0; c < C; ++c) {
                    float acc = 0.0f;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        const float *row = input + ((b * p->in_h + (y0 + fy)) * p->in_w) * C + c;
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            acc += row[(x0 + fx) * C];
                        }
                    }
                    if (count <= 0) {
                        return UAOT_ERR_INTERNAL;
                    }
                    float v = acc / (float)count;
                    out[c] = v < p->act_min_f ? p->act_min_f : (v > p->act_max_f ? p->act_max_f : v);
                }
            }
        }
    }
    return UAOT_OK;
}
