/* microaot kernels: schedule variants of int8 CONV_2D / DEPTHWISE_CONV_2D (family conv_fast).
 * Same parameter struct as the reference kernels (microaot/kernels/conv.h) and bit-exact with them;
 * the filter is in a packed layout the generator writes (below), scratch comes from the planner.
 *
 * uaot_conv2d_s8_gemm_c{1,2,3}[_w16]: im2col to int16 + mat-mult, 2 output channels x {1,2,3} pixels.
 *   K = k_h*k_w*in_c, Kp = K rounded up to 4 (weights padded with zeros).
 *   filter (int8): rows in pairs; pair r: for each group of 4 k: word of row 2r, word of row 2r+1;
 *     an odd last row: its Kp bytes. (w16: every int8 word w0..w3 becomes two int16 words
 *     (w0,w2),(w1,w3) -- the SXTB16 order.) K order: kernel rows of run = k_w*in_c bytes; the
 *     run/4 whole groups of every row, row by row, then the run%4 bytes left of every row, row by
 *     row (the natural order when run % 4 == 0; codegen/ops/_pack.py gemm_k_order).
 *   scratch: UAOT_CONV_GEMM_SCRATCH(K, in_c) bytes (c3: UAOT_CONV_GEMM3_SCRATCH), 4-aligned.
 * uaot_conv2d_s8_gemm_c3_wx: c3 with int8 filter, expanded to the w16 layout in scratch at each call
 *   (UAOT_CONV_GEMM3_WX_SCRATCH(K, in_c, out_c) bytes).
 *   Outputs are requantized straight from the accumulator registers; c3 with the rq table and the full
 *   int8 range runs every channel pair of a 3-pixel block in one asm (6 instructions per output).
 * uaot_conv2d_s8_x16_s{32,64,128}[_w16]: the gemm's packed weights (in_c % 4 == 0, so the natural K order)
 *   read against a ring of the k_h input rows expanded to int16 (no im2col): S = stride_w * in_c * 2 bytes
 *   (the entry point's number), (k_w * in_c) % 16 == 0, no dilation, out_w >= 3, k_h <= 16.
 *   scratch: UAOT_CONV_X16_SCRATCH(k_h, UAOT_DW_PADDED_W(out_w, stride_w, k_w, 1), k_w, in_c) bytes, 4-aligned.
 * uaot_depthwise_conv2d_s8_simd4: depth multiplier 1, 4 channels per step.
 *   filter: int16, G = ceil(out_c/4) groups; group g, tap t: words (w[4g],w[4g+2]), (w[4g+1],w[4g+3])
 *   at [(g*taps + t)*2], zeros beyond out_c. scratch: UAOT_DW_SIMD4_SCRATCH(C, k_h, UAOT_DW_PADDED_W(...)) bytes, 4-aligned.
 * Both requantize through p->rq (SMMULR) when the generator emitted it, else exactly as conv.c. */
#ifndef MICROAOT_KERNELS_CONV_FAST_H
#define MICROAOT_KERNELS_CONV_FAST_H

#include <stdint.h>

#include "microaot/kernels/conv.h"
#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UAOT_CONV_GEMM_KP(K) ((((K) + 3) / 4) * 4)
/* the int16 im2col columns (c1/c2: two, c3: three) + an int8 gather row when in_c % 4 != 0; the
 * outputs are requantized straight from the accumulators (no accumulator rows) */
#define UAOT_CONV_GEMM_GATHER(K, IN_C) ((IN_C) % 4 != 0 ? UAOT_CONV_GEMM_KP(K) : 0)
#define UAOT_CONV_GEMM_SCRATCH(K, IN_C) (4 * UAOT_CONV_GEMM_KP(K) + UAOT_CONV_GEMM_GATHER(K, IN_C))
#define UAOT_CONV_GEMM3_SCRATCH(K, IN_C) (6 * UAOT_CONV_GEMM_KP(K) + UAOT_CONV_GEMM_GATHER(K, IN_C))
/* c3_wx: then the weights expanded to the w16 layout (2 * out_c * Kp bytes) */
#define UAOT_CONV_GEMM3_WX_SCRATCH(K, IN_C, OUT_C) (UAOT_CONV_GEMM3_SCRATCH(K, IN_C) + 2 * (OUT_C)*UAOT_CONV_GEMM_KP(K))
/* padded input row width (pixels) of the depthwise kernel; scratch = accumulators + k_h padded rows */
#define UAOT_DW_PADDED_W(OUT_W, STRIDE_W, K_W, DIL_W) (((OUT_W)-1) * (STRIDE_W) + ((K_W)-1) * (DIL_W) + 1)
/* x16: the ring of k_h expanded input rows of PADDED_W pixels, then the columns of a 2-pixel block */
#define UAOT_CONV_X16_SCRATCH(K_H, PADDED_W, K_W, IN_C) (2 * (K_H) * (PADDED_W) * (IN_C) + 4 * (K_H) * (K_W) * (IN_C))
#define UAOT_DW_SIMD4_SCRATCH(C, K_H, PADDED_W) (4 * (C) + (((K_H) * (PADDED_W) * (C) + 3) / 4) * 4)

/* Every entry point takes its scratch with its size: scratch_size must be at least the entry point's
 * uaot_<entry point>_scratch_size(p) (below; the generator asks the planner for exactly that). With
 * UAOT_CHECKS a shorter buffer returns UAOT_ERR_SCRATCH before anything is written. */
static inline uint32_t uaot_conv2d_s8_gemm_c1_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_CONV_GEMM_SCRATCH(p->k_h * p->k_w * p->in_c, p->in_c);
}
uaot_status_t uaot_conv2d_s8_gemm_c1(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                     int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_conv2d_s8_gemm_c1_w16_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_CONV_GEMM_SCRATCH(p->k_h * p->k_w * p->in_c, p->in_c);
}
uaot_status_t uaot_conv2d_s8_gemm_c1_w16(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                         int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_conv2d_s8_gemm_c2_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_CONV_GEMM_SCRATCH(p->k_h * p->k_w * p->in_c, p->in_c);
}
uaot_status_t uaot_conv2d_s8_gemm_c2(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                     int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_conv2d_s8_gemm_c2_w16_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_CONV_GEMM_SCRATCH(p->k_h * p->k_w * p->in_c, p->in_c);
}
uaot_status_t uaot_conv2d_s8_gemm_c2_w16(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                         int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_conv2d_s8_gemm_c3_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_CONV_GEMM3_SCRATCH(p->k_h * p->k_w * p->in_c, p->in_c);
}
uaot_status_t uaot_conv2d_s8_gemm_c3(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                     int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_conv2d_s8_gemm_c3_w16_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_CONV_GEMM3_SCRATCH(p->k_h * p->k_w * p->in_c, p->in_c);
}
uaot_status_t uaot_conv2d_s8_gemm_c3_w16(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                         int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_conv2d_s8_gemm_c3_wx_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_CONV_GEMM3_WX_SCRATCH(p->k_h * p->k_w * p->in_c, p->in_c, p->out_c);
}
uaot_status_t uaot_conv2d_s8_gemm_c3_wx(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                        int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_conv2d_s8_x16_s32_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_CONV_X16_SCRATCH(p->k_h, UAOT_DW_PADDED_W(p->out_w, p->stride_w, p->k_w, 1), p->k_w, p->in_c);
}
uaot_status_t uaot_conv2d_s8_x16_s32(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                     int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_conv2d_s8_x16_s32_w16_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_CONV_X16_SCRATCH(p->k_h, UAOT_DW_PADDED_W(p->out_w, p->stride_w, p->k_w, 1), p->k_w, p->in_c);
}
uaot_status_t uaot_conv2d_s8_x16_s32_w16(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                         int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_conv2d_s8_x16_s64_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_CONV_X16_SCRATCH(p->k_h, UAOT_DW_PADDED_W(p->out_w, p->stride_w, p->k_w, 1), p->k_w, p->in_c);
}
uaot_status_t uaot_conv2d_s8_x16_s64(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                     int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_conv2d_s8_x16_s64_w16_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_CONV_X16_SCRATCH(p->k_h, UAOT_DW_PADDED_W(p->out_w, p->stride_w, p->k_w, 1), p->k_w, p->in_c);
}
uaot_status_t uaot_conv2d_s8_x16_s64_w16(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                         int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_conv2d_s8_x16_s128_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_CONV_X16_SCRATCH(p->k_h, UAOT_DW_PADDED_W(p->out_w, p->stride_w, p->k_w, 1), p->k_w, p->in_c);
}
uaot_status_t uaot_conv2d_s8_x16_s128(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                      int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_conv2d_s8_x16_s128_w16_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_CONV_X16_SCRATCH(p->k_h, UAOT_DW_PADDED_W(p->out_w, p->stride_w, p->k_w, 1), p->k_w, p->in_c);
}
uaot_status_t uaot_conv2d_s8_x16_s128_w16(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                          int8_t *output, uint8_t *scratch, uint32_t scratch_size);

static inline uint32_t uaot_depthwise_conv2d_s8_simd4_scratch_size(const uaot_conv_s8_params_t *p)
{
    return (uint32_t)UAOT_DW_SIMD4_SCRATCH(p->in_c, p->k_h, UAOT_DW_PADDED_W(p->out_w, p->stride_w, p->k_w, p->dil_w));
}
uaot_status_t uaot_depthwise_conv2d_s8_simd4(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                             int8_t *output, uint8_t *scratch, uint32_t scratch_size);

#ifdef __cplusplus
}
#endif
#endif
