/* microaot kernels: ADD (int8 with TFLite rescaling, float32), broadcasting over up to 6 dims. */
#include "microaot/kernels/add.h"

#include <stddef.h>

#include "microaot/qmath.h"

UAOT_INLINE int8_t uaot_add_one_s8(const uaot_add_params_t *p, int8_t a, int8_t b)
{
    const int32_t sa = (int32_t)((uint32_t)(p->input1_offset + a) << p->left_shift);
    const int32_t sb = (int32_t)((uint32_t)(p->input2_offset + b) << p->left_shift);
    const int32_t ra = uaot_mbqm_lt1(sa, p->input1_mult, p->input1_shift);
    const int32_t rb = uaot_mbqm_lt1(sb, p->input2_mult, p->input2_shift);
    const int32_t raw = uaot_mbqm_lt1(ra + rb, p->output_mult, p->output_shift) + p->output_offset;
    return (int8_t)uaot_clamp_i32(raw, p->act_min, p->act_max);
}

UAOT_INLINE float uaot_add_one_f32(const uaot_add_params_t *p, float a, float b)
{
    float v = a + b;
    return v < p->act_min_f ? p->act_min_f : (v > p->act_max_f ? p->act_max_f : v);
}

/* Walks the 6-D output index, keeping both input offsets. */
#define UAOT_ADD_BROADCAST_LOOP(ONE)                                                                  \
    do {                                                                                              \
        int32_t idx[UAOT_ADD_MAX_DIMS] = {0, 0, 0, 0, 0, 0};                                          \
        int32_t o1 = 0, o2 = 0;                                                                        \
        for (int32_t i = 0; i < p->size; ++i) {                                                       \
            out[i] = ONE(p, in1[o1], in2[o2]);                                                        \
            for (int d = UAOT_ADD_MAX_DIMS - 1; d >= 0; --d) {                                        \
                idx[d]++;                                                                             \
                o1 += p->in1_strides[d];                                                      \
                o2 += p->in2_strides[d];                                                      \
                if (idx[d] < p->out_dims[d]) {                                                        \
                    break;                                                                            \
                }                                                                                     \
                o1 -= p->in1_strides[d] * idx[d];                                    \
                o2 -= p->in2_strides[d] * idx[d];                                    \
                idx[d] = 0;                                                                           \
            }                                                                                         \
        }                                                                                             \
    } while (0)

uaot_status_t uaot_add_s8(const uaot_add_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    if (p == NULL || in1 == NULL || in2 == NULL || out == NULL) {
        return UAOT_ERR_ARG;
    }
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->size; ++i) {
            out[i] = uaot_add_one_s8(p, in1[i], in2[i]);
        }
    } else {
        UAOT_ADD_BROADCAST_LOOP(uaot_add_one_s8);
    }
    return UAOT_OK;
}

uaot_status_t uaot_add_f32(const uaot_add_params_t *p, const float *in1, const float *in2, float *out)
{
    if (p == NULL || in1 == NULL || in2 == NULL || out == NULL) {
        return UAOT_ERR_ARG;
    }
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->size; ++i) {
            out[i] = uaot_add_one_f32(p, in1[i], in2[i]);
        }
    } else {
        UAOT_ADD_BROADCAST_LOOP(uaot_add_one_f32);
    }
    return UAOT_OK;
}
