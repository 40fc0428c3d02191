/* microaot kernels: TFLM signal-library streaming operators (PCAN, framer, stacker, overlap-add, delay), portable
 * C99, bit-exact with TFLM's signal/src and signal/micro/kernels. */
#include "microaot/kernels/signal_stream.h"

#include <stddef.h>
#include <string.h>

static int32_t uaot_sig_load_i32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void uaot_sig_store_i32(uint8_t *p, int32_t v)
{
    memcpy(p, &v, sizeof v);
}

/* number of significant bits of x (x > 0): TFLM MostSignificantBit32 */
static int32_t uaot_sig_msb32(uint32_t x)
{
    int32_t n = 0;
    while (x != 0u) {
        x >>= 1;
        ++n;
    }
    return n;
}

/* TFLM WideDynamicFunction: the gain of a noise estimate x, a piecewise quadratic read from the LUT */
static int16_t uaot_pcan_gain(uint32_t x, const int16_t *lut)
{
    int32_t interval;
    int32_t frac;
    int32_t result;
    if (x <= 2u) {
        return lut[x];
    }
    interval = uaot_sig_msb32(x);
    lut += 4 * interval - 6;
    frac = (int32_t)(((interval < 11) ? (x << (11 - interval)) : (x >> (interval - 11))) & 0x3FFu);
    result = ((int32_t)lut[2] * frac) >> 5;
    result += (int32_t)((uint32_t)lut[1] << 5);
    result = (int32_t)((uint32_t)result * (uint32_t)frac);
    result = (result + (1 << 14)) >> 15;
    result += lut[0];
    return (int16_t)result;
}

/* TFLM PcanShrink with kPcanSnrBits 12, kPcanOutputBits 6 */
static uint32_t uaot_pcan_shrink(uint32_t x)
{
    if (x < (2u << 12)) {
        return (x * x) >> (2 + 2 * 12 - 6);
    }
    return (x >> (12 - 6)) - (1u << 6);
}

uaot_status_t uaot_pcan_u32(const uaot_pcan_params_t *p, const uint32_t *input, const uint32_t *noise_estimate,
                            const int16_t *gain_lut, uint32_t *output)
{
    int32_t i;
    if (p == NULL || input == NULL || noise_estimate == NULL || gain_lut == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    for (i = 0; i < p->num_channels; ++i) {
        const uint32_t gain = (uint32_t)(int32_t)uaot_pcan_gain(noise_estimate[i], gain_lut);
        const uint32_t snr = (uint32_t)(((uint64_t)input[i] * gain) >> p->snr_shift);
        output[i] = uaot_pcan_shrink(snr);
    }
    return UAOT_OK;
}

uaot_status_t uaot_framer_reset(const uaot_framer_params_t *p, uint8_t *state)
{
    if (p == NULL || state == NULL) {
        return UAOT_ERR_ARG;
    }
    /* the rows are zero: the prefill is that many zeros already buffered */
    uaot_sig_store_i32(state, p->prefill ? p->frame_size - p->frame_step : 0);
    return UAOT_OK;
}

uaot_status_t uaot_framer_s16(const uaot_framer_params_t *p, const int16_t *input, int16_t *output, uint8_t *valid,
                              uint8_t *state)
{
    int32_t count0;
    int32_t count = 0;
    int32_t i;
    int32_t f;
    uint8_t ok = 1;
    if (p == NULL || input == NULL || output == NULL || valid == NULL || state == NULL) {
        return UAOT_ERR_ARG;
    }
    count0 = uaot_sig_load_i32(state);
    for (i = 0; i < p->outer; ++i) {
        int16_t *buf = (int16_t *)(void *)(state + 4) + (size_t)i * (size_t)p->capacity;
        count = count0;
        for (f = 0; f < p->n_frames; ++f) {
            const size_t frame = (size_t)i * (size_t)p->n_frames + (size_t)f;
            memcpy(buf + count, input + frame * (size_t)p->frame_step, (size_t)p->frame_step * sizeof(int16_t));
            count += p->frame_step;
            if (count >= p->frame_size) {
                memcpy(output + frame * (size_t)p->frame_size, buf, (size_t)p->frame_size * sizeof(int16_t));
                count -= p->frame_step;
                memmove(buf, buf + p->frame_step, (size_t)count * sizeof(int16_t));
            } else {
                /* TFLM leaves an incomplete frame unwritten (undefined); zeros keep every build identical */
                memset(output + frame * (size_t)p->frame_size, 0, (size_t)p->frame_size * sizeof(int16_t));
                ok = 0;
            }
        }
    }
    if (p->outer > 0) {
        uaot_sig_store_i32(state, count);
    }
    *valid = ok;
    return UAOT_OK;
}

uaot_status_t uaot_stacker_s16(const uaot_stacker_params_t *p, const int16_t *input, int16_t *output, uint8_t *valid,
                               uint8_t *state)
{
    const int32_t buffer_size = p != NULL ? p->num_channels * (p->left + p->right + 1) : 0;
    int16_t *buf = (int16_t *)(void *)(state + 8);
    int32_t count;
    int32_t k;
    if (p == NULL || input == NULL || output == NULL || valid == NULL || state == NULL) {
        return UAOT_ERR_ARG;
    }
    count = uaot_sig_load_i32(state);
    memcpy(buf + count, input, (size_t)p->num_channels * sizeof(int16_t));
    count += p->num_channels;
    if (uaot_sig_load_i32(state + 4) == 0) {
        /* the first frame is replicated left_context more times */
        for (k = 0; k < p->left; ++k) {
            memcpy(buf + count, input, (size_t)p->num_channels * sizeof(int16_t));
            count += p->num_channels;
        }
        uaot_sig_store_i32(state + 4, 1);
    }
    if (count >= buffer_size) {
        const int32_t step = p->num_channels * p->step;
        memcpy(output, buf, (size_t)buffer_size * sizeof(int16_t));
        count -= step;
        memmove(buf, buf + step, (size_t)count * sizeof(int16_t));
        *valid = 1;
    } else {
        /* TFLM leaves the output unwritten (undefined) here; zeros keep every build identical */
        memset(output, 0, (size_t)buffer_size * sizeof(int16_t));
        *valid = 0;
    }
    uaot_sig_store_i32(state, count);
    return UAOT_OK;
}

uaot_status_t uaot_overlap_add_s16(const uaot_overlap_add_params_t *p, const int16_t *input, int16_t *output,
                                   uint8_t *state)
{
    int32_t i;
    int32_t f;
    int32_t k;
    if (p == NULL || input == NULL || output == NULL || state == NULL) {
        return UAOT_ERR_ARG;
    }
    for (i = 0; i < p->outer; ++i) {
        int16_t *buf = (int16_t *)(void *)state + (size_t)i * (size_t)p->frame_size;
        for (f = 0; f < p->n_frames; ++f) {
            const size_t frame = (size_t)i * (size_t)p->n_frames + (size_t)f;
            const int16_t *x = input + frame * (size_t)p->frame_size;
            const int32_t keep = p->frame_size - p->frame_step;
            for (k = 0; k < p->frame_size; ++k) {
                const int32_t s = (int32_t)x[k] + (int32_t)buf[k];
                buf[k] = (int16_t)(s < INT16_MIN ? INT16_MIN : (s > INT16_MAX ? INT16_MAX : s));
            }
            memcpy(output + frame * (size_t)p->frame_step, buf, (size_t)p->frame_step * sizeof(int16_t));
            memmove(buf, buf + p->frame_step, (size_t)keep * sizeof(int16_t));
            memset(buf + keep, 0, (size_t)p->frame_step * sizeof(int16_t));
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_overlap_add_f32(const uaot_overlap_add_params_t *p, const float *input, float *output,
                                   uint8_t *state)
{
    int32_t i;
    int32_t f;
    int32_t k;
    if (p == NULL || input == NULL || output == NULL || state == NULL) {
        return UAOT_ERR_ARG;
    }
    for (i = 0; i < p->outer; ++i) {
        float *buf = (float *)(void *)state + (size_t)i * (size_t)p->frame_size;
        for (f = 0; f < p->n_frames; ++f) {
            const size_t frame = (size_t)i * (size_t)p->n_frames + (size_t)f;
            const float *x = input + frame * (size_t)p->frame_size;
            const int32_t keep = p->frame_size - p->frame_step;
            for (k = 0; k < p->frame_size; ++k) {
                buf[k] += x[k];
            }
            memcpy(output + frame * (size_t)p->frame_step, buf, (size_t)p->frame_step * sizeof(float));
            memmove(buf, buf + p->frame_step, (size_t)keep * sizeof(float));
            for (k = keep; k < p->frame_size; ++k) {
                buf[k] = 0.0f;
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_delay_s16(const uaot_delay_params_t *p, const int16_t *input, int16_t *output, uint8_t *state)
{
    int32_t i;
    if (p == NULL || input == NULL || output == NULL || (state == NULL && p->delay_length > 0)) {
        return UAOT_ERR_ARG;
    }
    for (i = 0; i < p->outer; ++i) {
        const size_t fs = (size_t)p->frame_size;
        const size_t d = (size_t)p->delay_length;
        const int16_t *x = input + (size_t)i * fs;
        int16_t *y = output + (size_t)i * fs;
        int16_t *buf = d > 0 ? (int16_t *)(void *)state + (size_t)i * d : NULL;
        if (d == 0) {
            memcpy(y, x, fs * sizeof(int16_t));
        } else if (fs >= d) {
            /* y = buf ++ x[0 .. fs-d); buf = x[fs-d .. fs) */
            memcpy(y + d, x, (fs - d) * sizeof(int16_t));
            memcpy(y, buf, d * sizeof(int16_t));
            memcpy(buf, x + (fs - d), d * sizeof(int16_t));
        } else {
            memcpy(y, buf, fs * sizeof(int16_t));
            memmove(buf, buf + fs, (d - fs) * sizeof(int16_t));
            memcpy(buf + (d - fs), x, fs * sizeof(int16_t));
        }
    }
    return UAOT_OK;
}
