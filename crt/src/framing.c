/* microaot runtime: escape-delimited frames with length and CRC-16 (see microaot/framing.h). */
#include "microaot/framing.h"

static void dec_clear(uaot_frame_decoder_t *dec)
{
    dec->len = 0u;
    dec->escaped = 0u;
    dec->bad_escape = 0u;
    dec->overflow = 0u;
    dec->started = 0u;
}

void uaot_frame_decoder_init(uaot_frame_decoder_t *dec, uint8_t *buf, size_t cap)
{
    if (dec == NULL) {
        return;
    }
    dec->buf = buf;
    dec->cap = (buf == NULL) ? 0u : cap;
    dec->payload_len = 0u;
    dec_clear(dec);
}

static size_t dec_max_payload(const uaot_frame_decoder_t *dec)
{
    size_t m;
    if (dec->cap < UAOT_FRAME_OVERHEAD) {
        return 0u;
    }
    m = dec->cap - UAOT_FRAME_OVERHEAD;
    return m > UAOT_FRAME_MAX_PAYLOAD_LIMIT ? UAOT_FRAME_MAX_PAYLOAD_LIMIT : m;
}

static uaot_frame_event_t dec_finish(uaot_frame_decoder_t *dec)
{
    size_t declared;
    uint16_t crc_rx;
    uint16_t crc;
    if (dec->overflow) {
        return UAOT_FRAME_ERR_TOO_LARGE;
    }
    if (dec->bad_escape || dec->escaped) {
        return UAOT_FRAME_ERR_ESCAPE;
    }
    if (dec->len < UAOT_FRAME_OVERHEAD) {
        return UAOT_FRAME_ERR_LENGTH;
    }
    declared = (size_t)dec->buf[0] | ((size_t)dec->buf[1] << 8);
    if (declared > dec_max_payload(dec)) {
        return UAOT_FRAME_ERR_TOO_LARGE;
    }
    if (declared + UAOT_FRAME_OVERHEAD != dec->len) {
        return UAOT_FRAME_ERR_LENGTH;
    }
    crc = uaot_crc16(UAOT_CRC16_INIT, dec->buf, dec->len - 2u);
    crc_rx = (uint16_t)((uint16_t)dec->buf[dec->len - 2u] | (uint16_t)((uint16_t)dec->buf[dec->len - 1u] << 8));
    if (crc != crc_rx) {
        return UAOT_FRAME_ERR_CRC;
    }
    dec->payload_len = declared;
    return UAOT_FRAME_OK;
}

uaot_frame_event_t uaot_frame_decoder_push(uaot_frame_decoder_t *dec, uint8_t byte)
{
    if (dec == NULL || dec->buf == NULL || dec->cap < UAOT_FRAME_OVERHEAD) {
        return UAOT_FRAME_NONE;
    }
    if (byte == UAOT_FRAME_FLAG) {
        uaot_frame_event_t ev;
        if (!dec->started) {
            dec_clear(dec);
            return UAOT_FRAME_NONE;
        }
        ev = dec_finish(dec);
        dec_clear(dec);
        return ev;
    }
    dec->started = 1u;
    if (dec->overflow) {
        return UAOT_FRAME_NONE;
    }
    if (dec->escaped) {
        dec->escaped = 0u;
        byte = (uint8_t)(byte ^ UAOT_FRAME_ESC_XOR);
        if (byte != UAOT_FRAME_FLAG && byte != UAOT_FRAME_ESC) {
            dec->bad_escape = 1u;
        }
    } else if (byte == UAOT_FRAME_ESC) {
        dec->escaped = 1u;
        return UAOT_FRAME_NONE;
    }
    if (dec->len >= dec->cap) {
        dec->overflow = 1u;
        return UAOT_FRAME_NONE;
    }
    dec->buf[dec->len++] = byte;
    if (dec->len == 2u) {
        size_t declared = (size_t)dec->buf[0] | ((size_t)dec->buf[1] << 8);
        if (declared > dec_max_payload(dec)) {
            dec->overflow = 1u; /* reject early; discard the rest of this frame */
        }
    }
    return UAOT_FRAME_NONE;
}

const uint8_t *uaot_frame_payload(const uaot_frame_decoder_t *dec)
{
    return dec->buf + 2;
}

#ifndef UAOT_FRAME_STAGE_SIZE
#define UAOT_FRAME_STAGE_SIZE 64
#endif

typedef struct {
    uint8_t stage[UAOT_FRAME_STAGE_SIZE];
    size_t n;
    uaot_frame_sink_t sink;
    void *ctx;
} enc_state_t;

static void enc_raw(enc_state_t *st, uint8_t b)
{
    if (st->n >= sizeof st->stage) {
        st->sink(st->ctx, st->stage, st->n);
        st->n = 0u;
    }
    st->stage[st->n++] = b;
}

static void enc_byte(enc_state_t *st, uint8_t b)
{
    if (b == UAOT_FRAME_FLAG || b == UAOT_FRAME_ESC) {
        enc_raw(st, UAOT_FRAME_ESC);
        enc_raw(st, (uint8_t)(b ^ UAOT_FRAME_ESC_XOR));
    } else {
        enc_raw(st, b);
    }
}

void uaot_frame_encode_to(const uint8_t *payload, size_t len, uaot_frame_sink_t sink, void *ctx)
{
    enc_state_t st;
    uint8_t hdr[2];
    uint16_t crc;
    size_t i;
    if (sink == NULL || len > UAOT_FRAME_MAX_PAYLOAD_LIMIT || (payload == NULL && len != 0u)) {
        return;
    }
    st.n = 0u;
    st.sink = sink;
    st.ctx = ctx;
    hdr[0] = (uint8_t)(len & 0xFFu);
    hdr[1] = (uint8_t)((len >> 8) & 0xFFu);
    crc = uaot_crc16(UAOT_CRC16_INIT, hdr, 2u);
    crc = uaot_crc16(crc, payload, len);
    enc_raw(&st, UAOT_FRAME_FLAG);
    enc_byte(&st, hdr[0]);
    enc_byte(&st, hdr[1]);
    for (i = 0u; i < len; ++i) {
        enc_byte(&st, payload[i]);
    }
    enc_byte(&st, (uint8_t)(crc & 0xFFu));
    enc_byte(&st, (uint8_t)(crc >> 8));
    enc_raw(&st, UAOT_FRAME_FLAG);
    if (st.n > 0u) {
        sink(ctx, st.stage, st.n);
    }
}

typedef struct {
    uint8_t *out;
    size_t cap;
    size_t n;
    int overflow;
} buf_sink_t;

static void buf_sink(void *ctx, const uint8_t *data, size_t len)
{
    buf_sink_t *b = (buf_sink_t *)ctx;
    size_t i;
    for (i = 0u; i < len; ++i) {
        if (b->n >= b->cap) {
            b->overflow = 1;
            return;
        }
        b->out[b->n++] = data[i];
    }
}

size_t uaot_frame_encode(const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
    buf_sink_t b;
    if (out == NULL || len > UAOT_FRAME_MAX_PAYLOAD_LIMIT || (payload == NULL && len != 0u)) {
        return 0u;
    }
    b.out = out;
    b.cap = cap;
    b.n = 0u;
    b.overflow = 0;
    uaot_frame_encode_to(payload, len, buf_sink, &b);
    return b.overflow ? 0u : b.n;
}
