/* microaot kernels: SVDF (float32; int8 with int16 or int8 state), bit-exact with TFLM's reference
 * (svdf_common.cc: EvalFloatSvdfReference, EvalIntegerSvdfReference<int16_t / int8_t>).
 *
 * Tensors: input [batch][input_size], weights_feature [num_filters][input_size], weights_time
 * [num_filters][memory_size], bias [num_units] (optional: NULL), state [batch][num_filters][memory_size]
 * (TFLM's activation_state variable tensor: it persists between invocations, the caller keeps it),
 * output [batch][num_units], num_filters = num_units * rank.
 *
 * One invocation: the whole state buffer shifts left by one element; for every filter the newest column
 * (memory index memory_size - 1) gets the feature dot product (int8: requantized with mult1/shift1, clamped
 * to the state type, then plus the state zero point narrowed modulo 2^bits, as PyPI tflite-micro does); then
 * out[b][u] = bias[u] + sum over the rank's filters of the dot product of the filter's weights_time row with
 * its state row (int8: state minus its zero point); float: the fused activation; int8: requantized with
 * mult2/shift2 plus the output zero point, clamped to int8 (TFLM applies no fused activation on the integer
 * path).
 * The dot products are added to the bias in TFLM's order, so no scratch buffer is needed (float: each
 * filter's sum starts at 0.0f and is added to the running output in filter order, as TFLM's scratch row). */
#ifndef MICROAOT_KERNELS_SVDF_H
#define MICROAOT_KERNELS_SVDF_H

#include <stdint.h>

#include "microaot/status.h"

typedef struct {
    int32_t batch, input_size, num_filters, num_units, rank, memory_size;
    int32_t input_zp, state_zp, output_zp; /* int8 */
    int32_t mult1, shift1;                 /* int8: QuantizeMultiplier(float(in_s * wf_s / state_s)) */
    int32_t mult2, shift2;                 /* int8: QuantizeMultiplier(float(state_s * wt_s / out_s)) */
    int32_t activation;                    /* float32: UAOT_SVDF_ACT_* */
} uaot_svdf_params_t;

#define UAOT_SVDF_ACT_NONE 0
#define UAOT_SVDF_ACT_RELU 1
#define UAOT_SVDF_ACT_RELU_N1_TO_1 2
#define UAOT_SVDF_ACT_RELU6 3
#define UAOT_SVDF_ACT_TANH 4     /* uaot_tanhf (fmath.h): within 2 ulp of TFLM's std::tanh */
#define UAOT_SVDF_ACT_SIGN_BIT 5 /* 1.0f when the sign bit is set, else 0.0f (std::signbit) */

uaot_status_t uaot_svdf_f32(const uaot_svdf_params_t *p, const float *input, const float *weights_feature,
                            const float *weights_time, const float *bias, float *state, float *output);
uaot_status_t uaot_svdf_s8_s16(const uaot_svdf_params_t *p, const int8_t *input, const int8_t *weights_feature,
                               const int16_t *weights_time, const int32_t *bias, int16_t *state, int8_t *output);
uaot_status_t uaot_svdf_s8_s8(const uaot_svdf_params_t *p, const int8_t *input, const int8_t *weights_feature,
                              const int8_t *weights_time, const int32_t *bias, int8_t *state, int8_t *output);

#endif
