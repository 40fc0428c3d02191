/* microaot kernels: int8 DEPTHWISE_CONV_2D (any depth multiplier, any kernel) and 1-input-channel CONV_2D,
 * one input channel plane at a time (microaot/kernels/dw_plane.h). */
#include "microaot/kernels/dw_plane.h"

#include <stddef.h>

#include "microaot/qmath.h"
#include "microaot/simd.h"

/* the block functions are inlined with constant strides and tap counts (unoptimized builds: plain calls) */
#if defined(__GNUC__)
#define UAOT_DWPL_OPAQUE(v) __asm__("" : "+r"(v))
#else
#define UAOT_DWPL_OPAQUE(v) (void)(v)
#endif
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

#if UAOT_HAVE_DSP
static inline uint32_t uaot_dwpl_pkhbt(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline uint32_t uaot_dwpl_pkhtb(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
#else
/* (a.lo, b.lo) */
static inline uint32_t uaot_dwpl_pkhbt(uint32_t a, uint32_t b)
{
    return (a & 0xFFFFu) | (b << 16);
}

/* (b.hi, a.hi) */
static inline uint32_t uaot_dwpl_pkhtb(uint32_t a, uint32_t b)
{
    return (a & 0xFFFF0000u) | (b >> 16);
}
#endif

static inline void uaot_dwpl_st32(int16_t *d, uint32_t v)
{
    memcpy(d, &v, 4);
}

/* uaot_dwpl_expand of 4 adjacent channels (src .. src + 3) into the lines d, d + ws, d + 2 ws, d + 3 ws: per 2
 * positions two words of 4 channels, SXTB16 and PKHBT / PKHTB into the 4 lines' pairs */
static void uaot_dwpl_expand4(int16_t *d, int32_t ws, int32_t n, const int8_t *src, int32_t step, int32_t len,
                              int32_t pad, int16_t zp)
{
    int16_t *d1 = d + ws, *d2 = d1 + ws, *d3 = d2 + ws;
    int32_t j = 0;
    const int32_t lo = pad < n ? pad : n;
    for (; j < lo; ++j) {
        d[j] = d1[j] = d2[j] = d3[j] = zp;
    }
    int32_t hi = pad + len;
    if (hi > n) {
        hi = n;
    }
    const int8_t *s = src + (j - pad) * step;
    for (; j + 2 <= hi; j += 2, s += 2 * step) {
        const uint32_t v0 = uaot_ld32(s), v1 = uaot_ld32(s + step);
        const uint32_t a0 = uaot_sxtb16(v0), a1 = uaot_sxtb16(v1);       /* channels 0 and 2 */
        const uint32_t b0 = uaot_sxtb16_r8(v0), b1 = uaot_sxtb16_r8(v1); /* channels 1 and 3 */
        uaot_dwpl_st32(d + j, uaot_dwpl_pkhbt(a0, a1));
        uaot_dwpl_st32(d1 + j, uaot_dwpl_pkhbt(b0, b1));
        uaot_dwpl_st32(d2 + j, uaot_dwpl_pkhtb(a1, a0));
        uaot_dwpl_st32(d3 + j, uaot_dwpl_pkhtb(b1, b0));
    }
    for (; j < hi; ++j, s += step) {
        d[j] = s[0];
        d1[j] = s[1];
        d2[j] = s[2];
        d3[j] = s[3];
    }
    for (; j < n; ++j) {
        d[j] = d1[j] = d2[j] = d3[j] = zp;
    }
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
        UAOT_DWPL_OPAQUE(x); /* the taps at immediate offsets of x (not x's parts as hoisted register offsets) */
        const uint32_t *xw = (const uint32_t *)(const void *)x;
        if (si == 2 && KP <= 4) { /* pixel j, pair kp: word j + kp; the line's weights in registers */
            uint32_t wv[4] = {0, 0, 0, 0};
#pragma GCC unroll 4
            for (int32_t kp = 0; kp < KP; ++kp) {
                wv[kp] = w[kp];
            }
#pragma GCC unroll 8
            for (int32_t i = 0; i < KP + 3; ++i) {
                const uint32_t d = xw[i];
                if (i < KP) {
                    a0 = uaot_smlad(d, wv[i], a0);
                }
                if (i >= 1 && i - 1 < KP) {
                    a1 = uaot_smlad(d, wv[i - 1], a1);
                }
                if (i >= 2 && i - 2 < KP) {
                    a2 = uaot_smlad(d, wv[i - 2], a2);
                }
                if (i >= 3) {
                    a3 = uaot_smlad(d, wv[i - 3], a3);
                }
            }
        } else if (si == 2) {
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
        UAOT_DWPL_OPAQUE(x); /* the taps at immediate offsets of x (not x's parts as hoisted register offsets) */
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

/* M >= 2: the last pixel of an odd line, 2 output channels */
UAOT_DWPL_INLINE void uaot_dwpl_px1(const int16_t *const *rows, int32_t ko, int32_t xo, const uint32_t *w, int32_t KP,
                                    int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1];
    for (int32_t k = 0; k < ko; ++k, w += 2 * KP) {
        const int16_t *x = rows[k] + xo;
        UAOT_DWPL_OPAQUE(x);
#pragma GCC unroll 8
        for (int32_t kp = 0; kp < KP; ++kp) {
            const uint32_t v = uaot_ld32(x + 2 * kp);
            a0 = uaot_smlad(v, w[2 * kp], a0);
            a1 = uaot_smlad(v, w[2 * kp + 1], a1);
        }
    }
    acc[0] = a0;
    acc[1] = a1;
}

/* saturate to [-128, 127] (SSAT #8), as int32 */
static inline int32_t uaot_dwpl_ssat8(int32_t v)
{
#if UAOT_HAVE_DSP
    return __ssat(v, 8);
#else
    return v < -128 ? -128 : (v > 127 ? 127 : v);
#endif
}

/* the requantization of the accumulators of an output line: output channel ch0 + k (k < nc) of pixel i from
 * ab[(k >> 1) * cs + (k & 1) + i * as] into o[k + i * os] (p->rq: the channel's row held in registers) */
static void uaot_dwpl_rq_line(const uaot_conv_s8_params_t *p, const int32_t *ab, int32_t as, int32_t cs, int8_t *o,
                              int32_t os, int32_t n, int32_t ch0, int32_t nc)
{
    const int32_t lo = p->act_min, hi = p->act_max;
    for (int32_t k = 0; k < nc; ++k) {
        const int32_t ch = ch0 + k;
        const int32_t *x = ab + (k >> 1) * cs + (k & 1);
        int8_t *ok = o + k;
        if (p->rq == NULL) {
            for (int32_t i = 0; i < n; ++i) {
                ok[i * os] = uaot_requant_out(x[i * as], p->mult[ch], p->shift[ch], p->output_offset, lo, hi);
            }
            continue;
        }
        const int32_t *q = p->rq + 4 * ch;
        const int32_t m = q[0], l = q[1], r = q[2], a = q[3];
        const int8_t *end = ok + (n & ~1) * os;
/* 2 outputs per step; CLAMP(v): the activation range (SSAT alone for the whole int8 range) */
#define UAOT_DWPL_RQ(ACC, OUT, CLAMP)                                       \
    do {                                                                    \
        const int32_t y_ = uaot_smmulr((int32_t)((uint32_t)(ACC) << l), m); \
        int32_t v_ = (y_ + a + (y_ >> 31)) >> r; /* uaot_rq_smmulr */       \
        CLAMP(v_);                                                          \
        (OUT) = (int8_t)v_;                                                 \
    } while (0)
#define UAOT_DWPL_RQ_LOOP(CLAMP)                 \
    do {                                         \
        while (ok != end) {                      \
            const int32_t x0 = x[0], x1 = x[as]; \
            UAOT_DWPL_RQ(x0, ok[0], CLAMP);      \
            UAOT_DWPL_RQ(x1, ok[os], CLAMP);     \
            x += 2 * as;                         \
            ok += 2 * os;                        \
        }                                        \
        if (n & 1) {                             \
            UAOT_DWPL_RQ(x[0], ok[0], CLAMP);    \
        }                                        \
    } while (0)
#define UAOT_DWPL_SAT(v) (v) = uaot_dwpl_ssat8(v)
#define UAOT_DWPL_SAT_LO(v) (v) = uaot_dwpl_ssat8(v), (v) = (v) < lo ? lo : (v)
#define UAOT_DWPL_LO_HI(v) (v) = (v) < lo ? lo : (v), (v) = (v) > hi ? hi : (v)
        if (lo == -128 && hi == 127) {
            UAOT_DWPL_RQ_LOOP(UAOT_DWPL_SAT);
        } else if (hi == 127) {
            UAOT_DWPL_RQ_LOOP(UAOT_DWPL_SAT_LO);
        } else {
            UAOT_DWPL_RQ_LOOP(UAOT_DWPL_LO_HI);
        }
#undef UAOT_DWPL_RQ
#undef UAOT_DWPL_RQ_LOOP
#undef UAOT_DWPL_SAT
#undef UAOT_DWPL_SAT_LO
#undef UAOT_DWPL_LO_HI
    }
}

/* M == 1 with p->rq: the requantization of n accumulators ab[i] of channel ch into o[i * os] */
static void uaot_dwpl_rq_m1(const uaot_conv_s8_params_t *p, const int32_t *ab, int8_t *o, int32_t os, int32_t n,
                            int32_t ch)
{
    const int32_t lo = p->act_min, hi = p->act_max;
    const int32_t *q = p->rq + 4 * ch;
    const int32_t m = q[0], l = q[1], r = q[2], a = q[3];
    const int32_t *end = ab + n;
    if (hi == 127) { /* SSAT, then the lower bound */
        for (; ab != end; ++ab, o += os) {
            const int32_t y = uaot_smmulr((int32_t)((uint32_t)ab[0] << l), m);
            int32_t v = uaot_dwpl_ssat8((y + a + (y >> 31)) >> r);
            o[0] = (int8_t)(v < lo ? lo : v);
        }
        return;
    }
    for (; ab != end; ++ab, o += os) {
        const int32_t y = uaot_smmulr((int32_t)((uint32_t)ab[0] << l), m);
        int32_t v = (y + a + (y >> 31)) >> r;
        v = v < lo ? lo : v;
        o[0] = (int8_t)(v > hi ? hi : v);
    }
}

/* M >= 2 with p->rq: the requantization of n accumulators x[i * as] of one channel (rq row q) into o[i * os] */
static void uaot_dwpl_rq_chan(const int32_t *x, int32_t as, int8_t *o, int32_t os, int32_t n, const int32_t *q,
                              int32_t lo, int32_t hi)
{
    const int32_t m = q[0], l = q[1], r = q[2], a = q[3];
    const int8_t *end = o + n * os;
    if (hi == 127) { /* SSAT, then the lower bound */
        for (; o != end; x += as, o += os) {
            const int32_t y = uaot_smmulr((int32_t)((uint32_t)x[0] << l), m);
            const int32_t v = uaot_dwpl_ssat8((y + a + (y >> 31)) >> r);
            o[0] = (int8_t)(v < lo ? lo : v);
        }
        return;
    }
    for (; o != end; x += as, o += os) {
        const int32_t y = uaot_smmulr((int32_t)((uint32_t)x[0] << l), m);
        int32_t v = (y + a + (y >> 31)) >> r;
        v = v < lo ? lo : v;
        o[0] = (int8_t)(v > hi ? hi : v);
    }
}

/* M >= 2 with p->rq, short lines: the requantization of an output line's accumulators pixel by pixel, channel ch0 + m of pixel i from
 * ab[(m >> 1) * cs + 2 * i + (m & 1)] into o[i * os + m] (the rq rows loaded per output) */
static void uaot_dwpl_rq_pixmajor(const uaot_conv_s8_params_t *p, const int32_t *ab, int32_t cs, int8_t *o, int32_t os,
                                  int32_t n, int32_t ch0, int32_t M)
{
    const int32_t lo = p->act_min, hi = p->act_max;
    const int32_t *rq0 = p->rq + 4 * ch0;
#define UAOT_DWPL_RQP(ACC, Q, OUT, CLAMP)                                             \
    do {                                                                              \
        const int32_t y_ = uaot_smmulr((int32_t)((uint32_t)(ACC) << (Q)[1]), (Q)[0]); \
        int32_t v_ = (y_ + (Q)[3] + (y_ >> 31)) >> (Q)[2]; /* uaot_rq_smmulr */       \
        CLAMP(v_);                                                                    \
        (OUT) = (int8_t)v_;                                                           \
    } while (0)
#define UAOT_DWPL_RQP_LOOP(CLAMP)                                               \
    do {                                                                        \
        for (int32_t i = 0; i < n; ++i, o += os) {                              \
            const int32_t *x = ab + 2 * i, *q = rq0;                            \
            int8_t *oo = o;                                                     \
            for (int32_t m = 0; m + 2 <= M; m += 2, x += cs, q += 8, oo += 2) { \
                UAOT_DWPL_RQP(x[0], q, oo[0], CLAMP);                           \
                UAOT_DWPL_RQP(x[1], q + 4, oo[1], CLAMP);                       \
            }                                                                   \
            if (M & 1) {                                                        \
                UAOT_DWPL_RQP(x[0], q, oo[0], CLAMP);                           \
            }                                                                   \
        }                                                                       \
    } while (0)
#define UAOT_DWPL_SAT(v) (v) = uaot_dwpl_ssat8(v)
#define UAOT_DWPL_SAT_LO(v) (v) = uaot_dwpl_ssat8(v), (v) = (v) < lo ? lo : (v)
#define UAOT_DWPL_LO_HI(v) (v) = (v) < lo ? lo : (v), (v) = (v) > hi ? hi : (v)
    if (lo == -128 && hi == 127) {
        UAOT_DWPL_RQP_LOOP(UAOT_DWPL_SAT);
    } else if (hi == 127) {
        UAOT_DWPL_RQP_LOOP(UAOT_DWPL_SAT_LO);
    } else {
        UAOT_DWPL_RQP_LOOP(UAOT_DWPL_LO_HI);
    }
#undef UAOT_DWPL_RQP
#undef UAOT_DWPL_RQP_LOOP
#undef UAOT_DWPL_SAT
#undef UAOT_DWPL_SAT_LO
#undef UAOT_DWPL_LO_HI
}

/* M >= 2: the requantization of an output line's accumulators, channel ch0 + m of pixel i from
 * ab[(m >> 1) * cs + 2 * i + (m & 1)] into o[i * os + m] */
static void uaot_dwpl_rq_pixels(const uaot_conv_s8_params_t *p, const int32_t *ab, int32_t cs, int8_t *o, int32_t os,
                                int32_t n, int32_t ch0, int32_t M)
{
    if (p->rq == NULL) {
        uaot_dwpl_rq_line(p, ab, 2, cs, o, os, n, ch0, M);
        return;
    }
    if (n < 8) { /* (measured: pixel by pixel is faster for short lines, channel by channel for longer ones) */
        uaot_dwpl_rq_pixmajor(p, ab, cs, o, os, n, ch0, M);
        return;
    }
    for (int32_t m = 0; m < M; ++m) {
        uaot_dwpl_rq_chan(ab + (m >> 1) * cs + (m & 1), 2, o + m, os, n, p->rq + 4 * (ch0 + m), p->act_min, p->act_max);
    }
}

/* M == 1: the accumulators of one output line of one channel into ab[0 .. Oi rounded up to 4) */
UAOT_DWPL_INLINE void uaot_dwpl_line4(const int16_t *const *rows, int32_t ko, int32_t xg, int32_t si, const uint32_t *w,
                                      int32_t KP, int32_t *ab, int32_t n, int32_t b0, int32_t KO)
{
    for (int32_t oi = 0; oi < n; oi += 4, ab += 4) {
        int32_t acc[4] = {b0, b0, b0, b0};
        if (KO > 0) { /* a constant number of kernel lines: unrolled */
#pragma GCC unroll 8
            for (int32_t k = 0; k < KO; ++k) {
                uaot_dwpl_px4(rows + k, 1, xg + oi * si, si, w + k * KP, KP, acc);
            }
        } else {
            uaot_dwpl_px4(rows, ko, xg + oi * si, si, w, KP, acc);
        }
        ab[0] = acc[0]; /* (element by element: acc stays in registers) */
        ab[1] = acc[1];
        ab[2] = acc[2];
        ab[3] = acc[3];
    }
}

/* M >= 2: the accumulators of one output line of a channel pair into ab[2 * pixel + channel] */
UAOT_DWPL_INLINE void uaot_dwpl_line2(const int16_t *const *rows, int32_t ko, int32_t xg, int32_t si, const uint32_t *w,
                                      int32_t KP, int32_t *ab, int32_t n, int32_t b0, int32_t b1, int32_t KO)
{
    int32_t oi = 0;
    for (; oi + 2 <= n; oi += 2, ab += 4) {
        int32_t acc[4] = {b0, b1, b0, b1};
        if (KO > 0) { /* a constant number of kernel lines: unrolled */
#pragma GCC unroll 8
            for (int32_t k = 0; k < KO; ++k) {
                uaot_dwpl_px2(rows + k, 1, xg + oi * si, si, w + 2 * k * KP, KP, acc);
            }
        } else {
            uaot_dwpl_px2(rows, ko, xg + oi * si, si, w, KP, acc);
        }
        ab[0] = acc[0]; /* (element by element: acc stays in registers) */
        ab[1] = acc[1];
        ab[2] = acc[2];
        ab[3] = acc[3];
    }
    if (oi < n) { /* an odd line's last pixel */
        int32_t acc[2] = {b0, b1};
        uaot_dwpl_px1(rows, ko, xg + oi * si, w, KP, acc);
        ab[0] = acc[0];
        ab[1] = acc[1];
    }
}

/* one output line of one channel (M == 1) or channel pair (M >= 2): its accumulators into ab */
typedef struct {
    const int16_t *const *rows; /* the Ko input lines */
    int32_t ko, xg, si, kp;     /* outer taps, offset of the channel's line in the ring slot, stride, tap pairs */
    const uint32_t *w;          /* the channel (pair)'s weights */
    int32_t *ab;
    int32_t n, b0, b1; /* pixels, biases */
} uaot_dwpl_args_t;

typedef void (*uaot_dwpl_line_fn)(const uaot_dwpl_args_t *a);

/* the line functions with the stride and tap pairs as constants (stride 1 and 2, 1..4 pairs; else "any"), chosen
 * once per call */
#define UAOT_DWPL_FNS(NAME, SI, KP)                                                         \
    static void uaot_dwpl_l4_##NAME(const uaot_dwpl_args_t *a)                              \
    {                                                                                       \
        uaot_dwpl_line4(a->rows, a->ko, a->xg, SI, a->w, KP, a->ab, a->n, a->b0, 0);        \
    }                                                                                       \
    static void uaot_dwpl_l2_##NAME(const uaot_dwpl_args_t *a)                              \
    {                                                                                       \
        uaot_dwpl_line2(a->rows, a->ko, a->xg, SI, a->w, KP, a->ab, a->n, a->b0, a->b1, 0); \
    }
UAOT_DWPL_FNS(s1k1, 1, 1)
UAOT_DWPL_FNS(s1k2, 1, 2)
UAOT_DWPL_FNS(s1k3, 1, 3)
UAOT_DWPL_FNS(s1k4, 1, 4)
UAOT_DWPL_FNS(s2k1, 2, 1)
UAOT_DWPL_FNS(s2k2, 2, 2)
UAOT_DWPL_FNS(s2k3, 2, 3)
UAOT_DWPL_FNS(s2k4, 2, 4)
UAOT_DWPL_FNS(any, a->si, a->kp)
/* 3x3 and 5x5 kernels (3 lines of 2 tap pairs, 5 lines of 3): the kernel lines unrolled too */
#define UAOT_DWPL_FN_KO(NAME, SI, KP, KO)                                                 \
    static void uaot_dwpl_l4_##NAME(const uaot_dwpl_args_t *a)                            \
    {                                                                                     \
        uaot_dwpl_line4(a->rows, KO, a->xg, SI, a->w, KP, a->ab, a->n, a->b0, KO);        \
    }                                                                                     \
    static void uaot_dwpl_l2_##NAME(const uaot_dwpl_args_t *a)                            \
    {                                                                                     \
        uaot_dwpl_line2(a->rows, KO, a->xg, SI, a->w, KP, a->ab, a->n, a->b0, a->b1, KO); \
    }
UAOT_DWPL_FN_KO(s1k2o3, 1, 2, 3)
UAOT_DWPL_FN_KO(s2k2o3, 2, 2, 3)
UAOT_DWPL_FN_KO(s1k3o5, 1, 3, 5)
UAOT_DWPL_FN_KO(s2k3o5, 2, 3, 5)

static uaot_dwpl_line_fn uaot_dwpl_pick(int32_t si, int32_t kp, int32_t ko, int m1)
{
    if ((si == 1 || si == 2) && ((ko == 3 && kp == 2) || (ko == 5 && kp == 3))) {
        if (m1) {
            return ko == 3 ? (si == 1 ? uaot_dwpl_l4_s1k2o3 : uaot_dwpl_l4_s2k2o3)
                           : (si == 1 ? uaot_dwpl_l4_s1k3o5 : uaot_dwpl_l4_s2k3o5);
        }
        return ko == 3 ? (si == 1 ? uaot_dwpl_l2_s1k2o3 : uaot_dwpl_l2_s2k2o3)
                       : (si == 1 ? uaot_dwpl_l2_s1k3o5 : uaot_dwpl_l2_s2k3o5);
    }
    static const uaot_dwpl_line_fn f4[2][4] = {
        {uaot_dwpl_l4_s1k1, uaot_dwpl_l4_s1k2, uaot_dwpl_l4_s1k3, uaot_dwpl_l4_s1k4},
        {uaot_dwpl_l4_s2k1, uaot_dwpl_l4_s2k2, uaot_dwpl_l4_s2k3, uaot_dwpl_l4_s2k4}};
    static const uaot_dwpl_line_fn f2[2][4] = {
        {uaot_dwpl_l2_s1k1, uaot_dwpl_l2_s1k2, uaot_dwpl_l2_s1k3, uaot_dwpl_l2_s1k4},
        {uaot_dwpl_l2_s2k1, uaot_dwpl_l2_s2k2, uaot_dwpl_l2_s2k3, uaot_dwpl_l2_s2k4}};
    if ((si != 1 && si != 2) || kp > 4) { /* any stride and tap pairs: the generic loops */
        return m1 ? uaot_dwpl_l4_any : uaot_dwpl_l2_any;
    }
    return m1 ? f4[si - 1][kp - 1] : f2[si - 1][kp - 1];
}

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
    /* scratch: Eo line tags, the line's accumulators, then the ring of Eo slots (line l in slot l mod Eo) of G
     * lines */
    int32_t *tags = (int32_t *)(void *)scratch;
    const int32_t oi2 = (out_i + 1) / 2 * 2;
    /* the accumulators of an output line: Oi rounded up to 4 (M == 1), per channel pair 2 per pixel (M >= 2) */
    int32_t *ab = tags + eo;
    int16_t *ring = (int16_t *)(void *)(ab + uaot_dw_plane_acc(out_i, M));
    const int16_t *rows[UAOT_DW_PLANE_MAX_KO];
    const int32_t G = uaot_dw_plane_group(C); /* channels expanded together (their lines side by side) */
    const int16_t zp = (int16_t)(-p->input_offset);
    const uaot_dwpl_line_fn line = uaot_dwpl_pick(si, kp_n, ko_n, M == 1);
    uaot_dwpl_args_t args = {rows, ko_n, 0, si, kp_n, NULL, ab, out_i, 0, 0};
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * C;
        int8_t *out_b = output + (size_t)b * p->out_h * p->out_w * OC;
        for (int32_t c0 = 0; c0 < C; c0 += G) {
            const int32_t gn = C - c0 < G ? C - c0 : G;
            for (int32_t s = 0; s < eo; ++s) {
                tags[s] = INT32_MIN;
            }
            for (int32_t oo = 0; oo < out_o; ++oo) {
                const int32_t base = oo * so - pad_o;
                for (int32_t k = 0; k < ko_n; ++k) {
                    const int32_t l = base + k * dil_o;
                    int32_t slot = l % eo;
                    slot += slot < 0 ? eo : 0;
                    int16_t *dst = ring + (size_t)slot * G * wstride;
                    rows[k] = dst;
                    if (tags[slot] != l) {
                        tags[slot] = l;
                        const int32_t len = l < 0 || l >= in_o ? 0 : in_i;
                        const int8_t *src = in_b + (len ? l * in_os + c0 : 0);
                        if (gn == 4) {
                            uaot_dwpl_expand4(dst, wstride, wn, src, in_is, len, len ? pad_i : wn, zp);
                        } else {
                            for (int32_t g = 0; g < gn; ++g) {
                                uaot_dwpl_expand(dst + g * wstride, wn, src + g, in_is, len, len ? pad_i : wn, zp);
                            }
                        }
                    }
                }
                for (int32_t g = 0; g < gn; ++g) {
                    const int32_t c = c0 + g, xg = g * wstride;
                    const uint32_t *wc = (const uint32_t *)(const void *)filter + (size_t)c * wch;
                    int8_t *orow = out_b + oo * out_os + c * M;
                    args.xg = xg;
                    if (M == 1) {
                        args.ab = ab;
                        args.w = wc;
                        args.b0 = p->bias[c];
                        line(&args);
                        if (p->rq != NULL) {
                            uaot_dwpl_rq_m1(p, ab, orow, out_is, out_i, c);
                        } else {
                            uaot_dwpl_rq_line(p, ab, 1, 0, orow, out_is, out_i, c, 1);
                        }
                        continue;
                    }
                    for (int32_t m2 = 0; m2 < mp; ++m2) {
                        const int32_t ch = c * M + 2 * m2;
                        args.w = wc + (size_t)m2 * 2 * ko_n * kp_n;
                        args.ab = ab + m2 * 2 * oi2;
                        args.b0 = p->bias[ch];
                        args.b1 = 2 * m2 + 1 < M ? p->bias[ch + 1] : 0;
                        line(&args);
                    }
                    uaot_dwpl_rq_pixels(p, ab, 2 * oi2, orow, out_is, out_i, c * M, M);
                }
            }
        }
    }
    return UAOT_OK;
}
