"""Issue 7: the host framing (microaot.rpc.framing) against the C framing (crt/src/framing.c) on random
payloads and random wire bytes (hypothesis), through ctypes on a shared library of framing.c + crc16.c
built with microaot.hostbuild.compile_c (ASan/UBSan are not usable in a ctypes-loaded library; the C
side is sanitized by the libFuzzer harness, tests/test_reliability_fuzz.py).

Properties: both encoders give the same bytes; each decodes what the other encodes; on arbitrary
wire bytes (garbage, flags, escapes, pieces of valid frames) both decoders report the same events
(same error kinds, same payloads) for any max payload; the C encoder never writes past its buffer.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import record_figures
from microaot.hostbuild import compile_c
from microaot.paths import crt_root
from microaot.rpc.framing import ESC, FLAG, OVERHEAD, FrameDecoder, crc16, encode_frame

EXAMPLES = 150
COUNTS = {"payloads encoded": 0, "wire streams decoded": 0, "frame events compared": 0}


class CDecoder(ctypes.Structure):
    """uaot_frame_decoder_t (crt/include/microaot/framing.h)."""

    _fields_ = [
        ("buf", ctypes.POINTER(ctypes.c_uint8)),
        ("cap", ctypes.c_size_t),
        ("len", ctypes.c_size_t),
        ("payload_len", ctypes.c_size_t),
        ("escaped", ctypes.c_uint8),
        ("bad_escape", ctypes.c_uint8),
        ("overflow", ctypes.c_uint8),
        ("started", ctypes.c_uint8),
    ]


class CFraming:
    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        lib.uaot_crc16.argtypes = [ctypes.c_uint16, ctypes.c_char_p, ctypes.c_size_t]
        lib.uaot_crc16.restype = ctypes.c_uint16
        lib.uaot_frame_encode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
        lib.uaot_frame_encode.restype = ctypes.c_size_t
        lib.uaot_frame_decoder_init.argtypes = [ctypes.POINTER(CDecoder), ctypes.c_void_p, ctypes.c_size_t]
        lib.uaot_frame_decoder_push.argtypes = [ctypes.POINTER(CDecoder), ctypes.c_uint8]
        lib.uaot_frame_decoder_push.restype = ctypes.c_int

    def crc16(self, data: bytes) -> int:
        return int(self.lib.uaot_crc16(0xFFFF, data, len(data)))

    def encode(self, payload: bytes, cap: int | None = None) -> tuple[bytes, bytes]:
        """(encoded bytes, the 64 canary bytes after cap) from uaot_frame_encode."""
        cap = 2 * (len(payload) + OVERHEAD) + 2 if cap is None else cap
        out = (ctypes.c_uint8 * (cap + 64))(*([0xA5] * (cap + 64)))
        n = self.lib.uaot_frame_encode(payload, len(payload), out, cap)
        raw = bytes(out)
        return raw[:n], raw[cap:]

    def decode(self, wire: bytes, max_payload: int) -> list[tuple[str, bytes | None]]:
        cap = max_payload + OVERHEAD
        buf = (ctypes.c_uint8 * cap)()
        dec = CDecoder()
        self.lib.uaot_frame_decoder_init(ctypes.byref(dec), buf, cap)
        names = {1: "OK", 2: "CRC", 3: "LENGTH", 4: "ESCAPE", 5: "TOO_LARGE"}
        out: list[tuple[str, bytes | None]] = []
        for b in wire:
            ev = self.lib.uaot_frame_decoder_push(ctypes.byref(dec), b)
            if ev == 0:
                continue
            payload = bytes(buf[2:2 + dec.payload_len]) if ev == 1 else None
            out.append((names.get(ev, f"event{ev}"), payload))
        return out


def py_decode(wire: bytes, max_payload: int) -> list[tuple[str, bytes | None]]:
    return [("OK", e.payload) if e.payload is not None else (e.error.name if e.error else "?", None)
            for e in FrameDecoder(max_payload).feed(wire)]


@pytest.fixture(scope="module")
def cf(tmp_path_factory: pytest.TempPathFactory) -> CFraming:
    d = tmp_path_factory.mktemp("cframing")
    lib = compile_c([crt_root() / "src" / "framing.c", crt_root() / "src" / "crc16.c"], d / "libuaot_framing.so")
    return CFraming(ctypes.CDLL(str(Path(lib).resolve())))


payloads = st.one_of(
    st.binary(max_size=700),
    # payloads made of the special bytes (every byte escaped)
    st.lists(st.sampled_from([FLAG, ESC, 0x5E, 0x5D, 0x00, 0xFF]), max_size=300).map(bytes),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=payloads)
def test_encoders_agree_and_decode_each_other(cf: CFraming, payload: bytes) -> None:
    py = encode_frame(payload)
    c, canary = cf.encode(payload)
    assert c == py
    assert canary == b"\xa5" * 64
    assert cf.crc16(payload) == crc16(payload)
    mp = max(len(payload), 1)
    assert cf.decode(py, mp) == [("OK", payload)]
    assert py_decode(c, mp) == [("OK", payload)]
    # one byte too small a decoder: both say TOO_LARGE
    if payload:
        assert cf.decode(py, len(payload) - 1) == py_decode(py, len(payload) - 1) == [("TOO_LARGE", None)]
    COUNTS["payloads encoded"] += 1


@settings(max_examples=EXAMPLES // 3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=300), cap=st.integers(0, 700))
def test_c_encoder_never_writes_past_cap(cf: CFraming, payload: bytes, cap: int) -> None:
    full = encode_frame(payload)
    out, canary = cf.encode(payload, cap)
    assert canary == b"\xa5" * 64
    assert out == (full if cap >= len(full) else b"")


# wire streams: garbage, flags, escapes, valid frames, and valid frames with a byte dropped,
# duplicated or flipped
@st.composite
def mangled_frames(draw: st.DrawFn) -> bytes:
    data = draw(st.data())
    p = data.draw(st.binary(max_size=80))
    f = bytearray(encode_frame(p))
    how = data.draw(st.sampled_from(["keep", "drop", "dup", "flip", "cut"]))
    if how != "keep" and f:
        i = data.draw(st.integers(0, len(f) - 1))
        if how == "drop":
            del f[i]
        elif how == "dup":
            f.insert(i, f[i])
        elif how == "flip":
            f[i] ^= data.draw(st.integers(1, 255))
        else:
            del f[i:]
    return bytes(f)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), max_payload=st.integers(0, 120))
def test_decoders_agree_on_arbitrary_wire_bytes(cf: CFraming, data: st.DataObject, max_payload: int) -> None:
    pieces = data.draw(st.lists(st.one_of(
        st.binary(max_size=40),
        st.lists(st.sampled_from([FLAG, ESC, 0x5E, 0x5D, 0x00, 0x01]), max_size=12).map(bytes),
        mangled_frames(),
    ), max_size=8))
    wire = b"".join(pieces)
    c = cf.decode(wire, max_payload)
    assert c == py_decode(wire, max_payload)
    COUNTS["wire streams decoded"] += 1
    COUNTS["frame events compared"] += len(c)


def test_zz_framing_figures() -> None:
    record_figures("framing C vs Python (hypothesis)", dict(COUNTS))
