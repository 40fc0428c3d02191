/* microaot kernels: TFLM's signal-library streaming operators, bit-exact with TFLM (signal/micro/kernels, signal/src):
 * SignalPCAN (stateless), SignalFramer, SignalStacker, SignalOverlapAdd, SignalDelay (operator-private state that
 * persists across NAME_run calls, reset by NAME_reset_state() as TFLM's Reset does).
 *
 * TFLM keeps a circular buffer per row; these kernels keep the same samples in a linear buffer (oldest first),
 * which gives the same outputs. State layouts (the generator sizes them with the *_state_size functions below):
 *   framer:  int32 count (samples buffered per row), then int16 rows[outer][capacity]
 *   stacker: int32 count, int32 has_first_frame, then int16 buffer[buffer_size]
 *   overlap_add: T rows[outer][frame_size]          (zeros at reset)
 *   delay:   int16 rows[outer][delay_length]          (zeros at reset)
 * A frame that is not complete (framer, stacker) leaves its output untouched and sets the valid flag to 0.
 * Outputs never overlap inputs (the generator does not run these in place). */
#ifndef MICROAOT_KERNELS_SIGNAL_STREAM_H
#define MICROAOT_KERNELS_SIGNAL_STREAM_H

#include <stdint.h>

#include "microaot/status.h"

typedef struct {
    int32_t num_channels; /* elements of input, noise estimate and output */
    int32_t snr_shift;
} uaot_pcan_params_t;

typedef struct {
    int32_t outer;      /* rows: all dims but the innermost */
    int32_t n_frames;   /* innermost input dim / frame_step */
    int32_t frame_size; /* samples per output frame */
    int32_t frame_step; /* samples consumed per frame */
    int32_t capacity;   /* per-row buffer: frame_size rounded up to a multiple of frame_step */
    int32_t prefill;    /* 1: frame_size - frame_step zeros buffered at reset */
} uaot_framer_params_t;

typedef struct {
    int32_t num_channels; /* input elements */
    int32_t left, right;  /* stacker_left_context, stacker_right_context */
    int32_t step;         /* stacker_step */
} uaot_stacker_params_t;

typedef struct {
    int32_t outer;      /* rows */
    int32_t n_frames;   /* frames per row */
    int32_t frame_size; /* input frame length */
    int32_t frame_step; /* output samples per frame */
} uaot_overlap_add_params_t;

typedef struct {
    int32_t outer;        /* rows */
    int32_t frame_size;   /* innermost dim */
    int32_t delay_length; /* samples of delay */
} uaot_delay_params_t;

static inline uint32_t uaot_framer_state_size(const uaot_framer_params_t *p)
{
    return 4u + 2u * (uint32_t)p->outer * (uint32_t)p->capacity;
}

static inline uint32_t uaot_stacker_state_size(const uaot_stacker_params_t *p)
{
    return 8u + 2u * (uint32_t)p->num_channels * (uint32_t)(p->left + p->right + 1);
}

static inline uint32_t uaot_overlap_add_state_size(const uaot_overlap_add_params_t *p, uint32_t elem_size)
{
    return elem_size * (uint32_t)p->outer * (uint32_t)p->frame_size;
}

static inline uint32_t uaot_delay_state_size(const uaot_delay_params_t *p)
{
    return 2u * (uint32_t)p->outer * (uint32_t)p->delay_length;
}

/* PCAN auto gain control (TFLM ApplyPcanAutoGainControlFixed); gain_lut holds at least 125 entries */
uaot_status_t uaot_pcan_u32(const uaot_pcan_params_t *p, const uint32_t *input, const uint32_t *noise_estimate,
                            const int16_t *gain_lut, uint32_t *output);

/* state: zeroed by NAME_reset_state() before these run */
uaot_status_t uaot_framer_reset(const uaot_framer_params_t *p, uint8_t *state);
uaot_status_t uaot_framer_s16(const uaot_framer_params_t *p, const int16_t *input, int16_t *output, uint8_t *valid,
                              uint8_t *state);
uaot_status_t uaot_stacker_s16(const uaot_stacker_params_t *p, const int16_t *input, int16_t *output, uint8_t *valid,
                               uint8_t *state);
uaot_status_t uaot_overlap_add_s16(const uaot_overlap_add_params_t *p, const int16_t *input, int16_t *output,
                                   uint8_t *state);
uaot_status_t uaot_overlap_add_f32(const uaot_overlap_add_params_t *p, const float *input, float *output,
                                   uint8_t *state);
uaot_status_t uaot_delay_s16(const uaot_delay_params_t *p, const int16_t *input, int16_t *output, uint8_t *state);

#endif
