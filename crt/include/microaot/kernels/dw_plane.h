/* microaot kernels: int8 DEPTHWISE_CONV_2D with any depth multiplier and kernel shape, and CONV_2D with one
 * input channel, one input channel plane at a time (family dw_plane).
 *
 * uaot_dw_plane_s8: in_c = C input channels, M = p->depth_mult output channels per input channel (out_c =
 * C * M; a CONV_2D with in_c == 1 is the case C = 1, M = out_c), any k_h x k_w, any stride, dilation 1 along
 * the paired axis. Same parameter struct as the reference kernel (microaot/kernels/conv.h: bias folded with
 * the input offset; p->rq or p->mult / p->shift) and bit-exact with it.
 *
 * Axes: the paired ("inner") axis is the width, except when k_w == 1 and k_h > 1 (Kx1 kernels): then the
 * height is the inner axis and the width the outer one (the plane is read transposed), so that a pair of
 * consecutive taps always lies along the longer kernel side. Below, Ko / Ki = kernel size along the outer /
 * inner axis, Kip = Ki rounded up to even, Oi = output size along the inner axis.
 *
 * For each input channel c, every input line (outer index) the kernel needs is expanded ONCE into a ring of
 * Eo = (Ko - 1) * dil_outer + 1 lines of int16 in scratch (line l in slot l mod Eo), padded on both sides with
 * the input zero point (exact: the input offset is folded into the bias), W = uaot_dw_plane_line(Oi, stride,
 * Ki) = (Oi rounded up to 4 - 1) * stride_inner + Kip values per line, so that every block of 4 (M == 1) or 2
 * (M >= 2) output pixels reads inside its lines. An output pixel's taps along the inner axis are Kip / 2
 * consecutive int16 pairs of its line, multiplied with SMLAD by the pair of weights; at stride 1 and 2 the
 * pixels of a block share their input words (stride 2: pixel j, pair kp = word j + kp of the block).
 * M >= 2: output channels in pairs (m, m+1) x 2 output pixels along the inner axis. M == 1: 4 output pixels
 * of the channel per step. The requantization constants (p->rq) are loaded once per channel and line.
 *
 * filter (int16, built by the generator, ops/_dw_plane.py pack_dw_plane): M == 1: for every channel c, every
 * outer tap ko and every inner tap pair kp the word (w[c][ko][2kp], w[c][ko][2kp+1]): C * Ko * Kip int16.
 * M >= 2: for every input channel c, every pair of its output channels (c*M + m, c*M + m + 1) (m even; an odd
 * M gets a zero channel), every outer tap ko and every inner tap pair kp: the words (w[m][ko][2kp],
 * w[m][ko][2kp+1]), (w[m+1][ko][2kp], ...): C * ceil(M/2) * Ko * Kip * 2 int16. The inner tap Ki of an odd Ki
 * is 0.
 * scratch: uaot_dw_plane_s8_scratch_size(p) = UAOT_DW_PLANE_SCRATCH(Eo, W, G, A) bytes, 4-aligned: Eo line tags,
 *   the A = uaot_dw_plane_acc(Oi, M) int32 sums of an output line, then the ring of Eo slots of G =
 *   uaot_dw_plane_group(C) lines of W (rounded up to even) int16. scratch_size: its size; with UAOT_CHECKS a
 *   shorter one returns UAOT_ERR_SCRATCH first. Ko <= UAOT_DW_PLANE_MAX_KO. */
#ifndef MICROAOT_KERNELS_DW_PLANE_H
#define MICROAOT_KERNELS_DW_PLANE_H

#include <stdint.h>

#include "microaot/kernels/conv.h"
#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UAOT_DW_PLANE_MAX_KO 32 /* kernel taps along the outer axis */
#define UAOT_DW_PLANE_SCRATCH(EO, W, G, ACC) (4 * (EO) + 4 * (ACC) + 2 * (EO) * (G) * ((((W) + 1) / 2) * 2))

/* the int32 accumulators of an output line: Oi rounded up to 4 (M == 1), 2 per pixel (Oi rounded up to even)
 * per channel pair (M >= 2) */
static inline int32_t uaot_dw_plane_acc(int32_t oi, int32_t m)
{
    return m == 1 ? (oi + 3) / 4 * 4 : (m + 1) / 2 * 2 * ((oi + 1) / 2 * 2);
}

/* G: the input channels expanded together (min(C, 4)) */
static inline int32_t uaot_dw_plane_group(int32_t c)
{
    return c < 4 ? c : 4;
}

/* 1 when the plane is read transposed (Kx1 kernels: the height is the paired axis) */
static inline int32_t uaot_dw_plane_transposed(const uaot_conv_s8_params_t *p)
{
    return p->k_w == 1 && p->k_h > 1;
}

/* W: the int16 values of an expanded line (the output line rounded up to 4 pixels) */
static inline int32_t uaot_dw_plane_line(int32_t oi, int32_t si, int32_t ki)
{
    return ((oi + 3) / 4 * 4 - 1) * si + ((ki + 1) / 2) * 2;
}

static inline uint32_t uaot_dw_plane_s8_scratch_size(const uaot_conv_s8_params_t *p)
{
    const int32_t t = uaot_dw_plane_transposed(p);
    const int32_t ko = t ? p->k_w : p->k_h, ki = t ? p->k_h : p->k_w;
    const int32_t dil_o = t ? p->dil_w : p->dil_h;
    const int32_t oi = t ? p->out_h : p->out_w, si = t ? p->stride_h : p->stride_w;
    const int32_t eo = (ko - 1) * dil_o + 1;
    return (uint32_t)UAOT_DW_PLANE_SCRATCH(eo, uaot_dw_plane_line(oi, si, ki), uaot_dw_plane_group(p->in_c),
                                           uaot_dw_plane_acc(oi, p->in_c > 0 ? p->out_c / p->in_c : 1));
}

uaot_status_t uaot_dw_plane_s8(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                               int8_t *output, uint8_t *scratch, uint32_t scratch_size);

#ifdef __cplusplus
}
#endif
#endif
