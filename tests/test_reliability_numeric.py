"""Issue 20 items 4 and 7: int8 arithmetic at its limits, bit-exact with TFLM and free of undefined behaviour.

* SOFTMAX over >= 512 classes: TFLM sums the exponentials in Q12.19 and aborts (TFLITE_CHECK on the
  reciprocal's exponent) once the sum reaches 512.0; every probability is then below 1/512, half an output
  step, so the right int8 output is -128 everywhere (TFLM's own formula continued). Rows where TFLM succeeds
  must stay byte-identical; rows where it aborts must give -128 instead of UAOT_ERR_INTERNAL.
* Saturating biases (near-dead filters: bias +-(2^31 - 1)) and zero-multiplier channels with non-zero weights
  in CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED: TFLM computes in int32 with wrap-around (undefined in C,
  wrap on the hardware); the kernels must produce TFLM's result without signed overflow.

Every model runs on the host in an executable built with -fsanitize=undefined -fno-sanitize-recover=all
(the first undefined operation aborts it) and, marked qemu, on the Cortex-M4 (QEMU mps2-an386).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import record_figures
from microaot.compiler import CompileResult, compile_model
from microaot.paths import crt_root
from microaot.reference import run_reference
from microaot.testing import m4run
from microaot.testing import modelgen as mg
from microaot.testing.batch import run_reference_many

UBSAN = ["-fsanitize=undefined", "-fno-sanitize-recover=all"]

_HOST_PLATFORM = """#include <stdio.h>
#include "microaot/platform.h"
void uaot_platform_write(const uint8_t *data, size_t len) { fwrite(data, 1, len, stdout); }
uint64_t uaot_platform_timer_read(void) { return 0; }
uaot_time_unit_t uaot_platform_timer_unit(void) { return UAOT_TIME_UNIT_NS; }
"""


def run_host_ubsan(result: CompileResult, inputs: Sequence[Sequence[np.ndarray]], build_dir: Path,
                   opt: str = "-O1") -> list[list[np.ndarray]]:
    """Build the model with the host gcc under UBSan (same harness as the M4 runs: inputs baked in) and run it;
    returns the outputs per input set. Undefined behaviour aborts the run and fails here with UBSan's report."""
    build_dir.mkdir(parents=True, exist_ok=True)
    main = build_dir / "main.c"
    main.write_text(m4run._main_c(result, inputs))
    plat = build_dir / "platform.c"
    plat.write_text(_HOST_PLATFORM)
    crt = crt_root()
    exe = build_dir / f"{result.name}_ubsan"
    cmd = ["gcc", "-std=c99", opt, "-Wall", "-Wextra", "-Werror", *UBSAN, f"-I{crt / 'include'}",
           f"-I{result.header.parent}", str(main), str(plat), *map(str, result.sources),
           *map(str, result.kernel_sources), str(crt / "src" / "platform_defaults.c"), "-o", str(exe), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and "runtime error" not in proc.stderr and "done" in proc.stdout, (
        f"{exe.name} exit {proc.returncode}:\n{proc.stderr[-3000:]}\n{proc.stdout[-500:]}")
    g = result.graph
    hexes = [line[4:] for line in proc.stdout.splitlines() if line.startswith("out ")]
    outs = []
    for s in range(len(inputs)):
        row = []
        for k, t in enumerate(g.outputs):
            tt = g.tensors[t]
            row.append(np.frombuffer(bytes.fromhex(hexes[s * len(g.outputs) + k]),
                                     np.dtype(tt.dtype)).reshape(tt.shape))
        outs.append(row)
    return outs


def _qemu_ok() -> None:
    if not m4run.available():
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm missing")


# ---------------------------------------------------------------------------------------------------------
# item 4: SOFTMAX over >= 512 classes
# ---------------------------------------------------------------------------------------------------------
SM_SCALE = 0.05  # input scale of every SOFTMAX below (zero point 0)


def _softmax_model(shapes: Sequence[tuple[int, int]]) -> bytes:
    """One int8 SOFTMAX per shape (rows, depth), each with its own graph input and output."""
    mb = mg.ModelBuilder()
    q = mg.Quant.per_tensor(SM_SCALE, 0)
    outs = []
    for k, (r, d) in enumerate(shapes):
        x = mb.add_input(f"x{k}", (r, d), "int8", quant=q)
        y = mb.add_tensor(f"y{k}", (r, d), "int8", quant=mg.Quant.per_tensor(1.0 / 256.0, -128))
        mb.add_operator("SOFTMAX", [x], [y], mg.SoftmaxOptions(1.0))
        outs.append(y)
    mb.set_outputs(outs)
    return mb.to_bytes()


def _softmax_rows(rng: np.random.Generator) -> dict[int, list[tuple[str, np.ndarray, bool]]]:
    """depth -> rows (name, int8 row, TFLM succeeds). Sum of exponentials (in units of exp(0)) in comments."""
    def peaked(d: int) -> np.ndarray:  # uniform int8: sum ~ d / 12.75
        return rng.integers(-128, 128, d).astype(np.int8)

    def near_flat(d: int) -> np.ndarray:  # within +-2: sum ~ 0.9 d
        return rng.integers(-2, 3, d).astype(np.int8)

    def zeros_but_one(d: int) -> np.ndarray:  # d - 1 + exp(-6.4)
        r = np.zeros(d, np.int8)
        r[int(rng.integers(0, d))] = -128
        return r

    return {
        511: [("flat", np.zeros(511, np.int8), True), ("peaked", peaked(511), True),  # 511
              ("near_flat", near_flat(511), True)],
        512: [("flat", np.zeros(512, np.int8), False),  # exactly 512: the first sum TFLM refuses
              ("flat_but_one", zeros_but_one(512), True),  # 511.0017
              ("near_flat", near_flat(512), True), ("peaked", peaked(512), True)],
        1000: [("peaked", peaked(1000), True), ("near_flat", near_flat(1000), False),
               ("flat", np.zeros(1000, np.int8), False)],
        5000: [("peaked", peaked(5000), True),  # ~392
               ("flat", np.full(5000, 7, np.int8), False)],  # 5000: beyond int32 in Q12.19 (wraps in TFLM)
    }


def _softmax_case(tmp_path: Path) -> tuple[CompileResult, list[list[np.ndarray]],
                                           dict[int, list[tuple[str, np.ndarray, bool]]]]:
    rows = _softmax_rows(np.random.default_rng(20_4))
    depths = sorted(rows)
    path = tmp_path / "softmax_wide.tflite"
    path.write_bytes(_softmax_model([(len(rows[d]), d) for d in depths]))
    r = compile_model(path, tmp_path / "src", name="sm_wide", target="cortex-m4")
    inputs = [[np.stack([row for _, row, _ in rows[d]]) for d in depths]]
    return r, inputs, rows


def _softmax_expected(tmp_path: Path,
                      rows: dict[int, list[tuple[str, np.ndarray, bool]]]) -> dict[int, list[np.ndarray]]:
    """TFLM's output for every row where TFLM succeeds (a one-row model per depth); -128 everywhere where it
    aborts, after checking that it does abort and that -128 is the correctly rounded softmax there."""
    depths = sorted(rows)
    paths = []
    for d in depths:
        p = tmp_path / f"softmax_{d}.tflite"
        p.write_bytes(_softmax_model([(1, d)]))
        paths.append(p)
    ok_sets = [[[row[None, :]] for _, row, ok in rows[d] if ok] for d in depths]
    refs = run_reference_many(paths, ok_sets)
    expected: dict[int, list[np.ndarray]] = {}
    aborts: list[tuple[Path, np.ndarray]] = []
    for p, d, ref in zip(paths, depths, refs, strict=True):
        assert not isinstance(ref, Exception), f"TFLM failed on depth {d}: {ref}"
        it = iter(ref)
        expected[d] = []
        for name, row, ok in rows[d]:
            if ok:
                expected[d].append(np.asarray(next(it)[0]).reshape(-1))
                continue
            x = row.astype(np.float64) * SM_SCALE
            prob = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
            assert (prob * 256).max() <= 0.5 + 1e-12, (d, name)  # rounds to 0: output -128
            expected[d].append(np.full(d, -128, np.int8))
            aborts.append((p, row))

    def tflm_fails(job: tuple[Path, np.ndarray]) -> bool:
        try:
            run_reference(job[0], [[job[1][None, :]]], timeout=60)
        except Exception:
            return True
        return False

    with ThreadPoolExecutor(max_workers=2) as ex:
        failed = list(ex.map(tflm_fails, aborts))
    assert all(failed), "TFLM was expected to abort on every row whose sum of exponentials reaches 512"
    return expected


def _check_softmax(outs: list[list[np.ndarray]], rows: dict[int, list[tuple[str, np.ndarray, bool]]],
                   expected: dict[int, list[np.ndarray]], where: str) -> None:
    bad = []
    for k, d in enumerate(sorted(rows)):
        got = outs[0][k]
        for i, (name, _, ok) in enumerate(rows[d]):
            if not np.array_equal(got[i].reshape(-1), expected[d][i]):
                diff = np.nonzero(got[i].reshape(-1) != expected[d][i])[0]
                bad.append(f"depth {d} row {name} (TFLM {'ok' if ok else 'aborts'}): {diff.size} bytes differ, "
                           f"first at {diff[:4].tolist()}")
    assert not bad, f"{where}:\n" + "\n".join(bad)


def test_softmax_wide_host_ubsan(tmp_path: Path) -> None:
    r, inputs, rows = _softmax_case(tmp_path)
    expected = _softmax_expected(tmp_path, rows)
    outs = run_host_ubsan(r, inputs, tmp_path / "host")
    _check_softmax(outs, rows, expected, "host (UBSan)")
    n = sum(len(v) for v in rows.values())
    record_figures("int8 limits (issue 20.4/20.7)", {
        "softmax rows >= 512 classes checked (host)": n,
        "softmax rows TFLM aborts on": sum(1 for v in rows.values() for *_, ok in v if not ok)})


@pytest.mark.qemu
def test_softmax_wide_cortex_m4(tmp_path: Path) -> None:
    _qemu_ok()
    r, inputs, rows = _softmax_case(tmp_path)
    expected = _softmax_expected(tmp_path, rows)
    res = m4run.run_m4(r, inputs, tmp_path / "fw", timeout=120)
    _check_softmax(res.outputs, rows, expected, "Cortex-M4")
    record_figures("int8 limits (issue 20.4/20.7)", {
        "softmax rows >= 512 classes checked (M4)": sum(len(v) for v in rows.values())})


# ---------------------------------------------------------------------------------------------------------
# item 7: saturating biases and zero-multiplier channels (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED)
# ---------------------------------------------------------------------------------------------------------
I32_MAX = 2**31 - 1
IN_Q = mg.ActQ(0.05, -7)  # a non-zero input offset: the folded bias moves too
OUT_Q = mg.ActQ(0.1, 3)


def _limit_channels(rng: np.random.Generator, n: int, fan_in: int,
                    kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel int8 weight rows [n, fan_in], float32 weight scales [n] and int32 biases [n].

    kind "saturating": every other channel's bias at +-(2^31 - 1) with ordinary weights (near-dead filters as
    the converter writes them: TFLM's accumulator wraps), the rest ordinary. kind "constant": channel pairs
    (2, 3) and (6, 7) are constant: 2 and 6 with a zero multiplier (weight scale 1e-12: the requantization
    multiplier underflows to 0) and non-zero weights, 3 and 7 all-zero weights with a huge bias; the other
    channels ordinary, so the fast kernels' requantization table applies and marks those pairs."""
    w = rng.integers(-127, 128, size=(n, fan_in)).astype(np.int8)
    scales = rng.uniform(0.004, 0.02, n).astype(np.float32)
    bias = rng.integers(-3000, 3000, n).astype(np.int64)
    if kind == "saturating":
        for c in range(0, n, 2):
            bias[c] = I32_MAX if (c // 2) % 2 == 0 else -I32_MAX
    else:
        for c in (2, 6):
            if c < n:
                scales[c] = np.float32(1e-12)
                bias[c] = int(rng.integers(-2**30, 2**30))
        for c in (3, 7):
            if c < n:
                w[c] = 0
                scales[c] = np.float32(1e-9)
                bias[c] = I32_MAX if c == 3 else -I32_MAX
    return w, scales, bias.astype(np.int32)


def _add_limit_op(mb: mg.ModelBuilder, op: str, kind: str, rng: np.random.Generator, k: int) -> int:
    """One operator with its own graph input and output; returns the output tensor."""
    if op == "FULLY_CONNECTED":
        n_in, n_out = 20, 10
        w, sc, b = _limit_channels(rng, n_out, n_in, kind)
        x = mb.add_input(f"x{k}", LIMIT_SHAPES[op], "int8", quant=IN_Q.quant)
        wt = mb.add_const(f"w{k}", w, "int8", quant=mg.Quant.per_channel(sc.tolist(), 0))
        y = mb.add_tensor(f"y{k}", (2, n_out), "int8", quant=OUT_Q.quant)
        opts: mg.Options = mg.FullyConnectedOptions("NONE", False)
    elif op == "CONV_2D":
        c_in, c_out = LIMIT_SHAPES[op][3], 10
        w, sc, b = _limit_channels(rng, c_out, 9 * c_in, kind)
        x = mb.add_input(f"x{k}", LIMIT_SHAPES[op], "int8", quant=IN_Q.quant)
        wt = mb.add_const(f"w{k}", w.reshape(c_out, 3, 3, c_in), "int8", quant=mg.Quant.per_channel(sc.tolist(), 0))
        y = mb.add_tensor(f"y{k}", (1, 7, 8, c_out), "int8", quant=OUT_Q.quant)
        opts = mg.Conv2DOptions("SAME", 1, 1, "NONE")
    else:
        c = LIMIT_SHAPES[op][3]
        w, sc, b = _limit_channels(rng, c, 9, kind)
        x = mb.add_input(f"x{k}", LIMIT_SHAPES[op], "int8", quant=IN_Q.quant)
        wt = mb.add_const(f"w{k}", w.T.reshape(1, 3, 3, c), "int8", quant=mg.Quant.per_channel(sc.tolist(), 3))
        y = mb.add_tensor(f"y{k}", (1, 7, 8, c), "int8", quant=OUT_Q.quant)
        opts = mg.DepthwiseConv2DOptions("SAME", 1, 1, 1, "NONE")
    bq = mg.Quant.per_channel((np.float32(IN_Q.scale) * sc.astype(np.float64)).astype(np.float32).tolist(), 0)
    bt = mb.add_const(f"b{k}", b, "int32", quant=bq)
    mb.add_operator(op, [x, wt, bt], [y], opts)
    return y


LIMIT_SHAPES = {"CONV_2D": (1, 7, 8, 16), "DEPTHWISE_CONV_2D": (1, 7, 8, 8), "FULLY_CONNECTED": (2, 20)}
LIMIT_OPS = [(op, kind) for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
             for kind in ("saturating", "constant")]
# builds: the portable kernels, the fast kernels' defaults and other variants (on the host: their C paths)
ALT_SCHEDULES = {"CONV_2D": {"algo": "x16"}, "DEPTHWISE_CONV_2D": {"algo": "simd4"},
                 "FULLY_CONNECTED": {"algo": "simd4", "x8": True}}
LIMIT_BUILDS: list[tuple[str, str, dict[int, dict[str, object]]]] = [
    ("generic", "generic", {}), ("m4_default", "cortex-m4", {}),
    ("m4_alt", "cortex-m4", {i: dict(ALT_SCHEDULES[op]) for i, (op, _) in enumerate(LIMIT_OPS)})]


def _limit_case(tmp_path: Path) -> tuple[Path, list[list[np.ndarray]], list[list[np.ndarray]]]:
    """One model holding every (operator, kind) as an independent operator; 5 input sets (3 random, all 127,
    all -128); TFLM's outputs."""
    rng = np.random.default_rng(20_7)
    mb = mg.ModelBuilder()
    mb.set_outputs([_add_limit_op(mb, op, kind, rng, k) for k, (op, kind) in enumerate(LIMIT_OPS)])
    path = tmp_path / "limits.tflite"
    path.write_bytes(mb.to_bytes())
    shapes = [LIMIT_SHAPES[op] for op, _ in LIMIT_OPS]
    sets = [[rng.integers(-128, 128, sh).astype(np.int8) for sh in shapes] for _ in range(3)]
    sets += [[np.full(sh, v, np.int8) for sh in shapes] for v in (127, -128)]
    ref = run_reference(path, sets)
    return path, sets, ref


def _limit_diffs(outs: list[list[np.ndarray]], ref: list[list[np.ndarray]], where: str) -> list[str]:
    errors = []
    for si, (o_set, r_set) in enumerate(zip(outs, ref, strict=True)):
        for k, (op, kind) in enumerate(LIMIT_OPS):
            o, r = np.asarray(o_set[k]).reshape(-1), np.asarray(r_set[k]).reshape(-1)
            if not np.array_equal(o, r):
                d = np.nonzero(o != r)[0]
                errors.append(f"{where} {op} {kind} set {si}: {d.size} bytes differ, first {d[:6].tolist()}")
    return errors


@pytest.mark.slow  # ~30-50 s on 2 busy cores: UBSan builds of the fast kernels (conv_fast.c) take most of it
def test_saturating_bias_and_zero_multiplier_host_ubsan(tmp_path: Path) -> None:
    path, sets, ref = _limit_case(tmp_path)

    def run(b: tuple[str, str, dict[int, dict[str, object]]]) -> list[str]:
        bname, target, sched = b
        r = compile_model(path, tmp_path / f"src_{bname}", name=f"lim_{bname}", target=target, schedules=sched)
        return _limit_diffs(run_host_ubsan(r, sets, tmp_path / f"host_{bname}"), ref, f"host {bname}")

    with ThreadPoolExecutor(max_workers=2) as ex:
        errors = [e for errs in ex.map(run, LIMIT_BUILDS) for e in errs]
    assert not errors, "\n".join(errors)
    record_figures("int8 limits (issue 20.4/20.7)", {
        "saturating-bias / zero-multiplier operators x builds under UBSan": len(LIMIT_OPS) * len(LIMIT_BUILDS)})


@pytest.mark.qemu
def test_saturating_bias_and_zero_multiplier_cortex_m4(tmp_path: Path) -> None:
    _qemu_ok()
    path, sets, ref = _limit_case(tmp_path)
    builds = [b for b in LIMIT_BUILDS if b[1] != "generic"]

    def run(b: tuple[str, str, dict[int, dict[str, object]]]) -> list[str]:
        bname, target, sched = b
        r = compile_model(path, tmp_path / f"src_{bname}", name=f"limm4_{bname}", target=target, schedules=sched)
        return _limit_diffs(m4run.run_m4(r, sets, tmp_path / f"fw_{bname}", timeout=60).outputs, ref, f"M4 {bname}")

    with ThreadPoolExecutor(max_workers=2) as ex:
        errors = [e for errs in ex.map(run, builds) for e in errs]
    assert not errors, "\n".join(errors)
    record_figures("int8 limits (issue 20.4/20.7)", {
        "saturating-bias / zero-multiplier operators x builds on the M4": len(LIMIT_OPS) * len(builds)})
