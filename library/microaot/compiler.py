"""The compile driver: import -> passes -> memory plan -> lowering + C emission."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microaot.codegen.emit import check_runtime_limits, emit_model, kernel_source_paths
from microaot.errors import MicroaotError
from microaot.frontend.tflite import import_tflite_bytes, read_model_file
from microaot.ir.graph import Graph
from microaot.ops.user_kernels import bind as bind_custom_ops
from microaot.passes import check_graph
from microaot.paths import crt_root
from microaot.planner import MemoryPlan
from microaot.planner.plan import ALIGN
from microaot.schedules import plan_schedules

TARGETS = ("generic", "cortex-m4", "cortex-m7", "cortex-m55")


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
    def state_size(self) -> int:
        """Bytes of persistent state (NAME_STATE_SIZE): 0 for a stateless model."""
        return self.plan.state_size

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


def compile_model(
    model_path: str | Path,
    out_dir: str | Path,
    *,
    name: str | None = None,
    weight_section: str = ".rodata.microaot",
    target: str = "generic",
    schedules: Mapping[int, Mapping[str, Any]] | None = None,
    custom_ops: Mapping[str, str] | None = None,
    flash_size: int | None = None,
) -> CompileResult:
    """Compile a .tflite model into ``<out_dir>/<name>.c`` and ``<out_dir>/<name>.h``.

    ``schedules``: ``{op_index: knobs}`` resolved by the caller (e.g. from a tuning log with
    ``microaot.tune.log.log_schedules``); every other operator gets its memory-aware default
    (``microaot.schedules.plan_schedules``). ``custom_ops``: ``{custom operator name: C function}``, user
    kernels bound to custom operators (docs/custom-operators.md; the caller compiles the functions in).
    ``flash_size``: the flash of the part the model is built for (a board's ``upload.maximum_size``); it bounds
    the flash the default int16 weights may add (``microaot.schedules.w16_budget``)."""
    model_path = Path(model_path)
    if target not in TARGETS:
        raise MicroaotError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    name = name or default_name(model_path)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise MicroaotError(f"--name {name!r} is not a C identifier (letters, digits, _; no leading digit)")
    buf = read_model_file(model_path)
    graph = import_tflite_bytes(buf, str(model_path))
    bind_custom_ops(graph, custom_ops)
    model_hash = hashlib.sha256(buf).hexdigest()
    check_graph(graph)
    check_runtime_limits(graph)  # before planning: a 65,536-operator graph is refused at once
    sched = {int(k): dict(v) for k, v in (schedules or {}).items()}
    # after the schedules: the scratch a kernel variant needs depends on its knobs
    plan, sched = plan_schedules(graph, target, sched, flash_size=flash_size)
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
