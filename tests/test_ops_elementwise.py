"""Elementwise operators (issue 18) against TFLM: every operator x dtype TFLM runs it with, broadcasting,
extreme quantization, int16, bool.

Single-operator models from ``microaot.testing.modelgen`` (``ew_binary_model``, ``ew_unary_model``,
``select_v2_model``, ``cast_model``), all compiled at once and run on the host (``testing.batch``),
TFLM in a few child processes. Integer and bool outputs must be byte-identical. float32 outputs must
be within the operator's ulp bound of docs/operators.md (0 = bit-exact; EXP/LOG/ELU/... call
microaot's own crt/include/microaot/fmath.h where TFLM calls the host's libm); the largest ulp
distance seen per operator is reported by ``test_float_ulp_report``.

RELU_N1_TO_1 and RELU_0_TO_1 have no TFLM kernel: they are checked against TFLite's definition
(float clamp; int8 QuantizedReluX) computed here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from microaot.fidelity import ULP_BOUND, ulp_distance
from microaot.frontend.tflite import import_tflite_bytes
from microaot.ir.quant import quantize_multiplier, tflite_round
from microaot.ops._tflm_math import mbqm
from microaot.testing import modelgen as mg
from microaot.testing.batch import compile_and_build, run_reference_many

NOT_IN_TFLM = ("RELU_N1_TO_1", "RELU_0_TO_1")
SEEDS = (0, 1)
N_SETS = 3


@dataclass(frozen=True)
class Case:
    op: str
    name: str
    dtype: str
    build: Callable[[np.random.Generator], bytes]
    # "positive": float inputs > 0 (LOG, SQRT, RSQRT); "nonnegative": integer inputs >= 0 (int16 RSQRT);
    # "nonzero_b": divisor != its zero point
    domain: str = "any"
    seed: int = 0

    @property
    def id(self) -> str:
        return f"{self.op}-{self.name}-{self.dtype}-s{self.seed}"


BIN_SHAPES: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = [
    ("same", (1, 4, 5, 3), (1, 4, 5, 3)),
    ("scalar_b", (2, 3, 4), (1,)),
    ("bcast4d", (1, 4, 1, 3), (2, 1, 5, 1)),
    ("bcast_rank2_4", (5, 3), (2, 1, 1, 3)),
]


def _cases() -> list[Case]:
    out: list[Case] = []

    def add(op: str, name: str, dtype: str, build: Callable[[np.random.Generator], bytes], domain: str = "any",
            seeds: tuple[int, ...] | None = None) -> None:
        # quantized cases: two seeds (random scales and zero points); others: one
        for s in seeds or (SEEDS if dtype in ("int8", "int16") else SEEDS[:1]):
            out.append(Case(op, name, dtype, build, domain, s))

    def binary(op: str, dtypes: tuple[str, ...], shapes: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
               **kw: object) -> None:
        for dt in dtypes:
            for name, sa, sb in shapes:
                dom = "nonzero_b" if op == "DIV" else "any"
                add(op, name + "".join(f"_{k}" for k in kw), dt,
                    lambda r, op=op, dt=dt, sa=sa, sb=sb: mg.ew_binary_model(  # type: ignore[misc]
                        r, op=op, shape_a=sa, shape_b=sb, dtype=dt, **kw), dom)

    for op in ("SUB", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE"):
        binary(op, ("float32", "int32", "int8", "int16"), BIN_SHAPES)
    binary("DIV", ("float32", "int32", "int8"), BIN_SHAPES)
    # rank 5 and 6 broadcasting, as far as TFLM's kernel goes
    for op, dts in (("SUB", ("float32", "int8", "int16")), ("MAXIMUM", ("float32", "int8")),
                    ("MINIMUM", ("int16",)), ("DIV", ("float32", "int8"))):
        binary(op, dts, [("bcast5d", (2, 1, 3, 1, 2), (1, 2, 1, 4, 1)),
                         ("bcast6d", (2, 1, 3, 1, 2, 1), (1, 2, 1, 2, 1, 3))])
    binary("SUB", ("float32", "int8", "int16"), BIN_SHAPES[:1], activation="RELU6")
    binary("DIV", ("float32", "int8"), BIN_SHAPES[2:3], activation="RELU")
    binary("SUB", ("int8",), BIN_SHAPES[2:3], const_b=True)
    # a rank-0 constant operand (a converter's scalar)
    for op in ("SUB", "MAXIMUM", "MINIMUM", "DIV"):
        binary(op, ("int8", "float32"), [("rank0_const", (2, 3, 4), ())], const_b=True)
    binary("DIV", ("int8", "float32"), BIN_SHAPES[:1], const_b=True)
    # extreme quantization: input scales 1000x apart, a narrow output range (saturation)
    add("SUB", "scales_1000x", "int8", lambda r: mg.ew_binary_model(
        r, op="SUB", shape_a=(1, 8, 8), shape_b=(1, 8, 8), a_q=mg.Quant.per_tensor(0.001, 5),
        b_q=mg.Quant.per_tensor(1.0, -3), out_q=mg.Quant.per_tensor(0.05, 10)))
    add("SQUARED_DIFFERENCE", "scales_100x", "int8", lambda r: mg.ew_binary_model(
        r, op="SQUARED_DIFFERENCE", shape_a=(4, 16), shape_b=(16,), a_q=mg.Quant.per_tensor(0.01, -20),
        b_q=mg.Quant.per_tensor(1.0, 7), out_q=mg.Quant.per_tensor(2.0, -128)))
    add("DIV", "tiny_out_scale", "int8", lambda r: mg.ew_binary_model(
        r, op="DIV", shape_a=(2, 32), shape_b=(2, 32), a_q=mg.Quant.per_tensor(0.5, 0),
        b_q=mg.Quant.per_tensor(0.01, -100), out_q=mg.Quant.per_tensor(0.001, 0)), "nonzero_b")
    for op in mg.COMPARISONS:
        dts = ("float32", "int32", "int8") + (("bool",) if op in ("EQUAL", "NOT_EQUAL") else ())
        binary(op, dts, [BIN_SHAPES[0], BIN_SHAPES[2]])
    for op in ("LOGICAL_AND", "LOGICAL_OR"):
        binary(op, ("bool",), [BIN_SHAPES[0], BIN_SHAPES[2]])
    for dt in ("float32", "int8", "int16"):
        adt = "int8" if dt == "int16" else dt
        add("PRELU", "alpha_c", dt, lambda r, dt=dt, adt=adt: mg.ew_binary_model(
            r, op="PRELU", shape_a=(1, 4, 5, 6), shape_b=(1, 1, 6), dtype=dt, b_dtype=adt, const_b=True))
        add("PRELU", "alpha_full", dt, lambda r, dt=dt, adt=adt: mg.ew_binary_model(
            r, op="PRELU", shape_a=(1, 3, 4, 2), shape_b=(1, 3, 4, 2), dtype=dt, b_dtype=adt, const_b=True))
    for dt in ("float32", "int8", "int16"):
        add("SELECT_V2", "same", dt, lambda r, dt=dt: mg.select_v2_model(
            r, shape_c=(2, 3, 4), shape_a=(2, 3, 4), shape_b=(2, 3, 4), dtype=dt))
        add("SELECT_V2", "bcast", dt, lambda r, dt=dt: mg.select_v2_model(
            r, shape_c=(1, 3, 1), shape_a=(2, 1, 4), shape_b=(4,), dtype=dt))
        add("SELECT_V2", "bcast5d", dt, lambda r, dt=dt: mg.select_v2_model(
            r, shape_c=(2, 1, 3, 1, 1), shape_a=(1, 2, 1, 1, 3), shape_b=(2, 2, 1, 4, 1), dtype=dt))

    def unary(op: str, dtypes: tuple[str, ...], shape: tuple[int, ...] = (2, 8, 16), domain: str = "any",
              name: str = "", **kw: object) -> None:
        for dt in dtypes:
            add(op, name or "x".join(map(str, shape)), dt, lambda r, dt=dt: mg.ew_unary_model(  # type: ignore[misc]
                r, op=op, shape=shape, dtype=dt, **kw), domain)

    unary("ABS", ("float32", "int8", "int16"))
    unary("ABS", ("int8",), name="same_q", same_q=True)
    unary("ABS", ("int16",), name="not_quantized", quantized=False)
    for op in ("NEG", "EXP", "SQUARE"):
        unary(op, ("float32",))
    for op in ("LOG", "SQRT"):
        unary(op, ("float32",), domain="positive")
    unary("RSQRT", ("float32",), domain="positive")
    for zp_q in (mg.Quant.per_tensor(0.02, -128), mg.Quant.per_tensor(0.3, -128)):
        unary("RSQRT", ("int8",), name=f"in_scale{zp_q.scale[0]}", in_q=zp_q)
    unary("RSQRT", ("int16",), domain="nonnegative")
    unary("ELU", ("float32", "int8"))
    unary("HARD_SWISH", ("float32", "int8"))
    unary("HARD_SWISH", ("int8",), name="wide_in", in_q=mg.Quant.per_tensor(0.5, 3))
    for alpha in (0.2, 1.7, -0.5):
        unary("LEAKY_RELU", ("float32", "int8", "int16"), name=f"alpha{alpha}", alpha=alpha)
    for op in NOT_IN_TFLM:
        unary(op, ("float32", "int8"))
    # the float kernels of LOGISTIC, TANH, SOFTMAX call fmath.h too: checked against their ulp bounds
    for op in ("LOGISTIC", "TANH"):
        add(op, "2x8x16", "float32", lambda r, op=op: mg.unary_model(r, op=op, shape=(2, 8, 16), dtype="float32"))
    add("SOFTMAX", "4x10", "float32", lambda r: mg.unary_model(r, op="SOFTMAX", shape=(4, 10), dtype="float32"))
    add("SOFTMAX", "2x100_beta0.5", "float32", lambda r: mg.unary_model(
        r, op="SOFTMAX", shape=(2, 100), dtype="float32", beta=0.5))
    unary("LOGICAL_NOT", ("bool",))
    unary("ZEROS_LIKE", ("float32", "int32"))
    for src in ("float32", "int8", "int16", "int32", "bool"):
        for dst in ("float32", "int8", "int16", "int32", "bool"):
            if src != dst:
                add("CAST", f"to_{dst}", src, lambda r, s=src, d=dst: mg.cast_model(
                    shape=(3, 7), in_dtype=s, out_dtype=d), seeds=(0,))  # type: ignore[arg-type]
    return out


CASES = _cases()


def _inputs(model: bytes, case: Case, rng: np.random.Generator) -> list[list[np.ndarray]]:
    g = import_tflite_bytes(model, "case")
    tens = [g.tensors[t] for t in g.inputs]

    def one(k: int, t: object, exhaustive: bool) -> np.ndarray:
        shape, dt = t.shape, t.dtype  # type: ignore[attr-defined]
        if dt == "float32":
            x = rng.normal(0.0, 3.0, size=shape).astype(np.float32)
            if case.domain == "positive":
                x = (np.abs(x) + np.float32(1e-3)).astype(np.float32)
            if case.dtype != "float32":  # CAST from float: stay in the target range
                x = np.clip(x * 20, -100, 100).astype(np.float32)
            if case.op == "CAST" and exhaustive:
                x = np.resize(np.array([0.0, -0.0, 0.5, -0.5, 1.99, -1.99, 3.0], np.float32), shape)
            return x
        if dt == "bool":
            return rng.integers(0, 2, size=shape).astype(np.bool_)
        info = np.iinfo(np.dtype(dt))
        lo, hi = (-1000, 1000) if dt == "int32" else (int(info.min), int(info.max))
        if exhaustive and dt in ("int8", "int16"):
            x = np.resize(np.linspace(info.min, info.max, num=256 if dt == "int8" else 1024).round(), shape)
            x = x.astype(dt)
        else:
            x = rng.integers(lo, hi + 1, size=shape).astype(dt)
        if case.domain == "nonnegative":
            x = np.abs(x.astype(np.int64)).clip(0, hi).astype(dt)
        if case.domain == "nonzero_b" and k == 1:
            zp = t.quant.zp0 if t.quant is not None else 0  # type: ignore[attr-defined]
            x = np.where(x == zp, zp + 1 if zp < hi else zp - 1, x).astype(dt)
        if dt == "int32" and case.op == "CAST":
            x = rng.integers(-300, 300, size=shape).astype(np.int32)
        return x

    sets = [[one(k, t, False) for k, t in enumerate(tens)] for _ in range(N_SETS)]
    sets.append([one(k, t, True) for k, t in enumerate(tens)])
    return sets


def _python_reference(model: bytes, sets: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """TFLite's RELU_N1_TO_1 / RELU_0_TO_1 (no TFLM kernel): float clamp; int8 QuantizedReluX."""
    g = import_tflite_bytes(model, "case")
    op = g.operators[0].opcode
    lo, hi = (-1.0, 1.0) if op == "RELU_N1_TO_1" else (0.0, 1.0)
    x_t, y_t = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
    out = []
    for (x,) in sets:
        if x.dtype == np.float32:
            out.append([np.minimum(np.maximum(x, np.float32(lo)), np.float32(hi)).astype(np.float32)])
            continue
        assert x_t.quant is not None and y_t.quant is not None
        si, zi = float(np.float32(x_t.quant.scale0)), x_t.quant.zp0
        so, zo = float(np.float32(y_t.quant.scale0)), y_t.quant.zp0
        m, s = quantize_multiplier(si / so)
        qlo = max(-128, zo + tflite_round(float(np.float32(lo) / np.float32(so))))
        qhi = min(127, zo + tflite_round(float(np.float32(hi) / np.float32(so))))
        y = [min(qhi, max(qlo, zo + mbqm(int(v) - zi, m, s))) for v in x.reshape(-1)]
        out.append([np.array(y, dtype=np.int8).reshape(x.shape)])
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, object]]:
    root = tmp_path_factory.mktemp("ew")
    paths: list[Path] = []
    inputs: list[list[list[np.ndarray]]] = []
    models: list[bytes] = []
    for i, c in enumerate(CASES):
        rng = np.random.default_rng([c.seed, i])
        m = c.build(rng)
        p = root / f"case{i}.tflite"
        p.write_bytes(m)
        paths.append(p)
        models.append(m)
        inputs.append(_inputs(m, c, rng))
    built = compile_and_build(paths, root / "build")
    tflm_idx = [i for i, c in enumerate(CASES) if c.op not in NOT_IN_TFLM]
    refs_tflm = run_reference_many([paths[i] for i in tflm_idx], [inputs[i] for i in tflm_idx])
    refs: dict[int, object] = dict(zip(tflm_idx, refs_tflm, strict=True))
    out: dict[str, tuple[object, object]] = {}
    for i, (c, b, ins) in enumerate(zip(CASES, built, inputs, strict=True)):
        ref = refs[i] if i in refs else _python_reference(models[i], ins)
        if isinstance(b, Exception):
            out[c.id] = (b, ref)
            continue
        try:
            ours: object = [b.run(s) for s in ins]
        except Exception as e:
            ours = e
        out[c.id] = (ours, ref)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_elementwise_matches_tflm(case: Case, results: dict[str, tuple[object, object]]) -> None:
    ours, ref = results[case.id]
    if isinstance(ref, Exception):
        pytest.fail(f"TFLM failed on the generated model: {str(ref)[-800:]}")
    if isinstance(ours, Exception):
        pytest.fail(f"microaot failed: {type(ours).__name__}: {ours}")
    assert isinstance(ours, list) and isinstance(ref, list)
    bound = ULP_BOUND.get(case.op, 0)
    for si, (o_set, r_set) in enumerate(zip(ours, ref, strict=True)):
        assert len(o_set) == len(r_set)
        for o_k, r_k in zip(o_set, r_set, strict=True):
            o, r = np.asarray(o_k).reshape(-1), np.asarray(r_k).reshape(-1)
            assert o.dtype == r.dtype and o.size == r.size, f"set {si}: {o.dtype}{o.shape} vs {r.dtype}{r.shape}"
            if o.dtype == np.float32:
                d = ulp_distance(o, r)
                worst = int(d.max(initial=0))
                bad = np.nonzero(d > bound)[0]
                assert bad.size == 0, (f"set {si}: {bad.size}/{o.size} floats beyond {bound} ulp (max {worst}); "
                                       f"first at {bad[:6].tolist()}: ours {o[bad[:6]].tolist()} "
                                       f"TFLM {r[bad[:6]].tolist()}")
            else:
                bad = np.nonzero(o != r)[0]
                assert bad.size == 0, (f"set {si}: {bad.size}/{o.size} values differ; first at {bad[:8].tolist()}: "
                                       f"ours {o[bad[:8]].tolist()} TFLM {r[bad[:8]].tolist()}")


def test_float_ulp_report(results: dict[str, tuple[object, object]]) -> None:
    """The largest ulp distance from TFLM seen per float32 operator, within docs/operators.md's bound
    (printed with -s; an operator with a bound must have been compared at all)."""
    seen: dict[str, int] = {}
    for c in CASES:
        ours, ref = results[c.id]
        if c.dtype != "float32" or c.op == "CAST" or isinstance(ours, Exception) or isinstance(ref, Exception):
            continue
        assert isinstance(ours, list) and isinstance(ref, list)
        for o_set, r_set in zip(ours, ref, strict=True):
            for o, r in zip(o_set, r_set, strict=True):
                o, r = np.asarray(o).reshape(-1), np.asarray(r).reshape(-1)
                if o.dtype == np.float32 and o.size == r.size:
                    seen[c.op] = max(seen.get(c.op, 0), int(ulp_distance(o, r).max(initial=0)))
    print("largest float32 ulp distance from TFLM per operator:",
          ", ".join(f"{k} {v}" for k, v in sorted(seen.items())))
    assert {"EXP", "LOG", "ELU", "SQRT", "RSQRT", "LOGISTIC", "TANH", "SOFTMAX"} <= set(seen)
    over = {k: v for k, v in seen.items() if v > ULP_BOUND.get(k, 0)}
    assert not over, f"beyond the documented ulp bound: {over}"


@pytest.mark.parametrize("cc", ["gcc", "arm-none-eabi-gcc"])
def test_float_math_needs_no_libm(cc: str, tmp_path: Path) -> None:
    """The elementwise, activation and softmax families build -Wall -Wextra -Werror -pedantic and call no
    libm (fmath.h): only memset/memcpy and, on Cortex-M, libgcc's soft-double helpers (__aeabi_*)."""
    import shutil
    import subprocess

    from microaot.paths import crt_root

    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{crt_root() / 'include'}"]
    if cc.startswith("arm-"):
        flags += ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    nm = "arm-none-eabi-nm" if cc.startswith("arm-") else "nm"
    for fam in ("elementwise", "activation", "softmax"):
        obj = tmp_path / f"{fam}.o"
        proc = subprocess.run([cc, *flags, "-c", str(crt_root() / "kernels" / f"{fam}.c"), "-o", str(obj)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"{cc} {fam}.c:\n{proc.stderr}"
        syms = subprocess.run([nm, "-u", str(obj)], capture_output=True, text=True, check=True).stdout.split()
        undefined = {s for s in syms if s not in ("U", "w") and not s.startswith("__aeabi_")}
        assert undefined <= {"memset", "memcpy"}, f"{fam}.c needs {sorted(undefined)}"


def _m4_sample() -> list[Case]:
    """One case per operator (its int8 one where it has one), the int16 SUB and LEAKY_RELU, and every
    float32 operator whose kernel calls fmath.h (ulp bound > 0, SQRT, RSQRT)."""
    out: dict[tuple[str, str], Case] = {}
    for c in CASES:
        if c.seed != SEEDS[0] or c.op == "CAST":
            continue
        fm = c.dtype == "float32" and (c.op in ULP_BOUND or c.op in ("SQRT", "RSQRT"))
        if fm or (c.dtype == "int16" and c.op in ("SUB", "LEAKY_RELU")):
            out.setdefault((c.op, c.dtype), c)
        prev = out.get((c.op, ""))
        if prev is None or (prev.dtype != "int8" and c.dtype == "int8"):
            out[(c.op, "")] = c
    return list(out.values())


@pytest.mark.qemu
@pytest.mark.slow
def test_elementwise_on_cortex_m4_identical_to_host(results: dict[str, tuple[object, object]],
                                                     tmp_path: Path) -> None:
    """A sample on QEMU mps2-an386 (arm-none-eabi-gcc, hard float): every output byte-identical to the host
    build's (float32 included: fmath.h, no libm) and so within the ulp bounds of TFLM."""
    from concurrent.futures import ThreadPoolExecutor

    from microaot.compiler import compile_model

    m4run = pytest.importorskip("microaot.testing.m4run")
    if not m4run.available():
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm missing")
    sample = _m4_sample()
    idx = {c.id: i for i, c in enumerate(CASES)}

    def run(c: Case) -> str | None:
        i = idx[c.id]
        rng = np.random.default_rng([c.seed, i])
        model = c.build(rng)
        ins = _inputs(model, c, rng)
        host, _ = results[c.id]
        if isinstance(host, Exception):
            return f"{c.id}: host build failed: {host}"
        p = tmp_path / f"m{i}.tflite"
        p.write_bytes(model)
        try:
            r = compile_model(p, tmp_path / f"src{i}", name=f"ew{i}", target="cortex-m4")
            res = m4run.run_m4(r, ins, tmp_path / f"fw{i}")
        except Exception as e:
            return f"{c.id}: {type(e).__name__}: {str(e)[-1200:]}"
        assert isinstance(host, list)
        for si, (d_set, h_set) in enumerate(zip(res.outputs, host, strict=True)):
            for d, h in zip(d_set, h_set, strict=True):
                if np.asarray(d).tobytes() != np.asarray(h).tobytes():
                    return f"{c.id} set {si}: Cortex-M4 output differs from the host's"
        return None

    with ThreadPoolExecutor(max_workers=2) as ex:
        errors = [e for e in ex.map(run, sample) if e]
    assert not errors, f"{len(errors)} of {len(sample)} models differ:\n" + "\n".join(errors)


def test_elementwise_ops_run_in_place(tmp_path: Path) -> None:
    """LEAKY_RELU, HARD_SWISH and SUB (over a same-shape input) offer the planner their output over their
    input: in a chain, it takes them (the workspace holds one tensor), and the outputs still match TFLM."""
    from microaot.compiler import compile_model

    q = mg.Quant.per_tensor(0.05, -3)
    mb = mg.ModelBuilder()
    x = mb.add_input("x", (1, 16, 16, 8), "int8", quant=q)
    t0 = mb.add_tensor("t0", (1, 16, 16, 8), "int8", quant=mg.Quant.per_tensor(0.1, 0))
    mb.add_operator("MAXIMUM", [x, x], [t0], mg.TableOptions("MaximumMinimumOptions"))
    t1 = mb.add_tensor("t1", (1, 16, 16, 8), "int8", quant=mg.Quant.per_tensor(0.04, 5))
    mb.add_operator("LEAKY_RELU", [t0], [t1], mg.TableOptions("LeakyReluOptions", (("Alpha", 0.3),)))
    t2 = mb.add_tensor("t2", (1, 16, 16, 8), "int8", quant=mg.Quant.per_tensor(0.03, -10))
    mb.add_operator("HARD_SWISH", [t1], [t2], mg.TableOptions("HardSwishOptions"))
    c = mb.add_const("c", np.arange(8, dtype=np.int8), "int8", quant=mg.Quant.per_tensor(0.02, 1))
    t3 = mb.add_tensor("t3", (1, 16, 16, 8), "int8", quant=mg.Quant.per_tensor(0.05, 0))
    mb.add_operator("SUB", [t2, c], [t3], mg.TableOptions("SubOptions", (("FusedActivationFunction", 0),)))
    y = mb.add_tensor("y", (1, 16, 16, 8), "int8", quant=mg.Quant.per_tensor(0.05, 0))
    mb.add_operator("ABS", [t3], [y], mg.TableOptions("AbsOptions"))
    mb.set_outputs([y])
    p = tmp_path / "chain.tflite"
    p.write_bytes(mb.to_bytes())
    r = compile_model(p, tmp_path / "gen")
    assert {1, 2, 3} <= set(r.plan.inplace_ops), r.plan.inplace_ops
    assert r.workspace_size == 16 * 16 * 8
    rng = np.random.default_rng(9)
    sets = [[rng.integers(-128, 128, size=(1, 16, 16, 8)).astype(np.int8)] for _ in range(3)]
    (built,) = compile_and_build([p], tmp_path / "build")
    (ref,) = run_reference_many([p], [sets])
    assert not isinstance(built, Exception) and not isinstance(ref, Exception)
    for s, rr in zip(sets, ref, strict=True):
        assert np.array_equal(built.run(s)[0].reshape(-1), np.asarray(rr[0]).reshape(-1))


def test_bool_through_rpc_io(tmp_path: Path) -> None:
    """A model with a bool graph input and a bool output (LOGICAL_AND of GREATER(a, b) and c) on the host RPC
    board: INFO reports bool (dtype 6), invoke takes and returns numpy bool arrays, equal to TFLM."""
    from microaot.compiler import compile_model
    from microaot.reference import run_reference
    from microaot.rpc.hostboard import start_host_board

    mb = mg.ModelBuilder()
    a = mb.add_input("a", (2, 5), "float32")
    b = mb.add_input("b", (5,), "float32")
    c = mb.add_input("c", (2, 5), "bool")
    g = mb.add_tensor("gt", (2, 5), "bool")
    mb.add_operator("GREATER", [a, b], [g], mg.TableOptions("GreaterOptions"))
    y = mb.add_tensor("y", (2, 5), "bool")
    mb.add_operator("LOGICAL_AND", [g, c], [y], mg.TableOptions("LogicalAndOptions"))
    mb.set_outputs([y])
    p = tmp_path / "bool_io.tflite"
    p.write_bytes(mb.to_bytes())
    rng = np.random.default_rng(3)
    sets = [[rng.normal(size=(2, 5)).astype(np.float32), rng.normal(size=(5,)).astype(np.float32),
             rng.integers(0, 2, size=(2, 5)).astype(np.bool_)] for _ in range(3)]
    ref = run_reference(p, sets)
    r = compile_model(p, tmp_path / "gen")
    s = start_host_board(r, tmp_path / "board", timeout=20.0)
    try:
        info = s.hello()
        assert [t.dtype for t in info.inputs] == ["float32", "float32", "bool"]
        assert [t.dtype for t in info.outputs] == ["bool"]
        for xs, rr in zip(sets, ref, strict=True):
            ys, _ = s.invoke(xs)
            assert ys[0].dtype == np.bool_
            assert np.array_equal(ys[0].reshape(-1), np.asarray(rr[0]).reshape(-1))
    finally:
        s.close()


def test_ulp_distance_and_model_bound() -> None:
    from microaot.fidelity import model_ulp_bound

    one = np.float32(1.0)
    nxt = np.nextafter(one, np.float32(2.0), dtype=np.float32)
    tiny = np.float32(1e-45)
    a = np.array([one, 0.0, np.nan, -tiny, 3.0], np.float32)
    b = np.array([nxt, -0.0, np.nan, tiny, 3.0], np.float32)
    assert ulp_distance(a, b).tolist() == [1, 0, 0, 2, 0]
    assert model_ulp_bound(["CONV_2D", "LOGISTIC", "EXP"]) == 3 and model_ulp_bound(["ADD"]) == 0


def test_unsupported_dtype_is_named(tmp_path: Path) -> None:
    """int16 comparisons (TFLM computes no rescaling for them) are rejected with the file, operator, tensors
    and the types that work."""
    from microaot.compiler import compile_model
    from microaot.errors import UnsupportedModelError

    p = tmp_path / "gt16.tflite"
    p.write_bytes(mg.ew_binary_model(np.random.default_rng(0), op="GREATER", shape_a=(2, 5), shape_b=(5,),
                                     dtype="int16"))
    with pytest.raises(UnsupportedModelError) as e:
        compile_model(p, tmp_path / "gen")
    assert str(e.value) == (
        f"{p}: operator 0 (GREATER): tensor types ('a': int16, 'b': int16) not supported; GREATER needs its "
        "inputs all of one type: float32, int32, int8 (as TFLite Micro); re-export the model with one of them")


def test_multi_op_bool_intermediates_match_tflm(tmp_path: Path) -> None:
    """bool tensors inside the workspace: GREATER -> LOGICAL_NOT -> SELECT_V2, CAST(bool -> float32), SUB,
    EXP, SQUARED_DIFFERENCE, MAXIMUM. The bool output is exact, EXP's output within its 1 ulp; the last
    output only within eval's float-rounding level: (e - x)^2 amplifies EXP's ulp where e is close to x
    (the bounds are per operator, docs/operators.md)."""
    from microaot.compiler import compile_model
    from microaot.evaluate import FLOAT_ULP_LEVEL
    from microaot.fidelity import model_ulp_bound

    t = mg.TableOptions
    mb = mg.ModelBuilder()
    x = mb.add_input("x", (3, 8), "float32")
    z = mb.add_const("zero", np.zeros((8,), np.float32), "float32")
    gt = mb.add_tensor("gt", (3, 8), "bool")
    mb.add_operator("GREATER", [x, z], [gt], t("GreaterOptions"))
    le = mb.add_tensor("le", (3, 8), "bool")
    mb.add_operator("LOGICAL_NOT", [gt], [le], t("LogicalNotOptions"))
    nx = mb.add_tensor("nx", (3, 8), "float32")
    mb.add_operator("NEG", [x], [nx], t("NegOptions"))
    sel = mb.add_tensor("sel", (3, 8), "float32")
    mb.add_operator("SELECT_V2", [le, nx, x], [sel], t("SelectV2Options"))
    cf = mb.add_tensor("cf", (3, 8), "float32")
    mb.add_operator("CAST", [gt], [cf], t("CastOptions", (("InDataType", 6), ("OutDataType", 0))))
    d = mb.add_tensor("d", (3, 8), "float32")
    mb.add_operator("SUB", [sel, cf], [d], t("SubOptions", (("FusedActivationFunction", 0),)))
    e = mb.add_tensor("e", (3, 8), "float32")
    mb.add_operator("EXP", [d], [e], t("ExpOptions"))
    sq = mb.add_tensor("sq", (3, 8), "float32")
    mb.add_operator("SQUARED_DIFFERENCE", [e, x], [sq], t("SquaredDifferenceOptions"))
    y = mb.add_tensor("y", (3, 8), "float32")
    mb.add_operator("MAXIMUM", [sq, e], [y], t("MaximumMinimumOptions"))
    mb.set_outputs([y, le, e])
    p = tmp_path / "bools.tflite"
    p.write_bytes(mb.to_bytes())
    r = compile_model(p, tmp_path / "gen")
    bound = model_ulp_bound(op.opcode for op in r.graph.operators)
    assert bound == 1
    rng = np.random.default_rng(4)
    sets = [[rng.normal(0.0, 2.0, size=(3, 8)).astype(np.float32)] for _ in range(4)]
    (built,) = compile_and_build([p], tmp_path / "build")
    (ref,) = run_reference_many([p], [sets])
    assert not isinstance(built, Exception) and not isinstance(ref, Exception)
    for s, rr in zip(sets, ref, strict=True):
        ys = built.run(s)
        assert int(ulp_distance(ys[2].reshape(-1), np.asarray(rr[2]).reshape(-1)).max()) <= bound
        assert ys[1].dtype == np.bool_ and np.array_equal(ys[1].reshape(-1), np.asarray(rr[1]).reshape(-1))
        assert int(ulp_distance(ys[0].reshape(-1), np.asarray(rr[0]).reshape(-1)).max()) <= FLOAT_ULP_LEVEL
