"""Schedule variants of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED (microaot.schedules): every
distinct schedule of every knob space is bit-exact with TFLM on small single-op models, on the host
(portable paths: SIMD emulated in C) and on QEMU Cortex-M4 (the SMLAD/SXTB16 paths); the four MLPerf
models are bit-exact on QEMU M4 with the default DSP schedules. Also the knob-space API contract."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import mlperf_model
from microaot import schedules as space
from microaot.compiler import compile_model
from microaot.errors import MicroaotError
from microaot.frontend.tflite import load_tflite
from microaot.hostbuild import compile_c, run_compiled
from microaot.paths import crt_root
from microaot.reference import run_reference
from microaot.testing import m4run
from microaot.testing import modelgen as mg
from microaot.toolchain import BASE_CFLAGS, cache_dir, cached_objects

needs_qemu = pytest.mark.skipif(not m4run.available(), reason="needs arm-none-eabi-gcc and qemu-system-arm")

CASES: dict[str, Callable[[np.random.Generator], bytes]] = {
    "conv3x3_same_c3": lambda r: mg.conv2d_model(r, input_shape=(1, 8, 8, 3), filters=5, kernel=(3, 3),
                                                 activation="RELU"),
    "conv3x3_s2_c8_pt": lambda r: mg.conv2d_model(r, input_shape=(1, 9, 9, 8), filters=6, kernel=(3, 3),
                                                  stride=(2, 2), padding="SAME", per_channel=False),
    "conv_kws_10x4": lambda r: mg.conv2d_model(r, input_shape=(1, 49, 10, 1), filters=7, kernel=(10, 4),
                                               stride=(2, 2), activation="RELU"),
    "conv_dilated_valid": lambda r: mg.conv2d_model(r, input_shape=(1, 10, 11, 4), filters=4, kernel=(3, 2),
                                                    dilation=(2, 3), padding="VALID", activation="RELU6"),
    "conv1x1_b2_c12": lambda r: mg.conv2d_model(r, input_shape=(2, 5, 5, 12), filters=9, kernel=(1, 1),
                                                activation="RELU_N1_TO_1", bias=False),
    "dw3x3_s1_c8": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 7, 6, 8), kernel=(3, 3), activation="RELU"),
    "dw3x3_s2_c6": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 9, 9, 6), kernel=(3, 3), stride=(2, 2)),
    "dw5x3_dil_c5_pt": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 9, 8, 5), kernel=(5, 3),
                                                           dilation=(1, 2), per_channel=False, activation="RELU6"),
    # DEPTHWISE_CONV_2D plane: multiplier 1 with 7 channels (a group of 4 expanded together, then 3), 5x5 stride 2;
    # multiplier 3 (an odd channel of the last pair) with stride 1
    "dwpl_5x5_s2_c7": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 11, 10, 7), kernel=(5, 5),
                                                          stride=(2, 2), activation="RELU"),
    "dwpl_3x3_m3_c3": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 7, 9, 3), kernel=(3, 3),
                                                          depth_multiplier=3),
    # DEPTHWISE_CONV_2D pair (3x3, any C; dw3x3_s2_c6 above and the _c3 / _c5 / _c10 cases: C % 4 != 0, padded
    # groups): strides 1 and 2, SAME and VALID, odd widths, C = 4, 8, 12
    "dwp_s1_c3_relu6": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 6, 7, 3), kernel=(3, 3),
                                                           activation="RELU6"),
    "dwp_s2_c5_valid_pt": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 9, 8, 5), kernel=(3, 3),
                                                              stride=(2, 2), padding="VALID", per_channel=False,
                                                              activation="RELU"),
    "dwp_b2_s1_c10_zmin": lambda r: mg.depthwise_conv2d_model(r, input_shape=(2, 4, 5, 10), kernel=(3, 3),
                                                              activation="RELU", in_q=mg.ActQ(0.03, 0),
                                                              out_q=mg.ActQ(0.04, -128)),
    "dwp_s1_c4_odd": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 5, 7, 4), kernel=(3, 3)),
    "dwp_s2_c12_valid": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 9, 11, 12), kernel=(3, 3),
                                                            stride=(2, 2), padding="VALID", activation="RELU"),
    "dwp_s2_c8_same_odd": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 8, 9, 8), kernel=(3, 3),
                                                              stride=(2, 2)),
    "dwp_s1_c8_valid_w3": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 4, 3, 8), kernel=(3, 3),
                                                              padding="VALID"),
    "dwp_s12_c12_relu6": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 6, 9, 12), kernel=(3, 3),
                                                             stride=(1, 2), activation="RELU6",
                                                             out_q=mg.ActQ(0.04, -110)),  # clamp [-110, 40]
    # RELU with output zero point -128 (KWS / VWW): full range, lo >= off, no rounding sign (C % 8 == 0 and
    # not); RELU_N1_TO_1: clamped with the rounding sign
    "dwp_s1_c16_relu_zmin": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 6, 7, 16), kernel=(3, 3),
                                                                activation="RELU", in_q=mg.ActQ(0.03, 0),
                                                                out_q=mg.ActQ(0.04, -128)),
    "dwp_s2_c12_relu_zmin": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 7, 8, 12), kernel=(3, 3),
                                                                stride=(2, 2), activation="RELU",
                                                                in_q=mg.ActQ(0.03, 0), out_q=mg.ActQ(0.04, -128)),
    "dwp_s1_c8_n1to1": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 5, 6, 8), kernel=(3, 3),
                                                           activation="RELU_N1_TO_1", out_q=mg.ActQ(0.01, 5)),
    "dwp_b2_s1_c4": lambda r: mg.depthwise_conv2d_model(r, input_shape=(2, 3, 5, 4), kernel=(3, 3), per_channel=False),
    # DEPTHWISE_CONV_2D line (dw_small.c, Kx1 / 1xK, any multiplier): odd channels (a partial group of 4), stride 2,
    # dilation, VALID, per-tensor, RELU with zero point -128 (no rounding sign), a multiplier, a clamped range,
    # a requantization multiplier > 1 (the exact path), 2 batches
    "dwl_3x1_c6_relu": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 9, 4, 6), kernel=(3, 1),
                                                           activation="RELU"),
    "dwl_1x3_c5_s2": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 4, 11, 5), kernel=(1, 3),
                                                         stride=(2, 2), per_channel=False),
    "dwl_9x1_c8_zmin": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 17, 1, 8), kernel=(9, 1),
                                                           activation="RELU", in_q=mg.ActQ(0.03, 0),
                                                           out_q=mg.ActQ(0.04, -128)),
    "dwl_5x1_dil_valid": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 14, 3, 4), kernel=(5, 1),
                                                             dilation=(2, 1), padding="VALID", activation="RELU6"),
    "dwl_1x4_m2_c3": lambda r: mg.depthwise_conv2d_model(r, input_shape=(2, 3, 9, 3), kernel=(1, 4),
                                                         depth_multiplier=2),
    "dwl_5x1_m3_s2_clamp": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 11, 5, 2), kernel=(5, 1),
                                                               depth_multiplier=3, stride=(2, 1),
                                                               activation="RELU6", out_q=mg.ActQ(0.04, -110)),
    "dwl_3x1_mult_gt1": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 6, 3, 8), kernel=(3, 1),
                                                            in_q=mg.ActQ(4.0, 3), out_q=mg.ActQ(0.002, -5)),
    "fc_37x11_pt": lambda r: mg.fully_connected_model(r, input_shape=(1, 37), units=11, activation="RELU"),
    "fc_b6_16x5_pc": lambda r: mg.fully_connected_model(r, input_shape=(2, 3, 16), units=5, per_channel=True,
                                                        keep_num_dims=True),
    "fc_64x8": lambda r: mg.fully_connected_model(r, input_shape=(1, 64), units=8),
    # x8 (int8 input loaded in the loop): odd number of full groups + a partial one, unaligned batch rows
    "fc_b3_21x9_relu6": lambda r: mg.fully_connected_model(r, input_shape=(3, 21), units=9, activation="RELU6"),
    "fc_b2_50x13_pc": lambda r: mg.fully_connected_model(r, input_shape=(2, 50), units=13, per_channel=True),
    "fc_3x6": lambda r: mg.fully_connected_model(r, input_shape=(1, 3), units=6),  # no full group
    # the fused all-blocks asm (rq, full range): groups % 4 = 2 and 3 (TBB entry), 2 batches
    "fc_b2_24x8": lambda r: mg.fully_connected_model(r, input_shape=(2, 24), units=8),
    "fc_44x7_pc": lambda r: mg.fully_connected_model(r, input_shape=(1, 44), units=7, per_channel=True),
    "fc_b2_36x5": lambda r: mg.fully_connected_model(r, input_shape=(2, 36), units=5),  # groups % 4 = 1
    # requantization multipliers > 1 (shift > 0): the SMMULR table cannot be proven, exact fallback path
    "conv_mult_gt1": lambda r: mg.conv2d_model(r, input_shape=(1, 6, 6, 4), filters=6, kernel=(3, 3),
                                               in_q=mg.ActQ(0.5, 3), out_q=mg.ActQ(0.01, -5)),
    "dw_mult_gt1": lambda r: mg.depthwise_conv2d_model(r, input_shape=(1, 6, 6, 8), kernel=(3, 3),
                                                       in_q=mg.ActQ(0.5, 3), out_q=mg.ActQ(0.01, -5)),
    # pointwise with small K (the fused c3 asm, 3-pixel expansion) and constant (all-zero) channels: a whole
    # pair (2, 3: skipped K loop), single ones in live pairs (6, 9) and the odd last channel (10)
    "conv1x1_c8_dead": lambda r: mg.conv2d_model(r, input_shape=(1, 7, 7, 8), filters=11, kernel=(1, 1),
                                                 dead_filters=(2, 3, 6, 9, 10)),
    # 144 = 36 * 4 k (3x3 over 16 channels): the w16 cols=3 asm's 12-group loop, with a constant pair (2, 3) and
    # the odd last channel after it
    "conv3x3_c16_g36": lambda r: mg.conv2d_model(r, input_shape=(1, 5, 7, 16), filters=7, kernel=(3, 3),
                                                 activation="RELU", in_q=mg.ActQ(0.03, 0),
                                                 out_q=mg.ActQ(0.04, -128), dead_filters=(2, 3)),
    # in_c % 4 != 0 with dilation in y: the gather's whole-window word copies step dil_h input rows
    "conv3x2_dil_c3": lambda r: mg.conv2d_model(r, input_shape=(1, 9, 8, 3), filters=4, kernel=(3, 2),
                                                dilation=(2, 1), padding="VALID"),
    # in_c % 4 != 0 (conv_fast.c uaot_im2col_g, packed K order _pack.gemm_k_order): windows inside the input
    # expanded from the input rows (q = k_w*in_c // 4 whole groups a row, then k_h * r leftover bytes), the
    # padded border gathered first. in_c 1, 2, 3, 5; r = 0..3; stride 2; out_c 8 and odd; dilation in x
    "conv_c3_s2_vww": lambda r: mg.conv2d_model(r, input_shape=(1, 12, 11, 3), filters=8, kernel=(3, 3),
                                                stride=(2, 2), activation="RELU6"),  # r = 1, k_h = 3
    "conv_c1_3x3_s2": lambda r: mg.conv2d_model(r, input_shape=(1, 11, 9, 1), filters=8, kernel=(3, 3),
                                                stride=(2, 2)),  # q = 0, r = 3: 9 leftover bytes
    "conv_c2_3x3_odd": lambda r: mg.conv2d_model(r, input_shape=(1, 8, 7, 2), filters=5, kernel=(3, 3),
                                                 activation="RELU"),  # q = 1, r = 2
    "conv_c5_3x2_s21": lambda r: mg.conv2d_model(r, input_shape=(1, 7, 6, 5), filters=7, kernel=(3, 2),
                                                 stride=(2, 1)),  # q = 2, r = 2: 2 leftover groups
    "conv_c1_5x1": lambda r: mg.conv2d_model(r, input_shape=(1, 9, 6, 1), filters=6, kernel=(5, 1),
                                             per_channel=False),  # q = 0, r = 1, k_h = 5
    "conv_c3_dilw_s2": lambda r: mg.conv2d_model(r, input_shape=(1, 9, 10, 3), filters=9, kernel=(2, 3),
                                                 stride=(1, 2), dilation=(1, 2)),  # gathered (dil_w > 1)
    # CONV_2D x16 (conv_fast.c uaot_conv_x16: ring of expanded input rows; stride_w * in_c in 16, 32, 64):
    # out_w % 3 = 0, 1, 2 (the 2-pixel blocks), odd out_c, constant channel pairs (the asm's skipped K loop),
    # 5x2 kernel, VALID and SAME, 2 batches, full range (the fused asm) and clamped (the portable block)
    "x16_c16_same_odd": lambda r: mg.conv2d_model(r, input_shape=(1, 6, 7, 16), filters=9, kernel=(3, 3),
                                                  activation="RELU", in_q=mg.ActQ(0.03, 0),
                                                  out_q=mg.ActQ(0.04, -128)),
    "x16_c32_s2_dead": lambda r: mg.conv2d_model(r, input_shape=(1, 9, 13, 32), filters=6, kernel=(3, 3),
                                                 stride=(2, 2), padding="VALID", dead_filters=(2, 3)),
    "x16_c16_5x2_relu6": lambda r: mg.conv2d_model(r, input_shape=(1, 8, 8, 16), filters=4, kernel=(5, 2),
                                                   activation="RELU6"),
    "x16_b2_c8_s12": lambda r: mg.conv2d_model(r, input_shape=(2, 5, 8, 8), filters=5, kernel=(3, 2),
                                               stride=(1, 2), per_channel=False),
}
NO_RQ = {"conv_mult_gt1", "dw_mult_gt1", "dwl_3x1_mult_gt1"}
N_INPUTS = 3


def _tag(knobs: dict[str, Any]) -> str:
    return "-".join(f"{k}={v}" for k, v in sorted(knobs.items()))


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[list[np.ndarray]],
                                                                       list[list[np.ndarray]]]]:
    root = tmp_path_factory.mktemp("sched_models")
    out = {}
    for i, (name, build) in enumerate(CASES.items()):
        rng = np.random.default_rng(7000 + i)
        path = root / f"{name}.tflite"
        path.write_bytes(build(rng))
        g = load_tflite(path)
        xs = [[mg.random_input(rng, g.tensors[t].shape, g.tensors[t].dtype)  # type: ignore[arg-type]
               for t in g.inputs] for _ in range(N_INPUTS)]
        out[name] = (path, xs, run_reference(path, xs))
    return out


def _variants(path: Path) -> list[dict[str, Any]]:
    """Every distinct schedule of the case's operator; the x16_* cases (there for the x16 kernel) only the
    default and the x16 ones (the other cases cover the gemm's)."""
    g = load_tflite(path)
    cands = space.candidates(g, g.operators[0], "cortex-m4")
    if path.stem.startswith("x16_"):
        cands = [c for k, c in enumerate(cands) if k == 0 or c["algo"] == "x16"]
    return cands


def _same(got: list[list[np.ndarray]], want: list[list[np.ndarray]]) -> bool:
    return all(np.array_equal(a.reshape(-1), b.reshape(-1)) for gs, ws in zip(got, want, strict=True)
               for a, b in zip(gs, ws, strict=True))


@pytest.fixture(scope="module")
def kernel_objects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    # through the object cache (toolchain.cached_objects): the key of the host builds' own kernel objects
    cmd = ["gcc", *BASE_CFLAGS, "-fPIC", f"-I{crt_root() / 'include'}"]
    return {p.stem: cached_objects(cmd, [p])[0] if cache_dir() is not None else
            compile_c([p], tmp_path_factory.mktemp("sched_kernels") / f"{p.stem}.o", kind="object",
                      extra_cflags=["-fPIC"])
            for p in sorted((crt_root() / "kernels").glob("*.c"))
            if p.stem in ("conv", "conv_fast", "conv1ch", "dw_fast", "dw_plane", "dw_small", "fully_connected",
                          "fc_fast")}


# the line cases beyond a sample of one run on the host in the slow set (each compiles 4-5 schedules)
HOST_SLOW = {"dwl_1x3_c5_s2", "dwl_9x1_c8_zmin", "dwl_5x1_dil_valid", "dwl_1x4_m2_c3", "dwl_3x1_mult_gt1",
             "dwl_5x1_m3_s2_clamp"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow if n in HOST_SLOW else ()) for n in CASES])
def test_every_schedule_bit_exact_on_host(models: Any, kernel_objects: dict[str, Path], name: str,
                                          tmp_path: Path) -> None:
    path, xs, ref = models[name]
    variants = _variants(path)
    assert len(variants) >= 2, "each case must exercise more than the reference kernel"
    for k, knobs in enumerate(variants):
        r = compile_model(path, tmp_path / f"v{k}", schedules={0: knobs})
        objs = [kernel_objects[p.stem] for p in r.kernel_sources]
        lib = compile_c([*r.sources, *objs], tmp_path / f"v{k}" / "libm.so", include_dirs=[r.header.parent])
        got = [run_compiled(r, lib, x) for x in xs]
        assert _same(got, ref), f"{name} {_tag(knobs)} differs from TFLM on the host"


# CI runs every schedule of these cases on QEMU (one or more per kernel family: gemm, 1-channel conv (conv1ch
# generic and 3x3 paths), 1x1 with batch 2, x16, depthwise simd4 / pair / plane / line, multiplier > 1, FC simd4
# and the < 4-row FC); the other cases' QEMU runs are marked slow (every case still runs every schedule on the
# host, test above)
QEMU_SAMPLE = {"conv3x3_same_c3", "conv_kws_10x4", "conv_c1_3x3_s2", "conv1x1_b2_c12", "dw3x3_s2_c6",
               "dw5x3_dil_c5_pt", "dwl_1x4_m2_c3", "dwp_s2_c8_same_odd", "dw_mult_gt1", "conv_mult_gt1",
               "fc_b6_16x5_pc", "fc_3x6", "x16_c16_same_odd", "x16_b2_c8_s12"}


@needs_qemu
@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in QEMU_SAMPLE else pytest.mark.slow) for n in CASES])
def test_every_schedule_bit_exact_on_qemu_m4(models: Any, name: str, tmp_path: Path) -> None:
    path, xs, ref = models[name]
    for k, knobs in enumerate(_variants(path)):
        r = compile_model(path, tmp_path / f"v{k}", target="cortex-m4", schedules={0: knobs})
        run = m4run.run_m4(r, xs, tmp_path / f"v{k}" / "m4", timeout=60)
        assert _same(run.outputs, ref), f"{name} {_tag(knobs)} differs from TFLM on Cortex-M4"


@needs_qemu
@pytest.mark.parametrize("key", ["kws", "vww", "ic", "ad"])
def test_mlperf_default_dsp_schedules_bit_exact_on_qemu_m4(key: str, tmp_path: Path) -> None:
    path = mlperf_model(key)
    r = compile_model(path, tmp_path / "gen", target="cortex-m4")
    # the default M4 schedule really uses the fast kernels
    fams = {p.stem for p in r.kernel_sources}
    assert ("conv_fast" in fams) or ("fc_fast" in fams), fams
    g = r.graph
    t = g.tensors[g.inputs[0]]
    xs = [[np.random.default_rng(s).integers(-128, 128, size=t.shape, dtype=np.int8)] for s in (0, 1)]
    run = m4run.run_m4(r, xs, tmp_path / "m4", timeout=120)
    assert _same(run.outputs, run_reference(path, xs)), f"{key}: default Cortex-M4 schedules differ from TFLM"


# --- the knob-space API (microaot.schedules) ------------------------------------------------------------

@pytest.mark.parametrize("name", ["conv3x3_same_c3", "dw3x3_s1_c8", "fc_64x8", "fc_b2_24x8", "fc_44x7_pc",
                                  "fc_b2_36x5", "fc_3x6", "dwl_3x1_c6_relu", *sorted(NO_RQ)])
def test_fast_requant_table_only_when_proven(models: Any, name: str, tmp_path: Path) -> None:
    path = models[name][0]
    fast = next(c for c in _variants(path) if c["algo"] not in ("direct", "pair", "line"))
    src = compile_model(path, tmp_path, target="cortex-m4", schedules={0: fast}).sources[0].read_text()
    assert ("_op0_rq[" in src) == (name not in NO_RQ)
    if name.startswith("dwl_"):  # the line kernel: the rq rows are in its stream, p->rq (non-NULL) says so
        src = compile_model(path, tmp_path / "line", target="cortex-m4",
                            schedules={0: {"algo": "line"}}).sources[0].read_text()
        assert ("_op0_mult[" in src) == (name in NO_RQ) and (".rq = (const int32_t *)" in src) == (name not in NO_RQ)
    elif name.startswith("dw"):  # the pair kernel: the rq rows are in its stream, `fast` says so
        src = compile_model(path, tmp_path / "pair", target="cortex-m4",
                            schedules={0: {"algo": "pair"}}).sources[0].read_text()
        m = re.search(r"uaot_dw3x3_s8_pair\(.*, (\d+), ([01]), ([012])\);", src)
        assert m is not None and m.group(2) == ("0" if name in NO_RQ else "1"), src[-2000:]


def test_constant_channels_keep_the_rq_table(models: Any, tmp_path: Path) -> None:
    """All-zero filters (huge bias, shift < -22) become constant rq rows; the all-constant pair is marked."""
    path = models["conv1x1_c8_dead"][0]
    g = load_tflite(path)
    w = g.tensors[g.operators[0].inputs[1]]
    assert min(w.quant.scale) < 1e-7  # the pruned-channel pathology the case stands for
    # cols=3 explicitly: alone in its model, the conv's scratch is the whole workspace, so the default
    # would be its lean alternative cols=2 (schedules.plan_schedules)
    src = compile_model(path, tmp_path, target="cortex-m4", schedules={0: {"cols": 3}}).sources[0].read_text()
    assert "_op0_rq[" in src and "uaot_conv2d_s8_gemm_c3(" in src
    assert src.count("(-2147483647 - 1)") == 1  # the bias mark of the constant pair (2, 3)


def test_space_api_contract(models: Any) -> None:
    path = models["conv3x3_same_c3"][0]
    g = load_tflite(path)
    op = g.operators[0]
    for target in ("generic", "cortex-m4", "cortex-m7"):
        sp = space.op_space(g, op, target)
        d = space.default_schedule(g, op, target)
        assert set(d) <= set(sp) and all(d[k] in sp[k] for k in d)
        cands = space.candidates(g, op, target)
        assert cands[0] == d and len({_tag(c) for c in cands}) == len(cands)
    assert space.default_schedule(g, op, "generic") == {"algo": "direct"}
    assert space.default_schedule(g, op, "cortex-m4")["algo"] == "gemm"
    # irrelevant knobs are dropped: direct ignores w16/cols
    assert space.canonical_schedule(g, op, "cortex-m4", {"algo": "direct", "w16": True}) == {"algo": "direct"}
    with pytest.raises(MicroaotError, match="unknown schedule knob"):
        space.canonical_schedule(g, op, "cortex-m4", {"tile": 4})
    with pytest.raises(MicroaotError, match="not legal"):
        space.canonical_schedule(g, op, "cortex-m4", {"cols": 4})


def test_signature_is_stable_and_name_free() -> None:
    g = load_tflite(mlperf_model("kws"))
    sigs = [space.op_signature(g, op) for op in g.operators]
    assert sigs[2] == sigs[4] == sigs[6] == sigs[8]  # the four identical pointwise layers
    assert sigs[0].startswith("CONV_2D|in=1x49x10x1:int8,64x10x4x1:int8:pc,64:int32:pc|out=1x25x5x64:int8|")
    assert "stride_h=2" in sigs[0] and "padding=SAME" in sigs[0]
    for op, s in zip(g.operators, sigs, strict=True):
        for t in [*op.inputs, *op.outputs]:
            if t >= 0:
                assert g.tensors[t].name not in s
    assert space.op_space(g, g.operators[9], "cortex-m4") == {}  # AVERAGE_POOL_2D: nothing to tune


def test_w16_defaults_stay_within_the_boards_flash(tmp_path: Path) -> None:
    """The default int16 weights (one more flash byte per weight) are bounded by the part's flash when known
    (a board's upload.maximum_size, passed by pio.build and export --board as compile_model(flash_size=)):
    the image is kept within 3/4 of it, W16_CODE_RESERVE kept for code. AD: 270 kB of constants."""
    from microaot.schedules import W16_CODE_RESERVE, W16_FLASH_BUDGET, plan_schedules, w16_budget

    ad = load_tflite(mlperf_model("ad"))
    consts = sum(t.nbytes for t in ad.tensors if t.is_const)
    assert w16_budget(ad) == w16_budget(ad, 16 << 20) == W16_FLASH_BUDGET
    small = 512 * 1024
    budget = small * 3 // 4 - consts - W16_CODE_RESERVE
    assert w16_budget(ad, small) == budget and 0 < budget < consts
    assert w16_budget(ad, 256 * 1024) == 0
    _, sched = plan_schedules(ad, "cortex-m4", flash_size=small)
    taken = [i for i, k in sched.items() if k.get("w16")]
    assert taken and sum(ad.tensors[ad.operators[i].inputs[1]].nbytes for i in taken) <= budget < consts
    r = compile_model(mlperf_model("ad"), tmp_path / "ad", target="cortex-m4", flash_size=256 * 1024)
    assert "_w16(" not in r.sources[0].read_text()  # an int8 model that fits keeps int8 weights


def test_lean_defaults_at_the_workspace_peak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """schedules.plan_schedules: FULLY_CONNECTED's registry default on DSP targets is simd4 x8=False (the
    input row copied to int16 in 2·Kp bytes of scratch), its lean alternative x8 (no scratch). Operators on
    their default whose step is at the workspace peak get the lean alternative when re-planning shrinks
    the workspace (memory first). AD: 640-128-128-128-128-8-128-128-128-128-640, inputs/outputs in the
    caller's buffers: op 0's 1280 B copy is the peak (1408 B) and goes lean (512 B); the 128-input layers'
    256 B copies are the peak then and go lean too (512 B, then 384 B); the 8-input layer (op 5, 16 B copy)
    stays under the 2 x 128 B of activations: workspace 256 B. With the speed-first thresholds
    (LEAN_MIN_BYTES 512, LEAN_MIN_SAVING 16) only op 0 goes lean (512 B). All ten take int16 weights first
    (``w16_defaults``: AD's 264,192 weights fit the 512 KiB flash budget), the lean choice keeps them."""
    from microaot.ops._schedule import lean_schedule
    from microaot.schedules import plan_schedules, w16_defaults
    from microaot.tune.tuner import build_groups

    ad = load_tflite(mlperf_model("ad"))
    simd4, x8 = {"algo": "simd4", "w16": False, "x8": False}, {"algo": "simd4", "w16": False, "x8": True}
    for op in ad.operators:
        assert space.canonical_schedule(ad, op, "cortex-m4", {}) == simd4  # the registry default
        assert lean_schedule(ad, op, "cortex-m4") == x8
        assert lean_schedule(ad, op, "generic") is None  # direct: nothing leaner
    s16, x8w = {**simd4, "w16": True}, {**x8, "w16": True}
    assert w16_defaults(ad, "cortex-m4") == {i: s16 for i in range(10)}
    # every AD layer reuses each weight once (batch 1): in operator order until the budget is spent
    assert w16_defaults(ad, "cortex-m4", budget=81920 + 6 * 16384) == {i: s16 for i in range(8)}
    with monkeypatch.context() as mp:
        mp.setattr(space, "LEAN_MIN_BYTES", 512)
        mp.setattr(space, "LEAN_MIN_SAVING", 16)
        plan, sched = plan_schedules(ad, "cortex-m4")
        assert sched == {0: x8w, **{i: s16 for i in range(1, 10)}}
        assert plan.workspace_size == 512 and set(plan.scratch) == set(range(1, 10))
    plan, sched = plan_schedules(ad, "cortex-m4")
    assert sched == {**{i: x8w for i in range(10) if i != 5}, 5: s16}
    assert plan.workspace_size == 256 and plan.scratch == {5: 144}
    r = compile_model(mlperf_model("ad"), tmp_path / "ad", target="cortex-m4")
    src = r.sources[0].read_text()
    assert r.workspace_size == 256 and r.plan.scratch == plan.scratch
    assert (src.count("uaot_fully_connected_s8_simd4_x8_w16(") == 9
            and src.count("uaot_fully_connected_s8_simd4_w16(") == 1)
    # what the tuner and m4run measure as the default is what that build runs
    defaults = space.default_schedules(ad, "cortex-m4")
    assert defaults == sched
    assert space.default_schedule(ad, ad.operators[5], "cortex-m4") == s16
    assert space.candidates(ad, ad.operators[0], "cortex-m4")[0] == x8w
    assert space.candidates(ad, ad.operators[1], "cortex-m4")[0] == x8w  # the lean default comes first
    assert space.candidates(ad, ad.operators[0], "cortex-m4", simd4)[0] == simd4
    for g in build_groups(ad, "cortex-m4", 4).values():
        assert g.default == defaults[g.op_indices[0]], g.op_indices
    # an explicit schedule is left alone; op 0's copy is then the peak (1280 + 128 B) and every other
    # layer's copy fits under it: all keep the faster default (int16 weights)
    plan, sched = plan_schedules(ad, "cortex-m4", {0: {"x8": False}})
    assert sched == {0: {"x8": False}, **{i: s16 for i in range(1, 10)}}
    assert plan.workspace_size == 1408 and set(plan.scratch) == set(range(10))
    r16 = compile_model(mlperf_model("ad"), tmp_path / "ad16", target="cortex-m4", schedules={0: {"x8": False}})
    assert r16.workspace_size == 1408 and "uaot_fully_connected_s8_simd4_x8" not in r16.sources[0].read_text()
    assert plan_schedules(ad, "generic")[1] == {}
    kws = load_tflite(mlperf_model("kws"))
    fc = next(op for op in kws.operators if op.opcode == "FULLY_CONNECTED")
    assert space.default_schedule(kws, fc, "cortex-m4") == {**simd4, "w16": True}  # at the end: below the peak


def test_lean_defaults_keep_ic_within_the_ram_target(monkeypatch: pytest.MonkeyPatch) -> None:
    """IC: its second 3x3 conv (op 2, 32x32x16) runs at the workspace peak; gemm cols=2 there shrinks the
    workspace by 288 of 34,656 bytes (0.8 %) for ~25 % more instructions on the layer. Memory first: the default
    takes it (the RAM target, tests/test_inplace.py); with the speed-first thresholds (1/16, 512 B) it would not."""
    from microaot.schedules import plan_schedules

    ic = load_tflite(mlperf_model("ic"))
    plan, sched = plan_schedules(ic, "cortex-m4")
    assert sched[2] == {"algo": "gemm", "cols": 2, "w16": True} and plan.workspace_size == 34656 - 288
    monkeypatch.setattr(space, "LEAN_MIN_BYTES", 512)
    monkeypatch.setattr(space, "LEAN_MIN_SAVING", 16)
    fast, sched = plan_schedules(ic, "cortex-m4")
    assert sched[2] == {"algo": "gemm", "cols": 3, "w16": True} and fast.workspace_size == 34656


def test_lean_defaults_in_rounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """plan_schedules on CONV 3x3 8->8 -> CONV 3x3 8->8 -> FC 288->10 (6x6x8 activations of 288 B, Kp 72):
    the peak (864 B) is at the FC (288 B input + its 576 B int16 copy) and conv 1 (in place): both go
    lean at once (720 B: conv 0's cols=3 scratch, 432 B, is the peak now), then conv 0 (672 B). With
    conv 1 pinned to cols=3, the FC's x8 alone would save 48 of 864 B (less than 1/16): with LEAN_MIN_SAVING 16
    everything keeps its faster default (int16 weights everywhere). Bit-exact on the host either way. With
    LEAN_MIN_BYTES 512 nothing goes lean (864 B)."""
    from microaot.hostbuild import build_model_shared_lib
    from microaot.schedules import plan_schedules
    from test_tune_run import two_conv_fc_model

    path = tmp_path / "tiny.tflite"
    path.write_bytes(two_conv_fc_model())
    g = load_tflite(path)
    cols2 = {"algo": "gemm", "cols": 2, "w16": True}  # int16 weights by default (w16_defaults), lean kept them
    fc8 = {"algo": "simd4", "w16": True, "x8": True}
    with monkeypatch.context() as mp:
        mp.setattr(space, "LEAN_MIN_BYTES", 512)
        plan, sched = plan_schedules(g, "cortex-m4")
        assert sched == {0: {**cols2, "cols": 3}, 1: {**cols2, "cols": 3}, 2: {**fc8, "x8": False}}
        assert plan.workspace_size == 864
    monkeypatch.setattr(space, "LEAN_MIN_SAVING", 16)
    plan, sched = plan_schedules(g, "cortex-m4")
    assert sched == {0: cols2, 1: cols2, 2: fc8}
    assert plan.workspace_size == 672 and plan.scratch == {0: 384, 1: 384} and set(plan.inplace_ops) == {1}
    assert plan_schedules(g, "cortex-m4", {2: {"x8": False}})[0].workspace_size == 864  # the FC copy: peak
    plan, sched = plan_schedules(g, "cortex-m4", {1: {"cols": 3}})
    assert sched == {1: {"cols": 3}, 0: {**cols2, "cols": 3}, 2: {**fc8, "x8": False}} and plan.workspace_size == 864
    assert plan_schedules(g, "cortex-m4", {1: {"cols": 3}, 2: {"x8": True}})[0].workspace_size == 816
    xs = [np.random.default_rng(s).integers(-128, 128, size=(1, 6, 6, 8), dtype=np.int8) for s in range(3)]
    ref = run_reference(path, [[x] for x in xs])
    for tag, pinned in (("d", None), ("p", {1: {"cols": 3}})):
        r = compile_model(path, tmp_path / tag, target="cortex-m4", schedules=pinned)
        assert r.workspace_size == (672 if pinned is None else 864)
        lib = build_model_shared_lib(r, tmp_path / tag)
        assert _same([run_compiled(r, lib, [x]) for x in xs], ref), tag


def test_scratch_follows_the_schedule(tmp_path: Path) -> None:
    path = mlperf_model("ic")
    g = load_tflite(path)
    convs = [op.index for op in g.operators if op.opcode in ("CONV_2D", "FULLY_CONNECTED")]
    direct = compile_model(path, tmp_path / "d", target="cortex-m4", schedules={i: {"algo": "direct"} for i in convs})
    fast = compile_model(path, tmp_path / "f", target="cortex-m4")
    # the ADDs' int8 rescale tables are const (flash): no ADD has scratch
    assert set(direct.plan.scratch) == set()
    assert set(fast.plan.scratch) == set(convs)


def test_fused_requant_formula_is_exact() -> None:
    """The fused requantization of fc_fast.c / conv_fast.c / dw_fast.c: SMMLAR(A << l1, m, bias) +
    (A >> 31), >> r equals uaot_rq_smmulr ((y + bias + (y >> 31)) >> r, y = SMMULR(A << l1, m)) on the
    rows rq_table emits (m > 0 and r >= 1 on live channels; a constant channel as {0, 0, 1, 1 + 2q}),
    over accumulators allowed by fast_requant_ok."""
    from microaot.ops._pack import fast_requant_ok, rq_table

    rng = np.random.default_rng(3)
    mults = [0, 1 << 30, (1 << 31) - 1, 1518500250, 0]
    shifts = [0, -1, -22, -7, -3]
    rows = np.ones((len(mults), 1), np.int64)
    fb = np.zeros(len(mults), np.int64)
    assert fast_requant_ok(fb, rows, mults, shifts)
    for zp in (-128, -5, 0, 77, 127):
        table = rq_table(mults, shifts, zp, fb, rows)
        for m, l1, r, bias in table.reshape(-1, 4).tolist():
            assert m >= 0 and r >= 1
            acc = np.concatenate([rng.integers(-(1 << 29), 1 << 29, 4000), np.arange(-300, 300)]).astype(np.int64)
            a = acc << l1
            y = (a * m + (1 << 31)) >> 32  # SMMULR
            want = (y + bias + (y >> 31)) >> r
            got = ((bias << 32) + a * m + (1 << 31) >> 32) + (a >> 31) >> r  # SMMLAR, sign of A
            assert np.array_equal(got, want), (m, r, zp)
            if m == 0:
                assert np.all(want == zp)
    assert not fast_requant_ok(np.zeros(1, np.int64), np.ones((1, 1), np.int64), [-5], [-3])


@needs_qemu
@pytest.mark.parametrize("name", ["fc_b2_24x8", "fc_44x7_pc", "fc_b2_36x5"])
def test_fc_x8_unaligned_input_on_qemu_m4(models: Any, name: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """x8 reads the caller's input directly: LDRD pairs when it is 4-aligned (the default firmware),
    LDR per group otherwise; here the input buffers start 1 byte past a 16-aligned address."""
    import re

    main_c = m4run._main_c  # noqa: SLF001

    def unaligned(result: Any, inputs: Any, groups: Any = None) -> str:
        def sub(m: re.Match[str]) -> str:
            name_, n, body = m.group(1), int(m.group(2)), m.group(3)
            return (f"static const uint8_t {name_}_raw[{n + 1}] __attribute__((aligned(16))) = {{\n0, {body}\n}};\n"
                    f"#define {name_} ({name_}_raw + 1)")
        return re.sub(r"static const uint8_t (in_\d+_\d+)\[(\d+)\] __attribute__\(\(aligned\(16\)\)\) = "
                      r"\{\n(.*?)\n\};", sub, main_c(result, inputs, groups), flags=re.S)

    monkeypatch.setattr(m4run, "_main_c", unaligned)
    path, xs, ref = models[name]
    for w16 in (False, True):
        r = compile_model(path, tmp_path / f"w{w16}", target="cortex-m4",
                          schedules={0: {"algo": "simd4", "x8": True, "w16": w16}})
        assert "_op0_rq[" in r.sources[0].read_text()
        build = tmp_path / f"w{w16}" / "m4"
        run = m4run.run_m4(r, xs, build, timeout=60)
        assert "_raw + 1" in (build / "m4main.c").read_text()
        assert _same(run.outputs, ref), f"{name} w16={w16}: unaligned input differs from TFLM on Cortex-M4"


def test_first_layer_default_wexp_scratch_matches_c(models: Any, tmp_path: Path) -> None:
    """in_c % 4 != 0: the default gemm is cols=3 without wexp (flash: see conv_default; in_c == 1: the patch
    kernel), wexp is a candidate; with wexp (uaot_conv2d_s8_gemm_c3_wx) the planner's scratch (conv.py
    _conv_scratch) equals the C macro UAOT_CONV_GEMM3_WX_SCRATCH, and without it UAOT_CONV_GEMM3_SCRATCH; the
    weights stay int8 in flash (the packed K order: _pack.gemm_k_order)."""
    import subprocess

    from microaot.hostbuild import compile_c
    from microaot.ops._pack import gemm_k_order
    from microaot.ops.conv import _conv_scratch

    assert list(gemm_k_order(3, 9)) == [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21,
                                        22, 23, 24, 25, 8, 17, 26]
    assert list(gemm_k_order(10, 4)) == list(range(40))
    shapes = []
    for name in ("conv_c3_s2_vww", "conv_c1_3x3_s2", "conv_c2_3x3_odd", "conv_c5_3x2_s21", "conv_kws_10x4"):
        path = models[name][0]
        g = load_tflite(path)
        op = g.operators[0]
        # the registry default (alone in its model, the conv's scratch is the peak: the build default is lean);
        # one input channel: the patch kernel (conv1ch.c)
        want = {"algo": "patch"} if name in ("conv_c1_3x3_s2", "conv_kws_10x4") else {"algo": "gemm", "cols": 3,
                                                                                       "w16": False}
        assert space.canonical_schedule(g, op, "cortex-m4", {}) == want
        assert {"algo": "gemm", "cols": 3, "w16": False, "wexp": True} in space.candidates(g, op, "cortex-m4")
        w = g.tensors[op.inputs[1]]
        oc, kh, kw, ic = (int(d) for d in w.shape)
        gemm3 = {"algo": "gemm", "cols": 3, "w16": False}
        shapes.append((kh * kw * ic, ic, oc, _conv_scratch(g, op, "cortex-m4", {**gemm3, "wexp": True}),
                       _conv_scratch(g, op, "cortex-m4", {**gemm3, "wexp": False})))
        r = compile_model(path, tmp_path / name, target="cortex-m4", schedules={0: {**gemm3, "wexp": True}})
        src = r.sources[0].read_text()
        assert "uaot_conv2d_s8_gemm_c3_wx(" in src and "wgemm16" not in src
    c = tmp_path / "scratch.c"
    c.write_text("#include <stdio.h>\n#include \"microaot/kernels/conv_fast.h\"\nint main(void) {\n" + "".join(
        f'    printf("%d %d\\n", (int)UAOT_CONV_GEMM3_WX_SCRATCH({k}, {ic}, {oc}), (int)UAOT_CONV_GEMM3_SCRATCH({k}, '
        f'{ic}));\n'
        for k, ic, oc, _, _ in shapes) + "    return 0;\n}\n")
    exe = compile_c([c], tmp_path / "scratch", kind="exe")
    got = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")
    assert [tuple(int(v) for v in line.split()) for line in got if line] == [(s1, s0) for *_, s1, s0 in shapes]


def test_x16_offered_where_legal_scratch_matches_c(models: Any, tmp_path: Path) -> None:
    """x16 is a candidate exactly where conv.py x16_ok holds (stride_w * in_c in 16, 32, 64, (k_w * in_c) % 16
    == 0: not conv3x3_s2_c8_pt, 3 * 8), emits the entry point of its S, and the planner's scratch equals the C
    macro UAOT_CONV_X16_SCRATCH."""
    import subprocess

    from microaot.ops.conv import _conv_scratch

    want = {"x16_c16_same_odd": 32, "x16_c32_s2_dead": 128, "x16_c16_5x2_relu6": 32, "x16_b2_c8_s12": 32,
            "conv3x3_s2_c8_pt": None, "conv3x3_same_c3": None, "conv1x1_b2_c12": None, "conv_dilated_valid": None}
    rows = []
    for name, step in want.items():
        g = load_tflite(models[name][0])
        op = g.operators[0]
        algos = {c["algo"] for c in space.candidates(g, op, "cortex-m4")}
        assert ("x16" in algos) == (step is not None), name
        if step is None:
            with pytest.raises(MicroaotError, match=r"knob algo='x16' is not legal on target cortex-m4"):
                space.canonical_schedule(g, op, "cortex-m4", {"algo": "x16"})
            continue
        assert space.canonical_schedule(g, op, "cortex-m4", {"algo": "x16", "cols": 1}) == {"algo": "x16", "w16": False}
        r = compile_model(models[name][0], tmp_path / name, target="cortex-m4", schedules={0: {"algo": "x16",
                                                                                               "w16": True}})
        assert f"uaot_conv2d_s8_x16_s{step}_w16(" in r.sources[0].read_text()
        x, w, y = (g.tensors[t] for t in (op.inputs[0], op.inputs[1], op.outputs[0]))
        kh, kw, ic = int(w.shape[1]), int(w.shape[2]), int(x.shape[3])
        sw = int(op.options.get("stride_w", 1))
        rows.append((kh, int(y.shape[2]), sw, kw, ic, _conv_scratch(g, op, "cortex-m4", {"algo": "x16"})))
    c = tmp_path / "scratch.c"
    c.write_text(
        '#include <stdio.h>\n#include "microaot/kernels/conv_fast.h"\nint main(void) {\n'
        + "".join(
            f'    printf("%d\\n", (int)UAOT_CONV_X16_SCRATCH({kh}, UAOT_DW_PADDED_W({ow}, {sw}, {kw}, 1), {kw}, '
            f'{ic}));\n'
            for kh, ow, sw, kw, ic, _ in rows
        )
        + "    return 0;\n}\n"
    )
    exe = compile_c([c], tmp_path / "scratch", kind="exe")
    got = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert [int(v) for v in got] == [r[-1] for r in rows]
