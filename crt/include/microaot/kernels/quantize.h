/* microaot kernels: QUANTIZE (float32 -> int8/int16, requantization between int8, uint8, int16 and int32)
 * and DEQUANTIZE (int8/uint8/int16 -> float32). Bit-exact with TFLM's reference AffineQuantize /
 * Requantize / Dequantize:
 *   quantize   : clamp(f2i(roundf(x / scale)) + zero_point, qmin, qmax)   (float division, as TFLM)
 *   requantize : clamp(MultiplyByQuantizedMultiplier(q - in_zp, mult, shift) + out_zp, qmin, qmax)
 *   dequantize : scale * (float)(q - zero_point)  (equals TFLM's double product rounded to float)
 * f2i is defined for every float: a value outside the int32 range, an infinity or a NaN gives
 * INT32_MIN (what TFLM computes on the host, x86's "integer indefinite"), and the zero point is added
 * with int32 wrap-around, so NaN -> qmin when zero_point >= 0, qmax when zero_point < 0, on every
 * target alike (a plain C conversion is undefined there: x86 gives INT32_MIN, Arm saturates or 0). */
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
    int32_t in_type;     /* generic kernels: uaot_dtype_t of the input (model.h) */
    int32_t out_type;    /* generic kernels: uaot_dtype_t of the output */
} uaot_quantize_params_t;

uaot_status_t uaot_quantize_f32_s8(const uaot_quantize_params_t *p, const float *input, int8_t *output);
uaot_status_t uaot_requantize_s8(const uaot_quantize_params_t *p, const int8_t *input, int8_t *output);
uaot_status_t uaot_dequantize_s8_f32(const uaot_quantize_params_t *p, const int8_t *input, float *output);

/* float32 -> out_type (int8 or int16) */
uaot_status_t uaot_quantize_f32(const uaot_quantize_params_t *p, const float *input, void *output);
/* in_type (int8, uint8, int16, int32) -> out_type (int8, uint8, int16, int32) */
uaot_status_t uaot_requantize(const uaot_quantize_params_t *p, const void *input, void *output);
/* in_type (int8, uint8, int16) -> float32 */
uaot_status_t uaot_dequantize_f32(const uaot_quantize_params_t *p, const void *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
