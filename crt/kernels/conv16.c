/* microaot kernels: 16x8 CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED (microaot/kernels/conv16.h). */
#include "microaot/kernels/conv16.h"

#include <stddef.h>

#include "microaot/qmath.h"
#include "microaot/qmath64.h"

/* TFLM's requantization of the accumulator, + offset, clamp. With acc32 the sum is the int32 TFLM's
 * int32 instantiation computes (two's complement wrap-around of the exact sum). */
static int16_t uaot_requant_s16(int64_t acc, int32_t acc32, int32_t mult, int32_t shift, int32_t out_off, int32_t lo,
                                int32_t hi)
{
    int32_t v;
    if (acc32) {
        const uint32_t u = (uint32_t)(uint64_t)acc;
        const int32_t a = u <= 0x7FFFFFFFu ? (int32_t)u : (int32_t)(u - 0x80000000u) - 0x7FFFFFFF - 1;
        v = uaot_mbqm(a, mult, (int)shift);
    } else {
        v = uaot_mbqm64(acc, mult, (int)shift);
    }
    v += out_off;
    return (int16_t)uaot_clamp_i32(v, lo, hi);
}

uaot_status_t uaot_conv2d_s16(const uaot_conv_s16_params_t *p, const int16_t *input, const int8_t *filter,
                              const int64_t *bias, int16_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->mult == NULL || p->shift == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t in_c = p->in_c;
    const int32_t out_c = p->out_c;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int16_t *in_b = input + b * p->in_h * p->in_w * in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int16_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * out_c;
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    const int8_t *f = filter + oc * p->k_h * p->k_w * in_c;
                    int64_t acc = 0;
                    for (int32_t ky = 0; ky < p->k_h; ++ky) {
                        const int32_t iy = iy0 + ky * p->dil_h;
                        if (iy < 0 || iy >= p->in_h) {
                            continue;
                        }
                        for (int32_t kx = 0; kx < p->k_w; ++kx) {
                            const int32_t ix = ix0 + kx * p->dil_w;
                            if (ix < 0 || ix >= p->in_w) {
                                continue;
                            }
                            const int16_t *x = in_b + (iy * p->in_w + ix) * in_c;
                            const int8_t *fw = f + (ky * p->k_w + kx) * in_c;
                            for (int32_t ic = 0; ic < in_c; ++ic) {
                                acc += (int64_t)fw[ic] * ((int64_t)x[ic] + p->input_offset);
                            }
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[oc];
                    }
                    out[oc] = uaot_requant_s16(acc, p->acc32, p->mult[oc], p->shift[oc], p->output_offset, p->act_min,
                                               p->act_max);
                }
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_depthwise_conv2d_s16(const uaot_conv_s16_params_t *p, const int16_t *input, const int8_t *filter,
                                        const int64_t *bias, int16_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->mult == NULL || p->shift == NULL ||
        p->depth_mult <= 0) {
        return UAOT_ERR_ARG;
    }
    const int32_t in_c = p->in_c;
    const int32_t out_c = p->out_c;
    const int32_t dm = p->depth_mult;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int16_t *in_b = input + b * p->in_h * p->in_w * in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int16_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * out_c;
                for (int32_t ic = 0; ic < in_c; ++ic) {
                    for (int32_t m = 0; m < dm; ++m) {
                        const int32_t oc = ic * dm + m;
                        int64_t acc = 0;
                        for (int32_t ky = 0; ky < p->k_h; ++ky) {
                            const int32_t iy = iy0 + ky * p->dil_h;
                            if (iy < 0 || iy >= p->in_h) {
                                continue;
                            }
                            for (int32_t kx = 0; kx < p->k_w; ++kx) {
                                const int32_t ix = ix0 + kx * p->dil_w;
                                if (ix < 0 || ix >= p->in_w) {
                                    continue;
                                }
                                const int64_t x = (int64_t)in_b[(iy * p->in_w + ix) * in_c + ic] + p->input_offset;
                                acc += (int64_t)filter[(ky * p->k_w + kx) * out_c + oc] * x;
                            }
                        }
                        if (bias != NULL) {
                            acc += bias[oc];
                        }
                        out[oc] = uaot_requant_s16(acc, p->acc32, p->mult[oc], p->shift[oc], p->output_offset,
                                                   p->act_min, p->act_max);
                    }
                }
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_fully_connected_s16(const uaot_fc_s16_params_t *p, const int16_t *input, const int8_t *filter,
                                       const int64_t *bias, int16_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->mult == NULL || p->shift == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t n_in = p->in_features;
    const int32_t n_out = p->out_features;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int16_t *x = input + b * n_in;
        for (int32_t o = 0; o < n_out; ++o) {
            const int8_t *w = filter + o * n_in;
            int64_t acc = 0;
            for (int32_t i = 0; i < n_in; ++i) {
                acc += ((int64_t)w[i] + p->filter_offset) * ((int64_t)x[i] + p->input_offset);
            }
            if (bias != NULL) {
                acc += bias[o];
            }
            output[b * n_out + o] =
                uaot_requant_s16(acc, p->acc32, p->mult[o], p->shift[o], p->output_offset, p->act_min, p->act_max);
        }
    }
    return UAOT_OK;
}
