/* microaot runtime: the RPC wire format (see docs/protocol.md, "Framing").
 *
 * A frame on the wire is
 *     FLAG  escape( len_lo len_hi  payload[len]  crc_lo crc_hi )  FLAG
 * FLAG = 0x7E. Inside a frame, 0x7E and 0x7D are sent as 0x7D followed by (byte ^ 0x20).
 * len is the payload length (u16 little endian); crc is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF,
 * no reflection, no final xor) over the two length bytes and the payload, little endian.
 * Bytes between frames are garbage: the decoder resynchronises on the next FLAG. Back-to-back
 * FLAGs (empty frames) are ignored. Nothing here allocates; the decoder works in a caller buffer. */
#ifndef MICROAOT_FRAMING_H
#define MICROAOT_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UAOT_FRAME_FLAG 0x7Eu
#define UAOT_FRAME_ESC 0x7Du
#define UAOT_FRAME_ESC_XOR 0x20u
/* Bytes of a frame body around the payload: the u16 length and the u16 CRC. */
#define UAOT_FRAME_OVERHEAD 4u
/* Largest payload the length field can express. */
#define UAOT_FRAME_MAX_PAYLOAD_LIMIT 65535u
/* Worst-case encoded size of a payload of n bytes (every body byte escaped, two flags). */
#define UAOT_FRAME_ENCODED_MAX(n) (2u + 2u * ((n) + UAOT_FRAME_OVERHEAD))

#define UAOT_CRC16_INIT 0xFFFFu

/* CRC-16/CCITT-FALSE, incremental: crc = uaot_crc16(UAOT_CRC16_INIT, data, len). */
uint16_t uaot_crc16(uint16_t crc, const uint8_t *data, size_t len);

/* What one received byte completed. Values are part of the wire contract only through the RPC
 * error codes they map to (docs/protocol.md). */
typedef enum {
    UAOT_FRAME_NONE = 0,         /* byte consumed; no frame ended */
    UAOT_FRAME_OK = 1,           /* a valid frame ended: uaot_frame_payload() / payload_len */
    UAOT_FRAME_ERR_CRC = 2,      /* length consistent, CRC wrong */
    UAOT_FRAME_ERR_LENGTH = 3,   /* fewer than 4 body bytes, or length field != bytes received */
    UAOT_FRAME_ERR_ESCAPE = 4,   /* 0x7D followed by a byte other than 0x5E / 0x5D (or by FLAG) */
    UAOT_FRAME_ERR_TOO_LARGE = 5 /* length field or body larger than the decoder's buffer */
} uaot_frame_event_t;

/* Receive state. Treat fields as private. buf holds the unescaped body (length + payload + CRC). */
typedef struct {
    uint8_t *buf;
    size_t cap;         /* bytes of buf: max payload + UAOT_FRAME_OVERHEAD */
    size_t len;         /* body bytes stored so far */
    size_t payload_len; /* valid after UAOT_FRAME_OK */
    uint8_t escaped;    /* previous byte was ESC */
    uint8_t bad_escape; /* an invalid escape was seen in this frame */
    uint8_t overflow;   /* this frame is larger than the buffer: discard until FLAG */
    uint8_t started;    /* at least one non-FLAG byte since the last FLAG */
} uaot_frame_decoder_t;

/* cap must be >= UAOT_FRAME_OVERHEAD; max payload accepted = cap - UAOT_FRAME_OVERHEAD. */
void uaot_frame_decoder_init(uaot_frame_decoder_t *dec, uint8_t *buf, size_t cap);
/* Feed one received byte. Never writes outside dec->buf. */
uaot_frame_event_t uaot_frame_decoder_push(uaot_frame_decoder_t *dec, uint8_t byte);
/* The payload of the last UAOT_FRAME_OK frame (valid until the next push). */
const uint8_t *uaot_frame_payload(const uaot_frame_decoder_t *dec);

/* Streaming encoder: emits the encoded frame in pieces through sink (small stack staging buffer). */
typedef void (*uaot_frame_sink_t)(void *ctx, const uint8_t *data, size_t len);
void uaot_frame_encode_to(const uint8_t *payload, size_t len, uaot_frame_sink_t sink, void *ctx);
/* Encode into out (capacity cap). Returns the encoded size, or 0 when cap is too small or len is
 * larger than UAOT_FRAME_MAX_PAYLOAD_LIMIT (nothing beyond out[cap-1] is ever written). */
size_t uaot_frame_encode(const uint8_t *payload, size_t len, uint8_t *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
