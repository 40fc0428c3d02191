"""CONV_2D with one input channel on the ``patch`` schedule (crt/kernels/conv1ch.c, ops/_conv1ch.py): generated
single-layer models, bit-exact with TFLM (PyPI tflite-micro) on the host (portable C) and on QEMU mps2-an386
(the Cortex-M4 asm: every tensor equal to the generic-C build's). Cases cover both kernel paths (3x3 with the
patch in registers, and the generic 4-k-pair loop), every requantization mode (full range, ReLU, clamped on both
sides, with and without the rounding sign), out_c not a multiple of the asm groups (the last pixel through
scratch), strides, dilation, VALID / SAME, batch 2, and the non-fast (mult / shift) requantization."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from microaot import schedules
from microaot.compiler import compile_model
from microaot.frontend.tflite import import_tflite_bytes
from microaot.hostbuild import build_model_shared_lib, run_compiled
from microaot.ops._conv1ch import kpairs
from microaot.reference import run_reference
from microaot.testing import m4run, modelgen

CONV = modelgen.conv2d_model
CASES: dict[str, dict[str, Any]] = {
    # fast3, whole rows per asm call (out_c % 4 == 0), ReLU (the bench layer)
    "k3_c28_relu": dict(input_shape=(1, 49, 10, 1), filters=28, kernel=(3, 3), activation="RELU"),
    # generic path, KWS's first layer
    "k10x4_s2_c64": dict(input_shape=(1, 49, 10, 1), filters=64, kernel=(10, 4), stride=(2, 2), activation="RELU"),
    # fast3 per pixel, out_c = 5 (the last pixel through scratch), clamped both sides, batch 2, stride (2, 1)
    "k3_c5_relu6_b2": dict(input_shape=(2, 12, 9, 1), filters=5, kernel=(3, 3), stride=(2, 1), activation="RELU6"),
    # generic, odd out_c, 5x5 stride 2, clamped with the rounding sign (zero point inside the range)
    "k5_c9_s2_n1": dict(input_shape=(1, 15, 11, 1), filters=9, kernel=(5, 5), stride=(2, 2),
                        activation="RELU_N1_TO_1"),
    # full range, out_c = 7
    "k3_c7": dict(input_shape=(1, 16, 8, 1), filters=7, kernel=(3, 3)),
    # dilated 3x3 (dil_w = 2: generic path), VALID
    "k3_d2_valid": dict(input_shape=(1, 12, 9, 1), filters=6, kernel=(3, 3), dilation=(2, 2), padding="VALID"),
    # dil_h only: fast3 with spread lines
    "k3_dh3": dict(input_shape=(1, 14, 7, 1), filters=8, kernel=(3, 3), dilation=(3, 1), activation="RELU"),
    # 2x3 with dil_w 2, Kx1, 1x1, single output channel
    "k2x3_dw2": dict(input_shape=(1, 16, 8, 1), filters=3, kernel=(2, 3), dilation=(1, 2), activation="RELU"),
    "k7x1": dict(input_shape=(1, 20, 7, 1), filters=8, kernel=(7, 1)),
    "k1x1": dict(input_shape=(1, 20, 7, 1), filters=4, kernel=(1, 1)),
    "k3_c1": dict(input_shape=(1, 16, 8, 1), filters=1, kernel=(3, 3)),
    # multiplier > 1 (shift >= 0): not fast, mult / shift requantization in C
    "k3_c8_big_mult": dict(input_shape=(1, 9, 8, 1), filters=8, kernel=(3, 3), out_q=modelgen.ActQ(0.0004, 3)),
}
HOST_SAMPLE = {"k3_c28_relu", "k10x4_s2_c64", "k3_c8_big_mult"}
QEMU_SAMPLE = {"k3_c5_relu6_b2"}


def _model(tmp: Path, name: str) -> tuple[Path, np.ndarray]:
    kw = CASES[name]
    rng = np.random.default_rng(sorted(CASES).index(name) + 900)
    path = tmp / f"{name}.tflite"
    path.write_bytes(CONV(rng, **kw))
    return path, rng.integers(-128, 128, size=kw["input_shape"], dtype=np.int8)


def test_kpair_order() -> None:
    """conv1ch.h: every row's pairs (kx, kx+1), then the last column of rows (0, 1), (2, 3), ..."""
    assert kpairs(3, 3) == [(0, 1), (3, 4), (6, 7), (2, 5), (8, None)]
    assert kpairs(2, 2) == [(0, 1), (2, 3)]
    assert kpairs(1, 1) == [(0, None)]
    assert kpairs(10, 4) == [(4 * r + c, 4 * r + c + 1) for r in range(10) for c in (0, 2)]


def test_patch_is_the_default_for_one_input_channel() -> None:
    def default(**kw: Any) -> dict[str, Any]:
        g = import_tflite_bytes(CONV(np.random.default_rng(0), **kw))
        return schedules.default_schedule(g, g.operators[0], "cortex-m4")

    assert default(input_shape=(1, 49, 10, 1), filters=64, kernel=(10, 4), stride=(2, 2)) == {"algo": "patch"}
    assert default(input_shape=(1, 9, 9, 1), filters=3, kernel=(3, 3)) == {"algo": "patch"}
    assert default(input_shape=(1, 9, 9, 3), filters=3, kernel=(3, 3))["algo"] == "gemm"


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in HOST_SAMPLE else pytest.mark.slow) for n in CASES])
def test_patch_bit_exact_with_tflm_on_host(tmp_path: Path, name: str) -> None:
    path, x = _model(tmp_path, name)
    r = compile_model(path, tmp_path / "gen", target="cortex-m4", schedules={0: {"algo": "patch"}})
    src = (tmp_path / "gen" / f"{path.stem}.c").read_text()
    assert "uaot_conv1ch_s8(" in src
    fast = re.search(r"uaot_conv1ch_s8\(.*, (\d)\);", src)
    assert fast is not None and fast.group(1) == ("0" if name == "k3_c8_big_mult" else "1")  # the fast stream or not
    got = run_compiled(r, build_model_shared_lib(r, tmp_path / "lib"), [x])
    want = run_reference(path, [[x]])[0]
    assert [a.tobytes() for a in got] == [np.asarray(b).astype(np.int8).tobytes() for b in want]


@pytest.mark.skipif(not m4run.available(), reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in QEMU_SAMPLE else pytest.mark.slow) for n in CASES])
def test_patch_bit_exact_on_qemu_m4(tmp_path: Path, name: str) -> None:
    path, _ = _model(tmp_path, name)
    r = m4run.measure(path, build_dir=tmp_path / "m4", schedules={0: {"algo": "patch"}})
    assert "uaot_conv1ch_s8(" in (tmp_path / "m4" / "gen" / f"{path.stem}.c").read_text()
    assert r["bit_exact"], f"{name}: differs from TFLM or from the generic build on Cortex-M4"
