/* microaot kernels: MAX_POOL_2D (NHWC). int8 follows TFLM's reference_integer_ops::MaxPool bit for bit
 * (window clipped to the input, maximum, then the fused activation clamp); input and output share
 * quantization, as TFLM requires. */
#ifndef MICROAOT_KERNELS_MAXPOOL_H
#define MICROAOT_KERNELS_MAXPOOL_H

#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;  /* TFLM ComputePaddingHeightWidth (the "before" padding) */
    int32_t act_min, act_max;   /* quantized activation range (int8) */
    float act_min_f, act_max_f; /* float activation range (float32) */
} uaot_maxpool_params_t;

uaot_status_t uaot_max_pool_s8(const uaot_maxpool_params_t *p, const int8_t *input, int8_t *output);
uaot_status_t uaot_max_pool_s16(const uaot_maxpool_params_t *p, const int16_t *input, int16_t *output);
uaot_status_t uaot_max_pool_f32(const uaot_maxpool_params_t *p, const float *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
