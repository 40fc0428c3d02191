/* microaot port for STM32F4 (NUCLEO-F446RE, any STM32F4 board): platform hooks.
 *
 *   link:  USART2 on PA2/PA3 (AF7), the ST-LINK virtual COM port, 115200 8N1, polled; the baud
 *          divisor comes from the clock tree as the RCC registers set it (this port's startup, a
 *          framework's SystemClock_Config or a reset-state HSI)
 *   timer: the DWT cycle counter (CYCCNT) extended to 64 bits, UAOT_TIME_UNIT_CYCLES; where the DWT
 *          does not count (QEMU) and this port's startup.c owns the vector table, SysTick at the CPU
 *          clock with its wrap interrupt instead (under a framework SysTick is the framework's)
 *   clock: uaot_platform_clock_hz() reads the clock the CPU really runs at from the RCC registers
 *   abort: a breakpoint when a debugger is attached, then a reset request
 * Usable under a framework (cmsis, stm32cube): nothing here is a vector, a startup or a main(),
 * and the linker-script symbols it reads are weak. */
#include <stddef.h>
#include <stdint.h>

#include "microaot/platform.h"

#include "../cortexm/counter64.h"

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
#define RCC_PLLCFGR REG(0x40023804u)
#define RCC_CFGR REG(0x40023808u)
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)

#ifndef UAOT_HSE_HZ
#define UAOT_HSE_HZ 8000000u
#endif

/* weak: a framework's linker script need not define them (stack bounds are then unknown) */
extern uint8_t __stack_start__ __attribute__((weak));
extern uint8_t __stack_end__ __attribute__((weak));

static int ready;
static int use_systick;
static volatile uint32_t systick_wraps;

void uaot_stm32_systick_handler(void);

/* the SysTick vector of this port's startup.c (only armed when the DWT does not count) */
void uaot_stm32_systick_handler(void)
{
    systick_wraps++;
}

uint32_t uaot_platform_clock_hz(void)
{
    static const uint8_t ahb_shift[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 6, 7, 8, 9};
    uint32_t cfgr = RCC_CFGR;
    uint32_t sysclk;
    switch ((cfgr >> 2) & 0x3u) { /* SWS */
    case 1u:
        sysclk = UAOT_HSE_HZ;
        break;
    case 2u: {
        uint32_t pll = RCC_PLLCFGR;
        uint32_t src = (pll & (1u << 22)) ? UAOT_HSE_HZ : 16000000u;
        uint32_t m = pll & 0x3Fu;
        uint32_t n = (pll >> 6) & 0x1FFu;
        uint32_t pdiv = 2u * (((pll >> 16) & 0x3u) + 1u);
        sysclk = m != 0u ? (uint32_t)(((uint64_t)src / m) * n / pdiv) : 16000000u;
        break;
    }
    default:
        sysclk = 16000000u; /* HSI */
        break;
    }
    return sysclk >> ahb_shift[(cfgr >> 4) & 0xFu];
}

static uint32_t pclk1_hz(void)
{
    uint32_t ppre1 = (RCC_CFGR >> 10) & 0x7u;
    uint32_t hclk = uaot_platform_clock_hz();
    return ppre1 < 4u ? hclk : hclk >> (ppre1 - 3u);
}

/* startup.c defines it (strong) when this port owns the vector table */
extern const uint8_t uaot_stm32_owns_vectors __attribute__((weak));

static void timer_init(void)
{
    DEMCR |= 1u << 24; /* TRCENA */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u; /* CYCCNTENA */
    for (volatile int i = 0; i < 64; i++) {
    }
    if (DWT_CYCCNT == 0u && &uaot_stm32_owns_vectors != NULL) {
        /* no DWT (QEMU): SysTick at the CPU clock, its interrupt counts the 2^24-cycle wraps */
        use_systick = 1;
        SYST_RVR = 0x00FFFFFFu;
        SYST_CVR = 0u;
        SYST_CSR = 0x7u; /* ENABLE, TICKINT, CLKSOURCE = processor clock */
    }
}

void uaot_platform_init(void)
{
    if (ready) {
        return;
    }
    RCC_AHB1ENR |= 1u << 0;  /* GPIOA */
    RCC_APB1ENR |= 1u << 17; /* USART2 */
    (void)RCC_APB1ENR;
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 4)) | (0xAu << 4); /* PA2, PA3: alternate function */
    GPIOA_AFRL = (GPIOA_AFRL & ~(0xFFu << 8)) | (0x77u << 8); /* AF7 = USART2 */
    USART2_BRR = (pclk1_hz() + UAOT_BAUD / 2u) / UAOT_BAUD;
    USART2_CR1 = (1u << 13) | (1u << 3) | (1u << 2); /* UE, TE, RE */
    timer_init();
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

static uint64_t systick_read(void)
{
    uint32_t w0;
    uint32_t v;
    uint32_t w1;
    do { /* a wrap between the reads: read again */
        w0 = systick_wraps;
        v = SYST_CVR;
        w1 = systick_wraps;
    } while (w0 != w1);
    return ((uint64_t)w0 << 24) + (0x00FFFFFFu - v);
}

uint64_t uaot_platform_timer_read(void)
{
    if (use_systick) {
        return systick_read();
    }
    return uaot_cortexm_counter64(DWT_CYCCNT, &last, &high);
}

uaot_time_unit_t uaot_platform_timer_unit(void)
{
    return UAOT_TIME_UNIT_CYCLES;
}

int uaot_platform_cycle_counter(uint32_t *cycles)
{
    if (use_systick) {
        *cycles = (uint32_t)systick_read();
        return 1;
    }
    *cycles = DWT_CYCCNT;
    return 1;
}

const char *uaot_platform_board_name(void)
{
    return UAOT_BOARD_NAME;
}

int uaot_platform_stack_bounds(uint8_t **lo, uint8_t **hi)
{
    if (&__stack_start__ == NULL || &__stack_end__ == NULL) {
        return 0;
    }
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
