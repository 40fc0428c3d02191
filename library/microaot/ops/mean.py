"""Lowerings of MEAN, SUM, REDUCE_MAX and REDUCE_MIN over any set of axes (kernel family ``reduce``).

int8/int16 MEAN and SUM follow TFLM's QuantizedMeanOrSum; float32 sums in TFLM's order; REDUCE_MAX /
REDUCE_MIN move raw values (int8, int16, int32, float32)."""

from __future__ import annotations

import math

import numpy as np

from microaot.ir.quant import quantize_multiplier
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import const_data, require_dtype, require_quant

MAX_DIMS = 6


def _carray(values: list[int]) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def _clz64(x: int) -> int:
    return 64 - x.bit_length()


def mean_multiplier(s_in: float, s_out: float, count: int) -> tuple[int, int]:
    """TFLM QuantizedMeanOrSum (mean): QuantizeMultiplier(in/out) with 1/count folded in."""
    mult, shift = quantize_multiplier(s_in / s_out)
    sh = 63 - _clz64(count)
    sh = min(sh, 32)
    sh = min(sh, 31 + shift)
    # C++: (int64(mult) << sh) / count, truncating toward zero (mult >= 0 here)
    mult = int((mult << sh) // count)
    return mult, shift - sh


@register("MEAN", dtypes=("int8", "int16", "float32"))
def lower_mean(ctx: LoweringContext) -> Lowering:
    return _lower_reduce(ctx, "mean")


@register("SUM", dtypes=("int8", "int16", "float32", "int32"))
def lower_sum(ctx: LoweringContext) -> Lowering:
    return _lower_reduce(ctx, "sum")


@register("REDUCE_MAX", dtypes=("int8", "int16", "float32", "int32"))
def lower_reduce_max(ctx: LoweringContext) -> Lowering:
    return _lower_reduce(ctx, "max")


@register("REDUCE_MIN", dtypes=("int8", "int16", "float32", "int32"))
def lower_reduce_min(ctx: LoweringContext) -> Lowering:
    return _lower_reduce(ctx, "min")


_DTYPES = {"mean": ("int8", "int16", "float32"), "sum": ("int8", "int16", "float32", "int32"),
           "max": ("int8", "int16", "float32", "int32"), "min": ("int8", "int16", "float32", "int32")}
_SUFFIX = {"int8": "s8", "int16": "s16", "float32": "f32", "int32": "i32"}


def _lower_reduce(ctx: LoweringContext, kind: str) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    dtype = require_dtype(ctx, [x, y], _DTYPES[kind])
    rank = len(x.shape)
    if rank > MAX_DIMS:
        raise ctx.unsupported(f"more than {MAX_DIMS} dimensions")
    axes_raw = np.asarray(const_data(ctx, 1, "axis")).astype(np.int64).reshape(-1).tolist()
    axes: list[int] = []
    for a in axes_raw:
        a2 = a + rank if a < 0 else a
        if not 0 <= a2 < rank:
            raise ctx.unsupported(f"axis {a} out of range for rank {rank}")
        if a2 not in axes:
            axes.append(a2)
    kept = [d for d in range(rank) if d not in axes]
    if math.prod(x.shape[d] for d in kept) != y.num_elements:
        raise ctx.unsupported(f"output shape {list(y.shape)} does not match {ctx.opcode} of {list(x.shape)} "
                              f"over {axes}")
    strides = [math.prod(x.shape[d + 1:]) for d in range(rank)]
    red = sorted(axes)
    if len(kept) > MAX_DIMS or len(red) > MAX_DIMS:
        raise ctx.unsupported(f"more than {MAX_DIMS} dimensions")
    count = math.prod(x.shape[d] for d in red)
    if count == 0:
        raise ctx.unsupported(f"{ctx.opcode} over an empty axis")

    def dims_strides(ds: list[int]) -> tuple[str, str]:
        fill = MAX_DIMS - len(ds)
        return (_carray([1] * fill + [x.shape[d] for d in ds]), _carray([0] * fill + [strides[d] for d in ds]))

    kd, ks = dims_strides(kept)
    rd, rs = dims_strides(red)
    fields: dict[str, object] = {"keep_dims": kd, "keep_strides": ks, "red_dims": rd, "red_strides": rs,
                                 "count": count, "input_zp": 0, "output_zp": 0,
                                 "mult": 0, "shift": 0}
    if dtype in ("int8", "int16") and kind in ("mean", "sum"):
        s_in, z_in = require_quant(ctx, x, "input")
        s_out, z_out = require_quant(ctx, y, "output")
        # The TFLM build we are bit-exact with (tflite-micro 2026.10) sends every int8 MEAN through
        # QuantizedMeanOrSum, also when input and output share quantization (older TFLM versions
        # truncated sum / count in that case); SUM is the same without the 1/count factor.
        if kind == "mean":
            mult, shift = mean_multiplier(s_in, s_out, count)
        else:
            mult, shift = quantize_multiplier(s_in / s_out)
        fields.update(input_zp=z_in, output_zp=z_out, mult=mult, shift=shift)
    elif dtype in ("int8", "int16"):
        if require_quant(ctx, x, "input") != require_quant(ctx, y, "output"):
            raise ctx.unsupported(f"{dtype} {ctx.opcode} needs equal input and output quantization (as TFLM)")
    p = ctx.params("uaot_reduce_params_t", fields)
    fn = {"mean": "uaot_mean", "sum": "uaot_mean" if dtype in ("int8", "int16") else "uaot_sum",
          "max": "uaot_reduce_max", "min": "uaot_reduce_min"}[kind]
    if kind == "mean" and dtype == "int32":
        raise ctx.unsupported("int32 MEAN is not supported")
    return Lowering(families=("reduce",), call=f"{fn}_{_SUFFIX[dtype]}({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")
