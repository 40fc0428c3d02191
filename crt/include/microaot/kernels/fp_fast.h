/* microaot kernels: float32 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED for cores with a
 * single-precision FPU (family fp_fast; Cortex-M4F, M7, M33), bit-identical with the generic kernels
 * uaot_conv2d_f32 / uaot_depthwise_conv2d_f32 / uaot_fully_connected_f32 and with TFLM's reference
 * kernels (same parameter structs).
 *
 * Every output keeps the generic summation order: acc = 0, acc += x * w over the taps (ky, kx, ic) in
 * increasing order (out-of-bounds taps skipped), then acc + bias, then the activation clamp. Each
 * product and each sum is rounded once (VMLA.F32, a chained multiply-accumulate, never the fused
 * VFMA): what TFLM computes with separate multiplies and adds. The speed comes from register blocking
 * (several outputs accumulate in S registers at once: 4 output rows / channels of a pixel for CONV_2D
 * and FULLY_CONNECTED, 8 channels of a pixel for DEPTHWISE_CONV_2D) and from loading 4-8 floats per
 * VLDM. Without an FPU (or at -O0) the same blocked loops run in portable C.
 *
 * uaot_conv2d_f32_fpu: each output pixel's patch (k_h * k_w * in_c floats, taps outside the input as
 *   +0.0f) is gathered into scratch, then 4 output channels at a time run over it. Adding a +0.0f * w
 *   term leaves the sum unchanged (the accumulator starts at +0.0f, so it is never -0.0f) as long as w
 *   is finite: the generator picks this kernel only for finite filters.
 *   Scratch: uaot_conv2d_f32_fpu_scratch_size(p) bytes, 4-aligned.
 * uaot_depthwise_conv2d_f32_fpu: no scratch; depth multiplier 1: 8 channels per block (VLDM of input
 *   and weights); depth multiplier % 4 == 0: blocks of 8 or 4 outputs of one input channel (one input
 *   load per tap); other multipliers and the last channels: one output at a time.
 * uaot_fully_connected_f32_fpu: 4 output rows at a time over the input row, any batch. */
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
