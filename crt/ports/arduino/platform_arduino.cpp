/* microaot port for any Arduino core (framework = arduino): platform hooks on the framework's own
 * drivers. The sketch owns setup()/loop(); this file brings no startup, vector or main().
 *
 *   link:  Serial (UAOT_BAUD, default 115200), polled through Serial.available()/read()
 *   timer: the DWT cycle counter where the core has one that counts (Cortex-M3/M4/M7/M33),
 *          UAOT_TIME_UNIT_CYCLES; otherwise micros(), UAOT_TIME_UNIT_US
 *   clock: F_CPU of the core (SystemCoreClock on STM32 cores), else UAOT_F_CPU
 * In RPC mode the sketch calls uaot_platform_init() and uaot_rpc_init() in setup() and
 * uaot_rpc_poll() in loop(). */
#include <Arduino.h>

#include "microaot/platform.h"

#ifndef UAOT_BAUD
#define UAOT_BAUD 115200u
#endif
#ifndef UAOT_BOARD_NAME
#define UAOT_BOARD_NAME "arduino"
#endif

#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__)
#define UAOT_ARDUINO_DWT 1
#define UAOT_REG(addr) (*(volatile uint32_t *)(addr))
#define UAOT_DEMCR UAOT_REG(0xE000EDFCu)
#define UAOT_DWT_CTRL UAOT_REG(0xE0001000u)
#define UAOT_DWT_CYCCNT UAOT_REG(0xE0001004u)
#else
#define UAOT_ARDUINO_DWT 0
#endif

static bool uaot_ready;
static bool uaot_dwt;
static uint32_t uaot_last;
static uint64_t uaot_high;

extern "C" {

void uaot_platform_init(void)
{
    if (uaot_ready) {
        return;
    }
    uaot_ready = true;
    Serial.begin(UAOT_BAUD);
#if UAOT_ARDUINO_DWT
    UAOT_DEMCR |= 1u << 24; /* TRCENA */
    UAOT_DWT_CYCCNT = 0u;
    UAOT_DWT_CTRL |= 1u; /* CYCCNTENA */
    for (volatile int i = 0; i < 64; i++) {
    }
    uaot_dwt = UAOT_DWT_CYCCNT != 0u;
#endif
}

void uaot_platform_write(const uint8_t *data, size_t len)
{
    uaot_platform_init();
    Serial.write(data, len);
}

int uaot_platform_read(uint8_t *buf, size_t cap)
{
    size_t n = 0;
    uaot_platform_init();
    while (n < cap && Serial.available() > 0) {
        int c = Serial.read();
        if (c < 0) {
            break;
        }
        buf[n++] = (uint8_t)c;
    }
    return (int)n;
}

uint64_t uaot_platform_timer_read(void)
{
    uint32_t now;
#if UAOT_ARDUINO_DWT
    now = uaot_dwt ? UAOT_DWT_CYCCNT : (uint32_t)micros();
#else
    now = (uint32_t)micros();
#endif
    if (now < uaot_last) {
        uaot_high += (uint64_t)1 << 32;
    }
    uaot_last = now;
    return uaot_high | now;
}

uaot_time_unit_t uaot_platform_timer_unit(void)
{
    return uaot_dwt ? UAOT_TIME_UNIT_CYCLES : UAOT_TIME_UNIT_US;
}

int uaot_platform_cycle_counter(uint32_t *cycles)
{
#if UAOT_ARDUINO_DWT
    if (uaot_dwt) {
        *cycles = UAOT_DWT_CYCCNT;
        return 1;
    }
#endif
    (void)cycles;
    return 0;
}

uint32_t uaot_platform_clock_hz(void)
{
#if defined(F_CPU)
    return (uint32_t)(F_CPU);
#elif defined(UAOT_F_CPU)
    return (uint32_t)(UAOT_F_CPU);
#else
    return 0u;
#endif
}

const char *uaot_platform_board_name(void)
{
    return UAOT_BOARD_NAME;
}

} /* extern "C" */
