/* microaot kernels: QUANTIZE / DEQUANTIZE, portable C99 (TFLM reference arithmetic). */
#include "microaot/kernels/quantize.h"

#include <math.h>
#include <stddef.h>

#include "microaot/qmath.h"

uaot_status_t uaot_quantize_f32_s8(const uaot_quantize_params_t *p, const float *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const float scale = p->scale;
    for (int32_t i = 0; i < p->size; ++i) {
        float r = roundf(input[i] / scale);
        /* saturate before the conversion (out-of-range float -> int is undefined in C) */
        r = r > 65536.0f ? 65536.0f : (r < -65536.0f ? -65536.0f : r);
        const int32_t v = (int32_t)r + p->zero_point;
        output[i] = (int8_t)uaot_clamp_i32(v, -128, 127);
    }
    return UAOT_OK;
}

uaot_status_t uaot_requantize_s8(const uaot_quantize_params_t *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t v = uaot_mbqm((int32_t)input[i] - p->input_zp, p->mult, (int)p->shift) + p->output_zp;
        output[i] = (int8_t)uaot_clamp_i32(v, -128, 127);
    }
    return UAOT_OK;
}

uaot_status_t uaot_dequantize_s8_f32(const uaot_quantize_params_t *p, const int8_t *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const float scale = p->scale;
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = scale * (float)((int32_t)input[i] - p->zero_point);
    }
    return UAOT_OK;
}
