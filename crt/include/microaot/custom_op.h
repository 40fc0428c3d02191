/**
 * @file custom_op.h
 * @brief microaot: the signature of a user C kernel bound to a custom operator name.
 *
 * A model's custom operator (TFLite BuiltinOperator CUSTOM, custom code "MyOp") that microaot has no kernel
 * for can be bound to a C function of yours: `microaot compile --custom-op MyOp=my_op` or, in platformio.ini,
 * `custom_microaot_custom_ops = MyOp:my_op` (docs/custom-operators.md). The generated model declares
 *
 *     extern uaot_status_t my_op(const uaot_custom_op_t *op);
 *
 * and calls it at the operator's place in the schedule, with a view of every input and output tensor. The
 * views, dims and options are valid during the call only. Return UAOT_OK, or an error status: the model's
 * NAME_run stops and returns it.
 */
#ifndef MICROAOT_CUSTOM_OP_H
#define MICROAOT_CUSTOM_OP_H

#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One tensor of a custom operator. */
typedef struct {
    /** element data, little-endian, row-major (C order); inputs: read only. NULL for an absent optional input */
    void *data;
    /** rank entries (NULL when rank is 0) */
    const int32_t *dims;
    /** data size in bytes */
    uint32_t bytes;
    /** number of dims (0: a scalar) */
    int32_t rank;
    /** quantization zero point (0 when not quantized) */
    int32_t zero_point;
    /** quantization scale (0.0f when not quantized; per-channel: the first channel's) */
    float scale;
    /** element type: a uaot_dtype_t (model.h); 0 = a type without a uaot_dtype_t value (e.g. int64) */
    uint8_t dtype;
} uaot_tensor_view_t;

/** What a user kernel gets: the operator's tensors and its raw custom options. */
typedef struct {
    const uaot_tensor_view_t *inputs;  /**< num_inputs views, in the operator's input order */
    const uaot_tensor_view_t *outputs; /**< num_outputs views, in the operator's output order */
    const uint8_t *options;            /**< the operator's custom_options bytes (usually a flexbuffer), or NULL */
    uint32_t options_size;             /**< bytes at options */
    uint16_t num_inputs;               /**< entries of inputs */
    uint16_t num_outputs;              /**< entries of outputs */
    uint16_t op_index;                 /**< the operator's index in the model */
} uaot_custom_op_t;

/** The type of a user kernel. */
typedef uaot_status_t (*uaot_custom_kernel_t)(const uaot_custom_op_t *op);

#ifdef __cplusplus
}
#endif

#endif
