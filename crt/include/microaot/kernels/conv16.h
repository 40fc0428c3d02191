/* microaot kernels: CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED with int16 activations and int8 weights
 * (TFLM's 16x8 scheme), bit-exact with TFLM's reference integer kernels (reference_integer_ops::
 * ConvPerChannel / DepthwiseConvPerChannel / FullyConnected(PerChannel) on int16 input):
 *   acc = sum over in-bounds taps of w * (x + input_offset)  [+ bias]
 *   out = clamp(MultiplyByQuantizedMultiplier(acc, mult[c], shift[c]) + output_offset, act_min, act_max)
 * acc is an int64 (int64 bias or none: uaot_mbqm64, the multiplier reduced to 16 bits) or, with acc32 set
 * (the int32-bias instantiation TFLM also has), an int32 that wraps as TFLM's does, requantized with the
 * 32-bit uaot_mbqm. Layouts as microaot/kernels/conv.h and fully_connected.h. */
#ifndef MICROAOT_KERNELS_CONV16_H
#define MICROAOT_KERNELS_CONV16_H

#include <stdint.h>

#include "microaot/status.h"

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t dil_h, dil_w;
    int32_t pad_top, pad_left;
    int32_t depth_mult;       /* depthwise only (out_c == in_c * depth_mult) */
    int32_t input_offset;     /* -input zero point (0 in TFLM's 16x8 scheme) */
    int32_t output_offset;    /* output zero point (conv: 0, TFLM adds none) */
    int32_t act_min, act_max; /* quantized activation range */
    int32_t acc32;            /* 1: int32 accumulator and 32-bit requantization (int32 bias) */
    const int32_t *mult;      /* per output channel */
    const int32_t *shift;     /* per output channel (> 0 = left) */
} uaot_conv_s16_params_t;

typedef struct {
    int32_t batches, in_features, out_features;
    int32_t input_offset, filter_offset, output_offset;
    int32_t act_min, act_max;
    int32_t acc32;
    const int32_t *mult; /* one per output feature (the per-tensor value repeated) */
    const int32_t *shift;
} uaot_fc_s16_params_t;

/* bias: out_c int64 values (the generator widens an int32 bias), or NULL */
uaot_status_t uaot_conv2d_s16(const uaot_conv_s16_params_t *p, const int16_t *input, const int8_t *filter,
                              const int64_t *bias, int16_t *output);
uaot_status_t uaot_depthwise_conv2d_s16(const uaot_conv_s16_params_t *p, const int16_t *input, const int8_t *filter,
                                        const int64_t *bias, int16_t *output);
uaot_status_t uaot_fully_connected_s16(const uaot_fc_s16_params_t *p, const int16_t *input, const int8_t *filter,
                                       const int64_t *bias, int16_t *output);

#endif
