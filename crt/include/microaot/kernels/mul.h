/* microaot kernels: MUL with numpy broadcasting. int8 follows TFLM's reference_integer_ops::Mul /
 * BroadcastMul6DSlow: (a + a_offset) * (b + b_offset), MultiplyByQuantizedMultiplier, + output offset,
 * clamp to the activation range. Shapes are given as up to 6 output dims with per-input element
 * strides (0 along broadcast dimensions); the generator merges dims so most calls use one or two. */
#ifndef MICROAOT_KERNELS_MUL_H
#define MICROAOT_KERNELS_MUL_H

#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UAOT_MUL_MAX_DIMS 6

typedef struct {
    int32_t dims[UAOT_MUL_MAX_DIMS];     /* output shape, outermost first, padded with 1 in front */
    int32_t a_stride[UAOT_MUL_MAX_DIMS]; /* element strides of input a (0 = broadcast) */
    int32_t b_stride[UAOT_MUL_MAX_DIMS];
    int32_t a_offset, b_offset; /* -zero point of each input */
    int32_t output_offset;      /* output zero point */
    int32_t mult, shift;        /* QuantizeMultiplier(sa * sb / so) */
    int32_t act_min, act_max;
    float act_min_f, act_max_f;
} uaot_mul_params_t;

uaot_status_t uaot_mul_s8(const uaot_mul_params_t *p, const int8_t *a, const int8_t *b, int8_t *output);
uaot_status_t uaot_mul_s16(const uaot_mul_params_t *p, const int16_t *a, const int16_t *b, int16_t *output);
uaot_status_t uaot_mul_f32(const uaot_mul_params_t *p, const float *a, const float *b, float *output);

#ifdef __cplusplus
}
#endif
#endif
