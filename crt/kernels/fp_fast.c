/* microaot kernels: float32 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED on an FPU (fp_fast.h).
 *
 * Bit-identical with the generic kernels (conv.c, fully_connected.c): every output is summed from +0.0f
 * over its taps in the generic order, one rounding per product and per sum (VMLA.F32 is the chained,
 * not the fused, multiply-accumulate), then the bias is added and the result clamped. Blocking only
 * changes which outputs are computed side by side, never the order of any one output's terms. */
#include "microaot/kernels/fp_fast.h"

#include <stddef.h>

/* the asm paths: a single-precision FPU in Thumb-2 (gcc -O0 cannot allocate the operands: the portable
 * loops run there) */
#if defined(__ARM_FP) && (__ARM_FP & 4) && defined(__thumb2__) && defined(__OPTIMIZE__)
#define UAOT_FP_ASM 1
#else
#define UAOT_FP_ASM 0
#endif

static const float uaot_fp_zeros[16] = {0.0f};

static float uaot_fp_clamp(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* out[j] = clamp(acc[j] + bias[j]) (no bias: clamp(acc[j])) for j < n */
static void uaot_fp_finish(float *out, const float *acc, const float *bias, int32_t n, float lo, float hi)
{
    if (bias != NULL) {
        for (int32_t j = 0; j < n; ++j) {
            out[j] = uaot_fp_clamp(acc[j] + bias[j], lo, hi);
        }
    } else {
        for (int32_t j = 0; j < n; ++j) {
            out[j] = uaot_fp_clamp(acc[j], lo, hi);
        }
    }
}

/* acc[r] = sum over i < n, in increasing i, of x[i] * w_r[i], from +0.0f (4 rows at once) */
static void uaot_fp_dot4(const float *x, const float *w0, const float *w1, const float *w2, const float *w3, int32_t n,
                         float *acc)
{
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
#if UAOT_FP_ASM
    int32_t g = n >> 2;
    if (g > 0) {
        /* 16 MACs per 5 VLDM + 16 VMLA + 2 loop instructions; each accumulator takes its 4 terms in order */
        __asm__ volatile("vldmia %[z], {s0-s3}\n\t"
                         "1:\n\t"
                         "vldmia %[x]!, {s4-s7}\n\t"
                         "vldmia %[w0]!, {s8-s11}\n\t"
                         "vldmia %[w1]!, {s12-s15}\n\t"
                         "vldmia %[w2]!, {s16-s19}\n\t"
                         "vldmia %[w3]!, {s20-s23}\n\t"
                         "vmla.f32 s0, s4, s8\n\t"
                         "vmla.f32 s1, s4, s12\n\t"
                         "vmla.f32 s2, s4, s16\n\t"
                         "vmla.f32 s3, s4, s20\n\t"
                         "vmla.f32 s0, s5, s9\n\t"
                         "vmla.f32 s1, s5, s13\n\t"
                         "vmla.f32 s2, s5, s17\n\t"
                         "vmla.f32 s3, s5, s21\n\t"
                         "vmla.f32 s0, s6, s10\n\t"
                         "vmla.f32 s1, s6, s14\n\t"
                         "vmla.f32 s2, s6, s18\n\t"
                         "vmla.f32 s3, s6, s22\n\t"
                         "vmla.f32 s0, s7, s11\n\t"
                         "vmla.f32 s1, s7, s15\n\t"
                         "vmla.f32 s2, s7, s19\n\t"
                         "vmla.f32 s3, s7, s23\n\t"
                         "subs %[g], %[g], #1\n\t"
                         "bne 1b\n\t"
                         "vstmia %[acc], {s0-s3}\n\t"
                         : [x] "+r"(x), [w0] "+r"(w0), [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [g] "+r"(g)
                         : [acc] "r"(acc), [z] "r"(uaot_fp_zeros)
                         : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13",
                           "s14", "s15", "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "cc", "memory");
        a0 = acc[0];
        a1 = acc[1];
        a2 = acc[2];
        a3 = acc[3];
        n &= 3;
    }
#endif
    for (int32_t i = 0; i < n; ++i) {
        const float xi = x[i];
        a0 += xi * w0[i];
        a1 += xi * w1[i];
        a2 += xi * w2[i];
        a3 += xi * w3[i];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Depthwise taps of one output pixel: nky rows of nkx taps; after each tap x += st[0], w += st[1] (floats),
 * after each row also x += st[2], w += st[3]. */
typedef struct {
    int32_t tap_x, tap_w, row_x, row_w;
} uaot_fp_taps_t;

#if UAOT_FP_ASM
/* the tap loop around BODY (loads and VMLAs of one tap; their writeback already subtracted from xs / ws) */
#define UAOT_FP_DW_LOOP(BODY)                 \
    "ldrd %[xs], %[ws], [%[st]]\n\t"          \
    "1:\n\t"                                  \
    "mov %[k], %[nkx]\n\t"                    \
    "2:\n\t" BODY "add %[x], %[x], %[xs]\n\t" \
    "add %[w], %[w], %[ws]\n\t"               \
    "subs %[k], %[k], #1\n\t"                 \
    "bne 2b\n\t"                              \
    "ldr %[k], [%[st], #8]\n\t"               \
    "add %[x], %[x], %[k]\n\t"                \
    "ldr %[k], [%[st], #12]\n\t"              \
    "add %[w], %[w], %[k]\n\t"                \
    "subs %[nky], %[nky], #1\n\t"             \
    "bne 1b\n\t"
#define UAOT_FP_DW_OPERANDS                                                                                        \
    : [x] "+r"(x), [w] "+r"(w), [nky] "+r"(nky), [k] "=&r"(k), [xs] "=&r"(xs), [ws] "=&r"(ws)                     \
    : [nkx] "r"(nkx), [st] "r"(st), [z] "r"(uaot_fp_zeros), [acc] "r"(acc)                                         \
    : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "s16", \
      "s17", "s18", "s19", "s20", "s21", "s22", "s23", "cc", "memory"

/* byte strides for the asm: tap steps minus the loads' writeback, row steps */
static void uaot_fp_asm_strides(int32_t *st, const uaot_fp_taps_t *t, int32_t x_wb, int32_t w_wb, int32_t nkx)
{
    st[0] = 4 * t->tap_x - x_wb;
    st[1] = 4 * t->tap_w - w_wb;
    st[2] = 4 * (t->row_x - nkx * t->tap_x);
    st[3] = 4 * (t->row_w - nkx * t->tap_w);
}
#endif

/* 8 channels of depth multiplier 1 at npx (1 or 2) pixels whose taps have the same ranges, pixel 1 at x + dx:
 * out[q * out_c + j] = clamp(sum over the taps of x[q * dx + j] * w[j], + bias[j]) */
typedef struct {
    const float *x0, *x1, *w;
    int32_t nky, nkx, xs, ws, xr, wr; /* strides in bytes: tap (minus the 32 of the VLDM writeback), row */
    const float *bias, *lh;           /* bias (8 floats, never NULL: +0.0f leaves a sum unchanged), {lo, hi} */
    float *out0, *out1;
    const float *zeros;
} uaot_fp_dw8_args_t;

#if UAOT_FP_ASM
#define UAOT_FP_CLAMP(R)        \
    "vcmp.f32 " R ", s30\n\t"   \
    "vmrs APSR_nzcv, fpscr\n\t" \
    "it mi\n\t"                 \
    "vmovmi.f32 " R ", s30\n\t" \
    "vcmp.f32 " R ", s31\n\t"   \
    "vmrs APSR_nzcv, fpscr\n\t" \
    "it gt\n\t"                 \
    "vmovgt.f32 " R ", s31\n\t"
#define UAOT_FP_CLAMP8(A, B, C, D, E, F, G, H) \
    UAOT_FP_CLAMP(A)                           \
    UAOT_FP_CLAMP(B)                           \
    UAOT_FP_CLAMP(C) UAOT_FP_CLAMP(D) UAOT_FP_CLAMP(E) UAOT_FP_CLAMP(F) UAOT_FP_CLAMP(G) UAOT_FP_CLAMP(H)
/* the asm reads the fields at these byte offsets */
typedef char uaot_fp_dw8_layout_ok[(offsetof(uaot_fp_dw8_args_t, xs) == 20 && offsetof(uaot_fp_dw8_args_t, xr) == 28 &&
                                    offsetof(uaot_fp_dw8_args_t, zeros) == 52)
                                       ? 1
                                       : -1];
#endif

static void uaot_fp_dw_vec8(const uaot_fp_dw8_args_t *a, int32_t npx)
{
#if UAOT_FP_ASM
    const float *x0, *x1, *w;
    int32_t ky, k, xs, ws;
    if (npx == 2) {
        /* per tap: 3 VLDM + 16 VMLA + 3 ADD + 2 loop instructions for 16 MACs */
        __asm__ volatile(
            "ldr %[x0], [%[a], #0]\n\t"
            "ldr %[x1], [%[a], #4]\n\t"
            "ldr %[w], [%[a], #8]\n\t"
            "ldr %[ky], [%[a], #12]\n\t"
            "ldrd %[xs], %[ws], [%[a], #20]\n\t"
            "ldr %[k], [%[a], #52]\n\t"
            "vldmia %[k], {s0-s15}\n\t"
            "1:\n\t"
            "ldr %[k], [%[a], #16]\n\t"
            "2:\n\t"
            "vldmia %[w]!, {s16-s23}\n\t"
            "vldmia %[x0]!, {s24-s31}\n\t"
            "vmla.f32 s0, s24, s16\n\t"
            "vmla.f32 s1, s25, s17\n\t"
            "vmla.f32 s2, s26, s18\n\t"
            "vmla.f32 s3, s27, s19\n\t"
            "vmla.f32 s4, s28, s20\n\t"
            "vmla.f32 s5, s29, s21\n\t"
            "vmla.f32 s6, s30, s22\n\t"
            "vmla.f32 s7, s31, s23\n\t"
            "vldmia %[x1]!, {s24-s31}\n\t"
            "vmla.f32 s8, s24, s16\n\t"
            "vmla.f32 s9, s25, s17\n\t"
            "vmla.f32 s10, s26, s18\n\t"
            "vmla.f32 s11, s27, s19\n\t"
            "vmla.f32 s12, s28, s20\n\t"
            "vmla.f32 s13, s29, s21\n\t"
            "vmla.f32 s14, s30, s22\n\t"
            "vmla.f32 s15, s31, s23\n\t"
            "add %[x0], %[x0], %[xs]\n\t"
            "add %[x1], %[x1], %[xs]\n\t"
            "add %[w], %[w], %[ws]\n\t"
            "subs %[k], %[k], #1\n\t"
            "bne 2b\n\t"
            "ldr %[k], [%[a], #28]\n\t"
            "add %[x0], %[x0], %[k]\n\t"
            "add %[x1], %[x1], %[k]\n\t"
            "ldr %[k], [%[a], #32]\n\t"
            "add %[w], %[w], %[k]\n\t"
            "subs %[ky], %[ky], #1\n\t"
            "bne 1b\n\t"
            "ldr %[k], [%[a], #36]\n\t"
            "vldmia %[k], {s16-s23}\n\t"
            "vadd.f32 s0, s0, s16\n\t"
            "vadd.f32 s1, s1, s17\n\t"
            "vadd.f32 s2, s2, s18\n\t"
            "vadd.f32 s3, s3, s19\n\t"
            "vadd.f32 s4, s4, s20\n\t"
            "vadd.f32 s5, s5, s21\n\t"
            "vadd.f32 s6, s6, s22\n\t"
            "vadd.f32 s7, s7, s23\n\t"
            "vadd.f32 s8, s8, s16\n\t"
            "vadd.f32 s9, s9, s17\n\t"
            "vadd.f32 s10, s10, s18\n\t"
            "vadd.f32 s11, s11, s19\n\t"
            "vadd.f32 s12, s12, s20\n\t"
            "vadd.f32 s13, s13, s21\n\t"
            "vadd.f32 s14, s14, s22\n\t"
            "vadd.f32 s15, s15, s23\n\t"
            "ldr %[k], [%[a], #40]\n\t"
            "vldmia %[k], {s30-s31}\n\t" UAOT_FP_CLAMP8("s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7")
                UAOT_FP_CLAMP8("s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15") "ldr %[k], [%[a], #44]\n\t"
                                                                                     "vstmia %[k], {s0-s7}\n\t"
                                                                                     "ldr %[k], [%[a], #48]\n\t"
                                                                                     "vstmia %[k], {s8-s15}\n\t"
            : [x0] "=&r"(x0), [x1] "=&r"(x1), [w] "=&r"(w), [ky] "=&r"(ky), [k] "=&r"(k), [xs] "=&r"(xs), [ws] "=&r"(ws)
            : [a] "r"(a)
            : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15",
              "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30",
              "s31", "cc", "memory");
    } else {
        /* per tap: 2 VLDM + 8 VMLA + 2 ADD + 2 loop instructions for 8 MACs */
        __asm__ volatile("ldr %[x0], [%[a], #0]\n\t"
                         "ldr %[w], [%[a], #8]\n\t"
                         "ldr %[ky], [%[a], #12]\n\t"
                         "ldrd %[xs], %[ws], [%[a], #20]\n\t"
                         "ldr %[k], [%[a], #52]\n\t"
                         "vldmia %[k], {s0-s7}\n\t"
                         "1:\n\t"
                         "ldr %[k], [%[a], #16]\n\t"
                         "2:\n\t"
                         "vldmia %[w]!, {s16-s23}\n\t"
                         "vldmia %[x0]!, {s8-s15}\n\t"
                         "vmla.f32 s0, s8, s16\n\t"
                         "vmla.f32 s1, s9, s17\n\t"
                         "vmla.f32 s2, s10, s18\n\t"
                         "vmla.f32 s3, s11, s19\n\t"
                         "vmla.f32 s4, s12, s20\n\t"
                         "vmla.f32 s5, s13, s21\n\t"
                         "vmla.f32 s6, s14, s22\n\t"
                         "vmla.f32 s7, s15, s23\n\t"
                         "add %[x0], %[x0], %[xs]\n\t"
                         "add %[w], %[w], %[ws]\n\t"
                         "subs %[k], %[k], #1\n\t"
                         "bne 2b\n\t"
                         "ldr %[k], [%[a], #28]\n\t"
                         "add %[x0], %[x0], %[k]\n\t"
                         "ldr %[k], [%[a], #32]\n\t"
                         "add %[w], %[w], %[k]\n\t"
                         "subs %[ky], %[ky], #1\n\t"
                         "bne 1b\n\t"
                         "ldr %[k], [%[a], #36]\n\t"
                         "vldmia %[k], {s16-s23}\n\t"
                         "vadd.f32 s0, s0, s16\n\t"
                         "vadd.f32 s1, s1, s17\n\t"
                         "vadd.f32 s2, s2, s18\n\t"
                         "vadd.f32 s3, s3, s19\n\t"
                         "vadd.f32 s4, s4, s20\n\t"
                         "vadd.f32 s5, s5, s21\n\t"
                         "vadd.f32 s6, s6, s22\n\t"
                         "vadd.f32 s7, s7, s23\n\t"
                         "ldr %[k], [%[a], #40]\n\t"
                         "vldmia %[k], {s30-s31}\n\t" UAOT_FP_CLAMP8("s0", "s1", "s2", "s3", "s4", "s5", "s6",
                                                                     "s7") "ldr %[k], [%[a], #44]\n\t"
                                                                           "vstmia %[k], {s0-s7}\n\t"
                         : [x0] "=&r"(x0), [w] "=&r"(w), [ky] "=&r"(ky), [k] "=&r"(k), [xs] "=&r"(xs), [ws] "=&r"(ws)
                         : [a] "r"(a)
                         : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13",
                           "s14", "s15", "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s30", "s31", "cc",
                           "memory");
    }
#else
    for (int32_t q = 0; q < npx; ++q) {
        float acc[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        const float *x = q == 0 ? a->x0 : a->x1;
        const float *w = a->w;
        const int32_t tx = (a->xs + 32) / 4, tw = (a->ws + 32) / 4;
        for (int32_t ky = 0; ky < a->nky; ++ky) {
            for (int32_t kx = 0; kx < a->nkx; ++kx) {
                for (int32_t j = 0; j < 8; ++j) {
                    acc[j] += x[j] * w[j];
                }
                x += tx;
                w += tw;
            }
            x += a->xr / 4;
            w += a->wr / 4;
        }
        float *out = q == 0 ? a->out0 : a->out1;
        for (int32_t j = 0; j < 8; ++j) {
            out[j] = uaot_fp_clamp(acc[j] + a->bias[j], a->lh[0], a->lh[1]);
        }
    }
#endif
}

/* n (4 or 8) outputs of one input channel (depth multiplier % n == 0): acc[j] = sum over the taps of x[0] * w[j] */
static void uaot_fp_dw_bcast(const float *x, const float *w, int32_t nky, int32_t nkx, const uaot_fp_taps_t *t,
                             float *acc, int32_t n)
{
#if UAOT_FP_ASM
    int32_t st[4], k, xs, ws;
    if (n == 8) {
        uaot_fp_asm_strides(st, t, 0, 32, nkx);
        __asm__ volatile("vldmia %[z], {s0-s7}\n\t" UAOT_FP_DW_LOOP(
            "vldr s8, [%[x]]\n\t"
            "vldmia %[w]!, {s16-s23}\n\t"
            "vmla.f32 s0, s8, s16\n\t"
            "vmla.f32 s1, s8, s17\n\t"
            "vmla.f32 s2, s8, s18\n\t"
            "vmla.f32 s3, s8, s19\n\t"
            "vmla.f32 s4, s8, s20\n\t"
            "vmla.f32 s5, s8, s21\n\t"
            "vmla.f32 s6, s8, s22\n\t"
            "vmla.f32 s7, s8, s23\n\t") "vstmia %[acc], {s0-s7}\n\t" UAOT_FP_DW_OPERANDS);
    } else {
        uaot_fp_asm_strides(st, t, 0, 16, nkx);
        __asm__ volatile("vldmia %[z], {s0-s3}\n\t" UAOT_FP_DW_LOOP(
            "vldr s8, [%[x]]\n\t"
            "vldmia %[w]!, {s16-s19}\n\t"
            "vmla.f32 s0, s8, s16\n\t"
            "vmla.f32 s1, s8, s17\n\t"
            "vmla.f32 s2, s8, s18\n\t"
            "vmla.f32 s3, s8, s19\n\t") "vstmia %[acc], {s0-s3}\n\t" UAOT_FP_DW_OPERANDS);
    }
#else
    float a[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (int32_t ky = 0; ky < nky; ++ky) {
        for (int32_t kx = 0; kx < nkx; ++kx) {
            const float xv = x[0];
            for (int32_t j = 0; j < n; ++j) {
                a[j] += xv * w[j];
            }
            x += t->tap_x;
            w += t->tap_w;
        }
        x += t->row_x - nkx * t->tap_x;
        w += t->row_w - nkx * t->tap_w;
    }
    for (int32_t j = 0; j < n; ++j) {
        acc[j] = a[j];
    }
#endif
}

/* one output: sum over the taps of x[0] * w[0] */
static float uaot_fp_dw_one(const float *x, const float *w, int32_t nky, int32_t nkx, const uaot_fp_taps_t *t)
{
    float a = 0.0f;
    for (int32_t ky = 0; ky < nky; ++ky) {
        for (int32_t kx = 0; kx < nkx; ++kx) {
            a += x[0] * w[0];
            x += t->tap_x;
            w += t->tap_w;
        }
        x += t->row_x - nkx * t->tap_x;
        w += t->row_w - nkx * t->tap_w;
    }
    return a;
}

/* first and one-past-last kernel index k with 0 <= o + k * d < n */
static void uaot_fp_range(int32_t o, int32_t d, int32_t k, int32_t n, int32_t *lo, int32_t *hi)
{
    int32_t a = o >= 0 ? 0 : (-o + d - 1) / d;
    int32_t b = o > n - 1 ? 0 : (n - 1 - o) / d + 1;
    *lo = a;
    *hi = b < k ? b : k;
}

uaot_status_t uaot_depthwise_conv2d_f32_fpu(const uaot_conv_f32_params_t *p, const float *input, const float *filter,
                                            const float *bias, float *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->depth_mult <= 0 ||
        p->out_c != p->in_c * p->depth_mult) {
        return UAOT_ERR_ARG;
    }
    const int32_t in_c = p->in_c;
    const int32_t out_c = p->out_c;
    const int32_t dm = p->depth_mult;
    const int32_t blk = dm % 8 == 0 ? 8 : (dm % 4 == 0 ? 4 : 1); /* outputs per block of one input channel */
    float acc[8];
    for (int32_t b = 0; b < p->batches; ++b) {
        const float *in_b = input + b * p->in_h * p->in_w * in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky0, ky1;
            uaot_fp_range(iy0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                uaot_fp_range(ix0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
                float *out = output + ((b * p->out_h + oy) * p->out_w + ox) * out_c;
                const int32_t nky = ky1 > ky0 ? ky1 - ky0 : 0;
                const int32_t nkx = kx1 > kx0 ? kx1 - kx0 : 0;
                if (nky == 0 || nkx == 0) { /* no tap in bounds: the sum is +0.0f */
                    for (int32_t oc = 0; oc < out_c; ++oc) {
                        out[oc] = uaot_fp_clamp(bias != NULL ? 0.0f + bias[oc] : 0.0f, p->act_min, p->act_max);
                    }
                    continue;
                }
                const uaot_fp_taps_t t = {p->dil_w * in_c, out_c, p->dil_h * p->in_w * in_c, p->k_w * out_c};
                const float *x0 = in_b + ((iy0 + ky0 * p->dil_h) * p->in_w + ix0 + kx0 * p->dil_w) * in_c;
                const float *w0 = filter + (ky0 * p->k_w + kx0) * out_c;
                int32_t oc = 0;
                if (dm == 1 && out_c >= 8) {
                    /* the next pixel too when its taps have the same ranges */
                    int32_t nx0 = 0, nx1 = 0, npx = 1;
                    if (ox + 1 < p->out_w) {
                        uaot_fp_range(ix0 + p->stride_w, p->dil_w, p->k_w, p->in_w, &nx0, &nx1);
                        npx = nx0 == kx0 && nx1 == kx1 ? 2 : 1;
                    }
                    uaot_fp_dw8_args_t a;
                    a.nky = nky;
                    a.nkx = nkx;
                    a.xs = 4 * t.tap_x - 32;
                    a.ws = 4 * t.tap_w - 32;
                    a.xr = 4 * (t.row_x - nkx * t.tap_x);
                    a.wr = 4 * (t.row_w - nkx * t.tap_w);
                    a.lh = &p->act_min;
                    a.zeros = uaot_fp_zeros;
                    /* blocks of 8 channels; the last one overlaps the one before when out_c % 8 != 0 (the same
                     * values are computed and stored again) */
                    for (int32_t c = 0; c < out_c; c += 8) {
                        oc = c + 8 <= out_c ? c : out_c - 8;
                        a.x0 = x0 + oc;
                        a.x1 = x0 + oc + p->stride_w * in_c;
                        a.w = w0 + oc;
                        a.bias = bias != NULL ? bias + oc : uaot_fp_zeros;
                        a.out0 = out + oc;
                        a.out1 = out + out_c + oc;
                        uaot_fp_dw_vec8(&a, npx);
                    }
                    ox += npx - 1;
                    continue;
                } else if (blk > 1) {
                    for (; oc < out_c; oc += blk) {
                        uaot_fp_dw_bcast(x0 + oc / dm, w0 + oc, nky, nkx, &t, acc, blk);
                        uaot_fp_finish(out + oc, acc, bias != NULL ? bias + oc : NULL, blk, p->act_min, p->act_max);
                    }
                }
                for (; oc < out_c; ++oc) {
                    const float a = uaot_fp_dw_one(x0 + oc / dm, w0 + oc, nky, nkx, &t);
                    out[oc] = uaot_fp_clamp(bias != NULL ? a + bias[oc] : a, p->act_min, p->act_max);
                }
            }
        }
    }
    return UAOT_OK;
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
    float *patch = (float *)(void *)scratch;
    float acc[4];
    for (int32_t b = 0; b < p->batches; ++b) {
        const float *in_b = input + b * p->in_h * p->in_w * in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                uaot_fp_range(ix0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
                if (kx1 < kx0) {
                    kx1 = kx0;
                }
                /* the patch in the filter's (ky, kx, ic) order, +0.0f outside the input */
                float *d = patch;
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
                float *out = output + ((b * p->out_h + oy) * p->out_w + ox) * out_c;
                for (int32_t oc = 0; oc < out_c; oc += 4) {
                    /* the last block repeats its last row for the rows past out_c (computed, not stored) */
                    const int32_t n = out_c - oc < 4 ? out_c - oc : 4;
                    const float *w = filter + oc * kk;
                    uaot_fp_dot4(patch, w, w + (n > 1 ? kk : 0), w + (n > 2 ? 2 : n - 1) * kk,
                                 w + (n > 3 ? 3 : n - 1) * kk, kk, acc);
                    uaot_fp_finish(out + oc, acc, bias != NULL ? bias + oc : NULL, n, p->act_min, p->act_max);
                }
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
    float acc[4];
    for (int32_t b = 0; b < p->batches; ++b) {
        const float *x = input + b * n_in;
        float *y = output + b * n_out;
        for (int32_t o = 0; o < n_out; o += 4) {
            const int32_t n = n_out - o < 4 ? n_out - o : 4;
            const float *w = filter + o * n_in;
            uaot_fp_dot4(x, w, w + (n > 1 ? n_in : 0), w + (n > 2 ? 2 : n - 1) * n_in, w + (n > 3 ? 3 : n - 1) * n_in,
                         n_in, acc);
            uaot_fp_finish(y + o, acc, bias != NULL ? bias + o : NULL, n, p->act_min, p->act_max);
        }
    }
    return UAOT_OK;
}
