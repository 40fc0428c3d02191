/* microaot port for STM32F4 (NUCLEO-F446RE): vector table, reset handler, clock/flash set-up.
 *
 * SoC settings come from the board JSON as defines:
 *   UAOT_F_CPU             SYSCLK in Hz: 16000000 = HSI without PLL, otherwise PLL from HSI
 *                          (PLLN = f / 1 MHz, so 50..180 MHz in 1 MHz steps; APB1 = f/4, APB2 = f/2 above 90 MHz;
 *                          above 168 MHz the over-drive mode is needed, which this port does not enable)
 *   UAOT_FLASH_WAIT_STATES FLASH_ACR.LATENCY (5 at 3.3 V for 150..180 MHz, see RM0390 table 5)
 *   UAOT_CACHE_ENABLE      1 = ART accelerator instruction + data caches and prefetch on
 */
#include <stdint.h>

#include "microaot/platform.h"

#include "../cortexm/reset.h"

#ifndef UAOT_F_CPU
#define UAOT_F_CPU 16000000u
#endif
#ifndef UAOT_FLASH_WAIT_STATES
#define UAOT_FLASH_WAIT_STATES 5
#endif
#ifndef UAOT_CACHE_ENABLE
#define UAOT_CACHE_ENABLE 1
#endif

#define REG(addr) (*(volatile uint32_t *)(addr))
#define RCC_CR REG(0x40023800u)
#define RCC_PLLCFGR REG(0x40023804u)
#define RCC_CFGR REG(0x40023808u)
#define FLASH_ACR REG(0x40023C00u)

extern uint32_t __stack_end__;
extern int main(void);

void Reset_Handler(void);
void uaot_stm32_default_handler(void);
void uaot_stm32_clock_init(void);

void uaot_stm32_clock_init(void)
{
    uint32_t acr = (uint32_t)UAOT_FLASH_WAIT_STATES & 0xFu;
#if UAOT_CACHE_ENABLE
    acr |= (1u << 8) | (1u << 9) | (1u << 10); /* PRFTEN, ICEN, DCEN */
#endif
    FLASH_ACR = acr;
    /* every wait below is bounded: an emulator without these registers (QEMU netduinoplus2) reads
     * them as 0, and the port then stays on the 16 MHz HSI (uaot_platform_clock_hz() reports it) */
    for (uint32_t n = 0u; n < 100000u && (FLASH_ACR & 0xFu) != ((uint32_t)UAOT_FLASH_WAIT_STATES & 0xFu); n++) {
    }
    if ((FLASH_ACR & 0xFu) != ((uint32_t)UAOT_FLASH_WAIT_STATES & 0xFu)) {
        return;
    }
#if (UAOT_F_CPU) != 16000000
    {
        const uint32_t plln = (uint32_t)((UAOT_F_CPU) / 1000000u); /* VCO in = 2 MHz, out = 2*PLLN MHz */
        /* PLLM=8, PLLN, PLLP=2 (00), PLLSRC=HSI, PLLQ=7, PLLR=2 */
        RCC_PLLCFGR = 8u | (plln << 6) | (0u << 16) | (7u << 24) | (2u << 28);
        RCC_CR |= 1u << 24; /* PLLON */
        for (uint32_t n = 0u; n < 1000000u && !(RCC_CR & (1u << 25)); n++) {
        }
        if (!(RCC_CR & (1u << 25))) {
            return; /* no PLL lock: stay on HSI */
        }
        uint32_t cfgr = RCC_CFGR & ~((0x7u << 10) | (0x7u << 13) | 0x3u);
        if ((UAOT_F_CPU) > 90000000u) {
            cfgr |= (0x5u << 10) | (0x4u << 13); /* APB1 = HCLK/4, APB2 = HCLK/2 */
        } else if ((UAOT_F_CPU) > 45000000u) {
            cfgr |= (0x4u << 10); /* APB1 = HCLK/2 */
        }
        RCC_CFGR = cfgr | 0x2u; /* SW = PLL */
        for (uint32_t n = 0u; n < 1000000u && (RCC_CFGR & 0xCu) != 0x8u; n++) {
        }
    }
#endif
}

void Reset_Handler(void)
{
    uaot_cortexm_init_ram();
    uaot_stm32_clock_init();
    int rc = main();
    uaot_platform_abort(rc);
    for (;;) {
    }
}

void uaot_stm32_default_handler(void)
{
    uaot_platform_abort(0x7F);
    for (;;) {
    }
}

typedef void (*uaot_vector_t)(void);

void uaot_stm32_systick_handler(void);
/* tells platform_stm32.c that SysTick's vector is this table's (its timer fallback needs it) */
extern const uint8_t uaot_stm32_owns_vectors;
const uint8_t uaot_stm32_owns_vectors = 1u;

/* core exceptions only: the port enables no peripheral interrupt */
__attribute__((section(".isr_vector"), used)) const uaot_vector_t uaot_stm32_vectors[16] = {
    (uaot_vector_t)(uintptr_t)&__stack_end__,
    Reset_Handler,
    uaot_stm32_default_handler,
    uaot_stm32_default_handler,
    uaot_stm32_default_handler,
    uaot_stm32_default_handler,
    uaot_stm32_default_handler,
    0,
    0,
    0,
    0,
    uaot_stm32_default_handler,
    uaot_stm32_default_handler,
    0,
    uaot_stm32_default_handler,
    uaot_stm32_systick_handler,
};
