"""DEPTHWISE_CONV_2D ``algo=line`` (crt/kernels/dw_small.c) on QEMU Cortex-M4 (its asm paths), bit-exact with TFLM
and every intermediate tensor equal to the generic build (m4run.measure): the overlapping last group of an out_c % 4
!= 0 (multiplier 1, 2 and the byte-by-byte multiplier 3), the fused expansion of multipliers 1 / 2 / 4, an out_c < 4
(the word buffer), odd line lengths (the expansion's single position), stride 2, dilation (the C loop), SAME /
VALID, per-tensor, clamped ranges, the taps in pairs (K = 10, K = 7, 9 with stride 1). The kernel harness
(test_kernel_harness.py) draws random line cases too."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from microaot.testing import modelgen as mg
from microaot.testing.m4run import measure

needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                reason="qemu-system-arm or arm-none-eabi-gcc missing")

Build = Callable[[np.random.Generator], bytes]

CASES: dict[str, Build] = {
    # multiplier 2, 5 channels: out_c 10 = 2 groups + the group of channels 6..9 (mode 1 expansion); 9 taps, stride 2
    "m2_c5_1x9_s2": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 3, 21, 5), kernel=(1, 9),
                                                        depth_multiplier=2, stride=(2, 2), activation="RELU"),
    # multiplier 1, 13 channels (the last group 9..12), an odd line (7 rows, 7 positions), RELU6
    "c13_3x1_relu6": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 7, 3, 13), kernel=(3, 1),
                                                         activation="RELU6"),
    # multiplier 4 (mode 2), 10 taps, VALID, per-tensor
    "m4_c3_10x1_valid": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 20, 2, 3), kernel=(10, 1),
                                                            depth_multiplier=4, padding="VALID", per_channel=False),
    # multiplier 3 (byte by byte): out_c 9, the last group 5..8
    "m3_c3_5x1": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 12, 3, 3), kernel=(5, 1), depth_multiplier=3,
                                                     activation="RELU"),
    # taps in pairs (K = 10, and 7, 9 with stride 1: SMLAD, 16-byte positions): multiplier 1 (the asm pair expansion)
    # with 6 channels (the overlapping group) and padding on both sides; 10 taps stride 2; multiplier 2 (its asm pair
    # expansion; multiplier 4 above); a one-row input (one position inside the input: the C pair expansion)
    "c6_1x7_pairs": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 3, 12, 6), kernel=(1, 7),
                                                        activation="RELU"),
    "c12_10x1_s2": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 23, 2, 12), kernel=(10, 1),
                                                       stride=(2, 2), activation="RELU"),
    "m2_c3_9x1_pairs": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 14, 2, 3), kernel=(9, 1),
                                                           depth_multiplier=2, activation="RELU"),
    "c4_9x1_h1": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 1, 3, 4), kernel=(9, 1)),
    # out_c 2 < 4 (the word buffer) and dilation 2 with 7 channels (the C loop, the last group 3..6)
    "m2_c1_1x5": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 4, 11, 1), kernel=(1, 5), depth_multiplier=2),
    "c7_5x1_dil2": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 15, 2, 7), kernel=(5, 1), dilation=(2, 1),
                                                       activation="RELU"),
}
# the default run; the rest slow
FAST = {"m2_c5_1x9_s2", "c13_3x1_relu6", "c6_1x7_pairs"}


@needs_qemu
@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in FAST else pytest.mark.slow) for n in CASES])
def test_line_kernel_bit_exact_on_qemu_m4(name: str, tmp_path: Path) -> None:
    i = list(CASES).index(name)
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(CASES[name](np.random.default_rng(9100 + i)))
    r = measure(model, schedules={0: {"algo": "line"}}, build_dir=tmp_path / "m4", seed=i)
    src = (tmp_path / "m4" / "gen").rglob("*.c")
    assert any("uaot_dw_line_s8(" in p.read_text() for p in src), "the line kernel was not called"
    assert r["bit_exact"], f"{name}: differs from TFLM or the generic build (ops {r['ops_differ']})"
