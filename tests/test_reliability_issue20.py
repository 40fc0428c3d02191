"""Issue 20: defects an adversarial review found (items 1, 2, 3, 5, 6, 9, 11, 13, 14).

Each test is a regression test that failed before its fix. The cases are counted and printed with the
other reliability figures at the end of the run (tests/conftest.py record_figures).
"""

from __future__ import annotations

import json
import os
import resource
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import record_figures
from microaot.errors import RpcError
from microaot.rpc import protocol as P
from microaot.rpc.framing import FrameDecoder, encode_frame
from microaot.rpc.session import RpcProtocolError, RpcTimeoutError, Session
from microaot.rpc.transport import SubprocessTransport

FAKE_DEVICE = Path(__file__).parent / "fake_rpc_device.py"
COUNTS: Counter[str] = Counter()
NONCE = 0x1234ABCD


def fake_device(mode: str, *args: object) -> SubprocessTransport:
    return SubprocessTransport([sys.executable, FAKE_DEVICE, mode, *map(str, args)])


# ---- item 3: a device flooding bytes ------------------------------------------------------------
@pytest.mark.parametrize("mode", ["flood-zeros", "flood-random", "flood-frames"])
def test_flooding_device_fails_fast_in_bounded_memory(mode: str) -> None:
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    dev = fake_device(mode)
    s = Session(dev, timeout=2.0, retries=2, name=f"{mode} device")
    t0 = time.monotonic()
    try:
        with pytest.raises(RpcError) as e:
            s.hello()
        took = time.monotonic() - t0
    finally:
        dev.proc.kill()
        s.close()
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    assert took < 2.0 + 2.0, f"{mode}: raised after {took:.1f} s, timeout 2 s (3 attempts)"
    assert grew_mb < 64, f"{mode}: peak RSS grew by {grew_mb:.0f} MB"
    assert "without a valid reply" in str(e.value) and f"{mode} device" in str(e.value)
    COUNTS["flooding devices"] += 1


# ---- item 6: the first RUN on a slow or hung device ---------------------------------------------
def test_run_that_outlasts_its_timeout_is_not_resent(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    s = Session(fake_device("slow", 0.15, runs), timeout=2.0, retries=2)
    with s:
        s.hello()
        timing = s.run(3, timeout=0.2)  # the model takes 0.45 s: the RUN times out while executing
        assert timing.n == 3 and timing.per_run == (150000,) * 3
        assert s.stats().frames_ok == 0  # the link still works (the probe's reply was dropped as stale)
    time.sleep(0.6)  # a resent RUN would run now
    assert runs.read_text().count("run") == 3
    COUNTS["slow device: RUN never resent"] += 1


class NoisyLink:
    """Wraps a transport; after each RUN request, the host first reads a frame corrupted on the line."""

    def __init__(self, inner: SubprocessTransport) -> None:
        self.inner = inner
        self.noise = b""
        self.injected = 0

    def write(self, data: bytes) -> None:
        if any(ev.payload is not None and ev.payload[0] == P.Cmd.RUN for ev in FrameDecoder().feed(data)):
            self.noise = b"\x7e\x05\x00junk\x7e"  # a frame whose length and CRC are wrong
        self.inner.write(data)

    def read(self, timeout: float) -> bytes:
        if self.noise:
            data, self.noise = self.noise, b""
            self.injected += 1
            return data
        return self.inner.read(timeout)

    def close(self) -> None:
        self.inner.close()

    def describe(self) -> str:
        return "noisy " + self.inner.describe()


def test_noise_during_a_run_does_not_run_the_model_again(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    link = NoisyLink(fake_device("slow", 0.3, runs))
    with Session(link, timeout=5.0, retries=2, resend_after=0.05) as s:  # type: ignore[arg-type]
        s.hello()
        timing = s.run(3, timeout=5.0)
        assert timing.n == 3 and link.injected == 1 and s.host_frame_errors == 1
    time.sleep(1.2)  # a resent RUN would run now
    assert runs.read_text().count("run") == 3
    COUNTS["slow device: RUN never resent"] += 1


def test_slow_device_runs_the_model_exactly_n_times(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with Session(fake_device("slow", 0.05, runs), timeout=0.5, retries=2) as s:
        s.hello()
        timing = s.run(12)
        assert timing.n == 12 and timing.total == 12 * 50000 and len(timing.per_run) == 12
        s.run(2)
    assert runs.read_text().count("run") == 14
    COUNTS["slow device: runs counted"] += 1


def test_hung_device_fails_within_one_run_timeout() -> None:
    with Session(fake_device("hung"), timeout=0.5, retries=2) as s:
        s.hello()
        t0 = time.monotonic()
        with pytest.raises(RpcTimeoutError, match="the device is hung") as e:
            s.run(1000)
        took = time.monotonic() - t0
    # one measured run: timeout + 4 x the 1 s guess, then the probe's timeout
    assert took < 0.5 + 4.0 + 0.5 + 3.0, f"hung device: raised after {took:.1f} s"
    assert "RUN" in str(e.value) and "not resent" in str(e.value)
    COUNTS["hung device"] += 1


# ---- item 14: every field of every reply is validated --------------------------------------------
def hello_body(max_payload: int = 512, version: int = 1, unit: int = 3, pmin: int = 1, pmax: int = 1,
               strings: bytes = b"\x04host\x04fake\x00") -> bytes:
    return P.HELLO_FIXED.pack(version, unit, P.FLAG_MODEL_OK | P.FLAG_PROFILE | P.FLAG_OPCHECK, 1, max_payload,
                              1, 1, 2, 0, 1, pmin, pmax, 64, 0) + strings


def tensor_body(index: int, idx: int | None = None, scale: float = 0.5, rank: int = 2) -> bytes:
    dims = [1, 8] + [1] * (rank - 2) if rank >= 2 else [8]
    return (P.INFO_TENSOR_FIXED.pack(1, rank, index if idx is None else idx, 8, scale, 0)
            + struct.pack(f"<{len(dims)}i", *dims) + b"\x01x")


def run_body(n: int, rn: int | None = None, unit: int = 3, kept: int | None = None, tmin: int = 5,
             tmax: int = 9, total: int | None = None) -> bytes:
    rn = n if rn is None else rn
    kept = n if kept is None else kept
    total = 7 * n if total is None else total
    return P.RUN_FIXED.pack(rn, unit, 0, kept, tmin, tmax, total, 0) + struct.pack(f"<{kept}I", *([7] * kept))


def profile_body(first: int, count: int, num: int = 2, runs: int = 1, unit: int = 3) -> bytes:
    return P.PROFILE_FIXED.pack(num, first, count, unit, 0, runs, 0, 100) + struct.pack(f"<{count}Q", *([10] * count))


def opcheck_body(first: int, count: int, num: int = 2) -> bytes:
    return P.OPCHECK_FIXED.pack(num, first, count, 0) + struct.pack(f"<{count}I", *([1] * count))


class ScriptedDevice:
    """A Transport whose device answers each request with ``answer(cmd, args)``."""

    def __init__(self, answer: Callable[[int, bytes], bytes]) -> None:
        self.answer = answer
        self.dec = FrameDecoder()
        self.out = bytearray()

    def write(self, data: bytes) -> None:
        for ev in self.dec.feed(data):
            assert ev.payload is not None
            cmd, _f, seq, _n = P.HEADER.unpack_from(ev.payload)
            body = self.answer(cmd, ev.payload[P.HEADER_SIZE:])
            self.out += encode_frame(P.HEADER.pack(cmd | P.REPLY_BIT, 0, seq, NONCE) + body)

    def read(self, timeout: float) -> bytes:
        data, self.out = bytes(self.out), bytearray()
        return data

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "scripted device"


def good_answer(cmd: int, args: bytes) -> bytes:
    if cmd == P.Cmd.HELLO:
        return hello_body()
    if cmd == P.Cmd.INFO:
        index = int.from_bytes(args[2:4], "little")
        return struct.pack("<H", index) + b"\x03ADD" if args[0] == 2 else tensor_body(index)
    if cmd == P.Cmd.RUN:
        return run_body(int.from_bytes(args[:4], "little"))
    if cmd == P.Cmd.PROFILE:
        return profile_body(int.from_bytes(args[4:6], "little"), 2, runs=int.from_bytes(args[:4], "little"))
    if cmd == P.Cmd.OPCHECK:
        return opcheck_body(int.from_bytes(args[2:4], "little"), 2)
    if cmd == P.Cmd.STATS:
        return P.STATS_FIXED.pack(*range(12))
    if cmd == P.Cmd.READ_OUTPUT:
        return bytes(int.from_bytes(args[8:12], "little"))
    return b""


# (what the device bends, command it bends, its reply body given the request args, message fragment)
BAD_REPLIES: list[tuple[str, int, Callable[[bytes], bytes], str]] = [
    ("max payload 16", P.Cmd.HELLO, lambda a: hello_body(max_payload=16), "max payload 16"),
    ("max payload 0", P.Cmd.HELLO, lambda a: hello_body(max_payload=0), "max payload 0"),
    ("protocol version 9", P.Cmd.HELLO, lambda a: hello_body(version=9, pmax=9), "protocol version 9"),
    ("version outside its range", P.Cmd.HELLO, lambda a: hello_body(pmin=2, pmax=3), "protocol range 2..3"),
    ("unknown timer unit", P.Cmd.HELLO, lambda a: hello_body(unit=77), "timer unit code 77"),
    ("cut board string", P.Cmd.HELLO, lambda a: hello_body(strings=b"\x40ab"), "board string"),
    ("cut hash string", P.Cmd.HELLO, lambda a: hello_body(strings=b"\x01a\x01b\x09"), "model hash string"),
    ("tensor index echoed wrong", P.Cmd.INFO,
     lambda a: struct.pack("<H", 0) + b"\x03ADD" if a[0] == 2 else tensor_body(0, idx=5), "asked for 0"),
    ("tensor rank 200", P.Cmd.INFO,
     lambda a: struct.pack("<H", 0) + b"\x03ADD" if a[0] == 2 else tensor_body(0, rank=200), "rank 200"),
    ("tensor scale NaN", P.Cmd.INFO,
     lambda a: struct.pack("<H", 0) + b"\x03ADD" if a[0] == 2 else tensor_body(0, scale=float("nan")), "scale nan"),
    ("op index echoed wrong", P.Cmd.INFO,
     lambda a: struct.pack("<H", 7) + b"\x03ADD" if a[0] == 2 else tensor_body(0), "operator 7 when asked for"),
    ("cut op name", P.Cmd.INFO,
     lambda a: struct.pack("<H", a[2]) + b"\x09AD" if a[0] == 2 else tensor_body(0), "name string"),
    ("RUN n=0", P.Cmd.RUN, lambda a: run_body(0, kept=0, total=0), "0 runs (asked for"),
    ("RUN n differs", P.Cmd.RUN, lambda a: run_body(int.from_bytes(a[:4], "little"), rn=3), "3 runs (asked for"),
    ("RUN unknown unit", P.Cmd.RUN, lambda a: run_body(1, unit=0), "timer unit code 0"),
    ("RUN kept > n", P.Cmd.RUN, lambda a: run_body(1, kept=5), "5 per-run times"),
    ("RUN min > max", P.Cmd.RUN, lambda a: run_body(1, tmin=10, tmax=2, total=5), "cannot come from"),
    ("RUN total too large", P.Cmd.RUN, lambda a: run_body(1, total=10**6), "cannot come from"),
    ("RUN per-run outside min/max", P.Cmd.RUN, lambda a: run_body(1, tmin=8, tmax=9, total=8), "outside its own min"),
    ("PROFILE runs=0", P.Cmd.PROFILE, lambda a: profile_body(0, 2, runs=0), "0 runs (asked for 1)"),
    ("PROFILE unknown unit", P.Cmd.PROFILE, lambda a: profile_body(0, 2, unit=99), "timer unit code 99"),
    ("PROFILE count beyond num_ops", P.Cmd.PROFILE, lambda a: profile_body(0, 3), "answered operators 0..2 of 2"),
    ("PROFILE page from the wrong op", P.Cmd.PROFILE,
     lambda a: profile_body(0, 1) if a[4] == 1 else profile_body(0, 1), "when asked from operator 1"),
    ("OPCHECK num_ops differs", P.Cmd.OPCHECK, lambda a: opcheck_body(0, 1, num=1), "HELLO said 2"),
    ("OPCHECK extra bytes", P.Cmd.OPCHECK, lambda a: opcheck_body(0, 2) + b"\x00", "in 17 bytes"),
    ("OPCHECK page empty", P.Cmd.OPCHECK, lambda a: opcheck_body(a[2], 1 if a[2] == 0 else 0), "no entries"),
    ("READ_OUTPUT short", P.Cmd.READ_OUTPUT, lambda a: bytes(3), "got 3"),
]


@pytest.mark.parametrize("bent", BAD_REPLIES, ids=[b[0] for b in BAD_REPLIES])
def test_device_values_are_validated(bent: tuple[str, int, Callable[[bytes], bytes], str]) -> None:
    _what, cmd, body, fragment = bent

    def answer(c: int, args: bytes) -> bytes:
        return body(args) if c == cmd else good_answer(c, args)

    s = Session(ScriptedDevice(answer), timeout=0.5, retries=0)
    with pytest.raises(RpcProtocolError) as e:
        s.hello()
        s.run(1)
        s.write_input(0, __import__("numpy").zeros((1, 8), "int8"))
        s.read_output(0)
        s.profile()
        s.op_hashes()
    assert fragment in str(e.value), str(e.value)
    assert P.cmd_name(cmd) in str(e.value)
    COUNTS["bent device replies"] += 1


def test_good_scripted_device_passes() -> None:
    """The validation accepts what a correct device sends (so the cases above test one field each)."""
    import numpy as np

    s = Session(ScriptedDevice(good_answer), timeout=0.5, retries=0)
    info = s.hello()
    assert info.max_payload == 512 and info.op_names == ("ADD", "ADD")
    assert s.run(3).n == 3
    s.write_input(0, np.zeros((1, 8), np.int8))
    assert s.read_output(0).shape == (1, 8)
    assert len(s.profile(2)) == 2 and s.op_hashes() == [1, 1]


# ---- item 13: the model file is checked before it is read whole ---------------------------------
def _load_in_thread(path: Path, seconds: float = 5.0) -> BaseException | None:
    """load_tflite(path) in a thread; the exception it raised (a hang fails the test)."""
    from microaot.frontend.tflite import load_tflite

    out: list[BaseException] = []

    def go() -> None:
        try:
            load_tflite(path)
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out.append(e)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"load_tflite({path}) still running after {seconds} s"
    return out[0] if out else None


def _sparse(path: Path, size: int, head: bytes) -> Path:
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size)
    return path


NOT_MODELS: list[tuple[str, Callable[[Path], Path], str]] = [
    ("fifo", lambda d: (os.mkfifo(d / "m.tflite"), d / "m.tflite")[1], "is a FIFO (named pipe), not a model file"),
    ("dev-zero", lambda d: Path("/dev/zero"), "is a device, not a model file"),
    ("directory", lambda d: (d / "m.tflite").mkdir() or d / "m.tflite", "a directory, not a model file"),
    ("3 GB non-model", lambda d: _sparse(d / "big.tflite", 3 << 30, b"\x00" * 16), "file identifier 'TFL3' missing"),
    ("3 GB model header", lambda d: _sparse(d / "big.tflite", 3 << 30, b"\x1c\x00\x00\x00TFL3" + bytes(8)),
     "larger than any model microaot compiles"),
    ("empty", lambda d: _sparse(d / "e.tflite", 0, b""), "0 bytes is too small"),
]


@pytest.mark.parametrize("case", NOT_MODELS, ids=[c[0] for c in NOT_MODELS])
def test_model_file_is_checked_before_it_is_read(case: tuple[str, Callable[[Path], Path], str],
                                                 tmp_path: Path) -> None:
    from microaot.errors import ModelFormatError

    _what, make, fragment = case
    path = make(tmp_path)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    err = _load_in_thread(path)
    assert isinstance(err, ModelFormatError), repr(err)
    assert str(err).startswith(f"{path}: ") and fragment in str(err), str(err)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) < 64 * 1024  # KB: never read whole
    COUNTS["non-model files refused"] += 1


def test_compile_cli_refuses_a_fifo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from microaot.cli import main

    fifo = tmp_path / "pipe.tflite"
    os.mkfifo(fifo)
    assert main(["compile", str(fifo), "-o", str(tmp_path / "out")]) == 2
    assert f"error: {fifo}: is a FIFO (named pipe), not a model file" in capsys.readouterr().err
    COUNTS["non-model files refused"] += 1


# ---- item 9: a corrupted tuning log is a clear error naming file and line -------------------------
GOOD_RECORD = {"v": 1, "signature": "SIG", "board": "host", "target": "generic", "generator": "x", "op": "ADD",
               "knobs": {"k": 1}, "time": 5.0, "unit": "ns", "default_time": 6.0, "bitexact": True}
BAD_LOG_LINES: list[tuple[str, bytes, str]] = [
    ("time a string", json.dumps({**GOOD_RECORD, "time": "fast"}).encode(), '"time" is "fast", not a time'),
    ("knobs a number", json.dumps({**GOOD_RECORD, "knobs": 5}).encode(), '"knobs" is 5, not an object'),
    ("time NaN", json.dumps({**GOOD_RECORD, "time": float("nan")}).encode(), "NaN is not a number"),
    ("time negative", json.dumps({**GOOD_RECORD, "time": -1}).encode(), '"time" is -1'),
    ("default_time a list", json.dumps({**GOOD_RECORD, "default_time": [1]}).encode(), '"default_time" is [1]'),
    ("bitexact a string", json.dumps({**GOOD_RECORD, "bitexact": "no"}).encode(), '"bitexact" is "no"'),
    ("signature a number", json.dumps({**GOOD_RECORD, "signature": 7}).encode(), '"signature" is 7'),
    ("invalid UTF-8", b'{"signature": "\xff\xfe"}', "not UTF-8 text"),
    ("a JSON list", b"[1, 2]", "list where a record (JSON object) belongs"),
    ("legacy op_index a string", json.dumps({"op_index": "two", "knobs": {}, "time": 1.0}).encode(),
     '"op_index" is "two"'),
    ("legacy op_index negative", json.dumps({"op_index": -3, "knobs": {}, "time": 1.0}).encode(), '"op_index" is -3'),
    ("legacy time a string", json.dumps({"op_index": 0, "knobs": {}, "time": "slow"}).encode(), '"time" is "slow"'),
    ("legacy knobs a string", json.dumps({"op_index": 0, "knobs": "fast", "time": 1.0}).encode(), '"knobs" is "fast"'),
    ("legacy model_hash a number", json.dumps({"op_index": 0, "model_hash": 1, "time": 1.0}).encode(),
     '"model_hash" is 1'),
]


@pytest.mark.parametrize("bad", BAD_LOG_LINES, ids=[b[0] for b in BAD_LOG_LINES])
def test_corrupted_tuning_log_is_a_clear_cli_error(bad: tuple[str, bytes, str], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import mlperf_model
    from microaot.cli import main

    _what, line, fragment = bad
    log = tmp_path / "tune.jsonl"
    log.write_bytes(json.dumps(GOOD_RECORD).encode() + b"\n\n" + line + b"\n")
    code = main(["compile", str(mlperf_model("ad")), "-o", str(tmp_path / "out"), "--target", "cortex-m4",
                 "--tuning-log", str(log)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert err.startswith(f"error: tuning log {log}:3: ") and fragment in err and "fix or delete that line" in err, err
    COUNTS["corrupted tuning logs"] += 1


# ---- item 1: export --force never loses the user's files ------------------------------------------
def _export(out: Path, model: str = "ad", **kw: object) -> None:
    from conftest import mlperf_model
    from microaot.export import export_library

    export_library(mlperf_model(model), out, name="net", measure=False, **kw)  # type: ignore[arg-type]


def _user_project(d: Path) -> dict[str, bytes]:
    files = {"src/main.c": b"int main(void) { return 0; }\n", "notes.txt": b"my notes\n",
             "model/ad.tflite": b"not really a model", "include/mine.h": b"#define MINE 1\n"}
    for rel, data in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(data)
    return files


def test_export_into_a_project_keeps_the_users_files(tmp_path: Path) -> None:
    proj = tmp_path / "project"
    mine = _user_project(proj)
    _export(proj, force=True)  # into the user's project: writes microaot_export.json there
    assert (proj / "src" / "net.c").is_file() and (proj / "microaot_export.json").is_file()
    _export(proj)  # the next export (no --force) once deleted the whole folder
    _export(proj, "kws")  # another model: other kernels; the first export's files are replaced/removed
    for rel, data in mine.items():
        assert (proj / rel).read_bytes() == data, rel
    listed = json.loads((proj / "microaot_export.json").read_text())["files"]
    on_disk = {p.relative_to(proj).as_posix() for p in proj.rglob("*") if p.is_file()}
    assert on_disk == set(listed) | set(mine) | {"microaot_export.json"}  # no stale kernel of the AD export
    assert "include/net.h" in listed and "README.md" in listed and "library.json" in listed
    COUNTS["export: user files kept"] += 1


def test_export_does_not_overwrite_a_changed_exported_file(tmp_path: Path) -> None:
    from microaot.errors import MicroaotError

    out = tmp_path / "lib"
    _export(out)
    (out / "src" / "net.c").write_text("/* my fix */\n")
    (out / "README.md").write_text("my readme\n")
    with pytest.raises(MicroaotError) as e:
        _export(out)
    msg = str(e.value)
    assert msg.startswith(f"export of ad_autoencoder_int8.tflite: {out} holds 2 exported file(s) changed since the "
                          "last export (README.md, src/net.c)"), msg
    assert "save your changes elsewhere" in msg and "--force" in msg
    assert (out / "src" / "net.c").read_text() == "/* my fix */\n"
    _export(out, force=True)  # the user asked: overwritten
    assert (out / "src" / "net.c").read_text() != "/* my fix */\n"
    COUNTS["export: changed files refused"] += 1


def test_export_removes_only_unchanged_files_of_the_previous_export(tmp_path: Path) -> None:
    import hashlib

    from microaot.errors import MicroaotError

    out = tmp_path / "lib"
    _export(out)
    prov_path = out / "microaot_export.json"
    prov = json.loads(prov_path.read_text())
    for rel, text in {"old/gone.c": "a", "old2/gone.c": "b", "old3/edited.c": "c"}.items():
        (out / rel).parent.mkdir()
        (out / rel).write_text(text)
        prov["files"][rel] = {"sha256": hashlib.sha256(text.encode()).hexdigest(), "from": "generated"}
    prov_path.write_text(json.dumps(prov))
    (out / "old2" / "mine.txt").write_text("mine")
    (out / "old3" / "edited.c").write_text("changed by the user")
    with pytest.warns(UserWarning, match=r"kept 1 file\(s\) of the previous export that you changed .*old3/edited.c"):
        _export(out)
    assert not (out / "old").exists()  # emptied: removed
    assert not (out / "old2" / "gone.c").exists() and (out / "old2" / "mine.txt").read_text() == "mine"
    assert (out / "old3" / "edited.c").read_text() == "changed by the user"
    # a record listing a path outside the folder is refused, and nothing outside is touched
    victim = tmp_path / "victim.txt"
    victim.write_text("v")
    prov = json.loads(prov_path.read_text())
    prov["files"]["../victim.txt"] = {"sha256": hashlib.sha256(b"v").hexdigest()}
    prov_path.write_text(json.dumps(prov))
    with pytest.raises(MicroaotError, match=r"lists the path '../victim.txt', which is not inside the folder"):
        _export(out)
    assert victim.read_text() == "v"
    COUNTS["export: stale files"] += 1


# ---- item 2: private per-user temporary folders, locks that never follow links ------------------
@pytest.fixture
def tmpdir_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$TMPDIR for this test (tempfile.gettempdir() answers it)."""
    import tempfile

    root = tmp_path / "tmp"
    root.mkdir()
    root.chmod(0o1777)  # like /tmp: world-writable, sticky
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _no_build(*_a: object, **_k: object) -> None:
    raise AssertionError("a build was started in a folder another user controls")


def _plant(root: Path, how: str) -> str:
    """Pre-create what another user would: the per-user folder open to all, a symlink, or owned by another uid."""
    mine = root / f"microaot-{os.geteuid()}"
    if how == "world-writable":
        for d in (mine, mine / "eval", mine / "tune"):
            d.mkdir()
            d.chmod(0o777)
        return "has mode 0777: other users can reach it"
    if how == "symlink":
        (root / "elsewhere").mkdir(mode=0o700)
        mine.symlink_to(root / "elsewhere")
        return "is a symbolic link, which another user may have planted"
    mine.mkdir(mode=0o700)
    os.chown(mine, 12345, 12345)
    return "belongs to user id 12345, not to you"


PLANTS = ["world-writable", "symlink", pytest.param("other-owner", marks=pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to give a folder to another user"))]


@pytest.mark.parametrize("how", PLANTS)
def test_eval_refuses_a_planted_temporary_folder(how: str, tmpdir_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import mlperf_model
    from microaot.errors import MicroaotError
    from microaot.evaluate import eval_model
    from microaot.pio import project as pio_project

    # the old shared path too: a folder another user made, with their code in src/
    fragment = _plant(tmpdir_root, how)
    monkeypatch.setattr(pio_project, "build", _no_build)
    with pytest.raises(MicroaotError) as e:
        eval_model(mlperf_model("ad"), "host")
    assert f"microaot's temporary folder {tmpdir_root / f'microaot-{os.geteuid()}'}" in str(e.value)
    assert fragment in str(e.value) and "TMPDIR" in str(e.value)
    COUNTS["planted temporary folders refused"] += 1


@pytest.mark.parametrize("how", PLANTS)
def test_tune_refuses_a_planted_temporary_folder(how: str, tmpdir_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import mlperf_model
    from microaot.errors import MicroaotError
    from microaot.tune import tuner

    fragment = _plant(tmpdir_root, how)
    monkeypatch.setattr(tuner, "PioFirmware", _no_build)
    with pytest.raises(MicroaotError) as e:
        tuner.tune_model(mlperf_model("ad"), "host", log=tmpdir_root / "log.jsonl", progress=False)
    assert fragment in str(e.value)
    COUNTS["planted temporary folders refused"] += 1


def test_private_temp_dir_is_created_private(tmpdir_root: Path) -> None:
    from microaot.fsutil import private_temp_dir

    d = private_temp_dir("eval")
    assert d == tmpdir_root / f"microaot-{os.geteuid()}" / "eval"
    for p in (d, d.parent):
        st = p.lstat()
        assert st.st_mode & 0o777 == 0o700 and st.st_uid == os.geteuid()
    assert private_temp_dir("eval") == d  # an existing private folder is fine


def test_tuner_lock_never_follows_a_planted_symlink(tmp_path: Path) -> None:
    from microaot.errors import MicroaotError
    from microaot.tune.tuner import _lock_work_dir

    victim = tmp_path / "precious.txt"
    victim.write_text("do not truncate me")
    work = tmp_path / "work"
    work.mkdir()
    (work / ".lock").symlink_to(victim)
    with pytest.raises(MicroaotError, match=r"lock file .*\.lock is a symbolic link"):
        _lock_work_dir(work)
    assert victim.read_text() == "do not truncate me"
    (work / ".lock").unlink()
    lock = _lock_work_dir(work)  # a plain lock file: taken, and exclusive
    with pytest.raises(MicroaotError, match="another `microaot tune` is using"):
        _lock_work_dir(work)
    lock.close()
    _lock_work_dir(work).close()
    COUNTS["planted lock symlinks refused"] += 1


# ---- item 5: two evals of one model and board do not race in one project folder ----------------
def test_concurrent_evals_take_turns_in_their_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import mlperf_model
    from microaot.evaluate import eval_model
    from microaot.pio import project as pio_project

    spans: list[tuple[float, float]] = []

    class Stop(Exception):
        pass

    def slow_build(project: Path, *_a: object, **_k: object) -> None:
        t0 = time.monotonic()
        time.sleep(1.0)  # a build: rpc_server.o and friends rewritten in project/.pio
        spans.append((t0, time.monotonic()))
        raise Stop(str(project))

    monkeypatch.setattr(pio_project, "build", slow_build)
    errors: list[BaseException] = []

    def one() -> None:
        try:
            eval_model(mlperf_model("ad"), "host", work_dir=tmp_path)
        except BaseException as e:  # noqa: BLE001 - collected
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(errors) == 3 and all(isinstance(e, Stop) for e in errors), errors
    assert len({str(e) for e in errors}) == 1  # one project folder
    spans.sort()
    overlaps = [(a, b) for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]
    assert not overlaps, f"builds overlapped in one project folder: {spans}"
    assert "waiting for another microaot eval using" in capsys.readouterr().err
    COUNTS["concurrent evals serialized"] += 3


@pytest.mark.slow
@pytest.mark.pio
def test_two_real_concurrent_evals_both_pass(tmp_path: Path) -> None:
    import subprocess

    from conftest import mlperf_model

    cmd = [sys.executable, "-m", "microaot.evaluate", str(mlperf_model("ad")), "--board", "host",
           "--work-dir", str(tmp_path), "--seeds", "1", "--no-check-tensors"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outs, strict=True):
        assert p.returncode == 0 and "MATCH (bit-exact)" in out, out
    COUNTS["concurrent evals serialized"] += 2


# ---- item 11: eval of a model with more than 128 operators ---------------------------------------
def add_chain(n: int, path: Path) -> Path:
    """An int8 model of n ADD operators in a chain (x + c0 + c1 + ...)."""
    import numpy as np

    from microaot.testing.modelgen import AddOptions, ModelBuilder, Quant

    mb = ModelBuilder()
    q = Quant.per_tensor(0.05, 0)
    x = mb.add_input("x", (1, 16), "int8", quant=q)
    rng = np.random.default_rng(n)
    for i in range(n):
        c = mb.add_const(f"c{i}", rng.integers(-3, 4, size=(1, 16)), "int8", quant=q)
        y = mb.add_tensor(f"y{i}", (1, 16), "int8", quant=q)
        mb.add_operator("ADD", [x, c], [y], AddOptions())
        x = y
    mb.outputs.append(x)
    path.write_bytes(mb.to_bytes())
    return path


@pytest.mark.pio
def test_eval_checks_and_profiles_every_operator_of_a_large_model(tmp_path: Path) -> None:
    from microaot.evaluate import eval_model

    model = add_chain(150, tmp_path / "chain150.tflite")
    rep = eval_model(model, "host", work_dir=tmp_path / "work", seeds=1)
    assert rep.outputs_match
    assert rep.tensors_match is True, rep.tensor_diagnosis  # OPCHECK paged through all 150 operators
    assert [o.index for o in rep.ops] == list(range(150)) and not rep.skipped
    COUNTS["eval of > 128 operators"] += 1


def test_eval_says_what_it_skipped_on_a_small_op_table(tmp_path: Path) -> None:
    from microaot.boards import get_board
    from microaot.compiler import compile_model
    from microaot.evaluate import evaluate_firmware
    from microaot.pio.build import BuildInfo
    from microaot.rpc.hostboard import build_host_board

    model = add_chain(130, tmp_path / "chain130.tflite")
    res = compile_model(model, tmp_path / "gen")
    exe = build_host_board(res, tmp_path / "fw")  # the crt default: UAOT_RPC_MAX_OPS 128
    info = BuildInfo(key="", board="host", port="host", mode="rpc", model=str(model), model_hash=res.model_hash,
                     name=res.name, workspace_size=int(res.workspace_size), weight_bytes=int(res.weight_bytes))
    rep = evaluate_firmware(model, get_board("host"), exe, info, seeds=1)
    assert rep.outputs_match and rep.tensors_match is None and not rep.ops
    assert len(rep.skipped) == 2
    text = rep.format_text()
    for what in ("the per-operator tensor check (OPCHECK)", "the per-operator profile (PROFILE)"):
        assert f"skipped: {what}: the firmware's RPC server has no per-operator table for this model's 130 " \
               "operators" in text, text
    assert "build_flags = -D UAOT_RPC_MAX_OPS=130" in text
    COUNTS["eval of > 128 operators"] += 1


def test_zz_issue20_figures() -> None:
    record_figures("issue 20 regression cases", dict(COUNTS))
