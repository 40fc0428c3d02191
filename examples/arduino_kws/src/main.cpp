/* An Arduino sketch that ships a model with microaot (lib_deps + custom_microaot_model).
 *
 * Standalone (default): setup() classifies one deterministic input with the generated API
 * (kws.h) and prints every score on Serial.
 * RPC (build_flags = -D APP_RPC, custom_microaot_mode = rpc): the sketch serves microaot's RPC
 * protocol on Serial, so `microaot eval` can check and time the model on the board. */
#include <Arduino.h>

#include "microaot/platform.h"

#ifdef APP_RPC
#include "microaot/rpc.h"

void setup()
{
    uaot_platform_init(); /* Serial.begin */
    uaot_rpc_init();
}

void loop()
{
    (void)uaot_rpc_poll();
}
#else
#include "kws.h"

alignas(kws_WORKSPACE_ALIGN) static uint8_t workspace[kws_WORKSPACE_SIZE];
static int8_t features[kws_INPUT0_SIZE];
static int8_t scores[kws_OUTPUT0_SIZE];

void setup()
{
    uaot_platform_init(); /* Serial.begin */
    uint32_t x = 12345u;
    for (int i = 0; i < kws_INPUT0_SIZE; i++) {
        x = x * 1103515245u + 12345u;
        features[i] = (int8_t)(x >> 24);
    }
    const void *inputs[kws_NUM_INPUTS] = {features};
    void *outputs[kws_NUM_OUTPUTS] = {scores};
    uint32_t t0 = micros();
    uaot_status_t st = kws_run(inputs, outputs, workspace);
    uint32_t t1 = micros();
    if (st != UAOT_OK) {
        Serial.print("kws_run failed: status ");
        Serial.println((int)st);
        return;
    }
    Serial.print("scores:");
    for (int i = 0; i < kws_OUTPUT0_SIZE; i++) {
        Serial.print(' ');
        Serial.print((int)scores[i]);
    }
    Serial.println();
    Serial.print("us: ");
    Serial.println(t1 - t0);
}

void loop()
{
}
#endif
