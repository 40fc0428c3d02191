"""DEPTHWISE_CONV_2D with any depth multiplier / kernel aspect ratio and CONV_2D with one input channel on the
``plane`` schedule (crt/kernels/dw_plane.c, ops/_dw_plane.py): generated single-layer models compiled for
cortex-m4, bit-exact with TFLM (PyPI tflite-micro) on the host (portable C) and on QEMU mps2-an386 (the
Cortex-M4 build, every tensor equal to the generic-C build's). The kernel-level harness
(tests/test_kernel_harness.py, flavor ``plane``) covers random shapes, strides, dilation and padding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from microaot import schedules
from microaot.compiler import compile_model
from microaot.frontend.tflite import import_tflite_bytes, load_tflite
from microaot.hostbuild import build_model_shared_lib, run_compiled
from microaot.reference import run_reference
from microaot.testing import modelgen

DW = modelgen.depthwise_conv2d_model
CONV = modelgen.conv2d_model
# (builder, options): the keyword-spotting shapes (MFCC 49x10x1; multiplier 8 with a 10x8 kernel, stride 2;
# Kx1 / 1xK), odd channel counts, multipliers 2..8, stride and dilation, batch 2, clamped activations
CASES: list[tuple[Any, dict[str, Any]]] = [
    (DW, dict(input_shape=(1, 49, 10, 1), kernel=(10, 8), depth_multiplier=8, stride=(2, 2), activation="RELU")),
    (DW, dict(input_shape=(1, 25, 5, 12), kernel=(3, 3), depth_multiplier=4)),
    (DW, dict(input_shape=(1, 49, 10, 3), kernel=(5, 1), depth_multiplier=2)),
    (DW, dict(input_shape=(1, 20, 6, 5), kernel=(1, 5), depth_multiplier=3, padding="VALID", activation="RELU6")),
    (DW, dict(input_shape=(1, 25, 5, 30), kernel=(5, 1))),
    (DW, dict(input_shape=(1, 49, 1, 7), kernel=(9, 1), stride=(2, 1))),
    (DW, dict(input_shape=(2, 9, 8, 3), kernel=(3, 2), depth_multiplier=3, stride=(2, 3), dilation=(2, 1))),
    (DW, dict(input_shape=(1, 12, 11, 9), kernel=(5, 5), stride=(2, 2))),
    (CONV, dict(input_shape=(1, 49, 10, 1), filters=64, kernel=(10, 4), stride=(2, 2), activation="RELU")),
    (CONV, dict(input_shape=(1, 49, 10, 1), filters=7, kernel=(3, 3))),
    # multiplier 1 (4 channels expanded together, the rest one by one), the line functions per stride and tap pairs:
    # 3x3 stride 2 with odd channels, 5x5 stride 1, 7x7 (4 tap pairs), 3x9 (5 pairs: the generic loop), stride 3,
    # dilation along the outer axis, the requantization's clamps (whole range, RELU, RELU6)
    (DW, dict(input_shape=(1, 15, 13, 7), kernel=(3, 3), stride=(2, 2), activation="RELU")),
    (DW, dict(input_shape=(1, 12, 10, 6), kernel=(5, 5), padding="VALID", activation="RELU6")),
    (DW, dict(input_shape=(1, 14, 9, 5), kernel=(7, 7))),
    (DW, dict(input_shape=(1, 9, 17, 4), kernel=(3, 9), stride=(1, 3), dilation=(2, 1), activation="RELU")),
    (DW, dict(input_shape=(1, 11, 9, 6), kernel=(3, 3), depth_multiplier=2, stride=(3, 1))),
    (DW, dict(input_shape=(2, 10, 11, 5), kernel=(3, 3), depth_multiplier=2, stride=(2, 2), activation="RELU")),
    # 5 tap pairs (the generic line functions) at stride 1 (multiplier 1) and stride 2 (multiplier 2)
    (DW, dict(input_shape=(1, 6, 16, 5), kernel=(2, 9), activation="RELU6")),
    (DW, dict(input_shape=(1, 7, 21, 3), kernel=(3, 10), depth_multiplier=2, stride=(1, 2))),
    # 5x5 with a multiplier (the kernel lines unrolled) at stride 1 and 2
    (DW, dict(input_shape=(1, 9, 10, 3), kernel=(5, 5), depth_multiplier=2, activation="RELU")),
    (DW, dict(input_shape=(1, 11, 9, 2), kernel=(5, 5), depth_multiplier=3, stride=(2, 2))),
]


def _model(tmp: Path, i: int) -> tuple[Path, np.ndarray]:
    build, kw = CASES[i]
    rng = np.random.default_rng(500 + i)
    path = tmp / f"plane{i}.tflite"
    path.write_bytes(build(rng, **kw))
    return path, rng.integers(-128, 128, size=kw["input_shape"], dtype=np.int8)


def _plane_schedule(path: Path) -> dict[int, dict[str, Any]]:
    """the plane schedule (the default for depthwise multiplier > 1 / >= 5 taps, a tuner option for conv)"""
    g = load_tflite(path)
    op = g.operators[0]
    assert "plane" in schedules.op_space(g, op, "cortex-m4")["algo"]
    return {0: {"algo": "plane"}}


SLOW = {12, 14, 17, 18}  # the slow set adds these (7x7, M=2 at stride 3, 5 tap pairs with M=2, 5x5 with M=2)


@pytest.mark.parametrize("i", [pytest.param(i, marks=pytest.mark.slow if i in SLOW else ()) for i in range(len(CASES))])
def test_plane_bit_exact_with_tflm_on_host(tmp_path: Path, i: int) -> None:
    path, x = _model(tmp_path, i)
    r = compile_model(path, tmp_path / "gen", target="cortex-m4", schedules=_plane_schedule(path))
    assert "uaot_dw_plane_s8(" in (tmp_path / "gen" / f"{path.stem}.c").read_text()
    got = run_compiled(r, build_model_shared_lib(r, tmp_path / "lib"), [x])
    want = run_reference(path, [[x]])[0]
    assert [a.tobytes() for a in got] == [np.asarray(b).astype(np.int8).tobytes() for b in want]


def test_plane_defaults() -> None:
    """plane is the cortex-m4 default for depthwise with a multiplier > 1 and for multiplier-1 kernels of >= 5
    taps that the 3x3 pair kernel and the line kernel (Kx1 / 1xK, any multiplier) do not take; 3x3 on pair, a
    1-channel conv on patch (conv1ch.c, tests/test_conv1ch.py)"""
    def default(build: Any, **kw: Any) -> str:
        g = import_tflite_bytes(build(np.random.default_rng(0), **kw))
        return str(schedules.default_schedule(g, g.operators[0], "cortex-m4")["algo"])

    assert default(DW, input_shape=(1, 49, 10, 1), kernel=(10, 8), depth_multiplier=8, stride=(2, 2)) == "plane"
    assert default(DW, input_shape=(1, 25, 5, 3), kernel=(3, 3), depth_multiplier=2) == "plane"
    assert default(DW, input_shape=(1, 25, 5, 30), kernel=(5, 5)) == "plane"
    assert default(DW, input_shape=(1, 25, 5, 30), kernel=(5, 1)) == "line"
    assert default(DW, input_shape=(1, 25, 5, 64), kernel=(1, 3)) == "line"
    assert default(DW, input_shape=(1, 49, 10, 3), kernel=(5, 1), depth_multiplier=2) == "line"
    assert default(DW, input_shape=(1, 25, 5, 64), kernel=(2, 2)) == "simd4"
    assert default(DW, input_shape=(1, 25, 5, 64), kernel=(3, 3)) == "pair"
    assert default(CONV, input_shape=(1, 49, 10, 1), filters=64, kernel=(10, 4)) == "patch"


# QEMU cases: the CI sample (multiplier 8 with a 10x8 kernel, multiplier 3 with stride and dilation, multiplier 1
# 3x3 stride 2 over odd channels, multiplier 2 at batch 2), the rest (Kx1 / 1xK, a 1-channel conv) slow
QEMU_SAMPLE = (0, 6, 10, 15)
QEMU_REST = (2, 3, 9)


@pytest.mark.qemu
@pytest.mark.parametrize("cases", [pytest.param(QEMU_SAMPLE, id="sample"),
                                   pytest.param(QEMU_REST, id="rest", marks=pytest.mark.slow)])
def test_plane_bit_exact_on_cortex_m4(cases: tuple[int, ...], tmp_path: Path) -> None:
    """default cortex-m4 builds on QEMU: outputs = TFLM, every tensor = the generic-C build (m4run.measure)"""
    m4run = pytest.importorskip("microaot.testing.m4run")
    if not m4run.available():
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm missing")
    for i in cases:
        path, _ = _model(tmp_path, i)
        res = m4run.measure(path, build_dir=tmp_path / f"m4-{i}", schedules=_plane_schedule(path))
        assert res["bit_exact"], (CASES[i][1], res.get("ops_differ"))
