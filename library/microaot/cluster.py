"""Board farms on Dask (``distributed``): workers advertise their boards as Dask resources
(``board:<id>`` = slots), builds run on any worker, measurements only where the board is.

    microaot cluster [--host 127.0.0.1] [--port 8786]          # the scheduler
    microaot worker --scheduler tcp://HOST:8786 --board qemu_mps2_an386=2 [--board nucleo_f446re --port URL]
    microaot eval M1.tflite M2.tflite --boards host,qemu_mps2_an386 --cluster tcp://HOST:8786 | local:N

Firmware moves between workers as bytes (the build result), never as a path. ``local:N`` starts a
``LocalCluster`` of N worker processes on 127.0.0.1, each holding every requested board with one slot
(``local:N:S`` for S slots). docs/cluster.md describes a farm and its security.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from microaot import __version__
from microaot import evaluate as ev
from microaot.boards import get_board
from microaot.errors import MicroaotError
from microaot.pio.build import BuildInfo
from microaot.pio.project import build, write_project

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
