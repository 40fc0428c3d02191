/* microaot kernels: schedule variants of int8 FULLY_CONNECTED (family fc_fast), bit-exact with
 * uaot_fully_connected_s8 (same parameter struct).
 *
 * uaot_fully_connected_s8_simd4[_w16]: the input row is expanded once to int16 (scratch), then 4 output
 * rows per step with SMLAD. Kp = in_features rounded up to 4 (weights padded with zeros).
 *   filter (int8): blocks of 4 rows; block r: for each group of 4 inputs, the word of each of the 4 rows;
 *     the last out_features % 4 rows one after the other (Kp bytes each).
 *   w16: every int8 word w0..w3 becomes the int16 words (w0,w2),(w1,w3).
 *   scratch: UAOT_FC_SIMD_SCRATCH(in_features) bytes, 4-aligned. */
#ifndef MICROAOT_KERNELS_FC_FAST_H
#define MICROAOT_KERNELS_FC_FAST_H

#include <stdint.h>

#include "microaot/kernels/fully_connected.h"
#include "microaot/status.h"

#define UAOT_FC_KP(K) ((((K) + 3) / 4) * 4)
#define UAOT_FC_SIMD_SCRATCH(K) (3 * UAOT_FC_KP(K))

uaot_status_t uaot_fully_connected_s8_simd4(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                            int8_t *output, uint8_t *scratch);
uaot_status_t uaot_fully_connected_s8_simd4_w16(const uaot_fc_s8_params_t *p, const int8_t *input,
                                                const int8_t *filter, int8_t *output, uint8_t *scratch);

#endif
