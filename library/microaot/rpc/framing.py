"""The RPC wire format on the host side: escape-delimited frames with length and CRC-16.

Same format as crt/src/framing.c (docs/protocol.md, "Framing"):
``0x7E escape(len:u16le payload crc:u16le) 0x7E``; 0x7E/0x7D inside a frame become 0x7D, byte^0x20;
CRC-16/CCITT-FALSE over the length bytes and the payload.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

FLAG = 0x7E
ESC = 0x7D
ESC_XOR = 0x20
OVERHEAD = 4
MAX_PAYLOAD_LIMIT = 0xFFFF


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF); crc16(b"123456789") == 0x29B1."""
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _escape(body: bytes) -> bytes:
    return body.replace(bytes([ESC]), bytes([ESC, ESC ^ ESC_XOR])).replace(
        bytes([FLAG]), bytes([ESC, FLAG ^ ESC_XOR])
    )


def encode_frame(payload: bytes) -> bytes:
    """The wire bytes of one frame carrying payload."""
    if len(payload) > MAX_PAYLOAD_LIMIT:
        raise ValueError(f"frame payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_LIMIT}")
    body = len(payload).to_bytes(2, "little") + bytes(payload)
    body += crc16(body).to_bytes(2, "little")
    return bytes([FLAG]) + _escape(body) + bytes([FLAG])


class FrameError(enum.IntEnum):
    """Why a frame was dropped (same order as uaot_frame_event_t minus NONE/OK)."""

    CRC = 2
    LENGTH = 3
    ESCAPE = 4
    TOO_LARGE = 5


@dataclass(frozen=True)
class FrameEvent:
    """One frame end: payload when valid, else error."""

    payload: bytes | None = None
    error: FrameError | None = None


class FrameDecoder:
    """Incremental decoder with the same semantics as the C decoder (uaot_frame_decoder_push)."""

    def __init__(self, max_payload: int = MAX_PAYLOAD_LIMIT) -> None:
        self.max_payload = min(max_payload, MAX_PAYLOAD_LIMIT)
        self._clear()

    def _clear(self) -> None:
        self._buf = bytearray()
        self._escaped = False
        self._bad_escape = False
        self._overflow = False
        self._started = False

    def _finish(self) -> FrameEvent:
        if self._overflow:
            return FrameEvent(error=FrameError.TOO_LARGE)
        if self._bad_escape or self._escaped:
            return FrameEvent(error=FrameError.ESCAPE)
        buf = self._buf
        if len(buf) < OVERHEAD:
            return FrameEvent(error=FrameError.LENGTH)
        declared = buf[0] | (buf[1] << 8)
        if declared > self.max_payload:
            return FrameEvent(error=FrameError.TOO_LARGE)
        if declared + OVERHEAD != len(buf):
            return FrameEvent(error=FrameError.LENGTH)
        if crc16(bytes(buf[:-2])) != (buf[-2] | (buf[-1] << 8)):
            return FrameEvent(error=FrameError.CRC)
        return FrameEvent(payload=bytes(buf[2:-2]))

    def push(self, byte: int) -> FrameEvent | None:
        if byte == FLAG:
            if not self._started:
                self._clear()
                return None
            ev = self._finish()
            self._clear()
            return ev
        self._started = True
        if self._overflow:
            return None
        if self._escaped:
            self._escaped = False
            byte ^= ESC_XOR
            if byte not in (FLAG, ESC):
                self._bad_escape = True
        elif byte == ESC:
            self._escaped = True
            return None
        if len(self._buf) >= self.max_payload + OVERHEAD:
            self._overflow = True
            return None
        self._buf.append(byte)
        if len(self._buf) == 2 and (self._buf[0] | (self._buf[1] << 8)) > self.max_payload:
            self._overflow = True
        return None

    def feed(self, data: bytes) -> list[FrameEvent]:
        out: list[FrameEvent] = []
        for b in data:
            ev = self.push(b)
            if ev is not None:
                out.append(ev)
        return out
