"""RPC protocol constants and message layouts (docs/protocol.md); mirrors crt/include/microaot/rpc.h."""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence

PROTOCOL_VERSION = 1
PROTOCOL_MIN_VERSION = 1
HEADER = struct.Struct("<BBHI")  # cmd, flags|status, seq, nonce
HEADER_SIZE = HEADER.size  # 8
REPLY_BIT = 0x80
CMD_FRAME_ERROR = 0x7F  # replies to undecodable frames carry cmd 0xFF, seq 0
U32_UNKNOWN = 0xFFFFFFFF


class Cmd(enum.IntEnum):
    HELLO = 0x01
    INFO = 0x02
    WRITE_INPUT = 0x03
    READ_OUTPUT = 0x04
    RUN = 0x05
    PROFILE = 0x06
    STATS = 0x07
    RESET = 0x08
    OPCHECK = 0x09


class Status(enum.IntEnum):
    OK = 0
    ERR_FRAME_CRC = 1
    ERR_FRAME_LENGTH = 2
    ERR_FRAME_ESCAPE = 3
    ERR_FRAME_TOO_LARGE = 4
    ERR_UNKNOWN_COMMAND = 5
    ERR_BAD_REQUEST = 6
    ERR_VERSION = 7
    ERR_SESSION = 8
    ERR_INDEX = 9
    ERR_RANGE = 10
    ERR_ARG = 11
    ERR_MODEL = 12
    ERR_UNSUPPORTED = 13
    ERR_INTERNAL = 14


FRAME_ERRORS = frozenset(
    {Status.ERR_FRAME_CRC, Status.ERR_FRAME_LENGTH, Status.ERR_FRAME_ESCAPE, Status.ERR_FRAME_TOO_LARGE}
)

# What each status means and what to do about it (used in RpcCommandError messages).
STATUS_HELP: dict[int, str] = {
    Status.ERR_FRAME_CRC: "a frame arrived with a wrong CRC (noise on the link); the request is sent again",
    Status.ERR_FRAME_LENGTH: "a frame was truncated (its length field disagrees with the bytes received)",
    Status.ERR_FRAME_ESCAPE: "a frame contained an invalid escape sequence",
    Status.ERR_FRAME_TOO_LARGE: "a frame was larger than the device's max payload (detail); send smaller chunks",
    Status.ERR_UNKNOWN_COMMAND: "the firmware does not know this command; host and firmware versions differ, rebuild "
                                "the firmware",
    Status.ERR_BAD_REQUEST: "the request's arguments have the wrong length (detail = expected bytes); host and "
                            "firmware disagree on the protocol",
    Status.ERR_VERSION: "no common protocol version (detail = device min | max << 8); rebuild the firmware with this "
                        "microaot",
    Status.ERR_SESSION: "the request's nonce is not this boot's: the device was reset; call hello() and write the "
                        "inputs again",
    Status.ERR_INDEX: "tensor or operator index out of range (detail = how many there are)",
    Status.ERR_RANGE: "offset/length outside the tensor (detail = tensor bytes)",
    Status.ERR_ARG: "bad argument value (detail = the limit)",
    Status.ERR_MODEL: "the model's run function returned an error (detail = uaot_status_t); check the model build and "
                      "the glue",
    Status.ERR_UNSUPPORTED: "not available in this firmware build (detail = the build limit); raise the UAOT_RPC_* "
                            "macro",
    Status.ERR_INTERNAL: "internal error in the RPC server; please report it with the traffic log (MICROAOT_RPC_LOG)",
}

# HELLO flags
FLAG_STACK = 0x01
FLAG_PROFILE = 0x02
FLAG_MODEL_OK = 0x04
FLAG_STATIC_RAM = 0x08
FLAG_OPCHECK = 0x10

# HELLO reply body after the header (then 3 strings: board, model name, model hash)
HELLO_FIXED = struct.Struct("<BBBBHHHHBBBBII")
# INFO tensor reply body (then rank x int32 dims, then the name string)
INFO_TENSOR_FIXED = struct.Struct("<BBHIfi")
INFO_OP_FIXED = struct.Struct("<H")
WRITE_INPUT_ARGS = struct.Struct("<HHI")  # index, reserved, offset (then data)
READ_OUTPUT_ARGS = struct.Struct("<HHII")  # index, reserved, offset, length
RUN_ARGS = struct.Struct("<I")
RUN_FIXED = struct.Struct("<IBBHQQQI")  # n, unit, rsvd, kept, min, max, sum, rsvd (then kept x u32)
PROFILE_ARGS = struct.Struct("<IHH")  # runs, first op, reserved
PROFILE_FIXED = struct.Struct("<HHHBBIIQ")  # num_ops, first, count, unit, rsvd, runs, rsvd, total
STATS_FIXED = struct.Struct("<12I")
OPCHECK_ARGS = struct.Struct("<BBH")  # run (0: only read the table), reserved, first op
OPCHECK_FIXED = struct.Struct("<HHHH")  # num_ops, first, count, reserved (then count x u32)
INFO_ARGS = struct.Struct("<BBH")  # kind (0 input, 1 output, 2 op), reserved, index

DTYPES: dict[int, str] = {1: "int8", 2: "uint8", 3: "int16", 4: "int32", 5: "float32", 6: "bool", 7: "int64",
                          8: "uint16", 9: "uint32", 10: "uint64"}
TIME_UNITS: dict[int, str] = {1: "cycles", 2: "us", 3: "ns", 4: "instructions"}
# seconds per unit for the units that are time
UNIT_SECONDS: dict[str, float] = {"us": 1e-6, "ns": 1e-9}


def fnv1a32(data: bytes, h: int = 0x811C9DC5) -> int:
    """FNV-1a 32 as OPCHECK computes it (continue a hash with ``h``): the hash of a tensor's bytes."""
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def differing_ops(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """Operators whose OPCHECK hashes differ between two runs of one model (same number of operators)."""
    return [k for k, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


def status_name(code: int) -> str:
    try:
        return Status(code).name
    except ValueError:
        return f"status {code}"


def cmd_name(cmd: int) -> str:
    cmd &= 0x7F
    if cmd == CMD_FRAME_ERROR:
        return "FRAME"
    try:
        return Cmd(cmd).name
    except ValueError:
        return f"command 0x{cmd:02x}"
