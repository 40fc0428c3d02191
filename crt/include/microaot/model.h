/* microaot runtime: the descriptor every generated model exports.
 *
 * Generated code (see library/microaot/codegen) defines, for a model compiled with name NAME:
 *   #define NAME_WORKSPACE_SIZE <bytes>          (in NAME.h)
 *   uaot_status_t NAME_run(const void *const *inputs, void *const *outputs, void *workspace);
 *   uaot_status_t NAME_run_ex(const void *const *inputs, void *const *outputs, void *workspace,
 *                             const uaot_hooks_t *hooks);
 *   extern const uaot_model_t NAME_model;
 * The RPC server, the tuner and the exported library all drive a model through this struct only. */
#ifndef MICROAOT_MODEL_H
#define MICROAOT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UAOT_MAX_RANK 6
/* Alignment the workspace (and every buffer inside it) must have. */
#define UAOT_WORKSPACE_ALIGN 16

typedef enum {
    UAOT_DTYPE_INT8 = 1,
    UAOT_DTYPE_UINT8 = 2,
    UAOT_DTYPE_INT16 = 3,
    UAOT_DTYPE_INT32 = 4,
    UAOT_DTYPE_FLOAT32 = 5,
    UAOT_DTYPE_BOOL = 6     /* one byte, 0 or 1 */
} uaot_dtype_t;

typedef struct {
    const char *name;
    uint8_t dtype;          /* uaot_dtype_t */
    uint8_t rank;
    int32_t dims[UAOT_MAX_RANK];
    uint32_t bytes;
    float scale;            /* 0.0f when not quantized */
    int32_t zero_point;
} uaot_tensor_info_t;

/* Optional per-operator callbacks (profiling, checking). Any function pointer may be NULL.
 * op_output is called after op_end with each output tensor of the operator (bytes in the standard
 * layout, as the next operators read them); the RPC server's OPCHECK hashes them. */
typedef struct {
    void (*op_begin)(void *ctx, uint16_t op_index);
    void (*op_end)(void *ctx, uint16_t op_index);
    void *ctx;
    void (*op_output)(void *ctx, uint16_t op_index, const void *data, uint32_t bytes);
} uaot_hooks_t;

typedef uaot_status_t (*uaot_run_fn)(const void *const *inputs, void *const *outputs, void *workspace,
                                     const uaot_hooks_t *hooks);

typedef struct {
    uint32_t abi_version;             /* UAOT_ABI_VERSION the model was generated for */
    const char *name;                 /* C identifier prefix, e.g. "kws" */
    const char *hash;                 /* first 16 hex digits of the model file's sha256 */
    uint32_t workspace_size;          /* bytes; NAME_WORKSPACE_SIZE */
    uint32_t weight_bytes;            /* bytes of const data (weights, biases, tables) */
    uint16_t num_inputs;
    uint16_t num_outputs;
    uint16_t num_ops;
    const uaot_tensor_info_t *inputs;
    const uaot_tensor_info_t *outputs;
    const char *const *op_names;      /* num_ops entries, e.g. "CONV_2D" */
    uaot_run_fn run;
} uaot_model_t;

#ifdef __cplusplus
}
#endif
#endif
