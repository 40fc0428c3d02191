"""``microaot inspect``: what a model contains and what compiling it would cost (no files written)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from microaot import ops as opreg
from microaot.codegen.emit import emit_model
from microaot.errors import MicroaotError
from microaot.frontend.tflite import load_tflite
from microaot.ir.graph import Graph, Operator
from microaot.ops.user_kernels import bind as bind_custom_ops
from microaot.passes import check_graph, inplace_options, scratch_requests, state_requests, view_ops
from microaot.passes.support import collect_problems
from microaot.planner import plan_memory


def op_macs(graph: Graph, op: Operator) -> int:
    """Multiply-accumulates of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / UNIDIRECTIONAL_SEQUENCE_LSTM / SVDF
    (0 for other ops)."""
    if not op.outputs or len(op.inputs) < 2 or op.inputs[1] < 0:
        return 0
    out = graph.tensors[op.outputs[0]]
    w = graph.tensors[op.inputs[1]]
    if op.opcode == "CONV_2D" and len(w.shape) == 4:
        return out.num_elements * w.shape[1] * w.shape[2] * w.shape[3]
    if op.opcode == "DEPTHWISE_CONV_2D" and len(w.shape) == 4:
        return out.num_elements * w.shape[1] * w.shape[2]
    if op.opcode == "FULLY_CONNECTED" and len(w.shape) == 2:
        return out.num_elements * w.shape[1]
    if op.opcode == "SVDF" and len(w.shape) == 2 and len(op.inputs) > 2 and op.inputs[2] >= 0:
        # per batch row: the feature matmul (filters x input_size) and the time one (filters x memory_size)
        wt = graph.tensors[op.inputs[2]]
        batch = out.shape[0] if out.shape else 1
        return int(batch) * int(w.shape[0]) * (int(w.shape[1]) + int(wt.shape[-1]))
    if op.opcode == "UNIDIRECTIONAL_SEQUENCE_LSTM" and len(w.shape) == 2 and len(op.inputs) > 5 and op.inputs[5] >= 0:
        # per time step and batch: four gates, each an FC of the input ([units, in]) and of the hidden state
        return out.num_elements * 4 * (w.shape[1] + graph.tensors[op.inputs[5]].shape[-1])
    return 0


def summarize(model_path: str | Path, target: str = "generic",
              custom_ops: Mapping[str, str] | None = None) -> dict[str, Any]:
    path = Path(model_path)
    g = load_tflite(path, lenient=True)  # custom / control-flow operators become problems, not an error
    bind_custom_ops(g, custom_ops)
    info: dict[str, Any] = {
        "model": str(path),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "description": g.description,
        "inputs": [_tinfo(g, t) for t in g.inputs],
        "outputs": [_tinfo(g, t) for t in g.outputs],
        "operators": [],
        "tensors": [_tinfo(g, t.index) for t in g.tensors],
    }
    problems = collect_problems(g, target)
    by_op = {p.index: p for p in problems if p.index >= 0}
    info["problems"] = [p.as_dict() for p in problems]
    for op in g.operators:
        decl = opreg.declared_dtypes(op.opcode)
        info["operators"].append({
            "index": op.index,
            "op": op.opcode,
            "version": op.version,
            "dtypes": opreg.dtype_key(g, op, conversion=any("->" in d for d in decl)),
            "supported": op.index not in by_op,
            "problem": by_op[op.index].why if op.index in by_op else None,
            "inputs": [list(g.tensors[t].shape) if t >= 0 else None for t in op.inputs],
            "outputs": [list(g.tensors[t].shape) for t in op.outputs],
            "macs": op_macs(g, op),
            "options": {k: v for k, v in op.options.items() if isinstance(v, (int, float, str, list))},
        })
    info["macs"] = sum(o["macs"] for o in info["operators"])
    info["const_bytes"] = sum(t.nbytes for t in g.tensors if t.is_const)
    if problems:
        info["compilable"] = False
        info["error"] = f"{len(problems)} problem(s)"
        return info
    try:
        check_graph(g)
        plan = plan_memory(g, views=view_ops(g), scratch=scratch_requests(g, target), inplace=inplace_options(g),
                           reorder=True, state=state_requests(g))
        info["target"] = target
        info["workspace_bytes"] = plan.workspace_size
        info["state_bytes"] = plan.state_size
        info["liveness_lower_bound"] = plan.liveness_bound  # no in-place operators, model order
        info["inplace_lower_bound"] = plan.inplace_bound
        info["plan_lower_bound"] = plan.lower_bound
        info["liveness_lower_bound_with_io"] = plan.lower_bound_io
        info["inplace_ops"] = {str(k): {"over_tensor": o.inp, "variant": o.variant}
                               for k, o in sorted(plan.inplace_ops.items())}
        info["order"] = plan.order
        em = emit_model(g, plan, name="inspect", model_hash=info["sha256"], model_file=path.name,
                        workspace_size=plan.workspace_size, target=target)
        info["weight_bytes"] = em.weight_bytes
        info["kernel_families"] = em.families
        info["compilable"] = True
    except MicroaotError as e:
        info["compilable"] = False
        info["error"] = str(e)
        info["problems"].append({"index": -1, "op": "", "dtypes": "", "why": str(e)})
    return info


def _tinfo(g: Graph, t: int) -> dict[str, Any]:
    tt = g.tensors[t]
    d: dict[str, Any] = {"index": t, "name": tt.name, "shape": list(tt.shape), "dtype": tt.dtype,
                         "bytes": tt.nbytes, "const": tt.is_const}
    if tt.quant is not None:
        d["scale"] = [float(s) for s
                      in tt.quant.scale[:1]] if not tt.quant.per_channel else f"{tt.quant.scale.size} per-channel"
        d["zero_point"] = int(tt.quant.zp0)
    return d


def format_summary(info: dict[str, Any]) -> str:
    lines = [f"model: {info['model']}", f"sha256: {info['sha256']}"]
    for kind in ("inputs", "outputs"):
        for t in info[kind]:
            q = f" scale={t['scale']} zp={t['zero_point']}" if "scale" in t else ""
            lines.append(f"{kind[:-1]}: {t['name']} {t['shape']} {t['dtype']}{q}")
    lines.append("")
    lines.append(f"{'#':>3}  {'operator':<20} {'dtypes':<14} {'inputs':<40} {'outputs':<18} {'MACs':>12}")
    for o in info["operators"]:
        ins = ", ".join(str(s) for s in o["inputs"] if s is not None)
        outs = ", ".join(str(s) for s in o["outputs"])
        flag = "" if o["supported"] else "  (unsupported)"
        lines.append(f"{o['index']:>3}  {o['op']:<20} {o['dtypes']:<14} {ins:<40} {outs:<18} {o['macs']:>12,}{flag}")
    lines.append("")
    lines.append(f"tensors: {len(info['tensors'])}  MACs: {info['macs']:,}  constant data: {info['const_bytes']:,} B")
    if info.get("compilable"):
        lines.append(f"weights (flash): {info['weight_bytes']:,} B")
        lines.append(f"workspace (RAM, target {info.get('target', 'generic')}): {info['workspace_bytes']:,} B planned "
                     f"(kernel scratch included); liveness lower bound {info['liveness_lower_bound']:,} B without "
                     f"in-place operators, {info['inplace_lower_bound']:,} B with them ({len(info['inplace_ops'])} "
                     f"operators in place; this plan's bound {info['plan_lower_bound']:,} B; inputs/outputs stay in "
                     f"the caller's buffers, with them: {info['liveness_lower_bound_with_io']:,} B)")
        if info.get("state_bytes"):
            lines.append(f"state (RAM, persists between runs): {info['state_bytes']:,} B (NAME_STATE_SIZE)")
        lines.append(f"kernel families: {', '.join(info['kernel_families'])}")
    else:
        probs = info.get("problems") or [{"index": -1, "op": "", "dtypes": "", "why": info.get("error")}]
        lines.append(f"not compilable: {len(probs)} problem(s)")
        for p in probs:
            where = f"operator {p['index']} ({p['op']}, {p['dtypes']})" if p["index"] >= 0 else "model"
            lines.append(f"  {where}: {p['why']}")
    return "\n".join(lines)
