"""Board farms on Dask (issue 22): the model-zoo eval on a LocalCluster and on `microaot cluster` +
`microaot worker` processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import MLPERF_MODELS, mlperf_model
from microaot.cluster import parse_board_spec
from microaot.errors import MicroaotError

HAVE_QEMU = shutil.which("qemu-system-arm") is not None and shutil.which("arm-none-eabi-gcc") is not None


def test_board_specs() -> None:
    assert parse_board_spec("qemu_mps2_an386=2") == ("qemu_mps2_an386", 2)
    assert parse_board_spec("host") == ("host", 1)
    with pytest.raises(MicroaotError, match=r"--board 'host=0': SLOTS must be 1 or more"):
        parse_board_spec("host=0")
    with pytest.raises(MicroaotError, match=r"--board 'host=x': SLOTS must be an integer"):
        parse_board_spec("host=x")


def _eval(*args: str, timeout: int = 1500) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "microaot.cli", "eval", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.pio
@pytest.mark.qemu
@pytest.mark.slow
@pytest.mark.skipif(not HAVE_QEMU, reason="needs qemu-system-arm and arm-none-eabi-gcc (scripts/bootstrap.sh)")
def test_model_zoo_on_three_boards_in_one_command(tmp_path: Path) -> None:
    """The four MLPerf models on host + Cortex-M3 + Cortex-M4, builds and measurements spread over a
    LocalCluster of 2 worker processes: one table, one JSON, every evaluation bit-exact."""
    out = tmp_path / "zoo.json"
    r = _eval(*(str(mlperf_model(k)) for k in MLPERF_MODELS), "--boards", "host,qemu_mps2_an385,qemu_mps2_an386",
              "--cluster", "local:2", "--seeds", "1", "--json", str(out))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 12 and all(row["ok"] and row["outputs_match"] for row in rows)
    assert {(row["model"], row["board"]) for row in rows} == {
        (f, b) for f in MLPERF_MODELS.values() for b in ("host", "qemu_mps2_an385", "qemu_mps2_an386")}
    assert all(row["measured_by"].startswith("tcp://127.0.0.1:") for row in rows)
    assert "12 of 12 model x board evaluations bit-exact with TFLM" in r.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.pio
def test_cluster_and_worker_commands(tmp_path: Path) -> None:
    """`microaot cluster` + a `microaot worker` holding the host board: the eval of two models runs there;
    a board no worker holds is refused with the command that would add one."""
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([sys.executable, "-m", "microaot.cli", "cluster", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)]
    try:
        time.sleep(2)
        procs.append(subprocess.Popen([sys.executable, "-m", "microaot.cli", "worker", "--scheduler", addr, "--board",
                                       "host=2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      start_new_session=True))
        time.sleep(3)
        out = tmp_path / "zoo.json"
        r = _eval(str(mlperf_model("ad")), str(mlperf_model("kws")), "--boards", "host", "--cluster", addr,
                  "--seeds", "1", "--json", str(out), timeout=900)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert "1 worker(s); boards: host=2" in r.stderr
        rows = json.loads(out.read_text())["rows"]
        assert [row["ok"] for row in rows] == [True, True]
        r2 = _eval(str(mlperf_model("ad")), "--boards", "qemu_mps2_an385", "--cluster", addr, timeout=300)
        assert r2.returncode == 2
        assert (f"--cluster {addr}: no worker holds board(s) qemu_mps2_an385; start one with `microaot worker "
                f"--scheduler ADDRESS --board qemu_mps2_an385`") in r2.stderr
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
