"""Write the seed corpus of tests/fuzz/rpc_fuzz.c into tests/fuzz/corpus/ (checked in).

    .venv/bin/python tests/fuzz/make_corpus.py

Seeds: every frame of tests/golden/rpc_frames.json (encode and decode cases) as a RAW record, one
valid request of every command (and every INFO kind) as a REQUEST record, and whole sessions
(HELLO, write both inputs in chunks, RUN, read both outputs, PROFILE, STATS, OPCHECK, RESET, RESET_STATE).
The record format is described at the top of rpc_fuzz.c. Deterministic: re-running rewrites the same files.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "library"))

from microaot.rpc import protocol as P  # noqa: E402

GOLDEN = HERE.parent / "golden" / "rpc_frames.json"
CORPUS = HERE / "corpus"
RAW, REQUEST, STALE = 0, 1, 2


def record(op: int, data: bytes) -> bytes:
    return struct.pack("<BH", op, len(data)) + data


def req(cmd: int, args: bytes = b"", seq: int = 1) -> bytes:
    return P.HEADER.pack(cmd, 0, seq, 0) + args


def request_seeds() -> dict[str, bytes]:
    C = P.Cmd
    x = bytes((i * 7) & 0xFF for i in range(1000))
    f = struct.pack("<3f", 1.5, -2.0, 1000.0)
    seeds = {
        "hello": req(C.HELLO, bytes([1, 1])),
        "info_input": req(C.INFO, P.INFO_ARGS.pack(0, 0, 1)),
        "info_output": req(C.INFO, P.INFO_ARGS.pack(1, 0, 0)),
        "info_op": req(C.INFO, P.INFO_ARGS.pack(2, 0, 1)),
        "write_input": req(C.WRITE_INPUT, P.WRITE_INPUT_ARGS.pack(0, 0, 496) + x[:504 - 8]),
        "write_input_float": req(C.WRITE_INPUT, P.WRITE_INPUT_ARGS.pack(1, 0, 0) + f),
        "read_output": req(C.READ_OUTPUT, P.READ_OUTPUT_ARGS.pack(0, 0, 500, 500)),
        "run": req(C.RUN, P.RUN_ARGS.pack(3)),
        "profile": req(C.PROFILE, P.PROFILE_ARGS.pack(2, 0, 0)),
        "profile_page": req(C.PROFILE, P.PROFILE_ARGS.pack(0, 1, 0)),
        "opcheck": req(C.OPCHECK, P.OPCHECK_ARGS.pack(1, 0, 0)),
        "opcheck_page": req(C.OPCHECK, P.OPCHECK_ARGS.pack(0, 0, 1)),
        "stats": req(C.STATS),
        "reset": req(C.RESET),
        "reset_state": req(C.RESET_STATE),
    }
    return {k: record(REQUEST, v) for k, v in seeds.items()}


def session_seed() -> bytes:
    C = P.Cmd
    x = bytes((i * 13 + 5) & 0xFF for i in range(1000))
    out = [record(REQUEST, req(C.HELLO, bytes([1, 1]), 1))]
    seq = 2
    for off in range(0, 1000, 400):
        out.append(record(REQUEST, req(C.WRITE_INPUT, P.WRITE_INPUT_ARGS.pack(0, 0, off) + x[off:off + 400], seq)))
        seq += 1
    out.append(record(REQUEST | (5 << 2), req(C.WRITE_INPUT, P.WRITE_INPUT_ARGS.pack(1, 0, 0)
                                               + struct.pack("<3f", 0.25, -8.0, 3.0e7), seq)))
    out.append(record(REQUEST, req(C.RUN, P.RUN_ARGS.pack(2), seq + 1)))
    out.append(record(REQUEST, req(C.READ_OUTPUT, P.READ_OUTPUT_ARGS.pack(0, 0, 0, 504), seq + 2)))
    out.append(record(REQUEST, req(C.READ_OUTPUT, P.READ_OUTPUT_ARGS.pack(1, 0, 4, 8), seq + 3)))
    out.append(record(REQUEST, req(C.PROFILE, P.PROFILE_ARGS.pack(1, 0, 0), seq + 4)))
    out.append(record(STALE, req(C.STATS, b"", seq + 5)))
    out.append(record(REQUEST, req(C.STATS, b"", seq + 6)))
    out.append(record(REQUEST, req(C.OPCHECK, P.OPCHECK_ARGS.pack(1, 0, 0), seq + 7)))
    out.append(record(REQUEST, req(C.RESET, b"", seq + 8)))
    out.append(record(REQUEST, req(C.RESET_STATE, b"", seq + 9)))
    return b"".join(out)


def golden_seeds() -> dict[str, bytes]:
    g = json.loads(GOLDEN.read_text())
    seeds = {f"golden_encode_{c['name']}": record(RAW, bytes.fromhex(c["frame"])) for c in g["encode"]}
    seeds.update({f"golden_decode_{c['name']}": record(RAW, bytes.fromhex(c["wire"])) for c in g["decode"]})
    return seeds


def all_seeds() -> dict[str, bytes]:
    return {**golden_seeds(), **request_seeds(), "session": session_seed()}


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for name, data in all_seeds().items():
        (CORPUS / name).write_bytes(data)
    print(f"{len(all_seeds())} seeds in {CORPUS}")


if __name__ == "__main__":
    main()
