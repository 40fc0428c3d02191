"""float32 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED with ``algo=fpu`` (crt/kernels/fp_fast.c) are
bit-identical with TFLM's reference kernels: on the host (the portable C of the same blocking) and on a
Cortex-M4F in QEMU (the VLDM / VMLA.F32 asm), on generated single-layer models whose shapes reach every
path of the kernels: odd channel counts (conv blocks overlapping their neighbour, depthwise tail blocks of
1-7 outputs, fewer than 4 or 8 channels), strides, dilation, SAME / VALID padding (patches gathered with
+0.0f), contiguous patches read in place (1x1, 1xK), 9-tap convolutions (3x3 on 1 channel, 3x1 on 3: the
taps held in registers, a last block of 8 overlapping), depth multipliers 1 to 7, 8, 9, 12, 16, depthwise
runs of pixel pairs down columns and along row pairs in one call, FC batch 1 (pairs of rows, an odd last
row, one row) and > 1, no bias, every fused activation (each clamp mode); one input set per model drives
sums to +-inf (clamped to +-FLT_MAX by activation NONE) and NaN.

Outputs are compared bit for bit (NaN: at the same positions; its payload is the FPU's default NaN,
which differs between x86 and Arm for the reference itself).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from microaot import ops as opreg
from microaot.compiler import compile_model
from microaot.frontend.tflite import import_tflite_bytes
from microaot.ops._geometry import conv_geometry
from microaot.schedules import default_schedule, op_space
from microaot.testing import modelgen as mg
from microaot.testing.batch import compile_and_build, run_reference_many
from microaot.toolchain import compile_c

Builder = Callable[[np.random.Generator], bytes]
F = "float32"


def _conv(**kw: object) -> Builder:
    return lambda r: mg.conv2d_model(r, dtype=F, **kw)  # type: ignore[arg-type]


def _dw(**kw: object) -> Builder:
    return lambda r: mg.depthwise_conv2d_model(r, dtype=F, **kw)  # type: ignore[arg-type]


def _fc(**kw: object) -> Builder:
    return lambda r: mg.fully_connected_model(r, dtype=F, **kw)  # type: ignore[arg-type]


CASES: dict[str, Builder] = {
    "conv3x3_same_c5_o7_relu": _conv(input_shape=(1, 9, 11, 5), filters=7, kernel=(3, 3), activation="RELU"),
    "conv3x3_s2_valid_c3_o16_relu6": _conv(input_shape=(1, 13, 12, 3), filters=16, kernel=(3, 3), stride=(2, 2),
                                           padding="VALID", activation="RELU6"),
    "conv3x3_dil2x1_c4_o6": _conv(input_shape=(1, 12, 12, 4), filters=6, kernel=(3, 3), dilation=(2, 1)),
    "conv3x3_dil1x2_c2_o5": _conv(input_shape=(1, 9, 10, 2), filters=5, kernel=(3, 3), dilation=(1, 2)),
    "conv1x1_c12_o9": _conv(input_shape=(1, 6, 5, 12), filters=9, kernel=(1, 1)),
    "conv1x5_c6_o5": _conv(input_shape=(1, 1, 20, 6), filters=5, kernel=(1, 5)),
    "conv3x3_c1_o8_n1to1": _conv(input_shape=(1, 10, 10, 1), filters=8, kernel=(3, 3), activation="RELU_N1_TO_1"),
    "conv3x3_c1_o28_relu6": _conv(input_shape=(1, 9, 7, 1), filters=28, kernel=(3, 3), activation="RELU6"),
    "conv3x3_c1_o8_s2_dil2x1_relu": _conv(input_shape=(1, 11, 9, 1), filters=8, kernel=(3, 3), stride=(2, 2),
                                          dilation=(2, 1), activation="RELU"),
    "conv3x1_c3_o16_nobias": _conv(input_shape=(1, 8, 6, 3), filters=16, kernel=(3, 1), bias=False),
    "conv3x3_o2_nobias": _conv(input_shape=(1, 7, 7, 6), filters=2, kernel=(3, 3), bias=False),
    "conv2x3_batch2_s1x2": _conv(input_shape=(2, 6, 7, 3), filters=5, kernel=(2, 3), stride=(1, 2)),
    "conv5x5_s2_c2_o4": _conv(input_shape=(1, 11, 11, 2), filters=4, kernel=(5, 5), stride=(2, 2)),
    "conv_kernel_as_wide_as_input": _conv(input_shape=(1, 6, 4, 3), filters=4, kernel=(2, 4), padding="VALID"),
    "dw3x3_c30_s2x1_dil1x2_relu6": _dw(input_shape=(1, 15, 13, 30), kernel=(3, 3), stride=(2, 1), dilation=(1, 2),
                                       activation="RELU6"),
    "dw3x3_c8_relu": _dw(input_shape=(1, 7, 6, 8), kernel=(3, 3), activation="RELU"),
    "dw3x3_c16_relu6": _dw(input_shape=(1, 8, 9, 16), kernel=(3, 3), activation="RELU6"),
    "dw1x5_c16_s1x2": _dw(input_shape=(1, 5, 17, 16), kernel=(1, 5), stride=(1, 2)),
    "dw3x3_m16_c2_relu": _dw(input_shape=(1, 7, 7, 2), kernel=(3, 3), depth_multiplier=16, activation="RELU"),
    "dw3x3_m2_c8_relu6": _dw(input_shape=(1, 6, 10, 8), kernel=(3, 3), depth_multiplier=2, activation="RELU6"),
    "dw9x1_c12_column_s2_relu": _dw(input_shape=(1, 21, 1, 12), kernel=(9, 1), stride=(2, 1), activation="RELU"),
    "dw5x1_m2_c3": _dw(input_shape=(1, 9, 6, 3), kernel=(5, 1), depth_multiplier=2),
    "dw3x3_c5_relu6_s2": _dw(input_shape=(1, 7, 8, 5), kernel=(3, 3), stride=(2, 2), activation="RELU6"),
    "dw3x3_c5": _dw(input_shape=(1, 6, 6, 5), kernel=(3, 3)),
    "dw3x3_c12_s2_valid": _dw(input_shape=(1, 9, 10, 12), kernel=(3, 3), stride=(2, 2), padding="VALID"),
    "dw3x3_m2_c6": _dw(input_shape=(1, 9, 9, 6), kernel=(3, 3), depth_multiplier=2),
    "dw3x3_m4_c3_s2": _dw(input_shape=(1, 8, 8, 3), kernel=(3, 3), depth_multiplier=4, stride=(2, 2)),
    "dw10x8_m8_c1_s2": _dw(input_shape=(1, 20, 16, 1), kernel=(10, 8), depth_multiplier=8, stride=(2, 2)),
    "dw10x4_c16_valid": _dw(input_shape=(1, 20, 12, 16), kernel=(10, 4), padding="VALID"),
    "dw5x1_c9_batch2": _dw(input_shape=(2, 8, 5, 9), kernel=(5, 1)),
    # tail blocks of 1-7 lanes (no overlap) at every pattern, multipliers 3 / 5 / 6 / 7 / 9 / 12 (blocks of dm
    # lanes, dm % 8 tails), Kx1 / 1xK runs down columns and along row pairs, the clamp left to the caller
    "dw3x3_c13_relu": _dw(input_shape=(1, 6, 7, 13), kernel=(3, 3), activation="RELU"),
    "dw1x3_c7_relu6": _dw(input_shape=(1, 5, 9, 7), kernel=(1, 3), activation="RELU6"),
    "dw3x1_c3_s2": _dw(input_shape=(1, 9, 4, 3), kernel=(3, 1), stride=(2, 2)),
    "dw5x1_m2_c5_n1to1": _dw(input_shape=(1, 11, 3, 5), kernel=(5, 1), depth_multiplier=2,
                             activation="RELU_N1_TO_1"),
    "dw3x3_m2_c3_relu6": _dw(input_shape=(1, 7, 6, 3), kernel=(3, 3), depth_multiplier=2, activation="RELU6"),
    "dw3x3_m4_c5_s2": _dw(input_shape=(1, 7, 7, 5), kernel=(3, 3), depth_multiplier=4, stride=(2, 2)),
    "dw3x3_m3_c4_relu": _dw(input_shape=(1, 6, 6, 4), kernel=(3, 3), depth_multiplier=3, activation="RELU"),
    "dw3x3_m5_c2_valid": _dw(input_shape=(1, 6, 7, 2), kernel=(3, 3), depth_multiplier=5, padding="VALID"),
    "dw1x3_m6_c2_relu6": _dw(input_shape=(1, 4, 9, 2), kernel=(1, 3), depth_multiplier=6, activation="RELU6"),
    "dw3x1_m7_c1": _dw(input_shape=(1, 9, 3, 1), kernel=(3, 1), depth_multiplier=7),
    "dw3x3_m12_c2_relu": _dw(input_shape=(1, 5, 5, 2), kernel=(3, 3), depth_multiplier=12, activation="RELU"),
    "dw2x2_m9_c1": _dw(input_shape=(1, 5, 6, 1), kernel=(2, 2), depth_multiplier=9),
    "dw3x1_c6_dil2_valid_batch2": _dw(input_shape=(2, 9, 4, 6), kernel=(3, 1), dilation=(2, 1), padding="VALID"),
    "dw1x5_c11_s2_dil2": _dw(input_shape=(1, 3, 15, 11), kernel=(1, 5), stride=(1, 2), dilation=(1, 2)),
    "dw3x3_m2_c1": _dw(input_shape=(1, 6, 5, 1), kernel=(3, 3), depth_multiplier=2),
    "dw5x1_c16_tall": _dw(input_shape=(1, 21, 3, 16), kernel=(5, 1), activation="RELU6"),
    "fc_b1_37_13_relu": _fc(input_shape=(1, 37), units=13, activation="RELU"),
    "fc_b3_64_10": _fc(input_shape=(3, 64), units=10),
    "fc_b1_64_2": _fc(input_shape=(1, 64), units=2),
    "fc_b1_33_7_relu6_nobias": _fc(input_shape=(1, 33), units=7, activation="RELU6", bias=False),
    "fc_b1_6_5_relu": _fc(input_shape=(1, 6), units=5, activation="RELU"),
    "fc_b1_20_1": _fc(input_shape=(1, 20), units=1),
    "fc_b2_9_3_nobias": _fc(input_shape=(2, 9), units=3, bias=False),
    "fc_b4_128_8_relu6": _fc(input_shape=(4, 128), units=8, activation="RELU6"),
}


def _inputs(model: bytes, rng: np.random.Generator) -> list[list[np.ndarray]]:
    g = import_tflite_bytes(model)
    shape = g.tensors[g.inputs[0]].shape
    sets = [[rng.normal(0.0, 2.0, size=shape).astype(np.float32)] for _ in range(2)]
    x = rng.normal(0.0, 2.0, size=shape).astype(np.float32)
    flat = x.reshape(-1)  # sums that overflow to +-inf, an inf input (inf - inf: NaN) and zeros
    flat[:: 17] = np.float32(3e38)
    flat[3:: 23] = -np.float32(3e38)
    flat[min(5, flat.size - 1)] = np.float32(np.inf)
    flat[1:: 13] = 0.0
    sets.append([x])
    return sets


def _same_bits(ours: np.ndarray, ref: np.ndarray) -> str | None:
    o = np.ascontiguousarray(ours, dtype=np.float32).reshape(-1)
    r = np.ascontiguousarray(ref, dtype=np.float32).reshape(-1)
    if o.shape != r.shape:
        return f"shape {o.shape} vs {r.shape}"
    nan = np.isnan(r)
    diff = np.nonzero((o.view(np.uint32) != r.view(np.uint32)) & ~(nan & np.isnan(o)))[0]
    if diff.size:
        return (f"{diff.size}/{o.size} floats differ; first at {diff[:6].tolist()}: ours {o[diff[:6]].tolist()} "
                f"TFLM {r[diff[:6]].tolist()}")
    return None


@pytest.fixture(scope="module")
def fpu_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[list[np.ndarray]], object]]:
    """case -> (model path, input sets, TFLM outputs or error)"""
    root = tmp_path_factory.mktemp("fpu")
    paths, inputs = [], []
    for i, (name, build) in enumerate(CASES.items()):
        rng = np.random.default_rng(4100 + i)
        model = build(rng)
        p = root / f"{name}.tflite"
        p.write_bytes(model)
        paths.append(p)
        inputs.append(_inputs(model, rng))
    refs = run_reference_many(paths, inputs)
    return {name: (p, ins, ref) for name, p, ins, ref in zip(CASES, paths, inputs, refs, strict=True)}


def _check(name: str, outs: list[list[np.ndarray]], ref: object) -> list[str]:
    if isinstance(ref, Exception):
        return [f"{name}: TFLM failed on the generated model (a modelgen bug): {ref}"]
    assert isinstance(ref, list)
    errs = []
    for si, (o_set, r_set) in enumerate(zip(outs, ref, strict=True)):
        e = _same_bits(np.asarray(o_set[0]), np.asarray(r_set[0]))
        if e:
            errs.append(f"{name} set {si}: {e}")
    return errs


def test_fpu_is_the_float_default_on_fpu_targets(fpu_cases: dict[str, tuple[Path, list, object]]) -> None:
    """cortex-m4 / cortex-m7 take ``fpu`` for every float32 conv / depthwise / FC; ``generic`` keeps the
    reference kernel (``fpu`` stays in its knob space for the tuner)."""
    for name, (path, _, _) in fpu_cases.items():
        g = import_tflite_bytes(path.read_bytes())
        op = g.operators[0]
        assert default_schedule(g, op, "cortex-m4") == {"algo": "fpu"}, name
        assert default_schedule(g, op, "cortex-m7") == {"algo": "fpu"}, name
        assert default_schedule(g, op, "generic") == {"algo": "direct"}, name
        assert op_space(g, op, "generic") == {"algo": ["direct", "fpu"]}, name


def test_conv_with_a_non_finite_filter_keeps_the_reference_kernel(tmp_path: Path) -> None:
    """The conv gathers padded taps as +0.0f, exact only for finite weights (0 * inf is NaN): a filter
    holding inf or NaN gets ``direct`` only."""
    model = mg.conv2d_model(np.random.default_rng(3), input_shape=(1, 5, 5, 2), filters=3, kernel=(3, 3), dtype=F)
    g = import_tflite_bytes(model)
    op = g.operators[0]
    assert op_space(g, op, "cortex-m4") == {"algo": ["direct", "fpu"]}
    w = g.tensors[op.inputs[1]]
    assert w.data is not None
    w.data = w.data.copy()
    w.data.reshape(-1)[4] = np.inf
    assert op_space(g, op, "cortex-m4") == {"algo": ["direct"]}
    assert default_schedule(g, op, "cortex-m4") == {"algo": "direct"}


def test_fpu_kernels_bit_exact_on_the_host(fpu_cases: dict[str, tuple[Path, list, object]], tmp_path: Path) -> None:
    """The host build of the cortex-m4 schedules (fp_fast.c's portable C) equals TFLM bit for bit."""
    names = list(fpu_cases)
    built = compile_and_build([fpu_cases[n][0] for n in names], tmp_path / "build", prefix="fpu", target="cortex-m4")
    errs: list[str] = []
    for name, b in zip(names, built, strict=True):
        if isinstance(b, Exception):
            errs.append(f"{name}: {type(b).__name__}: {b}")
            continue
        src = "".join(Path(s).read_text() for s in b.result.sources if str(s).endswith(".c"))  # type: ignore[attr-defined]
        if "_f32_fpu(" not in src:
            errs.append(f"{name}: the generated code does not call the fp_fast kernel")
        errs += _check(name, [b.run(s) for s in fpu_cases[name][1]], fpu_cases[name][2])
    assert not errs, "\n".join(errs)


# the QEMU sample of the default run: every kernel path (conv: patch gathered with padding and dilation,
# read in place, fewer than 4 channels, 9 taps in registers with an overlapping last block; depthwise: 2-pixel
# blocks with a tail block, rows / columns of pairs in one call (RELU6 on the bit patterns), multiplier 2
# and 8 (broadcast blocks), a 2-lane tail clamped by the caller (RELU_N1_TO_1), 6-lane broadcast blocks; FC:
# batch pairs and a lone row, batch 1 row pairs with an odd last row, one row)
SAMPLE_M4 = ("conv3x3_dil2x1_c4_o6", "conv1x1_c12_o9", "conv3x3_o2_nobias", "conv3x3_c1_o28_relu6",
             "dw3x3_c30_s2x1_dil1x2_relu6", "dw3x3_c16_relu6", "dw3x3_m2_c6", "dw10x8_m8_c1_s2", "dw5x1_m2_c5_n1to1",
             "dw1x3_m6_c2_relu6", "fc_b3_64_10", "fc_b1_20_1")
SAMPLE_OTHER = ("conv3x3_s2_valid_c3_o16_relu6", "dw3x3_c30_s2x1_dil1x2_relu6", "dw3x3_m4_c3_s2", "fc_b2_9_3_nobias")


def _on_board(fpu_cases: dict[str, tuple[Path, list, object]], names: tuple[str, ...] | list[str], board: str,
              target: str, tmp_path: Path) -> None:
    m4run = pytest.importorskip("microaot.testing.m4run")
    if not m4run.available():
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm missing")

    def run(i: int, name: str) -> list[str]:
        path, ins, ref = fpu_cases[name]
        try:
            r = compile_model(path, tmp_path / f"src{i}", name=f"fpu{i}", target=target)
            res = m4run.run_m4(r, ins, tmp_path / f"fw{i}", board=board)
        except Exception as e:
            return [f"{name}: {type(e).__name__}: {str(e)[-1500:]}"]
        return _check(name, res.outputs, ref)

    with ThreadPoolExecutor(max_workers=2) as ex:
        errs = [e for es in ex.map(lambda a: run(*a), enumerate(names)) for e in es]
    assert not errs, f"{board}:\n" + "\n".join(errs)


@pytest.mark.qemu
@pytest.mark.parametrize(("board", "target", "names"), [
    ("qemu_mps2_an386", "cortex-m4", SAMPLE_M4),  # Cortex-M4F, fpv4-sp-d16
    ("qemu_mps2_an500", "cortex-m7", SAMPLE_OTHER),  # Cortex-M7, fpv5-d16 (double-precision FPU)
    ("qemu_mps2_an505", "cortex-m4", SAMPLE_OTHER),  # Cortex-M33, fpv5-sp-d16 (its boards' kernel target)
])
def test_fpu_kernels_bit_exact_on_qemu_boards(fpu_cases: dict[str, tuple[Path, list, object]], tmp_path: Path,
                                              board: str, target: str, names: tuple[str, ...]) -> None:
    """The firmware build (arm-none-eabi-gcc -O2, hard float: the VLDM / VMLA.F32 asm) of the board's target
    equals TFLM bit for bit on QEMU, for a sample of the cases (all of them: the slow test below)."""
    _on_board(fpu_cases, names, board, target, tmp_path)


@pytest.mark.slow
@pytest.mark.qemu
def test_every_fpu_case_bit_exact_on_cortex_m4(fpu_cases: dict[str, tuple[Path, list, object]],
                                                tmp_path: Path) -> None:
    """Every case on QEMU mps2-an386 (~80 s on 2 cores)."""
    _on_board(fpu_cases, list(fpu_cases), "qemu_mps2_an386", "cortex-m4", tmp_path)


def test_conv_scratch_equals_the_kernels_size_function(fpu_cases: dict[str, tuple[Path, list, object]],
                                                       tmp_path: Path) -> None:
    """The planner's scratch for CONV_2D ``fpu`` is ``uaot_conv2d_f32_fpu_scratch_size()`` of fp_fast.h, and the
    generated call passes it; depthwise and FC ``fpu`` take none."""
    rows, want = [], []
    for name, (path, _, _) in fpu_cases.items():
        g = import_tflite_bytes(path.read_bytes())
        op = g.operators[0]
        d = opreg.get(op.opcode)
        assert d is not None and d.scratch is not None
        size = d.scratch(g, op, "cortex-m4", {})
        if op.opcode != "CONV_2D":
            assert size == 0, name
            continue
        geo = conv_geometry(g, op).params()
        fields = ", ".join(f".{k} = {v}" for k, v in geo.items())
        rows.append(f'    {{ const uaot_conv_f32_params_t q = {{{fields}}}; '
                    f'printf("%lu\\n", (unsigned long)uaot_conv2d_f32_fpu_scratch_size(&q)); }}')
        want.append(size)
        src = compile_model(path, tmp_path / name, name="m", target="cortex-m4").sources[0].read_text()
        assert f", {size}u)" in src, name
    prog = tmp_path / "sizes.c"
    prog.write_text('#include <stdio.h>\n#include "microaot/kernels/fp_fast.h"\nint main(void)\n{\n'
                    + "\n".join(rows) + "\n    return 0;\n}\n")
    exe = compile_c([prog], tmp_path / "sizes", kind="exe")
    got = [int(v) for v in subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()]
    assert got == want and all(w > 0 for w in want)
