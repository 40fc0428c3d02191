/* microaot kernels: PAD / PADV2, portable C99. Rows of the innermost dimension are copied whole. */
#include "microaot/kernels/pad.h"

#include <stddef.h>
#include <string.h>

#define UAOT_PAD_BODY(T, VALUE)                                                                                       \
    const int32_t *id = p->in_dims;                                                                                   \
    int32_t od[UAOT_PAD_MAX_DIMS];                                                                                    \
    for (int d = 0; d < UAOT_PAD_MAX_DIMS; ++d) {                                                                     \
        od[d] = p->before[d] + id[d] + p->after[d];                                                                   \
    }                                                                                                                 \
    const T v = (VALUE);                                                                                              \
    const int32_t w = od[5];                                                                                          \
    T *o = output;                                                                                                    \
    for (int32_t i0 = 0; i0 < od[0]; ++i0) {                                                                          \
        const int32_t j0 = i0 - p->before[0];                                                                         \
        for (int32_t i1 = 0; i1 < od[1]; ++i1) {                                                                      \
            const int32_t j1 = i1 - p->before[1];                                                                     \
            for (int32_t i2 = 0; i2 < od[2]; ++i2) {                                                                  \
                const int32_t j2 = i2 - p->before[2];                                                                 \
                for (int32_t i3 = 0; i3 < od[3]; ++i3) {                                                              \
                    const int32_t j3 = i3 - p->before[3];                                                             \
                    for (int32_t i4 = 0; i4 < od[4]; ++i4, o += w) {                                                  \
                        const int32_t j4 = i4 - p->before[4];                                                         \
                        const int inside = j0 >= 0 && j0 < id[0] && j1 >= 0 && j1 < id[1] && j2 >= 0 && j2 < id[2] && \
                                           j3 >= 0 && j3 < id[3] && j4 >= 0 && j4 < id[4];                            \
                        if (!inside) {                                                                                \
                            for (int32_t x = 0; x < w; ++x) {                                                         \
                                o[x] = v;                                                                             \
                            }                                                                                         \
                            continue;                                                                                 \
                        }                                                                                             \
                        const size_t row = ((((size_t)j0 * id[1] + j1) * id[2] + j2) * id[3] + j3) * id[4] + j4;      \
                        const T *src = input + row * (size_t)id[5];                                                   \
                        int32_t x = 0;                                                                                \
                        for (; x < p->before[5]; ++x) {                                                               \
                            o[x] = v;                                                                                 \
                        }                                                                                             \
                        memcpy(o + x, src, (size_t)id[5] * sizeof(T));                                                \
                        for (x += id[5]; x < w; ++x) {                                                                \
                            o[x] = v;                                                                                 \
                        }                                                                                             \
                    }                                                                                                 \
                }                                                                                                     \
            }                                                                                                         \
        }                                                                                                             \
    }

uaot_status_t uaot_pad_s8(const uaot_pad_params_t *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    UAOT_PAD_BODY(int8_t, p->value_s8)
    return UAOT_OK;
}

uaot_status_t uaot_pad_s16(const uaot_pad_params_t *p, const int16_t *input, int16_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    UAOT_PAD_BODY(int16_t, p->value_s16)
    return UAOT_OK;
}

uaot_status_t uaot_pad_f32(const uaot_pad_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    UAOT_PAD_BODY(float, p->value_f32)
    return UAOT_OK;
}
