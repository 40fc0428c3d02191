/* microaot kernels: int8 DEPTHWISE_CONV_2D with a one-dimensional kernel (Kx1 or 1xK), any depth multiplier
 * (family dw_small).
 *
 * uaot_dw_line_s8: k_h == 1 or k_w == 1, any K, any depth multiplier M (out_c = in_c * M), any stride,
 * dilation, padding, channel count, batch. Same parameter struct as the reference kernel
 * (microaot/kernels/conv.h; p->bias, p->mult / p->shift read only when p->rq == NULL, see below) and
 * bit-exact with it.
 *
 * The tap axis is the height for a Kx1 kernel (k_w == 1, k_h > 1), else the width; a "line" is one
 * position along the other axis (an input column for Kx1, an input row for 1xK). For every line and every
 * group of 4 output channels (oc = 4g .. 4g+3; the last group of an out_c >= 4 that is not a multiple of 4 is
 * oc = out_c - 4 .. out_c - 1, overlapping the group before it; an out_c < 4 is padded with zero weights and its
 * extra outputs are not stored), the kernel expands the Lp input positions
 * the line's outputs read (uaot_dw_line_positions: the padding included, reading the input zero point, exact
 * because the input offset is folded into the bias) ONCE into scratch as two SXTB16 words per position,
 * (x[oc0], x[oc2]) and (x[oc1], x[oc3]) (x[oc] = the input channel oc / M), then runs every output of the
 * line for those 4 channels: per tap one LDRD of the position, 4 single multiply-accumulates (SMLABB /
 * SMLATT) with the two weight words of the tap, then the 4 outputs requantized together and stored as one
 * word (SSUB8 + SEL clamp of the 4 bytes).
 *
 * filter (int32 words, built by the generator, ops/_dw_small.py pack_dw_line), per group g:
 *   bias[4] (the folded bias), then per tap k the int16 pairs (w[k][oc0], w[k][oc2]), (w[k][oc1], w[k][oc3]),
 *   and when p->rq != NULL ("fast": the generator proved the rq table exact, ops/_pack.py fast_requant_ok)
 *   12 more words {m, b, r} per channel (rq_table's mult, bias, r) with the bias and weights doubled (the
 *   << 1 of uaot_rq_smmulr, exact by the same bound) and a constant channel's weights and bias zeroed:
 *   4 + 2K (+ 12) words per group. With p->rq == NULL the accumulators go through p->mult / p->shift
 *   (uaot_requant_out). p->rq itself is not read (any non-NULL pointer selects the fast layout).
 * Groups are expanded and run in chunks of uaot_dw_line_chunk(p) (all, or as many as 2 KB hold): the full groups
 * of a chunk in one asm loop on Cortex-M (specialized for K = 2, 3, 4, 5, 7, 9, 10 without dilation; other
 * shapes and the exact requantization run in C).
 * The overlapping last group (out_c % 4 != 0) runs the same loop on its own (its outputs 4 - out_c % 4 channels
 * before the 4g step); with out_c < 4 it runs into a word per output after the chunk, then its bytes are copied.
 * K = 10, and 7, 9 with stride 1, without dilation (uaot_dw_line_pairs) expand every position as 4 words of int16 pairs of one
 * channel, (x[j], x[j+1]) for oc0, oc1, oc2, oc3, and their stream holds the taps in pairs (t, t+1) per channel
 * (an odd K's last tap alone, (w[oc0], w[oc1]), (w[oc2], w[oc3])): per 2 taps 2 LDRD of the position, 2 of the
 * weights, 4 SMLAD.
 * scratch: uaot_dw_line_s8_scratch_size(p) = min(B * Lp * groups, max(2048, B * Lp)) (B = 8, 16 with pairs;
 *   + 4 * the outputs of a line when out_c < 4) bytes, 4-aligned. scratch_size: its size; with
 *   UAOT_CHECKS a shorter one returns UAOT_ERR_SCRATCH before anything is written. */
#ifndef MICROAOT_KERNELS_DW_SMALL_H
#define MICROAOT_KERNELS_DW_SMALL_H

#include <stdint.h>

#include "microaot/kernels/conv.h"
#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the tap axis is the height (a Kx1 kernel) */
static inline int32_t uaot_dw_line_vertical(const uaot_conv_s8_params_t *p)
{
    return p->k_w == 1 && p->k_h > 1;
}

/* Lp: the input positions (padding included) the outputs of one line read */
static inline int32_t uaot_dw_line_positions(const uaot_conv_s8_params_t *p)
{
    const int32_t v = uaot_dw_line_vertical(p);
    const int32_t k = v ? p->k_h : p->k_w, s = v ? p->stride_h : p->stride_w, d = v ? p->dil_h : p->dil_w;
    const int32_t o = v ? p->out_h : p->out_w;
    return (o - 1) * s + (k - 1) * d + 1;
}

/* 1 when the taps run in pairs (K = 10, and K = 7, 9 with stride 1, without dilation; ops/_dw_small.py
 * line_pairs; a stride > 1 expands positions no output's pair starts at): every position
 * expanded as 4 words (x[j], x[j+1]) of channels oc0, oc1, oc2, oc3, 2 taps per SMLAD */
static inline int32_t uaot_dw_line_pairs(const uaot_conv_s8_params_t *p)
{
    const int32_t v = uaot_dw_line_vertical(p);
    const int32_t k = v ? p->k_h : p->k_w, d = v ? p->dil_h : p->dil_w, s = v ? p->stride_h : p->stride_w;
    return d == 1 && (k == 10 || ((k == 7 || k == 9) && s == 1));
}

/* the bytes of one group's expanded positions: 8 * Lp (16 * Lp with pairs) */
static inline int32_t uaot_dw_line_slot_bytes(const uaot_conv_s8_params_t *p)
{
    return (uaot_dw_line_pairs(p) ? 16 : 8) * uaot_dw_line_positions(p);
}

/* the bytes of expanded positions: a slot per group of 4 output channels, all groups when they fit in
 * UAOT_DW_LINE_CHUNK_BYTES, else max(UAOT_DW_LINE_CHUNK_BYTES, one slot) (non-decreasing in Lp: the in-place row
 * driver's narrowed calls, with fewer positions, never need more than the whole call) */
#define UAOT_DW_LINE_CHUNK_BYTES 2048
static inline int32_t uaot_dw_line_ring_bytes(const uaot_conv_s8_params_t *p)
{
    const int32_t one = uaot_dw_line_slot_bytes(p), all = one * ((p->out_c + 3) / 4);
    const int32_t cap = one > UAOT_DW_LINE_CHUNK_BYTES ? one : UAOT_DW_LINE_CHUNK_BYTES;
    return all < cap ? all : cap;
}

/* groups of 4 output channels expanded and run together: as many as the ring bytes hold (at least one) */
static inline int32_t uaot_dw_line_chunk(const uaot_conv_s8_params_t *p)
{
    return uaot_dw_line_ring_bytes(p) / uaot_dw_line_slot_bytes(p);
}

static inline uint32_t uaot_dw_line_s8_scratch_size(const uaot_conv_s8_params_t *p)
{
    const int32_t o = uaot_dw_line_vertical(p) ? p->out_h : p->out_w; /* outputs of a line */
    return (uint32_t)(uaot_dw_line_ring_bytes(p) + (p->out_c < 4 ? 4 * o : 0));
}
uaot_status_t uaot_dw_line_s8(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter, int8_t *output,
                              uint8_t *scratch, uint32_t scratch_size);

#ifdef __cplusplus
}
#endif
#endif
