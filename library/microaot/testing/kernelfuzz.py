"""Randomized differential test of the int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED kernels against TFLM.

A :class:`Layer` is one seeded random single-operator int8 layer (shape, kernel, strides, dilation, padding,
multiplier, quantization incl. extreme zero points, weights incl. all-zero channels and +-127 runs, bias,
activation); :func:`layer_model` serializes it (``modelgen.ModelBuilder``) and the layer is fully determined by
``(kind, seed)``: ``random_layer(kind, seed)`` gives it back, so a failure is reproduced from the two.

:func:`check_layers` compiles many layers into ONE model (one graph input per layer, one copy of the operator
per schedule of its space: ``schedules.candidates``, the single-layer model's default first), builds it once
for QEMU Cortex-M4 (``m4run``) and once for the host (the same schedules, SIMD emulated in portable C), plus
the generic-C build, and compares every output byte-exactly with TFLM (``batch.run_reference_many`` on the
single-layer models). Returns one :class:`Mismatch` per differing (layer, schedule, platform).

    python -m microaot.testing.kernelfuzz --n 200 --seed 1 [--kinds conv,dw,fc] [--no-qemu]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from microaot import schedules as space
from microaot.compiler import CompileResult, compile_model
from microaot.frontend.tflite import load_tflite
from microaot.hostbuild import build_model_shared_lib, generic_op_hashes, run_compiled
from microaot.testing import m4run
from microaot.testing.batch import run_reference_many
from microaot.testing.modelgen import (
    AddOptions,
    Conv2DOptions,
    DepthwiseConv2DOptions,
    FullyConnectedOptions,
    ModelBuilder,
    Quant,
    choose_qparams,
)

KINDS = ("conv", "dw", "fc")
OPCODES = {"conv": "CONV_2D", "dw": "DEPTHWISE_CONV_2D", "fc": "FULLY_CONNECTED"}
ACTIVATIONS = ("NONE", "RELU", "RELU6")
# which C file runs a schedule (for the report; the compile result's kernel_sources say it exactly)
KERNEL_FILES = {
    ("conv", "direct"): "conv.c", ("conv", "gemm"): "conv_fast.c", ("conv", "x16"): "conv_fast.c",
    ("conv", "plane"): "dw_plane.c", ("conv", "patch"): "conv1ch.c",
    ("dw", "direct"): "conv.c", ("dw", "simd4"): "dw_fast.c", ("dw", "pair"): "dw_fast.c",
    ("dw", "plane"): "dw_plane.c", ("dw", "line"): "dw_small.c",
    ("fc", "direct"): "fully_connected.c", ("fc", "simd4"): "fc_fast.c",
}


@dataclass
class Layer:
    """One random layer; ``params`` are plain JSON values (printed on a failure)."""

    kind: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        p = self.params
        if self.kind == "fc":
            shape = f"in={tuple(p['input_shape'])} units={p['units']} keep_num_dims={p['keep_num_dims']}"
        else:
            shape = (f"in={tuple(p['input_shape'])} k={p['kernel'][0]}x{p['kernel'][1]} s={tuple(p['stride'])} "
                     f"d={tuple(p['dilation'])} {p['padding']}"
                     + (f" filters={p['filters']}" if self.kind == "conv" else f" mult={p['mult']}"))
        return (f"{self.kind} seed={self.seed} {shape} act={p['activation']} per_channel={p['per_channel']} "
                f"in_zp={p['in_zp']} out_zp={p['out_zp']} weights={p['weights']} dead={p['dead']} bias={p['bias']}"
                + (f" rq_gt1={p['rq_gt1']:.2f}" if p.get("rq_gt1") else "") + (" big" if p.get("big") else ""))

    def repro(self) -> str:
        mm = self.params.get("max_macs", 400_000)
        return (f"python -m microaot.testing.kernelfuzz --layer {self.kind}:{self.seed}"
                + (f" --max-macs {mm}" if mm != 400_000 else "")
                + f" (random_layer({self.kind!r}, {self.seed}, max_macs={mm}))")


def _out_size(size: int, k: int, stride: int, dil: int, padding: str) -> int:
    eff = (k - 1) * dil + 1
    return (size + stride - 1) // stride if padding == "SAME" else (size - eff + stride) // stride


def _pick_channels(rng: np.random.Generator, hi: int = 70) -> int:
    r = rng.random()
    if r < 0.25:
        return int(rng.integers(1, 9))  # small, odd included
    if r < 0.5:
        return int(rng.choice([4, 8, 12, 16, 24, 32, 48, 64]))
    return int(rng.integers(1, hi + 1))


def _pick_kernel(rng: np.random.Generator, kind: str) -> tuple[int, int]:
    r = rng.random()
    if r < 0.2:
        return (1, 1) if kind == "conv" else (3, 3)
    if r < 0.4:
        k = int(rng.choice([3, 3, 5, 7]))
        return (k, k)
    if r < 0.55:
        return (int(rng.integers(2, 11)), 1)  # Kx1
    if r < 0.7:
        return (1, int(rng.integers(2, 11)))  # 1xK
    return (int(rng.integers(1, 11)), int(rng.integers(1, 9)))


def _zero_point(rng: np.random.Generator) -> int:
    r = rng.random()
    if r < 0.2:
        return -128
    if r < 0.3:
        return 127
    if r < 0.45:
        return 0
    return int(rng.integers(-128, 128))


MAX_WEIGHTS = 48 * 1024  # weights of one layer (a batch firmware holds a copy per schedule, int16 ones twice)


def random_layer(kind: str, seed: int, *, max_macs: int = 400_000) -> Layer:
    """The layer of ``(kind, seed)`` (deterministic). ``max_macs`` bounds the work of one inference."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: one of {KINDS}")
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    # ~8 % "big" layers (from a stream of their own: the others do not change): channels and planes past the
    # usual ranges (up to 256 channels, 96 pixels), as MobileNet-style models have; 6x the MAC budget
    brng = np.random.default_rng([seed, KINDS.index(kind), 7])
    big = bool(brng.random() < 0.08) and max_macs >= 400_000
    if big:
        max_macs *= 6
    p: dict[str, Any] = {"big": big, "max_macs": max_macs if not big else max_macs // 6}
    batch = 2 if rng.random() < 0.15 else 1
    if kind == "fc":
        depth = int(rng.choice([int(rng.integers(1, 17)), int(rng.integers(1, 129)), int(rng.integers(1, 401))]))
        units = _pick_channels(rng)
        if big:
            depth, units = min(2048, depth * int(brng.integers(2, 9))), min(256, units * int(brng.integers(2, 5)))
        if rng.random() < 0.15:
            shape: list[int] = [batch, int(rng.integers(1, 4)), depth]
            keep = bool(rng.random() < 0.5)
        else:
            shape = [int(rng.integers(1, 4)) if rng.random() < 0.2 else batch, depth]
            keep = False
        if not keep and np.random.default_rng([seed, 2, 9]).random() < 0.15:  # rank 4 (after a conv / pool)
            shape = [1, 1, 1, depth] if shape[0] == 1 else [1, 1, shape[0], depth]
        while (math.prod(shape) * units > max_macs or depth * units > MAX_WEIGHTS) and units > 1:
            units = max(1, units // 2)
        p.update(input_shape=shape, units=units, keep_num_dims=keep, fan_in=depth, out_c=units)
    else:
        kh, kw = _pick_kernel(rng, kind)
        stride = [int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 1, 2, 3]))]
        if rng.random() < 0.3:
            stride = [stride[0], stride[0]]
        dil = [1, 1]
        if rng.random() < 0.2:
            dil = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
        padding = "VALID" if rng.random() < 0.35 else "SAME"
        c = _pick_channels(rng)
        mult = 1
        if kind == "dw" and rng.random() < 0.35:
            mult = int(rng.integers(2, 9))
            c = max(1, min(c, 140 // mult))
        filters = _pick_channels(rng) if kind == "conv" else c * mult
        h, w = int(rng.integers(1, 41)), int(rng.integers(1, 41))
        if rng.random() < 0.3:  # small / degenerate planes are common in real models' tails
            h, w = int(rng.integers(1, 8)), int(rng.integers(1, 8))
        if big:
            c = min(256 // mult, c * int(brng.integers(2, 5)))
            filters = min(256, filters * int(brng.integers(2, 5))) if kind == "conv" else c * mult
            h, w = int(brng.integers(8, 97)), int(brng.integers(8, 97))
        if padding == "VALID":
            h = max(h, (kh - 1) * dil[0] + 1)
            w = max(w, (kw - 1) * dil[1] + 1)
        while kind == "conv" and filters * kh * kw * c > MAX_WEIGHTS:  # flash: every schedule has a copy
            if filters >= c and filters > 1:
                filters = max(1, filters * 3 // 4)
            else:
                c = max(1, c * 3 // 4)
        fan = kh * kw * (c if kind == "conv" else 1)

        def macs() -> int:
            return (batch * _out_size(h, kh, stride[0], dil[0], padding) * _out_size(w, kw, stride[1], dil[1], padding)
                    * filters * fan)

        hmin = (kh - 1) * dil[0] + 1 if padding == "VALID" else 1
        wmin = (kw - 1) * dil[1] + 1 if padding == "VALID" else 1
        while macs() > max_macs:
            if h > hmin and (h >= w or w <= wmin):
                h = max(hmin, h - max(1, h // 4))
            elif w > wmin:
                w = max(wmin, w - max(1, w // 4))
            elif kind == "conv" and filters > 1:
                filters = max(1, filters // 2)
            elif kind == "conv" and c > 1:
                c = max(1, c // 2)
                fan = kh * kw * c
            else:
                break
        p.update(input_shape=[batch, h, w, c], kernel=[kh, kw], stride=stride, dilation=dil, padding=padding,
                 filters=filters, mult=mult, fan_in=fan, out_c=filters)
    p["activation"] = str(rng.choice(ACTIVATIONS))
    p["per_channel"] = bool(rng.random() < (0.7 if kind != "fc" else 0.3))
    p["in_zp"] = _zero_point(rng)
    p["in_scale"] = float(np.float32(10 ** rng.uniform(-3, -0.5)))
    p["weights"] = str(rng.choice(["normal", "normal", "uniform", "extreme", "sparse"]))
    oc = int(p["out_c"])
    n_dead = min(oc, int(rng.integers(1, max(2, oc // 3) + 1))) if rng.random() < 0.2 else 0
    p["dead"] = sorted(int(i) for i in rng.choice(oc, size=n_dead, replace=False))
    p["bias"] = str(rng.choice(["normal", "normal", "none", "large"])) if kind != "dw" else \
        str(rng.choice(["normal", "normal", "large"]))
    p["out_zp_mode"] = str(rng.choice(["fit", "fit", "extreme", "random"]))
    p["out_scale_factor"] = float(10 ** rng.uniform(-1.3, 0.5)) if rng.random() < 0.2 else \
        float(rng.uniform(0.6, 1.4))
    p["data_seed"] = int(rng.integers(0, 2**31))
    # requantization multipliers > 1 (a positive shift: the kernels' exact fallback path), ~6 % of the layers
    p["rq_gt1"] = float(rng.uniform(1.0, 6.0)) if rng.random() < 0.06 else 0.0
    layer = Layer(kind, seed, p)
    _tensors(layer)  # fills out_zp / out_scale
    return layer


@dataclass
class _Tensors:
    w: np.ndarray  # int8, the model's layout (OHWI / 1HWC' / OI)
    w_scales: list[float]
    bias: np.ndarray | None  # int32
    out_scale: float
    out_zp: int


def _tensors(layer: Layer) -> _Tensors:
    p = layer.params
    rng = np.random.default_rng([p["data_seed"], 1])
    kind = layer.kind
    oc = int(p["out_c"])
    if kind == "conv":
        kh, kw = p["kernel"]
        wshape: tuple[int, ...] = (oc, kh, kw, p["input_shape"][3])
        axis = 0
    elif kind == "dw":
        kh, kw = p["kernel"]
        wshape = (1, kh, kw, oc)
        axis = 3
    else:
        wshape = (oc, p["input_shape"][-1])
        axis = 0
    mode = p["weights"]
    if mode == "extreme":
        w = rng.choice(np.array([-127, 127, 0, 1, -1]), size=wshape, p=[0.4, 0.4, 0.1, 0.05, 0.05])
    elif mode == "uniform":
        w = rng.integers(-127, 128, size=wshape)
    elif mode == "sparse":
        w = np.where(rng.random(wshape) < 0.7, 0, rng.integers(-127, 128, size=wshape))
    else:
        w = np.clip(np.round(rng.normal(0, 40, size=wshape)), -127, 127)
    w = np.moveaxis(w.astype(np.int64), axis, 0).copy()  # channel first
    # per channel: a +-127 somewhere (the quantizer's max) unless the channel is all zero
    flat = w.reshape(oc, -1)
    k = np.argmax(np.abs(flat), axis=1)
    rows = np.arange(oc)
    top = flat[rows, k]
    flat[rows, k] = np.where(top > 0, 127, np.where(top < 0, -127, 0))
    for ch in p["dead"]:
        w[ch] = 0
    w = np.moveaxis(w, 0, axis).astype(np.int8)
    in_scale = float(p["in_scale"])
    if p["per_channel"]:
        base = float(rng.uniform(-3.5, -1.5))
        w_scales = [float(np.float32(10 ** (base + rng.uniform(-0.6, 0.6)))) for _ in range(oc)]
        for ch in p["dead"]:
            w_scales[ch] = float(np.float32(1e-6 / 127.0))  # what a quantizer gives an all-zero channel
    else:
        w_scales = [float(np.float32(10 ** rng.uniform(-3.5, -1.5)))]
    bias_scales = np.array([np.float32(in_scale * s) for s in (w_scales if p["per_channel"] else w_scales * oc)],
                           np.float64)
    bias: np.ndarray | None = None
    fan = int(p["fan_in"])
    # float accumulator spread: in_scale*128 * w_scale*~60 * sqrt(fan)
    wstd = float(np.std(w.astype(np.float64))) or 1.0
    sigma_q = 64.0 * wstd * math.sqrt(max(fan, 1))  # in accumulator units
    if p["bias"] != "none":
        if p["bias"] == "large":
            bq = rng.normal(0, sigma_q * 4, size=oc)
            big = rng.random(oc) < 0.2  # far outside the output range: saturates whatever the input
            bq[big] = rng.choice([-1.0, 1.0], size=int(big.sum())) * 2.0 ** rng.uniform(24, 28, size=int(big.sum()))
        else:  # about centres the channel's outputs on a uniform int8 input (as a folded batch norm would)
            wsum = np.moveaxis(w.astype(np.float64), axis, 0).reshape(oc, -1).sum(axis=1)
            bq = (0.5 + float(p["in_zp"])) * wsum * rng.uniform(0.5, 1.0) + rng.normal(0, sigma_q * 0.5, size=oc)
        for ch in p["dead"]:  # pruned channel: a float bias over a tiny scale: huge
            bq[ch] = float(rng.normal(0, 0.5)) / bias_scales[ch]
        bias = np.clip(np.round(bq), -(2**31), 2**31 - 1).astype(np.int32)
    # output range: the accumulator of a channel is about bias + m * sum(w) +- 74 * |w| (uniform int8 input,
    # m = its mean minus the zero point); the range covers the median channel's +-3 sigma, times a factor
    wc = np.moveaxis(w.astype(np.float64), axis, 0).reshape(oc, -1)
    m = -0.5 - float(p["in_zp"])
    center = m * wc.sum(axis=1) + (bias.astype(np.float64) if bias is not None else 0.0)
    spread = 74.0 * np.sqrt((wc * wc).sum(axis=1)) + 1.0
    chs = np.array(w_scales if p["per_channel"] else w_scales * oc, np.float64) * in_scale
    live = [ch for ch in range(oc) if ch not in p["dead"]] or list(range(oc))
    lo_f = float(np.median(((center - 3 * spread) * chs)[live]))
    hi_f = float(np.median(((center + 3 * spread) * chs)[live]))
    mid, half = (lo_f + hi_f) / 2, (hi_f - lo_f) / 2 * p["out_scale_factor"]
    lo, hi = mid - half, mid + half
    if p["activation"] in ("RELU", "RELU6"):
        lo = 0.0 if p["out_zp_mode"] != "random" else lo
        hi = min(hi, 6.0) if p["activation"] == "RELU6" and hi > 6.0 else hi
    out_scale, out_zp = choose_qparams(lo, hi)
    if p["out_zp_mode"] == "extreme":
        out_zp = -128 if p["activation"] != "NONE" or rng.random() < 0.5 else 127
        out_zp = out_zp if p["activation"] != "NONE" or rng.random() < 0.4 else choose_qparams(lo, hi)[1]
    elif p["out_zp_mode"] == "random":
        out_zp = int(rng.integers(-128, 128))
    if p.get("rq_gt1"):
        out_scale = float(np.float32(in_scale * float(np.median(w_scales)) / p["rq_gt1"]))
    p["out_scale"] = float(out_scale)
    p["out_zp"] = int(out_zp)
    return _Tensors(w, w_scales, bias, float(out_scale), int(out_zp))


def _add_layer(mb: ModelBuilder, layer: Layer, x: int, tag: str) -> int:
    """Add the layer's operator reading tensor ``x`` (its own weight / bias constants); returns the output."""
    p = layer.params
    t = _tensors(layer)
    in_scale = float(p["in_scale"])
    oc = int(p["out_c"])
    axis = {"conv": 0, "dw": 3, "fc": 0}[layer.kind]
    wq = Quant.per_channel(t.w_scales, axis) if p["per_channel"] else Quant.per_tensor(t.w_scales[0], 0)
    wt = mb.add_const(f"w{tag}", t.w, "int8", quant=wq)
    bt = -1
    if t.bias is not None:
        bs = [float(np.float32(in_scale * s)) for s in t.w_scales]
        bq = Quant.per_channel(bs, 0) if p["per_channel"] else Quant.per_tensor(bs[0], 0)
        bt = mb.add_const(f"b{tag}", t.bias, "int32", quant=bq)
    oq = Quant.per_tensor(t.out_scale, t.out_zp)
    act = p["activation"]
    if layer.kind == "fc":
        shape = p["input_shape"]
        out_shape = [*shape[:-1], oc] if p["keep_num_dims"] else [math.prod(shape[:-1]), oc]
        y = mb.add_tensor(f"y{tag}", out_shape, "int8", quant=oq)
        mb.add_operator("FULLY_CONNECTED", [x, wt, bt], [y], FullyConnectedOptions(act, p["keep_num_dims"]))
        return y
    n, h, w, _ = p["input_shape"]
    (kh, kw), (sh, sw), (dh, dw) = p["kernel"], p["stride"], p["dilation"]
    oh, ow = _out_size(h, kh, sh, dh, p["padding"]), _out_size(w, kw, sw, dw, p["padding"])
    y = mb.add_tensor(f"y{tag}", [n, oh, ow, oc], "int8", quant=oq)
    if layer.kind == "conv":
        mb.add_operator("CONV_2D", [x, wt, bt], [y], Conv2DOptions(p["padding"], sw, sh, act, dw, dh))
    else:
        if bt < 0:
            raise AssertionError("depthwise layers always have a bias here")
        mb.add_operator("DEPTHWISE_CONV_2D", [x, wt, bt], [y],
                        DepthwiseConv2DOptions(p["padding"], sw, sh, p["mult"], act, dw, dh))
    return y


def _input(mb: ModelBuilder, layer: Layer, tag: str) -> int:
    p = layer.params
    return mb.add_input(f"x{tag}", p["input_shape"], "int8", quant=Quant.per_tensor(p["in_scale"], p["in_zp"]))


def layer_model(layer: Layer) -> bytes:
    """The single-layer .tflite of ``layer``."""
    mb = ModelBuilder(description=f"microaot kernelfuzz {layer.kind} {layer.seed}")
    x = _input(mb, layer, "")
    mb.set_outputs([_add_layer(mb, layer, x, "")])
    return mb.to_bytes()


def combined_model(layers: Sequence[Layer], copies: Sequence[int]) -> bytes:
    """One model: input i feeds ``copies[i]`` independent copies of layer i; outputs in (layer, copy) order."""
    mb = ModelBuilder(description="microaot kernelfuzz batch")
    outs = []
    for i, (layer, k) in enumerate(zip(layers, copies, strict=True)):
        x = _input(mb, layer, f"{i}")
        outs += [_add_layer(mb, layer, x, f"{i}_{j}") for j in range(k)]
    mb.set_outputs(outs)
    return mb.to_bytes()


def layer_inputs(layer: Layer, n_sets: int = 2) -> list[np.ndarray]:
    """Input sets: uniform int8, then a set biased to the extremes (-128, 127, the zero point)."""
    p = layer.params
    rng = np.random.default_rng([p["data_seed"], 2])
    shape = tuple(p["input_shape"])
    out = [rng.integers(-128, 128, size=shape).astype(np.int8)]
    for _ in range(1, n_sets):
        pick = rng.choice(np.array([-128, 127, p["in_zp"], 0], np.int64), size=shape)
        mix = np.where(rng.random(shape) < 0.7, pick, rng.integers(-128, 128, size=shape))
        out.append(mix.astype(np.int8))
    return out


@dataclass
class Mismatch:
    layer: Layer
    schedule: dict[str, Any]
    platform: str  # "qemu-m4", "host-m4", "host-generic", or "error"
    detail: str

    def __str__(self) -> str:
        algo = self.schedule.get("algo", "direct")
        kfile = KERNEL_FILES.get((self.layer.kind, algo), "?")
        return (f"[{self.platform}] {self.layer.describe()} schedule={json.dumps(self.schedule, sort_keys=True)} "
                f"kernel={kfile}: {self.detail}\n    reproduce: {self.layer.repro()}")


def _diff(got: np.ndarray, want: np.ndarray, s: int) -> str | None:
    g, w = np.asarray(got).reshape(-1), np.asarray(want).reshape(-1)
    if g.shape != w.shape:
        return f"input set {s}: {g.size} output values, TFLM {w.size}"
    bad = np.flatnonzero(g != w)
    if bad.size == 0:
        return None
    k = bad[:6]
    pos = np.unravel_index(int(bad[0]), np.asarray(want).shape)
    return (f"input set {s}: {bad.size}/{w.size} values differ, first at {tuple(int(v) for v in pos)} "
            f"(flat {int(bad[0])}): got {g[k].tolist()} want {w[k].tolist()} at {k.tolist()}")


GUARD = 64  # bytes of canary on each side of the firmware's workspace
_M4_MAIN_C = m4run._main_c  # noqa: SLF001


def _guarded_main(result: Any, inputs: Any, groups: Any = None) -> str:
    """m4run's firmware main with GUARD canary bytes (0xA5) before and after the workspace, checked after the
    runs: a kernel writing outside the workspace (scratch larger than planned) fails the firmware; ws_raw[i] is
    named (i < GUARD: before the workspace)."""
    n = result.name
    text = _M4_MAIN_C(result, inputs, groups)
    decl = f"static uint8_t ws[{n}_WORKSPACE_SIZE] __attribute__((aligned(16)));"
    assert decl in text, "m4run's workspace declaration changed: update kernelfuzz._guarded_main"
    text = text.replace(decl, f"static uint8_t ws_raw[{GUARD} + {n}_WORKSPACE_SIZE + {GUARD}] "
                              f"__attribute__((aligned(16)));\n#define ws (ws_raw + {GUARD})\n"
                              "static int guard_bad(void) { for (uint32_t i = 0; i < sizeof ws_raw; i++) { "
                              f"if ((i < {GUARD} || i >= {GUARD} + {n}_WORKSPACE_SIZE) && ws_raw[i] != 0xA5u) "
                              "{ return (int)i + 1; } } return 0; }")
    first = "    uaot_hooks_t hooks = {0};"
    assert first in text
    text = text.replace(first, "    memset(ws_raw, 0xA5, sizeof ws_raw);\n" + first, 1)
    done = '    put("done\\n");'
    assert done in text, "m4run's main changed: update kernelfuzz._guarded_main"
    text = text.replace(done, '    if (guard_bad()) { put("workspace guard byte overwritten at ws_raw["); '
                              'put_u64((uint64_t)(guard_bad() - 1)); put("]\\n"); return 6; }\n' + done, 1)
    return text


def run_guarded(result: CompileResult, sets: Sequence[Sequence[np.ndarray]], build_dir: Path,
                timeout: float, cflags: Sequence[str] = ()) -> m4run.M4Run:
    """m4run.run_m4 with the workspace canaries of ``_guarded_main`` (``cflags``: e.g. ["-Os"], after -O2)."""
    m4run._main_c = _guarded_main  # noqa: SLF001
    try:
        elf = m4run.build_m4(result, sets, build_dir, extra_cflags=cflags)
    finally:
        m4run._main_c = _M4_MAIN_C  # noqa: SLF001
    return m4run.run_elf(result, elf, len(sets), timeout=timeout)


@dataclass
class BatchResult:
    mismatches: list[Mismatch]
    n_layers: int
    n_variants: int
    seconds: dict[str, float]


def check_layers(layers: Sequence[Layer], work: Path, *, qemu: bool = True, host: bool = True,
                 generic: bool = True, n_sets: int = 2, target: str = "cortex-m4", qemu_timeout: float = 300,
                 max_ops: int = 120, max_macs: int = 20_000_000, progress: bool = False,
                 cflags: Sequence[str] = ()) -> BatchResult:
    """Every schedule of every layer against TFLM (TFLM for all layers at once, then one firmware / host
    library per group of layers, ``batches``); see the module doc."""
    work.mkdir(parents=True, exist_ok=True)
    tm: dict[str, float] = {}

    def tick(key: str, t0: float) -> None:
        tm[key] = tm.get(key, 0.0) + time.monotonic() - t0

    t0 = time.monotonic()
    paths, variants, inputs = [], [], []
    bad: list[Mismatch] = []
    for i, layer in enumerate(layers):
        path = work / f"l{i}_{layer.kind}_{layer.seed}.tflite"
        path.write_bytes(layer_model(layer))
        g = load_tflite(path)
        op = g.operators[0]
        d = space.default_schedules(g, target).get(0)
        variants.append(space.candidates(g, op, target, d))
        paths.append(path)
        inputs.append(layer_inputs(layer, n_sets))
    tick("generate", t0)
    t0 = time.monotonic()
    refs = run_reference_many(paths, [[[x] for x in xs] for xs in inputs])
    tick("tflm", t0)
    keep_all = []
    for i, r in enumerate(refs):
        if isinstance(r, Exception):
            bad.append(Mismatch(layers[i], {}, "error", f"TFLM failed: {r}"))
        else:
            keep_all.append(i)
    n_variants = 0
    index = {id(layer): i for i, layer in enumerate(layers)}
    groups = batches([layers[i] for i in keep_all], max_ops, max_macs)
    for gi, group in enumerate(groups):
        keep = [index[id(layer)] for layer in group]
        n_before = len(bad)
        gw = work / f"g{gi}"
        kl = [layers[i] for i in keep]
        copies = [len(variants[i]) for i in keep]
        model = gw / "batch.tflite"
        gw.mkdir(parents=True, exist_ok=True)
        model.write_bytes(combined_model(kl, copies))
        sched: dict[int, dict[str, Any]] = {}
        owner: list[tuple[int, dict[str, Any]]] = []  # per operator / output: (layer index, schedule)
        for i in keep:
            for v in variants[i]:
                sched[len(owner)] = v
                owner.append((i, v))
        n_variants += len(owner)
        sets = [[inputs[i][s] for i in keep] for s in range(n_sets)]

        def compare(platform: str, outs: Sequence[Sequence[np.ndarray]],
                    owner: list[tuple[int, dict[str, Any]]] = owner) -> None:
            for k, (i, v) in enumerate(owner):
                for s in range(n_sets):
                    msg = _diff(outs[s][k], refs[i][s][0], s)  # type: ignore[index]
                    if msg:
                        bad.append(Mismatch(layers[i], v, platform, msg))
                        break

        def fail_all(platform: str, e: Exception, keep: list[int] = keep) -> None:
            bad.append(Mismatch(Layer("batch", -1, {}), {}, "error",
                                f"{platform} build/run of the batch failed: {e}\n    layers: "
                                + "; ".join(f"{layers[i].describe()}" for i in keep)))

        t0 = time.monotonic()
        try:
            r_m4: CompileResult | None = compile_model(model, gw / "m4", name="fz", target=target, schedules=sched)
        except Exception as e:
            r_m4 = None
            fail_all("compile", e)
        tick("compile", t0)
        if r_m4 is not None and qemu and m4run.available():
            t0 = time.monotonic()
            try:
                run = run_guarded(r_m4, sets, gw / "qemu", qemu_timeout, cflags)
                compare("qemu-m4", run.outputs)
            except Exception as e:
                fail_all("qemu-m4", e)
            tick("qemu", t0)
        if r_m4 is not None and host:
            t0 = time.monotonic()
            try:
                lib = build_model_shared_lib(r_m4, gw / "host", extra_cflags=cflags)
                compare("host-m4", [run_compiled(r_m4, lib, xs) for xs in sets])
            except Exception as e:
                fail_all("host-m4", e)
            tick("host", t0)
        if generic:
            t0 = time.monotonic()
            try:
                gm = gw / "generic.tflite"
                gm.write_bytes(combined_model(kl, [1] * len(kl)))
                rg = compile_model(gm, gw / "gen", name="fzg", target="generic")
                lib = build_model_shared_lib(rg, gw / "genlib")
                outs = [run_compiled(rg, lib, xs) for xs in sets]
                for j, i in enumerate(keep):
                    for s in range(n_sets):
                        msg = _diff(outs[s][j], refs[i][s][0], s)  # type: ignore[index]
                        if msg:
                            bad.append(Mismatch(layers[i], {"algo": "direct"}, "host-generic", msg))
                            break
            except Exception as e:
                fail_all("host-generic", e)
            tick("generic", t0)
        if progress:
            print(f"  group {gi + 1}/{len(groups)}: {len(group)} layers, {len(owner)} schedules, "
                  f"{len(bad) - n_before} mismatches", flush=True)
            for m in bad[n_before:]:
                print("    " + str(m).replace("\n", "\n    "), flush=True)
    return BatchResult(bad, len(layers), n_variants, tm)


def chain_model(layer: Layer) -> bytes:
    """input -> ADD(x, x) -> t -> layer -> y -> ADD(y, y) -> output: the layer's input and output both in the
    workspace, so the planner may run it in place (conv_rows.c, the pair kernel's own modes); t has the layer's
    input quantization (x: ~1/2.2 of its scale), the output ADD the scale 2 s_y (y read back exactly)."""
    return _between_adds([layer], f"microaot kernelfuzz chain {layer.kind} {layer.seed}", single=True)


def _between_adds(layers: Sequence[Layer], description: str, *, single: bool = False) -> bytes:
    """input -> ADD(x, x) -> t -> the layers -> y -> ADD(y, y) -> output (``chain_model`` / ``block_model``);
    ``single``: the one layer's tensors keep their unsuffixed names"""
    first = layers[0].params
    mb = ModelBuilder(description=description)
    x_zp = int(np.clip(round(first["in_zp"] / 1.1), -128, 127))
    x = mb.add_input("x", first["input_shape"], "int8", quant=Quant.per_tensor(first["in_scale"] * 0.55, x_zp))
    t = mb.add_tensor("t", first["input_shape"], "int8", quant=Quant.per_tensor(first["in_scale"], first["in_zp"]))
    mb.add_operator("ADD", [x, x], [t], AddOptions("NONE"))
    for i, layer in enumerate(layers):
        t = _add_layer(mb, layer, t, "" if single else f"{i}")
    ys = mb.tensors[t]
    assert ys.quant is not None
    z = mb.add_tensor("z", ys.shape, "int8", quant=Quant.per_tensor(ys.quant.scale[0] * 2, ys.quant.zero_point[0]))
    mb.add_operator("ADD", [t, t], [z], AddOptions("NONE"))
    mb.set_outputs([z])
    return mb.to_bytes()


def check_inplace(layers: Sequence[Layer], work: Path, *, n_sets: int = 2, target: str = "cortex-m4",
                  qemu_timeout: float = 120, progress: bool = False,
                  cflags: Sequence[str] = ()) -> tuple[list[Mismatch], int, int]:
    """Every schedule of each layer (conv / dw) inside ``chain_model``, one firmware per schedule on QEMU M4:
    the output against TFLM, the layer's own output tensor (OPCHECK hash) against the generic-C build.
    Returns (mismatches, schedules run, of them run in place)."""
    work.mkdir(parents=True, exist_ok=True)
    layers = [x for x in layers if x.kind != "fc"]
    paths, inputs = [], []
    for i, layer in enumerate(layers):
        path = work / f"c{i}_{layer.kind}_{layer.seed}.tflite"
        path.write_bytes(chain_model(layer))
        paths.append(path)
        inputs.append([[x] for x in layer_inputs(layer, n_sets)])
    refs = run_reference_many(paths, inputs)
    bad: list[Mismatch] = []
    runs = inplace = 0
    for i, (layer, path, xs, ref) in enumerate(zip(layers, paths, inputs, refs, strict=True)):
        if isinstance(ref, Exception):
            bad.append(Mismatch(layer, {}, "error", f"TFLM failed on the chain: {ref}"))
            continue
        lw = work / f"c{i}"
        n0 = len(bad)
        try:
            want = generic_op_hashes(path, xs, lw / "generic")
        except Exception as e:
            bad.append(Mismatch(layer, {}, "error", f"generic build of the chain failed: {e}"))
            continue
        g = load_tflite(path)
        d = space.default_schedules(g, target).get(1)
        for k, v in enumerate(space.candidates(g, g.operators[1], target, d)):
            try:
                r = compile_model(path, lw / f"v{k}", name="fzc", target=target, schedules={1: v})
                runs += 1
                where = "in place" if 1 in r.plan.inplace_ops else "not in place"
                inplace += 1 in r.plan.inplace_ops
                run = run_guarded(r, xs, lw / f"v{k}" / "m4", qemu_timeout, cflags)
            except Exception as e:
                bad.append(Mismatch(layer, v, "qemu-m4 chain", f"build/run failed: {e}"))
                continue
            for s in range(n_sets):
                msg = _diff(run.outputs[s][0], ref[s][0], s)
                hs = run.op_hashes[s] if run.op_hashes else None
                if hs is None or hs[1] != want[s][1]:
                    msg = (msg or "") + f" (input set {s}: the layer's output tensor differs from the generic build)"
                if msg:
                    bad.append(Mismatch(layer, v, f"qemu-m4 chain, {where}", msg.strip()))
                    break
        if progress:
            print(f"  chain {i + 1}/{len(layers)}: {layer.describe()}: {len(bad) - n0} mismatches", flush=True)
            for m in bad[n0:]:
                print("    " + str(m).replace("\n", "\n    "), flush=True)
    return bad, runs, inplace


def _restructure(layer: Layer, *, input_shape: list[int], in_scale: float, in_zp: int,
                 kernel: list[int] | None = None, stride: list[int] | None = None, filters: int | None = None) -> Layer:
    """``layer`` (its quantization / weight / bias modes) on another input and geometry; no dilation, SAME."""
    p = {**layer.params, "input_shape": list(input_shape), "in_scale": float(in_scale), "in_zp": int(in_zp)}
    c = int(input_shape[-1])
    if layer.kind != "fc":
        p.update(kernel=kernel or p["kernel"], stride=stride or [1, 1], dilation=[1, 1], padding="SAME")
        if layer.kind == "dw":
            p.update(mult=1, filters=c, out_c=c, fan_in=p["kernel"][0] * p["kernel"][1])
        else:
            f = int(filters or p["filters"])
            p.update(filters=f, out_c=f, fan_in=p["kernel"][0] * p["kernel"][1] * c)
    else:
        p.update(fan_in=c, keep_num_dims=False)
    oc = int(p["out_c"])
    p["dead"] = [d for d in p["dead"] if d < oc]
    out = Layer(layer.kind, layer.seed, p)
    _tensors(out)  # its output quantization
    return out


def random_block(seed: int) -> list[Layer]:
    """A MobileNet-style block: 1x1 expand (CONV_2D), depthwise (3x3 / 5x5 / Kx1 / 1xK, stride 1 or 2), 1x1
    project (CONV_2D), each layer's input the previous one's output (its quantization)."""
    rng = np.random.default_rng([seed, 11])
    h, w = int(rng.integers(2, 25)), int(rng.integers(1, 25))
    c = int(rng.choice([int(rng.integers(1, 17)), int(rng.choice([8, 16, 24, 32]))]))
    t = int(rng.integers(1, 7))
    e = max(1, min(96, c * t))
    k = [[3, 3], [3, 3], [5, 5], [int(rng.integers(3, 11)), 1], [1, int(rng.integers(3, 11))]][int(rng.integers(0, 5))]
    s = int(rng.choice([1, 1, 2]))
    c2 = int(rng.integers(1, 49))
    base = [random_layer("conv", seed * 3), random_layer("dw", seed * 3 + 1), random_layer("conv", seed * 3 + 2)]
    l1 = _restructure(base[0], input_shape=[1, h, w, c], in_scale=base[0].params["in_scale"],
                      in_zp=base[0].params["in_zp"], kernel=[1, 1], filters=e)
    l2 = _restructure(base[1], input_shape=[1, h, w, e], in_scale=l1.params["out_scale"], in_zp=l1.params["out_zp"],
                      kernel=k, stride=[s, s])
    oh, ow = _out_size(h, k[0], s, 1, "SAME"), _out_size(w, k[1], s, 1, "SAME")
    l3 = _restructure(base[2], input_shape=[1, oh, ow, e], in_scale=l2.params["out_scale"],
                      in_zp=l2.params["out_zp"], kernel=[1, 1], filters=c2)
    return [l1, l2, l3]


def block_model(block: Sequence[Layer]) -> bytes:
    """input -> ADD(x, x) -> the block's layers -> ADD(y, y) -> output (every tensor in between in the workspace)."""
    return _between_adds(block, "microaot kernelfuzz block")


def check_blocks(seeds: Sequence[int], work: Path, *, n_sets: int = 2, target: str = "cortex-m4",
                 qemu_timeout: float = 120, progress: bool = False,
                 cflags: Sequence[str] = ()) -> tuple[list[str], int]:
    """Each block (``random_block``) in ``block_model`` on QEMU M4, builds k = 0, 1, ..: every layer on the k-th
    schedule of its candidates (its default when it has fewer; k = 0: the build's defaults), as
    ``m4run.best_per_op`` searches; the output against TFLM and every operator's tensor against the generic-C
    build (OPCHECK hashes). Returns (failure messages, builds run)."""
    work.mkdir(parents=True, exist_ok=True)
    bad: list[str] = []
    builds = 0
    blocks = [random_block(sd) for sd in seeds]
    paths, inputs = [], []
    for sd, block in zip(seeds, blocks, strict=True):
        path = work / f"block{sd}.tflite"
        path.write_bytes(block_model(block))
        paths.append(path)
        inputs.append([[x] for x in layer_inputs(block[0], n_sets)])
    refs = run_reference_many(paths, inputs)
    for sd, block, path, xs, ref in zip(seeds, blocks, paths, inputs, refs, strict=True):
        what = f"block seed={sd}: " + " | ".join(x.describe() for x in block)
        n0 = len(bad)
        if isinstance(ref, Exception):
            bad.append(f"{what}: TFLM failed: {ref}")
            continue
        bw = work / f"b{sd}"
        try:
            want = generic_op_hashes(path, xs, bw / "generic")
        except Exception as e:
            bad.append(f"{what}: generic build failed: {e}")
            continue
        g = load_tflite(path)
        defaults = space.default_schedules(g, target)
        cands = {i: space.candidates(g, g.operators[i], target, defaults.get(i)) for i in (1, 2, 3)}
        for k in range(max(len(c) for c in cands.values())):
            sched = {i: c[k] if k < len(c) else c[0] for i, c in cands.items()}
            tag = json.dumps({str(i): v for i, v in sched.items()}, sort_keys=True)
            try:
                r = compile_model(path, bw / f"k{k}", name="fzb", target=target, schedules=sched if k else None)
                builds += 1
                run = run_guarded(r, xs, bw / f"k{k}" / "m4", qemu_timeout, cflags)
            except Exception as e:
                bad.append(f"{what} schedules {tag}: build/run failed: {e}")
                continue
            inpl = sorted(r.plan.inplace_ops)
            for s in range(n_sets):
                msg = _diff(run.outputs[s][0], ref[s][0], s)
                hs = run.op_hashes[s] if run.op_hashes else None
                ops = [i for i in range(len(want[s])) if hs is None or hs[i] != want[s][i]]
                if msg or ops:
                    bad.append(f"{what} schedules {tag} (in place: ops {inpl}): {msg or 'output equal'}; "
                               f"operators whose tensor differs from the generic build: {ops}")
                    break
        if progress:
            print(f"  block {sd}: {len(bad) - n0} failures", flush=True)
            for m in bad[n0:]:
                print("    " + m, flush=True)
    return bad, builds


def sample_layers(n: int, seed: int, kinds: Sequence[str] = KINDS, max_macs: int = 400_000) -> list[Layer]:
    """``n`` layers: kinds in turn, seeds ``seed * 100003 + i``."""
    return [random_layer(kinds[i % len(kinds)], seed * 100003 + i, max_macs=max_macs) for i in range(n)]


# kernel families: which layers reach them (a filter on the generated layers)
FOCUS: dict[str, Callable[[Layer], bool]] = {
    "pair": lambda x: x.kind == "dw" and x.params["kernel"] == [3, 3] and x.params["mult"] == 1
    and x.params["dilation"] == [1, 1],
    "line": lambda x: x.kind == "dw" and 1 in x.params["kernel"],
    "plane": lambda x: (x.kind == "dw" and (x.params["mult"] > 1 or 1 not in x.params["kernel"]))
    or (x.kind == "conv" and x.params["input_shape"][3] == 1),
    "gemm": lambda x: x.kind == "conv" and x.params["input_shape"][3] > 1,
    # 1x1 stride 1 with out_c <= in_c: in place, the gemm runs once on the whole tensor (conv.py, rows_fwd)
    "pointwise": lambda x: x.kind == "conv" and x.params["kernel"] == [1, 1] and x.params["stride"] == [1, 1]
    and 1 < x.params["filters"] <= x.params["input_shape"][3],
    "fc": lambda x: x.kind == "fc",
}


def focused_layers(n: int, seed: int, focus: str, max_macs: int = 400_000) -> list[Layer]:
    """``n`` layers of ``sample_layers``' stream (from ``seed``) that reach the kernel family ``focus``."""
    keep = FOCUS[focus]
    kinds = {"fc": ("fc",), "gemm": ("conv",), "pointwise": ("conv",), "pair": ("dw",), "line": ("dw",)}.get(
        focus, ("dw", "conv"))
    out: list[Layer] = []
    i = 0
    while len(out) < n:
        layer = random_layer(kinds[i % len(kinds)], seed * 100003 + i, max_macs=max_macs)
        i += 1
        if keep(layer):
            out.append(layer)
    return out


def batches(layers: Sequence[Layer], max_ops: int = 120, max_macs: int = 20_000_000) -> list[list[Layer]]:
    """Group layers so that one firmware holds at most ``max_ops`` operators and ``max_macs`` MACs over all
    schedules (QEMU runs every copy twice per input set)."""
    out: list[list[Layer]] = []
    cur: list[Layer] = []
    ops = macs = 0
    for layer in layers:
        n_ops = 12 if layer.kind == "conv" else 10 if layer.kind == "dw" else 5
        m = n_ops * _macs(layer)
        if cur and (ops + n_ops > max_ops or macs + m > max_macs):
            out.append(cur)
            cur, ops, macs = [], 0, 0
        cur.append(layer)
        ops += n_ops
        macs += m
    if cur:
        out.append(cur)
    return out


def _macs(layer: Layer) -> int:
    p = layer.params
    if layer.kind == "fc":
        return int(math.prod(p["input_shape"]) * p["units"])
    n, h, w, _ = p["input_shape"]
    (kh, kw), (sh, sw), (dh, dw) = p["kernel"], p["stride"], p["dilation"]
    return int(n * _out_size(h, kh, sh, dh, p["padding"]) * _out_size(w, kw, sw, dw, p["padding"]) * p["out_c"]
               * p["fan_in"])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m microaot.testing.kernelfuzz", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--focus", default=None, choices=sorted(FOCUS), help="only layers reaching this kernel family")
    ap.add_argument("--layer", default=None, help="KIND:SEED: only this layer (a reproducer)")
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--blocks", action="store_true",
                    help="MobileNet-style blocks (random_block: expand, depthwise, project) at every schedule index")
    ap.add_argument("--chains", action="store_true",
                    help="run the conv / dw layers in place (chain_model, one firmware per schedule) instead")
    ap.add_argument("--max-macs", type=int, default=400_000)
    ap.add_argument("--cflags", default="", help='extra C flags of the M4 / host builds, e.g. "-Os" (after -O2)')
    ap.add_argument("--work", default=None)
    ap.add_argument("--chunk", type=int, default=60, help="layers per TFLM run")
    ap.add_argument("--json", default=None, help="append every mismatch as a JSON line to this file")
    a = ap.parse_args(argv)
    if a.layer:
        k, s = a.layer.split(":")
        layers = [random_layer(k, int(s), max_macs=a.max_macs)]
    elif a.focus:
        layers = focused_layers(a.n, a.seed, a.focus, a.max_macs)
    else:
        layers = sample_layers(a.n, a.seed, a.kinds.split(","), a.max_macs)
    work = Path(a.work or tempfile.mkdtemp(prefix="kernelfuzz_"))
    n_bad = 0
    if a.blocks:
        fails, builds = check_blocks([a.seed * 100003 + i for i in range(a.n)], work, progress=True,
                                     cflags=a.cflags.split())
        print(f"{a.n} blocks, {builds} builds, {len(fails)} failures")
        return 1 if fails else 0
    if a.chains:
        for c in range(0, len(layers), a.chunk):
            bad, runs, inpl = check_inplace(layers[c:c + a.chunk], work / f"ch{c}", progress=True,
                                             cflags=a.cflags.split())
            n_bad += len(bad)
            print(f"layers {c}..: {runs} chain builds, {inpl} in place, {len(bad)} mismatches", flush=True)
        print(f"{len(layers)} layers, {n_bad} mismatches")
        return 1 if n_bad else 0
    for c in range(0, len(layers), a.chunk):
        chunk = layers[c:c + a.chunk]
        res = check_layers(chunk, work / f"c{c}", qemu=not a.no_qemu, progress=True, cflags=a.cflags.split())
        n_bad += len(res.mismatches)
        t = ", ".join(f"{k} {v:.1f}s" for k, v in res.seconds.items())
        print(f"layers {c}..{c + len(chunk) - 1}: {res.n_variants} schedules, {len(res.mismatches)} mismatches "
              f"({t})", flush=True)
        for m in res.mismatches:
            if a.json:
                with open(a.json, "a") as f:
                    f.write(json.dumps({"layer": asdict(m.layer), "schedule": m.schedule, "platform": m.platform,
                                        "detail": m.detail}) + "\n")
    print(f"{len(layers)} layers, {n_bad} mismatches")
    return 1 if n_bad else 0


if __name__ == "__main__":
    sys.exit(main())
