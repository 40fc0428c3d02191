"""Lowerings of ARG_MAX / ARG_MIN (kernel family ``reduce``), GATHER and RESIZE_NEAREST_NEIGHBOR
(family ``movement``) and RESIZE_BILINEAR (family ``resize``), as TFLM's kernels."""

from __future__ import annotations

import math

import numpy as np

from microaot.ir.graph import dtype_size
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import const_data, require_dtype
from microaot.ops._movement import ANY_DTYPE, norm_axis, same_dtype

_SUFFIX = {"int8": "s8", "int16": "s16", "float32": "f32", "int32": "i32"}


def _arg(ctx: LoweringContext, fn: str) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    dtype = require_dtype(ctx, [x], tuple(_SUFFIX))
    if y.dtype not in ("int32", "int64"):
        raise ctx.unsupported(f"output {y.name!r} is {y.dtype}; {ctx.opcode} writes int32 or int64")
    ax = np.asarray(const_data(ctx, 1, "axis")).astype(np.int64).reshape(-1).tolist()
    if len(ax) != 1:
        raise ctx.unsupported(f"axis must hold one value, it holds {len(ax)}")
    rank = len(x.shape)
    a = norm_axis(ctx, int(ax[0]), rank)
    out = [int(d) for i, d in enumerate(x.shape) if i != a]
    if y.num_elements != math.prod(out):
        raise ctx.unsupported(f"output shape {list(y.shape)} does not match {ctx.opcode} of {list(x.shape)} on axis "
                              f"{a}")
    if x.shape[a] == 0:
        raise ctx.unsupported(f"{ctx.opcode} over an empty axis")
    p = ctx.params("uaot_arg_params_t", {"outer": math.prod(x.shape[:a]), "axis_size": int(x.shape[a]),
                                         "inner": math.prod(x.shape[a + 1:]), "out64": int(y.dtype == "int64")})
    return Lowering(families=("reduce",),
                    call=f"{fn}_{_SUFFIX[dtype]}({p}, {ctx.in_ptr(0)}, (void *){ctx.out_ptr(0)})")


@register("ARG_MAX", dtypes=("int8->int32", "int8->int64", "int16->int32", "int16->int64", "int32->int32",
                             "int32->int64", "float32->int32", "float32->int64"))
def lower_arg_max(ctx: LoweringContext) -> Lowering:
    return _arg(ctx, "uaot_arg_max")


@register("ARG_MIN", dtypes=("int8->int32", "int8->int64", "int16->int32", "int16->int64", "int32->int32",
                             "int32->int64", "float32->int32", "float32->int64"))
def lower_arg_min(ctx: LoweringContext) -> Lowering:
    return _arg(ctx, "uaot_arg_min")


@register("GATHER", dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_gather(ctx: LoweringContext) -> Lowering:
    """out = params[..., indices, ...] along ``axis``, the first ``batch_dims`` dimensions shared by
    params and indices; an index out of range makes the run fail (UAOT_ERR_RANGE), as TFLM errors."""
    x, idx, y = ctx.input(0), ctx.input(1), ctx.output(0)
    same_dtype(ctx, [x, y], ANY_DTYPE)
    if idx.dtype not in ("int32", "int64"):
        raise ctx.unsupported(f"indices {idx.name!r} are {idx.dtype}; int32 or int64 are supported")
    rank = len(x.shape)
    axis = norm_axis(ctx, int(ctx.options.get("axis", 0)), rank)
    bd = int(ctx.options.get("batch_dims", 0))
    if bd < 0:
        bd += len(idx.shape)
    if not 0 <= bd <= min(axis, len(idx.shape)) or list(x.shape[:bd]) != list(idx.shape[:bd]):
        raise ctx.unsupported(f"batch_dims {ctx.options.get('batch_dims')} does not fit params {list(x.shape)}, "
                              f"indices {list(idx.shape)} and axis {axis}")
    out = [*x.shape[:axis], *idx.shape[bd:], *x.shape[axis + 1:]]
    if [int(d) for d in y.shape] != [int(d) for d in out]:
        raise ctx.unsupported(f"output shape {list(y.shape)} does not match the gathered {out}")
    p = ctx.params("uaot_gather_params_t", {
        "batch": math.prod(x.shape[:bd]), "outer": math.prod(x.shape[bd:axis]), "axis_size": int(x.shape[axis]),
        "coords": math.prod(idx.shape[bd:]), "inner_bytes": math.prod(x.shape[axis + 1:]) * dtype_size(x.dtype)})
    fn = "uaot_gather_i32" if idx.dtype == "int32" else "uaot_gather_i64"
    return Lowering(families=("movement",),
                    call=f"{fn}({p}, (const void *){ctx.in_ptr(0)}, {ctx.in_ptr(1)}, (void *){ctx.out_ptr(0)})")


def _resize_shapes(ctx: LoweringContext) -> tuple[int, int, int, int, int, int, bool, bool]:
    x, y = ctx.input(0), ctx.output(0)
    if len(x.shape) != 4:
        raise ctx.unsupported(f"input {x.name!r} must be NHWC (4 dimensions), it has shape {list(x.shape)}")
    size = np.asarray(const_data(ctx, 1, "size")).astype(np.int64).reshape(-1).tolist()
    if len(size) != 2 or min(size) < 1:
        raise ctx.unsupported(f"size {size} must hold a positive height and width")
    n, h, w, c = (int(d) for d in x.shape)
    oh, ow = int(size[0]), int(size[1])
    if [int(d) for d in y.shape] != [n, oh, ow, c]:
        raise ctx.unsupported(f"output shape {list(y.shape)} does not match {[n, oh, ow, c]}")
    ac = bool(ctx.options.get("align_corners", False))
    hp = bool(ctx.options.get("half_pixel_centers", False))
    if ac and hp:
        raise ctx.unsupported("align_corners and half_pixel_centers cannot both be set (TFLM rejects it)")
    return n, h, w, c, oh, ow, ac, hp


def nearest_index(out_i: int, in_size: int, out_size: int, align: bool, half: bool) -> int:
    """TFLM GetNearestNeighbor, in float32 arithmetic as its C++."""
    f32 = np.float32
    if align and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    v = (f32(out_i) + f32(0.5 if half else 0.0)) * scale
    # TfLiteRound: half away from zero
    fv = float(v)
    r = int(math.copysign(math.floor(abs(fv) + 0.5), fv)) if align else math.floor(fv)
    r = min(r, in_size - 1)
    return max(0, r) if half else r


@register("RESIZE_NEAREST_NEIGHBOR", dtypes=("int8", "int16", "int32", "float32", "bool", "int64", "uint8"))
def lower_resize_nearest(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    same_dtype(ctx, [x, y], ANY_DTYPE)
    n, h, w, c, oh, ow, ac, hp = _resize_shapes(ctx)
    e = dtype_size(x.dtype)
    ys = [nearest_index(i, h, oh, ac, hp) * w * c * e for i in range(oh)]
    xs = [nearest_index(i, w, ow, ac, hp) * c * e for i in range(ow)]
    p = ctx.params("uaot_resize_nearest_params_t", {
        "batches": n, "out_h": oh, "out_w": ow, "in_batch_bytes": h * w * c * e,
        "y_off": ctx.const_array("y_off", "int32_t", ys), "x_off": ctx.const_array("x_off", "int32_t", xs),
        "run": c * e})
    return Lowering(families=("movement",),
                    call=f"uaot_resize_nearest({p}, (const void *){ctx.in_ptr(0)}, (void *){ctx.out_ptr(0)})")


@register("RESIZE_BILINEAR", dtypes=("float32", "int8", "int16"))
def lower_resize_bilinear(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    # quantized values are interpolated as they are (TFLM ignores the quantization parameters here)
    dtype = require_dtype(ctx, [x, y], ("int8", "int16", "float32"))
    n, h, w, c, oh, ow, ac, hp = _resize_shapes(ctx)
    p = ctx.params("uaot_resize_params_t", {"batches": n, "in_h": h, "in_w": w, "depth": c, "out_h": oh,
                                            "out_w": ow, "align_corners": int(ac), "half_pixel_centers": int(hp)})
    return Lowering(families=("resize",),
                    call=f"uaot_resize_bilinear_{_SUFFIX[dtype]}({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")
