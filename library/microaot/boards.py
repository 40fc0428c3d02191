"""Board registry (platform/boards/*.json) and how to start each board's firmware.

A board JSON is a PlatformIO board manifest; microaot reads:
  - ``build.microaot``: toolchain (host|arm), port (crt/ports/<port>), target (compiler target),
    ldscript, float_abi/fpu, SoC settings (cache, flash_wait_states, icount_shift)
  - ``microaot``: launch = host (a native process, RPC over its stdin/stdout),
    qemu (qemu-system-arm ``qemu_machine`` with ``-icount shift=N``, serial on stdio, under a
    timeout) or serial (a real board: flashed by ``pio run -t upload``, RPC over a serial port)
  - ``upload.maximum_size`` / ``upload.maximum_ram_size`` (flash and RAM of the SoC)
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microaot.errors import MicroaotError
from microaot.paths import platform_root
from microaot.rpc.transport import SerialTransport, SubprocessTransport

LAUNCH_KINDS = ("host", "qemu", "serial")


class BoardError(MicroaotError):
    """Unknown board, or a board whose firmware cannot be started on this machine."""


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    launch: str
    port: str
    target: str
    toolchain: str
    f_cpu: int
    flash_size: int
    ram_size: int
    icount_shift: int = -1
    qemu_machine: str | None = None
    timer: str = "cycles"
    timeout: float = 300.0
    serial_baud: int = 115200
    qemu_serial_index: int = 0  # which of the machine's UARTs is the RPC link (netduinoplus2: 1 = USART2)
    manifest: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def emulated(self) -> bool:
        return self.launch in ("host", "qemu")

    def with_settings(self, *, icount_shift: int | None = None) -> Board:
        if icount_shift is None:
            return self
        return Board(**{**self.__dict__, "icount_shift": icount_shift})

    def qemu_argv(
        self, firmware: str | Path, *, serial: str = "stdio", timeout: float | None = None,
        extra: Sequence[str] = (),
    ) -> list[str]:
        """qemu-system-arm command line (under coreutils timeout) for this board's firmware."""
        if self.launch != "qemu" or not self.qemu_machine:
            raise BoardError(f"board {self.id} is not a QEMU board")
        shift = self.icount_shift if self.icount_shift >= 0 else 3
        # --foreground keeps QEMU in the caller's process group, so killing that group (a CI or shell
        # time-out) also ends QEMU; without it coreutils timeout moves itself and QEMU to a new group
        return [
            "timeout",
            "--foreground",
            "-k",
            "5",
            str(int(timeout if timeout is not None else self.timeout)),
            "qemu-system-arm",
            "-M",
            self.qemu_machine,
            "-display",
            "none",
            "-monitor",
            "none",
            *(["-serial", "null"] * self.qemu_serial_index),
            "-serial",
            serial,
            "-semihosting",
            "-icount",
            f"shift={shift}",
            *extra,
            "-kernel",
            str(firmware),
        ]

    def launch_argv(self, firmware: str | Path, *, timeout: float | None = None,
                    qemu_args: Sequence[str] = ()) -> list[str]:
        """Command whose stdin/stdout is the RPC link (host and QEMU boards); ``qemu_args``: more QEMU
        options (e.g. a TCG plugin)."""
        if self.launch == "host":
            return [str(firmware)]
        if self.launch == "qemu":
            return self.qemu_argv(firmware, timeout=timeout, extra=qemu_args)
        raise BoardError(
            f"board {self.id} is real hardware: flash it with `pio run -e <env> -t upload` and open its "
            f"serial port (e.g. --port /dev/ttyACM0, {self.serial_baud} baud)"
        )

    def check_tools(self) -> None:
        """Raise BoardError naming the missing program (toolchain or emulator) and how to get it."""
        need: list[tuple[str, str]] = []
        if self.toolchain == "host":
            need.append(("gcc", "gcc"))
        else:
            need.append(("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi"))
        if self.launch == "qemu":
            need.append(("qemu-system-arm", "qemu-system-arm"))
            need.append(("timeout", "coreutils"))
        for prog, pkg in need:
            if shutil.which(prog) is None:
                raise BoardError(
                    f"board {self.id} needs {prog}, which is not on PATH; install it (apt-get install {pkg}) "
                    "or run scripts/bootstrap.sh"
                )


def _to_int(v: Any, default: int = 0) -> int:
    try:
        return int(str(v).rstrip("Ll"), 0)
    except (TypeError, ValueError):
        return default


def board_from_manifest(board_id: str, m: dict[str, Any]) -> Board:
    b = m.get("build", {})
    mb = b.get("microaot", {})
    mm = m.get("microaot", {})
    launch = str(mm.get("launch", "serial"))
    if launch not in LAUNCH_KINDS:
        raise BoardError(
            f"board {board_id}: microaot.launch = {launch!r}; use one of {', '.join(LAUNCH_KINDS)}"
        )
    return Board(
        id=board_id,
        name=str(m.get("name", board_id)),
        launch=launch,
        port=str(mb.get("port", "")),
        target=str(mb.get("target", "generic")),
        toolchain=str(mb.get("toolchain", "arm")),
        f_cpu=_to_int(b.get("f_cpu", 0)),
        flash_size=_to_int(m.get("upload", {}).get("maximum_size", 0)),
        ram_size=_to_int(m.get("upload", {}).get("maximum_ram_size", 0)),
        icount_shift=_to_int(mb.get("icount_shift", -1), -1),
        qemu_machine=mm.get("qemu_machine"),
        timer=str(mm.get("timer", "cycles")),
        timeout=float(mm.get("timeout", 300)),
        serial_baud=_to_int(mm.get("serial_baud", 115200), 115200),
        qemu_serial_index=_to_int(mm.get("qemu_serial_index", 0)),
        manifest=m,
    )


def boards_dir() -> Path:
    return platform_root() / "boards"


def load_boards(directory: Path | None = None) -> dict[str, Board]:
    d = directory or boards_dir()
    out: dict[str, Board] = {}
    for p in sorted(d.glob("*.json")):
        out[p.stem] = board_from_manifest(p.stem, json.loads(p.read_text(encoding="utf8")))
    return out


def get_board(board_id: str) -> Board:
    boards = load_boards()
    if board_id not in boards:
        raise BoardError(f"unknown board {board_id!r}; known boards: {', '.join(sorted(boards))}")
    return boards[board_id]


class _EmulatorTransport:
    """SubprocessTransport for firmware that never exits on its own (QEMU): close() stops it.

    The RPC firmware cannot see the host close the link (a UART has no end of file), so closing
    stdin is not enough: the coreutils ``timeout`` wrapper gets SIGTERM, which it forwards to QEMU
    (SIGKILL to the wrapper alone would leave QEMU running until nothing stops it)."""

    def __init__(self, argv: list[str]) -> None:
        self._inner = SubprocessTransport(argv)
        self.proc = self._inner.proc

    def write(self, data: bytes) -> None:
        self._inner.write(data)

    def read(self, timeout: float) -> bytes:
        return self._inner.read(timeout)

    def describe(self) -> str:
        return self._inner.describe()

    def close(self) -> None:
        import signal

        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        self._inner.close()

    def __del__(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.terminate()
        except Exception:
            pass


def open_link(
    board: Board, firmware: str | Path | None, *, port: str | None = None, timeout: float | None = None,
    qemu_args: Sequence[str] = (),
):  # noqa: ANN201
    """Start the firmware (host process or QEMU) or open a real board's serial port: a Transport.

    Close it (or use the Session as a context manager): that stops the process or QEMU."""

    if board.launch == "serial" or port:
        if not port:
            raise BoardError(
                f"board {board.id} is real hardware: give its serial port (--port /dev/ttyACM0) after "
                "flashing it with `pio run -t upload`"
            )
        return SerialTransport(port, baudrate=board.serial_baud)
    if firmware is None:
        raise BoardError(f"board {board.id}: no firmware to start")
    board.check_tools()
    if board.launch == "qemu":
        return _EmulatorTransport(board.launch_argv(firmware, timeout=timeout, qemu_args=qemu_args))
    return SubprocessTransport(board.launch_argv(firmware, timeout=timeout))
