/* microaot kernels: RELU, RELU6, LOGISTIC, TANH, portable C99 (TFLM reference arithmetic). */
#include "microaot/kernels/activation.h"

#include "microaot/fmath.h"
#include <stddef.h>

#include "microaot/qmath.h"

uaot_status_t uaot_relu_s8(const uaot_act_params_t *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t v = p->output_zp + uaot_mbqm((int32_t)input[i] - p->input_zp, p->mult, (int)p->shift);
        output[i] = (int8_t)uaot_clamp_i32(v, p->act_min, p->act_max);
    }
    return UAOT_OK;
}

uaot_status_t uaot_clamp_s8(const uaot_act_params_t *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int8_t lo = (int8_t)p->act_min;
    const int8_t hi = (int8_t)p->act_max;
    for (int32_t i = 0; i < p->size; ++i) {
        const int8_t v = input[i];
        output[i] = v > hi ? hi : (v < lo ? lo : v);
    }
    return UAOT_OK;
}

uaot_status_t uaot_lut_s8(const uaot_act_params_t *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->table == NULL) {
        return UAOT_ERR_ARG;
    }
    const int8_t *t = p->table;
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = t[(uint8_t)input[i]];
    }
    return UAOT_OK;
}

uaot_status_t uaot_clamp_f32(const uaot_act_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const float lo = p->lo_f;
    const float hi = p->hi_f;
    for (int32_t i = 0; i < p->size; ++i) {
        const float v = input[i];
        output[i] = v > hi ? hi : (v < lo ? lo : v);
    }
    return UAOT_OK;
}

uaot_status_t uaot_logistic_f32(const uaot_act_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    /* TFLM reference_ops::Logistic cut-offs */
    const float cutoff_upper = 16.619047164916992188f;
    const float cutoff_lower = -9.0f;
    for (int32_t i = 0; i < p->size; ++i) {
        const float v = input[i];
        float r;
        if (v > cutoff_upper) {
            r = 1.0f;
        } else if (v < cutoff_lower) {
            r = uaot_expf(v);
        } else {
            r = 1.0f / (1.0f + uaot_expf(-v));
        }
        output[i] = r;
    }
    return UAOT_OK;
}

uaot_status_t uaot_tanh_f32(const uaot_act_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = uaot_tanhf(input[i]);
    }
    return UAOT_OK;
}
