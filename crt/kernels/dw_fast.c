/* microaot kernels: int8 3x3 depthwise convolution with SMLAD over horizontal tap pairs (see dw_fast.h).
 *
 * Bit-exact with the reference kernel (conv.c): the generator folds input_offset * sum(filter) into
 * the bias, so an accumulator only needs sum(x * w) over the 9 taps, every padded tap reading the
 * input zero point. Without __ARM_FEATURE_DSP the same code runs on the portable emulation in
 * microaot/simd.h. */
#include "microaot/kernels/dw_fast.h"

#include <stddef.h>

#include "microaot/simd.h"

/* (a.lo, b.lo) = PKHBT a, b, LSL #16 and (a.hi, b.hi) = PKHTB b, a, ASR #16 */
UAOT_INLINE uint32_t uaot_pk_lo(uint32_t a, uint32_t b)
{
    return (a & 0xFFFFu) | (b << 16);
}

UAOT_INLINE uint32_t uaot_pk_hi(uint32_t a, uint32_t b)
{
    return (a >> 16) | (b & 0xFFFF0000u);
}

/* the two records (6 words) of channels c..c+3, pairs (c, c+2) and (c+1, c+3), from the int8 words of input
 * columns ix, ix+1, ix+2 */
UAOT_INLINE void uaot_dwp_rec4(uint32_t *d, uint32_t v0, uint32_t v1, uint32_t v2)
{
    const uint32_t e0 = uaot_sxtb16(v0), o0 = uaot_sxtb16_r8(v0); /* (x0[c], x0[c+2]), (x0[c+1], x0[c+3]) */
    const uint32_t e1 = uaot_sxtb16(v1), o1 = uaot_sxtb16_r8(v1);
    d[0] = uaot_pk_lo(e0, e1); /* (x0[c], x1[c]) */
    d[1] = uaot_pk_hi(e0, e1); /* (x0[c+2], x1[c+2]) */
    d[2] = uaot_sxtb16(v2);    /* (x2[c], x2[c+2]) */
    d[3] = uaot_pk_lo(o0, o1); /* (x0[c+1], x1[c+1]) */
    d[4] = uaot_pk_hi(o0, o1); /* (x0[c+3], x1[c+3]) */
    d[5] = uaot_sxtb16_r8(v2); /* (x2[c+1], x2[c+3]) */
}

#if UAOT_HAVE_DSP
/* the two records of 4 channels from the words at x (column ix), x + c1 (ix+1), x + C2 (ix+2), x += 4:
 * 14 instructions (16 with the loop); d0..d5 ascending registers (STM) */
#define UAOT_DWP_EXPAND_BODY(C2)            \
    "ldr %[v], " C2 "\n\t"                  \
    "sxtb16 %[d2], %[v]\n\t"                \
    "sxtb16 %[d5], %[v], ror #8\n\t"        \
    "ldr %[v], [%[x], %[c1]]\n\t"           \
    "sxtb16 %[d1], %[v]\n\t"                \
    "sxtb16 %[d4], %[v], ror #8\n\t"        \
    "ldr %[v], [%[x]], #4\n\t"              \
    "sxtb16 %[u], %[v]\n\t"                 \
    "pkhbt %[d0], %[u], %[d1], lsl #16\n\t" \
    "pkhtb %[d1], %[d1], %[u], asr #16\n\t" \
    "sxtb16 %[u], %[v], ror #8\n\t"         \
    "pkhbt %[d3], %[u], %[d4], lsl #16\n\t" \
    "pkhtb %[d4], %[d4], %[u], asr #16\n\t" \
    "stmia %[d]!, {%[d0], %[d1], %[d2], %[d3], %[d4], %[d5]}\n\t"
#define UAOT_DWP_EXPAND_REGS            \
    register uint32_t d0 __asm__("r0"); \
    register uint32_t d1 __asm__("r1"); \
    register uint32_t d2 __asm__("r2"); \
    register uint32_t d3 __asm__("r3"); \
    register uint32_t d4 __asm__("r4"); \
    register uint32_t d5 __asm__("r5"); \
    register uint32_t v __asm__("r6");  \
    register uint32_t u __asm__("r8")
#define UAOT_DWP_EXPAND_OUT                                                                                       \
    [d0] "=&r"(d0), [d1] "=&r"(d1), [d2] "=&r"(d2), [d3] "=&r"(d3), [d4] "=&r"(d4), [d5] "=&r"(d5), [v] "=&r"(v), \
        [u] "=&r"(u), [x] "+r"(rx), [d] "+r"(rd), [xe] "+r"(rxe)
#endif

/* the records of one output column from input columns x0, x1, x2 (C bytes each, any buffers) */
static uint32_t *uaot_dwp_column(uint32_t *d, const int8_t *x0, const int8_t *x1, const int8_t *x2, int32_t C)
{
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__) /* gcc -O0 cannot allocate it */
    UAOT_DWP_EXPAND_REGS;
    register const int8_t *rx __asm__("r9") = x0;
    register int32_t c1 __asm__("r10") = (int32_t)((uintptr_t)x1 - (uintptr_t)x0);
    register int32_t c2 __asm__("r11") = (int32_t)((uintptr_t)x2 - (uintptr_t)x0);
    register uint32_t *rd __asm__("r12") = d;
    register const int8_t *rxe __asm__("lr") = x0 + C;
    if ((C & 7) == 0) { /* 8 channels per iteration */
        __asm__ volatile("1:\n\t" UAOT_DWP_EXPAND_BODY("[%[x], %[c2]]")
                             UAOT_DWP_EXPAND_BODY("[%[x], %[c2]]") "cmp %[x], %[xe]\n\t"
                                                                   "bne 1b\n\t"
                         : UAOT_DWP_EXPAND_OUT
                         : [c1] "r"(c1), [c2] "r"(c2)
                         : "cc", "memory");
    } else {
        __asm__ volatile("1:\n\t" UAOT_DWP_EXPAND_BODY("[%[x], %[c2]]") "cmp %[x], %[xe]\n\t"
                                                                        "bne 1b\n\t"
                         : UAOT_DWP_EXPAND_OUT
                         : [c1] "r"(c1), [c2] "r"(c2)
                         : "cc", "memory");
    }
    return rd;
#else
    for (int32_t c = 0; c < C; c += 4, d += 6) {
        uaot_dwp_rec4(d, uaot_ld32(x0 + c), uaot_ld32(x1 + c), uaot_ld32(x2 + c));
    }
    return d;
#endif
}

#if UAOT_HAVE_DSP
/* the records of output columns ox (input columns i..i+2, at dA) and ox + 1 (i+1..i+3, at dB) of 4 channels, stride
 * 1: columns i at x, i+1 at x + C, i+2 at x2 + 4 (x2 = x + 2C - 4), i+3 at x2 + 4 + C, x and x2 += 4: 24 instructions
 * (columns i+1 and i+2 loaded once for both records; 28 as two columns); r6 = E1, r7 = O1 (the SXTB16 words of
 * column i+1; r7 saved by the caller's asm), r0..r5 a record (STM) */
#define UAOT_DWP_EXPAND2_BODY                    \
    "ldr r6, [%[x], %[c1]]\n\t"                  \
    "sxtb16 r7, r6, ror #8\n\t"                  \
    "sxtb16 r6, r6\n\t"                          \
    "ldr r2, [%[x2], #4]!\n\t"                   \
    "sxtb16 r5, r2, ror #8\n\t"                  \
    "sxtb16 r2, r2\n\t"                          \
    "ldr r3, [%[x]], #4\n\t"                     \
    "sxtb16 r0, r3\n\t"                          \
    "sxtb16 r3, r3, ror #8\n\t"                  \
    "pkhtb r1, r6, r0, asr #16\n\t"              \
    "pkhbt r0, r0, r6, lsl #16\n\t"              \
    "pkhtb r4, r7, r3, asr #16\n\t"              \
    "pkhbt r3, r3, r7, lsl #16\n\t"              \
    "stmia %[da]!, {r0, r1, r2, r3, r4, r5}\n\t" \
    "pkhbt r0, r6, r2, lsl #16\n\t"              \
    "pkhtb r1, r2, r6, asr #16\n\t"              \
    "pkhbt r3, r7, r5, lsl #16\n\t"              \
    "pkhtb r4, r5, r7, asr #16\n\t"              \
    "ldr r5, [%[x2], %[c1]]\n\t"                 \
    "sxtb16 r2, r5\n\t"                          \
    "sxtb16 r5, r5, ror #8\n\t"                  \
    "stmia %[db]!, {r0, r1, r2, r3, r4, r5}\n\t"
/* stride 2: ox reads columns i..i+2, ox + 1 i+2..i+4 (column i+2 loaded once): i at x, i+1 at x + C, i+2 at
 * x2 + 4 (x2 = x + 2C - 4), i+3, i+4 at x2 + 4 + C, + 2C: 25 instructions (28 as two columns) */
#define UAOT_DWP_EXPAND2S2_BODY                  \
    "ldr r6, [%[x], %[c1]]\n\t"                  \
    "sxtb16 r7, r6, ror #8\n\t"                  \
    "sxtb16 r6, r6\n\t"                          \
    "ldr r2, [%[x2], #4]!\n\t"                   \
    "sxtb16 r5, r2, ror #8\n\t"                  \
    "sxtb16 r2, r2\n\t"                          \
    "ldr r3, [%[x]], #4\n\t"                     \
    "sxtb16 r0, r3\n\t"                          \
    "sxtb16 r3, r3, ror #8\n\t"                  \
    "pkhtb r1, r6, r0, asr #16\n\t"              \
    "pkhbt r0, r0, r6, lsl #16\n\t"              \
    "pkhtb r4, r7, r3, asr #16\n\t"              \
    "pkhbt r3, r3, r7, lsl #16\n\t"              \
    "stmia %[da]!, {r0, r1, r2, r3, r4, r5}\n\t" \
    "ldr r6, [%[x2], %[c1]]\n\t"                 \
    "sxtb16 r7, r6, ror #8\n\t"                  \
    "sxtb16 r6, r6\n\t"                          \
    "pkhbt r0, r2, r6, lsl #16\n\t"              \
    "pkhtb r1, r6, r2, asr #16\n\t"              \
    "pkhbt r3, r5, r7, lsl #16\n\t"              \
    "pkhtb r4, r7, r5, asr #16\n\t"              \
    "ldr r5, [%[x2], %[c1], lsl #1]\n\t"         \
    "sxtb16 r2, r5\n\t"                          \
    "sxtb16 r5, r5, ror #8\n\t"                  \
    "stmia %[db]!, {r0, r1, r2, r3, r4, r5}\n\t"
#endif

/* stride 1: the records of 2 * npairs >= 2 consecutive output columns whose input columns are all inside the row,
 * two columns per pass over the channels (C % 4 == 0); the first reads x, x + C, x + 2C. One asm for all: the end of
 * the last pass on the stack (pushed from r0 with r7), per pair of columns 9 instructions of pointer steps */
static uint32_t *uaot_dwp_columns2(uint32_t *d, const int8_t *x, int32_t C, int32_t npairs)
{
    const int32_t RW = C * 3 / 2; /* record words of one column */
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
    register uint32_t q0 __asm__("r0") = (uint32_t)(uintptr_t)(x + C + 2 * C * npairs); /* xe after the last pass */
    register uint32_t q1 __asm__("r1");
    register uint32_t q2 __asm__("r2");
    register uint32_t q3 __asm__("r3");
    register uint32_t q4 __asm__("r4");
    register uint32_t q5 __asm__("r5");
    register uint32_t q6 __asm__("r6");
    register const int8_t *rx __asm__("r8") = x;
    register const int8_t *rx2 __asm__("r9") = x + 2 * C - 4;
    register int32_t c1 __asm__("r10") = C;
    register uint32_t *da __asm__("r11") = d;
    register uint32_t *db __asm__("r12") = d + RW;
    register const int8_t *xe __asm__("lr") = x + C;
#define UAOT_DWP_COLS2_STEP               \
    "cmp %[x], %[xe]\n\t"                 \
    "bne 1b\n\t"                          \
    "add %[x], %[x], %[c1]\n\t"           \
    "add %[x2], %[x2], %[c1]\n\t"         \
    "add %[xe], %[xe], %[c1], lsl #1\n\t" \
    "mov %[da], %[db]\n\t"                \
    "add %[db], %[db], %[c1], lsl #2\n\t" \
    "add %[db], %[db], %[c1], lsl #1\n\t" \
    "ldr r6, [sp]\n\t"                    \
    "cmp %[xe], r6\n\t"                   \
    "bne 1b\n\t"                          \
    "pop {r0, r7}\n\t"
#define UAOT_DWP_COLS2_OPERANDS                                                                                  \
    : "+&r"(q0), "=&r"(q1), "=&r"(q2), "=&r"(q3), "=&r"(q4), "=&r"(q5), "=&r"(q6), [x] "+r"(rx), [x2] "+r"(rx2), \
      [da] "+r"(da), [db] "+r"(db), [xe] "+r"(xe)                                                              \
    : [c1] "r"(c1)                                                                                             \
    : "cc", "memory"
    if ((C & 7) == 0) {
        __asm__ volatile(
            "push {r0, r7}\n\t"
            "1:\n\t" UAOT_DWP_EXPAND2_BODY UAOT_DWP_EXPAND2_BODY UAOT_DWP_COLS2_STEP UAOT_DWP_COLS2_OPERANDS);
    } else {
        __asm__ volatile("push {r0, r7}\n\t"
                         "1:\n\t" UAOT_DWP_EXPAND2_BODY UAOT_DWP_COLS2_STEP UAOT_DWP_COLS2_OPERANDS);
    }
#undef UAOT_DWP_COLS2_STEP
#undef UAOT_DWP_COLS2_OPERANDS
    return d + 2 * RW * npairs;
#else
    for (int32_t k = 0; k < 2 * npairs; ++k, x += C) {
        d = uaot_dwp_column(d, x, x + C, x + 2 * C, C);
    }
    (void)RW;
    return d;
#endif
}

/* stride 2: as uaot_dwp_columns2 (the first pair reads columns x .. x + 4C), 12 instructions of pointer steps per
 * pair of columns (x, x2 += 3C, xe += 4C) */
static uint32_t *uaot_dwp_columns2s2(uint32_t *d, const int8_t *x, int32_t C, int32_t npairs)
{
    const int32_t RW = C * 3 / 2; /* record words of one column */
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
    register uint32_t q0 __asm__("r0") = (uint32_t)(uintptr_t)(x + C + 4 * C * npairs); /* xe after the last pass */
    register uint32_t q1 __asm__("r1");
    register uint32_t q2 __asm__("r2");
    register uint32_t q3 __asm__("r3");
    register uint32_t q4 __asm__("r4");
    register uint32_t q5 __asm__("r5");
    register uint32_t q6 __asm__("r6");
    register const int8_t *rx __asm__("r8") = x;
    register const int8_t *rx2 __asm__("r9") = x + 2 * C - 4;
    register int32_t c1 __asm__("r10") = C;
    register uint32_t *da __asm__("r11") = d;
    register uint32_t *db __asm__("r12") = d + RW;
    register const int8_t *xe __asm__("lr") = x + C;
#define UAOT_DWP_COLS2_STEP               \
    "cmp %[x], %[xe]\n\t"                 \
    "bne 1b\n\t"                          \
    "add %[x], %[x], %[c1]\n\t"           \
    "add %[x], %[x], %[c1], lsl #1\n\t"   \
    "add %[x2], %[x2], %[c1]\n\t"         \
    "add %[x2], %[x2], %[c1], lsl #1\n\t" \
    "add %[xe], %[xe], %[c1], lsl #2\n\t" \
    "mov %[da], %[db]\n\t"                \
    "add %[db], %[db], %[c1], lsl #2\n\t" \
    "add %[db], %[db], %[c1], lsl #1\n\t" \
    "ldr r6, [sp]\n\t"                    \
    "cmp %[xe], r6\n\t"                   \
    "bne 1b\n\t"                          \
    "pop {r0, r7}\n\t"
#define UAOT_DWP_COLS2_OPERANDS                                                                                  \
    : "+&r"(q0), "=&r"(q1), "=&r"(q2), "=&r"(q3), "=&r"(q4), "=&r"(q5), "=&r"(q6), [x] "+r"(rx), [x2] "+r"(rx2), \
      [da] "+r"(da), [db] "+r"(db), [xe] "+r"(xe)                                                              \
    : [c1] "r"(c1)                                                                                             \
    : "cc", "memory"
    if ((C & 7) == 0) {
        __asm__ volatile(
            "push {r0, r7}\n\t"
            "1:\n\t" UAOT_DWP_EXPAND2S2_BODY UAOT_DWP_EXPAND2S2_BODY UAOT_DWP_COLS2_STEP UAOT_DWP_COLS2_OPERANDS);
    } else {
        __asm__ volatile("push {r0, r7}\n\t"
                         "1:\n\t" UAOT_DWP_EXPAND2S2_BODY UAOT_DWP_COLS2_STEP UAOT_DWP_COLS2_OPERANDS);
    }
#undef UAOT_DWP_COLS2_STEP
#undef UAOT_DWP_COLS2_OPERANDS
    return d + 2 * RW * npairs;
#else
    for (int32_t k = 0; k < 2 * npairs; ++k, x += 2 * C) {
        d = uaot_dwp_column(d, x, x + C, x + 2 * C, C);
    }
    (void)RW;
    return d;
#endif
}

/* the records of n >= 1 consecutive output columns whose 3 input columns are all inside the row:
 * the first reads x, x + C, x + 2C, the next ones sx columns further; Cp = C rounded up to 4 channels */
static uint32_t *uaot_dwp_columns(uint32_t *d, const int8_t *x, int32_t C, int32_t Cp, int32_t n, int32_t sx)
{
    if (sx <= 2 && C == Cp && n >= 2) { /* pairs of columns, then the odd one */
        d = sx == 1 ? uaot_dwp_columns2(d, x, C, n / 2) : uaot_dwp_columns2s2(d, x, C, n / 2);
        if ((n & 1) == 0) {
            return d;
        }
        x += (n - 1) * sx * C;
        n = 1;
    }
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
    if (sx <= 2 && C == Cp) {
        UAOT_DWP_EXPAND_REGS;
        register const int8_t *rx __asm__("r9") = x;
        register int32_t c1 __asm__("r10") = C;
        register const int8_t *xend __asm__("r11") = x + C + n * sx * C; /* xe after the last column */
        register uint32_t *rd __asm__("r12") = d;
        register const int8_t *rxe __asm__("lr") = x + C;
        /* the inner loop walks the C channels of one column (x 8 when C % 8 == 0), then the next column */
#define UAOT_DWP_B UAOT_DWP_EXPAND_BODY("[%[x], %[c1], lsl #1]")
#define UAOT_DWP_S1 "cmp %[x], %[xe]\n\tbne 1b\n\tadd %[xe], %[xe], %[c1]\n\tcmp %[xe], %[xend]\n\tbne 1b\n\t"
#define UAOT_DWP_S2                                                                             \
    "cmp %[x], %[xe]\n\tbne 1b\n\tadd %[x], %[x], %[c1]\n\tadd %[xe], %[xe], %[c1], lsl #1\n\t" \
    "cmp %[xe], %[xend]\n\tbne 1b\n\t"
#define UAOT_DWP_COLS_OPERANDS : UAOT_DWP_EXPAND_OUT : [c1] "r"(c1), [xend] "r"(xend) : "cc", "memory"
        if (sx == 1 && (C & 7) == 0) {
            __asm__ volatile("1:\n\t" UAOT_DWP_B UAOT_DWP_B UAOT_DWP_S1 UAOT_DWP_COLS_OPERANDS);
        } else if (sx == 1) {
            __asm__ volatile("1:\n\t" UAOT_DWP_B UAOT_DWP_S1 UAOT_DWP_COLS_OPERANDS);
        } else if ((C & 7) == 0) {
            __asm__ volatile("1:\n\t" UAOT_DWP_B UAOT_DWP_B UAOT_DWP_S2 UAOT_DWP_COLS_OPERANDS);
        } else {
            __asm__ volatile("1:\n\t" UAOT_DWP_B UAOT_DWP_S2 UAOT_DWP_COLS_OPERANDS);
        }
#undef UAOT_DWP_B
#undef UAOT_DWP_S1
#undef UAOT_DWP_S2
#undef UAOT_DWP_COLS_OPERANDS
        return rd;
    }
#endif
    for (int32_t k = 0; k < n; ++k, x += sx * C) {
        d = uaot_dwp_column(d, x, x + C, x + 2 * C, Cp);
    }
    return d;
}

/* the state of one call */
typedef struct {
    const int32_t *stream;
    const int8_t *in_b, *input, *zrow, *last;
    int8_t *out_b, *pix; /* C % 4 != 0: the input's last column padded / the last pixel of a call (Cp bytes) */
    uint32_t *ring;
    const int32_t *mult, *shift;
    int32_t C, Cp, in_h, in_w, out_h, out_w, stride_h, stride_w, pad_top, pad_left;
    int32_t off, lo, hi, fast, mode, ox_lo, ox_hi, sw;
    size_t in_row, out_row;
    int32_t held[3]; /* the input row each ring slot holds, for the current column range */
    int held_ok[3];
} uaot_dwp_t;

/* the records of output columns [x0, x1) of one ring row: input row `row` (NULL: a padding row, all zero
 * point); zrow: Cp bytes of the input zero point (columns outside the input); output columns
 * [ox_lo, ox_hi) read only columns inside the input. C % 4 != 0: every column is expanded to Cp channels,
 * reading the Cp - C bytes after it (weights 0); `last` (the input's last column, whose bytes after it may be
 * outside the buffer) is read from `lastp`, a copy padded with the zero point */
static void uaot_dwp_expand(const uaot_dwp_t *k, uint32_t *d, const int8_t *row, int32_t x0, int32_t x1)
{
    const int8_t *const zrow = k->zrow, *const last = k->last;
    int8_t *const lastp = k->pix;
    const int32_t C = k->C, Cp = k->Cp, in_w = k->in_w, sx = k->stride_w, pad_left = k->pad_left;
    if (row == NULL) {
        const uint32_t zw = uaot_sxtb16(uaot_ld32(zrow));
        uint32_t *const end = d + (x1 - x0) * Cp * 3 / 2; /* a multiple of 6 words */
        for (; d != end; d += 6) {
            d[0] = d[1] = d[2] = d[3] = d[4] = d[5] = zw;
        }
        return;
    }
    int32_t lo = k->ox_lo > x0 ? k->ox_lo : x0, hi = k->ox_hi < x1 ? k->ox_hi : x1;
    if (last != NULL && row + (in_w - 1) * C == last) {
        for (int32_t c = 0; c < Cp; ++c) {
            lastp[c] = c < C ? last[c] : zrow[c];
        }
        if (hi > lo && (hi - 1) * sx - pad_left + 2 == in_w - 1) {
            --hi; /* the last column of the input: by the column path (its padded copy) */
        }
    }
    for (int32_t ox = x0; ox < x1; ++ox) {
        const int32_t ix = ox * sx - pad_left;
        if (ox == lo && hi > lo) {
            d = uaot_dwp_columns(d, row + ix * C, C, Cp, hi - lo, sx);
            ox = hi - 1;
            continue;
        }
        const int8_t *c0 = ix >= 0 && ix < in_w ? row + ix * C : zrow;
        const int8_t *c1 = ix + 1 >= 0 && ix + 1 < in_w ? row + (ix + 1) * C : zrow;
        const int8_t *c2 = ix + 2 >= 0 && ix + 2 < in_w ? row + (ix + 2) * C : zrow;
        if (last != NULL) {
            c0 = c0 == last ? lastp : c0;
            c1 = c1 == last ? lastp : c1;
            c2 = c2 == last ? lastp : c2;
        }
        d = uaot_dwp_column(d, c0, c1, c2, Cp);
    }
}

/* one kernel row of channels c, c+1, portable: taps 0,1 by SMLAD on the pair records, tap 2 by
 * SMLABB / SMLATT on the shared third record */
UAOT_INLINE void uaot_dwp_row(const uint32_t *s, const uint32_t *w, int32_t *a0, int32_t *a1)
{
    *a0 = uaot_smlabb(s[2], w[2], uaot_smlad(s[0], w[0], *a0));
    *a1 = uaot_smlatt(s[2], w[2], uaot_smlad(s[1], w[1], *a1));
}

/* one output pixel, portable: s0, s1, s2 = its records in kernel rows 0, 1, 2; pair p holds channels
 * c = 4 * (p / 2) + p % 2 and c + 2 (Cp channels, the C < Cp first stored) */
static void uaot_dwp_pixel(const uint32_t *s0, const uint32_t *s1, const uint32_t *s2, const int32_t *wq, int8_t *yo,
                           int32_t C, int32_t Cp, int32_t fast, const int32_t *mult, const int32_t *shift, int32_t off,
                           int32_t lo, int32_t hi)
{
    for (int32_t p = 0; p < Cp / 2; ++p, s0 += 3, s1 += 3, s2 += 3) {
        const int32_t c = (p >> 1) * 4 + (p & 1);
        int32_t a0 = wq[0], a1 = wq[1];
        const uint32_t *w = (const uint32_t *)(const void *)(wq + 2);
        uaot_dwp_row(s0, w, &a0, &a1);
        uaot_dwp_row(s1, w + 3, &a0, &a1);
        uaot_dwp_row(s2, w + 6, &a0, &a1);
        if (fast) {
            const int32_t *q = wq + 11;
            /* uaot_rq_smmulr with the sign of the accumulator a instead of that of y = SMMULR(a, m): they
             * differ only when y = 0 > a, where (2^(r-1) - 1 + off*2^r) >> r = (2^(r-1) + off*2^r) >> r
             * as r >= 1 (m == 0 channels: r = 0, but a = 0, the generator zeroes their weights and bias).
             * With lo >= off the rounding sign is dropped: a < 0 (m > 0) gives y <= 0 and a value
             * <= (2^(r-1) + off*2^r) >> r = off <= lo with or without it, as in TFLM, so both clamp to lo */
            const int32_t y0 = uaot_smmulr(a0, q[0]), y1 = uaot_smmulr(a1, q[3]);
            const int32_t n0 = lo >= off ? 0 : a0 >> 31, n1 = lo >= off ? 0 : a1 >> 31;
            if (c < C) {
                yo[c] = uaot_clamp8((y0 + q[1] + n0) >> (q[2] & 255), lo, hi);
            }
            if (c + 2 < C) {
                yo[c + 2] = uaot_clamp8((y1 + q[4] + n1) >> (q[5] & 255), lo, hi);
            }
            /* clamped: after each quad (odd p) its {lo x4} (+ {hi x4} when hi < 127) words */
            wq += 17 + ((p & 1) && (lo != -128 || hi != 127) ? (hi == 127 ? 1 : 2) : 0);
        } else {
            if (c < C) {
                yo[c] = uaot_requant_out(a0, mult[c], shift[c], off, lo, hi);
            }
            if (c + 2 < C) {
                yo[c + 2] = uaot_requant_out(a1, mult[c + 2], shift[c + 2], off, lo, hi);
            }
            wq += 11;
        }
    }
}

#if UAOT_HAVE_DSP
/* one kernel row of a pair of channels: record (3 words) and weights (3 words) by LDM, 6 MACs; row 0
 * loads the pair's two bias words (the accumulators) with its weights */
#define UAOT_DWP_MAC                        \
    "smlad %[a0], %[xa], %[wa], %[a0]\n\t"  \
    "smlad %[a1], %[xb], %[wb], %[a1]\n\t"  \
    "smlabb %[a0], %[xt], %[wt], %[a0]\n\t" \
    "smlatt %[a1], %[xt], %[wt], %[a1]\n\t"
#define UAOT_DWP_ROW0(S)                                    \
    "ldmia %[wq]!, {%[a0], %[a1], %[wa], %[wb], %[wt]}\n\t" \
    "ldmia " S "!, {%[xa], %[xb], %[xt]}\n\t" UAOT_DWP_MAC
#define UAOT_DWP_ROW(S)                       \
    "ldmia " S "!, {%[xa], %[xb], %[xt]}\n\t" \
    "ldmia %[wq]!, {%[wa], %[wb], %[wt]}\n\t" UAOT_DWP_MAC
/* the rounding sign of uaot_dwp_pixel (SG: A's sign added) or none (NS: lo >= off) */
#define UAOT_DWP_SG(M, A) "add " M ", " M ", " A ", asr #31\n\t"
#define UAOT_DWP_NS(M, A) ""
/* the two stores of a pair: channels (c, c+2) of the first pair of 4 (yo -> c+1), (c+1, c+3) of the
 * second (yo -> c+4) */
#define UAOT_DWP_ST0A "[%[yo]], #1"
#define UAOT_DWP_ST1A "[%[yo], #1]"
#define UAOT_DWP_ST0B "[%[yo]], #3"
#define UAOT_DWP_ST1B "[%[yo], #-1]"
/* uaot_rq_smmulr of the doubled accumulator A with {M, B, R} (SMMLAR adds B), SSAT #8, stored to ST:
 * TFLM rounds y = SMMULR(A, M) by (y + B - (y < 0)) >> R; A's sign stands in for y's, or no sign at all
 * when lo >= off (see uaot_dwp_pixel) */
#define UAOT_DWP_RQ(A, M, B, R, SG, ST)                                            \
    "smmlar " M ", " A ", " M ", " B "\n\t" SG(M, A) "asr " M ", " M ", " R "\n\t" \
                                                     "ssat " M ", #8, " M "\n\t"   \
                                                     "strb " M ", " ST "\n\t"
#define UAOT_DWP_MACS      \
    UAOT_DWP_ROW0("%[s0]") \
    UAOT_DWP_ROW("%[s1]") UAOT_DWP_ROW("%[s2]") "ldmia %[wq]!, {%[xa], %[xb], %[xt], %[wa], %[wb], %[wt]}\n\t"
/* one pair of channels: 18 MACs, 2 outputs, 27 instructions (29 with the rounding sign) */
#define UAOT_DWP_GROUP(SG, ST0, ST1)                                       \
    UAOT_DWP_MACS UAOT_DWP_RQ("%[a0]", "%[xa]", "%[xb]", "%[xt]", SG, ST0) \
        UAOT_DWP_RQ("%[a1]", "%[wa]", "%[wb]", "%[wt]", SG, ST1)
/* 4 channels: the pairs (c, c+2), (c+1, c+3) */
#define UAOT_DWP_QUAD(SG) \
    UAOT_DWP_GROUP(SG, UAOT_DWP_ST0A, UAOT_DWP_ST1A) UAOT_DWP_GROUP(SG, UAOT_DWP_ST0B, UAOT_DWP_ST1B)
/* clamped ranges: the 4 outputs of a quad packed into r7 (SSAT, BFI: channel c + i in byte i; the first pair
 * is (c, c+2), the second (c+1, c+3)), clamped as 4 bytes with the quad's {lo x4} (+ {hi x4}) stream words
 * (SSUB8 + SEL) and stored with one STR (the asm saves r7 around its loop) */
#define UAOT_DWP_PK(SG, A, M, B, R, BITS)                                          \
    "smmlar " M ", " A ", " M ", " B "\n\t" SG(M, A) "asr " M ", " M ", " R "\n\t" \
                                                     "ssat " M ", #8, " M "\n\t"   \
                                                     "bfi r7, " M ", #" BITS ", #8\n\t"
#define UAOT_DWP_PK0(SG, A, M, B, R)                                               \
    "smmlar " M ", " A ", " M ", " B "\n\t" SG(M, A) "asr " M ", " M ", " R "\n\t" \
                                                     "ssat r7, #8, " M "\n\t"
#define UAOT_DWP_B_LO "ldr %[a0], [%[wq]], #4\n\tssub8 %[xa], r7, %[a0]\n\tsel r7, r7, %[a0]\n\t"
#define UAOT_DWP_B_LOHI                \
    "ldmia %[wq]!, {%[a0], %[a1]}\n\t" \
    "ssub8 %[xa], r7, %[a0]\n\t"       \
    "sel r7, r7, %[a0]\n\t"            \
    "ssub8 %[xa], %[a1], r7\n\t"       \
    "sel r7, r7, %[a1]\n\t"
/* one quad, clamped: 36 MACs and 4 outputs in 57 instructions (clamped below) / 59 (both sides), + 4 with the
 * sign */
#define UAOT_DWP_QUAD_PACK(SG, BOUND)                                           \
    UAOT_DWP_MACS UAOT_DWP_PK0(SG, "%[a0]", "%[xa]", "%[xb]", "%[xt]")          \
        UAOT_DWP_PK(SG, "%[a1]", "%[wa]", "%[wb]", "%[wt]", "16") UAOT_DWP_MACS \
        UAOT_DWP_PK(SG, "%[a0]", "%[xa]", "%[xb]", "%[xt]", "8")                \
            UAOT_DWP_PK(SG, "%[a1]", "%[wa]", "%[wb]", "%[wt]", "24") BOUND "str r7, [%[yo]], #4\n\t"
#define UAOT_DWP_PACK_ASM(BODY)                          \
    __asm__ volatile("push {r7}\n\t"                     \
                     "1:\n\t" BODY "tst %[wt], #256\n\t" \
                     "beq 1b\n\t"                        \
                     "pop {r7}\n\t" UAOT_DWP_OPERANDS)
#define UAOT_DWP_OPERANDS                                                                                      \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [xa] "=&r"(xa), [xb] "=&r"(xb), [xt] "=&r"(xt), [wa] "=&r"(wa),            \
      [wb] "=&r"(wb), [wt] "=&r"(wt), [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [wq] "+r"(wq), [yo] "+r"(y)     \
    :                                                                                                          \
    : "cc", "memory"
#endif

/* output row oy, columns [x0, x1): brings the 3 input rows into the ring (expanding those it does not
 * hold yet), then computes the outputs */
static uaot_status_t uaot_dwp_out_row(uaot_dwp_t *k, int32_t oy, int32_t x0, int32_t x1)
{
    const int32_t C = k->C, Cp = k->Cp, in_h = k->in_h, RW = Cp * 3 / 2;
    const int32_t iy0 = oy * k->stride_h - k->pad_top;
    const uint32_t *rows[3];
    int32_t slot = iy0 % 3; /* ring slot of input row iy: iy mod 3 */
    slot = slot < 0 ? slot + 3 : slot;
    for (int32_t ky = 0; ky < 3; ++ky, slot = slot == 2 ? 0 : slot + 1) {
        const int32_t iy = iy0 + ky;
        uint32_t *d = k->ring + slot * k->sw;
        const int inside = iy >= 0 && iy < in_h;
        if (!k->held_ok[slot] || k->held[slot] != iy) {
            const int was_pad = k->held_ok[slot] && (k->held[slot] < 0 || k->held[slot] >= in_h);
            if (inside || !was_pad) {
                uaot_dwp_expand(k, d, inside ? k->in_b + (size_t)iy * k->in_row : NULL, x0, x1);
            }
            k->held[slot] = iy;
            k->held_ok[slot] = 1;
        }
        rows[ky] = d;
    }
    int8_t *const yrow = k->out_b + (size_t)oy * k->out_row;
    if (k->mode != 0) {
        /* in place: this output row must not overlap an input row this or a later output row reads (the
         * conv_rows.c condition: those rows are then intact until they are read) */
        const uintptr_t o0 = (uintptr_t)yrow, o1 = o0 + k->out_row, i0 = (uintptr_t)k->input;
        if (k->mode == 1) {
            const int32_t r0 = iy0 < 0 ? 0 : iy0;
            if (r0 < in_h && o0 < i0 + (size_t)in_h * k->in_row && i0 + (size_t)r0 * k->in_row < o1) {
                return UAOT_ERR_ARG;
            }
        } else if (iy0 + 2 >= 0) {
            const int32_t r1 = iy0 + 2 < in_h - 1 ? iy0 + 2 : in_h - 1;
            if (o0 < i0 + (size_t)(r1 + 1) * k->in_row && i0 < o1) {
                return UAOT_ERR_ARG;
            }
        }
    }
    int8_t *yo = yrow + (size_t)x0 * (size_t)C;
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__) /* gcc -O0 cannot allocate the asm: the portable loop runs */
    if (k->fast) {
        /* 13 pinned registers (LDM lists need ascending order), never r7 */
        register int32_t a0 __asm__("r0");
        register int32_t a1 __asm__("r1");
        register uint32_t xa __asm__("r2");
        register uint32_t xb __asm__("r3");
        register uint32_t xt __asm__("r4");
        register uint32_t wa __asm__("r5");
        register uint32_t wb __asm__("r6");
        register uint32_t wt __asm__("r8");
        register const uint32_t *s0 __asm__("r9") = rows[0];
        register const uint32_t *s1 __asm__("r10") = rows[1];
        register const uint32_t *s2 __asm__("r11") = rows[2];
        register const int32_t *wq __asm__("r12");
        register int8_t *y __asm__("lr") = yo;
        const int32_t *const stream = k->stream;
        const int full = k->lo == -128 && k->hi == 127, c8 = (C & 7) == 0, ns = k->lo >= k->off;
        /* the asm variant, chosen once per row; each has its own pixel loop (the pinned registers leave few) */
        const int v = full ? (ns ? 0 : 1) : (k->hi == 127 ? (ns ? 2 : 3) : (ns ? 4 : 5));
        /* 4 channels per iteration (C % 4 == 0): 36 MACs in 55 instructions (rounding sign: 59; clamped: + 12);
         * 8 when C % 8 == 0 (the flagged last pair ends an iteration) */
#define UAOT_DWP_PIXELS(...)               \
    for (int32_t ox = x0; ox < x1; ++ox) { \
        wq = stream;                       \
        __VA_ARGS__;                       \
    }
        /* C % 8 != 0: the Cp - C > 0 bytes after a pixel are overwritten by the next pixels; the pixels whose
         * extra bytes would pass the end of the call's columns go through pix */
        int8_t *const pix = k->pix;
        const int32_t pad = Cp - C;
#define UAOT_DWP_PIXELS_P(...)                                     \
    for (int32_t ox = x0; ox < x1; ++ox) {                         \
        wq = stream;                                               \
        const int tail = pad != 0 && (x1 - 1 - ox) * C < pad;      \
        if (tail) {                                                \
            y = pix;                                               \
        }                                                          \
        __VA_ARGS__;                                               \
        if (tail) {                                                \
            int8_t *const yt = yo + (size_t)(ox - x0) * (size_t)C; \
            for (int32_t c = 0; c < C; ++c) {                      \
                yt[c] = pix[c];                                    \
            }                                                      \
            y = yt + C;                                            \
        } else {                                                   \
            y -= pad;                                              \
        }                                                          \
    }
#define UAOT_DWP_FULL_ASM(BODY)                          \
    __asm__ volatile("1:\n\t" BODY "tst %[wt], #256\n\t" \
                     "beq 1b\n\t" UAOT_DWP_OPERANDS)
        if (v == 0 && c8) {
            UAOT_DWP_PIXELS(UAOT_DWP_FULL_ASM(UAOT_DWP_QUAD(UAOT_DWP_NS) UAOT_DWP_QUAD(UAOT_DWP_NS)));
        } else if (v == 0) {
            UAOT_DWP_PIXELS_P(UAOT_DWP_FULL_ASM(UAOT_DWP_QUAD(UAOT_DWP_NS)));
        } else if (v == 1 && c8) {
            UAOT_DWP_PIXELS(UAOT_DWP_FULL_ASM(UAOT_DWP_QUAD(UAOT_DWP_SG) UAOT_DWP_QUAD(UAOT_DWP_SG)));
        } else if (v == 1) {
            UAOT_DWP_PIXELS_P(UAOT_DWP_FULL_ASM(UAOT_DWP_QUAD(UAOT_DWP_SG)));
        } else if (v == 2 && c8) { /* clamped below (RELU) */
            UAOT_DWP_PIXELS(UAOT_DWP_PACK_ASM(UAOT_DWP_QUAD_PACK(UAOT_DWP_NS, UAOT_DWP_B_LO)
                                                  UAOT_DWP_QUAD_PACK(UAOT_DWP_NS, UAOT_DWP_B_LO)));
        } else if (v == 2) {
            UAOT_DWP_PIXELS_P(UAOT_DWP_PACK_ASM(UAOT_DWP_QUAD_PACK(UAOT_DWP_NS, UAOT_DWP_B_LO)));
        } else if (v == 3 && c8) {
            UAOT_DWP_PIXELS(UAOT_DWP_PACK_ASM(UAOT_DWP_QUAD_PACK(UAOT_DWP_SG, UAOT_DWP_B_LO)
                                                  UAOT_DWP_QUAD_PACK(UAOT_DWP_SG, UAOT_DWP_B_LO)));
        } else if (v == 3) {
            UAOT_DWP_PIXELS_P(UAOT_DWP_PACK_ASM(UAOT_DWP_QUAD_PACK(UAOT_DWP_SG, UAOT_DWP_B_LO)));
        } else if (v == 4 && c8) { /* clamped both sides (RELU6) */
            UAOT_DWP_PIXELS(UAOT_DWP_PACK_ASM(UAOT_DWP_QUAD_PACK(UAOT_DWP_NS, UAOT_DWP_B_LOHI)
                                                  UAOT_DWP_QUAD_PACK(UAOT_DWP_NS, UAOT_DWP_B_LOHI)));
        } else if (v == 4) {
            UAOT_DWP_PIXELS_P(UAOT_DWP_PACK_ASM(UAOT_DWP_QUAD_PACK(UAOT_DWP_NS, UAOT_DWP_B_LOHI)));
        } else if (c8) {
            UAOT_DWP_PIXELS(UAOT_DWP_PACK_ASM(UAOT_DWP_QUAD_PACK(UAOT_DWP_SG, UAOT_DWP_B_LOHI)
                                                  UAOT_DWP_QUAD_PACK(UAOT_DWP_SG, UAOT_DWP_B_LOHI)));
        } else {
            UAOT_DWP_PIXELS_P(UAOT_DWP_PACK_ASM(UAOT_DWP_QUAD_PACK(UAOT_DWP_SG, UAOT_DWP_B_LOHI)));
        }
#undef UAOT_DWP_PIXELS
#undef UAOT_DWP_PIXELS_P
#undef UAOT_DWP_FULL_ASM
        return UAOT_OK;
    }
#endif
    for (int32_t ox = 0; ox < x1 - x0; ++ox, yo += C) {
        const int32_t o = ox * RW;
        uaot_dwp_pixel(rows[0] + o, rows[1] + o, rows[2] + o, k->stream, yo, C, Cp, k->fast, k->mult, k->shift, k->off,
                       k->lo, k->hi);
    }
    return UAOT_OK;
}

uaot_status_t uaot_dw3x3_s8_pair(const uaot_conv_s8_params_t *p, const int8_t *input, const int32_t *stream,
                                 int8_t *output, uint8_t *scratch, uint32_t scratch_size, int32_t cols, int32_t fast,
                                 int32_t mode)
{
    if (p == NULL || input == NULL || stream == NULL || output == NULL || scratch == NULL || p->depth_mult != 1 ||
        p->k_h != 3 || p->k_w != 3 || p->dil_h != 1 || p->dil_w != 1 || p->in_c <= 0 || p->out_c != p->in_c ||
        p->stride_h <= 0 || p->stride_w <= 0 || ((uintptr_t)scratch & 3u) != 0u || cols <= 0 || mode < 0 || mode > 2 ||
        (mode != 0 && p->batches != 1) || (!fast && (p->mult == NULL || p->shift == NULL))) {
        return UAOT_ERR_ARG;
    }
    UAOT_CHECK_SCRATCH(scratch_size, uaot_dw3x3_s8_pair_scratch_size(p, cols));
    /* everything as locals (int8 stores below may alias *p) */
    uaot_dwp_t k;
    const int32_t C = p->in_c, Cp = UAOT_DW_PAIR_CP(C), out_w = p->out_w, out_h = p->out_h, batches = p->batches;
    const int32_t W = cols < out_w ? cols : out_w;
    k.stream = stream;
    k.input = input;
    k.mult = p->mult;
    k.shift = p->shift;
    k.C = C;
    k.Cp = Cp;
    k.in_h = p->in_h;
    k.in_w = p->in_w;
    k.out_h = out_h;
    k.out_w = out_w;
    k.stride_h = p->stride_h;
    k.stride_w = p->stride_w;
    k.pad_top = p->pad_top;
    k.pad_left = p->pad_left;
    k.off = p->output_offset;
    k.lo = p->act_min;
    k.hi = p->act_max;
    k.fast = fast;
    k.mode = mode;
    k.sw = W * Cp * 3 / 2;
    k.in_row = (size_t)k.in_w * (size_t)C;
    k.out_row = (size_t)out_w * (size_t)C;
    k.ring = (uint32_t *)(void *)scratch;
    int8_t *const zrow = (int8_t *)(scratch + 12 * k.sw); /* after the 3 ring rows: Cp bytes of zero point */
    for (int32_t c = 0; c < Cp; ++c) {
        zrow[c] = (int8_t)-p->input_offset;
    }
    k.zrow = zrow;
    k.pix = zrow + Cp; /* C % 4 != 0: Cp more bytes */
    k.last = C == Cp ? NULL : input + ((size_t)batches * (size_t)k.in_h * (size_t)k.in_w - 1u) * (size_t)C;
    /* the output columns whose 3 input columns are all inside the input */
    k.ox_lo = 0;
    k.ox_hi = out_w;
    while (k.ox_lo < out_w && k.ox_lo * k.stride_w - k.pad_left < 0) {
        ++k.ox_lo;
    }
    while (k.ox_hi > k.ox_lo && (k.ox_hi - 1) * k.stride_w - k.pad_left + 2 >= k.in_w) {
        --k.ox_hi;
    }
    /* column strips of W: strip by strip (each with its ring) unless in place, where the output rows must
     * be written in order: then row by row, and a strip narrower than the output re-expands its rows */
    const int strip_major = mode == 0 || W == out_w;
    for (int32_t b = 0; b < batches; ++b) {
        k.held_ok[0] = k.held_ok[1] = k.held_ok[2] = 0; /* (the last strip may be narrower) */
        k.in_b = input + (size_t)b * (size_t)k.in_h * k.in_row;
        k.out_b = output + (size_t)b * (size_t)out_h * k.out_row;
        const int32_t n_outer = strip_major ? (out_w + W - 1) / W : out_h;
        const int32_t n_inner = strip_major ? out_h : (out_w + W - 1) / W;
        for (int32_t i = 0; i < n_outer; ++i) {
            for (int32_t j = 0; j < n_inner; ++j) {
                const int32_t r = strip_major ? j : i, s = strip_major ? i : j;
                if (strip_major ? j == 0 : 1) {
                    /* a new strip: the ring holds none of its rows, except padding rows (all strips but the
                     * last are W wide, so a padding row filled for one still covers the next) */
                    for (int32_t q = 0; q < 3; ++q) {
                        k.held_ok[q] = k.held_ok[q] && (k.held[q] < 0 || k.held[q] >= k.in_h);
                    }
                }
                const int32_t x0 = s * W, x1 = x0 + W < out_w ? x0 + W : out_w;
                const uaot_status_t st = uaot_dwp_out_row(&k, mode == 2 ? out_h - 1 - r : r, x0, x1);
                if (st != UAOT_OK) {
                    return st;
                }
            }
        }
    }
    return UAOT_OK;
}
