/* microaot kernels: L2_NORMALIZATION over the last axis (float32, int8), bit-exact with TFLM's reference:
 * float: x / max(sqrtf(sum of x^2 in order), 1e-6f); int8: TFLM's GetInvSqrtQuantizedMultiplierExp of the
 * int32 sum of (x - zp)^2, then MultiplyByQuantizedMultiplier(x - zp, inv, shift + 7) clamped to int8 (the
 * output is q/128 whatever the output tensor's quantization says, as in TFLM). */
#ifndef MICROAOT_KERNELS_L2NORM_H
#define MICROAOT_KERNELS_L2NORM_H

#include <stdint.h>

#include "microaot/status.h"

typedef struct {
    int32_t outer, depth;
    int32_t input_zp; /* int8 */
} uaot_l2norm_params_t;

uaot_status_t uaot_l2norm_f32(const uaot_l2norm_params_t *p, const float *input, float *output);
uaot_status_t uaot_l2norm_s8(const uaot_l2norm_params_t *p, const int8_t *input, int8_t *output);

#endif
