/* microaot kernels: int8 CONV_2D with one input channel, a patch of int16 tap pairs per output pixel reused by
 * every output channel (see microaot/kernels/conv1ch.h). Without __ARM_FEATURE_DSP (or at -O0) the portable
 * loops below compute the same values with microaot/simd.h's emulation. */
#include "microaot/kernels/conv1ch.h"

#include <stddef.h>
#include <string.h>

#include "microaot/simd.h"

/* requantization modes: the activation range is the full int8 range / clamped below only / both sides */
#define UAOT_C1_FULL 0
#define UAOT_C1_LO 1
#define UAOT_C1_LOHI 2

/* expand one input line into dst and dst2 (n int16 values: value j = input column j - pad, the zero point
 * outside; src: len values) */
static void uaot_c1_expand(int16_t *dst, int16_t *dst2, int32_t n, const int8_t *src, int32_t len, int32_t pad,
                           int16_t zp)
{
    int32_t j = 0;
    const int32_t lo = pad < n ? pad : n;
    for (; j < lo; ++j) {
        dst[j] = dst2[j] = zp;
    }
    const int32_t hi = pad + len < n ? pad + len : n;
    const int8_t *s = src + (j - pad);
    for (; j + 4 <= hi; j += 4, s += 4) {
        const uint32_t v = uaot_ld32(s);
        const uint32_t a = uaot_sxtb16(v), b = uaot_sxtb16_r8(v);
        const uint32_t lo2 = (a & 0xFFFFu) | (b << 16), hi2 = (a >> 16) | (b & 0xFFFF0000u);
        memcpy(dst + j, &lo2, 4);
        memcpy(dst + j + 2, &hi2, 4);
        memcpy(dst2 + j, &lo2, 4);
        memcpy(dst2 + j + 2, &hi2, 4);
    }
    for (; j < hi; ++j, ++s) {
        dst[j] = dst2[j] = *s;
    }
    for (; j < n; ++j) {
        dst[j] = dst2[j] = zp;
    }
}

/* the patch of the pixel whose window starts at x (int16): Kp words from the offset pairs */
static void uaot_c1_patch(uint32_t *patch, const int16_t *x, const int32_t *offs, int32_t na, int32_t kp, int32_t adj)
{
    int32_t j = 0;
    if (adj) { /* the row pairs are adjacent int16 (dil_w == 1): one 32-bit load each */
        for (; j < na; ++j) {
            patch[j] = uaot_ld32(x + offs[2 * j]);
        }
    }
    for (; j < kp; ++j) {
        patch[j] = (uint32_t)(uint16_t)x[offs[2 * j]] | ((uint32_t)(uint16_t)x[offs[2 * j + 1]] << 16);
    }
}

/* fast requantization words q = {m, b, rw, hw} of the accumulator acc (2 x the sum) */
static int8_t uaot_c1_rq(int32_t acc, const int32_t *q, int32_t mode, int32_t sg)
{
    const int32_t y = uaot_smmulr(acc, q[0]);
    const int32_t t = (int32_t)((uint32_t)y + (uint32_t)q[1] + (uint32_t)(sg ? acc >> 31 : 0)) >> (q[2] & 255);
    if (mode == UAOT_C1_FULL) {
        return uaot_sat8(t);
    }
    const int32_t top = mode == UAOT_C1_LOHI ? q[3] : 255;
    const int32_t u = t < 0 ? 0 : (t > top ? top : t);
    return uaot_sat8(u + (q[2] >> 24));
}

/* the state of one call */
typedef struct {
    const uaot_conv_s8_params_t *p;
    const int32_t *stream;
    uint32_t *patch;
    int8_t *tmp;
    const int8_t *out_end; /* the end of the call's output */
    const int32_t *offs;
    int32_t kp, kp4, na, adj, oc, fast, mode, sg, nrq;
} uaot_c1_t;

/* fast3 requantization words q = {m, B, rw}: SSAT8((y + B + s) >> r), then the activation range */
static int8_t uaot_c1_rq3(const uaot_c1_t *k, int32_t acc, const int32_t *q)
{
    const int32_t y = uaot_smmulr(acc, q[0]);
    const int32_t t = (int32_t)((uint32_t)y + (uint32_t)q[1] + (uint32_t)(k->sg ? acc >> 31 : 0)) >> (q[2] & 255);
    return uaot_clamp8(uaot_sat8(t), k->p->act_min, k->p->act_max);
}

/* one output channel in portable C: wq = its weight words (step 1 word, except the generic pairs' interleave:
 * lane l of a pair reads word j at (j / 4) * 8 + l * 4 + j % 4), q = its requantization words, ch = the
 * channel (non-fast: mult / shift) */
static int8_t uaot_c1_one(const uaot_c1_t *k, int32_t bias, const int32_t *wq, int32_t lane, int32_t generic,
                          const int32_t *q, int32_t ch)
{
    int32_t acc = bias;
    for (int32_t j = 0; j < k->kp; ++j) {
        const int32_t w = generic ? wq[(j >> 2) * 8 + lane * 4 + (j & 3)] : wq[j];
        acc = uaot_smlad(k->patch[j], (uint32_t)w, acc);
    }
    if (k->fast) {
        return generic ? uaot_c1_rq(acc, q, k->mode, k->sg) : uaot_c1_rq3(k, acc, q);
    }
    const uaot_conv_s8_params_t *p = k->p;
    return uaot_requant_out(acc, p->mult[ch], p->shift[ch], p->output_offset, p->act_min, p->act_max);
}

#if UAOT_HAVE_DSP && defined(__OPTIMIZE__) /* gcc -O0 cannot allocate the asm: the portable loops run */
/* the rounding sign (SG) or none (NS) */
#define UAOT_C1_SG(D, A) "add " D ", " D ", " A ", asr #31\n\t"
#define UAOT_C1_NS(D, A) ""
/* the activation range, on the shifted value in D (rw in RW, hi - lo in HW) */
#define UAOT_C1_M_FULL(D, RW, HW) "ssat " D ", #8, " D "\n\t"
#define UAOT_C1_M_LO(D, RW, HW)             \
    "usat " D ", #8, " D "\n\t"             \
    "add " D ", " D ", " RW ", asr #24\n\t" \
    "ssat " D ", #8, " D "\n\t"
#define UAOT_C1_M_LOHI(D, RW, HW) \
    "usat " D ", #8, " D "\n\t"   \
    "cmp " D ", " HW "\n\t"       \
    "it gt\n\t"                   \
    "movgt " D ", " HW "\n\t"     \
    "add " D ", " D ", " RW ", asr #24\n\t"
/* requantize accumulator A with m in D (the result), b in B, rw in RW, hw in HW */
#define UAOT_C1_RQ(SG, MODE, D, A, B, RW, HW) \
    "smmlar " D ", " A ", " D ", " B "\n\t" SG(D, A) "asr " D ", " D ", " RW "\n\t" MODE(D, RW, HW)

/* fast3: the patch from the ring (w0 = window start, w1 = line distance in bytes) */
#define UAOT_C1_F3_PATCH                    \
    "ldr %[p0], [%[w0]]\n\t"                \
    "ldr %[p1], [%[w0], %[w1]]\n\t"         \
    "ldr %[p2], [%[w0], %[w1], lsl #1]\n\t" \
    "add %[w0], %[w0], #4\n\t"              \
    "ldr %[w2], [%[w0]]\n\t"                \
    "ldr %[w3], [%[w0], %[w1]]\n\t"         \
    "ldr %[p4], [%[w0], %[w1], lsl #1]\n\t" \
    "pkhbt %[p3], %[w2], %[w3], lsl #16\n\t"
/* fast3: the accumulator of one output channel and its value SSAT8((y + b + s) >> r) in w0; LDRQ: the LDM
 * of its requantization words (+ the group's byte bounds after the 4th channel) */
#define UAOT_C1_F3_VAL(SG, LDRQ)                                  \
    "ldmia %[wp]!, {%[a], %[w0], %[w1], %[w2], %[w3], %[w4]}\n\t" \
    "smlad %[a], %[p0], %[w0], %[a]\n\t"                          \
    "smlad %[a], %[p1], %[w1], %[a]\n\t"                          \
    "smlad %[a], %[p2], %[w2], %[a]\n\t"                          \
    "smlad %[a], %[p3], %[w3], %[a]\n\t"                          \
    "smlad %[a], %[p4], %[w4], %[a]\n\t" LDRQ                     \
    "smmlar %[w0], %[a], %[w0], %[w1]\n\t" SG("%[w0]", "%[a]") "asr %[w0], %[w0], %[w2]\n\t"
#define UAOT_C1_LDRQ3 "ldmia %[wp]!, {%[w0], %[w1], %[w2]}\n\t"
#define UAOT_C1_LDRQ4 "ldmia %[wp]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"
#define UAOT_C1_LDRQ5 "ldmia %[wp]!, {%[w0], %[w1], %[w2], %[w3], %[w4]}\n\t"
/* the activation range on the 4 packed bytes in r7: none, max with {lo x4} (w3), + min with {hi x4} (w4) */
#define UAOT_C1_B_FULL ""
#define UAOT_C1_B_LO "ssub8 %[w0], r7, %[w3]\n\tsel r7, r7, %[w3]\n\t"
#define UAOT_C1_B_LOHI UAOT_C1_B_LO "ssub8 %[w0], %[w4], r7\n\tsel r7, r7, %[w4]\n\t"
/* 4 output channels: their bytes packed into r7 (SSAT, BFI), clamped as 4 bytes (SSUB8 + SEL), one STR */
#define UAOT_C1_F3_QUAD(SG, LDRQ4TH, BOUND)                                                           \
    UAOT_C1_F3_VAL(SG, UAOT_C1_LDRQ3)                                                                 \
    "ssat r7, #8, %[w0]\n\t" UAOT_C1_F3_VAL(                                                          \
        SG, UAOT_C1_LDRQ3) "ssat %[w0], #8, %[w0]\n\t"                                                \
                           "bfi r7, %[w0], #8, #8\n\t" UAOT_C1_F3_VAL(                                \
                               SG, UAOT_C1_LDRQ3) "ssat %[w0], #8, %[w0]\n\t"                         \
                                                  "bfi r7, %[w0], #16, #8\n\t" UAOT_C1_F3_VAL(        \
                                                      SG, LDRQ4TH) "ssat %[w0], #8, %[w0]\n\t"        \
                                                                   "bfi r7, %[w0], #24, #8\n\t" BOUND \
                                                                   "str r7, [%[y]], #4\n\t"
/* a row of n >= 1 pixels. In: w0 = the first window, w1 = line distance (bytes), w2 = window step (bytes),
 * w3 = the window after the last, w4 = stream; pushed with r7 (the packed outputs), read back from the stack.
 * Per pixel: the patch, 4 channels per iteration until the flagged one (y runs on: out_c % 4 == 0 or n == 1) */
#define UAOT_C1_F3_ASM(SG, LDRQ4TH, BOUND)                                                                         \
    __asm__ volatile(                                                                                              \
        "push {%[w0], %[w1], %[w2], %[w3], %[w4], r7}\n\t"                                                         \
        "0:\n\t"                                                                                                   \
        "ldr %[w0], [sp]\n\t"                                                                                      \
        "ldr %[w1], [sp, #4]\n\t"                                                                                  \
        "ldr %[wp], [sp, #16]\n\t" UAOT_C1_F3_PATCH                                                                \
        "1:\n\t" UAOT_C1_F3_QUAD(SG, LDRQ4TH, BOUND) "tst %[w2], #256\n\t"                                         \
                                                     "beq 1b\n\t"                                                  \
                                                     "ldr %[w0], [sp]\n\t"                                         \
                                                     "ldr %[w1], [sp, #8]\n\t"                                     \
                                                     "add %[w0], %[w0], %[w1]\n\t"                                 \
                                                     "str %[w0], [sp]\n\t"                                         \
                                                     "ldr %[w1], [sp, #12]\n\t"                                    \
                                                     "cmp %[w0], %[w1]\n\t"                                        \
                                                     "bne 0b\n\t"                                                  \
                                                     "add sp, sp, #20\n\t"                                         \
                                                     "pop {r7}\n\t"                                                \
        : [a] "=&r"(a), [w0] "+r"(w0), [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [w4] "+r"(w4), [p0] "=&r"(p0), \
          [p1] "=&r"(p1), [p2] "=&r"(p2), [p3] "=&r"(p3), [p4] "=&r"(p4), [wp] "=&r"(wp), [y] "+r"(y)              \
        :                                                                                                          \
        : "cc", "memory")

/* n pixels whose windows start at x, x + sx, ..; every (out_c & ~3) channels */
static void uaot_c1_fast3_row(const uaot_c1_t *k, const int16_t *x, int32_t ws, int32_t sx, int32_t n, int8_t *yo)
{
    register int32_t a __asm__("r0");
    register uint32_t w0 __asm__("r1") = (uint32_t)(uintptr_t)x;
    register uint32_t w1 __asm__("r2") = (uint32_t)ws;
    register uint32_t w2 __asm__("r3") = (uint32_t)(2 * sx);
    register uint32_t w3 __asm__("r4") = (uint32_t)(uintptr_t)(x + n * sx);
    register uint32_t w4 __asm__("r5") = (uint32_t)(uintptr_t)k->stream;
    register uint32_t p0 __asm__("r6");
    register uint32_t p1 __asm__("r8");
    register uint32_t p2 __asm__("r9");
    register uint32_t p3 __asm__("r10");
    register uint32_t p4 __asm__("r11");
    register const int32_t *wp __asm__("r12");
    register int8_t *y __asm__("lr") = yo;
    const int32_t v = k->mode * 2 + k->sg;
    if (v == 0) {
        UAOT_C1_F3_ASM(UAOT_C1_NS, UAOT_C1_LDRQ3, UAOT_C1_B_FULL);
    } else if (v == 1) {
        UAOT_C1_F3_ASM(UAOT_C1_SG, UAOT_C1_LDRQ3, UAOT_C1_B_FULL);
    } else if (v == 2) {
        UAOT_C1_F3_ASM(UAOT_C1_NS, UAOT_C1_LDRQ4, UAOT_C1_B_LO);
    } else if (v == 3) {
        UAOT_C1_F3_ASM(UAOT_C1_SG, UAOT_C1_LDRQ4, UAOT_C1_B_LO);
    } else if (v == 4) {
        UAOT_C1_F3_ASM(UAOT_C1_NS, UAOT_C1_LDRQ5, UAOT_C1_B_LOHI);
    } else {
        UAOT_C1_F3_ASM(UAOT_C1_SG, UAOT_C1_LDRQ5, UAOT_C1_B_LOHI);
    }
}

/* generic: the 8 SMLAD of one step of 4 k-pairs, 2 channels */
#define UAOT_C1_G_STEP                               \
    "ldmia %[xp]!, {%[x0], %[x1], %[x2], %[x3]}\n\t" \
    "ldmia %[wp]!, {%[w0], %[w1], %[w2], %[w3]}\n\t" \
    "smlad %[a0], %[x0], %[w0], %[a0]\n\t"           \
    "smlad %[a0], %[x1], %[w1], %[a0]\n\t"           \
    "smlad %[a0], %[x2], %[w2], %[a0]\n\t"           \
    "smlad %[a0], %[x3], %[w3], %[a0]\n\t"           \
    "ldmia %[wp]!, {%[w0], %[w1], %[w2], %[w3]}\n\t" \
    "smlad %[a1], %[x0], %[w0], %[a1]\n\t"           \
    "smlad %[a1], %[x1], %[w1], %[a1]\n\t"           \
    "smlad %[a1], %[x2], %[w2], %[a1]\n\t"           \
    "smlad %[a1], %[x3], %[w3], %[a1]\n\t"
/* the requantization of the pair: {m0, b0, rw0, m1, b1, rw1} in x0..x3, w0, w1 (results x0, x3) */
#define UAOT_C1_G_RQ3(SG, MODE)                                                                                    \
    "ldmia %[wp]!, {%[x0], %[x1], %[x2], %[x3], %[w0], %[w1]}\n\t" UAOT_C1_RQ(SG, MODE, "%[x0]", "%[a0]", "%[x1]", \
                                                                              "%[x2]", "%[x2]")                    \
        UAOT_C1_RQ(SG, MODE, "%[x3]", "%[a1]", "%[w0]", "%[w1]", "%[w1]") "ldr %[xp], %[ym]\n\t"                   \
                                                                          "strb %[x0], [%[xp]]\n\t"                \
                                                                          "strb %[x3], [%[xp], #1]\n\t"            \
                                                                          "add %[xp], %[xp], #2\n\t"               \
                                                                          "str %[xp], %[ym]\n\t"                   \
                                                                          "tst %[w1], #256\n\t"
/* {m0, b0, rw0, hw0, m1, b1, rw1, hw1} in x0..x3, w0..w3 (results x0, w0) */
#define UAOT_C1_G_RQ4(SG, MODE)                                                                         \
    "ldmia %[wp]!, {%[x0], %[x1], %[x2], %[x3], %[w0], %[w1], %[w2], %[w3]}\n\t" UAOT_C1_RQ(            \
        SG, MODE, "%[x0]", "%[a0]", "%[x1]", "%[x2]", "%[x3]")                                          \
        UAOT_C1_RQ(SG, MODE, "%[w0]", "%[a1]", "%[w1]", "%[w2]", "%[w3]") "ldr %[xp], %[ym]\n\t"        \
                                                                          "strb %[x0], [%[xp]]\n\t"     \
                                                                          "strb %[w0], [%[xp], #1]\n\t" \
                                                                          "add %[xp], %[xp], #2\n\t"    \
                                                                          "str %[xp], %[ym]\n\t"        \
                                                                          "tst %[w2], #256\n\t"
/* pairs of channels until the flagged one; xe = the patch end, whose word holds the patch address */
#define UAOT_C1_G_ASM(RQ)                                                                                              \
    __asm__ volatile("1:\n\t"                                                                                          \
                     "ldmia %[wp]!, {%[a0], %[a1]}\n\t"                                                                \
                     "ldr %[xp], [%[xe]]\n\t"                                                                          \
                     "2:\n\t" UAOT_C1_G_STEP "cmp %[xp], %[xe]\n\t"                                                    \
                     "bne 2b\n\t" RQ "beq 1b\n\t"                                                                      \
                     : [a0] "=&r"(a0), [a1] "=&r"(a1), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), \
                       [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3), [xp] "=&r"(xp), [wp] "+r"(wp),  \
                       [ym] "+m"(ycur)                                                                                 \
                     : [xe] "r"(xe)                                                                                    \
                     : "cc", "memory")

static void uaot_c1_generic_pairs(const uaot_c1_t *k, int8_t *yo)
{
    register int32_t a0 __asm__("r0");
    register int32_t a1 __asm__("r1");
    register uint32_t x0 __asm__("r2");
    register uint32_t x1 __asm__("r3");
    register uint32_t x2 __asm__("r4");
    register uint32_t x3 __asm__("r5");
    register uint32_t w0 __asm__("r6");
    register uint32_t w1 __asm__("r8");
    register uint32_t w2 __asm__("r9");
    register uint32_t w3 __asm__("r10");
    register const uint32_t *xp __asm__("r11");
    register const uint32_t *xe __asm__("r12") = k->patch + k->kp4;
    register const int32_t *wp __asm__("lr") = k->stream;
    int8_t *volatile ycur = yo;
    const int32_t v = k->mode * 2 + k->sg;
    if (v == 0) {
        UAOT_C1_G_ASM(UAOT_C1_G_RQ3(UAOT_C1_NS, UAOT_C1_M_FULL));
    } else if (v == 1) {
        UAOT_C1_G_ASM(UAOT_C1_G_RQ3(UAOT_C1_SG, UAOT_C1_M_FULL));
    } else if (v == 2) {
        UAOT_C1_G_ASM(UAOT_C1_G_RQ3(UAOT_C1_NS, UAOT_C1_M_LO));
    } else if (v == 3) {
        UAOT_C1_G_ASM(UAOT_C1_G_RQ3(UAOT_C1_SG, UAOT_C1_M_LO));
    } else if (v == 4) {
        UAOT_C1_G_ASM(UAOT_C1_G_RQ4(UAOT_C1_NS, UAOT_C1_M_LOHI));
    } else {
        UAOT_C1_G_ASM(UAOT_C1_G_RQ4(UAOT_C1_SG, UAOT_C1_M_LOHI));
    }
}
#define UAOT_C1_ASM 1
#else
#define UAOT_C1_ASM 0
#endif

/* every output channel of one pixel (window start x, int16) */
static void uaot_c1_pixel(const uaot_c1_t *k, const int16_t *x, int32_t ws, int8_t *yo)
{
    const int32_t oc = k->oc;
#if UAOT_C1_ASM
    if (k->fast) {
        /* the asm writes whole groups (4 channels / pairs, the stream padded with zero channels): the bytes past
         * out_c land on the next pixels' outputs, written after; a pixel whose groups would run past the call's
         * output goes through tmp */
        const int32_t span = uaot_conv1ch_fast3(k->p) ? (oc + 3) & ~3 : (oc + 1) & ~1;
        int8_t *const y = span > k->out_end - yo ? k->tmp : yo; /* a group would run past the call's output */
        if (uaot_conv1ch_fast3(k->p)) {
            uaot_c1_fast3_row(k, x, ws, 1, 1, y);
        } else {
            uaot_c1_patch(k->patch, x, k->offs, k->na, k->kp, k->adj);
            uaot_c1_generic_pairs(k, y);
        }
        if (y != yo) {
            memcpy(yo, y, (size_t)oc);
        }
        return;
    }
#endif
    (void)ws;
    uaot_c1_patch(k->patch, x, k->offs, k->na, k->kp, k->adj);
    if (uaot_conv1ch_fast3(k->p)) {
        const int32_t grp = 36 + k->mode; /* words of 4 channels: + {lo x4} (LO), + {hi x4} (LOHI) */
        for (int32_t c = 0; c < oc; ++c) {
            const int32_t *r = k->stream + (size_t)(c >> 2) * (size_t)grp + (size_t)(c & 3) * 9u;
            yo[c] = uaot_c1_one(k, r[0], r + 1, 0, 0, r + 6, c);
        }
        return;
    }
    const int32_t rec = 2 + 2 * k->kp4 + 2 * k->nrq;
    for (int32_t c = 0; c < oc; ++c) {
        const int32_t *r = k->stream + (size_t)(c >> 1) * (size_t)rec;
        const int32_t lane = c & 1;
        yo[c] = uaot_c1_one(k, r[lane], r + 2, lane, 1, r + 2 + 2 * k->kp4 + lane * k->nrq, c);
    }
}

uaot_status_t uaot_conv1ch_s8(const uaot_conv_s8_params_t *p, const int8_t *input, const int32_t *stream,
                              int8_t *output, uint8_t *scratch, uint32_t scratch_size, int32_t fast)
{
    if (p == NULL || input == NULL || stream == NULL || output == NULL || scratch == NULL || p->in_c != 1 ||
        p->out_c <= 0 || p->k_h <= 0 || p->k_w <= 0 || p->dil_h <= 0 || p->dil_w <= 0 || p->stride_h <= 0 ||
        p->stride_w <= 0 || p->out_w <= 0 || p->out_h <= 0 || ((uintptr_t)scratch & 3u) != 0u ||
        (!fast && (p->mult == NULL || p->shift == NULL))) {
        return UAOT_ERR_ARG;
    }
    UAOT_CHECK_SCRATCH(scratch_size, uaot_conv1ch_s8_scratch_size(p));
    const int32_t kh = p->k_h, kw = p->k_w, eo = (kh - 1) * p->dil_h + 1, ls = uaot_conv1ch_line(p);
    uaot_c1_t k;
    k.p = p;
    k.stream = stream;
    k.kp = uaot_conv1ch_kp(p);
    k.kp4 = uaot_conv1ch_kp4(p);
    k.na = kh * (kw / 2);
    k.adj = p->dil_w == 1;
    k.oc = p->out_c;
    k.fast = fast;
    k.mode = p->act_min == -128 && p->act_max == 127 ? UAOT_C1_FULL : (p->act_max == 127 ? UAOT_C1_LO : UAOT_C1_LOHI);
    k.sg = p->act_min < p->output_offset;
    k.nrq = k.mode == UAOT_C1_LOHI ? 4 : 3;
    /* scratch: ring, tags, offsets, patch + its address word */
    int16_t *ring = (int16_t *)(void *)scratch;
    int32_t *offs = (int32_t *)(void *)(scratch + 4 * eo * ls);
    uint32_t *patch = (uint32_t *)(offs + 2 * k.kp);
    k.offs = offs;
    k.patch = patch;
    memset(patch, 0, (size_t)k.kp4 * 4u);
    patch[k.kp4] = (uint32_t)(uintptr_t)patch;
    k.tmp = (int8_t *)(patch + k.kp4 + 1);
    k.out_end = output + (size_t)p->batches * (size_t)p->out_h * (size_t)p->out_w * (size_t)k.oc;
    /* the k-pairs' int16 offsets from the window start (line ky at ky * dil_h * ls) */
    int32_t j = 0;
    for (int32_t ky = 0; ky < kh; ++ky) {
        for (int32_t kx = 0; kx + 1 < kw; kx += 2, ++j) {
            offs[2 * j] = ky * p->dil_h * ls + kx * p->dil_w;
            offs[2 * j + 1] = offs[2 * j] + p->dil_w;
        }
    }
    if (kw & 1) {
        for (int32_t ky = 0; ky < kh; ky += 2, ++j) {
            offs[2 * j] = ky * p->dil_h * ls + (kw - 1) * p->dil_w;
            offs[2 * j + 1] = ky + 1 < kh ? offs[2 * j] + p->dil_h * ls : offs[2 * j] + 1;
        }
    }
    const int16_t zp = (int16_t)(-p->input_offset);
    const int32_t ws = 2 * p->dil_h * ls; /* bytes between the fast3 path's lines */
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + (size_t)b * (size_t)p->in_h * (size_t)p->in_w;
        int8_t *out_b = output + (size_t)b * (size_t)p->out_h * (size_t)p->out_w * (size_t)k.oc;
        int32_t next = INT32_MIN; /* the first input line not in the ring yet (lines come in increasing order) */
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t base = oy * p->stride_h - p->pad_top;
            for (int32_t l = next > base ? next : base; l < base + eo; ++l) {
                int32_t slot = l % eo;
                slot += slot < 0 ? eo : 0;
                int16_t *dst = ring + (size_t)slot * (size_t)ls;
                const int inside = l >= 0 && l < p->in_h;
                uaot_c1_expand(dst, dst + (size_t)eo * (size_t)ls, ls,
                               inside ? in_b + (size_t)l * (size_t)p->in_w : in_b, inside ? p->in_w : 0,
                               inside ? p->pad_left : ls, zp);
            }
            next = base + eo;
            int32_t s0 = base % eo;
            s0 += s0 < 0 ? eo : 0;
            const int16_t *lines = ring + (size_t)s0 * (size_t)ls;
            int8_t *yo = out_b + (size_t)oy * (size_t)p->out_w * (size_t)k.oc;
#if UAOT_C1_ASM
            if (fast && uaot_conv1ch_fast3(p) && (k.oc & 3) == 0) { /* the whole row in one asm loop */
                uaot_c1_fast3_row(&k, lines, ws, p->stride_w, p->out_w, yo);
                continue;
            }
#endif
            for (int32_t ox = 0; ox < p->out_w; ++ox, yo += k.oc) {
                uaot_c1_pixel(&k, lines + ox * p->stride_w, ws, yo);
            }
        }
    }
    return UAOT_OK;
}
