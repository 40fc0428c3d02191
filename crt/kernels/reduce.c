/* microaot kernels: MEAN, SUM, REDUCE_MAX, REDUCE_MIN, portable C99 (TFLM reference arithmetic for int8). */
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

static int16_t mean_out_s16(const uaot_reduce_params_t *p, int32_t sum)
{
    const int32_t v = uaot_mbqm(sum - p->input_zp * p->count, p->mult, (int)p->shift) + p->output_zp;
    return (int16_t)uaot_clamp_i32(v, -32768, 32767);
}

static float sum_out_f32(const uaot_reduce_params_t *p, float sum)
{
    (void)p;
    return sum;
}

static int32_t sum_out_i32(const uaot_reduce_params_t *p, int32_t sum)
{
    (void)p;
    return sum;
}

static float mean_out_f32(const uaot_reduce_params_t *p, float sum)
{
    return sum / (float)p->count;
}

/* The loops of both kernels: T = element type, ACC = accumulator type (starts at 0),
 * OUT(p, sum) -> T = the mean of p->count elements. */
#define UAOT_MEAN_BODY(T, ACC, OUT)                    \
    const int32_t n_out = num_outputs(p);              \
    odometer_t k;                                      \
    odometer_t r;                                      \
    odo_reset(&k);                                     \
    for (int32_t o = 0; o < n_out; ++o) {              \
        const T *base = input + k.off;                 \
        ACC sum = 0;                                   \
        odo_reset(&r);                                 \
        for (int32_t i = 0; i < p->count; ++i) {       \
            sum += base[r.off];                        \
            odo_next(&r, p->red_dims, p->red_strides); \
        }                                              \
        output[o] = OUT(p, sum);                       \
        odo_next(&k, p->keep_dims, p->keep_strides);   \
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

uaot_status_t uaot_mean_s16(const uaot_reduce_params_t *p, const int16_t *input, int16_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count <= 0) {
        return UAOT_ERR_ARG;
    }
    UAOT_MEAN_BODY(int16_t, int32_t, mean_out_s16)
    return UAOT_OK;
}

uaot_status_t uaot_sum_f32(const uaot_reduce_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count <= 0) {
        return UAOT_ERR_ARG;
    }
    UAOT_MEAN_BODY(float, float, sum_out_f32)
    return UAOT_OK;
}

uaot_status_t uaot_sum_i32(const uaot_reduce_params_t *p, const int32_t *input, int32_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count <= 0) {
        return UAOT_ERR_ARG;
    }
    /* wrap-around addition in uint32 (TFLM's int32 sum overflows the same way on its targets) */
    const int32_t n_out = num_outputs(p);
    odometer_t k;
    odometer_t r;
    odo_reset(&k);
    for (int32_t o = 0; o < n_out; ++o) {
        const int32_t *base = input + k.off;
        uint32_t sum = 0;
        odo_reset(&r);
        for (int32_t i = 0; i < p->count; ++i) {
            sum += (uint32_t)base[r.off];
            odo_next(&r, p->red_dims, p->red_strides);
        }
        output[o] = sum_out_i32(p, (int32_t)sum);
        odo_next(&k, p->keep_dims, p->keep_strides);
    }
    return UAOT_OK;
}

/* REDUCE_MAX / REDUCE_MIN: BETTER(in, cur) is TFLM's reducer (std::max(cur, in) = cur < in ? in : cur). */
#define UAOT_EXTREMUM_FN(NAME, T, INIT, BETTER)                                  \
    uaot_status_t NAME(const uaot_reduce_params_t *p, const T *input, T *output) \
    {                                                                            \
        if (p == NULL || input == NULL || output == NULL || p->count <= 0) {     \
            return UAOT_ERR_ARG;                                                 \
        }                                                                        \
        const int32_t n_out = num_outputs(p);                                    \
        odometer_t k;                                                            \
        odometer_t r;                                                            \
        odo_reset(&k);                                                           \
        for (int32_t o = 0; o < n_out; ++o) {                                    \
            const T *base = input + k.off;                                       \
            T cur = (INIT);                                                      \
            odo_reset(&r);                                                       \
            for (int32_t i = 0; i < p->count; ++i) {                             \
                const T v = base[r.off];                                         \
                if (BETTER(v, cur)) {                                            \
                    cur = v;                                                     \
                }                                                                \
                odo_next(&r, p->red_dims, p->red_strides);                       \
            }                                                                    \
            output[o] = cur;                                                     \
            odo_next(&k, p->keep_dims, p->keep_strides);                         \
        }                                                                        \
        return UAOT_OK;                                                          \
    }

#define UAOT_GT(v, cur) ((cur) < (v))
#define UAOT_LT(v, cur) ((v) < (cur))

UAOT_EXTREMUM_FN(uaot_reduce_max_s8, int8_t, INT8_MIN, UAOT_GT)
UAOT_EXTREMUM_FN(uaot_reduce_max_s16, int16_t, INT16_MIN, UAOT_GT)
UAOT_EXTREMUM_FN(uaot_reduce_max_i32, int32_t, INT32_MIN, UAOT_GT)
UAOT_EXTREMUM_FN(uaot_reduce_max_f32, float, -3.402823466e+38f, UAOT_GT)
UAOT_EXTREMUM_FN(uaot_reduce_min_s8, int8_t, INT8_MAX, UAOT_LT)
UAOT_EXTREMUM_FN(uaot_reduce_min_s16, int16_t, INT16_MAX, UAOT_LT)
UAOT_EXTREMUM_FN(uaot_reduce_min_i32, int32_t, INT32_MAX, UAOT_LT)
UAOT_EXTREMUM_FN(uaot_reduce_min_f32, float, 3.402823466e+38f, UAOT_LT)

#define UAOT_ARG_FN(NAME, T, BETTER)                                                     \
    uaot_status_t NAME(const uaot_arg_params_t *p, const T *input, void *output)         \
    {                                                                                    \
        if (p == NULL || input == NULL || output == NULL || p->axis_size <= 0) {         \
            return UAOT_ERR_ARG;                                                         \
        }                                                                                \
        int32_t *o32 = (int32_t *)output;                                                \
        int64_t *o64 = (int64_t *)output;                                                \
        for (int32_t o = 0; o < p->outer; ++o) {                                         \
            const T *base = input + (size_t)o * (size_t)p->axis_size * (size_t)p->inner; \
            for (int32_t in = 0; in < p->inner; ++in) {                                  \
                T best = base[in];                                                       \
                int32_t best_i = 0;                                                      \
                for (int32_t i = 1; i < p->axis_size; ++i) {                             \
                    const T v = base[(size_t)i * (size_t)p->inner + (size_t)in];         \
                    if (BETTER(v, best)) {                                               \
                        best = v;                                                        \
                        best_i = i;                                                      \
                    }                                                                    \
                }                                                                        \
                const size_t at = (size_t)o * (size_t)p->inner + (size_t)in;             \
                if (p->out64) {                                                          \
                    o64[at] = best_i;                                                    \
                } else {                                                                 \
                    o32[at] = best_i;                                                    \
                }                                                                        \
            }                                                                            \
        }                                                                                \
        return UAOT_OK;                                                                  \
    }

#define UAOT_ARG_GREATER(v, best) ((v) > (best))
#define UAOT_ARG_LESS(v, best) ((v) < (best))

UAOT_ARG_FN(uaot_arg_max_s8, int8_t, UAOT_ARG_GREATER)
UAOT_ARG_FN(uaot_arg_max_s16, int16_t, UAOT_ARG_GREATER)
UAOT_ARG_FN(uaot_arg_max_i32, int32_t, UAOT_ARG_GREATER)
UAOT_ARG_FN(uaot_arg_max_f32, float, UAOT_ARG_GREATER)
UAOT_ARG_FN(uaot_arg_min_s8, int8_t, UAOT_ARG_LESS)
UAOT_ARG_FN(uaot_arg_min_s16, int16_t, UAOT_ARG_LESS)
UAOT_ARG_FN(uaot_arg_min_i32, int32_t, UAOT_ARG_LESS)
UAOT_ARG_FN(uaot_arg_min_f32, float, UAOT_ARG_LESS)
