/* microaot kernels: QUANTIZE (float32 -> int8, int8 -> int8 requantization) and DEQUANTIZE (int8 -> float32).
 * Bit-exact with TFLM's reference AffineQuantize / Requantize / Dequantize:
 *   quantize   : clamp((int32)roundf(x / scale) + zero_point, -128, 127)   (float division, as TFLM)
 *   requantize : clamp(MultiplyByQuantizedMultiplier(q - in_zp, mult, shift) + out_zp, -128, 127)
 *   dequantize : scale * (float)(q - zero_point)  (equals TFLM's double product rounded to float) */
#ifndef MICROAOT_KERNELS_QUANTIZE_H
#define MICROAOT_KERNELS_QUANTIZE_H

#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t size;        /* number of elements */
    float scale;         /* quantize: output scale; dequantize: input scale */
    int32_t zero_point;  /* quantize: output zero point; dequantize: input zero point */
    int32_t input_zp;    /* requantize */
    int32_t output_zp;   /* requantize */
    int32_t mult, shift; /* requantize: QuantizeMultiplier(in_scale / out_scale) */
} uaot_quantize_params_t;

uaot_status_t uaot_quantize_f32_s8(const uaot_quantize_params_t *p, const float *input, int8_t *output);
uaot_status_t uaot_requantize_s8(const uaot_quantize_params_t *p, const int8_t *input, int8_t *output);
uaot_status_t uaot_dequantize_s8_f32(const uaot_quantize_params_t *p, const int8_t *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
