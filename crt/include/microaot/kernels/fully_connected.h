/* microaot kernels: FULLY_CONNECTED. Input [batches][in_features] (any rank, flattened), filter
 * [out_features][in_features], output [batches][out_features]. int8 = TFLM reference arithmetic. */
#ifndef MICROAOT_KERNELS_FULLY_CONNECTED_H
#define MICROAOT_KERNELS_FULLY_CONNECTED_H

#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t batches;
    int32_t in_features;
    int32_t out_features;
    int32_t output_offset;
    int32_t act_min, act_max;
    /* bias folded with the input offset: bias[o] + input_offset * sum(filter row o); never NULL */
    const int32_t *bias;
    /* per-tensor: mult/shift; per-channel: mult_pc/shift_pc (non-NULL, out_features entries) */
    int32_t mult, shift;
    const int32_t *mult_pc;
    const int32_t *shift_pc;
    const int32_t *rq; /* NULL or {mult, l1, r, half} per output: as in uaot_conv_s8_params_t (fc_fast.h only) */
} uaot_fc_s8_params_t;

typedef struct {
    int32_t batches;
    int32_t in_features;
    int32_t out_features;
    float act_min, act_max;
} uaot_fc_f32_params_t;

uaot_status_t uaot_fully_connected_s8(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                      int8_t *output);
/* bias may be NULL */
uaot_status_t uaot_fully_connected_f32(const uaot_fc_f32_params_t *p, const float *input, const float *filter,
                                       const float *bias, float *output);

#ifdef __cplusplus
}
#endif
#endif
