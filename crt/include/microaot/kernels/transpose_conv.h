/* microaot kernels: TRANSPOSE_CONV (float32, int8 per-channel, 16x8 = int16 activations with int8 weights),
 * bit-exact with TFLM's reference TransposeConv. NHWC input [n, in_h, in_w, in_c], OHWI filter
 * [out_c, k_h, k_w, in_c], output [n, out_h, out_w, out_c]; input pixel (iy, ix) scatters to output rows
 * iy * stride_h - pad_top + fy. The kernels gather instead (no scratch): per output element the taps are
 * visited in TFLM's order (iy, ix, ic ascending), so even float sums are the same sequence of additions.
 * int8: int32 sums of (x - in_zp) * w, + bias, per-channel double-rounding requantization; 16x8: int64 sums
 * of x * w, + int64 bias, uaot_mbqm64; then + out_zp and the clamp. float: + bias, clamp. */
#ifndef MICROAOT_KERNELS_TRANSPOSE_CONV_H
#define MICROAOT_KERNELS_TRANSPOSE_CONV_H

#include <stdint.h>

#include "microaot/status.h"

typedef struct {
    int32_t batches, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    int32_t in_zp, out_zp; /* int8: input and output zero points (16x8: 0) */
    const int32_t *mult;   /* quantized: per output channel */
    const int32_t *shift;
    int32_t act_min, act_max;   /* quantized output clamp */
    float act_min_f, act_max_f; /* float output clamp */
} uaot_transpose_conv_params_t;

uaot_status_t uaot_transpose_conv_f32(const uaot_transpose_conv_params_t *p, const float *input, const float *filter,
                                      const float *bias, float *output);
uaot_status_t uaot_transpose_conv_s8(const uaot_transpose_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                     const int32_t *bias, int8_t *output);
uaot_status_t uaot_transpose_conv_s16(const uaot_transpose_conv_params_t *p, const int16_t *input, const int8_t *filter,
                                      const int64_t *bias, int16_t *output);

#endif
