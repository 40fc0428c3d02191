/* microaot port for ARM CMSDK / MPS2 (QEMU mps2-an385, mps2-an386): platform hooks.
 *
 *   link:  CMSDK APB UART0 at 0x40004000 (polled)
 *   timer: the MPS2 FPGAIO COUNTER (0x40028018), a 32-bit up-counter at the 25 MHz reference clock,
 *          extended to 64 bits here. Under QEMU with "-icount shift=N" every guest instruction
 *          advances virtual time by 2^N ns, so instructions = ticks * 40 / 2^N exactly when
 *          2^N divides 40 (N <= 3). The build passes N as UAOT_ICOUNT_SHIFT (board JSON
 *          "uaot_icount_shift"); the timer then reports UAOT_TIME_UNIT_INSTRUCTIONS.
 *          Built with UAOT_ICOUNT_SHIFT < 0 (real MPS2 FPGA boards) it reports nanoseconds.
 *   exit:  ARM semihosting SYS_EXIT_EXTENDED (QEMU -semihosting exits with the code).
 */
#include <stddef.h>
#include <stdint.h>

#include "microaot/platform.h"
#include "microaot/rpc.h"

#include "../cortexm/counter64.h"

#ifndef UAOT_ICOUNT_SHIFT
#define UAOT_ICOUNT_SHIFT 3
#endif
#ifndef UAOT_BOARD_NAME
#define UAOT_BOARD_NAME "cmsdk"
#endif
#ifndef UAOT_CMSDK_REFCLK_HZ
#define UAOT_CMSDK_REFCLK_HZ 25000000u
#endif

/* MPS2 FPGA images (AN385/386/500): UART0 and FPGAIO at these addresses; the SSE-200 image AN505 puts
 * them elsewhere (its board JSON passes the secure aliases through build.extra_flags) */
#ifndef UAOT_CMSDK_UART0_BASE
#define UAOT_CMSDK_UART0_BASE 0x40004000u
#endif
#ifndef UAOT_CMSDK_FPGAIO_BASE
#define UAOT_CMSDK_FPGAIO_BASE 0x40028000u
#endif
#define UART0_BASE UAOT_CMSDK_UART0_BASE
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10u))
#define UART_STATE_TXFULL 0x1u
#define UART_STATE_RXFULL 0x2u

#define FPGAIO_COUNTER (*(volatile uint32_t *)(UAOT_CMSDK_FPGAIO_BASE + 0x18u))

extern uint8_t __stack_start__, __stack_end__, __data_start__, __bss_end__;

static int uart_ready;

static void uart_init(void)
{
    if (!uart_ready) {
        UART_BAUDDIV = UAOT_CMSDK_REFCLK_HZ / 115200u;
        UART_CTRL = 0x3u; /* TX + RX enable */
        uart_ready = 1;
    }
}

void uaot_platform_init(void)
{
    uart_init();
}

void uaot_platform_write(const uint8_t *data, size_t len)
{
    uart_init();
    for (size_t i = 0; i < len; i++) {
        while (UART_STATE & UART_STATE_TXFULL) {
        }
        UART_DATA = data[i];
    }
}

int uaot_platform_read(uint8_t *buf, size_t cap)
{
    size_t n = 0;
    uart_init();
    while (n < cap && (UART_STATE & UART_STATE_RXFULL)) {
        buf[n++] = (uint8_t)UART_DATA;
    }
    return (int)n;
}

static uint32_t timer_last;
static uint64_t timer_high;

static uint64_t ticks64(void)
{
    return uaot_cortexm_counter64(FPGAIO_COUNTER, &timer_last, &timer_high);
}

uint64_t uaot_platform_timer_read(void)
{
#if UAOT_ICOUNT_SHIFT >= 0
    return (ticks64() * (1000000000u / UAOT_CMSDK_REFCLK_HZ)) >> UAOT_ICOUNT_SHIFT;
#else
    return ticks64() * (1000000000u / UAOT_CMSDK_REFCLK_HZ);
#endif
}

uaot_time_unit_t uaot_platform_timer_unit(void)
{
#if UAOT_ICOUNT_SHIFT >= 0
    return UAOT_TIME_UNIT_INSTRUCTIONS;
#else
    return UAOT_TIME_UNIT_NS;
#endif
}

int uaot_platform_cycle_counter(uint32_t *cycles)
{
    (void)cycles;
    return 0; /* DWT CYCCNT is not emulated by QEMU */
}

const char *uaot_platform_board_name(void)
{
    return UAOT_BOARD_NAME;
}

int uaot_platform_stack_bounds(uint8_t **lo, uint8_t **hi)
{
    *lo = &__stack_start__;
    *hi = &__stack_end__;
    return 1;
}

void uaot_platform_abort(int code)
{
    /* SYS_EXIT_EXTENDED (0x20): {ADP_Stopped_ApplicationExit, exit code} */
    volatile uint32_t block[2] = {0x20026u, (uint32_t)code};
    register uint32_t r0 __asm__("r0") = 0x20u;
    register uint32_t r1 __asm__("r1") = (uint32_t)(uintptr_t)block;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {
    }
}

int uaot_platform_static_ram(uint32_t *bytes)
{
    *bytes = (uint32_t)(&__bss_end__ - &__data_start__);
    return 1;
}

uint32_t uaot_platform_entropy(void)
{
#if UAOT_ICOUNT_SHIFT >= 0
    /* under QEMU -icount the timer is the same at every boot: ask the host for its time
     * (semihosting SYS_TIME, seconds) and mix in SYS_CLOCK (centiseconds since QEMU started) */
    register uint32_t r0 __asm__("r0") = 0x11u;
    register uint32_t r1 __asm__("r1") = 0u;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    uint32_t t = r0;
    register uint32_t c0 __asm__("r0") = 0x10u;
    register uint32_t c1 __asm__("r1") = 0u;
    __asm__ volatile("bkpt 0xab" : "+r"(c0) : "r"(c1) : "memory");
    return (t * 2654435761u) ^ c0;
#else
    return 0u; /* a real MPS2 board without a debugger: semihosting would fault */
#endif
}
