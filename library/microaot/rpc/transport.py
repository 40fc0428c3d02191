"""Byte transports for the RPC Session, built from URLs.

- ``subprocess:<command line>``: a child process speaking the protocol on its stdin/stdout
  (the host board); also ``SubprocessTransport(argv)`` directly.
- anything pyserial's ``serial_for_url`` understands: ``/dev/ttyACM0``, ``COM3``,
  ``socket://host:port`` (QEMU ``-serial tcp:...``), ``rfc2217://``, ``loop://``.

A transport moves bytes only; framing and retries live in the Session.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Protocol

from microaot.errors import RpcError


class RpcLinkError(RpcError):
    """The transport is closed or failed (device process exited, port unplugged)."""


# One read() returns at most this many bytes, so that the Session decodes in bounded chunks and
# checks its deadline between them (a device flooding its output cannot stall a request).
READ_CHUNK = 16384
# The subprocess transport buffers at most this much of the child's output; beyond it the reader
# thread stops reading and the child blocks on its pipe (memory stays bounded however fast it writes).
BUFFER_LIMIT = 1 << 20


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...

    def read(self, timeout: float) -> bytes:
        """Bytes available within timeout seconds (b"" when none, at most READ_CHUNK);
        RpcLinkError when closed."""
        ...

    def close(self) -> None: ...

    def describe(self) -> str: ...


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGTERM when the Python process dies, however it dies.

    A device process (host board, or coreutils timeout wrapping QEMU, which forwards the signal)
    must never outlive the session that started it."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        try:
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass


class SubprocessTransport:
    """A child process's stdin (to the device) and stdout (from the device); stderr is kept."""

    def __init__(self, argv: Sequence[str | Path], *, cwd: str | Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.argv = [str(a) for a in argv]
        try:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                bufsize=0, cwd=cwd, env=env, preexec_fn=_die_with_parent,
            )
        except OSError as e:
            raise RpcLinkError(f"cannot start {self.argv[0]}: {e}") from None
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self._closed = False
        self._stderr = bytearray()
        self._threads = [
            threading.Thread(target=self._pump_stdout, daemon=True),
            threading.Thread(target=self._pump_stderr, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    self._eof = True
                    self._cond.notify_all()
                    return
                self._buf += chunk
                self._cond.notify_all()
                # back-pressure: a flooding child blocks on its pipe instead of filling our memory
                while len(self._buf) >= BUFFER_LIMIT and not self._closed:
                    self._cond.wait(0.5)
                if self._closed:
                    return

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            self._stderr += chunk
            del self._stderr[:-4096]

    def _dead(self) -> RpcLinkError:
        # give the child a moment to exit and its last stderr words to arrive
        try:
            self.proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        self._threads[1].join(timeout=0.5)
        code = self.proc.poll()
        err = bytes(self._stderr).decode(errors="replace").strip()
        msg = f"device process {self.argv[0]} closed its output"
        if code is not None:
            msg += f" (exit code {code})"
        if err:
            msg += f"; its stderr ends with:\n{err[-1000:]}"
        return RpcLinkError(msg)

    def write(self, data: bytes) -> None:
        stdin: IO[bytes] | None = self.proc.stdin
        if stdin is None:
            raise self._dead()
        try:
            stdin.write(data)
            stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise self._dead() from None

    def read(self, timeout: float) -> bytes:
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            while not self._buf:
                if self._eof:
                    raise self._dead()
                left = deadline - time.monotonic()
                if left <= 0:
                    return b""
                self._cond.wait(left)
            data = bytes(self._buf[:READ_CHUNK])
            del self._buf[:READ_CHUNK]
            self._cond.notify_all()
            return data

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            # SIGTERM first: a wrapper such as coreutils `timeout` (QEMU boards) passes it on to the
            # emulator; SIGKILL would kill only the wrapper and leave the emulator running forever
            self.proc.terminate()
            try:
                self.proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def describe(self) -> str:
        return "subprocess:" + shlex.join(self.argv)


class SerialTransport:
    """Anything pyserial's serial_for_url opens (serial ports, socket://, rfc2217://, loop://)."""

    def __init__(self, url: str, *, baudrate: int = 115200, open_timeout: float = 5.0) -> None:
        import serial  # pyserial

        self.url = url
        deadline = time.monotonic() + open_timeout
        while True:
            try:
                self.ser = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05)
                break
            except (serial.SerialException, OSError) as e:
                # socket:// to an emulator that is still starting: retry until open_timeout
                if time.monotonic() >= deadline:
                    raise RpcLinkError(f"cannot open {url}: {e}") from None
                time.sleep(0.05)

    def write(self, data: bytes) -> None:
        import serial

        try:
            self.ser.write(data)
            self.ser.flush()
        except (serial.SerialException, OSError) as e:
            raise RpcLinkError(f"write to {self.url} failed: {e}") from None

    def read(self, timeout: float) -> bytes:
        import serial

        try:
            self.ser.timeout = max(timeout, 0.0)
            first = self.ser.read(1)
            if not first:
                return b""
            self.ser.timeout = 0
            rest = self.ser.read(READ_CHUNK - 1)
            return first + rest
        except (serial.SerialException, OSError) as e:
            raise RpcLinkError(f"read from {self.url} failed: {e}") from None

    def close(self) -> None:
        try:
            self.ser.close()
        except Exception:  # noqa: BLE001 - closing a dead port must not raise
            pass

    def describe(self) -> str:
        return self.url


def _hexdump(data: bytes, prefix: str) -> str:
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hx = " ".join(f"{b:02x}" for b in chunk)
        asc = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{prefix} {off:04x}: {hx:<47}  |{asc}|")
    return "\n".join(lines)


class LoggingTransport:
    """Wraps a transport and hex-dumps every byte in both directions ('>' to device, '<' from it).

    sink: a logging.Logger (DEBUG level) or a file path (appended). Enabled by Session(log=...) or
    the MICROAOT_RPC_LOG environment variable (a file path).
    """

    def __init__(self, inner: Transport, sink: logging.Logger | str | Path) -> None:
        self.inner = inner
        self._logger = sink if isinstance(sink, logging.Logger) else None
        self._file = None if isinstance(sink, logging.Logger) else open(sink, "a", encoding="utf-8")  # noqa: SIM115
        self._t0 = time.monotonic()

    def _log(self, data: bytes, prefix: str) -> None:
        if not data:
            return
        text = f"[{time.monotonic() - self._t0:9.4f}s] {len(data)} bytes\n" + _hexdump(data, prefix)
        if self._logger is not None:
            self._logger.debug("%s", text)
        if self._file is not None:
            self._file.write(text + "\n")
            self._file.flush()

    def write(self, data: bytes) -> None:
        self._log(data, ">")
        self.inner.write(data)

    def read(self, timeout: float) -> bytes:
        data = self.inner.read(timeout)
        self._log(data, "<")
        return data

    def close(self) -> None:
        self.inner.close()
        if self._file is not None:
            self._file.close()
            self._file = None

    def describe(self) -> str:
        return self.inner.describe()


def open_transport(url: str, *, baudrate: int = 115200, open_timeout: float = 5.0) -> Transport:
    """A transport for url: ``subprocess:<command line>`` or any pyserial URL / port name."""
    if url.startswith("subprocess:"):
        argv = shlex.split(url[len("subprocess:"):])
        if not argv:
            raise RpcLinkError("subprocess: URL without a command (use subprocess:/path/to/board args...)")
        return SubprocessTransport(argv)
    return SerialTransport(url, baudrate=baudrate, open_timeout=open_timeout)
