"""Single-operator models (microaot.testing.modelgen) for the core kernels: CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED, AVERAGE_POOL_2D, ADD, SOFTMAX, RESHAPE. int8 outputs must equal TFLM's byte for byte;
float32 outputs equal too (same accumulation order), except SOFTMAX (libm expf) to float rounding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from microaot.compiler import CompileResult, compile_model
from microaot.hostbuild import compile_c, run_compiled
from microaot.reference import run_reference
from microaot.testing import modelgen as mg

N_INPUTS = 4

# name -> (builder(rng) -> bytes); each case uses its own seeded generator
CASES: dict[str, Callable[[np.random.Generator], bytes]] = {
    "conv_pc_same_relu": lambda r: mg.conv2d_model(r, input_shape=(1, 8, 8, 3), filters=5, kernel=(3, 3),
                                                   activation="RELU"),
    "conv_pt_valid_s2": lambda r: mg.conv2d_model(r, input_shape=(1, 9, 9, 4), filters=6, kernel=(3, 3),
                                                  stride=(2, 2), padding="VALID", per_channel=False),
    "conv_same_asym_kws": lambda r: mg.conv2d_model(r, input_shape=(1, 49, 10, 1), filters=8, kernel=(10, 4),
                                                    stride=(2, 2), activation="RELU"),
    "conv_dilated_relu6": lambda r: mg.conv2d_model(r, input_shape=(1, 10, 11, 3), filters=4, kernel=(3, 2),
                                                    dilation=(2, 3), activation="RELU6"),
    "conv_1x1_nobias_n1to1": lambda r: mg.conv2d_model(r, input_shape=(2, 5, 5, 7), filters=9, kernel=(1, 1),
                                                       activation="RELU_N1_TO_1", bias=False),
    "conv_f32": lambda r: mg.conv2d_model(r, input_shape=(1, 9, 8, 3), filters=4, kernel=(3, 3), stride=(2, 1),
                                          dilation=(1, 2), activation="RELU", dtype="float32"),
    "dw_s2_same": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 9, 9, 8), kernel=(3, 3), stride=(2, 2),
                                                      activation="RELU"),
    "dw_dm2_valid": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 7, 6, 3), kernel=(3, 2),
                                                        depth_multiplier=2, padding="VALID"),
    "dw_dm3_dil_pt": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 8, 8, 2), kernel=(3, 3),
                                                         depth_multiplier=3, dilation=(2, 2), per_channel=False,
                                                         activation="RELU6"),
    "dw_f32_dm2": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 6, 7, 3), kernel=(3, 3),
                                                      depth_multiplier=2, dtype="float32"),
    "fc_pt_relu": lambda r: mg.fully_connected_model(r, input_shape=(1, 37), units=11, activation="RELU"),
    "fc_rank3_pc_keep": lambda r: mg.fully_connected_model(r, input_shape=(2, 3, 16), units=5, per_channel=True,
                                                           keep_num_dims=True),
    "fc_rank4_nobias": lambda r: mg.fully_connected_model(r, input_shape=(1, 2, 2, 8), units=6, bias=False),
    "fc_f32": lambda r: mg.fully_connected_model(r, input_shape=(3, 20), units=7, activation="RELU6",
                                                 dtype="float32"),
    "avgpool_same_s2": lambda r: mg.pool2d_model(r, op="AVERAGE_POOL_2D", input_shape=(1, 7, 9, 5),
                                                 filter_hw=(3, 3), stride=(2, 2), padding="SAME"),
    "avgpool_valid_relu6": lambda r: mg.pool2d_model(r, op="AVERAGE_POOL_2D", input_shape=(2, 6, 6, 3),
                                                     filter_hw=(2, 3), stride=(2, 1), activation="RELU6"),
    "avgpool_f32_same": lambda r: mg.pool2d_model(r, op="AVERAGE_POOL_2D", input_shape=(1, 5, 5, 2),
                                                  filter_hw=(3, 3), padding="SAME", dtype="float32"),
    "add_relu": lambda r: mg.binary_model(r, op="ADD", shape_a=(1, 4, 4, 8), shape_b=(1, 4, 4, 8),
                                          activation="RELU"),
    "add_bcast_channel": lambda r: mg.binary_model(r, op="ADD", shape_a=(1, 4, 5, 8), shape_b=(1, 1, 1, 8)),
    "add_bcast_both": lambda r: mg.binary_model(r, op="ADD", shape_a=(1, 4, 1, 3), shape_b=(1, 1, 5, 3)),
    "add_const_b": lambda r: mg.binary_model(r, op="ADD", shape_a=(2, 6), shape_b=(2, 6), const_b=True),
    "add_f32_bcast": lambda r: mg.binary_model(r, op="ADD", shape_a=(2, 3, 4), shape_b=(3, 1),
                                               activation="RELU6", dtype="float32"),
    "softmax_1x10": lambda r: mg.unary_model(r, op="SOFTMAX", shape=(1, 10)),
    "softmax_rows_beta": lambda r: mg.unary_model(r, op="SOFTMAX", shape=(2, 3, 7), beta=0.5),
    "softmax_wide_scale": lambda r: mg.unary_model(r, op="SOFTMAX", shape=(4, 33), in_q=mg.ActQ(0.25, 3)),
    "softmax_f32": lambda r: mg.unary_model(r, op="SOFTMAX", shape=(2, 10), dtype="float32"),
    "reshape_io_copy": lambda r: mg.reshape_model(r, shape=(1, 2, 3, 4), new_shape=(6, 4)),
    "reshape_f32": lambda r: mg.reshape_model(r, shape=(2, 6), new_shape=(3, 4), dtype="float32"),
}


@dataclass
class Case:
    result: CompileResult
    lib: Path
    inputs: list[list[np.ndarray]]
    reference: list[list[np.ndarray]]


@pytest.fixture(scope="session")
def kernel_objects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("kernels")
    from microaot.paths import crt_root

    return {p.stem: compile_c([p], d / f"{p.stem}.o", kind="object", extra_cflags=["-fPIC"])
            for p in sorted((crt_root() / "kernels").glob("*.c"))}


@pytest.fixture(scope="session")
def cases(tmp_path_factory: pytest.TempPathFactory, kernel_objects: dict[str, Path]) -> dict[str, Case]:
    root = tmp_path_factory.mktemp("core_ops")
    out: dict[str, Case] = {}
    for i, (name, build) in enumerate(CASES.items()):
        rng = np.random.default_rng(1000 + i)
        model = root / f"{name}.tflite"
        model.write_bytes(build(rng))
        r = compile_model(model, root / name)
        objs = [kernel_objects[p.stem] for p in r.kernel_sources]
        lib = compile_c([*r.sources, *objs], root / name / f"lib{name}.so", include_dirs=[r.header.parent])
        inputs = [[mg.random_input(rng, r.graph.tensors[t].shape, r.graph.tensors[t].dtype)  # type: ignore[arg-type]
                   for t in r.graph.inputs] for _ in range(N_INPUTS)]
        ref = run_reference(model, inputs)
        out[name] = Case(r, lib, inputs, ref)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_core_op_matches_tflm(cases: dict[str, Case], name: str) -> None:
    c = cases[name]
    for k, (xs, want) in enumerate(zip(c.inputs, c.reference, strict=True)):
        got = run_compiled(c.result, c.lib, xs)
        for g, w in zip(got, want, strict=True):
            g, w = g.reshape(-1), w.reshape(-1)
            if g.dtype == np.float32 and "softmax" in name:
                # expf of the C library vs std::exp: allow float rounding
                np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7, err_msg=f"{name} input set {k}")
            else:  # float kernels accumulate in TFLM's order, so even float32 is bit-exact on host
                diff = np.abs(g.astype(int) - w.astype(int))
                assert np.array_equal(g, w), f"{name} input set {k}: {np.count_nonzero(diff)} differ, max {diff.max()}"


def test_reshape_between_ops_is_free(cases: dict[str, Case]) -> None:
    # graph input -> graph output needs a copy (two caller buffers); the copy is emitted
    r = cases["reshape_io_copy"].result
    assert r.plan.aliased_ops == set()
    assert "memcpy" in r.sources[0].read_text()

