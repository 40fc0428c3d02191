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
from microaot.rpc.framing import FrameDecoder, FrameEvent, encode_frame
from microaot.rpc.transport import LoggingTransport, RpcLinkError, Transport, open_transport

_T = TypeVar("_T")

__all__ = [
    "DeviceInfo", "DeviceResetError", "DeviceStats", "OpProfile", "Profile", "Reply", "RpcCommandError",
    "RpcLinkError", "RpcTimeoutError", "RunTiming", "Session", "TensorInfo",
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
                raise RpcError(
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
        if not self._pending:
            data = self.transport.read(timeout)
            self._pending.extend(self._decoder.feed(data))
        return self._pending.popleft() if self._pending else None

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
        why = "no reply"
        for attempt in range(attempts):
            if attempt:
                self.resends += 1
            self.transport.write(frame)
            start = time.monotonic()
            deadline = start + timeout
            lost_at: float | None = None
            while True:
                now = time.monotonic()
                limit = deadline if lost_at is None else min(deadline, lost_at + self.resend_after)
                if now >= limit:
                    break
                ev = self._next_event(min(limit - now, 0.25))
                if ev is None:
                    continue
                if ev.payload is None:
                    self.host_frame_errors += 1
                    why = f"corrupted reply ({ev.error.name if ev.error else '?'})"
                    lost_at = time.monotonic() if lost_at is None else lost_at
                    continue
                r = Reply.parse(ev.payload)
                if r is None:
                    self.host_frame_errors += 1
                    continue
                if r.cmd == (P.CMD_FRAME_ERROR | P.REPLY_BIT):
                    self.device_frame_errors += 1
                    why = f"the device reported {P.status_name(r.status)} on a frame"
                    lost_at = time.monotonic() if lost_at is None else lost_at
                    continue
                if r.seq != seq or r.cmd != want:
                    self.stale_replies += 1
                    continue
                return self._checked(cmd, r, check)
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
            raise RpcError(f"HELLO: reply of {len(d)} bytes is too short from {self.name}")
        (version, unit, flags, abi, max_payload, n_in, n_out, n_ops, rmaj, rmin, _pmin, _pmax,
         ws, wb) = P.HELLO_FIXED.unpack_from(d)
        pos = P.HELLO_FIXED.size
        strings = []
        for _ in range(3):
            n = d[pos]
            strings.append(d[pos + 1:pos + 1 + n].decode(errors="replace"))
            pos += 1 + n
        # optional tail: the clock the firmware runs at (Hz, 0 = unknown); older firmware omits it
        clock_hz = struct.unpack_from("<I", d, pos)[0] if len(d) >= pos + 4 else 0
        self._nonce = r.nonce
        # a provisional info so that request() knows the max payload while the rest is fetched
        self.info = DeviceInfo(version, strings[0], strings[1], strings[2], (), (), (), max_payload, ws, wb,
                               P.TIME_UNITS.get(unit, f"unit{unit}"), flags, abi, f"{rmaj}.{rmin}", r.nonce)
        inputs = tuple(self._tensor_info(0, k) for k in range(n_in)) if flags & P.FLAG_MODEL_OK else ()
        outputs = tuple(self._tensor_info(1, k) for k in range(n_out)) if flags & P.FLAG_MODEL_OK else ()
        ops = tuple(self._op_name(k) for k in range(n_ops))
        self.info = DeviceInfo(version, strings[0], strings[1], strings[2], inputs, outputs, ops, max_payload,
                               ws, wb, P.TIME_UNITS.get(unit, f"unit{unit}"), flags, abi, f"{rmaj}.{rmin}", r.nonce,
                               clock_hz)
        return self.info

    @_parses_reply("INFO")
    def _tensor_info(self, kind: int, index: int) -> TensorInfo:
        d = self.request(P.Cmd.INFO, P.INFO_ARGS.pack(kind, 0, index)).data
        dtype, rank, idx, nbytes, scale, zp = P.INFO_TENSOR_FIXED.unpack_from(d)
        pos = P.INFO_TENSOR_FIXED.size
        dims = struct.unpack_from(f"<{rank}i", d, pos)
        pos += 4 * rank
        n = d[pos]
        name = d[pos + 1:pos + 1 + n].decode(errors="replace")
        if dtype not in P.DTYPES:
            raise RpcError(f"INFO: {'input' if kind == 0 else 'output'} {index} has unknown dtype code {dtype}")
        if int(np.prod(dims, dtype=np.int64)) * np.dtype(P.DTYPES[dtype]).itemsize != nbytes or min(dims, default=1) < 0:
            raise RpcError(f"INFO: {'input' if kind == 0 else 'output'} {index} of {self.name} is {P.DTYPES[dtype]} "
                           f"{list(dims)} but {nbytes} bytes; host and firmware disagree: reflash the firmware")
        return TensorInfo(idx, name, P.DTYPES[dtype], tuple(int(x) for x in dims), nbytes, float(scale), zp)

    @_parses_reply("INFO")
    def _op_name(self, index: int) -> str:
        d = self.request(P.Cmd.INFO, P.INFO_ARGS.pack(2, 0, index)).data
        n = d[2]
        return d[3:3 + n].decode(errors="replace")

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
                raise RpcError(f"READ_OUTPUT: asked {n} bytes of output {index}, got {len(part)} from {self.name}")
            buf += part
        return np.frombuffer(bytes(buf), dtype=ti.np_dtype).astype(np.dtype(ti.dtype)).reshape(ti.shape)

    @_parses_reply("RUN")
    def run(self, n: int = 1, *, timeout: float | None = None) -> RunTiming:
        """Run the model n times on the device; on-device time of each run in the timer unit."""
        if n < 1:
            raise ValueError("run: n must be >= 1")
        if timeout is None:
            timeout = self.timeout + 4.0 * n * self._run_estimate
        t0 = time.monotonic()
        d = self.request(P.Cmd.RUN, P.RUN_ARGS.pack(n), timeout=timeout).data
        self._run_estimate = max((time.monotonic() - t0) / n, 1e-4)
        rn, unit, _r, kept, tmin, tmax, total, _r2 = P.RUN_FIXED.unpack_from(d)
        per = struct.unpack_from(f"<{kept}I", d, P.RUN_FIXED.size)
        return RunTiming(rn, P.TIME_UNITS.get(unit, f"unit{unit}"), tmin, tmax, total, tuple(per))

    @_parses_reply("PROFILE")
    def profile(self, runs: int = 1, *, timeout: float | None = None) -> Profile:
        """Time per operator (op_begin/op_end hooks), summed over ``runs`` runs."""
        info = self._need_info()
        if runs < 1:
            raise ValueError("profile: runs must be >= 1")
        if timeout is None:
            timeout = self.timeout + 4.0 * runs * self._run_estimate
        d = self.request(P.Cmd.PROFILE, P.PROFILE_ARGS.pack(runs, 0, 0), timeout=timeout).data
        _n, _first, _count, unit, _r, nruns, _r2, total = P.PROFILE_FIXED.unpack_from(d)
        times = self._per_op_table(P.Cmd.PROFILE, d, P.PROFILE_FIXED, "Q", "times",
                                   lambda first: P.PROFILE_ARGS.pack(0, first, 0))
        names = info.op_names
        ops = tuple(OpProfile(k, names[k], t, t / max(nruns, 1)) for k, t in enumerate(times))
        return Profile(nruns, P.TIME_UNITS.get(unit, f"unit{unit}"), total, ops)

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
        num_ops, _first, count = fixed.unpack_from(d)[:3]
        vals = list(struct.unpack_from(f"<{count}{fmt}", d, fixed.size))
        while len(vals) < num_ops == len(info.op_names):
            d = self.request(cmd, page(len(vals))).data
            count = fixed.unpack_from(d)[2]
            if count == 0:
                raise RpcError(f"{cmd.name}: device returned no entries from operator {len(vals)} ({self.name})")
            vals += struct.unpack_from(f"<{count}{fmt}", d, fixed.size)
        if num_ops != len(info.op_names) or len(vals) != num_ops:
            raise RpcError(f"{cmd.name}: {self.name} reports {num_ops} operators ({len(vals)} {what}), HELLO said "
                           f"{len(info.op_names)}; call hello() again, or reflash the firmware")
        return vals

    @_parses_reply("STATS")
    def stats(self) -> DeviceStats:
        d = self.request(P.Cmd.STATS).data
        v = P.STATS_FIXED.unpack_from(d)
        return DeviceStats(v[0], v[1], v[2], v[3], _opt(v[4]), _opt(v[5]), _opt(v[6]), _opt(v[7]),
                           v[8], v[9], v[10], v[11])

    def reset(self) -> None:
        """Soft reset of the server: zero inputs/outputs/workspace, clear counters (nonce kept)."""
        self.request(P.Cmd.RESET)

    def invoke(self, inputs: Sequence[np.ndarray], *, runs: int = 1) -> tuple[list[np.ndarray], RunTiming]:
        """Write every input, run ``runs`` times, read every output."""
        info = self._need_info()
        if len(inputs) != len(info.inputs):
            raise RpcError(f"invoke: model {info.model_name} takes {len(info.inputs)} input(s), got {len(inputs)}")
        for k, a in enumerate(inputs):
            self.write_input(k, a)
        timing = self.run(runs)
        return [self.read_output(k) for k in range(len(info.outputs))], timing
