"""Schedules: what can be tuned for one operator on one target, and what a build uses.

The layer between the operator declarations (``microaot.ops``: knob spaces, ``_schedule.resolve``) and
their users, the compiler and the tuner (both import this module; it imports neither)::

    op_space(graph, op, target) -> {knob: [legal values]}   ({} = nothing to tune)
    default_schedule(graph, op, target) -> {knob: value}     (what a build uses without a log)
    default_schedules(graph, target) -> {op_index: knobs}    (the same for every operator, one plan)
    plan_schedules(graph, target, schedules) -> (plan, knobs) (memory plan + memory-aware lean choices)
    op_signature(graph, op) -> str                           (stable key of the tuning log)
    candidates(graph, op, target[, default]) -> [knobs, ...] (distinct variants, default first)
    canonical_schedule(graph, op, target, knobs) -> knobs    (drops knobs the variant ignores)

The spaces are declared with the operators (``microaot.ops.<family>``: ``register(..., space=,
default=, canonical=, lean=)``); a schedule is passed to ``compile_model(schedules={op_index:
knobs})`` or comes from the tuning log. Every schedule in the space is bit-exact with TFLM; they
differ only in speed, flash (e.g. ``w16`` doubles the weight bytes) and scratch RAM.

The default of an operator is model-wide: the space's default, or its lean alternative (less scratch)
where the compiler's memory-aware pass takes it (``plan_schedules``), e.g. the
autoencoder's FULLY_CONNECTED layers on ``x8``. ``default_schedule(s)`` plan the model to find out;
for many operators call ``default_schedules`` once and pass each one to ``candidates``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from typing import Any

from microaot.ir.graph import Graph, Operator
from microaot.ops._schedule import get_space, lean_schedule, resolve
from microaot.passes import inplace_options, scratch_requests, state_requests, view_ops
from microaot.planner import MemoryPlan, plan_memory
from microaot.planner.plan import ALIGN

TARGETS = ("generic", "cortex-m4", "cortex-m7", "cortex-m55")


def op_space(graph: Graph, op: Operator, target: str) -> dict[str, list[Any]]:
    """Legal values of each knob of ``op`` on ``target`` (the first value of each list is not
    necessarily the default; see default_schedule). Empty dict: the operator has no knobs."""
    d = get_space(op.opcode)
    if d is None:
        return {}
    return {k: list(v) for k, v in d.space(graph, op, target).items()}


def _plan(graph: Graph, target: str, sched: Mapping[int, Mapping[str, Any]]) -> MemoryPlan:
    return plan_memory(graph, views=view_ops(graph), scratch=scratch_requests(graph, target, sched),
                       inplace=inplace_options(graph), reorder=True, state=state_requests(graph))


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


# Flash budget of the default int16 weights (``w16``): the extra bytes the int16 copies of CONV_2D /
# FULLY_CONNECTED weights may add to a model's image, summed over the layers that take them
# (docs/internals.md, "Why these defaults"). The MLPerf Tiny models fit (AD, the largest, adds 264 KiB).
W16_FLASH_BUDGET = 512 * 1024
# On a board with a known flash size the budget also keeps the image within 3/4 of it: flash * 3/4 minus the
# model's constants minus W16_CODE_RESERVE (runtime, kernels and the application) is what int16 copies may add.
W16_CODE_RESERVE = 64 * 1024
W16_OPCODES = ("CONV_2D", "FULLY_CONNECTED")
# A lean alternative (slower, less scratch) is taken whenever it shrinks the workspace, by at least
# LEAN_MIN_BYTES and, when LEAN_MIN_SAVING > 0, by 1/LEAN_MIN_SAVING of it: memory first, the documented RAM
# target (workspace + I/O <= 0.67x TFLM's arena on every MLPerf model) needs IC's 288-byte saving (op 2 on gemm
# cols=2, 0.8 % of its 34,656 bytes, ~4 % more instructions on that layer); AD's 128-input layers give up
# their 256-byte int16 copies for ~7 % more instructions. A faster, larger default is a tuning-log entry away
# (or raise these two: 16 / 512 keep both).
LEAN_MIN_SAVING = 0
LEAN_MIN_BYTES = 1


def w16_defaults(graph: Graph, target: str, explicit: Mapping[int, Mapping[str, Any]] | None = None,
                 budget: int = W16_FLASH_BUDGET) -> dict[int, dict[str, Any]]:
    """``{op_index: knobs}``: the CONV_2D / FULLY_CONNECTED operators (not in ``explicit``) whose default has
    int8 weights (``w16`` False) and whose space offers ``w16``, switched to int16 weights while the extra
    flash (one more byte per weight) stays within ``budget``: the layers that reuse each weight most (output
    pixels per output channel, i.e. MACs per weight byte) first, then by operator index."""
    explicit = explicit or {}
    cands: list[tuple[int, int, int]] = []
    for op in graph.operators:
        if op.opcode not in W16_OPCODES or op.index in explicit or len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        knobs = resolve(graph, op, target, None)
        if knobs.get("w16") is not False or True not in op_space(graph, op, target).get("w16", []):
            continue
        w, y = graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
        if w.dtype != "int8" or not w.shape or int(w.shape[0]) <= 0:
            continue
        n_w = w.num_elements
        cands.append((-(y.num_elements // int(w.shape[0])), op.index, n_w))
    out: dict[int, dict[str, Any]] = {}
    used = 0
    for _, i, n_w in sorted(cands):
        if used + n_w <= budget:
            used += n_w
            out[i] = resolve(graph, graph.operators[i], target, {"w16": True})
    return out


def w16_budget(graph: Graph, flash_size: int | None = None) -> int:
    """The flash the default int16 weights may add: W16_FLASH_BUDGET, and on a part with ``flash_size`` bytes
    of flash (a board's ``upload.maximum_size``) at most ``flash_size * 3/4`` minus the model's constant bytes
    minus W16_CODE_RESERVE (0 when the int8 model alone is that large: the defaults then keep int8 weights)."""
    if not flash_size:
        return W16_FLASH_BUDGET
    consts = sum(t.nbytes for t in graph.tensors if t.is_const)
    return max(0, min(W16_FLASH_BUDGET, flash_size * 3 // 4 - consts - W16_CODE_RESERVE))


def plan_schedules(graph: Graph, target: str, schedules: Mapping[int, Mapping[str, Any]] | None = None,
                   *, flash_size: int | None = None) -> tuple[MemoryPlan, dict[int, dict[str, Any]]]:
    """Memory plan and schedules of a build: ``schedules`` (tuning log / explicit, kept as they are) plus
    the defaults: first int16 weights (``w16``) for the CONV_2D / FULLY_CONNECTED layers that fit the flash
    budget (``w16_defaults``; ``w16_budget``: bounded by the part's ``flash_size`` when given), then the
    memory-aware choices. An operator on its default schedule (w16
    included) whose space has a lean alternative (``_schedule.lean_schedule``: less scratch, slower;
    FULLY_CONNECTED simd4 ``x8``, CONV_2D gemm ``cols=2``) and that runs at the peak of the planned
    workspace (the buffers live during its step, its scratch included, reach the top) gets that
    alternative when re-planning shows the workspace shrinks (by at least LEAN_MIN_BYTES, and 1/LEAN_MIN_SAVING
    of it when that is > 0; by default any saving):
    first every such operator at once (layers of one size that each reach the same peak), else one at a
    time; repeated while the workspace shrinks that much. Then each lean operator whose default does not
    raise the workspace again goes back to the (faster) default. Returns the plan and the schedules
    with the w16 and lean choices added (docs/internals.md, "Schedule knobs")."""
    explicit = {int(k): dict(v) for k, v in (schedules or {}).items()}
    base = w16_defaults(graph, target, explicit, budget=w16_budget(graph, flash_size))
    sched = {**explicit, **base}
    plan = _plan(graph, target, sched)
    leans = {op.index: k for op in graph.operators
             if op.index not in explicit and (k := lean_schedule(graph, op, target, base.get(op.index))) is not None}
    chosen: list[int] = []
    while True:
        top = _at_peak(graph, target, sched, plan, (i for i in leans if i not in chosen))
        if not top:
            break
        for group in [top] + ([[i] for i in top] if len(top) > 1 else []):
            trial = {**sched, **{i: dict(leans[i]) for i in group}}
            p2 = _plan(graph, target, trial)
            rel = plan.workspace_size // LEAN_MIN_SAVING if LEAN_MIN_SAVING > 0 else 0
            if plan.workspace_size - p2.workspace_size >= max(LEAN_MIN_BYTES, rel, 1):
                plan, sched = p2, trial
                chosen += group
                break
        else:
            break
    for i in chosen:  # give back what the final workspace does not need
        trial = {k: v for k, v in sched.items() if k != i}
        if i in base:
            trial[i] = base[i]
        p2 = _plan(graph, target, trial)
        if p2.workspace_size <= plan.workspace_size:
            plan, sched = p2, trial
    return plan, sched


def default_schedules(graph: Graph, target: str) -> dict[int, dict[str, Any]]:
    """``{op_index: knobs}``: the resolved schedule of every operator with a knob space in a build without
    tuning log or explicit schedules (``plan_schedules``' memory-aware choices included); what the tuner
    and ``testing.m4run`` measure as "default"."""
    _, sched = plan_schedules(graph, target)
    return {op.index: resolve(graph, op, target, sched.get(op.index)) for op in graph.operators
            if get_space(op.opcode) is not None}


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
