"""UNIDIRECTIONAL_SEQUENCE_LSTM (kernel family ``lstm``, with ``act16`` for its int16 sigmoid / tanh).

TFLM's kernel (micro/kernels/unidirectional_sequence_lstm.cc, lstm_eval.h, lstm_eval_common.cc) runs the
standard LSTM only: 24 inputs, the eight gate weight matrices and four gate biases present, no peephole
(inputs 9-11), no projection (16-17), no layer norm (20-23), no CIFG; the hidden state (18) and cell state
(19) are variable tensors. Three type schemes, chosen by the cell state's type:

* float32 throughout;
* int8: int8 input / hidden state / output, int8 weights, int32 biases, int16 cell state (8x8->16);
* 16x8: int16 input / hidden state / output, int8 weights, int64 biases, int16 cell state.

The integer scales are re-derived here exactly as TFLM's Prepare does (PrepareGateParametersInteger,
CreateGateParams, CreateInterGateMulParams, CreateLstmCellStateInfo), including its float32 constants.
The two state tensors live in the state buffer (they persist between invocations); the kernel updates
them in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microaot.errors import UnsupportedModelError
from microaot.ir.graph import Graph, Operator, Tensor
from microaot.ir.quant import quantize_multiplier
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import const_data

# lstm_shared.h tensor indices
INPUT, HIDDEN, CELL = 0, 18, 19
W_IN = (1, 2, 3, 4)  # input_to_{input, forget, cell, output}_weights
W_REC = (5, 6, 7, 8)  # recurrent_to_{input, forget, cell, output}_weights
BIAS = (12, 13, 14, 15)  # {input, forget, cell, output}_gate_bias
_VARIANTS = {(9, 10, 11): "peephole connections (cell_to_*_weights)",
             (16, 17): "a projection (projection_weights / projection_bias)",
             (20, 21, 22, 23): "layer normalization (*_layer_norm_coefficients)"}
# TFLM's constants (lstm_eval_common.cc PrepareGateParametersInteger; exact powers of two since 2023, earlier
# versions had the rounded decimals 0.00024414062 / 0.00003051757, which change the cell update's rounding)
NONLINEAR_INPUT_SCALE = np.float32(2.0**-12)  # the FC outputs / gate inputs are Q3.12
NONLINEAR_OUTPUT_SCALE = np.float32(2.0**-15)  # the gate outputs are Q0.15
_SCHEMES = {
    # input/hidden/output, weights, bias, cell state
    "float32": ("float32", "float32", "float32", "float32"),
    "int8": ("int8", "int8", "int32", "int16"),
    "int16x8": ("int16", "int8", "int64", "int16"),
}


@dataclass(frozen=True)
class LstmShape:
    scheme: str  # "float32", "int8" or "int16x8"
    batches: int
    time_steps: int
    input_size: int
    units: int
    time_major: bool


def _err(graph: Graph, op: Operator, what: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"{graph.source}: operator {op.index} ({op.opcode}): {what}")


def _tensor(graph: Graph, op: Operator, k: int) -> Tensor | None:
    return graph.tensors[op.inputs[k]] if k < len(op.inputs) and op.inputs[k] >= 0 else None


def _need(graph: Graph, op: Operator, k: int) -> Tensor:
    """Input k, present (lstm_shape checked it first)."""
    t = _tensor(graph, op, k)
    assert t is not None, f"operator {op.index}: input {k} is absent"
    return t


def lstm_shape(graph: Graph, op: Operator) -> LstmShape:
    """Validate the operator as TFLM's Prepare does (ValidateTensorStatus, ValidateTensorSize) and return its
    sizes; raises UnsupportedModelError naming the tensor and what to do."""
    if len(op.inputs) != 24 or len(op.outputs) != 1:
        raise _err(graph, op, f"has {len(op.inputs)} inputs and {len(op.outputs)} outputs; TFLM's kernel needs 24 "
                              "inputs and 1 output (re-convert with a current TFLite converter)")
    for idx, what in _VARIANTS.items():
        present = [graph.tensors[op.inputs[k]].name for k in idx if _tensor(graph, op, k) is not None]
        if present:
            raise _err(graph, op, f"uses {what} ({', '.join(repr(n) for n in present)}); TFLM's LSTM kernel runs "
                                  "the standard LSTM only (no peephole, projection, layer norm or CIFG): convert a "
                                  "plain keras LSTM layer")
    missing = [k for k in (INPUT, *W_IN, *W_REC, *BIAS, HIDDEN, CELL) if _tensor(graph, op, k) is None]
    if missing:
        cifg = " (a CIFG LSTM without input gate)" if 1 in missing or 5 in missing else ""
        raise _err(graph, op, f"inputs {missing} are absent{cifg}; TFLM's LSTM kernel needs the input, the eight "
                              "gate weights, the four gate biases and both state tensors")
    x, h, c, y = (_tensor(graph, op, INPUT), _tensor(graph, op, HIDDEN), _tensor(graph, op, CELL),
                  graph.tensors[op.outputs[0]])
    assert x is not None and h is not None and c is not None
    for t, what in ((h, "hidden (output) state"), (c, "cell state")):
        if not t.is_variable:
            raise _err(graph, op, f"the {what} {t.name!r} (input {HIDDEN if t is h else CELL}) is not a variable "
                                  "tensor; TFLM needs the LSTM states as variable tensors (stateful conversion)")
    w0 = _tensor(graph, op, W_IN[1])
    assert w0 is not None
    if c.dtype == "float32":
        scheme = "float32"
        if w0.dtype == "int8":
            raise _err(graph, op, "float32 activations with int8 weights: a weight-only (dynamic-range) quantized "
                                  "LSTM, which TFLM does not run either; re-export it as full-integer int8 (or "
                                  "16x8) or as float32")
    elif c.dtype == "int16":
        scheme = "int16x8" if x.dtype == "int16" else "int8"
    else:
        raise _err(graph, op, f"cell state {c.name!r} is {c.dtype}; TFLM's LSTM runs a float32 cell state or an "
                              "int16 one (int8 and 16x8 quantization)")
    act_t, w_t, b_t, c_t = _SCHEMES[scheme]
    expect = [(INPUT, act_t), (HIDDEN, act_t), (CELL, c_t), *((k, w_t) for k in (*W_IN, *W_REC)),
              *((k, b_t) for k in BIAS)]
    for k, dt in expect:
        t = _need(graph, op, k)
        if t.dtype != dt:
            raise _err(graph, op, f"input {k} ({t.name!r}) is {t.dtype}; TFLM's {scheme} LSTM needs {dt} there "
                                  f"(input/states/output {act_t}, weights {w_t}, biases {b_t}, cell state {c_t})")
    if y.dtype != act_t:
        raise _err(graph, op, f"output {y.name!r} is {y.dtype}; it must have the input's type {act_t}")
    for k in (*W_IN, *W_REC, *BIAS):
        t = _need(graph, op, k)
        if t.data is None:
            raise _err(graph, op, f"input {k} ({t.name!r}) must be a constant tensor (it is computed at run time)")
    if len(x.shape) != 3:
        raise _err(graph, op, f"input {x.name!r} has shape {list(x.shape)}; it must be 3-D")
    if len(h.shape) != 2:
        raise _err(graph, op, f"hidden state {h.name!r} has shape {list(h.shape)}; TFLM reads the units from a 2-D "
                              "[batch, units] hidden state")
    time_major = bool(op.options.get("time_major", False))
    t_steps, batches = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_in, units = int(x.shape[2]), int(h.shape[1])
    for ks, cols in ((W_IN, n_in), (W_REC, units)):
        for k in ks:
            t = _need(graph, op, k)
            if tuple(t.shape) != (units, cols):
                raise _err(graph, op, f"weights {t.name!r} (input {k}) have shape {list(t.shape)}, expected "
                                      f"[{units}, {cols}]")
    for k in BIAS:
        t = _need(graph, op, k)
        if tuple(t.shape) != (units,):
            raise _err(graph, op, f"bias {t.name!r} (input {k}) has shape {list(t.shape)}, expected [{units}]")
    for t in (h, c):
        if t.num_elements != batches * units:
            raise _err(graph, op, f"state {t.name!r} has {t.num_elements} values, expected {batches} x {units}")
    if len(y.shape) != 3 or tuple(y.shape) != (x.shape[0], x.shape[1], units):
        raise _err(graph, op, f"output {y.name!r} has shape {list(y.shape)}, expected "
                              f"[{x.shape[0]}, {x.shape[1]}, {units}]")
    if scheme != "float32":
        for k in (INPUT, HIDDEN, CELL, *W_IN, *W_REC):
            t = _need(graph, op, k)
            if t.quant is None or t.quant.per_channel:
                why = (" (TFLM's LSTM reads one scale per weight matrix: per-channel weights leave its FC multipliers "
                       "undefined; quantize the LSTM weights per tensor)" if k in (*W_IN, *W_REC) else "")
                raise _err(graph, op, f"input {k} ({t.name!r}) needs per-tensor quantization parameters{why}")
            if k in (*W_IN, *W_REC) and t.quant.zp0 != 0:
                raise _err(graph, op, f"weights {t.name!r} have zero point {t.quant.zp0}; int8 weights must be "
                                      "symmetric")
    return LstmShape(scheme, int(batches), int(t_steps), n_in, units, time_major)


def cell_activation(options: dict[str, object]) -> str:
    """The kernel's cell-gate activation. TFLM's CalculateLstmGate computes TANH (and SIGMOID, which a TFLite
    file cannot express); for any other fused activation its switch reaches TFLITE_ASSERT_FALSE, a no-op in a
    release build such as the PyPI runtime: the gate is left without activation, and so is it here."""
    return "UAOT_LSTM_ACT_TANH" if str(options.get("fused_activation_function", "TANH")) == "TANH" \
        else "UAOT_LSTM_ACT_NONE"


def _check(graph: Graph, op: Operator) -> None:
    lstm_shape(graph, op)


def _scratch(graph: Graph, op: Operator) -> int:
    """UAOT_LSTM_SCRATCH_CELLS: four buffers of one step's gate values (float32 or int16)."""
    s = lstm_shape(graph, op)
    cells = 4 * (s.batches if s.time_major else 1) * s.units
    return cells * (4 if s.scheme == "float32" else 2)


def checked_log2(x: float) -> int:
    """TFLM CheckedLog2 (its rounded value; TFLM's LSTM ignores whether the scale is a power of two):
    round(log(x) * (1 / log(2))) evaluated in float32."""
    v = np.float32(np.log(np.float32(x))) * (np.float32(1.0) / np.float32(np.log(np.float32(2.0))))
    return int(np.round(np.float32(v)))


def _mul_params(s1: float, s2: float, s_out: float) -> tuple[int, int]:
    """CreateInterGateMulParams: double(s1) * double(s2) / double(s_out)."""
    return quantize_multiplier(float(np.float32(s1)) * float(np.float32(s2)) / float(np.float32(s_out)))


def _fc_params(s_in: float, s_w: float) -> tuple[int, int]:
    """CreateGateParams -> CalculateOpDataFullyConnected -> GetQuantizedConvolutionMultipler: the float32
    product of the input and weight scales, then / double(the Q3.12 scale)."""
    return quantize_multiplier(float(np.float32(s_in) * np.float32(s_w)) / float(NONLINEAR_INPUT_SCALE))


def _fold(ctx: LoweringContext, bias: np.ndarray | None, w: np.ndarray, offset: int, wide: bool, name: str) -> str:
    """The C array of bias + offset * (row sums of w): int32 modulo 2^32 (int8: TFLM's int32 accumulator
    wraps alike, so the sums agree modulo 2^32) or int64 (16x8, exact)."""
    v = w.astype(np.int64).reshape(w.shape[0], -1).sum(axis=1) * int(offset)
    if bias is not None:
        v = v + bias.reshape(-1).astype(np.int64)
    if wide:
        return ctx.const_array(name, "int64_t", v)
    return ctx.const_array(name, "int32_t", ((v + 2**31) % 2**32 - 2**31).astype(np.int32))


def _array4(refs: list[str]) -> str:
    return "{" + ", ".join(refs) + "}"


@register("UNIDIRECTIONAL_SEQUENCE_LSTM", check=_check, scratch=_scratch, dtypes=("float32", "int8", "int16x8"))
def lower_lstm(ctx: LoweringContext) -> Lowering:
    s = lstm_shape(ctx.graph, ctx.op)
    if ctx.scratch_ptr is None:
        raise ctx.unsupported("internal: the LSTM has no scratch buffer")
    cell_clip = float(np.float32(ctx.options.get("cell_clip", 0.0) or 0.0))
    fields: dict[str, object] = {
        "batches": s.batches, "time_steps": s.time_steps, "input_size": s.input_size, "units": s.units,
        "time_major": int(s.time_major), "cell_act": cell_activation(ctx.options), "cell_clip": cell_clip,
    }
    w_in = [ctx.in_ptr(k) for k in W_IN]
    w_rec = [ctx.in_ptr(k) for k in W_REC]
    null4 = _array4(["NULL"] * 4)
    h_idx, c_idx = ctx.op.inputs[HIDDEN], ctx.op.inputs[CELL]
    if s.scheme == "float32":
        fields.update(wf_in=_array4(w_in), wf_rec=_array4(w_rec), bias_f=_array4([ctx.in_ptr(k) for k in BIAS]),
                      cell_tanh_mult=3)
        p = ctx.params("uaot_lstm_params_t", fields)
        return Lowering(families=("lstm", "act16"),
                        call=f"uaot_lstm_f32({p}, {ctx.in_ptr(INPUT)}, {ctx.out_ptr(0)}, "
                             f"(float *){ctx.raw_ptr(h_idx)}, (float *){ctx.raw_ptr(c_idx)}, "
                             f"(float *){ctx.scratch_ptr})")
    x, h, c = ctx.input(INPUT), ctx.input(HIDDEN), ctx.input(CELL)
    assert x.quant is not None and h.quant is not None and c.quant is not None
    s_x, s_h, s_c = float(np.float32(x.quant.scale0)), float(np.float32(h.quant.scale0)), float(
        np.float32(c.quant.scale0))
    in_m, in_s, rec_m, rec_s = [], [], [], []
    in_fold, rec_fold = [], []
    wide = s.scheme == "int16x8"
    for k_in, k_rec, k_b in zip(W_IN, W_REC, BIAS, strict=True):
        wi, wr = ctx.input(k_in), ctx.input(k_rec)
        assert wi.quant is not None and wr.quant is not None
        m, sh = _fc_params(s_x, wi.quant.scale0)
        in_m.append(m)
        in_s.append(sh)
        m, sh = _fc_params(s_h, wr.quant.scale0)
        rec_m.append(m)
        rec_s.append(sh)
        in_fold.append(_fold(ctx, const_data(ctx, k_b, "bias"), const_data(ctx, k_in, "weights"), -x.quant.zp0, wide,
                             f"in_fold{k_in}"))
        rec_fold.append(_fold(ctx, None, const_data(ctx, k_rec, "weights"), -h.quant.zp0, wide, f"rec_fold{k_rec}"))
    nl_out = float(NONLINEAR_OUTPUT_SCALE)
    fc_m, fc_s = _mul_params(nl_out, s_c, s_c)
    ic_m, ic_s = _mul_params(nl_out, nl_out, s_c)
    out_m, out_s = _mul_params(nl_out, nl_out, s_h)
    power = checked_log2(s_c)
    left = 15 + power - 3  # lstm_internal::Tanh(cell_state_scale_power, ...)
    tanh_mult, tanh_shift = (3, -left) if left < 0 else (3 << left, 0)
    if tanh_mult > 32767:
        raise ctx.unsupported(f"cell state {c.name!r} scale {s_c!r} (2^{power}) is too coarse for TFLM's int16 tanh")
    clip_q = int(min(max(float(cell_clip) / s_c, -32768.0), 32767.0))  # static_cast<int16_t>: truncation
    lo, hi = (-128, 127) if s.scheme == "int8" else (-32768, 32767)
    fields.update(
        w_in=_array4(w_in), w_rec=_array4(w_rec),
        in_fold32=null4 if wide else _array4(in_fold), rec_fold32=null4 if wide else _array4(rec_fold),
        in_fold64=_array4(in_fold) if wide else null4, rec_fold64=_array4(rec_fold) if wide else null4,
        in_mult=_array4([str(v) for v in in_m]), in_shift=_array4([str(v) for v in in_s]),
        rec_mult=_array4([str(v) for v in rec_m]), rec_shift=_array4([str(v) for v in rec_s]),
        fc_mult=fc_m, fc_shift=fc_s, ic_mult=ic_m, ic_shift=ic_s,
        out_mult=out_m, out_shift=out_s, out_zp=h.quant.zp0, out_min=lo, out_max=hi,
        cell_tanh_mult=tanh_mult, cell_tanh_shift=tanh_shift, cell_clip_q=clip_q,
    )
    p = ctx.params("uaot_lstm_params_t", fields)
    ct = "int8_t" if s.scheme == "int8" else "int16_t"
    fn = "uaot_lstm_s8" if s.scheme == "int8" else "uaot_lstm_s16"
    return Lowering(families=("lstm", "act16"),
                    call=f"{fn}({p}, {ctx.in_ptr(INPUT)}, {ctx.out_ptr(0)}, ({ct} *){ctx.raw_ptr(h_idx)}, "
                         f"(int16_t *){ctx.raw_ptr(c_idx)}, (int16_t *){ctx.scratch_ptr})")

