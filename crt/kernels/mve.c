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

/* a[j] = sum over k < n of col[k] * wj[k], j = 0..3 (whole vectors, then one zero-predicated tail) */
UAOT_MVE_INLINE int32x4_t mve_dot4(const int8_t *col, const int8_t *w0, const int8_t *w1, const int8_t *w2,
                                   const int8_t *w3, int32_t n)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (; n >= 16; n -= 16) {
        const int8x16_t x = vld1q_s8(col);
        a0 = vmladavaq_s8(a0, x, vld1q_s8(w0));
        a1 = vmladavaq_s8(a1, x, vld1q_s8(w1));
        a2 = vmladavaq_s8(a2, x, vld1q_s8(w2));
        a3 = vmladavaq_s8(a3, x, vld1q_s8(w3));
        col += 16;
        w0 += 16;
        w1 += 16;
        w2 += 16;
        w3 += 16;
    }
    if (n > 0) {
        const mve_pred16_t pr = vctp8q((uint32_t)n);
        const int8x16_t x = vldrbq_z_s8(col, pr);
        a0 = vmladavaq_s8(a0, x, vldrbq_z_s8(w0, pr));
        a1 = vmladavaq_s8(a1, x, vldrbq_z_s8(w1, pr));
        a2 = vmladavaq_s8(a2, x, vldrbq_z_s8(w2, pr));
        a3 = vmladavaq_s8(a3, x, vldrbq_z_s8(w3, pr));
    }
    int32x4_t v = vdupq_n_s32(a0);
    v = vsetq_lane_s32(a1, v, 1);
    v = vsetq_lane_s32(a2, v, 2);
    return vsetq_lane_s32(a3, v, 3);
}

/* one column (K int8) against n_out weight rows of K: out[o] for every o, 4 rows per step */
static void mve_gemm_col(const int8_t *col, const int8_t *filter, int32_t k, int32_t n_out, const int32_t *bias,
                         const int32_t *mult_pc, const int32_t *shift_pc, int32_t mult, int32_t shift, int32_t out_off,
                         int32_t lo, int32_t hi, int8_t *out)
{
    for (int32_t o = 0; o < n_out; o += 4) {
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
    const int direct = p->k_h == 1 && p->k_w == 1 && p->pad_top == 0 && p->pad_left == 0;
    if (!direct && (scratch == NULL || scratch_size < (uint32_t)UAOT_CONV_MVE_SCRATCH(k))) {
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

/* 4 channels of one output pixel: the taps in [ky0, ky1) x [kx0, kx1) from the input, the others (border)
 * as the input zero point */
UAOT_MVE_INLINE int32x4_t mve_dw_block(const uaot_conv_s8_params_t *p, const int8_t *in_b, const int8_t *filter,
                                       int32_t c, int32_t iy0, int32_t ix0, int interior, mve_pred16_t pr)
{
    const int32_t ch = p->out_c;
    int32x4_t acc = vldrwq_z_s32(p->bias + c, pr);
    if (interior) {
        for (int32_t ky = 0; ky < p->k_h; ++ky) {
            const int8_t *x = in_b + ((iy0 + ky * p->dil_h) * p->in_w + ix0) * ch + c;
            const int8_t *w = filter + ky * p->k_w * ch + c;
            for (int32_t kx = 0; kx < p->k_w; ++kx) {
                acc = vaddq_s32(acc, vmulq_s32(vldrbq_z_s32(x, pr), vldrbq_z_s32(w, pr)));
                x += p->dil_w * ch;
                w += ch;
            }
        }
        return acc;
    }
    const int32_t zp = -p->input_offset;
    for (int32_t ky = 0; ky < p->k_h; ++ky) {
        const int32_t iy = iy0 + ky * p->dil_h;
        for (int32_t kx = 0; kx < p->k_w; ++kx) {
            const int32_t ix = ix0 + kx * p->dil_w;
            const int32x4_t w = vldrbq_z_s32(filter + (ky * p->k_w + kx) * ch + c, pr);
            if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                acc = vaddq_s32(acc, vmulq_s32(vldrbq_z_s32(in_b + (iy * p->in_w + ix) * ch + c, pr), w));
            } else {
                acc = vmlaq_n_s32(acc, w, zp);
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
    const int32_t ch = p->out_c;
    int8_t *out = output;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * ch;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox, out += ch) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int interior = iy0 >= 0 && ix0 >= 0 && iy0 + (p->k_h - 1) * p->dil_h < p->in_h &&
                                     ix0 + (p->k_w - 1) * p->dil_w < p->in_w;
                for (int32_t c = 0; c < ch; c += 4) {
                    const mve_pred16_t pr = vctp32q((uint32_t)(ch - c));
                    const int32x4_t acc = mve_dw_block(p, in_b, filter, c, iy0, ix0, interior, pr);
                    const int32x4_t r = mve_requant(acc, vldrwq_z_s32(p->mult + c, pr), vldrwq_z_s32(p->shift + c, pr),
                                                    p->output_offset, p->act_min, p->act_max);
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
