/* microaot kernels: CONCATENATION, portable C99. */
#include "microaot/kernels/concat.h"

#include <stddef.h>
#include <string.h>

uaot_status_t uaot_concat(const uaot_concat_params_t *p, const void *const *inputs, void *output)
{
    if (p == NULL || inputs == NULL || output == NULL || p->copy_bytes == NULL) {
        return UAOT_ERR_ARG;
    }
    uint8_t *out = (uint8_t *)output;
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t k = 0; k < p->num_inputs; ++k) {
            const size_t n = (size_t)p->copy_bytes[k];
            const uint8_t *src = (const uint8_t *)inputs[k];
            if (src == NULL) {
                return UAOT_ERR_ARG;
            }
            memcpy(out, src + (size_t)o * n, n);
            out += n;
        }
    }
    return UAOT_OK;
}
