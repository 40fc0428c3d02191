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
 * structures in model.h or of a kernel signature. */
#define UAOT_ABI_VERSION 2

typedef enum {
    UAOT_OK = 0,
    UAOT_ERR_ARG = 1,          /* a NULL pointer or bad argument */
    UAOT_ERR_ALIGN = 2,        /* workspace not aligned to UAOT_WORKSPACE_ALIGN */
    UAOT_ERR_NOMEM = 3,        /* allocator could not provide the workspace */
    UAOT_ERR_RANGE = 4,        /* index or length out of range */
    UAOT_ERR_UNSUPPORTED = 5,  /* feature not built in */
    UAOT_ERR_INTERNAL = 6
} uaot_status_t;

#ifdef __cplusplus
}
#endif
#endif
