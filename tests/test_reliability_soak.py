"""Issue 7: soak test. 10,000 RPC round trips with random valid requests (input chunks written at
random offsets, output chunks read, RUN, PROFILE, STATS, HELLO, the odd RESET) on the host board
built with AddressSanitizer + UBSan, serving the two-op fake model (tests/c/rpc_fake_model.c).

Every answer is checked against a host-side mirror of the device's buffers (the fake model is
out0 = in0 + 1, out1 = 2 * in1; it refuses inputs starting 0x80 0x80 with ERR_MODEL). Leaks are
checked on the device's own figures (stats: buffer sizes, frame and failure counters, stack
high-water mark stable after a warm-up that exercises every request kind) and on the board
process's resident memory.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import record_figures
from microaot.rpc import protocol as P
from microaot.rpc.hostboard import build_host_board
from microaot.rpc.session import RpcCommandError, Session
from microaot.rpc.transport import SubprocessTransport

C_DIR = Path(__file__).parent / "c"
FAKE = SimpleNamespace(name="fake", header=C_DIR / "rpc_fake_model.h", sources=[C_DIR / "rpc_fake_model.c"],
                       kernel_sources=[], workspace_size=32, graph=None)
SAN_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]
ROUND_TRIPS = 10_000
WARMUP = 1_000


class Counting:
    """Transport wrapper counting requests (one write per request when the link is clean)."""

    def __init__(self, inner: SubprocessTransport) -> None:
        self.inner = inner
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.inner.write(data)

    def read(self, timeout: float) -> bytes:
        return self.inner.read(timeout)

    def close(self) -> None:
        self.inner.close()

    def describe(self) -> str:
        return self.inner.describe()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Mirror:
    """What the device's input and output buffers must hold."""

    def __init__(self) -> None:
        self.failed_total = 0
        self.reset()

    def reset(self) -> None:
        self.ins = [bytearray(1000), bytearray(12)]
        self.outs = [bytearray(1000), bytearray(12)]
        self.runs = 0
        self.failed = 0

    def run(self) -> bool:
        if self.ins[0][0] == 0x80 and self.ins[0][1] == 0x80:
            return False
        self.outs[0] = bytearray((b + 1) & 0xFF for b in self.ins[0])
        f = np.frombuffer(bytes(self.ins[1]), dtype="<f4")
        self.outs[1] = bytearray((np.float32(2) * f).astype("<f4").tobytes())
        return True


def test_soak_10k_round_trips(tmp_path: Path) -> None:
    exe = build_host_board(FAKE, tmp_path, extra_cflags=SAN_FLAGS)
    link = Counting(SubprocessTransport([exe]))
    s = Session(link, timeout=10.0, retries=0)
    pid = link.inner.proc.pid
    rng = np.random.default_rng(2024)
    m = Mirror()
    kinds: Counter[str] = Counter()
    checked = 0
    info = s.hello()
    nonce = info.nonce
    max_chunk = info.max_payload - P.HEADER_SIZE - P.WRITE_INPUT_ARGS.size
    warm: dict[str, object] = {}
    t0 = time.monotonic()

    def do(kind: str) -> None:
        nonlocal checked
        kinds[kind] += 1
        if kind == "write":
            k = int(rng.integers(0, 2))
            size = len(m.ins[k])
            off = int(rng.integers(0, size))
            n = int(rng.integers(0, min(max_chunk, size - off) + 1))
            if k == 0:
                data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            else:  # whole float32 values (finite: 2 * x is exact)
                off -= off % 4
                n = min(n - n % 4, size - off)
                data = rng.standard_normal(n // 4).astype("<f4").tobytes()
            s.write_input_bytes(k, off, data)
            m.ins[k][off:off + len(data)] = data
        elif kind == "read":
            k = int(rng.integers(0, 2))
            size = len(m.outs[k])
            off = int(rng.integers(0, size))
            n = int(rng.integers(0, min(info.max_payload - P.HEADER_SIZE, size - off) + 1))
            got = s.read_output_bytes(k, off, n)
            assert got == bytes(m.outs[k][off:off + n]), f"output {k} [{off}:{off + n}] differs"
            checked += n
        elif kind in ("run", "profile"):
            n = int(rng.integers(1, 4))
            try:
                if kind == "run":
                    t = s.run(n)
                    assert t.n == n and len(t.per_run) == n and t.min <= t.max
                else:
                    p = s.profile(runs=n)
                    assert p.runs == n and len(p) == 2
                ok = True
            except RpcCommandError as e:
                assert e.status == P.Status.ERR_MODEL and e.detail == 4  # UAOT_ERR_RANGE
                ok = False
            assert ok == m.run(), "RUN succeeded/failed unlike the model"
            if ok:
                m.runs += n
            else:
                m.failed += 1
                m.failed_total += 1
        elif kind == "stats":
            st = s.stats()
            assert (st.workspace_size, st.workspace_buffer, st.io_bytes) == (32, 32, 2 * (1000 + 12))
            assert st.frames_bad == 0 and st.runs_total == m.runs and st.requests_failed == m.failed
        elif kind == "hello":
            again = s.hello()
            assert again.nonce == nonce and again.model_ok and [t.nbytes for t in again.inputs] == [1000, 12]
        elif kind == "refuse":  # an input the model refuses: RUN fails, outputs stay, then repair it
            s.write_input_bytes(0, 0, b"\x80\x80")
            m.ins[0][0:2] = b"\x80\x80"
            do("run")
            s.write_input_bytes(0, 0, b"\x01\x02")
            m.ins[0][0:2] = b"\x01\x02"
        elif kind == "reset":
            s.reset()
            m.reset()
        else:
            raise AssertionError(kind)

    names = ["write", "read", "run", "profile", "stats", "hello", "reset", "refuse"]
    weights = np.array([38, 34, 12, 3, 8, 3, 0.3, 0.5])
    for k in names:  # warm-up: every kind at least once
        do(k)
    while link.writes < ROUND_TRIPS:
        if not warm and link.writes >= WARMUP:
            st = s.stats()
            warm = {"stack": st.stack_high_water, "rss": rss_kb(pid), "rpc": st.rpc_bytes, "static": st.static_ram}
        do(names[int(rng.choice(len(names), p=weights / weights.sum()))])
    elapsed = time.monotonic() - t0
    st = s.stats()
    rss_end = rss_kb(pid)
    s.close()
    proc = link.inner.proc
    assert proc.returncode == 0, f"board exited with {proc.returncode}: {bytes(link.inner._stderr)[-3000:]!r}"
    record_figures("soak (host board, ASan+UBSan)", {
        "round trips": link.writes, "by request": dict(kinds), "output bytes checked": checked,
        "model errors provoked": m.failed_total, "resends": s.resends, "stale replies": s.stale_replies,
        "stack high-water (warm-up -> end)": f"{warm['stack']} -> {st.stack_high_water} bytes",
        "board RSS (warm-up -> end)": f"{warm['rss']} -> {rss_end} kB",
        "seconds": f"{elapsed:.1f}", "round trips/s": int(link.writes / elapsed)})
    assert link.writes >= ROUND_TRIPS
    assert s.resends == 0 and s.stale_replies == 0 and s.host_frame_errors == 0 and s.device_frame_errors == 0
    assert st.frames_bad == 0 and st.requests_failed == m.failed
    assert (st.rpc_bytes, st.static_ram) == (warm["rpc"], warm["static"])
    assert st.stack_high_water == warm["stack"], "stack high-water mark grew after the warm-up"
    assert rss_end - int(warm["rss"]) < 1024, "the board's resident memory grew by more than 1 MB"  # type: ignore[call-overload]
    assert kinds["reset"] >= 1 and m.failed_total >= 10 and kinds["profile"] >= 10


@pytest.mark.parametrize("n", [0])
def test_mirror_model(n: int) -> None:
    m = Mirror()
    m.ins[0][:3] = b"\x7f\xff\x00"
    m.ins[1][:4] = np.float32(1.5).tobytes()
    assert m.run() and m.outs[0][:3] == b"\x80\x00\x01" and m.outs[1][:4] == np.float32(3.0).tobytes()
    m.ins[0][:2] = b"\x80\x80"
    assert not m.run() and n == 0
