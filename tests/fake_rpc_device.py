"""A fake RPC device process for the issue-20 reliability tests (run as a script, stdin/stdout).

    python fake_rpc_device.py MODE [SECONDS] [COUNT_FILE]

MODE: ``slow`` (RUN takes SECONDS per model run, every run appended to COUNT_FILE), ``hung`` (answers
HELLO and INFO, then never answers again), ``flood-zeros`` / ``flood-random`` / ``flood-frames``
(answers nothing and writes its stdout as fast as it can: zero bytes, random bytes, or valid frames
of stale replies), ``stateful`` (a model with 64 bytes of state: HELLO's state_size tail, RESET_STATE
answered and appended to COUNT_FILE as "reset", every RUN appended as "run"; the first RUN's reply is
sent corrupted).
"""

from __future__ import annotations

import os
import random
import struct
import sys
import time

from microaot.rpc import protocol as P
from microaot.rpc.framing import FrameDecoder, encode_frame

NONCE = 0x5EED1234


STATE_SIZE = 64


def hello_body(stateful: bool = False) -> bytes:
    flags = P.FLAG_MODEL_OK | P.FLAG_PROFILE | P.FLAG_OPCHECK | (P.FLAG_STATE if stateful else 0)
    fixed = P.HELLO_FIXED.pack(1, 2, flags, 1, 512, 1, 1, 1, 0, 1, 1, 1, 64, 0)
    tail = struct.pack("<II", 0, STATE_SIZE) if stateful else b""
    return fixed + b"\x04fake\x04slow\x00" + tail


def info_body(kind: int, index: int) -> bytes:
    if kind == 2:
        return struct.pack("<H", index) + b"\x03ADD"
    return P.INFO_TENSOR_FIXED.pack(1, 2, index, 8, 0.5, 0) + struct.pack("<2i", 1, 8) + b"\x01x"


def flood(mode: str) -> None:
    rng = random.Random(1)
    if mode == "flood-zeros":
        block = bytes(65536)
    elif mode == "flood-random":
        block = rng.randbytes(65536)
    else:  # well-formed replies nobody asked for (seq 0)
        one = encode_frame(P.HEADER.pack(P.Cmd.STATS | P.REPLY_BIT, 0, 0, NONCE) + bytes(48))
        block = one * (65536 // len(one))
    while True:
        try:
            os.write(1, block)
        except OSError:
            return


def main() -> None:
    mode = sys.argv[1]
    per_run = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    count_file = sys.argv[3] if len(sys.argv) > 3 else None
    if mode.startswith("flood"):
        flood(mode)
        return
    dec = FrameDecoder()
    hung = False
    runs = 0
    while True:
        data = os.read(0, 4096)
        if not data:
            return
        for ev in dec.feed(data):
            if ev.payload is None or hung:
                continue
            cmd, _f, seq, _n = P.HEADER.unpack_from(ev.payload)
            args = ev.payload[P.HEADER_SIZE:]
            if cmd == P.Cmd.HELLO:
                body = hello_body(mode == "stateful")
            elif cmd == P.Cmd.RESET_STATE and mode == "stateful":
                if count_file:
                    with open(count_file, "a") as f:
                        f.write("reset\n")
                body = struct.pack("<I", STATE_SIZE)
            elif cmd == P.Cmd.RUN and mode == "stateful":
                runs += 1
                if count_file:
                    with open(count_file, "a") as f:
                        f.write("run\n")
                n = int.from_bytes(args[:4], "little")
                body = P.RUN_FIXED.pack(n, 2, 0, 1, 5, 5, 5 * n, 0) + struct.pack("<I", 5)
                frame = bytearray(encode_frame(P.HEADER.pack(cmd | P.REPLY_BIT, 0, seq, NONCE) + body))
                if runs == 1:
                    frame[len(frame) // 2] ^= 0x5A  # a corrupted reply: the host cannot tell whether it ran
                os.write(1, bytes(frame))
                continue
            elif cmd == P.Cmd.INFO:
                body = info_body(args[0], int.from_bytes(args[2:4], "little"))
            elif cmd == P.Cmd.STATS:
                body = bytes(48)
            elif cmd == P.Cmd.RUN and mode == "slow":
                n = int.from_bytes(args[:4], "little")
                for _ in range(n):
                    time.sleep(per_run)
                    if count_file:
                        with open(count_file, "a") as f:
                            f.write("run\n")
                t = int(per_run * 1e6)
                kept = min(n, (512 - P.HEADER_SIZE - P.RUN_FIXED.size) // 4)
                body = P.RUN_FIXED.pack(n, 2, 0, kept, t, t, t * n, 0) + struct.pack(f"<{kept}I", *([t] * kept))
            else:  # hung: from the first RUN on, never a word again
                hung = True
                continue
            os.write(1, encode_frame(P.HEADER.pack(cmd | P.REPLY_BIT, 0, seq, NONCE) + body))


if __name__ == "__main__":
    main()
