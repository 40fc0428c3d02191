/* A plain application that ships the KWS model: it classifies one (synthetic) input and prints
 * the winning class over the board's serial port, using only the generated API (kws.h) and the
 * board port's platform hooks. */
#include <stdint.h>
#include <string.h>

#include "kws.h"
#include "microaot/platform.h"

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
    /* a deterministic stand-in for MFCC features of one second of audio */
    uint32_t x = 12345u;
    for (int i = 0; i < kws_INPUT0_SIZE; i++) {
        x = x * 1103515245u + 12345u;
        features[i] = (int8_t)(x >> 24);
    }
    const void *inputs[kws_NUM_INPUTS] = {features};
    void *outputs[kws_NUM_OUTPUTS] = {scores};

    uint64_t t0 = uaot_platform_timer_read();
    uaot_status_t st = kws_run(inputs, outputs, workspace);
    uint64_t t1 = uaot_platform_timer_read();
    if (st != UAOT_OK) {
        put("kws_run failed: status ");
        put_int((int32_t)st);
        put("\n");
        return 1;
    }
    int best = 0;
    for (int i = 1; i < kws_OUTPUT0_SIZE; i++) {
        if (scores[i] > scores[best]) {
            best = i;
        }
    }
    put("kws: class ");
    put_int(best);
    put(", score ");
    put_int(scores[best]);
    put(", ");
    put_int((int32_t)(t1 - t0));
    put(" timer units\n");
    return 0;
}
