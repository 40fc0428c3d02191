/* microaot kernels: schedule variants of int8 FULLY_CONNECTED (family fc_fast), bit-exact with
 * uaot_fully_connected_s8 (same parameter struct).
 *
 * uaot_fully_connected_s8_simd4[_x8][_w16]: 4 output rows per step with SMLAD, the input in SXTB16
 * order (int16 pairs (x0, x2), (x1, x3) per group of 4 inputs). Kp = in_features rounded up to 4
 * (weights padded with zeros).
 *   simd4, simd4_w16: the input row is expanded once to int16 in scratch (UAOT_FC_SIMD_SCRATCH bytes,
 *     4-aligned); then 16 MACs per 19.5 instructions (int8 weights) / 13.5 (w16) on Cortex-M4.
 *   simd4_x8, simd4_x8_w16: no scratch (scratch may be NULL): each group of 4 int8 inputs is loaded
 *     with one LDR (unaligned allowed; a 4-aligned input: 8 with one LDRD) and expanded with 2 SXTB16
 *     inside the 4-row loop, 16 MACs per 21.5 / 15.5 instructions (aligned: 21 / 15).
 *   Cortex-M4 (rq, act range -128..127, and for x8 in_features % 4 == 0): all 4-row blocks run in one
 *   asm, 4 groups per iteration, the 4 outputs requantized in 7 instructions each, ~12 instructions of
 *   block overhead; otherwise one asm per block (2 groups per iteration) and C around it.
 *   filter (int8): blocks of 4 rows; block r: for each group of 4 inputs, the word of each of the 4 rows;
 *     the last out_features % 4 rows one after the other (Kp bytes each).
 *   w16: every int8 word w0..w3 becomes the int16 words (w0,w2),(w1,w3).
 *   rq (params.rq != NULL, act range -128..127): the fused asm requantization also needs m >= 0 and
 *     r >= 1 on every row (a zero multiplier as {0, 1, 1, 1 + 2 * output_offset}); the generator
 *     (codegen/ops/fully_connected.py) emits the table only then. */
#ifndef MICROAOT_KERNELS_FC_FAST_H
#define MICROAOT_KERNELS_FC_FAST_H

#include <stdint.h>

#include "microaot/kernels/fully_connected.h"
#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UAOT_FC_KP(K) ((((K) + 3) / 4) * 4)
#define UAOT_FC_SIMD_SCRATCH(K) (2 * UAOT_FC_KP(K))

/* Every entry point takes its scratch with its size: scratch_size must be at least the entry point's
 * uaot_<entry point>_scratch_size(p) (0 for x8: scratch may then be NULL); with UAOT_CHECKS a shorter
 * buffer returns UAOT_ERR_SCRATCH before anything is written. */
static inline uint32_t uaot_fully_connected_s8_simd4_scratch_size(const uaot_fc_s8_params_t *p)
{
    return (uint32_t)UAOT_FC_SIMD_SCRATCH(p->in_features);
}
uaot_status_t uaot_fully_connected_s8_simd4(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                            int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_fully_connected_s8_simd4_w16_scratch_size(const uaot_fc_s8_params_t *p)
{
    return (uint32_t)UAOT_FC_SIMD_SCRATCH(p->in_features);
}
uaot_status_t uaot_fully_connected_s8_simd4_w16(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                                int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_fully_connected_s8_simd4_x8_scratch_size(const uaot_fc_s8_params_t *p)
{
    (void)p;
    return 0u;
}
uaot_status_t uaot_fully_connected_s8_simd4_x8(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                               int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_fully_connected_s8_simd4_x8_w16_scratch_size(const uaot_fc_s8_params_t *p)
{
    (void)p;
    return 0u;
}
uaot_status_t uaot_fully_connected_s8_simd4_x8_w16(const uaot_fc_s8_params_t *p, const int8_t *input,
                                                   const int8_t *filter, int8_t *output, uint8_t *scratch,
                                                   uint32_t scratch_size);

#ifdef __cplusplus
}
#endif
#endif
