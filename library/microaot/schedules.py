"""Knob spaces for the tuner: what can be tuned for one operator on one target.

    op_space(graph, op, target) -> {knob: [legal values]}   ({} = nothing to tune)
    default_schedule(graph, op, target) -> {knob: value}     (what a build uses without a log)
    default_schedules(graph, target) -> {op_index: knobs}    (the same for every operator, one plan)
    op_signature(graph, op) -> str                           (stable key of the tuning log)
    candidates(graph, op, target[, default]) -> [knobs, ...] (distinct variants, default first)
    canonical_schedule(graph, op, target, knobs) -> knobs    (drops knobs the variant ignores)

The spaces are defined next to the lowerings (``microaot.ops.<family>`` registering through
``microaot.ops._schedule``); a schedule is passed to ``compile_model(schedules={op_index:
knobs})`` or comes from the tuning log. Every schedule in the space is bit-exact with TFLM; they
differ only in speed, flash (e.g. ``w16`` doubles the weight bytes) and scratch RAM.

The default of an operator is model-wide: the space's default, or its lean alternative (less scratch)
where the compiler's memory-aware pass takes it (``microaot.compiler.plan_schedules``), e.g. the
autoencoder's FULLY_CONNECTED layers on ``x8``. ``default_schedule(s)`` plan the model to find out;
for many operators call ``default_schedules`` once and pass each one to ``candidates``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

from microaot.ir.graph import Graph, Operator
from microaot.ops._schedule import get_space, resolve

TARGETS = ("generic", "cortex-m4", "cortex-m7")


def op_space(graph: Graph, op: Operator, target: str) -> dict[str, list[Any]]:
    """Legal values of each knob of ``op`` on ``target`` (the first value of each list is not
    necessarily the default; see default_schedule). Empty dict: the operator has no knobs."""
    d = get_space(op.opcode)
    if d is None:
        return {}
    return {k: list(v) for k, v in d.space(graph, op, target).items()}


def default_schedules(graph: Graph, target: str) -> dict[int, dict[str, Any]]:
    """``{op_index: knobs}`` for every operator with a knob space: what ``compile_model`` builds without
    tuning log or override (``microaot.compiler.default_schedules``; plans the model once)."""
    from microaot.compiler import default_schedules as build_defaults

    return build_defaults(graph, target)


def default_schedule(graph: Graph, op: Operator, target: str) -> dict[str, Any]:
    """The schedule a build uses for ``op`` on ``target`` when no tuning log entry / override exists
    (``default_schedules(graph, target)[op.index]``: plans the model)."""
    if get_space(op.opcode) is None:
        return {}
    return default_schedules(graph, target)[op.index]


def canonical_schedule(graph: Graph, op: Operator, target: str, knobs: Mapping[str, Any]) -> dict[str, Any]:
    """``knobs`` completed with defaults, validated (MicroaotError if illegal), minus the knobs the chosen
    variant ignores (e.g. ``w16`` with ``algo=direct``). Two schedules are the same kernel iff their
    canonical forms are equal."""
    return resolve(graph, op, target, knobs)


def candidates(graph: Graph, op: Operator, target: str,
               default: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """All distinct (canonical) schedules of ``op`` on ``target``, the default first (``default``:
    ``default_schedules(graph, target)[op.index]``, computed when not given)."""
    space = op_space(graph, op, target)
    if not space:
        return [{}]
    d = dict(default) if default is not None else default_schedule(graph, op, target)
    out: list[dict[str, Any]] = [d]
    seen = {json.dumps(d, sort_keys=True)}
    keys = sorted(space)
    for values in itertools.product(*(space[k] for k in keys)):
        c = canonical_schedule(graph, op, target, dict(zip(keys, values, strict=True)))
        key = json.dumps(c, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _shape(graph: Graph, t: int) -> str:
    if t < 0:
        return "-"
    tt = graph.tensors[t]
    dims = "x".join(str(int(d)) for d in tt.shape) or "scalar"
    pc = ""
    if tt.quant is not None and tt.quant.per_channel:
        pc = ":pc"
    return f"{dims}:{tt.dtype}{pc}"


def op_signature(graph: Graph, op: Operator) -> str:
    """Stable key of an operator for tuning logs: opcode, input/output shapes and dtypes (":pc" =
    per-channel quantized), scalar options (strides, padding, dilation, activation, ...). No tensor
    names, no quantization values, no op index: the same layer in two models has the same signature.

    Example: ``CONV_2D|in=1x25x5x64:int8,64x1x1x64:int8:pc,64:int32:pc|out=1x25x5x64:int8|``
    ``dilation_h_factor=1,dilation_w_factor=1,fused_activation_function=RELU,padding=SAME,stride_h=1,stride_w=1``
    """
    ins = ",".join(_shape(graph, t) for t in op.inputs)
    outs = ",".join(_shape(graph, t) for t in op.outputs)
    opts = []
    for k in sorted(op.options):
        v = op.options[k]
        if isinstance(v, bool):
            v = int(v)
        if isinstance(v, (int, float, str)):
            opts.append(f"{k}={v}")
    return f"{op.opcode}|in={ins}|out={outs}|{','.join(opts)}"
