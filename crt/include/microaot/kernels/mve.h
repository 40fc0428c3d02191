/* microaot kernels: Helium (M-profile Vector Extension, Cortex-M55/M85) int8 CONV_2D, DEPTHWISE_CONV_2D and
 * FULLY_CONNECTED (family mve, target cortex-m55). Same parameter structs as the reference kernels
 * (microaot/kernels/conv.h, fully_connected.h), the filters in TFLite's own layout, bit-exact with them:
 * the folded bias (bias + input_offset * sum(filter)) plus sum(x * w) accumulated modulo 2^32, then
 * TFLite's MultiplyByQuantizedMultiplier per channel in vector form (VQRDMULH = SaturatingRoundingDoublingHighMul,
 * a sign fix-up + VRSHL = RoundingDivideByPOT), + output offset, clamp.
 *
 * uaot_conv2d_s8_mve: im2col of one output pixel (K = k_h*k_w*in_c int8, out-of-bounds taps filled with the
 *   input zero point, so the folded bias stays exact) then 4 output channels per step with VMLADAVA.S8
 *   (16 MACs per instruction, the column loaded once for the 4 weight rows). A 1x1 convolution without
 *   padding reads the input pixel in place. scratch: UAOT_CONV_MVE_SCRATCH(K) bytes (0 for 1x1).
 * uaot_depthwise_conv2d_s8_mve: depth multiplier 1; 4 channels per step (VLDRB.S32, VMUL, VADD: MVE's VMLA
 *   takes a scalar), every tap in
 *   bounds in the interior, the zero-point taps of the border added as VMLA by the zero point. No scratch.
 * uaot_fully_connected_s8_mve: each batch row as a column, 4 outputs per step (as the conv). No scratch.
 * The p->rq table is ignored (never emitted for these kernels). Built without MVE (__ARM_FEATURE_MVE) the
 * functions return UAOT_ERR_UNSUPPORTED. */
#ifndef MICROAOT_KERNELS_MVE_H
#define MICROAOT_KERNELS_MVE_H

#include <stdint.h>

#include "microaot/kernels/conv.h"
#include "microaot/kernels/fully_connected.h"
#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* the im2col column of one output pixel, rounded up to whole 16-byte vectors */
#define UAOT_CONV_MVE_SCRATCH(K) ((((K) + 15) / 16) * 16)

/* the scratch uaot_conv2d_s8_mve needs for p: none for a 1x1 convolution without padding (read in place) */
static inline uint32_t uaot_conv2d_s8_mve_scratch_size(const uaot_conv_s8_params_t *p)
{
    if (p->k_h == 1 && p->k_w == 1 && p->pad_top == 0 && p->pad_left == 0) {
        return 0u;
    }
    return (uint32_t)UAOT_CONV_MVE_SCRATCH(p->k_h * p->k_w * p->in_c);
}

uaot_status_t uaot_conv2d_s8_mve(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                 int8_t *output, uint8_t *scratch, uint32_t scratch_size);
uaot_status_t uaot_depthwise_conv2d_s8_mve(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                           int8_t *output);
uaot_status_t uaot_fully_connected_s8_mve(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                          int8_t *output);

#ifdef __cplusplus
}
#endif
#endif
