"""In-place DEPTHWISE_CONV_2D ``algo=pair`` (crt/include/microaot/kernels/dw_fast.h).

The pair kernel reads every input row once, when it expands it into its ring of 3 rows, so it runs the
planner's row-driven in-place placements (``rows_fwd`` / ``rows_bwd``, ``_inplace.py``) by itself, on the
whole tensor (mode 1 / 2), instead of once per output row through ``uaot_conv_s8_rows`` (which would
expand each input row for every output row that reads it). Loaded after ``conv_inplace`` (name order;
the import below makes sure) and wraps its lowering."""

from __future__ import annotations

import copy

import microaot.codegen.ops.conv_inplace  # noqa: F401  (registers and wraps DEPTHWISE_CONV_2D)
from microaot.codegen import ops as opreg
from microaot.codegen.ops import LowerFn, Lowering, LoweringContext
from microaot.codegen.ops._schedule import resolve


def _pair_inplace(lower: LowerFn) -> LowerFn:
    def lower_dw(ctx: LoweringContext) -> Lowering:
        if ctx.inplace in ("rows_fwd", "rows_bwd") and \
                resolve(ctx.graph, ctx.op, ctx.target, ctx.schedule).get("algo") == "pair":
            inner = copy.copy(ctx)  # shares ctx.decls
            inner.inplace = None
            inner.dw_pair_mode = 1 if ctx.inplace == "rows_fwd" else 2  # type: ignore[attr-defined]
            return lower(inner)
        return lower(ctx)

    return lower_dw


opreg.extend("DEPTHWISE_CONV_2D", wrap=_pair_inplace)
