/* microaot runtime: weak defaults for the optional platform hooks (microaot/platform.h, and the
 * RPC-only hooks in microaot/rpc.h). A port overrides any of them by defining the same function.
 * Required hooks (uaot_platform_write, uaot_platform_timer_read, uaot_platform_timer_unit) have no
 * default on purpose: a port that forgets one fails to link. */
#include "microaot/platform.h"
#include "microaot/rpc.h"

#if defined(__GNUC__) || defined(__clang__)
#define UAOT_WEAK __attribute__((weak))
#else
#error "platform_defaults.c needs weak symbols (GCC/Clang); define every optional hook in your port instead"
#endif

UAOT_WEAK void uaot_platform_init(void)
{
}

/* No receive path: a port without uaot_platform_read hands bytes to uaot_rpc_feed() itself. */
UAOT_WEAK int uaot_platform_read(uint8_t *buf, size_t cap)
{
    (void)buf;
    (void)cap;
    return -1;
}

UAOT_WEAK int uaot_platform_cycle_counter(uint32_t *cycles)
{
    (void)cycles;
    return 0;
}

UAOT_WEAK const char *uaot_platform_board_name(void)
{
    return "unknown";
}

UAOT_WEAK int uaot_platform_stack_bounds(uint8_t **lo, uint8_t **hi)
{
    (void)lo;
    (void)hi;
    return 0;
}

UAOT_WEAK void uaot_platform_abort(int code)
{
    (void)code;
    for (;;) {
    }
}

UAOT_WEAK uint32_t uaot_platform_clock_hz(void)
{
#ifdef UAOT_F_CPU
    return (uint32_t)(UAOT_F_CPU);
#else
    return 0u;
#endif
}

UAOT_WEAK int uaot_platform_static_ram(uint32_t *bytes)
{
    (void)bytes;
    return 0;
}

UAOT_WEAK uint32_t uaot_platform_entropy(void)
{
    return 0u;
}
