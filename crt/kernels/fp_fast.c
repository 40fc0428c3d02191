/* microaot kernels: float32 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED on an FPU (fp_fast.h).
 *
 * Bit-identical with the generic kernels (conv.c, fully_connected.c): every output is summed from +0.0f
 * over its taps in the generic order, one rounding per product and per sum (VMLA.F32 is the chained,
 * not the fused, multiply-accumulate), then the bias is added and the result clamped. Blocking only
 * changes which outputs are computed side by side, never the order of any one output's terms. */
#include "microaot/kernels/fp_fast.h"

#include <float.h>
#include <stddef.h>
#include <string.h>

/* the asm paths: a single-precision FPU in Thumb-2 (gcc -O0 cannot allocate the operands: the portable
 * loops run there) */
#if defined(__ARM_FP) && (__ARM_FP & 4) && defined(__thumb2__) && defined(__OPTIMIZE__)
#define UAOT_FP_ASM 1
#else
#define UAOT_FP_ASM 0
#endif

static const float uaot_fp_zeros[16] = {0.0f};

/* How a block's epilogue clamps its sums v (after the bias) to [lo, hi] as the generic kernel does,
 * v < lo ? lo : (v > hi ? hi : v) (NaN stays NaN):
 * UAOT_FP_FULL: every v against both bounds with VCMP (8 instructions per output);
 * UAOT_FP_CHECK (lo == -FLT_MAX, hi == FLT_MAX: activation NONE): the clamp changes only +-inf. The block's
 *   sum v0 + v1 + ... is finite (sum - sum == 0) only if every v is finite, and then nothing changes; else
 *   (an inf or NaN, or a finite sum overflowing) the full clamp runs;
 * UAOT_FP_CHECK_LO (lo == 0, hi == FLT_MAX: RELU), UAOT_FP_CHECK_LOHI (lo == 0, 0 < hi < FLT_MAX: RELU6): after
 *   the same check (all v finite) the clamp runs on the bit patterns as signed integers, where finite floats
 *   order as their values on each side of 0: USAT #31 turns a negative v into +0.0f (v is never -0.0f: a sum
 *   starting at +0.0f never is) and leaves v >= 0 alone, then min(v, hi) as a saturating add of
 *   0x7fffffff - hi's bits and its subtraction (2 instructions per output for the lower bound, 2 more for the
 *   upper, vs 4 each with VCMP). */
enum { UAOT_FP_FULL = 0, UAOT_FP_CHECK = 4, UAOT_FP_CHECK_LO = 5, UAOT_FP_CHECK_LOHI = 7 };

static int32_t uaot_fp_mode(float lo, float hi)
{
    uint32_t lo_bits;
    memcpy(&lo_bits, &lo, sizeof lo_bits);
    if (lo == -FLT_MAX && hi == FLT_MAX) {
        return UAOT_FP_CHECK;
    }
    if (lo_bits != 0u) { /* the integer clamps produce +0.0f: only for lo == +0.0f */
        return UAOT_FP_FULL;
    }
    if (hi == FLT_MAX) {
        return UAOT_FP_CHECK_LO;
    }
    return hi > 0.0f && hi < FLT_MAX ? UAOT_FP_CHECK_LOHI : UAOT_FP_FULL;
}

#if UAOT_FP_ASM
/* R = R < lo ? lo : R (lo in s30); R = R > hi ? hi : R (hi in s31) */
#define UAOT_FP_LO(R)           \
    "vcmp.f32 " R ", s30\n\t"   \
    "vmrs APSR_nzcv, fpscr\n\t" \
    "it mi\n\t"                 \
    "vmovmi.f32 " R ", s30\n\t"
#define UAOT_FP_HI(R)           \
    "vcmp.f32 " R ", s31\n\t"   \
    "vmrs APSR_nzcv, fpscr\n\t" \
    "it gt\n\t"                 \
    "vmovgt.f32 " R ", s31\n\t"
/* s24 += R */
#define UAOT_FP_SUM(R) "vadd.f32 s24, s24, " R "\n\t"
/* M over the accumulators s0..s3, s0..s7, s0..s15 */
#define UAOT_FP_S2_3(M) M("s2") M("s3")
#define UAOT_FP_S4_7(M) M("s4") M("s5") M("s6") M("s7")
#define UAOT_FP_S8_15(M) M("s8") M("s9") M("s10") M("s11") M("s12") M("s13") M("s14") M("s15")
#define UAOT_FP_R4(M) M("s0") M("s1") UAOT_FP_S2_3(M)
#define UAOT_FP_R8(M) UAOT_FP_R4(M) UAOT_FP_S4_7(M)
#define UAOT_FP_R16(M) UAOT_FP_R8(M) UAOT_FP_S8_15(M)
#define UAOT_FP_REST4(M) UAOT_FP_S2_3(M)
#define UAOT_FP_REST8(M) UAOT_FP_S2_3(M) UAOT_FP_S4_7(M)
#define UAOT_FP_REST16(M) UAOT_FP_S2_3(M) UAOT_FP_S4_7(M) UAOT_FP_S8_15(M)
/* A, B (an even and the next register) to T0, T1, lower bound 0 (USAT), back */
#define UAOT_FP_ULO(T0, T1, A, B)           \
    "vmov " T0 ", " T1 ", " A ", " B "\n\t" \
    "usat " T0 ", #31, " T0 "\n\t"          \
    "usat " T1 ", #31, " T1 "\n\t"          \
    "vmov " A ", " B ", " T0 ", " T1 "\n\t"
/* the same and the upper bound: k = 0x7fffffff - hi's bits, min(v, hi) = sat(v + k) - k (QADD saturates at
 * 0x7fffffff exactly when v > hi) */
#define UAOT_FP_ULOHI(T0, T1, A, B)         \
    "vmov " T0 ", " T1 ", " A ", " B "\n\t" \
    "usat " T0 ", #31, " T0 "\n\t"          \
    "usat " T1 ", #31, " T1 "\n\t"          \
    "qadd " T0 ", " T0 ", %[k]\n\t"         \
    "qadd " T1 ", " T1 ", %[k]\n\t"         \
    "sub " T0 ", " T0 ", %[k]\n\t"          \
    "sub " T1 ", " T1 ", %[k]\n\t"          \
    "vmov " A ", " B ", " T0 ", " T1 "\n\t"
/* k = 0x7fffffff - k (k: hi's bits, 0 < hi < FLT_MAX) */
#define UAOT_FP_KHI "mvn %[k], %[k]\n\tbic %[k], %[k], #0x80000000\n\t"
/* M(T0, T1, pair) over the accumulator pairs of s0..s1, s0..s3, s0..s7, s0..s15 */
#define UAOT_FP_P2(M, T0, T1) M(T0, T1, "s0", "s1")
#define UAOT_FP_P4(M, T0, T1) UAOT_FP_P2(M, T0, T1) M(T0, T1, "s2", "s3")
#define UAOT_FP_P8(M, T0, T1) UAOT_FP_P4(M, T0, T1) M(T0, T1, "s4", "s5") M(T0, T1, "s6", "s7")
#define UAOT_FP_P16(M, T0, T1) \
    UAOT_FP_P8(M, T0, T1) M(T0, T1, "s8", "s9") M(T0, T1, "s10", "s11") M(T0, T1, "s12", "s13") M(T0, T1, "s14", "s15")
#define UAOT_FP_R2(M) M("s0") M("s1")
#define UAOT_FP_REST2(M)
/* the clamp of the sums in s0..s(N-1), N = 2, 4, 8 or 16 (R = UAOT_FP_RN, REST = UAOT_FP_RESTN, P = UAOT_FP_PN):
 * {lo, hi} at [a + LH], the mode at [a + MODE]; uses k, the core registers T0, T1, s24, s30, s31 and the
 * labels 6, 7, 8 */
#define UAOT_FP_EPILOGUE(R, REST, P, T0, T1, LH, MODE)                                                               \
    "ldr %[k], [%[a], #" MODE "]\n\t"                                                                                \
    "tst %[k], #4\n\t"                                                                                               \
    "beq 7f\n\t"                                                                                                     \
    "vadd.f32 s24, s0, s1\n\t" REST(UAOT_FP_SUM) "vsub.f32 s24, s24, s24\n\t"                                        \
                                                 "vcmp.f32 s24, #0\n\t"                                              \
                                                 "vmrs APSR_nzcv, fpscr\n\t"                                         \
                                                 "bne 7f\n\t"                                                        \
                                                 "lsls %[k], %[k], #31\n\t"                                          \
                                                 "bpl 8f\n\t"                                                        \
                                                 "bcs 6f\n\t" P(UAOT_FP_ULO, T0,                                     \
                                                                T1) "b 8f\n\t"                                       \
                                                                    "6:\n\t"                                         \
                                                                    "ldr %[k], [%[a], #" LH "]\n\t"                  \
                                                                    "ldr %[k], [%[k], #4]\n\t" UAOT_FP_KHI           \
                                                                    P(UAOT_FP_ULOHI, T0,                             \
                                                                      T1) "b 8f\n\t"                                 \
                                                                          "7:\n\t"                                   \
                                                                          "ldr %[k], [%[a], #" LH "]\n\t"            \
                                                                          "vldmia %[k], {s30-s31}\n\t" R(UAOT_FP_LO) \
                                                                              R(UAOT_FP_HI) "8:\n\t"
#define UAOT_FP_ALL_S                                                                                            \
    "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "s16", \
        "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31"
#endif

static float uaot_fp_clamp(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* 4 output rows (channels) at npx (1 or 2) input rows (pixels, batches): for q < npx, r < 4,
 * out_q[r] = clamp(sum over k < K, in increasing k, of x_q[k] * w_r[k], + bias[r]), K = 4 * g + t */
typedef struct {
    const float *x0, *x1;
    const float *w0, *w1, *w2, *w3;
    int32_t g, t;
    const float *bias, *lh; /* bias (4 floats, never NULL: +0.0f leaves a sum unchanged), {lo, hi} */
    float *out0, *out1;
    const float *zeros;
    int32_t mode; /* UAOT_FP_FULL, UAOT_FP_CHECK or UAOT_FP_CHECK_LO */
} uaot_fp_gemm_args_t;

#if UAOT_FP_ASM
/* the asm reads the fields at these byte offsets */
typedef char
    uaot_fp_gemm_layout_ok[(offsetof(uaot_fp_gemm_args_t, g) == 24 && offsetof(uaot_fp_gemm_args_t, bias) == 32 &&
                            offsetof(uaot_fp_gemm_args_t, zeros) == 48 && offsetof(uaot_fp_gemm_args_t, mode) == 52)
                               ? 1
                               : -1];
#endif
static void uaot_fp_gemm4(const uaot_fp_gemm_args_t *a, int32_t npx)
{
#if UAOT_FP_ASM
    const float *x0, *x1, *w0, *w1, *w2, *w3;
    int32_t k;
    if (npx == 2) {
        /* per 4 k: 6 VLDM + 32 VMLA + 2 loop instructions for 32 MACs */
        __asm__ volatile("ldr %[k], [%[a], #48]\n\t"
                         "vldmia %[k], {s0-s7}\n\t"
                         "ldr %[x0], [%[a], #0]\n\t"
                         "ldr %[x1], [%[a], #4]\n\t"
                         "ldr %[w0], [%[a], #8]\n\t"
                         "ldr %[w1], [%[a], #12]\n\t"
                         "ldr %[w2], [%[a], #16]\n\t"
                         "ldr %[w3], [%[a], #20]\n\t"
                         "ldr %[k], [%[a], #24]\n\t"
                         "cmp %[k], #0\n\t"
                         "beq 3f\n\t"
                         "1:\n\t"
                         "vldmia %[x0]!, {s8-s11}\n\t"
                         "vldmia %[x1]!, {s12-s15}\n\t"
                         "vldmia %[w0]!, {s16-s19}\n\t"
                         "vldmia %[w1]!, {s20-s23}\n\t"
                         "vldmia %[w2]!, {s24-s27}\n\t"
                         "vldmia %[w3]!, {s28-s31}\n\t"
                         "vmla.f32 s0, s8, s16\n\t"
                         "vmla.f32 s1, s8, s20\n\t"
                         "vmla.f32 s2, s8, s24\n\t"
                         "vmla.f32 s3, s8, s28\n\t"
                         "vmla.f32 s4, s12, s16\n\t"
                         "vmla.f32 s5, s12, s20\n\t"
                         "vmla.f32 s6, s12, s24\n\t"
                         "vmla.f32 s7, s12, s28\n\t"
                         "vmla.f32 s0, s9, s17\n\t"
                         "vmla.f32 s1, s9, s21\n\t"
                         "vmla.f32 s2, s9, s25\n\t"
                         "vmla.f32 s3, s9, s29\n\t"
                         "vmla.f32 s4, s13, s17\n\t"
                         "vmla.f32 s5, s13, s21\n\t"
                         "vmla.f32 s6, s13, s25\n\t"
                         "vmla.f32 s7, s13, s29\n\t"
                         "vmla.f32 s0, s10, s18\n\t"
                         "vmla.f32 s1, s10, s22\n\t"
                         "vmla.f32 s2, s10, s26\n\t"
                         "vmla.f32 s3, s10, s30\n\t"
                         "vmla.f32 s4, s14, s18\n\t"
                         "vmla.f32 s5, s14, s22\n\t"
                         "vmla.f32 s6, s14, s26\n\t"
                         "vmla.f32 s7, s14, s30\n\t"
                         "vmla.f32 s0, s11, s19\n\t"
                         "vmla.f32 s1, s11, s23\n\t"
                         "vmla.f32 s2, s11, s27\n\t"
                         "vmla.f32 s3, s11, s31\n\t"
                         "vmla.f32 s4, s15, s19\n\t"
                         "vmla.f32 s5, s15, s23\n\t"
                         "vmla.f32 s6, s15, s27\n\t"
                         "vmla.f32 s7, s15, s31\n\t"
                         "subs %[k], %[k], #1\n\t"
                         "bne 1b\n\t"
                         "3:\n\t"
                         "ldr %[k], [%[a], #28]\n\t"
                         "cmp %[k], #0\n\t"
                         "beq 5f\n\t"
                         "4:\n\t"
                         "vldmia %[x0]!, {s8}\n\t"
                         "vldmia %[x1]!, {s12}\n\t"
                         "vldmia %[w0]!, {s16}\n\t"
                         "vldmia %[w1]!, {s20}\n\t"
                         "vldmia %[w2]!, {s24}\n\t"
                         "vldmia %[w3]!, {s28}\n\t"
                         "vmla.f32 s0, s8, s16\n\t"
                         "vmla.f32 s1, s8, s20\n\t"
                         "vmla.f32 s2, s8, s24\n\t"
                         "vmla.f32 s3, s8, s28\n\t"
                         "vmla.f32 s4, s12, s16\n\t"
                         "vmla.f32 s5, s12, s20\n\t"
                         "vmla.f32 s6, s12, s24\n\t"
                         "vmla.f32 s7, s12, s28\n\t"
                         "subs %[k], %[k], #1\n\t"
                         "bne 4b\n\t"
                         "5:\n\t"
                         "ldr %[k], [%[a], #32]\n\t"
                         "vldmia %[k], {s16-s19}\n\t"
                         "vadd.f32 s0, s0, s16\n\t"
                         "vadd.f32 s1, s1, s17\n\t"
                         "vadd.f32 s2, s2, s18\n\t"
                         "vadd.f32 s3, s3, s19\n\t"
                         "vadd.f32 s4, s4, s16\n\t"
                         "vadd.f32 s5, s5, s17\n\t"
                         "vadd.f32 s6, s6, s18\n\t"
                         "vadd.f32 s7, s7, s19\n\t" UAOT_FP_EPILOGUE(UAOT_FP_R8, UAOT_FP_REST8, UAOT_FP_P8, "%[x0]",
                                                                     "%[x1]", "36", "52") "ldr %[k], [%[a], #40]\n\t"
                                                                                          "vstmia %[k], {s0-s3}\n\t"
                                                                                          "ldr %[k], [%[a], #44]\n\t"
                                                                                          "vstmia %[k], {s4-s7}\n\t"
                         : [x0] "=&r"(x0), [x1] "=&r"(x1), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2),
                           [w3] "=&r"(w3), [k] "=&r"(k)
                         : [a] "r"(a)
                         : UAOT_FP_ALL_S, "cc", "memory");
    } else {
        /* per 4 k: 5 VLDM + 16 VMLA + 2 loop instructions for 16 MACs */
        __asm__ volatile("ldr %[k], [%[a], #48]\n\t"
                         "vldmia %[k], {s0-s3}\n\t"
                         "ldr %[x0], [%[a], #0]\n\t"
                         "ldr %[w0], [%[a], #8]\n\t"
                         "ldr %[w1], [%[a], #12]\n\t"
                         "ldr %[w2], [%[a], #16]\n\t"
                         "ldr %[w3], [%[a], #20]\n\t"
                         "ldr %[k], [%[a], #24]\n\t"
                         "cmp %[k], #0\n\t"
                         "beq 3f\n\t"
                         "1:\n\t"
                         "vldmia %[x0]!, {s8-s11}\n\t"
                         "vldmia %[w0]!, {s16-s19}\n\t"
                         "vldmia %[w1]!, {s20-s23}\n\t"
                         "vldmia %[w2]!, {s24-s27}\n\t"
                         "vldmia %[w3]!, {s28-s31}\n\t"
                         "vmla.f32 s0, s8, s16\n\t"
                         "vmla.f32 s1, s8, s20\n\t"
                         "vmla.f32 s2, s8, s24\n\t"
                         "vmla.f32 s3, s8, s28\n\t"
                         "vmla.f32 s0, s9, s17\n\t"
                         "vmla.f32 s1, s9, s21\n\t"
                         "vmla.f32 s2, s9, s25\n\t"
                         "vmla.f32 s3, s9, s29\n\t"
                         "vmla.f32 s0, s10, s18\n\t"
                         "vmla.f32 s1, s10, s22\n\t"
                         "vmla.f32 s2, s10, s26\n\t"
                         "vmla.f32 s3, s10, s30\n\t"
                         "vmla.f32 s0, s11, s19\n\t"
                         "vmla.f32 s1, s11, s23\n\t"
                         "vmla.f32 s2, s11, s27\n\t"
                         "vmla.f32 s3, s11, s31\n\t"
                         "subs %[k], %[k], #1\n\t"
                         "bne 1b\n\t"
                         "3:\n\t"
                         "ldr %[k], [%[a], #28]\n\t"
                         "cmp %[k], #0\n\t"
                         "beq 5f\n\t"
                         "4:\n\t"
                         "vldmia %[x0]!, {s8}\n\t"
                         "vldmia %[w0]!, {s16}\n\t"
                         "vldmia %[w1]!, {s20}\n\t"
                         "vldmia %[w2]!, {s24}\n\t"
                         "vldmia %[w3]!, {s28}\n\t"
                         "vmla.f32 s0, s8, s16\n\t"
                         "vmla.f32 s1, s8, s20\n\t"
                         "vmla.f32 s2, s8, s24\n\t"
                         "vmla.f32 s3, s8, s28\n\t"
                         "subs %[k], %[k], #1\n\t"
                         "bne 4b\n\t"
                         "5:\n\t"
                         "ldr %[k], [%[a], #32]\n\t"
                         "vldmia %[k], {s16-s19}\n\t"
                         "vadd.f32 s0, s0, s16\n\t"
                         "vadd.f32 s1, s1, s17\n\t"
                         "vadd.f32 s2, s2, s18\n\t"
                         "vadd.f32 s3, s3, s19\n\t" UAOT_FP_EPILOGUE(UAOT_FP_R4, UAOT_FP_REST4, UAOT_FP_P4, "%[x0]",
                                                                     "%[w0]", "36", "52") "ldr %[k], [%[a], #40]\n\t"
                                                                                          "vstmia %[k], {s0-s3}\n\t"
                         : [x0] "=&r"(x0), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3), [k] "=&r"(k)
                         : [a] "r"(a)
                         : UAOT_FP_ALL_S, "cc", "memory");
    }
    (void)x1;
#else
    const float *w[4] = {a->w0, a->w1, a->w2, a->w3};
    const int32_t n = 4 * a->g + a->t;
    for (int32_t q = 0; q < npx; ++q) {
        const float *x = q == 0 ? a->x0 : a->x1;
        float *out = q == 0 ? a->out0 : a->out1;
        for (int32_t r = 0; r < 4; ++r) {
            float acc = 0.0f;
            for (int32_t i = 0; i < n; ++i) {
                acc += x[i] * w[r][i];
            }
            out[r] = uaot_fp_clamp(acc + a->bias[r], a->lh[0], a->lh[1]);
        }
    }
#endif
}

/* Depthwise: the taps of one output pixel are nky rows of nkx taps; after each tap x += tap_x, w += tap_w
 * (floats), after each row but the last x += row_x - nkx * tap_x, w += row_w - nkx * tap_w. */
typedef struct {
    int32_t tap_x, tap_w, row_x, row_w;
} uaot_fp_taps_t;

/* nb blocks of L (lanes, 1..8) outputs at npx (1 or 2) pixels whose taps have the same ranges, in the pattern
 * pat (1, 2, 4: output j of a block reads its input channel + j / pat, each tap loads L / pat input floats; 8: all
 * lanes read one input float) and the L weights. out_q[j] = clamp(sum over the taps of x_q[j / pat] * w[j] +
 * bias[j]); after a block x_q += xb, w += wb (its taps' advance undone, the next block's start), bias += bstep,
 * out_q += L. After each pair (pixel) w and bias start again at the fields' values. */
typedef struct {
    const float *x0, *x1, *w;
    int32_t nky, nkx, xs, ws, xr, wr; /* strides in bytes: tap (minus the VLDM writeback), row */
    const float *bias, *lh;           /* bias (L floats, never NULL: +0.0f leaves a sum unchanged), {lo, hi} */
    float *out0, *out1;
    const float *zeros;
    int32_t mode; /* UAOT_FP_FULL, UAOT_FP_CHECK, UAOT_FP_CHECK_LO or UAOT_FP_CHECK_LOHI */
    int32_t nb, xb, wb, bstep;
    int32_t npairs, nb0, px, pw, pb, po; /* pixel pairs (npx 2) or pixels (1); after each: nb = nb0, x_q += px,
                                          * w += pw, bias += pb (back to the start), out_q += po (bytes) */
    int32_t later;                       /* set by the asm of fewer than 8 lanes: some sums stored unclamped */
    int32_t nrun, rx, ro, npairs0;       /* nrun runs of npairs0 pairs; after a run x_q += rx, out_q += ro (bytes) */
} uaot_fp_dw8_args_t;

#if UAOT_FP_ASM
/* the asm reads the fields at these byte offsets */
typedef char
    uaot_fp_dw8_layout_ok[(offsetof(uaot_fp_dw8_args_t, xs) == 20 && offsetof(uaot_fp_dw8_args_t, xr) == 28 &&
                           offsetof(uaot_fp_dw8_args_t, zeros) == 52 && offsetof(uaot_fp_dw8_args_t, mode) == 56 &&
                           offsetof(uaot_fp_dw8_args_t, later) == 100 && offsetof(uaot_fp_dw8_args_t, npairs0) == 116)
                              ? 1
                              : -1];

/* A0..A7 += X0..X7 * s16..s23 */
#define UAOT_FP_MAC8(A0, A1, A2, A3, A4, A5, A6, A7, X0, X1, X2, X3, X4, X5, X6, X7) \
    "vmla.f32 " A0 ", " X0 ", s16\n\t"                                               \
    "vmla.f32 " A1 ", " X1 ", s17\n\t"                                               \
    "vmla.f32 " A2 ", " X2 ", s18\n\t"                                               \
    "vmla.f32 " A3 ", " X3 ", s19\n\t"                                               \
    "vmla.f32 " A4 ", " X4 ", s20\n\t"                                               \
    "vmla.f32 " A5 ", " X5 ", s21\n\t"                                               \
    "vmla.f32 " A6 ", " X6 ", s22\n\t"                                               \
    "vmla.f32 " A7 ", " X7 ", s23\n\t"
#define UAOT_FP_MAC8E(...) UAOT_FP_MAC8(__VA_ARGS__)
/* the input registers of output j at pattern pat (the VLDM list, then j = 0..7) */
#define UAOT_FP_X_P1 "{s24-s31}", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31"
#define UAOT_FP_X_P2 "{s24-s27}", "s24", "s24", "s25", "s25", "s26", "s26", "s27", "s27"
#define UAOT_FP_X_P4 "{s24-s25}", "s24", "s24", "s24", "s24", "s25", "s25", "s25", "s25"
#define UAOT_FP_X_P8 "{s24}", "s24", "s24", "s24", "s24", "s24", "s24", "s24", "s24"
/* the bias added to n accumulators (pixel 0: s0..s7, pixel 1: s8..s15) */
#define UAOT_FP_BIAS8(A0, A1, A2, A3, A4, A5, A6, A7) \
    "vadd.f32 " A0 ", " A0 ", s16\n\t"                \
    "vadd.f32 " A1 ", " A1 ", s17\n\t"                \
    "vadd.f32 " A2 ", " A2 ", s18\n\t"                \
    "vadd.f32 " A3 ", " A3 ", s19\n\t"                \
    "vadd.f32 " A4 ", " A4 ", s20\n\t"                \
    "vadd.f32 " A5 ", " A5 ", s21\n\t"                \
    "vadd.f32 " A6 ", " A6 ", s22\n\t"                \
    "vadd.f32 " A7 ", " A7 ", s23\n\t"
#define UAOT_FP_BIAS8E(...) UAOT_FP_BIAS8(__VA_ARGS__)
#define UAOT_FP_ACC0 "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"
#define UAOT_FP_ACC1 "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15"
/* the tap loops of uaot_fp_dw8 with one pixel (P1 empty) or two (P1 = the second pixel's lines) */
#define UAOT_FP_DW_ASM(WL, ZEROS, P1X, P1ADD, P1ROW, P1BACK, B0, P1BIAS, EPI, ST0, P1STORE, P1OUT)                  \
    __asm__ volatile("ldr %[x0], [%[a], #0]\n\t"                                                                    \
                     "ldr %[x1], [%[a], #4]\n\t"                                                                    \
                     "ldr %[o0], [%[a], #44]\n\t"                                                                   \
                     "ldr %[o1], [%[a], #48]\n\t"                                                                   \
                     "3:\n\t"                                                                                       \
                     "ldr %[w], [%[a], #8]\n\t"                                                                     \
                     "ldr %[b], [%[a], #36]\n\t"                                                                    \
                     "ldr %[k], [%[a], #80]\n\t"                                                                    \
                     "str %[k], [%[a], #60]\n\t"                                                                    \
                     "0:\n\t"                                                                                       \
                     "ldrd %[xs], %[ws], [%[a], #20]\n\t"                                                           \
                     "ldr %[k], [%[a], #52]\n\t"                                                                    \
                     "vldmia %[k], " ZEROS "\n\t"                                                                   \
                     "ldr %[ky], [%[a], #12]\n\t"                                                                   \
                     "1:\n\t"                                                                                       \
                     "ldr %[k], [%[a], #16]\n\t"                                                                    \
                     "2:\n\t"                                                                                       \
                     "vldmia %[w]!, " WL "\n\t" P1X "add %[x0], %[x0], %[xs]\n\t" P1ADD "add %[w], %[w], %[ws]\n\t" \
                     "subs %[k], %[k], #1\n\t"                                                                      \
                     "bne 2b\n\t"                                                                                   \
                     "subs %[ky], %[ky], #1\n\t"                                                                    \
                     "beq 9f\n\t"                                                                                   \
                     "ldr %[k], [%[a], #28]\n\t"                                                                    \
                     "add %[x0], %[x0], %[k]\n\t" P1ROW "ldr %[k], [%[a], #32]\n\t"                                 \
                     "add %[w], %[w], %[k]\n\t"                                                                     \
                     "b 1b\n\t"                                                                                     \
                     "9:\n\t"                                                                                       \
                     "ldr %[k], [%[a], #64]\n\t"                                                                    \
                     "add %[x0], %[x0], %[k]\n\t" P1BACK "ldr %[k], [%[a], #68]\n\t"                                \
                     "add %[w], %[w], %[k]\n\t"                                                                     \
                     "vldmia %[b], " WL "\n\t"                                                                      \
                     "ldr %[k], [%[a], #72]\n\t"                                                                    \
                     "add %[b], %[b], %[k]\n\t" B0 P1BIAS EPI "vstmia %[o0]!, " ST0 "\n\t" P1STORE                  \
                     "ldr %[k], [%[a], #60]\n\t"                                                                    \
                     "subs %[k], %[k], #1\n\t"                                                                      \
                     "str %[k], [%[a], #60]\n\t"                                                                    \
                     "bne 0b\n\t"                                                                                   \
                     "ldr %[k], [%[a], #84]\n\t"                                                                    \
                     "add %[x0], %[x0], %[k]\n\t" P1BACK "ldr %[k], [%[a], #96]\n\t"                                \
                     "add %[o0], %[o0], %[k]\n\t" P1OUT "ldr %[k], [%[a], #76]\n\t"                                 \
                     "subs %[k], %[k], #1\n\t"                                                                      \
                     "str %[k], [%[a], #76]\n\t"                                                                    \
                     "bne 3b\n\t"                                                                                   \
                     "ldr %[k], [%[a], #104]\n\t"                                                                   \
                     "subs %[k], %[k], #1\n\t"                                                                      \
                     "beq 4f\n\t"                                                                                   \
                     "str %[k], [%[a], #104]\n\t"                                                                   \
                     "ldr %[k], [%[a], #116]\n\t"                                                                   \
                     "str %[k], [%[a], #76]\n\t"                                                                    \
                     "ldr %[k], [%[a], #108]\n\t"                                                                   \
                     "add %[x0], %[x0], %[k]\n\t" P1BACK "ldr %[k], [%[a], #112]\n\t"                               \
                     "add %[o0], %[o0], %[k]\n\t" P1OUT "b 3b\n\t"                                                  \
                     "4:\n\t"                                                                                       \
                     : [x0] "=&r"(x0), [x1] "=&r"(x1), [w] "=&r"(w), [ky] "=&r"(ky), [k] "=&r"(k), [xs] "=&r"(xs),  \
                       [ws] "=&r"(ws), [b] "=&r"(b), [o0] "=&r"(o0), [o1] "=&r"(o1)                                 \
                     : [a] "r"(a)                                                                                   \
                     : UAOT_FP_ALL_S, "cc", "memory")
#define UAOT_FP_DW8_LOADS1(XL, X0, X1, X2, X3, X4, X5, X6, X7) \
    "vldmia %[x0]!, " XL "\n\t" UAOT_FP_MAC8E(UAOT_FP_ACC0, X0, X1, X2, X3, X4, X5, X6, X7)
#define UAOT_FP_DW8_LOADS2(XL, X0, X1, X2, X3, X4, X5, X6, X7) \
    UAOT_FP_DW8_LOADS1(XL, X0, X1, X2, X3, X4, X5, X6, X7)     \
    "vldmia %[x1]!, " XL "\n\t" UAOT_FP_MAC8E(UAOT_FP_ACC1, X0, X1, X2, X3, X4, X5, X6, X7)
/* uaot_fp_dw8 at pattern X (UAOT_FP_X_Pn) for one pixel / two pixels */
#define UAOT_FP_DW8_ONE(...)                                                                                          \
    UAOT_FP_DW_ASM("{s16-s23}", "{s0-s7}", UAOT_FP_DW8_LOADS1(__VA_ARGS__), "", "", "", UAOT_FP_BIAS8E(UAOT_FP_ACC0), \
                   "", UAOT_FP_EPILOGUE(UAOT_FP_R8, UAOT_FP_REST8, UAOT_FP_P8, "%[ky]", "%[ws]", "40", "56"),         \
                   "{s0-s7}", "", "")
#define UAOT_FP_DW8_TWO(...)                                                                                 \
    UAOT_FP_DW_ASM("{s16-s23}", "{s0-s15}", UAOT_FP_DW8_LOADS2(__VA_ARGS__), "add %[x1], %[x1], %[xs]\n\t",  \
                   "add %[x1], %[x1], %[k]\n\t", "add %[x1], %[x1], %[k]\n\t", UAOT_FP_BIAS8E(UAOT_FP_ACC0), \
                   UAOT_FP_BIAS8E(UAOT_FP_ACC1),                                                             \
                   UAOT_FP_EPILOGUE(UAOT_FP_R16, UAOT_FP_REST16, UAOT_FP_P16, "%[ky]", "%[ws]", "40", "56"), \
                   "{s0-s7}", "vstmia %[o1]!, {s8-s15}\n\t", "add %[o1], %[o1], %[k]\n\t")
/* Blocks of n < 8 outputs (lane j: pixel 0 in s(j), pixel 1 in s(8 + j), weight s(16 + j), input UAOT_FP_X<P>_j of
 * the VLDM list UAOT_FP_XL_<P>_<n>; P = P1, P2, P4 or B, one input float for all lanes); the unused accumulators
 * stay +0.0f. Clamp: the finite check, then RELU / RELU6 on the bit patterns; otherwise (an inf or NaN in the
 * block, or UAOT_FP_FULL) the sums are stored unclamped and a->later set: the caller clamps them. */
#define UAOT_FP_A0_0 "s0"
#define UAOT_FP_A0_1 "s1"
#define UAOT_FP_A0_2 "s2"
#define UAOT_FP_A0_3 "s3"
#define UAOT_FP_A0_4 "s4"
#define UAOT_FP_A0_5 "s5"
#define UAOT_FP_A0_6 "s6"
#define UAOT_FP_A1_0 "s8"
#define UAOT_FP_A1_1 "s9"
#define UAOT_FP_A1_2 "s10"
#define UAOT_FP_A1_3 "s11"
#define UAOT_FP_A1_4 "s12"
#define UAOT_FP_A1_5 "s13"
#define UAOT_FP_A1_6 "s14"
#define UAOT_FP_W_0 "s16"
#define UAOT_FP_W_1 "s17"
#define UAOT_FP_W_2 "s18"
#define UAOT_FP_W_3 "s19"
#define UAOT_FP_W_4 "s20"
#define UAOT_FP_W_5 "s21"
#define UAOT_FP_W_6 "s22"
#define UAOT_FP_XP1_0 "s24"
#define UAOT_FP_XP1_1 "s25"
#define UAOT_FP_XP1_2 "s26"
#define UAOT_FP_XP1_3 "s27"
#define UAOT_FP_XP1_4 "s28"
#define UAOT_FP_XP1_5 "s29"
#define UAOT_FP_XP1_6 "s30"
#define UAOT_FP_XP2_0 "s24"
#define UAOT_FP_XP2_1 "s24"
#define UAOT_FP_XP2_2 "s25"
#define UAOT_FP_XP2_3 "s25"
#define UAOT_FP_XP2_4 "s26"
#define UAOT_FP_XP2_5 "s26"
#define UAOT_FP_XP4_0 "s24"
#define UAOT_FP_XP4_1 "s24"
#define UAOT_FP_XP4_2 "s24"
#define UAOT_FP_XP4_3 "s24"
#define UAOT_FP_XPB_0 "s24"
#define UAOT_FP_XPB_1 "s24"
#define UAOT_FP_XPB_2 "s24"
#define UAOT_FP_XPB_3 "s24"
#define UAOT_FP_XPB_4 "s24"
#define UAOT_FP_XPB_5 "s24"
#define UAOT_FP_XPB_6 "s24"
#define UAOT_FP_XL_P1_1 "{s24}"
#define UAOT_FP_XL_P1_2 "{s24-s25}"
#define UAOT_FP_XL_P1_3 "{s24-s26}"
#define UAOT_FP_XL_P1_4 "{s24-s27}"
#define UAOT_FP_XL_P1_5 "{s24-s28}"
#define UAOT_FP_XL_P1_6 "{s24-s29}"
#define UAOT_FP_XL_P1_7 "{s24-s30}"
#define UAOT_FP_XL_P2_2 "{s24}"
#define UAOT_FP_XL_P2_4 "{s24-s25}"
#define UAOT_FP_XL_P2_6 "{s24-s26}"
#define UAOT_FP_XL_P4_4 "{s24}"
#define UAOT_FP_XL_PB_3 "{s24}"
#define UAOT_FP_XL_PB_5 "{s24}"
#define UAOT_FP_XL_PB_6 "{s24}"
#define UAOT_FP_XL_PB_7 "{s24}"
#define UAOT_FP_WL_1 "{s16}"
#define UAOT_FP_WL_2 "{s16-s17}"
#define UAOT_FP_WL_3 "{s16-s18}"
#define UAOT_FP_WL_4 "{s16-s19}"
#define UAOT_FP_WL_5 "{s16-s20}"
#define UAOT_FP_WL_6 "{s16-s21}"
#define UAOT_FP_WL_7 "{s16-s22}"
#define UAOT_FP_ST0_1 "{s0}"
#define UAOT_FP_ST0_2 "{s0-s1}"
#define UAOT_FP_ST0_3 "{s0-s2}"
#define UAOT_FP_ST0_4 "{s0-s3}"
#define UAOT_FP_ST0_5 "{s0-s4}"
#define UAOT_FP_ST0_6 "{s0-s5}"
#define UAOT_FP_ST0_7 "{s0-s6}"
#define UAOT_FP_ST1_1 "{s8}"
#define UAOT_FP_ST1_2 "{s8-s9}"
#define UAOT_FP_ST1_3 "{s8-s10}"
#define UAOT_FP_ST1_4 "{s8-s11}"
#define UAOT_FP_ST1_5 "{s8-s12}"
#define UAOT_FP_ST1_6 "{s8-s13}"
#define UAOT_FP_ST1_7 "{s8-s14}"
/* F(P, j) for the lanes j = 1 .. n - 1 */
#define UAOT_FP_J1(F, P)
#define UAOT_FP_J2(F, P) F(P, 1)
#define UAOT_FP_J3(F, P) UAOT_FP_J2(F, P) F(P, 2)
#define UAOT_FP_J4(F, P) UAOT_FP_J3(F, P) F(P, 3)
#define UAOT_FP_J5(F, P) UAOT_FP_J4(F, P) F(P, 4)
#define UAOT_FP_J6(F, P) UAOT_FP_J5(F, P) F(P, 5)
#define UAOT_FP_J7(F, P) UAOT_FP_J6(F, P) F(P, 6)
#define UAOT_FP_MAC0(P, j) "vmla.f32 " UAOT_FP_A0_##j ", " UAOT_FP_X##P##_##j ", " UAOT_FP_W_##j "\n\t"
#define UAOT_FP_MAC1(P, j) "vmla.f32 " UAOT_FP_A1_##j ", " UAOT_FP_X##P##_##j ", " UAOT_FP_W_##j "\n\t"
#define UAOT_FP_BIASJ(P, j)                                                                                          \
    "vadd.f32 " UAOT_FP_A0_##j ", " UAOT_FP_A0_##j ", " UAOT_FP_W_##j "\n\t"                                         \
                                                                      "vadd.f32 " UAOT_FP_A1_##j ", " UAOT_FP_A1_##j \
        ", " UAOT_FP_W_##j "\n\t"
#define UAOT_FP_SUMJ(P, j)                      \
    "vadd.f32 s24, s24, " UAOT_FP_A0_##j "\n\t" \
                                         "vadd.f32 s24, s24, " UAOT_FP_A1_##j "\n\t"
/* M(T0, T1, pair) over the ceil(n / 2) pairs of each pixel */
#define UAOT_FP_Q1(M) M("%[ky]", "%[ws]", "s0", "s1") M("%[ky]", "%[ws]", "s8", "s9")
#define UAOT_FP_Q2(M) UAOT_FP_Q1(M) M("%[ky]", "%[ws]", "s2", "s3") M("%[ky]", "%[ws]", "s10", "s11")
#define UAOT_FP_Q3(M) UAOT_FP_Q2(M) M("%[ky]", "%[ws]", "s4", "s5") M("%[ky]", "%[ws]", "s12", "s13")
#define UAOT_FP_Q4(M) UAOT_FP_Q3(M) M("%[ky]", "%[ws]", "s6", "s7") M("%[ky]", "%[ws]", "s14", "s15")
#define UAOT_FP_EPIN(J, Q)                                                                                     \
    "ldr %[k], [%[a], #56]\n\t"                                                                                \
    "tst %[k], #4\n\t"                                                                                         \
    "beq 7f\n\t"                                                                                               \
    "vadd.f32 s24, s0, s8\n\t" J(UAOT_FP_SUMJ,                                                                 \
                                 P1) "vsub.f32 s24, s24, s24\n\t"                                              \
                                     "vcmp.f32 s24, #0\n\t"                                                    \
                                     "vmrs APSR_nzcv, fpscr\n\t"                                               \
                                     "bne 7f\n\t"                                                              \
                                     "lsls %[k], %[k], #31\n\t"                                                \
                                     "bpl 8f\n\t"                                                              \
                                     "bcs 6f\n\t" Q(UAOT_FP_ULO) "b 8f\n\t"                                    \
                                                                 "6:\n\t"                                      \
                                                                 "ldr %[k], [%[a], #40]\n\t"                   \
                                                                 "ldr %[k], [%[k], #4]\n\t" UAOT_FP_KHI        \
                                                                 Q(UAOT_FP_ULOHI) "b 8f\n\t"                   \
                                                                                  "7:\n\t"                     \
                                                                                  "movs %[k], #1\n\t"          \
                                                                                  "str %[k], [%[a], #100]\n\t" \
                                                                                  "8:\n\t"
/* n lanes at pattern P (2 pixels; one pixel: x1 == x0, out1 == out0), J = UAOT_FP_J<n>, Q = UAOT_FP_Q<(n+1)/2> */
#define UAOT_FP_DWN(P, n, J, Q)                                                                               \
    UAOT_FP_DW_ASM(UAOT_FP_WL_##n, "{s0-s15}",                                                                \
                   "vldmia %[x0]!, " UAOT_FP_XL_##P##_##n "\n\t" UAOT_FP_MAC0(P, 0)                           \
                       J(UAOT_FP_MAC0, P) "vldmia %[x1]!, " UAOT_FP_XL_##P##_##n "\n\t" UAOT_FP_MAC1(P, 0)    \
                           J(UAOT_FP_MAC1, P),                                                                \
                   "add %[x1], %[x1], %[xs]\n\t", "add %[x1], %[x1], %[k]\n\t", "add %[x1], %[x1], %[k]\n\t", \
                   UAOT_FP_BIASJ(P, 0) J(UAOT_FP_BIASJ, P), "", UAOT_FP_EPIN(J, Q), UAOT_FP_ST0_##n,          \
                   "vstmia %[o1]!, " UAOT_FP_ST1_##n "\n\t", "add %[o1], %[o1], %[k]\n\t")
#endif

/* per tap: 3 VLDM + 16 VMLA + 3 ADD + 2 loop instructions for 16 MACs (2 pixels), 2 + 8 + 2 + 2 for 8 (1 pixel) */
static void uaot_fp_dw8(uaot_fp_dw8_args_t *a, int32_t npx, int32_t pat, int32_t lanes)
{
#if UAOT_FP_ASM
    const float *x0, *x1, *w;
    int32_t ky, k, xs, ws;
    const float *b;
    float *o0, *o1;
    if (lanes < 8) { /* one pixel: a->x1 == a->x0, a->out1 == a->out0 */
        switch (pat * 8 + lanes) {
        case 9:
            UAOT_FP_DWN(P1, 1, UAOT_FP_J1, UAOT_FP_Q1);
            break;
        case 10:
            UAOT_FP_DWN(P1, 2, UAOT_FP_J2, UAOT_FP_Q1);
            break;
        case 11:
            UAOT_FP_DWN(P1, 3, UAOT_FP_J3, UAOT_FP_Q2);
            break;
        case 12:
            UAOT_FP_DWN(P1, 4, UAOT_FP_J4, UAOT_FP_Q2);
            break;
        case 13:
            UAOT_FP_DWN(P1, 5, UAOT_FP_J5, UAOT_FP_Q3);
            break;
        case 14:
            UAOT_FP_DWN(P1, 6, UAOT_FP_J6, UAOT_FP_Q3);
            break;
        case 15:
            UAOT_FP_DWN(P1, 7, UAOT_FP_J7, UAOT_FP_Q4);
            break;
        case 18:
        case 66:
            UAOT_FP_DWN(P2, 2, UAOT_FP_J2, UAOT_FP_Q1);
            break;
        case 20:
            UAOT_FP_DWN(P2, 4, UAOT_FP_J4, UAOT_FP_Q2);
            break;
        case 22:
            UAOT_FP_DWN(P2, 6, UAOT_FP_J6, UAOT_FP_Q3);
            break;
        case 36:
        case 68:
            UAOT_FP_DWN(P4, 4, UAOT_FP_J4, UAOT_FP_Q2);
            break;
        case 67:
            UAOT_FP_DWN(PB, 3, UAOT_FP_J3, UAOT_FP_Q2);
            break;
        case 69:
            UAOT_FP_DWN(PB, 5, UAOT_FP_J5, UAOT_FP_Q3);
            break;
        case 70:
            UAOT_FP_DWN(PB, 6, UAOT_FP_J6, UAOT_FP_Q3);
            break;
        case 71:
            UAOT_FP_DWN(PB, 7, UAOT_FP_J7, UAOT_FP_Q4);
            break;
        default: /* 65: one lane */
            UAOT_FP_DWN(P1, 1, UAOT_FP_J1, UAOT_FP_Q1);
            break;
        }
        return;
    }
    switch (pat * 2 + npx - 1) {
    case 2:
        UAOT_FP_DW8_ONE(UAOT_FP_X_P1);
        break;
    case 3:
        UAOT_FP_DW8_TWO(UAOT_FP_X_P1);
        break;
    case 4:
        UAOT_FP_DW8_ONE(UAOT_FP_X_P2);
        break;
    case 5:
        UAOT_FP_DW8_TWO(UAOT_FP_X_P2);
        break;
    case 8:
        UAOT_FP_DW8_ONE(UAOT_FP_X_P4);
        break;
    case 9:
        UAOT_FP_DW8_TWO(UAOT_FP_X_P4);
        break;
    case 16:
        UAOT_FP_DW8_ONE(UAOT_FP_X_P8);
        break;
    default:
        UAOT_FP_DW8_TWO(UAOT_FP_X_P8);
        break;
    }
#else
    const int32_t nx = pat == 8 ? 1 : lanes / pat;
    const int32_t tx = (a->xs + 4 * nx) / 4, tw = (a->ws + 4 * lanes) / 4;
    const float *xq[2] = {a->x0, a->x1};
    const float *wb = a->w;
    const float *b = a->bias;
    float *oq[2] = {a->out0, a->out1};
    for (int32_t run = 0; run < a->nrun; ++run) {
        for (int32_t pr = 0; pr < a->npairs0; ++pr) {
            for (int32_t blk = 0; blk < a->nb0; ++blk) {
                const float *w = wb;
                for (int32_t q = 0; q < npx; ++q) {
                    float acc[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
                    const float *x = xq[q];
                    w = wb;
                    for (int32_t ky = 0; ky < a->nky; ++ky) {
                        for (int32_t kx = 0; kx < a->nkx; ++kx) {
                            for (int32_t j = 0; j < lanes; ++j) {
                                acc[j] += x[j / pat] * w[j];
                            }
                            x += tx;
                            w += tw;
                        }
                        if (ky + 1 < a->nky) { /* the asm skips the last row's advance */
                            x += a->xr / 4;
                            w += a->wr / 4;
                        }
                    }
                    for (int32_t j = 0; j < lanes; ++j) {
                        oq[q][j] = uaot_fp_clamp(acc[j] + b[j], a->lh[0], a->lh[1]);
                    }
                    xq[q] = x + a->xb / 4;
                    oq[q] += lanes;
                }
                wb = w + a->wb / 4;
                b += a->bstep / 4;
            }
            for (int32_t q = 0; q < 2; ++q) {
                xq[q] += a->px / 4;
                oq[q] += a->po / 4;
            }
            wb += a->pw / 4;
            b += a->pb / 4;
        }
        for (int32_t q = 0; q < 2; ++q) {
            xq[q] += a->rx / 4;
            oq[q] += a->ro / 4;
        }
    }
#endif
}

/* first and one-past-last kernel index k with 0 <= o + k * d < n */
static void uaot_fp_range(int32_t o, int32_t d, int32_t k, int32_t n, int32_t *lo, int32_t *hi)
{
    int32_t a = o >= 0 ? 0 : (-o + d - 1) / d;
    int32_t b = o > n - 1 ? 0 : (n - 1 - o) / d + 1;
    *lo = a;
    *hi = b < k ? b : k;
}

/* the outputs lo..hi (none: lo > hi) whose taps o * stride - pad + k * dil (k * dil <= span) are all in [0, n) */
static void uaot_fp_inner(int32_t pad, int32_t stride, int32_t span, int32_t n, int32_t out, int32_t *lo, int32_t *hi)
{
    const int32_t num = n - 1 - span + pad;
    *lo = (pad + stride - 1) / stride;
    *hi = num >= 0 ? num / stride : -1;
    if (*hi > out - 1) {
        *hi = out - 1;
    }
}

/* the layer's blocks: per channel group (groups of dm outputs when dm > 8, else one group of all) nb blocks of L
 * lanes at pattern pat (each loading xl input floats, the next block bx input floats on), then a tail block of tn
 * lanes (tn == 0: none) loading txl input floats */
typedef struct {
    int32_t L, pat, xl, groups, nb, bx, tn, txl, dm;
} uaot_fp_dw_shape_t;

/* the strides of nky x nkx taps (one tap per row: the rows as the taps of one row) for blocks of L lanes
 * loading xl input floats, the next block bx floats on */
static void uaot_fp_dw_taps(uaot_fp_dw8_args_t *a, const uaot_conv_f32_params_t *p, int32_t L, int32_t xl, int32_t bx,
                            int32_t nky, int32_t nkx)
{
    uaot_fp_taps_t t = {p->dil_w * p->in_c, p->out_c, p->dil_h * p->in_w * p->in_c, p->k_w * p->out_c};
    a->nky = nky;
    a->nkx = nkx;
    if (nkx == 1) {
        a->nky = 1;
        a->nkx = nky;
        t.tap_x = t.row_x;
        t.tap_w = t.row_w;
    }
    a->xs = 4 * t.tap_x - 4 * xl;
    a->ws = 4 * t.tap_w - 4 * L;
    a->xr = 4 * (t.row_x - a->nkx * t.tap_x);
    a->wr = 4 * (t.row_w - a->nkx * t.tap_w);
    /* after the taps (no advance after the last row) to the next block */
    a->xb = 4 * bx - a->nky * a->nkx * (a->xs + 4 * xl) - (a->nky - 1) * a->xr;
    a->wb = 4 * L - a->nky * a->nkx * (a->ws + 4 * L) - (a->nky - 1) * a->wr;
}

/* outputs [c0, c0 + n) of the pixels of nrun runs (rdo floats apart) clamped (after a block of fewer than 8
 * lanes left them unclamped) */
static void uaot_fp_dw_clamp(const uaot_conv_f32_params_t *p, float *out, int32_t npx, int32_t o1off, int32_t npairs,
                             int32_t dout, int32_t nrun, int32_t rdo, int32_t c0, int32_t n)
{
    for (int32_t run = 0; run < nrun; ++run) {
        for (int32_t r = 0; r < npairs; ++r) {
            for (int32_t q = 0; q < npx; ++q) {
                float *o = out + run * rdo + r * dout + q * o1off + c0;
                for (int32_t j = 0; j < n; ++j) {
                    o[j] = uaot_fp_clamp(o[j], p->act_min, p->act_max);
                }
            }
        }
    }
}

/* nrun runs (run r from x0 + r * rdx, out + r * rdo) of npairs pairs of pixels (npx 2: the second one's taps at
 * x0 + x1off, its outputs at out + o1off) or npairs pixels (npx 1) with the same taps: the first one's taps
 * start at x0 (input channel 0), filter w0, outputs out; after each pair (pixel) x0 += dx, out += dout (floats). Per channel group its blocks (args a), then its
 * tail block (args at). Blocks of fewer than 8 lanes run as 2 pixels: one pixel twice. */
static void uaot_fp_dw_run(uaot_fp_dw8_args_t *a, uaot_fp_dw8_args_t *at, const uaot_conv_f32_params_t *p,
                           const uaot_fp_dw_shape_t *s, const float *x0, const float *w0, const float *bias, float *out,
                           int32_t npx, int32_t x1off, int32_t o1off, int32_t npairs, int32_t dx, int32_t dout,
                           int32_t nrun, int32_t rdx, int32_t rdo)
{
    const int32_t L = s->L;
    a->nrun = nrun;
    a->npairs0 = npairs;
    a->rx = 4 * (rdx - npairs * dx);
    a->ro = 4 * (rdo - npairs * dout);
    at->rx = a->rx;
    at->ro = a->ro;
    at->npairs0 = npairs;
    if (npx == 1) {
        x1off = 0;
        o1off = 0;
    }
    const int32_t mpx = L < 8 ? 2 : npx;
    a->nb0 = s->nb;
    a->px = 4 * (dx - s->nb * s->bx);
    a->pw = -4 * L * s->nb;
    a->pb = -a->bstep * s->nb;
    a->po = 4 * (dout - L * s->nb);
    at->nb0 = 1;
    at->px = 4 * dx;
    at->pw = -4 * s->tn;
    at->pb = -at->bstep;
    at->po = 4 * (dout - s->tn);
    for (int32_t g = 0; g < s->groups; ++g) {
        const int32_t oc = g * s->dm;
        if (s->nb > 0) {
            a->x0 = x0 + g;
            a->x1 = x0 + g + x1off;
            a->w = w0 + oc;
            a->bias = bias != NULL ? bias + oc : uaot_fp_zeros;
            a->out0 = out + oc;
            a->out1 = out + oc + o1off;
            a->npairs = npairs;
            a->nrun = nrun;
            uaot_fp_dw8(a, mpx, s->pat, L);
            if (a->later) {
                a->later = 0;
                uaot_fp_dw_clamp(p, out, npx, o1off, npairs, dout, nrun, rdo, oc, s->nb * L);
            }
        }
        if (s->tn > 0) {
            const int32_t tc = oc + s->nb * L;
            at->x0 = x0 + tc / s->dm;
            at->x1 = x0 + tc / s->dm + x1off;
            at->w = w0 + tc;
            at->bias = bias != NULL ? bias + tc : uaot_fp_zeros;
            at->out0 = out + tc;
            at->out1 = out + tc + o1off;
            at->npairs = npairs;
            at->nrun = nrun;
            uaot_fp_dw8(at, 2, s->pat, s->tn);
            if (at->later) {
                at->later = 0;
                uaot_fp_dw_clamp(p, out, npx, o1off, npairs, dout, nrun, rdo, tc, s->tn);
            }
        }
    }
}

/* one output pixel in C, up to 8 outputs side by side (the multipliers without a block pattern, fewer than 4
 * outputs; nky or nkx 0: the sum is +0.0f) */
static void uaot_fp_dw_pixel(const uaot_conv_f32_params_t *p, const float *x0, const float *w0, const float *bias,
                             float *out, int32_t nky, int32_t nkx)
{
    const int32_t out_c = p->out_c, dm = p->depth_mult;
    const int32_t tap_x = p->dil_w * p->in_c, row_x = p->dil_h * p->in_w * p->in_c;
    for (int32_t c = 0; c < out_c; c += 8) {
        const int32_t n = out_c - c < 8 ? out_c - c : 8;
        float acc[8];
        int32_t xi[8];
        for (int32_t j = 0; j < n; ++j) {
            acc[j] = 0.0f;
            xi[j] = (c + j) / dm;
        }
        const float *x = x0;
        const float *w = w0 + c;
        for (int32_t ky = 0; ky < nky; ++ky) {
            for (int32_t kx = 0; kx < nkx; ++kx) {
                for (int32_t j = 0; j < n; ++j) {
                    acc[j] += x[xi[j]] * w[j];
                }
                x += tap_x;
                w += out_c;
            }
            x += row_x - nkx * tap_x;
            w += (p->k_w - nkx) * out_c;
        }
        for (int32_t j = 0; j < n; ++j) {
            const float v = bias != NULL ? acc[j] + bias[c + j] : acc[j];
            out[c + j] = uaot_fp_clamp(v, p->act_min, p->act_max);
        }
    }
}

uaot_status_t uaot_depthwise_conv2d_f32_fpu(const uaot_conv_f32_params_t *p, const float *input, const float *filter,
                                            const float *bias, float *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->depth_mult <= 0 ||
        p->out_c != p->in_c * p->depth_mult) {
        return UAOT_ERR_ARG;
    }
    uaot_conv_f32_params_t sw;
    if (p->in_w == 1 && p->k_w == 1 && p->out_w == 1 && p->out_h > 1) {
        /* a column (W = 1): the same memory as a row with H and W swapped (NHWC, filter 1 x k_h x 1 x out_c),
         * whose pixels go in pairs */
        sw = *p;
        sw.in_h = 1;
        sw.in_w = p->in_h;
        sw.out_h = 1;
        sw.out_w = p->out_h;
        sw.k_h = 1;
        sw.k_w = p->k_h;
        sw.stride_h = p->stride_w;
        sw.stride_w = p->stride_h;
        sw.dil_h = p->dil_w;
        sw.dil_w = p->dil_h;
        sw.pad_top = p->pad_left;
        sw.pad_left = p->pad_top;
        p = &sw;
    }
    const int32_t in_c = p->in_c;
    const int32_t out_c = p->out_c;
    const int32_t dm = p->depth_mult;
    /* blocks of 8 lanes: dm 1, 2, 4: pattern dm (8 / dm input floats per block), a tail block of out_c % 8
     * lanes; dm > 8: per input channel dm / 8 blocks broadcasting it (pattern 8), a tail of dm % 8 lanes; else
     * (dm 3, 5, 6, 7, 8) one block of dm lanes per input channel */
    uaot_fp_dw_shape_t s;
    s.dm = dm;
    if (dm == 1 || dm == 2 || dm == 4) {
        s.pat = dm;
        s.L = 8;
        s.xl = 8 / dm;
        s.groups = 1;
        s.nb = out_c / 8;
        s.bx = s.xl;
        s.tn = out_c % 8;
        s.txl = s.tn / dm;
    } else if (dm > 8) {
        s.pat = 8;
        s.L = 8;
        s.xl = 1;
        s.groups = in_c;
        s.nb = dm / 8;
        s.bx = 0;
        s.tn = dm % 8;
        s.txl = 1;
    } else {
        s.pat = 8;
        s.L = dm;
        s.xl = 1;
        s.groups = 1;
        s.nb = in_c;
        s.bx = 1;
        s.tn = 0;
        s.txl = 1;
    }
    uaot_fp_dw8_args_t a, at;
    a.lh = &p->act_min;
    a.zeros = uaot_fp_zeros;
    a.mode = uaot_fp_mode(p->act_min, p->act_max);
    a.later = 0;
    at = a;
    a.bstep = bias != NULL ? 4 * s.L : 0;
    at.bstep = bias != NULL ? 4 * s.tn : 0;
    const int32_t rowx = p->stride_h * p->in_w * in_c, pixx = p->stride_w * in_c, rowo = p->out_w * out_c;
    int32_t cached_nky = -1, cached_nkx = -1;
    int32_t oy_lo, oy_hi, ox_lo, ox_hi;
    uaot_fp_inner(p->pad_top, p->stride_h, (p->k_h - 1) * p->dil_h, p->in_h, p->out_h, &oy_lo, &oy_hi);
    uaot_fp_inner(p->pad_left, p->stride_w, (p->k_w - 1) * p->dil_w, p->in_w, p->out_w, &ox_lo, &ox_hi);
    /* the output pixels in rectangles whose taps have the same ranges (the rows whose taps are all inside, or
     * one border row, times the columns whose taps are all inside, or one border column), each in runs of pixel
     * pairs */
    for (int32_t b = 0; b < p->batches; ++b) {
        const float *in_b = input + b * p->in_h * p->in_w * in_c;
        float *out_b = output + b * p->out_h * rowo;
        int32_t oy_e;
        for (int32_t oy = 0; oy < p->out_h; oy = oy_e) {
            int32_t ky0, ky1;
            uaot_fp_range(oy * p->stride_h - p->pad_top, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
            oy_e = oy >= oy_lo && oy <= oy_hi ? oy_hi + 1 : oy + 1;
            const int32_t h = oy_e - oy;
            const int32_t nky = ky1 > ky0 ? ky1 - ky0 : 0;
            const int32_t iy = oy * p->stride_h - p->pad_top + ky0 * p->dil_h; /* the first tap row */
            int32_t ox_e;
            for (int32_t ox = 0; ox < p->out_w; ox = ox_e) {
                int32_t kx0, kx1;
                uaot_fp_range(ox * p->stride_w - p->pad_left, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
                ox_e = ox >= ox_lo && ox <= ox_hi ? ox_hi + 1 : ox + 1;
                const int32_t w = ox_e - ox;
                const int32_t nkx = kx1 > kx0 ? kx1 - kx0 : 0;
                const int32_t ix = ox * p->stride_w - p->pad_left + kx0 * p->dil_w;
                const float *x0 = in_b + (iy * p->in_w + ix) * in_c;
                const float *w0 = filter + (ky0 * p->k_w + kx0) * out_c;
                float *out = out_b + (oy * p->out_w + ox) * out_c;
                if (nky == 0 || nkx == 0) {
                    for (int32_t r = 0; r < h; ++r) {
                        for (int32_t c = 0; c < w; ++c) {
                            uaot_fp_dw_pixel(p, x0 + r * rowx + c * pixx, w0, bias, out + r * rowo + c * out_c, nky,
                                             nkx);
                        }
                    }
                    continue;
                }
                if (nky != cached_nky || nkx != cached_nkx) {
                    cached_nky = nky;
                    cached_nkx = nkx;
                    uaot_fp_dw_taps(&a, p, s.L, s.xl, s.bx, nky, nkx);
                    uaot_fp_dw_taps(&at, p, s.tn, s.txl, 0, nky, nkx);
                }
                /* h / 2 strips of w vertical pairs or w columns of h / 2 vertical pairs, whichever makes fewer
                 * calls, then the odd row in horizontal pairs */
                if (h >= 2 && w < h / 2) { /* w runs (columns) of h / 2 vertical pairs */
                    uaot_fp_dw_run(&a, &at, p, &s, x0, w0, bias, out, 2, rowx, rowo, h / 2, 2 * rowx, 2 * rowo, w, pixx,
                                   out_c);
                } else if (h >= 2) { /* h / 2 runs (row pairs) of w vertical pairs */
                    uaot_fp_dw_run(&a, &at, p, &s, x0, w0, bias, out, 2, rowx, rowo, w, pixx, out_c, h / 2, 2 * rowx,
                                   2 * rowo);
                }
                if (h & 1) {
                    const float *xr = x0 + (h - 1) * rowx;
                    float *orow = out + (h - 1) * rowo;
                    if (w >= 2) {
                        uaot_fp_dw_run(&a, &at, p, &s, xr, w0, bias, orow, 2, pixx, out_c, w / 2, 2 * pixx, 2 * out_c,
                                       1, 0, 0);
                    }
                    if (w & 1) {
                        uaot_fp_dw_run(&a, &at, p, &s, xr + (w - 1) * pixx, w0, bias, orow + (w - 1) * out_c, 1, 0, 0,
                                       1, 0, 0, 1, 0, 0);
                    }
                }
            }
        }
    }
    return UAOT_OK;
}

/* npairs pairs of rows (w0, w1: K floats each) times the input row x: out[0] = clamp(sum over k < K, in increasing
 * k, of x[k] * w0[k], + bias[0]), out[1] the same with w1; K = 8 * g + t. After each pair out += 2, bias += bstep
 * (bytes), w0 and w1 += wstep (bytes, from the end of their rows). The asm advances the fields. */
typedef struct {
    const float *x, *w0, *w1;
    int32_t g, t;
    const float *bias, *lh; /* bias (2 floats, never NULL), {lo, hi} */
    float *out;
    const float *zeros;
    int32_t mode;
    int32_t npairs, wstep, bstep;
} uaot_fp_dot2_args_t;

#if UAOT_FP_ASM
typedef char
    uaot_fp_dot2_layout_ok[(offsetof(uaot_fp_dot2_args_t, bias) == 20 && offsetof(uaot_fp_dot2_args_t, mode) == 36 &&
                            offsetof(uaot_fp_dot2_args_t, bstep) == 48)
                               ? 1
                               : -1];
#endif

/* per 8 k: 3 VLDM + 16 VMLA + 2 loop instructions for 16 MACs */
static void uaot_fp_dot2(uaot_fp_dot2_args_t *a)
{
#if UAOT_FP_ASM
    const float *x, *w0, *w1;
    int32_t k, t;
    __asm__ volatile("ldr %[w0], [%[a], #4]\n\t"
                     "ldr %[w1], [%[a], #8]\n\t"
                     "3:\n\t"
                     "ldr %[x], [%[a], #0]\n\t"
                     "ldr %[k], [%[a], #32]\n\t"
                     "vldmia %[k], {s0-s1}\n\t"
                     "ldr %[k], [%[a], #12]\n\t"
                     "cmp %[k], #0\n\t"
                     "beq 2f\n\t"
                     "1:\n\t"
                     "vldmia %[x]!, {s8-s15}\n\t"
                     "vldmia %[w0]!, {s16-s23}\n\t"
                     "vldmia %[w1]!, {s24-s31}\n\t"
                     "vmla.f32 s0, s8, s16\n\t"
                     "vmla.f32 s1, s8, s24\n\t"
                     "vmla.f32 s0, s9, s17\n\t"
                     "vmla.f32 s1, s9, s25\n\t"
                     "vmla.f32 s0, s10, s18\n\t"
                     "vmla.f32 s1, s10, s26\n\t"
                     "vmla.f32 s0, s11, s19\n\t"
                     "vmla.f32 s1, s11, s27\n\t"
                     "vmla.f32 s0, s12, s20\n\t"
                     "vmla.f32 s1, s12, s28\n\t"
                     "vmla.f32 s0, s13, s21\n\t"
                     "vmla.f32 s1, s13, s29\n\t"
                     "vmla.f32 s0, s14, s22\n\t"
                     "vmla.f32 s1, s14, s30\n\t"
                     "vmla.f32 s0, s15, s23\n\t"
                     "vmla.f32 s1, s15, s31\n\t"
                     "subs %[k], %[k], #1\n\t"
                     "bne 1b\n\t"
                     "2:\n\t"
                     "ldr %[k], [%[a], #16]\n\t"
                     "cmp %[k], #0\n\t"
                     "beq 5f\n\t"
                     "4:\n\t"
                     "vldmia %[x]!, {s8}\n\t"
                     "vldmia %[w0]!, {s16}\n\t"
                     "vldmia %[w1]!, {s24}\n\t"
                     "vmla.f32 s0, s8, s16\n\t"
                     "vmla.f32 s1, s8, s24\n\t"
                     "subs %[k], %[k], #1\n\t"
                     "bne 4b\n\t"
                     "5:\n\t"
                     "ldr %[k], [%[a], #20]\n\t"
                     "ldr %[x], [%[a], #48]\n\t"
                     "vldmia %[k], {s16-s17}\n\t"
                     "add %[k], %[k], %[x]\n\t"
                     "str %[k], [%[a], #20]\n\t"
                     "vadd.f32 s0, s0, s16\n\t"
                     "vadd.f32 s1, s1, s17\n\t" UAOT_FP_EPILOGUE(UAOT_FP_R2, UAOT_FP_REST2, UAOT_FP_P2, "%[x]", "%[t]",
                                                                 "24", "36") "ldr %[k], [%[a], #28]\n\t"
                                                                             "vstmia %[k]!, {s0-s1}\n\t"
                                                                             "str %[k], [%[a], #28]\n\t"
                                                                             "ldr %[k], [%[a], #44]\n\t"
                                                                             "add %[w0], %[w0], %[k]\n\t"
                                                                             "add %[w1], %[w1], %[k]\n\t"
                                                                             "ldr %[k], [%[a], #40]\n\t"
                                                                             "subs %[k], %[k], #1\n\t"
                                                                             "str %[k], [%[a], #40]\n\t"
                                                                             "bne 3b\n\t"
                     : [x] "=&r"(x), [w0] "=&r"(w0), [w1] "=&r"(w1), [k] "=&r"(k), [t] "=&r"(t)
                     : [a] "r"(a)
                     : UAOT_FP_ALL_S, "cc", "memory");
#else
    const int32_t n = 8 * a->g + a->t;
    const float *w[2] = {a->w0, a->w1};
    for (int32_t pr = 0; pr < a->npairs; ++pr) {
        for (int32_t r = 0; r < 2; ++r) {
            float acc = 0.0f;
            for (int32_t i = 0; i < n; ++i) {
                acc += a->x[i] * w[r][i];
            }
            a->out[r] = uaot_fp_clamp(acc + a->bias[r], a->lh[0], a->lh[1]);
            w[r] += n + a->wstep / 4;
        }
        a->out += 2;
        a->bias += a->bstep / 4;
    }
#endif
}

/* dst[0..n) = src[0..n) */
static void uaot_fp_copy(float *dst, const float *src, int32_t n)
{
#if UAOT_FP_ASM
    int32_t g = n >> 2;
    if (g > 0) {
        __asm__ volatile("1:\n\t"
                         "vldmia %[s]!, {s0-s3}\n\t"
                         "vstmia %[d]!, {s0-s3}\n\t"
                         "subs %[g], %[g], #1\n\t"
                         "bne 1b\n\t"
                         : [s] "+r"(src), [d] "+r"(dst), [g] "+r"(g)
                         :
                         : "s0", "s1", "s2", "s3", "cc", "memory");
    }
    if (n & 2) {
        dst[0] = src[0];
        dst[1] = src[1];
        dst += 2;
        src += 2;
    }
    if (n & 1) {
        dst[0] = src[0];
    }
#else
    for (int32_t i = 0; i < n; ++i) {
        dst[i] = src[i];
    }
#endif
}

/* dst[0..n) = +0.0f */
static void uaot_fp_zero(float *dst, int32_t n)
{
#if UAOT_FP_ASM
    int32_t g = n >> 2;
    if (g > 0) {
        __asm__ volatile("vldmia %[z], {s0-s3}\n\t"
                         "1:\n\t"
                         "vstmia %[d]!, {s0-s3}\n\t"
                         "subs %[g], %[g], #1\n\t"
                         "bne 1b\n\t"
                         : [d] "+r"(dst), [g] "+r"(g)
                         : [z] "r"(uaot_fp_zeros)
                         : "s0", "s1", "s2", "s3", "cc", "memory");
    }
    if (n & 2) {
        dst[0] = 0.0f;
        dst[1] = 0.0f;
        dst += 2;
    }
    if (n & 1) {
        dst[0] = 0.0f;
    }
#else
    for (int32_t i = 0; i < n; ++i) {
        dst[i] = 0.0f;
    }
#endif
}

/* the patch of the pixel at (iy0, ix0) in the filter's (ky, kx, ic) order, +0.0f outside the input, to d */
static void uaot_fp_patch(const uaot_conv_f32_params_t *p, const float *in_b, int32_t iy0, int32_t ix0, int interior,
                          float *d)
{
    const int32_t in_c = p->in_c;
    const int32_t kw_c = p->k_w * in_c;
    if (interior && p->dil_w == 1) { /* k_h rows of k_w * in_c floats */
        const float *src = in_b + (iy0 * p->in_w + ix0) * in_c;
        for (int32_t ky = 0; ky < p->k_h; ++ky, d += kw_c) {
            uaot_fp_copy(d, src + ky * p->dil_h * p->in_w * in_c, kw_c);
        }
        return;
    }
    int32_t kx0, kx1;
    uaot_fp_range(ix0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
    if (kx1 < kx0) {
        kx1 = kx0;
    }
    for (int32_t ky = 0; ky < p->k_h; ++ky, d += kw_c) {
        const int32_t iy = iy0 + ky * p->dil_h;
        if (iy < 0 || iy >= p->in_h || kx1 == kx0) {
            uaot_fp_zero(d, kw_c);
            continue;
        }
        uaot_fp_zero(d, kx0 * in_c);
        const float *row = in_b + iy * p->in_w * in_c;
        if (p->dil_w == 1) {
            uaot_fp_copy(d + kx0 * in_c, row + (ix0 + kx0) * in_c, (kx1 - kx0) * in_c);
        } else {
            for (int32_t kx = kx0; kx < kx1; ++kx) {
                uaot_fp_copy(d + kx * in_c, row + (ix0 + kx * p->dil_w) * in_c, in_c);
            }
        }
        uaot_fp_zero(d + kx1 * in_c, (p->k_w - kx1) * in_c);
    }
}

/* Convolutions with 9 taps per output in 3 rows of 3 contiguous floats (3x3 on 1 channel, 3x1 on 3) and
 * out_c >= 8: npix pixels (row pointers r0..r2 += xstep bytes, out += ostep after each), each with nblk blocks of
 * 8 outputs: the 9 taps stay in s8..s16, the 8 accumulators in s0..s7, each output's 9 weights (contiguous in
 * the filter) one VLDM: per block 8 VLDM + 72 VMLA for 72 MACs. */
typedef struct {
    const float *r0, *r1, *r2, *w;
    int32_t nblk;
    const float *bias, *lh;
    float *out;
    const float *zeros;
    int32_t mode;
    int32_t npix, xstep, bstep, cnt, ostep, xstep1, xstep2; /* xstep: of r0 */
} uaot_fp_conv9_args_t;

#if UAOT_FP_ASM
typedef char
    uaot_fp_conv9_layout_ok[(offsetof(uaot_fp_conv9_args_t, bias) == 20 && offsetof(uaot_fp_conv9_args_t, mode) == 36 &&
                             offsetof(uaot_fp_conv9_args_t, cnt) == 52 && offsetof(uaot_fp_conv9_args_t, ostep) == 56 &&
                             offsetof(uaot_fp_conv9_args_t, xstep2) == 64)
                                ? 1
                                : -1];
#define UAOT_FP_C9(A)              \
    "vldmia %[w]!, {s17-s25}\n\t"  \
    "vmla.f32 " A ", s8, s17\n\t"  \
    "vmla.f32 " A ", s9, s18\n\t"  \
    "vmla.f32 " A ", s10, s19\n\t" \
    "vmla.f32 " A ", s11, s20\n\t" \
    "vmla.f32 " A ", s12, s21\n\t" \
    "vmla.f32 " A ", s13, s22\n\t" \
    "vmla.f32 " A ", s14, s23\n\t" \
    "vmla.f32 " A ", s15, s24\n\t" \
    "vmla.f32 " A ", s16, s25\n\t"
#endif

static void uaot_fp_conv9(uaot_fp_conv9_args_t *a)
{
#if UAOT_FP_ASM
    const float *x0, *x1, *x2, *w, *b;
    int32_t k, t0, t1;
    float *o;
    __asm__ volatile("ldr %[x0], [%[a], #0]\n\t"
                     "ldr %[x1], [%[a], #4]\n\t"
                     "ldr %[x2], [%[a], #8]\n\t"
                     "ldr %[o], [%[a], #28]\n\t"
                     "3:\n\t"
                     "vldmia %[x0], {s8-s10}\n\t"
                     "vldmia %[x1], {s11-s13}\n\t"
                     "vldmia %[x2], {s14-s16}\n\t"
                     "ldr %[k], [%[a], #44]\n\t"
                     "add %[x0], %[x0], %[k]\n\t"
                     "ldr %[k], [%[a], #60]\n\t"
                     "add %[x1], %[x1], %[k]\n\t"
                     "ldr %[k], [%[a], #64]\n\t"
                     "add %[x2], %[x2], %[k]\n\t"
                     "ldr %[w], [%[a], #12]\n\t"
                     "ldr %[b], [%[a], #20]\n\t"
                     "ldr %[k], [%[a], #16]\n\t"
                     "str %[k], [%[a], #52]\n\t"
                     "0:\n\t"
                     "ldr %[k], [%[a], #32]\n\t"
                     "vldmia %[k], {s0-s7}\n\t" UAOT_FP_R8(UAOT_FP_C9) "vldmia %[b], {s17-s24}\n\t"
                                                                       "ldr %[k], [%[a], #48]\n\t"
                                                                       "add %[b], %[b], %[k]\n\t"
                                                                       "vadd.f32 s0, s0, s17\n\t"
                                                                       "vadd.f32 s1, s1, s18\n\t"
                                                                       "vadd.f32 s2, s2, s19\n\t"
                                                                       "vadd.f32 s3, s3, s20\n\t"
                                                                       "vadd.f32 s4, s4, s21\n\t"
                                                                       "vadd.f32 s5, s5, s22\n\t"
                                                                       "vadd.f32 s6, s6, s23\n\t"
                                                                       "vadd.f32 s7, s7, s24\n\t" UAOT_FP_EPILOGUE(
                                                                           UAOT_FP_R8, UAOT_FP_REST8, UAOT_FP_P8,
                                                                           "%[t0]", "%[t1]", "24",
                                                                           "36") "vstmia %[o]!, {s0-s7}\n\t"
                                                                                 "ldr %[k], [%[a], #52]\n\t"
                                                                                 "subs %[k], %[k], #1\n\t"
                                                                                 "str %[k], [%[a], #52]\n\t"
                                                                                 "bne 0b\n\t"
                                                                                 "ldr %[k], [%[a], #56]\n\t"
                                                                                 "add %[o], %[o], %[k]\n\t"
                                                                                 "ldr %[k], [%[a], #40]\n\t"
                                                                                 "subs %[k], %[k], #1\n\t"
                                                                                 "str %[k], [%[a], #40]\n\t"
                                                                                 "bne 3b\n\t"
                     : [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [w] "=&r"(w), [b] "=&r"(b), [k] "=&r"(k),
                       [t0] "=&r"(t0), [t1] "=&r"(t1), [o] "=&r"(o)
                     : [a] "r"(a)
                     : UAOT_FP_ALL_S, "cc", "memory");
#else
    const float *r[3] = {a->r0, a->r1, a->r2};
    for (int32_t px = 0; px < a->npix; ++px) {
        const float *w = a->w;
        const float *b = a->bias;
        for (int32_t blk = 0; blk < a->nblk; ++blk) {
            for (int32_t j = 0; j < 8; ++j, w += 9) {
                float acc = 0.0f;
                for (int32_t i = 0; i < 9; ++i) {
                    acc += r[i / 3][i % 3] * w[i];
                }
                a->out[j] = uaot_fp_clamp(acc + b[j], a->lh[0], a->lh[1]);
            }
            a->out += 8;
            b += a->bstep / 4;
        }
        r[0] += a->xstep / 4;
        r[1] += a->xstep1 / 4;
        r[2] += a->xstep2 / 4;
        a->out += a->ostep / 4;
    }
#endif
}

/* the whole layer with uaot_fp_conv9: the pixels whose taps are all inside in runs, the others one by one from
 * their patch gathered to scratch */
static void uaot_fp_conv9_layer(const uaot_conv_f32_params_t *p, const float *input, const float *filter,
                                const float *bias, float *output, float *patch)
{
    const int32_t in_c = p->in_c;
    const int32_t span_w = (p->k_w - 1) * p->dil_w;
    const int32_t ox_lo = (p->pad_left + p->stride_w - 1) / p->stride_w;
    const int32_t hi_num = p->in_w - 1 - span_w + p->pad_left;
    int32_t ox_hi = hi_num >= 0 ? hi_num / p->stride_w : -1;
    ox_hi = ox_hi < p->out_w - 1 ? ox_hi : p->out_w - 1;
    uaot_fp_conv9_args_t a;
    a.w = filter;
    a.nblk = p->out_c / 8;
    a.lh = &p->act_min;
    a.zeros = uaot_fp_zeros;
    a.mode = uaot_fp_mode(p->act_min, p->act_max);
    a.bstep = bias != NULL ? 32 : 0;
    a.ostep = 4 * (p->out_c - 8 * a.nblk);
    const int32_t tail = p->out_c % 8 != 0 ? p->out_c - 8 : -1;
    for (int32_t b = 0; b < p->batches; ++b) {
        const float *in_b = input + b * p->in_h * p->in_w * in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            /* the tap rows of this output row: in the input, or +0.0f (uaot_fp_zeros, not advanced) */
            const float *rows[3];
            int32_t steps[3];
            for (int32_t ky = 0; ky < 3; ++ky) {
                const int32_t iy = iy0 + ky * p->dil_h;
                const int in = iy >= 0 && iy < p->in_h;
                rows[ky] = in ? in_b + iy * p->in_w * in_c : uaot_fp_zeros;
                steps[ky] = in ? 4 * p->stride_w * in_c : 0;
            }
            for (int32_t ox = 0; ox < p->out_w;) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                a.out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                a.bias = bias != NULL ? bias : uaot_fp_zeros;
                if (ox >= ox_lo && ox <= ox_hi) {
                    const int32_t off = ix0 * in_c;
                    a.r0 = steps[0] != 0 ? rows[0] + off : rows[0];
                    a.r1 = steps[1] != 0 ? rows[1] + off : rows[1];
                    a.r2 = steps[2] != 0 ? rows[2] + off : rows[2];
                    a.npix = ox_hi - ox + 1;
                    a.xstep = steps[0];
                    a.xstep1 = steps[1];
                    a.xstep2 = steps[2];
                } else {
                    uaot_fp_patch(p, in_b, iy0, ix0, 0, patch);
                    a.r0 = patch;
                    a.r1 = patch + 3;
                    a.r2 = patch + 6;
                    a.npix = 1;
                    a.xstep = a.xstep1 = a.xstep2 = 0;
                }
                const int32_t npix = a.npix;
                const float *r0 = a.r0, *r1 = a.r1, *r2 = a.r2;
                float *out = a.out;
                ox += npix;
                uaot_fp_conv9(&a);
                if (tail >= 0) { /* the last 8 outputs, overlapping the block before */
                    a.r0 = r0;
                    a.r1 = r1;
                    a.r2 = r2;
                    a.npix = npix;
                    a.out = out + tail;
                    a.w = filter + 9 * tail;
                    a.bias = bias != NULL ? bias + tail : uaot_fp_zeros;
                    a.nblk = 1;
                    a.ostep = 4 * (p->out_c - 8);
                    uaot_fp_conv9(&a);
                    a.w = filter;
                    a.nblk = p->out_c / 8;
                    a.ostep = 4 * (p->out_c - 8 * a.nblk);
                }
            }
        }
    }
}

/* the gemm's 4 rows from row oc of w (K floats each): the last block of out_c % 4 != 0 overlaps the one
 * before (out_c >= 4) or repeats its last row (out_c < 4, stored through a temporary) */
static int32_t uaot_fp_rows(uaot_fp_gemm_args_t *a, const float *w, int32_t c, int32_t out_c, int32_t kk)
{
    const int32_t oc = c + 4 <= out_c ? c : (out_c >= 4 ? out_c - 4 : 0);
    const int32_t last = out_c - 1;
    a->w0 = w + oc * kk;
    a->w1 = w + (oc + 1 < last ? oc + 1 : last) * kk;
    a->w2 = w + (oc + 2 < last ? oc + 2 : last) * kk;
    a->w3 = w + (oc + 3 < last ? oc + 3 : last) * kk;
    return oc;
}

/* out[0..n) = tmp[0..n) for the blocks of fewer than 4 rows */
static void uaot_fp_put(float *out, const float *tmp, int32_t n)
{
    for (int32_t j = 0; j < n; ++j) {
        out[j] = tmp[j];
    }
}

/* every block of 4 rows of w (out_c rows of kk floats) at the input rows a->x0 (and a->x1 when npx == 2),
 * outputs to out0 (and out1) */
static void uaot_fp_block4(uaot_fp_gemm_args_t *a, const float *w, const float *bias, int32_t out_c, int32_t kk,
                           float *out0, float *out1, int32_t npx)
{
    if (out_c >= 4) {
        for (int32_t c = 0; c < out_c; c += 4) {
            const int32_t oc = uaot_fp_rows(a, w, c, out_c, kk);
            a->bias = bias != NULL ? bias + oc : uaot_fp_zeros;
            a->out0 = out0 + oc;
            a->out1 = out1 + oc;
            uaot_fp_gemm4(a, npx);
        }
        return;
    }
    float b4[4], tmp[8];
    for (int32_t j = 0; j < 4; ++j) {
        b4[j] = bias != NULL ? bias[j < out_c ? j : out_c - 1] : 0.0f;
    }
    (void)uaot_fp_rows(a, w, 0, out_c, kk);
    a->bias = b4;
    a->out0 = tmp;
    a->out1 = tmp + 4;
    uaot_fp_gemm4(a, npx);
    uaot_fp_put(out0, tmp, out_c);
    if (npx == 2) {
        uaot_fp_put(out1, tmp + 4, out_c);
    }
}

uaot_status_t uaot_conv2d_f32_fpu(const uaot_conv_f32_params_t *p, const float *input, const float *filter,
                                  const float *bias, float *output, uint8_t *scratch, uint32_t scratch_size)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || scratch == NULL) {
        return UAOT_ERR_ARG;
    }
    UAOT_CHECK_SCRATCH(scratch_size, uaot_conv2d_f32_fpu_scratch_size(p));
    const int32_t in_c = p->in_c;
    const int32_t out_c = p->out_c;
    const int32_t kw_c = p->k_w * in_c;
    const int32_t kk = p->k_h * kw_c;
    /* a pixel whose taps are all in bounds reads its patch from the input when it is contiguous there */
    const int contiguous = p->dil_w == 1 && (p->k_h == 1 || (p->k_w == p->in_w && p->dil_h == 1));
    if (kk == 9 && p->k_h == 3 && out_c >= 8 &&
        ((in_c == 3 && p->k_w == 1) || (in_c == 1 && p->k_w == 3 && p->dil_w == 1))) {
        uaot_fp_conv9_layer(p, input, filter, bias, output, (float *)(void *)scratch);
        return UAOT_OK;
    }
    uaot_fp_gemm_args_t a;
    a.g = kk / 4;
    a.t = kk % 4;
    a.lh = &p->act_min;
    a.zeros = uaot_fp_zeros;
    a.mode = uaot_fp_mode(p->act_min, p->act_max);
    for (int32_t b = 0; b < p->batches; ++b) {
        const float *in_b = input + b * p->in_h * p->in_w * in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ox += 2) {
                const int32_t npx = ox + 1 < p->out_w ? 2 : 1;
                const float *xq[2];
                for (int32_t q = 0; q < npx; ++q) {
                    const int32_t ix0 = (ox + q) * p->stride_w - p->pad_left;
                    const int interior = iy0 >= 0 && ix0 >= 0 && iy0 + (p->k_h - 1) * p->dil_h < p->in_h &&
                                         ix0 + (p->k_w - 1) * p->dil_w < p->in_w;
                    if (interior && contiguous) {
                        xq[q] = in_b + (iy0 * p->in_w + ix0) * in_c;
                        continue;
                    }
                    float *d = (float *)(void *)scratch + q * kk;
                    xq[q] = d;
                    uaot_fp_patch(p, in_b, iy0, ix0, interior, d);
                }
                float *out = output + ((b * p->out_h + oy) * p->out_w + ox) * out_c;
                a.x0 = xq[0];
                a.x1 = xq[npx - 1];
                uaot_fp_block4(&a, filter, bias, out_c, kk, out, out + out_c, npx);
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_fully_connected_f32_fpu(const uaot_fc_f32_params_t *p, const float *input, const float *filter,
                                           const float *bias, float *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t n_in = p->in_features;
    const int32_t n_out = p->out_features;
    if (p->batches == 1) { /* pairs of rows at the input row; odd n_out: the last pair overlaps the one before */
        uaot_fp_dot2_args_t d;
        float b2[2], tmp[2];
        d.x = input;
        d.g = n_in / 8;
        d.t = n_in % 8;
        d.lh = &p->act_min;
        d.zeros = uaot_fp_zeros;
        d.mode = uaot_fp_mode(p->act_min, p->act_max);
        d.w0 = filter;
        d.w1 = filter + (n_out > 1 ? n_in : 0);
        d.wstep = 4 * n_in;
        d.bstep = bias != NULL ? 8 : 0;
        d.bias = bias != NULL ? bias : uaot_fp_zeros;
        d.out = output;
        d.npairs = n_out / 2;
        if (n_out == 1) { /* the one row twice, through a temporary */
            b2[0] = b2[1] = bias != NULL ? bias[0] : 0.0f;
            d.bias = b2;
            d.out = tmp;
            d.npairs = 1;
            uaot_fp_dot2(&d);
            output[0] = tmp[0];
            return UAOT_OK;
        }
        uaot_fp_dot2(&d);
        if (n_out % 2 != 0) {
            d.w0 = filter + (n_out - 2) * n_in;
            d.w1 = d.w0 + n_in;
            d.bias = bias != NULL ? bias + n_out - 2 : uaot_fp_zeros;
            d.out = output + n_out - 2;
            d.npairs = 1;
            uaot_fp_dot2(&d);
        }
        return UAOT_OK;
    }
    uaot_fp_gemm_args_t a;
    a.g = n_in / 4;
    a.t = n_in % 4;
    a.lh = &p->act_min;
    a.zeros = uaot_fp_zeros;
    a.mode = uaot_fp_mode(p->act_min, p->act_max);
    for (int32_t b = 0; b < p->batches; b += 2) { /* two batch rows at a time */
        const int32_t npx = b + 1 < p->batches ? 2 : 1;
        a.x0 = input + b * n_in;
        a.x1 = input + (b + npx - 1) * n_in;
        uaot_fp_block4(&a, filter, bias, n_out, n_in, output + b * n_out, output + (b + npx - 1) * n_out, npx);
    }
    return UAOT_OK;
}
