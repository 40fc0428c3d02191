/* microaot kernels: CONCATENATION along any axis, for any element type. TFLM requires int8 inputs to
 * share the output's scale and zero point, so concatenation is a byte copy: for each of `outer` slices
 * (product of the dims before the axis), input k contributes copy_bytes[k] contiguous bytes. */
#ifndef MICROAOT_KERNELS_CONCAT_H
#define MICROAOT_KERNELS_CONCAT_H

#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t num_inputs;
    int32_t outer;             /* product of the output dims before the axis */
    const int32_t *copy_bytes; /* num_inputs entries: dims[axis] * inner * element size */
} uaot_concat_params_t;

uaot_status_t uaot_concat(const uaot_concat_params_t *p, const void *const *inputs, void *output);

#ifdef __cplusplus
}
#endif
#endif
