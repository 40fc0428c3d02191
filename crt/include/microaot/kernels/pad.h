/* microaot kernels: PAD / PADV2 (up to 6 dims, shapes left-padded with 1). int8 pads with the output
 * zero point (PAD) or the constant value (PADV2); float32 with 0.0f or the constant, as TFLM does. */
#ifndef MICROAOT_KERNELS_PAD_H
#define MICROAOT_KERNELS_PAD_H

#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UAOT_PAD_MAX_DIMS 6

typedef struct {
    int32_t in_dims[UAOT_PAD_MAX_DIMS];
    int32_t before[UAOT_PAD_MAX_DIMS];
    int32_t after[UAOT_PAD_MAX_DIMS];
    int8_t value_s8;
    float value_f32;
    int16_t value_s16; /* int16: the constant value, or 0 (TFLM pads int16 with 0, not the zero point) */
} uaot_pad_params_t;

uaot_status_t uaot_pad_s8(const uaot_pad_params_t *p, const int8_t *input, int8_t *output);
uaot_status_t uaot_pad_s16(const uaot_pad_params_t *p, const int16_t *input, int16_t *output);
uaot_status_t uaot_pad_f32(const uaot_pad_params_t *p, const float *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
