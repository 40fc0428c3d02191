/* microaot runtime: TFLM's MultiplyByQuantizedMultiplier for int64 accumulators (16x8 kernels and int16
 * BATCH_MATMUL): the multiplier reduced to 16 bits, one rounding shift (tensorflow/lite/kernels/internal/
 * common.cc; the same in its single- and double-rounding builds). x must lie in [-2^47, 2^47). */
#ifndef MICROAOT_QMATH64_H
#define MICROAOT_QMATH64_H

#include <stdint.h>

#include "microaot/qmath.h"

UAOT_INLINE int32_t uaot_mbqm64(int64_t x, int32_t multiplier, int shift)
{
    const int32_t reduced = multiplier < 0x7FFF0000 ? ((multiplier + (1 << 15)) >> 16) : 0x7FFF;
    const int total_shift = 15 - shift;
    const int64_t r = x * (int64_t)reduced + ((int64_t)1 << (total_shift - 1));
    return (int32_t)(r >> total_shift);
}

#endif
