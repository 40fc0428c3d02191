"""Randomized differential test of every int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED kernel path against
TFLM (microaot.testing.kernelfuzz): seeded random single layers (H/W 1..40, channels 1..70 odd included, kernels
1x1..10x8 / Kx1 / 1xK, strides 1-3, dilation 1-2, SAME/VALID, multipliers 1..8, batch 1-2, per-channel and
per-tensor, NONE/RELU/RELU6, extreme zero points, all-zero channels, +-127 weights, large biases), each built
with the cortex-m4 default AND every schedule of its space, run on QEMU Cortex-M4 and on the host (portable
C of the same schedules; and the generic-C build), byte-exact with TFLM.

A failure names the layer (kind, seed and every parameter), the schedule, the platform, the kernel file and
the first differing values; ``python -m microaot.testing.kernelfuzz --layer KIND:SEED`` reproduces it.
The default run checks a small sample (one firmware); the sweep is ``-m slow`` with MICROAOT_FUZZ_N layers
(default 60) from MICROAOT_FUZZ_SEED (default 1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from microaot.testing import kernelfuzz as kf
from microaot.testing import m4run

needs_qemu = pytest.mark.skipif(not m4run.available(), reason="needs arm-none-eabi-gcc and qemu-system-arm")


def _report(res: kf.BatchResult) -> str:
    return f"{len(res.mismatches)} mismatches:\n" + "\n".join(str(m) for m in res.mismatches)


def test_layers_are_reproducible_and_cover_the_space() -> None:
    """(kind, seed) gives the same layer and model bytes; the generator reaches the parameter corners."""
    a, b = kf.random_layer("dw", 12345), kf.random_layer("dw", 12345)
    assert a.params == b.params and kf.layer_model(a) == kf.layer_model(b)
    layers = kf.sample_layers(200, 99)
    conv = [x.params for x in layers if x.kind != "fc"]
    kernels = {tuple(p["kernel"]) for p in conv}
    assert any(kh > 1 and kw == 1 for kh, kw in kernels) and any(kh == 1 and kw > 1 for kh, kw in kernels)
    assert {1, 2, 3} <= {s for p in conv for s in p["stride"]} and {1, 2} <= {d for p in conv for d in p["dilation"]}
    assert {"SAME", "VALID"} == {p["padding"] for p in conv}
    assert set(range(1, 9)) <= {x.params["mult"] for x in layers if x.kind == "dw"}
    assert {1, 2} <= {x.params["input_shape"][0] for x in layers}
    assert {True, False} == {x.params["per_channel"] for x in layers}
    assert set(kf.ACTIVATIONS) == {x.params["activation"] for x in layers}
    assert {-128, 127} <= {x.params["in_zp"] for x in layers} and {-128, 127} <= {x.params["out_zp"] for x in layers}
    assert any(x.params["dead"] for x in layers) and any(c % 2 for p in conv for c in [p["input_shape"][3]])
    assert any(x.params["rq_gt1"] for x in layers) and {"none", "large"} <= {x.params["bias"] for x in layers}
    assert {"normal", "uniform", "extreme", "sparse"} == {x.params["weights"] for x in layers}
    for x in layers:  # the big ones: up to 96 pixels, 2048 inputs
        big = x.params["big"]
        hi = (2048 if big else 400) if x.kind == "fc" else (96 if big else 40)
        assert 1 <= x.params["input_shape"][-1 if x.kind == "fc" else 1] <= hi
    assert 0 < sum(x.params["big"] for x in layers) < len(layers) // 5


# a small fixed sample (one firmware, <= 20k MACs a layer): depthwise 3x3 s2 (pair, every strip width), 5x1
# multiplier 7 s(1,2) (line / plane), 3x3 multiplier 8 (plane), a 1x1 conv over 32 channels (gemm, x16), a
# 10x1 1-channel conv s3 (patch / plane), a 2-batch per-channel FC keeping its dims (simd4, x8, w16)
CI_LAYERS = [("dw", 24), ("dw", 13), ("dw", 35), ("conv", 17), ("conv", 4), ("fc", 3)]


@needs_qemu
def test_fuzz_sample_bit_exact(tmp_path: Path) -> None:
    layers = [kf.random_layer(k, s, max_macs=20_000) for k, s in CI_LAYERS]
    res = kf.check_layers(layers, tmp_path, host=False, generic=False)  # QEMU only here; the sweep: all three
    assert res.n_variants >= 30
    assert not res.mismatches, _report(res)


@needs_qemu
@pytest.mark.slow
def test_fuzz_sweep_bit_exact(tmp_path: Path) -> None:
    n = int(os.environ.get("MICROAOT_FUZZ_N", "60"))
    seed = int(os.environ.get("MICROAOT_FUZZ_SEED", "1"))
    bad: list[kf.Mismatch] = []
    layers = kf.sample_layers(n, seed)
    for c in range(0, n, 60):  # 60 layers per TFLM run, one firmware per ~120 operators
        bad += kf.check_layers(layers[c:c + 60], tmp_path / f"c{c}").mismatches
    assert not bad, f"{len(bad)} mismatches:\n" + "\n".join(str(m) for m in bad)


@needs_qemu
@pytest.mark.slow
def test_fuzz_in_place_sweep_bit_exact(tmp_path: Path) -> None:
    """The conv / dw layers between two ADDs (kernelfuzz.chain_model): input and output in the workspace, run in
    place where the planner takes it, every schedule on QEMU M4 (one firmware each); MICROAOT_FUZZ_N // 4
    layers."""
    n = max(2, int(os.environ.get("MICROAOT_FUZZ_N", "60")) // 4)
    seed = int(os.environ.get("MICROAOT_FUZZ_SEED", "1"))
    bad, runs, inplace = kf.check_inplace(kf.sample_layers(n, seed + 7919, ("conv", "dw")), tmp_path)
    assert inplace > 0 and runs >= n
    assert not bad, f"{len(bad)} mismatches:\n" + "\n".join(str(m) for m in bad)


@needs_qemu
@pytest.mark.slow
def test_fuzz_blocks_bit_exact(tmp_path: Path) -> None:
    """MobileNet-style blocks (kernelfuzz.random_block: 1x1 expand, depthwise, 1x1 project between two ADDs): the
    layers share the workspace, in place where the planner takes it; build k runs every layer on its k-th
    schedule; output vs TFLM, every tensor vs the generic build. MICROAOT_FUZZ_N // 10 blocks."""
    n = max(1, int(os.environ.get("MICROAOT_FUZZ_N", "60")) // 10)
    seed = int(os.environ.get("MICROAOT_FUZZ_SEED", "1"))
    fails, builds = kf.check_blocks([seed * 100003 + i for i in range(n)], tmp_path)
    assert builds >= n
    assert not fails, f"{len(fails)} failures:\n" + "\n".join(fails)
