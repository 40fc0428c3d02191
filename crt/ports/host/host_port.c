/* microaot host board port: the RPC server as a native program speaking the wire protocol on
 * stdin/stdout (binary, unbuffered: read(2)/write(2) on fds 0 and 1).
 *
 * Timer: clock_gettime(CLOCK_MONOTONIC) in nanoseconds (wall time of a process on a shared
 *   machine: noisy; use it for relative numbers, count instructions for performance claims).
 * Stack: the server runs on a thread whose stack is a static array of UAOT_HOST_STACK_SIZE bytes
 *   (pthread_attr_setstack). The painter gets [array start, first local of the thread function):
 *   glibc keeps the thread descriptor and TLS at the top of the array, so the high-water mark is
 *   the peak of the server + model frames from the thread's entry, not counting libc's TCB.
 * Static RAM: .data + .bss of the executable (linker symbols __data_start / end) minus that thread
 *   stack; on a host this includes the C library's own data, so it is an upper bound.
 * main() is in main_rpc.c (RPC mode); in standalone mode the application brings its own. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host_port.h"
#include "microaot/platform.h"
#include "microaot/rpc.h"

#ifndef UAOT_HOST_BOARD_NAME
#define UAOT_HOST_BOARD_NAME "host"
#endif

uint8_t uaot_host_stack[UAOT_HOST_STACK_SIZE] __attribute__((aligned(64)));
/* top of the usable stack: glibc keeps the thread descriptor and TLS at the top of a user stack,
 * so the server thread (main_rpc.c) records where its own frames start; NULL in standalone mode */
uint8_t *uaot_host_stack_top;

void uaot_platform_write(const uint8_t *data, size_t len)
{
    while (len > 0u) {
        ssize_t n = write(1, data, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return; /* host went away; reads will report the closed link */
        }
        data += n;
        len -= (size_t)n;
    }
}

int uaot_platform_read(uint8_t *buf, size_t cap)
{
    for (;;) {
        ssize_t n = read(0, buf, cap);
        if (n > 0) {
            return (int)n;
        }
        if (n == 0) {
            return -1;
        }
        if (errno != EINTR) {
            return -1;
        }
    }
}

uint64_t uaot_platform_timer_read(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uaot_time_unit_t uaot_platform_timer_unit(void)
{
    return UAOT_TIME_UNIT_NS;
}

const char *uaot_platform_board_name(void)
{
    return UAOT_HOST_BOARD_NAME;
}

int uaot_platform_stack_bounds(uint8_t **lo, uint8_t **hi)
{
    if (uaot_host_stack_top == NULL) {
        return 0;
    }
    *lo = uaot_host_stack;
    *hi = uaot_host_stack_top;
    return 1;
}

extern char __data_start;
extern char end;

int uaot_platform_static_ram(uint32_t *bytes)
{
    uintptr_t a = (uintptr_t)&__data_start;
    uintptr_t b = (uintptr_t)&end;
    if (b <= a || b - a < sizeof uaot_host_stack) {
        return 0;
    }
    *bytes = (uint32_t)(b - a - sizeof uaot_host_stack);
    return 1;
}

uint32_t uaot_platform_entropy(void)
{
    return (uint32_t)getpid();
}
