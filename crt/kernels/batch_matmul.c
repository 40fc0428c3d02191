/* microaot kernels: BATCH_MATMUL, portable C99 (TFLM reference arithmetic). */
#include "microaot/kernels/batch_matmul.h"

#include <stddef.h>

#include "microaot/qmath.h"
#include "microaot/qmath64.h"

/* the three batch loops; BODY sees a_off, b_off (element offsets of this batch's matrices) and o_off */
#define UAOT_BMM_BATCHES(BODY)                                                                                \
    do {                                                                                                      \
        int32_t o_off = 0;                                                                                    \
        for (int32_t b0 = 0; b0 < p->batch[0]; ++b0) {                                                        \
            for (int32_t b1 = 0; b1 < p->batch[1]; ++b1) {                                                    \
                for (int32_t b2 = 0; b2 < p->batch[2]; ++b2) {                                                \
                    const int32_t a_off = b0 * p->a_bstride[0] + b1 * p->a_bstride[1] + b2 * p->a_bstride[2]; \
                    const int32_t b_off = b0 * p->b_bstride[0] + b1 * p->b_bstride[1] + b2 * p->b_bstride[2]; \
                    BODY;                                                                                     \
                    o_off += p->rows * p->cols;                                                               \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
    } while (0)

uaot_status_t uaot_batch_matmul_f32(const uaot_batch_matmul_params_t *p, const float *a, const float *b, float *out)
{
    if (p == NULL || a == NULL || b == NULL || out == NULL) {
        return UAOT_ERR_ARG;
    }
    UAOT_BMM_BATCHES({
        for (int32_t i = 0; i < p->rows; ++i) {
            for (int32_t j = 0; j < p->cols; ++j) {
                const float *pa = a + a_off + i * p->a_si;
                const float *pb = b + b_off + j * p->b_sj;
                float total = 0.0f;
                for (int32_t k = 0; k < p->depth; ++k) {
                    const float prod = pa[k * p->a_sk] * pb[k * p->b_sk];
                    total += prod;
                }
                out[o_off + i * p->cols + j] = total;
            }
        }
    });
    return UAOT_OK;
}

uaot_status_t uaot_batch_matmul_s8(const uaot_batch_matmul_params_t *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    if (p == NULL || a == NULL || b == NULL || out == NULL) {
        return UAOT_ERR_ARG;
    }
    UAOT_BMM_BATCHES({
        for (int32_t i = 0; i < p->rows; ++i) {
            for (int32_t j = 0; j < p->cols; ++j) {
                const int8_t *pa = a + a_off + i * p->a_si;
                const int8_t *pb = b + b_off + j * p->b_sj;
                uint32_t total = 0; /* int32 with wrap-around */
                for (int32_t k = 0; k < p->depth; ++k) {
                    total += (uint32_t)(((int32_t)pa[k * p->a_sk] - p->a_zp) * ((int32_t)pb[k * p->b_sk] - p->b_zp));
                }
                const int32_t v = uaot_mbqm((int32_t)total, p->mult, (int)p->shift) + p->out_zp;
                out[o_off + i * p->cols + j] = (int8_t)uaot_clamp_i32(v, -128, 127);
            }
        }
    });
    return UAOT_OK;
}

uaot_status_t uaot_batch_matmul_s16(const uaot_batch_matmul_params_t *p, const int16_t *a, const int16_t *b,
                                    int16_t *out)
{
    if (p == NULL || a == NULL || b == NULL || out == NULL) {
        return UAOT_ERR_ARG;
    }
    UAOT_BMM_BATCHES({
        for (int32_t i = 0; i < p->rows; ++i) {
            for (int32_t j = 0; j < p->cols; ++j) {
                const int16_t *pa = a + a_off + i * p->a_si;
                const int16_t *pb = b + b_off + j * p->b_sj;
                int64_t total = 0;
                for (int32_t k = 0; k < p->depth; ++k) {
                    total += (int64_t)pa[k * p->a_sk] * (int64_t)pb[k * p->b_sk];
                }
                const int32_t v = uaot_mbqm64(total, p->mult, (int)p->shift) + p->out_zp;
                out[o_off + i * p->cols + j] = (int16_t)uaot_clamp_i32(v, -32768, 32767);
            }
        }
    });
    return UAOT_OK;
}
