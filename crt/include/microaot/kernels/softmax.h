/* microaot kernels: SOFTMAX over the last dimension.
 * int8 -> int8 = TFLM's reference path (gemmlowp fixed point: Q5.26 scaled differences, exp on
 * negative values, Q12 accumulation, reciprocal by Newton-Raphson), bit for bit wherever TFLM succeeds.
 * A row whose sum of exponentials reaches 512.0 (TFLM aborts there: every probability < 1/512) gives -128
 * everywhere (the correctly rounded result, TFLM's formula continued) instead of an error; the sum is
 * bounded, so any depth is fine. */
#ifndef MICROAOT_KERNELS_SOFTMAX_H
#define MICROAOT_KERNELS_SOFTMAX_H

#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t outer;      /* number of rows */
    int32_t depth;      /* row length (last dimension) */
    int32_t input_mult; /* PreprocessSoftmaxScaling(beta, input_scale, 5) */
    int32_t input_left_shift;
    int32_t diff_min; /* -CalculateInputRadius(5, input_left_shift) */
    float beta;       /* float32 kernel */
} uaot_softmax_params_t;

uaot_status_t uaot_softmax_s8(const uaot_softmax_params_t *p, const int8_t *input, int8_t *output);
uaot_status_t uaot_softmax_f32(const uaot_softmax_params_t *p, const float *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
