/* microaot kernels: data movement (STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, PACK, UNPACK, TRANSPOSE,
 * DEPTH_TO_SPACE, SPACE_TO_DEPTH, BATCH_TO_SPACE_ND, SPACE_TO_BATCH_ND, GATHER,
 * RESIZE_NEAREST_NEIGHBOR), for any element type: every value is moved as bytes.
 *
 * uaot_move: one N-dimensional strided copy. The iteration space is dims[0..5] (outermost first,
 * unused leading entries 1); at each position `run` contiguous bytes are copied from
 * src + src_offset + sum(i[d] * src_strides[d]) to dst + dst_offset + sum(i[d] * dst_strides[d])
 * (strides in bytes, source strides may be negative). The compiler merges contiguous dimensions
 * into `run`, so a plain slice or split is a few memcpy calls.
 * uaot_move_many: n such copies, copy k from srcs[k] to dsts[k] (one call per multi-output op).
 * uaot_fill: count elements of elem_size bytes, each a copy of *value.
 * uaot_gather: GATHER with run-time indices (int32 or int64), batch_dims as TFLM.
 * uaot_resize_nearest: out[b][y][x] = in[b][y_off[y] + x_off[x]] (`run` bytes per pixel). */
#ifndef MICROAOT_KERNELS_MOVEMENT_H
#define MICROAOT_KERNELS_MOVEMENT_H

#include <stdint.h>

#include "microaot/status.h"

#define UAOT_MOVE_MAX_DIMS 6

typedef struct {
    int32_t dims[UAOT_MOVE_MAX_DIMS];
    int32_t src_strides[UAOT_MOVE_MAX_DIMS];
    int32_t dst_strides[UAOT_MOVE_MAX_DIMS];
    int32_t src_offset;
    int32_t dst_offset;
    int32_t run;
} uaot_move_params_t;

uaot_status_t uaot_move(const uaot_move_params_t *p, const void *src, void *dst);
uaot_status_t uaot_move_many(const uaot_move_params_t *p, int32_t n, const void *const *srcs, void *const *dsts);
uaot_status_t uaot_fill(void *dst, int32_t count, int32_t elem_size, const void *value);

typedef struct {
    int32_t batch;       /* product of the first batch_dims dims of params (and indices) */
    int32_t outer;       /* product of params dims from batch_dims up to the axis */
    int32_t axis_size;   /* params dims[axis]: valid indices are 0 .. axis_size - 1 */
    int32_t coords;      /* indices per batch */
    int32_t inner_bytes; /* product of params dims after the axis, times the element size */
} uaot_gather_params_t;

uaot_status_t uaot_gather_i32(const uaot_gather_params_t *p, const void *params, const int32_t *indices, void *output);
uaot_status_t uaot_gather_i64(const uaot_gather_params_t *p, const void *params, const int64_t *indices, void *output);

typedef struct {
    int32_t batches;
    int32_t out_h, out_w;
    int32_t in_batch_bytes; /* bytes per input batch */
    const int32_t *y_off;   /* out_h entries: byte offset of the source row */
    const int32_t *x_off;   /* out_w entries: byte offset of the source pixel in its row */
    int32_t run;            /* bytes per pixel (channels * element size) */
} uaot_resize_nearest_params_t;

uaot_status_t uaot_resize_nearest(const uaot_resize_nearest_params_t *p, const void *input, void *output);

#endif
