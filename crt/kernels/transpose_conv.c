/* microaot kernels: TRANSPOSE_CONV, portable C99 (TFLM reference arithmetic, gathered per output). */
#include "microaot/kernels/transpose_conv.h"

#include <stddef.h>

#include "microaot/qmath.h"
#include "microaot/qmath64.h"

/* the first input row/column that reaches output position o along one axis, and the filter tap it uses:
 * o = i * s - pad + f with 0 <= f < k; i ascending means f descending by s */
static int32_t uaot_tc_first(int32_t o, int32_t pad, int32_t k, int32_t s, int32_t *f)
{
    const int32_t t = o + pad - (k - 1); /* i * s for the largest f */
    int32_t i = t <= 0 ? 0 : (t + s - 1) / s;
    *f = o + pad - i * s;
    return i;
}

uaot_status_t uaot_transpose_conv_f32(const uaot_transpose_conv_params_t *p, const float *input, const float *filter,
                                      const float *bias, float *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->stride_h < 1 || p->stride_w < 1) {
        return UAOT_ERR_ARG;
    }
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            int32_t fy0, fx0;
            const int32_t iy0 = uaot_tc_first(oy, p->pad_top, p->k_h, p->stride_h, &fy0);
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = uaot_tc_first(ox, p->pad_left, p->k_w, p->stride_w, &fx0);
                float *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                for (int32_t oc = 0; oc < p->out_c; ++oc) {
                    float acc = 0;
                    for (int32_t iy = iy0, fy = fy0; iy < p->in_h && fy >= 0; ++iy, fy -= p->stride_h) {
                        for (int32_t ix = ix0, fx = fx0; ix < p->in_w && fx >= 0; ++ix, fx -= p->stride_w) {
                            const float *x = input + ((b * p->in_h + iy) * p->in_w + ix) * p->in_c;
                            const float *w = filter + ((oc * p->k_h + fy) * p->k_w + fx) * p->in_c;
                            for (int32_t ic = 0; ic < p->in_c; ++ic) {
                                const float prod = x[ic] * w[ic];
                                acc += prod;
                            }
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[oc];
                    }
                    out[oc] = acc < p->act_min_f ? p->act_min_f : (acc > p->act_max_f ? p->act_max_f : acc);
                }
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_transpose_conv_s8(const uaot_transpose_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                     const int32_t *bias, int8_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->stride_h < 1 || p->stride_w < 1 ||
        p->mult == NULL || p->shift == NULL) {
        return UAOT_ERR_ARG;
    }
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            int32_t fy0, fx0;
            const int32_t iy0 = uaot_tc_first(oy, p->pad_top, p->k_h, p->stride_h, &fy0);
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = uaot_tc_first(ox, p->pad_left, p->k_w, p->stride_w, &fx0);
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                for (int32_t oc = 0; oc < p->out_c; ++oc) {
                    uint32_t acc = 0;
                    for (int32_t iy = iy0, fy = fy0; iy < p->in_h && fy >= 0; ++iy, fy -= p->stride_h) {
                        for (int32_t ix = ix0, fx = fx0; ix < p->in_w && fx >= 0; ++ix, fx -= p->stride_w) {
                            const int8_t *x = input + ((b * p->in_h + iy) * p->in_w + ix) * p->in_c;
                            const int8_t *w = filter + ((oc * p->k_h + fy) * p->k_w + fx) * p->in_c;
                            for (int32_t ic = 0; ic < p->in_c; ++ic) {
                                acc += (uint32_t)(((int32_t)x[ic] - p->in_zp) * (int32_t)w[ic]); /* int32 wrap-around */
                            }
                        }
                    }
                    if (bias != NULL) {
                        acc += (uint32_t)bias[oc];
                    }
                    const int32_t v = uaot_mbqm((int32_t)acc, p->mult[oc], (int)p->shift[oc]) + p->out_zp;
                    out[oc] = (int8_t)uaot_clamp_i32(v, p->act_min, p->act_max);
                }
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_transpose_conv_s16(const uaot_transpose_conv_params_t *p, const int16_t *input, const int8_t *filter,
                                      const int64_t *bias, int16_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->stride_h < 1 || p->stride_w < 1 ||
        p->mult == NULL || p->shift == NULL) {
        return UAOT_ERR_ARG;
    }
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            int32_t fy0, fx0;
            const int32_t iy0 = uaot_tc_first(oy, p->pad_top, p->k_h, p->stride_h, &fy0);
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = uaot_tc_first(ox, p->pad_left, p->k_w, p->stride_w, &fx0);
                int16_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                for (int32_t oc = 0; oc < p->out_c; ++oc) {
                    int64_t acc = 0;
                    for (int32_t iy = iy0, fy = fy0; iy < p->in_h && fy >= 0; ++iy, fy -= p->stride_h) {
                        for (int32_t ix = ix0, fx = fx0; ix < p->in_w && fx >= 0; ++ix, fx -= p->stride_w) {
                            const int16_t *x = input + ((b * p->in_h + iy) * p->in_w + ix) * p->in_c;
                            const int8_t *w = filter + ((oc * p->k_h + fy) * p->k_w + fx) * p->in_c;
                            for (int32_t ic = 0; ic < p->in_c; ++ic) {
                                acc += (int64_t)x[ic] * (int64_t)w[ic];
                            }
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[oc];
                    }
                    const int32_t v = uaot_mbqm64(acc, p->mult[oc], (int)p->shift[oc]) + p->out_zp;
                    out[oc] = (int16_t)uaot_clamp_i32(v, p->act_min, p->act_max);
                }
            }
        }
    }
    return UAOT_OK;
}
