/* microaot kernels: MEAN, portable C99 (TFLM reference arithmetic for int8). */
#include "microaot/kernels/reduce.h"

#include <stddef.h>

#include "microaot/qmath.h"

/* Offsets of all kept (or reduced) positions, visited in row-major order with an odometer. */
typedef struct {
    int32_t idx[UAOT_REDUCE_MAX_DIMS];
    ptrdiff_t off;
} odometer_t;

static void odo_reset(odometer_t *o)
{
    for (int d = 0; d < UAOT_REDUCE_MAX_DIMS; ++d) {
        o->idx[d] = 0;
    }
    o->off = 0;
}

static void odo_next(odometer_t *o, const int32_t *dims, const int32_t *strides)
{
    for (int d = UAOT_REDUCE_MAX_DIMS - 1; d >= 0; --d) {
        if (++o->idx[d] < dims[d]) {
            o->off += strides[d];
            return;
        }
        o->off -= (ptrdiff_t)strides[d] * (dims[d] - 1);
        o->idx[d] = 0;
    }
}

static int32_t num_outputs(const uaot_reduce_params_t *p)
{
    int32_t n = 1;
    for (int d = 0; d < UAOT_REDUCE_MAX_DIMS; ++d) {
        n *= p->keep_dims[d];
    }
    return n;
}

static int8_t mean_out_s8(const uaot_reduce_params_t *p, int32_t sum)
{
    const int32_t v = uaot_mbqm(sum - p->input_zp * p->count, p->mult, (int)p->shift) + p->output_zp;
    return (int8_t)uaot_clamp_i32(v, -128, 127);
}

static float mean_out_f32(const uaot_reduce_params_t *p, float sum)
{
    return sum / (float)p->count;
}

/* The loops of both kernels: T = element type, ACC = accumulator type (starts at 0),
 * OUT(p, sum) -> T = the mean of p->count elements. */
#define UAOT_MEAN_BODY(T, ACC, OUT)                                  \
    const int32_t n_out = num_outputs(p);                         \
    odometer_t k;                                                 \
    odometer_t r;                                                 \
    odo_reset(&k);                                                \
    for (int32_t o = 0; o < n_out; ++o) {                         \
        const T *base = input + k.off;                            \
        ACC sum = 0;                                              \
        odo_reset(&r);                                            \
        for (int32_t i = 0; i < p->count; ++i) {                  \
            sum += base[r.off];                                   \
            odo_next(&r, p->red_dims, p->red_strides);            \
        }                                                         \
        output[o] = OUT(p, sum);                                  \
        odo_next(&k, p->keep_dims, p->keep_strides);              \
    }

uaot_status_t uaot_mean_s8(const uaot_reduce_params_t *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count <= 0) {
        return UAOT_ERR_ARG;
    }
    UAOT_MEAN_BODY(int8_t, int32_t, mean_out_s8)
    return UAOT_OK;
}

uaot_status_t uaot_mean_f32(const uaot_reduce_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count <= 0) {
        return UAOT_ERR_ARG;
    }
    UAOT_MEAN_BODY(float, float, mean_out_f32)
    return UAOT_OK;
}
