/* microaot kernels: SVDF, portable C99 (TFLM reference arithmetic, see svdf.h). */
#include "microaot/kernels/svdf.h"

#include <stddef.h>
#include <string.h>

#include "microaot/fmath.h"
#include "microaot/qmath.h"

static int uaot_svdf_bad(const uaot_svdf_params_t *p)
{
    return p->batch < 1 || p->input_size < 1 || p->num_units < 1 || p->rank < 1 || p->memory_size < 1 ||
           p->num_filters != p->num_units * p->rank;
}

/* TFLM's ActivationValFloat (std::max(a, b) = a < b ? b : a, std::min(a, b) = b < a ? b : a); TANH through
 * microaot's own uaot_tanhf, the same on every target (TFLM's libm tanhf may differ by an ulp or two) */
static float uaot_svdf_act(int32_t act, float x)
{
    switch (act) {
    case UAOT_SVDF_ACT_RELU:
        return 0.0f < x ? x : 0.0f;
    case UAOT_SVDF_ACT_RELU_N1_TO_1: {
        const float m = 1.0f < x ? 1.0f : x;
        return -1.0f < m ? m : -1.0f;
    }
    case UAOT_SVDF_ACT_RELU6: {
        const float m = 6.0f < x ? 6.0f : x;
        return 0.0f < m ? m : 0.0f;
    }
    case UAOT_SVDF_ACT_TANH:
        return uaot_tanhf(x);
    case UAOT_SVDF_ACT_SIGN_BIT:
        return (uaot_f32_bits(x) >> 31) != 0u ? 1.0f : 0.0f;
    default:
        return x;
    }
}

uaot_status_t uaot_svdf_f32(const uaot_svdf_params_t *p, const float *input, const float *weights_feature,
                            const float *weights_time, const float *bias, float *state, float *output)
{
    if (p == NULL || input == NULL || weights_feature == NULL || weights_time == NULL || state == NULL ||
        output == NULL || uaot_svdf_bad(p)) {
        return UAOT_ERR_ARG;
    }
    const int32_t mem = p->memory_size, nf = p->num_filters;
    /* TFLM's left shift of the whole state by one element (each row's newest slot is rewritten below) */
    memmove(state, state + 1, (size_t)(p->batch * nf * mem - 1) * sizeof(float));
    for (int32_t b = 0; b < p->batch; ++b) {
        const float *x = input + b * p->input_size;
        float *col = state + b * nf * mem + (mem - 1);
        const float *w = weights_feature;
        for (int32_t f = 0; f < nf; ++f) {
            float dot = 0.0f;
            for (int32_t c = 0; c < p->input_size; ++c) {
                const float prod = w[c] * x[c];
                dot += prod;
            }
            w += p->input_size;
            col[f * mem] = dot;
        }
    }
    for (int32_t b = 0; b < p->batch; ++b) {
        const float *s = state + b * nf * mem;
        const float *wt = weights_time;
        float *y = output + b * p->num_units;
        for (int32_t u = 0; u < p->num_units; ++u) {
            float acc = bias != NULL ? bias[u] : 0.0f;
            for (int32_t r = 0; r < p->rank; ++r) {
                float dot = 0.0f;
                for (int32_t j = 0; j < mem; ++j) {
                    const float prod = wt[j] * s[j];
                    dot += prod;
                }
                wt += mem;
                s += mem;
                acc += dot;
            }
            y[u] = uaot_svdf_act(p->activation, acc);
        }
    }
    return UAOT_OK;
}

/* EvalIntegerSvdfReference<T>: T is the state's and weights_time's type (int16_t or int8_t) */
#define UAOT_SVDF_INTEGER(T, T_MIN, T_MAX, T_MASK)                                                                  \
    do {                                                                                                            \
        if (p == NULL || input == NULL || weights_feature == NULL || weights_time == NULL || state == NULL ||       \
            output == NULL || uaot_svdf_bad(p)) {                                                                   \
            return UAOT_ERR_ARG;                                                                                    \
        }                                                                                                           \
        const int32_t mem = p->memory_size, nf = p->num_filters;                                                    \
        memmove(state, state + 1, (size_t)(p->batch * nf * mem - 1) * sizeof(T));                                   \
        for (int32_t b = 0; b < p->batch; ++b) {                                                                    \
            const int8_t *x = input + b * p->input_size;                                                            \
            T *col = state + b * nf * mem + (mem - 1);                                                              \
            const int8_t *w = weights_feature;                                                                      \
            for (int32_t f = 0; f < nf; ++f) {                                                                      \
                uint32_t dot = 0; /* int32 with wrap-around */                                                      \
                for (int32_t c = 0; c < p->input_size; ++c) {                                                       \
                    dot += (uint32_t)((int32_t)w[c] * ((int32_t)x[c] - p->input_zp));                               \
                }                                                                                                   \
                w += p->input_size;                                                                                 \
                const int32_t v = uaot_clamp_i32(uaot_mbqm(uaot_u2i(dot), p->mult1, (int)p->shift1), T_MIN, T_MAX); \
                /* as tflite-micro's EvalIntegerSvdfReference: the zero point added after the clamp, the sum \
                 * narrowed to T modulo 2^bits (only a non-zero state zero point, int8, can make it wrap) */      \
                col[f * mem] = (T)((int32_t)((uint32_t)(v + p->state_zp - (T_MIN)) & (T_MASK)) + (T_MIN));          \
            }                                                                                                       \
        }                                                                                                           \
        for (int32_t b = 0; b < p->batch; ++b) {                                                                    \
            const T *s = state + b * nf * mem;                                                                      \
            const T *wt = weights_time;                                                                             \
            int8_t *y = output + b * p->num_units;                                                                  \
            for (int32_t u = 0; u < p->num_units; ++u) {                                                            \
                uint32_t acc = bias != NULL ? (uint32_t)bias[u] : 0u;                                               \
                for (int32_t r = 0; r < p->rank; ++r) {                                                             \
                    for (int32_t j = 0; j < mem; ++j) {                                                             \
                        acc += (uint32_t)((int32_t)wt[j] * ((int32_t)s[j] - p->state_zp));                          \
                    }                                                                                               \
                    wt += mem;                                                                                      \
                    s += mem;                                                                                       \
                }                                                                                                   \
                const int32_t v = uaot_wrap_add(uaot_mbqm(uaot_u2i(acc), p->mult2, (int)p->shift2), p->output_zp);  \
                y[u] = (int8_t)uaot_clamp_i32(v, -128, 127);                                                        \
            }                                                                                                       \
        }                                                                                                           \
        return UAOT_OK;                                                                                             \
    } while (0)

uaot_status_t uaot_svdf_s8_s16(const uaot_svdf_params_t *p, const int8_t *input, const int8_t *weights_feature,
                               const int16_t *weights_time, const int32_t *bias, int16_t *state, int8_t *output)
{
    UAOT_SVDF_INTEGER(int16_t, -32768, 32767, 0xFFFFu);
}

uaot_status_t uaot_svdf_s8_s8(const uaot_svdf_params_t *p, const int8_t *input, const int8_t *weights_feature,
                              const int8_t *weights_time, const int32_t *bias, int8_t *state, int8_t *output)
{
    UAOT_SVDF_INTEGER(int8_t, -128, 127, 0xFFu);
}
