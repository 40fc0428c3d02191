/* microaot kernels: row-by-row driver for in-place int8 convolutions (see conv_rows.h). */
#include "microaot/kernels/conv_rows.h"

#include <stddef.h>

static int32_t uaot_rows_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* [a0, a1) and [b0, b1) (addresses) intersect */
static int uaot_rows_overlap(uintptr_t a0, uintptr_t a1, uintptr_t b0, uintptr_t b1)
{
    return a0 < b1 && b0 < a1;
}

uaot_status_t uaot_conv_s8_rows(const uaot_conv_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                int8_t *output, uint8_t *scratch, uint32_t scratch_size, uaot_conv_s8_kernel_t kernel,
                                int32_t reverse)
{
    if (p == NULL || input == NULL || output == NULL || kernel == NULL || p->batches != 1 || p->in_h <= 0 ||
        p->out_h <= 0 || p->stride_h <= 0 || p->dil_h <= 0) {
        return UAOT_ERR_ARG;
    }
    const int32_t in_h = p->in_h;
    const size_t in_row = (size_t)p->in_w * (size_t)p->in_c;
    const size_t out_row = (size_t)p->out_w * (size_t)p->out_c;
    const int32_t span = (p->k_h - 1) * p->dil_h;
    const uintptr_t in0 = (uintptr_t)input;
    for (int32_t i = 0; i < p->out_h; ++i) {
        const int32_t oy = reverse ? p->out_h - 1 - i : i;
        const int32_t s = oy * p->stride_h - p->pad_top;
        const int32_t e = s + span;
        int8_t *const out = output + (size_t)oy * out_row;
        const uintptr_t o0 = (uintptr_t)out, o1 = o0 + out_row;
        /* input rows still read by this row or the rows after it (in the driving direction) */
        if (!reverse) {
            const int32_t lo = s < 0 ? 0 : s;
            if (lo < in_h && uaot_rows_overlap(o0, o1, in0 + (size_t)lo * in_row, in0 + (size_t)in_h * in_row)) {
                return UAOT_ERR_ARG;
            }
        } else if (e >= 0) {
            const int32_t hi = e < in_h - 1 ? e : in_h - 1;
            if (uaot_rows_overlap(o0, o1, in0, in0 + (size_t)(hi + 1) * in_row)) {
                return UAOT_ERR_ARG;
            }
        }
        /* the rows this output row reads, as a small convolution of one output row */
        const int32_t lo = uaot_rows_clamp(s, 0, in_h - 1);
        const int32_t hi = uaot_rows_clamp(e, lo, in_h - 1);
        uaot_conv_s8_params_t q = *p;
        q.in_h = hi - lo + 1;
        q.pad_top = lo - s;
        q.out_h = 1;
        const uaot_status_t st = kernel(&q, input + (size_t)lo * in_row, filter, out, scratch, scratch_size);
        if (st != UAOT_OK) {
            return st;
        }
    }
    return UAOT_OK;
}
