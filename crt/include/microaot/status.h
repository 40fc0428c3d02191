/**
 * @file status.h
 * @brief microaot runtime: status codes shared by the runtime, kernels and generated code.
 *
 * Every fallible function of the runtime, of the kernels and of a generated model returns a
 * uaot_status_t; UAOT_OK (0) is success, anything else an error the caller must handle.
 */
#ifndef MICROAOT_STATUS_H
#define MICROAOT_STATUS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Major version of the C runtime (crt/). */
#define UAOT_RUNTIME_VERSION_MAJOR 0
/** Minor version of the C runtime (crt/). */
#define UAOT_RUNTIME_VERSION_MINOR 1
/**
 * ABI version checked by generated headers (#error on mismatch). Bump on any change of the
 * structures in model.h or of a kernel signature.
 * 3: the kernels that take scratch take its size too (uint8_t *scratch, uint32_t scratch_size).
 * uaot_model_run_alloc() also refuses (UAOT_ERR_UNSUPPORTED) a uaot_model_t whose abi_version differs.
 */
#define UAOT_ABI_VERSION 4

/** Result of every fallible runtime, kernel and generated-model function. */
typedef enum {
    UAOT_OK = 0,              /**< success */
    UAOT_ERR_ARG = 1,         /**< a NULL pointer or bad argument */
    UAOT_ERR_ALIGN = 2,       /**< workspace not aligned to UAOT_WORKSPACE_ALIGN */
    UAOT_ERR_NOMEM = 3,       /**< allocator could not provide the workspace */
    UAOT_ERR_RANGE = 4,       /**< index or length out of range */
    UAOT_ERR_UNSUPPORTED = 5, /**< feature not built in (or a model generated for another UAOT_ABI_VERSION) */
    UAOT_ERR_INTERNAL = 6,    /**< internal error of the runtime or a kernel: please report it */
    UAOT_ERR_SCRATCH = 7      /**< kernel scratch shorter than its uaot_<kernel>_scratch_size() (UAOT_CHECKS) */
} uaot_status_t;

/**
 * @def UAOT_CHECK_SCRATCH(size, need)
 * Used at the top of a kernel that takes scratch: returns UAOT_ERR_SCRATCH from the enclosing
 * function when the scratch buffer's @p size (bytes) is below @p need, the kernel's
 * uaot_<kernel>_scratch_size(). Only with UAOT_CHECKS defined; otherwise it evaluates nothing.
 *
 * UAOT_CHECKS (off by default): kernels also check what the generator already guarantees, e.g. that
 * the scratch buffer holds the kernel's uaot_<kernel>_scratch_size() bytes (else UAOT_ERR_SCRATCH).
 * Off, those checks compile to nothing.
 */
#if defined(UAOT_CHECKS)
#define UAOT_CHECK_SCRATCH(size, need)             \
    do {                                           \
        if ((uint32_t)(size) < (uint32_t)(need)) { \
            return UAOT_ERR_SCRATCH;               \
        }                                          \
    } while (0)
#else
#define UAOT_CHECK_SCRATCH(size, need) ((void)(size))
#endif

#ifdef __cplusplus
}
#endif
#endif
