/* microaot Cortex-M ports (cmsdk, stm32): reset-time RAM set-up shared by their startup.c.
 *
 * Header only (the ports include it as "../cortexm/reset.h"), so no build's source list changes.
 * Uses the linker-script symbols every Cortex-M port's .ld defines: __data_load__ (flash copy of
 * .data), __data_start__/__data_end__, __bss_start__/__bss_end__ (all word aligned). */
#ifndef MICROAOT_PORTS_CORTEXM_RESET_H
#define MICROAOT_PORTS_CORTEXM_RESET_H

#include <stdint.h>

/* Copies .data, zeroes .bss and, when the build uses the FPU, gives it full access (CPACR CP10/CP11)
 * before any floating-point instruction runs. Call first thing in Reset_Handler. */
static inline void uaot_cortexm_init_ram(void)
{
    extern uint32_t __data_start__, __data_end__, __data_load__, __bss_start__, __bss_end__;
    uint32_t *src = &__data_load__;
    uint32_t *dst = &__data_start__;
    while (dst < &__data_end__) {
        *dst++ = *src++;
    }
    for (dst = &__bss_start__; dst < &__bss_end__; dst++) {
        *dst = 0u;
    }
#if defined(__ARM_FP)
    *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20); /* CPACR */
    __asm volatile("dsb\n\tisb" ::: "memory");
#endif
}

#endif
