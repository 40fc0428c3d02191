"""Lowering of MEAN (kernel family ``reduce``), int8 (TFLM reference arithmetic) and float32."""

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


@register("MEAN", dtypes=("int8", "float32"))
def lower_mean(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    dtype = require_dtype(ctx, [x, y], ("int8", "float32"))
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
    if len(axes) > 2:
        # TFLM's reference MEAN resolves at most 2 distinct axes (kMaxNumberOfReducedAxis)
        raise ctx.unsupported(f"MEAN over {len(axes)} axes; at most 2 are supported (as TFLM)")
    kept = [d for d in range(rank) if d not in axes]
    if math.prod(x.shape[d] for d in kept) != y.num_elements:
        raise ctx.unsupported(f"output shape {list(y.shape)} does not match MEAN of {list(x.shape)} over {axes}")
    strides = [math.prod(x.shape[d + 1:]) for d in range(rank)]
    red = sorted(axes)
    count = math.prod(x.shape[d] for d in red)
    if count == 0:
        raise ctx.unsupported("MEAN over an empty axis")

    def dims_strides(ds: list[int]) -> tuple[str, str]:
        fill = MAX_DIMS - len(ds)
        return (_carray([1] * fill + [x.shape[d] for d in ds]), _carray([0] * fill + [strides[d] for d in ds]))

    kd, ks = dims_strides(kept)
    rd, rs = dims_strides(red)
    fields: dict[str, object] = {"keep_dims": kd, "keep_strides": ks, "red_dims": rd, "red_strides": rs,
                                 "count": count, "input_zp": 0, "output_zp": 0,
                                 "mult": 0, "shift": 0}
    if dtype == "int8":
        s_in, z_in = require_quant(ctx, x, "input")
        s_out, z_out = require_quant(ctx, y, "output")
        # The TFLM build we are bit-exact with (tflite-micro 2026.10) sends every int8 MEAN through
        # QuantizedMeanOrSum, also when input and output share quantization (older TFLM versions
        # truncated sum / count in that case).
        mult, shift = mean_multiplier(s_in, s_out, count)
        fields.update(input_zp=z_in, output_zp=z_out, mult=mult, shift=shift)
    p = ctx.params("uaot_reduce_params_t", fields)
    suffix = "s8" if dtype == "int8" else "f32"
    return Lowering(families=("reduce",), call=f"uaot_mean_{suffix}({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")
