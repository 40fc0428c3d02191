"""Per-operator bit-exactness against TFLM (the oracle): every supported operator, edge cases, seeds.

Each case is a single-operator model built by ``microaot.testing.modelgen`` from random weights
(one model per seed) plus a few input sets. All models are compiled at once, linked into a handful
of shared libraries (parallel gcc) and run through ctypes; TFLM runs them in a few child processes
(``microaot.testing.batch``). int8 outputs must be byte-identical; float32 outputs must agree within
1e-5 relative (to the largest reference magnitude of the tensor).

Test ids read ``<OP>-<case>-<dtype>-s<seed>``, so a failure names the operator and the case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from microaot.testing import modelgen as mg
from microaot.testing.batch import compile_and_build, run_reference_many

SEEDS = (0, 1, 2)
N_RANDOM_SETS = 3
FLOAT_RTOL = 1e-5

Builder = Callable[[np.random.Generator], bytes]


@dataclass(frozen=True)
class Spec:
    op: str
    case: str
    dtype: str  # "int8" or "float32" (how outputs are compared)
    build: Builder
    seeds: tuple[int, ...] = SEEDS
    exhaustive_int8: bool = False  # add an input set holding all 256 int8 values (needs 256 | size)
    float_ties: bool = False  # QUANTIZE: add inputs exactly on rounding ties
    extreme_int8: bool = False  # add input sets of all -128 and all 127 (accumulator range limits)


def _conv_specs() -> list[Spec]:
    out: list[Spec] = []
    cases: list[tuple[str, dict[str, object]]] = [
        ("k3s1_same_pc", dict(input_shape=(1, 9, 9, 3), filters=4, kernel=(3, 3))),
        ("k3s2_same_asym", dict(input_shape=(1, 10, 9, 3), filters=5, kernel=(3, 3), stride=(2, 2))),
        ("k10x4s2_same_kws", dict(input_shape=(1, 25, 10, 1), filters=8, kernel=(10, 4), stride=(2, 2))),
        ("k3s1_valid", dict(input_shape=(1, 8, 7, 4), filters=3, kernel=(3, 3), padding="VALID")),
        ("k3s2x1_valid", dict(input_shape=(1, 9, 8, 2), filters=3, kernel=(3, 2), stride=(2, 1), padding="VALID")),
        ("k3_dil2_same", dict(input_shape=(1, 9, 9, 2), filters=3, kernel=(3, 3), dilation=(2, 2))),
        ("k3_dil2x1_valid", dict(input_shape=(1, 10, 8, 2), filters=3, kernel=(3, 3), dilation=(2, 1),
                                 padding="VALID")),
        ("k1x1_per_tensor", dict(input_shape=(1, 5, 5, 8), filters=6, kernel=(1, 1), per_channel=False)),
        ("k3_per_tensor", dict(input_shape=(1, 6, 6, 3), filters=4, kernel=(3, 3), per_channel=False)),
        ("relu", dict(input_shape=(1, 6, 6, 3), filters=4, kernel=(3, 3), activation="RELU")),
        ("relu6", dict(input_shape=(1, 6, 6, 3), filters=4, kernel=(3, 3), activation="RELU6")),
        ("relu_n1_to_1", dict(input_shape=(1, 6, 6, 3), filters=4, kernel=(3, 3), activation="RELU_N1_TO_1")),
        ("no_bias", dict(input_shape=(1, 6, 6, 3), filters=4, kernel=(3, 3), bias=False)),
        ("batch2", dict(input_shape=(2, 5, 5, 3), filters=4, kernel=(3, 3), stride=(2, 2))),
    ]
    for name, kw in cases:
        out.append(Spec("CONV_2D", name, "int8", lambda r, kw=kw: mg.conv2d_model(r, **kw)))  # type: ignore[arg-type]
    for name, kw in cases[:3] + cases[5:6] + cases[9:11]:
        out.append(Spec("CONV_2D", name, "float32",
                        lambda r, kw=kw: mg.conv2d_model(r, dtype="float32", **kw), seeds=(0, 1)))  # type: ignore[arg-type]
    return out


def _dw_specs() -> list[Spec]:
    cases: list[tuple[str, dict[str, object]]] = [
        ("dm1_k3s1_same", dict(input_shape=(1, 9, 9, 4), kernel=(3, 3))),
        ("dm1_k3s2_same_asym", dict(input_shape=(1, 10, 9, 3), kernel=(3, 3), stride=(2, 2))),
        ("dm2_k3_valid", dict(input_shape=(1, 8, 7, 3), kernel=(3, 3), depth_multiplier=2, padding="VALID")),
        ("dm3_k2s2_same", dict(input_shape=(1, 7, 7, 2), kernel=(2, 2), depth_multiplier=3, stride=(2, 2))),
        ("dm1_dil2_same", dict(input_shape=(1, 9, 9, 3), kernel=(3, 3), dilation=(2, 2))),
        ("dm1_per_tensor", dict(input_shape=(1, 6, 6, 4), kernel=(3, 3), per_channel=False)),
        ("dm1_relu6", dict(input_shape=(1, 6, 6, 4), kernel=(3, 3), activation="RELU6")),
        ("dm2_relu", dict(input_shape=(1, 6, 6, 2), kernel=(3, 3), depth_multiplier=2, activation="RELU")),
    ]
    out = [Spec("DEPTHWISE_CONV_2D", n, "int8", lambda r, kw=kw: mg.depthwise_conv2d_model(r, **kw))  # type: ignore[arg-type]
           for n, kw in cases]
    for n, kw in cases[:4]:
        out.append(Spec("DEPTHWISE_CONV_2D", n, "float32",
                        lambda r, kw=kw: mg.depthwise_conv2d_model(r, dtype="float32", **kw), seeds=(0, 1)))  # type: ignore[arg-type]
    return out


def _fc_specs() -> list[Spec]:
    cases: list[tuple[str, dict[str, object]]] = [
        ("rank2_per_tensor", dict(input_shape=(1, 32), units=10)),
        ("rank2_per_channel", dict(input_shape=(1, 32), units=10, per_channel=True)),
        ("rank2_batch3", dict(input_shape=(3, 20), units=7)),
        ("rank4_input", dict(input_shape=(1, 2, 2, 8), units=5)),
        ("rank4_per_channel", dict(input_shape=(1, 3, 1, 6), units=4, per_channel=True)),
        ("relu", dict(input_shape=(1, 24), units=12, activation="RELU")),
        ("no_bias", dict(input_shape=(1, 16), units=6, bias=False)),
        ("keep_num_dims", dict(input_shape=(1, 4, 6), units=5, keep_num_dims=True)),
    ]
    out = [Spec("FULLY_CONNECTED", n, "int8", lambda r, kw=kw: mg.fully_connected_model(r, **kw))  # type: ignore[arg-type]
           for n, kw in cases]
    for n, kw in cases[:1] + cases[3:4] + cases[5:6]:
        out.append(Spec("FULLY_CONNECTED", n, "float32",
                        lambda r, kw=kw: mg.fully_connected_model(r, dtype="float32", **kw), seeds=(0, 1)))  # type: ignore[arg-type]
    return out


def _pool_specs() -> list[Spec]:
    cases: list[tuple[str, dict[str, object]]] = [
        ("f2s2_valid", dict(input_shape=(1, 8, 8, 3), filter_hw=(2, 2), stride=(2, 2))),
        ("f3s2_same_asym", dict(input_shape=(1, 9, 8, 4), filter_hw=(3, 3), stride=(2, 2), padding="SAME")),
        ("f3s1_same", dict(input_shape=(1, 6, 5, 2), filter_hw=(3, 3), padding="SAME")),
        ("f3x2s2x1_valid", dict(input_shape=(1, 7, 6, 3), filter_hw=(3, 2), stride=(2, 1))),
        ("global_25x5", dict(input_shape=(1, 25, 5, 6), filter_hw=(25, 5))),
        ("relu6", dict(input_shape=(1, 6, 6, 3), filter_hw=(2, 2), stride=(2, 2), activation="RELU6")),
        ("relu", dict(input_shape=(2, 6, 6, 3), filter_hw=(3, 3), stride=(2, 2), padding="SAME", activation="RELU")),
    ]
    out: list[Spec] = []
    for op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        for n, kw in cases:
            out.append(Spec(op, n, "int8", lambda r, kw=kw, op=op: mg.pool2d_model(r, op=op, **kw)))  # type: ignore[arg-type]
        for n, kw in cases[1:3] + cases[5:6]:
            out.append(Spec(op, n, "float32",
                            lambda r, kw=kw, op=op: mg.pool2d_model(r, op=op, dtype="float32", **kw),  # type: ignore[arg-type]
                            seeds=(0, 1)))
    return out


def _avg_pool_specs() -> list[Spec]:
    """int8 AVERAGE_POOL_2D: channel counts around its blocks of 16 channels (words of 4, 1..3 left over),
    windows of more than 256 taps (int16 lane sums widened in chunks, also mid-row), and the clamped
    and unclamped result paths; inputs include all -128 and all 127 (lane sums at their limits)."""
    cases: list[tuple[str, dict[str, object]]] = [
        ("c1_f3s2_same", dict(input_shape=(1, 7, 7, 1), filter_hw=(3, 3), stride=(2, 2), padding="SAME")),
        ("c5_f2s1_batch2", dict(input_shape=(2, 5, 6, 5), filter_hw=(2, 2))),
        ("c11_f3s1_same_relu", dict(input_shape=(1, 6, 5, 11), filter_hw=(3, 3), padding="SAME", activation="RELU")),
        ("c14_f3x2s2x1", dict(input_shape=(1, 7, 6, 14), filter_hw=(3, 2), stride=(2, 1))),
        ("c28_f3s2_same_relu6", dict(input_shape=(1, 9, 8, 28), filter_hw=(3, 3), stride=(2, 2), padding="SAME",
                                     activation="RELU6")),
        ("c67_global_7x5", dict(input_shape=(1, 7, 5, 67), filter_hw=(7, 5))),
        ("c16_global_16x16", dict(input_shape=(1, 16, 16, 16), filter_hw=(16, 16))),  # 256 taps
        ("c19_global_20x20", dict(input_shape=(1, 20, 20, 19), filter_hw=(20, 20))),  # 400
        ("c24_global_32x16_relu6", dict(input_shape=(1, 32, 16, 24), filter_hw=(32, 16), activation="RELU6")),
        ("c20_f20s2_valid", dict(input_shape=(1, 20, 22, 20), filter_hw=(20, 20), stride=(2, 2))),
        ("c36_f17s3_same", dict(input_shape=(1, 19, 18, 36), filter_hw=(17, 17), stride=(3, 3), padding="SAME")),
    ]
    return [Spec("AVERAGE_POOL_2D", n, "int8", lambda r, kw=kw: mg.pool2d_model(r, op="AVERAGE_POOL_2D", **kw),  # type: ignore[arg-type]
                 seeds=(0, 1), extreme_int8=True)
            for n, kw in cases]


def _binary_specs() -> list[Spec]:
    cases: list[tuple[str, dict[str, object]]] = [
        ("same_shape", dict(shape_a=(1, 4, 4, 3), shape_b=(1, 4, 4, 3))),
        ("bcast_channel", dict(shape_a=(1, 4, 4, 3), shape_b=(1, 1, 1, 3))),
        ("bcast_both", dict(shape_a=(1, 4, 1, 3), shape_b=(1, 1, 5, 3))),
        ("bcast_scalar", dict(shape_a=(2, 3, 5), shape_b=(1,))),
        ("rank2", dict(shape_a=(3, 7), shape_b=(3, 7))),
        ("const_b", dict(shape_a=(1, 4, 4, 3), shape_b=(1, 1, 1, 3), const_b=True)),
        ("relu", dict(shape_a=(1, 4, 4, 3), shape_b=(1, 4, 4, 3), activation="RELU")),
        ("relu6", dict(shape_a=(1, 4, 4, 3), shape_b=(1, 1, 1, 3), activation="RELU6")),
    ]
    out: list[Spec] = []
    for op in ("ADD", "MUL"):
        for n, kw in cases:
            out.append(Spec(op, n, "int8", lambda r, kw=kw, op=op: mg.binary_model(r, op=op, **kw)))  # type: ignore[arg-type]
        for n, kw in cases[:3] + cases[6:7]:
            out.append(Spec(op, n, "float32",
                            lambda r, kw=kw, op=op: mg.binary_model(r, op=op, dtype="float32", **kw),  # type: ignore[arg-type]
                            seeds=(0, 1)))
    # int8 ADD from ADD_TABLE_MIN (512) output elements on: uaot_add_s8_lut (rescale tables in flash);
    # "wide_out": an output scale so large that the output shift leaves [-22, -1] -> per-element path
    lut: list[tuple[str, dict[str, object]]] = [
        ("lut_wide_out", dict(shape_a=(1, 16, 16, 4), shape_b=(1, 16, 16, 4), out_q=mg.ActQ(40.0, 3))),
        ("lut_same", dict(shape_a=(1, 16, 16, 4), shape_b=(1, 16, 16, 4))),
        ("lut_relu", dict(shape_a=(1, 16, 8, 4), shape_b=(1, 16, 8, 4), activation="RELU")),
        ("lut_bcast_relu6", dict(shape_a=(1, 16, 16, 4), shape_b=(1, 1, 16, 4), activation="RELU6")),
    ]
    for n, kw in lut:
        out.append(Spec("ADD", n, "int8", lambda r, kw=kw: mg.binary_model(r, op="ADD", **kw),  # type: ignore[arg-type]
                        exhaustive_int8=True))
    return out


def _unary_specs() -> list[Spec]:
    out: list[Spec] = []
    for op in ("RELU", "RELU6", "LOGISTIC", "TANH"):
        for n, shape in (("rank2", (1, 256)), ("rank4", (1, 4, 8, 8))):
            out.append(Spec(op, n, "int8", lambda r, s=shape, op=op: mg.unary_model(r, op=op, shape=s),  # type: ignore[arg-type]
                            seeds=(0, 1, 2, 3), exhaustive_int8=True))
        # small input scales make LOGISTIC/TANH hit their saturation radius less, large ones more
        for n, q in (("scale_small", mg.ActQ(0.004, -5)), ("scale_large", mg.ActQ(0.3, 40))):
            out.append(Spec(op, n, "int8",
                            lambda r, q=q, op=op: mg.unary_model(r, op=op, shape=(2, 128), in_q=q),  # type: ignore[arg-type]
                            seeds=(0,), exhaustive_int8=True))
        out.append(Spec(op, "rank4", "float32",
                        lambda r, op=op: mg.unary_model(r, op=op, shape=(1, 4, 8, 8), dtype="float32"),  # type: ignore[arg-type]
                        seeds=(0, 1)))
    for n, shape, beta in (("rank2", (1, 10), 1.0), ("rank3_beta05", (2, 5, 7), 0.5), ("wide", (1, 100), 1.0)):
        out.append(Spec("SOFTMAX", n, "int8",
                        lambda r, s=shape, b=beta: mg.unary_model(r, op="SOFTMAX", shape=s, beta=b)))  # type: ignore[arg-type]
        out.append(Spec("SOFTMAX", n, "float32",
                        lambda r, s=shape, b=beta: mg.unary_model(r, op="SOFTMAX", shape=s, beta=b,  # type: ignore[arg-type]
                                                                  dtype="float32"), seeds=(0, 1)))
    return out


def _quant_specs() -> list[Spec]:
    out: list[Spec] = []

    def f2i(r: np.random.Generator) -> bytes:
        return mg.quantize_model(shape=(1, 256), in_dtype="float32", in_q=None, out_q=mg.random_actq(r))

    def i2i(r: np.random.Generator, ratio: float) -> bytes:
        q = mg.random_actq(r)
        oq = mg.ActQ(float(np.float32(q.scale * ratio)), int(r.integers(-128, 128)))
        return mg.quantize_model(shape=(2, 128), in_dtype="int8", in_q=q, out_q=oq)

    out.append(Spec("QUANTIZE", "float_to_int8", "int8", f2i, seeds=(0, 1, 2, 3), float_ties=True))
    for n, ratio in (("int8_rescale_down", 0.37), ("int8_rescale_up", 2.9), ("int8_same_scale", 1.0)):
        out.append(Spec("QUANTIZE", n, "int8", lambda r, ratio=ratio: i2i(r, ratio), exhaustive_int8=True))
    out.append(Spec("DEQUANTIZE", "int8_to_float", "float32",
                    lambda r: mg.dequantize_model(shape=(1, 256), in_q=mg.random_actq(r)),
                    seeds=(0, 1, 2), exhaustive_int8=True))
    return out


def _shape_specs() -> list[Spec]:
    out: list[Spec] = []
    concat: list[tuple[str, dict[str, object]]] = [
        ("axis3", dict(shapes=[(1, 4, 4, 3), (1, 4, 4, 2)], axis=3)),
        ("axis1", dict(shapes=[(1, 2, 4, 3), (1, 3, 4, 3)], axis=1)),
        ("axis0", dict(shapes=[(1, 4, 3), (2, 4, 3)], axis=0)),
        ("axis_neg1_three_inputs", dict(shapes=[(2, 3), (2, 1), (2, 4)], axis=-1)),
        ("axis2_rank4", dict(shapes=[(1, 3, 2, 5), (1, 3, 4, 5)], axis=2)),
    ]
    for n, kw in concat:
        out.append(Spec("CONCATENATION", n, "int8", lambda r, kw=kw: mg.concatenation_model(r, **kw)))  # type: ignore[arg-type]
        out.append(Spec("CONCATENATION", n, "float32",
                        lambda r, kw=kw: mg.concatenation_model(r, dtype="float32", **kw), seeds=(0,)))  # type: ignore[arg-type]
    pads: list[tuple[str, dict[str, object]]] = [
        ("spatial_asym", dict(shape=(1, 4, 4, 3), paddings=[(0, 0), (1, 2), (0, 1), (0, 0)])),
        ("all_dims", dict(shape=(1, 3, 2, 2), paddings=[(1, 0), (2, 1), (1, 1), (0, 2)])),
        ("rank2", dict(shape=(3, 5), paddings=[(1, 1), (2, 0)])),
        ("channels_only", dict(shape=(1, 2, 2, 3), paddings=[(0, 0), (0, 0), (0, 0), (1, 4)])),
    ]
    for n, kw in pads:
        out.append(Spec("PAD", n, "int8", lambda r, kw=kw: mg.pad_model(r, **kw)))  # type: ignore[arg-type]
        out.append(Spec("PAD", n, "float32", lambda r, kw=kw: mg.pad_model(r, dtype="float32", **kw), seeds=(0,)))  # type: ignore[arg-type]
    for n, kw in pads[:2]:
        out.append(Spec("PADV2", n, "int8", lambda r, kw=kw: mg.pad_model(r, v2_value=0.75, **kw)))  # type: ignore[arg-type]
        out.append(Spec("PADV2", n, "float32",
                        lambda r, kw=kw: mg.pad_model(r, dtype="float32", v2_value=-1.5, **kw), seeds=(0,)))  # type: ignore[arg-type]
    means: list[tuple[str, dict[str, object]]] = [
        ("axes12_keep", dict(shape=(1, 5, 4, 3), axes=[1, 2], keep_dims=True)),
        ("axes12_nokeep", dict(shape=(2, 5, 4, 3), axes=[1, 2], keep_dims=False)),
        ("axes21_keep_global_7x7", dict(shape=(1, 7, 7, 8), axes=[2, 1], keep_dims=True)),
        ("axis3_nokeep", dict(shape=(1, 3, 4, 6), axes=[3], keep_dims=False)),
        ("axis_neg1_rank2", dict(shape=(4, 9), axes=[-1], keep_dims=True)),
        ("axes03", dict(shape=(2, 3, 2, 5), axes=[0, 3], keep_dims=False)),
    ]
    for n, kw in means:
        for same in (True, False):
            tag = "same_q" if same else "requant"
            out.append(Spec("MEAN", f"{n}_{tag}", "int8", lambda r, kw=kw, same=same: _mean(r, same, **kw)))
        out.append(Spec("MEAN", n, "float32", lambda r, kw=kw: mg.mean_model(r, dtype="float32", **kw), seeds=(0,)))  # type: ignore[arg-type]
    reshapes: list[tuple[str, dict[str, object]]] = [
        ("to_rank2", dict(shape=(1, 4, 4, 3), new_shape=(1, 48))),
        ("no_shape_tensor", dict(shape=(2, 6), new_shape=(3, 4), shape_tensor=False)),
    ]
    for n, kw in reshapes:
        out.append(Spec("RESHAPE", n, "int8", lambda r, kw=kw: mg.reshape_model(r, **kw), seeds=(0,)))  # type: ignore[arg-type]
        out.append(Spec("RESHAPE", n, "float32", lambda r, kw=kw: mg.reshape_model(r, dtype="float32", **kw),  # type: ignore[arg-type]
                        seeds=(0,)))
    return out


def _mean(r: np.random.Generator, same: bool, **kw: object) -> bytes:
    """MEAN with output quantization equal to the input's, or a different one (requantization)."""
    q = mg.random_actq(r)
    oq = q if same else mg.random_actq(r, magnitude=float(r.uniform(1.0, 4.0)))
    return mg.mean_model(r, in_q=q, out_q=oq, **kw)  # type: ignore[arg-type]


def _fuzz_specs() -> list[Spec]:
    """Random shapes and parameters drawn from the seed: several models per operator."""
    acts = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]

    def pool(r: np.random.Generator, op: str, dtype: str) -> bytes:
        h, w, c = (int(v) for v in r.integers(1, 10, 3))
        fh, fw = int(r.integers(1, h + 1)), int(r.integers(1, w + 1))
        return mg.pool2d_model(r, op=op, input_shape=(int(r.integers(1, 3)), h, w, c), filter_hw=(fh, fw),  # type: ignore[arg-type]
                               stride=(int(r.integers(1, 4)), int(r.integers(1, 4))),
                               padding=str(r.choice(["SAME", "VALID"])), activation=str(r.choice(acts)),  # type: ignore[arg-type]
                               dtype=dtype)  # type: ignore[arg-type]

    def conv(r: np.random.Generator, dw: bool) -> bytes:
        h, w, c = (int(v) for v in r.integers(3, 10, 3))
        kh, kw = int(r.integers(1, 4)), int(r.integers(1, 4))
        kw_args = dict(input_shape=(1, h, w, c), kernel=(kh, kw), stride=(int(r.integers(1, 3)), int(r.integers(1, 3))),
                       dilation=(int(r.integers(1, 3)), int(r.integers(1, 3))), padding=str(r.choice(["SAME",
                                                                                                      "VALID"])),
                       activation=str(r.choice(acts)), per_channel=bool(r.integers(0, 2)))
        eff_h, eff_w = (kh - 1) * kw_args["dilation"][0] + 1, (kw - 1) * kw_args["dilation"][1] + 1  # type: ignore[index]
        if eff_h > h or eff_w > w:
            kw_args["padding"] = "SAME"
        if dw:
            return mg.depthwise_conv2d_model(r, depth_multiplier=int(r.integers(1, 4)), **kw_args)  # type: ignore[arg-type]
        return mg.conv2d_model(r, filters=int(r.integers(1, 9)), **kw_args)  # type: ignore[arg-type]

    def binary(r: np.random.Generator, op: str, dtype: str) -> bytes:
        rank = int(r.integers(1, 5 if op == "ADD" else 6))
        full = [int(d) for d in r.integers(1, 5, rank)]
        a = tuple(d if r.random() < 0.7 else 1 for d in full)
        b = tuple(d if r.random() < 0.7 else 1 for d in full)
        b = b[int(r.integers(0, rank)):] or (1,)  # b may have a lower rank
        return mg.binary_model(r, op=op, shape_a=a, shape_b=b, activation=str(r.choice(acts)), dtype=dtype)  # type: ignore[arg-type]

    def pad(r: np.random.Generator, dtype: str) -> bytes:
        rank = int(r.integers(1, 5))
        shape = tuple(int(d) for d in r.integers(1, 5, rank))
        pads = [(int(r.integers(0, 3)), int(r.integers(0, 3))) for _ in range(rank)]
        v2 = float(r.uniform(-2, 2)) if r.random() < 0.3 else None
        return mg.pad_model(r, shape=shape, paddings=pads, dtype=dtype, v2_value=v2)  # type: ignore[arg-type]

    def concat(r: np.random.Generator, dtype: str) -> bytes:
        rank = int(r.integers(1, 5))
        base = [int(d) for d in r.integers(1, 4, rank)]
        axis = int(r.integers(-rank, rank))
        shapes = []
        for _ in range(int(r.integers(2, 5))):
            s = list(base)
            s[axis] = int(r.integers(1, 4))
            shapes.append(tuple(s))
        return mg.concatenation_model(r, shapes=shapes, axis=axis, dtype=dtype)  # type: ignore[arg-type]

    def mean(r: np.random.Generator, dtype: str) -> bytes:
        rank = int(r.integers(2, 5))
        shape = tuple(int(d) for d in r.integers(1, 7, rank))
        axes = [int(a) for a in r.choice(np.arange(-rank, rank), size=int(r.integers(1, 3)), replace=False)]
        if len({a % rank for a in axes}) < len(axes):
            axes = axes[:1]
        return mg.mean_model(r, shape=shape, axes=axes, keep_dims=bool(r.integers(0, 2)), dtype=dtype)  # type: ignore[arg-type]

    seeds = tuple(range(10, 16))
    out: list[Spec] = []
    for dtype in ("int8", "float32"):
        sd = seeds if dtype == "int8" else seeds[:3]
        for op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            out.append(Spec(op, "fuzz", dtype, lambda r, op=op, dt=dtype: pool(r, op, dt), seeds=sd))
        for op in ("ADD", "MUL"):
            out.append(Spec(op, "fuzz", dtype, lambda r, op=op, dt=dtype: binary(r, op, dt), seeds=sd))
        out.append(Spec("PAD", "fuzz", dtype, lambda r, dt=dtype: pad(r, dt), seeds=sd))
        out.append(Spec("CONCATENATION", "fuzz", dtype, lambda r, dt=dtype: concat(r, dt), seeds=sd))
        out.append(Spec("MEAN", "fuzz", dtype, lambda r, dt=dtype: mean(r, dt), seeds=sd))
    out.append(Spec("CONV_2D", "fuzz", "int8", lambda r: conv(r, False), seeds=seeds))
    out.append(Spec("DEPTHWISE_CONV_2D", "fuzz", "int8", lambda r: conv(r, True), seeds=seeds))
    return out


SPECS: list[Spec] = [*_conv_specs(), *_dw_specs(), *_fc_specs(), *_pool_specs(), *_avg_pool_specs(),
                     *_binary_specs(), *_unary_specs(), *_quant_specs(), *_shape_specs(), *_fuzz_specs()]


@dataclass
class Case:
    id: str
    spec: Spec
    seed: int


CASES: list[Case] = [Case(f"{s.op}-{s.case}-{s.dtype}-s{seed}", s, seed) for s in SPECS for seed in s.seeds]


def _model_inputs(model: bytes, spec: Spec, rng: np.random.Generator) -> list[list[np.ndarray]]:
    import tflite

    m = tflite.Model.GetRootAs(model, 0)
    sg = m.Subgraphs(0)
    shapes, dtypes = [], []
    for i in range(sg.InputsLength()):
        t = sg.Tensors(sg.Inputs(i))
        shapes.append(tuple(int(d) for d in t.ShapeAsNumpy()))
        dtypes.append("float32" if t.Type() == tflite.TensorType.FLOAT32 else "int8")
    sets = [[mg.random_input(rng, s, d) for s, d in zip(shapes, dtypes, strict=True)] for _ in range(N_RANDOM_SETS)]
    if spec.exhaustive_int8:
        all_values = np.arange(-128, 128, dtype=np.int8)
        sets.append([np.resize(all_values, s).astype(np.int8) if d == "int8" else mg.random_input(rng, s, d)
                     for s, d in zip(shapes, dtypes, strict=True)])
    if spec.extreme_int8:
        for v in (-128, 127):
            sets.append([np.full(s, v, np.int8) if d == "int8" else mg.random_input(rng, s, d)
                         for s, d in zip(shapes, dtypes, strict=True)])
    if spec.float_ties:
        q = sg.Tensors(sg.Outputs(0)).Quantization()
        scale = float(q.ScaleAsNumpy()[0])
        k = rng.integers(-140, 140, size=shapes[0]).astype(np.float32)
        sets.append([((k + np.float32(0.5)) * np.float32(scale)).astype(np.float32)])
    return sets


@pytest.fixture(scope="module")
def op_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, object]]:
    """case id -> (our outputs or error, TFLM outputs or error), for every case at once."""
    root = tmp_path_factory.mktemp("ops")
    paths: list[Path] = []
    inputs: list[list[list[np.ndarray]]] = []
    for i, c in enumerate(CASES):
        rng = np.random.default_rng(1000 * c.seed + i % 997)
        model = c.spec.build(rng)
        p = root / f"case{i}.tflite"
        p.write_bytes(model)
        paths.append(p)
        inputs.append(_model_inputs(model, c.spec, rng))
    built = compile_and_build(paths, root / "build")
    refs = run_reference_many(paths, inputs)
    out: dict[str, tuple[object, object]] = {}
    for c, b, ins, ref in zip(CASES, built, inputs, refs, strict=True):
        if isinstance(b, Exception):
            out[c.id] = (b, ref)
            continue
        try:
            ours: object = [b.run(s) for s in ins]
        except Exception as e:  # reported by the test of this case
            ours = e
        out[c.id] = (ours, ref)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op_matches_tflm(case: Case, op_results: dict[str, tuple[object, object]]) -> None:
    ours, ref = op_results[case.id]
    if isinstance(ref, Exception):
        pytest.fail(f"TFLM failed on the generated model (a modelgen bug): {ref}")
    if isinstance(ours, Exception):
        pytest.fail(f"microaot failed: {type(ours).__name__}: {ours}")
    assert isinstance(ours, list) and isinstance(ref, list)
    for si, (o_set, r_set) in enumerate(zip(ours, ref, strict=True)):
        assert len(o_set) == len(r_set)
        for k, (o, r) in enumerate(zip(o_set, r_set, strict=True)):
            o = np.asarray(o).reshape(-1)
            r = np.asarray(r).reshape(-1)
            assert o.dtype == r.dtype and o.size == r.size, (
                f"set {si} output {k}: {o.dtype}{o.shape} vs {r.dtype}{r.shape}")
            if case.spec.dtype == "int8" and o.dtype != np.float32:
                diff = np.nonzero(o != r)[0]
                assert diff.size == 0, (
                    f"set {si} output {k}: {diff.size}/{o.size} bytes differ; first at {diff[:8].tolist()}: "
                    f"ours {o[diff[:8]].tolist()} TFLM {r[diff[:8]].tolist()}"
                )
            else:
                scale = float(np.abs(r).max()) if r.size else 0.0
                np.testing.assert_allclose(o, r, rtol=FLOAT_RTOL, atol=FLOAT_RTOL * max(scale, 1e-30),
                                           err_msg=f"set {si} output {k}")


# --- small multi-operator models end to end --------------------------------------------------------


def _float_cnn(rng: np.random.Generator) -> bytes:
    """float32: CONV_2D(relu) -> DEPTHWISE(relu6) -> CONV 1x1 -> MAX_POOL -> RESHAPE -> FC -> SOFTMAX."""
    b = mg.ModelBuilder()

    def const(name: str, shape: tuple[int, ...], std: float) -> int:
        return b.add_const(name, rng.normal(0, std, size=shape).astype(np.float32), "float32")

    x = b.add_input("input", (1, 12, 12, 3), "float32")
    t1 = b.add_tensor("conv1", (1, 6, 6, 8), "float32")
    b.add_operator("CONV_2D", [x, const("w1", (8, 3, 3, 3), 0.4), const("b1", (8,), 0.1)], [t1],
                   mg.Conv2DOptions("SAME", 2, 2, "RELU"))
    t2 = b.add_tensor("dw", (1, 6, 6, 8), "float32")
    b.add_operator("DEPTHWISE_CONV_2D", [t1, const("w2", (1, 3, 3, 8), 0.4), const("b2", (8,), 0.1)], [t2],
                   mg.DepthwiseConv2DOptions("SAME", 1, 1, 1, "RELU6"))
    t3 = b.add_tensor("pw", (1, 6, 6, 16), "float32")
    b.add_operator("CONV_2D", [t2, const("w3", (16, 1, 1, 8), 0.4), const("b3", (16,), 0.1)], [t3],
                   mg.Conv2DOptions("VALID", 1, 1))
    t4 = b.add_tensor("pool", (1, 3, 3, 16), "float32")
    b.add_operator("MAX_POOL_2D", [t3], [t4], mg.Pool2DOptions(2, 2, "VALID", 2, 2))
    t5 = b.add_tensor("flat", (1, 144), "float32")
    b.add_operator("RESHAPE", [t4, b.add_const("shape", np.array([1, 144], np.int32), "int32")], [t5],
                   mg.ReshapeOptions((1, 144)))
    t6 = b.add_tensor("logits", (1, 10), "float32")
    b.add_operator("FULLY_CONNECTED", [t5, const("w4", (10, 144), 0.2), const("b4", (10,), 0.1)], [t6])
    y = b.add_tensor("probs", (1, 10), "float32")
    b.add_operator("SOFTMAX", [t6], [y], mg.SoftmaxOptions(1.0))
    b.set_outputs([y])
    return b.to_bytes()


def _int8_new_ops(rng: np.random.Generator) -> bytes:
    """int8: CONV -> MAX_POOL -> (MUL by const | DEPTHWISE) -> CONCATENATION -> PAD -> MEAN -> FC -> LOGISTIC."""
    b = mg.ModelBuilder()
    q_in, q1, q2, q3 = (mg.random_actq(rng) for _ in range(4))
    x = b.add_input("input", (1, 10, 10, 2), "int8", quant=q_in.quant)

    def conv_w(name: str, w: np.ndarray, bias: np.ndarray, in_q: mg.ActQ, axis: int) -> tuple[int, int]:
        wq, wquant = mg.quantize_weights(w, axis)
        bq, bquant = mg.quantize_bias(bias, in_q.scale, wquant)
        return b.add_const(name, wq, "int8", quant=wquant), b.add_const(name + "_b", bq, "int32", quant=bquant)

    w1, b1 = conv_w("w1", rng.normal(0, 1, (4, 3, 3, 2)), rng.normal(0, 0.3, 4), q_in, 0)
    t1 = b.add_tensor("conv", (1, 10, 10, 4), "int8", quant=q1.quant)
    b.add_operator("CONV_2D", [x, w1, b1], [t1], mg.Conv2DOptions("SAME", 1, 1, "RELU"))
    t2 = b.add_tensor("pool", (1, 5, 5, 4), "int8", quant=q1.quant)
    b.add_operator("MAX_POOL_2D", [t1], [t2], mg.Pool2DOptions(2, 2, "VALID", 2, 2))
    scale_t = b.add_const("gain", rng.integers(-128, 128, (1, 1, 1, 4)).astype(np.int8), "int8",
                          quant=mg.ActQ(0.02, 0).quant)
    t3 = b.add_tensor("mul", (1, 5, 5, 4), "int8", quant=q2.quant)
    b.add_operator("MUL", [t2, scale_t], [t3], mg.MulOptions("NONE"))
    w2, b2 = conv_w("w2", rng.normal(0, 1, (1, 3, 3, 4)), rng.normal(0, 0.3, 4), q1, 3)
    t4 = b.add_tensor("dw", (1, 5, 5, 4), "int8", quant=q2.quant)
    b.add_operator("DEPTHWISE_CONV_2D", [t2, w2, b2], [t4], mg.DepthwiseConv2DOptions("SAME", 1, 1, 1))
    t5 = b.add_tensor("cat", (1, 5, 5, 8), "int8", quant=q2.quant)
    b.add_operator("CONCATENATION", [t3, t4], [t5], mg.ConcatenationOptions(3))
    t6 = b.add_tensor("pad", (1, 7, 6, 8), "int8", quant=q2.quant)
    b.add_operator("PAD", [t5, b.add_const("pads", np.array([[0, 0], [1, 1], [0, 1], [0, 0]], np.int32), "int32")],
                   [t6])
    t7 = b.add_tensor("mean", (1, 8), "int8", quant=q3.quant)
    b.add_operator("MEAN", [t6, b.add_const("axes", np.array([1, 2], np.int32), "int32")], [t7],
                   mg.ReducerOptions(False))
    w3, b3 = conv_w("w3", rng.normal(0, 1, (6, 8)), rng.normal(0, 0.3, 6), q3, None)  # type: ignore[arg-type]
    q_fc = mg.random_actq(rng, magnitude=6.0)
    t8 = b.add_tensor("fc", (1, 6), "int8", quant=q_fc.quant)
    b.add_operator("FULLY_CONNECTED", [t7, w3, b3], [t8])
    y = b.add_tensor("out", (1, 6), "int8", quant=mg.FIXED_OUTPUT_Q["LOGISTIC"].quant)
    b.add_operator("LOGISTIC", [t8], [y])
    b.set_outputs([y])
    return b.to_bytes()


@pytest.mark.parametrize("kind", ["float32_cnn", "int8_new_ops"])
def test_multi_op_model_matches_tflm(kind: str, tmp_path: Path) -> None:
    seeds = (0, 1, 2)
    paths, inputs = [], []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        model = _float_cnn(rng) if kind == "float32_cnn" else _int8_new_ops(rng)
        p = tmp_path / f"{kind}_{seed}.tflite"
        p.write_bytes(model)
        paths.append(p)
        dtype = "float32" if kind == "float32_cnn" else "int8"
        shape = (1, 12, 12, 3) if kind == "float32_cnn" else (1, 10, 10, 2)
        inputs.append([[mg.random_input(rng, shape, dtype, scale=1.0)] for _ in range(4)])
    built = compile_and_build(paths, tmp_path / "build")
    refs = run_reference_many(paths, inputs)
    for seed, b, ins, ref in zip(seeds, built, inputs, refs, strict=True):
        assert not isinstance(b, Exception), f"seed {seed}: {b}"
        assert not isinstance(ref, Exception), f"seed {seed}: TFLM: {ref}"
        for si, (s, r) in enumerate(zip(ins, ref, strict=True)):
            o = b.run(s)[0].reshape(-1)
            rr = np.asarray(r[0]).reshape(-1)
            if kind == "float32_cnn":
                np.testing.assert_allclose(o, rr, rtol=FLOAT_RTOL, atol=FLOAT_RTOL * float(np.abs(rr).max()),
                                           err_msg=f"seed {seed} set {si}")
            else:
                assert np.array_equal(o, rr), f"seed {seed} set {si}: ours {o.tolist()} TFLM {rr.tolist()}"


# --- the kernel families of these operators are portable C99 -----------------------------------------

NEW_FAMILIES = ("maxpool", "mul", "activation", "quantize", "concat", "pad", "reduce", "movement", "resize",
                "fp_fast", "dw_small")
ALLOWED_UNDEFINED = {"memcpy", "memset", "expf", "tanhf", "roundf"}


@pytest.mark.parametrize("cc", ["gcc", "arm-none-eabi-gcc"])
def test_kernel_families_compile_clean(cc: str, tmp_path: Path) -> None:
    """-std=c99 -Wall -Wextra -Werror on the host and Cortex-M4; only libc/libm leaf symbols are used."""
    import shutil
    import subprocess

    from microaot.paths import crt_root

    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{crt_root() / 'include'}"]
    if cc.startswith("arm-"):
        flags += ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    nm = "arm-none-eabi-nm" if cc.startswith("arm-") else "nm"
    for fam in NEW_FAMILIES:
        obj = tmp_path / f"{fam}.o"
        proc = subprocess.run([cc, *flags, "-c", str(crt_root() / "kernels" / f"{fam}.c"), "-o", str(obj)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"{cc} {fam}.c:\n{proc.stderr}"
        syms = subprocess.run([nm, "-u", str(obj)], capture_output=True, text=True, check=True).stdout.split()
        # libgcc's soft-float helpers (microaot/fmath.h evaluates in double) are not libm
        undefined = {s for s in syms if s not in ("U", "w") and not s.startswith("__aeabi_")}
        assert undefined <= ALLOWED_UNDEFINED, f"{fam}.c needs {sorted(undefined - ALLOWED_UNDEFINED)}"


@pytest.mark.parametrize(("case", "kernel", "tables"), [
    ("lut_same", "uaot_add_s8_lut(", 1), ("lut_bcast_relu6", "uaot_add_s8_lut(", 1),
    ("lut_wide_out", "uaot_add_s8(", 0), ("same_shape", "uaot_add_s8(", 0),
])
def test_int8_add_kernel_choice(case: str, kernel: str, tables: int, tmp_path: Path) -> None:
    """The rescale tables (2,048 B of const int32, counted as weights) only from 512 output elements on
    and only where they are exact; no ADD needs workspace scratch."""
    from microaot.compiler import compile_model

    spec = next(s for s in _binary_specs() if s.op == "ADD" and s.case == case and s.dtype == "int8")
    p = tmp_path / "m.tflite"
    p.write_bytes(spec.build(np.random.default_rng(0)))
    r = compile_model(p, tmp_path / "gen", target="cortex-m4")
    src = r.sources[0].read_text()
    assert src.count(kernel) == 1
    assert src.count("static const int32_t") == tables
    assert r.weight_bytes == 2048 * tables
    assert r.plan.scratch == {} or not any(r.plan.scratch.values())


ASM_OPT_LEVELS = ("-O0", "-Og", "-O2", "-O3", "-Os")


# CI: the debug and size levels users build with (-O2 without a frame pointer is what every other QEMU test
# compiles); the slow set adds -O2 / -O3 with and without the frame pointer (the long conv_fast.c compiles)
@pytest.mark.parametrize("levels", [pytest.param(("-O0", "-Og", "-Os"), id="debug_size"),
                                    pytest.param(ASM_OPT_LEVELS, id="all", marks=pytest.mark.slow)])
def test_asm_kernels_build_at_every_opt_level_with_and_without_frame_pointer(tmp_path: Path,
                                                                            levels: tuple[str, ...]) -> None:
    """The inline-asm kernels (and every file including microaot/simd.h) must build in a user's debug or
    size build too: gcc reports 'impossible constraints' when an asm needs more registers than are left,
    and a frame pointer (-fno-omit-frame-pointer: r7 reserved on Thumb) leaves one fewer. Assembler warnings
    fail too (e.g. an LDM register list out of order: the pinned registers must load in list order)."""
    import shutil
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    from microaot.paths import crt_root

    cc = "arm-none-eabi-gcc"
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    srcs = [p for p in sorted((crt_root() / "kernels").glob("*.c")) if "__asm__" in p.read_text()]
    assert {p.stem for p in srcs} >= {"conv_fast", "dw_fast", "dw_small", "fc_fast", "mve"}
    cpu = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    m55 = ["-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"]  # mve.c: its Helium asm (elsewhere: stubs)
    jobs = [(src, opt, fp + (("-mcpu=cortex-m55",) if src.stem == "mve" else ())) for src in srcs
            for opt in levels for fp in ((), ("-fno-omit-frame-pointer",))]
    jobs += [(src, "-O2", ()) for src in srcs if src.stem == "mve"]  # and the M4 build of it (the stubs)

    def build(job: tuple[Path, str, tuple[str, ...]]) -> str | None:
        src, opt, fp = job
        obj = tmp_path / f"{src.stem}{opt}{len(fp)}{'m55' if '-mcpu=cortex-m55' in fp else ''}.o"
        flags = m55 + [f for f in fp if f != "-mcpu=cortex-m55"] if "-mcpu=cortex-m55" in fp else [*cpu, *fp]
        proc = subprocess.run([cc, *flags, opt, "-std=c99", "-Wall", "-Wextra", "-Werror",
                               f"-I{crt_root() / 'include'}", "-c", str(src), "-o", str(obj)],
                              capture_output=True, text=True, check=False)
        # the assembler's warnings do not fail the build (not even with -Wa,--fatal-warnings): read them
        ok = proc.returncode == 0 and "Warning:" not in proc.stderr
        return None if ok else f"{src.name} {opt} {' '.join(fp)}:\n{proc.stderr[-600:]}"

    with ThreadPoolExecutor(max_workers=4) as ex:
        failures = [f for f in ex.map(build, jobs) if f]
    assert not failures, "\n".join(failures)


def test_equal_generated_tables_are_shared(tmp_path: Path) -> None:
    """Two ADDs with the same quantization need the same 2,048 B rescale table, two LOGISTICs on the same
    input the same 256 B lookup table: each is emitted once; outputs still match TFLM."""
    from microaot.compiler import compile_model

    q_in, q_mid, q_out = mg.ActQ(0.05, 3), mg.ActQ(0.1, -2), mg.FIXED_OUTPUT_Q["LOGISTIC"]
    mb = mg.ModelBuilder()
    shape = (1, 16, 16, 4)
    x = mb.add_input("x", shape, "int8", quant=q_in.quant)
    ys = []
    for k in range(2):
        t = mb.add_tensor(f"t{k}", shape, "int8", quant=q_mid.quant)
        mb.add_operator("ADD", [x, x], [t], mg.AddOptions("NONE"))
        y = mb.add_tensor(f"y{k}", shape, "int8", quant=q_out.quant)
        mb.add_operator("LOGISTIC", [t], [y], None)
        ys.append(y)
    mb.set_outputs(ys)
    p = tmp_path / "m.tflite"
    p.write_bytes(mb.to_bytes())
    r = compile_model(p, tmp_path / "gen", target="generic")
    src = r.sources[0].read_text()
    assert src.count("static const int32_t") == 1 and src.count("static const int8_t") == 1
    assert r.weight_bytes == 2048 + 256
    assert src.count("uaot_add_s8_lut(") == 2
    xin = np.resize(np.arange(-128, 128, dtype=np.int8), shape)
    rng = np.random.default_rng(5)
    sets = [[xin], [mg.random_input(rng, shape, "int8")]]
    (built,) = compile_and_build([p], tmp_path / "build")
    (ref,) = run_reference_many([p], [sets])
    assert not isinstance(built, Exception) and not isinstance(ref, Exception)
    for s_in, r_out in zip(sets, ref, strict=True):
        ours = built.run(s_in)
        assert len(ours) == 2
        for a, b in zip(ours, r_out, strict=True):
            assert np.array_equal(np.asarray(a).reshape(-1), np.asarray(b).reshape(-1))
