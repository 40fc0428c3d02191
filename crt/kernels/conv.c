/* microaot kernels: CONV_2D and DEPTHWISE_CONV_2D, portable C99.
 *
 * int8: TFLM reference arithmetic. acc = bias + sum over in-bounds taps of (x + input_offset) * w,
 * computed as folded_bias + sum(x * w) - input_offset * sum(w over out-of-bounds taps), which is
 * the same integer; then uaot_mbqm per channel, + output offset, clamp. The accumulator is computed modulo
 * 2^32 (uint32_t): TFLM adds in int32 and wraps on the hardware when a bias sits at the int32 limits (the
 * generator folds such biases modulo 2^32 too), which would be undefined behaviour in signed C. */
#include "microaot/kernels/conv.h"

#include <stddef.h>

#include "microaot/qmath.h"

UAOT_INLINE int8_t uaot_requant_s8(int32_t acc, int32_t mult, int32_t shift, int32_t out_off, int32_t lo, int32_t hi)
{
    int32_t v = uaot_wrap_add(uaot_mbqm(acc, mult, (int)shift), out_off);
    return (int8_t)uaot_clamp_i32(v, lo, hi);
}

uaot_status_t uaot_conv2d_s8(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter, int8_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t in_c = p->in_c;
    const int32_t out_c = p->out_c;
    const int32_t filter_oc_stride = p->k_h * p->k_w * in_c;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int interior = iy0 >= 0 && ix0 >= 0 && iy0 + (p->k_h - 1) * p->dil_h < p->in_h &&
                                     ix0 + (p->k_w - 1) * p->dil_w < p->in_w;
                if (interior && p->dil_w == 1) {
                    /* every tap in bounds and each filter row contiguous with its input row */
                    const int32_t row_len = p->k_w * in_c;
                    for (int32_t oc = 0; oc < out_c; ++oc) {
                        const int8_t *f = filter + oc * filter_oc_stride;
                        uint32_t acc = (uint32_t)p->bias[oc];
                        for (int32_t ky = 0; ky < p->k_h; ++ky) {
                            const int8_t *x = in_b + ((iy0 + ky * p->dil_h) * p->in_w + ix0) * in_c;
                            const int8_t *fw = f + ky * row_len;
                            for (int32_t i = 0; i < row_len; ++i) {
                                acc += (uint32_t)((int32_t)x[i] * (int32_t)fw[i]);
                            }
                        }
                        output[((b * p->out_h + oy) * p->out_w + ox) * out_c + oc] = uaot_requant_s8(
                            uaot_u2i(acc), p->mult[oc], p->shift[oc], p->output_offset, p->act_min, p->act_max);
                    }
                    continue;
                }
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    const int8_t *f = filter + oc * filter_oc_stride;
                    uint32_t acc = (uint32_t)p->bias[oc];
                    int32_t pad_wsum = 0;
                    for (int32_t ky = 0; ky < p->k_h; ++ky) {
                        const int32_t iy = iy0 + ky * p->dil_h;
                        for (int32_t kx = 0; kx < p->k_w; ++kx) {
                            const int32_t ix = ix0 + kx * p->dil_w;
                            const int8_t *fw = f + (ky * p->k_w + kx) * in_c;
                            if (interior || (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w)) {
                                const int8_t *x = in_b + (iy * p->in_w + ix) * in_c;
                                for (int32_t ic = 0; ic < in_c; ++ic) {
                                    acc += (uint32_t)((int32_t)x[ic] * (int32_t)fw[ic]);
                                }
                            } else {
                                for (int32_t ic = 0; ic < in_c; ++ic) {
                                    pad_wsum += fw[ic];
                                }
                            }
                        }
                    }
                    acc -= (uint32_t)p->input_offset * (uint32_t)pad_wsum;
                    output[((b * p->out_h + oy) * p->out_w + ox) * out_c + oc] = uaot_requant_s8(
                        uaot_u2i(acc), p->mult[oc], p->shift[oc], p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_depthwise_conv2d_s8(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                       int8_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->depth_mult <= 0) {
        return UAOT_ERR_ARG;
    }
    const int32_t in_c = p->in_c;
    const int32_t out_c = p->out_c;
    const int32_t dm = p->depth_mult;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * out_c;
                const int interior = iy0 >= 0 && ix0 >= 0 && iy0 + (p->k_h - 1) * p->dil_h < p->in_h &&
                                     ix0 + (p->k_w - 1) * p->dil_w < p->in_w;
                if (interior) {
                    for (int32_t ic = 0; ic < in_c; ++ic) {
                        for (int32_t m = 0; m < dm; ++m) {
                            const int32_t oc = ic * dm + m;
                            uint32_t acc = (uint32_t)p->bias[oc];
                            for (int32_t ky = 0; ky < p->k_h; ++ky) {
                                const int8_t *x = in_b + ((iy0 + ky * p->dil_h) * p->in_w + ix0) * in_c + ic;
                                const int8_t *f = filter + ky * p->k_w * out_c + oc;
                                for (int32_t kx = 0; kx < p->k_w; ++kx) {
                                    acc += (uint32_t)((int32_t)x[kx * p->dil_w * in_c] * (int32_t)f[kx * out_c]);
                                }
                            }
                            out[oc] = uaot_requant_s8(uaot_u2i(acc), p->mult[oc], p->shift[oc], p->output_offset,
                                                      p->act_min, p->act_max);
                        }
                    }
                    continue;
                }
                for (int32_t ic = 0; ic < in_c; ++ic) {
                    for (int32_t m = 0; m < dm; ++m) {
                        const int32_t oc = ic * dm + m;
                        uint32_t acc = (uint32_t)p->bias[oc];
                        int32_t pad_wsum = 0;
                        for (int32_t ky = 0; ky < p->k_h; ++ky) {
                            const int32_t iy = iy0 + ky * p->dil_h;
                            for (int32_t kx = 0; kx < p->k_w; ++kx) {
                                const int32_t ix = ix0 + kx * p->dil_w;
                                const int32_t w = filter[(ky * p->k_w + kx) * out_c + oc];
                                if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                                    acc += (uint32_t)((int32_t)in_b[(iy * p->in_w + ix) * in_c + ic] * w);
                                } else {
                                    pad_wsum += w;
                                }
                            }
                        }
                        acc -= (uint32_t)p->input_offset * (uint32_t)pad_wsum;
                        out[oc] = uaot_requant_s8(uaot_u2i(acc), p->mult[oc], p->shift[oc], p->output_offset,
                                                  p->act_min, p->act_max);
                    }
                }
            }
        }
    }
    return UAOT_OK;
}

static float uaot_clamp_f32(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

uaot_status_t uaot_conv2d_f32(const uaot_conv_f32_params_t *p, const float *input, const float *filter,
                              const float *bias, float *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t in_c = p->in_c;
    const int32_t out_c = p->out_c;
    const int32_t filter_oc_stride = p->k_h * p->k_w * in_c;
    for (int32_t b = 0; b < p->batches; ++b) {
        const float *in_b = input + b * p->in_h * p->in_w * in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    const float *f = filter + oc * filter_oc_stride;
                    float acc = 0.0f;
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
                            const float *x = in_b + (iy * p->in_w + ix) * in_c;
                            const float *fw = f + (ky * p->k_w + kx) * in_c;
                            for (int32_t ic = 0; ic < in_c; ++ic) {
                                acc += x[ic] * fw[ic];
                            }
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[oc];
                    }
                    output[((b * p->out_h + oy) * p->out_w + ox) * out_c + oc] =
                        uaot_clamp_f32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_depthwise_conv2d_f32(const uaot_conv_f32_params_t *p, const float *input, const float *filter,
                                        const float *bias, float *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->depth_mult <= 0) {
        return UAOT_ERR_ARG;
    }
    const int32_t in_c = p->in_c;
    const int32_t out_c = p->out_c;
    const int32_t dm = p->depth_mult;
    for (int32_t b = 0; b < p->batches; ++b) {
        const float *in_b = input + b * p->in_h * p->in_w * in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                float *out = output + ((b * p->out_h + oy) * p->out_w + ox) * out_c;
                for (int32_t ic = 0; ic < in_c; ++ic) {
                    for (int32_t m = 0; m < dm; ++m) {
                        const int32_t oc = ic * dm + m;
                        float acc = 0.0f;
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
                                acc += in_b[(iy * p->in_w + ix) * in_c + ic] * filter[(ky * p->k_w + kx) * out_c + oc];
                            }
                        }
                        if (bias != NULL) {
                            acc += bias[oc];
                        }
                        out[oc] = uaot_clamp_f32(acc, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
    return UAOT_OK;
}
