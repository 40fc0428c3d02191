/* microaot kernels: row-by-row driver for in-place int8 CONV_2D / DEPTHWISE_CONV_2D (family conv_rows).
 *
 * uaot_conv_s8_rows runs `kernel` (any int8 conv kernel of the conv / conv_fast families, same
 * parameter struct) once per output row, with a copy of *p narrowed to that row (out_h = 1, the
 * input rows the row reads, pad_top adjusted), top to bottom (reverse = 0) or bottom to top
 * (reverse = 1). Output row oy only reads input rows S = oy*stride_h - pad_top .. S + (k_h-1)*dil_h,
 * so the output may overlap the input: it is correct as long as no output row overlaps an input row
 * that this or a later row still reads. The memory planner places the two tensors so (see
 * library/microaot/codegen/ops/_inplace.py); the driver checks it for every row and returns
 * UAOT_ERR_ARG, before writing that row, when it does not hold. Batch 1 only. filter, scratch and
 * scratch_size are passed to kernel as they are (kernel may ignore filter: the generated adapters use
 * their own; no kernel's scratch size depends on the height, so the whole tensor's holds for a row).
 * Bit-exact with `kernel` on the whole tensor: every output row is computed from the same input
 * bytes, padded taps included. */
#ifndef MICROAOT_KERNELS_CONV_ROWS_H
#define MICROAOT_KERNELS_CONV_ROWS_H

#include <stdint.h>

#include "microaot/kernels/conv.h"
#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uaot_status_t (*uaot_conv_s8_kernel_t)(const uaot_conv_s8_params_t *p, const int8_t *input,
                                               const int8_t *filter, int8_t *output, uint8_t *scratch,
                                               uint32_t scratch_size);

uaot_status_t uaot_conv_s8_rows(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                int8_t *output, uint8_t *scratch, uint32_t scratch_size, uaot_conv_s8_kernel_t kernel,
                                int32_t reverse);

#ifdef __cplusplus
}
#endif
#endif
