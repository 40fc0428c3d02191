/* microaot port for the RP2040 (Raspberry Pi Pico, Cortex-M0+): platform hooks.
 *
 *   link:  UART0 on GPIO0 (TX) / GPIO1 (RX), UAOT_BAUD (default 115200) 8N1, polled PL011
 *   timer: the 64-bit microsecond TIMER (TIMERAWH/TIMERAWL), UAOT_TIME_UNIT_US
 *   clock: uaot_platform_clock_hz() = UAOT_F_CPU (board_build.f_cpu)
 * No startup, boot2, vector table or main(): they come from the framework or SDK that links the
 * application (the RP2040 boots through its second-stage loader, which this library does not
 * provide). That startup must have set up clk_peri (UAOT_RP2040_PERI_HZ, default 125 MHz) and
 * the watchdog tick that drives the 1 MHz timer, as the Pico SDK's runtime init does. */
#include <stddef.h>
#include <stdint.h>

#include "microaot/platform.h"

#ifndef UAOT_BAUD
#define UAOT_BAUD 115200u
#endif
#ifndef UAOT_RP2040_PERI_HZ
#define UAOT_RP2040_PERI_HZ 125000000u
#endif
#ifndef UAOT_BOARD_NAME
#define UAOT_BOARD_NAME "rp2040"
#endif

#define REG(addr) (*(volatile uint32_t *)(addr))
#define RESETS_RESET REG(0x4000C000u)
#define RESETS_CLR (0x4000C000u + 0x3000u) /* atomic clear alias */
#define RESETS_DONE REG(0x4000C008u)
#define IO_BANK0_GPIO_CTRL(n) REG(0x40014004u + 8u * (uint32_t)(n))
#define UART0_DR REG(0x40034000u)
#define UART0_FR REG(0x40034018u)
#define UART0_IBRD REG(0x40034024u)
#define UART0_FBRD REG(0x40034028u)
#define UART0_LCRH REG(0x4003402Cu)
#define UART0_CR REG(0x40034030u)
#define TIMER_RAWH REG(0x40054024u)
#define TIMER_RAWL REG(0x40054028u)

#define RESET_IO_BANK0 (1u << 5)
#define RESET_PADS_BANK0 (1u << 8)
#define RESET_TIMER (1u << 21)
#define RESET_UART0 (1u << 22)

static int ready;

void uaot_platform_init(void)
{
    const uint32_t mask = RESET_IO_BANK0 | RESET_PADS_BANK0 | RESET_TIMER | RESET_UART0;
    if (ready) {
        return;
    }
    REG(RESETS_CLR) = mask;
    for (uint32_t n = 0u; n < 1000000u && (RESETS_DONE & mask) != mask; n++) {
    }
    IO_BANK0_GPIO_CTRL(0) = 2u; /* FUNCSEL 2 = UART0 TX */
    IO_BANK0_GPIO_CTRL(1) = 2u; /* UART0 RX */
    {
        uint32_t div = (8u * (uint32_t)UAOT_RP2040_PERI_HZ) / (uint32_t)UAOT_BAUD;
        UART0_IBRD = div >> 7;
        UART0_FBRD = ((div & 0x7Fu) + 1u) / 2u;
    }
    UART0_LCRH = (3u << 5) | (1u << 4);    /* 8 bits, FIFOs on */
    UART0_CR = (1u << 9) | (1u << 8) | 1u; /* RXE, TXE, UARTEN */
    ready = 1;
}

void uaot_platform_write(const uint8_t *data, size_t len)
{
    uaot_platform_init();
    for (size_t i = 0; i < len; i++) {
        while (UART0_FR & (1u << 5)) { /* TXFF */
        }
        UART0_DR = data[i];
    }
}

int uaot_platform_read(uint8_t *buf, size_t cap)
{
    size_t n = 0;
    uaot_platform_init();
    while (n < cap && !(UART0_FR & (1u << 4))) { /* RXFE */
        buf[n++] = (uint8_t)UART0_DR;
    }
    return (int)n;
}

uint64_t uaot_platform_timer_read(void)
{
    uint32_t hi = TIMER_RAWH;
    uint32_t lo;
    uint32_t hi2;
    for (;;) { /* a carry between the two reads: read again */
        lo = TIMER_RAWL;
        hi2 = TIMER_RAWH;
        if (hi == hi2) {
            break;
        }
        hi = hi2;
    }
    return ((uint64_t)hi << 32) | lo;
}

uaot_time_unit_t uaot_platform_timer_unit(void)
{
    return UAOT_TIME_UNIT_US;
}

const char *uaot_platform_board_name(void)
{
    return UAOT_BOARD_NAME;
}
