/* microaot kernels: UNIDIRECTIONAL_SEQUENCE_LSTM, bit-exact with TFLM's unidirectional_sequence_lstm
 * (lstm_eval.h EvalLstm: the standard LSTM without peephole, projection, CIFG or layer norm).
 *
 * Per time step (and per batch when the input is batch-major), gate order input, forget, cell, output:
 *   gate[g] = act_g(FC(x, w_in[g]) + bias[g] + FC(h, w_rec[g]))   act = sigmoid, cell gate: tanh/sigmoid
 *   c = forget * c + input * cell_gate   (clipped to +-cell_clip when cell_clip > 0)
 *   h = tanh(c) * output; the step's output row = h
 * float32 (reference_ops, activations from microaot/fmath.h), int8 (TFLM's 8x8->16: int8 activations and
 * hidden state, int16 cell state, int32 bias; gates in Q3.12 -> Q0.15) and 16x8 (int16 activations and
 * hidden state, int64 bias). Every integer stage requantizes as TFLM's reference_integer_ops (FullyConnected
 * into int16, saturating int16 adds, LUT sigmoid / tanh of microaot/kernels/act16.h, MulElementwise).
 *
 * hidden (batches x units) and cell (batches x units) are the operator's variable tensors: read and updated
 * in place, so consecutive calls continue the sequence. scratch: UAOT_LSTM_SCRATCH_CELLS(p) cells (float or
 * int16). Weights: w_in[g] [units, input_size], w_rec[g] [units, units], row-major. */
#ifndef MICROAOT_KERNELS_LSTM_H
#define MICROAOT_KERNELS_LSTM_H

#include <stdint.h>

#include "microaot/status.h"

#define UAOT_LSTM_ACT_TANH 0
#define UAOT_LSTM_ACT_SIGMOID 1
#define UAOT_LSTM_ACT_NONE 2 /* no activation: what TFLM's release build does for any other cell activation */

/* cells of scratch: four buffers of one step's gate outputs (all batches at once when time-major) */
#define UAOT_LSTM_SCRATCH_CELLS(p) (4 * ((p)->time_major ? (p)->batches : 1) * (p)->units)

typedef struct {
    int32_t batches, time_steps, input_size, units;
    int32_t time_major; /* input [time, batch, input_size] (1) or [batch, time, input_size] (0) */
    int32_t cell_act;   /* UAOT_LSTM_ACT_TANH, _SIGMOID or _NONE (the cell gate's activation) */
    float cell_clip;    /* > 0: the cell state is clipped to [-cell_clip, cell_clip] */
    /* float32 */
    const float *wf_in[4], *wf_rec[4], *bias_f[4];
    /* int8 / 16x8 */
    const int8_t *w_in[4], *w_rec[4];
    /* per gate and unit: the FC's bias + input offset (-zero point) x the weight row's sum (the recurrent FC:
     * no bias), modulo 2^32 for int8 (TFLM's int32 accumulator wraps alike), exact int64 for 16x8 */
    const int32_t *in_fold32[4], *rec_fold32[4];                /* int8 */
    const int64_t *in_fold64[4], *rec_fold64[4];                /* 16x8 */
    int32_t in_mult[4], in_shift[4], rec_mult[4], rec_shift[4]; /* the FCs into Q3.12 */
    int32_t fc_mult, fc_shift;                                  /* forget (Q0.15) x cell -> cell */
    int32_t ic_mult, ic_shift;                                  /* input (Q0.15) x cell gate (Q0.15) -> cell */
    int32_t out_mult, out_shift, out_zp, out_min, out_max;      /* tanh(cell) x output -> hidden */
    int32_t cell_tanh_mult, cell_tanh_shift;                    /* act16 parameters of tanh(cell) */
    int32_t cell_clip_q;                                        /* the clip in cell-state units */
} uaot_lstm_params_t;

uaot_status_t uaot_lstm_f32(const uaot_lstm_params_t *p, const float *input, float *output, float *hidden, float *cell,
                            float *scratch);
uaot_status_t uaot_lstm_s8(const uaot_lstm_params_t *p, const int8_t *input, int8_t *output, int8_t *hidden,
                           int16_t *cell, int16_t *scratch);
uaot_status_t uaot_lstm_s16(const uaot_lstm_params_t *p, const int16_t *input, int16_t *output, int16_t *hidden,
                            int16_t *cell, int16_t *scratch);

#endif
