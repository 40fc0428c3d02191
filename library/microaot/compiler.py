"""The compile driver: import -> passes -> memory plan -> lowering + C emission."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microaot.codegen.emit import check_runtime_limits, emit_model, kernel_source_paths
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


def _at_peak(graph: Graph, target: str, sched: Mapping[int, Mapping[str, Any]], plan: MemoryPlan,
             ops: Iterable[int]) -> list[int]:
    """Those of ``ops`` with scratch whose step reaches the top of the workspace (within the alignment):
    the highest byte of the buffers live while it runs, its scratch included."""
    req = scratch_requests(graph, target, sched)
    out = []
    for i in ops:
        if i not in plan.scratch or req.get(i, 0) <= 0:
            continue
        s = plan.step_of(i)
        top = 0
        for b in plan.buffers:
            if b.offset < 0 or not b.first <= s <= b.last:
                continue
            spans = [hi for _, hi, f, last in b.spans if f <= s <= last] if b.spans else [b.size]
            top = max([top, *(b.offset + hi for hi in spans)])
        if top + ALIGN > plan.workspace_size:
            out.append(i)
    return out


def plan_schedules(graph: Graph, target: str, schedules: Mapping[int, Mapping[str, Any]] | None = None,
                   ) -> tuple[MemoryPlan, dict[int, dict[str, Any]]]:
    """Memory plan and schedules of a build: ``schedules`` (tuning log / explicit, kept as they are) plus
    the memory-aware defaults. An operator on its default schedule whose space has a lean alternative
    (``_schedule.lean_schedule``: less scratch, slower; FULLY_CONNECTED simd4 ``x8``, CONV_2D gemm
    ``cols=2``) and that runs at the peak of the planned workspace (the buffers live during its step,
    its scratch included, reach the top) gets that alternative when re-planning shows the workspace
    shrinks: first every such operator at once (layers of one size that each reach the same peak), else
    one at a time; repeated while the workspace shrinks. Then each lean operator whose default does not
    raise the workspace again goes back to the (faster) default. Returns the plan and the schedules
    with the lean choices added (docs/internals.md, "Schedule knobs")."""
    from microaot.codegen.ops._schedule import lean_schedule

    sched = {int(k): dict(v) for k, v in (schedules or {}).items()}
    plan = _plan(graph, target, sched)
    leans = {op.index: k for op in graph.operators
             if op.index not in sched and (k := lean_schedule(graph, op, target)) is not None}
    chosen: list[int] = []
    while True:
        top = _at_peak(graph, target, sched, plan, (i for i in leans if i not in sched))
        if not top:
            break
        for group in [top] + ([[i] for i in top] if len(top) > 1 else []):
            trial = {**sched, **{i: dict(leans[i]) for i in group}}
            p2 = _plan(graph, target, trial)
            if p2.workspace_size < plan.workspace_size:
                plan, sched = p2, trial
                chosen += group
                break
        else:
            break
    for i in chosen:  # give back what the final workspace does not need
        trial = {k: v for k, v in sched.items() if k != i}
        p2 = _plan(graph, target, trial)
        if p2.workspace_size <= plan.workspace_size:
            plan, sched = p2, trial
    return plan, sched


def default_schedules(graph: Graph, target: str) -> dict[int, dict[str, Any]]:
    """``{op_index: knobs}``: the resolved schedule of every operator with a knob space in a build without
    tuning log or explicit schedules (``plan_schedules``' memory-aware choices included); what the tuner
    and ``testing.m4run`` measure as "default"."""
    from microaot.codegen.ops._schedule import get_space, resolve

    _, sched = plan_schedules(graph, target)
    return {op.index: resolve(graph, op, target, sched.get(op.index)) for op in graph.operators
            if get_space(op.opcode) is not None}


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
    check_runtime_limits(graph)  # before planning: a 65,536-operator graph is refused at once
    sched: dict[int, dict[str, Any]] = {}
    if tuning_log is not None:
        from microaot.tune.log import best_schedules

        sched.update(best_schedules(tuning_log, graph, target=target, board=board, model_hash=model_hash))
    for k, v in (schedules or {}).items():
        sched[int(k)] = dict(v)
    # after the schedules: the scratch a kernel variant needs depends on its knobs
    plan, sched = plan_schedules(graph, target, sched)
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
