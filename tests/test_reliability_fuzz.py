"""Issue 7: libFuzzer (clang, ASan + UBSan) on the C RPC server: framing + nonce check + dispatch.

The harness is tests/fuzz/rpc_fuzz.c (input format and oracles at its top), the seed corpus
tests/fuzz/corpus/ (tests/fuzz/make_corpus.py writes it: every golden frame, a valid request of every
command, whole sessions). Four builds (BUILDS below) are fuzzed side by side for a bounded time.
New corpus entries go to a temporary folder, never into the repository.

Any crash fails the test and names the reproducer; check it in as tests/fuzz/crashes/<name> (the
replay test below then runs it on every build) and fix the server.

    MICROAOT_FUZZ_SECONDS=300 .venv/bin/python -m pytest tests/test_reliability_fuzz.py   # a longer hunt
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import record_figures
from microaot.paths import crt_root
from microaot.rpc import protocol as P
from microaot.rpc.glue import write_rpc_glue

FUZZ_DIR = Path(__file__).parent / "fuzz"
CORPUS = FUZZ_DIR / "corpus"
CRASHES = FUZZ_DIR / "crashes"
C_DIR = Path(__file__).parent / "c"
CLANG = shutil.which("clang") or shutil.which("clang-14")
SECONDS = int(os.environ.get("MICROAOT_FUZZ_SECONDS", "8"))
# the default build, the smallest max payload, a profile table smaller than the model (PROFILE
# answers ERR_UNSUPPORTED, the op hooks skip the table), and glue whose workspace is smaller than the
# model's (the server must refuse the model: HELLO without MODEL_OK, RUN/INFO answer ERR_MODEL)
BUILDS: dict[str, dict[str, str]] = {
    "payload512": {}, "payload128": {"UAOT_RPC_MAX_PAYLOAD": "128"}, "max_ops1": {"UAOT_RPC_MAX_OPS": "1"},
    "bad_glue": {"FUZZ_BAD_GLUE": "1"},
}
FAKE = SimpleNamespace(name="fake", header=C_DIR / "rpc_fake_model.h", sources=[C_DIR / "rpc_fake_model.c"],
                       kernel_sources=[], workspace_size=32, graph=None)

pytestmark = pytest.mark.skipif(CLANG is None, reason="clang with libFuzzer needed (scripts/bootstrap.sh)")


def build_fuzzer(out_dir: Path, defines: dict[str, str]) -> Path:
    assert CLANG is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    glue = write_rpc_glue(FAKE, out_dir)
    if "FUZZ_BAD_GLUE" in defines:
        text = glue.read_text()
        glue.write_text(text.replace("uaot_app_workspace_size = (uint32_t)(fake_WORKSPACE_SIZE)",
                                     "uaot_app_workspace_size = (uint32_t)(fake_WORKSPACE_SIZE - 16)"))
        assert glue.read_text() != text
    src = crt_root() / "src"
    exe = out_dir / "rpc_fuzz"
    cmd = [CLANG, "-std=c99", "-g", "-O1", "-Wall", "-Wextra", "-Werror",
           "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all",
           f"-I{crt_root() / 'include'}", f"-I{C_DIR}", f"-I{out_dir}",
           "-DUAOT_RPC_MAX_RUNS=64",  # keeps RUN/PROFILE fast enough to fuzz; the checks are the same
           *(f"-D{k}={v}" for k, v in defines.items()),
           str(FUZZ_DIR / "rpc_fuzz.c"), str(src / "framing.c"), str(src / "crc16.c"),
           str(src / "platform_defaults.c"), str(C_DIR / "rpc_fake_model.c"), str(glue), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    if proc.returncode != 0 and "libclang_rt.fuzzer" in proc.stderr + proc.stdout:
        pytest.skip("clang's libFuzzer runtime is missing (apt-get install libclang-rt-14-dev)")
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return exe


@pytest.fixture(scope="module")
def fuzzers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("fuzz")
    with ThreadPoolExecutor(len(BUILDS)) as pool:
        futs = {k: pool.submit(build_fuzzer, d / k, v) for k, v in BUILDS.items()}
        return {k: f.result() for k, f in futs.items()}


def _records(data: bytes) -> list[tuple[int, bytes]]:
    out, at = [], 0
    while at < len(data):
        op = data[at]
        n = int.from_bytes(data[at + 1:at + 3], "little")
        out.append((op, data[at + 3:at + 3 + n]))
        at += 3 + n
    return out


def test_seed_corpus_covers_every_command() -> None:
    seen = set()
    raw = 0
    for f in CORPUS.iterdir():
        for op, body in _records(f.read_bytes()):
            if op & 3 == 0:
                raw += 1
            elif len(body) >= P.HEADER_SIZE:
                seen.add(body[0])
                if body[0] == P.Cmd.INFO:
                    seen.add(("INFO", struct.unpack_from("<B", body, 8)[0]))
    assert {int(c) for c in P.Cmd} <= seen
    assert {("INFO", 0), ("INFO", 1), ("INFO", 2)} <= seen
    assert raw >= 10  # the golden frames


def run_fuzzer(exe: Path, work: Path, seconds: int, seed: int) -> dict[str, object]:
    corpus = work / "corpus"
    corpus.mkdir(parents=True)
    artifacts = work / "artifacts"
    artifacts.mkdir()
    cmd = [str(exe), f"-max_total_time={seconds}", f"-seed={seed}", "-print_final_stats=1",
           "-timeout=10", "-rss_limit_mb=2048", "-max_len=4096", f"-artifact_prefix={artifacts}/",
           str(corpus), str(CORPUS)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, check=False)
    crashes = sorted(artifacts.iterdir())
    log = proc.stderr
    if proc.returncode != 0 or crashes:
        tail = "\n".join(log.splitlines()[-60:])
        pytest.fail(
            f"libFuzzer found a failure in the RPC server (exit {proc.returncode}); reproducers: "
            f"{[str(c) for c in crashes]}.\nCopy each into tests/fuzz/crashes/ (it becomes a regression test) "
            f"and fix the server. Replay: {exe} <file>\n{tail}"
        )
    execs = int(re.search(r"stat::number_of_executed_units:\s*(\d+)", log).group(1))  # type: ignore[union-attr]
    m = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)/", log)
    cov, ft, corp = (int(x) for x in m[-1]) if m else (0, 0, 0)
    return {"execs": execs, "corpus": corp, "new units": len(list(corpus.iterdir())),
            "edges": cov, "features": ft}


def test_fuzz_rpc_server(fuzzers: dict[str, Path], tmp_path: Path) -> None:
    with ThreadPoolExecutor(len(fuzzers)) as pool:
        futs = {k: pool.submit(run_fuzzer, exe, tmp_path / k, SECONDS, 1 + i)
                for i, (k, exe) in enumerate(fuzzers.items())}
        stats = {k: f.result() for k, f in futs.items()}
    total = sum(int(s["execs"]) for s in stats.values())  # type: ignore[call-overload]
    figs: dict[str, object] = {"seconds per build": SECONDS, "seed corpus": len(list(CORPUS.iterdir())),
                               "execs total": total, "crashes": 0}
    for k, s in stats.items():
        figs[k] = ", ".join(f"{n} {v}" for n, v in s.items())
    record_figures("libFuzzer RPC server (ASan+UBSan)", figs)
    for s in stats.values():
        assert int(s["execs"]) > 1000  # type: ignore[call-overload]
        assert int(s["edges"]) > 100  # type: ignore[call-overload]


def test_replay_crashes_and_corpus(fuzzers: dict[str, Path]) -> None:
    """Every checked-in reproducer (tests/fuzz/crashes/) and seed runs clean on every build."""
    files = sorted(CORPUS.iterdir()) + (sorted(CRASHES.iterdir()) if CRASHES.is_dir() else [])
    files = [f for f in files if f.is_file() and not f.name.startswith(".") and f.suffix != ".md"]
    for k, exe in fuzzers.items():
        proc = subprocess.run([str(exe), *map(str, files)], capture_output=True, text=True, timeout=120,
                              check=False)
        assert proc.returncode == 0, f"{k}: replay failed\n{proc.stderr[-4000:]}"
        assert proc.stderr.count("Executed ") == len(files), proc.stderr[-2000:]
    record_figures("libFuzzer RPC server (ASan+UBSan)", {
        "replayed": f"{len(files)} files x {len(fuzzers)} builds",
        "regression inputs": len(files) - len(list(CORPUS.iterdir()))})
