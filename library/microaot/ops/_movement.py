"""Shared helpers of the data-movement lowerings (kernel family ``movement``).

Every pure data-movement operator is expressed as one or more N-dimensional strided byte copies
(``uaot_move_params_t``): an iteration space, source and destination strides and offsets in
elements. :func:`move_struct` turns that into the C initializer after simplifying it (dimensions of
size 1 dropped, dimensions contiguous in both source and destination merged, the innermost
contiguous dimension folded into the bytes copied per position), so a slice or a split becomes a
few ``memcpy`` calls and a transpose an element loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from microaot.ir.graph import Tensor, dtype_size
from microaot.ops import LoweringContext

MAX_DIMS = 6
# dtypes moved as bytes (TFLM's data-movement kernels copy whatever element type they are given)
ANY_DTYPE = ("int8", "uint8", "int16", "int32", "int64", "float32", "bool")


def strides(shape: Sequence[int]) -> list[int]:
    """Row-major element strides of a shape."""
    return [math.prod(shape[d + 1:]) for d in range(len(shape))]


def carray(values: Sequence[int]) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def same_dtype(ctx: LoweringContext, tensors: Sequence[Tensor], allowed: Sequence[str] = ANY_DTYPE) -> str:
    """The common element type of ``tensors`` (an error names them when they differ)."""
    dts = {t.dtype for t in tensors}
    if len(dts) != 1 or next(iter(dts)) not in allowed:
        names = ", ".join(f"{t.name!r}: {t.dtype}" for t in tensors)
        raise ctx.unsupported(f"tensor types ({names}) not supported; supported: one of {', '.join(allowed)} "
                              "for all of them")
    return next(iter(dts))


def move_struct(ctx: LoweringContext, dims: Sequence[int], src_strides: Sequence[int],
                dst_strides: Sequence[int], src_offset: int, dst_offset: int, elem: int) -> str | None:
    """C initializer ``{...}`` of one uaot_move_params_t (strides and offsets in elements), or None
    when the copy is empty."""
    if any(d == 0 for d in dims):
        return None
    ent = [(int(n), int(s) * elem, int(t) * elem) for n, s, t in zip(dims, src_strides, dst_strides, strict=True)
           if n != 1]
    merged: list[tuple[int, int, int]] = []
    for n, s, t in ent:
        if merged:
            pn, ps, pt = merged[-1]
            if ps == n * s and pt == n * t:
                merged[-1] = (pn * n, s, t)
                continue
        merged.append((n, s, t))
    run = elem
    if merged and merged[-1][1] == elem and merged[-1][2] == elem:
        run = merged[-1][0] * elem
        merged.pop()
    if len(merged) > MAX_DIMS:
        raise ctx.unsupported(f"the copy needs {len(merged)} dimensions; at most {MAX_DIMS} are supported")
    fill = MAX_DIMS - len(merged)
    d = [1] * fill + [m[0] for m in merged]
    ss = [0] * fill + [m[1] for m in merged]
    ds = [0] * fill + [m[2] for m in merged]
    for v in (*ss, *ds, src_offset * elem, dst_offset * elem, run):
        if abs(v) >= 2**31:
            raise ctx.unsupported("tensor too large (byte offsets beyond 2 GiB)")
    return (f"{{{carray(d)}, {carray(ss)}, {carray(ds)}, {int(src_offset) * elem}, {int(dst_offset) * elem}, "
            f"{run}}}")


def move_call(ctx: LoweringContext, moves: Sequence[tuple[str | None, str, str]]) -> str:
    """One C expression performing ``moves`` = [(struct initializer or None, src expr, dst expr)]."""
    live = [m for m in moves if m[0] is not None]
    if not live:
        return "UAOT_OK"
    if len(live) == 1:
        s, src, dst = live[0]
        name = ctx.sym("move")
        ctx.decls.append(f"static const uaot_move_params_t {name} = {s};")
        return f"uaot_move(&{name}, (const void *){src}, (void *){dst})"
    name = ctx.sym("moves")
    body = ",\n    ".join(str(m[0]) for m in live)
    ctx.decls.append(f"static const uaot_move_params_t {name}[{len(live)}] = {{\n    {body}\n}};")
    srcs = ", ".join(f"(const void *){m[1]}" for m in live)
    dsts = ", ".join(f"(void *){m[2]}" for m in live)
    return (f"uaot_move_many({name}, {len(live)}, (const void *const[]){{{srcs}}}, "
            f"(void *const[]){{{dsts}}})")


def elem_size(dtype: str) -> int:
    return dtype_size(dtype)


def check_rank(ctx: LoweringContext, t: Tensor, what: str, max_rank: int = MAX_DIMS) -> None:
    if len(t.shape) > max_rank:
        raise ctx.unsupported(f"{what} {t.name!r} has {len(t.shape)} dimensions; at most {max_rank} are supported")


def norm_axis(ctx: LoweringContext, axis: int, rank: int, what: str = "axis") -> int:
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise ctx.unsupported(f"{what} {axis} out of range for rank {rank}")
    return a
