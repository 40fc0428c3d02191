#!/usr/bin/env python3
"""Speed-up of `microaot tune --cluster` over a local `--jobs 1` run, on this machine.

    .venv/bin/python bench/cluster_tune.py                      # KWS, budget 4, 2 workers x 2 QEMU M4 slots
    .venv/bin/python bench/cluster_tune.py --model ad --budget 2 --workers 2 --slots 1

Runs the same tuning twice from cold work folders: (a) `tune_model(jobs=1)` here, (b) `tune_on_cluster`
on a LocalCluster of --workers processes x --slots QEMU slots (jobs = workers x slots batches in flight),
both with the same seed and budget, then prints wall times, builds, the speed-up and whether both picked
the same schedules. Method and figures: bench/README.md "Tuning on a cluster". A benchmark, not a test:
nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "library"))

from microaot.cluster import tune_on_cluster  # noqa: E402
from microaot.tune.tuner import TuneResult, tune_model  # noqa: E402

MODELS_DIR = Path("/work/shared/models")
MODELS = {"kws": "kws_dscnn_int8.tflite", "vww": "vww_mobilenet_int8.tflite", "ic": "ic_resnet8_int8.tflite",
          "ad": "ad_autoencoder_int8.tflite"}


def _chosen(r: TuneResult) -> dict[str, object]:
    return {g["signature"]: g["best_knobs"] for g in r.groups}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="kws", choices=sorted(MODELS))
    ap.add_argument("--board", default="qemu_mps2_an386")
    ap.add_argument("--budget", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write the figures as JSON")
    args = ap.parse_args()
    model = MODELS_DIR / MODELS[args.model]
    kw = dict(budget=args.budget, seeds=1, refine=False, progress=False)
    with tempfile.TemporaryDirectory(prefix="microaot_cluster_bench_") as td:
        tmp = Path(td)
        t0 = time.monotonic()
        local = tune_model(model, args.board, log=tmp / "local.jsonl", jobs=1, work_dir=tmp / "wl", **kw)  # type: ignore[arg-type]
        t_local = time.monotonic() - t0
        t0 = time.monotonic()
        clus = tune_on_cluster(model, args.board, f"local:{args.workers}:{args.slots}", log=tmp / "cluster.jsonl",
                               work_dir=tmp / "wc", **kw)  # type: ignore[arg-type]
        t_cluster = time.monotonic() - t0  # includes starting and stopping the LocalCluster
    fig = {"model": model.name, "board": args.board, "budget": args.budget, "cpus": os.cpu_count(),
           "local_jobs1_s": round(t_local, 1), "local_builds": local.builds, "local_batches": local.batches,
           "cluster": f"{args.workers} workers x {args.slots} slots", "cluster_s": round(t_cluster, 1),
           "cluster_builds": clus.builds, "cluster_batches": clus.batches,
           "speedup": round(t_local / t_cluster, 2), "same_schedules": _chosen(local) == _chosen(clus),
           "tuned_total_local": local.tuned_total, "tuned_total_cluster": clus.tuned_total}
    print(f"{model.name} on {args.board}, budget {args.budget}, {os.cpu_count()} CPU(s)")
    print(f"  local --jobs 1:         {t_local:7.1f} s  ({local.batches} batches, {local.builds} builds)")
    print(f"  cluster {fig['cluster']}: {t_cluster:7.1f} s  ({clus.batches} batches, {clus.builds} builds)")
    print(f"  speed-up {fig['speedup']:.2f}x; same schedules: {fig['same_schedules']}")
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
