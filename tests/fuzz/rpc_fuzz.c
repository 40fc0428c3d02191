/* libFuzzer harness for the on-device RPC server: framing decoder + session nonce check + command
 * dispatch, with the hand-written two-op model of tests/c/rpc_fake_model.c bound by the generated
 * glue (microaot.rpc.glue). Built by tests/test_reliability_fuzz.py with
 *     clang -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
 * and run for a bounded time on the seed corpus in tests/fuzz/corpus/.
 *
 * rpc_server.c is #included so that every input starts from the same server state (decoder,
 * counters, buffers): an input is a complete, replayable session.
 *
 * Input format: a sequence of records  op:u8  len:u16le  bytes[len]  (len clipped to what is left)
 *   op & 3 == 0  RAW     the bytes go to uaot_rpc_feed() as they are (framing, resynchronisation)
 *   op & 3 == 1  REQUEST the bytes are a request payload; bytes 4..7 (nonce) are replaced by this
 *                        boot's nonce, the payload is framed and fed in pieces of (op >> 2) + 1 bytes
 *   op & 3 == 2  STALE   as REQUEST, but the nonce is left as it is (ERR_SESSION paths)
 *   op & 3 == 3  FLIP    as REQUEST, then byte (op >> 2) of the encoded frame gets its bits flipped
 *
 * Oracles (abort() = a crash libFuzzer reports), besides ASan/UBSan:
 *   - everything the server writes decodes as valid frames (CRC, length, escapes) whose payload is a
 *     reply: 8..UAOT_RPC_MAX_PAYLOAD bytes, reply bit set, this boot's nonce;
 *   - a REQUEST record gets exactly one reply, with the request's seq and cmd | 0x80;
 *   - after a RUN, PROFILE or OPCHECK that ran the model and returned OK the outputs are the model's
 *     function of the inputs (out0 = in0 + 1, out1 = 2 * in1), i.e. no request corrupted the glue buffers;
 *   - built with -DFUZZ_BAD_GLUE (glue workspace smaller than the model's), RUN never succeeds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../crt/src/rpc_server.c"

#ifndef FUZZ_BOARD_NAME
#define FUZZ_BOARD_NAME "fuzz-board-with-a-name-longer-than-the-48-bytes-the-protocol-sends"
#endif

/* ---------------------------------------------------------------- platform hooks */

static uint8_t s_out_buf[UAOT_RPC_MAX_PAYLOAD + UAOT_FRAME_OVERHEAD];
static uaot_frame_decoder_t s_out_dec;
static unsigned s_replies;
static uint8_t s_last_reply[UAOT_RPC_MAX_PAYLOAD];
static size_t s_last_reply_len;
static uint64_t s_clock;
static uint8_t s_fake_stack[256];

static void fuzz_fail(void)
{
    abort();
}

static void check_reply(const uint8_t *p, size_t n)
{
    if (n < UAOT_RPC_HEADER_SIZE || n > UAOT_RPC_MAX_PAYLOAD) {
        fuzz_fail(); /* reply size outside the contract */
    }
    if ((p[0] & UAOT_RPC_REPLY_BIT) == 0u) {
        fuzz_fail(); /* reply without the reply bit */
    }
    if (get_u32(p + 4) != s_nonce) {
        fuzz_fail(); /* reply carries another nonce */
    }
    ++s_replies;
    memcpy(s_last_reply, p, n);
    s_last_reply_len = n;
}

void uaot_platform_write(const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0u; i < len; ++i) {
        uaot_frame_event_t ev = uaot_frame_decoder_push(&s_out_dec, data[i]);
        if (ev == UAOT_FRAME_OK) {
            check_reply(uaot_frame_payload(&s_out_dec), s_out_dec.payload_len);
        } else if (ev != UAOT_FRAME_NONE) {
            fuzz_fail(); /* the server wrote a malformed frame */
        }
    }
}

uint64_t uaot_platform_timer_read(void)
{
    s_clock += 7u;
    return s_clock;
}

uaot_time_unit_t uaot_platform_timer_unit(void)
{
    return UAOT_TIME_UNIT_NS;
}

const char *uaot_platform_board_name(void)
{
    return FUZZ_BOARD_NAME;
}

/* a stack region that is not the real stack: the painter declines (sp is outside), the scanner runs */
int uaot_platform_stack_bounds(uint8_t **lo, uint8_t **hi)
{
    *lo = s_fake_stack;
    *hi = s_fake_stack + sizeof s_fake_stack;
    return 1;
}

int uaot_platform_static_ram(uint32_t *bytes)
{
    *bytes = 4096u;
    return 1;
}

/* ---------------------------------------------------------------- harness */

static void reset_server(void)
{
    uaot_rpc_init();
    uaot_frame_decoder_init(&s_dec, s_rx, sizeof s_rx);
    uaot_frame_decoder_init(&s_out_dec, s_out_buf, sizeof s_out_buf);
    clear_state();
    stack_init();
    s_replies = 0u;
}

static void check_outputs(void)
{
    const int8_t *in0 = (const int8_t *)uaot_app_inputs[0];
    const float *in1 = (const float *)uaot_app_inputs[1];
    const int8_t *out0 = (const int8_t *)uaot_app_outputs[0];
    const float *out1 = (const float *)uaot_app_outputs[1];
    uint32_t i;
    for (i = 0u; i < uaot_app_input_sizes[0]; ++i) {
        if ((uint8_t)out0[i] != (uint8_t)((uint8_t)in0[i] + 1u)) {
            fuzz_fail(); /* output 0 is not the model's result for input 0 */
        }
    }
    for (i = 0u; i < 3u; ++i) {
        float want = 2.0f * in1[i];
        if (memcmp(&want, &out1[i], sizeof want) != 0 && !(want != want && out1[i] != out1[i])) {
            fuzz_fail(); /* output 1 is not the model's result for input 1 */
        }
    }
}

static void feed_pieces(const uint8_t *frame, size_t n, size_t piece)
{
    size_t at = 0u;
    while (at < n) {
        size_t k = n - at < piece ? n - at : piece;
        uaot_rpc_feed(frame + at, k);
        at += k;
    }
}

static uint8_t s_req[65536];
static uint8_t s_frame[UAOT_FRAME_ENCODED_MAX(65535u)];

static void do_request(uint8_t op, const uint8_t *data, size_t len)
{
    unsigned kind = op & 3u;
    size_t piece = (size_t)(op >> 2) + 1u;
    size_t flen;
    /* a frame left open by a RAW record is closed by this frame's leading FLAG: one more reply */
    unsigned expect = s_replies + 1u + (s_dec.started ? 1u : 0u);
    memcpy(s_req, data, len);
    if (kind != 2u && len >= UAOT_RPC_HEADER_SIZE) {
        set_u32(s_req + 4, s_nonce);
    }
    flen = uaot_frame_encode(s_req, len, s_frame, sizeof s_frame);
    if (flen == 0u) {
        fuzz_fail(); /* the encoder refused a payload it must accept */
    }
    if (kind == 3u) {
        s_frame[(size_t)(op >> 2) % flen] ^= (uint8_t)(0x01u | op);
    }
    feed_pieces(s_frame, flen, piece);
    if (kind == 1u) {
        /* a valid frame of <= max payload: exactly one reply to it, with its seq and command */
        if (len <= UAOT_RPC_MAX_PAYLOAD) {
            const uint8_t *r = s_last_reply;
            if (s_replies != expect) {
                fuzz_fail();
            }
            if (len >= UAOT_RPC_HEADER_SIZE) {
                if (get_u16(r + 2) != get_u16(s_req + 2) || r[0] != (uint8_t)(s_req[0] | UAOT_RPC_REPLY_BIT)) {
                    fuzz_fail();
                }
                if (r[1] == (uint8_t)UAOT_RPC_OK &&
                    (((s_req[0] == (uint8_t)UAOT_RPC_RUN || s_req[0] == (uint8_t)UAOT_RPC_PROFILE) &&
                      get_u32(s_req + 8) > 0u) ||
                     (s_req[0] == (uint8_t)UAOT_RPC_OPCHECK && s_req[8] != 0u))) {
#ifdef FUZZ_BAD_GLUE
                    fuzz_fail(); /* the glue cannot hold the model: the server must refuse to run it */
#endif
                    check_outputs();
                }
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t at = 0u;
    reset_server();
    while (at < size) {
        uint8_t op = data[at++];
        size_t len = 0u;
        if (at < size) {
            len = data[at++];
        }
        if (at < size) {
            len |= (size_t)data[at++] << 8;
        }
        if (len > size - at) {
            len = size - at;
        }
        if ((op & 3u) == 0u) {
            uaot_rpc_feed(data + at, len);
        } else {
            do_request(op, data + at, len);
        }
        at += len;
    }
    /* an unterminated frame at the end: close it, the reply must still be well formed */
    uaot_rpc_feed((const uint8_t *)"\x7e", 1u);
    return 0;
}
