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


def test_tune_cluster_options() -> None:
    """`--cluster` of `microaot tune` and `custom_microaot_tune_cluster` of `pio run -t tune`."""
    import argparse

    from microaot.pio.target import tune_argv
    from microaot.tune.cli import add_arguments

    argv = tune_argv(Path("m.tflite"), "qemu_mps2_an386", Path("t.jsonl"), cluster="tcp://10.0.0.5:8786")
    assert argv[argv.index("--cluster") + 1] == "tcp://10.0.0.5:8786"
    assert "--cluster" not in tune_argv(Path("m.tflite"), "qemu_mps2_an386", Path("t.jsonl"))
    p = argparse.ArgumentParser()
    add_arguments(p)
    a = p.parse_args([*argv[3:]])
    assert a.cluster == "tcp://10.0.0.5:8786" and a.jobs is None
    assert p.parse_args(["m.tflite"]).cluster is None


def test_tune_cluster_refuses_a_serial_board(tmp_path: Path) -> None:
    from microaot.tune.tuner import TuneError, tune_model

    class NoBackend:  # the check comes before the backend is used
        pass

    with pytest.raises(TuneError, match=r"board nucleo_f446re is real hardware: tuning it on a cluster is not "
                                        r"supported yet .*run `microaot tune --port` on the board's host"):
        tune_model(mlperf_model("ad"), "nucleo_f446re", log=tmp_path / "t.jsonl", backend=NoBackend(),  # type: ignore[arg-type]
                   progress=False)


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


# ---- microaot tune --cluster ------------------------------------------------------------------------

# QEMU's 25 MHz FPGAIO counter advances once per 5 instructions at -icount shift=3 (the boards' shift):
# where a timed stretch starts within a tick depends on how long the firmware polled its UART for the
# host's bytes, so two runs of the same firmware (on one machine, too) can differ by one tick per reading.
TICK = 5.0
TIMED = ("time", "default_time", "model_total")
WHERE = ("measured_by", "built_by")
RUN_FIELDS = ("when", "tuner_run")  # the run's clock time and id


def _records(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _same_records(cluster_log: Path, local_log: Path) -> None:
    """Record for record, in order: equal apart from the worker fields, the run's id/clock and a tick of
    timer jitter; the cluster's carry the workers that built and measured them."""
    a, b = _records(cluster_log), _records(local_log)
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        if ra.get("kind") != "model_summary":
            assert str(ra["measured_by"]).startswith("tcp://127.0.0.1:") and str(ra["built_by"]).startswith("tcp://")
        assert not any(k in rb for k in WHERE)  # a local run writes what it always wrote
        strip = WHERE + RUN_FIELDS + TIMED + ("default_total", "tuned_total")
        assert {k: v for k, v in ra.items() if k not in strip} == {k: v for k, v in rb.items() if k not in strip}
        for k in TIMED + ("default_total", "tuned_total"):
            va, vb = ra.get(k), rb.get(k)
            assert (va is None) == (vb is None), (k, ra, rb)
            if va is not None and vb is not None:
                assert abs(float(va) - float(vb)) <= TICK, (k, ra, rb)  # type: ignore[arg-type]


def _no_duplicates(log: Path) -> None:
    """Every candidate appears once: (stage, signature, batch, knobs) is unique among the searched ones."""
    seen = set()
    for r in _records(log):
        if r.get("kind") == "model_summary" or r.get("stage") == "refine":
            continue
        key = (r["signature"], r["batch"], json.dumps(r["knobs"], sort_keys=True))
        assert key not in seen, key
        seen.add(key)


TUNE_KW = dict(budget=2, seeds=1, refine=False, progress=False)  # the refinement: the KWS test


@pytest.fixture(scope="module")
def ad_local(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """AD tuned here with 2 batches in flight: the reference of the cluster runs."""
    from microaot.tune.tuner import tune_model

    tmp = tmp_path_factory.mktemp("ad_local")
    res = tune_model(mlperf_model("ad"), "qemu_mps2_an386", log=tmp / "local.jsonl", jobs=2,
                     work_dir=tmp / "work", **TUNE_KW)  # type: ignore[arg-type]
    return tmp / "local.jsonl", res


def _chosen(res: object) -> dict[str, object]:
    return {g["signature"]: g["best_knobs"] for g in res.groups}  # type: ignore[attr-defined]


@pytest.mark.pio
@pytest.mark.qemu
@pytest.mark.skipif(not HAVE_QEMU, reason="needs qemu-system-arm and arm-none-eabi-gcc (scripts/bootstrap.sh)")
@pytest.mark.slow  # CI: the cluster is exercised by test_tune_survives_a_killed_worker and the command tests
def test_tune_ad_on_cluster_same_as_local(ad_local: tuple[Path, object], tmp_path: Path) -> None:
    """AD on a LocalCluster of 2 worker processes (1 QEMU M4 slot each): the same schedules, the same
    records in the same order as the local run with 2 jobs, each carrying the worker that measured it."""
    from microaot.cluster import tune_on_cluster

    local_log, local = ad_local
    res = tune_on_cluster(mlperf_model("ad"), "qemu_mps2_an386", "local:2", log=tmp_path / "c.jsonl",
                          work_dir=tmp_path / "work", **TUNE_KW)  # type: ignore[arg-type]
    assert _chosen(res) == _chosen(local)
    assert res.tuned_bitexact is True and res.builds == local.builds  # type: ignore[attr-defined]
    _same_records(tmp_path / "c.jsonl", local_log)
    _no_duplicates(tmp_path / "c.jsonl")


def _local_cluster(n: int, slots: int = 1) -> object:
    import distributed

    return distributed.LocalCluster(n_workers=n, threads_per_worker=slots, processes=True, host="127.0.0.1",
                                    dashboard_address=None, resources={"board:qemu_mps2_an386": slots})


@pytest.mark.pio
@pytest.mark.qemu
@pytest.mark.skipif(not HAVE_QEMU, reason="needs qemu-system-arm and arm-none-eabi-gcc (scripts/bootstrap.sh)")
def test_tune_survives_a_killed_worker(ad_local: tuple[Path, object], tmp_path: Path) -> None:
    """One of the 2 workers is killed (SIGKILL) while it builds or measures: Dask gives its task to the other
    (or to the worker its nanny restarts); the log is complete, without duplicates, the same as the local run's."""
    import distributed

    from microaot.cluster import tune_on_cluster

    killed: list[int] = []
    with _local_cluster(2) as lc, distributed.Client(lc) as client:  # type: ignore[attr-defined]

        def kill_a_busy_worker() -> None:
            time.sleep(1.5)
            busy = [w for w, keys in client.processing().items() if keys] or list(client.scheduler_info()["workers"])
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

        def on_batch(n: int, _assignment: object) -> None:
            if n == 2:
                import threading

                threading.Thread(target=kill_a_busy_worker, daemon=True).start()

        res = tune_on_cluster(mlperf_model("ad"), "qemu_mps2_an386", lc.scheduler_address,  # type: ignore[attr-defined]
                              log=tmp_path / "k.jsonl", work_dir=tmp_path / "work", on_batch=on_batch,
                              **TUNE_KW)  # type: ignore[arg-type]
    assert killed, "no worker was killed"
    local_log, local = ad_local
    assert _chosen(res) == _chosen(local) and res.tuned_bitexact is True
    _same_records(tmp_path / "k.jsonl", local_log)
    _no_duplicates(tmp_path / "k.jsonl")


@pytest.mark.pio
@pytest.mark.qemu
@pytest.mark.slow
@pytest.mark.skipif(not HAVE_QEMU, reason="needs qemu-system-arm and arm-none-eabi-gcc (scripts/bootstrap.sh)")
def test_tune_quarantines_a_failing_board(ad_local: tuple[Path, object], tmp_path: Path) -> None:
    """A `microaot worker` whose QEMU dies at start (a broken board, where the scheduler puts every task): each
    candidate it fails is measured again on the healthy worker, the broken one is quarantined with a message
    after QUARANTINE_AFTER faults, and the log is the local run's."""
    import dask
    import distributed

    from microaot.cluster import QUARANTINE_AFTER, tune_on_cluster

    said: list[str] = []

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "qemu-system-arm").write_text("#!/bin/sh\necho 'board reset' >&2\nexit 1\n")
    (fake / "qemu-system-arm").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    with _local_cluster(1) as lc, distributed.Client(lc) as client:  # type: ignore[attr-defined]
        bad = subprocess.Popen([sys.executable, "-m", "microaot.cli", "worker", "--scheduler",
                                lc.scheduler_address, "--board", "qemu_mps2_an386=2"],  # type: ignore[attr-defined]
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            client.wait_for_workers(2, timeout=60)
            good = {n.worker_address for n in lc.workers.values()}  # type: ignore[attr-defined]
            bad_addr = next(a for a in client.scheduler_info()["workers"] if a not in good)
            # the scheduler's placement made deterministic: every task goes to the broken worker when it may
            # (the tuner's own worker restrictions, on a re-measurement and after the quarantine, override this)
            with dask.annotate(workers=[bad_addr], allow_other_workers=True):
                res = tune_on_cluster(mlperf_model("ad"), "qemu_mps2_an386", lc.scheduler_address,  # type: ignore[attr-defined]
                                      log=tmp_path / "q.jsonl", work_dir=tmp_path / "work", say=said.append,
                                      **TUNE_KW)  # type: ignore[arg-type]
        finally:
            os.killpg(bad.pid, signal.SIGTERM)
            bad.wait(timeout=30)
    recs = _records(tmp_path / "q.jsonl")
    assert all(r["measured_by"] != bad_addr for r in recs if r.get("kind") != "model_summary")
    assert len(said) == 1 and said[0].startswith("quarantined worker tcp://127.0.0.1:")
    assert (f"(qemu_mps2_an386): {QUARANTINE_AFTER} measurement(s) failed there that passed on another board "
            "(last: device process timeout closed its output (exit code 1)") in said[0]
    local_log, local = ad_local
    assert _chosen(res) == _chosen(local) and res.tuned_bitexact is True
    _same_records(tmp_path / "q.jsonl", local_log)
    _no_duplicates(tmp_path / "q.jsonl")


@pytest.mark.pio
@pytest.mark.qemu
@pytest.mark.slow
@pytest.mark.skipif(not HAVE_QEMU, reason="needs qemu-system-arm and arm-none-eabi-gcc (scripts/bootstrap.sh)")
def test_tune_kws_on_cluster_same_as_local(tmp_path: Path) -> None:
    """KWS with the whole-model refinement, locally with 2 jobs and on a LocalCluster of 2 workers x 1 slot:
    the same schedules and records."""
    from microaot.cluster import tune_on_cluster
    from microaot.tune.tuner import tune_model

    kw = dict(budget=2, seeds=1, refine=True, progress=False)
    local = tune_model(mlperf_model("kws"), "qemu_mps2_an386", log=tmp_path / "l.jsonl", jobs=2,
                       work_dir=tmp_path / "wl", **kw)  # type: ignore[arg-type]
    res = tune_on_cluster(mlperf_model("kws"), "qemu_mps2_an386", "local:2", log=tmp_path / "c.jsonl",
                          work_dir=tmp_path / "wc", **kw)  # type: ignore[arg-type]
    assert _chosen(res) == _chosen(local) and res.tuned_bitexact is True and local.tuned_bitexact is True
    assert res.refined == local.refined or (
        res.refined and local.refined and res.refined["swaps"] == local.refined["swaps"]
    )
    _same_records(tmp_path / "c.jsonl", tmp_path / "l.jsonl")
    _no_duplicates(tmp_path / "c.jsonl")
