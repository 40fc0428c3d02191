"""SVDF test models (issue 18, stateful models): one SVDF operator, and a small keyword-spotting-like graph
SVDF -> SVDF -> FULLY_CONNECTED -> SOFTMAX, built with :class:`microaot.testing.modelgen.ModelBuilder`.

Quantization follows what the TFLite converter writes for a full-integer SVDF (and TFLM's svdf tests):
int8 asymmetric input and output, int8 symmetric per-tensor weights_feature, int16 symmetric weights_time
and an int16 activation_state with zero point 0 (``state="int8"``: int8 weights_time and an int8 state with
its own zero point, TFLM's other integer scheme), an int32 bias of scale ``state_scale * time_scale``. The
ranges of the state and the output come from a float simulation of the layer over a few random steps.
The activation_state is a variable tensor (``is_variable``), so the model is stateful.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import flatbuffers
import numpy as np
import tflite

from microaot.testing.modelgen import (
    ActQ,
    FullyConnectedOptions,
    ModelBuilder,
    Options,
    Quant,
    SoftmaxOptions,
    choose_qparams,
    quantize_bias,
    quantize_weights,
)

SvdfDType = Literal["float32", "int8"]
StateDType = Literal["int16", "int8"]
BiasKind = Literal["random", "zero", "none"]  # "none": input 3 omitted (-1); the same draws as the others

_ACT = {"NONE": tflite.ActivationFunctionType.NONE, "RELU": tflite.ActivationFunctionType.RELU,
        "RELU_N1_TO_1": tflite.ActivationFunctionType.RELU_N1_TO_1, "RELU6": tflite.ActivationFunctionType.RELU6,
        "TANH": tflite.ActivationFunctionType.TANH, "SIGN_BIT": tflite.ActivationFunctionType.SIGN_BIT}


@dataclass(frozen=True)
class SvdfOptions(Options):
    rank: int = 1
    activation: str = "NONE"  # NONE, RELU, RELU_N1_TO_1, RELU6, TANH, SIGN_BIT

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.SVDFOptionsStart(b)
        tflite.SVDFOptionsAddRank(b, self.rank)
        tflite.SVDFOptionsAddFusedActivationFunction(b, _ACT[self.activation])
        return tflite.BuiltinOptions.SVDFOptions, tflite.SVDFOptionsEnd(b)


def svdf_float(x_steps: np.ndarray, wf: np.ndarray, wt: np.ndarray, bias: np.ndarray | None, rank: int,
               activation: str = "NONE") -> tuple[np.ndarray, np.ndarray]:
    """Float64 SVDF over a sequence ``x_steps`` [steps, batch, input_size] from a zero state; returns
    (outputs [steps, batch, units], every feature value written to the state [steps, batch, filters])."""
    steps, batch, _ = x_steps.shape
    nf, mem = wt.shape
    units = nf // rank
    state = np.zeros((batch, nf, mem))
    outs, feats = [], []
    for t in range(steps):
        state = np.concatenate([state[:, :, 1:], np.zeros((batch, nf, 1))], axis=2)
        feat = x_steps[t] @ wf.T  # [batch, nf]
        state[:, :, -1] = feat
        y = (state * wt[None]).sum(axis=2).reshape(batch, units, rank).sum(axis=2)
        if bias is not None:
            y = y + bias
        if activation == "RELU":
            y = np.maximum(y, 0.0)
        elif activation == "RELU6":
            y = np.clip(y, 0.0, 6.0)
        elif activation == "RELU_N1_TO_1":
            y = np.clip(y, -1.0, 1.0)
        elif activation == "TANH":
            y = np.tanh(y)
        elif activation == "SIGN_BIT":
            y = np.signbit(y).astype(np.float64)
        outs.append(y)
        feats.append(feat)
    return np.array(outs), np.array(feats)


@dataclass
class _Layer:
    out: int  # tensor index of the SVDF output
    out_q: ActQ | None
    sim: np.ndarray  # float outputs over the simulation steps [steps, batch, units]


def _add_svdf(mb: ModelBuilder, rng: np.random.Generator, name: str, x: int, x_sim: np.ndarray,
              in_q: ActQ | None, *, units: int, rank: int, memory: int, dtype: SvdfDType, state: StateDType,
              activation: str, bias: BiasKind, headroom: float | None = None) -> _Layer:
    batch, input_size = x_sim.shape[1], x_sim.shape[2]
    nf = units * rank
    wf = rng.normal(0.0, 1.0 / np.sqrt(input_size), size=(nf, input_size))
    wt = rng.normal(0.0, 1.0 / np.sqrt(memory), size=(nf, memory))
    b_rand = rng.normal(0.0, 0.3, size=(units,))
    b = None if bias == "none" else (b_rand if bias == "random" else np.zeros(units))
    sim_out, sim_feat = svdf_float(x_sim, wf, wt, b, rank, activation if dtype == "float32" else "NONE")
    if dtype == "float32":
        twf = mb.add_const(f"{name}_weights_feature", wf.astype(np.float32), "float32")
        twt = mb.add_const(f"{name}_weights_time", wt.astype(np.float32), "float32")
        tb = mb.add_const(f"{name}_bias", b.astype(np.float32), "float32") if b is not None else -1
        ts = mb.add_tensor(f"{name}_activation_state", (batch, memory * nf), "float32", variable=True)
        y = mb.add_tensor(f"{name}_output", (batch, units), "float32")
        mb.add_operator("SVDF", [x, twf, twt, tb, ts], [y], SvdfOptions(rank, activation))
        return _Layer(y, None, sim_out)
    assert in_q is not None
    qwf, wf_quant = quantize_weights(wf, None)
    # the state holds feature values: a range a little wider than the simulation's (headroom < 1: narrower, the
    # state saturates, and an int8 state's zero point makes TFLM's narrowing wrap around)
    widen_st = float(rng.uniform(1.1, 1.5))
    st_top = float(np.abs(sim_feat).max()) * (headroom if headroom is not None else widen_st) + 1e-3
    if state == "int16":
        wt_scale = float(np.float32(max(float(np.abs(wt).max()), 1e-6) / 32767.0))
        qwt = np.clip(np.round(wt / wt_scale), -32767, 32767).astype(np.int16)
        st_q = ActQ(float(np.float32(st_top / 32767.0)), 0)
    else:
        wt_scale = float(np.float32(max(float(np.abs(wt).max()), 1e-6) / 127.0))
        qwt = np.clip(np.round(wt / wt_scale), -127, 127).astype(np.int8)
        lo = -st_top * float(rng.uniform(0.3, 1.0))
        st_q = ActQ(*choose_qparams(lo, st_top))
    twf = mb.add_const(f"{name}_weights_feature", qwf, "int8", quant=wf_quant)
    twt = mb.add_const(f"{name}_weights_time", qwt, state, quant=Quant.per_tensor(wt_scale, 0))
    tb = -1
    if b is not None:
        qb, bq = quantize_bias(b, float(np.float32(np.float32(st_q.scale) * np.float32(wt_scale))),
                               Quant.per_tensor(1.0, 0))
        tb = mb.add_const(f"{name}_bias", qb, "int32", quant=bq)
    ts = mb.add_tensor(f"{name}_activation_state", (batch, memory * nf), state, quant=st_q.quant, variable=True)
    lo, hi = float(sim_out.min()), float(sim_out.max())
    widen = float(rng.uniform(1.05, 1.4))
    out_q = ActQ.from_range(lo * widen, hi * widen)
    y = mb.add_tensor(f"{name}_output", (batch, units), "int8", quant=out_q.quant)
    mb.add_operator("SVDF", [x, twf, twt, tb, ts], [y], SvdfOptions(rank, activation), version=3)
    return _Layer(y, out_q, sim_out)


def _input(mb: ModelBuilder, rng: np.random.Generator, batch: int, input_size: int, dtype: SvdfDType,
           steps: int) -> tuple[int, ActQ | None, np.ndarray]:
    in_q = ActQ.from_range(-float(rng.uniform(1.0, 3.0)), float(rng.uniform(1.0, 3.0))) if dtype == "int8" else None
    x = mb.add_input("input", (batch, input_size), dtype, quant=in_q.quant if in_q else None)
    lo, hi = (-2.0, 2.0) if in_q is None else (in_q.scale * (-128 - in_q.zero_point),
                                                 in_q.scale * (127 - in_q.zero_point))
    sim = rng.uniform(lo, hi, size=(steps, batch, input_size))
    return x, in_q, sim


def svdf_model(rng: np.random.Generator, *, batch: int = 1, input_size: int = 8, units: int = 4, rank: int = 1,
               memory: int = 5, dtype: SvdfDType = "int8", state: StateDType = "int16",
               activation: str = "NONE", bias: BiasKind = "random", headroom: float | None = None,
               sim_steps: int = 12) -> bytes:
    """One SVDF operator: input [batch, input_size] -> output [batch, units]; num_filters = units * rank. The
    same ``rng`` state gives the same weights and quantization whatever ``bias`` is (except the output range,
    which follows the bias). ``headroom``: the state's range over the largest simulated feature value (default
    1.1 to 1.5; below 1 the state saturates)."""
    mb = ModelBuilder()
    x, in_q, x_sim = _input(mb, rng, batch, input_size, dtype, sim_steps)
    layer = _add_svdf(mb, rng, "svdf", x, x_sim, in_q, units=units, rank=rank, memory=memory, dtype=dtype,
                      state=state, activation=activation, bias=bias, headroom=headroom)
    mb.set_outputs([layer.out])
    return mb.to_bytes()


def svdf_kws_model(rng: np.random.Generator, *, dtype: SvdfDType = "int8", input_size: int = 40,
                   units: tuple[int, int] = (32, 16), ranks: tuple[int, int] = (2, 1), memory: tuple[int, int] = (8, 4),
                   classes: int = 4, sim_steps: int = 12) -> bytes:
    """A keyword-spotting-like stateful graph (TFLM's micro_speech SVDF variant, scaled down): one feature
    frame per invocation, SVDF (RELU) -> SVDF (RELU) -> FULLY_CONNECTED -> SOFTMAX. Outputs: the softmax,
    and the second SVDF's output (so the state-carrying layers are compared on their own too)."""
    mb = ModelBuilder()
    x, in_q, x_sim = _input(mb, rng, 1, input_size, dtype, sim_steps)
    l1 = _add_svdf(mb, rng, "svdf1", x, x_sim, in_q, units=units[0], rank=ranks[0], memory=memory[0], dtype=dtype,
                   state="int16", activation="RELU", bias="random")
    # TFLM applies no activation on the integer path: the next layer sees the raw requantized sums
    l2 = _add_svdf(mb, rng, "svdf2", l1.out, l1.sim, l1.out_q, units=units[1], rank=ranks[1], memory=memory[1],
                   dtype=dtype, state="int16", activation="RELU", bias="random")
    w = rng.normal(0.0, 1.0 / np.sqrt(units[1]), size=(classes, units[1]))
    b = rng.normal(0.0, 0.2, size=(classes,))
    logits_sim = l2.sim.reshape(-1, units[1]) @ w.T + b
    if dtype == "float32":
        tw = mb.add_const("fc_weights", w.astype(np.float32), "float32")
        tb = mb.add_const("fc_bias", b.astype(np.float32), "float32")
        f = mb.add_tensor("logits", (1, classes), "float32")
        y = mb.add_tensor("probabilities", (1, classes), "float32")
    else:
        assert l2.out_q is not None
        qw, wq = quantize_weights(w, None)
        qb, bq = quantize_bias(b, l2.out_q.scale, wq)
        tw = mb.add_const("fc_weights", qw, "int8", quant=wq)
        tb = mb.add_const("fc_bias", qb, "int32", quant=bq)
        f_q = ActQ.from_range(float(logits_sim.min()) * 1.2, float(logits_sim.max()) * 1.2)
        f = mb.add_tensor("logits", (1, classes), "int8", quant=f_q.quant)
        y = mb.add_tensor("probabilities", (1, classes), "int8", quant=Quant.per_tensor(1.0 / 256.0, -128))
    mb.add_operator("FULLY_CONNECTED", [l2.out, tw, tb], [f], FullyConnectedOptions("NONE", False))
    mb.add_operator("SOFTMAX", [f], [y], SoftmaxOptions(1.0))
    mb.set_outputs([y, l2.out])
    return mb.to_bytes()
