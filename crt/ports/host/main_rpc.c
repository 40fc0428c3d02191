/* microaot host board: main() of the RPC firmware (left out in standalone mode, where the
 * application has its own main). The server runs on a thread whose stack is uaot_host_stack, so
 * the stack painter measures the server + model frames only (see host_port.c).
 * Exit status: 0 when stdin is closed, 2 when the server thread could not be started. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "host_port.h"
#include "microaot/platform.h"
#include "microaot/rpc.h"

static void *server_thread(void *arg)
{
    volatile uint8_t top = 0u;
    (void)arg;
    uaot_host_stack_top = (uint8_t *)(uintptr_t)&top + 1;
    (void)uaot_rpc_main();
    (void)top;
    return NULL;
}

/* Call every libc function the server thread uses once, on the main thread: with lazy PLT
 * binding the first call runs the dynamic linker (which saves the vector register state, ~3 KB
 * with AVX-512) on the caller's stack, and the painted stack would measure ld.so, not microaot.
 * (The host board builder also links with -Wl,-z,now; this covers builds that do not.) */
static void prebind_libc(void)
{
    uint8_t a[8] = {0};
    uint8_t b[8];
    volatile size_t n = sizeof a;
    memcpy(b, a, n);
    memset(b, 0, n);
    (void)memcmp(a, b, n);
    (void)uaot_platform_timer_read();
    (void)getpid();
    (void)write(1, a, 0);
    (void)read(0, a, 0);
}

int main(void)
{
    pthread_attr_t attr;
    pthread_t th;
    prebind_libc();
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setstack(&attr, uaot_host_stack, sizeof uaot_host_stack) != 0 ||
        pthread_create(&th, &attr, server_thread, NULL) != 0) {
        return 2;
    }
    pthread_join(th, NULL);
    return 0;
}
