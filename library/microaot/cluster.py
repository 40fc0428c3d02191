"""Board farms on Dask (``distributed``): workers advertise their boards as Dask resources
(``board:<id>`` = slots), builds run on any worker, measurements only where the board is.

    microaot cluster [--host 127.0.0.1] [--port 8786]          # the scheduler
    microaot worker --scheduler tcp://HOST:8786 --board qemu_mps2_an386=2 [--board nucleo_f446re --port URL]
    microaot eval M1.tflite M2.tflite --boards host,qemu_mps2_an386 --cluster tcp://HOST:8786 | local:N
    microaot tune model.tflite --board qemu_mps2_an386 --cluster tcp://HOST:8786 | local:N[:S]

Firmware moves between workers as bytes (the build result), never as a path. ``local:N`` starts a
``LocalCluster`` of N worker processes on 127.0.0.1, each holding every requested board with one slot
(``local:N:S`` for S slots). docs/cluster.md describes a farm and its security.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from microaot import __version__
from microaot import evaluate as ev
from microaot.boards import get_board
from microaot.errors import MicroaotError
from microaot.fsutil import open_lock_file, private_temp_dir
from microaot.pio.build import BuildInfo
from microaot.pio.project import build, write_project
from microaot.rpc.session import RpcTimeoutError
from microaot.tune.log import FailureKind
from microaot.tune.tuner import (
    CandidateEvaluator,
    Measurement,
    OpGroup,
    Outcome,
    PioFirmware,
    Runner,
    TuneError,
    TuneResult,
    tune_model,
)

RESOURCE_PREFIX = "board:"
PORT_ENV_PREFIX = "MICROAOT_BOARD_PORT_"  # a worker's serial port of a real board, per board id


def board_resource(board_id: str) -> str:
    return f"{RESOURCE_PREFIX}{board_id}"


def parse_board_spec(spec: str) -> tuple[str, int]:
    """``BOARD`` or ``BOARD=SLOTS`` -> (board id, slots >= 1)."""
    name, sep, slots = spec.partition("=")
    if not name:
        raise MicroaotError(f"--board {spec!r}: write BOARD or BOARD=SLOTS")
    try:
        n = int(slots) if sep else 1
    except ValueError:
        raise MicroaotError(f"--board {spec!r}: SLOTS must be an integer") from None
    if n < 1:
        raise MicroaotError(f"--board {spec!r}: SLOTS must be 1 or more")
    return name, n


def _dask() -> Any:
    try:
        import distributed
    except ImportError as e:
        raise MicroaotError(f"the cluster needs Dask's distributed package ({e}); install it: "
                            "pip install distributed (pinned in requirements.txt)") from None
    return distributed


@contextmanager
def connect(spec: str, boards: Sequence[str] = ()) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``: ``tcp://HOST:PORT`` (a running scheduler) or ``local:N[:S]``
    (a LocalCluster of N worker processes on 127.0.0.1, each with S slots of every board in ``boards``)."""
    distributed = _dask()
    if spec.startswith("local:"):
        parts = spec.split(":")
        try:
            n = int(parts[1])
            slots = int(parts[2]) if len(parts) > 2 else 1
        except (IndexError, ValueError):
            raise MicroaotError(f"--cluster {spec!r}: write local:N or local:N:SLOTS") from None
        if n < 1 or slots < 1 or len(parts) > 3:
            raise MicroaotError(f"--cluster {spec!r}: N and SLOTS must be 1 or more")
        resources = {board_resource(b): slots for b in boards}
        with distributed.LocalCluster(n_workers=n, threads_per_worker=max(slots, 1), processes=True,
                                      host="127.0.0.1", dashboard_address=None, resources=resources) as lc, \
                distributed.Client(lc) as client:
            yield client
        return
    if not spec.startswith(("tcp://", "tls://")):
        raise MicroaotError(f"--cluster {spec!r}: give tcp://HOST:PORT (or tls://), or local:N")
    with distributed.Client(spec, timeout=30) as client:
        yield client


def cluster_state(client: Any) -> str:
    """A one-line summary of the cluster: workers and boards (slots)."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    slots: dict[str, float] = {}
    for w in workers.values():
        for k, v in (w.get("resources") or {}).items():
            if k.startswith(RESOURCE_PREFIX):
                slots[k[len(RESOURCE_PREFIX):]] = slots.get(k[len(RESOURCE_PREFIX):], 0) + v
    boards = ", ".join(f"{b}={int(n)}" for b, n in sorted(slots.items())) or "no boards"
    return f"{len(workers)} worker(s); boards: {boards}"


# ---- the model zoo: every model on every board ---------------------------------------------------


@dataclass
class BuiltFirmware:
    """A build's result as bytes (it travels between workers)."""

    model: str
    board: str
    firmware: bytes
    firmware_name: str
    info: dict[str, Any]
    seconds: float
    worker: str


def build_firmware(model: str, board: str) -> BuiltFirmware:
    """Build the RPC firmware of ``model`` for ``board`` in a private temporary project (any worker)."""
    host = _worker_name()
    with tempfile.TemporaryDirectory(prefix="microaot_zoo_") as td:
        b = build(write_project(Path(td) / "p", board, model=Path(model)), board)
        return BuiltFirmware(model, board, b.firmware.read_bytes(), b.firmware.name, asdict(b.info), b.seconds, host)


def measure_firmware(fw: BuiltFirmware, seeds: int, check_tensors: bool) -> dict[str, Any]:
    """Run ``fw`` on this worker's board (QEMU / host process, or its serial port) and evaluate it."""
    board = get_board(fw.board)
    port = os.environ.get(PORT_ENV_PREFIX + fw.board.upper()) if board.launch == "serial" else None
    info = BuildInfo(**fw.info)
    shift = info.settings.get("icount_shift")
    if shift is not None:
        board = board.with_settings(icount_shift=int(shift))
    with tempfile.TemporaryDirectory(prefix="microaot_fw_") as td:
        path = Path(td) / fw.firmware_name
        path.write_bytes(fw.firmware)
        path.chmod(0o700)
        rep = ev.evaluate_firmware(Path(fw.model), board, path, info, seeds=seeds, port=port,
                                check_tensors=check_tensors, profile=False)
    d = rep.to_dict()
    d["measured_by"] = _worker_name()
    d["built_by"] = fw.worker
    d["build_seconds"] = fw.seconds
    return d


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


@dataclass
class ZooRow:
    model: str
    board: str
    ok: bool
    outputs_match: bool | None = None
    tensors_match: bool | None = None
    time: float | None = None
    timer_unit: str | None = None
    est_cycles: float | None = None
    flash: int | None = None
    ram: int | None = None
    error: str | None = None
    measured_by: str | None = None


def _row(model: str, board: str, rep: dict[str, Any] | None, error: str | None) -> ZooRow:
    if rep is None:
        return ZooRow(Path(model).name, board, False, error=error)
    mem = rep["memory"]
    est = rep.get("cycle_estimate") or {}
    return ZooRow(Path(model).name, board, bool(rep["outputs_match"]) and rep.get("tensors_match") is not False,
                  rep["outputs_match"], rep.get("tensors_match"), rep["time_mean"], rep["timer_unit"],
                  est.get("cycles_per_inference"), mem["flash"], mem["static_ram"] + (mem.get("stack_high_water") or 0),
                  None, rep.get("measured_by"))


def eval_zoo(models: Sequence[Path], boards: Sequence[str], *, cluster: str | None, seeds: int = 3,
             check_tensors: bool = True, progress: Callable[[str], None] | None = None) -> list[ZooRow]:
    """Every model on every board: builds on any worker, each measurement on a worker holding the board
    (``cluster``), or one after the other here (``cluster`` None). A failure is a row, not an abort."""
    pairs = [(str(Path(m).resolve()), b) for m in models for b in boards]
    say = progress or (lambda _s: None)
    rows: list[ZooRow] = []
    if cluster is None:
        for m, b in pairs:
            say(f"{Path(m).name} on {b}")
            try:
                rows.append(_row(m, b, measure_firmware(build_firmware(m, b), seeds, check_tensors), None))
            except MicroaotError as e:
                rows.append(_row(m, b, None, str(e).splitlines()[0]))
        return rows
    distributed = _dask()
    with connect(cluster, boards) as client:
        say(cluster_state(client))
        missing = [b for b in boards if not _has_resource(client, board_resource(b))]
        if missing:
            raise MicroaotError(f"--cluster {cluster}: no worker holds board(s) {', '.join(missing)}; start one with "
                                f"`microaot worker --scheduler ADDRESS --board {missing[0]}`")
        futs = {}
        for m, b in pairs:
            built = client.submit(build_firmware, m, b, pure=False, retries=2)
            futs[client.submit(measure_firmware, built, seeds, check_tensors, pure=False, retries=2,
                               resources={board_resource(b): 1})] = (m, b)
        done: dict[tuple[str, str], ZooRow] = {}
        for fut in distributed.as_completed(list(futs)):
            m, b = futs[fut]
            try:
                done[(m, b)] = _row(m, b, fut.result(), None)
            except Exception as e:  # a task's exception comes back as itself: it becomes the row's error
                done[(m, b)] = _row(m, b, None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            say(f"{len(done)}/{len(pairs)} {Path(m).name} on {b}")
        rows = [done[p] for p in pairs]
    return rows


def _has_resource(client: Any, name: str) -> bool:
    return any(name in (w.get("resources") or {}) for w in client.scheduler_info().get("workers", {}).values())


def format_zoo(rows: Sequence[ZooRow]) -> str:
    out = [f"{'model':<28} {'board':<18} {'result':<9} {'time':>14} {'est. cycles':>12} {'flash B':>10} "
           f"{'RAM B':>10}"]
    for r in rows:
        if r.error:
            out.append(f"{r.model:<28} {r.board:<18} {'ERROR':<9} {r.error}")
            continue
        res = "MATCH" if r.ok else ("MISMATCH" if not r.outputs_match else "TENSORS")
        t = f"{r.time:,.0f} {(r.timer_unit or '')[:5]}" if r.time is not None else "-"
        c = f"{r.est_cycles:,.0f}" if r.est_cycles else "-"
        out.append(f"{r.model:<28} {r.board:<18} {res:<9} {t:>14} {c:>12} {r.flash or 0:>10,} {r.ram or 0:>10,}")
    ok = sum(r.ok for r in rows)
    out.append(f"\n{ok} of {len(rows)} model x board evaluations bit-exact with TFLM")
    return "\n".join(out)


# ---- the scheduler and worker commands ------------------------------------------------------------


def run_scheduler(host: str, port: int) -> int:
    import asyncio

    distributed = _dask()

    async def main() -> None:
        async with distributed.Scheduler(host=host, port=port, dashboard_address=None) as s:
            print(f"microaot cluster: scheduler at {s.address} (start workers with `microaot worker --scheduler "
                  f"{s.address} --board BOARD[=SLOTS]`); Ctrl-C stops it", flush=True)
            await s.finished()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    return 0


def run_worker(scheduler: str, boards: Sequence[str], port: str | None, nthreads: int | None) -> int:
    import asyncio

    distributed = _dask()
    resources: dict[str, float] = {}
    for spec in boards:
        b, slots = parse_board_spec(spec)
        board = get_board(b)
        if board.launch == "serial":
            if not port:
                raise MicroaotError(f"--board {b} is real hardware: give its serial port with --port")
            os.environ[PORT_ENV_PREFIX + b.upper()] = port
            slots = 1  # one session on one serial port
        else:
            board.check_tools()
        resources[board_resource(b)] = slots
    threads = nthreads or max(1, int(sum(resources.values())))

    async def main() -> None:
        async with distributed.Worker(scheduler, nthreads=threads, resources=resources, host="127.0.0.1"
                                      if scheduler.startswith("tcp://127.") else None) as w:
            print(f"microaot worker {w.address}: boards {', '.join(f'{k[6:]}={int(v)}' for k, v in resources.items())}"
                  f" -> {scheduler}; Ctrl-C stops it", flush=True)
            await w.finished()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    return 0


def run_zoo(args: argparse.Namespace) -> int:
    """Every model on every board (``--boards``), locally or on ``--cluster``; one table and JSON."""
    boards = [b.strip() for b in (args.boards or args.board).split(",") if b.strip()]
    for b in boards:
        get_board(b)  # unknown boards fail before any build
    for m in args.models:
        if not Path(m).is_file():
            raise MicroaotError(f"{m}: no such model file")
    if args.inputs is not None or args.project is not None or args.port:
        raise MicroaotError("--inputs, --project and --port evaluate one model on one board: drop --boards / "
                            "the extra models")
    rows = eval_zoo([Path(m) for m in args.models], boards, cluster=args.cluster, seeds=args.seeds,
                    check_tensors=args.check_tensors, progress=lambda s: print(f"microaot: {s}", file=sys.stderr))
    print(format_zoo(rows))
    if args.json:
        args.json.write_text(json.dumps({"schema": "microaot-zoo-report/1", "tool_version": __version__,
                                         "rows": [asdict(r) for r in rows]}, indent=2) + "\n")
        print(f"\nJSON report: {args.json}")
    return 0 if all(r.ok for r in rows) else 1


def _eval_cli(args: argparse.Namespace) -> int:
    if len(args.models) > 1 or args.boards or args.cluster:
        return run_zoo(args)
    return ev.run_cli(args)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    e = subparsers.add_parser(
        "eval", help="build, run and check a model on a board (PlatformIO + QEMU/host/serial), report time and "
                     "sizes; several models / --boards: a model zoo, optionally on a Dask cluster")
    ev.add_arguments(e)
    e.set_defaults(func=_eval_cli)
    c = subparsers.add_parser("cluster", help="start a Dask scheduler for a board farm (docs/cluster.md)")
    c.add_argument("--host", default="127.0.0.1", help="address to listen on (keep it private: docs/cluster.md)")
    c.add_argument("--port", type=int, default=8786, help="TCP port")
    c.set_defaults(func=lambda a: run_scheduler(a.host, a.port))
    w = subparsers.add_parser("worker", help="start a Dask worker that offers this machine's boards")
    w.add_argument("--scheduler", required=True, help="tcp://HOST:PORT of `microaot cluster`")
    w.add_argument("--board", action="append", required=True, metavar="BOARD[=SLOTS]",
                   help="a board this worker holds, with how many QEMU/host slots (repeatable)")
    w.add_argument("--port", help="serial port URL of the real board given with --board")
    w.add_argument("--nthreads", type=int, help="worker threads (default: the total number of slots)")
    w.set_defaults(func=lambda a: run_worker(a.scheduler, a.board, a.port, a.nthreads))


# ---- tuning on the cluster --------------------------------------------------------------------------

QUARANTINE_AFTER = 2  # a worker whose board failed this many measurements that passed on another board


@dataclass
class TuneBuild:
    """A candidate firmware built on some worker, as bytes (``error``: the build failed, with why)."""

    firmware: bytes
    firmware_name: str
    built_by: str
    seconds: float
    error: str | None = None


@contextmanager
def _worker_project(model_name: str, model_bytes: bytes, board_id: str) -> Iterator[tuple[Path, Path, int]]:
    """(work folder, model file, slot) for one build on this machine: the first project folder no other
    build holds (an exclusive lock per slot, across the worker processes of the machine), kept between
    tasks and runs so that a build only recompiles the generated model; as many folders as concurrent builds."""
    key = hashlib.sha256(model_bytes).hexdigest()[:12]
    # a per-user private folder (mode 0700, owner checked): never a predictable shared /tmp path
    root = private_temp_dir("cluster", f"{key}-{board_id}")
    model = root / model_name
    if not model.is_file() or model.read_bytes() != model_bytes:
        tmp = root / f".{model_name}.{os.getpid()}.{threading.get_ident()}"
        tmp.write_bytes(model_bytes)
        os.replace(tmp, model)
    slot = 0
    while True:
        fd = open_lock_file(root / f"slot{slot}.lock")  # never follows a symlink, never truncates
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            os.close(fd)
            slot += 1
    try:
        yield root, model, slot
    finally:
        os.close(fd)


def tune_build_task(model_name: str, model_bytes: bytes, board_id: str, records: list[dict[str, Any]] | None,
                    log_text: str | None) -> TuneBuild:
    """A Dask task (any worker): build the firmware with ``records`` as its tuning log (or the whole log
    ``log_text``, the final rebuild); a failed build is a result, not an exception (Dask retries only what
    went wrong with the worker)."""
    t0 = time.monotonic()
    me = _worker_name()
    with _worker_project(model_name, model_bytes, board_id) as (root, model, slot):
        fw = PioFirmware(model, get_board(board_id), root)
        copy_log: Path | None = None
        if log_text is not None:
            copy_log = root / f"slot{slot}.log.jsonl"
            copy_log.write_text(log_text)
        try:
            path = fw.build(slot, records, copy_log=copy_log)
            return TuneBuild(path.read_bytes(), path.name, me, time.monotonic() - t0)
        except (MicroaotError, OSError) as exc:
            return TuneBuild(b"", "", me, time.monotonic() - t0, _first_line(exc))


def tune_measure_task(runner: Runner, built: TuneBuild) -> Outcome:
    """A Dask task (a worker holding the board's resource): run and profile the firmware bytes."""
    me = _worker_name()
    where = {"built_by": built.built_by, "measured_by": me}
    if built.error is not None:
        return Outcome(None, FailureKind.BUILD_FAILED, built.error, where={"built_by": built.built_by})
    with tempfile.TemporaryDirectory(prefix="microaot_tune_fw_") as td:
        path = Path(td) / built.firmware_name
        path.write_bytes(built.firmware)
        path.chmod(0o700)
        try:
            m = runner.measure(path)
        except RpcTimeoutError as exc:
            return Outcome(None, FailureKind.TIMEOUT, _first_line(exc), where=where)
        except (MicroaotError, OSError) as exc:
            return Outcome(None, FailureKind.RUN_FAILED, _first_line(exc), where=where)
    m.where = dict(where)
    return Outcome(m, where=where)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else repr(exc)


class ClusterBackend:
    """The tuner's ``TuneBackend`` on a Dask client: builds on any worker, measurements on the workers
    holding ``board:<id>``, boards that keep failing quarantined."""

    def __init__(self, client: Any, board_id: str, *, say: Callable[[str], None] | None = None) -> None:
        self.client, self.board_id, self.resource = client, board_id, board_resource(board_id)
        self.say = say or (lambda s: tqdm.write(f"microaot tune: {s}", file=sys.stderr))
        self.lock = threading.Lock()
        self.in_flight: set[str] = set()  # keys of this client's tasks not finished yet
        self.faults: dict[str, int] = {}  # worker -> measurements that failed there and passed elsewhere
        self.quarantined: dict[str, str] = {}  # worker -> why

    def board_workers(self) -> list[str]:
        """Workers holding the board, quarantined ones excluded, in address order."""
        workers = self.client.scheduler_info().get("workers", {})
        return sorted(a for a, w in workers.items()
                      if (w.get("resources") or {}).get(self.resource) and a not in self.quarantined)

    def slots(self) -> int:
        workers = self.client.scheduler_info().get("workers", {})
        return int(sum((w.get("resources") or {}).get(self.resource, 0) for w in workers.values()))

    def status(self) -> str:
        info = self.client.scheduler_info().get("workers", {})
        with self.lock:
            mine = set(self.in_flight)
        try:
            running = sum(1 for keys in self.client.processing().values() for k in keys if str(k) in mine)
        except Exception:  # noqa: BLE001 - the status line is best effort (a scheduler that is going away)
            running = 0
        q = f", {len(self.quarantined)} quarantined" if self.quarantined else ""
        return (f"cluster {len(info)} workers, {self.slots()} {self.board_id} slots{q}, "
                f"queued {max(len(mine) - running, 0)}, running {running}")

    def evaluator(self, builder: PioFirmware, runner: Runner, groups: Mapping[str, OpGroup]) -> CandidateEvaluator:
        return ClusterEvaluator(self, builder, runner, groups)

    def result(self, fut: Any) -> Any:
        with self.lock:
            self.in_flight.add(str(fut.key))
        try:
            return fut.result()
        finally:
            with self.lock:
                self.in_flight.discard(str(fut.key))

    def fault(self, worker: str, error: str | None) -> None:
        """``worker``'s board failed a firmware another board ran: quarantine it after QUARANTINE_AFTER."""
        with self.lock:
            self.faults[worker] = self.faults.get(worker, 0) + 1
            if self.faults[worker] < QUARANTINE_AFTER or worker in self.quarantined:
                return
            why = f"{self.faults[worker]} measurement(s) failed there that passed on another board (last: {error})"
            self.quarantined[worker] = why
        self.say(f"quarantined worker {worker} ({self.board_id}): {why}; its candidates are measured on the "
                 "other workers")


class ClusterEvaluator(CandidateEvaluator):
    """CandidateEvaluator whose builds and runs are Dask tasks; the comparison with the default build,
    the bisection of failing batches and the log stay in the client."""

    def __init__(self, backend: ClusterBackend, builder: PioFirmware, runner: Runner,
                 groups: Mapping[str, OpGroup]) -> None:
        super().__init__(builder, runner, groups)
        self.backend = backend
        self.model_name = builder.model.name
        self.model_bytes = builder.model.read_bytes()
        self._builds = 0

    @property
    def builds(self) -> int:
        return self._builds

    def _run(self, records: Sequence[Mapping[str, Any]] | None, log_text: str | None) -> Outcome:
        be = self.backend
        built = be.client.submit(tune_build_task, self.model_name, self.model_bytes, self.runner.board.id,
                                 None if records is None else [dict(r) for r in records], log_text,
                                 pure=False, retries=1)
        with be.lock:
            self._builds += 1
            be.in_flight.add(str(built.key))
        try:
            return self._measure(built)
        finally:
            with be.lock:
                be.in_flight.discard(str(built.key))

    def _measure(self, built: Any) -> Outcome:
        """Measure on a board worker; a run that fails (reset, timeout) is measured again on another board:
        failing there too, it is the candidate's failure; passing, the first board takes a fault."""
        be = self.backend
        failed: list[tuple[str, Outcome]] = []
        while True:
            healthy = be.board_workers()
            others = [w for w in healthy if w not in {f for f, _ in failed}]
            if not others:
                if failed:
                    return failed[-1][1]
                raise TuneError(f"{self.model_name}: no worker holds board {be.board_id} any more "
                                f"(quarantined: {', '.join(be.quarantined) or 'none'}); start one with "
                                f"`microaot worker --scheduler ADDRESS --board {be.board_id}`")
            restrict = others if (failed or be.quarantined) else None
            fut = be.client.submit(tune_measure_task, self.runner, built, pure=False, retries=1,
                                   resources={be.resource: 1}, workers=restrict, allow_other_workers=False)
            o: Outcome = be.result(fut)
            where = o.where.get("measured_by", "")
            if o.failure in (FailureKind.RUN_FAILED, FailureKind.TIMEOUT) and not failed and len(others) > 1:
                failed.append((where, o))
                continue
            if o.failure not in (FailureKind.RUN_FAILED, FailureKind.TIMEOUT):
                for w, f in failed:
                    be.fault(w, f.error)
            return o

    def _outcome(self, slot: int, records: Sequence[Mapping[str, Any]]) -> Outcome:
        return self._run(records, None)

    def _reference(self, slot: int, records: Sequence[Mapping[str, Any]] | None,
                   copy_log: Path | None = None) -> Measurement:
        o = self._run(records, copy_log.read_text() if copy_log is not None else None)
        if o.measurement is None:
            what = "the default build" if copy_log is None else f"the rebuild from the log {copy_log}"
            raise TuneError(f"{self.model_name}: {what} failed on the cluster ({o.failure.value if o.failure else '?'}"
                            f", {o.where or 'no worker'}): {o.error}")
        return o.measurement


def tune_on_cluster(model: str | Path, board_id: str, cluster: str, *, jobs: int | None = None,
                    progress: bool = True, say: Callable[[str], None] | None = None, **kwargs: Any) -> TuneResult:
    """``tune_model`` with candidate builds on any worker of ``cluster`` (``local:N[:S]`` or
    ``tcp://HOST:PORT``) and measurements on the workers holding the board; the log is written here.
    ``jobs`` (batches in flight) defaults to the cluster's slots of the board; ``say`` gets the messages
    about the cluster (a quarantined board; default: printed above the progress bar)."""
    board = get_board(board_id)
    with connect(cluster, [board.id]) as client:
        backend = ClusterBackend(client, board.id, say=say)
        if not backend.board_workers():
            raise MicroaotError(f"--cluster {cluster}: no worker holds board {board.id}; start one with "
                                f"`microaot worker --scheduler ADDRESS --board {board.id}`")
        if progress:
            print(f"microaot tune: {cluster_state(client)}", file=sys.stderr)
        return tune_model(model, board.id, jobs=jobs or max(backend.slots(), 1), backend=backend,
                          progress=progress, **kwargs)
