/* microaot as a library in a plain PlatformIO project (no microaot platform): classify one
 * deterministic input with the generated API (kws.h) and print every output score over the
 * port's link (stdout on native, USART2 on STM32F4, UART0 on RP2040).
 *
 * custom_microaot_mode = standalone: this main() is the application.
 * custom_microaot_mode = rpc (with -D APP_RPC): the application serves microaot's RPC protocol
 * through uaot_rpc_init() / uaot_rpc_poll(), so `microaot eval --project` can evaluate it. */
#include <stdint.h>
#include <string.h>

#include "microaot/platform.h"

#ifdef APP_RPC
#include "microaot/rpc.h"

int main(void)
{
    uaot_platform_init();
    uaot_rpc_init();
    while (uaot_rpc_poll() >= 0) {
    }
    return 0;
}
#else
#include "kws.h"

static uint8_t workspace[kws_WORKSPACE_SIZE] __attribute__((aligned(kws_WORKSPACE_ALIGN)));
static int8_t features[kws_INPUT0_SIZE];
static int8_t scores[kws_OUTPUT0_SIZE];

static void put(const char *s)
{
    uaot_platform_write((const uint8_t *)s, strlen(s));
}

static void put_int(int32_t v)
{
    char buf[12];
    int i = (int)sizeof buf;
    uint32_t u = v < 0 ? (uint32_t)(-(int64_t)v) : (uint32_t)v;
    buf[--i] = '\0';
    do {
        buf[--i] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u != 0u);
    if (v < 0) {
        buf[--i] = '-';
    }
    put(&buf[i]);
}

int main(void)
{
    uaot_platform_init();
    /* a deterministic stand-in for MFCC features: x = x * 1103515245 + 12345, top byte */
    uint32_t x = 12345u;
    for (int i = 0; i < kws_INPUT0_SIZE; i++) {
        x = x * 1103515245u + 12345u;
        features[i] = (int8_t)(x >> 24);
    }
    const void *inputs[kws_NUM_INPUTS] = {features};
    void *outputs[kws_NUM_OUTPUTS] = {scores};
    uaot_status_t st = kws_run(inputs, outputs, workspace);
    if (st != UAOT_OK) {
        put("kws_run failed: status ");
        put_int((int32_t)st);
        put("\n");
        return 1;
    }
    put("scores:");
    for (int i = 0; i < kws_OUTPUT0_SIZE; i++) {
        put(" ");
        put_int(scores[i]);
    }
    put("\n");
    return 0;
}
#endif
