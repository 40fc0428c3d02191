/* microaot kernels: QUANTIZE / DEQUANTIZE, portable C99 (TFLM reference arithmetic). */
#include "microaot/kernels/quantize.h"

#include <math.h>
#include <stddef.h>

#include "microaot/model.h"
#include "microaot/qmath.h"

/* (int32_t)r as TFLM computes it on the host for every float r (see quantize.h) */
static int32_t uaot_f2i_host(float r)
{
    if (!(r >= -2147483648.0f && r < 2147483648.0f)) {
        return INT32_MIN; /* NaN, infinities, out of range */
    }
    return (int32_t)r;
}

static int32_t uaot_quantize_one(float x, float scale, int32_t zero_point)
{
    /* zero point added with int32 wrap-around, as the reference does */
    return (int32_t)((uint32_t)uaot_f2i_host(roundf(x / scale)) + (uint32_t)zero_point);
}

static int uaot_type_range(int32_t type, int32_t *lo, int32_t *hi)
{
    switch (type) {
    case UAOT_DTYPE_INT8:
        *lo = -128;
        *hi = 127;
        return 1;
    case UAOT_DTYPE_UINT8:
        *lo = 0;
        *hi = 255;
        return 1;
    case UAOT_DTYPE_INT16:
        *lo = -32768;
        *hi = 32767;
        return 1;
    case UAOT_DTYPE_INT32:
        *lo = INT32_MIN;
        *hi = INT32_MAX;
        return 1;
    default:
        return 0;
    }
}

static int32_t uaot_load(const void *data, int32_t type, int32_t i)
{
    switch (type) {
    case UAOT_DTYPE_INT8:
        return ((const int8_t *)data)[i];
    case UAOT_DTYPE_UINT8:
        return ((const uint8_t *)data)[i];
    case UAOT_DTYPE_INT16:
        return ((const int16_t *)data)[i];
    default:
        return ((const int32_t *)data)[i];
    }
}

static void uaot_store(void *data, int32_t type, int32_t i, int32_t v)
{
    switch (type) {
    case UAOT_DTYPE_INT8:
        ((int8_t *)data)[i] = (int8_t)v;
        break;
    case UAOT_DTYPE_UINT8:
        ((uint8_t *)data)[i] = (uint8_t)v;
        break;
    case UAOT_DTYPE_INT16:
        ((int16_t *)data)[i] = (int16_t)v;
        break;
    default:
        ((int32_t *)data)[i] = v;
        break;
    }
}

uaot_status_t uaot_quantize_f32_s8(const uaot_quantize_params_t *p, const float *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const float scale = p->scale;
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = (int8_t)uaot_clamp_i32(uaot_quantize_one(input[i], scale, p->zero_point), -128, 127);
    }
    return UAOT_OK;
}

uaot_status_t uaot_quantize_f32(const uaot_quantize_params_t *p, const float *input, void *output)
{
    int32_t lo, hi;
    if (p == NULL || input == NULL || output == NULL || !uaot_type_range(p->out_type, &lo, &hi)) {
        return UAOT_ERR_ARG;
    }
    for (int32_t i = 0; i < p->size; ++i) {
        uaot_store(output, p->out_type, i,
                   uaot_clamp_i32(uaot_quantize_one(input[i], p->scale, p->zero_point), lo, hi));
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

uaot_status_t uaot_requantize(const uaot_quantize_params_t *p, const void *input, void *output)
{
    int32_t lo, hi, ilo, ihi;
    if (p == NULL || input == NULL || output == NULL || !uaot_type_range(p->out_type, &lo, &hi) ||
        !uaot_type_range(p->in_type, &ilo, &ihi)) {
        return UAOT_ERR_ARG;
    }
    for (int32_t i = 0; i < p->size; ++i) {
        /* int32 arithmetic with wrap-around (an int32 input minus its zero point may leave the range) */
        const int32_t x = (int32_t)((uint32_t)uaot_load(input, p->in_type, i) - (uint32_t)p->input_zp);
        const int32_t v = (int32_t)((uint32_t)uaot_mbqm(x, p->mult, (int)p->shift) + (uint32_t)p->output_zp);
        uaot_store(output, p->out_type, i, uaot_clamp_i32(v, lo, hi));
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

uaot_status_t uaot_dequantize_f32(const uaot_quantize_params_t *p, const void *input, float *output)
{
    int32_t lo, hi;
    if (p == NULL || input == NULL || output == NULL || p->in_type == UAOT_DTYPE_INT32 ||
        !uaot_type_range(p->in_type, &lo, &hi)) {
        return UAOT_ERR_ARG;
    }
    for (int32_t i = 0; i < p->size; ++i) {
        /* q - zp (at most 17 bits) is exact in float, so the float product is TFLM's exact double
         * product rounded to float */
        output[i] = p->scale * (float)(uaot_load(input, p->in_type, i) - p->zero_point);
    }
    return UAOT_OK;
}
