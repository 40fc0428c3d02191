"""Schedule knob spaces of the lowerings (the tuner's view of a kernel's variants).

An operator that has schedule variants declares, with its lowering, a function giving the legal
values of every knob for one operator on one target, and one giving the default schedule::

    register("CONV_2D", schedule_scratch=..., space=conv_space, default=conv_default, lean=conv_lean, ...)

``microaot.schedules`` and ``microaot.schedules`` are the public faces of these spaces (docs/internals.md,
"Schedule knobs").
Knob values are JSON scalars (str, int, bool). ``resolve(graph, op, target, schedule)`` is what the
lowering and its scratch function call: the default schedule overridden by the given knobs, with
unknown knobs or illegal values rejected, and knobs that do not apply to the chosen variant dropped.

``lean`` (optional) gives, from an operator's default knobs, the knobs of a variant that needs less
scratch (slower), or None. ``lean_schedule`` is what the compiler's memory-aware pass
(``microaot.schedules.plan_schedules``) tries for an operator on its default that runs at the workspace peak.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from microaot import ops as opreg
from microaot.errors import MicroaotError
from microaot.ir.graph import Graph, Operator
from microaot.ops import SpaceDef

Knobs = dict[str, Any]

# targets whose cores have the DSP extension (SMLAD & co.: the Cortex-M4 kernels); the M55 has it too and
# falls back to them where its Helium kernels (MVE_TARGETS) do not apply
DSP_TARGETS = ("cortex-m4", "cortex-m7", "cortex-m55")
MVE_TARGETS = ("cortex-m55",)


def get_space(opcode: str) -> SpaceDef | None:
    """The knob space declared with the operator (``register(..., space=, default=, ...)``), or None."""
    d = opreg.get(opcode)
    return d.space if d is not None else None


def resolve(graph: Graph, op: Operator, target: str, schedule: Mapping[str, Any] | None) -> Knobs:
    """Default schedule of ``op`` on ``target`` overridden by ``schedule``; validated and canonical."""
    d = get_space(op.opcode)
    if d is None:
        return dict(schedule or {})
    space = d.space(graph, op, target)
    knobs = dict(d.default(graph, op, target))
    for k, v in (schedule or {}).items():
        if k not in space:
            raise MicroaotError(
                f"{graph.source}: operator {op.index} ({op.opcode}): unknown schedule knob {k!r}; "
                f"knobs: {', '.join(sorted(space)) or 'none'} (regenerate the tuning log with this microaot)"
            )
        if v not in space[k]:
            raise MicroaotError(
                f"{graph.source}: operator {op.index} ({op.opcode}): knob {k}={v!r} is not legal on target "
                f"{target}; legal values: {space[k]}"
            )
        knobs[k] = v
    if d.canonical is not None:
        knobs = d.canonical(graph, op, target, knobs)
    return knobs


def lean_schedule(graph: Graph, op: Operator, target: str, base: Mapping[str, Any] | None = None) -> Knobs | None:
    """The canonical knobs of ``op``'s lean alternative to its default schedule (less scratch), or None
    when its space has none for the default (or it is the default itself). ``base``: knobs overriding the
    default first (the compiler's flash-budget ``w16`` choice, ``schedules.plan_schedules``)."""
    d = get_space(op.opcode)
    if d is None or d.lean is None:
        return None
    default = resolve(graph, op, target, base)
    knobs = d.lean(graph, op, target, dict(default))
    if knobs is None:
        return None
    knobs = resolve(graph, op, target, knobs)
    return None if knobs == default else knobs
