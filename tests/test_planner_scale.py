"""Issue 20 item 12: the memory planner is near-linear on long chains.

A 2,000-operator chain used to take ~20 s, 93 % in ``plan._place``, whose every buffer scanned every
buffer placed before it (~n^2/2 checks per placement, 2,000,000 for this chain, several dozen placements per
plan). The bound here is on the placement's work counter (``plan.PLACE_STATS``), not on time: each buffer
may only meet the buffers (and member spans) that share a step with it. Figures: bench/planner_scale.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import record_figures
from microaot.frontend.tflite import load_tflite
from microaot.planner import plan as planmod
from microaot.schedules import _plan
from microaot.testing import modelgen as mg


def _chain_plan(n: int, tmp_path: Path) -> tuple[planmod.MemoryPlan, dict[str, int]]:
    path = tmp_path / f"chain{n}.tflite"
    path.write_bytes(mg.chain_model(np.random.default_rng(0), n))
    graph = load_tflite(path)
    before = dict(planmod.PLACE_STATS)
    plan = _plan(graph, "generic", {})
    return plan, {k: planmod.PLACE_STATS[k] - before[k] for k in before}


def test_chain_of_2000_ops_places_in_near_linear_work(tmp_path: Path) -> None:
    plan, work = _chain_plan(2000, tmp_path)
    assert work["calls"] > 0 and work["buffers"] >= work["calls"] * 1000
    per_buffer = work["checks"] / work["buffers"]
    # a buffer of the chain shares its steps with a handful of others; all pairs would be ~1,000
    assert per_buffer < 16, f"{per_buffer:.1f} checks per buffer placed: the placement scans unrelated buffers"
    # the chain repeats one block of 4 operators: its plan peaks as a short chain's does
    short, _ = _chain_plan(40, tmp_path)
    assert plan.workspace_size == short.workspace_size
    assert len(plan.inplace_ops) > 400  # the in-place search ran on the whole chain
    record_figures("planner scale (issue 20.12)", {"2,000-op chain: checks per buffer placed": round(per_buffer, 2),
                                                   "_place calls": work["calls"]})
