/* microaot port for ARM CMSDK / MPS2 (QEMU mps2-an385, mps2-an386): vector table and reset handler.
 *
 * Reset_Handler copies .data, zeroes .bss, enables the FPU when the build uses it, calls main() and
 * leaves through uaot_platform_abort(main's return value) (semihosting exit under QEMU). */
#include <stdint.h>

#include "microaot/platform.h"

#include "../cortexm/reset.h"

extern uint32_t __stack_end__;
extern int main(void);

void Reset_Handler(void);
void uaot_cmsdk_default_handler(void);
void uaot_cmsdk_fault_handler(void);

void Reset_Handler(void)
{
    uaot_cortexm_init_ram();
    int rc = main();
    uaot_platform_abort(rc);
    for (;;) {
    }
}

void uaot_cmsdk_default_handler(void)
{
    uaot_platform_abort(0x7E);
    for (;;) {
    }
}

/* HardFault, MemManage, BusFault, UsageFault: exit with a code that names the fault */
void uaot_cmsdk_fault_handler(void)
{
    uaot_platform_abort(0x7F);
    for (;;) {
    }
}

typedef void (*uaot_vector_t)(void);

__attribute__((section(".isr_vector"), used)) const uaot_vector_t uaot_cmsdk_vectors[48] = {
    (uaot_vector_t)(uintptr_t)&__stack_end__,
    Reset_Handler,
    uaot_cmsdk_default_handler, /* NMI */
    uaot_cmsdk_fault_handler,   /* HardFault */
    uaot_cmsdk_fault_handler,   /* MemManage */
    uaot_cmsdk_fault_handler,   /* BusFault */
    uaot_cmsdk_fault_handler,   /* UsageFault */
    0,
    0,
    0,
    0,
    uaot_cmsdk_default_handler, /* SVCall */
    uaot_cmsdk_default_handler, /* DebugMon */
    0,
    uaot_cmsdk_default_handler, /* PendSV */
    uaot_cmsdk_default_handler, /* SysTick */
    /* 32 external interrupts: none enabled by the port */
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
    uaot_cmsdk_default_handler,
};
