"""Lowering of SVDF (kernel family ``svdf``) as TFLM's svdf.cc / svdf_common.cc reference path: float32
(EvalFloatSvdfReference, fused activation NONE / RELU / RELU_N1_TO_1 / RELU6 / SIGN_BIT, and TANH within
microaot.fidelity's ulp bound) and int8 with an int16 or int8
state and weights_time (EvalIntegerSvdfReference; TFLM applies no fused activation there, nor does microaot).

Inputs: 0 input [batch, input_size], 1 weights_feature [num_filters, input_size], 2 weights_time
[num_filters, memory_size], 3 bias [num_units] (optional), 4 activation_state [batch, memory_size *
num_filters], a variable tensor: it lives in the model's state buffer (``NAME_STATE_SIZE``), so consecutive
``NAME_run`` calls continue the sequence and ``NAME_reset_state`` starts a new one. num_filters = num_units *
rank. The kernel needs no scratch: it adds each filter's time dot product to the output in TFLM's order.
"""

from __future__ import annotations

import numpy as np

from microaot.ir.graph import Tensor
from microaot.ir.quant import quantize_multiplier
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import require_quant

_ACTS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3, "TANH": 4, "SIGN_BIT": 5}
_FIX = ("re-export the model with the SVDF layer as TFLM's converter writes it (input [batch, input_size], "
        "weights_feature [num_filters, input_size], weights_time [num_filters, memory_size], bias [num_units], "
        "activation_state [batch, memory_size * num_filters], output [batch, num_units])")


def _shape(ctx: LoweringContext, t: Tensor, what: str, want: list[int]) -> None:
    if list(t.shape) != want:
        raise ctx.unsupported(f"{what} {t.name!r} has shape {list(t.shape)}, TFLM's SVDF needs {want}; {_FIX}")


def _const(ctx: LoweringContext, k: int, what: str) -> Tensor:
    t = ctx.input(k)
    if not t.is_const:
        raise ctx.unsupported(f"{what} {t.name!r} is computed at run time; microaot needs it constant in the model "
                              "file (as the TFLite converter writes SVDF)")
    return t


@register("SVDF", dtypes=("float32", "int8"))
def lower_svdf(ctx: LoweringContext) -> Lowering:
    if ctx.num_inputs() != 5:
        raise ctx.unsupported(f"{ctx.num_inputs()} inputs; TFLM's SVDF takes 5 (input, weights_feature, "
                              "weights_time, bias or -1, activation_state)")
    x, y = ctx.input(0), ctx.output(0)
    wf, wt = _const(ctx, 1, "weights_feature"), _const(ctx, 2, "weights_time")
    bias = _const(ctx, 3, "bias") if ctx.has_input(3) else None
    st = ctx.input(4)
    if not st.is_variable:
        raise ctx.unsupported(f"activation_state {st.name!r} is not a variable tensor (TFLM requires "
                              "is_variable = true on SVDF's input 4); re-export the model with the state as a "
                              "variable tensor")
    rank = int(ctx.options.get("rank", 0))
    if len(x.shape) != 2 or len(wf.shape) != 2 or len(wt.shape) != 2:
        raise ctx.unsupported(f"input {list(x.shape)}, weights_feature {list(wf.shape)} and weights_time "
                              f"{list(wt.shape)} must all be of rank 2; {_FIX}")
    batch, input_size = int(x.shape[0]), int(x.shape[1])
    num_filters, memory_size = int(wf.shape[0]), int(wt.shape[1])
    if rank < 1 or num_filters % rank != 0:
        raise ctx.unsupported(f"rank {rank} does not divide num_filters {num_filters} (weights_feature "
                              f"{list(wf.shape)}); TFLM refuses it too")
    num_units = num_filters // rank
    _shape(ctx, wf, "weights_feature", [num_filters, input_size])
    _shape(ctx, wt, "weights_time", [num_filters, memory_size])
    _shape(ctx, st, "activation_state", [batch, memory_size * num_filters])
    _shape(ctx, y, "output", [batch, num_units])
    if bias is not None and (len(bias.shape) != 1 or int(bias.shape[0]) != num_units):
        raise ctx.unsupported(f"bias {bias.name!r} has shape {list(bias.shape)}, TFLM's SVDF needs [{num_units}]; "
                              f"{_FIX}")
    act = str(ctx.options.get("fused_activation_function", "NONE"))
    fields: dict[str, object] = {
        "batch": batch, "input_size": input_size, "num_filters": num_filters, "num_units": num_units,
        "rank": rank, "memory_size": memory_size, "input_zp": 0, "state_zp": 0, "output_zp": 0,
        "mult1": 0, "shift1": 0, "mult2": 0, "shift2": 0, "activation": 0,
    }
    types = (x.dtype, wf.dtype, wt.dtype, st.dtype, y.dtype, bias.dtype if bias is not None else None)
    if types[:5] == ("float32",) * 5 and types[5] in (None, "float32"):
        if act not in _ACTS:
            raise ctx.unsupported(f"fused activation {act} on a float32 SVDF is not supported (NONE, RELU, "
                                  "RELU_N1_TO_1, RELU6, TANH, SIGN_BIT); re-export the model without it")
        fields["activation"] = _ACTS[act]
        fn = "uaot_svdf_f32"
    elif (types[0], types[1], types[4]) == ("int8", "int8", "int8") and wt.dtype == st.dtype \
            and wt.dtype in ("int16", "int8") and types[5] in (None, "int32"):
        s_in, z_in = require_quant(ctx, x, "input")
        s_wf, _ = require_quant(ctx, wf, "weights_feature")
        s_wt, _ = require_quant(ctx, wt, "weights_time")
        s_st, z_st = require_quant(ctx, st, "activation_state")
        s_out, z_out = require_quant(ctx, y, "output")
        if bias is not None:
            s_b, _ = require_quant(ctx, bias, "bias")
            if not abs(float(s_b) - float(np.float32(s_st) * np.float32(s_wt))) < 1e-5:
                raise ctx.unsupported(f"bias scale {s_b} is not activation_state scale x weights_time scale "
                                      f"({float(np.float32(s_st) * np.float32(s_wt))}); TFLM refuses it too")
        # TFLM PrepareSvdf: the products and quotients in float32, then widened to double
        m1, sh1 = quantize_multiplier(float(np.float32(s_in) * np.float32(s_wf) / np.float32(s_st)))
        m2, sh2 = quantize_multiplier(float(np.float32(s_st) * np.float32(s_wt) / np.float32(s_out)))
        fields.update({"input_zp": z_in, "state_zp": z_st, "output_zp": z_out, "mult1": m1, "shift1": sh1,
                       "mult2": m2, "shift2": sh2})
        fn = "uaot_svdf_s8_s16" if wt.dtype == "int16" else "uaot_svdf_s8_s8"
    else:
        names = ", ".join(f"{w} {t}" for w, t in zip(("input", "weights_feature", "weights_time",
                                                      "activation_state", "output", "bias"), types, strict=True))
        raise ctx.unsupported(f"tensor types ({names}) not supported; SVDF takes float32 throughout, or int8 "
                              "input/weights_feature/output with int16 (or int8) weights_time and activation_state "
                              "and an int32 bias (TFLM's schemes)")
    ctype = {"float32": "float", "int16": "int16_t", "int8": "int8_t"}[st.dtype]
    state = f"({ctype} *){ctx.raw_ptr(st.index)}"
    p = ctx.params("uaot_svdf_params_t", fields)
    return Lowering(families=("svdf",),
                    call=f"{fn}({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {ctx.in_ptr(2)}, {ctx.in_ptr(3)}, "
                         f"{state}, {ctx.out_ptr(0)})")
