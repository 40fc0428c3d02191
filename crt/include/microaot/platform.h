/* microaot runtime: the platform hooks a board port implements. Nothing else is board specific.
 *
 * Required: uaot_platform_write, uaot_platform_timer_read, uaot_platform_timer_unit.
 * Optional (weak defaults in crt/src/platform_defaults.c): uaot_platform_init, uaot_platform_read,
 *   uaot_platform_cycle_counter, uaot_platform_abort, uaot_platform_board_name, uaot_platform_stack_*,
 *   uaot_platform_clock_hz.
 */
#ifndef MICROAOT_PLATFORM_H
#define MICROAOT_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    UAOT_TIME_UNIT_CYCLES = 1,
    UAOT_TIME_UNIT_US = 2,
    UAOT_TIME_UNIT_NS = 3,
    UAOT_TIME_UNIT_INSTRUCTIONS = 4
} uaot_time_unit_t;

void uaot_platform_init(void);
/* Write len bytes to the host link; blocks until queued. */
void uaot_platform_write(const uint8_t *data, size_t len);
/* Read up to cap bytes; returns how many (0 = none yet), or -1 when the link is closed. */
int uaot_platform_read(uint8_t *buf, size_t cap);
/* Free-running timer in uaot_platform_timer_unit() units; callers subtract two reads. */
uint64_t uaot_platform_timer_read(void);
uaot_time_unit_t uaot_platform_timer_unit(void);
/* Optional hardware cycle counter: returns 1 and stores the count, or 0 when there is none. */
int uaot_platform_cycle_counter(uint32_t *cycles);
const char *uaot_platform_board_name(void);
/* Stack bounds for stack painting (high-water mark). Return 0 when not known. */
int uaot_platform_stack_bounds(uint8_t **lo, uint8_t **hi);
void uaot_platform_abort(int code);
/* The CPU clock the firmware really runs at, in Hz (0 = unknown). The RPC server reports it in
 * HELLO so the host converts cycles to time with it. Weak default: UAOT_F_CPU (the build's
 * F_CPU / board_build.f_cpu); a port that can read its clock tree overrides it. */
uint32_t uaot_platform_clock_hz(void);

#ifdef __cplusplus
}
#endif
#endif
