/* microaot kernels: AVERAGE_POOL_2D (NHWC). Padded taps are not counted (TFLite semantics).
 *
 * int8 (see avg_pool.h): for each output pixel the channels are summed a block of up to 16 at a time
 * (4 words of 4 channels), channels innermost: one 32-bit load per 4 channels of a tap, added into two
 * int16-pair accumulators with SXTAB16 (even channels) and SXTAB16 ROR #8 (odd channels). A window of
 * whole input rows (global pools) is one run of taps. An int16 lane holds a sum of at most
 * AVGP_PAIR_TAPS = 256 int8 values (-32768..32512, exact); longer windows are summed in chunks of 256 taps,
 * each widened into int32. The last 1..3 channels (channels % 4) are summed one by one in int32. The sums
 * are exact, so TFLM's rounded division and activation clamp give bit-exact results. On Cortex-M4/M7 the
 * 16-channel run is an asm loop of 2 taps per iteration (28 instructions per 32 input elements); without
 * __ARM_FEATURE_DSP the same C runs on the portable emulation in microaot/simd.h.
 * float32: per channel in TFLM's tap order (bit-exact float sums). */
#include "microaot/kernels/avg_pool.h"

#include <stddef.h>

#include "microaot/qmath.h"
#include "microaot/simd.h"

#if defined(__GNUC__)
#define AVGP_NOINLINE __attribute__((noinline))
#else
#define AVGP_NOINLINE
#endif

/* taps an int16 lane may accumulate exactly: 256 * -128 = -32768, 256 * 127 = 32512 */
#define AVGP_PAIR_TAPS 256

/* one output pixel's window and result parameters */
typedef struct {
    int32_t rows, ncols; /* tap (r, i) of the window at x + r * rstep + i * C */
    int32_t C, rstep;
    int32_t count, half; /* taps, count / 2 */
    int32_t lo, hi;      /* activation range */
} avgp_win_t;

/* Rounded integer average (TFLM reference, half = count / 2), clamped to the activation range [lo, hi]
 * if CLAMP (a constant; 0 when [lo, hi] contains [-128, 127]: an average of int8 values is in range). */
UAOT_INLINE int8_t avgp_out(int32_t acc, int32_t count, int32_t half, int32_t lo, int32_t hi, const int CLAMP)
{
    acc = acc > 0 ? (acc + half) / count : (acc - half) / count;
    return (int8_t)(CLAMP ? uaot_clamp_i32(acc, lo, hi) : acc);
}

/* one tap of avgp_run: the NW words at t into the pair accumulators */
#define AVGP_TAP(t)                                  \
    do {                                             \
        const uint32_t w0 = uaot_ld32(t);            \
        e0 = uaot_sxtab16(e0, w0);                   \
        o0 = uaot_sxtab16_r8(o0, w0);                \
        if (NW > 1) {                                \
            const uint32_t w1 = uaot_ld32((t) + 4);  \
            e1 = uaot_sxtab16(e1, w1);               \
            o1 = uaot_sxtab16_r8(o1, w1);            \
        }                                            \
        if (NW > 2) {                                \
            const uint32_t w2 = uaot_ld32((t) + 8);  \
            e2 = uaot_sxtab16(e2, w2);               \
            o2 = uaot_sxtab16_r8(o2, w2);            \
        }                                            \
        if (NW > 3) {                                \
            const uint32_t w3 = uaot_ld32((t) + 12); \
            e3 = uaot_sxtab16(e3, w3);               \
            o3 = uaot_sxtab16_r8(o3, w3);            \
        }                                            \
    } while (0)

#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
/* AVGP_TAP of 4 words in asm, then x += step */
#define AVGP_ASM_TAP                         \
    "ldr %[w], [%[x]]\n\t"                   \
    "sxtab16 %[e0], %[e0], %[w]\n\t"         \
    "sxtab16 %[o0], %[o0], %[w], ror #8\n\t" \
    "ldr %[w], [%[x], #4]\n\t"               \
    "sxtab16 %[e1], %[e1], %[w]\n\t"         \
    "sxtab16 %[o1], %[o1], %[w], ror #8\n\t" \
    "ldr %[w], [%[x], #8]\n\t"               \
    "sxtab16 %[e2], %[e2], %[w]\n\t"         \
    "sxtab16 %[o2], %[o2], %[w], ror #8\n\t" \
    "ldr %[w], [%[x], #12]\n\t"              \
    "sxtab16 %[e3], %[e3], %[w]\n\t"         \
    "sxtab16 %[o3], %[o3], %[w], ror #8\n\t" \
    "add %[x], %[x], %[s]\n\t"

/* avgp_run with NW = 4 for n >= 1 taps: 28 instructions per 2 taps (32 input elements); gcc's own
 * loop of the same code spills (30..32). Its own function: inlined, the 12 operands may not fit. */
static AVGP_NOINLINE const int8_t *avgp_run4_dsp(const int8_t *x, int32_t n, int32_t step, uint32_t *pr)
{
    uint32_t e0 = pr[0], o0 = pr[1], e1 = pr[2], o1 = pr[3], e2 = pr[4], o2 = pr[5], e3 = pr[6], o3 = pr[7], w;
    __asm__ volatile("lsrs %[n], %[n], #1\n\t" /* C = n odd, Z = no tap pairs */
                     "bcc 1f\n\t" AVGP_ASM_TAP "1:\n\t"
                     "beq 3f\n\t"
                     "2:\n\t" AVGP_ASM_TAP AVGP_ASM_TAP "subs %[n], %[n], #1\n\t"
                     "bne 2b\n\t"
                     "3:\n\t"
                     : [e0] "+r"(e0), [o0] "+r"(o0), [e1] "+r"(e1), [o1] "+r"(o1), [e2] "+r"(e2), [o2] "+r"(o2),
                       [e3] "+r"(e3), [o3] "+r"(o3), [x] "+r"(x), [n] "+r"(n), [w] "=&r"(w)
                     : [s] "r"(step)
                     : "cc", "memory");
    pr[0] = e0, pr[1] = o0, pr[2] = e1, pr[3] = o1, pr[4] = e2, pr[5] = o2, pr[6] = e3, pr[7] = o3;
    return x;
}
#endif

/* pr[2k] / pr[2k+1] += the channels 4k, 4k+2 / 4k+1, 4k+3 (k < NW) of n >= 1 taps x, x + step, ...
 * (two per iteration); returns x + n * step. NW is a constant: the loop is specialised per call site. */
UAOT_INLINE const int8_t *avgp_run(const int8_t *x, int32_t n, int32_t step, uint32_t *pr, const int NW)
{
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
    if (NW == 4) {
        return avgp_run4_dsp(x, n, step, pr);
    }
#endif
    uint32_t e0 = pr[0], o0 = pr[1], e1 = 0, o1 = 0, e2 = 0, o2 = 0, e3 = 0, o3 = 0;
    if (NW > 1) {
        e1 = pr[2];
        o1 = pr[3];
    }
    if (NW > 2) {
        e2 = pr[4];
        o2 = pr[5];
    }
    if (NW > 3) {
        e3 = pr[6];
        o3 = pr[7];
    }
    if (n & 1) {
        AVGP_TAP(x);
        x += step;
    }
    for (n >>= 1; n > 0; --n) {
        AVGP_TAP(x);
        AVGP_TAP(x + step);
        x += 2 * step;
    }
    pr[0] = e0;
    pr[1] = o0;
    if (NW > 1) {
        pr[2] = e1;
        pr[3] = o1;
    }
    if (NW > 2) {
        pr[4] = e2;
        pr[5] = o2;
    }
    if (NW > 3) {
        pr[6] = e3;
        pr[7] = o3;
    }
    return x;
}

/* the int16 lane sums of the pair accumulators e (channels 0, 2) and o (channels 1, 3) */
#define AVGP_LANE0(e, o) ((int32_t)(int16_t)(uint16_t)((e)&0xFFFFu))
#define AVGP_LANE1(e, o) ((int32_t)(int16_t)(uint16_t)((o)&0xFFFFu))
#define AVGP_LANE2(e, o) ((int32_t)(int16_t)(uint16_t)((e) >> 16))
#define AVGP_LANE3(e, o) ((int32_t)(int16_t)(uint16_t)((o) >> 16))

/* out[0 .. 4*nw) = the averages of the lane sums pr (+ acc unless NULL); CLAMP (a constant) = 0 when
 * [lo, hi] contains [-128, 127] */
UAOT_INLINE void avgp_outs(int8_t *out, const uint32_t *pr, const int32_t *acc, int32_t nw, int32_t count, int32_t half,
                           int32_t lo, int32_t hi, const int CLAMP)
{
    for (int32_t k = 0; k < nw; ++k, out += 4) {
        const uint32_t e = pr[2 * k], o = pr[2 * k + 1];
        int32_t s0 = AVGP_LANE0(e, o), s1 = AVGP_LANE1(e, o), s2 = AVGP_LANE2(e, o), s3 = AVGP_LANE3(e, o);
        if (acc != NULL) {
            s0 += acc[4 * k];
            s1 += acc[4 * k + 1];
            s2 += acc[4 * k + 2];
            s3 += acc[4 * k + 3];
        }
        out[0] = avgp_out(s0, count, half, lo, hi, CLAMP);
        out[1] = avgp_out(s1, count, half, lo, hi, CLAMP);
        out[2] = avgp_out(s2, count, half, lo, hi, CLAMP);
        out[3] = avgp_out(s3, count, half, lo, hi, CLAMP);
    }
}

/* out[0 .. 4*nw) = the averages of channels 0 .. 4*nw (1 <= nw <= 4) of the window at x. The int16 lanes
 * take at most AVGP_PAIR_TAPS taps; a window with more is summed in chunks, each added to acc. */
static AVGP_NOINLINE void avgp_block(const int8_t *x, const avgp_win_t *w, int32_t nw, int8_t *out)
{
    uint32_t pr[8]; /* (no initializer: gcc calls memset for it) */
    int32_t acc[16];
    pr[0] = 0, pr[1] = 0, pr[2] = 0, pr[3] = 0, pr[4] = 0, pr[5] = 0, pr[6] = 0, pr[7] = 0;
    int32_t left = AVGP_PAIR_TAPS; /* taps the int16 lanes can still take */
    int wide = 0;                  /* acc holds the earlier chunks */
    for (int32_t r = 0; r < w->rows; ++r) {
        const int8_t *q = x + r * w->rstep;
        int32_t cols = w->ncols;
        while (cols > 0) {
            const int32_t n = cols < left ? cols : left;
            switch (nw) {
            case 4:
                q = avgp_run(q, n, w->C, pr, 4);
                break;
            case 3:
                q = avgp_run(q, n, w->C, pr, 3);
                break;
            case 2:
                q = avgp_run(q, n, w->C, pr, 2);
                break;
            default:
                q = avgp_run(q, n, w->C, pr, 1);
                break;
            }
            cols -= n;
            left -= n;
            if (left == 0) { /* widen the chunk into acc */
                for (int32_t k = 0; k < nw; ++k) {
                    const uint32_t e = pr[2 * k], o = pr[2 * k + 1];
                    int32_t *a = acc + 4 * k;
                    a[0] = (wide ? a[0] : 0) + AVGP_LANE0(e, o);
                    a[1] = (wide ? a[1] : 0) + AVGP_LANE1(e, o);
                    a[2] = (wide ? a[2] : 0) + AVGP_LANE2(e, o);
                    a[3] = (wide ? a[3] : 0) + AVGP_LANE3(e, o);
                    pr[2 * k] = 0;
                    pr[2 * k + 1] = 0;
                }
                wide = 1;
                left = AVGP_PAIR_TAPS;
            }
        }
    }
    const int32_t count = w->count, half = w->half, lo = w->lo, hi = w->hi; /* (out may alias *w) */
    if (lo > -128 || hi < 127) {
        avgp_outs(out, pr, wide ? acc : NULL, nw, count, half, lo, hi, 1);
    } else { /* an average of int8 values is in range */
        avgp_outs(out, pr, wide ? acc : NULL, nw, count, half, lo, hi, 0);
    }
}

/* the window of output pixel (oy, ox): top-left input (y0, x0) and its taps inside the input,
 * rows [fy0, fy1) and columns [fx0, fx1) of the filter (padded taps are not counted); 0 when empty */
typedef struct {
    int32_t y0, x0, fy0, fy1, fx0, fx1;
} avgp_span_t;

UAOT_INLINE int avgp_span(const uaot_avg_pool_params_t *p, int32_t oy, int32_t ox, avgp_span_t *s)
{
    s->y0 = oy * p->stride_h - p->pad_top;
    s->fy0 = s->y0 < 0 ? -s->y0 : 0;
    s->fy1 = (p->in_h - s->y0) < p->k_h ? (p->in_h - s->y0) : p->k_h;
    s->x0 = ox * p->stride_w - p->pad_left;
    s->fx0 = s->x0 < 0 ? -s->x0 : 0;
    s->fx1 = (p->in_w - s->x0) < p->k_w ? (p->in_w - s->x0) : p->k_w;
    return s->fy1 > s->fy0 && s->fx1 > s->fx0;
}

uaot_status_t uaot_avg_pool_s8(const uaot_avg_pool_params_t *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t C = p->channels, C4 = C & ~3;
    avgp_win_t w;
    w.C = C;
    w.rstep = p->in_w * C;
    w.lo = p->act_min;
    w.hi = p->act_max;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                avgp_span_t sp;
                if (!avgp_span(p, oy, ox, &sp)) {
                    return UAOT_ERR_INTERNAL;
                }
                w.rows = sp.fy1 - sp.fy0;
                w.ncols = sp.fx1 - sp.fx0;
                w.count = w.rows * w.ncols;
                w.half = w.count / 2;
                if (w.ncols == p->in_w) { /* whole input rows: one run of taps */
                    w.ncols = w.count;
                    w.rows = 1;
                }
                const int8_t *x = input + ((b * p->in_h + (sp.y0 + sp.fy0)) * p->in_w + (sp.x0 + sp.fx0)) * C;
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * C;
                int32_t c = 0;
                while (c < C4) { /* blocks of 16 channels, then one of 4, 8 or 12 */
                    const int32_t nw = (C4 - c) >= 16 ? 4 : (C4 - c) / 4;
                    avgp_block(x + c, &w, nw, out + c);
                    c += 4 * nw;
                }
                for (; c < C; ++c) { /* channels % 4 */
                    int32_t acc = 0;
                    for (int32_t r = 0; r < w.rows; ++r) {
                        const int8_t *q = x + r * w.rstep + c;
                        for (int32_t i = 0; i < w.ncols; ++i) {
                            acc += q[i * C];
                        }
                    }
                    out[c] = avgp_out(acc, w.count, w.half, w.lo, w.hi, 1);
                }
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_avg_pool_s16(const uaot_avg_pool_params_t *p, const int16_t *input, int16_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t C = p->channels;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                avgp_span_t sp;
                if (!avgp_span(p, oy, ox, &sp)) {
                    return UAOT_ERR_INTERNAL;
                }
                const int32_t count = (sp.fy1 - sp.fy0) * (sp.fx1 - sp.fx0);
                int16_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * C;
                for (int32_t c = 0; c < C; ++c) {
                    int32_t acc = 0;
                    for (int32_t fy = sp.fy0; fy < sp.fy1; ++fy) {
                        const int16_t *row = input + ((b * p->in_h + (sp.y0 + fy)) * p->in_w) * C + c;
                        for (int32_t fx = sp.fx0; fx < sp.fx1; ++fx) {
                            acc += row[(sp.x0 + fx) * C];
                        }
                    }
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    out[c] = (int16_t)uaot_clamp_i32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_avg_pool_f32(const uaot_avg_pool_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t C = p->channels;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                avgp_span_t sp;
                if (!avgp_span(p, oy, ox, &sp)) {
                    return UAOT_ERR_INTERNAL;
                }
                const int32_t count = (sp.fy1 - sp.fy0) * (sp.fx1 - sp.fx0);
                float *out = output + ((b * p->out_h + oy) * p->out_w + ox) * C;
                for (int32_t c = 0; c < C; ++c) {
                    float acc = 0.0f;
                    for (int32_t fy = sp.fy0; fy < sp.fy1; ++fy) {
                        const float *row = input + ((b * p->in_h + (sp.y0 + fy)) * p->in_w) * C + c;
                        for (int32_t fx = sp.fx0; fx < sp.fx1; ++fx) {
                            acc += row[(sp.x0 + fx) * C];
                        }
                    }
                    const float v = acc / (float)count;
                    out[c] = v < p->act_min_f ? p->act_min_f : (v > p->act_max_f ? p->act_max_f : v);
                }
            }
        }
    }
    return UAOT_OK;
}
