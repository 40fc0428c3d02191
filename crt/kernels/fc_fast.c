/* microaot kernels: schedule variants of int8 FULLY_CONNECTED (see fc_fast.h). The input offset is
 * folded into the bias by the generator, so an accumulator is bias + sum(x * w); SXTB16/SMLAD as in
 * conv_fast.c (portable emulation without __ARM_FEATURE_DSP). */
#include "microaot/kernels/fc_fast.h"

#include <stddef.h>

#include "microaot/simd.h"

#if UAOT_HAVE_DSP
/* one group of 4 inputs for 4 output rows (16 MACs): the expanded input pair via one LDRD, the
 * weight words via LDRD (int8: 2 LDRD + 8 SXTB16, 19 instructions; int16: 4 LDRD, 13) */
#define UAOT_FC4_ROW8(T, A)                                                                                    \
    "sxtb16 %[wa0], " T "\n\t"                                                                                  \
    "sxtb16 " T ", " T ", ror #8\n\t"                                                                            \
    "smlad " A ", %[wa0], %[xa], " A "\n\t"                                                                      \
    "smlad " A ", " T ", %[xb], " A "\n\t"
#define UAOT_FC4_I8                                                                                            \
    "ldrd %[xa], %[xb], [%[c]], #8\n\t"                                                                         \
    "ldrd %[t0], %[t1], [%[w]], #8\n\t" UAOT_FC4_ROW8("%[t0]", "%[a0]") UAOT_FC4_ROW8("%[t1]", "%[a1]")          \
    "ldrd %[t0], %[t1], [%[w]], #8\n\t" UAOT_FC4_ROW8("%[t0]", "%[a2]") UAOT_FC4_ROW8("%[t1]", "%[a3]")
#define UAOT_FC4_ROW16(A)                                                                                      \
    "ldrd %[wa0], %[wa1], [%[w]], #8\n\t"                                                                       \
    "smlad " A ", %[wa0], %[xa], " A "\n\t"                                                                      \
    "smlad " A ", %[wa1], %[xb], " A "\n\t"
#define UAOT_FC4_I16                                                                                           \
    "ldrd %[xa], %[xb], [%[c]], #8\n\t" UAOT_FC4_ROW16("%[a0]") UAOT_FC4_ROW16("%[a1]") UAOT_FC4_ROW16("%[a2]")   \
        UAOT_FC4_ROW16("%[a3]")
/* uaot_rq_smmulr then SSAT #8 of accumulator A, stored to *yo++ (rq row {m, l1, r, bias} via LDM) */
#define UAOT_FC_RQ(A)                                                                                          \
    "ldmia %[q]!, {%[m], %[l1], %[r], %[bias]}\n\t"                                                             \
    "lsl " A ", " A ", %[l1]\n\t"                                                                                \
    "smmulr " A ", " A ", %[m]\n\t"                                                                              \
    "add %[m], " A ", %[bias]\n\t"                                                                               \
    "add %[m], %[m], " A ", asr #31\n\t"                                                                         \
    "asr %[m], %[m], %[r]\n\t"                                                                                   \
    "ssat %[m], #8, %[m]\n\t"                                                                                    \
    "strb %[m], [%[yo]], #1\n\t"
#define UAOT_FC4_OPERANDS                                                                                      \
    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [c] "+r"(c), [w] "+r"(w), [t0] "=&r"(t0),    \
      [t1] "=&r"(t1), [wa0] "=&r"(wa0), [wa1] "=&r"(wa1), [xa] "=&r"(xa), [xb] "=&r"(xb)                        \
    : [ce] "r"(cend)                                                                                           \
    : "cc", "memory"
#endif

UAOT_INLINE int8_t uaot_fc_out(const uaot_fc_s8_params_t *p, int32_t acc, int32_t o)
{
    if (p->rq != NULL) {
        return uaot_clamp8(uaot_rq_smmulr(acc, p->rq + 4 * o), p->act_min, p->act_max);
    }
    const int32_t mult = p->mult_pc != NULL ? p->mult_pc[o] : p->mult;
    const int32_t shift = p->shift_pc != NULL ? p->shift_pc[o] : p->shift;
    return uaot_requant_out(acc, mult, shift, p->output_offset, p->act_min, p->act_max);
}

UAOT_INLINE uaot_status_t uaot_fc_simd(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                       int8_t *output, uint8_t *scratch, const int w16)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->bias == NULL || scratch == NULL ||
        ((uintptr_t)filter & 3u) != 0u || ((uintptr_t)scratch & 3u) != 0u) {
        return UAOT_ERR_ARG;
    }
    const int32_t n_in = p->in_features;
    const int32_t n_out = p->out_features;
    const int32_t G = UAOT_FC_KP(n_in) / 4;
    uint32_t *xs = (uint32_t *)(void *)scratch;
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
    const int rq_full = p->rq != NULL && p->act_min == -128 && p->act_max == 127;
#endif
    int8_t *tmp = (int8_t *)(scratch + 8 * (int32_t)G);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (int32_t)b * n_in;
        int8_t *y = output + (int32_t)b * n_out;
        /* expand the input row to int16 pairs in SXTB16 order */
        const int8_t *src = x;
        if ((n_in & 3) != 0) {
            for (int32_t i = 0; i < 4 * G; ++i) {
                tmp[i] = i < n_in ? x[i] : 0;
            }
            src = tmp;
        }
        for (int32_t g = 0; g < G; ++g) {
            const uint32_t v = uaot_ld32(src + 4 * g);
            xs[2 * g] = uaot_sxtb16(v);
            xs[2 * g + 1] = uaot_sxtb16_r8(v);
        }
        const uint32_t *w = (const uint32_t *)(const void *)filter;
        int32_t o = 0;
        for (; o + 4 <= n_out; o += 4) {
            int32_t a0 = p->bias[o], a1 = p->bias[o + 1], a2 = p->bias[o + 2], a3 = p->bias[o + 3];
            const uint32_t *c = xs;
#if UAOT_HAVE_DSP
            /* odd G: one group, then 2 groups per iteration */
            const uint32_t *cend = xs + 2 * G;
            uint32_t t0, t1, wa0, wa1, xa, xb;
            if (w16) {
                if (G & 1) {
                    __asm__ volatile(UAOT_FC4_I16 UAOT_FC4_OPERANDS);
                }
                if (c != cend) {
                    __asm__ volatile("1:\n\t" UAOT_FC4_I16 UAOT_FC4_I16 "cmp %[c], %[ce]\n\t"
                                                                         "bne 1b\n\t" UAOT_FC4_OPERANDS);
                }
            } else {
                if (G & 1) {
                    __asm__ volatile(UAOT_FC4_I8 UAOT_FC4_OPERANDS);
                }
                if (c != cend) {
                    __asm__ volatile("1:\n\t" UAOT_FC4_I8 UAOT_FC4_I8 "cmp %[c], %[ce]\n\t"
                                                                       "bne 1b\n\t" UAOT_FC4_OPERANDS);
                }
            }
#else
            for (int32_t g = 0; g < G; ++g) {
                const uint32_t xa = c[0], xb = c[1];
                c += 2;
                if (w16) {
                    a0 = uaot_smlad(w[0], xa, a0);
                    a0 = uaot_smlad(w[1], xb, a0);
                    a1 = uaot_smlad(w[2], xa, a1);
                    a1 = uaot_smlad(w[3], xb, a1);
                    a2 = uaot_smlad(w[4], xa, a2);
                    a2 = uaot_smlad(w[5], xb, a2);
                    a3 = uaot_smlad(w[6], xa, a3);
                    a3 = uaot_smlad(w[7], xb, a3);
                    w += 8;
                } else {
                    const uint32_t r0 = w[0], r1 = w[1], r2 = w[2], r3 = w[3];
                    w += 4;
                    a0 = uaot_smlad(uaot_sxtb16(r0), xa, a0);
                    a0 = uaot_smlad(uaot_sxtb16_r8(r0), xb, a0);
                    a1 = uaot_smlad(uaot_sxtb16(r1), xa, a1);
                    a1 = uaot_smlad(uaot_sxtb16_r8(r1), xb, a1);
                    a2 = uaot_smlad(uaot_sxtb16(r2), xa, a2);
                    a2 = uaot_smlad(uaot_sxtb16_r8(r2), xb, a2);
                    a3 = uaot_smlad(uaot_sxtb16(r3), xa, a3);
                    a3 = uaot_smlad(uaot_sxtb16_r8(r3), xb, a3);
                }
            }
#endif
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__) /* gcc -O0 cannot allocate it */
            if (rq_full) {
                /* uaot_rq_smmulr + SSAT for the 4 rows: 8 instructions per output, each rq row in one
                 * LDM (fixed ascending registers, as LDM needs) */
                register int32_t m __asm__("r4");
                register int32_t l1 __asm__("r5");
                register int32_t r __asm__("r6");
                register int32_t bias __asm__("r8");
                const int32_t *q = p->rq + 4 * o;
                int8_t *yo = y + o;
                __asm__ volatile(UAOT_FC_RQ("%[a0]") UAOT_FC_RQ("%[a1]") UAOT_FC_RQ("%[a2]") UAOT_FC_RQ("%[a3]")
                                 : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [m] "=&r"(m),
                                   [l1] "=&r"(l1), [r] "=&r"(r), [bias] "=&r"(bias), [q] "+r"(q), [yo] "+r"(yo)
                                 :
                                 : "cc", "memory");
                continue;
            }
#endif
            y[o] = uaot_fc_out(p, a0, o);
            y[o + 1] = uaot_fc_out(p, a1, o + 1);
            y[o + 2] = uaot_fc_out(p, a2, o + 2);
            y[o + 3] = uaot_fc_out(p, a3, o + 3);
        }
        for (; o < n_out; ++o) {
            int32_t a0 = p->bias[o];
            const uint32_t *c = xs;
            for (int32_t g = 0; g < G; ++g) {
                if (w16) {
                    a0 = uaot_smlad(w[0], c[0], a0);
                    a0 = uaot_smlad(w[1], c[1], a0);
                    w += 2;
                } else {
                    const uint32_t r0 = w[0];
                    w += 1;
                    a0 = uaot_smlad(uaot_sxtb16(r0), c[0], a0);
                    a0 = uaot_smlad(uaot_sxtb16_r8(r0), c[1], a0);
                }
                c += 2;
            }
            y[o] = uaot_fc_out(p, a0, o);
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_fully_connected_s8_simd4(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                            int8_t *output, uint8_t *scratch)
{
    return uaot_fc_simd(p, input, filter, output, scratch, 0);
}

uaot_status_t uaot_fully_connected_s8_simd4_w16(const uaot_fc_s8_params_t *p, const int8_t *input,
                                                const int8_t *filter, int8_t *output, uint8_t *scratch)
{
    return uaot_fc_simd(p, input, filter, output, scratch, 1);
}
