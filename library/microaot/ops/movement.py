"""Lowerings of the data-movement operators (kernel family ``movement``), any element type.

STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, PACK, UNPACK, TRANSPOSE, DEPTH_TO_SPACE, SPACE_TO_DEPTH,
BATCH_TO_SPACE_ND and SPACE_TO_BATCH_ND are strided byte copies (``_movement.move_struct``);
SQUEEZE and EXPAND_DIMS are views like RESHAPE. Shapes, begins, sizes, permutations, block sizes
and paddings must be constants (known at compile time).
"""

from __future__ import annotations

import numpy as np

from microaot.ir.graph import Tensor, dtype_size
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import const_data
from microaot.ops._movement import (
    check_rank,
    move_call,
    move_struct,
    norm_axis,
    same_dtype,
    strides,
)

FAM = ("movement",)


def _ints(ctx: LoweringContext, k: int, what: str) -> list[int]:
    return [int(v) for v in np.asarray(const_data(ctx, k, what)).astype(np.int64).reshape(-1).tolist()]


def _check_out(ctx: LoweringContext, y: Tensor, shape: list[int], what: str) -> None:
    if list(y.shape) != list(shape):
        raise ctx.unsupported(f"output {y.name!r} has shape {list(y.shape)}, but {what} gives {shape} "
                              "(dynamic output shapes are not supported)")


def _single(ctx: LoweringContext, x: Tensor, y: Tensor, dims: list[int], src_str: list[int], src_off: int) -> Lowering:
    e = dtype_size(x.dtype)
    s = move_struct(ctx, dims, src_str, strides(dims), src_off, 0, e)
    return Lowering(families=FAM, call=move_call(ctx, [(s, ctx.in_ptr(0), ctx.out_ptr(0))]))


# ---- views ------------------------------------------------------------------------------------


def _view(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    if x.dtype != y.dtype or x.num_elements != y.num_elements:
        raise ctx.unsupported(f"input {list(x.shape)} {x.dtype} and output {list(y.shape)} {y.dtype} differ in size")
    if ctx.aliased:
        return Lowering(call=None)
    return Lowering(call=f"(memcpy({ctx.out_ptr(0)}, {ctx.in_ptr(0)}, {y.nbytes}u), UAOT_OK)")


@register("SQUEEZE", view=True, dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_squeeze(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    rank = len(x.shape)
    dims = [int(d) for d in ctx.options.get("squeeze_dims", []) or []]
    axes = {norm_axis(ctx, d, rank, "squeeze dimension") for d in dims} if dims else \
        {d for d in range(rank) if x.shape[d] == 1}
    for a in axes:
        if x.shape[a] != 1:
            raise ctx.unsupported(f"cannot squeeze dimension {a} of size {x.shape[a]} (input {list(x.shape)})")
    _check_out(ctx, y, [int(x.shape[d]) for d in range(rank) if d not in axes], "SQUEEZE")
    return _view(ctx)


@register("EXPAND_DIMS", view=True, dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_expand_dims(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    ax = _ints(ctx, 1, "axis")
    if len(ax) != 1:
        raise ctx.unsupported(f"axis must hold one value, it holds {len(ax)}")
    rank = len(x.shape)
    a = ax[0] + rank + 1 if ax[0] < 0 else ax[0]
    if not 0 <= a <= rank:
        raise ctx.unsupported(f"axis {ax[0]} out of range for input rank {rank}")
    shape = [int(d) for d in x.shape]
    shape.insert(a, 1)
    _check_out(ctx, y, shape, "EXPAND_DIMS")
    return _view(ctx)


# ---- slices -----------------------------------------------------------------------------------


@register("SLICE", dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_slice(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    same_dtype(ctx, [x, y])
    check_rank(ctx, x, "input", 5)
    rank = len(x.shape)
    begin, size = _ints(ctx, 1, "begin"), _ints(ctx, 2, "size")
    if len(begin) != rank or len(size) != rank:
        raise ctx.unsupported(f"begin {begin} and size {size} must have {rank} entries (the input rank)")
    out = []
    for d in range(rank):
        n = x.shape[d] - begin[d] if size[d] == -1 else size[d]
        if begin[d] < 0 or n < 0 or begin[d] + n > x.shape[d]:
            raise ctx.unsupported(f"slice begin {begin[d]} size {size[d]} out of range on dimension {d} "
                                  f"of input {list(x.shape)}")
        out.append(n)
    _check_out(ctx, y, out, "SLICE")
    st = strides(x.shape)
    return _single(ctx, x, y, out, st, sum(b * s for b, s in zip(begin, st, strict=True)))


def _clamp(v: int, lo: int, hi: int) -> int:
    return hi if v > hi else lo if v < lo else v


@register("STRIDED_SLICE", dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_strided_slice(ctx: LoweringContext) -> Lowering:
    """TFLM semantics (strided_slice_logic.h): masks bit i refers to entry i of begin/end/strides;
    the ellipsis expands to the input dimensions no other entry covers, new_axis inserts a size-1
    output dimension, shrink_axis removes one; ``offset`` makes end relative to begin."""
    x, y = ctx.input(0), ctx.output(0)
    same_dtype(ctx, [x, y])
    check_rank(ctx, x, "input", 5)
    rank = len(x.shape)
    begin, end, stride = _ints(ctx, 1, "begin"), _ints(ctx, 2, "end"), _ints(ctx, 3, "strides")
    n = len(begin)
    if len(end) != n or len(stride) != n:
        raise ctx.unsupported(f"begin {begin}, end {end} and strides {stride} differ in length")
    o = ctx.options
    bm, em = int(o.get("begin_mask", 0)), int(o.get("end_mask", 0))
    elm, nam, sam = int(o.get("ellipsis_mask", 0)), int(o.get("new_axis_mask", 0)), int(o.get("shrink_axis_mask", 0))
    offset = bool(o.get("offset", False))
    if any(s == 0 for s in stride):
        raise ctx.unsupported(f"strides {stride} contain 0")
    # dense spec: one entry per input dimension: (begin, end, stride, begin?, end?, shrink?)
    # and the output layout: list of ("in", dim) or ("new",)
    dense: list[tuple[int, int, int, bool, bool, bool]] = []
    layout: list[tuple[str, int]] = []
    covered = sum(1 for i in range(n) if not (nam >> i) & 1 and not (elm >> i) & 1)
    seen_ellipsis = False
    for i in range(n):
        if (elm >> i) & 1 and not seen_ellipsis:
            seen_ellipsis = True
            for _ in range(rank - covered):
                layout.append(("in", len(dense)))
                dense.append((0, 0, 1, True, True, False))
            continue
        if (elm >> i) & 1:
            continue
        if (nam >> i) & 1:
            layout.append(("new", -1))
            continue
        layout.append(("in", len(dense)))
        dense.append((begin[i], end[i], stride[i], bool((bm >> i) & 1), bool((em >> i) & 1), bool((sam >> i) & 1)))
    while len(dense) < rank:
        layout.append(("in", len(dense)))
        dense.append((0, 0, 1, True, True, False))
    if len(dense) != rank:
        raise ctx.unsupported(f"begin/end/strides address {len(dense)} dimensions of a rank-{rank} input")
    st = strides(x.shape)
    src_off = 0
    kept: list[tuple[int, int]] = []  # (size, source element stride) per kept input dimension
    size_of: dict[int, int] = {}
    for d, (b, e, s, bmask, emask, shrink) in enumerate(dense):
        size = int(x.shape[d])
        if b < 0:
            b += size
        b = _clamp(b, 0, size) if s > 0 else _clamp(b, -1, size - 1)
        if bmask and not shrink:
            # begin_mask on a shrink axis: TF ignores it; TFLM's result is not defined there (with a
            # negative stride it writes nothing), so microaot follows TF
            b = 0 if s > 0 else size - 1
        if shrink:
            if not 0 <= b < size:
                raise ctx.unsupported(f"shrink index {dense[d][0]} out of range on dimension {d} of size {size}")
            src_off += b * st[d]
            continue
        if offset:
            e += b
        if e < 0:
            e += size
        e = _clamp(e, 0, size) if s > 0 else _clamp(e, -1, size - 1)
        if emask:
            e = size if s > 0 else -1
        cnt = max(0, -(-(e - b) // s)) if s > 0 else max(0, -(-(b - e) // -s))
        if cnt > 0:
            src_off += b * st[d]
        size_of[d] = cnt
        kept.append((cnt, s * st[d]))
    out_shape = [1 if kind == "new" else size_of[d] for kind, d in layout if kind == "new" or d in size_of]
    _check_out(ctx, y, out_shape, "STRIDED_SLICE")
    return _single(ctx, x, y, [k[0] for k in kept], [k[1] for k in kept], src_off)


# ---- split / pack -----------------------------------------------------------------------------


def _split(ctx: LoweringContext, x: Tensor, axis: int, sizes: list[int]) -> Lowering:
    outs = [ctx.output(k) for k in range(len(ctx.op.outputs))]
    same_dtype(ctx, [x, *outs])
    rank = len(x.shape)
    st = strides(x.shape)
    e = dtype_size(x.dtype)
    moves = []
    start = 0
    for k, (yk, n) in enumerate(zip(outs, sizes, strict=True)):
        shape = [int(d) for d in x.shape]
        shape[axis] = n
        if list(yk.shape) != shape:
            raise ctx.unsupported(f"output {k} {yk.name!r} has shape {list(yk.shape)}, expected {shape}")
        s = move_struct(ctx, shape, st, strides(shape), start * st[axis], 0, e)
        moves.append((s, ctx.in_ptr(1 if ctx.opcode == "SPLIT" else 0), ctx.out_ptr(k)))
        start += n
    if start != x.shape[axis] or rank == 0:
        raise ctx.unsupported(f"split sizes {sizes} do not add up to dimension {axis} ({x.shape[axis]})")
    return Lowering(families=FAM, call=move_call(ctx, moves))


@register("SPLIT", dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_split(ctx: LoweringContext) -> Lowering:
    x = ctx.input(1)
    check_rank(ctx, x, "input")
    ax = _ints(ctx, 0, "axis")
    axis = norm_axis(ctx, ax[0], len(x.shape))
    num = int(ctx.options.get("num_splits", len(ctx.op.outputs)))
    if num != len(ctx.op.outputs) or num <= 0 or x.shape[axis] % num:
        raise ctx.unsupported(f"cannot split dimension {axis} ({x.shape[axis]}) into {num} equal parts "
                              f"({len(ctx.op.outputs)} outputs)")
    return _split(ctx, x, axis, [x.shape[axis] // num] * num)


@register("SPLIT_V", dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_split_v(ctx: LoweringContext) -> Lowering:
    x = ctx.input(0)
    check_rank(ctx, x, "input")
    sizes = _ints(ctx, 1, "size_splits")
    axis = norm_axis(ctx, _ints(ctx, 2, "axis")[0], len(x.shape))
    if len(sizes) != len(ctx.op.outputs):
        raise ctx.unsupported(f"{len(sizes)} split sizes for {len(ctx.op.outputs)} outputs")
    if sizes.count(-1) == 1:
        sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
    return _split(ctx, x, axis, sizes)


@register("PACK", dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_pack(ctx: LoweringContext) -> Lowering:
    y = ctx.output(0)
    xs = [ctx.input(k) for k in range(ctx.num_inputs())]
    same_dtype(ctx, [*xs, y])
    check_rank(ctx, y, "output")
    axis = norm_axis(ctx, int(ctx.options.get("axis", 0)), len(y.shape))
    shape = [int(d) for d in xs[0].shape]
    exp = shape[:axis] + [len(xs)] + shape[axis:]
    _check_out(ctx, y, exp, "PACK")
    yst = strides(y.shape)
    dst = yst[:axis] + yst[axis + 1:]
    e = dtype_size(y.dtype)
    moves = []
    for k, xk in enumerate(xs):
        if list(xk.shape) != shape:
            raise ctx.unsupported(f"input {k} {xk.name!r} has shape {list(xk.shape)}, input 0 has {shape}")
        moves.append((move_struct(ctx, shape, strides(shape), dst, 0, k * yst[axis], e), ctx.in_ptr(k),
                      ctx.out_ptr(0)))
    return Lowering(families=FAM, call=move_call(ctx, moves))


@register("UNPACK", dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_unpack(ctx: LoweringContext) -> Lowering:
    x = ctx.input(0)
    outs = [ctx.output(k) for k in range(len(ctx.op.outputs))]
    same_dtype(ctx, [x, *outs])
    check_rank(ctx, x, "input")
    axis = norm_axis(ctx, int(ctx.options.get("axis", 0)), len(x.shape))
    if x.shape[axis] != len(outs):
        raise ctx.unsupported(f"dimension {axis} ({x.shape[axis]}) does not match {len(outs)} outputs")
    shape = [int(d) for i, d in enumerate(x.shape) if i != axis]
    xst = strides(x.shape)
    src = xst[:axis] + xst[axis + 1:]
    e = dtype_size(x.dtype)
    moves = []
    for k, yk in enumerate(outs):
        if list(yk.shape) != shape:
            raise ctx.unsupported(f"output {k} {yk.name!r} has shape {list(yk.shape)}, expected {shape}")
        moves.append((move_struct(ctx, shape, src, strides(shape), k * xst[axis], 0, e), ctx.in_ptr(0),
                      ctx.out_ptr(k)))
    return Lowering(families=FAM, call=move_call(ctx, moves))


# ---- permutations -----------------------------------------------------------------------------


@register("TRANSPOSE", dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_transpose(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    same_dtype(ctx, [x, y])
    check_rank(ctx, x, "input")
    rank = len(x.shape)
    perm = [norm_axis(ctx, p, rank, "permutation entry") for p in _ints(ctx, 1, "perm")]
    if sorted(perm) != list(range(rank)):
        raise ctx.unsupported(f"perm {perm} is not a permutation of the {rank} input dimensions")
    out = [int(x.shape[p]) for p in perm]
    _check_out(ctx, y, out, "TRANSPOSE")
    st = strides(x.shape)
    return _single(ctx, x, y, out, [st[p] for p in perm], 0)


def _nhwc(ctx: LoweringContext, t: Tensor, what: str) -> tuple[int, int, int, int]:
    if len(t.shape) != 4:
        raise ctx.unsupported(f"{what} {t.name!r} must have 4 dimensions (NHWC), it has shape {list(t.shape)}")
    n, h, w, c = (int(d) for d in t.shape)
    return n, h, w, c


def _block_size(ctx: LoweringContext) -> int:
    b = int(ctx.options.get("block_size", 0))
    if b < 1:
        raise ctx.unsupported(f"block_size {b} must be at least 1")
    return b


@register("DEPTH_TO_SPACE", dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_depth_to_space(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    same_dtype(ctx, [x, y])
    n, h, w, c = _nhwc(ctx, x, "input")
    b = _block_size(ctx)
    if c % (b * b):
        raise ctx.unsupported(f"depth {c} is not a multiple of block_size^2 ({b * b})")
    oc = c // (b * b)
    _check_out(ctx, y, [n, h * b, w * b, oc], "DEPTH_TO_SPACE")
    # output viewed as (n, h, bh, w, bw, oc); input element (n, h, w, (bh * b + bw) * oc + c)
    dims = [n, h, b, w, b, oc]
    src = [h * w * c, w * c, b * oc, c, oc, 1]
    return _single(ctx, x, y, dims, src, 0)


@register("SPACE_TO_DEPTH", dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_space_to_depth(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    same_dtype(ctx, [x, y])
    n, h, w, c = _nhwc(ctx, x, "input")
    b = _block_size(ctx)
    if h % b or w % b:
        raise ctx.unsupported(f"height {h} and width {w} must be multiples of block_size {b}")
    _check_out(ctx, y, [n, h // b, w // b, c * b * b], "SPACE_TO_DEPTH")
    # output viewed as (n, oh, ow, bh, bw, c); input element (n, oh * b + bh, ow * b + bw, c)
    dims = [n, h // b, w // b, b, b, c]
    src = [h * w * c, b * w * c, b * c, w * c, c, 1]
    return _single(ctx, x, y, dims, src, 0)


def _spatial(ctx: LoweringContext, t: Tensor, what: str) -> tuple[int, int, int, int]:
    """(batch, height, width, depth) of a rank-3 (one spatial dimension, width 1) or rank-4 tensor."""
    if len(t.shape) == 3:
        n, h, c = (int(d) for d in t.shape)
        return n, h, 1, c
    if len(t.shape) == 4:
        n, h, w, c = (int(d) for d in t.shape)
        return n, h, w, c
    raise ctx.unsupported(f"{what} {t.name!r} must have 3 or 4 dimensions, it has shape {list(t.shape)}")


def _block_and_pairs(ctx: LoweringContext, rank: int, what: str) -> tuple[list[int], list[tuple[int, int]]]:
    block = _ints(ctx, 1, "block_shape")
    pairs = _ints(ctx, 2, what)
    sp = rank - 2
    if len(block) != sp or len(pairs) != 2 * sp:
        raise ctx.unsupported(f"block_shape {block} and {what} {pairs} must cover the {sp} spatial dimensions")
    if any(v < 1 for v in block) or any(v < 0 for v in pairs):
        raise ctx.unsupported(f"block_shape {block} must be positive and {what} {pairs} non-negative")
    bl = block + [1] * (2 - sp)
    pp = [(pairs[2 * i], pairs[2 * i + 1]) for i in range(sp)] + [(0, 0)] * (2 - sp)
    return bl, pp


def _range_for(off: int, block: int, lo_pad: int, n_small: int, n_big: int) -> tuple[int, int]:
    """Indices i in [0, n_small) with 0 <= i * block + off - lo_pad < n_big: (first, count)."""
    first = max(0, -(-(lo_pad - off) // block))
    last = min(n_small - 1, (n_big - 1 + lo_pad - off) // block)
    return first, max(0, last - first + 1)


@register("BATCH_TO_SPACE_ND", dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_batch_to_space_nd(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    same_dtype(ctx, [x, y])
    ib, ih, iw, c = _spatial(ctx, x, "input")
    (bh, bw), ((ct, cb), (cl, cr)) = _block_and_pairs(ctx, len(x.shape), "crops")
    if ib % (bh * bw):
        raise ctx.unsupported(f"batch {ib} is not a multiple of the block size {bh * bw}")
    ob, oh, ow = ib // (bh * bw), ih * bh - ct - cb, iw * bw - cl - cr
    exp = [ob, oh, ow, c] if len(x.shape) == 4 else [ob, oh, c]
    _check_out(ctx, y, exp, "BATCH_TO_SPACE_ND")
    e = dtype_size(x.dtype)
    moves = []
    for offh in range(bh):
        h0, nh = _range_for(offh, bh, ct, ih, oh)
        for offw in range(bw):
            w0, nw = _range_for(offw, bw, cl, iw, ow)
            src_off = (offh * bw + offw) * ob * ih * iw * c + h0 * iw * c + w0 * c
            dst_off = (h0 * bh + offh - ct) * ow * c + (w0 * bw + offw - cl) * c
            s = move_struct(ctx, [ob, nh, nw, c], [ih * iw * c, iw * c, c, 1],
                            [oh * ow * c, bh * ow * c, bw * c, 1], src_off, dst_off, e)
            moves.append((s, ctx.in_ptr(0), ctx.out_ptr(0)))
    return Lowering(families=FAM, call=move_call(ctx, moves))


@register("SPACE_TO_BATCH_ND", dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_space_to_batch_nd(ctx: LoweringContext) -> Lowering:
    """Padded positions hold a real 0 (the output zero point when quantized), as TF defines it."""
    x, y = ctx.input(0), ctx.output(0)
    dtype = same_dtype(ctx, [x, y])
    ib, ih, iw, c = _spatial(ctx, x, "input")
    (bh, bw), ((pt, pb), (pl, pr)) = _block_and_pairs(ctx, len(x.shape), "paddings")
    ph, pw = ih + pt + pb, iw + pl + pr
    if ph % bh or pw % bw:
        raise ctx.unsupported(f"padded spatial size {ph}x{pw} is not a multiple of block_shape {bh}x{bw}")
    ob, oh, ow = ib * bh * bw, ph // bh, pw // bw
    exp = [ob, oh, ow, c] if len(x.shape) == 4 else [ob, oh, c]
    _check_out(ctx, y, exp, "SPACE_TO_BATCH_ND")
    e = dtype_size(dtype)
    calls = []
    if (pt, pb, pl, pr) != (0, 0, 0, 0):
        # TF semantics: padding is a real 0 (the zero point of a quantized output). TFLM's kernel leaves
        # its pad value unset (it pads with whatever its arena held), so it cannot be matched there.
        zp = y.quant.zp0 if (y.quant is not None and dtype in ("int8", "int16", "uint8")) else 0
        value = np.zeros(e, np.uint8)
        if zp:
            value = np.array([zp], dtype={"int8": "<i1", "uint8": "<u1", "int16": "<i2"}[dtype]).view(np.uint8)
        v = ctx.const_array("pad_value", "uint8_t", value.tolist())
        calls.append(f"uaot_fill((void *){ctx.out_ptr(0)}, {y.num_elements}, {e}, {v})")
    moves = []
    for offh in range(bh):
        h0, nh = _range_for(offh, bh, pt, oh, ih)
        for offw in range(bw):
            w0, nw = _range_for(offw, bw, pl, ow, iw)
            dst_off = (offh * bw + offw) * ib * oh * ow * c + h0 * ow * c + w0 * c
            src_off = (h0 * bh + offh - pt) * iw * c + (w0 * bw + offw - pl) * c
            s = move_struct(ctx, [ib, nh, nw, c], [ih * iw * c, bh * iw * c, bw * c, 1],
                            [oh * ow * c, ow * c, c, 1], src_off, dst_off, e)
            moves.append((s, ctx.in_ptr(0), ctx.out_ptr(0)))
    calls.append(move_call(ctx, moves))
    call = calls[0] if len(calls) == 1 else f"(({calls[0]}) != UAOT_OK ? UAOT_ERR_ARG : ({calls[1]}))"
    return Lowering(families=FAM, call=call)
