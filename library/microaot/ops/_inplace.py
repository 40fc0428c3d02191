"""In-place variants of the int8 CONV_2D / DEPTHWISE_CONV_2D lowerings (kernel family ``conv_rows``).

``uaot_conv_s8_rows`` (crt/kernels/conv_rows.c) runs any int8 conv kernel one output row at a time,
top to bottom (``rows_fwd``) or bottom to top (``rows_bwd``). Row ``oy`` reads input rows
``S = oy*stride_h - pad_top`` .. ``E = S + (k_h-1)*dil_h`` only, so once it is written, input rows
below ``S(oy+1)`` (forward) or above ``E(oy-1)`` (backward) are dead. The output may therefore
overlap the input as long as no output row overlaps an input row that it or a later row still
reads. With the output at byte 0 and the input at byte ``delta`` of a shared buffer (OR / IR =
bytes of an output / input row, IH = input rows):

- forward: ``delta >= (oy+1)*OR - max(S(oy), 0)*IR`` for every ``oy`` with ``max(S, 0) < IH``;
- backward: ``delta <= oy*OR - (min(E(oy), IH-1) + 1)*IR`` for every ``oy`` with ``E(oy) >= 0``.

(3x3 stride 1: the output starts two input rows below / above the input; a 1x1 expansion to twice
the channels: backward, the input one input row below the output.) The planner picks the variant
and the distance; the kernel re-checks the overlap of every row at run time (UAOT_ERR_ARG).

``rows_lowering(lower)`` attaches this to a lowering without touching it (``conv.py`` declares its
operators with ``wrap=`` it and ``inplace=conv_rows_inplace``): the lowering runs as usual with its
input/output/params/scratch renamed to the
parameters of an adapter function, and the generated call drives that adapter row by row. A kernel
that runs the placement itself on the whole tensor (``runs_rows(ctx)`` true, e.g. DEPTHWISE_CONV_2D
``algo=pair``) is lowered as is, with ``ctx.inplace`` still ``rows_fwd`` / ``rows_bwd``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

from microaot.errors import UnsupportedModelError
from microaot.ir.graph import Graph, Operator
from microaot.ops import InPlace, LowerFn, Lowering, LoweringContext
from microaot.ops._geometry import conv_geometry
from microaot.planner.plan import ALIGN, align_down, align_up

ROWS_FAMILY = "conv_rows"


def _dims(graph: Graph, op: Operator) -> tuple[int, ...] | None:
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if x.dtype != "int8" or y.dtype != "int8" or x.is_const:
        return None
    try:
        g = conv_geometry(graph, op)
    except UnsupportedModelError:  # reported by the operator's check
        return None
    if g.batches != 1 or g.out_h <= 0:
        return None
    return g.in_h, g.in_w * g.in_c, g.out_h, g.out_w * g.out_c, g.k_h, g.stride_h, g.dil_h, g.pad_top


def rows_deltas(ih: int, ir: int, oh: int, orow: int, kh: int, sh: int, dh: int, pad: int) -> tuple[int, int]:
    """(smallest legal delta forward, largest legal delta backward), unaligned."""
    fwd, bwd = -(1 << 62), 1 << 62
    for oy in range(oh):
        s = oy * sh - pad
        e = s + (kh - 1) * dh
        lo = max(s, 0)
        if lo < ih:
            fwd = max(fwd, (oy + 1) * orow - lo * ir)
        if e >= 0:
            bwd = min(bwd, oy * orow - (min(e, ih - 1) + 1) * ir)
    return fwd, bwd


def conv_rows_inplace(graph: Graph, op: Operator) -> list[InPlace]:
    """In-place variants of an int8 CONV_2D / DEPTHWISE_CONV_2D with batch 1 (forward, backward)."""
    if len(op.inputs) < 2 or op.inputs[0] < 0 or op.inputs[1] < 0 or not op.outputs:
        return []
    d = _dims(graph, op)
    if d is None:
        return []
    fwd, bwd = rows_deltas(*d)
    # the forward delta never needs to be negative (0 = same start is always at least as small)
    # forward stays correct with the output further down (larger delta), backward further up
    return [InPlace(input=0, delta=align_up(max(fwd, 0), ALIGN), free=False, variant="rows_fwd", slack=1),
            InPlace(input=0, delta=align_down(min(bwd, 0), ALIGN), free=False, variant="rows_bwd", slack=-1)]


RunsRowsFn = Callable[[LoweringContext], bool]


def rows_lowering(lower: LowerFn, runs_rows: RunsRowsFn | None = None) -> LowerFn:
    """Wrap an int8 conv lowering: when the planner took a rows variant, the operator's own call
    (whatever kernel and schedule it picks) becomes the body of a small adapter with the
    ``uaot_conv_s8_kernel_t`` signature, which ``uaot_conv_s8_rows`` runs once per output row;
    unless ``runs_rows(ctx)``: then the lowering gets ``ctx`` as is and runs the placement itself."""

    def lower_rows(ctx: LoweringContext) -> Lowering:
        if ctx.inplace not in ("rows_fwd", "rows_bwd") or (runs_rows is not None and runs_rows(ctx)):
            return lower(ctx)
        x, y = ctx.op.inputs[0], ctx.op.outputs[0]
        inner = copy.copy(ctx)  # shares ctx.decls: the parameter structs still land in the file
        inner._ptrs = {**ctx._ptrs, x: "rows_in", y: "rows_out"}
        inner.scratch_ptr = "rows_s" if ctx.scratch_ptr is not None else None
        inner.inplace = None
        low = lower(inner)
        pname = "&" + ctx.sym("p")
        if low.call is None or pname not in low.call:
            raise ctx.unsupported(f"internal: the in-place row driver needs the call to use {pname}: {low.call}")
        body = low.call.replace(pname, "rows_p")
        # the kernel's scratch size (the lowering's literal after its scratch pointer) comes in as rows_n
        size = re.search(r"\brows_s, (\d+)u\b", body) if ctx.scratch_ptr is not None else None
        if ctx.scratch_ptr is not None and size is None:
            raise ctx.unsupported(f"internal: the in-place row driver needs the scratch size after rows_s: {body}")
        nbytes = f"{size[1]}u" if size is not None else "0u"
        body = body.replace(f"rows_s, {nbytes}", "rows_s, rows_n")
        if "(ws +" in body or "inputs[" in body or "outputs[" in body:
            raise ctx.unsupported(f"internal: the call uses other activation memory than its input/output: {body}")
        fn = ctx.sym("rows_kernel")
        adapter = (
            f"static uaot_status_t {fn}(const uaot_conv_s8_params_t *rows_p, const int8_t *rows_in,\n"
            f"    const int8_t *rows_w, int8_t *rows_out, uint8_t *rows_s, uint32_t rows_n)\n"
            "{\n    (void)rows_p;\n    (void)rows_in;\n    (void)rows_w;\n    (void)rows_out;\n    (void)rows_s;\n"
            "    (void)rows_n;\n"
            f"    return {body};\n}}")
        rev = 1 if ctx.inplace == "rows_bwd" else 0
        call = (f"uaot_conv_s8_rows({pname}, {ctx.in_ptr(0)}, NULL, {ctx.out_ptr(0)}, "
                f"{ctx.scratch_ptr or 'NULL'}, {nbytes}, {fn}, {rev})")
        return Lowering(families=tuple(dict.fromkeys((*low.families, ROWS_FAMILY))), call=call,
                        decls=[*low.decls, adapter])

    return lower_rows
