/* microaot Cortex-M ports (cmsdk, stm32): a free-running 32-bit up-counter extended to 64 bits.
 * Header only (the ports include it as "../cortexm/counter64.h"). */
#ifndef MICROAOT_PORTS_CORTEXM_COUNTER64_H
#define MICROAOT_PORTS_CORTEXM_COUNTER64_H

#include <stdint.h>

/* now = the counter just read; *last / *high = the port's state (start at 0). Exact as long as the
 * counter is read at least once per wrap. */
static inline uint64_t uaot_cortexm_counter64(uint32_t now, uint32_t *last, uint64_t *high)
{
    if (now < *last) {
        *high += (uint64_t)1 << 32;
    }
    *last = now;
    return *high | now;
}

#endif
