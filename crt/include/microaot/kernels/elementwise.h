/* microaot kernels: elementwise operators with numpy broadcasting (up to 6 dims), every dtype TFLM
 * runs them with: SUB, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, DIV, PRELU, the comparisons, SELECT_V2,
 * LOGICAL_AND/OR/NOT, and the one-input ABS, NEG, EXP, LOG, SQRT, RSQRT, SQUARE, ELU, HARD_SWISH,
 * LEAKY_RELU, RELU_N1_TO_1, RELU_0_TO_1, CAST, ZEROS_LIKE.
 *
 * One parameter struct for all of them. The generator right-aligns every shape to 6 dims and gives
 * each input its element strides (0 along a broadcast dim); an output of n elements whose inputs all
 * have its shape is dims {1,1,1,1,1,n}, strides {0,0,0,0,0,1}. Quantized (int8/int16) arithmetic is
 * TFLM's, term for term (see each op in elementwise.c); float math goes through microaot/fmath.h.
 * int8 ABS, LEAKY_RELU, HARD_SWISH, ELU, RELU_N1_TO_1, RELU_0_TO_1 are not run here: the generator makes
 * them 256-byte tables for the activation family's uaot_lut_s8. */
#ifndef MICROAOT_KERNELS_ELEMENTWISE_H
#define MICROAOT_KERNELS_ELEMENTWISE_H

#include <stdint.h>

#include "microaot/status.h"

#define UAOT_EW_DIMS 6

typedef enum {
    /* two inputs */
    UAOT_EW_SUB = 1,
    UAOT_EW_MAXIMUM = 2,
    UAOT_EW_MINIMUM = 3,
    UAOT_EW_SQDIFF = 4,
    UAOT_EW_DIV = 5,
    UAOT_EW_PRELU = 6,
    UAOT_EW_EQUAL = 7,
    UAOT_EW_NOT_EQUAL = 8,
    UAOT_EW_LESS = 9,
    UAOT_EW_LESS_EQUAL = 10,
    UAOT_EW_GREATER = 11,
    UAOT_EW_GREATER_EQUAL = 12,
    UAOT_EW_LOGICAL_AND = 13,
    UAOT_EW_LOGICAL_OR = 14,
    UAOT_EW_ADD = 15, /* int32 (uaot_ew_i32): ADD and MUL of int32 tensors, wrapping as TFLM's build */
    UAOT_EW_MUL = 16,
    /* one input */
    UAOT_EW_ABS = 20,
    UAOT_EW_NEG = 21,
    UAOT_EW_EXP = 22,
    UAOT_EW_LOG = 23,
    UAOT_EW_SQRT = 24,
    UAOT_EW_RSQRT = 25,
    UAOT_EW_SQUARE = 26,
    UAOT_EW_ELU = 27,
    UAOT_EW_HARD_SWISH = 28,
    UAOT_EW_LEAKY_RELU = 29,
    UAOT_EW_CLAMP = 30, /* RELU_N1_TO_1, RELU_0_TO_1 (float; int8 is a table) */
    UAOT_EW_LOGICAL_NOT = 31
} uaot_ew_op_t;

typedef struct {
    uint32_t size;     /* output elements */
    uint8_t op;        /* uaot_ew_op_t */
    uint8_t dtype;     /* input dtype (uaot_dtype_t; 6 = bool) */
    uint8_t out_dtype; /* CAST: output dtype */
    uint8_t act;       /* 1: clamp the result to act_min..act_max (fused activation) */
    int32_t out_dims[UAOT_EW_DIMS];
    int32_t s1[UAOT_EW_DIMS]; /* element strides of input 1 (0: broadcast) */
    int32_t s2[UAOT_EW_DIMS]; /* input 2 */
    int32_t s3[UAOT_EW_DIMS]; /* input 3 (SELECT_V2's second value input) */
    /* quantized parameters (meaning per op, see elementwise.c) */
    int32_t in1_offset, in2_offset, out_offset;
    int32_t left_shift;
    int32_t in1_mult, in1_shift, in2_mult, in2_shift;
    int32_t out_mult, out_shift;
    int32_t out2_mult, out2_shift;
    int32_t act_min, act_max;
    float act_min_f, act_max_f;
    float alpha; /* LEAKY_RELU float slope */
} uaot_ew_params_t;

/* float32 in and out; b is NULL for one-input ops */
uaot_status_t uaot_ew_f32(const uaot_ew_params_t *p, const float *a, const float *b, float *out);
/* int32 in and out (SUB, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, DIV, ABS, NEG, SQUARE) */
uaot_status_t uaot_ew_i32(const uaot_ew_params_t *p, const int32_t *a, const int32_t *b, int32_t *out);
/* quantized int8 / int16 in and out (p->dtype says which); PRELU's alpha is int8 with an int16 input */
uaot_status_t uaot_ew_s8(const uaot_ew_params_t *p, const int8_t *a, const int8_t *b, int8_t *out);
uaot_status_t uaot_ew_s16(const uaot_ew_params_t *p, const int16_t *a, const void *b, int16_t *out);
/* comparisons (any p->dtype; int8/int16 with TFLM's rescaling) and LOGICAL_AND/OR/NOT -> bool */
uaot_status_t uaot_ew_compare(const uaot_ew_params_t *p, const void *a, const void *b, uint8_t *out);
/* SELECT_V2: out = cond ? a : b, elements of elem_size bytes */
uaot_status_t uaot_ew_select(const uaot_ew_params_t *p, const uint8_t *cond, const void *a, const void *b, void *out,
                             uint32_t elem_size);
/* CAST p->dtype -> p->out_dtype (C conversions, bool: != 0), same element count */
uaot_status_t uaot_ew_cast(const uaot_ew_params_t *p, const void *in, void *out);
/* ZEROS_LIKE: bytes of zeros */
uaot_status_t uaot_ew_zero(void *out, uint32_t bytes);

#endif
