/* microaot kernels: ADD with broadcasting (shapes right-aligned to 6 dims; a stride of 0 broadcasts).
 * int8 = TFLite's rescaling: (x + offset) << left_shift, per-input multiplier, sum, output multiplier. */
#ifndef MICROAOT_KERNELS_ADD_H
#define MICROAOT_KERNELS_ADD_H

#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UAOT_ADD_MAX_DIMS 6

typedef struct {
    int32_t size;                        /* output elements */
    int32_t broadcast;                   /* 0: both inputs have the output's shape (flat loop) */
    int32_t out_dims[UAOT_ADD_MAX_DIMS]; /* right-aligned, leading 1s */
    int32_t in1_strides[UAOT_ADD_MAX_DIMS];
    int32_t in2_strides[UAOT_ADD_MAX_DIMS];
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;
    int32_t input1_mult, input1_shift; /* shifts <= 0 (SmallerThanOneExp) */
    int32_t input2_mult, input2_shift;
    int32_t output_mult, output_shift;
    int32_t act_min, act_max;
    float act_min_f, act_max_f;
} uaot_add_params_t;

/* per-element rescaling (TFLite's reference arithmetic) */
uaot_status_t uaot_add_s8(const uaot_add_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);
/* the same result through the generator's two 256-entry rescale tables (tables[0..255]: input 1,
 * tables[256..511]: input 2, const, in flash; built by codegen/ops/add.py add_table_s8 only when
 * they are exact): two table loads, SMMULR and one rounding shift per element */
uaot_status_t uaot_add_s8_lut(const uaot_add_params_t *p, const int32_t *tables, const int8_t *in1, const int8_t *in2,
                              int8_t *out);
/* int16 (left_shift 15, act range of int16) */
uaot_status_t uaot_add_s16(const uaot_add_params_t *p, const int16_t *in1, const int16_t *in2, int16_t *out);
uaot_status_t uaot_add_f32(const uaot_add_params_t *p, const float *in1, const float *in2, float *out);

#ifdef __cplusplus
}
#endif
#endif
