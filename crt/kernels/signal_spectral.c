/* microaot kernels: TFLM signal-library spectral operators (see microaot/kernels/signal_spectral.h).
 * Each function follows the integer algorithm of TFLM's signal/src (window.cc, fft_auto_scale.cc,
 * energy.cc, filter_bank*.cc, square_root_*.cc, log.cc) and of the KISS FFT it builds; the
 * arithmetic that wraps or shifts by a register count in TFLM's build wraps here too, without
 * undefined behaviour. */
#include "microaot/kernels/signal_spectral.h"

#include <stddef.h>
#include <string.h>

#include "microaot/fmath.h"

/* ---- KISS FFT, one instance per scalar type ---------------------------------------------------- */

#define KF_T int16_t
#define KF_FN(name) uaot_kf16_##name
#define KF_FIXED 1
#define KF_PROD int32_t
#define KF_FRACBITS 15
#define KF_SAMP_MAX 32767
#define KF_ATTR
#include "microaot/kernels/signal_kiss_impl.h"
#undef KF_T
#undef KF_FN
#undef KF_FIXED
#undef KF_PROD
#undef KF_FRACBITS
#undef KF_SAMP_MAX
#undef KF_ATTR

#define KF_T int32_t
#define KF_FN(name) uaot_kf32_##name
#define KF_FIXED 1
#define KF_PROD int64_t
#define KF_FRACBITS 31
#define KF_SAMP_MAX 2147483647
#define KF_ATTR
#include "microaot/kernels/signal_kiss_impl.h"
#undef KF_T
#undef KF_FN
#undef KF_FIXED
#undef KF_PROD
#undef KF_FRACBITS
#undef KF_SAMP_MAX
#undef KF_ATTR

#define KF_T float
#define KF_FN(name) uaot_kff_##name
#define KF_FIXED 0
#define KF_ATTR UAOT_FMATH_NOCONTRACT
#include "microaot/kernels/signal_kiss_impl.h"
#undef KF_T
#undef KF_FN
#undef KF_FIXED
#undef KF_ATTR

uaot_status_t uaot_sig_rfft_s16(const uaot_sig_fft_params_t *p, const int16_t *input, int16_t *output, void *scratch)
{
    return uaot_kf16_rfft(p, input, output, scratch);
}

uaot_status_t uaot_sig_rfft_s32(const uaot_sig_fft_params_t *p, const int32_t *input, int32_t *output, void *scratch)
{
    return uaot_kf32_rfft(p, input, output, scratch);
}

uaot_status_t uaot_sig_rfft_f32(const uaot_sig_fft_params_t *p, const float *input, float *output, void *scratch)
{
    return uaot_kff_rfft(p, input, output, scratch);
}

uaot_status_t uaot_sig_irfft_s16(const uaot_sig_fft_params_t *p, const int16_t *input, int16_t *output, void *scratch)
{
    return uaot_kf16_irfft(p, input, output, scratch);
}

uaot_status_t uaot_sig_irfft_s32(const uaot_sig_fft_params_t *p, const int32_t *input, int32_t *output, void *scratch)
{
    return uaot_kf32_irfft(p, input, output, scratch);
}

uaot_status_t uaot_sig_irfft_f32(const uaot_sig_fft_params_t *p, const float *input, float *output, void *scratch)
{
    return uaot_kff_irfft(p, input, output, scratch);
}

/* ---- window, auto scale, energy ---------------------------------------------------------------- */

uaot_status_t uaot_sig_window_s16(const uaot_sig_window_params_t *p, const int16_t *input, const int16_t *weights,
                                  int16_t *output)
{
    int32_t i, j;
    if (!p || !input || !weights || !output || p->weight_size <= 0) {
        return UAOT_ERR_ARG;
    }
    for (i = 0; i < p->size; i += p->weight_size) {
        for (j = 0; j < p->weight_size; ++j) {
            int32_t raw = ((int32_t)input[i + j] * weights[j]) >> p->shift;
            output[i + j] = (int16_t)(raw < INT16_MIN ? INT16_MIN : (raw > INT16_MAX ? INT16_MAX : raw));
        }
    }
    return UAOT_OK;
}

/* TFLM MostSignificantBit32 / 64 as built with GCC: width - clz(x), and the width for 0 */
static uint32_t uaot_sig_msb32(uint32_t x)
{
#if defined(__GNUC__)
    return x ? 32u - (uint32_t)__builtin_clz(x) : 32u;
#else
    uint32_t n = 0;
    if (x == 0) {
        return 32;
    }
    while (x) {
        x >>= 1;
        ++n;
    }
    return n;
#endif
}

static uint32_t uaot_sig_msb64(uint64_t x)
{
#if defined(__GNUC__)
    return x ? 64u - (uint32_t)__builtin_clzll(x) : 64u;
#else
    uint32_t n = 0;
    if (x == 0) {
        return 64;
    }
    while (x) {
        x >>= 1;
        ++n;
    }
    return n;
#endif
}

uaot_status_t uaot_sig_fft_auto_scale_s16(int32_t size, const int16_t *input, int16_t *output, int32_t *scale_bits)
{
    int16_t max = 0;
    int32_t i, bits;
    if (!input || !output || !scale_bits) {
        return UAOT_ERR_ARG;
    }
    for (i = 0; i < size; i++) {
        const int16_t v = input[i];
        if (v > max) {
            max = v;
        } else if (-(int32_t)v > max) {
            max = (int16_t)(-(int32_t)v); /* -(-32768) wraps to -32768 as in TFLM's int16 */
        }
    }
    bits = 16 - (int32_t)uaot_sig_msb32((uint32_t)(int32_t)max) - 1;
    if (bits <= 0) {
        bits = 0;
    }
    for (i = 0; i < size; i++) {
        output[i] = (int16_t)(uint16_t)((uint32_t)(int32_t)input[i] * (1u << bits));
    }
    *scale_bits = bits;
    return UAOT_OK;
}

uaot_status_t uaot_sig_energy(int32_t out_size, int32_t start, int32_t end, const int16_t *input, uint32_t *output)
{
    int32_t i;
    if (!input || !output || start < 0 || end > out_size) {
        return UAOT_ERR_ARG;
    }
    for (i = 0; i < out_size; i++) {
        if (i >= start && i < end) {
            const int32_t re = input[2 * i], im = input[2 * i + 1];
            output[i] = (uint32_t)(re * re) + (uint32_t)(im * im);
        } else {
            output[i] = 0;
        }
    }
    return UAOT_OK;
}

/* ---- filter bank and what follows it ----------------------------------------------------------- */

uaot_status_t uaot_sig_filter_bank(const uaot_sig_filter_bank_params_t *p, const uint32_t *input, uint64_t *output,
                                   void *scratch)
{
    uint64_t *work = (uint64_t *)scratch;
    uint64_t weight_acc = 0, unweight_acc = 0;
    int32_t i, j;
    if (!p || !input || !output || !scratch) {
        return UAOT_ERR_ARG;
    }
    for (i = 0; i < p->num_channels + 1; i++) {
        const int32_t freq_start = p->freq_starts[i];
        const int32_t weight_start = p->weight_starts[i];
        for (j = 0; j < p->widths[i]; ++j) {
            const uint64_t x = input[freq_start + j];
            weight_acc += (uint64_t)(int64_t)p->weights[weight_start + j] * x;
            unweight_acc += (uint64_t)(int64_t)p->unweights[weight_start + j] * x;
        }
        work[i] = weight_acc;
        weight_acc = unweight_acc;
        unweight_acc = 0;
    }
    memcpy(output, work + 1, (size_t)p->num_channels * sizeof(uint64_t));
    return UAOT_OK;
}

/* TFLM Sqrt32 */
static uint32_t uaot_sig_sqrt32(uint32_t num)
{
    uint32_t res = 0, bit;
    int32_t max_bit, iterations;
    if (num == 0) {
        return 0;
    }
    max_bit = 32 - (int32_t)uaot_sig_msb32(num);
    max_bit |= 1;
    bit = (uint32_t)1 << (31 - max_bit);
    iterations = (31 - max_bit) / 2 + 1;
    while (iterations--) {
        if (num >= res + bit) {
            num -= res + bit;
            res = (res >> 1U) + bit;
        } else {
            res >>= 1U;
        }
        bit >>= 2U;
    }
    if (num > res && res != 0xFFFF) {
        ++res;
    }
    return (uint16_t)res;
}

/* TFLM Sqrt64 */
static uint32_t uaot_sig_sqrt64(uint64_t num)
{
    uint64_t res = 0, bit;
    int32_t max_bit, iterations;
    if ((num >> 32) == 0) {
        return uaot_sig_sqrt32((uint32_t)num);
    }
    max_bit = 64 - (int32_t)uaot_sig_msb64(num);
    max_bit |= 1;
    bit = (uint64_t)1 << (63 - max_bit);
    iterations = (63 - max_bit) / 2 + 1;
    while (iterations--) {
        if (num >= res + bit) {
            num -= res + bit;
            res = (res >> 1U) + bit;
        } else {
            res >>= 1U;
        }
        bit >>= 2U;
    }
    if (num > res && res != 0xFFFFFFFFu) {
        ++res;
    }
    return (uint32_t)res;
}

uaot_status_t uaot_sig_filter_bank_sqrt(int32_t n, const uint64_t *input, const int32_t *scale_bits, uint32_t *output)
{
    int32_t i;
    uint32_t shift;
    if (!input || !scale_bits || !output) {
        return UAOT_ERR_ARG;
    }
    shift = (uint32_t)*scale_bits & 31u; /* TFLM's x86 build: the shift count modulo 32 */
    for (i = 0; i < n; ++i) {
        output[i] = uaot_sig_sqrt64(input[i]) >> shift;
    }
    return UAOT_OK;
}

static const uint16_t uaot_sig_log_lut[] = {
    0,    224,  442,  654,  861,  1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944, 3087, 3224,
    3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934, 5001, 5063,
    5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640,
    5641, 5638, 5633, 5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203,
    5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935,
    3848, 3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549, 2437, 2323, 2207, 2090, 1971,
    1851, 1729, 1605, 1480, 1353, 1224, 1094, 963,  830,  695,  559,  421,  282,  142,  0,    0};

/* TFLM Log32 (log2 by a 128-segment table, then to loge and the output scale; uint32 arithmetic) */
static uint32_t uaot_sig_log32(uint32_t x, uint32_t out_scale)
{
    const uint32_t integer = uaot_sig_msb32(x) - 1;
    int32_t frac = (int32_t)((int64_t)x - ((int64_t)1 << integer));
    uint32_t base_seg, log2, loge;
    int32_t c0, c1, seg_base, rel_pos;
    if (integer < 16) {
        frac = (int32_t)((uint32_t)frac << (16 - integer));
    } else {
        frac >>= integer - 16;
    }
    base_seg = (uint32_t)frac >> 9;
    c0 = uaot_sig_log_lut[base_seg];
    c1 = uaot_sig_log_lut[base_seg + 1];
    seg_base = (int32_t)(512u * base_seg);
    rel_pos = ((c1 - c0) * (frac - seg_base)) >> 16;
    log2 = (integer << 16) + (uint32_t)(frac + c0 + rel_pos);
    loge = (uint32_t)(((uint64_t)45426 * log2 + 32768u) >> 16);
    return (out_scale * loge + 32768u) >> 16;
}

uaot_status_t uaot_sig_filter_bank_log(int32_t n, uint32_t output_scale, uint32_t correction_bits,
                                       const uint32_t *input, int16_t *output)
{
    int32_t i;
    if (!input || !output) {
        return UAOT_ERR_ARG;
    }
    for (i = 0; i < n; ++i) {
        const uint32_t scaled = input[i] << (correction_bits & 31u);
        if (scaled > 1) {
            const uint32_t v = uaot_sig_log32(scaled, output_scale);
            output[i] = (int16_t)(v < (uint32_t)INT16_MAX ? v : (uint32_t)INT16_MAX);
        } else {
            output[i] = 0;
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_sig_spectral_subtraction(const uaot_sig_spectral_subtraction_params_t *p, const uint32_t *input,
                                            uint32_t *output, uint32_t *noise_out, uint32_t *state)
{
    int32_t i;
    uint32_t sb, ssb;
    if (!p || !input || !output || !noise_out || !state) {
        return UAOT_ERR_ARG;
    }
    sb = p->smoothing_bits & 31u;
    ssb = p->spectral_subtraction_bits & 63u;
    for (i = 0; i < p->num_channels; ++i) {
        const uint32_t smoothing = (i & 1) == 0 ? p->smoothing : p->alternate_smoothing;
        const uint32_t one_minus = (i & 1) == 0 ? p->one_minus_smoothing : p->alternate_one_minus_smoothing;
        const uint32_t x = input[i];
        const uint32_t scaled_up = x << sb;
        uint32_t estimate, floor_v, subtracted;
        state[i] = (uint32_t)(((uint64_t)scaled_up * smoothing + (uint64_t)state[i] * one_minus) >> ssb);
        estimate = state[i];
        if (estimate > scaled_up) {
            estimate = scaled_up;
            if (p->clamping) {
                state[i] = estimate;
            }
        }
        floor_v = (uint32_t)(((uint64_t)x * p->min_signal_remaining) >> ssb);
        subtracted = (scaled_up - estimate) >> sb;
        output[i] = subtracted > floor_v ? subtracted : floor_v;
    }
    memcpy(noise_out, state, (size_t)p->num_channels * sizeof(uint32_t));
    return UAOT_OK;
}
