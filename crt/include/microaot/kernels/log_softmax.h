/* microaot kernels: LOG_SOFTMAX over the last axis (float32, int8), bit-exact with TFLM's reference:
 * float: x - max - logf(sum of expf(x - max) in order); int8 (output scale 16/256, zero point 127): TFLM's
 * LogSoftmaxQuantized, gemmlowp fixed point (exp of Q5.26 differences summed in Q12.19, its log in Q5.26). */
#ifndef MICROAOT_KERNELS_LOG_SOFTMAX_H
#define MICROAOT_KERNELS_LOG_SOFTMAX_H

#include <stdint.h>

#include "microaot/status.h"

typedef struct {
    int32_t outer, depth;
    int32_t input_mult, input_left_shift;                   /* int8: PreprocessLogSoftmaxScalingExp(1.0, in_scale, 5) */
    int32_t reverse_scaling_divisor, reverse_scaling_shift; /* int8: multiplier and (right, <= 0) shift */
    int32_t diff_min;                                       /* int8: -CalculateInputRadius(5, input_left_shift) */
} uaot_log_softmax_params_t;

uaot_status_t uaot_log_softmax_f32(const uaot_log_softmax_params_t *p, const float *input, float *output);
uaot_status_t uaot_log_softmax_s8(const uaot_log_softmax_params_t *p, const int8_t *input, int8_t *output);

#endif
