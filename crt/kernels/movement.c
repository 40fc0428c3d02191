/* microaot kernels: data movement, portable C99 (see movement.h). */
#include "microaot/kernels/movement.h"

#include <stddef.h>
#include <string.h>

/* Copy `run` bytes; runs of 1, 2 and 4 bytes (one element) without a library call. */
static void copy_run(uint8_t *d, const uint8_t *s, int32_t run)
{
    switch (run) {
    case 1:
        d[0] = s[0];
        break;
    case 2:
        d[0] = s[0];
        d[1] = s[1];
        break;
    case 4:
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
        d[3] = s[3];
        break;
    default:
        memcpy(d, s, (size_t)run);
        break;
    }
}

uaot_status_t uaot_move(const uaot_move_params_t *p, const void *src, void *dst)
{
    if (p == NULL || src == NULL || dst == NULL || p->run < 0) {
        return UAOT_ERR_ARG;
    }
    const int32_t *n = p->dims;
    const int32_t *ss = p->src_strides;
    const int32_t *ds = p->dst_strides;
    const uint8_t *s0 = (const uint8_t *)src + p->src_offset;
    uint8_t *d0 = (uint8_t *)dst + p->dst_offset;
    for (int32_t i0 = 0; i0 < n[0]; ++i0) {
        const uint8_t *s1 = s0 + (ptrdiff_t)i0 * ss[0];
        uint8_t *d1 = d0 + (ptrdiff_t)i0 * ds[0];
        for (int32_t i1 = 0; i1 < n[1]; ++i1) {
            const uint8_t *s2 = s1 + (ptrdiff_t)i1 * ss[1];
            uint8_t *d2 = d1 + (ptrdiff_t)i1 * ds[1];
            for (int32_t i2 = 0; i2 < n[2]; ++i2) {
                const uint8_t *s3 = s2 + (ptrdiff_t)i2 * ss[2];
                uint8_t *d3 = d2 + (ptrdiff_t)i2 * ds[2];
                for (int32_t i3 = 0; i3 < n[3]; ++i3) {
                    const uint8_t *s4 = s3 + (ptrdiff_t)i3 * ss[3];
                    uint8_t *d4 = d3 + (ptrdiff_t)i3 * ds[3];
                    for (int32_t i4 = 0; i4 < n[4]; ++i4) {
                        const uint8_t *s5 = s4 + (ptrdiff_t)i4 * ss[4];
                        uint8_t *d5 = d4 + (ptrdiff_t)i4 * ds[4];
                        for (int32_t i5 = 0; i5 < n[5]; ++i5) {
                            copy_run(d5 + (ptrdiff_t)i5 * ds[5], s5 + (ptrdiff_t)i5 * ss[5], p->run);
                        }
                    }
                }
            }
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_move_many(const uaot_move_params_t *p, int32_t n, const void *const *srcs, void *const *dsts)
{
    if (p == NULL || srcs == NULL || dsts == NULL) {
        return UAOT_ERR_ARG;
    }
    for (int32_t k = 0; k < n; ++k) {
        const uaot_status_t st = uaot_move(&p[k], srcs[k], dsts[k]);
        if (st != UAOT_OK) {
            return st;
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_fill(void *dst, int32_t count, int32_t elem_size, const void *value)
{
    if (dst == NULL || value == NULL || count < 0 || elem_size <= 0) {
        return UAOT_ERR_ARG;
    }
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *v = (const uint8_t *)value;
    for (int32_t i = 0; i < count; ++i) {
        for (int32_t b = 0; b < elem_size; ++b) {
            *d++ = v[b];
        }
    }
    return UAOT_OK;
}

/* GATHER: for each batch, outer slice and coordinate, copy the indexed inner slice. An index out
 * of [0, axis_size) is an error, as in TFLM (which returns kTfLiteError). */
#define UAOT_GATHER_BODY(INDEX_T)                                                                                 \
    if (p == NULL || params == NULL || indices == NULL || output == NULL) {                                       \
        return UAOT_ERR_ARG;                                                                                      \
    }                                                                                                             \
    const uint8_t *in = (const uint8_t *)params;                                                                  \
    uint8_t *out = (uint8_t *)output;                                                                             \
    const size_t inner = (size_t)p->inner_bytes;                                                                  \
    for (int32_t b = 0; b < p->batch; ++b) {                                                                      \
        const INDEX_T *idx = indices + (size_t)b * (size_t)p->coords;                                             \
        for (int32_t o = 0; o < p->outer; ++o) {                                                                  \
            const uint8_t *slab = in + ((size_t)b * (size_t)p->outer + (size_t)o) * (size_t)p->axis_size * inner; \
            for (int32_t c = 0; c < p->coords; ++c) {                                                             \
                const INDEX_T i = idx[c];                                                                         \
                if (i < 0 || i >= (INDEX_T)p->axis_size) {                                                        \
                    return UAOT_ERR_RANGE;                                                                        \
                }                                                                                                 \
                memcpy(out, slab + (size_t)i * inner, inner);                                                     \
                out += inner;                                                                                     \
            }                                                                                                     \
        }                                                                                                         \
    }                                                                                                             \
    return UAOT_OK;

uaot_status_t uaot_gather_i32(const uaot_gather_params_t *p, const void *params, const int32_t *indices,
                              void *output){UAOT_GATHER_BODY(int32_t)}

uaot_status_t uaot_gather_i64(const uaot_gather_params_t *p, const void *params, const int64_t *indices,
                              void *output){UAOT_GATHER_BODY(int64_t)}

uaot_status_t uaot_resize_nearest(const uaot_resize_nearest_params_t *p, const void *input, void *output)
{
    if (p == NULL || input == NULL || output == NULL || p->y_off == NULL || p->x_off == NULL) {
        return UAOT_ERR_ARG;
    }
    uint8_t *out = (uint8_t *)output;
    for (int32_t b = 0; b < p->batches; ++b) {
        const uint8_t *in = (const uint8_t *)input + (size_t)b * (size_t)p->in_batch_bytes;
        for (int32_t y = 0; y < p->out_h; ++y) {
            const uint8_t *row = in + p->y_off[y];
            for (int32_t x = 0; x < p->out_w; ++x) {
                copy_run(out, row + p->x_off[x], p->run);
                out += p->run;
            }
        }
    }
    return UAOT_OK;
}
