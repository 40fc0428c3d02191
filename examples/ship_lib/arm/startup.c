/* Minimal Cortex-M startup for the example on QEMU mps2-an386 (Cortex-M4): vector table, .data copy,
 * .bss zeroing, FPU enable, main(), then exit through Arm semihosting with main's return value.
 * Output (app_print) goes through semihosting SYS_WRITE0. Run with:
 *   qemu-system-arm -M mps2-an386 -nographic -semihosting -kernel ship_lib.elf */
#include <stdint.h>

extern uint32_t __data_start__, __data_end__, __data_load__, __bss_start__, __bss_end__, __stack_top__;
extern int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void app_print(const char *s);
void app_exit(int code);

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void app_print(const char *s)
{
    (void)semihost(0x04, s); /* SYS_WRITE0 */
}

void app_exit(int code)
{
    /* SYS_EXIT_EXTENDED: {ADP_Stopped_ApplicationExit, exit code} */
    uint32_t block[2] = {0x20026u, (uint32_t)code};
    (void)semihost(0x20, block);
    for (;;) {
    }
}

void Reset_Handler(void)
{
    uint32_t *src = &__data_load__;
    for (uint32_t *dst = &__data_start__; dst < &__data_end__;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) {
        *dst++ = 0u;
    }
#if defined(__ARM_FP)
    *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20); /* CPACR: enable CP10/CP11 (the FPU) */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    app_exit(main());
}

void Default_Handler(void)
{
    app_exit(0x7F); /* a fault: exit with a code the test recognises */
}

typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used)) static const vector_t vectors[16] = {
    (vector_t)(uintptr_t)&__stack_top__,
    Reset_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    0, 0, 0, 0,
    Default_Handler, Default_Handler, 0, Default_Handler, Default_Handler,
};
