/* microaot kernels: FULLY_CONNECTED, portable C99 (TFLM reference arithmetic for int8). */
#include "microaot/kernels/fully_connected.h"

#include <stddef.h>

#include "microaot/qmath.h"

uaot_status_t uaot_fully_connected_s8(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                      int8_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->bias == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t n_in = p->in_features;
    const int32_t n_out = p->out_features;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * n_in;
        int8_t *y = output + b * n_out;
        for (int32_t o = 0; o < n_out; ++o) {
            const int8_t *w = filter + o * n_in;
            /* modulo 2^32: TFLM's int32 accumulator wraps when the bias sits at the int32 limits */
            uint32_t acc = (uint32_t)p->bias[o];
            int32_t i = 0;
            for (; i + 4 <= n_in; i += 4) {
                acc += (uint32_t)((int32_t)x[i] * w[i] + (int32_t)x[i + 1] * w[i + 1] + (int32_t)x[i + 2] * w[i + 2] +
                                  (int32_t)x[i + 3] * w[i + 3]);
            }
            for (; i < n_in; ++i) {
                acc += (uint32_t)((int32_t)x[i] * w[i]);
            }
            const int32_t mult = p->mult_pc != NULL ? p->mult_pc[o] : p->mult;
            const int32_t shift = p->shift_pc != NULL ? p->shift_pc[o] : p->shift;
            int32_t v = uaot_wrap_add(uaot_mbqm(uaot_u2i(acc), mult, (int)shift), p->output_offset);
            y[o] = (int8_t)uaot_clamp_i32(v, p->act_min, p->act_max);
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_fully_connected_f32(const uaot_fc_f32_params_t *p, const float *input, const float *filter,
                                       const float *bias, float *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t n_in = p->in_features;
    const int32_t n_out = p->out_features;
    for (int32_t b = 0; b < p->batches; ++b) {
        const float *x = input + b * n_in;
        float *y = output + b * n_out;
        for (int32_t o = 0; o < n_out; ++o) {
            const float *w = filter + o * n_in;
            float acc = 0.0f;
            for (int32_t i = 0; i < n_in; ++i) {
                acc += x[i] * w[i];
            }
            if (bias != NULL) {
                acc += bias[o];
            }
            y[o] = acc < p->act_min ? p->act_min : (acc > p->act_max ? p->act_max : acc);
        }
    }
    return UAOT_OK;
}
