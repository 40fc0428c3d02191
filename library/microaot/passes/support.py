"""What microaot can compile, operator by operator: weight-only (dynamic-range) quantized operators, and
every problem of a model at once (``microaot inspect``), instead of the first one that stops a compile."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from microaot import ops as opreg
from microaot.errors import MicroaotError, UnsupportedModelError
from microaot.frontend.tflite import CONTROL_FLOW_OPS
from microaot.ir.graph import Graph, Operator
from microaot.ops.user_kernels import bind as bind_custom_ops
from microaot.ops.user_kernels import op_def

# activation dtypes the generated code can carry (graph inputs/outputs included; passes/check.py has the same)
ACTIVATION_DTYPES = ("int8", "int16", "int32", "float32", "uint8", "int64", "bool", "resource", "uint16", "uint32",
                     "uint64")
_QUANT_WEIGHTS = ("int8", "uint8", "int16", "int4")


def is_weight_only(graph: Graph, op: Operator) -> bool:
    """A float32 operator with quantized constant weights: the dynamic-range (weight-only) quantization of
    the TFLite converter (float activations, int8 weights dequantized or used "hybrid" at run time), which
    neither TFLM nor microaot runs."""
    ins = [graph.tensors[t] for t in op.inputs if t >= 0]
    outs = [graph.tensors[t] for t in op.outputs]
    float_act = any(not t.is_const and t.dtype == "float32" for t in ins)
    quant_const = any(t.is_const and t.dtype in _QUANT_WEIGHTS and t.quant is not None for t in ins)
    return float_act and quant_const and all(t.dtype == "float32" for t in outs)


def weight_only_error(graph: Graph) -> UnsupportedModelError | None:
    """The error for a weight-only quantized model (naming its first such operator), or None."""
    for op in graph.operators:
        if is_weight_only(graph, op):
            w = next(graph.tensors[t] for t in op.inputs if t >= 0 and graph.tensors[t].is_const
                     and graph.tensors[t].dtype in _QUANT_WEIGHTS)
            return UnsupportedModelError(
                f"{graph.source}: operator {op.index} ({op.opcode}): the model is weight-only (dynamic-range) "
                f"quantized: float32 activations with {w.dtype} weights ({w.name!r}); neither TFLite Micro nor "
                "microaot runs such hybrid operators. Re-export it fully quantized (TFLiteConverter with "
                "optimizations=[tf.lite.Optimize.DEFAULT], a representative_dataset and "
                "target_spec.supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8]) or as float32 (no optimizations)"
            )
    return None


@dataclass
class Problem:
    index: int  # operator index, -1 for the graph as a whole
    op: str
    dtypes: str  # e.g. "int8", "float32->int16", "" for graph problems
    why: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "op": self.op, "dtypes": self.dtypes, "why": self.why}


def _strip(graph: Graph, op: Operator, msg: str) -> str:
    """The reason alone: without the "<model>: operator i (OP): " prefix of an error message."""
    for prefix in (f"{graph.source}: operator {op.index} ({op.opcode}): ", f"{graph.source}: "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


class _DummyEmitter:
    """Enough of the emitter for a lowering to run outside a real build (pointers are placeholders)."""

    def const_ref(self, tindex: int) -> str:
        return f"c{tindex}"

    def add_const(self, sym: str, ctype: str, values: np.ndarray) -> str:
        return sym


def _op_signature(graph: Graph, op: Operator) -> str:
    decl = opreg.declared_dtypes(op.opcode)
    return opreg.dtype_key(graph, op, conversion=any("->" in d for d in decl))


def collect_problems(graph: Graph, target: str = "generic") -> list[Problem]:
    """Every reason, per operator, that the model cannot compile (then the graph-level ones): an unknown
    operator, a weight-only quantized one, an activation dtype the runtime cannot carry, or whatever its
    lowering refuses (run on placeholder pointers), reported as "dtypes ... not supported" with the declared
    table when the operator's dtype signature is not declared, else with the lowering's own reason."""
    from microaot.passes.check import check_dataflow, check_sizes

    problems: list[Problem] = []
    em = _DummyEmitter()
    ptrs = {t: "ws" for t in range(len(graph.tensors))}
    for op in graph.operators:
        sig = _op_signature(graph, op)
        d = op_def(graph, op)
        if d is None:
            if op.opcode in CONTROL_FLOW_OPS:
                why = "control flow is not supported (single-subgraph models without control flow)"
            else:
                why = opreg.unsupported_reason(op.opcode)
            problems.append(Problem(op.index, op.opcode, sig, why))
            continue
        if is_weight_only(graph, op):
            problems.append(Problem(op.index, op.opcode, sig,
                                    "weight-only (dynamic-range) quantized: float32 activations with quantized "
                                    "weights (TFLM refuses it too); re-export full-integer or float32"))
            continue
        acts = [graph.tensors[t] for t in [*op.inputs, *op.outputs] if t >= 0 and not graph.tensors[t].is_const]
        bad = [t for t in acts if t.dtype not in ACTIVATION_DTYPES]
        if bad:
            problems.append(Problem(op.index, op.opcode, sig,
                                    f"tensor {bad[0].name!r} has type {bad[0].dtype}; supported activation types: "
                                    f"{', '.join(ACTIVATION_DTYPES)}"))
            continue
        dyn = [t for t in acts if any(n <= 0 for n in t.shape)]
        if dyn:
            problems.append(Problem(op.index, op.opcode, sig, f"tensor {dyn[0].name!r} has shape {list(dyn[0].shape)}; "
                                                              "every dimension must be a positive constant"))
            continue
        # the lowering decides; a failing operator whose dtypes its lowering does not declare gets the table
        ctx = opreg.LoweringContext(graph, op, prefix="inspect", ptrs=ptrs, const_ref=em.const_ref,
                                    add_const=em.add_const, scratch_ptr="ws", target=target,
                                    state_ptr="(st + 0)")  # placeholders, as the other pointers
        try:
            d.lower(ctx)
        except Exception as e:
            if opreg.dtype_supported(graph, op) is False:
                why = f"dtypes {sig} not supported; supported: {', '.join(d.dtypes)}"
            elif isinstance(e, MicroaotError):
                why = _strip(graph, op, str(e))
            else:  # a lowering bug: still a reason this model does not compile
                why = f"cannot lower it ({type(e).__name__}: {e})"
            problems.append(Problem(op.index, op.opcode, sig, why))
    for check in (check_dataflow, check_sizes):
        try:
            check(graph)
        except MicroaotError as e:
            problems.append(Problem(-1, "", "", str(e).removeprefix(f"{graph.source}: ")))
    return problems


def format_problems(problems: list[Problem]) -> str:
    lines = []
    for p in problems:
        where = f"operator {p.index} ({p.op}, {p.dtypes})" if p.index >= 0 else "model"
        lines.append(f"  {where}: {p.why}")
    return "\n".join(lines)


def check_compilable(model_path: str | Path, target: str = "generic",
                     custom_ops: Mapping[str, str] | None = None) -> None:
    """Raise UnsupportedModelError listing every problem (the model path once) when the model cannot compile;
    the quick check ``microaot eval`` and ``pio run`` make before any build. ``custom_ops``: user kernels bound
    to custom operators (``microaot.ops.user_kernels``)."""
    from microaot.frontend.tflite import load_tflite

    graph = load_tflite(model_path, lenient=True)
    bind_custom_ops(graph, custom_ops)
    if not graph.operators:
        raise UnsupportedModelError(f"{graph.source}: the model has no operators; nothing to compile")
    problems = collect_problems(graph, target)
    if problems:
        raise UnsupportedModelError(f"{graph.source}: cannot compile this model, {len(problems)} problem(s):\n"
                                    f"{format_problems(problems)}\n(`microaot inspect` shows the whole model; "
                                    "`microaot ops` lists the supported operators and dtypes)")
