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

#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
/* The expand asm takes the column stride in bytes as an immediate (STRD post-increment): the word
 * steps 2, 4 and 6 of the 1-, 2- and 3-pixel blocks, dispatched to M(8), M(16) or M(24). */
#define UAOT_EXPAND_STEP_OK(step) ((step) == 2 || (step) == 4 || (step) == 6)
#define UAOT_EXPAND_BY_STEP(step, M) \
    do {                             \
        if ((step) == 2) {           \
            M(8);                    \
        } else if ((step) == 4) {    \
            M(16);                   \
        } else {                     \
            M(24);                   \
        }                            \
    } while (0)
#endif

/* n groups of 4 contiguous int8 at src to int16 column words (x0,x2), (x1,x3) at dst[0], dst[1]; dst += step
 * per group. Returns dst after the last group. */
UAOT_INLINE uint32_t *uaot_expand_run(const int8_t *src, uint32_t *dst, int32_t n, const int32_t step)
{
    const int8_t *const end = src + 4 * n;
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
    /* 6 instructions per group: STRD with post-increment by the column stride (an immediate: step is a
     * constant after inlining, 2, 4 or 6) */
#define UAOT_EXPAND_ASM(ST)                                                                       \
    do {                                                                                          \
        uint32_t v, a, b;                                                                         \
        __asm__ volatile("1:\n\t"                                                                 \
                         "ldr %[v], [%[s]], #4\n\t"                                               \
                         "sxtb16 %[a], %[v]\n\t"                                                  \
                         "sxtb16 %[b], %[v], ror #8\n\t"                                          \
                         "strd %[a], %[b], [%[d]], %[st]\n\t"                                     \
                         "cmp %[s], %[e]\n\t"                                                     \
                         "bne 1b\n\t"                                                             \
                         : [v] "=&r"(v), [a] "=&r"(a), [b] "=&r"(b), [s] "+r"(src), [d] "+r"(dst) \
                         : [e] "r"(end), [st] "i"(ST)                                             \
                         : "cc", "memory");                                                       \
    } while (0)
    if (n > 0 && UAOT_EXPAND_STEP_OK(step)) {
        UAOT_EXPAND_BY_STEP(step, UAOT_EXPAND_ASM);
        return dst;
    }
#undef UAOT_EXPAND_ASM
#endif
    while (src != end) {
        const uint32_t v = uaot_ld32(src);
        src += 4;
        dst[0] = uaot_sxtb16(v);
        dst[1] = uaot_sxtb16_r8(v);
        dst += step;
    }
    return dst;
}

/* the 3 columns of pixels at src, src + in_c, src + 2 * in_c (pointwise: G contiguous groups each) */
UAOT_INLINE void uaot_expand3(const int8_t *src, int32_t in_c, uint32_t *col, int32_t G)
{
    const int8_t *const end = src + 4 * G;
    while (src != end) {
        const uint32_t v0 = uaot_ld32(src), v1 = uaot_ld32(src + in_c), v2 = uaot_ld32(src + 2 * in_c);
        src += 4;
        col[0] = uaot_sxtb16(v0);
        col[1] = uaot_sxtb16_r8(v0);
        col[2] = uaot_sxtb16(v1);
        col[3] = uaot_sxtb16_r8(v1);
        col[4] = uaot_sxtb16(v2);
        col[5] = uaot_sxtb16_r8(v2);
        col += 6;
    }
}

/* in_c % 4 != 0: a pixel's K bytes are k_h kernel rows of run = k_w * in_c bytes, q = run / 4 whole groups
 * and r = run % 4 bytes left each. The packed weights take K in the order (codegen/ops/_pack.py
 * gemm_k_order): the whole groups of every row, row by row, then the k_h * r leftover bytes, row by row,
 * zero padded to a group: still Kp / 4 groups (k_h * q + ceil(k_h * r / 4)). So a window inside the input
 * (dil_w == 1) is expanded straight from its k_h input rows; elsewhere it is first gathered (the zero point
 * where padded) into a K-byte row. Geometry computed once per call: */
typedef struct {
    const int8_t *in; /* the batch's input */
    int32_t in_h, in_w, in_c, k_h, k_w, dil_h, dil_w;
    int32_t run;            /* k_w * in_c */
    int32_t rs;             /* input bytes between kernel rows: dil_h * in_w * in_c */
    int32_t span_h;         /* input rows of the window: (k_h - 1) * dil_h + 1 */
    int32_t q, r;           /* run / 4, run % 4 */
    uint32_t zw;            /* the input zero point in every byte */
    int32_t ix_max, iy_max; /* the window is inside the input for 0 <= ix0 <= ix_max, 0 <= iy0 <= iy_max */
    int32_t out_w, stride_w, stride_h, pad_left;
    int32_t ox, iy0, ix0; /* the next output pixel: its column and its window's top left input pixel */
} uaot_gather_t;

/* n bytes of the zero point (zw: in every byte) to t: whole words (unaligned STR on Cortex-M3/M4), then
 * the 0..3 left (no byte loop: gcc would make it a memset call) */
UAOT_INLINE void uaot_fill8(int8_t *t, int32_t n, uint32_t zw)
{
    int32_t k = 0;
    for (; k + 4 <= n; k += 4) {
        memcpy(t + k, &zw, sizeof zw);
    }
    if (n - k >= 2) {
        const uint16_t h = (uint16_t)zw;
        memcpy(t + k, &h, sizeof h);
        k += 2;
    }
    if (n - k >= 1) {
        t[k] = (int8_t)zw;
    }
}

/* n bytes src -> t: whole words, then the 0..3 left */
UAOT_INLINE void uaot_copy8(int8_t *t, const int8_t *src, int32_t n)
{
    int32_t k = 0;
    for (; k + 4 <= n; k += 4) {
        const uint32_t v = uaot_ld32(src + k);
        memcpy(t + k, &v, sizeof v);
    }
    if (n - k >= 2) {
        uint16_t h;
        memcpy(&h, src + k, sizeof h);
        memcpy(t + k, &h, sizeof h);
        k += 2;
    }
    if (n - k >= 1) {
        t[k] = src[k];
    }
}

/* the taps lo .. hi - 1 of a kernel dimension (k taps, dilation d, first input index i0, input size n)
 * that are inside the input */
UAOT_INLINE void uaot_tap_range(int32_t i0, int32_t k, int32_t d, int32_t n, int32_t *lo, int32_t *hi)
{
    int32_t l = 0, h = k;
    if (i0 < 0) {
        l = (-i0 + d - 1) / d;
        l = l > k ? k : l;
    }
    if (i0 + (k - 1) * d >= n) {
        h = i0 >= n ? 0 : (n - 1 - i0) / d + 1;
    }
    *lo = l;
    *hi = h < l ? l : h;
}

/* the window at input (iy0, ix0), not all inside the input (or dil_w > 1), to t: K bytes, kernel row after
 * kernel row (natural order), the zero point where padded; then expanded like a window inside the input
 * (uaot_expand_rows with row stride run) */
static void uaot_gather_s8(const uaot_gather_t *g, int32_t iy0, int32_t ix0, int8_t *t)
{
    const int32_t run = g->run, in_c = g->in_c, dil_w = g->dil_w;
    int32_t ky_lo, ky_hi, kx_lo, kx_hi;
    uaot_tap_range(iy0, g->k_h, g->dil_h, g->in_h, &ky_lo, &ky_hi);
    uaot_tap_range(ix0, g->k_w, dil_w, g->in_w, &kx_lo, &kx_hi);
    uaot_fill8(t, g->k_h * run, g->zw);
    /* then the taps inside the input: rows ky_lo .. ky_hi - 1, bytes kx_lo * in_c .. kx_hi * in_c - 1 */
    const int32_t n = (kx_hi - kx_lo) * in_c;
    if (n == 0 || ky_hi == ky_lo) {
        return;
    }
    const int8_t *src = g->in + ((iy0 + ky_lo * g->dil_h) * g->in_w + ix0 + kx_lo * dil_w) * in_c;
    int8_t *d = t + ky_lo * run + kx_lo * in_c;
    for (int32_t ky = ky_lo; ky < ky_hi; ++ky, src += g->rs, d += run) {
        if (dil_w == 1) {
            uaot_copy8(d, src, n);
            continue;
        }
        for (int32_t kx = 0; kx < kx_hi - kx_lo; ++kx) {
            for (int32_t c = 0; c < in_c; ++c) {
                d[kx * in_c + c] = src[kx * dil_w * in_c + c];
            }
        }
    }
}

#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
/* the q >= 1 whole groups of each of the n >= 1 kernel rows at s (rs bytes apart) to dst, ST bytes between
 * groups' words: 6 instructions per group, 4 per row */
#define UAOT_EXPAND_ROWS_ASM(ST)                                                                                   \
    do {                                                                                                           \
        uint32_t v_, a_, b_;                                                                                       \
        const int8_t *e_;                                                                                          \
        int32_t n_ = k_h;                                                                                          \
        __asm__ volatile(                                                                                          \
            "1:\n\t"                                                                                               \
            "add %[e], %[s], %[q4]\n\t"                                                                            \
            "2:\n\t"                                                                                               \
            "ldr %[v], [%[s]], #4\n\t"                                                                             \
            "sxtb16 %[a], %[v]\n\t"                                                                                \
            "sxtb16 %[b], %[v], ror #8\n\t"                                                                        \
            "strd %[a], %[b], [%[d]], %[st]\n\t"                                                                   \
            "cmp %[s], %[e]\n\t"                                                                                   \
            "bne 2b\n\t"                                                                                           \
            "add %[s], %[s], %[rsq]\n\t"                                                                           \
            "subs %[n], %[n], #1\n\t"                                                                              \
            "bne 1b\n\t"                                                                                           \
            : [v] "=&r"(v_), [a] "=&r"(a_), [b] "=&r"(b_), [e] "=&r"(e_), [s] "+r"(s), [d] "+r"(dst), [n] "+r"(n_) \
            : [q4] "r"(4 * q), [rsq] "r"(rs - 4 * q), [st] "i"(ST)                                                 \
            : "cc", "memory");                                                                                     \
    } while (0)
#endif

/* the k_h kernel rows of a window inside the input at src (rs bytes apart) to int16 columns at dst (step
 * words per group) in the packed K order (above): the whole groups, then the leftover bytes */
UAOT_INLINE void uaot_expand_rows(const uaot_gather_t *g, const int8_t *src, int32_t rs, uint32_t *dst,
                                  const int32_t step)
{
    const int32_t q = g->q, r = g->r, k_h = g->k_h;
    const int8_t *s = src;
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
    if (q > 0 && UAOT_EXPAND_STEP_OK(step)) {
        UAOT_EXPAND_BY_STEP(step, UAOT_EXPAND_ROWS_ASM);
    } else
#endif
    {
        for (int32_t ky = 0; ky < k_h; ++ky, s += rs) {
            dst = uaot_expand_run(s, dst, q, step);
        }
    }
    if (r == 0) {
        return;
    }
    s = src + 4 * q;
    if (r == 1 && k_h == 3) { /* 3x3 kernels, in_c 1 (k_w 1, 5, ...) or 3: one group, zero padded */
        const uint32_t v = (uint32_t)(uint8_t)s[0] | (uint32_t)(uint8_t)s[rs] << 8 | (uint32_t)(uint8_t)s[2 * rs] << 16;
        dst[0] = uaot_sxtb16(v);
        dst[1] = uaot_sxtb16_r8(v);
        return;
    }
    /* the k_h * r leftover bytes, 4 to a group (little-endian word), the last group zero padded */
    uint32_t v = 0u;
    int32_t sh = 0;
    for (int32_t ky = 0; ky < k_h; ++ky, s += rs) {
        for (int32_t i = 0; i < r; ++i) {
            v |= (uint32_t)(uint8_t)s[i] << sh;
            sh += 8;
            if (sh == 32) {
                dst[0] = uaot_sxtb16(v);
                dst[1] = uaot_sxtb16_r8(v);
                dst += step;
                v = 0u;
                sh = 0;
            }
        }
    }
    if (sh != 0) {
        dst[0] = uaot_sxtb16(v);
        dst[1] = uaot_sxtb16_r8(v);
    }
}

/* g for the input in_b of p, its walk at output pixel pix */
static void uaot_gather_init(uaot_gather_t *g, const uaot_conv_s8_params_t *p, const int8_t *in_b, int32_t pix)
{
    const int32_t in_c = p->in_c, run = p->k_w * in_c, span_h = (p->k_h - 1) * p->dil_h + 1;
    const int32_t oy = pix / p->out_w, ox = pix - oy * p->out_w;
    const uaot_gather_t v = {in_b,
                             p->in_h,
                             p->in_w,
                             in_c,
                             p->k_h,
                             p->k_w,
                             p->dil_h,
                             p->dil_w,
                             run,
                             p->dil_h * p->in_w * in_c,
                             span_h,
                             run / 4,
                             run % 4,
                             uaot_splat8(-p->input_offset),
                             p->dil_w == 1 ? p->in_w - p->k_w : -1,
                             p->in_h - span_h,
                             p->out_w,
                             p->stride_w,
                             p->stride_h,
                             p->pad_left,
                             ox,
                             oy * p->stride_h - p->pad_top,
                             ox * p->stride_w - p->pad_left};
    *g = v;
}

/* the columns of the next nc pixels of g's walk (in_c % 4 != 0), step = 2 * nc; advances the walk */
UAOT_INLINE void uaot_im2col_g(uaot_gather_t *g, uint32_t *col, const int32_t nc, int8_t *tmp)
{
    const int32_t step = 2 * nc;
    int32_t ox = g->ox, iy0 = g->iy0, ix0 = g->ix0;
    for (int32_t j = 0; j < nc; ++j) {
        uint32_t *const dst = col + 2 * j;
        if (ix0 >= 0 && ix0 <= g->ix_max && iy0 >= 0 && iy0 <= g->iy_max) {
            uaot_expand_rows(g, g->in + (iy0 * g->in_w + ix0) * g->in_c, g->rs, dst, step);
        } else {
            uaot_gather_s8(g, iy0, ix0, tmp);
            if (g->r == 0) { /* the natural order is the packed order */
                (void)uaot_expand_run(tmp, dst, g->k_h * g->q, step);
            } else {
                uaot_expand_rows(g, tmp, g->run, dst, step);
            }
        }
        ix0 += g->stride_w;
        if (++ox == g->out_w) {
            ox = 0;
            ix0 = -g->pad_left;
            iy0 += g->stride_h;
        }
    }
    g->ox = ox;
    g->iy0 = iy0;
    g->ix0 = ix0;
}

static void uaot_im2col_g1(uaot_gather_t *g, uint32_t *col, int8_t *tmp)
{
    uaot_im2col_g(g, col, 1, tmp);
}

static void uaot_im2col_g2(uaot_gather_t *g, uint32_t *col, int8_t *tmp)
{
    uaot_im2col_g(g, col, 2, tmp);
}

static void uaot_im2col_g3(uaot_gather_t *g, uint32_t *col, int8_t *tmp)
{
    uaot_im2col_g(g, col, 3, tmp);
}

/* in_c % 4 == 0: column j (of nc) of the int16 im2col block for output pixel (oy, ox): word
 * (x[4g],x[4g+2]) at col[g*2*nc + 2*j], (x[4g+1],x[4g+3]) right after it (in_c % 4 != 0: uaot_im2col_g). */
UAOT_INLINE void uaot_im2col_s16(const uaot_conv_s8_params_t *p, const int8_t *in_b, int32_t oy, int32_t ox,
                                 uint32_t *col, int32_t j, const int32_t nc)
{
    const int32_t step = 2 * nc;
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    uint32_t *dst = col + 2 * j;
    const int32_t in_c = p->in_c;
    const int32_t zp = -p->input_offset;
    const uint32_t zw = uaot_sxtb16(uaot_splat8(zp));
    const int32_t gpt = in_c / 4; /* groups per tap */
    /* dil_w == 1 and the whole kernel row inside the input: k_w * in_c contiguous bytes */
    const int x_in = p->dil_w == 1 && ix0 >= 0 && ix0 + p->k_w - 1 < p->in_w;
    for (int32_t ky = 0; ky < p->k_h; ++ky) {
        const int32_t iy = iy0 + ky * p->dil_h;
        if (x_in && iy >= 0 && iy < p->in_h) {
            dst = uaot_expand_run(in_b + ((int32_t)iy * p->in_w + ix0) * in_c, dst, p->k_w * gpt, step);
            continue;
        }
        for (int32_t kx = 0; kx < p->k_w; ++kx) {
            const int32_t ix = ix0 + kx * p->dil_w;
            if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                dst = uaot_expand_run(in_b + ((int32_t)iy * p->in_w + ix) * in_c, dst, gpt, step);
            } else {
                for (int32_t c = 0; c < in_c; c += 4) {
                    dst[0] = zw;
                    dst[1] = zw;
                    dst += step;
                }
            }
        }
    }
}

/* requantize n accumulators into n int8 outputs: the SMMULR path when the generator emitted the rq
 * table (see conv.h), the exact double-rounding path otherwise */
static void uaot_requant_row(const int32_t *acc, int32_t n, const int32_t *rq, const int32_t *mult,
                             const int32_t *shift, int32_t off, int32_t lo, int32_t hi, int8_t *out)
{
    if (rq != NULL) {
#if UAOT_HAVE_DSP
        if (lo == -128 && hi == 127 && n > 0) {
            /* 10.5 instructions per output: 2 outputs per iteration, the 4-word rq row in one LDM
             * (fixed ascending registers, as LDM needs) */
            if (n & 1) {
                *out++ = uaot_sat8(uaot_rq_smmulr(*acc++, rq));
                rq += 4;
            }
            const int8_t *const end = out + (n & ~(int32_t)1);
            if (out != end) {
                register int32_t m __asm__("r4");
                register int32_t l1 __asm__("r5");
                register int32_t r __asm__("r6");
                register int32_t bias __asm__("r8");
                int32_t x0, x1;
                __asm__ volatile("1:\n\t"
                                 "ldrd %[x0], %[x1], [%[acc]], #8\n\t"
                                 "ldmia %[rq]!, {%[m], %[l1], %[r], %[bias]}\n\t"
                                 "lsl %[x0], %[x0], %[l1]\n\t"
                                 "smmulr %[x0], %[x0], %[m]\n\t"
                                 "add %[m], %[x0], %[bias]\n\t"
                                 "add %[m], %[m], %[x0], asr #31\n\t"
                                 "asr %[m], %[m], %[r]\n\t"
                                 "ssat %[m], #8, %[m]\n\t"
                                 "strb %[m], [%[out]], #1\n\t"
                                 "ldmia %[rq]!, {%[m], %[l1], %[r], %[bias]}\n\t"
                                 "lsl %[x1], %[x1], %[l1]\n\t"
                                 "smmulr %[x1], %[x1], %[m]\n\t"
                                 "add %[m], %[x1], %[bias]\n\t"
                                 "add %[m], %[m], %[x1], asr #31\n\t"
                                 "asr %[m], %[m], %[r]\n\t"
                                 "ssat %[m], #8, %[m]\n\t"
                                 "strb %[m], [%[out]], #1\n\t"
                                 "cmp %[out], %[end]\n\t"
                                 "bne 1b\n\t"
                                 : [x0] "=&r"(x0), [x1] "=&r"(x1), [m] "=&r"(m), [l1] "=&r"(l1), [r] "=&r"(r),
                                   [bias] "=&r"(bias), [acc] "+r"(acc), [rq] "+r"(rq), [out] "+r"(out)
                                 : [end] "r"(end)
                                 : "cc", "memory");
            }
            return;
        }
#endif
        if (lo == -128 && hi == 127) {
            for (int32_t i = 0; i < n; ++i, rq += 4) {
                out[i] = uaot_sat8(uaot_rq_smmulr(acc[i], rq));
            }
        } else {
            for (int32_t i = 0; i < n; ++i, rq += 4) {
                out[i] = uaot_clamp8(uaot_rq_smmulr(acc[i], rq), lo, hi);
            }
        }
        return;
    }
    for (int32_t i = 0; i < n; ++i) {
        out[i] = uaot_requant_out(acc[i], mult[i], shift[i], off, lo, hi);
    }
}

#if UAOT_HAVE_DSP
/* One group of 4 k for 2 rows (accumulators a?0 / a?1 below) x 1, 2 or 3 pixels: load the two rows'
 * weights once (int8: LDRD + 4 SXTB16; w16: 2 LDRD, or one LDMIA where the registers are pinned), then per
 * pixel one LDRD of its int16 column pair and 4 SMLAD. 2 x 3 pixels: 24 MACs in 20 instructions (w16: 16),
 * 14 registers: the 13 operands are pinned (explicit register variables, never r7) and the asm saves r7
 * itself and uses it for the 6th accumulator, so this builds with or without a frame pointer; the loop
 * bound and that accumulator live in memory outside the asm. */
#define UAOT_GEMM_W_I8                  \
    "ldrd %[t0], %[t1], [%[w]], #8\n\t" \
    "sxtb16 %[wa0], %[t0]\n\t"          \
    "sxtb16 %[t0], %[t0], ror #8\n\t"   \
    "sxtb16 %[wa1], %[t1]\n\t"          \
    "sxtb16 %[t1], %[t1], ror #8\n\t"
#define UAOT_GEMM_W_I16                  \
    "ldrd %[wa0], %[t0], [%[w]], #8\n\t" \
    "ldrd %[wa1], %[t1], [%[w]], #8\n\t"
/* the same with the pinned registers of the cols=3 loops (wa0, t0, wa1, t1 = r8..r11): one LDMIA */
#define UAOT_GEMM_W_I16_LDM "ldmia %[w]!, {%[wa0], %[t0], %[wa1], %[t1]}\n\t"
#define UAOT_GEMM23_X(A0, A1)                 \
    "ldrd %[xa], %[xb], [%[c]], #8\n\t"       \
    "smlad " A0 ", %[wa0], %[xa], " A0 "\n\t" \
    "smlad " A0 ", %[t0], %[xb], " A0 "\n\t"  \
    "smlad " A1 ", %[wa1], %[xa], " A1 "\n\t" \
    "smlad " A1 ", %[t1], %[xb], " A1 "\n\t"
#define UAOT_GEMM21_XS UAOT_GEMM23_X("%[a00]", "%[a10]")
#define UAOT_GEMM22_XS UAOT_GEMM21_XS UAOT_GEMM23_X("%[a01]", "%[a11]")
#define UAOT_GEMM23_XS UAOT_GEMM22_XS UAOT_GEMM23_X("%[a02]", "r7")
#define UAOT_GEMM21_I8 UAOT_GEMM_W_I8 UAOT_GEMM21_XS
#define UAOT_GEMM21_I16 UAOT_GEMM_W_I16 UAOT_GEMM21_XS
#define UAOT_GEMM22_I8 UAOT_GEMM_W_I8 UAOT_GEMM22_XS
#define UAOT_GEMM22_I16 UAOT_GEMM_W_I16 UAOT_GEMM22_XS
#define UAOT_GEMM23_I8 UAOT_GEMM_W_I8 UAOT_GEMM23_XS
#define UAOT_GEMM23_I16 UAOT_GEMM_W_I16_LDM UAOT_GEMM23_XS
/* G groups (odd: enter the x2 loop in its second half) */
#define UAOT_GEMM23_LOOP(GROUP)                             \
    "ldr %[xa], %[oddm]\n\t"                                \
    "cmp %[xa], #0\n\t"                                     \
    "ldr %[xa], %[ce]\n\t"                                  \
    "ldr %[xb], %[a12m]\n\t"                                \
    "push {%[xa]}\n\t"                                      \
    "push {r7}\n\t"                                         \
    "mov r7, %[xb]\n\t"                                     \
    "bne 2f\n\t"                                            \
    "1:\n\t" GROUP "2:\n\t" GROUP "ldr %[xa], [sp, #4]\n\t" \
    "cmp %[c], %[xa]\n\t"                                   \
    "bne 1b\n\t"                                            \
    "mov %[xa], r7\n\t"                                     \
    "pop {r7}\n\t"                                          \
    "add sp, sp, #4\n\t"                                    \
    "str %[xa], %[a12m]\n\t"
#define UAOT_GEMM23_OPERANDS                                                                         \
    : [a00] "+r"(r_a00), [a10] "+r"(r_a10), [a01] "+r"(r_a01), [a11] "+r"(r_a11), [a02] "+r"(r_a02),          \
      [a12m] "+m"(a12), [c] "+r"(r_c), [w] "+r"(r_w), [t0] "=&r"(r_t0), [t1] "=&r"(r_t1),                     \
      [wa0] "=&r"(r_wa0), [wa1] "=&r"(r_wa1), [xa] "=&r"(r_xa), [xb] "=&r"(r_xb)                               \
    : [ce] "m"(cend), [oddm] "m"(odd)                                                                          \
    : "cc", "memory"
#define UAOT_GEMM22_OPERANDS                                                                             \
    : [a00] "+r"(a00), [a10] "+r"(a10), [a01] "+r"(a01), [a11] "+r"(a11), [c] "+r"(c), [w] "+r"(w),           \
      [t0] "=&r"(t0), [t1] "=&r"(t1), [wa0] "=&r"(wa0), [wa1] "=&r"(wa1), [xa] "=&r"(xa), [xb] "=&r"(xb)        \
    : [ce] "r"(cend)                                                                                           \
    : "cc", "memory"
#endif

/* requantization of one gemm accumulator of output channel ch: rq table (SMMULR, see conv.h) or the
 * exact double-rounding path */
typedef struct {
    const int32_t *rq, *mult, *shift;
    int32_t off, lo, hi;
} uaot_gemm_rq_t;

UAOT_INLINE int8_t uaot_gemm_out(int32_t acc, int32_t ch, const uaot_gemm_rq_t *r)
{
    if (r->rq != NULL) {
        const int32_t v = uaot_rq_smmulr(acc, r->rq + 4 * ch);
        return (r->lo == -128 && r->hi == 127) ? uaot_sat8(v) : uaot_clamp8(v, r->lo, r->hi);
    }
    return uaot_requant_out(acc, r->mult[ch], r->shift[ch], r->off, r->lo, r->hi);
}

/* the last (odd) output channel oc of nc pixels, weights w (its Kp bytes / int16 pairs) */
UAOT_INLINE void uaot_gemm_row1(int32_t b, int32_t oc, int32_t out_c, const uint32_t *col, const uint32_t *w, int32_t G,
                                const int nc, const int w16, const uaot_gemm_rq_t *rqp, int8_t *out)
{
    int32_t a0 = b, a1 = b, a2 = b;
    const uint32_t *c = col;
    int32_t g = 0;
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
    if (w16 && nc == 3 && G > 0) { /* per group: LDRD of the weights, 3 LDRD + 6 SMLAD for the 3 pixels, 2 (loop) */
        const uint32_t *ce = col + 6 * G;
        uint32_t wa, wb, xa, xb;
        __asm__ volatile("1:\n\t"
                         "ldrd %[wa], %[wb], [%[w]], #8\n\t"
                         "ldrd %[xa], %[xb], [%[c]], #8\n\t"
                         "smlad %[a0], %[wa], %[xa], %[a0]\n\t"
                         "smlad %[a0], %[wb], %[xb], %[a0]\n\t"
                         "ldrd %[xa], %[xb], [%[c]], #8\n\t"
                         "smlad %[a1], %[wa], %[xa], %[a1]\n\t"
                         "smlad %[a1], %[wb], %[xb], %[a1]\n\t"
                         "ldrd %[xa], %[xb], [%[c]], #8\n\t"
                         "smlad %[a2], %[wa], %[xa], %[a2]\n\t"
                         "smlad %[a2], %[wb], %[xb], %[a2]\n\t"
                         "cmp %[c], %[ce]\n\t"
                         "bne 1b\n\t"
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [c] "+r"(c), [w] "+r"(w), [wa] "=&r"(wa),
                           [wb] "=&r"(wb), [xa] "=&r"(xa), [xb] "=&r"(xb)
                         : [ce] "r"(ce)
                         : "cc", "memory");
        g = G;
    }
#endif
    for (; g < G; ++g) {
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
        if (nc >= 2) {
            a1 = uaot_smlad(wa, c[2], a1);
            a1 = uaot_smlad(wb, c[3], a1);
        }
        if (nc == 3) {
            a2 = uaot_smlad(wa, c[4], a2);
            a2 = uaot_smlad(wb, c[5], a2);
        }
        c += 2 * nc;
    }
    out[oc] = uaot_gemm_out(a0, oc, rqp);
    if (nc >= 2) {
        out[out_c + oc] = uaot_gemm_out(a1, oc, rqp);
    }
    if (nc == 3) {
        out[2 * out_c + oc] = uaot_gemm_out(a2, oc, rqp);
    }
}

/* all output channels of nc (1|2|3) pixels whose columns are in col, requantized straight from the
 * accumulators (no accumulator rows in scratch): pixel j's out_c outputs at out + j * out_c */
UAOT_INLINE void uaot_gemm_block(const int32_t *bias, int32_t out_c, const uint32_t *col, const uint32_t *w, int32_t G,
                                 const int nc, const int w16, const uaot_gemm_rq_t *rqp, int8_t *out)
{
    int32_t oc = 0;
    for (; oc + 2 <= out_c; oc += 2) {
        const int32_t b0 = bias[oc], b1 = bias[oc + 1];
        int32_t a00 = b0, a10 = b1, a01 = b0, a11 = b1, a02 = b0, a12 = b1;
        const uint32_t *c = col;
        const uint32_t *cend = col + (int32_t)G * 2 * nc;
#if UAOT_HAVE_DSP
        if (nc == 3) {
#if defined(__OPTIMIZE__) /* gcc -O0 cannot allocate it: the portable loop below runs instead */
            /* pinned registers (see UAOT_GEMM23_X); the accumulators are copied in and out */
            register int32_t r_a00 __asm__("r0") = a00;
            register int32_t r_a10 __asm__("r1") = a10;
            register int32_t r_a01 __asm__("r2") = a01;
            register int32_t r_a11 __asm__("r3") = a11;
            register int32_t r_a02 __asm__("r4") = a02;
            register const uint32_t *r_c __asm__("r5") = c;
            register const uint32_t *r_w __asm__("r6") = w;
            register uint32_t r_t0 __asm__("r9");
            register uint32_t r_t1 __asm__("r11");
            register uint32_t r_wa0 __asm__("r8");
            register uint32_t r_wa1 __asm__("r10");
            register uint32_t r_xa __asm__("r12");
            register uint32_t r_xb __asm__("lr");
            const int32_t odd = G & 1;
            if (w16) {
                __asm__ volatile(UAOT_GEMM23_LOOP(UAOT_GEMM23_I16) UAOT_GEMM23_OPERANDS);
            } else {
                __asm__ volatile(UAOT_GEMM23_LOOP(UAOT_GEMM23_I8) UAOT_GEMM23_OPERANDS);
            }
            a00 = r_a00;
            a10 = r_a10;
            a01 = r_a01;
            a11 = r_a11;
            a02 = r_a02;
            c = r_c;
            w = r_w;
#endif
        } else if (nc == 2) {
            uint32_t t0, t1, wa0, wa1, xa, xb;
            if (w16) {
                if (G & 1) {
                    __asm__ volatile(UAOT_GEMM22_I16 UAOT_GEMM22_OPERANDS);
                }
                if (c != cend) {
                    __asm__ volatile("1:\n\t" UAOT_GEMM22_I16 UAOT_GEMM22_I16 "cmp %[c], %[ce]\n\t"
                                     "bne 1b\n\t" UAOT_GEMM22_OPERANDS);
                }
            } else {
                if (G & 1) {
                    __asm__ volatile(UAOT_GEMM22_I8 UAOT_GEMM22_OPERANDS);
                }
                if (c != cend) {
                    __asm__ volatile("1:\n\t" UAOT_GEMM22_I8 UAOT_GEMM22_I8 "cmp %[c], %[ce]\n\t"
                                     "bne 1b\n\t" UAOT_GEMM22_OPERANDS);
                }
            }
        } else {
            uint32_t t0, t1, wa0, wa1, xa, xb;
            if (w16) {
                __asm__ volatile("1:\n\t" UAOT_GEMM21_I16 "cmp %[c], %[ce]\n\t"
                                 "bne 1b\n\t" UAOT_GEMM22_OPERANDS);
            } else {
                __asm__ volatile("1:\n\t" UAOT_GEMM21_I8 "cmp %[c], %[ce]\n\t"
                                 "bne 1b\n\t" UAOT_GEMM22_OPERANDS);
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
            if (nc >= 2) {
                const uint32_t x1a = c[2], x1b = c[3];
                a01 = uaot_smlad(w0a, x1a, a01);
                a01 = uaot_smlad(w0b, x1b, a01);
                a11 = uaot_smlad(w1a, x1a, a11);
                a11 = uaot_smlad(w1b, x1b, a11);
            }
            if (nc == 3) {
                const uint32_t x2a = c[4], x2b = c[5];
                a02 = uaot_smlad(w0a, x2a, a02);
                a02 = uaot_smlad(w0b, x2b, a02);
                a12 = uaot_smlad(w1a, x2a, a12);
                a12 = uaot_smlad(w1b, x2b, a12);
            }
            c += 2 * nc;
        }
        int8_t *const o = out + oc;
        o[0] = uaot_gemm_out(a00, oc, rqp);
        o[1] = uaot_gemm_out(a10, oc + 1, rqp);
        if (nc >= 2) {
            o[out_c] = uaot_gemm_out(a01, oc, rqp);
            o[out_c + 1] = uaot_gemm_out(a11, oc + 1, rqp);
        }
        if (nc == 3) {
            o[2 * out_c] = uaot_gemm_out(a02, oc, rqp);
            o[2 * out_c + 1] = uaot_gemm_out(a12, oc + 1, rqp);
        }
    }
    if (oc < out_c) {
        uaot_gemm_row1(bias[oc], oc, out_c, col, w, G, nc, w16, rqp, out);
    }
}

#if UAOT_HAVE_DSP && defined(__OPTIMIZE__) /* gcc -O0 cannot allocate it */
/* uaot_rq_smmulr + SSAT #8 of accumulator A (rq row {m, l1, r, bias} in wa0, t0, wa1, t1: an LDMIA loads
 * r8..r11 in that order), stored to ST, via
 * c: SMMLAR adds the bias; the rounding's -(y < 0) uses the sign of x << l1 instead of y = SMMULR(x << l1, m)
 * (m > 0: they differ only when y == 0, where (bias - 1) >> r == bias >> r for r >= 1; rq_table gives
 * r >= 1 for m == 0 too). 6 instructions per output. */
#define UAOT_GEMM3_RQ(A, ST)                \
    "lsl " A ", " A ", %[t0]\n\t"           \
    "smmlar %[c], " A ", %[wa0], %[t1]\n\t" \
    "add %[c], %[c], " A ", asr #31\n\t"    \
    "asr %[c], %[c], %[wa1]\n\t"            \
    "ssat %[c], #8, %[c]\n\t"               \
    "strb %[c], " ST "\n\t"
/* the 6 outputs of a channel pair of a 3-pixel block, requantized from its accumulators: rq rows at [sp, #4],
 * outputs at [sp, #8] (both advanced past the pair), out_c at [sp, #16]; ends comparing the output pointer
 * with [sp, #12] (the caller branches to its next pair on ne). Uses c, t0..wa1, xa, xb. */
#define UAOT_GEMM3_RQ_PAIR                                                                                           \
    "ldr %[xa], [sp, #4]\n\t"                                                                                        \
    "ldr %[xb], [sp, #8]\n\t"                                                                                        \
    "ldmia %[xa]!, {%[wa0], %[t0], %[wa1], %[t1]}\n\t" UAOT_GEMM3_RQ(                                                \
        "%[a00]", "[%[xb]]") "ldr %[a00], [sp, #16]\n\t" UAOT_GEMM3_RQ("%[a01]", "[%[xb], %[a00]]")                  \
        UAOT_GEMM3_RQ("%[a02]",                                                                                      \
                      "[%[xb], %[a00], lsl #1]") "ldmia %[xa]!, {%[wa0], %[t0], %[wa1], %[t1]}\n\t"                  \
                                                 "add %[xb], %[xb], #1\n\t" UAOT_GEMM3_RQ("%[a10]", "[%[xb]]")       \
                                                     UAOT_GEMM3_RQ("%[a11]", "[%[xb], %[a00]]") UAOT_GEMM3_RQ(       \
                                                         "r7", "[%[xb], %[a00], lsl #1]") "add %[xb], %[xb], #1\n\t" \
                                                                                          "str %[xa], [sp, #4]\n\t"  \
                                                                                          "str %[xb], [sp, #8]\n\t"  \
                                                                                          "ldr %[xa], [sp, #12]\n\t" \
                                                                                          "cmp %[xb], %[xa]\n\t"
/* the head of a channel pair in the cols=3 asm loops (label 3): its accumulators from the bias (at [sp, #0],
 * advanced past the pair), and to label 5 (UAOT_GEMM3_PAIR_END) for a pair of constant channels (bias INT32_MIN) */
#define UAOT_GEMM3_PAIR_HEAD           \
    "3:\n\t"                           \
    "ldr %[xa], [sp, #0]\n\t"          \
    "ldrd %[a00], %[a10], [%[xa]]\n\t" \
    "ldrd %[a01], %[a11], [%[xa]]\n\t" \
    "ldrd %[a02], r7, [%[xa]], #8\n\t" \
    "str %[xa], [sp, #0]\n\t"          \
    "cmp %[a00], #0x80000000\n\t"      \
    "beq 5f\n\t"
/* the end of a channel pair (label 6): its 6 outputs, then the next pair (label 3) until the last; label 5 skips a
 * constant pair's weights (w_step at [sp, #28]); at the end the FRAME bytes of the frame are dropped and r7 popped */
#define UAOT_GEMM3_PAIR_END(FRAME)           \
    "6:\n\t" UAOT_GEMM3_RQ_PAIR "bne 3b\n\t" \
    "b 7f\n\t"                               \
    "5:\n\t"                                 \
    "ldr %[xa], [sp, #28]\n\t"               \
    "add %[w], %[w], %[xa]\n\t"              \
    "b 6b\n\t"                               \
    "7:\n\t"                                 \
    "add sp, sp, #" FRAME "\n\t"             \
    "pop {r7}\n\t"
/* K loop bodies (label 1, its loop test after them): 2 groups (label 2: the second), or 4 */
#define UAOT_K_X2(GROUP) "1:\n\t" GROUP "2:\n\t" GROUP
#define UAOT_K_X4(GROUP) "1:\n\t" GROUP GROUP GROUP GROUP
/* 12 groups: the w16 loops when the group count is a multiple of 12 (3x3 kernels over 16k channels): flash for
 * 2 loop tests in 3 */
#define UAOT_K_X12(GROUP) UAOT_K_X4(GROUP) GROUP GROUP GROUP GROUP GROUP GROUP GROUP GROUP
/* every pair of output channels of a 3-pixel block in one asm (rq table, full int8 range): per pair the
 * K loop of UAOT_GEMM23 then the 6 outputs requantized from the registers. The state lives in a stack
 * frame copied from ctl = {bias, rq, out, out_end, out_c, col, col_end, w_step, w} (sp + 0 .. 28; w_step =
 * bytes of a pair's weights). BODY: the K loop's body, UAOT_K_X4 (G % 4 == 0) or UAOT_K_X2; ENTRY: "" or,
 * for an odd G with UAOT_K_X2, "b 2f" (enter the x2 loop in its second half). A pair whose first bias is
 * INT32_MIN is two constant channels (the generator's mark, codegen/ops/_pack.py gemm_rq_bias: all-zero
 * weights, rq rows give the outputs): its K loop is skipped. */
#define UAOT_GEMM3_RQ_LOOP(BODY, ENTRY)                                                          \
    "mov %[xa], %[a00]\n\t"                                                                      \
    "ldr %[w], [%[xa], #32]\n\t"                                                                 \
    "ldmia %[xa], {%[a00], %[a10], %[a01], %[a11], %[a02], %[c], %[t0], %[t1]}\n\t"              \
    "push {r7}\n\t"                                                                              \
    "push {%[a00], %[a10], %[a01], %[a11], %[a02], %[c], %[t0], %[t1]}\n\t" UAOT_GEMM3_PAIR_HEAD \
    "ldr %[c], [sp, #20]\n\t" ENTRY BODY "ldr %[xa], [sp, #24]\n\t"                              \
    "cmp %[c], %[xa]\n\t"                                                                        \
    "bne 1b\n\t" UAOT_GEMM3_PAIR_END("32")

/* the out_c / 2 channel pairs of a 3-pixel block (rq table, full int8 range, out_c >= 2): ctl as above;
 * int8 weights (_i8) or int16 (_w16), separate functions so a firmware links only the layout it uses */
#define UAOT_GEMM3_RQ_REGS                              \
    register const uint32_t *r_a00 __asm__("r0") = ctl; \
    register uint32_t r_a10 __asm__("r1");              \
    register uint32_t r_a01 __asm__("r2");              \
    register uint32_t r_a11 __asm__("r3");              \
    register uint32_t r_a02 __asm__("r4");              \
    register uint32_t r_c __asm__("r5");                \
    register uint32_t r_w __asm__("r6");                \
    register uint32_t r_t0 __asm__("r9");               \
    register uint32_t r_t1 __asm__("r11");              \
    register uint32_t r_wa0 __asm__("r8");              \
    register uint32_t r_wa1 __asm__("r10");             \
    register uint32_t r_xa __asm__("r12");              \
    register uint32_t r_xb __asm__("lr")
#define UAOT_GEMM3_RQ_OPERANDS                                                                           \
    : [a00] "+r"(r_a00), [a10] "=&r"(r_a10), [a01] "=&r"(r_a01), [a11] "=&r"(r_a11), [a02] "=&r"(r_a02),     \
      [c] "=&r"(r_c), [w] "=&r"(r_w), [t0] "=&r"(r_t0), [t1] "=&r"(r_t1), [wa0] "=&r"(r_wa0),                  \
      [wa1] "=&r"(r_wa1), [xa] "=&r"(r_xa), [xb] "=&r"(r_xb)                                                   \
    :                                                                                                          \
    : "cc", "memory"
/* the K loop by G: 4 groups an iteration (G % 4 == 0), else 2 (odd G: entered at its second half) */
#define UAOT_GEMM3_RQ_BY_G(GROUP)                                                                  \
    if ((G & 3) == 0) {                                                                            \
        __asm__ volatile(UAOT_GEMM3_RQ_LOOP(UAOT_K_X4(GROUP), "") UAOT_GEMM3_RQ_OPERANDS);         \
    } else if (G & 1) {                                                                            \
        __asm__ volatile(UAOT_GEMM3_RQ_LOOP(UAOT_K_X2(GROUP), "b 2f\n\t") UAOT_GEMM3_RQ_OPERANDS); \
    } else {                                                                                       \
        __asm__ volatile(UAOT_GEMM3_RQ_LOOP(UAOT_K_X2(GROUP), "") UAOT_GEMM3_RQ_OPERANDS);         \
    }
static void uaot_gemm3_rq_pairs_i8(const uint32_t *ctl, const int32_t G)
{
    UAOT_GEMM3_RQ_REGS;
    UAOT_GEMM3_RQ_BY_G(UAOT_GEMM23_I8)
}
static void uaot_gemm3_rq_pairs_w16(const uint32_t *ctl, const int32_t G)
{
    UAOT_GEMM3_RQ_REGS;
    if (G % 12 == 0) {
        __asm__ volatile(UAOT_GEMM3_RQ_LOOP(UAOT_K_X12(UAOT_GEMM23_I16), "") UAOT_GEMM3_RQ_OPERANDS);
    } else {
        UAOT_GEMM3_RQ_BY_G(UAOT_GEMM23_I16)
    }
}
#undef UAOT_GEMM3_RQ_BY_G
/* cols=2: every pair of output channels of a 2-pixel block in one asm (rq table, act_max 127), as
 * UAOT_GEMM3_RQ_LOOP with 2 pixels: per pair the K loop of UAOT_GEMM22 (int8: 15 instructions per 16 MACs,
 * w16 with one LDMIA: 11) then the 4 outputs requantized from the registers. The column end stays in r4 (ce);
 * the frame is the first 8 words of ctl (as UAOT_GEMM3_RQ_LOOP's). With act_min > -128 (the _lo entry points)
 * r7 (saved by the asm) holds act_min (ctl[9]) and each output is clamped to it after the SSAT: SSUB8 sets the
 * GE flags of byte 0 from output - act_min (the accumulator register, dead by then, takes the difference),
 * SEL picks the larger byte. */
#define UAOT_GEMM22_I16_LDM UAOT_GEMM_W_I16_LDM UAOT_GEMM22_XS
#define UAOT_GEMM2_RQ_LO(A, ST)             \
    "lsl " A ", " A ", %[t0]\n\t"           \
    "smmlar %[c], " A ", %[wa0], %[t1]\n\t" \
    "add %[c], %[c], " A ", asr #31\n\t"    \
    "asr %[c], %[c], %[wa1]\n\t"            \
    "ssat %[c], #8, %[c]\n\t"               \
    "ssub8 " A ", %[c], r7\n\t"             \
    "sel %[c], %[c], r7\n\t"                \
    "strb %[c], " ST "\n\t"
#define UAOT_GEMM2_RQ_PAIR(RQ)                                                                                 \
    "ldr %[xa], [sp, #4]\n\t"                                                                                  \
    "ldr %[xb], [sp, #8]\n\t"                                                                                  \
    "ldmia %[xa]!, {%[wa0], %[t0], %[wa1], %[t1]}\n\t" RQ("%[a00]", "[%[xb]]") "ldr %[a00], [sp, #16]\n\t" RQ( \
        "%[a01]", "[%[xb], %[a00]]") "ldmia %[xa]!, {%[wa0], %[t0], %[wa1], %[t1]}\n\t"                        \
                                     "add %[xb], %[xb], #1\n\t" RQ("%[a10]", "[%[xb]]")                        \
                                         RQ("%[a11]", "[%[xb], %[a00]]") "add %[xb], %[xb], #1\n\t"            \
                                                                         "str %[xa], [sp, #4]\n\t"             \
                                                                         "str %[xb], [sp, #8]\n\t"             \
                                                                         "ldr %[xa], [sp, #12]\n\t"            \
                                                                         "cmp %[xb], %[xa]\n\t"
/* LO: "" or UAOT_GEMM2_LO_IN (then END: UAOT_GEMM2_LO_OUT); RQ: UAOT_GEMM3_RQ or UAOT_GEMM2_RQ_LO */
#define UAOT_GEMM2_LO_IN \
    "push {r7}\n\t"      \
    "ldr r7, [%[xa], #36]\n\t"
#define UAOT_GEMM2_LO_OUT "pop {r7}\n\t"
#define UAOT_GEMM2_RQ_LOOP(BODY, ENTRY, RQ, LO, END)                               \
    "mov %[xa], %[a00]\n\t" LO "ldr %[w], [%[xa], #32]\n\t"                        \
    "ldmia %[xa], {%[a00], %[a10], %[a01], %[a11], %[ce], %[c], %[t0], %[t1]}\n\t" \
    "push {%[a00], %[a10], %[a01], %[a11], %[ce], %[c], %[t0], %[t1]}\n\t"         \
    "ldr %[ce], [%[xa], #40]\n\t"                                                  \
    "3:\n\t"                                                                       \
    "ldr %[xa], [sp, #0]\n\t"                                                      \
    "ldrd %[a00], %[a10], [%[xa]]\n\t"                                             \
    "ldrd %[a01], %[a11], [%[xa]], #8\n\t"                                         \
    "str %[xa], [sp, #0]\n\t"                                                      \
    "cmp %[a00], #0x80000000\n\t"                                                  \
    "beq 5f\n\t"                                                                   \
    "ldr %[c], [sp, #20]\n\t" ENTRY BODY "cmp %[c], %[ce]\n\t"                     \
    "bne 1b\n\t"                                                                   \
    "6:\n\t" UAOT_GEMM2_RQ_PAIR(RQ) "bne 3b\n\t"                                   \
                                    "b 7f\n\t"                                     \
                                    "5:\n\t"                                       \
                                    "ldr %[xa], [sp, #28]\n\t"                     \
                                    "add %[w], %[w], %[xa]\n\t"                    \
                                    "b 6b\n\t"                                     \
                                    "7:\n\t"                                       \
                                    "add sp, sp, #32\n\t" END
#define UAOT_GEMM2_RQ_REGS                              \
    register const uint32_t *r_a00 __asm__("r0") = ctl; \
    register uint32_t r_a10 __asm__("r1");              \
    register uint32_t r_a01 __asm__("r2");              \
    register uint32_t r_a11 __asm__("r3");              \
    register uint32_t r_ce __asm__("r4");               \
    register uint32_t r_c __asm__("r5");                \
    register uint32_t r_w __asm__("r6");                \
    register uint32_t r_t0 __asm__("r9");               \
    register uint32_t r_t1 __asm__("r11");              \
    register uint32_t r_wa0 __asm__("r8");              \
    register uint32_t r_wa1 __asm__("r10");             \
    register uint32_t r_xa __asm__("r12");              \
    register uint32_t r_xb __asm__("lr")
#define UAOT_GEMM2_RQ_OPERANDS                                                                         \
    : [a00] "+r"(r_a00), [a10] "=&r"(r_a10), [a01] "=&r"(r_a01), [a11] "=&r"(r_a11), [ce] "=&r"(r_ce),       \
      [c] "=&r"(r_c), [w] "=&r"(r_w), [t0] "=&r"(r_t0), [t1] "=&r"(r_t1), [wa0] "=&r"(r_wa0),                  \
      [wa1] "=&r"(r_wa1), [xa] "=&r"(r_xa), [xb] "=&r"(r_xb)                                                   \
    :                                                                                                          \
    : "cc", "memory"
/* the K loop by G: 4 groups an iteration (G % 4 == 0), else 2 (odd G: entered at its second half) */
#define UAOT_GEMM2_RQ_BY_G(GROUP, RQ, LO, END)                                                                  \
    if ((G & 3) == 0) {                                                                                         \
        __asm__ volatile(UAOT_GEMM2_RQ_LOOP(UAOT_K_X4(GROUP), "", RQ, LO, END) UAOT_GEMM2_RQ_OPERANDS);         \
    } else if (G & 1) {                                                                                         \
        __asm__ volatile(UAOT_GEMM2_RQ_LOOP(UAOT_K_X2(GROUP), "b 2f\n\t", RQ, LO, END) UAOT_GEMM2_RQ_OPERANDS); \
    } else {                                                                                                    \
        __asm__ volatile(UAOT_GEMM2_RQ_LOOP(UAOT_K_X2(GROUP), "", RQ, LO, END) UAOT_GEMM2_RQ_OPERANDS);         \
    }
/* ctl = {bias, rq, out, out_end, out_c, col, (the 3-pixel col_end), w_step, w, act_min, col_end}; lo: act_min > -128 */
static void uaot_gemm2_rq_pairs_i8(const uint32_t *ctl, const int32_t G, const int lo)
{
    UAOT_GEMM2_RQ_REGS;
    if (lo) {
        UAOT_GEMM2_RQ_BY_G(UAOT_GEMM22_I8, UAOT_GEMM2_RQ_LO, UAOT_GEMM2_LO_IN, UAOT_GEMM2_LO_OUT)
    } else {
        UAOT_GEMM2_RQ_BY_G(UAOT_GEMM22_I8, UAOT_GEMM3_RQ, "", "")
    }
}
static void uaot_gemm2_rq_pairs_w16(const uint32_t *ctl, const int32_t G, const int lo)
{
    UAOT_GEMM2_RQ_REGS;
    if (G % 12 == 0 && !lo) { /* as uaot_gemm3_rq_pairs_w16: 12 groups per loop test */
        __asm__ volatile(UAOT_GEMM2_RQ_LOOP(UAOT_K_X12(UAOT_GEMM22_I16_LDM), "", UAOT_GEMM3_RQ, "", "")
                             UAOT_GEMM2_RQ_OPERANDS);
    } else if (lo) {
        UAOT_GEMM2_RQ_BY_G(UAOT_GEMM22_I16_LDM, UAOT_GEMM2_RQ_LO, UAOT_GEMM2_LO_IN, UAOT_GEMM2_LO_OUT)
    } else {
        UAOT_GEMM2_RQ_BY_G(UAOT_GEMM22_I16_LDM, UAOT_GEMM3_RQ, "", "")
    }
}
#undef UAOT_GEMM2_RQ_BY_G
#endif

UAOT_INLINE uaot_status_t uaot_conv_gemm(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                         int8_t *output, uint8_t *scratch, const uint32_t scratch_size, const int nc,
                                         const int w16)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || scratch == NULL ||
        ((uintptr_t)filter & 3u) != 0u || ((uintptr_t)scratch & 3u) != 0u) {
        return UAOT_ERR_ARG;
    }
    UAOT_CHECK_SCRATCH(scratch_size,
                       nc == 3 ? uaot_conv2d_s8_gemm_c3_scratch_size(p) : uaot_conv2d_s8_gemm_c1_scratch_size(p));
    const int32_t K = p->k_h * p->k_w * p->in_c;
    const int32_t Kp = UAOT_CONV_GEMM_KP(K);
    const int32_t G = Kp / 4;
    const int32_t out_c = p->out_c;
    uint32_t *col = (uint32_t *)(void *)scratch;
    /* UAOT_CONV_GEMM{,3}_SCRATCH: the int16 columns, then the int8 gather row (in_c % 4 != 0 only) */
    int8_t *tmp = (int8_t *)(scratch + (nc == 3 ? 6 : 4) * (int32_t)Kp);
    const uint32_t *w = (const uint32_t *)(const void *)filter;
    const int32_t npix = p->out_h * p->out_w;
    const int32_t *const bias = p->bias;
    const uaot_gemm_rq_t rqv = {p->rq, p->mult, p->shift, p->output_offset, p->act_min, p->act_max};
    const int32_t out_w = p->out_w, in_c = p->in_c;
    uaot_gather_t gt; /* in_c % 4 != 0: the gather's geometry and pixel walk (uaot_im2col_g) */
    const int gather = (in_c & 3) != 0;
    /* 1x1, stride 1, no padding, whole groups of 4 channels: each column is the input pixel's channels */
    const int pointwise = p->k_h == 1 && p->k_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 &&
                          p->pad_left == 0 && p->in_w == out_w && p->in_h == p->out_h && (in_c & 3) == 0;
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
    /* rq table, full int8 range: every channel pair of a 3-pixel (2-pixel) block in one asm
     * (uaot_gemm3_rq_pairs_*, uaot_gemm2_rq_pairs_*) */
    const int fused3 = nc == 3 && rqv.rq != NULL && rqv.lo == -128 && rqv.hi == 127 && out_c >= 2;
    const int32_t npair = out_c / 2;
    /* ctl[9], ctl[10]: set where 2-pixel blocks run */
    uint32_t ctl[11];
    ctl[0] = (uint32_t)(uintptr_t)bias;
    ctl[1] = (uint32_t)(uintptr_t)rqv.rq;
    ctl[4] = (uint32_t)out_c;
    ctl[5] = (uint32_t)(uintptr_t)col;
    ctl[6] = (uint32_t)(uintptr_t)(col + 6 * G);
    ctl[7] = (uint32_t)G * (w16 ? 16u : 8u);
    ctl[8] = (uint32_t)(uintptr_t)w;
    /* the odd last channel: its weights follow the pairs' */
    const uint32_t *const w_last = w + npair * G * (w16 ? 4 : 2);
#endif
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + (int32_t)b * p->in_h * p->in_w * in_c;
        int8_t *out_b = output + (int32_t)b * npix * out_c;
        int32_t oy = 0, ox = 0, pix = 0;
        if (gather) {
            uaot_gather_init(&gt, p, in_b, 0);
        }
        if (nc == 3) {
            for (; pix + 3 <= npix; pix += 3) {
                if (pointwise) { /* output pixel pix reads input pixel pix */
                    uaot_expand3(in_b + (int32_t)pix * in_c, in_c, col, G);
                } else if (gather) {
                    uaot_im2col_g3(&gt, col, tmp);
                } else {
                    for (int32_t j = 0; j < 3; ++j) {
                        uaot_im2col_s16(p, in_b, oy, ox, col, j, 3);
                        if (++ox == out_w) {
                            ox = 0;
                            ++oy;
                        }
                    }
                }
                int8_t *const o = out_b + (int32_t)pix * out_c;
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
                if (fused3) {
                    ctl[2] = (uint32_t)(uintptr_t)o;
                    ctl[3] = (uint32_t)(uintptr_t)(o + 2 * npair);
                    if (w16) {
                        uaot_gemm3_rq_pairs_w16(ctl, G);
                    } else {
                        uaot_gemm3_rq_pairs_i8(ctl, G);
                    }
                    if (out_c & 1) {
                        uaot_gemm_row1(bias[out_c - 1], out_c - 1, out_c, col, w_last, G, 3, w16, &rqv, o);
                    }
                    continue;
                }
#endif
                uaot_gemm_block(bias, out_c, col, w, G, 3, w16, &rqv, o);
            }
            oy = pix / out_w;
            ox = pix - oy * out_w;
            if (gather) {
                uaot_gather_init(&gt, p, in_b, pix);
            }
        }
        if (nc >= 2 && pix + 2 <= npix) {
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
            /* 2-pixel blocks in one asm: also with act_min > -128 (lo2: the clamp in the asm) */
            const int fused2 = rqv.rq != NULL && rqv.hi == 127 && out_c >= 2;
            const int lo2 = rqv.lo > -128;
            ctl[9] = (uint32_t)rqv.lo;
            ctl[10] = (uint32_t)(uintptr_t)(col + 4 * G);
#endif
            do {
                if (pointwise) { /* output pixel pix reads input pixel pix (oy, ox are not used) */
                    (void)uaot_expand_run(in_b + (int32_t)pix * in_c, col, G, 4);
                    (void)uaot_expand_run(in_b + (int32_t)(pix + 1) * in_c, col + 2, G, 4);
                } else if (gather) {
                    uaot_im2col_g2(&gt, col, tmp);
                } else {
                    uaot_im2col_s16(p, in_b, oy, ox, col, 0, 2);
                    if (++ox == out_w) {
                        ox = 0;
                        ++oy;
                    }
                    uaot_im2col_s16(p, in_b, oy, ox, col, 1, 2);
                    if (++ox == out_w) {
                        ox = 0;
                        ++oy;
                    }
                }
                int8_t *const o = out_b + (int32_t)pix * out_c;
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
                if (fused2) { /* every channel pair in one asm (uaot_gemm2_rq_pairs_*) */
                    ctl[2] = (uint32_t)(uintptr_t)o;
                    ctl[3] = (uint32_t)(uintptr_t)(o + 2 * npair);
                    if (w16) {
                        uaot_gemm2_rq_pairs_w16(ctl, G, lo2);
                    } else {
                        uaot_gemm2_rq_pairs_i8(ctl, G, lo2);
                    }
                    if (out_c & 1) {
                        uaot_gemm_row1(bias[out_c - 1], out_c - 1, out_c, col, w_last, G, 2, w16, &rqv, o);
                    }
                    continue;
                }
#endif
                uaot_gemm_block(bias, out_c, col, w, G, 2, w16, &rqv, o);
            } while ((pix += 2) + 2 <= npix);
            if (pointwise) {
                oy = pix / out_w;
                ox = pix - oy * out_w;
            }
        }
        for (; pix < npix; ++pix) {
            if (gather) {
                uaot_im2col_g1(&gt, col, tmp);
            } else {
                uaot_im2col_s16(p, in_b, oy, ox, col, 0, 1);
                if (++ox == out_w) {
                    ox = 0;
                    ++oy;
                }
            }
            uaot_gemm_block(bias, out_c, col, w, G, 1, w16, &rqv, out_b + (int32_t)pix * out_c);
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_conv2d_s8_gemm_c1(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                     int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    return uaot_conv_gemm(p, input, filter, output, scratch, scratch_size, 1, 0);
}

uaot_status_t uaot_conv2d_s8_gemm_c2(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                     int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    return uaot_conv_gemm(p, input, filter, output, scratch, scratch_size, 2, 0);
}

uaot_status_t uaot_conv2d_s8_gemm_c3(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                     int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    return uaot_conv_gemm(p, input, filter, output, scratch, scratch_size, 3, 0);
}

uaot_status_t uaot_conv2d_s8_gemm_c3_w16(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                         int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    return uaot_conv_gemm(p, input, filter, output, scratch, scratch_size, 3, 1);
}

/* c3 with the int8 weights expanded to the w16 layout in scratch (after the c3 scratch) at each call: the
 * w16 inner loop (2 LDRD per group and channel pair instead of LDRD + 4 SXTB16) without its flash */
uaot_status_t uaot_conv2d_s8_gemm_c3_wx(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                        int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    if (p == NULL || filter == NULL || scratch == NULL || ((uintptr_t)scratch & 3u) != 0u) {
        return UAOT_ERR_ARG;
    }
    UAOT_CHECK_SCRATCH(scratch_size, uaot_conv2d_s8_gemm_c3_wx_scratch_size(p));
    const int32_t K = p->k_h * p->k_w * p->in_c;
    uint32_t *const w16 = (uint32_t *)(void *)(scratch + UAOT_CONV_GEMM3_SCRATCH(K, p->in_c));
    /* the packed int8 words in order: each becomes its (w0,w2), (w1,w3) pair, the w16 layout */
    (void)uaot_expand_run(filter, w16, p->out_c * (UAOT_CONV_GEMM_KP(K) / 4), 2);
    return uaot_conv2d_s8_gemm_c3_w16(p, input, (const int8_t *)(const void *)w16, output, scratch, scratch_size);
}

uaot_status_t uaot_conv2d_s8_gemm_c1_w16(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                         int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    return uaot_conv_gemm(p, input, filter, output, scratch, scratch_size, 1, 1);
}

uaot_status_t uaot_conv2d_s8_gemm_c2_w16(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                         int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    return uaot_conv_gemm(p, input, filter, output, scratch, scratch_size, 2, 1);
}

/* ---- x16: the convolution read straight from a ring of expanded input rows (no im2col) ---------------------
 * The k_h input rows an output row reads are kept expanded to int16 (SXTB16 order; the zero point where
 * padded: columns left/right of the input, rows above/below it) in a ring of k_h rows of wp = (out_w - 1) *
 * stride_w + k_w pixels, so each input row is expanded once per call instead of once per tap of every window
 * (im2col). A pixel's K values are then k_h runs of k_w * in_c contiguous values, one per ring row, in the
 * gemm's packed K order (in_c % 4 == 0: the natural order): the gemm's packed weights are used unchanged.
 * Blocks of 3 pixels of one output row, pixel j at j * S bytes from pixel 0 (S = stride_w * in_c * 2, an
 * immediate of the asm: one entry point per S), then one or two blocks of 2 pixels (out_w % 3 == 2 or 1).
 * Blocks the asm does not run (2 pixels, clamped ranges, no DSP, and the odd last channel) go through the
 * gemm's own blocks (uaot_gemm_block / uaot_gemm_row1, 2 pixels at most), their columns copied from the ring
 * to scratch. */
#define UAOT_X16_MAX_KH 16

UAOT_INLINE int uaot_x16_ok(const uaot_conv_s8_params_t *p, int32_t S)
{
    return p->in_c > 0 && (p->in_c & 3) == 0 && ((p->k_w * p->in_c) & 15) == 0 && p->dil_h == 1 && p->dil_w == 1 &&
           p->out_w >= 3 && p->stride_w * p->in_c * 2 == S && p->stride_h > 0 && p->k_h > 0 &&
           p->k_h <= UAOT_X16_MAX_KH && p->k_w > 0;
}

/* input row iy of in_b (all zero points when outside the input) to the ring row dst: wp pixels from input
 * column -pad_left, in_c / 4 groups (2 words) each */
static void uaot_x16_row(const uaot_conv_s8_params_t *p, const int8_t *in_b, int32_t iy, int32_t wp, uint32_t zw,
                         uint32_t *dst)
{
    const int32_t gpp = p->in_c / 4;
    int32_t left = p->pad_left < wp ? p->pad_left : wp;
    int32_t mid = 0;
    if (iy >= 0 && iy < p->in_h) {
        mid = wp - left < p->in_w ? wp - left : p->in_w;
    } else {
        left = wp;
    }
    uint32_t *const end = dst + 2 * wp * gpp;
    for (uint32_t *const e = dst + 2 * left * gpp; dst != e; dst += 2) {
        dst[0] = zw;
        dst[1] = zw;
    }
    if (mid > 0) {
        dst = uaot_expand_run(in_b + (int32_t)iy * p->in_w * p->in_c, dst, mid * gpp, 2);
    }
    for (; dst != end; dst += 2) {
        dst[0] = zw;
        dst[1] = zw;
    }
}

/* the columns of pixels j0 .. j0 + m - 1 (m = 1 or 2) of a block, read from the ring runs tab (pixel j's
 * group g of kernel row ky at tab[ky] + j * sw + 2 * g), to col in the gemm's layout (uaot_gemm_block) */
UAOT_INLINE void uaot_x16_cols(const uint32_t *const *tab, int32_t k_h, int32_t gseg, int32_t sw, int32_t j0,
                               const int32_t m, uint32_t *col)
{
    for (int32_t ky = 0; ky < k_h; ++ky) {
        const uint32_t *c = tab[ky] + j0 * sw;
        for (int32_t g = 0; g < gseg; ++g, c += 2, col += 2 * m) {
            col[0] = c[0];
            col[1] = c[1];
            if (m == 2) {
                col[2] = c[sw];
                col[3] = c[sw + 1];
            }
        }
    }
}

/* every channel pair of a 3-pixel block in one asm (rq table, full int8 range): ctl = {bias, rq, out,
 * out_end, out_c, tab, tab_end, w_step, seg_bytes, w}: the pair loop and requantization of
 * UAOT_GEMM3_RQ_LOOP, the K loop (4 groups an iteration; 12 in the w16 variant
 * the caller picks when a run holds a multiple of 12 groups) run once per ring row (tab: the k_h run addresses,
 * seg_bytes = 8 * groups per run, a multiple of 4), pixel j read at [c, #j*S]. Frame: ctl[0..7] at sp + 0..28, seg_bytes at 32,
 * the run cursor at 36, the run end at 40, r7 at 44. */
typedef void (*uaot_x16_pairs_t)(const uint32_t *ctl);

#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
#define UAOT_X16_X(A0, A1, ADDR)              \
    "ldrd %[xa], %[xb], " ADDR "\n\t"         \
    "smlad " A0 ", %[wa0], %[xa], " A0 "\n\t" \
    "smlad " A0 ", %[t0], %[xb], " A0 "\n\t"  \
    "smlad " A1 ", %[wa1], %[xa], " A1 "\n\t" \
    "smlad " A1 ", %[t1], %[xb], " A1 "\n\t"
/* one group of 4 k, 2 channels x 3 pixels: pixels 1 and 2 at immediate offsets, pixel 0 last (post-increment) */
#define UAOT_X16_XS(S1, S2)                           \
    UAOT_X16_X("%[a01]", "%[a11]", "[%[c], #" S1 "]") \
    UAOT_X16_X("%[a02]", "r7", "[%[c], #" S2 "]") UAOT_X16_X("%[a00]", "%[a10]", "[%[c]], #8")
#define UAOT_X16_LOOP(BODY)                                                                      \
    "mov %[xa], %[a00]\n\t"                                                                      \
    "ldr %[w], [%[xa], #36]\n\t"                                                                 \
    "ldr %[xb], [%[xa], #32]\n\t"                                                                \
    "ldmia %[xa], {%[a00], %[a10], %[a01], %[a11], %[a02], %[c], %[t0], %[t1]}\n\t"              \
    "push {r7}\n\t"                                                                              \
    "sub sp, sp, #8\n\t"                                                                         \
    "push {%[xb]}\n\t"                                                                           \
    "push {%[a00], %[a10], %[a01], %[a11], %[a02], %[c], %[t0], %[t1]}\n\t" UAOT_GEMM3_PAIR_HEAD \
    "ldr %[xa], [sp, #20]\n\t"                                                                   \
    "8:\n\t"                                                                                     \
    "ldr %[c], [%[xa]], #4\n\t"                                                                  \
    "str %[xa], [sp, #36]\n\t"                                                                   \
    "ldr %[xb], [sp, #32]\n\t"                                                                   \
    "add %[xb], %[c], %[xb]\n\t"                                                                 \
    "str %[xb], [sp, #40]\n\t" BODY "ldr %[xa], [sp, #40]\n\t"                                   \
    "cmp %[c], %[xa]\n\t"                                                                        \
    "bne 1b\n\t"                                                                                 \
    "ldr %[xa], [sp, #36]\n\t"                                                                   \
    "ldr %[xb], [sp, #24]\n\t"                                                                   \
    "cmp %[xa], %[xb]\n\t"                                                                       \
    "bne 8b\n\t" UAOT_GEMM3_PAIR_END("44")
/* BODY: the K loop's body over a ring row, UAOT_K_X4 or (w16, groups per row a multiple of 12) UAOT_K_X12 */
#define UAOT_X16_PAIRS(NAME, BODY)                                    \
    static void NAME(const uint32_t *ctl)                             \
    {                                                                 \
        UAOT_GEMM3_RQ_REGS;                                           \
        __asm__ volatile(UAOT_X16_LOOP(BODY) UAOT_GEMM3_RQ_OPERANDS); \
    }
#define UAOT_X16_PAIRS_FN(NAME) NAME
#else
#define UAOT_X16_PAIRS(NAME, BODY)
#define UAOT_X16_PAIRS_FN(NAME) NULL
#endif

UAOT_INLINE uaot_status_t uaot_conv_x16(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                        int8_t *output, uint8_t *scratch, const uint32_t scratch_size, const int w16,
                                        const int32_t S, const uaot_x16_pairs_t pairs4, const uaot_x16_pairs_t pairs12)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || scratch == NULL ||
        ((uintptr_t)filter & 3u) != 0u || ((uintptr_t)scratch & 3u) != 0u || !uaot_x16_ok(p, S)) {
        return UAOT_ERR_ARG;
    }
    UAOT_CHECK_SCRATCH(scratch_size, uaot_conv2d_s8_x16_s32_scratch_size(p)); /* the same for every S */
    const int32_t gpp = p->in_c / 4, k_h = p->k_h, out_w = p->out_w, out_c = p->out_c;
    const int32_t wp = (out_w - 1) * p->stride_w + p->k_w;
    const int32_t row_words = 2 * wp * gpp;
    const int32_t gseg = p->k_w * gpp; /* groups per kernel row: a multiple of 4 */
    const int32_t sw = S / 4;          /* words between the pixels of a block */
    const uint32_t zw = uaot_sxtb16(uaot_splat8(-p->input_offset));
    uint32_t *const ring = (uint32_t *)(void *)scratch;
    uint32_t *const col = ring + k_h * row_words; /* the columns of a 2-pixel block */
    const uint32_t *const w = (const uint32_t *)(const void *)filter;
    const int32_t *const bias = p->bias;
    const uaot_gemm_rq_t rqv = {p->rq, p->mult, p->shift, p->output_offset, p->act_min, p->act_max};
    const uint32_t *tab[UAOT_X16_MAX_KH];
    /* the asm, 12 groups an iteration where the runs allow it (w16 only), else 4 */
    const uaot_x16_pairs_t pairs = pairs12 != NULL && gseg % 12 == 0 ? pairs12 : pairs4;
    const int fused = pairs != NULL && rqv.rq != NULL && rqv.lo == -128 && rqv.hi == 127 && out_c >= 2;
    const int32_t npair = out_c / 2;
    uint32_t ctl[11] = {(uint32_t)(uintptr_t)bias,
                        (uint32_t)(uintptr_t)rqv.rq,
                        0u,
                        0u,
                        (uint32_t)out_c,
                        (uint32_t)(uintptr_t)tab,
                        (uint32_t)(uintptr_t)(tab + k_h),
                        (uint32_t)(k_h * gseg) * (w16 ? 16u : 8u),
                        (uint32_t)gseg * 8u,
                        (uint32_t)(uintptr_t)w};
    /* the odd last channel: its weights follow the pairs' */
    const uint32_t *const w_last = w + npair * k_h * gseg * (w16 ? 4 : 2);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + (int32_t)b * p->in_h * p->in_w * p->in_c;
        int8_t *out_b = output + (int32_t)b * p->out_h * out_w * out_c;
        int32_t next = INT32_MIN; /* the first input row not in the ring yet */
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top; /* >= -pad_top: ring slots from iy + pad_top */
            for (int32_t iy = iy0 > next ? iy0 : next; iy < iy0 + k_h; ++iy) {
                uaot_x16_row(p, in_b, iy, wp, zw, ring + ((iy + p->pad_top) % k_h) * row_words);
            }
            next = iy0 + k_h;
            for (int32_t x0 = 0; x0 < out_w;) {
                /* blocks of 3 pixels, then one or two of 2 (out_w % 3 == 2 or 1) */
                const int32_t nc = out_w - x0 == 2 || out_w - x0 == 4 ? 2 : 3;
                for (int32_t ky = 0; ky < k_h; ++ky) {
                    tab[ky] = ring + ((iy0 + ky + p->pad_top) % k_h) * row_words + x0 * sw;
                }
                int8_t *const o = out_b + (oy * out_w + x0) * out_c;
                x0 += nc;
                const int asm3 = nc == 3 && fused;
                if (asm3) {
                    ctl[2] = (uint32_t)(uintptr_t)o;
                    ctl[3] = (uint32_t)(uintptr_t)(o + 2 * npair);
                    pairs(ctl);
                    if ((out_c & 1) == 0) {
                        continue;
                    }
                }
                /* otherwise (and the odd last channel after the asm) the gemm's blocks on the pixels' columns
                 * copied from the ring: pixels 0 and 1, then pixel 2 (constant pixel counts: specialized) */
                uaot_x16_cols(tab, k_h, gseg, sw, 0, 2, col);
                if (asm3) {
                    uaot_gemm_row1(bias[out_c - 1], out_c - 1, out_c, col, w_last, k_h * gseg, 2, w16, &rqv, o);
                } else {
                    uaot_gemm_block(bias, out_c, col, w, k_h * gseg, 2, w16, &rqv, o);
                }
                if (nc == 3) {
                    int8_t *const o2 = o + 2 * out_c;
                    uaot_x16_cols(tab, k_h, gseg, sw, 2, 1, col);
                    if (asm3) {
                        uaot_gemm_row1(bias[out_c - 1], out_c - 1, out_c, col, w_last, k_h * gseg, 1, w16, &rqv, o2);
                    } else {
                        uaot_gemm_block(bias, out_c, col, w, k_h * gseg, 1, w16, &rqv, o2);
                    }
                }
            }
        }
    }
    return UAOT_OK;
}

/* the entry points, one per S (bytes between the pixels of a block) and weight layout */
#define UAOT_X16_ENTRY(SB, S1, S2)                                                                                    \
    UAOT_X16_PAIRS(uaot_x16_pairs_s##SB, UAOT_K_X4(UAOT_GEMM_W_I8 UAOT_X16_XS(S1, S2)))                               \
    UAOT_X16_PAIRS(uaot_x16_pairs_s##SB##_w16, UAOT_K_X4(UAOT_GEMM_W_I16_LDM UAOT_X16_XS(S1, S2)))                    \
    UAOT_X16_PAIRS(uaot_x16_pairs_s##SB##_w16x12, UAOT_K_X12(UAOT_GEMM_W_I16_LDM UAOT_X16_XS(S1, S2)))                \
    uaot_status_t uaot_conv2d_s8_x16_s##SB(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter, \
                                           int8_t *output, uint8_t *scratch, uint32_t scratch_size)                   \
    {                                                                                                                 \
        return uaot_conv_x16(p, input, filter, output, scratch, scratch_size, 0, SB,                                  \
                             UAOT_X16_PAIRS_FN(uaot_x16_pairs_s##SB), NULL);                                          \
    }                                                                                                                 \
    uaot_status_t uaot_conv2d_s8_x16_s##SB##_w16(const uaot_conv_s8_params_t *p, const int8_t *input,                 \
                                                 const int8_t *filter, int8_t *output, uint8_t *scratch,              \
                                                 uint32_t scratch_size)                                               \
    {                                                                                                                 \
        return uaot_conv_x16(p, input, filter, output, scratch, scratch_size, 1, SB,                                  \
                             UAOT_X16_PAIRS_FN(uaot_x16_pairs_s##SB##_w16),                                           \
                             UAOT_X16_PAIRS_FN(uaot_x16_pairs_s##SB##_w16x12));                                       \
    }
UAOT_X16_ENTRY(32, "32", "64")
UAOT_X16_ENTRY(64, "64", "128")
UAOT_X16_ENTRY(128, "128", "256")
#undef UAOT_GEMM3_RQ_OPERANDS
#undef UAOT_GEMM3_RQ_REGS

#define UAOT_DW_TAP(src, wg, a0, a1, a2, a3)                            \
    do {                                                                \
        const uint32_t v_ = uaot_ld32(src);                             \
        const uint32_t xa_ = uaot_sxtb16(v_), xb_ = uaot_sxtb16_r8(v_); \
        const uint32_t wa_ = (wg)[0], wb_ = (wg)[1];                    \
        (a0) = uaot_smlabb(xa_, wa_, (a0));                             \
        (a2) = uaot_smlatt(xa_, wa_, (a2));                             \
        (a1) = uaot_smlabb(xb_, wb_, (a1));                             \
        (a3) = uaot_smlatt(xb_, wb_, (a3));                             \
    } while (0)

#if UAOT_HAVE_DSP
/* uaot_rq_smmulr then SSAT #8 of accumulator A, stored to *yo++ (rq row {m, l1, r, bias} via LDM) */
#define UAOT_RQ4_ASM(A)                             \
    "ldmia %[q]!, {%[m], %[l1], %[r], %[bias]}\n\t" \
    "lsl " A ", " A ", %[l1]\n\t"                   \
    "smmulr " A ", " A ", %[m]\n\t"                 \
    "add %[m], " A ", %[bias]\n\t"                  \
    "add %[m], %[m], " A ", asr #31\n\t"            \
    "asr %[m], %[m], %[r]\n\t"                      \
    "ssat %[m], #8, %[m]\n\t"                       \
    "strb %[m], [%[yo]], #1\n\t"
#define UAOT_DW_TAP_ASM(addr)               \
    "ldr %[v], " addr "\n\t"                \
    "ldrd %[wa], %[wb], [%[wg]], #8\n\t"    \
    "sxtb16 %[xa], %[v]\n\t"                \
    "sxtb16 %[v], %[v], ror #8\n\t"         \
    "smlabb %[a0], %[xa], %[wa], %[a0]\n\t" \
    "smlatt %[a2], %[xa], %[wa], %[a2]\n\t" \
    "smlabb %[a1], %[v], %[wb], %[a1]\n\t"  \
    "smlatt %[a3], %[v], %[wb], %[a3]\n\t"

/* The 9 taps of a 3x3 depthwise window for 4 channels (36 MACs): s walks the window (dx between
 * columns, prs between rows), wg the 4-channel weight pairs; a0..a3 accumulate. Used by the fused
 * requant path and by the accumulate-to-scratch path. The row step dyx = prs - dx comes from memory
 * (into v, free between taps): with it in a register the asm needs 12 of the 12 registers a
 * frame-pointer build (r7 reserved) leaves, which gcc cannot allocate. */
#define UAOT_DW_3X3_NEXT_ROW \
    "ldr %[v], %[dyx]\n\t"   \
    "add %[s], %[s], %[v]\n\t"
#define UAOT_DW_3X3_ASM                                                                                          \
    UAOT_DW_TAP_ASM("[%[s]]")                                                                                    \
    UAOT_DW_TAP_ASM("[%[s], %[dx]]")                                                                             \
    "add %[s], %[s], %[dx]\n\t" UAOT_DW_TAP_ASM("[%[s], %[dx]]") UAOT_DW_3X3_NEXT_ROW UAOT_DW_TAP_ASM("[%[s]]")  \
        UAOT_DW_TAP_ASM("[%[s], %[dx]]") "add %[s], %[s], %[dx]\n\t" UAOT_DW_TAP_ASM("[%[s], %[dx]]")            \
            UAOT_DW_3X3_NEXT_ROW UAOT_DW_TAP_ASM("[%[s]]")                                                       \
                UAOT_DW_TAP_ASM("[%[s], %[dx]]") "add %[s], %[s], %[dx]\n\t" UAOT_DW_TAP_ASM("[%[s], %[dx]]")    \
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [s] "+r"(s0), [wg] "+r"(wg), [v] "=&r"(v), \
          [xa] "=&r"(xa), [wa] "=&r"(wa), [wb] "=&r"(wb) : [dx] "r"(dx), [dyx] "m"(dyx) : "memory"
#endif

/* Depthwise, depth multiplier 1, 4 channels per step. Each output row first copies the k_h input rows
 * it reads into scratch, padded left/right (and whole rows above/below the input) with the input zero
 * point, so every output pixel then runs the same tap loop with no bounds checks. */
uaot_status_t uaot_depthwise_conv2d_s8_simd4(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                             int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || scratch == NULL || p->depth_mult != 1 ||
        ((uintptr_t)filter & 3u) != 0u || ((uintptr_t)scratch & 3u) != 0u) {
        return UAOT_ERR_ARG;
    }
    UAOT_CHECK_SCRATCH(scratch_size, uaot_depthwise_conv2d_s8_simd4_scratch_size(p));
    /* everything as locals (int8 stores below may alias *p) */
    const int32_t C = p->in_c, G4 = p->in_c / 4;
    const int32_t k_h = p->k_h, k_w = p->k_w, taps = p->k_h * p->k_w;
    const int32_t in_h = p->in_h, in_w = p->in_w, out_h = p->out_h, out_w = p->out_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w, dil_h = p->dil_h, dil_w = p->dil_w;
    const int32_t pad_top = p->pad_top, pad_left = p->pad_left, batches = p->batches;
    const int32_t *const bias = p->bias, *const mult = p->mult, *const shift = p->shift, *const rq = p->rq;
    const uint32_t *wp = (const uint32_t *)(const void *)filter;
    const int32_t zp = -p->input_offset;
    const int32_t off = p->output_offset, lo = p->act_min, hi = p->act_max;
    const int32_t pw = UAOT_DW_PADDED_W(out_w, stride_w, k_w, dil_w); /* padded row width (pixels) */
    const int32_t prs = pw * C;                                       /* padded row stride (bytes) */
    const int32_t dx = dil_w * C, sx = stride_w * C;
#if UAOT_HAVE_DSP
    const int32_t dyx = prs - dx; /* UAOT_DW_3X3_ASM's row step (a memory operand) */
    const int is3x3 = k_h == 3 && k_w == 3;
#if defined(__OPTIMIZE__)
    /* 3x3, whole groups of 4 channels, rq table, full int8 range: requant folded into the channel loop */
    const int rq_fold = is3x3 && C == 4 * G4 && G4 > 0 && rq != NULL && lo == -128 && hi == 127;
#endif
#endif
    int32_t *acc = (int32_t *)(void *)scratch;
    int8_t *rows = (int8_t *)(scratch + 4 * (int32_t)C);
    /* the input columns a padded row holds: [ix_lo, ix_hi) at padded column ix + pad_left */
    const int32_t ix_lo = pad_left > 0 ? 0 : -pad_left;
    int32_t ix_hi = pw - pad_left;
    ix_hi = ix_hi > in_w ? in_w : ix_hi;
    const int32_t left = pad_left > 0 ? pad_left : 0;
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *in_b = input + (int32_t)b * in_h * in_w * C;
        int8_t *out = output + (int32_t)b * out_h * out_w * C;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * stride_h - pad_top;
            for (int32_t ky = 0; ky < k_h; ++ky) {
                const int32_t iy = iy0 + ky * dil_h;
                int8_t *dst = rows + (int32_t)ky * prs;
                if (iy < 0 || iy >= in_h || ix_hi <= ix_lo) {
                    memset(dst, zp, (size_t)prs);
                    continue;
                }
                const int32_t n_mid = ix_hi - ix_lo;
                memset(dst, zp, (size_t)(left * C));
                memcpy(dst + left * C, in_b + (iy * in_w + ix_lo) * C, (size_t)(n_mid * C));
                memset(dst + (left + n_mid) * C, zp, (size_t)((pw - left - n_mid) * C));
            }
            for (int32_t ox = 0; ox < out_w; ++ox, out += C) {
                const int8_t *base = rows + (int32_t)ox * sx;
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__) /* gcc -O0 cannot allocate it */
                if (rq_fold) {
                    /* 4 channels per step, requantized right away (uaot_rq_smmulr + SSAT, rq rows via
                     * LDM): no accumulator round trip through scratch */
                    const int32_t *q = rq, *bs = bias;
                    const uint32_t *wg = wp;
                    const int8_t *s1 = base;
                    int8_t *yo = out;
                    int8_t *const yend = out + C;
                    do {
                        int32_t a0 = bs[0], a1 = bs[1], a2 = bs[2], a3 = bs[3];
                        const int8_t *s0 = s1;
                        uint32_t v, xa, wa, wb;
                        bs += 4;
                        s1 += 4;
                        __asm__ volatile(UAOT_DW_3X3_ASM);
                        register int32_t m __asm__("r4");
                        register int32_t l1 __asm__("r5");
                        register int32_t r __asm__("r6");
                        register int32_t rb __asm__("r8");
                        __asm__ volatile(UAOT_RQ4_ASM("%[a0]") UAOT_RQ4_ASM("%[a1]") UAOT_RQ4_ASM("%[a2]")
                                             UAOT_RQ4_ASM("%[a3]")
                                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [m] "=&r"(m),
                                           [l1] "=&r"(l1), [r] "=&r"(r), [bias] "=&r"(rb), [q] "+r"(q), [yo] "+r"(yo)
                                         :
                                         : "cc", "memory");
                    } while (yo != yend);
                    continue;
                }
#endif
                const uint32_t *wg = wp;
                int32_t *ac = acc;
                const int32_t *bs = bias;
                for (int32_t g = 0; g < G4; ++g, ac += 4, bs += 4) {
                    int32_t a0 = bs[0], a1 = bs[1], a2 = bs[2], a3 = bs[3];
                    const int8_t *s0 = base + 4 * g;
#if UAOT_HAVE_DSP
                    if (is3x3) {
                        /* 36 MACs in 80 instructions */
                        uint32_t v, xa, wa, wb;
                        __asm__ volatile(UAOT_DW_3X3_ASM);
                    } else
#endif
                    {
                        for (int32_t ky = 0; ky < k_h; ++ky) {
                            const int8_t *src = s0 + (int32_t)ky * prs;
                            for (int32_t kx = 0; kx < k_w; ++kx, src += dx, wg += 2) {
                                UAOT_DW_TAP(src, wg, a0, a1, a2, a3);
                            }
                        }
                    }
                    ac[0] = a0;
                    ac[1] = a1;
                    ac[2] = a2;
                    ac[3] = a3;
                }
                for (int32_t c = 4 * G4; c < C; ++c) {
                    const int32_t j = c - 4 * G4;
                    const uint32_t *wc = wp + (int32_t)G4 * taps * 2 + (j & 1);
                    int32_t a = bias[c];
                    for (int32_t ky = 0; ky < k_h; ++ky) {
                        const int8_t *src = base + (int32_t)ky * prs + c;
                        for (int32_t kx = 0; kx < k_w; ++kx, wc += 2, src += dx) {
                            const uint32_t wv = wc[0];
                            const int32_t wt = (int32_t)(int16_t)(uint16_t)((j & 2) ? (wv >> 16) : (wv & 0xFFFFu));
                            a += (int32_t)src[0] * wt;
                        }
                    }
                    acc[c] = a;
                }
                uaot_requant_row(acc, C, rq, mult, shift, off, lo, hi, out);
            }
        }
    }
    return UAOT_OK;
}
