"""The host side of the RPC protocol: a Session with typed methods over any Transport.

    with Session.open("subprocess:./kws_hostboard") as s:
        info = s.hello()
        s.write_input(0, x)            # numpy array of the input's dtype and size
        timing = s.run(10)             # on-device time per run, in info.timer_unit
        y = s.read_output(0)
        prof = s.profile()             # one entry per operator
        st = s.stats()

Reliability: every request carries a sequence number and the device's session nonce. Replies with
another sequence number are dropped; a frame the device could not decode (it answers with an
unsolicited FRAME error) or a reply that arrives corrupted makes the Session send the request
again (all commands are idempotent), up to ``retries`` times; a reply with another nonce, or
ERR_SESSION, raises DeviceResetError (the device rebooted and lost its inputs), never a silent
wrong result.
"""

from __future__ import annotations

import collections
import functools
import logging
import os
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from microaot.errors import RpcError
from microaot.rpc import protocol as P
from microaot.rpc.framing import MAX_PAYLOAD_LIMIT, FrameDecoder, FrameEvent, encode_frame
from microaot.rpc.transport import LoggingTransport, RpcLinkError, Transport, open_transport

_T = TypeVar("_T")

__all__ = [
    "DeviceInfo", "DeviceResetError", "DeviceStats", "OpProfile", "Profile", "Reply", "RpcCommandError",
    "RpcLinkError", "RpcProtocolError", "RpcTimeoutError", "RunTiming", "Session", "TensorInfo",
]


class RpcCommandError(RpcError):
    """The device answered a request with an error status."""

    def __init__(self, message: str, *, cmd: int, status: int, detail: int) -> None:
        super().__init__(message)
        self.cmd = cmd
        self.status = status
        self.detail = detail

    @property
    def status_name(self) -> str:
        return P.status_name(self.status)


class RpcTimeoutError(RpcError):
    """No valid reply within the timeout, after all retries."""


class RpcProtocolError(RpcError):
    """A reply that breaks the protocol: malformed, inconsistent with the request or with HELLO, or
    outside the protocol's limits (firmware of another version, a corrupted or hostile device)."""


# What one attempt of a request may receive without its reply before the Session gives up on the
# link: far more than any legitimate traffic (a few stale replies of earlier attempts; NOISE_FRAMES
# maximal escaped frames) but reached within a fraction of a second by a device that floods its
# output, instead of decoding the flood until the timeout (and again for every retry).
NOISE_FRAMES = 8
NOISE_EVENTS = 512  # frames (stale, corrupted, FRAME notices)
# The commands that run the model: resending one that may still be executing would run it again
# (and a hung device would be waited for once per attempt).
_EXECUTING = frozenset({P.Cmd.RUN, P.Cmd.PROFILE, P.Cmd.OPCHECK})


class DeviceResetError(RpcError):
    """The device's session nonce changed: it rebooted and lost its inputs; call hello() again."""


@dataclass(frozen=True)
class Reply:
    cmd: int
    status: int
    seq: int
    nonce: int
    data: bytes

    @property
    def ok(self) -> bool:
        return self.status == P.Status.OK

    @property
    def detail(self) -> int:
        return int.from_bytes(self.data[:4], "little") if len(self.data) >= 4 else 0

    @classmethod
    def parse(cls, payload: bytes) -> Reply | None:
        if len(payload) < P.HEADER_SIZE:
            return None
        cmd, status, seq, nonce = P.HEADER.unpack_from(payload)
        return cls(cmd, status, seq, nonce, bytes(payload[P.HEADER_SIZE:]))


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    dtype: str  # numpy dtype name: int8, uint8, int16, int32, float32
    shape: tuple[int, ...]
    nbytes: int
    scale: float
    zero_point: int

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype).newbyteorder("<")


@dataclass(frozen=True)
class DeviceInfo:
    protocol_version: int
    board: str
    model_name: str
    model_hash: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    op_names: tuple[str, ...]
    max_payload: int
    workspace_size: int
    weight_bytes: int
    timer_unit: str
    flags: int
    abi_version: int
    runtime_version: str
    nonce: int
    clock_hz: int = 0  # the CPU clock the firmware reports (HELLO's optional tail), 0 = unknown
    # bytes of the model's persistent state (HELLO's optional tail after clock_hz; 0 = a stateless model or
    # firmware older than RESET_STATE): the outputs of a run then depend on the runs before it
    state_size: int = 0

    @property
    def stateful(self) -> bool:
        return self.state_size > 0

    @property
    def has_stack(self) -> bool:
        return bool(self.flags & P.FLAG_STACK)

    @property
    def has_profile(self) -> bool:
        return bool(self.flags & P.FLAG_PROFILE)

    @property
    def has_opcheck(self) -> bool:
        return bool(self.flags & P.FLAG_OPCHECK)

    @property
    def model_ok(self) -> bool:
        return bool(self.flags & P.FLAG_MODEL_OK)


def _to_seconds(value: float, unit: str) -> float | None:
    s = P.UNIT_SECONDS.get(unit)
    return None if s is None else value * s


@dataclass(frozen=True)
class RunTiming:
    """On-device time of RUN n: min/max/total over all n runs, per_run for the first len(per_run)."""

    n: int
    unit: str  # ns, us, cycles, instructions
    min: int
    max: int
    total: int
    per_run: tuple[int, ...]

    @property
    def mean(self) -> float:
        return self.total / self.n

    def seconds(self, value: float) -> float | None:
        """value (in self.unit) in seconds, or None when the unit is not a time (cycles)."""
        return _to_seconds(value, self.unit)


@dataclass(frozen=True)
class OpProfile:
    index: int
    name: str
    total: int  # summed over the profile's runs, in the profile's unit
    per_run: float


@dataclass(frozen=True)
class Profile:
    """Per-operator time; total is the whole run (so total - sum(ops) is the glue + hook overhead)."""

    runs: int
    unit: str
    total: int
    ops: tuple[OpProfile, ...]

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[OpProfile]:
        return iter(self.ops)

    def __getitem__(self, i: int) -> OpProfile:
        return self.ops[i]


# The smallest max payload a device may announce (crt/include/microaot/rpc.h: 128..65535).
MIN_MAX_PAYLOAD = 128
MAX_RANK = 16


def _string(d: bytes, pos: int, cmd: str, what: str) -> tuple[str, int]:
    """A length-prefixed string at d[pos:] and the position after it; RpcProtocolError if cut."""
    if pos >= len(d) or pos + 1 + d[pos] > len(d):
        raise RpcProtocolError(f"{cmd}: reply of {len(d)} bytes ends inside the {what} string")
    n = d[pos]
    return d[pos + 1:pos + 1 + n].decode(errors="replace"), pos + 1 + n


def _opt(v: int) -> int | None:
    return None if v == P.U32_UNKNOWN else v


@dataclass(frozen=True)
class DeviceStats:
    workspace_size: int  # the model's planned workspace (bytes)
    workspace_buffer: int  # the glue's workspace buffer (bytes)
    io_bytes: int  # input + output buffers of the glue
    rpc_bytes: int  # the RPC server's static buffers
    stack_size: int | None  # None: the port does not know its stack bounds
    stack_high_water: int | None  # peak stack use since boot/RESET (stack painting)
    model_stack: int | None  # stack used below the RUN handler at the last RUN/PROFILE
    static_ram: int | None  # .data + .bss of the image, when the port knows it
    frames_ok: int
    frames_bad: int
    requests_failed: int
    runs_total: int


def _parses_reply(cmd: str) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """A reply body too short or inconsistent for its command (firmware of another version, a
    corrupted device) raises RpcError naming the command, not struct.error/IndexError."""

    def deco(fn: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(fn)
        def wrapper(self: Session, *args: Any, **kw: Any) -> _T:
            try:
                return fn(self, *args, **kw)
            except (struct.error, IndexError) as e:
                raise RpcProtocolError(
                    f"{cmd}: malformed reply from {self.name} ({e}); host and firmware protocol versions "
                    "differ or the device is corrupted: rebuild and reflash the firmware "
                    "(MICROAOT_RPC_LOG=file dumps the traffic)"
                ) from None

        return wrapper

    return deco


class Session:
    """One RPC conversation with a device. Not thread safe; one request at a time."""

    def __init__(self, transport: Transport, *, timeout: float = 5.0, retries: int = 2,
                 resend_after: float = 0.5, log: logging.Logger | str | Path | None = None,
                 name: str | None = None) -> None:
        if log is None and os.environ.get("MICROAOT_RPC_LOG"):
            log = os.environ["MICROAOT_RPC_LOG"]
        self.transport: Transport = LoggingTransport(transport, log) if log is not None else transport
        self.timeout = timeout
        self.retries = retries
        self.resend_after = resend_after
        self.name = name or transport.describe()
        self._decoder = FrameDecoder()
        self._pending: collections.deque[FrameEvent] = collections.deque()
        self._seq = 0
        self._nonce: int | None = None
        self._run_estimate = 1.0  # seconds per run, refined by every RUN
        self._run_measured = False  # _run_estimate is a guess until a RUN measured it
        self.info: DeviceInfo | None = None
        # counters (issue 7's fault tests read them)
        self.device_frame_errors = 0  # FRAME error notices received from the device
        self.host_frame_errors = 0  # corrupted frames received by the host
        self.stale_replies = 0
        self.resends = 0

    # ------------------------------------------------------------------ construction
    @classmethod
    def open(cls, url: str, *, baudrate: int = 115200, **kw: object) -> Session:
        """Session over open_transport(url) (``subprocess:...``, ``socket://...``, a serial port)."""
        return cls(open_transport(url, baudrate=baudrate), **kw)  # type: ignore[arg-type]

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    # ------------------------------------------------------------------ low level
    def _next_seq(self) -> int:
        self._seq = (self._seq % 0xFFFF) + 1  # 1..65535; 0 is the device's "no request"
        return self._seq

    def _next_event(self, timeout: float) -> FrameEvent | None:
        return self._next_event_counted(timeout)[0]

    def _next_event_counted(self, timeout: float) -> tuple[FrameEvent | None, int]:
        """The next frame event within timeout, and how many bytes were read for it."""
        got = 0
        if not self._pending:
            data = self.transport.read(timeout)
            got = len(data)
            self._pending.extend(self._decoder.feed(data))
        return (self._pending.popleft() if self._pending else None), got

    def send_raw(self, data: bytes, *, expect: int = 1, timeout: float | None = None) -> list[Reply]:
        """Write raw bytes (for fault tests) and return the next ``expect`` replies of any kind."""
        self.transport.write(data)
        out: list[Reply] = []
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(out) < expect:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ev = self._next_event(min(left, 0.2))
            if ev is None:
                continue
            if ev.payload is None:
                self.host_frame_errors += 1
                continue
            r = Reply.parse(ev.payload)
            if r is not None:
                out.append(r)
        return out

    def request(self, cmd: int, args: bytes = b"", *, timeout: float | None = None,
                retries: int | None = None, check: bool = True) -> Reply:
        """Send one request and wait for its reply (resending on frame errors and timeouts).

        check=True raises RpcCommandError on an error status; check=False returns the Reply.

        A command that runs the model (RUN, PROFILE, OPCHECK) is never resent after a silent
        timeout, since the device may still be executing it: a STATS probe finds out whether the
        device is alive and lost the request (then it is resent) or is busy or hung (then this
        raises RpcTimeoutError). A device that floods the link (far more bytes or frames than any
        legitimate traffic, without the reply) raises RpcLinkError at once.
        """
        seq = self._next_seq()
        payload = P.HEADER.pack(cmd & 0xFF, 0, seq, self._nonce or 0) + bytes(args)
        if self.info is not None and len(payload) > self.info.max_payload:
            raise RpcError(
                f"{P.cmd_name(cmd)}: request of {len(payload)} bytes exceeds the device's max payload "
                f"{self.info.max_payload} ({self.name}); send smaller chunks"
            )
        frame = encode_frame(payload)
        timeout = self.timeout if timeout is None else timeout
        attempts = 1 + (self.retries if retries is None else retries)
        want = (cmd | P.REPLY_BIT) & 0xFF
        executing = cmd in _EXECUTING
        why = "no reply"
        attempt = 0
        probe_seq: int | None = None
        probing = False  # a STATS probe is out: waiting for its reply (or the request's, if busy)
        maybe_ran = False  # a corrupted frame came back for an executing command: it may have run
        send_request = True
        while True:
            if send_request:
                if attempt:
                    self.resends += 1
                attempt += 1
                self.transport.write(frame)
                wait = timeout
            else:
                wait = self.timeout
            send_request = False
            deadline = time.monotonic() + wait
            lost_at: float | None = None
            probe_answered = False
            noise = events = 0
            max_payload = self.info.max_payload if self.info is not None else 512
            noise_limit = max(256 << 10, NOISE_FRAMES * 2 * (max_payload + 4))
            while True:
                now = time.monotonic()
                limit = deadline if lost_at is None else min(deadline, lost_at + self.resend_after)
                if now >= limit:
                    break
                ev, got = self._next_event_counted(min(limit - now, 0.25))
                noise += got
                events += ev is not None
                if noise > noise_limit or events > NOISE_EVENTS:
                    raise RpcLinkError(
                        f"{P.cmd_name(cmd)}: {self.name} sent {noise} bytes ({events} frames) without a valid "
                        "reply; it is not "
                        "speaking the microaot RPC protocol (another firmware printing, a wrong baud rate, "
                        "or a device flooding its output): check the firmware and the port"
                    )
                if ev is None:
                    continue
                if ev.payload is None:
                    self.host_frame_errors += 1
                    why = f"corrupted reply ({ev.error.name if ev.error else '?'})"
                    lost_at = time.monotonic() if lost_at is None else lost_at
                    maybe_ran = True
                    continue
                r = Reply.parse(ev.payload)
                if r is None:
                    self.host_frame_errors += 1
                    maybe_ran = True
                    continue
                if r.cmd == (P.CMD_FRAME_ERROR | P.REPLY_BIT):
                    self.device_frame_errors += 1
                    why = f"the device reported {P.status_name(r.status)} on a frame"
                    lost_at = time.monotonic() if lost_at is None else lost_at
                    continue
                if probe_seq is not None and r.seq == probe_seq and r.cmd == (P.Cmd.STATS | P.REPLY_BIT):
                    # the device answers requests in order: it answered the probe but not the request,
                    # so it is idle and the request (or its reply) was lost
                    probe_answered = True
                    why = "the request was lost (the device answered a probe)"
                    break
                if r.seq != seq or r.cmd != want:
                    self.stale_replies += 1
                    continue
                return self._checked(cmd, r, check)
            if attempt >= attempts:
                break
            if executing and not probe_answered:
                # the device may still be running the model: never resend it blind; a STATS probe
                # (answered only once the device is idle) tells a lost request from a busy or hung device
                if probing and lost_at is None:
                    break  # silence to the request and to the probe: busy or hung
                if probing:  # the probe wait was disturbed (noise): probe again, using up an attempt
                    attempt += 1
                    self.resends += 1
                probe_seq = self._next_seq()
                self.transport.write(encode_frame(P.HEADER.pack(P.Cmd.STATS, 0, probe_seq, self._nonce or 0)))
                probing = True
                continue
            if executing and maybe_ran and self.info is not None and self.info.stateful:
                raise RpcError(
                    f"{P.cmd_name(cmd)}: the reply from {self.name} was corrupted, so the model may have run; its "
                    "state (the model keeps state between runs) may have advanced, and running it again would "
                    "advance it twice: call reset_state() and replay the sequence (MICROAOT_RPC_LOG=file dumps the "
                    "traffic)")
            probing = False
            probe_seq = None
            send_request = True
        if probing and not probe_answered:
            raise RpcTimeoutError(
                f"{P.cmd_name(cmd)}: no reply from {self.name} within {timeout:.1f} s after {attempt} attempt(s), "
                f"nor to a STATS probe within {self.timeout:.1f} s after it: the device is hung (or still running "
                "the model); the request was not resent since it may still be executing; reset the device, or "
                "raise the timeout if the model is that slow"
            )
        raise RpcTimeoutError(
            f"{P.cmd_name(cmd)}: {why} from {self.name} within {timeout:.1f} s after {attempts} attempt(s); "
            "check that the device is running the microaot RPC firmware, the port/URL and the baud rate, "
            "or raise the timeout (MICROAOT_RPC_LOG=file dumps the traffic)"
        )

    def _checked(self, cmd: int, r: Reply, check: bool) -> Reply:
        if r.status == P.Status.ERR_SESSION or (
            self._nonce is not None and cmd != P.Cmd.HELLO and r.nonce != self._nonce
        ):
            old = self._nonce
            self._nonce = None
            raise DeviceResetError(
                f"{P.cmd_name(cmd)}: {self.name} was reset (session nonce {old or 0:#010x} -> {r.nonce:#010x}); "
                "its inputs and outputs were lost: call hello() and write the inputs again"
            )
        if check and r.status != P.Status.OK:
            raise RpcCommandError(
                f"{P.cmd_name(cmd)} failed on {self.name}: {P.status_name(r.status)} (detail {r.detail}): "
                f"{P.STATUS_HELP.get(r.status, 'unknown status; host and firmware versions differ')}",
                cmd=cmd, status=r.status, detail=r.detail,
            )
        return r

    # ------------------------------------------------------------------ commands
    @_parses_reply("HELLO")
    def hello(self) -> DeviceInfo:
        """Negotiate the protocol version, learn the session nonce and everything about the model."""
        r = self.request(P.Cmd.HELLO, bytes([P.PROTOCOL_MIN_VERSION, P.PROTOCOL_VERSION]))
        d = r.data
        if len(d) < P.HELLO_FIXED.size:
            raise RpcProtocolError(f"HELLO: reply of {len(d)} bytes is too short from {self.name}")
        (version, unit, flags, abi, max_payload, n_in, n_out, n_ops, rmaj, rmin, pmin, pmax,
         ws, wb) = P.HELLO_FIXED.unpack_from(d)
        pos = P.HELLO_FIXED.size
        strings = []
        for what in ("board", "model name", "model hash"):
            text, pos = _string(d, pos, "HELLO", what)
            strings.append(text)
        bad = []
        if not P.PROTOCOL_MIN_VERSION <= version <= P.PROTOCOL_VERSION:
            bad.append(f"protocol version {version} (this host speaks {P.PROTOCOL_MIN_VERSION}..{P.PROTOCOL_VERSION})")
        if pmin > pmax or not pmin <= version <= pmax:
            bad.append(f"protocol range {pmin}..{pmax} that does not hold the chosen version {version}")
        if not MIN_MAX_PAYLOAD <= max_payload <= MAX_PAYLOAD_LIMIT:
            bad.append(f"max payload {max_payload} (the protocol allows {MIN_MAX_PAYLOAD}..{MAX_PAYLOAD_LIMIT})")
        if unit not in P.TIME_UNITS:
            bad.append(f"timer unit code {unit} (known: {sorted(P.TIME_UNITS)})")
        if bad:
            raise RpcProtocolError(
                f"HELLO: {self.name} announces " + "; ".join(bad) + ": host and firmware protocol versions "
                "differ or the device is corrupted: rebuild and reflash the firmware"
            )
        # optional tail: the clock the firmware runs at (Hz, 0 = unknown); older firmware omits it
        clock_hz = struct.unpack_from("<I", d, pos)[0] if len(d) >= pos + 4 else 0
        # then the bytes of the model's persistent state (firmware before RESET_STATE omits it: stateless)
        state_size = struct.unpack_from("<I", d, pos + 4)[0] if len(d) >= pos + 8 else 0
        if state_size and not flags & P.FLAG_STATE:
            raise RpcProtocolError(f"HELLO: {self.name} announces {state_size} bytes of model state without the "
                                   "state flag; host and firmware protocol versions differ: reflash the firmware")
        self._nonce = r.nonce
        # a provisional info so that request() knows the max payload while the rest is fetched
        self.info = DeviceInfo(version, strings[0], strings[1], strings[2], (), (), (), max_payload, ws, wb,
                               P.TIME_UNITS.get(unit, f"unit{unit}"), flags, abi, f"{rmaj}.{rmin}", r.nonce)
        inputs = tuple(self._tensor_info(0, k) for k in range(n_in)) if flags & P.FLAG_MODEL_OK else ()
        outputs = tuple(self._tensor_info(1, k) for k in range(n_out)) if flags & P.FLAG_MODEL_OK else ()
        ops = tuple(self._op_name(k) for k in range(n_ops))
        self.info = DeviceInfo(version, strings[0], strings[1], strings[2], inputs, outputs, ops, max_payload,
                               ws, wb, P.TIME_UNITS.get(unit, f"unit{unit}"), flags, abi, f"{rmaj}.{rmin}", r.nonce,
                               clock_hz, state_size)
        return self.info

    @_parses_reply("INFO")
    def _tensor_info(self, kind: int, index: int) -> TensorInfo:
        d = self.request(P.Cmd.INFO, P.INFO_ARGS.pack(kind, 0, index)).data
        dtype, rank, idx, nbytes, scale, zp = P.INFO_TENSOR_FIXED.unpack_from(d)
        pos = P.INFO_TENSOR_FIXED.size
        which = f"{'input' if kind == 0 else 'output'} {index}"
        if rank > MAX_RANK or idx != index:
            raise RpcProtocolError(f"INFO: {self.name} describes {which} as tensor {idx} of rank {rank} (asked for "
                                   f"{index}; ranks up to {MAX_RANK}): reflash the firmware")
        dims = struct.unpack_from(f"<{rank}i", d, pos)
        pos += 4 * rank
        name, _ = _string(d, pos, "INFO", f"{which} name")
        if dtype not in P.DTYPES:
            raise RpcProtocolError(f"INFO: {which} has unknown dtype code {dtype}")
        if not np.isfinite(scale) or scale < 0:
            raise RpcProtocolError(f"INFO: {which} of {self.name} has scale {scale}; reflash the firmware")
        if min(dims, default=1) < 0 or int(np.prod(dims,
                                                   dtype=np.int64)) * np.dtype(P.DTYPES[dtype]).itemsize != nbytes:
            raise RpcProtocolError(f"INFO: {'input' if kind == 0 else 'output'} {index} of {self.name} is "
                                   f"{P.DTYPES[dtype]} "
                           f"{list(dims)} but {nbytes} bytes; host and firmware disagree: reflash the firmware")
        return TensorInfo(idx, name, P.DTYPES[dtype], tuple(int(x) for x in dims), nbytes, float(scale), zp)

    @_parses_reply("INFO")
    def _op_name(self, index: int) -> str:
        d = self.request(P.Cmd.INFO, P.INFO_ARGS.pack(2, 0, index)).data
        (idx,) = P.INFO_OP_FIXED.unpack_from(d)
        if idx != index:
            raise RpcProtocolError(f"INFO: {self.name} answered operator {idx} when asked for {index}: reflash the "
                                   "firmware")
        return _string(d, P.INFO_OP_FIXED.size, "INFO", f"operator {index} name")[0]

    def _need_info(self) -> DeviceInfo:
        if self.info is None:
            self.hello()
        assert self.info is not None
        return self.info

    def write_input_bytes(self, index: int, offset: int, data: bytes) -> None:
        """One WRITE_INPUT request (no chunking, no checks on the host side)."""
        self.request(P.Cmd.WRITE_INPUT, P.WRITE_INPUT_ARGS.pack(index, 0, offset) + bytes(data))

    def read_output_bytes(self, index: int, offset: int, length: int) -> bytes:
        """One READ_OUTPUT request (no chunking, no checks on the host side)."""
        return self.request(P.Cmd.READ_OUTPUT, P.READ_OUTPUT_ARGS.pack(index, 0, offset, length)).data

    def write_input(self, index: int, array: np.ndarray) -> None:
        """Copy array into input ``index`` on the device (chunked); dtype and size must match."""
        info = self._need_info()
        if not 0 <= index < len(info.inputs):
            raise RpcError(f"write_input: model {info.model_name} has {len(info.inputs)} input(s), not index {index}")
        ti = info.inputs[index]
        a = np.asarray(array)
        if a.dtype != np.dtype(ti.dtype) or a.size * a.itemsize != ti.nbytes:
            raise RpcError(
                f"write_input: input {index} ({ti.name!r}) of {info.model_name} is {ti.dtype} {list(ti.shape)} "
                f"({ti.nbytes} bytes), got {a.dtype} {list(a.shape)}; convert/quantize the array first"
            )
        data = np.ascontiguousarray(a, dtype=ti.np_dtype).tobytes()
        chunk = info.max_payload - P.HEADER_SIZE - P.WRITE_INPUT_ARGS.size
        for off in range(0, len(data), chunk):
            self.write_input_bytes(index, off, data[off:off + chunk])

    def read_output(self, index: int) -> np.ndarray:
        """Output ``index`` as a numpy array of its dtype and shape (chunked reads)."""
        info = self._need_info()
        if not 0 <= index < len(info.outputs):
            raise RpcError(f"read_output: model {info.model_name} has {len(info.outputs)} output(s), not index {index}")
        ti = info.outputs[index]
        chunk = info.max_payload - P.HEADER_SIZE
        buf = bytearray()
        while len(buf) < ti.nbytes:
            n = min(chunk, ti.nbytes - len(buf))
            part = self.read_output_bytes(index, len(buf), n)
            if len(part) != n:
                raise RpcProtocolError(f"READ_OUTPUT: asked {n} bytes of output {index}, got {len(part)} from "
                                       f"{self.name}")
            buf += part
        return np.frombuffer(bytes(buf), dtype=ti.np_dtype).astype(np.dtype(ti.dtype)).reshape(ti.shape)

    def run(self, n: int = 1, *, timeout: float | None = None) -> RunTiming:
        """Run the model n times on the device; on-device time of each run in the timer unit.

        The timeout (unless given) is derived from the measured time of one run: the first RUN of a
        session runs the model once to measure it, then the remaining n - 1 times (the model runs
        exactly n times, and a hung device fails within the timeout of one run)."""
        if n < 1:
            raise ValueError("run: n must be >= 1")
        if timeout is None and not self._run_measured and n > 1:
            first = self._run(1, None)
            rest = self._run(n - 1, None)
            keep = first.per_run + rest.per_run
            if self.info is not None:  # as many per-run times as one RUN n reply holds
                keep = keep[:(self.info.max_payload - P.HEADER_SIZE - P.RUN_FIXED.size) // 4]
            return RunTiming(n, first.unit, min(first.min, rest.min), max(first.max, rest.max),
                             first.total + rest.total, keep)
        return self._run(n, timeout)

    @_parses_reply("RUN")
    def _run(self, n: int, timeout: float | None) -> RunTiming:
        if timeout is None:
            timeout = self.timeout + 4.0 * n * self._run_estimate
        t0 = time.monotonic()
        d = self.request(P.Cmd.RUN, P.RUN_ARGS.pack(n), timeout=timeout).data
        rn, unit, _r, kept, tmin, tmax, total, _r2 = P.RUN_FIXED.unpack_from(d)
        bad = []
        if rn != n:
            bad.append(f"{rn} runs (asked for {n})")
        if unit not in P.TIME_UNITS:
            bad.append(f"timer unit code {unit}")
        if kept > n or len(d) != P.RUN_FIXED.size + 4 * kept:
            bad.append(f"{kept} per-run times in {len(d) - P.RUN_FIXED.size} bytes")
        if not tmin <= tmax or not tmin * n <= total <= tmax * n:
            bad.append(f"min {tmin}, max {tmax} and total {total} that cannot come from {n} runs")
        if bad:
            raise RpcProtocolError(f"RUN: {self.name} reports " + "; ".join(bad) + "; host and firmware disagree "
                                   "or the device is corrupted: rebuild and reflash the firmware")
        per = struct.unpack_from(f"<{kept}I", d, P.RUN_FIXED.size)
        if any(not min(tmin, 0xFFFFFFFF) <= t <= min(tmax, 0xFFFFFFFF) for t in per):
            raise RpcProtocolError(f"RUN: {self.name} reports per-run times outside its own min {tmin} / max {tmax}; "
                                   "reflash the firmware")
        self._run_estimate = max((time.monotonic() - t0) / n, 1e-4)
        self._run_measured = True
        return RunTiming(rn, P.TIME_UNITS[unit], tmin, tmax, total, tuple(per))

    @_parses_reply("PROFILE")
    def profile(self, runs: int = 1, *, timeout: float | None = None) -> Profile:
        """Time per operator (op_begin/op_end hooks), summed over ``runs`` runs."""
        info = self._need_info()
        if runs < 1:
            raise ValueError("profile: runs must be >= 1")
        if timeout is None:
            if not self._run_measured and runs > 1:
                self.run(1)  # measure one run first: a hung device then fails within one run's timeout
            timeout = self.timeout + 4.0 * runs * self._run_estimate
        d = self.request(P.Cmd.PROFILE, P.PROFILE_ARGS.pack(runs, 0, 0), timeout=timeout).data
        _n, _first, _count, unit, _r, nruns, _r2, total = P.PROFILE_FIXED.unpack_from(d)
        if nruns != runs or unit not in P.TIME_UNITS:
            raise RpcProtocolError(f"PROFILE: {self.name} reports {nruns} runs (asked for {runs}) in timer unit code "
                                   f"{unit}; reflash the firmware")
        times = self._per_op_table(P.Cmd.PROFILE, d, P.PROFILE_FIXED, "Q", "times",
                                   lambda first: P.PROFILE_ARGS.pack(0, first, 0))
        names = info.op_names
        ops = tuple(OpProfile(k, names[k], t, t / nruns) for k, t in enumerate(times))
        return Profile(nruns, P.TIME_UNITS[unit], total, ops)

    @_parses_reply("OPCHECK")
    def op_hashes(self, *, timeout: float | None = None) -> list[int]:
        """Run the model once on the current inputs and return, per operator, the FNV-1a 32 hash of its
        output tensors as the next operators read them (OPCHECK): two builds of one model whose
        hashes agree computed every intermediate tensor identically."""
        self._need_info()
        if timeout is None:
            timeout = self.timeout + 4.0 * self._run_estimate
        d = self.request(P.Cmd.OPCHECK, P.OPCHECK_ARGS.pack(1, 0, 0), timeout=timeout).data
        return self._per_op_table(P.Cmd.OPCHECK, d, P.OPCHECK_FIXED, "I", "hashes",
                                  lambda first: P.OPCHECK_ARGS.pack(0, 0, first))

    def _per_op_table(self, cmd: P.Cmd, d: bytes, fixed: struct.Struct, fmt: str, what: str,
                      page: Callable[[int], bytes]) -> list[int]:
        """The per-operator values of a PROFILE / OPCHECK reply ``d`` (``fixed`` starts with num_ops, first,
        count), asking for the next page with args ``page(first)`` until every operator is in."""
        info = self._need_info()
        item = struct.calcsize(f"<{fmt}")

        def entries(d: bytes, first: int) -> tuple[int, ...]:
            num, got_first, count = fixed.unpack_from(d)[:3]
            if num != num_ops or got_first != first or first + count > num_ops or len(d) != fixed.size + item * count:
                raise RpcProtocolError(
                    f"{cmd.name}: {self.name} answered operators {got_first}..{got_first + count - 1} of {num} in "
                    f"{len(d)} bytes when asked from operator {first} of {num_ops}; reflash the firmware")
            return struct.unpack_from(f"<{count}{fmt}", d, fixed.size)

        num_ops = fixed.unpack_from(d)[0]
        vals = list(entries(d, 0))
        while len(vals) < num_ops == len(info.op_names):
            d = self.request(cmd, page(len(vals))).data
            more = entries(d, len(vals))
            if not more:
                raise RpcProtocolError(f"{cmd.name}: device returned no entries from operator {len(vals)} "
                                       f"({self.name})")
            vals += more
        if num_ops != len(info.op_names) or len(vals) != num_ops:
            raise RpcProtocolError(f"{cmd.name}: {self.name} reports {num_ops} operators ({len(vals)} {what}), HELLO "
                                   "said "
                           f"{len(info.op_names)}; call hello() again, or reflash the firmware")
        return vals

    @_parses_reply("STATS")
    def stats(self) -> DeviceStats:
        d = self.request(P.Cmd.STATS).data
        v = P.STATS_FIXED.unpack_from(d)
        return DeviceStats(v[0], v[1], v[2], v[3], _opt(v[4]), _opt(v[5]), _opt(v[6]), _opt(v[7]),
                           v[8], v[9], v[10], v[11])

    def reset(self) -> None:
        """Soft reset of the server: zero inputs/outputs/workspace, reset the model's state (NAME_reset_state),
        clear counters (nonce kept)."""
        self.request(P.Cmd.RESET)

    def reset_state(self) -> None:
        """RESET_STATE: put the model's persistent state back to its initial value (``NAME_reset_state``), so
        that the next run starts a new sequence; inputs, outputs and counters are kept. Nothing is sent for a
        stateless model (HELLO's state_size 0), so it also works with firmware that predates the command."""
        info = self._need_info()
        if info.state_size == 0:
            return
        d = self.request(P.Cmd.RESET_STATE).data
        got = int.from_bytes(d[:4], "little") if len(d) >= 4 else None
        if got != info.state_size:
            raise RpcProtocolError(f"RESET_STATE: {self.name} reset {got} bytes of state, HELLO said "
                                   f"{info.state_size}; call hello() again, or reflash the firmware")

    def invoke(self, inputs: Sequence[np.ndarray], *, runs: int = 1) -> tuple[list[np.ndarray], RunTiming]:
        """Write every input, run ``runs`` times, read every output."""
        info = self._need_info()
        if len(inputs) != len(info.inputs):
            raise RpcError(f"invoke: model {info.model_name} takes {len(info.inputs)} input(s), got {len(inputs)}")
        for k, a in enumerate(inputs):
            self.write_input(k, a)
        timing = self.run(runs)
        return [self.read_output(k) for k in range(len(info.outputs))], timing
