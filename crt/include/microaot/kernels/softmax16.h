/* microaot kernels: int16 SOFTMAX (TFLM's reference_ops::SoftmaxInt16): exp(x - max) from a 513-entry
 * interpolated table over [-10, 0], the row sum's reciprocal from a 513-entry 1 / (1 + x) table; output
 * scale 1/32768, zero points 0. The two tables are TFLM's LUTPopulate<int16_t> results, computed by the
 * code generator (microaot/ops/softmax.py). */
#ifndef MICROAOT_KERNELS_SOFTMAX16_H
#define MICROAOT_KERNELS_SOFTMAX16_H

#include <stdint.h>

#include "microaot/status.h"

typedef struct {
    int32_t outer, depth;
    int32_t input_mult, input_shift; /* QuantizeMultiplier(in_scale * beta / (10 / 65535)) */
    const int16_t *exp_lut;          /* 513 entries */
    const int16_t *recip_lut;        /* 513 entries */
} uaot_softmax16_params_t;

uaot_status_t uaot_softmax_s16(const uaot_softmax16_params_t *p, const int16_t *input, int16_t *output);

#endif
