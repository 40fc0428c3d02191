/* microaot kernels: int16 SOFTMAX (microaot/kernels/softmax16.h). */
#include "microaot/kernels/softmax16.h"

#include <stddef.h>

#include "microaot/qmath.h"

/* TFLM LUTLookup(int16): 512 segments of 128 values, linear interpolation with rounding */
static int16_t uaot_lut16(int16_t value, const int16_t *lut)
{
    const int32_t index = 256 + ((int32_t)value >> 7);
    const int32_t offset = (int32_t)value & 0x7F;
    const int32_t base = lut[index];
    const int32_t slope = (int32_t)lut[index + 1] - base;
    return (int16_t)(base + ((slope * offset + 64) >> 7));
}

static int uaot_clz32(uint32_t x)
{
    int n = 0;
    if (x == 0u) {
        return 32;
    }
    while ((x & 0x80000000u) == 0u) {
        x <<= 1;
        ++n;
    }
    return n;
}

uaot_status_t uaot_softmax_s16(const uaot_softmax16_params_t *p, const int16_t *input, int16_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->exp_lut == NULL || p->recip_lut == NULL || p->depth <= 0 ||
        p->depth > 65535) {
        return UAOT_ERR_ARG;
    }
    const int32_t depth = p->depth;
    for (int32_t i = 0; i < p->outer; ++i) {
        const int16_t *x = input + i * depth;
        int16_t *y = output + i * depth;
        int16_t max_in_row = INT16_MIN;
        for (int32_t c = 0; c < depth; ++c) {
            max_in_row = x[c] > max_in_row ? x[c] : max_in_row;
        }
        /* exp(x - max), kept in y (written only after every x of the row was read: in place is fine) */
        int32_t sum = 0;
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t scaled = uaot_mbqm((int32_t)x[c] - max_in_row, p->input_mult, (int)p->input_shift);
            const int16_t e = uaot_lut16((int16_t)uaot_clamp_i32(scaled + 32767, -32768, 32767), p->exp_lut);
            y[c] = e;
            sum += e;
        }
        const int hp1 = uaot_clz32((uint32_t)sum);
        const int32_t shifted = (int32_t)((((int64_t)sum << (hp1 - 1)) + (1 << 13)) >> 14);
        const int32_t sym = shifted - ((1 << 15) + (1 << 16));
        const int16_t recip = uaot_lut16((int16_t)uaot_clamp_i32(sym, -32768, 32767), p->recip_lut);
        const int right_shift = 31 - hp1;
        const int64_t round = (int64_t)1 << (right_shift - 1);
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t r = (int32_t)(((int64_t)y[c] * recip + round) >> right_shift);
            y[c] = (int16_t)uaot_clamp_i32(r, 0, 32767);
        }
    }
    return UAOT_OK;
}
