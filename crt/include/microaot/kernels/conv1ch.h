/* microaot kernels: int8 CONV_2D with ONE input channel (family conv1ch): keyword-spotting first layers
 * (MFCC 49x10x1, 10x4 stride 2), grayscale image stems.
 *
 * uaot_conv1ch_s8: any k_h x k_w, stride, dilation, padding, out_c, batches. Same parameter struct as the
 * reference kernel (microaot/kernels/conv.h; in_c must be 1; bias folded with the input offset); bit-exact
 * with it. p->bias / p->rq are not read: everything comes from the stream.
 *
 * The input lines an output row needs are expanded ONCE to int16 into a ring of Eo = (k_h - 1) * dil_h + 1
 * lines (stored twice, slots (line mod Eo) and (line mod Eo) + Eo, so that the Eo lines of an output row
 * are contiguous), padded with the input zero point (exact: the input offset is folded into the bias),
 * L = (out_w - 1) * stride_w + (k_w - 1) * dil_w + 2 values per line, rounded up to even (Ls).
 * The output pixel's K = k_h * k_w taps form Kp int16 pairs ("k-pairs", one 32-bit word each), in this
 * order: for every kernel row ky the pairs (kx, kx+1), kx = 0, 2, ..; then, when k_w is odd, the last
 * column (kx = k_w - 1) of rows (0, 1), (2, 3), .., an odd k_h leaving the last one with a zero-weight half:
 *   Kp = k_h * (k_w / 2) + (k_h * (k_w % 2) + 1) / 2.
 * The pixel's patch (Kp words) is reused by every output channel: one SMLAD per k-pair and channel.
 *
 * Two paths (the generator packs the stream for the one the kernel takes, uaot_conv1ch_fast3):
 * - 3x3, dil_w == 1 ("fast3", Kp = 5): the patch is loaded into 5 registers straight from the ring
 *   (8 instructions per pixel) and every output channel costs LDM (bias + 5 weights), 5 SMLAD, LDM of its
 *   requantization words, SMMLAR, ASR, SSAT (s added when needed, see below).
 *   4 output channels are packed into one word (SSAT, BFI), clamped as 4 bytes (SSUB8 + SEL) and stored
 *   with one STR: 12 instructions per output channel with a ReLU range.
 *   Stream, per output channel: 2*bias, the 5 weight words, {m, B, r | flag << 8}; after every 4th channel
 *   {lo x 4 bytes} (when lo > -128 or hi < 127) and {hi x 4 bytes} (when hi < 127).
 * - otherwise ("generic"): the patch is built into scratch (Kp4 = Kp rounded up to a multiple of 4 words,
 *   zero padded); output channels in pairs (out_c rounded up to even with a zero channel), 4 k-pairs per
 *   step (LDM of the patch, LDM of each channel's 4 weights, 8 SMLAD).
 *   Stream, per channel pair: 2*bias0, 2*bias1, per 4 k-pairs: channel 0's 4 weight words, channel 1's;
 *   then {m0, b0, rw0, (hw0), m1, b1, rw1, (hw1)}.
 * Weight words hold 2 * w (int16 pairs, low half = first tap of the k-pair) when the stream is "fast",
 * w when not (then mult / shift are read and the requantization is TFLM's, portable C).
 * generic requantization words (fast, ops/_pack.py rq_table {m, l1 = 1, r, B}): m; b = B - lo * 2^r (b = B when
 * the range is the full int8 range); rw = r | flag << 8 | lo << 24 (flag: the asm loop ends after this
 * channel / pair); hw = hi - lo. With y = SMMULR(2 * acc, m) and s = -1 when acc < 0 and lo < out offset
 * (else 0, see dw_fast.c): full range: out = SSAT8((y + b + s) >> r); else t = USAT8((y + b + s) >> r)
 * (= clamp(v - lo, 0, 255)), min(t, hw) when hi < 127, out = SSAT8(t + lo). Constant channels (m = 0): zero
 * weights and bias, B = 1 + 2q (rq_table).
 * Stream channels are padded with zero channels to whole groups (fast3: a multiple of 4, generic: of 2); the
 * flag is on the last channel / pair. The asm writes whole groups: the bytes past out_c land on the next
 * pixel's outputs, which are written after them; the call's last pixel goes through a scratch buffer.
 * fast3 with out_c % 4 == 0 runs a whole output row per asm call.
 *
 * scratch: uaot_conv1ch_s8_scratch_size(p) bytes, 4-aligned: the ring (2 * Eo * Ls int16),
 * 2 * Kp int32 tap offsets, the patch (Kp4 words), one word after it (the patch address), then out_c bytes
 * rounded up to 4 (the last pixel's outputs). */
#ifndef MICROAOT_KERNELS_CONV1CH_H
#define MICROAOT_KERNELS_CONV1CH_H

#include <stdint.h>

#include "microaot/kernels/conv.h"
#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the kernel takes the 3x3 register-patch path */
static inline int32_t uaot_conv1ch_fast3(const uaot_conv_s8_params_t *p)
{
    return p->k_h == 3 && p->k_w == 3 && p->dil_w == 1;
}

/* Kp: the k-pairs of a patch */
static inline int32_t uaot_conv1ch_kp(const uaot_conv_s8_params_t *p)
{
    return p->k_h * (p->k_w / 2) + (p->k_h * (p->k_w % 2) + 1) / 2;
}

/* Kp4: the patch words (Kp rounded up to a multiple of 4; fast3: 8, only 5 used) */
static inline int32_t uaot_conv1ch_kp4(const uaot_conv_s8_params_t *p)
{
    return (uaot_conv1ch_kp(p) + 3) / 4 * 4;
}

/* Ls: int16 values per ring line */
static inline int32_t uaot_conv1ch_line(const uaot_conv_s8_params_t *p)
{
    const int32_t l = (p->out_w - 1) * p->stride_w + (p->k_w - 1) * p->dil_w + 2;
    return (l + 1) / 2 * 2;
}

static inline uint32_t uaot_conv1ch_s8_scratch_size(const uaot_conv_s8_params_t *p)
{
    const int32_t eo = (p->k_h - 1) * p->dil_h + 1;
    return (uint32_t)(4 * eo * uaot_conv1ch_line(p) + 8 * uaot_conv1ch_kp(p) + 4 * uaot_conv1ch_kp4(p) + 4 +
                      (p->out_c + 3) / 4 * 4);
}

/* stream: the int32 words described above; fast: 1 when the stream is the fast one (p->mult / p->shift
 * unused), 0: p->mult and p->shift are read */
uaot_status_t uaot_conv1ch_s8(const uaot_conv_s8_params_t *p, const int8_t *input, const int32_t *stream,
                              int8_t *output, uint8_t *scratch, uint32_t scratch_size, int32_t fast);

#ifdef __cplusplus
}
#endif
#endif
