"""3x3 DEPTHWISE_CONV_2D on the ``pair`` kernel (crt/kernels/dw_fast.c) with C % 4 != 0: the stream padded with
zero channels to whole groups of 4, the padded bytes of each pixel's last group landing on the next pixel's outputs
(the row's last pixel through scratch), the input column whose last group would read past the input copied first.
Generated single-layer models, bit-exact with TFLM on the host (portable C) and on QEMU mps2-an386 (the asm, every
tensor equal to the generic build's). The kernel harness (flavor ``random``, C >= 2) and the schedule sweep
(``dw3x3_s2_c6``) cover more shapes and the in-place modes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from microaot import schedules
from microaot.compiler import compile_model
from microaot.frontend.tflite import import_tflite_bytes
from microaot.hostbuild import build_model_shared_lib, run_compiled
from microaot.reference import run_reference
from microaot.testing import m4run, modelgen

DW = modelgen.depthwise_conv2d_model
CASES: dict[str, dict[str, Any]] = {
    "c30_relu": dict(input_shape=(1, 25, 5, 30), kernel=(3, 3), activation="RELU"),
    "c6_relu6_s2_b2": dict(input_shape=(2, 9, 7, 6), kernel=(3, 3), stride=(2, 2), activation="RELU6"),
    "c27_valid": dict(input_shape=(1, 8, 9, 27), kernel=(3, 3), padding="VALID"),
    "c5_n1_s12": dict(input_shape=(1, 7, 6, 5), kernel=(3, 3), stride=(1, 2), activation="RELU_N1_TO_1"),
    "c3": dict(input_shape=(1, 6, 5, 3), kernel=(3, 3)),
    "c2_s21": dict(input_shape=(1, 4, 3, 2), kernel=(3, 3), stride=(2, 1)),
}
HOST_SAMPLE = {"c30_relu", "c6_relu6_s2_b2"}


def _model(tmp: Path, name: str) -> tuple[Path, np.ndarray]:
    kw = CASES[name]
    rng = np.random.default_rng(sorted(CASES).index(name) + 950)
    path = tmp / f"{name}.tflite"
    path.write_bytes(DW(rng, **kw))
    return path, rng.integers(-128, 128, size=kw["input_shape"], dtype=np.int8)


def test_pair_is_the_default_from_two_channels() -> None:
    def default(c: int) -> str:
        g = import_tflite_bytes(DW(np.random.default_rng(0), input_shape=(1, 6, 6, c), kernel=(3, 3)))
        return str(schedules.default_schedule(g, g.operators[0], "cortex-m4")["algo"])

    assert [default(c) for c in (1, 2, 3, 5, 6, 30)] == ["plane", "pair", "pair", "pair", "pair", "pair"]


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in HOST_SAMPLE else pytest.mark.slow) for n in CASES])
def test_pair_odd_channels_bit_exact_on_host(tmp_path: Path, name: str) -> None:
    path, x = _model(tmp_path, name)
    r = compile_model(path, tmp_path / "gen", target="cortex-m4")
    assert "uaot_dw3x3_s8_pair(" in (tmp_path / "gen" / f"{path.stem}.c").read_text()
    got = run_compiled(r, build_model_shared_lib(r, tmp_path / "lib"), [x])
    want = run_reference(path, [[x]])[0]
    assert [a.tobytes() for a in got] == [np.asarray(b).astype(np.int8).tobytes() for b in want]


@pytest.mark.slow
@pytest.mark.skipif(not m4run.available(), reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("name", list(CASES))
def test_pair_odd_channels_bit_exact_on_qemu_m4(tmp_path: Path, name: str) -> None:
    path, _ = _model(tmp_path, name)
    r = m4run.measure(path, build_dir=tmp_path / "m4")
    assert "uaot_dw3x3_s8_pair(" in (tmp_path / "m4" / "gen" / f"{path.stem}.c").read_text()
    assert r["bit_exact"], f"{name}: differs from TFLM or from the generic build on Cortex-M4"
