/* microaot port for STM32F4 (NUCLEO-F446RE): platform hooks.
 *
 *   link:  USART2 on PA2/PA3 (AF7), the ST-LINK virtual COM port, 115200 8N1, polled
 *   timer: the DWT cycle counter (CYCCNT), extended to 64 bits: UAOT_TIME_UNIT_CYCLES at UAOT_F_CPU
 *   abort: a breakpoint when a debugger is attached, then a reset request */
#include <stddef.h>
#include <stdint.h>

#include "microaot/platform.h"

#include "../cortexm/counter64.h"

#ifndef UAOT_F_CPU
#define UAOT_F_CPU 16000000u
#endif
#ifndef UAOT_BOARD_NAME
#define UAOT_BOARD_NAME "stm32"
#endif
#ifndef UAOT_BAUD
#define UAOT_BAUD 115200u
#endif

#define REG(addr) (*(volatile uint32_t *)(addr))
#define RCC_AHB1ENR REG(0x40023830u)
#define RCC_APB1ENR REG(0x40023840u)
#define GPIOA_MODER REG(0x40020000u)
#define GPIOA_AFRL REG(0x40020020u)
#define USART2_SR REG(0x40004400u)
#define USART2_DR REG(0x40004404u)
#define USART2_BRR REG(0x40004408u)
#define USART2_CR1 REG(0x4000440Cu)
#define DEMCR REG(0xE000EDFCu)
#define DWT_CTRL REG(0xE0001000u)
#define DWT_CYCCNT REG(0xE0001004u)
#define DHCSR REG(0xE000EDF0u)
#define AIRCR REG(0xE000ED0Cu)

extern uint8_t __stack_start__, __stack_end__;

static int ready;

static uint32_t pclk1_hz(void)
{
#if (UAOT_F_CPU) > 90000000u
    return (uint32_t)(UAOT_F_CPU) / 4u;
#elif (UAOT_F_CPU) > 45000000u
    return (uint32_t)(UAOT_F_CPU) / 2u;
#else
    return (uint32_t)(UAOT_F_CPU);
#endif
}

void uaot_platform_init(void)
{
    if (ready) {
        return;
    }
    RCC_AHB1ENR |= 1u << 0;  /* GPIOA */
    RCC_APB1ENR |= 1u << 17; /* USART2 */
    (void)RCC_APB1ENR;
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 4)) | (0xAu << 4);       /* PA2, PA3: alternate function */
    GPIOA_AFRL = (GPIOA_AFRL & ~(0xFFu << 8)) | (0x77u << 8);       /* AF7 = USART2 */
    USART2_BRR = (pclk1_hz() + UAOT_BAUD / 2u) / UAOT_BAUD;
    USART2_CR1 = (1u << 13) | (1u << 3) | (1u << 2); /* UE, TE, RE */
    DEMCR |= 1u << 24;                                /* TRCENA */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;                                   /* CYCCNTENA */
    ready = 1;
}

void uaot_platform_write(const uint8_t *data, size_t len)
{
    uaot_platform_init();
    for (size_t i = 0; i < len; i++) {
        while (!(USART2_SR & (1u << 7))) { /* TXE */
        }
        USART2_DR = data[i];
    }
    while (!(USART2_SR & (1u << 6))) { /* TC */
    }
}

int uaot_platform_read(uint8_t *buf, size_t cap)
{
    size_t n = 0;
    uaot_platform_init();
    while (n < cap && (USART2_SR & (1u << 5))) { /* RXNE */
        buf[n++] = (uint8_t)USART2_DR;
    }
    return (int)n;
}

static uint32_t last;
static uint64_t high;

uint64_t uaot_platform_timer_read(void)
{
    return uaot_cortexm_counter64(DWT_CYCCNT, &last, &high);
}

uaot_time_unit_t uaot_platform_timer_unit(void)
{
    return UAOT_TIME_UNIT_CYCLES;
}

int uaot_platform_cycle_counter(uint32_t *cycles)
{
    *cycles = DWT_CYCCNT;
    return 1;
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
    (void)code;
    if (DHCSR & 1u) { /* C_DEBUGEN: a debugger is attached */
        __asm__ volatile("bkpt 0x00");
    }
    AIRCR = (0x5FAu << 16) | (1u << 2); /* SYSRESETREQ */
    for (;;) {
    }
}
