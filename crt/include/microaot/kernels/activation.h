/* microaot kernels: elementwise activations RELU, RELU6, LOGISTIC, TANH (int8 and float32).
 *
 * int8, bit-exact with TFLM:
 *   RELU     : out = clamp(out_zp + MultiplyByQuantizedMultiplier(in - in_zp, mult, shift), act_min, act_max)
 *              (TFLM ReluQuantized; act_min = max(-128, out_zp), act_max = 127)
 *   RELU6    : out = clamp(in, lo, hi) with lo = in_zp, hi = quantize(6.0) in the input scale
 *              (TFLM Relu6Quantized ignores the output quantization)
 *   LOGISTIC, TANH: a 256-entry table indexed by the input byte, computed by the generator with TFLM's
 *              exact fixed-point arithmetic (gemmlowp logistic/tanh on Q4.27 input) -- the int8
 *              output depends only on the int8 input, so a table is both exact and fastest.
 * float32 follows TFLM's reference float kernels (RELU/RELU6 clamp, logistic with its cut-offs, tanh) with microaot/fmath.h in place of libm. */
#ifndef MICROAOT_KERNELS_ACTIVATION_H
#define MICROAOT_KERNELS_ACTIVATION_H

#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t size;             /* number of elements */
    int32_t input_zp;         /* RELU s8 */
    int32_t output_zp;        /* RELU s8 */
    int32_t mult, shift;      /* RELU s8: QuantizeMultiplier(in_scale / out_scale) */
    int32_t act_min, act_max; /* RELU s8 output clamp; RELU6 s8 clamp (lo = zero, hi = six) */
    float lo_f, hi_f;         /* float clamp range (RELU: 0..FLT_MAX, RELU6: 0..6) */
    const int8_t *table;      /* LUT s8: 256 entries indexed by (uint8_t)input */
} uaot_act_params_t;

uaot_status_t uaot_relu_s8(const uaot_act_params_t *p, const int8_t *input, int8_t *output);
uaot_status_t uaot_clamp_s8(const uaot_act_params_t *p, const int8_t *input, int8_t *output);
uaot_status_t uaot_lut_s8(const uaot_act_params_t *p, const int8_t *input, int8_t *output);
uaot_status_t uaot_clamp_f32(const uaot_act_params_t *p, const float *input, float *output);
uaot_status_t uaot_logistic_f32(const uaot_act_params_t *p, const float *input, float *output);
uaot_status_t uaot_tanh_f32(const uaot_act_params_t *p, const float *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
