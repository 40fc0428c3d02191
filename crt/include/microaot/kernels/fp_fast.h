/* microaot kernels: float32 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED for cores with a
 * single-precision FPU (family fp_fast; Cortex-M4F, M7, M33), bit-identical with the generic kernels
 * uaot_conv2d_f32 / uaot_depthwise_conv2d_f32 / uaot_fully_connected_f32 and with TFLM's reference
 * kernels (same parameter structs).
 *
 * Every output keeps the generic summation order: acc = 0, acc += x * w over the taps (ky, kx, ic) in
 * increasing order (out-of-bounds taps skipped), then acc + bias, then the activation clamp. Each
 * product and each sum is rounded once (VMLA.F32, a chained multiply-accumulate, never the fused
 * VFMA): what TFLM computes with separate multiplies and adds. The speed comes from register blocking
 * (several outputs accumulate in S registers at once) and from loading 4-9 floats per VLDM; the loops over
 * channel blocks and over runs of pixels whose taps are all inside the input run in the asm (one call per
 * run). For NONE / RELU / RELU6 the clamp first checks that a block's sums are all finite (then NONE leaves
 * them, RELU / RELU6 clamp the bit patterns as signed integers); an inf or NaN takes the generic compare.
 * Without an FPU (or at -O0) the same blocked loops run in portable C.
 *
 * uaot_conv2d_f32_fpu: 9 taps in 3 rows of 3 contiguous floats (3x3 on 1 channel, 3x1 on 3) and out_c >= 8:
 *   the 9 taps in registers, 8 output channels per block (the last block overlapping the one before), runs
 *   of pixels per call, a tap row outside the input read as +0.0f, border pixels from a gathered patch.
 *   Else each output pixel's patch (k_h * k_w * in_c floats, taps outside the input as +0.0f) is gathered
 *   into scratch (read in place when contiguous), then 4 output channels at a time of 2 pixels run over it.
 *   Adding a +0.0f * w term leaves the sum unchanged (the accumulator starts at +0.0f, so it is never -0.0f)
 *   as long as w is finite: the generator picks this kernel only for finite filters.
 *   Scratch: uaot_conv2d_f32_fpu_scratch_size(p) bytes, 4-aligned.
 * uaot_depthwise_conv2d_f32_fpu: no scratch; any depth multiplier: blocks of 8 outputs at 2 pixels (one VLDM
 *   of 8 / dm input floats for dm 1, 2, 4, of one broadcast for multiples of 8, and of 8 weights per tap), a
 *   tail block of the last 1-7 outputs (out_c % 8; dm > 8: dm % 8 per input channel), blocks of dm outputs for
 *   dm 3, 5, 6, 7. The output pixels form rectangles with the same tap ranges (the rows / columns whose taps
 *   are all inside, each border row / column alone); a rectangle runs in one call as vertical pixel pairs
 *   down its columns or along its row pairs (an odd last row in horizontal pairs); a Kx1 kernel's rows
 *   loop as the taps of one row.
 * uaot_fully_connected_f32_fpu: batch 1: pairs of output rows, 8 inputs per VLDM; batch > 1: 4 output rows
 *   at 2 batch rows. */
#ifndef MICROAOT_KERNELS_FP_FAST_H
#define MICROAOT_KERNELS_FP_FAST_H

#include <stdint.h>

#include "microaot/kernels/conv.h"
#include "microaot/kernels/fully_connected.h"
#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Scratch of uaot_conv2d_f32_fpu: the patches of 2 pixels, k_h * k_w * in_c floats each. */
static inline uint32_t uaot_conv2d_f32_fpu_scratch_size(const uaot_conv_f32_params_t *p)
{
    return 8u * (uint32_t)(p->k_h * p->k_w * p->in_c);
}

/* bias may be NULL; filter must hold finite values only (see above); scratch 4-aligned, scratch_size
 * >= uaot_conv2d_f32_fpu_scratch_size(p) (UAOT_ERR_SCRATCH with UAOT_CHECKS). */
uaot_status_t uaot_conv2d_f32_fpu(const uaot_conv_f32_params_t *p, const float *input, const float *filter,
                                  const float *bias, float *output, uint8_t *scratch, uint32_t scratch_size);
/* bias may be NULL */
uaot_status_t uaot_depthwise_conv2d_f32_fpu(const uaot_conv_f32_params_t *p, const float *input, const float *filter,
                                            const float *bias, float *output);
/* bias may be NULL */
uaot_status_t uaot_fully_connected_f32_fpu(const uaot_fc_f32_params_t *p, const float *input, const float *filter,
                                           const float *bias, float *output);

#ifdef __cplusplus
}
#endif
#endif
