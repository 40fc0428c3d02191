"""Lowering of TRANSPOSE_CONV (kernel family ``transpose_conv``): float32, int8 (per-channel or per-tensor
weights) and 16x8 (int16 activations, int8 weights, int64 or int16 bias) as TFLM's transpose_conv.cc:
output shape from a constant tensor (input 0), OHWI filter (input 1), input (2), optional bias (3),
SAME / VALID padding, any strides."""

from __future__ import annotations

import numpy as np

from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import (
    _quantize_f,
    act_range_f32,
    check_padding,
    out_size,
    pad_before,
    per_channel_multipliers,
    require_quant,
)


def _act_range_q(ctx: LoweringContext, act: str, scale: float, zp: int, qmin: int, qmax: int) -> tuple[int, int]:
    """TFLM CalculateActivationRangeQuantized for an int8 or int16 output."""
    if act == "NONE":
        return qmin, qmax
    if act == "RELU":
        return max(qmin, _quantize_f(scale, zp, 0.0)), qmax
    if act == "RELU6":
        return max(qmin, _quantize_f(scale, zp, 0.0)), min(qmax, _quantize_f(scale, zp, 6.0))
    if act == "RELU_N1_TO_1":
        return max(qmin, _quantize_f(scale, zp, -1.0)), min(qmax, _quantize_f(scale, zp, 1.0))
    raise ctx.unsupported(f"fused activation {act} not supported (NONE, RELU, RELU6, RELU_N1_TO_1)")


@register("TRANSPOSE_CONV", dtypes=("float32", "int8", "int16x8"))
def lower_transpose_conv(ctx: LoweringContext) -> Lowering:
    shape_t, w, x, y = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    bias = ctx.input(3) if ctx.has_input(3) else None
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        raise ctx.unsupported(f"needs 4-D input, filter and output (got {list(x.shape)}, {list(w.shape)}, "
                              f"{list(y.shape)})")
    if shape_t.data is not None and [int(v) for v in shape_t.data.reshape(-1)] != [int(d) for d in y.shape]:
        raise ctx.unsupported(f"output shape tensor {shape_t.name!r} = {shape_t.data.reshape(-1).tolist()} differs "
                              f"from the output tensor's shape {list(y.shape)}")
    if w.data is None:
        raise ctx.unsupported(f"filter {w.name!r} must be a constant tensor")
    if bias is not None and bias.data is None:
        raise ctx.unsupported(f"bias {bias.name!r} must be a constant tensor")
    n, ih, iw, ic = (int(d) for d in x.shape)
    oc, kh, kw, wc = (int(d) for d in w.shape)
    on, oh, ow, occ = (int(d) for d in y.shape)
    if wc != ic or occ != oc or on != n:
        raise ctx.unsupported(f"filter {list(w.shape)} does not fit input {list(x.shape)} and output {list(y.shape)}")
    o = ctx.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    if sh < 1 or sw < 1:
        raise ctx.unsupported(f"strides ({sh}, {sw}) must be positive")
    padding = str(o.get("padding", "SAME"))
    check_padding(ctx, padding)
    # TFLM: the padding of a convolution from the output (as its input) back to the input
    pad_top = pad_before(oh, kh, sh, 1, out_size(padding, oh, kh, sh, 1))
    pad_left = pad_before(ow, kw, sw, 1, out_size(padding, ow, kw, sw, 1))
    act = str(o.get("fused_activation_function", "NONE"))
    fields: dict[str, object] = {
        "batches": n, "in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow, "out_c": oc,
        "k_h": kh, "k_w": kw, "stride_h": sh, "stride_w": sw, "pad_top": pad_top, "pad_left": pad_left,
        "in_zp": 0, "out_zp": 0, "mult": "NULL", "shift": "NULL", "act_min": 0, "act_max": 0,
        "act_min_f": 0.0, "act_max_f": 0.0,
    }
    if x.dtype == y.dtype == w.dtype == "float32":
        if bias is not None and bias.dtype != "float32":
            raise ctx.unsupported(f"bias {bias.name!r} is {bias.dtype}; a float32 TRANSPOSE_CONV needs a float32 bias")
        lo, hi = act_range_f32(ctx, act)
        fields.update({"act_min_f": lo, "act_max_f": hi})
        p = ctx.params("uaot_transpose_conv_params_t", fields)
        return Lowering(families=("transpose_conv",), call=f"uaot_transpose_conv_f32({p}, {ctx.in_ptr(2)}, "
                        f"{ctx.in_ptr(1)}, {ctx.in_ptr(3) if bias is not None else 'NULL'}, {ctx.out_ptr(0)})")
    kind = (x.dtype, w.dtype, y.dtype)
    if kind not in (("int8", "int8", "int8"), ("int16", "int8", "int16")):
        raise ctx.unsupported(f"input {x.dtype}, filter {w.dtype}, output {y.dtype} is not supported; TRANSPOSE_CONV "
                              "takes float32, int8 or int16 activations with int8 weights (16x8)")
    s_in, z_in = require_quant(ctx, x, "input")
    s_out, z_out = require_quant(ctx, y, "output")
    if w.quant is not None and np.any(w.quant.zero_point != 0):
        raise ctx.unsupported(f"filter {w.name!r} has non-zero zero points; TFLM needs symmetric weights")
    mults, shifts = per_channel_multipliers(ctx, s_in, w, s_out, oc)
    mult_a = ctx.const_array("mult", "int32_t", mults)
    shift_a = ctx.const_array("shift", "int32_t", shifts)
    fields.update({"mult": mult_a, "shift": shift_a})
    bias_ref = "NULL"
    if x.dtype == "int8":
        lo, hi = _act_range_q(ctx, act, s_out, z_out, -128, 127)
        fields.update({"in_zp": z_in, "out_zp": z_out})
        if bias is not None:
            if bias.dtype != "int32" or bias.num_elements != oc:
                raise ctx.unsupported(f"bias {bias.name!r} must be int32 with {oc} values (is {bias.dtype} "
                                      f"{list(bias.shape)})")
            bias_ref = ctx.in_ptr(3)
        fn = "uaot_transpose_conv_s8"
    else:
        lo, hi = _act_range_q(ctx, act, s_out, z_out, -32768, 32767)  # the 16x8 kernel adds no zero points
        if bias is not None:
            if bias.dtype not in ("int64", "int16", "int32") or bias.num_elements != oc:
                raise ctx.unsupported(f"bias {bias.name!r} must be int64 (or int16) with {oc} values (is "
                                      f"{bias.dtype} {list(bias.shape)})")
            assert bias.data is not None
            bias_ref = ctx.const_array("bias64", "int64_t", bias.data.reshape(-1).astype(np.int64))
        fn = "uaot_transpose_conv_s16"
    fields.update({"act_min": lo, "act_max": hi})
    p = ctx.params("uaot_transpose_conv_params_t", fields)
    return Lowering(families=("transpose_conv",),
                    call=f"{fn}({p}, {ctx.in_ptr(2)}, {ctx.in_ptr(1)}, {bias_ref}, {ctx.out_ptr(0)})")
