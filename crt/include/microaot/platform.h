/**
 * @file platform.h
 * @brief microaot runtime: the platform hooks a board port implements. Nothing else is board specific.
 *
 * Required: uaot_platform_write, uaot_platform_timer_read, uaot_platform_timer_unit.
 * Optional (weak defaults in crt/src/platform_defaults.c): uaot_platform_init, uaot_platform_read,
 *   uaot_platform_cycle_counter, uaot_platform_abort, uaot_platform_board_name, uaot_platform_stack_*,
 *   uaot_platform_clock_hz.
 * The RPC server calls them from the context that runs it (uaot_rpc_main / uaot_rpc_poll /
 * uaot_rpc_feed); generated model code and the kernels call none of them.
 */
#ifndef MICROAOT_PLATFORM_H
#define MICROAOT_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Unit of uaot_platform_timer_read() ticks, reported to the host in HELLO. */
typedef enum {
    UAOT_TIME_UNIT_CYCLES = 1,      /**< CPU clock cycles */
    UAOT_TIME_UNIT_US = 2,          /**< microseconds */
    UAOT_TIME_UNIT_NS = 3,          /**< nanoseconds */
    UAOT_TIME_UNIT_INSTRUCTIONS = 4 /**< executed instructions (QEMU -icount) */
} uaot_time_unit_t;

/**
 * Bring up the host link and the timer. Called once at start-up: by uaot_rpc_main(), or by an
 * application that owns its main loop before its first uaot_rpc_poll(). Weak default: does nothing.
 */
void uaot_platform_init(void);
/** Write len bytes to the host link; blocks until queued. Required; data is only read during the call. */
void uaot_platform_write(const uint8_t *data, size_t len);
/**
 * Read up to cap bytes into buf; returns how many (0 = none yet), or -1 when the link is closed.
 * Should not block. Weak default: -1 (no receive path: the port hands bytes to uaot_rpc_feed() itself).
 */
int uaot_platform_read(uint8_t *buf, size_t cap);
/** Free-running timer in uaot_platform_timer_unit() units; callers subtract two reads. Required. */
uint64_t uaot_platform_timer_read(void);
/** The unit of uaot_platform_timer_read(); constant for the life of the firmware. Required. */
uaot_time_unit_t uaot_platform_timer_unit(void);
/** Optional hardware cycle counter: returns 1 and stores the count in *cycles, or 0 when there is none
 *  (the weak default). */
int uaot_platform_cycle_counter(uint32_t *cycles);
/** Board name reported in HELLO (static NUL-terminated string, never NULL). Weak default: "unknown". */
const char *uaot_platform_board_name(void);
/** Stack bounds for stack painting (high-water mark): stores [*lo, *hi) and returns 1; returns 0 when
 *  not known (the weak default). */
int uaot_platform_stack_bounds(uint8_t **lo, uint8_t **hi);
/** Stop the firmware after an unrecoverable error (code identifies it); should not return.
 *  Weak default: spins forever. */
void uaot_platform_abort(int code);
/**
 * The CPU clock the firmware really runs at, in Hz (0 = unknown). The RPC server reports it in
 * HELLO so the host converts cycles to time with it. Weak default: UAOT_F_CPU (the build's
 * F_CPU / board_build.f_cpu); a port that can read its clock tree overrides it.
 */
uint32_t uaot_platform_clock_hz(void);

#ifdef __cplusplus
}
#endif
#endif
