/* microaot kernels: UNIDIRECTIONAL_SEQUENCE_LSTM (microaot/kernels/lstm.h). */
#include "microaot/kernels/lstm.h"

#include <stddef.h>
#include <string.h>

#include "microaot/fmath.h"
#include "microaot/kernels/act16.h"
#include "microaot/qmath.h"
#include "microaot/qmath64.h"

enum { UAOT_LSTM_INPUT = 0, UAOT_LSTM_FORGET = 1, UAOT_LSTM_CELL = 2, UAOT_LSTM_OUTPUT = 3 };

static int16_t uaot_lstm_sat16(int32_t v)
{
    return (int16_t)uaot_clamp_i32(v, INT16_MIN, INT16_MAX);
}

/* ---- float32 ---------------------------------------------------------------------------------------- */

/* reference_ops::FullyConnected: the products summed in order, + bias (0 when none), range -FLT_MAX..FLT_MAX */
static UAOT_FMATH_NOCONTRACT void uaot_lstm_fc_f32(const float *x, int32_t rows, int32_t n_in, const float *w,
                                                   int32_t n_out, const float *bias, float *out)
{
    for (int32_t b = 0; b < rows; ++b) {
        for (int32_t o = 0; o < n_out; ++o) {
            float total = 0.0f;
            for (int32_t i = 0; i < n_in; ++i) {
                total += x[b * n_in + i] * w[o * n_in + i];
            }
            const float v = total + (bias != NULL ? bias[o] : 0.0f);
            out[b * n_out + o] =
                v < -3.402823466e+38f ? -3.402823466e+38f : (v > 3.402823466e+38f ? 3.402823466e+38f : v);
        }
    }
}

static UAOT_FMATH_NOCONTRACT float uaot_lstm_sigmoid_f32(float v)
{
    /* reference_ops::Logistic cut-offs */
    if (v > 16.619047164916992188f) {
        return 1.0f;
    }
    if (v < -9.0f) {
        return uaot_expf(v);
    }
    return 1.0f / (1.0f + uaot_expf(-v));
}

static UAOT_FMATH_NOCONTRACT void uaot_lstm_gate_f32(const uaot_lstm_params_t *p, int g, const float *x, const float *h,
                                                     int32_t rows, int act, float *out, float *tmp)
{
    const int32_t n = rows * p->units;
    uaot_lstm_fc_f32(x, rows, p->input_size, p->wf_in[g], p->units, p->bias_f[g], out);
    uaot_lstm_fc_f32(h, rows, p->units, p->wf_rec[g], p->units, NULL, tmp);
    for (int32_t i = 0; i < n; ++i) {
        const float v = out[i] + tmp[i];
        out[i] =
            act == UAOT_LSTM_ACT_SIGMOID ? uaot_lstm_sigmoid_f32(v) : (act == UAOT_LSTM_ACT_TANH ? uaot_tanhf(v) : v);
    }
}

static UAOT_FMATH_NOCONTRACT float uaot_lstm_clamp_f32(float v)
{
    return v < -3.402823466e+38f ? -3.402823466e+38f : (v > 3.402823466e+38f ? 3.402823466e+38f : v);
}

static UAOT_FMATH_NOCONTRACT void uaot_lstm_step_f32(const uaot_lstm_params_t *p, const float *x, float *h, float *c,
                                                     float *out, int32_t rows, float *scratch)
{
    const int32_t n = rows * p->units;
    float *b0 = scratch, *b1 = scratch + n, *b2 = scratch + 2 * n, *b3 = scratch + 3 * n;
    uaot_lstm_gate_f32(p, UAOT_LSTM_FORGET, x, h, rows, UAOT_LSTM_ACT_SIGMOID, b0, b3);
    uaot_lstm_gate_f32(p, UAOT_LSTM_INPUT, x, h, rows, UAOT_LSTM_ACT_SIGMOID, b1, b3);
    uaot_lstm_gate_f32(p, UAOT_LSTM_CELL, x, h, rows, p->cell_act, b2, b3);
    for (int32_t i = 0; i < n; ++i) {
        const float fc = uaot_lstm_clamp_f32(b0[i] * c[i]);
        const float ic = uaot_lstm_clamp_f32(b1[i] * b2[i]);
        float v = fc + ic;
        if (p->cell_clip > 0.0f) {
            v = v < p->cell_clip ? v : p->cell_clip;
            v = v > -p->cell_clip ? v : -p->cell_clip;
        }
        c[i] = v;
    }
    uaot_lstm_gate_f32(p, UAOT_LSTM_OUTPUT, x, h, rows, UAOT_LSTM_ACT_SIGMOID, b1, b3);
    for (int32_t i = 0; i < n; ++i) {
        h[i] = uaot_lstm_clamp_f32(uaot_tanhf(c[i]) * b1[i]);
    }
    memcpy(out, h, (size_t)n * sizeof(float));
}

/* ---- int8 (8x8->16) and 16x8 -------------------------------------------------------------------------- */

/* reference_integer_ops::FullyConnected into int16 (output offset 0, weights offset 0), its input offset folded
 * into the per-row constant `fold` (bias + offset * row sum): an int32 accumulator that wraps as TFLM's does
 * (int8; the same sum modulo 2^32) or int64 (16x8), requantized, clamped to int16 */
static void uaot_lstm_fc_q(const uaot_lstm_params_t *p, int is16, const void *xv, int32_t rows, int32_t n_in,
                           const int8_t *w, const void *fold, int32_t mult, int32_t shift, int16_t *out)
{
    for (int32_t b = 0; b < rows; ++b) {
        for (int32_t o = 0; o < p->units; ++o) {
            const int8_t *wr = w + o * n_in;
            int32_t v;
            if (is16) {
                const int16_t *x = (const int16_t *)xv + b * n_in;
                int64_t acc = ((const int64_t *)fold)[o];
                for (int32_t i = 0; i < n_in; ++i) {
                    acc += (int32_t)wr[i] * (int32_t)x[i];
                }
                v = uaot_mbqm64(acc, mult, (int)shift);
            } else {
                const int8_t *x = (const int8_t *)xv + b * n_in;
                uint32_t acc = (uint32_t)((const int32_t *)fold)[o];
                for (int32_t i = 0; i < n_in; ++i) {
                    acc += (uint32_t)((int32_t)wr[i] * (int32_t)x[i]);
                }
                v = uaot_mbqm(uaot_u2i(acc), mult, (int)shift);
            }
            out[b * p->units + o] = uaot_lstm_sat16(v);
        }
    }
}

static void uaot_lstm_gate_q(const uaot_lstm_params_t *p, int is16, int g, const void *x, const void *h, int32_t rows,
                             int act, int16_t *out, int16_t *tmp)
{
    const int32_t n = rows * p->units;
    const void *in_fold = is16 ? (const void *)p->in_fold64[g] : (const void *)p->in_fold32[g];
    const void *rec_fold = is16 ? (const void *)p->rec_fold64[g] : (const void *)p->rec_fold32[g];
    uaot_lstm_fc_q(p, is16, x, rows, p->input_size, p->w_in[g], in_fold, p->in_mult[g], p->in_shift[g], out);
    uaot_lstm_fc_q(p, is16, h, rows, p->units, p->w_rec[g], rec_fold, p->rec_mult[g], p->rec_shift[g], tmp);
    for (int32_t i = 0; i < n; ++i) {
        out[i] = uaot_lstm_sat16((int32_t)out[i] + tmp[i]);
    }
    /* Q3.12 in, Q0.15 out: TFLM's int16 Logistic / Tanh with input_multiplier 0, shift 0 (3 << 0) */
    const uaot_act16_params_t ap = {n, 3, 0};
    if (act == UAOT_LSTM_ACT_SIGMOID) {
        (void)uaot_logistic_s16(&ap, out, out);
    } else if (act == UAOT_LSTM_ACT_TANH) {
        (void)uaot_tanh_s16(&ap, out, out);
    }
}

/* reference_integer_ops::MulElementwise of two int16 vectors (offsets 0) */
static int32_t uaot_lstm_mul(int16_t a, int16_t b, int32_t mult, int32_t shift)
{
    return uaot_mbqm((int32_t)a * (int32_t)b, mult, (int)shift);
}

static void uaot_lstm_step_q(const uaot_lstm_params_t *p, int is16, const void *x, void *h, int16_t *c, void *out,
                             int32_t rows, int16_t *scratch)
{
    const int32_t n = rows * p->units;
    int16_t *b0 = scratch, *b1 = scratch + n, *b2 = scratch + 2 * n, *b3 = scratch + 3 * n;
    uaot_lstm_gate_q(p, is16, UAOT_LSTM_FORGET, x, h, rows, UAOT_LSTM_ACT_SIGMOID, b0, b3);
    uaot_lstm_gate_q(p, is16, UAOT_LSTM_INPUT, x, h, rows, UAOT_LSTM_ACT_SIGMOID, b1, b3);
    uaot_lstm_gate_q(p, is16, UAOT_LSTM_CELL, x, h, rows, p->cell_act, b2, b3);
    for (int32_t i = 0; i < n; ++i) {
        const int32_t fc = uaot_lstm_sat16(uaot_lstm_mul(b0[i], c[i], p->fc_mult, p->fc_shift));
        const int32_t ic = uaot_lstm_sat16(uaot_lstm_mul(b1[i], b2[i], p->ic_mult, p->ic_shift));
        int16_t v = uaot_lstm_sat16(fc + ic);
        if (p->cell_clip > 0.0f) {
            v = (int16_t)uaot_clamp_i32(v, -p->cell_clip_q, p->cell_clip_q);
        }
        c[i] = v;
    }
    uaot_lstm_gate_q(p, is16, UAOT_LSTM_OUTPUT, x, h, rows, UAOT_LSTM_ACT_SIGMOID, b1, b3);
    const uaot_act16_params_t tp = {n, p->cell_tanh_mult, p->cell_tanh_shift};
    (void)uaot_tanh_s16(&tp, c, b0);
    for (int32_t i = 0; i < n; ++i) {
        const int32_t v =
            uaot_clamp_i32(uaot_lstm_mul(b0[i], b1[i], p->out_mult, p->out_shift) + p->out_zp, p->out_min, p->out_max);
        if (is16) {
            ((int16_t *)h)[i] = (int16_t)v;
        } else {
            ((int8_t *)h)[i] = (int8_t)v;
        }
    }
    memcpy(out, h, (size_t)n * (is16 ? sizeof(int16_t) : sizeof(int8_t)));
}

/* ---- the sequence ------------------------------------------------------------------------------------ */

static int uaot_lstm_ok(const uaot_lstm_params_t *p, const void *input, const void *output, const void *hidden,
                        const void *cell, const void *scratch)
{
    return p != NULL && input != NULL && output != NULL && hidden != NULL && cell != NULL && scratch != NULL &&
           p->batches > 0 && p->time_steps > 0 && p->input_size > 0 && p->units > 0 && p->cell_tanh_mult >= 0 &&
           p->cell_tanh_mult <= 32767 && p->cell_tanh_shift >= 0 && p->cell_tanh_shift <= 31;
}

uaot_status_t uaot_lstm_f32(const uaot_lstm_params_t *p, const float *input, float *output, float *hidden, float *cell,
                            float *scratch)
{
    if (!uaot_lstm_ok(p, input, output, hidden, cell, scratch)) {
        return UAOT_ERR_ARG;
    }
    const int32_t I = p->input_size, S = p->units, B = p->batches, T = p->time_steps;
    if (p->time_major) {
        for (int32_t t = 0; t < T; ++t) {
            uaot_lstm_step_f32(p, input + t * B * I, hidden, cell, output + t * B * S, B, scratch);
        }
    } else {
        for (int32_t b = 0; b < B; ++b) {
            for (int32_t t = 0; t < T; ++t) {
                uaot_lstm_step_f32(p, input + (b * T + t) * I, hidden + b * S, cell + b * S, output + (b * T + t) * S,
                                   1, scratch);
            }
        }
    }
    return UAOT_OK;
}

static uaot_status_t uaot_lstm_q(const uaot_lstm_params_t *p, int is16, const void *input, void *output, void *hidden,
                                 int16_t *cell, int16_t *scratch)
{
    if (!uaot_lstm_ok(p, input, output, hidden, cell, scratch)) {
        return UAOT_ERR_ARG;
    }
    const size_t es = is16 ? sizeof(int16_t) : sizeof(int8_t);
    const int32_t I = p->input_size, S = p->units, B = p->batches, T = p->time_steps;
    const uint8_t *in8 = (const uint8_t *)input;
    uint8_t *out8 = (uint8_t *)output, *h8 = (uint8_t *)hidden;
    if (p->time_major) {
        for (int32_t t = 0; t < T; ++t) {
            uaot_lstm_step_q(p, is16, in8 + (size_t)(t * B * I) * es, hidden, cell, out8 + (size_t)(t * B * S) * es, B,
                             scratch);
        }
    } else {
        for (int32_t b = 0; b < B; ++b) {
            for (int32_t t = 0; t < T; ++t) {
                uaot_lstm_step_q(p, is16, in8 + (size_t)((b * T + t) * I) * es, h8 + (size_t)(b * S) * es, cell + b * S,
                                 out8 + (size_t)((b * T + t) * S) * es, 1, scratch);
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_lstm_s8(const uaot_lstm_params_t *p, const int8_t *input, int8_t *output, int8_t *hidden,
                           int16_t *cell, int16_t *scratch)
{
    return uaot_lstm_q(p, 0, input, output, hidden, cell, scratch);
}

uaot_status_t uaot_lstm_s16(const uaot_lstm_params_t *p, const int16_t *input, int16_t *output, int16_t *hidden,
                            int16_t *cell, int16_t *scratch)
{
    return uaot_lstm_q(p, 1, input, output, hidden, cell, scratch);
}
