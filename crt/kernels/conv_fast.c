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

/* the parameters the inner loops use, as locals: int8 output stores may alias anything, so reading
 * them through p would reload every field after each store */
typedef struct {
    const int32_t *bias, *mult, *shift;
    int32_t out_c, off, lo, hi;
} uaot_rq_t;

UAOT_INLINE int8_t uaot_rq(int32_t acc, int32_t m, int32_t l, int32_t r, int32_t off, int32_t lo, int32_t hi)
{
    int32_t v = uaot_mbqm_lr(acc, m, l, r) + off;
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* all output channels of nc (1|2) pixels whose columns are in col */
UAOT_INLINE void uaot_gemm_block(const uaot_rq_t q, const uint32_t *col, const uint32_t *w, int32_t G,
                                 const int nc, const int w16, int8_t *out0, int8_t *out1)
{
    const int32_t out_c = q.out_c;
    int32_t oc = 0;
    for (; oc + 2 <= out_c; oc += 2) {
        const int32_t b0 = q.bias[oc], b1 = q.bias[oc + 1];
        int32_t a00 = b0, a10 = b1, a01 = b0, a11 = b1;
        const uint32_t *c = col;
        const uint32_t *const cend = col + (size_t)G * 2 * nc;
#if UAOT_HAVE_DSP
        if (nc == 2) {
            /* 2 rows x 2 pixels per group of 4 k: 16 MACs in 17 (int8 weights) / 14 (w16) instructions */
            uint32_t t0, t1, wa0, wa1, xa, xb;
            if (w16) {
                __asm__ volatile("1:\n\t"
                                 "ldrd %[wa0], %[t0], [%[w]], #8\n\t"
                                 "ldrd %[wa1], %[t1], [%[w]], #8\n\t"
                                 "ldrd %[xa], %[xb], [%[c]], #8\n\t"
                                 "smlad %[a00], %[wa0], %[xa], %[a00]\n\t"
                                 "smlad %[a00], %[t0], %[xb], %[a00]\n\t"
                                 "smlad %[a10], %[wa1], %[xa], %[a10]\n\t"
                                 "smlad %[a10], %[t1], %[xb], %[a10]\n\t"
                                 "ldrd %[xa], %[xb], [%[c]], #8\n\t"
                                 "smlad %[a01], %[wa0], %[xa], %[a01]\n\t"
                                 "smlad %[a01], %[t0], %[xb], %[a01]\n\t"
                                 "smlad %[a11], %[wa1], %[xa], %[a11]\n\t"
                                 "smlad %[a11], %[t1], %[xb], %[a11]\n\t"
                                 "cmp %[c], %[ce]\n\t"
                                 "bne 1b\n\t"
                                 : [a00] "+r"(a00), [a10] "+r"(a10), [a01] "+r"(a01), [a11] "+r"(a11), [c] "+r"(c),
                                   [w] "+r"(w), [t0] "=&r"(t0), [t1] "=&r"(t1), [wa0] "=&r"(wa0), [wa1] "=&r"(wa1),
                                   [xa] "=&r"(xa), [xb] "=&r"(xb)
                                 : [ce] "r"(cend)
                                 : "cc", "memory");
            } else {
                __asm__ volatile("1:\n\t"
                                 "ldrd %[t0], %[t1], [%[w]], #8\n\t"
                                 "sxtb16 %[wa0], %[t0]\n\t"
                                 "sxtb16 %[t0], %[t0], ror #8\n\t"
                                 "sxtb16 %[wa1], %[t1]\n\t"
                                 "sxtb16 %[t1], %[t1], ror #8\n\t"
                                 "ldrd %[xa], %[xb], [%[c]], #8\n\t"
                                 "smlad %[a00], %[wa0], %[xa], %[a00]\n\t"
                                 "smlad %[a00], %[t0], %[xb], %[a00]\n\t"
                                 "smlad %[a10], %[wa1], %[xa], %[a10]\n\t"
                                 "smlad %[a10], %[t1], %[xb], %[a10]\n\t"
                                 "ldrd %[xa], %[xb], [%[c]], #8\n\t"
                                 "smlad %[a01], %[wa0], %[xa], %[a01]\n\t"
                                 "smlad %[a01], %[t0], %[xb], %[a01]\n\t"
                                 "smlad %[a11], %[wa1], %[xa], %[a11]\n\t"
                                 "smlad %[a11], %[t1], %[xb], %[a11]\n\t"
                                 "cmp %[c], %[ce]\n\t"
                                 "bne 1b\n\t"
                                 : [a00] "+r"(a00), [a10] "+r"(a10), [a01] "+r"(a01), [a11] "+r"(a11), [c] "+r"(c),
                                   [w] "+r"(w), [t0] "=&r"(t0), [t1] "=&r"(t1), [wa0] "=&r"(wa0), [wa1] "=&r"(wa1),
                                   [xa] "=&r"(xa), [xb] "=&r"(xb)
                                 : [ce] "r"(cend)
                                 : "cc", "memory");
            }
        }
#endif
        while (c != cend) {
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
        const int32_t s0 = q.shift[oc], s1 = q.shift[oc + 1];
        const int32_t m0 = q.mult[oc], l0 = s0 > 0 ? s0 : 0, r0 = s0 > 0 ? 0 : -s0;
        const int32_t m1 = q.mult[oc + 1], l1 = s1 > 0 ? s1 : 0, r1 = s1 > 0 ? 0 : -s1;
        out0[oc] = uaot_rq(a00, m0, l0, r0, q.off, q.lo, q.hi);
        out0[oc + 1] = uaot_rq(a10, m1, l1, r1, q.off, q.lo, q.hi);
        if (nc == 2) {
            out1[oc] = uaot_rq(a01, m0, l0, r0, q.off, q.lo, q.hi);
            out1[oc + 1] = uaot_rq(a11, m1, l1, r1, q.off, q.lo, q.hi);
        }
    }
    if (oc < out_c) {
        int32_t a0 = q.bias[oc], a1 = q.bias[oc];
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
        out0[oc] = uaot_requant_out(a0, q.mult[oc], q.shift[oc], q.off, q.lo, q.hi);
        if (nc == 2) {
            out1[oc] = uaot_requant_out(a1, q.mult[oc], q.shift[oc], q.off, q.lo, q.hi);
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
    const uaot_rq_t q = {p->bias, p->mult, p->shift, p->out_c, p->output_offset, p->act_min, p->act_max};
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
                uaot_gemm_block(q, col, w, G, 2, w16, out_b + (size_t)pix * out_c, out_b + (size_t)(pix + 1) * out_c);
            }
        }
        for (; pix < npix; ++pix) {
            uaot_im2col_s16(p, in_b, oy, ox, col, 0, 1, tmp);
            if (++ox == p->out_w) {
                ox = 0;
                ++oy;
            }
            uaot_gemm_block(q, col, w, G, 1, w16, out_b + (size_t)pix * out_c, NULL);
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

#define UAOT_DW_TAP(src, wg, a0, a1, a2, a3)                                                                  \
    do {                                                                                                       \
        const uint32_t v_ = uaot_ld32(src);                                                                    \
        const uint32_t xa_ = uaot_sxtb16(v_), xb_ = uaot_sxtb16_r8(v_);                                        \
        const uint32_t wa_ = (wg)[0], wb_ = (wg)[1];                                                           \
        (a0) = uaot_smlabb(xa_, wa_, (a0));                                                                    \
        (a2) = uaot_smlatt(xa_, wa_, (a2));                                                                    \
        (a1) = uaot_smlabb(xb_, wb_, (a1));                                                                    \
        (a3) = uaot_smlatt(xb_, wb_, (a3));                                                                    \
    } while (0)

uaot_status_t uaot_depthwise_conv2d_s8_simd4(const uaot_conv_s8_params_t *p, const int8_t *input,
                                             const int8_t *filter, int8_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->depth_mult != 1 ||
        ((uintptr_t)filter & 3u) != 0u) {
        return UAOT_ERR_ARG;
    }
    /* everything as locals (int8 stores below may alias *p) */
    const int32_t C = p->in_c, G4 = p->in_c / 4;
    const int32_t k_h = p->k_h, k_w = p->k_w, taps = p->k_h * p->k_w;
    const int32_t in_h = p->in_h, in_w = p->in_w, out_h = p->out_h, out_w = p->out_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w, dil_h = p->dil_h, dil_w = p->dil_w;
    const int32_t pad_top = p->pad_top, pad_left = p->pad_left, batches = p->batches;
    const int32_t *const bias = p->bias, *const mult = p->mult, *const shift = p->shift;
    const uint32_t *wp = (const uint32_t *)(const void *)filter;
    const int32_t zp = -p->input_offset;
    const uint32_t zw = uaot_sxtb16(uaot_splat8(zp));
    const int32_t off = p->output_offset, lo = p->act_min, hi = p->act_max;
    const int32_t rs = in_w * C;           /* input row stride */
    const int32_t dy = dil_h * rs, dx = dil_w * C;
    const int is3x3 = k_h == 3 && k_w == 3;
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *in_b = input + (size_t)b * in_h * rs;
        int8_t *out = output + (size_t)b * out_h * out_w * C;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * stride_h - pad_top;
            const int y_in = iy0 >= 0 && iy0 + (k_h - 1) * dil_h < in_h;
            for (int32_t ox = 0; ox < out_w; ++ox, out += C) {
                const int32_t ix0 = ox * stride_w - pad_left;
                const int interior = y_in && ix0 >= 0 && ix0 + (k_w - 1) * dil_w < in_w;
                const int8_t *base = in_b + iy0 * rs + ix0 * C;
                const uint32_t *wg = wp;
                for (int32_t g = 0; g < G4; ++g) {
                    const int32_t c0 = 4 * g;
                    int32_t a0 = bias[c0], a1 = bias[c0 + 1], a2 = bias[c0 + 2], a3 = bias[c0 + 3];
                    if (interior && is3x3) {
                        const int8_t *s0 = base + c0;
                        UAOT_DW_TAP(s0, wg, a0, a1, a2, a3);
                        UAOT_DW_TAP(s0 + dx, wg + 2, a0, a1, a2, a3);
                        UAOT_DW_TAP(s0 + 2 * dx, wg + 4, a0, a1, a2, a3);
                        s0 += dy;
                        UAOT_DW_TAP(s0, wg + 6, a0, a1, a2, a3);
                        UAOT_DW_TAP(s0 + dx, wg + 8, a0, a1, a2, a3);
                        UAOT_DW_TAP(s0 + 2 * dx, wg + 10, a0, a1, a2, a3);
                        s0 += dy;
                        UAOT_DW_TAP(s0, wg + 12, a0, a1, a2, a3);
                        UAOT_DW_TAP(s0 + dx, wg + 14, a0, a1, a2, a3);
                        UAOT_DW_TAP(s0 + 2 * dx, wg + 16, a0, a1, a2, a3);
                        wg += 18;
                    } else if (interior) {
                        const int8_t *row = base + c0;
                        for (int32_t ky = 0; ky < k_h; ++ky, row += dy) {
                            const int8_t *src = row;
                            for (int32_t kx = 0; kx < k_w; ++kx, src += dx, wg += 2) {
                                UAOT_DW_TAP(src, wg, a0, a1, a2, a3);
                            }
                        }
                    } else {
                        for (int32_t ky = 0; ky < k_h; ++ky) {
                            const int32_t iy = iy0 + ky * dil_h;
                            for (int32_t kx = 0; kx < k_w; ++kx, wg += 2) {
                                const int32_t ix = ix0 + kx * dil_w;
                                uint32_t xa = zw, xb = zw;
                                if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
                                    const uint32_t v = uaot_ld32(in_b + iy * rs + ix * C + c0);
                                    xa = uaot_sxtb16(v);
                                    xb = uaot_sxtb16_r8(v);
                                }
                                const uint32_t wa = wg[0], wb = wg[1];
                                a0 = uaot_smlabb(xa, wa, a0);
                                a2 = uaot_smlatt(xa, wa, a2);
                                a1 = uaot_smlabb(xb, wb, a1);
                                a3 = uaot_smlatt(xb, wb, a3);
                            }
                        }
                    }
                    out[c0] = uaot_requant_out(a0, mult[c0], shift[c0], off, lo, hi);
                    out[c0 + 1] = uaot_requant_out(a1, mult[c0 + 1], shift[c0 + 1], off, lo, hi);
                    out[c0 + 2] = uaot_requant_out(a2, mult[c0 + 2], shift[c0 + 2], off, lo, hi);
                    out[c0 + 3] = uaot_requant_out(a3, mult[c0 + 3], shift[c0 + 3], off, lo, hi);
                }
                for (int32_t c = 4 * G4; c < C; ++c) {
                    const int32_t j = c - 4 * G4;
                    const uint32_t *wc = wp + (size_t)G4 * taps * 2 + (j & 1);
                    int32_t acc = bias[c];
                    for (int32_t ky = 0; ky < k_h; ++ky) {
                        const int32_t iy = iy0 + ky * dil_h;
                        for (int32_t kx = 0; kx < k_w; ++kx, wc += 2) {
                            const int32_t ix = ix0 + kx * dil_w;
                            int32_t x = zp;
                            if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
                                x = in_b[iy * rs + ix * C + c];
                            }
                            const uint32_t wv = wc[0];
                            const int32_t wt = (int32_t)(int16_t)(uint16_t)((j & 2) ? (wv >> 16) : (wv & 0xFFFFu));
                            acc += x * wt;
                        }
                    }
                    out[c] = uaot_requant_out(acc, mult[c], shift[c], off, lo, hi);
                }
            }
        }
    }
    return UAOT_OK;
}
