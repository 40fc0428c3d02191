/* microaot kernels: MEAN, SUM, REDUCE_MAX, REDUCE_MIN over any set of axes (keep_dims either way: the output layout is the same).
 *
 * The input is described as kept dims (output order) and reduced dims, each with input element
 * strides, up to 6 of each (unused entries have dim 1). Every output element sums its inputs in the
 * input's row-major order, as TFLM does, so float results match TFLM's summation order too.
 * int8 follows TFLM's reference MEAN (QuantizedMeanOrSum, used by TFLM for every int8 MEAN):
 *   out = clamp(MultiplyByQuantizedMultiplier(sum - in_zp * count, mult, shift) + out_zp, -128, 127)
 *   with mult/shift = QuantizeMultiplier(in_scale / out_scale) folded with 1/count as TFLM does. */
#ifndef MICROAOT_KERNELS_REDUCE_H
#define MICROAOT_KERNELS_REDUCE_H

#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UAOT_REDUCE_MAX_DIMS 6

typedef struct {
    int32_t keep_dims[UAOT_REDUCE_MAX_DIMS];
    int32_t keep_strides[UAOT_REDUCE_MAX_DIMS];
    int32_t red_dims[UAOT_REDUCE_MAX_DIMS];
    int32_t red_strides[UAOT_REDUCE_MAX_DIMS];
    int32_t count; /* number of reduced elements per output */
    int32_t input_zp, output_zp;
    int32_t mult, shift; /* int8 requantization (1/count folded in) */
} uaot_reduce_params_t;

uaot_status_t uaot_mean_s8(const uaot_reduce_params_t *p, const int8_t *input, int8_t *output);
uaot_status_t uaot_mean_f32(const uaot_reduce_params_t *p, const float *input, float *output);

/* int16 MEAN and SUM (TFLM QuantizedMeanOrSum<int16_t, int32_t>): as int8, clamped to int16. int8 SUM
 * is uaot_mean_s8 with mult/shift = QuantizeMultiplier(in_scale / out_scale) (no 1/count folded in). */
uaot_status_t uaot_mean_s16(const uaot_reduce_params_t *p, const int16_t *input, int16_t *output);
/* float SUM: the elements added in the input's row-major order (as TFLM). */
uaot_status_t uaot_sum_f32(const uaot_reduce_params_t *p, const float *input, float *output);
uaot_status_t uaot_sum_i32(const uaot_reduce_params_t *p, const int32_t *input, int32_t *output);

/* REDUCE_MAX / REDUCE_MIN: raw values (TFLM requires equal input and output quantization); the
 * running value starts at the type's lowest (max) or highest (min) value, as TFLM's init_value. */
uaot_status_t uaot_reduce_max_s8(const uaot_reduce_params_t *p, const int8_t *input, int8_t *output);
uaot_status_t uaot_reduce_max_s16(const uaot_reduce_params_t *p, const int16_t *input, int16_t *output);
uaot_status_t uaot_reduce_max_i32(const uaot_reduce_params_t *p, const int32_t *input, int32_t *output);
uaot_status_t uaot_reduce_max_f32(const uaot_reduce_params_t *p, const float *input, float *output);
uaot_status_t uaot_reduce_min_s8(const uaot_reduce_params_t *p, const int8_t *input, int8_t *output);
uaot_status_t uaot_reduce_min_s16(const uaot_reduce_params_t *p, const int16_t *input, int16_t *output);
uaot_status_t uaot_reduce_min_i32(const uaot_reduce_params_t *p, const int32_t *input, int32_t *output);
uaot_status_t uaot_reduce_min_f32(const uaot_reduce_params_t *p, const float *input, float *output);

/* ARG_MAX / ARG_MIN along one axis (TFLM ArgMinMax): the first index of the largest (smallest) value;
 * the input is [outer, axis_size, inner]; the output int32 (out64 = 0) or int64 (out64 = 1). */
typedef struct {
    int32_t outer, axis_size, inner;
    int32_t out64;
} uaot_arg_params_t;

uaot_status_t uaot_arg_max_s8(const uaot_arg_params_t *p, const int8_t *input, void *output);
uaot_status_t uaot_arg_max_s16(const uaot_arg_params_t *p, const int16_t *input, void *output);
uaot_status_t uaot_arg_max_i32(const uaot_arg_params_t *p, const int32_t *input, void *output);
uaot_status_t uaot_arg_max_f32(const uaot_arg_params_t *p, const float *input, void *output);
uaot_status_t uaot_arg_min_s8(const uaot_arg_params_t *p, const int8_t *input, void *output);
uaot_status_t uaot_arg_min_s16(const uaot_arg_params_t *p, const int16_t *input, void *output);
uaot_status_t uaot_arg_min_i32(const uaot_arg_params_t *p, const int32_t *input, void *output);
uaot_status_t uaot_arg_min_f32(const uaot_arg_params_t *p, const float *input, void *output);

#ifdef __cplusplus
}
#endif
#endif
