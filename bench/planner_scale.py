"""Memory planner scaling on long operator chains (issue 20.12).

For each size N (default 1,000 / 2,000 / 5,000 / 10,000 operators) it builds an int8 chain with
``microaot.testing.modelgen.chain_model`` (CONV_2D 3x3, DEPTHWISE_CONV_2D 3x3, CONV_2D 1x1, ADD of the last
two outputs, repeated; every operator has in-place options), imports it, and times the compiler's memory
plan (``schedules._plan``: views, scratch, in-place search, placement; target ``generic``, no tuning) once.
Printed per size: buffers, objective evaluations of the in-place search, ``_place`` calls, the placement's
checks per buffer placed (``plan.PLACE_STATS``; an all-pairs scan would be ~N/2), the workspace, and the
wall-clock seconds of the plan (process CPU seconds beside it: on a shared machine the wall clock also
counts other processes). Not a test: no figure here is asserted (tests/test_planner_scale.py bounds the
checks instead).

    .venv/bin/python bench/planner_scale.py [--sizes 1000 2000 5000 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from microaot.frontend.tflite import load_tflite
from microaot.planner import plan as planmod
from microaot.schedules import _plan
from microaot.testing import modelgen as mg


def run(n: int, workdir: Path) -> dict[str, float]:
    path = workdir / f"chain{n}.tflite"
    path.write_bytes(mg.chain_model(np.random.default_rng(0), n))
    graph = load_tflite(path)
    before = dict(planmod.PLACE_STATS)
    t0, c0 = time.perf_counter(), time.process_time()
    plan = _plan(graph, "generic", {})
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    d = {k: planmod.PLACE_STATS[k] - before[k] for k in before}
    return {"ops": n, "buffers": len(plan.buffers), "place_calls": d["calls"],
            "checks_per_buffer": d["checks"] / max(d["buffers"], 1), "workspace": plan.workspace_size,
            "inplace_ops": len(plan.inplace_ops), "wall_s": wall, "cpu_s": cpu}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000, 10000])
    args = ap.parse_args()
    print(f"{'ops':>7} {'buffers':>8} {'in-place':>8} {'_place calls':>12} {'checks/buffer':>13} "
          f"{'workspace':>9} {'wall s':>8} {'cpu s':>8}")
    with tempfile.TemporaryDirectory(prefix="microaot_planner_scale_") as td:
        for n in args.sizes:
            r = run(n, Path(td))
            print(f"{r['ops']:>7,} {r['buffers']:>8,} {r['inplace_ops']:>8,} {r['place_calls']:>12,} "
                  f"{r['checks_per_buffer']:>13.2f} {r['workspace']:>9,} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
