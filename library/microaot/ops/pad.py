"""Lowering of PAD and PADV2 (kernel family ``pad``), int8, int16 and float32, up to 6 dimensions."""

from __future__ import annotations

import numpy as np

from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import const_data, require_dtype, require_quant

MAX_DIMS = 6


def _carray(values: list[int]) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def _lower(ctx: LoweringContext, v2: bool) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    dtype = require_dtype(ctx, [x, y], ("int8", "int16", "float32"))
    rank = len(x.shape)
    if rank > MAX_DIMS:
        raise ctx.unsupported(f"more than {MAX_DIMS} dimensions")
    pads = np.asarray(const_data(ctx, 1, "paddings")).astype(np.int64).reshape(-1, 2)
    if pads.shape[0] != rank or (pads < 0).any():
        raise ctx.unsupported(f"paddings {pads.tolist()} do not fit input rank {rank} (non-negative pairs)")
    out_shape = tuple(int(d + a + b) for d, (a, b) in zip(x.shape, pads.tolist(), strict=True))
    if out_shape != tuple(y.shape):
        raise ctx.unsupported(f"output shape {list(y.shape)} does not match the padded {list(out_shape)}")
    fill = MAX_DIMS - rank
    value_s8, value_f32, value_s16 = 0, 0.0, 0
    has_value = v2 and ctx.has_input(2)
    if dtype == "int8":
        s_in, z_in = require_quant(ctx, x, "input")
        if require_quant(ctx, y, "output") != (s_in, z_in):
            raise ctx.unsupported("int8 PAD needs equal input and output quantization (as TFLM)")
        value_s8 = int(np.asarray(const_data(ctx, 2, "constant value")).reshape(-1)[0]) if has_value else z_in
    elif dtype == "int16":  # TFLM: the constant value or 0 (not the zero point); no rescaling
        value_s16 = int(np.asarray(const_data(ctx, 2, "constant value")).reshape(-1)[0]) if has_value else 0
    elif has_value:
        value_f32 = float(np.asarray(const_data(ctx, 2, "constant value")).reshape(-1)[0])
    p = ctx.params("uaot_pad_params_t", {
        "in_dims": _carray([1] * fill + [int(d) for d in x.shape]),
        "before": _carray([0] * fill + pads[:, 0].tolist()),
        "after": _carray([0] * fill + pads[:, 1].tolist()),
        "value_s8": value_s8,
        "value_f32": value_f32,
        **({"value_s16": value_s16} if dtype == "int16" else {}),
    })
    suffix = {"int8": "s8", "int16": "s16"}.get(dtype, "f32")
    return Lowering(families=("pad",), call=f"uaot_pad_{suffix}({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")


@register("PAD", dtypes=("int8", "float32", "int16"))
def lower_pad(ctx: LoweringContext) -> Lowering:
    return _lower(ctx, v2=False)


@register("PADV2", dtypes=("int8", "float32", "int16"))
def lower_padv2(ctx: LoweringContext) -> Lowering:
    return _lower(ctx, v2=True)
