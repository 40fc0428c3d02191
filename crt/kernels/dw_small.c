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
    int32_t K, xs, sx, n_out, ystep, lo, hi, off, Lp, ng; /* ng: groups of one call (fn) */
    int32_t slot, pr; /* words of a group's expanded positions; the taps in pairs (uaot_dw_line_pairs) */
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

static void uaot_dws_general(const uaot_dws_t *k, const uint32_t *S, const int32_t *gw, int8_t *y, int32_t n,
                             int32_t fast, int32_t oc0);

#if UAOT_HAVE_DSP && defined(__OPTIMIZE__) /* gcc -O0 cannot allocate the asm: the portable loop runs */
/* one tap at byte offset OFF of the output's first position: its 2 words, the tap's 2 weight words, 4 MACs */
#define UAOT_DWS_TAP(OFF)                      \
    "ldrd %[xa], %[xb], [%[x], #" #OFF "]\n\t" \
    "ldrd %[wa], %[wb], [%[w]], #8\n\t"        \
    "smlabb %[a0], %[xa], %[wa], %[a0]\n\t"    \
    "smlatt %[a2], %[xa], %[wa], %[a2]\n\t"    \
    "smlabb %[a1], %[xb], %[wb], %[a1]\n\t"    \
    "smlatt %[a3], %[xb], %[wb], %[a3]\n\t"
#define UAOT_DWS_T2 UAOT_DWS_TAP(0) UAOT_DWS_TAP(8)
#define UAOT_DWS_T3 UAOT_DWS_T2 UAOT_DWS_TAP(16)
#define UAOT_DWS_T4 UAOT_DWS_T3 UAOT_DWS_TAP(24)
#define UAOT_DWS_T5 UAOT_DWS_T4 UAOT_DWS_TAP(32)
#define UAOT_DWS_T7 UAOT_DWS_T5 UAOT_DWS_TAP(40) UAOT_DWS_TAP(48)
#define UAOT_DWS_T9 UAOT_DWS_T7 UAOT_DWS_TAP(56) UAOT_DWS_TAP(64)
#define UAOT_DWS_T10 UAOT_DWS_T9 UAOT_DWS_TAP(72)
/* taps (t, t+1) at byte offset OFF (16 t) of the output's first position (pairs): its 4 words, 4 weight words, 4
 * SMLAD; an odd K's last tap alone: the low halves of the position's 4 words, 2 weight words */
#define UAOT_DWS_TAPP(OFF)                       \
    "ldrd %[xa], %[xb], [%[x], #" #OFF "]\n\t"   \
    "ldrd %[wa], %[wb], [%[w]], #8\n\t"          \
    "smlad %[a0], %[xa], %[wa], %[a0]\n\t"       \
    "smlad %[a1], %[xb], %[wb], %[a1]\n\t"       \
    "ldrd %[xa], %[xb], [%[x], #" #OFF "+8]\n\t" \
    "ldrd %[wa], %[wb], [%[w]], #8\n\t"          \
    "smlad %[a2], %[xa], %[wa], %[a2]\n\t"       \
    "smlad %[a3], %[xb], %[wb], %[a3]\n\t"
#define UAOT_DWS_TAPS1(OFF)                      \
    "ldrd %[xa], %[xb], [%[x], #" #OFF "]\n\t"   \
    "ldrd %[wa], %[wb], [%[w]], #8\n\t"          \
    "smlabb %[a0], %[xa], %[wa], %[a0]\n\t"      \
    "smlabt %[a1], %[xb], %[wa], %[a1]\n\t"      \
    "ldrd %[xa], %[xb], [%[x], #" #OFF "+8]\n\t" \
    "smlabb %[a2], %[xa], %[wb], %[a2]\n\t"      \
    "smlabt %[a3], %[xb], %[wb], %[a3]\n\t"
#define UAOT_DWS_TP7 UAOT_DWS_TAPP(0) UAOT_DWS_TAPP(32) UAOT_DWS_TAPP(64) UAOT_DWS_TAPS1(96)
#define UAOT_DWS_TP9 UAOT_DWS_TAPP(0) UAOT_DWS_TAPP(32) UAOT_DWS_TAPP(64) UAOT_DWS_TAPP(96) UAOT_DWS_TAPS1(128)
#define UAOT_DWS_TP10 UAOT_DWS_TAPP(0) UAOT_DWS_TAPP(32) UAOT_DWS_TAPP(64) UAOT_DWS_TAPP(96) UAOT_DWS_TAPP(128)
/* requantization of accumulator A ({m, b, r} by LDM into xa, xb, wa), the rounding sign SG or none */
#define UAOT_DWS_SG1(A) "add %[xa], %[xa], " A ", asr #31\n\t"
#define UAOT_DWS_SG0(A) ""
#define UAOT_DWS_RQ(A, SG)                                                      \
    "ldmia %[w]!, {%[xa], %[xb], %[wa]}\n\t"                                    \
    "smmlar %[xa], " A ", %[xa], %[xb]\n\t" SG(A) "asr " A ", %[xa], %[wa]\n\t" \
                                                  "ssat " A ", #8, " A "\n\t"
#define UAOT_DWS_CL0 ""
#define UAOT_DWS_CL1                \
    "ldr %[xa], %[lo4]\n\t"         \
    "ssub8 %[xb], %[a0], %[xa]\n\t" \
    "sel %[a0], %[a0], %[xa]\n\t"
#define UAOT_DWS_CL2                \
    UAOT_DWS_CL1                    \
    "ldr %[xa], %[hi4]\n\t"         \
    "ssub8 %[xb], %[xa], %[a0]\n\t" \
    "sel %[a0], %[a0], %[xa]\n\t"
/* the outputs of ng groups: per output of 4 channels the bias (LDM), the taps, 4 requantizations, packed,
 * clamped (CL0: the whole int8 range, none; CL1: act_min only, act_max = 127; CL2: both), one word stored;
 * xe (lr) = the end of the group's positions, ys (r12) = bytes between outputs */
#define UAOT_DWS_LOOP(TAPS, SG, CL)                                                                                  \
    "ldr %[ys], %[ystep]\n\t"                                                                                        \
    "2:\n\t"                                                                                                         \
    "ldr %[xa], %[nxb]\n\t"                                                                                          \
    "add %[xe], %[x], %[xa]\n\t"                                                                                     \
    "1:\n\t"                                                                                                         \
    "ldmia %[w]!, {%[a0], %[a1], %[a2], %[a3]}\n\t" TAPS UAOT_DWS_RQ("%[a0]", SG) UAOT_DWS_RQ("%[a1]", SG)           \
        UAOT_DWS_RQ("%[a2]", SG) UAOT_DWS_RQ("%[a3]", SG) "bfi %[a0], %[a1], #8, #8\n\t"                             \
                                                          "bfi %[a0], %[a2], #16, #8\n\t"                            \
                                                          "bfi %[a0], %[a3], #24, #8\n\t" CL "str %[a0], [%[y]]\n\t" \
                                                          "add %[y], %[y], %[ys]\n\t"                                \
                                                          "ldr %[xa], %[sxb]\n\t"                                    \
                                                          "add %[x], %[x], %[xa]\n\t"                                \
                                                          "sub %[w], %[w], %[gwb]\n\t"                               \
                                                          "cmp %[x], %[xe]\n\t"                                      \
                                                          "bne 1b\n\t"                                               \
                                                          "ldr %[xa], %[dx]\n\t"                                     \
                                                          "add %[x], %[x], %[xa]\n\t"                                \
                                                          "ldr %[xa], %[dy]\n\t"                                     \
                                                          "add %[y], %[y], %[xa]\n\t"                                \
                                                          "add %[w], %[w], %[gwb]\n\t"                               \
                                                          "ldr %[xa], %[ng]\n\t"                                     \
                                                          "subs %[xa], %[xa], #1\n\t"                                \
                                                          "str %[xa], %[ng]\n\t"                                     \
                                                          "bne 2b\n\t"
#define UAOT_DWS_ASM(NAME, TAPS, KK, SG, CL)                                                                         \
    static void uaot_dws_##NAME##_##SG##_##CL(const uaot_dws_t *k, const uint32_t *S, const int32_t *gw, int8_t *yo) \
    {                                                                                                                \
        register int32_t a0 __asm__("r0");                                                                           \
        register int32_t a1 __asm__("r1");                                                                           \
        register int32_t a2 __asm__("r2");                                                                           \
        register int32_t a3 __asm__("r3");                                                                           \
        register uint32_t xa __asm__("r4");                                                                          \
        register uint32_t xb __asm__("r5");                                                                          \
        register uint32_t wa __asm__("r6");                                                                          \
        register uint32_t wb __asm__("r8");                                                                          \
        register const uint32_t *x __asm__("r9") = S;                                                                \
        register const int32_t *w __asm__("r10") = gw;                                                               \
        register int8_t *y __asm__("r11") = yo;                                                                      \
        register int32_t ys __asm__("r12");                                                                          \
        register const uint32_t *xe __asm__("lr");                                                                   \
        const int32_t ystep = k->ystep, sxb = 4 * k->sx, nxb = k->n_out * sxb;                                       \
        const int32_t dx = 4 * k->slot - nxb, dy = 4 - k->n_out * ystep;                                             \
        int32_t ng = k->ng;                                                                                          \
        const uint32_t lo4 = k->lo4, hi4 = k->hi4;                                                                   \
        __asm__ volatile(UAOT_DWS_LOOP(TAPS, UAOT_DWS_##SG, UAOT_DWS_##CL)                                           \
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [xa] "=&r"(xa),           \
                           [xb] "=&r"(xb), [wa] "=&r"(wa), [wb] "=&r"(wb), [x] "+r"(x), [w] "+r"(w), [y] "+r"(y),    \
                           [ys] "=&r"(ys), [xe] "=&r"(xe), [ng] "+m"(ng)                                             \
                         : [lo4] "m"(lo4), [hi4] "m"(hi4), [ystep] "m"(ystep), [sxb] "m"(sxb), [nxb] "m"(nxb),       \
                           [dx] "m"(dx), [dy] "m"(dy), [gwb] "i"(4 * (16 + 2 * KK))                                  \
                         : "cc", "memory");                                                                          \
    }
/* the variants: the whole range with and without the rounding sign (RELU or NONE with a -128 zero point), act_min
 * only (RELU) and clamped (RELU6, RELU_N1_TO_1: with the sign, always exact) */
#define UAOT_DWS_SPECIALIZE2(NAME, TAPS, KK) \
    UAOT_DWS_ASM(NAME, TAPS, KK, SG0, CL0)   \
    UAOT_DWS_ASM(NAME, TAPS, KK, SG1, CL0) UAOT_DWS_ASM(NAME, TAPS, KK, SG0, CL1) UAOT_DWS_ASM(NAME, TAPS, KK, SG1, CL2)
#define UAOT_DWS_SPECIALIZE(KK) UAOT_DWS_SPECIALIZE2(k##KK, UAOT_DWS_T##KK, KK)
#define UAOT_DWS_SPECIALIZE_P(KK) UAOT_DWS_SPECIALIZE2(kP##KK, UAOT_DWS_TP##KK, KK)
#define UAOT_DWS_PICK(KK, sg, cl)           \
    ((cl) == 2   ? uaot_dws_k##KK##_SG1_CL2 \
     : (cl) == 1 ? uaot_dws_k##KK##_SG0_CL1 \
     : (sg)      ? uaot_dws_k##KK##_SG1_CL0 \
                 : uaot_dws_k##KK##_SG0_CL0)
#else
#define UAOT_DWS_SPECIALIZE(KK)                                                                      \
    static void uaot_dws_k##KK(const uaot_dws_t *k, const uint32_t *S, const int32_t *gw, int8_t *y) \
    {                                                                                                \
        for (int32_t g = 0; g < k->ng; ++g, S += 2 * k->Lp, gw += 16 + 2 * KK, y += 4) {             \
            uaot_dws_run(k, S, gw, y, KK, 2, 1);                                                     \
        }                                                                                            \
    }
#define UAOT_DWS_SPECIALIZE_P(KK)                                                                     \
    static void uaot_dws_kP##KK(const uaot_dws_t *k, const uint32_t *S, const int32_t *gw, int8_t *y) \
    {                                                                                                 \
        for (int32_t g = 0; g < k->ng; ++g, S += k->slot, gw += 16 + 2 * KK, y += 4) {                \
            uaot_dws_general(k, S, gw, y, 4, 1, 0);                                                   \
        }                                                                                             \
    }
#define UAOT_DWS_PICK(KK, sg, cl2) ((void)(sg), (void)(cl2), uaot_dws_k##KK)
#endif
UAOT_DWS_SPECIALIZE(2)
UAOT_DWS_SPECIALIZE(3)
UAOT_DWS_SPECIALIZE(4)
UAOT_DWS_SPECIALIZE(5)
UAOT_DWS_SPECIALIZE(7)
UAOT_DWS_SPECIALIZE(9)
UAOT_DWS_SPECIALIZE_P(7)
UAOT_DWS_SPECIALIZE_P(9)
UAOT_DWS_SPECIALIZE_P(10)
#undef UAOT_DWS_SPECIALIZE
#undef UAOT_DWS_SPECIALIZE_P

/* any K / dilation (xs = 2 * dilation), fast requantization */
static void uaot_dws_any_s0(const uaot_dws_t *k, const uint32_t *S, const int32_t *gw, int8_t *y)
{
    for (int32_t g = 0; g < k->ng; ++g, S += 2 * k->Lp, gw += 16 + 2 * k->K, y += 4) {
        uaot_dws_run(k, S, gw, y, k->K, k->xs, 0);
    }
}

static void uaot_dws_any_s1(const uaot_dws_t *k, const uint32_t *S, const int32_t *gw, int8_t *y)
{
    for (int32_t g = 0; g < k->ng; ++g, S += 2 * k->Lp, gw += 16 + 2 * k->K, y += 4) {
        uaot_dws_run(k, S, gw, y, k->K, k->xs, 1);
    }
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
        int32_t t = 0;
        if (k->pr) { /* taps (t, t+1): 4 words of position t, 4 weight words; an odd K's last tap alone */
            for (; t + 1 < k->K; t += 2) {
                for (int32_t j = 0; j < 4; ++j) {
                    a[j] = uaot_smlad(x[4 * t + j], w[2 * t + j], a[j]);
                }
            }
            if (t < k->K) {
                const uint32_t *const xt = x + 4 * t, wa = w[2 * t], wb = w[2 * t + 1];
                a[0] = uaot_smlabb(xt[0], wa, a[0]);
                a[1] = uaot_smlabb(xt[1], wa >> 16, a[1]);
                a[2] = uaot_smlabb(xt[2], wb, a[2]);
                a[3] = uaot_smlabb(xt[3], wb >> 16, a[3]);
            }
            t = k->K;
        }
        for (; t < k->K; ++t, x += k->xs) {
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
 * 4 bytes at byte offsets ch[0..3] from a position (the out_c < 4 group) */
static void uaot_dws_expand(uint32_t *S, const int8_t *line, int32_t Lp, int32_t pad, int32_t len, int32_t A,
                            const int32_t *ch, int32_t zp)
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
        if (ch[1] == ch[0] && ch[2] == ch[0] && ch[3] == ch[0]) {
            /* one input channel for the 4 outputs (multiplier % 4 == 0): both words (x, x) */
            src += ch[0];
            for (; j < hi; ++j, S += 2, src += A) {
                const uint32_t x = (uint32_t)(int32_t)src[0] & 0xFFFFu;
                S[0] = S[1] = x | (x << 16);
            }
        } else if (ch[1] == ch[0] && ch[2] == ch[0] + 1 && ch[3] == ch[2]) {
            /* multiplier 2: channels (c, c, c+1, c+1), both words (x[c], x[c+1]) */
            src += ch[0];
            for (; j < hi; ++j, S += 2, src += A) {
                const uint32_t x = (uint32_t)(uint8_t)src[0] | ((uint32_t)(uint8_t)src[1] << 16);
                S[0] = S[1] = uaot_sxtb16(x);
            }
        } else {
            for (; j < hi; ++j, S += 2, src += A) {
                const uint32_t x = (uint32_t)(uint8_t)src[ch[0]] | ((uint32_t)(uint8_t)src[ch[1]] << 8) |
                                   ((uint32_t)(uint8_t)src[ch[2]] << 16) | ((uint32_t)(uint8_t)src[ch[3]] << 24);
                S[0] = uaot_sxtb16(x);
                S[1] = uaot_sxtb16_r8(x);
            }
        }
    }
    for (; j < Lp; ++j, S += 2) {
        S[0] = S[1] = z;
    }
}

#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
/* uaot_dws_ex's bodies: two positions (x, x + A) into d (4 words, d += 16), one position (d += 8) */
#define UAOT_DWS_EX2_0                 \
    "ldr %[v0], [%[x]]\n\t"            \
    "ldr %[v2], [%[x], %[a]]\n\t"      \
    "add %[x], %[x], %[a], lsl #1\n\t" \
    "sxtb16 %[v1], %[v0], ror #8\n\t"  \
    "sxtb16 %[v0], %[v0]\n\t"          \
    "sxtb16 %[v3], %[v2], ror #8\n\t"  \
    "sxtb16 %[v2], %[v2]\n\t"          \
    "stmia %[d]!, {%[v0], %[v1], %[v2], %[v3]}\n\t"
#define UAOT_DWS_EX1_0                \
    "ldr %[v0], [%[x]]\n\t"           \
    "sxtb16 %[v1], %[v0], ror #8\n\t" \
    "sxtb16 %[v0], %[v0]\n\t"         \
    "strd %[v0], %[v1], [%[d]], #8\n\t"
#define UAOT_DWS_EX2_1                    \
    "ldrh %[v0], [%[x]]\n\t"              \
    "ldrh %[v2], [%[x], %[a]]\n\t"        \
    "add %[x], %[x], %[a], lsl #1\n\t"    \
    "orr %[v0], %[v0], %[v0], lsl #8\n\t" \
    "orr %[v2], %[v2], %[v2], lsl #8\n\t" \
    "sxtb16 %[v0], %[v0]\n\t"             \
    "sxtb16 %[v2], %[v2]\n\t"             \
    "strd %[v0], %[v0], [%[d]], #8\n\t"   \
    "strd %[v2], %[v2], [%[d]], #8\n\t"
#define UAOT_DWS_EX1_1                    \
    "ldrh %[v0], [%[x]]\n\t"              \
    "orr %[v0], %[v0], %[v0], lsl #8\n\t" \
    "sxtb16 %[v0], %[v0]\n\t"             \
    "strd %[v0], %[v0], [%[d]], #8\n\t"
#define UAOT_DWS_EX2_2                       \
    "ldrsb %[v0], [%[x]]\n\t"                \
    "ldrsb %[v2], [%[x], %[a]]\n\t"          \
    "add %[x], %[x], %[a], lsl #1\n\t"       \
    "pkhbt %[v0], %[v0], %[v0], lsl #16\n\t" \
    "pkhbt %[v2], %[v2], %[v2], lsl #16\n\t" \
    "strd %[v0], %[v0], [%[d]], #8\n\t"      \
    "strd %[v2], %[v2], [%[d]], #8\n\t"
#define UAOT_DWS_EX1_2                       \
    "ldrsb %[v0], [%[x]]\n\t"                \
    "pkhbt %[v0], %[v0], %[v0], lsl #16\n\t" \
    "strd %[v0], %[v0], [%[d]], #8\n\t"
/* per group: e = the end - 8 (pairs while d < e, then one position when d == e), x from the group's input xg,
 * xg += cs, the padding positions skipped (d += gskip) until xg == xgend */
#define UAOT_DWS_EXLOOP(B2, B1)      \
    "2:\n\t"                         \
    "ldr %[v0], %[nb]\n\t"           \
    "add %[e], %[d], %[v0]\n\t"      \
    "mov %[x], %[xg]\n\t"            \
    "ldr %[v0], %[cs]\n\t"           \
    "add %[xg], %[xg], %[v0]\n\t"    \
    "cmp %[d], %[e]\n\t"             \
    "bhs 4f\n\t"                     \
    "1:\n\t" B2 "cmp %[d], %[e]\n\t" \
    "blo 1b\n\t"                     \
    "4:\n\t"                         \
    "bne 5f\n\t" B1 "5:\n\t"         \
    "ldr %[v0], %[gskip]\n\t"        \
    "add %[d], %[d], %[v0]\n\t"      \
    "cmp %[xg], %[xgend]\n\t"        \
    "bne 2b\n\t"
#define UAOT_DWS_EXASM(MODE)                                                                                      \
    __asm__ volatile(UAOT_DWS_EXLOOP(UAOT_DWS_EX2_##MODE, UAOT_DWS_EX1_##MODE)                                    \
                     : [d] "+r"(rd), [x] "=&r"(rx), [xg] "+r"(xg), [e] "=&r"(re), [v0] "=&r"(v0), [v1] "=&r"(v1), \
                       [v2] "=&r"(v2), [v3] "=&r"(v3)                                                             \
                     : [a] "r"(A), [xgend] "r"(xgend), [nb] "m"(nb), [cs] "m"(cs), [gskip] "m"(gskip)             \
                     : "cc", "memory")
#endif

/* the positions [lo, hi) of ng >= 1 groups (gs words apart in d, cs input bytes apart from x; position j at d + 2j,
 * input x + (j - lo) * A), the 4 channels of a group at its input byte: mode 0 (multiplier 1) the word, (x[0], x[2]),
 * (x[1], x[3]); mode 1 (multiplier 2) the halfword, (x[0], x[1]) twice; mode 2 (multiplier 4) the byte, (x[0], x[0])
 * twice. In asm on Cortex-M: two positions an iteration, the group loop included. */
static void uaot_dws_ex(uint32_t *d, const int8_t *x, int32_t lo, int32_t hi, int32_t A, int32_t mode, int32_t ng,
                        int32_t gs, int32_t cs)
{
    const int32_t n = hi - lo;
    d += 2 * lo;
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
    register uint32_t v0 __asm__("r4");
    register uint32_t v1 __asm__("r5");
    register uint32_t v2 __asm__("r6");
    register uint32_t v3 __asm__("r8");
    uint32_t *rd = d, *re;
    const int8_t *rx, *xg = x;
    const int8_t *const xgend = x + (ptrdiff_t)ng * cs;
    const int32_t nb = 8 * n - 8, gskip = 4 * (gs - 2 * n);
    if (mode == 0) {
        UAOT_DWS_EXASM(0);
    } else if (mode == 1) {
        UAOT_DWS_EXASM(1);
    } else {
        UAOT_DWS_EXASM(2);
    }
    (void)rx;
    (void)re;
#else
    for (int32_t g = 0; g < ng; ++g, d += gs, x += cs) {
        uint32_t *dd = d;
        const int8_t *xx = x;
        for (int32_t j = 0; j < n; ++j, xx += A, dd += 2) {
            if (mode == 0) {
                const uint32_t v = uaot_ld32(xx);
                dd[0] = uaot_sxtb16(v);
                dd[1] = uaot_sxtb16_r8(v);
            } else if (mode == 1) {
                const uint32_t v = (uint32_t)(uint8_t)xx[0] | ((uint32_t)(uint8_t)xx[1] << 16);
                dd[0] = dd[1] = uaot_sxtb16(v);
            } else {
                const uint32_t v = (uint32_t)(int32_t)xx[0];
                dd[0] = dd[1] = (v & 0xFFFFu) | (v << 16);
            }
        }
    }
#endif
}

/* the padding positions [0, lo) and [hi, Lp) of ng group slots of S (slot words apart, wpp words a position): the
 * input zero point */
static void uaot_dws_pad(uint32_t *S, int32_t slot, int32_t wpp, int32_t Lp, int32_t lo, int32_t hi, int32_t ng,
                         uint32_t z)
{
    for (int32_t g = 0; g < ng; ++g, S += slot) {
        for (int32_t j = 0; j < wpp * lo; ++j) {
            S[j] = z;
        }
        for (int32_t j = wpp * hi; j < wpp * Lp; ++j) {
            S[j] = z;
        }
    }
}

/* the ng groups of output channels c0 + 4g + i (i < 4) of one line into S (group by group, 2 * Lp words each) as
 * uaot_dws_expand, their padding positions already holding the zero point (uaot_dws_pad) unless line == NULL: group
 * g reads the input channels (c0 + 4g + i) / M (c0 % M == 0 for M = 2, 4), mode 0 (M = 1), 1 (M = 2: c, c, c+1, c+1), 2 (M = 4: c, c, c, c) of uaot_dws_ex, else
 * byte by byte */
static void uaot_dws_expand_groups(uint32_t *S, const int8_t *line, int32_t Lp, int32_t lo, int32_t hi, int32_t pad,
                                   int32_t A, int32_t c0, int32_t ng, int32_t M, uint32_t z)
{
    if (line == NULL || lo >= hi) {
        uaot_dws_pad(S, 2 * Lp, 2, Lp, Lp, Lp, ng, z);
        return;
    }
    const int8_t *const src = line + (ptrdiff_t)(lo - pad) * A;
    if (M == 1 || M == 2 || M == 4) {
        const int32_t cs = 4 / M;
        uaot_dws_ex(S, src + c0 / M, lo, hi, A, M / 2, ng, 2 * Lp, cs);
        return;
    }
    for (int32_t g = 0; g < ng; ++g, S += 2 * Lp) {
        const int32_t c = c0 + 4 * g;
        const int32_t ch[4] = {c / M, (c + 1) / M, (c + 2) / M, (c + 3) / M};
        uint32_t *d = S + 2 * lo;
        const int8_t *x = src;
        for (int32_t j = lo; j < hi; ++j, x += A, d += 2) {
            const uint32_t w = (uint32_t)(uint8_t)x[ch[0]] | ((uint32_t)(uint8_t)x[ch[1]] << 8) |
                               ((uint32_t)(uint8_t)x[ch[2]] << 16) | ((uint32_t)(uint8_t)x[ch[3]] << 24);
            d[0] = uaot_sxtb16(w);
            d[1] = uaot_sxtb16_r8(w);
        }
    }
}

/* pairs (uaot_dw_line_pairs): the positions [max(lo - 1, 0), hi) of the ng groups of output channels c0 + 4g + i
 * (i < 4; slot words apart) of one line, position j = 4 words (x[j], x[j+1]) of channels i = 0, 1, 2, 3 (x = the
 * input zero point outside [lo, hi)); the whole-padding pairs already hold it (uaot_dws_pad) unless line == NULL.
 * ch: the input channels of one group (the out_c < 4 group), else (c0 + 4g + i) / M. */
static void uaot_dws_expand_pairs(uint32_t *S, const int8_t *line, int32_t Lp, int32_t lo, int32_t hi, int32_t pad,
                                  int32_t A, int32_t c0, int32_t ng, int32_t M, uint32_t z, int32_t slot,
                                  const int32_t *ch)
{
    if (line == NULL || lo >= hi) {
        uaot_dws_pad(S, slot, 4, Lp, Lp, Lp, ng, z);
        return;
    }
    const int8_t *const src = line + (ptrdiff_t)(lo - pad) * A;
    for (int32_t g = 0; g < ng; ++g, S += slot) {
        int32_t cg[4];
        for (int32_t i = 0; i < 4; ++i) {
            cg[i] = ch != NULL ? ch[i] : (c0 + 4 * g + i) / M;
        }
        uint32_t pa = z, pb = z; /* the words (x[0], x[2]), (x[1], x[3]) of position j - 1 */
        uint32_t *d = S + 4 * (lo > 0 ? lo - 1 : 0);
        const int8_t *x = src;
        int32_t j = lo;
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
        if ((M == 1 || M == 2 || M == 4) && ch == NULL && hi - lo >= 2) {
            /* position lo (and the pair before it), then the pairs of positions lo .. hi - 2 in asm, two an
             * iteration (the last position's words left in pa, pb) */
            const uint32_t w0 = (uint32_t)(uint8_t)x[cg[0]] | ((uint32_t)(uint8_t)x[cg[1]] << 8) |
                                ((uint32_t)(uint8_t)x[cg[2]] << 16) | ((uint32_t)(uint8_t)x[cg[3]] << 24);
            pa = uaot_sxtb16(w0);
            pb = uaot_sxtb16_r8(w0);
            if (lo > 0) {
                d[0] = (z & 0xFFFFu) | (pa << 16);
                d[1] = (z & 0xFFFFu) | (pb << 16);
                d[2] = (z >> 16) | (pa & 0xFFFF0000u);
                d[3] = (z >> 16) | (pb & 0xFFFF0000u);
                d += 4;
            }
            uint32_t p0, p1, p2, p3;
            const int8_t *rx = x + cg[0] + A;
            uint32_t *rd = d, *const re = d + 4 * (hi - lo - 1);
            uint32_t a1, b1;
            if (M == 1) {
                __asm__ volatile("sub %[p0], %[e], %[d]\n\t"
                                 "tst %[p0], #16\n\t"
                                 "beq 1f\n\t" /* an odd number of pairs: one first */
                                 "ldr %[p0], [%[x]]\n\t"
                                 "add %[x], %[x], %[a]\n\t"
                                 "sxtb16 %[a1], %[p0]\n\t"
                                 "sxtb16 %[b1], %[p0], ror #8\n\t"
                                 "pkhbt %[p0], %[a0], %[a1], lsl #16\n\t"
                                 "pkhbt %[p1], %[b0], %[b1], lsl #16\n\t"
                                 "pkhtb %[p2], %[a1], %[a0], asr #16\n\t"
                                 "pkhtb %[p3], %[b1], %[b0], asr #16\n\t"
                                 "strd %[p0], %[p1], [%[d]], #8\n\t"
                                 "strd %[p2], %[p3], [%[d]], #8\n\t"
                                 "mov %[a0], %[a1]\n\t"
                                 "mov %[b0], %[b1]\n\t"
                                 "1:\n\t"
                                 "cmp %[d], %[e]\n\t"
                                 "beq 3f\n\t"
                                 "2:\n\t"
                                 "ldr %[p0], [%[x]]\n\t"
                                 "sxtb16 %[a1], %[p0]\n\t"
                                 "sxtb16 %[b1], %[p0], ror #8\n\t"
                                 "pkhbt %[p0], %[a0], %[a1], lsl #16\n\t"
                                 "pkhbt %[p1], %[b0], %[b1], lsl #16\n\t"
                                 "pkhtb %[p2], %[a1], %[a0], asr #16\n\t"
                                 "pkhtb %[p3], %[b1], %[b0], asr #16\n\t"
                                 "strd %[p0], %[p1], [%[d]], #8\n\t"
                                 "strd %[p2], %[p3], [%[d]], #8\n\t"
                                 "ldr %[p0], [%[x], %[a]]\n\t"
                                 "add %[x], %[x], %[a], lsl #1\n\t"
                                 "sxtb16 %[a0], %[p0]\n\t"
                                 "sxtb16 %[b0], %[p0], ror #8\n\t"
                                 "pkhbt %[p0], %[a1], %[a0], lsl #16\n\t"
                                 "pkhbt %[p1], %[b1], %[b0], lsl #16\n\t"
                                 "pkhtb %[p2], %[a0], %[a1], asr #16\n\t"
                                 "pkhtb %[p3], %[b0], %[b1], asr #16\n\t"
                                 "strd %[p0], %[p1], [%[d]], #8\n\t"
                                 "strd %[p2], %[p3], [%[d]], #8\n\t"
                                 "cmp %[d], %[e]\n\t"
                                 "bne 2b\n\t"
                                 "3:\n\t"
                                 : [d] "+r"(rd), [x] "+r"(rx), [a0] "+r"(pa), [b0] "+r"(pb), [a1] "=&r"(a1),
                                   [b1] "=&r"(b1), [p0] "=&r"(p0), [p1] "=&r"(p1), [p2] "=&r"(p2), [p3] "=&r"(p3)
                                 : [a] "r"(A), [e] "r"(re)
                                 : "cc", "memory");
            } else if (M == 2) { /* (x[c], x[c+1]) words: the pairs of c twice, of c + 1 twice */
                __asm__ volatile(
                    "sub %[p0], %[e], %[d]\n\t"
                    "tst %[p0], #16\n\t"
                    "beq 1f\n\t"
                    "ldrh %[p0], [%[x]]\n\t"
                    "add %[x], %[x], %[a]\n\t"
                    "orr %[p0], %[p0], %[p0], lsl #8\n\t"
                    "sxtb16 %[a1], %[p0]\n\t"
                    "pkhbt %[p0], %[a0], %[a1], lsl #16\n\t"
                    "pkhtb %[p2], %[a1], %[a0], asr #16\n\t"
                    "strd %[p0], %[p0], [%[d]], #8\n\t"
                    "strd %[p2], %[p2], [%[d]], #8\n\t"
                    "mov %[a0], %[a1]\n\t"
                    "1:\n\t"
                    "cmp %[d], %[e]\n\t"
                    "beq 3f\n\t"
                    "2:\n\t"
                    "ldrh %[p0], [%[x]]\n\t"
                    "orr %[p0], %[p0], %[p0], lsl #8\n\t"
                    "sxtb16 %[a1], %[p0]\n\t"
                    "pkhbt %[p0], %[a0], %[a1], lsl #16\n\t"
                    "pkhtb %[p2], %[a1], %[a0], asr #16\n\t"
                    "strd %[p0], %[p0], [%[d]], #8\n\t"
                    "strd %[p2], %[p2], [%[d]], #8\n\t"
                    "ldrh %[p0], [%[x], %[a]]\n\t"
                    "add %[x], %[x], %[a], lsl #1\n\t"
                    "orr %[p0], %[p0], %[p0], lsl #8\n\t"
                    "sxtb16 %[a0], %[p0]\n\t"
                    "pkhbt %[p0], %[a1], %[a0], lsl #16\n\t"
                    "pkhtb %[p2], %[a0], %[a1], asr #16\n\t"
                    "strd %[p0], %[p0], [%[d]], #8\n\t"
                    "strd %[p2], %[p2], [%[d]], #8\n\t"
                    "cmp %[d], %[e]\n\t"
                    "bne 2b\n\t"
                    "3:\n\t"
                    : [d] "+r"(rd), [x] "+r"(rx), [a0] "+r"(pa), [a1] "=&r"(a1), [p0] "=&r"(p0), [p2] "=&r"(p2)
                    : [a] "r"(A), [e] "r"(re)
                    : "cc", "memory");
                pb = pa;
                (void)b1;
            } else { /* M == 4: (x[c], x[c]): every word the pair of c */
                __asm__ volatile("sub %[p0], %[e], %[d]\n\t"
                                 "tst %[p0], #16\n\t"
                                 "beq 1f\n\t"
                                 "ldrsb %[a1], [%[x]]\n\t"
                                 "add %[x], %[x], %[a]\n\t"
                                 "pkhbt %[p0], %[a0], %[a1], lsl #16\n\t"
                                 "strd %[p0], %[p0], [%[d]], #8\n\t"
                                 "strd %[p0], %[p0], [%[d]], #8\n\t"
                                 "mov %[a0], %[a1]\n\t"
                                 "1:\n\t"
                                 "cmp %[d], %[e]\n\t"
                                 "beq 3f\n\t"
                                 "2:\n\t"
                                 "ldrsb %[a1], [%[x]]\n\t"
                                 "pkhbt %[p0], %[a0], %[a1], lsl #16\n\t"
                                 "strd %[p0], %[p0], [%[d]], #8\n\t"
                                 "strd %[p0], %[p0], [%[d]], #8\n\t"
                                 "ldrsb %[a0], [%[x], %[a]]\n\t"
                                 "add %[x], %[x], %[a], lsl #1\n\t"
                                 "pkhbt %[p0], %[a1], %[a0], lsl #16\n\t"
                                 "strd %[p0], %[p0], [%[d]], #8\n\t"
                                 "strd %[p0], %[p0], [%[d]], #8\n\t"
                                 "cmp %[d], %[e]\n\t"
                                 "bne 2b\n\t"
                                 "3:\n\t"
                                 : [d] "+r"(rd), [x] "+r"(rx), [a0] "+r"(pa), [a1] "=&r"(a1), [p0] "=&r"(p0)
                                 : [a] "r"(A), [e] "r"(re)
                                 : "cc", "memory");
                pa = (pa & 0xFFFFu) | (pa << 16); /* the last position's (x, x) */
                pb = pa;
                (void)b1;
            }
            d = rd;
            j = hi;
            x += (ptrdiff_t)(hi - lo) * A;
        }
#endif
        for (; j <= hi; ++j, x += A) {
            uint32_t a = z, b = z;
            if (j < hi) {
                const uint32_t w = (uint32_t)(uint8_t)x[cg[0]] | ((uint32_t)(uint8_t)x[cg[1]] << 8) |
                                   ((uint32_t)(uint8_t)x[cg[2]] << 16) | ((uint32_t)(uint8_t)x[cg[3]] << 24);
                a = uaot_sxtb16(w);
                b = uaot_sxtb16_r8(w);
            }
            if (j > 0) {
                d[0] = (pa & 0xFFFFu) | (a << 16);
                d[1] = (pb & 0xFFFFu) | (b << 16);
                d[2] = (pa >> 16) | (a & 0xFFFF0000u);
                d[3] = (pb >> 16) | (b & 0xFFFF0000u);
                d += 4;
            }
            pa = a;
            pb = b;
        }
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
    const int32_t pairs = uaot_dw_line_pairs(p), slot = (pairs ? 4 : 2) * Lp; /* words of a group's positions */
    const int32_t GC = uaot_dw_line_chunk(p);
    const int32_t zp = -p->input_offset;
    const int32_t *const stream = (const int32_t *)(const void *)filter;
    uint32_t *const S = (uint32_t *)(void *)scratch;
    uaot_dws_t k;
    k.K = K;
    k.Lp = Lp;
    k.ng = 0;
    k.xs = 2 * d;
    k.sx = (pairs ? 4 : 2) * s;
    k.slot = slot;
    k.pr = pairs;
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
        const int32_t cl2 = p->act_max < 127 || (p->act_min > -128 && sg) ? 2 : p->act_min > -128 ? 1 : 0;
        fn = kk == 2    ? UAOT_DWS_PICK(2, sg, cl2)
             : kk == 3  ? UAOT_DWS_PICK(3, sg, cl2)
             : kk == 4  ? UAOT_DWS_PICK(4, sg, cl2)
             : kk == 5  ? UAOT_DWS_PICK(5, sg, cl2)
             : kk == 7  ? (pairs ? UAOT_DWS_PICK(P7, sg, cl2) : UAOT_DWS_PICK(7, sg, cl2))
             : kk == 9  ? (pairs ? UAOT_DWS_PICK(P9, sg, cl2) : UAOT_DWS_PICK(9, sg, cl2))
             : kk == 10 ? UAOT_DWS_PICK(P10, sg, cl2)
                        : (sg ? uaot_dws_any_s1 : uaot_dws_any_s0);
    }
    (void)in_h;
    /* the positions of a line inside the input [elo, ehi): the others (padding) hold the input zero point in every
     * group slot, written once here (a whole-padding line rewrites them all) */
    const uint32_t z = uaot_sxtb16(uaot_splat8(zp));
    const int32_t elo = pad > 0 ? (pad < Lp ? pad : Lp) : 0;
    const int32_t ehi = pad + len > Lp ? Lp : (pad + len < elo ? elo : pad + len);
    uaot_dws_pad(S, slot, pairs ? 4 : 2, Lp, pairs && elo > 0 ? elo - 1 : elo, ehi, GC, z);
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *const in_b = input + (size_t)b * (size_t)p->in_h * (size_t)in_w * (size_t)C;
        int8_t *const out_b = output + (size_t)b * (size_t)out_h * (size_t)out_w * (size_t)OC;
        for (int32_t l = 0; l < n_lines; ++l) {
            const int32_t il = l * ls - lpad;
            const int8_t *const line = il >= 0 && il < llen ? in_b + (ptrdiff_t)il * LA : NULL;
            int8_t *const yl = out_b + (ptrdiff_t)l * YL;
            /* chunks of GC groups: expanded one after the other into S, then run by one call of fn */
            for (int32_t g0 = 0; g0 < G; g0 += GC) {
                const int32_t g1 = g0 + GC < G ? g0 + GC : G;
                /* the groups of 4 channels at 4 * g (the fast path's one call), then the last group when it
                 * is not (out_c % 4 != 0: channels out_c - 4 .. out_c - 1, or the out_c < 4 channels) */
                const int32_t nf = (OC / 4 < g1 ? OC / 4 : g1) - g0;
                if (nf > 0 && pairs) {
                    uaot_dws_expand_pairs(S, line, Lp, elo, ehi, pad, A, 4 * g0, nf, M, z, slot, NULL);
                } else if (nf > 0) {
                    uaot_dws_expand_groups(S, line, Lp, elo, ehi, pad, A, 4 * g0, nf, M, z);
                }
                if (fn != NULL && nf > 0) {
                    k.ng = nf;
                    fn(&k, S, stream + (ptrdiff_t)g0 * gwords, yl + 4 * g0);
                }
                for (int32_t g = g0 + (nf > 0 ? nf : 0); g < g1; ++g) {
                    /* the last group when out_c % 4 != 0 */
                    const int32_t oc0 = OC >= 4 ? OC - 4 : 0, n = OC >= 4 ? 4 : OC;
                    uint32_t *const Sg = S + (ptrdiff_t)(g - g0) * slot;
                    const int32_t *const gw = stream + (ptrdiff_t)g * gwords;
                    int32_t ch[4];
                    for (int32_t i = 0; i < 4; ++i) { /* past out_c: the last channel again (zero weights) */
                        ch[i] = (oc0 + (i < n ? i : n - 1)) / M;
                    }
                    if (pairs) {
                        uaot_dws_expand_pairs(Sg, line, Lp, elo, ehi, pad, A, oc0, 1, M, z, slot, n == 4 ? NULL : ch);
                    } else if (n == 4) { /* out_c - 4 .. out_c - 1: M == 2 has an even out_c, M == 4 no last group */
                        uaot_dws_expand_groups(Sg, line, Lp, elo, ehi, pad, A, oc0, 1, M, z);
                    } else {
                        uaot_dws_expand(Sg, line, Lp, pad, len, A, ch, zp);
                    }
                    if (fn != NULL && n == 4) {
                        k.ng = 1;
                        fn(&k, Sg, gw, yl + oc0);
                    } else if (fn != NULL) {
                        /* out_c < 4: the 4 outputs a pixel into the word buffer after the chunk, then the n bytes
                         * copied */
                        uaot_dws_t kt = k;
                        int8_t *const tmp = (int8_t *)(S + (ptrdiff_t)GC * slot);
                        kt.ng = 1;
                        kt.ystep = 4;
                        fn(&kt, Sg, gw, tmp);
                        int8_t *y = yl + oc0;
                        for (int32_t o = 0; o < k.n_out; ++o, y += YA) {
                            for (int32_t i = 0; i < n; ++i) {
                                y[i] = tmp[4 * o + i];
                            }
                        }
                    } else {
                        uaot_dws_general(&k, Sg, gw, yl + oc0, n, fast, oc0);
                    }
                }
                if (fn == NULL) { /* the exact requantization: the chunk's groups at 4 * g in C */
                    for (int32_t g = g0; g < g0 + nf; ++g) {
                        uaot_dws_general(&k, S + (ptrdiff_t)(g - g0) * slot, stream + (ptrdiff_t)g * gwords, yl + 4 * g,
                                         4, 0, 4 * g);
                    }
                }
            }
        }
    }
    return UAOT_OK;
}
