/* microaot kernels: int16 LOGISTIC and TANH (TFLM's 16x8 scheme), bit-exact with TFLM's
 * reference_integer_ops::Logistic / Tanh on int16: the input rescaled by (mult, shift) to TFLM's
 * [-10.7, 10.7] table domain, then linear interpolation in its 256-entry sigmoid table; output scale
 * 1/32768, zero points 0. */
#ifndef MICROAOT_KERNELS_ACT16_H
#define MICROAOT_KERNELS_ACT16_H

#include <stdint.h>

#include "microaot/status.h"

typedef struct {
    int32_t size;  /* elements */
    int32_t mult;  /* TFLM's input_multiplier (3 << left_shift already substituted for power-of-two scales) */
    int32_t shift; /* TFLM's input_left_shift (a right shift, rounding) */
} uaot_act16_params_t;

uaot_status_t uaot_logistic_s16(const uaot_act16_params_t *p, const int16_t *input, int16_t *output);
uaot_status_t uaot_tanh_s16(const uaot_act16_params_t *p, const int16_t *input, int16_t *output);

#endif
