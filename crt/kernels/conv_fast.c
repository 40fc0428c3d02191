/* microaot kernels: schedule variants of int8 CONV_2D and DEPTHWISE_CONV_2D (see conv_fast.h).
 *
 * Bit-exact with the reference kernels (conv.c): the generator folds input_offset * sum(filter) into
 * the bias, so an accumulator only needs sum(x * w) over all taps, with every padded tap reading the
 * input zero point (-input_offset): (zp + input_offset) * w = 0, exactly what TFLM adds for it.
 * SIMD: SXTB16 splits 4 int8 into 2 x 2 int16 lanes (bytes 0,2 and 1,3); weights and im2col
 * columns use the same lane order, so SMLAD pairs the right products. Without __ARM_FEATURE_DSP the
 * same code runs on the portable emulation in microaot/simd.h. */
#include "microaot/kernels/conv_fast.h"

#include <stddef.h>
#include <string.h>

#include "microaot/simd.h"

/* Column j (of nc) of the int16 im2col block for output pixel (oy, ox): word (x[4g],x[4g+2]) at
 * col[g*2*nc + 2*j], (x[4g+1],x[4g+3]) right after it. tmp: Kp bytes for in_c % 4 != 0. */
static void uaot_im2col_s16(const uaot_conv_s8_params_t *p, const int8_t *in_b, int32_t oy, int32_t ox,
                            uint32_t *col, int32_t j, int32_t nc, int8_t *tmp)
{
    const int32_t in_c = p->in_c;
    const int32_t K = p->k_h * p->k_w * in_c;
    const int32_t G = (K + 3) / 4;
    const int32_t step = 2 * nc;
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    const int32_t zp = -p->input_offset;
    uint32_t *dst = col + 2 * j;
    if ((in_c & 3) == 0) {
        const uint32_t zw = uaot_sxtb16(uaot_splat8(zp));
        for (int32_t ky = 0; ky < p->k_h; ++ky) {
            const int32_t iy = iy0 + ky * p->dil_h;
            for (int32_t kx = 0; kx < p->k_w; ++kx) {
                const int32_t ix = ix0 + kx * p->dil_w;
                if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                    const int8_t *src = in_b + ((size_t)iy * p->in_w + ix) * in_c;
                    for (int32_t c = 0; c < in_c; c += 4) {
                        const uint32_t v = uaot_ld32(src + c);
                        dst[0] = uaot_sxtb16(v);
                        dst[1] = uaot_sxtb16_r8(v);
                        dst += step;
                    }
                } else {
                    for (int32_t c = 0; c < in_c; c += 4) {
                        dst[0] = zw;
                        dst[1] = zw;
                        dst += step;
                    }
                }
            }
        }
        return;
    }
    int8_t *t = tmp;
    for (int32_t ky = 0; ky < p->k_h; ++ky) {
        const int32_t iy = iy0 + ky * p->dil_h;
        for (int32_t kx = 0; kx < p->k_w; ++kx) {
            const int32_t ix = ix0 + kx * p->dil_w;
            if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                const int8_t *src = in_b + ((size_t)iy * p->in_w + ix) * in_c;
                for (int32_t c = 0; c < in_c; ++c) {
                    t[c] = src[c];
                }
            } else {
                for (int32_t c = 0; c < in_c; ++c) {
                    t[c] = (int8_t)zp;
                }
            }
            t += in_c;
        }
    }
    for (int32_t k = K; k < 4 * G; ++k) {
        tmp[k] = 0;
    }
    for (int32_t g = 0; g < G; ++g) {
        const uint32_t v = uaot_ld32(tmp + 4 * g);
        dst[0] = uaot_sxtb16(v);
        dst[1] = uaot_sxtb16_r8(v);
        dst += step;
    }
}

/* all output channels of nc (1|2) pixels whose columns are in col */
UAOT_INLINE void uaot_gemm_block(const uaot_conv_s8_params_t *p, const uint32_t *col, const uint32_t *w, int32_t G,
                                 const int nc, const int w16, int8_t *out0, int8_t *out1)
{
    const int32_t out_c = p->out_c;
    const int32_t off = p->output_offset, lo = p->act_min, hi = p->act_max;
    int32_t oc = 0;
    for (; oc + 2 <= out_c; oc += 2) {
        const int32_t b0 = p->bias[oc], b1 = p->bias[oc + 1];
        int32_t a00 = b0, a10 = b1, a01 = b0, a11 = b1;
        const uint32_t *c = col;
        for (int32_t g = 0; g < G; ++g) {
            uint32_t w0a, w0b, w1a, w1b;
            if (w16) {
                w0a = w[0];
                w0b = w[1];
                w1a = w[2];
                w1b = w[3];
                w += 4;
            } else {
                const uint32_t r0 = w[0], r1 = w[1];
                w += 2;
                w0a = uaot_sxtb16(r0);
                w0b = uaot_sxtb16_r8(r0);
                w1a = uaot_sxtb16(r1);
                w1b = uaot_sxtb16_r8(r1);
            }
            const uint32_t x0a = c[0], x0b = c[1];
            a00 = uaot_smlad(w0a, x0a, a00);
            a00 = uaot_smlad(w0b, x0b, a00);
            a10 = uaot_smlad(w1a, x0a, a10);
            a10 = uaot_smlad(w1b, x0b, a10);
            if (nc == 2) {
                const uint32_t x1a = c[2], x1b = c[3];
                a01 = uaot_smlad(w0a, x1a, a01);
                a01 = uaot_smlad(w0b, x1b, a01);
                a11 = uaot_smlad(w1a, x1a, a11);
                a11 = uaot_smlad(w1b, x1b, a11);
            }
            c += 2 * nc;
        }
        const int32_t m0 = p->mult[oc], s0 = p->shift[oc], m1 = p->mult[oc + 1], s1 = p->shift[oc + 1];
        out0[oc] = uaot_requant_out(a00, m0, s0, off, lo, hi);
        out0[oc + 1] = uaot_requant_out(a10, m1, s1, off, lo, hi);
        if (nc == 2) {
            out1[oc] = uaot_requant_out(a01, m0, s0, off, lo, hi);
            out1[oc + 1] = uaot_requant_out(a11, m1, s1, off, lo, hi);
        }
    }
    if (oc < out_c) {
        int32_t a0 = p->bias[oc], a1 = p->bias[oc];
        const uint32_t *c = col;
        for (int32_t g = 0; g < G; ++g) {
            uint32_t wa, wb;
            if (w16) {
                wa = w[0];
                wb = w[1];
                w += 2;
            } else {
                const uint32_t r0 = w[0];
                w += 1;
                wa = uaot_sxtb16(r0);
                wb = uaot_sxtb16_r8(r0);
            }
            a0 = uaot_smlad(wa, c[0], a0);
            a0 = uaot_smlad(wb, c[1], a0);
            if (nc == 2) {
                a1 = uaot_smlad(wa, c[2], a1);
                a1 = uaot_smlad(wb, c[3], a1);
            }
            c += 2 * nc;
        }
        out0[oc] = uaot_requant_out(a0, p->mult[oc], p->shift[oc], off, lo, hi);
        if (nc == 2) {
            out1[oc] = uaot_requant_out(a1, p->mult[oc], p->shift[oc], off, lo, hi);
        }
    }
}

UAOT_INLINE uaot_status_t uaot_conv_gemm(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                         int8_t *output, uint8_t *scratch, const int nc, const int w16)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || scratch == NULL ||
        ((uintptr_t)filter & 3u) != 0u || ((uintptr_t)scratch & 3u) != 0u) {
        return UAOT_ERR_ARG;
    }
    const int32_t K = p->k_h * p->k_w * p->in_c;
    const int32_t Kp = UAOT_CONV_GEMM_KP(K);
    const int32_t G = Kp / 4;
    uint32_t *col = (uint32_t *)(void *)scratch;
    int8_t *tmp = (int8_t *)(scratch + 4 * (size_t)Kp);
    const uint32_t *w = (const uint32_t *)(const void *)filter;
    const int32_t npix = p->out_h * p->out_w;
    const int32_t out_c = p->out_c;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        int8_t *out_b = output + (size_t)b * npix * out_c;
        int32_t oy = 0, ox = 0, pix = 0;
        if (nc == 2) {
            for (; pix + 2 <= npix; pix += 2) {
                uaot_im2col_s16(p, in_b, oy, ox, col, 0, 2, tmp);
                if (++ox == p->out_w) {
                    ox = 0;
                    ++oy;
                }
                uaot_im2col_s16(p, in_b, oy, ox, col, 1, 2, tmp);
                if (++ox == p->out_w) {
                    ox = 0;
                    ++oy;
                }
                uaot_gemm_block(p, col, w, G, 2, w16, out_b + (size_t)pix * out_c, out_b + (size_t)(pix + 1) * out_c);
            }
        }
        for (; pix < npix; ++pix) {
            uaot_im2col_s16(p, in_b, oy, ox, col, 0, 1, tmp);
            if (++ox == p->out_w) {
                ox = 0;
                ++oy;
            }
            uaot_gemm_block(p, col, w, G, 1, w16, out_b + (size_t)pix * out_c, NULL);
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_conv2d_s8_gemm_c1(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                     int8_t *output, uint8_t *scratch)
{
    return uaot_conv_gemm(p, input, filter, output, scratch, 1, 0);
}

uaot_status_t uaot_conv2d_s8_gemm_c2(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                     int8_t *output, uint8_t *scratch)
{
    return uaot_conv_gemm(p, input, filter, output, scratch, 2, 0);
}

uaot_status_t uaot_conv2d_s8_gemm_c1_w16(const uaot_conv_s8_params_t *p, const int8_t *input,
                                         const int8_t *filter, int8_t *output, uint8_t *scratch)
{
    return uaot_conv_gemm(p, input, filter, output, scratch, 1, 1);
}

uaot_status_t uaot_conv2d_s8_gemm_c2_w16(const uaot_conv_s8_params_t *p, const int8_t *input,
                                         const int8_t *filter, int8_t *output, uint8_t *scratch)
{
    return uaot_conv_gemm(p, input, filter, output, scratch, 2, 1);
}

uaot_status_t uaot_depthwise_conv2d_s8_simd4(const uaot_conv_s8_params_t *p, const int8_t *input,
                                             const int8_t *filter, int8_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->depth_mult != 1 ||
        ((uintptr_t)filter & 3u) != 0u) {
        return UAOT_ERR_ARG;
    }
    const int32_t C = p->in_c;
    const int32_t G4 = C / 4;
    const int32_t taps = p->k_h * p->k_w;
    const uint32_t *wp = (const uint32_t *)(const void *)filter;
    const int32_t zp = -p->input_offset;
    const uint32_t zw = uaot_sxtb16(uaot_splat8(zp));
    const int32_t off = p->output_offset, lo = p->act_min, hi = p->act_max;
    const size_t row_stride = (size_t)p->in_w * C;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + (size_t)b * p->in_h * row_stride;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int y_in = iy0 >= 0 && iy0 + (p->k_h - 1) * p->dil_h < p->in_h;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int interior = y_in && ix0 >= 0 && ix0 + (p->k_w - 1) * p->dil_w < p->in_w;
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * C;
                for (int32_t g = 0; g < G4; ++g) {
                    int32_t a0 = p->bias[4 * g], a1 = p->bias[4 * g + 1];
                    int32_t a2 = p->bias[4 * g + 2], a3 = p->bias[4 * g + 3];
                    const uint32_t *wg = wp + (size_t)g * taps * 2;
                    if (interior) {
                        const int8_t *base = in_b + (size_t)iy0 * row_stride + (size_t)ix0 * C + 4 * g;
                        for (int32_t ky = 0; ky < p->k_h; ++ky) {
                            const int8_t *src = base + (size_t)ky * p->dil_h * row_stride;
                            for (int32_t kx = 0; kx < p->k_w; ++kx) {
                                const uint32_t v = uaot_ld32(src);
                                const uint32_t xa = uaot_sxtb16(v), xb = uaot_sxtb16_r8(v);
                                const uint32_t wa = wg[0], wb = wg[1];
                                wg += 2;
                                a0 = uaot_smlabb(xa, wa, a0);
                                a2 = uaot_smlatt(xa, wa, a2);
                                a1 = uaot_smlabb(xb, wb, a1);
                                a3 = uaot_smlatt(xb, wb, a3);
                                src += (size_t)p->dil_w * C;
                            }
                        }
                    } else {
                        for (int32_t ky = 0; ky < p->k_h; ++ky) {
                            const int32_t iy = iy0 + ky * p->dil_h;
                            for (int32_t kx = 0; kx < p->k_w; ++kx) {
                                const int32_t ix = ix0 + kx * p->dil_w;
                                uint32_t xa = zw, xb = zw;
                                if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                                    const uint32_t v = uaot_ld32(in_b + (size_t)iy * row_stride + (size_t)ix * C + 4 * g);
                                    xa = uaot_sxtb16(v);
                                    xb = uaot_sxtb16_r8(v);
                                }
                                const uint32_t wa = wg[0], wb = wg[1];
                                wg += 2;
                                a0 = uaot_smlabb(xa, wa, a0);
                                a2 = uaot_smlatt(xa, wa, a2);
                                a1 = uaot_smlabb(xb, wb, a1);
                                a3 = uaot_smlatt(xb, wb, a3);
                            }
                        }
                    }
                    const int32_t c0 = 4 * g;
                    out[c0] = uaot_requant_out(a0, p->mult[c0], p->shift[c0], off, lo, hi);
                    out[c0 + 1] = uaot_requant_out(a1, p->mult[c0 + 1], p->shift[c0 + 1], off, lo, hi);
                    out[c0 + 2] = uaot_requant_out(a2, p->mult[c0 + 2], p->shift[c0 + 2], off, lo, hi);
                    out[c0 + 3] = uaot_requant_out(a3, p->mult[c0 + 3], p->shift[c0 + 3], off, lo, hi);
                }
                for (int32_t c = 4 * G4; c < C; ++c) {
                    const int32_t j = c - 4 * G4;
                    const uint32_t *wg = wp + ((size_t)G4 * taps) * 2 + (j & 1);
                    int32_t acc = p->bias[c];
                    for (int32_t ky = 0; ky < p->k_h; ++ky) {
                        const int32_t iy = iy0 + ky * p->dil_h;
                        for (int32_t kx = 0; kx < p->k_w; ++kx) {
                            const int32_t ix = ix0 + kx * p->dil_w;
                            int32_t x = zp;
                            if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                                x = in_b[(size_t)iy * row_stride + (size_t)ix * C + c];
                            }
                            const uint32_t wv = wg[0];
                            wg += 2;
                            const int32_t wt = (int32_t)(int16_t)(uint16_t)((j & 2) ? (wv >> 16) : (wv & 0xFFFFu));
                            acc += x * wt;
                        }
                    }
                    out[c] = uaot_requant_out(acc, p->mult[c], p->shift[c], off, lo, hi);
                }
            }
        }
    }
    return UAOT_OK;
}
