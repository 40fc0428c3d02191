"""Link fault injection for RPC tests: a Transport wrapper that drops, duplicates and corrupts bytes,
goes silent, or resets the device, deterministically (seeded).

    link = FaultyTransport(SubprocessTransport([exe]), seed=1, drop=1e-4, corrupt=1e-4,
                           restart=lambda: SubprocessTransport([exe]))
    s = Session(link, timeout=0.5, resend_after=0.05)
    link.arm("corrupt", "rx")        # the next chunk read from the device gets one byte flipped
    link.mute()                      # the device stops answering (writes vanish, reads are empty)
    link.reset_device()              # close the link, start a fresh device (new boot, new nonce)

Rates are per byte (so they do not depend on how the link chunks its reads): each byte passing is
removed with probability ``drop``, sent twice with probability ``duplicate``, XORed with a non-zero
value with probability ``corrupt``. ``direction`` limits them to ``"tx"`` (host -> device), ``"rx"``
or ``"both"``. ``arm(kind, direction)`` applies exactly one fault to a random byte of the next chunk.
Every injected fault is counted in ``faults`` (keys like ``"tx:drop"``).
"""

from __future__ import annotations

import collections
import random
import time
from collections.abc import Callable

from microaot.rpc.transport import Transport

FAULT_KINDS = ("drop", "duplicate", "corrupt")
DIRECTIONS = ("tx", "rx", "both")


class FaultyTransport:
    """Wraps a Transport and injects link faults (see the module doc)."""

    def __init__(self, inner: Transport, *, seed: int = 0, drop: float = 0.0, duplicate: float = 0.0,
                 corrupt: float = 0.0, direction: str = "both",
                 restart: Callable[[], Transport] | None = None) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        self.inner = inner
        self.rng = random.Random(seed)
        self.rates = {"drop": drop, "duplicate": duplicate, "corrupt": corrupt}
        self.direction = direction
        self.restart = restart
        self.faults: collections.Counter[str] = collections.Counter()
        self.resets = 0
        self.muted = False
        self._armed: collections.deque[tuple[str, str]] = collections.deque()
        self._reset_after_writes: int | None = None
        self.writes = 0

    # ------------------------------------------------------------------ controls
    def set_rates(self, *, drop: float = 0.0, duplicate: float = 0.0, corrupt: float = 0.0) -> None:
        self.rates = {"drop": drop, "duplicate": duplicate, "corrupt": corrupt}

    def arm(self, kind: str, direction: str) -> None:
        """One fault of kind on the next chunk going in direction ("tx" or "rx")."""
        if kind not in FAULT_KINDS or direction not in ("tx", "rx"):
            raise ValueError(f"arm({kind!r}, {direction!r}): kind in {FAULT_KINDS}, direction tx or rx")
        self._armed.append((kind, direction))

    def mute(self, on: bool = True) -> None:
        """The device stops answering (and stops hearing): writes are dropped, reads return nothing."""
        self.muted = on
        if on:
            self.faults["mute"] += 1

    def reset_device(self) -> None:
        """Close the link and start a fresh device through ``restart`` (a reboot: new nonce)."""
        if self.restart is None:
            raise RuntimeError("FaultyTransport.reset_device needs restart=<callable returning a Transport>")
        self.inner.close()
        self.inner = self.restart()
        self.resets += 1
        self.faults["reset"] += 1

    def reset_after_writes(self, n: int) -> None:
        """Reset the device just before the n-th next write reaches it (a reboot mid-session)."""
        self._reset_after_writes = self.writes + n

    @property
    def injected(self) -> int:
        return sum(self.faults.values())

    # ------------------------------------------------------------------ fault application
    def _mangle(self, data: bytes, direction: str) -> bytes:
        if not data:
            return data
        buf = bytearray(data)
        for i, (kind, d) in enumerate(self._armed):
            if d == direction:
                del self._armed[i]
                self._apply(buf, self.rng.randrange(len(buf)), kind, direction)
                break
        if self.direction in (direction, "both") and any(self.rates.values()):
            hits = [(pos, kind) for pos in range(len(buf)) for kind in FAULT_KINDS
                    if self.rates[kind] > 0 and self.rng.random() < self.rates[kind]]
            for pos, kind in reversed(hits):  # back to front: earlier positions stay valid
                self._apply(buf, min(pos, len(buf) - 1), kind, direction)
        return bytes(buf)

    def _apply(self, buf: bytearray, i: int, kind: str, direction: str) -> None:
        if not buf:
            return
        if kind == "drop":
            del buf[i]
        elif kind == "duplicate":
            buf.insert(i, buf[i])
        else:
            buf[i] ^= self.rng.randrange(1, 256)
        self.faults[f"{direction}:{kind}"] += 1

    # ------------------------------------------------------------------ Transport
    def write(self, data: bytes) -> None:
        self.writes += 1
        if self._reset_after_writes is not None and self.writes >= self._reset_after_writes:
            self._reset_after_writes = None
            self.reset_device()
        if self.muted:
            return
        self.inner.write(self._mangle(data, "tx"))

    def read(self, timeout: float) -> bytes:
        if self.muted:
            time.sleep(max(timeout, 0.0))
            return b""
        return self._mangle(self.inner.read(timeout), "rx")

    def close(self) -> None:
        self.inner.close()

    def describe(self) -> str:
        return f"faulty({self.inner.describe()})"
