/* C side of the golden wire-format test: checks crt/src/framing.c + crc16.c against
 * tests/golden/rpc_frames.json (converted by tests/test_rpc_framing.py into golden_frames.h).
 * Exit status 0 when every case passes; failures are listed on stderr. */
#include <stdio.h>
#include <string.h>

#include "microaot/framing.h"

typedef struct {
    int kind; /* uaot_frame_event_t */
    const uint8_t *payload;
    size_t len;
} golden_event_t;

typedef struct {
    const char *name;
    const uint8_t *payload;
    size_t payload_len;
    const uint8_t *frame;
    size_t frame_len;
} golden_encode_t;

typedef struct {
    const char *name;
    size_t max_payload;
    const uint8_t *wire;
    size_t wire_len;
    const golden_event_t *events;
    size_t n_events;
} golden_decode_t;

#include "golden_frames.h"

#define GUARD 64
static uint8_t g_out[UAOT_FRAME_ENCODED_MAX(70000u)];
static uint8_t g_rx[70000u + UAOT_FRAME_OVERHEAD + GUARD];

static int g_fail;

static void fail(const char *test, const char *what)
{
    fprintf(stderr, "FAIL %s: %s\n", test, what);
    ++g_fail;
}

int main(void)
{
    size_t i;
    size_t j;
    if (uaot_crc16(UAOT_CRC16_INIT, GOLDEN_CRC_DATA, sizeof GOLDEN_CRC_DATA) != GOLDEN_CRC_VALUE) {
        fail("crc16", "check value");
    }
    for (i = 0; i < sizeof GOLDEN_ENCODE / sizeof GOLDEN_ENCODE[0]; ++i) {
        const golden_encode_t *c = &GOLDEN_ENCODE[i];
        size_t n = uaot_frame_encode(c->payload, c->payload_len, g_out, sizeof g_out);
        uaot_frame_decoder_t dec;
        int got = 0;
        if (n != c->frame_len || memcmp(g_out, c->frame, n) != 0) {
            fail(c->name, "encode differs from the golden frame");
        }
        /* too small an output buffer: 0 and nothing written past it */
        memset(g_out, 0xCC, sizeof g_out);
        if (c->frame_len > 1 && uaot_frame_encode(c->payload, c->payload_len, g_out, c->frame_len - 1) != 0) {
            fail(c->name, "encode into a short buffer did not fail");
        }
        if (c->frame_len > 1 && g_out[c->frame_len - 1] != 0xCC) {
            fail(c->name, "encode wrote past its buffer");
        }
        uaot_frame_decoder_init(&dec, g_rx, c->payload_len + UAOT_FRAME_OVERHEAD);
        for (j = 0; j < c->frame_len; ++j) {
            uaot_frame_event_t ev = uaot_frame_decoder_push(&dec, c->frame[j]);
            if (ev == UAOT_FRAME_OK) {
                ++got;
                if (dec.payload_len != c->payload_len ||
                    memcmp(uaot_frame_payload(&dec), c->payload, c->payload_len) != 0) {
                    fail(c->name, "decoded payload differs");
                }
            } else if (ev != UAOT_FRAME_NONE) {
                fail(c->name, "golden frame did not decode");
            }
        }
        if (got != 1) {
            fail(c->name, "golden frame gave no frame");
        }
    }
    for (i = 0; i < sizeof GOLDEN_DECODE / sizeof GOLDEN_DECODE[0]; ++i) {
        const golden_decode_t *c = &GOLDEN_DECODE[i];
        uaot_frame_decoder_t dec;
        size_t cap = c->max_payload + UAOT_FRAME_OVERHEAD;
        size_t k = 0;
        memset(g_rx, 0xEE, sizeof g_rx);
        uaot_frame_decoder_init(&dec, g_rx, cap);
        for (j = 0; j < c->wire_len; ++j) {
            uaot_frame_event_t ev = uaot_frame_decoder_push(&dec, c->wire[j]);
            if (ev == UAOT_FRAME_NONE) {
                continue;
            }
            if (k >= c->n_events) {
                fail(c->name, "more events than expected");
                break;
            }
            if ((int)ev != c->events[k].kind) {
                char msg[96];
                snprintf(msg, sizeof msg, "event %u: got %d, expected %d", (unsigned)k, (int)ev, c->events[k].kind);
                fail(c->name, msg);
            } else if (ev == UAOT_FRAME_OK && (dec.payload_len != c->events[k].len ||
                                               memcmp(uaot_frame_payload(&dec), c->events[k].payload,
                                                      c->events[k].len) != 0)) {
                fail(c->name, "payload differs");
            }
            ++k;
        }
        if (k != c->n_events) {
            fail(c->name, "fewer events than expected");
        }
        for (j = cap; j < cap + GUARD; ++j) {
            if (g_rx[j] != 0xEE) {
                fail(c->name, "decoder wrote past its buffer");
                break;
            }
        }
    }
    if (g_fail == 0) {
        printf("framing golden: %u encode + %u decode cases ok\n",
               (unsigned)(sizeof GOLDEN_ENCODE / sizeof GOLDEN_ENCODE[0]),
               (unsigned)(sizeof GOLDEN_DECODE / sizeof GOLDEN_DECODE[0]));
    }
    return g_fail == 0 ? 0 : 1;
}
