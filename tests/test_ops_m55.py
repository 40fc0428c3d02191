"""The Helium (MVE) int8 kernels of target cortex-m55 (crt/kernels/mve.c) on QEMU mps3-an547 (Cortex-M55).

Single-operator models (seeded shapes that reach every path: im2col with padding, strides, dilation, a
1-channel input, in_c not a multiple of 16 and out_c not a multiple of 4 (predicated tails), the 1x1 read in
place, dead filters with int32-limit biases, per-tensor and per-channel FC, batches) compiled for cortex-m55,
built with arm-none-eabi-gcc -mcpu=cortex-m55 and run by ``microaot.testing.m4run`` on the AN547: the
outputs must equal TFLM's byte for byte, and the generated code must call the MVE kernel (or, for a
depthwise multiplier > 1, which they do not cover, a fallback that is bit-exact too).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from microaot.compiler import compile_model
from microaot.testing import modelgen as mg
from microaot.testing.batch import run_reference_many

m4run = pytest.importorskip("microaot.testing.m4run")

pytestmark = pytest.mark.qemu

CASES = [  # (id, builder, kernel the generated code must call)
    ("conv3x3_same_relu6", lambda r: mg.conv2d_model(r, input_shape=(1, 9, 7, 3), filters=10, kernel=(3, 3),
                                                       activation="RELU6"), "uaot_conv2d_s8_mve"),
    ("conv1x1_c20_o13", lambda r: mg.conv2d_model(r, input_shape=(1, 8, 8, 20), filters=13, kernel=(1, 1)),
     "uaot_conv2d_s8_mve"),
    ("conv1x1_stride2_c32", lambda r: mg.conv2d_model(r, input_shape=(1, 7, 6, 32), filters=8, kernel=(1, 1),
                                                        stride=(2, 2), padding="VALID"), "uaot_conv2d_s8_mve"),
    ("conv10x4_s2_c1", lambda r: mg.conv2d_model(r, input_shape=(1, 25, 10, 1), filters=8, kernel=(10, 4),
                                                   stride=(2, 2), activation="RELU"), "uaot_conv2d_s8_mve"),
    ("conv3x3_dil2_pertensor", lambda r: mg.conv2d_model(r, input_shape=(1, 11, 10, 4), filters=6, kernel=(3, 3),
                                                           dilation=(2, 2), per_channel=False), "uaot_conv2d_s8_mve"),
    ("conv5x3_s2_valid_dead", lambda r: mg.conv2d_model(r, input_shape=(1, 12, 9, 17), filters=7, kernel=(5, 3),
                                                          stride=(2, 1), padding="VALID", dead_filters=(2, 5)),
     "uaot_conv2d_s8_mve"),
    ("dw3x3_same_c16", lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 9, 9, 16), kernel=(3, 3),
                                                             activation="RELU"), "uaot_depthwise_conv2d_s8_mve"),
    ("dw3x3_s2_c6", lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 10, 7, 6), kernel=(3, 3),
                                                          stride=(2, 2)), "uaot_depthwise_conv2d_s8_mve"),
    ("dw5x3_dil2_valid_c5", lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 12, 9, 5), kernel=(5, 3),
                                                                  dilation=(2, 2), padding="VALID"),
     "uaot_depthwise_conv2d_s8_mve"),
    ("dw_mult2_fallback", lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 6, 6, 3), kernel=(3, 3),
                                                                depth_multiplier=2), "uaot_dw_plane_s8("),
    ("fc77_10_pertensor", lambda r: mg.fully_connected_model(r, input_shape=(1, 77), units=10),
     "uaot_fully_connected_s8_mve"),
    ("fc_batch3_perchannel_relu", lambda r: mg.fully_connected_model(r, input_shape=(3, 40), units=7,
                                                                      per_channel=True, activation="RELU"),
     "uaot_fully_connected_s8_mve"),
]


def _inputs(model: bytes, rng: np.random.Generator, n: int = 2) -> list[list[np.ndarray]]:
    from microaot.frontend.tflite import import_tflite_bytes

    g = import_tflite_bytes(model, "case")
    shape = g.tensors[g.inputs[0]].shape
    sets = [[rng.integers(-128, 128, size=shape, dtype=np.int8)] for _ in range(n - 1)]
    ext = rng.choice(np.array([-128, 127], dtype=np.int8), size=shape)  # the extremes: accumulator limits
    return [*sets, [ext]]


def test_mve_kernels_bit_exact_on_cortex_m55(tmp_path: Path) -> None:
    if not m4run.available():
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm missing")
    models, paths, inputs = [], [], []
    for i, (_cid, make, _) in enumerate(CASES):
        rng = np.random.default_rng(5500 + i)
        m = make(rng)
        p = tmp_path / f"m55case{i}.tflite"
        p.write_bytes(m)
        models.append(m)
        paths.append(p)
        inputs.append(_inputs(m, rng))
    refs = run_reference_many(paths, inputs)
    machine = m4run.machine_for("cortex-m55")

    def run(i: int) -> str | None:
        cid, _, kernel = CASES[i]
        if isinstance(refs[i], Exception):
            return f"{cid}: TFLM failed: {refs[i]}"
        try:
            sched = {0: {"algo": "mve"}} if kernel.endswith("_mve") else None  # depthwise: not the default
            r = compile_model(paths[i], tmp_path / f"src{i}", name=f"m55c{i}", target="cortex-m55", schedules=sched)
            src = r.sources[0].read_text()
            if kernel not in src:
                return f"{cid}: the generated code does not call {kernel}"
            res = m4run.run_m4(r, inputs[i], tmp_path / f"fw{i}", machine=machine)
        except Exception as e:
            return f"{cid}: {type(e).__name__}: {str(e)[-1500:]}"
        for si, (o_set, r_set) in enumerate(zip(res.outputs, refs[i], strict=True)):
            o, rr = np.asarray(o_set[0]).reshape(-1), np.asarray(r_set[0]).reshape(-1)
            if not np.array_equal(o, rr):
                d = np.nonzero(o != rr)[0]
                return f"{cid} set {si}: {d.size} bytes differ, first {d[:6].tolist()}: {o[d[:6]]} vs {rr[d[:6]]}"
        return None

    with ThreadPoolExecutor(max_workers=2) as ex:
        errors = [e for e in ex.map(run, range(len(CASES))) if e]
    assert not errors, f"{len(errors)} of {len(CASES)} models differ on the M55:\n" + "\n".join(errors)


def test_m55_schedules_pick_mve_and_fall_back() -> None:
    """cortex-m55: int8 CONV_2D (K >= 16) and FC default to ``mve``; DEPTHWISE_CONV_2D (multiplier 1) has
    ``mve`` in the tuner's space but defaults to the DSP kernels (faster, docs/internals.md); a multiplier > 1
    takes the DSP ``plane`` kernel as on the M4; the M4 target never sees ``mve``; a conv with K < 16 takes the
    DSP gemm."""
    from microaot import schedules as space
    from microaot.frontend.tflite import import_tflite_bytes

    rng = np.random.default_rng(1)
    for _, make, kernel in CASES:
        g = import_tflite_bytes(make(rng), "case")
        op = g.operators[0]
        algo = space.default_schedule(g, op, "cortex-m55")["algo"]
        dw = op.opcode == "DEPTHWISE_CONV_2D"
        want = space.default_schedule(g, op, "cortex-m4")["algo"] if dw else "mve"
        assert algo == want, (kernel, algo)
        assert ("mve" in space.op_space(g, op, "cortex-m55")["algo"]) is kernel.endswith("_mve")
        assert "mve" not in space.op_space(g, op, "cortex-m4")["algo"]
    small = import_tflite_bytes(mg.conv2d_model(rng, input_shape=(1, 8, 8, 8), filters=16, kernel=(1, 1)), "k8")
    assert space.default_schedule(small, small.operators[0], "cortex-m55")["algo"] == "gemm"
