/* microaot kernels: int8 DEPTHWISE_CONV_2D with a one-dimensional kernel (Kx1 / 1xK), any depth multiplier
 * (see dw_small.h).
 *
 * Bit-exact with the reference kernel (conv.c): the generator folds input_offset * sum(filter) into the
 * bias, so an accumulator only needs sum(x * w) over the K taps, every padded tap reading the input zero
 * point. Without __ARM_FEATURE_DSP the same code runs on the portable emulation in microaot/simd.h. */
#include "microaot/kernels/dw_small.h"

#include <stddef.h>
#include <string.h>

#include "microaot/simd.h"

/* the fast requantization of one doubled accumulator a with {m, b, r} (ops/_pack.py rq_table: y = SMMULR(a, m)
 * + b, TFLM's rounding sign taken from a instead of y: they differ only when y = 0 > a, where
 * (2^(r-1) - 1 + off*2^r) >> r = (2^(r-1) + off*2^r) >> r as r >= 1; sg = 0 drops the sign, exact when
 * act_min >= output_offset: a < 0 (m > 0) then gives a value <= output_offset <= act_min with or without
 * it, both clamped to act_min as in TFLM), saturated to int8 */
UAOT_INLINE int32_t uaot_dws_rq(int32_t a, const int32_t *q, int32_t sg)
{
#if UAOT_HAVE_DSP
    int32_t y;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(y) : "r"(a), "r"(q[0]), "r"(q[1]));
#else
    int32_t y = uaot_wrap_add(uaot_smmulr(a, q[0]), q[1]);
#endif
    if (sg) {
        y += a >> 31;
    }
    y >>= q[2];
#if UAOT_HAVE_DSP
    __asm__("ssat %0, #8, %0" : "+r"(y));
    return y;
#else
    return y < -128 ? -128 : (y > 127 ? 127 : y);
#endif
}

/* 4 int8 values (already in [-128, 127]) as one little-endian word */
UAOT_INLINE uint32_t uaot_dws_pack(int32_t v0, int32_t v1, int32_t v2, int32_t v3)
{
#if UAOT_HAVE_DSP
    uint32_t w = (uint32_t)v0;
    __asm__("bfi %0, %1, #8, #8" : "+r"(w) : "r"(v1));
    __asm__("bfi %0, %1, #16, #8" : "+r"(w) : "r"(v2));
    __asm__("bfi %0, %1, #24, #8" : "+r"(w) : "r"(v3));
    return w;
#else
    return ((uint32_t)v0 & 0xFFu) | (((uint32_t)v1 & 0xFFu) << 8) | (((uint32_t)v2 & 0xFFu) << 16) |
           ((uint32_t)v3 << 24);
#endif
}

/* each signed byte of w clamped to [lo, hi] (lo4 / hi4: 4 copies of lo / hi): SSUB8 + SEL twice */
UAOT_INLINE uint32_t uaot_dws_clamp4(uint32_t w, uint32_t lo4, uint32_t hi4)
{
#if UAOT_HAVE_DSP
    uint32_t t;
    __asm__("ssub8 %[t], %[w], %[lo]\n\t"
            "sel %[w], %[w], %[lo]\n\t"
            "ssub8 %[t], %[hi], %[w]\n\t"
            "sel %[w], %[w], %[hi]"
            : [w] "+r"(w), [t] "=&r"(t)
            : [lo] "r"(lo4), [hi] "r"(hi4)
            : "cc");
    return w;
#else
    uint32_t out = 0;
    for (int i = 0; i < 32; i += 8) {
        const int32_t v = (int32_t)(int8_t)(uint8_t)(w >> i), lo = (int32_t)(int8_t)(uint8_t)(lo4 >> i);
        const int32_t hi = (int32_t)(int8_t)(uint8_t)(hi4 >> i);
        out |= ((uint32_t)(v < lo ? lo : (v > hi ? hi : v)) & 0xFFu) << i;
    }
    return out;
#endif
}

UAOT_INLINE void uaot_dws_st32(int8_t *y, uint32_t v)
{
    memcpy(y, &v, sizeof v);
}

/* the call's constants */
typedef struct {
    int32_t K, xs, sx, n_out, ystep, lo, hi, off;
    uint32_t lo4, hi4;
    const int32_t *mult, *shift;
} uaot_dws_t;

/* the outputs of one line for one full group of 4 channels, fast requantization: S = the expanded positions
 * (2 words each), gw = the group's stream, y = the line's first output of the group. K, xs (words between
 * taps) and sg are constants in the specialized copies below. */
UAOT_INLINE void uaot_dws_run(const uaot_dws_t *k, const uint32_t *S, const int32_t *gw, int8_t *y, int32_t K,
                              int32_t xs, int32_t sg)
{
    const uint32_t *const w = (const uint32_t *)(const void *)(gw + 4);
    const int32_t *const q = gw + 4 + 2 * K;
    const int32_t sx = k->sx, ystep = k->ystep, n = k->n_out;
    const uint32_t lo4 = k->lo4, hi4 = k->hi4;
    for (int32_t o = 0; o < n; ++o, S += sx, y += ystep) {
        int32_t a0 = gw[0], a1 = gw[1], a2 = gw[2], a3 = gw[3];
        const uint32_t *x = S;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 16
#endif
        for (int32_t t = 0; t < K; ++t, x += xs) {
            const uint32_t xa = x[0], xb = x[1], wa = w[2 * t], wb = w[2 * t + 1];
            a0 = uaot_smlabb(xa, wa, a0);
            a2 = uaot_smlatt(xa, wa, a2);
            a1 = uaot_smlabb(xb, wb, a1);
            a3 = uaot_smlatt(xb, wb, a3);
        }
        const uint32_t v = uaot_dws_pack(uaot_dws_rq(a0, q, sg), uaot_dws_rq(a1, q + 3, sg), uaot_dws_rq(a2, q + 6, sg),
                                         uaot_dws_rq(a3, q + 9, sg));
        uaot_dws_st32(y, uaot_dws_clamp4(v, lo4, hi4));
    }
}

typedef void (*uaot_dws_fn)(const uaot_dws_t *k, const uint32_t *S, const int32_t *gw, int8_t *y);

#define UAOT_DWS_SPECIALIZE(KK)                                                                           \
    static void uaot_dws_k##KK##_s0(const uaot_dws_t *k, const uint32_t *S, const int32_t *gw, int8_t *y) \
    {                                                                                                     \
        uaot_dws_run(k, S, gw, y, KK, 2, 0);                                                              \
    }                                                                                                     \
    static void uaot_dws_k##KK##_s1(const uaot_dws_t *k, const uint32_t *S, const int32_t *gw, int8_t *y) \
    {                                                                                                     \
        uaot_dws_run(k, S, gw, y, KK, 2, 1);                                                              \
    }
UAOT_DWS_SPECIALIZE(2)
UAOT_DWS_SPECIALIZE(3)
UAOT_DWS_SPECIALIZE(4)
UAOT_DWS_SPECIALIZE(5)
UAOT_DWS_SPECIALIZE(7)
UAOT_DWS_SPECIALIZE(9)
UAOT_DWS_SPECIALIZE(10)
#undef UAOT_DWS_SPECIALIZE

/* any K / dilation (xs = 2 * dilation), fast requantization */
static void uaot_dws_any_s0(const uaot_dws_t *k, const uint32_t *S, const int32_t *gw, int8_t *y)
{
    uaot_dws_run(k, S, gw, y, k->K, k->xs, 0);
}

static void uaot_dws_any_s1(const uaot_dws_t *k, const uint32_t *S, const int32_t *gw, int8_t *y)
{
    uaot_dws_run(k, S, gw, y, k->K, k->xs, 1);
}

/* the general group: n (1..4) channels stored, fast (q != NULL) or exact requantization (p->mult / shift of
 * channels oc0 ..) */
static void uaot_dws_general(const uaot_dws_t *k, const uint32_t *S, const int32_t *gw, int8_t *y, int32_t n,
                             int32_t fast, int32_t oc0)
{
    const uint32_t *const w = (const uint32_t *)(const void *)(gw + 4);
    const int32_t *const q = gw + 4 + 2 * k->K;
    for (int32_t o = 0; o < k->n_out; ++o, S += k->sx, y += k->ystep) {
        int32_t a[4] = {gw[0], gw[1], gw[2], gw[3]};
        const uint32_t *x = S;
        for (int32_t t = 0; t < k->K; ++t, x += k->xs) {
            const uint32_t xa = x[0], xb = x[1], wa = w[2 * t], wb = w[2 * t + 1];
            a[0] = uaot_smlabb(xa, wa, a[0]);
            a[2] = uaot_smlatt(xa, wa, a[2]);
            a[1] = uaot_smlabb(xb, wb, a[1]);
            a[3] = uaot_smlatt(xb, wb, a[3]);
        }
        for (int32_t j = 0; j < n; ++j) {
            if (fast) {
                const int32_t v = uaot_dws_rq(a[j], q + 3 * j, 1);
                y[j] = (int8_t)(v < k->lo ? k->lo : (v > k->hi ? k->hi : v));
            } else {
                y[j] = uaot_requant_out(a[j], k->mult[oc0 + j], k->shift[oc0 + j], k->off, k->lo, k->hi);
            }
        }
    }
}

/* expands positions [0, Lp) of one line for the output channels of one group into S (2 words each): position j
 * is input index j - pad along the tap axis (A bytes apart; line NULL: the whole line is padding), the group's
 * 4 bytes at byte offsets ch[0..3] from a position (ch[i] < 0: the zero point), or one word at ch[0] (direct) */
static void uaot_dws_expand(uint32_t *S, const int8_t *line, int32_t Lp, int32_t pad, int32_t len, int32_t A,
                            const int32_t *ch, int32_t direct, int32_t zp)
{
    const uint32_t z = uaot_sxtb16(uaot_splat8(zp));
    int32_t lo = line == NULL ? Lp : (pad > 0 ? pad : 0), hi = line == NULL ? Lp : pad + len;
    lo = lo > Lp ? Lp : lo;
    hi = hi > Lp ? Lp : (hi < lo ? lo : hi);
    int32_t j = 0;
    for (; j < lo; ++j, S += 2) {
        S[0] = S[1] = z;
    }
    if (j < hi) {
        const int8_t *src = line + (ptrdiff_t)(j - pad) * A;
        if (direct) {
            src += ch[0];
            for (; j < hi; ++j, S += 2, src += A) {
                const uint32_t v = uaot_ld32(src);
                S[0] = uaot_sxtb16(v);
                S[1] = uaot_sxtb16_r8(v);
            }
        } else {
            const uint32_t zb = (uint32_t)zp & 0xFFu;
            for (; j < hi; ++j, S += 2, src += A) {
                uint32_t v = 0;
                for (int32_t i = 0; i < 4; ++i) {
                    v |= (ch[i] < 0 ? zb : (uint32_t)(uint8_t)src[ch[i]]) << (8 * i);
                }
                S[0] = uaot_sxtb16(v);
                S[1] = uaot_sxtb16_r8(v);
            }
        }
    }
    for (; j < Lp; ++j, S += 2) {
        S[0] = S[1] = z;
    }
}

uaot_status_t uaot_dw_line_s8(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter, int8_t *output,
                              uint8_t *scratch, uint32_t scratch_size)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || scratch == NULL ||
        (p->k_h != 1 && p->k_w != 1) || p->k_h <= 0 || p->k_w <= 0 || p->depth_mult <= 0 ||
        p->out_c != p->in_c * p->depth_mult || p->out_c <= 0 || p->out_h <= 0 || p->out_w <= 0 ||
        ((uintptr_t)filter & 3u) != 0u || ((uintptr_t)scratch & 3u) != 0u ||
        (p->rq == NULL && (p->mult == NULL || p->shift == NULL))) {
        return UAOT_ERR_ARG;
    }
    UAOT_CHECK_SCRATCH(scratch_size, uaot_dw_line_s8_scratch_size(p));
    /* everything as locals (int8 stores below may alias *p) */
    const int32_t v = uaot_dw_line_vertical(p);
    const int32_t C = p->in_c, M = p->depth_mult, OC = p->out_c, G = (OC + 3) / 4, fast = p->rq != NULL;
    const int32_t K = v ? p->k_h : p->k_w, s = v ? p->stride_h : p->stride_w, d = v ? p->dil_h : p->dil_w;
    const int32_t pad = v ? p->pad_top : p->pad_left, len = v ? p->in_h : p->in_w;
    const int32_t n_lines = v ? p->out_w : p->out_h, ls = v ? p->stride_w : p->stride_h;
    const int32_t lpad = v ? p->pad_left : p->pad_top, llen = v ? p->in_w : p->in_h;
    const int32_t in_w = p->in_w, in_h = p->in_h, out_w = p->out_w, out_h = p->out_h, batches = p->batches;
    /* bytes between positions along the tap axis / between lines, input and output */
    const int32_t A = v ? in_w * C : C, LA = v ? C : in_w * C;
    const int32_t YA = v ? out_w * OC : OC, YL = v ? OC : out_w * OC;
    const int32_t Lp = uaot_dw_line_positions(p), gwords = 4 + 2 * K + (fast ? 12 : 0);
    const int32_t zp = -p->input_offset;
    const int32_t *const stream = (const int32_t *)(const void *)filter;
    uint32_t *const S = (uint32_t *)(void *)scratch;
    uaot_dws_t k;
    k.K = K;
    k.xs = 2 * d;
    k.sx = 2 * s;
    k.n_out = v ? out_h : out_w;
    k.ystep = YA;
    k.lo = p->act_min;
    k.hi = p->act_max;
    k.off = p->output_offset;
    k.lo4 = uaot_splat8(p->act_min);
    k.hi4 = uaot_splat8(p->act_max);
    k.mult = p->mult;
    k.shift = p->shift;
    uaot_dws_fn fn = NULL;
    if (fast) {
        /* the rounding sign is needed unless act_min >= output_offset (uaot_dws_rq) */
        const int32_t sg = p->act_min < p->output_offset;
        const int32_t kk = d == 1 ? K : 0;
        fn = kk == 2    ? (sg ? uaot_dws_k2_s1 : uaot_dws_k2_s0)
             : kk == 3  ? (sg ? uaot_dws_k3_s1 : uaot_dws_k3_s0)
             : kk == 4  ? (sg ? uaot_dws_k4_s1 : uaot_dws_k4_s0)
             : kk == 5  ? (sg ? uaot_dws_k5_s1 : uaot_dws_k5_s0)
             : kk == 7  ? (sg ? uaot_dws_k7_s1 : uaot_dws_k7_s0)
             : kk == 9  ? (sg ? uaot_dws_k9_s1 : uaot_dws_k9_s0)
             : kk == 10 ? (sg ? uaot_dws_k10_s1 : uaot_dws_k10_s0)
                        : (sg ? uaot_dws_any_s1 : uaot_dws_any_s0);
    }
    (void)in_h;
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *const in_b = input + (size_t)b * (size_t)p->in_h * (size_t)in_w * (size_t)C;
        int8_t *const out_b = output + (size_t)b * (size_t)out_h * (size_t)out_w * (size_t)OC;
        for (int32_t l = 0; l < n_lines; ++l) {
            const int32_t il = l * ls - lpad;
            const int8_t *const line = il >= 0 && il < llen ? in_b + (ptrdiff_t)il * LA : NULL;
            int8_t *const yl = out_b + (ptrdiff_t)l * YL;
            for (int32_t g = 0; g < G; ++g) {
                const int32_t oc0 = 4 * g, n = OC - oc0 < 4 ? OC - oc0 : 4;
                int32_t ch[4];
                for (int32_t i = 0; i < 4; ++i) {
                    ch[i] = i < n ? (oc0 + i) / M : -1;
                }
                uaot_dws_expand(S, line, Lp, pad, len, A, ch, M == 1 && n == 4, zp);
                const int32_t *const gw = stream + (ptrdiff_t)g * gwords;
                if (fn != NULL && n == 4) {
                    fn(&k, S, gw, yl + oc0);
                } else {
                    uaot_dws_general(&k, S, gw, yl + oc0, n, fast, oc0);
                }
            }
        }
    }
    return UAOT_OK;
}
