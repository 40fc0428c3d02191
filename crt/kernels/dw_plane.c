/* microaot kernels: int8 DEPTHWISE_CONV_2D (any depth multiplier, any kernel) and 1-input-channel CONV_2D,
 * one input channel plane at a time (microaot/kernels/dw_plane.h). */
#include "microaot/kernels/dw_plane.h"

#include <stddef.h>

#include "microaot/qmath.h"
#include "microaot/simd.h"

/* the block functions are inlined with constant strides and tap counts (unoptimized builds: plain calls) */
#ifdef __OPTIMIZE__
#define UAOT_DWPL_INLINE static inline __attribute__((always_inline))
#else
#define UAOT_DWPL_INLINE static inline
#endif

/* expand input line `line` (outer index) of one channel into dst: n int16 values, value j = input inner index
 * j - pad (the zero point outside [0, len)) */
static void uaot_dwpl_expand(int16_t *dst, int32_t n, const int8_t *src, int32_t step, int32_t len, int32_t pad,
                             int16_t zp)
{
    int32_t j = 0;
    const int32_t lo = pad < n ? pad : n;
    for (; j < lo; ++j) {
        dst[j] = zp;
    }
    int32_t hi = pad + len;
    if (hi > n) {
        hi = n;
    }
    const int8_t *s = src + (j - pad) * step;
    if (step == 1) {
        for (; j + 4 <= hi; j += 4, s += 4) {
            const uint32_t v = uaot_ld32(s);
            const uint32_t a = uaot_sxtb16(v), b = uaot_sxtb16_r8(v);
            const uint32_t lo2 = (a & 0xFFFFu) | (b << 16), hi2 = (a >> 16) | (b & 0xFFFF0000u);
            memcpy(dst + j, &lo2, 4);
            memcpy(dst + j + 2, &hi2, 4);
        }
    }
    for (; j < hi; ++j, s += step) {
        dst[j] = *s;
    }
    for (; j < n; ++j) {
        dst[j] = zp;
    }
}

/* the rq row of channel ch hoisted: the same arithmetic as uaot_rq_smmulr */
typedef struct {
    int32_t m, l, r, a;
} uaot_dwpl_q_t;

static inline uaot_dwpl_q_t uaot_dwpl_q(const int32_t *rq, int32_t ch)
{
    const uaot_dwpl_q_t q = {rq[4 * ch], rq[4 * ch + 1], rq[4 * ch + 2], rq[4 * ch + 3]};
    return q;
}

static inline int8_t uaot_dwpl_rq(int32_t acc, uaot_dwpl_q_t q, int32_t lo, int32_t hi)
{
    const int32_t y = uaot_smmulr((int32_t)((uint32_t)acc << q.l), q.m);
    return uaot_clamp8((y + q.a + (y >> 31)) >> q.r, lo, hi);
}

/* M == 1: 4 output pixels (x, x + si, x + 2 si, x + 3 si along the inner axis, x = the ko lines rows[k] + xo)
 * of one channel, weights w: per outer tap, KP words (tap pairs). si == 1 and si == 2 share the input words
 * between pixels (x is word-aligned: xo is a multiple of 4 pixels). */
UAOT_DWPL_INLINE void uaot_dwpl_px4(const int16_t *const *rows, int32_t ko, int32_t xo, int32_t si, const uint32_t *w,
                                    int32_t KP, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int32_t k = 0; k < ko; ++k, w += KP) {
        const int16_t *x = rows[k] + xo;
        const uint32_t *xw = (const uint32_t *)(const void *)x;
        if (si == 2) { /* pixel j, pair kp: word j + kp */
            uint32_t v0 = xw[0], v1 = xw[1], v2 = xw[2];
#pragma GCC unroll 8
            for (int32_t kp = 0; kp < KP; ++kp) {
                const uint32_t v3 = xw[kp + 3], wv = w[kp];
                a0 = uaot_smlad(v0, wv, a0);
                a1 = uaot_smlad(v1, wv, a1);
                a2 = uaot_smlad(v2, wv, a2);
                a3 = uaot_smlad(v3, wv, a3);
                v0 = v1;
                v1 = v2;
                v2 = v3;
            }
        } else if (si == 1) { /* even pixels: words, odd pixels: the unaligned words in between */
            uint32_t e0 = xw[0], u0 = uaot_ld32(x + 1);
#pragma GCC unroll 8
            for (int32_t kp = 0; kp < KP; ++kp) {
                const uint32_t e1 = xw[kp + 1], u1 = uaot_ld32(x + 2 * kp + 3), wv = w[kp];
                a0 = uaot_smlad(e0, wv, a0);
                a1 = uaot_smlad(u0, wv, a1);
                a2 = uaot_smlad(e1, wv, a2);
                a3 = uaot_smlad(u1, wv, a3);
                e0 = e1;
                u0 = u1;
            }
        } else {
#pragma GCC unroll 8
            for (int32_t kp = 0; kp < KP; ++kp) {
                const uint32_t wv = w[kp];
                a0 = uaot_smlad(uaot_ld32(x + 2 * kp), wv, a0);
                a1 = uaot_smlad(uaot_ld32(x + si + 2 * kp), wv, a1);
                a2 = uaot_smlad(uaot_ld32(x + 2 * si + 2 * kp), wv, a2);
                a3 = uaot_smlad(uaot_ld32(x + 3 * si + 2 * kp), wv, a3);
            }
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* M >= 2: 2 output pixels (x, x + si) x 2 output channels (per tap pair the words of channel m, m + 1) */
UAOT_DWPL_INLINE void uaot_dwpl_px2(const int16_t *const *rows, int32_t ko, int32_t xo, int32_t si, const uint32_t *w,
                                    int32_t KP, int32_t *acc)
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    for (int32_t k = 0; k < ko; ++k, w += 2 * KP) {
        const int16_t *x = rows[k] + xo;
        const uint32_t *xw = (const uint32_t *)(const void *)x;
        if (si == 2) {
            uint32_t v0 = xw[0];
#pragma GCC unroll 8
            for (int32_t kp = 0; kp < KP; ++kp) {
                const uint32_t v1 = xw[kp + 1], w0 = w[2 * kp], w1 = w[2 * kp + 1];
                a00 = uaot_smlad(v0, w0, a00);
                a01 = uaot_smlad(v0, w1, a01);
                a10 = uaot_smlad(v1, w0, a10);
                a11 = uaot_smlad(v1, w1, a11);
                v0 = v1;
            }
        } else if (si == 1) {
#pragma GCC unroll 8
            for (int32_t kp = 0; kp < KP; ++kp) {
                const uint32_t v0 = xw[kp], v1 = uaot_ld32(x + 2 * kp + 1), w0 = w[2 * kp], w1 = w[2 * kp + 1];
                a00 = uaot_smlad(v0, w0, a00);
                a01 = uaot_smlad(v0, w1, a01);
                a10 = uaot_smlad(v1, w0, a10);
                a11 = uaot_smlad(v1, w1, a11);
            }
        } else {
#pragma GCC unroll 8
            for (int32_t kp = 0; kp < KP; ++kp) {
                const uint32_t v0 = uaot_ld32(x + 2 * kp), v1 = uaot_ld32(x + si + 2 * kp);
                const uint32_t w0 = w[2 * kp], w1 = w[2 * kp + 1];
                a00 = uaot_smlad(v0, w0, a00);
                a01 = uaot_smlad(v0, w1, a01);
                a10 = uaot_smlad(v1, w0, a10);
                a11 = uaot_smlad(v1, w1, a11);
            }
        }
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* the block functions with the tap pairs per line KP and the stride class as constants (1..4 pairs unrolled) */
#define UAOT_DWPL_DISPATCH(FN, ROWS, KO, XO, SI, W, KPN, ACC) \
    do {                                                      \
        if ((SI) == 1) {                                      \
            switch (KPN) {                                    \
            case 1:                                           \
                FN(ROWS, KO, XO, 1, W, 1, ACC);               \
                break;                                        \
            case 2:                                           \
                FN(ROWS, KO, XO, 1, W, 2, ACC);               \
                break;                                        \
            case 3:                                           \
                FN(ROWS, KO, XO, 1, W, 3, ACC);               \
                break;                                        \
            case 4:                                           \
                FN(ROWS, KO, XO, 1, W, 4, ACC);               \
                break;                                        \
            default:                                          \
                FN(ROWS, KO, XO, 1, W, KPN, ACC);             \
                break;                                        \
            }                                                 \
        } else if ((SI) == 2) {                               \
            switch (KPN) {                                    \
            case 1:                                           \
                FN(ROWS, KO, XO, 2, W, 1, ACC);               \
                break;                                        \
            case 2:                                           \
                FN(ROWS, KO, XO, 2, W, 2, ACC);               \
                break;                                        \
            case 3:                                           \
                FN(ROWS, KO, XO, 2, W, 3, ACC);               \
                break;                                        \
            case 4:                                           \
                FN(ROWS, KO, XO, 2, W, 4, ACC);               \
                break;                                        \
            default:                                          \
                FN(ROWS, KO, XO, 2, W, KPN, ACC);             \
                break;                                        \
            }                                                 \
        } else {                                              \
            FN(ROWS, KO, XO, SI, W, KPN, ACC);                \
        }                                                     \
    } while (0)

uaot_status_t uaot_dw_plane_s8(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                               int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || scratch == NULL || p->depth_mult < 1 ||
        p->in_c * p->depth_mult != p->out_c) {
        return UAOT_ERR_ARG;
    }
    UAOT_CHECK_SCRATCH(scratch_size, uaot_dw_plane_s8_scratch_size(p));
    const int32_t t = uaot_dw_plane_transposed(p);
    const int32_t C = p->in_c, M = p->depth_mult, OC = p->out_c;
    /* outer / inner axis geometry; strides in bytes (input) and elements (output) */
    const int32_t ko_n = t ? p->k_w : p->k_h, ki_n = t ? p->k_h : p->k_w;
    const int32_t dil_o = t ? p->dil_w : p->dil_h;
    const int32_t so = t ? p->stride_w : p->stride_h, si = t ? p->stride_h : p->stride_w;
    const int32_t pad_o = t ? p->pad_left : p->pad_top, pad_i = t ? p->pad_top : p->pad_left;
    const int32_t in_o = t ? p->in_w : p->in_h, in_i = t ? p->in_h : p->in_w;
    const int32_t out_o = t ? p->out_w : p->out_h, out_i = t ? p->out_h : p->out_w;
    const int32_t in_os = t ? C : p->in_w * C, in_is = t ? p->in_w * C : C;
    const int32_t out_os = t ? OC : p->out_w * OC, out_is = t ? p->out_w * OC : OC;
    const int32_t kp_n = (ki_n + 1) / 2;
    const int32_t eo = (ko_n - 1) * dil_o + 1;
    const int32_t wn = uaot_dw_plane_line(out_i, si, ki_n), wstride = (wn + 1) / 2 * 2;
    const int32_t mp = (M + 1) / 2; /* channel pairs per input channel */
    /* words per input channel: M == 1 one channel, else per channel pair two */
    const int32_t wch = M == 1 ? ko_n * kp_n : mp * 2 * ko_n * kp_n;
    /* scratch: Eo line tags, then the ring of Eo lines (line l in slot l mod Eo) */
    int32_t *tags = (int32_t *)(void *)scratch;
    int16_t *ring = (int16_t *)(void *)(tags + eo);
    const int16_t *rows[UAOT_DW_PLANE_MAX_KO];
    const int32_t lo = p->act_min, hi = p->act_max;
    const int16_t zp = (int16_t)(-p->input_offset);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * C;
        int8_t *out_b = output + (size_t)b * p->out_h * p->out_w * OC;
        for (int32_t c = 0; c < C; ++c) {
            for (int32_t s = 0; s < eo; ++s) {
                tags[s] = INT32_MIN;
            }
            const uint32_t *wc = (const uint32_t *)(const void *)filter + (size_t)c * wch;
            for (int32_t oo = 0; oo < out_o; ++oo) {
                const int32_t base = oo * so - pad_o;
                for (int32_t k = 0; k < ko_n; ++k) {
                    const int32_t l = base + k * dil_o;
                    int32_t slot = l % eo;
                    slot += slot < 0 ? eo : 0;
                    int16_t *dst = ring + (size_t)slot * wstride;
                    rows[k] = dst;
                    if (tags[slot] != l) {
                        tags[slot] = l;
                        if (l < 0 || l >= in_o) {
                            uaot_dwpl_expand(dst, wn, in_b, in_is, 0, wn, zp);
                        } else {
                            uaot_dwpl_expand(dst, wn, in_b + l * in_os + c, in_is, in_i, pad_i, zp);
                        }
                    }
                }
                int8_t *orow = out_b + oo * out_os + c * M;
                int32_t acc[4];
                if (M == 1) {
                    const int32_t b0 = p->bias[c];
                    const uaot_dwpl_q_t q = p->rq != NULL ? uaot_dwpl_q(p->rq, c) : (uaot_dwpl_q_t){0, 0, 0, 0};
                    for (int32_t oi = 0; oi < out_i; oi += 4) {
                        acc[0] = acc[1] = acc[2] = acc[3] = b0;
                        UAOT_DWPL_DISPATCH(uaot_dwpl_px4, rows, ko_n, oi * si, si, wc, kp_n, acc);
                        int8_t *o0 = orow + oi * out_is;
                        const int32_t n = out_i - oi < 4 ? out_i - oi : 4;
                        if (p->rq != NULL) {
                            for (int32_t j = 0; j < n; ++j) {
                                o0[j * out_is] = uaot_dwpl_rq(acc[j], q, lo, hi);
                            }
                        } else {
                            for (int32_t j = 0; j < n; ++j) {
                                o0[j * out_is] =
                                    uaot_requant_out(acc[j], p->mult[c], p->shift[c], p->output_offset, lo, hi);
                            }
                        }
                    }
                    continue;
                }
                for (int32_t m2 = 0; m2 < mp; ++m2) {
                    const int32_t ch = c * M + 2 * m2;
                    const int two = 2 * m2 + 1 < M;
                    const int32_t b0 = p->bias[ch], b1 = two ? p->bias[ch + 1] : 0;
                    const uint32_t *wp = wc + (size_t)m2 * 2 * ko_n * kp_n;
                    uaot_dwpl_q_t q0 = {0, 0, 0, 0}, q1 = {0, 0, 0, 0};
                    if (p->rq != NULL) {
                        q0 = uaot_dwpl_q(p->rq, ch);
                        q1 = two ? uaot_dwpl_q(p->rq, ch + 1) : q0;
                    }
                    for (int32_t oi = 0; oi < out_i; oi += 2) {
                        acc[0] = acc[2] = b0;
                        acc[1] = acc[3] = b1;
                        UAOT_DWPL_DISPATCH(uaot_dwpl_px2, rows, ko_n, oi * si, si, wp, kp_n, acc);
                        int8_t *o0 = orow + oi * out_is + 2 * m2;
                        const int px2 = oi + 1 < out_i;
                        if (p->rq != NULL) {
                            o0[0] = uaot_dwpl_rq(acc[0], q0, lo, hi);
                            if (two) {
                                o0[1] = uaot_dwpl_rq(acc[1], q1, lo, hi);
                            }
                            if (px2) {
                                o0[out_is] = uaot_dwpl_rq(acc[2], q0, lo, hi);
                                if (two) {
                                    o0[out_is + 1] = uaot_dwpl_rq(acc[3], q1, lo, hi);
                                }
                            }
                        } else {
                            for (int32_t j = 0; j < 4; ++j) {
                                const int32_t cj = ch + (j & 1);
                                if ((j & 1 ? two : 1) && (j < 2 || px2)) {
                                    o0[(j >> 1) * out_is + (j & 1)] =
                                        uaot_requant_out(acc[j], p->mult[cj], p->shift[cj], p->output_offset, lo, hi);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return UAOT_OK;
}
