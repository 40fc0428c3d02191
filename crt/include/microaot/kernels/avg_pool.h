/* microaot kernels: AVERAGE_POOL_2D (NHWC). int8 = TFLM reference (rounded integer average), bit-exact.
 *
 * uaot_avg_pool_s8: per output pixel, blocks of 16 channels summed over the window with channels innermost
 * (one 32-bit load per 4 channels, SXTAB16 into int16-pair sums, widened to int32 every 256 taps), then one
 * division per channel; no scratch, ~360 B of stack (Cortex-M4 -O2). Cortex-M4: ~0.9 instructions per input element plus
 * ~9 per output channel (KWS global pool 25x5x64: 63,130 -> 8,215 instructions). Any target: the same code
 * on the portable SIMD emulation of microaot/simd.h.
 * uaot_avg_pool_f32: per channel, in TFLM's tap order. */
#ifndef MICROAOT_KERNELS_AVG_POOL_H
#define MICROAOT_KERNELS_AVG_POOL_H

#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t act_min, act_max;   /* int8 */
    float act_min_f, act_max_f; /* float32 */
} uaot_avg_pool_params_t;

uaot_status_t uaot_avg_pool_s8(const uaot_avg_pool_params_t *p, const int8_t *input, int8_t *output);
/* int16: per channel, int32 sums, TFLM's rounded division and clamp (reference_integer_ops::AveragePool) */
uaot_status_t uaot_avg_pool_s16(const uaot_avg_pool_params_t *p, const int16_t *input, int16_t *output);
uaot_status_t uaot_avg_pool_f32(const uaot_avg_pool_params_t *p, const float *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
