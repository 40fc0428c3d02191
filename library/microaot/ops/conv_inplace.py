"""In-place (row-driven) variants of int8 CONV_2D and DEPTHWISE_CONV_2D (see ``_inplace.py``).

Loaded after ``conv`` (modules are imported in name order; the import below makes sure), it wraps
the registered lowerings: with ``ctx.inplace`` in (rows_fwd, rows_bwd) the operator's usual kernel
call runs through ``uaot_conv_s8_rows`` (crt/kernels/conv_rows.c); otherwise nothing changes.

Pointwise exception: a 1x1 stride-1 CONV_2D with out_c <= in_c is offered ``rows_fwd`` only, and when
its schedule is ``gemm`` the kernel runs once on the whole tensor instead of once per output row. The
gemm kernels walk the pixels in increasing order in blocks of 1..3 and expand a block's input pixels
into their int16 columns (scratch) before writing any output of that block (conv_fast.h), so with the
output ``delta`` >= 0 bytes below the input, the bytes written up to pixel q ((q+1)*out_c) never reach
an input pixel not yet read (delta + (q+1)*in_c). The forward row distance the planner keeps is >= 0,
so every ``rows_fwd`` placement is also a legal pixel-order placement. (Whole-tensor blocks of 3 instead
of rows of out_w pixels: KWS's 25x5 pointwise layers no longer run 2 of every 5 pixels as leftovers.)

DEPTHWISE_CONV_2D ``algo=pair`` (``_dw_pair.py``) reads every input row once, when it expands it into its
ring of 3 rows, so it runs the ``rows_fwd`` / ``rows_bwd`` placements by itself on the whole tensor
(kernel mode 1 / 2, from ``ctx.inplace``) instead of once per output row through ``uaot_conv_s8_rows``
(which would expand each input row for every output row that reads it).

Both exceptions are one predicate, ``conv.runs_placement_itself``: the row driver hands such a lowering
``ctx`` unchanged and the lowering emits its usual whole-tensor call."""

from __future__ import annotations

from microaot import ops as opreg
from microaot.ir.graph import Graph, Operator
from microaot.ops import InPlace
from microaot.ops._inplace import add_rows_inplace, conv_rows_inplace
from microaot.ops.conv import pointwise_shrinking, runs_placement_itself  # (registers CONV_2D / DW)

add_rows_inplace("CONV_2D", runs_rows=runs_placement_itself)
add_rows_inplace("DEPTHWISE_CONV_2D", runs_rows=runs_placement_itself)


def _conv_inplace(graph: Graph, op: Operator) -> list[InPlace]:
    variants = conv_rows_inplace(graph, op)
    if len(op.inputs) >= 2 and min(op.inputs[:2]) >= 0 and pointwise_shrinking(graph, op):
        variants = [v for v in variants if v.variant == "rows_fwd"]
    return variants


opreg.extend("CONV_2D", inplace=_conv_inplace)
