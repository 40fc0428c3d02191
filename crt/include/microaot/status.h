/* microaot runtime: status codes shared by the runtime, kernels and generated code. */
#ifndef MICROAOT_STATUS_H
#define MICROAOT_STATUS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UAOT_RUNTIME_VERSION_MAJOR 0
#define UAOT_RUNTIME_VERSION_MINOR 1
/* ABI version checked by generated headers (#error on mismatch). Bump on any change of the
 * structures in model.h or of a kernel signature.
 * 3: the kernels that take scratch take its size too (uint8_t *scratch, uint32_t scratch_size). */
#define UAOT_ABI_VERSION 3

typedef enum {
    UAOT_OK = 0,
    UAOT_ERR_ARG = 1,          /* a NULL pointer or bad argument */
    UAOT_ERR_ALIGN = 2,        /* workspace not aligned to UAOT_WORKSPACE_ALIGN */
    UAOT_ERR_NOMEM = 3,        /* allocator could not provide the workspace */
    UAOT_ERR_RANGE = 4,        /* index or length out of range */
    UAOT_ERR_UNSUPPORTED = 5,  /* feature not built in */
    UAOT_ERR_INTERNAL = 6,
    UAOT_ERR_SCRATCH = 7       /* kernel scratch shorter than its uaot_<kernel>_scratch_size() (UAOT_CHECKS) */
} uaot_status_t;

/* UAOT_CHECKS (off by default): kernels also check what the generator already guarantees, e.g. that
 * the scratch buffer holds the kernel's uaot_<kernel>_scratch_size() bytes (else UAOT_ERR_SCRATCH).
 * Off, those checks compile to nothing. */
#if defined(UAOT_CHECKS)
#define UAOT_CHECK_SCRATCH(size, need)                                                                         \
    do {                                                                                                       \
        if ((uint32_t)(size) < (uint32_t)(need)) {                                                             \
            return UAOT_ERR_SCRATCH;                                                                           \
        }                                                                                                      \
    } while (0)
#else
#define UAOT_CHECK_SCRATCH(size, need) ((void)(size))
#endif

#ifdef __cplusplus
}
#endif
#endif
