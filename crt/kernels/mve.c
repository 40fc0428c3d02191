/* microaot kernels: Helium (MVE) int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (microaot/kernels/mve.h).
 *
 * Bit-exact with the reference kernels (conv.c, fully_connected.c): the accumulators wrap modulo 2^32 as
 * there (vector adds and VMLADAVA wrap), and the requantization is TFLite's MultiplyByQuantizedMultiplier:
 *   x << max(shift, 0)                 VSHL (register), wrapping as the reference's uint32 shift
 *   SaturatingRoundingDoublingHighMul  VQRDMULH.S32 ((2ab + 2^31) >> 32, saturated: the same integer as
 *                                      gemmlowp's nudge-and-truncate for every a, b)
 *   RoundingDivideByPOT(-min(shift,0)) VRSHL by the negative amount after adding -1 to negative values when
 *                                      the amount is non-zero (VRSHL rounds half up; the reference rounds
 *                                      half away from zero; the -1 turns one into the other, as CMSIS-NN's
 *                                      arm_divide_by_power_of_two_mve) */
#include "microaot/kernels/mve.h"

#include <stddef.h>

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>

#define UAOT_MVE_INLINE static inline __attribute__((always_inline))

UAOT_MVE_INLINE int32x4_t mve_requant(int32x4_t acc, int32x4_t mult, int32x4_t shift, int32_t out_off, int32_t lo,
                                      int32_t hi)
{
    const int32x4_t zero = vdupq_n_s32(0);
    const int32x4_t right = vminq_s32(shift, zero);
    acc = vshlq_s32(acc, vmaxq_s32(shift, zero));
    acc = vqrdmulhq_s32(acc, mult);
    acc = vrshlq_s32(vqaddq_s32(acc, vshrq_n_s32(vandq_s32(acc, right), 31)), right);
    acc = vaddq_n_s32(acc, out_off);
    return vminq_s32(vmaxq_s32(acc, vdupq_n_s32(lo)), vdupq_n_s32(hi));
}

/* a[j] = sum over k < n of col[k] * wj[k], j = 0..3: whole vectors in a low-overhead loop of post-incremented
 * loads (VMLADAVA takes even accumulator registers: constraint "Te"), then one zero-predicated tail */
UAOT_MVE_INLINE int32x4_t mve_dot4(const int8_t *col, const int8_t *w0, const int8_t *w1, const int8_t *w2,
                                   const int8_t *w3, int32_t n)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const int32_t blocks = n >> 4;
    if (blocks > 0) {
        __asm__ volatile("dls lr, %[cnt]\n"
                         "1:\n"
                         "vldrb.8 q0, [%[c]], #16\n"
                         "vldrb.8 q1, [%[w0]], #16\n"
                         "vmladava.s8 %[a0], q0, q1\n"
                         "vldrb.8 q2, [%[w1]], #16\n"
                         "vmladava.s8 %[a1], q0, q2\n"
                         "vldrb.8 q1, [%[w2]], #16\n"
                         "vmladava.s8 %[a2], q0, q1\n"
                         "vldrb.8 q2, [%[w3]], #16\n"
                         "vmladava.s8 %[a3], q0, q2\n"
                         "le lr, 1b\n"
                         : [a0] "+Te"(a0), [a1] "+Te"(a1), [a2] "+Te"(a2), [a3] "+Te"(a3), [c] "+r"(col), [w0] "+r"(w0),
                           [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3)
                         : [cnt] "r"(blocks)
                         : "lr", "d0", "d1", "d2", "d3", "d4", "d5", "memory");
    }
    n &= 15;
    int32_t b0 = a0, b1 = a1, b2 = a2, b3 = a3;
    if (n > 0) {
        const mve_pred16_t pr = vctp8q((uint32_t)n);
        const int8x16_t x = vldrbq_z_s8(col, pr);
        b0 = vmladavaq_s8(b0, x, vldrbq_z_s8(w0, pr));
        b1 = vmladavaq_s8(b1, x, vldrbq_z_s8(w1, pr));
        b2 = vmladavaq_s8(b2, x, vldrbq_z_s8(w2, pr));
        b3 = vmladavaq_s8(b3, x, vldrbq_z_s8(w3, pr));
    }
    int32x4_t v = vdupq_n_s32(b0);
    v = vsetq_lane_s32(b1, v, 1);
    v = vsetq_lane_s32(b2, v, 2);
    return vsetq_lane_s32(b3, v, 3);
}

/* mve_dot4 on 4 consecutive rows, out of line: inlined into the block loop below its asm runs out of registers
 * in a -O3 frame-pointer build */
static __attribute__((noinline)) int32x4_t mve_dot4_rows(const int8_t *col, const int8_t *w0, int32_t k)
{
    return mve_dot4(col, w0, w0 + k, w0 + 2 * k, w0 + 3 * k, k);
}

/* one column (K int8) against n_out weight rows of K: out[o] for every o, 4 rows per step */
static void mve_gemm_col(const int8_t *col, const int8_t *filter, int32_t k, int32_t n_out, const int32_t *bias,
                         const int32_t *mult_pc, const int32_t *shift_pc, int32_t mult, int32_t shift, int32_t out_off,
                         int32_t lo, int32_t hi, int8_t *out)
{
    int32_t o = 0;
    if (mult_pc != NULL) { /* per channel, whole blocks of 4: no predicate */
        for (; o + 4 <= n_out; o += 4) {
            const int8_t *w0 = filter + o * k;
            const int32x4_t acc = vaddq_s32(mve_dot4_rows(col, w0, k), vld1q_s32(bias + o));
            vstrbq_s32(out + o, mve_requant(acc, vld1q_s32(mult_pc + o), vld1q_s32(shift_pc + o), out_off, lo, hi));
        }
    }
    for (; o < n_out; o += 4) {
        const int32_t rem = n_out - o;
        const int8_t *w0 = filter + o * k;
        const int8_t *w1 = rem > 1 ? w0 + k : w0;
        const int8_t *w2 = rem > 2 ? w0 + 2 * k : w0;
        const int8_t *w3 = rem > 3 ? w0 + 3 * k : w0;
        const mve_pred16_t pr = vctp32q((uint32_t)rem);
        int32x4_t acc = vaddq_s32(mve_dot4(col, w0, w1, w2, w3, k), vldrwq_z_s32(bias + o, pr));
        const int32x4_t m = mult_pc != NULL ? vldrwq_z_s32(mult_pc + o, pr) : vdupq_n_s32(mult);
        const int32x4_t s = shift_pc != NULL ? vldrwq_z_s32(shift_pc + o, pr) : vdupq_n_s32(shift);
        vstrbq_p_s32(out + o, mve_requant(acc, m, s, out_off, lo, hi), pr);
    }
}

UAOT_MVE_INLINE void mve_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n > 0; n -= 16) {
        const mve_pred16_t pr = vctp8q((uint32_t)n);
        vstrbq_p_s8(dst, vldrbq_z_s8(src, pr), pr);
        dst += 16;
        src += 16;
    }
}

UAOT_MVE_INLINE void mve_fill(int8_t *dst, int8_t v, int32_t n)
{
    const int8x16_t f = vdupq_n_s8(v);
    for (; n > 0; n -= 16) {
        vstrbq_p_s8(dst, f, vctp8q((uint32_t)n));
        dst += 16;
    }
}

/* the im2col column of the output pixel whose window starts at (iy0, ix0); out-of-bounds taps = pad */
static void mve_im2col(const uaot_conv_s8_params_t *p, const int8_t *in_b, int32_t iy0, int32_t ix0, int8_t pad,
                       int8_t *d)
{
    const int32_t in_c = p->in_c;
    const int32_t run = p->k_w * in_c;
    for (int32_t ky = 0; ky < p->k_h; ++ky, d += run) {
        const int32_t iy = iy0 + ky * p->dil_h;
        if (iy < 0 || iy >= p->in_h) {
            mve_fill(d, pad, run);
            continue;
        }
        const int8_t *row = in_b + iy * p->in_w * in_c;
        if (p->dil_w == 1 && ix0 >= 0 && ix0 + p->k_w <= p->in_w) {
            mve_copy(d, row + ix0 * in_c, run);
            continue;
        }
        for (int32_t kx = 0; kx < p->k_w; ++kx) {
            const int32_t ix = ix0 + kx * p->dil_w;
            if (ix >= 0 && ix < p->in_w) {
                mve_copy(d + kx * in_c, row + ix * in_c, in_c);
            } else {
                mve_fill(d + kx * in_c, pad, in_c);
            }
        }
    }
}

uaot_status_t uaot_conv2d_s8_mve(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                 int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->mult == NULL || p->shift == NULL) {
        return UAOT_ERR_ARG;
    }
    const int32_t in_c = p->in_c;
    const int32_t out_c = p->out_c;
    const int32_t k = p->k_h * p->k_w * in_c;
    const uint32_t need = uaot_conv2d_s8_mve_scratch_size(p);
    const int direct = need == 0u;
    if (!direct && (scratch == NULL || scratch_size < need)) {
        return UAOT_ERR_ARG;
    }
    const int8_t pad = (int8_t)(-p->input_offset);
    int8_t *out = output;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox, out += out_c) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int8_t *col;
                if (direct) {
                    col = in_b + (iy0 * p->in_w + ix0) * in_c;
                } else {
                    mve_im2col(p, in_b, iy0, ix0, pad, (int8_t *)scratch);
                    col = (const int8_t *)scratch;
                }
                mve_gemm_col(col, filter, k, out_c, p->bias, p->mult, p->shift, 0, 0, p->output_offset, p->act_min,
                             p->act_max, out);
            }
        }
    }
    return UAOT_OK;
}

/* the geometry of a depthwise call in locals (the kernel's stores could alias *p: reloading its fields in the
 * loops would cost more than the MACs) */
typedef struct {
    int32_t in_h, in_w, ch, k_h, k_w, dil_h, dil_w, zp;
} mve_dw_geo_t;

/* 4 channels of one output pixel with every tap in bounds */
UAOT_MVE_INLINE int32x4_t mve_dw_interior(const mve_dw_geo_t *g, const int8_t *x0, const int8_t *w, int32x4_t acc,
                                          mve_pred16_t pr)
{
    const int32_t ch = g->ch;
    const int32_t xstep = g->dil_w * ch;
    const int32_t ystep = g->dil_h * g->in_w * ch;
    for (int32_t ky = 0; ky < g->k_h; ++ky, x0 += ystep) {
        const int8_t *x = x0;
        for (int32_t kx = 0; kx < g->k_w; ++kx, x += xstep, w += ch) {
            acc = vaddq_s32(acc, vmulq_s32(vldrbq_z_s32(x, pr), vldrbq_z_s32(w, pr)));
        }
    }
    return acc;
}

/* 16 channels of one output pixel from the taps of a window of kh x kw (>= 1) taps in bounds starting at x0 / w,
 * the accumulators starting from bias[0..15], requantized and stored (ch % 16 blocks): the taps in a
 * low-overhead loop, the 4 accumulators in q4..q7 (no intrinsic form keeps the compiler from spilling
 * and recomputing the 8 addresses of each tap) */
UAOT_MVE_INLINE void mve_dw_window16(const mve_dw_geo_t *g, const int8_t *x0, const int8_t *w, int32_t kh, int32_t kw,
                                     const int32_t *bias, const int32_t *mult, const int32_t *shift, int32_t out_off,
                                     int32_t lo, int32_t hi, int8_t *out)
{
    int32_t acc[16] __attribute__((aligned(16)));
    /* the steps in memory, loaded in the asm where needed: few enough operands for a frame-pointer -O0 build */
    const int32_t cfg[5] = {g->dil_w * g->ch, g->ch, g->dil_h * g->in_w * g->ch, (g->k_w - kw) * g->ch, kw};
    const int8_t *x;
    int32_t xs, ch, t;
    __asm__ volatile(
        "vldrw.32 q4, [%[b]]\n"
        "vldrw.32 q5, [%[b], #16]\n"
        "vldrw.32 q6, [%[b], #32]\n"
        "vldrw.32 q7, [%[b], #48]\n"
        "ldr %[xs], [%[cfg]]\n"
        "ldr %[ch], [%[cfg], #4]\n"
        "2:\n"
        "mov %[x], %[x0]\n"
        "ldr %[t], [%[cfg], #16]\n"
        "dls lr, %[t]\n"
        "1:\n"
        "vldrb.s32 q0, [%[x]]\n"
        "vldrb.s32 q1, [%[w]]\n"
        "vmul.i32 q0, q0, q1\n"
        "vldrb.s32 q2, [%[x], #4]\n"
        "vadd.i32 q4, q4, q0\n"
        "vldrb.s32 q3, [%[w], #4]\n"
        "vmul.i32 q2, q2, q3\n"
        "vldrb.s32 q0, [%[x], #8]\n"
        "vadd.i32 q5, q5, q2\n"
        "vldrb.s32 q1, [%[w], #8]\n"
        "vmul.i32 q0, q0, q1\n"
        "vldrb.s32 q2, [%[x], #12]\n"
        "vadd.i32 q6, q6, q0\n"
        "vldrb.s32 q3, [%[w], #12]\n"
        "vmul.i32 q2, q2, q3\n"
        "add %[x], %[x], %[xs]\n"
        "vadd.i32 q7, q7, q2\n"
        "add %[w], %[w], %[ch]\n"
        "le lr, 1b\n"
        "ldr %[t], [%[cfg], #8]\n"
        "add %[x0], %[x0], %[t]\n"
        "ldr %[t], [%[cfg], #12]\n"
        "add %[w], %[w], %[t]\n"
        "subs %[kh], %[kh], #1\n"
        "bne 2b\n"
        "vstrw.32 q4, [%[acc]]\n"
        "vstrw.32 q5, [%[acc], #16]\n"
        "vstrw.32 q6, [%[acc], #32]\n"
        "vstrw.32 q7, [%[acc], #48]\n"
        : [x0] "+r"(x0), [w] "+l"(w), [kh] "+r"(kh), [x] "=&l"(x), [xs] "=&r"(xs), [ch] "=&r"(ch), [t] "=&r"(t)
        : [b] "r"(bias), [cfg] "r"(cfg), [acc] "r"(acc)
        : "lr", "cc", "memory", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13",
          "d14", "d15");
    for (int32_t j = 0; j < 16; j += 4) {
        vstrbq_s32(out + j,
                   mve_requant(vld1q_s32(acc + j), vld1q_s32(mult + j), vld1q_s32(shift + j), out_off, lo, hi));
    }
}

/* 16 channels of one output pixel anywhere: the taps in bounds through mve_dw_window16, the others (border) as
 * the input zero point, added to the bias first */
static void mve_dw_pixel16(const mve_dw_geo_t *g, const int8_t *in_b, const int8_t *w, int32_t iy0, int32_t ix0,
                           const int32_t *bias, const int32_t *mult, const int32_t *shift, int32_t out_off, int32_t lo,
                           int32_t hi, int8_t *out)
{
    int32_t ky0 = 0, ky1 = g->k_h, kx0 = 0, kx1 = g->k_w;
    while (ky0 < ky1 && iy0 + ky0 * g->dil_h < 0) {
        ++ky0;
    }
    while (ky1 > ky0 && iy0 + (ky1 - 1) * g->dil_h >= g->in_h) {
        --ky1;
    }
    while (kx0 < kx1 && ix0 + kx0 * g->dil_w < 0) {
        ++kx0;
    }
    while (kx1 > kx0 && ix0 + (kx1 - 1) * g->dil_w >= g->in_w) {
        --kx1;
    }
    int32x4_t a0 = vld1q_s32(bias), a1 = vld1q_s32(bias + 4), a2 = vld1q_s32(bias + 8), a3 = vld1q_s32(bias + 12);
    const int32_t ch = g->ch;
    for (int32_t ky = 0; ky < g->k_h; ++ky) {
        for (int32_t kx = 0; kx < g->k_w; ++kx) {
            if (ky >= ky0 && ky < ky1 && kx >= kx0 && kx < kx1) {
                continue;
            }
            const int8_t *wt = w + (ky * g->k_w + kx) * ch;
            a0 = vmlaq_n_s32(a0, vldrbq_s32(wt), g->zp);
            a1 = vmlaq_n_s32(a1, vldrbq_s32(wt + 4), g->zp);
            a2 = vmlaq_n_s32(a2, vldrbq_s32(wt + 8), g->zp);
            a3 = vmlaq_n_s32(a3, vldrbq_s32(wt + 12), g->zp);
        }
    }
    int32_t init[16] __attribute__((aligned(16)));
    vst1q_s32(init, a0);
    vst1q_s32(init + 4, a1);
    vst1q_s32(init + 8, a2);
    vst1q_s32(init + 12, a3);
    if (ky0 == ky1 || kx0 == kx1) { /* no tap in bounds */
        for (int32_t j = 0; j < 16; j += 4) {
            vstrbq_s32(out + j,
                       mve_requant(vld1q_s32(init + j), vld1q_s32(mult + j), vld1q_s32(shift + j), out_off, lo, hi));
        }
        return;
    }
    const int8_t *x0 = in_b + ((iy0 + ky0 * g->dil_h) * g->in_w + ix0 + kx0 * g->dil_w) * ch;
    mve_dw_window16(g, x0, w + (ky0 * g->k_w + kx0) * ch, ky1 - ky0, kx1 - kx0, init, mult, shift, out_off, lo, hi,
                    out);
}

/* 4 channels of one output pixel at the border: out-of-bounds taps count as the input zero point */
static int32x4_t mve_dw_border(const mve_dw_geo_t *g, const int8_t *in_b, const int8_t *w, int32_t iy0, int32_t ix0,
                               int32x4_t acc, mve_pred16_t pr)
{
    const int32_t ch = g->ch;
    for (int32_t ky = 0; ky < g->k_h; ++ky) {
        const int32_t iy = iy0 + ky * g->dil_h;
        for (int32_t kx = 0; kx < g->k_w; ++kx, w += ch) {
            const int32_t ix = ix0 + kx * g->dil_w;
            const int32x4_t wv = vldrbq_z_s32(w, pr);
            if (iy >= 0 && iy < g->in_h && ix >= 0 && ix < g->in_w) {
                acc = vaddq_s32(acc, vmulq_s32(vldrbq_z_s32(in_b + (iy * g->in_w + ix) * ch, pr), wv));
            } else {
                acc = vmlaq_n_s32(acc, wv, g->zp);
            }
        }
    }
    return acc;
}

uaot_status_t uaot_depthwise_conv2d_s8_mve(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                           int8_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->mult == NULL || p->shift == NULL ||
        p->depth_mult != 1 || p->in_c != p->out_c) {
        return UAOT_ERR_ARG;
    }
    const mve_dw_geo_t g = {p->in_h, p->in_w, p->out_c, p->k_h, p->k_w, p->dil_h, p->dil_w, -p->input_offset};
    const int32_t ch = g.ch;
    const int32_t out_h = p->out_h, out_w = p->out_w, batches = p->batches;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w, pad_top = p->pad_top, pad_left = p->pad_left;
    const int32_t out_off = p->output_offset, lo = p->act_min, hi = p->act_max;
    const int32_t *bias = p->bias, *mult = p->mult, *shift = p->shift;
    const int32_t span_h = (g.k_h - 1) * g.dil_h, span_w = (g.k_w - 1) * g.dil_w;
    int8_t *out = output;
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *in_b = input + b * g.in_h * g.in_w * ch;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * stride_h - pad_top;
            for (int32_t ox = 0; ox < out_w; ++ox, out += ch) {
                const int32_t ix0 = ox * stride_w - pad_left;
                const int interior = iy0 >= 0 && ix0 >= 0 && iy0 + span_h < g.in_h && ix0 + span_w < g.in_w;
                const int8_t *x0 = in_b + (iy0 * g.in_w + ix0) * ch;
                int32_t c = 0;
                for (; c + 16 <= ch; c += 16) {
                    if (interior) {
                        mve_dw_window16(&g, x0 + c, filter + c, g.k_h, g.k_w, bias + c, mult + c, shift + c, out_off,
                                        lo, hi, out + c);
                    } else {
                        mve_dw_pixel16(&g, in_b + c, filter + c, iy0, ix0, bias + c, mult + c, shift + c, out_off, lo,
                                       hi, out + c);
                    }
                }
                for (; c < ch; c += 4) {
                    const mve_pred16_t pr = vctp32q((uint32_t)(ch - c));
                    int32x4_t acc = vldrwq_z_s32(bias + c, pr);
                    if (interior) {
                        acc = mve_dw_interior(&g, x0 + c, filter + c, acc, pr);
                    } else {
                        acc = mve_dw_border(&g, in_b + c, filter + c, iy0, ix0, acc, pr);
                    }
                    const int32x4_t r =
                        mve_requant(acc, vldrwq_z_s32(mult + c, pr), vldrwq_z_s32(shift + c, pr), out_off, lo, hi);
                    vstrbq_p_s32(out + c, r, pr);
                }
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_fully_connected_s8_mve(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                          int8_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->bias == NULL ||
        (p->mult_pc == NULL) != (p->shift_pc == NULL)) {
        return UAOT_ERR_ARG;
    }
    for (int32_t b = 0; b < p->batches; ++b) {
        mve_gemm_col(input + b * p->in_features, filter, p->in_features, p->out_features, p->bias, p->mult_pc,
                     p->shift_pc, p->mult, p->shift, p->output_offset, p->act_min, p->act_max,
                     output + b * p->out_features);
    }
    return UAOT_OK;
}

#else /* no Helium: the generator selects these kernels for target cortex-m55 only */

uaot_status_t uaot_conv2d_s8_mve(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                 int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    (void)p;
    (void)input;
    (void)filter;
    (void)output;
    (void)scratch;
    (void)scratch_size;
    return UAOT_ERR_UNSUPPORTED;
}

uaot_status_t uaot_depthwise_conv2d_s8_mve(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                           int8_t *output)
{
    (void)p;
    (void)input;
    (void)filter;
    (void)output;
    return UAOT_ERR_UNSUPPORTED;
}

uaot_status_t uaot_fully_connected_s8_mve(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                          int8_t *output)
{
    (void)p;
    (void)input;
    (void)filter;
    (void)output;
    return UAOT_ERR_UNSUPPORTED;
}

#endif
