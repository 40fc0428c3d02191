/**
 * @file model.h
 * @brief microaot runtime: the descriptor every generated model exports.
 *
 * Generated code (see library/microaot/codegen) defines, for a model compiled with name NAME:
 *   #define NAME_WORKSPACE_SIZE <bytes>          (in NAME.h)
 *   #define NAME_STATE_SIZE <bytes>              (in NAME.h; 0 for a stateless model)
 *   uaot_status_t NAME_run(const void *const *inputs, void *const *outputs, void *workspace);
 *                 (a stateful model, NAME_STATE_SIZE > 0: NAME_run(inputs, outputs, workspace, state))
 *   uaot_status_t NAME_run_ex(const void *const *inputs, void *const *outputs, void *workspace,
 *                             void *state, const uaot_hooks_t *hooks);
 *   uaot_status_t NAME_reset_state(void *state);
 *   extern const uaot_model_t NAME_model;
 * The RPC server, the tuner and the exported library all drive a model through this struct only.
 * Everything a generated model exports is const data; nothing in it is written at run time.
 */
#ifndef MICROAOT_MODEL_H
#define MICROAOT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest tensor rank a uaot_tensor_info_t describes (entries of dims beyond rank are 0). */
#define UAOT_MAX_RANK 6
/** Alignment (bytes, a power of two) the workspace (and every buffer inside it) must have. */
#define UAOT_WORKSPACE_ALIGN 16

/** Element type of a model input or output (uaot_tensor_info_t::dtype). */
typedef enum {
    UAOT_DTYPE_INT8 = 1,    /**< int8_t */
    UAOT_DTYPE_UINT8 = 2,   /**< uint8_t */
    UAOT_DTYPE_INT16 = 3,   /**< int16_t */
    UAOT_DTYPE_INT32 = 4,   /**< int32_t */
    UAOT_DTYPE_FLOAT32 = 5, /**< IEEE-754 float */
    UAOT_DTYPE_BOOL = 6,    /**< one byte, 0 or 1 */
    UAOT_DTYPE_INT64 = 7,   /**< int64_t */
    UAOT_DTYPE_UINT16 = 8,  /**< uint16_t */
    UAOT_DTYPE_UINT32 = 9,  /**< uint32_t */
    UAOT_DTYPE_UINT64 = 10  /**< uint64_t */
} uaot_dtype_t;

/** Description of one model input or output, as the TFLite model declares it (const data). */
typedef struct {
    const char *name;            /**< tensor name in the .tflite file (NUL-terminated, static storage) */
    uint8_t dtype;               /**< uaot_dtype_t */
    uint8_t rank;                /**< number of dimensions used in dims, 0..UAOT_MAX_RANK */
    int32_t dims[UAOT_MAX_RANK]; /**< shape, outermost first (NHWC for images); dims[rank..] are 0 */
    uint32_t bytes;              /**< size of the tensor's buffer: product of dims x element size */
    float scale;                 /**< quantization scale (the first one when per-channel); 0.0f when not quantized */
    int32_t zero_point;          /**< quantization zero point (0 when not quantized); real = scale * (q - zero_point) */
} uaot_tensor_info_t;

/**
 * Optional per-operator callbacks (profiling, checking). Any function pointer may be NULL.
 * op_output is called after op_end with each output tensor of the operator (bytes in the standard
 * layout, as the next operators read them); the RPC server's OPCHECK hashes them.
 * The callbacks run synchronously inside NAME_run_ex, on its stack, and must not call the model again.
 */
typedef struct {
    void (*op_begin)(void *ctx, uint16_t op_index); /**< before operator op_index (0-based, model order) runs */
    void (*op_end)(void *ctx, uint16_t op_index);   /**< after operator op_index ran (also when it failed) */
    void *ctx;                                      /**< passed untouched to every callback */
    /** after op_end: one call per output of the operator; data (bytes long) is only valid during the call */
    void (*op_output)(void *ctx, uint16_t op_index, const void *data, uint32_t bytes);
} uaot_hooks_t;

/**
 * Signature of NAME_run_ex (uaot_model_t::run): runs the whole model once.
 * @param inputs    num_inputs pointers to caller buffers of inputs[k].bytes bytes (only read)
 * @param outputs   num_outputs pointers to caller buffers of outputs[k].bytes bytes (written)
 * @param workspace workspace_size bytes aligned to UAOT_WORKSPACE_ALIGN, owned by the caller
 * @param state     state_size bytes aligned to UAOT_WORKSPACE_ALIGN that persist between runs (reset with
 *                  reset_state); may be NULL when state_size is 0
 * @param hooks     per-operator callbacks, or NULL
 * @return UAOT_OK, UAOT_ERR_ARG (a NULL pointer), UAOT_ERR_ALIGN (misaligned workspace) or a
 *         kernel's error status.
 */
typedef uaot_status_t (*uaot_run_fn)(const void *const *inputs, void *const *outputs, void *workspace, void *state,
                                     const uaot_hooks_t *hooks);
/** Signature of NAME_reset_state (uaot_model_t::reset_state): put a state buffer in its initial condition. */
typedef uaot_status_t (*uaot_reset_state_fn)(void *state);

/** The descriptor NAME_model a generated model exports (const data); read it, never write it. */
typedef struct {
    uint32_t abi_version;              /**< UAOT_ABI_VERSION the model was generated for */
    const char *name;                  /**< C identifier prefix, e.g. "kws" */
    const char *hash;                  /**< first 16 hex digits of the model file's sha256 */
    uint32_t workspace_size;           /**< bytes; NAME_WORKSPACE_SIZE */
    uint32_t state_size;               /**< bytes of persistent state; NAME_STATE_SIZE (0: stateless) */
    uint32_t weight_bytes;             /**< bytes of const data (weights, biases, tables) */
    uint16_t num_inputs;               /**< entries of inputs (and of run's inputs array) */
    uint16_t num_outputs;              /**< entries of outputs (and of run's outputs array) */
    uint16_t num_ops;                  /**< operators of the model (entries of op_names; hook op_index range) */
    const uaot_tensor_info_t *inputs;  /**< num_inputs descriptions, in the model's input order */
    const uaot_tensor_info_t *outputs; /**< num_outputs descriptions, in the model's output order */
    const char *const *op_names;       /**< num_ops entries, e.g. "CONV_2D" */
    uaot_run_fn run;                   /**< NAME_run_ex */
    uaot_reset_state_fn reset_state;   /**< NAME_reset_state */
} uaot_model_t;

#ifdef __cplusplus
}
#endif
#endif
