/* microaot kernels: int8 DEPTHWISE_CONV_2D (any depth multiplier, any kernel) and 1-input-channel CONV_2D,
 * one input channel plane at a time (microaot/kernels/dw_plane.h). */
#include "microaot/kernels/dw_plane.h"

#include <stddef.h>

#include "microaot/qmath.h"
#include "microaot/simd.h"

typedef struct {
    const int32_t *rq, *mult, *shift;
    int32_t out_off, lo, hi;
} uaot_dwpl_rq_t;

static inline int8_t uaot_dwpl_out(const uaot_dwpl_rq_t *r, int32_t acc, int32_t ch)
{
    if (r->rq != NULL) {
        return uaot_clamp8(uaot_rq_smmulr(acc, r->rq + 4 * ch), r->lo, r->hi);
    }
    return uaot_requant_out(acc, r->mult[ch], r->shift[ch], r->out_off, r->lo, r->hi);
}

/* expand input line `line` (outer index) of one channel into dst: n int16 values, value j = input inner index
 * j - pad (the zero point outside [0, len)) */
static void uaot_dwpl_expand(int16_t *dst, int32_t n, const int8_t *src, int32_t step, int32_t len, int32_t pad,
                             int16_t zp)
{
    int32_t j = 0;
    const int32_t lo = pad < n ? pad : n;
    for (; j < lo; ++j) {
        dst[j] = zp;
    }
    int32_t hi = pad + len;
    if (hi > n) {
        hi = n;
    }
    const int8_t *s = src + (j - pad) * step;
    if (step == 1) {
        for (; j + 4 <= hi; j += 4, s += 4) {
            const uint32_t v = uaot_ld32(s);
            const uint32_t a = uaot_sxtb16(v), b = uaot_sxtb16_r8(v);
            const uint32_t lo2 = (a & 0xFFFFu) | (b << 16), hi2 = (a >> 16) | (b & 0xFFFF0000u);
            memcpy(dst + j, &lo2, 4);
            memcpy(dst + j + 2, &hi2, 4);
        }
    }
    for (; j < hi; ++j, s += step) {
        dst[j] = *s;
    }
    for (; j < n; ++j) {
        dst[j] = zp;
    }
}

/* 2 output pixels (x0, x0 + si) x 2 output channels (weights wp: per tap pair, the pair of channel m then
 * m + 1): n tap pairs at the int16 offsets off[] */
static inline void uaot_dwpl_2x2(const int16_t *x0, int32_t si, const int32_t *off, int32_t n, const int32_t *wp,
                                 int32_t *acc)
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    const int16_t *x1 = x0 + si;
    const int32_t *end = off + (n & ~1);
    while (off < end) {
        const int32_t o0 = off[0], o1 = off[1];
        const uint32_t v0 = uaot_ld32(x0 + o0), v1 = uaot_ld32(x1 + o0);
        a00 = uaot_smlad(v0, (uint32_t)wp[0], a00);
        a01 = uaot_smlad(v0, (uint32_t)wp[1], a01);
        a10 = uaot_smlad(v1, (uint32_t)wp[0], a10);
        a11 = uaot_smlad(v1, (uint32_t)wp[1], a11);
        const uint32_t u0 = uaot_ld32(x0 + o1), u1 = uaot_ld32(x1 + o1);
        a00 = uaot_smlad(u0, (uint32_t)wp[2], a00);
        a01 = uaot_smlad(u0, (uint32_t)wp[3], a01);
        a10 = uaot_smlad(u1, (uint32_t)wp[2], a10);
        a11 = uaot_smlad(u1, (uint32_t)wp[3], a11);
        off += 2;
        wp += 4;
    }
    if (n & 1) {
        const uint32_t v0 = uaot_ld32(x0 + off[0]), v1 = uaot_ld32(x1 + off[0]);
        a00 = uaot_smlad(v0, (uint32_t)wp[0], a00);
        a01 = uaot_smlad(v0, (uint32_t)wp[1], a01);
        a10 = uaot_smlad(v1, (uint32_t)wp[0], a10);
        a11 = uaot_smlad(v1, (uint32_t)wp[1], a11);
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* 4 output pixels (x0 + j*si) x 1 output channel (the weights of a pair's channel m: every other word) */
static inline void uaot_dwpl_4x1(const int16_t *x0, int32_t si, const int32_t *off, int32_t n, const int32_t *wp,
                                 int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int16_t *x2 = x0 + 2 * si;
    for (int32_t t = 0; t < n; ++t, wp += 2) {
        const int32_t o = off[t];
        const uint32_t w = (uint32_t)wp[0];
        a0 = uaot_smlad(uaot_ld32(x0 + o), w, a0);
        a1 = uaot_smlad(uaot_ld32(x0 + si + o), w, a1);
        a2 = uaot_smlad(uaot_ld32(x2 + o), w, a2);
        a3 = uaot_smlad(uaot_ld32(x2 + si + o), w, a3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

uaot_status_t uaot_dw_plane_s8(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                               int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || scratch == NULL || p->depth_mult < 1 ||
        p->in_c * p->depth_mult != p->out_c) {
        return UAOT_ERR_ARG;
    }
    UAOT_CHECK_SCRATCH(scratch_size, uaot_dw_plane_s8_scratch_size(p));
    const int32_t t = uaot_dw_plane_transposed(p);
    const int32_t C = p->in_c, M = p->depth_mult, OC = p->out_c;
    /* outer / inner axis geometry; strides in bytes (input) and elements (output) */
    const int32_t ko_n = t ? p->k_w : p->k_h, ki_n = t ? p->k_h : p->k_w;
    const int32_t dil_o = t ? p->dil_w : p->dil_h;
    const int32_t so = t ? p->stride_w : p->stride_h, si = t ? p->stride_h : p->stride_w;
    const int32_t pad_o = t ? p->pad_left : p->pad_top, pad_i = t ? p->pad_top : p->pad_left;
    const int32_t in_o = t ? p->in_w : p->in_h, in_i = t ? p->in_h : p->in_w;
    const int32_t out_o = t ? p->out_w : p->out_h, out_i = t ? p->out_h : p->out_w;
    const int32_t in_os = t ? C : p->in_w * C, in_is = t ? p->in_w * C : C;
    const int32_t out_os = t ? OC : p->out_w * OC, out_is = t ? p->out_w * OC : OC;
    const int32_t kip = (ki_n + 1) / 2 * 2, kp_n = kip / 2, taps = ko_n * kp_n;
    const int32_t eo = (ko_n - 1) * dil_o + 1;
    const int32_t wn = (out_i - 1) * si + kip, wstride = (wn + 1) / 2 * 2;
    const int32_t mp = (M + 1) / 2;       /* channel pairs per input channel */
    const int32_t wpair = ko_n * kip * 2; /* int16 per channel pair */
    /* scratch: the tap offsets, the line tags, then the ring: 2 * eo lines, line l in slots l mod eo and
     * (l mod eo) + eo, so that the eo consecutive lines of an output line are contiguous from slot s0 */
    int32_t *offs = (int32_t *)(void *)scratch;
    int32_t *tags = offs + taps;
    int16_t *ring = (int16_t *)(void *)(tags + eo);
    for (int32_t k = 0; k < ko_n; ++k) {
        for (int32_t kp = 0; kp < kp_n; ++kp) {
            offs[k * kp_n + kp] = k * dil_o * wstride + 2 * kp;
        }
    }
    const uaot_dwpl_rq_t rqv = {p->rq, p->mult, p->shift, p->output_offset, p->act_min, p->act_max};
    const int16_t zp = (int16_t)(-p->input_offset);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * C;
        int8_t *out_b = output + (size_t)b * p->out_h * p->out_w * OC;
        for (int32_t c = 0; c < C; ++c) {
            for (int32_t s = 0; s < eo; ++s) {
                tags[s] = INT32_MIN;
            }
            const int16_t *wc = (const int16_t *)(const void *)filter + (size_t)c * mp * wpair;
            for (int32_t oo = 0; oo < out_o; ++oo) {
                const int32_t base = oo * so - pad_o;
                for (int32_t l = base; l < base + eo; ++l) {
                    int32_t slot = l % eo;
                    slot += slot < 0 ? eo : 0;
                    if (tags[slot] != l) {
                        tags[slot] = l;
                        int16_t *dst = ring + (size_t)slot * wstride;
                        if (l < 0 || l >= in_o) {
                            uaot_dwpl_expand(dst, wn, in_b, in_is, 0, wn, zp);
                        } else {
                            uaot_dwpl_expand(dst, wn, in_b + l * in_os + c, in_is, in_i, pad_i, zp);
                        }
                        memcpy(dst + (size_t)eo * wstride, dst, (size_t)wn * 2u);
                    }
                }
                int32_t s0 = base % eo;
                s0 += s0 < 0 ? eo : 0;
                const int16_t *lines = ring + (size_t)s0 * wstride;
                int8_t *orow = out_b + oo * out_os + c * M;
                int32_t acc[4];
                if (M == 1) {
                    const int32_t *wp = (const int32_t *)(const void *)wc;
                    const int32_t b0 = p->bias[c];
                    int32_t oi = 0;
                    for (; oi + 4 <= out_i; oi += 4) {
                        acc[0] = acc[1] = acc[2] = acc[3] = b0;
                        uaot_dwpl_4x1(lines + oi * si, si, offs, taps, wp, acc);
                        int8_t *o0 = orow + oi * out_is;
                        for (int32_t j = 0; j < 4; ++j) {
                            o0[j * out_is] = uaot_dwpl_out(&rqv, acc[j], c);
                        }
                    }
                    for (; oi < out_i; ++oi) {
                        int32_t a = b0;
                        const int16_t *x0 = lines + oi * si;
                        for (int32_t tp = 0; tp < taps; ++tp) {
                            a = uaot_smlad(uaot_ld32(x0 + offs[tp]), (uint32_t)wp[2 * tp], a);
                        }
                        orow[oi * out_is] = uaot_dwpl_out(&rqv, a, c);
                    }
                    continue;
                }
                if (out_i & 1) { /* the last pixel of the line: 4 channels (2 pairs) per step, then a last pair */
                    const int32_t oi = out_i - 1;
                    const int16_t *x0 = lines + oi * si;
                    int8_t *o0 = orow + oi * out_is;
                    int32_t m2 = 0;
                    for (; m2 + 2 <= mp; m2 += 2) {
                        const int32_t ch = c * M + 2 * m2;
                        const int32_t *wa = (const int32_t *)(const void *)(wc + (size_t)m2 * wpair);
                        const int32_t *wb = (const int32_t *)(const void *)(wc + (size_t)(m2 + 1) * wpair);
                        int32_t a0 = p->bias[ch], a1 = p->bias[ch + 1], a2 = p->bias[ch + 2];
                        int32_t a3 = 2 * m2 + 3 < M ? p->bias[ch + 3] : 0;
                        for (int32_t tp = 0; tp < taps; ++tp, wa += 2, wb += 2) {
                            const uint32_t v0 = uaot_ld32(x0 + offs[tp]);
                            a0 = uaot_smlad(v0, (uint32_t)wa[0], a0);
                            a1 = uaot_smlad(v0, (uint32_t)wa[1], a1);
                            a2 = uaot_smlad(v0, (uint32_t)wb[0], a2);
                            a3 = uaot_smlad(v0, (uint32_t)wb[1], a3);
                        }
                        o0[2 * m2] = uaot_dwpl_out(&rqv, a0, ch);
                        o0[2 * m2 + 1] = uaot_dwpl_out(&rqv, a1, ch + 1);
                        o0[2 * m2 + 2] = uaot_dwpl_out(&rqv, a2, ch + 2);
                        if (2 * m2 + 3 < M) {
                            o0[2 * m2 + 3] = uaot_dwpl_out(&rqv, a3, ch + 3);
                        }
                    }
                    if (m2 < mp) {
                        const int32_t ch = c * M + 2 * m2;
                        const int two = 2 * m2 + 1 < M;
                        const int32_t *wp = (const int32_t *)(const void *)(wc + (size_t)m2 * wpair);
                        int32_t a0 = p->bias[ch], a1 = two ? p->bias[ch + 1] : 0;
                        for (int32_t tp = 0; tp < taps; ++tp) {
                            const uint32_t v0 = uaot_ld32(x0 + offs[tp]);
                            a0 = uaot_smlad(v0, (uint32_t)wp[2 * tp], a0);
                            a1 = uaot_smlad(v0, (uint32_t)wp[2 * tp + 1], a1);
                        }
                        o0[2 * m2] = uaot_dwpl_out(&rqv, a0, ch);
                        if (two) {
                            o0[2 * m2 + 1] = uaot_dwpl_out(&rqv, a1, ch + 1);
                        }
                    }
                }
                for (int32_t m2 = 0; m2 < mp; ++m2) {
                    const int32_t ch = c * M + 2 * m2;
                    const int two = 2 * m2 + 1 < M;
                    const int32_t b0 = p->bias[ch], b1 = two ? p->bias[ch + 1] : 0;
                    const int32_t *wp = (const int32_t *)(const void *)(wc + (size_t)m2 * wpair);
                    int32_t oi = 0;
                    for (; oi + 2 <= out_i; oi += 2) {
                        acc[0] = acc[2] = b0;
                        acc[1] = acc[3] = b1;
                        uaot_dwpl_2x2(lines + oi * si, si, offs, taps, wp, acc);
                        int8_t *o0 = orow + oi * out_is + 2 * m2;
                        o0[0] = uaot_dwpl_out(&rqv, acc[0], ch);
                        o0[out_is] = uaot_dwpl_out(&rqv, acc[2], ch);
                        if (two) {
                            o0[1] = uaot_dwpl_out(&rqv, acc[1], ch + 1);
                            o0[out_is + 1] = uaot_dwpl_out(&rqv, acc[3], ch + 1);
                        }
                    }
                }
            }
        }
    }
    return UAOT_OK;
}
