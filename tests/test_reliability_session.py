"""Issue 7: the host Session against a hostile or broken device (hypothesis).

A fake device answers every request with a well-framed reply (right CRC, seq, command and nonce)
whose body is random, truncated or inconsistent (wrong firmware version, memory corruption on the
device). Whatever it sends, the Session's typed methods must return or raise a
microaot.errors.RpcError naming the command; never an IndexError / struct.error from inside the
parser, never a hang.
"""

from __future__ import annotations

import os
import struct
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import record_figures
from microaot.errors import RpcError
from microaot.rpc import protocol as P
from microaot.rpc.framing import FrameDecoder, encode_frame
from microaot.rpc.session import Session

NONCE = 0x1234ABCD
COUNTS: Counter[str] = Counter()


def good_hello_body(n_in: int = 1, n_out: int = 1, n_ops: int = 1) -> bytes:
    fixed = P.HELLO_FIXED.pack(1, 3, P.FLAG_MODEL_OK | P.FLAG_PROFILE, 1, 512, n_in, n_out, n_ops, 0, 1, 1, 1, 64, 0)
    return fixed + b"\x04host\x04fake\x00"


def good_info_body(kind: int, index: int) -> bytes:
    if kind == 2:
        return struct.pack("<H", index) + b"\x03ADD"
    return P.INFO_TENSOR_FIXED.pack(1, 2, index, 8, 0.5, 0) + struct.pack("<2i", 1, 8) + b"\x01x"


class HostileDevice:
    """A Transport whose device answers with replies built by ``body(cmd, args)``."""

    def __init__(self, body: st.DataObject, mode: str) -> None:
        self.data = body
        self.mode = mode
        self.dec = FrameDecoder()
        self.out = bytearray()
        self.requests = 0

    def _body(self, cmd: int, args: bytes) -> tuple[int, bytes]:
        d = self.data
        if self.mode == "random":
            status = d.draw(st.sampled_from([0, 0, 0, 1, 6, 9, 12, 14, 99]), label="status")
            return status, d.draw(st.binary(max_size=80), label="body")
        # "mangled": a correct body for the command, then truncated / extended / one field bent
        if cmd == P.Cmd.HELLO:
            good = good_hello_body(*d.draw(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
                                           label="counts"))
        elif cmd == P.Cmd.INFO:
            good = good_info_body(args[0], int.from_bytes(args[2:4], "little"))
        elif cmd == P.Cmd.RUN:
            n = int.from_bytes(args[:4], "little")
            good = P.RUN_FIXED.pack(n, 3, 0, n, 5, 9, 7 * n, 0) + struct.pack(f"<{n}I", *([7] * n))
        elif cmd == P.Cmd.PROFILE:
            good = P.PROFILE_FIXED.pack(1, 0, 1, 3, 0, 1, 0, 10) + struct.pack("<Q", 8)
        elif cmd == P.Cmd.STATS:
            good = P.STATS_FIXED.pack(*range(12))
        elif cmd == P.Cmd.READ_OUTPUT:
            good = bytes(int.from_bytes(args[8:12], "little"))
        else:
            good = b"\x00\x00\x00\x00"
        how = d.draw(st.sampled_from(["keep", "cut", "extend", "bend"]), label="how")
        b = bytearray(good)
        if how == "cut" and b:
            del b[d.draw(st.integers(0, len(b) - 1), label="cut at"):]
        elif how == "extend":
            b += d.draw(st.binary(min_size=1, max_size=16), label="tail")
        elif how == "bend" and b:
            i = d.draw(st.integers(0, len(b) - 1), label="byte")
            b[i] = d.draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]), label="value")
        return 0, bytes(b)

    def write(self, data: bytes) -> None:
        for ev in self.dec.feed(data):
            assert ev.payload is not None
            cmd, _f, seq, _nonce = P.HEADER.unpack_from(ev.payload)
            self.requests += 1
            status, body = self._body(cmd, ev.payload[P.HEADER_SIZE:])
            self.out += encode_frame(P.HEADER.pack(cmd | P.REPLY_BIT, status, seq, NONCE) + body)

    def read(self, timeout: float) -> bytes:
        data, self.out = bytes(self.out), bytearray()
        return data

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "hostile device"


def exercise(s: Session) -> None:
    """Every typed command; each may fail only with an RpcError."""
    calls = [s.hello, lambda: s.run(2), s.profile, s.stats, lambda: s.read_output(0), s.reset]
    for call in calls:
        try:
            call()
            COUNTS["returned"] += 1
        except RpcError:
            COUNTS["RpcError"] += 1
        # anything else propagates and fails the test with the device's replies as the example


@settings(max_examples=int(os.environ.get("MICROAOT_HOSTILE_EXAMPLES", "250")), deadline=None)
@given(data=st.data(), mode=st.sampled_from(["random", "mangled"]))
def test_session_survives_hostile_replies(data: st.DataObject, mode: str) -> None:
    dev = HostileDevice(data, mode)
    s = Session(dev, timeout=0.5, retries=0)
    exercise(s)
    COUNTS["replies"] += dev.requests
    COUNTS["examples"] += 1


def test_zz_session_figures() -> None:
    record_figures("Session vs hostile device replies (hypothesis)", dict(COUNTS))
