/* microaot kernels: int8 3x3 DEPTHWISE_CONV_2D with SMLAD over horizontal tap pairs (family dw_fast).
 *
 * uaot_dw3x3_s8_pair: depth multiplier 1, k_h = k_w = 3, no dilation, any C = in_c = out_c (C % 4 != 0: the
 * channels padded to Cp = UAOT_DW_PAIR_CP(C), a multiple of 4: zero weights and bias in the stream, records of Cp
 * channels read past each column (the input's last column from a padded copy), each pixel's Cp - C extra
 * outputs overwritten by the next pixel, the last pixels of a call written through scratch), any
 * stride, batch 1 when in place. Same parameter struct as the reference kernel (microaot/kernels/conv.h,
 * p->bias / p->rq unused: they are in the stream) and bit-exact with it.
 *
 * Channel pairs: (c, c+2) and (c+1, c+3) of every group of 4 channels c = 0, 4, ... (the two halves of
 * an SXTB16 word), in that order; below, a pair is (c, c').
 * Records: every input row the kernel needs is expanded ONCE (ring of 3 rows in scratch, slot = row
 * mod 3) into one record per output column ox and pair of channels (c, c'): 3 words of int16 pairs
 *   (x[ix][c], x[ix+1][c]), (x[ix][c'], x[ix+1][c']), (x[ix+2][c], x[ix+2][c'])
 * with ix = ox*stride_w - pad_left (columns outside the input read the input zero point, exact because
 * the input offset is folded into the bias); the third word is SXTB16 (ROR #8) of column ix+2 itself. A
 * 3-tap row of 2 channels is then LDM record, LDM weights, 2 SMLAD + SMLABB + SMLATT: 6 MACs per 6
 * instructions.
 *
 * stream (int32, built by the generator, codegen/ops/_dw_pair.py pack_dw_pair), per pair of channels:
 *   bias(c), bias(c'), then per kernel row ky: (w[ky][0][c], w[ky][1][c]), (w[ky][0][c'], w[ky][1][c']),
 *   (w[ky][2][c], w[ky][2][c']) as int16 pairs (low half first): 11 words; with fast != 0 also
 *   m(c), b(c), r(c), m(c'), b(c'), r(c') (17 words), where bias and weights are doubled (the
 *   << 1 of uaot_rq_smmulr, exact by the generator's fast_requant_ok bound), m, r, b = rq_table's
 *   mult, r, bias; the last pair's r(c') has bit 8 set (ends the asm loop; shifts use bits 0..7);
 *   and when [act_min, act_max] is not [-128, 127], after the second pair of every 4 channels, the word
 *   {act_min x 4 bytes} and, when act_max < 127, {act_max x 4 bytes}. fast == 0: accumulators requantized with p->mult / p->shift (uaot_requant_out).
 *   Cortex-M4 (fast): per 2 pairs of channels 36 MACs + 4 outputs in 55 instructions when
 *   act_min >= output_offset (RELU, RELU6: no rounding sign, see uaot_dwp_pixel), else 59; clamped
 *   ranges: the 4 outputs packed into one word (BFI), clamped as 4 bytes (SSUB8 + SEL) and stored with one
 *   STR: 59 (clamped below, act_max == 127) / 61 (both sides) with the loop, + 4 with the sign (was 70); C % 8 == 0 and the full
 *   range: 4 pairs per loop iteration; expansion 14 instructions
 *   per 4 channels of a record row (16 with the loop, 15 when C % 8 == 0); the columns inside the input two per pass
 *   (24 instructions per 4 channels of 2 records at stride 1, 25 at stride 2).
 * cols: output columns per strip (>= 1; >= out_w = the whole row). The ring holds 3 rows of one strip;
 *   strips run one after the other (each input row expanded once per strip), except in place with
 *   cols < out_w: then output rows must be written in order, and each (row, strip) expands its 3 rows.
 * mode: 0 = separate input/output; 1 / 2 = in place, output rows written top to bottom / bottom to top
 *   (the planner's rows_fwd / rows_bwd placement, checked per row as conv_rows.c does: UAOT_ERR_ARG).
 *   An output row only overwrites input rows that no later output row reads, so reading each input row
 *   when it is expanded is safe.
 * scratch: uaot_dw3x3_s8_pair_scratch_size(p, cols) = UAOT_DW_PAIR_SCRATCH(C, min(cols, out_w)) bytes,
 *   4-aligned: 3 ring rows of cols * Cp/2 records of 12 bytes, then Cp bytes of the input zero point (the
 *   columns outside the input), then when C % 4 != 0 Cp bytes (a pixel's outputs / the last input column). scratch_size: its size; with UAOT_CHECKS a shorter one returns
 *   UAOT_ERR_SCRATCH before anything is written. */
#ifndef MICROAOT_KERNELS_DW_FAST_H
#define MICROAOT_KERNELS_DW_FAST_H

#include <stdint.h>

#include "microaot/kernels/conv.h"
#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UAOT_DW_PAIR_CP(C) (((C) + 3) / 4 * 4)
#define UAOT_DW_PAIR_SCRATCH(C, COLS) (18 * UAOT_DW_PAIR_CP(C) * (COLS) + UAOT_DW_PAIR_CP(C) * ((C) % 4 != 0 ? 2 : 1))

static inline uint32_t uaot_dw3x3_s8_pair_scratch_size(const uaot_conv_s8_params_t *p, int32_t cols)
{
    return (uint32_t)UAOT_DW_PAIR_SCRATCH(p->in_c, cols > 0 && cols < p->out_w ? cols : p->out_w);
}
uaot_status_t uaot_dw3x3_s8_pair(const uaot_conv_s8_params_t *p, const int8_t *input, const int32_t *stream,
                                 int8_t *output, uint8_t *scratch, uint32_t scratch_size, int32_t cols, int32_t fast,
                                 int32_t mode);

#ifdef __cplusplus
}
#endif
#endif
