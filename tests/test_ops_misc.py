"""Bit-exactness against TFLM of QUANTIZE/DEQUANTIZE between int8, uint8, int16, int32 and float32,
TRANSPOSE_CONV, BATCH_MATMUL, L2_NORMALIZATION and LOG_SOFTMAX (issue 18), the NaN case of QUANTIZE
(issue 20 item 8), and the model checks of the tools (weight-only quantized models).

Same method as tests/test_ops.py: one single-operator model per case and seed (``microaot.testing.modelgen``),
compiled and linked into a few shared libraries, run through ctypes and compared with TFLM run on the
same inputs. Integer outputs must be byte-identical; float32 outputs within FLOAT_RTOL of the largest
reference magnitude. Test ids read ``<OP>-<case>-<dtypes>-s<seed>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from microaot.testing import modelgen as mg
from microaot.testing.batch import compile_and_build, run_reference_many

FLOAT_RTOL = 1e-5
N_RANDOM_SETS = 3

Builder = Callable[[np.random.Generator], bytes]
_NP = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16, "int32": np.int32, "float32": np.float32}


@dataclass(frozen=True)
class Spec:
    op: str
    case: str
    dtype: str  # how the case is named (e.g. "int16->int8")
    build: Builder
    seeds: tuple[int, ...] = (0, 1)
    all_values: bool = False  # add an input set walking every int8/uint8 value (int16: a ramp)
    specials: bool = False  # float inputs: add NaN, infinities, huge values and rounding ties


def _quant_specs() -> list[Spec]:
    from microaot.ops.quantize import DEQUANTIZE_PAIRS, QUANTIZE_PAIRS

    out: list[Spec] = []

    def conv(r: np.random.Generator, op: str, a: str, b: str, ratio: float | None, shape: tuple[int, ...]) -> bytes:
        in_q = None if a == "float32" else mg.random_q(r, a)  # type: ignore[arg-type]
        if b == "float32":
            out_q = None
        elif in_q is not None and ratio is not None:
            # the output range is the input's times ``ratio``, in the output type's own units
            ref = mg.random_q(r, b)  # type: ignore[arg-type]
            lo_in = in_q.scale * {"int8": 255, "uint8": 255, "int16": 65535, "int32": 2**25}[a]
            width = {"int8": 255, "uint8": 255, "int16": 65535, "int32": 2**25}[b]
            out_q = mg.ActQ(float(np.float32(lo_in * ratio / width)), ref.zero_point)
        else:
            out_q = mg.random_q(r, b)  # type: ignore[arg-type]
        return mg.quant_convert_model(op=op, shape=shape, in_dtype=a, out_dtype=b, in_q=in_q, out_q=out_q)  # type: ignore[arg-type]

    for a, b in QUANTIZE_PAIRS:
        if a == "float32":
            out.append(Spec("QUANTIZE", "float", f"{a}->{b}",
                            lambda r, a=a, b=b: conv(r, "QUANTIZE", a, b, None, (2, 128)),
                            seeds=(0, 1, 2), specials=True))
            continue
        ratios = (("down", 0.37), ("up", 2.9), ("same", 1.0)) if (a, b) != ("int32", "int8") else (("down", 0.6),)
        for name, ratio in ratios:
            out.append(Spec("QUANTIZE", name, f"{a}->{b}",
                            lambda r, a=a, b=b, ratio=ratio: conv(r, "QUANTIZE", a, b, ratio, (2, 128)),
                            all_values=True))
    # int8 <-> uint8 with one scale and zero points 128 apart (TFLM's xor path)
    for a, b, za, zb in (("int8", "uint8", -3, 125), ("uint8", "int8", 131, 3)):
        out.append(Spec("QUANTIZE", "same_scale_shift128", f"{a}->{b}",
                        lambda r, a=a, b=b, za=za, zb=zb: mg.quant_convert_model(
                            op="QUANTIZE", shape=(1, 256), in_dtype=a, out_dtype=b,  # type: ignore[arg-type]
                            in_q=mg.ActQ(0.05, za), out_q=mg.ActQ(0.05, zb)),
                        seeds=(0,), all_values=True))
    for a, b in DEQUANTIZE_PAIRS:
        out.append(Spec("DEQUANTIZE", "plain", f"{a}->{b}",
                        lambda r, a=a, b=b: conv(r, "DEQUANTIZE", a, b, None, (3, 100)),
                        seeds=(0, 1, 2), all_values=True))
    return out


def _transpose_conv_specs() -> list[Spec]:
    cases: list[tuple[str, dict[str, object]]] = [
        ("k3s2_same", dict(input_shape=(1, 4, 5, 3), filters=4, kernel=(3, 3), stride=(2, 2))),
        ("k3s1_same", dict(input_shape=(1, 5, 4, 2), filters=3, kernel=(3, 3))),
        ("k2s2_valid", dict(input_shape=(1, 3, 4, 3), filters=2, kernel=(2, 2), stride=(2, 2), padding="VALID")),
        ("k3s2_valid", dict(input_shape=(2, 3, 3, 2), filters=3, kernel=(3, 3), stride=(2, 2), padding="VALID")),
        ("k4x3s2x1_same", dict(input_shape=(1, 4, 5, 4), filters=5, kernel=(4, 3), stride=(2, 1))),
        ("k5s3_same_odd_out", dict(input_shape=(1, 3, 3, 2), filters=2, kernel=(5, 5), stride=(3, 3),
                                   out_hw=(8, 7))),
        ("k3s2_valid_extra", dict(input_shape=(1, 3, 3, 2), filters=2, kernel=(3, 3), stride=(2, 2), padding="VALID",
                                  out_hw=(8, 8))),
        ("k1s1_pointwise", dict(input_shape=(1, 3, 3, 8), filters=6, kernel=(1, 1))),
        ("no_bias", dict(input_shape=(1, 4, 4, 3), filters=4, kernel=(3, 3), stride=(2, 2), bias=False)),
        ("per_tensor", dict(input_shape=(1, 4, 4, 3), filters=4, kernel=(3, 3), stride=(2, 2), per_channel=False)),
    ]
    out: list[Spec] = []
    for dtype, tag in (("int8", "int8"), ("int16", "int16x8"), ("float32", "float32")):
        for n, kw in cases:
            if dtype == "float32" and n == "per_tensor":
                continue
            out.append(Spec("TRANSPOSE_CONV", n, tag,
                            lambda r, kw=kw, dt=dtype: mg.transpose_conv_model(r, dtype=dt, **kw)))  # type: ignore[arg-type]
    out.append(Spec("TRANSPOSE_CONV", "bias16", "int16x8",
                    lambda r: mg.transpose_conv_model(r, input_shape=(1, 3, 3, 2), filters=3, kernel=(3, 3),
                                                      stride=(2, 2), dtype="int16", bias16=True)))
    for act in ("RELU", "RELU6", "RELU_N1_TO_1"):
        for dtype, tag in (("int8", "int8"), ("int16", "int16x8"), ("float32", "float32")):
            out.append(Spec("TRANSPOSE_CONV", act.lower(), tag,
                            lambda r, act=act, dt=dtype: mg.transpose_conv_model(
                                r, input_shape=(1, 3, 4, 2), filters=3, kernel=(3, 3), stride=(2, 2), dtype=dt,  # type: ignore[arg-type]
                                activation=act)))
    return out


def _batch_matmul_specs() -> list[Spec]:
    cases: list[tuple[str, dict[str, object]]] = [
        ("rank2", dict(lhs_shape=(3, 5), rhs_shape=(5, 4))),
        ("rank3", dict(lhs_shape=(2, 3, 6), rhs_shape=(2, 6, 4))),
        ("adj_x", dict(lhs_shape=(2, 6, 3), rhs_shape=(2, 6, 4), adj_x=True)),
        ("adj_y", dict(lhs_shape=(2, 3, 6), rhs_shape=(2, 4, 6), adj_y=True)),
        ("adj_xy", dict(lhs_shape=(1, 5, 2), rhs_shape=(1, 3, 5), adj_x=True, adj_y=True)),
        ("bcast_rhs_rank2", dict(lhs_shape=(3, 2, 4, 5), rhs_shape=(5, 3))),
        ("bcast_both", dict(lhs_shape=(2, 1, 3, 4), rhs_shape=(1, 3, 4, 2))),
        ("bcast_rank5", dict(lhs_shape=(2, 1, 2, 3, 4), rhs_shape=(1, 3, 1, 4, 2))),
        ("bcast_lhs_rank2", dict(lhs_shape=(3, 4), rhs_shape=(2, 2, 4, 5))),
        ("const_rhs", dict(lhs_shape=(1, 4, 8), rhs_shape=(8, 6), const_rhs=True)),
        ("const_rhs_adj_y", dict(lhs_shape=(2, 4, 8), rhs_shape=(2, 6, 8), adj_y=True, const_rhs=True)),
        ("deep_k", dict(lhs_shape=(2, 300), rhs_shape=(300, 3))),
    ]
    return [Spec("BATCH_MATMUL", n, dt, lambda r, kw=kw, dt=dt: mg.batch_matmul_model(r, dtype=dt, **kw))  # type: ignore[arg-type]
            for dt in ("int8", "int16", "float32") for n, kw in cases]


def _norm_specs() -> list[Spec]:
    out: list[Spec] = []
    shapes = (("rank2", (2, 16)), ("rank4", (1, 3, 4, 10)), ("depth1", (5, 1)), ("rank1", (24,)), ("wide", (1, 300)))
    for n, shape in shapes:
        for dt in ("int8", "float32"):
            out.append(Spec("L2_NORMALIZATION", n, dt, lambda r, s=shape, dt=dt: mg.l2norm_model(r, shape=s, dtype=dt),
                            all_values=True))
            out.append(Spec("LOG_SOFTMAX", n, dt,
                            lambda r, s=shape, dt=dt: mg.log_softmax_model(r, shape=s, dtype=dt), all_values=True))
    # near-zero norms (TFLM's inverse square root of 0 and 1), tiny and large input scales
    out.append(Spec("L2_NORMALIZATION", "zero_point_heavy", "int8",
                    lambda r: mg.l2norm_model(r, shape=(4, 3), in_q=mg.ActQ(0.02, 0)), seeds=(0,), specials=False,
                    all_values=True))
    for n, q in (("scale_small", mg.ActQ(0.002, 3)), ("scale_large", mg.ActQ(0.5, -10))):
        out.append(Spec("LOG_SOFTMAX", n, "int8", lambda r, q=q: mg.log_softmax_model(r, shape=(3, 40), in_q=q),
                        all_values=True))
    return out


def _fuzz_specs() -> list[Spec]:
    """Random shapes and parameters drawn from the seed."""

    def tconv(r: np.random.Generator, dtype: str) -> bytes:
        h, w, c = (int(v) for v in r.integers(1, 6, 3))
        kh, kw = int(r.integers(1, 5)), int(r.integers(1, 5))
        sh, sw = int(r.integers(1, 4)), int(r.integers(1, 4))
        padding = str(r.choice(["SAME", "VALID"]))
        base = (h * sh, w * sw) if padding == "SAME" else ((h - 1) * sh + kh, (w - 1) * sw + kw)
        # any output size whose convolution maps back to the input size
        extra = (int(r.integers(0, sh)), int(r.integers(0, sw))) if padding == "VALID" else (0, 0)
        out_hw = (base[0] + extra[0], base[1] + extra[1])
        return mg.transpose_conv_model(r, input_shape=(int(r.integers(1, 3)), h, w, c), filters=int(r.integers(1, 6)),
                                       kernel=(kh, kw), stride=(sh, sw), padding=padding, out_hw=out_hw,  # type: ignore[arg-type]
                                       dtype=dtype, per_channel=bool(r.integers(0, 2)), bias=bool(r.integers(0, 2)),  # type: ignore[arg-type]
                                       activation=str(r.choice(["NONE", "RELU", "RELU6"])))  # type: ignore[arg-type]

    def bmm(r: np.random.Generator, dtype: str) -> bytes:
        rank = int(r.integers(2, 6))
        batch = [int(d) for d in r.integers(1, 4, rank - 2)]
        m, k, n = (int(v) for v in r.integers(1, 7, 3))
        adj_x, adj_y = bool(r.integers(0, 2)), bool(r.integers(0, 2))
        ba = [d if r.random() < 0.7 else 1 for d in batch]
        bb = [d if r.random() < 0.7 else 1 for d in batch]
        la = [*ba, *((k, m) if adj_x else (m, k))]
        lb = [*bb, *((n, k) if adj_y else (k, n))]
        la = la[int(r.integers(0, len(la) - 1)):] if r.random() < 0.3 else la  # lower-rank operands
        return mg.batch_matmul_model(r, lhs_shape=tuple(la), rhs_shape=tuple(lb), adj_x=adj_x, adj_y=adj_y,
                                     dtype=dtype, const_rhs=bool(r.integers(0, 2)))  # type: ignore[arg-type]

    seeds = tuple(range(10, 16))
    out: list[Spec] = []
    for dtype, tag in (("int8", "int8"), ("int16", "int16x8"), ("float32", "float32")):
        out.append(Spec("TRANSPOSE_CONV", "fuzz", tag, lambda r, dt=dtype: tconv(r, dt), seeds=seeds))
    for dtype in ("int8", "int16", "float32"):
        out.append(Spec("BATCH_MATMUL", "fuzz", dtype, lambda r, dt=dtype: bmm(r, dt), seeds=seeds))
    return out


SPECS: list[Spec] = [*_quant_specs(), *_transpose_conv_specs(), *_batch_matmul_specs(), *_norm_specs(),
                     *_fuzz_specs()]


@dataclass
class Case:
    id: str
    spec: Spec
    seed: int


CASES: list[Case] = [Case(f"{s.op}-{s.case}-{s.dtype}-s{seed}", s, seed) for s in SPECS for seed in s.seeds]


def _io(model: bytes) -> tuple[list[tuple[tuple[int, ...], str]], float, int]:
    """(shape, dtype) of every graph input; scale and zero point of output 0 (1.0, 0 when float)."""
    import tflite

    names = {v: k.lower() for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
    sg = tflite.Model.GetRootAs(model, 0).Subgraphs(0)
    ins = []
    for i in range(sg.InputsLength()):
        t = sg.Tensors(sg.Inputs(i))
        ins.append((tuple(int(d) for d in t.ShapeAsNumpy()), names[t.Type()]))
    q = sg.Tensors(sg.Outputs(0)).Quantization()
    if q is not None and q.ScaleLength():
        return ins, float(q.ScaleAsNumpy()[0]), int(q.ZeroPointAsNumpy()[0])
    return ins, 1.0, 0


def random_data(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if dtype == "float32":
        return rng.normal(0.0, 3.0, size=shape).astype(np.float32)
    if dtype == "int32":
        return rng.integers(-(2**24), 2**24, size=shape).astype(np.int32)
    info = np.iinfo(_NP[dtype])
    return rng.integers(int(info.min), int(info.max) + 1, size=shape).astype(_NP[dtype])


def model_inputs(model: bytes, spec: Spec, rng: np.random.Generator) -> list[list[np.ndarray]]:
    ins, out_scale, out_zp = _io(model)
    sets = [[random_data(rng, s, d) for s, d in ins] for _ in range(N_RANDOM_SETS)]
    if spec.all_values:
        def ramp(s: tuple[int, ...], d: str) -> np.ndarray:
            n = int(np.prod(s))
            if d in ("int8", "uint8"):
                info = np.iinfo(_NP[d])
                return np.resize(np.arange(int(info.min), int(info.max) + 1), n).reshape(s).astype(_NP[d])
            if d == "int16":
                return np.linspace(-32768, 32767, n).round().reshape(s).astype(np.int16)
            if d == "int32":
                return np.linspace(-(2**25), 2**25, n).round().reshape(s).astype(np.int32)
            return random_data(rng, s, d)
        sets.append([ramp(s, d) for s, d in ins])
    if spec.specials:
        (s, _), = ins
        n = int(np.prod(s))
        k = rng.integers(-40000, 40000, size=n).astype(np.float32)
        ties = (k + np.float32(0.5)) * np.float32(out_scale)
        special = np.array([np.nan, -np.nan, np.inf, -np.inf, 3e38, -3e38, 1e10, -1e10,
                            2.1e9 * out_scale, -2.2e9 * out_scale, 0.0, -0.0], np.float32)
        ties[: special.size] = special
        sets.append([ties.reshape(s).astype(np.float32)])
    return sets


@pytest.fixture(scope="module")
def op_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, object]]:
    root = tmp_path_factory.mktemp("ops_misc")
    paths: list[Path] = []
    inputs: list[list[list[np.ndarray]]] = []
    for i, c in enumerate(CASES):
        rng = np.random.default_rng(1000 * c.seed + i % 997)
        model = c.spec.build(rng)
        p = root / f"case{i}.tflite"
        p.write_bytes(model)
        paths.append(p)
        inputs.append(model_inputs(model, c.spec, rng))
    built = compile_and_build(paths, root / "build")
    refs = run_reference_many(paths, inputs)
    out: dict[str, tuple[object, object]] = {}
    for c, b, ins, ref in zip(CASES, built, inputs, refs, strict=True):
        if isinstance(b, Exception):
            out[c.id] = (b, ref)
            continue
        try:
            ours: object = [b.run(s) for s in ins]
        except Exception as e:
            ours = e
        out[c.id] = (ours, ref)
    return out


def assert_same(ours: object, ref: object) -> None:
    if isinstance(ref, Exception):
        pytest.fail(f"TFLM failed on the generated model (a modelgen bug): {ref}")
    if isinstance(ours, Exception):
        pytest.fail(f"microaot failed: {type(ours).__name__}: {ours}")
    assert isinstance(ours, list) and isinstance(ref, list)
    for si, (o_set, r_set) in enumerate(zip(ours, ref, strict=True)):
        assert len(o_set) == len(r_set)
        for k, (o, r) in enumerate(zip(o_set, r_set, strict=True)):
            o = np.asarray(o).reshape(-1)
            r = np.asarray(r).reshape(-1)
            assert o.dtype == r.dtype and o.size == r.size, (
                f"set {si} output {k}: {o.dtype}{o.shape} vs {r.dtype}{r.shape}")
            if o.dtype != np.float32:
                diff = np.nonzero(o != r)[0]
                assert diff.size == 0, (
                    f"set {si} output {k}: {diff.size}/{o.size} values differ; first at {diff[:8].tolist()}: "
                    f"ours {o[diff[:8]].tolist()} TFLM {r[diff[:8]].tolist()}")
            else:
                scale = float(np.abs(r[np.isfinite(r)]).max(initial=0.0))
                np.testing.assert_allclose(o, r, rtol=FLOAT_RTOL, atol=FLOAT_RTOL * max(scale, 1e-30),
                                           err_msg=f"set {si} output {k}")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op_matches_tflm(case: Case, op_results: dict[str, tuple[object, object]]) -> None:
    ours, ref = op_results[case.id]
    assert_same(ours, ref)


def test_l2norm_and_log_softmax_degenerate_rows(tmp_path: Path) -> None:
    """Rows whose int8 values all equal the zero point (TFLM's inverse square root of a zero sum), rows with a
    single +-1 step (sum 1), and LOG_SOFTMAX rows of equal values / one far maximum: still TFLM's bytes."""
    q = mg.ActQ(0.05, -7)
    rows = np.array([[-7] * 6, [-6] + [-7] * 5, [-8] + [-7] * 5, [127] + [-128] * 5, [5] * 6, [-128] * 6], np.int8)
    models = [mg.l2norm_model(np.random.default_rng(0), shape=(6, 6), in_q=q),
              mg.log_softmax_model(np.random.default_rng(0), shape=(6, 6), in_q=q),
              mg.log_softmax_model(np.random.default_rng(0), shape=(6, 6), in_q=mg.ActQ(0.9, -7))]
    paths = []
    for i, m in enumerate(models):
        p = tmp_path / f"m{i}.tflite"
        p.write_bytes(m)
        paths.append(p)
    sets = [[[rows]] for _ in models]
    built = compile_and_build(paths, tmp_path / "build")
    refs = run_reference_many(paths, sets)
    for b, s, ref in zip(built, sets, refs, strict=True):
        assert not isinstance(b, Exception), b
        assert_same([b.run(x) for x in s], ref)


# --- QUANTIZE of NaN / infinities (issue 20 item 8): TFLM's host result, the same on the M4 ---------------

def _nan_models() -> list[tuple[str, bytes]]:
    out = []
    for dt, zp in (("int8", 5), ("int8", -5), ("int8", 0), ("int16", 0), ("int16", -3)):
        out.append((f"{dt}_zp{zp}", mg.quant_convert_model(op="QUANTIZE", shape=(1, 12), in_dtype="float32",
                                                           out_dtype=dt, in_q=None, out_q=mg.ActQ(0.1, zp))))  # type: ignore[arg-type]
    return out


NAN_INPUT = np.array([[np.nan, -np.nan, np.inf, -np.inf, 3e38, -3e38, 1e10, -1e10, 2.2e8, -2.2e8, 2.5, -2.5]],
                     np.float32)


def test_quantize_nan_is_tflm_host_result(tmp_path: Path) -> None:
    """NaN, infinities and values beyond int32 quantize as TFLM does on the host: the int32 conversion gives
    INT32_MIN, the zero point is added with wrap-around, then the clamp: qmin for zero point >= 0, qmax below."""
    models = _nan_models()
    paths = []
    for name, m in models:
        p = tmp_path / f"{name}.tflite"
        p.write_bytes(m)
        paths.append(p)
    built = compile_and_build(paths, tmp_path / "build")
    refs = run_reference_many(paths, [[[NAN_INPUT]]] * len(paths))
    for (name, _), b, ref in zip(models, built, refs, strict=True):
        assert not isinstance(b, Exception) and not isinstance(ref, Exception), name
        ours = b.run([NAN_INPUT])[0].reshape(-1)
        assert np.array_equal(ours, np.asarray(ref[0][0]).reshape(-1)), name
        info = np.iinfo(ours.dtype)
        special = info.min if not name.endswith(("zp-5", "zp-3")) else info.max
        assert ours[:8].tolist() == [special] * 8, name


@pytest.mark.qemu
def test_ops_misc_on_cortex_m4(tmp_path: Path) -> None:
    """A sample of these operators (first seed, one case per operator x dtype, five of the conversions) and two
    NaN models, built with arm-none-eabi-gcc and run in QEMU mps2-an386: integers byte-identical to TFLM on the
    host, floats within FLOAT_RTOL."""
    from concurrent.futures import ThreadPoolExecutor

    from microaot.compiler import compile_model

    m4run = pytest.importorskip("microaot.testing.m4run")
    if not m4run.available():
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm missing")
    conversions = {"float32->int8", "float32->int16", "int16->int8", "int8->int16", "int16->float32"}
    picked: dict[tuple[str, str], Case] = {}
    for c in CASES:
        if c.seed == c.spec.seeds[0] and ("->" not in c.spec.dtype or c.spec.dtype in conversions):
            picked.setdefault((c.spec.op, c.spec.dtype), c)
    models: list[tuple[str, bytes, list[list[np.ndarray]]]] = []
    for i, c in enumerate(picked.values()):
        rng = np.random.default_rng(500 + i)
        m = c.spec.build(rng)
        models.append((c.id, m, model_inputs(m, c.spec, rng)[:2]))
    models += [(f"nan_{n}", m, [[NAN_INPUT]]) for n, m in _nan_models() if n in ("int8_zp5", "int16_zp-3")]
    paths = []
    for i, (_, m, _) in enumerate(models):
        p = tmp_path / f"m{i}.tflite"
        p.write_bytes(m)
        paths.append(p)
    refs = run_reference_many(paths, [m[2] for m in models])

    def run(i: int) -> str | None:
        cid, _, ins, = models[i]
        try:
            r = compile_model(paths[i], tmp_path / f"src{i}", name=f"m4m{i}", target="cortex-m4")
            res = m4run.run_m4(r, ins, tmp_path / f"fw{i}")
            assert_same(res.outputs, refs[i])
        except BaseException as e:  # collect every failure (pytest.fail raises a BaseException)
            return f"{cid}: {type(e).__name__}: {str(e)[-800:]}"
        return None

    with ThreadPoolExecutor(max_workers=2) as ex:
        errors = [e for e in ex.map(run, range(len(models))) if e]
    assert not errors, f"{len(errors)} of {len(models)} models differ on the M4:\n" + "\n".join(errors)


# --- the tools: microaot ops / inspect / eval on models microaot cannot compile -------------------------


def test_ops_lists_declared_dtypes(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from microaot import ops as opreg
    from microaot.cli import main

    assert main(["ops", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)["operators"]
    assert table == {op: list(opreg.declared_dtypes(op)) for op in opreg.supported_ops()}
    assert table["TRANSPOSE_CONV"] == ["float32", "int8", "int16x8"]
    assert table["BATCH_MATMUL"] == ["float32", "int8", "int16"]
    assert "float32->int16" in table["QUANTIZE"] and "int16->float32" in table["DEQUANTIZE"]
    assert "float32->uint8" not in table["QUANTIZE"]  # TFLM has no such kernel either
    assert main(["ops"]) == 0
    text = capsys.readouterr().out
    width = max(len(op) for op in table) + 1  # one column for every name, the longest included
    assert f"\n{'LOG_SOFTMAX':<{max(22, width)}} float32, int8\n" in text


def _weight_only_fc(path: Path) -> None:
    """float32 input -> FULLY_CONNECTED with int8 weights (dynamic-range quantization) -> float32."""
    rng = np.random.default_rng(0)
    mb = mg.ModelBuilder()
    x = mb.add_input("x", (1, 8), "float32")
    wq, wquant = mg.quantize_weights(rng.normal(0, 1, (4, 8)), None)
    w = mb.add_const("w_int8", wq, "int8", quant=wquant)
    b = mb.add_const("b", np.zeros(4, np.float32), "float32")
    y = mb.add_tensor("y", (1, 4), "float32")
    mb.add_operator("FULLY_CONNECTED", [x, w, b], [y])
    mb.set_outputs([y])
    path.write_bytes(mb.to_bytes())


def _many_problems(path: Path) -> None:
    """op 0 weight-only FULLY_CONNECTED; op 1 QUANTIZE float32 -> uint8 (no such kernel); op 2 int8 LOG_SOFTMAX
    whose output quantization TFLM refuses; op 3 a supported RELU."""
    rng = np.random.default_rng(0)
    mb = mg.ModelBuilder()
    x = mb.add_input("x", (1, 8), "float32")
    wq, wquant = mg.quantize_weights(rng.normal(0, 1, (4, 8)), None)
    w = mb.add_const("w_int8", wq, "int8", quant=wquant)
    t1 = mb.add_tensor("fc", (1, 4), "float32")
    mb.add_operator("FULLY_CONNECTED", [x, w, -1], [t1])
    t2 = mb.add_tensor("q", (1, 4), "uint8", quant=mg.ActQ(0.1, 128).quant)
    mb.add_operator("QUANTIZE", [t1], [t2])
    x2 = mb.add_input("x2", (1, 4), "int8", quant=mg.ActQ(0.1, 0).quant)
    t3 = mb.add_tensor("ls", (1, 4), "int8", quant=mg.ActQ(0.1, 0).quant)
    mb.add_operator("LOG_SOFTMAX", [x2], [t3], mg.LogSoftmaxOptions())
    t4 = mb.add_tensor("r", (1, 4), "int8", quant=mg.ActQ(0.1, 0).quant)
    mb.add_operator("RELU", [x2], [t4])
    mb.set_outputs([t2, t3, t4])
    path.write_bytes(mb.to_bytes())


def test_weight_only_model_error(tmp_path: Path) -> None:
    from microaot.compiler import compile_model
    from microaot.errors import UnsupportedModelError

    p = tmp_path / "dynamic_range.tflite"
    _weight_only_fc(p)
    with pytest.raises(UnsupportedModelError) as ei:
        compile_model(p, tmp_path / "out")
    assert str(ei.value) == (
        f"{p}: operator 0 (FULLY_CONNECTED): the model is weight-only (dynamic-range) quantized: float32 "
        "activations with int8 weights ('w_int8'); neither TFLite Micro nor microaot runs such hybrid operators. "
        "Re-export it fully quantized (TFLiteConverter with optimizations=[tf.lite.Optimize.DEFAULT], a "
        "representative_dataset and target_spec.supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8]) or as "
        "float32 (no optimizations)")


def test_inspect_lists_every_problem_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from microaot.cli import main

    p = tmp_path / "broken.tflite"
    _many_problems(p)
    assert main(["inspect", str(p)]) == 2
    text = capsys.readouterr().out
    tail = text[text.index("not compilable"):]
    assert tail == (
        "not compilable: 3 problem(s)\n"
        "  operator 0 (FULLY_CONNECTED, float32): weight-only (dynamic-range) quantized: float32 activations with "
        "quantized weights (TFLM refuses it too); re-export full-integer or float32\n"
        "  operator 1 (QUANTIZE, float32->uint8): dtypes float32->uint8 not supported; supported: "
        "float32->int8, float32->int16, int8->int8, int8->uint8, int8->int16, int8->int32, uint8->int8, "
        "int16->int8, int16->int16, int16->int32, int32->int8, int32->int16\n"
        "  operator 2 (LOG_SOFTMAX, int8): int8 output must have scale 16/256 and zero point 127, as TFLM "
        "requires (got 0.10000000149011612, 0)\n")
    assert main(["inspect", str(p), "--json"]) == 2
    info = json.loads(capsys.readouterr().out)
    assert info["compilable"] is False
    assert [(q["index"], q["op"], q["dtypes"]) for q in info["problems"]] == [
        (0, "FULLY_CONNECTED", "float32"), (1, "QUANTIZE", "float32->uint8"), (2, "LOG_SOFTMAX", "int8")]
    assert [o["supported"] for o in info["operators"]] == [False, False, False, True]
    good = tmp_path / "good.tflite"
    good.write_bytes(mg.batch_matmul_model(np.random.default_rng(0), lhs_shape=(2, 3), rhs_shape=(3, 4)))
    assert main(["inspect", str(good)]) == 0
    assert "BATCH_MATMUL         int8" in capsys.readouterr().out


def test_eval_rejects_unsupported_model_before_building(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """No PlatformIO project is written or built; the error names the model path once and every problem."""
    from microaot.cli import main
    from microaot.pio import project as pio_project

    def no_build(*a: object, **k: object) -> None:
        raise AssertionError("a PlatformIO build started")

    monkeypatch.setattr(pio_project, "write_project", no_build)
    monkeypatch.setattr(pio_project, "build", no_build)
    p = tmp_path / "broken.tflite"
    _many_problems(p)
    assert main(["eval", str(p), "--board", "host", "--work-dir", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert err.count(str(p)) == 1
    assert err.startswith(f"error: {p}: cannot compile this model, 3 problem(s):\n"
                          "  operator 0 (FULLY_CONNECTED, float32): weight-only")
    assert "building" not in err
    assert not (tmp_path / "w").exists()


@pytest.mark.pio
def test_pio_run_rejects_unsupported_model_before_compiling(tmp_path: Path) -> None:
    """`pio run` stops in the code-generation step with every problem, naming the model path once; no source
    file was compiled."""
    from microaot.errors import BuildError
    from microaot.pio.project import build, write_project

    model = tmp_path / "broken.tflite"
    _many_problems(model)
    proj = write_project(tmp_path / "p", "host", model=model)
    with pytest.raises(BuildError) as ei:
        build(proj, "host")
    msg = str(ei.value)
    err = msg[msg.rindex("microaot: error:"):]  # the build log's tail (the BuildError starts with a summary)
    assert err.startswith(f"microaot: error: {model.resolve()}: cannot compile this model, 3 problem(s):\n"
                          "  operator 0 (FULLY_CONNECTED, float32): weight-only")
    assert err.count(str(model.resolve())) == 1
    assert not list((proj / ".pio").rglob("*.o"))


@pytest.mark.pio
def test_int16_int32_model_io_over_rpc(tmp_path: Path) -> None:
    """A model whose inputs and outputs are int16 and int32 (QUANTIZE int32->int16, BATCH_MATMUL int16 with
    adj_y, QUANTIZE int16->int32) evaluated through the host board's RPC server: bit-exact with TFLM."""
    import json

    from microaot.cli import main

    mb = mg.ModelBuilder()
    a = mb.add_input("a16", (2, 3, 4), "int16", quant=mg.ActQ(0.001, 0).quant)
    b = mb.add_input("b32", (2, 4), "int32", quant=mg.ActQ(0.0005, 0).quant)
    bq = mb.add_tensor("b16", (2, 4), "int16", quant=mg.ActQ(0.002, 0).quant)
    mb.add_operator("QUANTIZE", [b], [bq])
    y = mb.add_tensor("y16", (2, 3, 2), "int16", quant=mg.ActQ(2000.0, 0).quant)
    mb.add_operator("BATCH_MATMUL", [a, bq], [y], mg.BatchMatMulOptions(False, True))
    y32 = mb.add_tensor("y32", (2, 3, 2), "int32", quant=mg.ActQ(0.5, 0).quant)
    mb.add_operator("QUANTIZE", [y], [y32])
    mb.set_outputs([y, y32])
    model = tmp_path / "io16.tflite"
    model.write_bytes(mb.to_bytes())
    report = tmp_path / "r.json"
    assert main(["eval", str(model), "--board", "host", "--work-dir", str(tmp_path / "w"), "--json", str(report)]) == 0
    rep = json.loads(report.read_text())
    assert rep["outputs_match"] is True and rep["tensors_match"] is True and rep["mismatches"] == []
    assert rep["compared_bytes"] == 3 * (12 * 2 + 12 * 4)


MISC_FAMILIES = ("quantize", "transpose_conv", "batch_matmul", "l2norm", "log_softmax")


@pytest.mark.parametrize("cc", ["gcc", "arm-none-eabi-gcc"])
def test_misc_kernel_families_compile_clean(cc: str, tmp_path: Path) -> None:
    """C99 -Wall -Wextra -Werror -pedantic on the host and the Cortex-M4, at -O0 and -O2; the only external
    symbols are libm's (no malloc/free/printf)."""
    import shutil
    import subprocess

    from microaot.paths import crt_root

    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    nm = "arm-none-eabi-nm" if cc.startswith("arm-") else "nm"
    cpu = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"] if cc.startswith("arm-") else []
    for fam in MISC_FAMILIES:
        for opt in ("-O0", "-O2"):
            obj = tmp_path / f"{fam}{opt}.o"
            proc = subprocess.run([cc, *cpu, opt, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                                   f"-I{crt_root() / 'include'}", "-c", str(crt_root() / "kernels" / f"{fam}.c"),
                                   "-o", str(obj)], capture_output=True, text=True, check=False)
            assert proc.returncode == 0, f"{cc} {opt} {fam}.c:\n{proc.stderr}"
            syms = subprocess.run([nm, "-u", str(obj)], capture_output=True, text=True, check=True).stdout.split()
            undefined = {s for s in syms if s not in ("U", "w")}
            assert undefined <= {"expf", "logf", "sqrtf", "roundf", "__aeabi_ldivmod", "__aeabi_lmul",
                                 "__aeabi_llsl", "__aeabi_lasr"}, f"{fam}.c ({opt}) needs {sorted(undefined)}"


def test_every_declared_dtype_is_tested() -> None:
    """The dtype table `microaot ops` prints for these operators is what the bit-exactness cases cover."""
    from microaot import ops as opreg

    for op in ("QUANTIZE", "DEQUANTIZE", "TRANSPOSE_CONV", "BATCH_MATMUL", "L2_NORMALIZATION", "LOG_SOFTMAX"):
        tested = {s.dtype for s in SPECS if s.op == op}
        assert tested == set(opreg.declared_dtypes(op)), op


def test_inspect_lists_control_flow_with_the_other_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A control-flow operator stops the compile at import; inspect keeps going and lists it with the rest."""
    from microaot.cli import main
    from microaot.compiler import compile_model
    from microaot.errors import UnsupportedModelError

    rng = np.random.default_rng(0)
    mb = mg.ModelBuilder()
    x = mb.add_input("x", (1, 8), "float32")
    wq, wquant = mg.quantize_weights(rng.normal(0, 1, (4, 8)), None)
    t1 = mb.add_tensor("fc", (1, 4), "float32")
    mb.add_operator("FULLY_CONNECTED", [x, mb.add_const("w_int8", wq, "int8", quant=wquant), -1], [t1])
    mb.add_operator("CALL_ONCE", [], [])
    mb.set_outputs([t1])
    p = tmp_path / "cf.tflite"
    p.write_bytes(mb.to_bytes())
    with pytest.raises(UnsupportedModelError, match=r"operator 1 \(CALL_ONCE\): control flow is not supported"):
        compile_model(p, tmp_path / "out")
    assert main(["inspect", str(p)]) == 2
    out = capsys.readouterr().out
    assert "not compilable: 2 problem(s)\n  operator 0 (FULLY_CONNECTED, float32): weight-only" in out
    assert out.endswith("  operator 1 (CALL_ONCE, ?): control flow is not supported (single-subgraph models "
                        "without control flow; a CALL_ONCE whose init subgraph only assigns constants to resource "
                        "variables is supported)\n")


def test_dequantized_constant_weights_run_as_float(tmp_path: Path) -> None:
    """int8 weights stored as a constant DEQUANTIZE feeding a float FULLY_CONNECTED (what TFLM does run, unlike
    hybrid operators): compiled, and the same floats as TFLM."""
    rng = np.random.default_rng(0)
    mb = mg.ModelBuilder()
    x = mb.add_input("x", (2, 8), "float32")
    wq, wquant = mg.quantize_weights(rng.normal(0, 1, (4, 8)), None)
    wf = mb.add_tensor("w_float", (4, 8), "float32")
    mb.add_operator("DEQUANTIZE", [mb.add_const("w_int8", wq, "int8", quant=wquant)], [wf])
    y = mb.add_tensor("y", (2, 4), "float32")
    mb.add_operator("FULLY_CONNECTED", [x, wf, -1], [y])
    mb.set_outputs([y])
    p = tmp_path / "deq.tflite"
    p.write_bytes(mb.to_bytes())
    sets = [[rng.normal(0, 1, (2, 8)).astype(np.float32)] for _ in range(2)]
    (built,) = compile_and_build([p], tmp_path / "build")
    (ref,) = run_reference_many([p], [sets])
    assert not isinstance(built, Exception), built
    assert_same([built.run(s) for s in sets], ref)
