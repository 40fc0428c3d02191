/* microaot kernels: TFLM's signal-library spectral operators (custom operators SignalWindow,
 * SignalFftAutoScale, SignalRfft, SignalIrfft, SignalEnergy, SignalFilterBank,
 * SignalFilterBankSquareRoot, SignalFilterBankLog, SignalFilterBankSpectralSubtraction), bit-exact
 * with TFLM's signal/src integer algorithms and its KISS FFT (int16, int32 and float32 variants).
 *
 * The FFT tables (KISS FFT factors, twiddles and the real-FFT "super twiddles") are computed by the
 * code generator exactly as kiss_fft_alloc / kiss_fftr_alloc compute them, and passed as constants. */
#ifndef MICROAOT_KERNELS_SIGNAL_SPECTRAL_H
#define MICROAOT_KERNELS_SIGNAL_SPECTRAL_H

#include <stdint.h>

#include "microaot/status.h"

typedef struct {
    int32_t size;        /* elements of the input (a multiple of weight_size) */
    int32_t weight_size; /* elements of the window */
    int32_t shift;       /* right shift of input * weight */
} uaot_sig_window_params_t;

/* out[i] = clamp((in[i] * w[i % weight_size]) >> shift, int16). May run in place. */
uaot_status_t uaot_sig_window_s16(const uaot_sig_window_params_t *p, const int16_t *input, const int16_t *weights,
                                  int16_t *output);

/* TFLM FftAutoScale: out = in << s where s makes the largest magnitude use 15 bits; *scale_bits = s. */
uaot_status_t uaot_sig_fft_auto_scale_s16(int32_t size, const int16_t *input, int16_t *output, int32_t *scale_bits);

typedef struct {
    int32_t fft_length;         /* real FFT length N (even, N / 2 a product of 2, 3, 4, 5) */
    int32_t rows;               /* independent transforms */
    int32_t in_length;          /* RFFT: samples per input row (<= N, zero padded); IRFFT: complex bins per row */
    int32_t out_length;         /* RFFT: complex bins per output row (N / 2 + 1); IRFFT: samples per output row */
    int32_t num_factors;        /* pairs in factors */
    const int32_t *factors;     /* kf_factor(N / 2): radix p, remaining length m, ... */
    const void *twiddles;       /* N / 2 complex (re, im) of the scalar type: kiss_fft_alloc's */
    const void *super_twiddles; /* N / 4 complex: kiss_fftr_alloc's */
    int32_t inverse;            /* 1 for IRFFT tables */
} uaot_sig_fft_params_t;

/* Scratch bytes: RFFT 2 * N * sizeof(T) (the zero-padded row and the half-length complex FFT);
 * IRFFT N * sizeof(T). */
uaot_status_t uaot_sig_rfft_s16(const uaot_sig_fft_params_t *p, const int16_t *input, int16_t *output, void *scratch);
uaot_status_t uaot_sig_rfft_s32(const uaot_sig_fft_params_t *p, const int32_t *input, int32_t *output, void *scratch);
uaot_status_t uaot_sig_rfft_f32(const uaot_sig_fft_params_t *p, const float *input, float *output, void *scratch);
uaot_status_t uaot_sig_irfft_s16(const uaot_sig_fft_params_t *p, const int16_t *input, int16_t *output, void *scratch);
uaot_status_t uaot_sig_irfft_s32(const uaot_sig_fft_params_t *p, const int32_t *input, int32_t *output, void *scratch);
uaot_status_t uaot_sig_irfft_f32(const uaot_sig_fft_params_t *p, const float *input, float *output, void *scratch);

/* TFLM SpectrumToEnergy: out[i] = re^2 + im^2 for i in [start, end) (uint32, wrapping like TFLM);
 * the other outputs (TFLM leaves them unwritten) are set to 0. */
uaot_status_t uaot_sig_energy(int32_t out_size, int32_t start, int32_t end, const int16_t *input, uint32_t *output);

typedef struct {
    int32_t num_channels;
    const int16_t *weights;
    const int16_t *unweights;
    const int16_t *freq_starts;   /* num_channels + 1 */
    const int16_t *weight_starts; /* num_channels + 1 */
    const int16_t *widths;        /* num_channels + 1 */
} uaot_sig_filter_bank_params_t;

/* TFLM FilterbankAccumulateChannels (uint64 accumulation); scratch: (num_channels + 1) * 8 bytes. */
uaot_status_t uaot_sig_filter_bank(const uaot_sig_filter_bank_params_t *p, const uint32_t *input, uint64_t *output,
                                   void *scratch);

/* TFLM FilterbankSqrt: out[i] = Sqrt64(in[i]) >> (*scale_bits & 31). */
uaot_status_t uaot_sig_filter_bank_sqrt(int32_t n, const uint64_t *input, const int32_t *scale_bits, uint32_t *output);

/* TFLM FilterbankLog: out[i] = min(Log32(in[i] << correction_bits, output_scale), INT16_MAX), 0 for <= 1. */
uaot_status_t uaot_sig_filter_bank_log(int32_t n, uint32_t output_scale, uint32_t correction_bits,
                                       const uint32_t *input, int16_t *output);

typedef struct {
    int32_t num_channels;
    uint32_t smoothing, one_minus_smoothing;
    uint32_t alternate_smoothing, alternate_one_minus_smoothing;
    uint32_t min_signal_remaining;
    uint32_t smoothing_bits, spectral_subtraction_bits;
    int32_t clamping;
} uaot_sig_spectral_subtraction_params_t;

/* TFLM FilterbankSpectralSubtraction. ``state``: the noise estimate (num_channels uint32, persistent
 * across invocations, reset to 0); ``noise_out`` receives a copy of it (TFLM's second output). */
uaot_status_t uaot_sig_spectral_subtraction(const uaot_sig_spectral_subtraction_params_t *p, const uint32_t *input,
                                            uint32_t *output, uint32_t *noise_out, uint32_t *state);

#endif
