/* microaot kernels: CONV_2D and DEPTHWISE_CONV_2D (NHWC activations).
 * CONV_2D filters are OHWI [out_c][k_h][k_w][in_c]; DEPTHWISE filters are [1][k_h][k_w][out_c] with
 * out_c = in_c * depth_mult. int8 kernels follow TFLM's reference integer kernels bit for bit. */
#ifndef MICROAOT_KERNELS_CONV_H
#define MICROAOT_KERNELS_CONV_H

#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t dil_h, dil_w;
    int32_t pad_top, pad_left;
    int32_t depth_mult;       /* depthwise only (out_c == in_c * depth_mult) */
    int32_t input_offset;     /* -input zero point */
    int32_t output_offset;    /* output zero point */
    int32_t act_min, act_max; /* quantized activation range */
    /* bias folded with the input offset: bias[c] + input_offset * sum(filter of channel c);
     * never NULL (the generator emits zeros + the fold when the model has no bias) */
    const int32_t *bias;
    const int32_t *mult;  /* per output channel requantization multiplier (NULL when rq is given) */
    const int32_t *shift; /* per output channel shift (> 0 = left) (NULL when rq is given) */
    /* NULL, or 4 int32 per output channel {mult, l1, r, half} (microaot/simd.h uaot_rq_smmulr), emitted
     * only when the generator proved for every channel with a non-zero multiplier that
     * |acc| << (max(shift, 0) + 1) fits int32 and shift <= -1: the fast kernels (conv_fast.h) then
     * requantize with SMMULR + one rounding shift, exact under that bound. Reference kernels ignore it. */
    const int32_t *rq;
} uaot_conv_s8_params_t;

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t dil_h, dil_w;
    int32_t pad_top, pad_left;
    int32_t depth_mult;
    float act_min, act_max;
} uaot_conv_f32_params_t;

uaot_status_t uaot_conv2d_s8(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter, int8_t *output);
uaot_status_t uaot_depthwise_conv2d_s8(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                       int8_t *output);
/* bias may be NULL */
uaot_status_t uaot_conv2d_f32(const uaot_conv_f32_params_t *p, const float *input, const float *filter,
                              const float *bias, float *output);
uaot_status_t uaot_depthwise_conv2d_f32(const uaot_conv_f32_params_t *p, const float *input, const float *filter,
                                        const float *bias, float *output);

#ifdef __cplusplus
}
#endif
#endif
