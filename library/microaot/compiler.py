"""The compile driver: import -> passes -> memory plan -> lowering + C emission."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microaot.codegen.emit import emit_model, kernel_source_paths
from microaot.errors import MicroaotError
from microaot.frontend.tflite import load_tflite
from microaot.ir.graph import Graph
from microaot.passes import check_graph, inplace_options, scratch_requests, view_ops
from microaot.paths import crt_root
from microaot.planner import MemoryPlan, plan_memory
from microaot.planner.plan import ALIGN

TARGETS = ("generic", "cortex-m4", "cortex-m7")


@dataclass
class CompileResult:
    name: str
    model_path: Path
    model_hash: str  # sha256 hex of the model file
    sources: list[Path]  # [<out_dir>/<name>.c]
    header: Path
    workspace_size: int
    weight_bytes: int
    graph: Graph
    plan: MemoryPlan
    kernel_sources: list[Path]

    @property
    def memory_figures(self) -> dict[str, int]:
        """Workspace (peak) and its bounds (bytes): ``liveness_bound`` without in-place operators,
        ``inplace_bound`` with them (smallest the planner saw), ``plan_bound`` of the chosen plan."""
        return {"workspace": self.workspace_size, "liveness_bound": self.plan.liveness_bound,
                "inplace_bound": self.plan.inplace_bound, "plan_bound": self.plan.lower_bound,
                "plan_bound_with_io": self.plan.lower_bound_io, "inplace_ops": len(self.plan.inplace_ops)}


def default_name(model_path: str | Path) -> str:
    """C identifier from the file stem: non [A-Za-z0-9_] -> '_', leading digit -> 'm_'."""
    stem = Path(model_path).stem
    name = re.sub(r"[^A-Za-z0-9_]", "_", stem) or "model"
    if name[0].isdigit():
        name = "m_" + name
    return name


def _plan(graph: Graph, target: str, sched: Mapping[int, Mapping[str, Any]]) -> MemoryPlan:
    return plan_memory(graph, views=view_ops(graph), scratch=scratch_requests(graph, target, sched),
                       inplace=inplace_options(graph), reorder=True)


def _narrow_peak_gemm(graph: Graph, target: str, sched: dict[int, dict[str, Any]],
                      plan: MemoryPlan) -> tuple[MemoryPlan, dict[int, dict[str, Any]]]:
    """Memory-aware default of the CONV_2D gemm: cols=3 needs 6·Kp bytes of scratch, cols=2 4·Kp (but
    requantizes in C: ~15 % more instructions on that op). A conv left on its default cols=3 (no
    tuning-log entry, no explicit schedule) whose scratch reaches the top of the workspace is re-planned
    with cols=2, kept when the workspace shrinks (e.g. a single-conv model, whose workspace is that
    scratch; none of the four MLPerf models has its peak at a conv's scratch)."""
    from microaot.codegen.ops._schedule import resolve

    req = scratch_requests(graph, target, sched)
    for op in graph.operators:
        if op.opcode != "CONV_2D" or op.index in sched or op.index not in plan.scratch:
            continue
        k = resolve(graph, op, target, {})
        if k.get("algo") != "gemm" or k.get("cols") != 3:
            continue
        if plan.scratch[op.index] + req.get(op.index, 0) + ALIGN <= plan.workspace_size:
            continue  # its scratch is below the peak
        trial = {**sched, op.index: {"cols": 2}}
        p2 = _plan(graph, target, trial)
        if p2.workspace_size < plan.workspace_size:
            plan, sched = p2, trial
            req = scratch_requests(graph, target, sched)
    return plan, sched


def compile_model(
    model_path: str | Path,
    out_dir: str | Path,
    *,
    name: str | None = None,
    weight_section: str = ".rodata.microaot",
    tuning_log: str | Path | None = None,
    target: str = "generic",
    schedules: Mapping[int, Mapping[str, Any]] | None = None,
    board: str | None = None,
) -> CompileResult:
    """Compile a .tflite model into ``<out_dir>/<name>.c`` and ``<out_dir>/<name>.h``.

    ``tuning_log``: JSON-lines log of ``microaot tune``; the fastest bit-exact entry per operator
    signature for ``target`` (and ``board``, if given) becomes that operator's schedule
    (``microaot.tune.log.best_schedules``). ``schedules`` overrides it per operator index."""
    model_path = Path(model_path)
    if target not in TARGETS:
        raise MicroaotError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    name = name or default_name(model_path)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise MicroaotError(f"--name {name!r} is not a C identifier (letters, digits, _; no leading digit)")
    graph = load_tflite(model_path)
    model_hash = hashlib.sha256(model_path.read_bytes()).hexdigest()
    check_graph(graph)
    sched: dict[int, dict[str, Any]] = {}
    if tuning_log is not None:
        from microaot.tune.log import best_schedules

        sched.update(best_schedules(tuning_log, graph, target=target, board=board, model_hash=model_hash))
    for k, v in (schedules or {}).items():
        sched[int(k)] = dict(v)
    # after the schedules: the scratch a kernel variant needs depends on its knobs
    plan = _plan(graph, target, sched)
    plan, sched = _narrow_peak_gemm(graph, target, sched, plan)
    workspace_size = max(plan.workspace_size, ALIGN)
    emitted = emit_model(graph, plan, name=name, model_hash=model_hash, model_file=model_path.name,
                         workspace_size=workspace_size, weight_section=weight_section, target=target,
                         schedules=sched)
    kernels = kernel_source_paths(emitted.families, crt_root())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    c_path, h_path = out / f"{name}.c", out / f"{name}.h"
    c_path.write_text(emitted.c_source)
    h_path.write_text(emitted.header)
    return CompileResult(
        name=name, model_path=model_path, model_hash=model_hash, sources=[c_path], header=h_path,
        workspace_size=workspace_size, weight_bytes=emitted.weight_bytes, graph=graph, plan=plan,
        kernel_sources=kernels,
    )
