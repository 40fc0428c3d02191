"""Which operators are byte views (may alias their input) and which need kernel scratch memory."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from microaot.codegen import ops as opreg
from microaot.errors import MicroaotError, UnsupportedModelError
from microaot.ir.graph import Graph


def view_ops(graph: Graph) -> list[int]:
    """Indices of operators registered with view=True (RESHAPE, ...)."""
    out = []
    for op in graph.operators:
        d = opreg.get(op.opcode)
        if d is not None and d.view:
            out.append(op.index)
    return out


def _takes_schedule(fn: Any) -> bool:
    try:
        return len(inspect.signature(fn).parameters) >= 4
    except (TypeError, ValueError):
        return False


def scratch_requests(graph: Graph, target: str = "generic",
                     schedules: Mapping[int, Mapping[str, Any]] | None = None) -> dict[int, int]:
    """op index -> scratch bytes, from each lowering's registered scratch() function.

    A scratch function is ``scratch(graph, op)`` or, when the size depends on the schedule,
    ``scratch(graph, op, target, schedule)`` (schedule = the op's knobs, {} for the default)."""
    out: dict[int, int] = {}
    for op in graph.operators:
        d = opreg.get(op.opcode)
        if d is not None and d.scratch is not None:
            try:
                if _takes_schedule(d.scratch):
                    n = int(d.scratch(graph, op, target, dict((schedules or {}).get(op.index, {}))))
                else:
                    n = int(d.scratch(graph, op))
            except MicroaotError:
                raise
            except Exception as e:  # e.g. an operator with fewer inputs than its kind needs
                raise UnsupportedModelError(
                    f"{graph.source}: operator {op.index} ({op.opcode}) with inputs {op.inputs} and outputs "
                    f"{op.outputs}: cannot size its scratch buffer ({type(e).__name__}: {e}); the model "
                    "file may be inconsistent: re-export it, or report this model"
                ) from None
            if n > 0:
                out[op.index] = n
    return out


def activation_live_bytes(graph: Graph) -> list[int]:
    """Per operator (model order): workspace bytes of the activations live while it runs, without
    kernel scratch and without in-place sharing: ``MemoryPlan.live_bytes`` of
    ``plan_memory(graph, views, scratch={}, inplace=[], reorder=False)``, computed without placing
    anything (tests/test_planner.py checks they agree). Graph inputs and outputs live in the
    caller's buffers and do not count; a view (RESHAPE, ...) shares its input's bytes.

    Used by schedule defaults that trade speed for scratch: a variant's scratch at operator i is free
    when ``live[i] + scratch <= max(live)`` (the workspace needs that much anyway)."""
    n = len(graph.operators)
    parent: dict[int, int] = {}

    def find(t: int) -> int:
        parent.setdefault(t, t)
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    tensors = graph.tensors
    for oi in view_ops(graph):
        op = graph.operators[oi]
        if op.inputs and op.inputs[0] >= 0 and op.outputs and not tensors[op.inputs[0]].is_const \
                and tensors[op.inputs[0]].nbytes == tensors[op.outputs[0]].nbytes:
            parent[find(op.outputs[0])] = find(op.inputs[0])
    producers, consumers = graph.producers(), graph.consumers()
    pinned = {find(t) for t in (*graph.inputs, *graph.outputs)}
    span: dict[int, list[int]] = {}  # root -> [first, last, bytes]
    for t in graph.activation_tensors():
        r = find(t)
        if r in pinned:
            continue
        w = producers.get(t, 0)
        last = max([w, *consumers.get(t, [])])
        s = span.setdefault(r, [w, last, 0])
        s[0], s[1], s[2] = min(s[0], w), max(s[1], last), max(s[2], tensors[t].nbytes)
    live = [0] * n
    for first, last, nbytes in span.values():
        for i in range(first, min(last, n - 1) + 1):
            live[i] += nbytes
    return live
