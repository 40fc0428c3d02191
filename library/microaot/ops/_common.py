"""Helpers shared by the lowering modules (quantization parameters, padding, activation ranges).

Every formula mirrors TFLM (tensorflow/lite/micro/kernels/*_common.cc, kernel_util.cc,
quantization_util.cc) including its float32-vs-double evaluation order.
"""

from __future__ import annotations

import numpy as np

from microaot.ir.graph import Tensor
from microaot.ir.quant import quantize_multiplier, tflite_round
from microaot.ops import Lowering, LoweringContext
from microaot.ops._geometry import out_size as out_size
from microaot.ops._geometry import pad_before as pad_before

INT8_MIN, INT8_MAX = -128, 127
FLT_MAX = float(np.finfo(np.float32).max)


def require_dtype(ctx: LoweringContext, tensors: list[Tensor], allowed: tuple[str, ...]) -> str:
    dts = {t.dtype for t in tensors}
    if len(dts) != 1 or next(iter(dts)) not in allowed:
        names = ", ".join(f"{t.name!r}: {t.dtype}" for t in tensors)
        raise ctx.unsupported(f"tensor types ({names}) not supported; supported: {' or '.join(allowed)} throughout")
    return next(iter(dts))


def require_quant(ctx: LoweringContext, t: Tensor, what: str) -> tuple[float, int]:
    """(scale, zero_point) of a per-tensor quantized tensor."""
    if t.quant is None:
        raise ctx.unsupported(f"{what} tensor {t.name!r} is int8 but has no quantization parameters")
    if t.quant.per_channel:
        raise ctx.unsupported(f"{what} tensor {t.name!r} must be quantized per tensor")
    return float(np.float32(t.quant.scale0)), t.quant.zp0


def _quantize_f(scale: float, zp: int, f: float) -> int:
    tmp = float(np.float32(f) / np.float32(scale))  # float32 division as TFLM's Quantize()
    return zp + tflite_round(tmp)


def act_range_q(ctx: LoweringContext, act: str, scale: float, zp: int, qmin: int, qmax: int) -> tuple[int, int]:
    """TFLM CalculateActivationRangeQuantized for an output of range [qmin, qmax] (int8, int16)."""
    if act == "NONE":
        return qmin, qmax
    if act == "RELU":
        return max(qmin, _quantize_f(scale, zp, 0.0)), qmax
    if act == "RELU6":
        return max(qmin, _quantize_f(scale, zp, 0.0)), min(qmax, _quantize_f(scale, zp, 6.0))
    if act == "RELU_N1_TO_1":
        return max(qmin, _quantize_f(scale, zp, -1.0)), min(qmax, _quantize_f(scale, zp, 1.0))
    raise ctx.unsupported(f"fused activation {act} not supported (NONE, RELU, RELU6, RELU_N1_TO_1)")


def act_range_s8(ctx: LoweringContext, act: str, scale: float, zp: int) -> tuple[int, int]:
    """TFLM CalculateActivationRangeQuantized for int8 outputs."""
    return act_range_q(ctx, act, scale, zp, INT8_MIN, INT8_MAX)


def act_range_f32(ctx: LoweringContext, act: str) -> tuple[float, float]:
    if act == "NONE":
        return -FLT_MAX, FLT_MAX
    if act == "RELU":
        return 0.0, FLT_MAX
    if act == "RELU6":
        return 0.0, 6.0
    if act == "RELU_N1_TO_1":
        return -1.0, 1.0
    raise ctx.unsupported(f"fused activation {act} not supported (NONE, RELU, RELU6, RELU_N1_TO_1)")


def check_padding(ctx: LoweringContext, padding: str) -> None:
    if padding not in ("SAME", "VALID"):
        raise ctx.unsupported(f"padding {padding} not supported (SAME, VALID)")


def per_channel_multipliers(ctx: LoweringContext, s_in: float, filt: Tensor, s_out: float,
                            n: int) -> tuple[list[int], list[int]]:
    """TFLM PopulateConvolutionQuantizationParams: double(in) * double(filter[c]) / double(out)."""
    if filt.quant is None:
        raise ctx.unsupported(f"filter {filt.name!r} is int8 without quantization parameters")
    scales = filt.quant.scale
    if scales.size not in (1, n):
        raise ctx.unsupported(f"filter {filt.name!r} has {scales.size} scales for {n} output channels")
    mults, shifts = [], []
    for c in range(n):
        fs = float(np.float32(scales[c if scales.size > 1 else 0]))
        m, s = quantize_multiplier(s_in * fs / s_out)
        mults.append(m)
        shifts.append(s)
    return mults, shifts


def folded_bias(ctx: LoweringContext, bias: Tensor | None, filt_rows: np.ndarray, input_offset: int) -> np.ndarray:
    """bias[c] + input_offset * sum(filter row c) modulo 2^32 (as int32). filt_rows: [n, -1] int.

    TFLM adds the bias to sum((x + input_offset) * w) in int32, which wraps on the hardware when a bias sits
    at the int32 limits (near-dead filters of real converter output); the kernels accumulate modulo 2^32
    from this folded value, so the accumulator is TFLM's, wrapped the same way."""
    wsum = filt_rows.astype(np.int64).sum(axis=1)
    b = np.zeros(filt_rows.shape[0], np.int64)
    if bias is not None:
        if bias.data is None:
            raise ctx.unsupported(f"bias {bias.name!r} must be a constant")
        if bias.dtype != "int32":
            raise ctx.unsupported(f"bias {bias.name!r} is {bias.dtype}; int8 kernels need an int32 bias")
        b = bias.data.reshape(-1).astype(np.int64)
        if b.size != filt_rows.shape[0]:
            raise ctx.unsupported(f"bias {bias.name!r} has {b.size} values for {filt_rows.shape[0]} channels")
    out = b + int(input_offset) * wsum
    return ((out + 2**31) % 2**32 - 2**31).astype(np.int32)


def const_data(ctx: LoweringContext, k: int, what: str) -> np.ndarray:
    t = ctx.input(k)
    if t.data is None:
        raise ctx.unsupported(f"{what} {t.name!r} must be a constant tensor (it is computed at run time)")
    return t.data


def lower_pool2d(ctx: LoweringContext, *, family: str, kernel: str, params_t: str,
                 filter_fields: tuple[str, str], quant_error: str) -> Lowering:
    """Shared lowering of the 2-D pooling operators (AVERAGE_POOL_2D, MAX_POOL_2D), int8, int16 and float32.

    ``kernel`` is the C function without its ``_s8``/``_f32`` suffix, ``params_t`` its parameter struct,
    whose filter height/width fields are named ``filter_fields``; ``quant_error`` is the message when an
    int8 / int16 operator's input and output quantization differ.
    """
    x, y = ctx.input(0), ctx.output(0)
    if len(x.shape) != 4:
        raise ctx.unsupported(f"needs a 4-D NHWC input, got {list(x.shape)}")
    o = ctx.options
    n, ih, iw, c = x.shape
    kh, kw = int(o["filter_height"]), int(o["filter_width"])
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    padding = str(o.get("padding", "VALID"))
    check_padding(ctx, padding)
    oh, ow = out_size(padding, ih, kh, sh, 1), out_size(padding, iw, kw, sw, 1)
    if tuple(y.shape) != (n, oh, ow, c):
        raise ctx.unsupported(f"output shape {list(y.shape)} does not match the computed [{n}, {oh}, {ow}, {c}]")
    act = str(o.get("fused_activation_function", "NONE"))
    dtype = require_dtype(ctx, [x, y], ("int8", "int16", "float32"))
    if dtype in ("int8", "int16"):
        s_in, zp_in = require_quant(ctx, x, "input")
        s_out, zp_out = require_quant(ctx, y, "output")
        if (s_in, zp_in) != (s_out, zp_out):
            raise ctx.unsupported(quant_error)
        lo, hi = act_range_q(ctx, act, s_out, zp_out, *((-32768, 32767) if dtype == "int16" else (-128, 127)))
        flo, fhi = act_range_f32(ctx, "NONE")
    else:
        lo, hi = -128, 127
        flo, fhi = act_range_f32(ctx, act)
    fh, fw = filter_fields
    p = ctx.params(
        params_t,
        {
            "batches": n, "in_h": ih, "in_w": iw, "channels": c, "out_h": oh, "out_w": ow,
            fh: kh, fw: kw, "stride_h": sh, "stride_w": sw,
            "pad_top": pad_before(ih, kh, sh, 1, oh), "pad_left": pad_before(iw, kw, sw, 1, ow),
            "act_min": lo, "act_max": hi, "act_min_f": flo, "act_max_f": fhi,
        },
    )
    suffix = {"int8": "s8", "int16": "s16"}.get(dtype, "f32")
    return Lowering(families=(family,), call=f"{kernel}_{suffix}({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")


def unary_call(ctx: LoweringContext, *, family: str, params_t: str, base: dict[str, object], fn: str,
               fields: dict[str, object]) -> Lowering:
    """``fn(&params, in, out)`` of an elementwise one-input kernel: input and output hold as many
    elements; ``params`` (type ``params_t``) = ``base``, then ``size`` = that count, then ``fields``."""
    x, y = ctx.input(0), ctx.output(0)
    if x.num_elements != y.num_elements:
        raise ctx.unsupported(f"input {list(x.shape)} and output {list(y.shape)} differ in size")
    p = ctx.params(params_t, {**base, "size": y.num_elements, **fields})
    return Lowering(families=(family,), call=f"{fn}({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")


def pad_broadcast(ctx: LoweringContext, a: tuple[int, ...], b: tuple[int, ...], out: tuple[int, ...],
                  rank: int) -> tuple[list[int], list[int], list[int]]:
    """The shapes of two inputs and the output padded in front with 1s to ``rank`` dims; raises unless
    every input dim is 1 or the output's (numpy broadcasting)."""

    def pad(s: tuple[int, ...]) -> list[int]:
        return [1] * (rank - len(s)) + [int(d) for d in s]

    pa, pb, po = pad(a), pad(b), pad(out)
    for d in range(rank):
        for p in (pa, pb):
            if p[d] not in (1, po[d]):
                raise ctx.unsupported(f"shapes {list(a)} and {list(b)} do not broadcast to {list(out)}")
    return pa, pb, po
