"""``microaot tune``: search the schedule knobs of a model's operators on a board.

    microaot tune model.tflite --board qemu_mps2_an386 [--log tuning.jsonl] [--budget N] [--jobs J]
                  [--cluster local:N[:S] | tcp://HOST:PORT]
    microaot tune-merge out.jsonl a.jsonl b.jsonl

The log is appended to (never rewritten); builds pick its best entries with
``custom_microaot_tuning_log = tuning.jsonl`` in platformio.ini, ``microaot compile --tuning-log``
or ``compile_model(schedules=log_schedules(log, model, target=...))``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from microaot.cliutil import run_standalone
from microaot.cluster import tune_on_cluster
from microaot.options import argparse_type, parse_positive_int, parse_size
from microaot.tune.log import merge_logs
from microaot.tune.tuner import DEFAULT_BUDGET, DEFAULT_SEEDS, tune_model


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, help="the .tflite model")
    p.add_argument("--board", default="qemu_mps2_an386", help="board id (platform/boards/*.json)")
    p.add_argument("--log", type=Path, default=Path("tuning.jsonl"), help="JSON-lines tuning log to append to")
    p.add_argument("--budget", type=argparse_type(parse_positive_int), default=DEFAULT_BUDGET,
                   help="candidates measured per operator signature (= firmware batches, at most)")
    p.add_argument("-j", "--jobs", type=argparse_type(parse_positive_int), default=None,
                   help="batches built and measured in parallel (default 1; with --cluster: the board's slots)")
    p.add_argument("--cluster", metavar="local:N[:S]|tcp://HOST:PORT",
                   help="build candidates on any worker of a Dask cluster and measure them on the workers holding "
                        "the board (docs/cluster.md); local:N starts N worker processes here with S slots each")
    p.add_argument("--seeds", type=argparse_type(parse_positive_int), default=DEFAULT_SEEDS,
                   help="random inputs every candidate is checked on")
    p.add_argument("--strategy", default="auto", choices=("auto", "grid", "coordinate", "random"),
                   help="auto: grid when the space fits the budget, else coordinate descent + random")
    p.add_argument("--work-dir", type=Path, help="where the per-job PlatformIO projects live")
    p.add_argument("--port", help="serial port of a real board (each batch is flashed)")
    p.add_argument("--json", type=Path, help="write the result as JSON")
    p.add_argument("--no-final", action="store_true", help="skip the rebuild from the log at the end")
    p.add_argument("--no-refine", action="store_true",
                   help="skip the whole-model refinement (re-timing each signature's runners-up in the build "
                        "of all the chosen schedules, whose memory plan can differ from a batch's)")
    p.add_argument("--max-workspace", type=_workspace_arg, metavar="BYTES|default",
                   help="RAM limit for the tuned build's workspace: schedules that need more scratch go back to "
                        "their defaults until it fits ('default': the default build's workspace)")
    p.add_argument("--max-flash", type=_flash_arg, metavar="BYTES|default",
                   help="flash limit for the tuned firmware (bytes, K, M): schedules that need more flash (w16 "
                        "weights) go back to their defaults until it fits ('default': the default build's flash)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="show the PlatformIO build output")


def _workspace_arg(v: str) -> int | str:
    if v == "default":
        return v
    try:
        n = int(v, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{v!r}: give a number of bytes or 'default'") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{v!r}: the workspace limit must be positive")
    return n


def _flash_arg(v: str) -> int | str:
    if v == "default":
        return v
    try:
        return parse_size(v)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{e}; or 'default'") from None


def run_cli(args: argparse.Namespace) -> int:
    kw: dict[str, Any] = dict(log=args.log, budget=args.budget, seeds=args.seeds, strategy=args.strategy,
                              work_dir=args.work_dir, port=args.port, final_check=not args.no_final,
                              refine=not args.no_refine, max_workspace=args.max_workspace, max_flash=args.max_flash,
                              progress=not args.quiet, verbose=args.verbose)
    if args.cluster:
        res = tune_on_cluster(args.model, args.board, args.cluster, jobs=args.jobs, **kw)
    else:
        res = tune_model(args.model, args.board, jobs=args.jobs or 1, **kw)
    print(res.format_text())
    if args.json:
        args.json.write_text(json.dumps(res.to_json(), indent=2) + "\n")
        print(f"JSON: {args.json}")
    if res.tuned_bitexact is False:
        return 1
    flim = (res.refined or {}).get("max_flash")
    if flim is not None and ((res.refined or {}).get("fits") is False or (res.tuned_flash or 0) > flim):
        print(f"microaot tune: the tuned firmware needs {res.tuned_flash or res.refined.get('flash')} B of flash, "
              f"over --max-flash {flim} B", file=sys.stderr)
        return 1
    lim = (res.refined or {}).get("max_workspace")
    if lim is not None and ((res.refined or {}).get("fits") is False or (res.tuned_workspace or 0) > lim):
        print(f"microaot tune: the tuned build needs {res.tuned_workspace or res.refined.get('workspace')} B of "
              f"workspace, over --max-workspace {lim} B", file=sys.stderr)
        return 1
    return 0


def _merge(args: argparse.Namespace) -> int:
    n = merge_logs(args.out, args.inputs)
    print(f"{args.out}: {n} record(s) added")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("tune", help="tune operator schedules on a board, measured on the device; "
                                           "writes a JSON-lines tuning log")
    add_arguments(p)
    p.set_defaults(func=run_cli)
    m = subparsers.add_parser("tune-merge", help="merge tuning logs (appends records the output lacks)")
    m.add_argument("out", type=Path)
    m.add_argument("inputs", type=Path, nargs="+")
    m.set_defaults(func=_merge)


def main(argv: Sequence[str] | None = None) -> int:
    return run_standalone("microaot tune", add_arguments, run_cli, argv, error_status=2)


if __name__ == "__main__":
    sys.exit(main())
