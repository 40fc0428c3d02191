/* microaot kernels: BATCH_MATMUL (float32, int8, int16), bit-exact with TFLM's reference BatchMatMul.
 * out[b][i][j] = sum over k (ascending) of A[b][i][k] * B[b][k][j]; A is LHS (adj_x: stored transposed),
 * B is RHS (adj_y: stored transposed). Up to 3 batch dimensions with broadcasting: the generator gives,
 * per output batch dimension, its size and the element stride of each operand in it (0 = broadcast).
 * int8: int32 sums of (a - a_zp) * (b - b_zp), TFLM's double-rounding requantization; int16: zero points 0,
 * int64 sums and the int64 requantization (uaot_mbqm64); both clamped to the output type's range. */
#ifndef MICROAOT_KERNELS_BATCH_MATMUL_H
#define MICROAOT_KERNELS_BATCH_MATMUL_H

#include <stdint.h>

#include "microaot/status.h"

typedef struct {
    int32_t batch[3];           /* output batch dimensions (outer first), 1 when absent */
    int32_t a_bstride[3];       /* LHS element stride per batch dimension (0: broadcast) */
    int32_t b_bstride[3];       /* RHS element stride per batch dimension */
    int32_t rows, cols, depth;  /* M, N, K */
    int32_t a_si, a_sk;         /* LHS element (i, k) at i * a_si + k * a_sk */
    int32_t b_sk, b_sj;         /* RHS element (k, j) at k * b_sk + j * b_sj */
    int32_t a_zp, b_zp, out_zp; /* quantized: zero points */
    int32_t mult, shift;        /* quantized: QuantizeMultiplier(float(s_a * s_b) / s_out) */
} uaot_batch_matmul_params_t;

uaot_status_t uaot_batch_matmul_f32(const uaot_batch_matmul_params_t *p, const float *a, const float *b, float *out);
uaot_status_t uaot_batch_matmul_s8(const uaot_batch_matmul_params_t *p, const int8_t *a, const int8_t *b, int8_t *out);
uaot_status_t uaot_batch_matmul_s16(const uaot_batch_matmul_params_t *p, const int16_t *a, const int16_t *b,
                                    int16_t *out);

#endif
