"""Bit-exactness against TFLM of the 16x8 scheme (issue 18 deliverable 2): int16 activations (zero point 0)
with int8 weights and int64 / int32 biases, for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED.

Same method as tests/test_ops_misc.py: one single-operator model per case and seed
(``microaot.testing.modelgen``, section "issue 18: int16 (16x8)"), compiled and linked into a few shared
libraries, run through ctypes and compared byte for byte with TFLM run on the same inputs: random int16
inputs over the full range, plus a set of the extremes (-32768 / 32767 alternating) and a ramp.
Test ids read ``<OP>-<case>-int16x8-s<seed>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from microaot.testing import modelgen as mg
from microaot.testing.batch import compile_and_build, run_reference_many

Builder = Callable[[np.random.Generator], bytes]


@dataclass(frozen=True)
class Spec:
    op: str
    case: str
    build: Builder
    seeds: tuple[int, ...] = (0, 1)
    dtype: str = "int16x8"


def _conv_specs() -> list[Spec]:
    conv: list[tuple[str, dict[str, object]]] = [
        ("k3s1_same", dict(input_shape=(1, 6, 5, 3), filters=4, kernel=(3, 3))),
        ("k3s2_same", dict(input_shape=(1, 7, 6, 2), filters=5, kernel=(3, 3), stride=(2, 2))),
        ("k3x2_valid", dict(input_shape=(2, 5, 6, 3), filters=3, kernel=(3, 2), padding="VALID")),
        ("k5s2x1_same", dict(input_shape=(1, 8, 7, 2), filters=3, kernel=(5, 5), stride=(2, 1))),
        ("dil2_same", dict(input_shape=(1, 7, 7, 2), filters=3, kernel=(3, 3), dilation=(2, 2))),
        ("dil2x3_valid", dict(input_shape=(1, 8, 9, 2), filters=2, kernel=(2, 3), dilation=(2, 3), padding="VALID")),
        ("pointwise", dict(input_shape=(1, 4, 4, 16), filters=8, kernel=(1, 1))),
        ("deep_k", dict(input_shape=(1, 3, 3, 64), filters=4, kernel=(3, 3))),
        ("per_tensor", dict(input_shape=(1, 5, 5, 3), filters=4, kernel=(3, 3), per_channel=False)),
        ("no_bias", dict(input_shape=(1, 5, 5, 3), filters=4, kernel=(3, 3), bias="none")),
        ("bias32", dict(input_shape=(1, 5, 5, 3), filters=4, kernel=(3, 3), bias="int32")),
        ("saturating", dict(input_shape=(1, 5, 5, 4), filters=4, kernel=(3, 3), extreme=0.05)),
        ("tiny_output_range", dict(input_shape=(1, 4, 4, 2), filters=3, kernel=(3, 3), extreme=30.0)),
        ("relu", dict(input_shape=(1, 5, 5, 3), filters=4, kernel=(3, 3), activation="RELU")),
        ("relu6", dict(input_shape=(1, 5, 5, 3), filters=4, kernel=(3, 3), activation="RELU6")),
        ("relu_n1_to_1", dict(input_shape=(1, 5, 5, 3), filters=4, kernel=(3, 3), activation="RELU_N1_TO_1")),
    ]
    dw: list[tuple[str, dict[str, object]]] = [
        ("k3s1_same", dict(input_shape=(1, 6, 5, 4), kernel=(3, 3))),
        ("k3s2_same", dict(input_shape=(1, 7, 6, 3), kernel=(3, 3), stride=(2, 2))),
        ("k3x2_valid", dict(input_shape=(2, 5, 6, 3), kernel=(3, 2), padding="VALID")),
        ("mult2", dict(input_shape=(1, 5, 5, 3), kernel=(3, 3), depth_multiplier=2)),
        ("mult3_s2", dict(input_shape=(1, 6, 6, 2), kernel=(3, 3), depth_multiplier=3, stride=(2, 2))),
        ("dil2_same", dict(input_shape=(1, 7, 7, 3), kernel=(3, 3), dilation=(2, 2))),
        ("k5_valid", dict(input_shape=(1, 7, 8, 5), kernel=(5, 5), padding="VALID")),
        ("per_tensor", dict(input_shape=(1, 5, 5, 4), kernel=(3, 3), per_channel=False)),
        ("saturating", dict(input_shape=(1, 5, 5, 4), kernel=(3, 3), extreme=0.05)),
        ("relu6", dict(input_shape=(1, 5, 5, 4), kernel=(3, 3), activation="RELU6")),
    ]
    fc: list[tuple[str, dict[str, object]]] = [
        ("plain", dict(input_shape=(1, 40), units=10)),
        ("batches", dict(input_shape=(3, 17), units=6)),
        ("rank4_flatten", dict(input_shape=(1, 2, 3, 8), units=5)),
        ("deep", dict(input_shape=(2, 700), units=4)),
        ("per_channel", dict(input_shape=(2, 24), units=7, per_channel=True)),
        ("no_bias", dict(input_shape=(1, 30), units=8, bias="none")),
        ("bias32", dict(input_shape=(1, 30), units=8, bias="int32")),
        ("saturating", dict(input_shape=(2, 32), units=8, extreme=0.05)),
        ("relu", dict(input_shape=(2, 32), units=8, activation="RELU")),
        ("relu_n1_to_1", dict(input_shape=(2, 32), units=8, activation="RELU_N1_TO_1")),
    ]
    out = [Spec("CONV_2D", n, lambda r, kw=kw: mg.conv2d_16x8_model(r, **kw)) for n, kw in conv]  # type: ignore[arg-type]
    out += [Spec("DEPTHWISE_CONV_2D", n, lambda r, kw=kw: mg.conv2d_16x8_model(  # type: ignore[arg-type]
        r, filters=0, depthwise=True, **kw)) for n, kw in dw]
    out += [Spec("FULLY_CONNECTED", n, lambda r, kw=kw: mg.fully_connected_16x8_model(r, **kw))  # type: ignore[arg-type]
            for n, kw in fc]
    return out


def _binary_specs() -> list[Spec]:
    cases: list[tuple[str, dict[str, object]]] = [
        ("same_shape", dict(shape_a=(2, 3, 40), shape_b=(2, 3, 40))),
        ("same_scale", dict(shape_a=(1, 64), shape_b=(1, 64), same_scale=True)),
        ("bcast_row", dict(shape_a=(3, 4, 5), shape_b=(5,))),
        ("bcast_both", dict(shape_a=(2, 1, 4, 1), shape_b=(1, 3, 1, 5))),
        ("bcast_rank5", dict(shape_a=(2, 1, 2, 3, 4), shape_b=(1, 3, 1, 3, 1))),
        ("scalar", dict(shape_a=(2, 33), shape_b=(1,))),
        ("const_b", dict(shape_a=(4, 8), shape_b=(4, 8), const_b=True)),
        ("saturating", dict(shape_a=(2, 50), shape_b=(2, 50), extreme=0.1)),
        ("relu", dict(shape_a=(2, 50), shape_b=(2, 50), activation="RELU")),
        ("relu6", dict(shape_a=(2, 50), shape_b=(2, 50), activation="RELU6")),
        ("relu_n1_to_1", dict(shape_a=(2, 50), shape_b=(2, 50), activation="RELU_N1_TO_1")),
    ]
    return [Spec(op, n, lambda r, op=op, kw=kw: mg.binary_16_model(r, op=op, **kw), dtype="int16")  # type: ignore[arg-type]
            for op in ("ADD", "MUL") for n, kw in cases]


def _data_specs() -> list[Spec]:
    out: list[Spec] = []
    pools: list[tuple[str, dict[str, object]]] = [
        ("k2s2_valid", dict(input_shape=(1, 6, 6, 5), filter_hw=(2, 2), stride=(2, 2))),
        ("k3s1_same", dict(input_shape=(2, 5, 4, 3), filter_hw=(3, 3), padding="SAME")),
        ("k3s2_same", dict(input_shape=(1, 7, 6, 4), filter_hw=(3, 3), stride=(2, 2), padding="SAME")),
        ("k3x2s1x2_valid", dict(input_shape=(1, 6, 7, 3), filter_hw=(3, 2), stride=(1, 2))),
        ("global", dict(input_shape=(1, 9, 11, 6), filter_hw=(9, 11))),
        ("relu", dict(input_shape=(1, 4, 4, 3), filter_hw=(2, 2), activation="RELU")),
        ("relu6", dict(input_shape=(1, 4, 4, 3), filter_hw=(2, 2), activation="RELU6")),
        ("relu_n1_to_1", dict(input_shape=(1, 4, 4, 3), filter_hw=(2, 2), activation="RELU_N1_TO_1")),
    ]
    for op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        out += [Spec(op, n, lambda r, op=op, kw=kw: mg.pool2d_16_model(r, op=op, **kw), dtype="int16")  # type: ignore[arg-type]
                for n, kw in pools]
    pads: list[tuple[str, dict[str, object]]] = [
        ("rank4_hw", dict(shape=(1, 3, 4, 2), paddings=[(0, 0), (1, 2), (2, 1), (0, 0)])),
        ("rank2", dict(shape=(3, 5), paddings=[(1, 0), (0, 3)])),
        ("inner_axis", dict(shape=(2, 3, 4), paddings=[(0, 1), (0, 0), (3, 2)])),
        ("rank5", dict(shape=(1, 2, 2, 2, 3), paddings=[(0, 0), (1, 1), (0, 1), (1, 0), (0, 2)])),
    ]
    out += [Spec("PAD", n, lambda r, kw=kw: mg.pad_16_model(r, **kw), dtype="int16") for n, kw in pads]  # type: ignore[arg-type]
    out += [Spec("PADV2", n, lambda r, kw=kw, v=v: mg.pad_16_model(r, v2_value=v, **kw), dtype="int16")  # type: ignore[arg-type]
            for (n, kw), v in zip(pads[:2], (-32768, 1234), strict=True)]
    cats: list[tuple[str, dict[str, object]]] = [
        ("axis_last", dict(shapes=[(1, 3, 4, 2), (1, 3, 4, 5)], axis=-1)),
        ("axis1_three", dict(shapes=[(2, 1, 3), (2, 4, 3), (2, 2, 3)], axis=1)),
        ("axis0", dict(shapes=[(2, 5), (3, 5)], axis=0)),
    ]
    out += [Spec("CONCATENATION", n, lambda r, kw=kw: mg.concatenation_16_model(r, **kw), dtype="int16")  # type: ignore[arg-type]
            for n, kw in cats]
    out += [Spec("RESHAPE", "flatten", lambda r: mg.reshape_16_model(r, shape=(1, 3, 4, 5), new_shape=(1, 60)),
                 dtype="int16")]
    return out


def _activation_specs() -> list[Spec]:
    out: list[Spec] = []
    scales: list[tuple[str, float | None]] = [
        ("pot_2^-12", 2.0**-12), ("pot_2^-11", 2.0**-11), ("pot_2^-15", 2.0**-15), ("pot_2^-8", 2.0**-8),
        ("random", None), ("small", 1.3e-5), ("large", 2.5e-3), ("near_pot", 2.0**-12 * 1.0004),
    ]
    for op in ("LOGISTIC", "TANH"):
        out += [Spec(op, n, lambda r, op=op, sc=sc: mg.activation_16_model(r, op=op, shape=(3, 700), in_scale=sc),
                     dtype="int16", seeds=(0,) if sc is not None else (0, 1)) for n, sc in scales]
    soft: list[tuple[str, dict[str, object]]] = [
        ("rank2", dict(shape=(4, 10))),
        ("rank4", dict(shape=(1, 2, 3, 16))),
        ("depth1", dict(shape=(5, 1))),
        ("wide", dict(shape=(2, 1000))),
        ("beta_0.3", dict(shape=(3, 12), beta=0.3)),
        ("beta_2.5", dict(shape=(3, 12), beta=2.5)),
        ("tiny_scale", dict(shape=(3, 12), in_scale=1e-5)),
        ("huge_scale", dict(shape=(3, 12), in_scale=0.05)),
        ("pot_scale", dict(shape=(3, 12), in_scale=2.0**-10)),
    ]
    out += [Spec("SOFTMAX", n, lambda r, kw=kw: mg.activation_16_model(r, op="SOFTMAX", **kw), dtype="int16")  # type: ignore[arg-type]
            for n, kw in soft]
    return out


SPECS: list[Spec] = [*_conv_specs(), *_binary_specs(), *_data_specs(), *_activation_specs()]


@dataclass
class Case:
    id: str
    spec: Spec
    seed: int


CASES: list[Case] = [Case(f"{s.op}-{s.case}-{s.dtype}-s{seed}", s, seed) for s in SPECS for seed in s.seeds]
_NP = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "float32": np.float32}


def _inputs_of(model: bytes) -> list[tuple[tuple[int, ...], str]]:
    import tflite

    names = {v: k.lower() for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
    sg = tflite.Model.GetRootAs(model, 0).Subgraphs(0)
    return [(tuple(int(d) for d in sg.Tensors(sg.Inputs(i)).ShapeAsNumpy()), names[sg.Tensors(sg.Inputs(i)).Type()])
            for i in range(sg.InputsLength())]


def model_inputs(model: bytes, rng: np.random.Generator) -> list[list[np.ndarray]]:
    """Three random full-range sets, the extremes alternating (-32768, 32767, ...), a ramp over the range."""
    sets: list[list[np.ndarray]] = []
    ins = _inputs_of(model)
    for _ in range(3):
        sets.append([rng.integers(np.iinfo(_NP[d]).min, int(np.iinfo(_NP[d]).max) + 1, size=s).astype(_NP[d])
                     if d != "float32" else rng.normal(0, 3, size=s).astype(np.float32) for s, d in ins])
    ext, ramp = [], []
    for s, d in ins:
        n = int(np.prod(s))
        if d == "float32":
            ext.append(rng.normal(0, 3, size=s).astype(np.float32))
            ramp.append(rng.normal(0, 3, size=s).astype(np.float32))
            continue
        info = np.iinfo(_NP[d])
        ext.append(np.resize(np.array([info.min, info.max]), n).reshape(s).astype(_NP[d]))
        ramp.append(np.linspace(int(info.min), int(info.max), n).round().reshape(s).astype(_NP[d]))
    return [*sets, ext, ramp]


@pytest.fixture(scope="module")
def op_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, object]]:
    root = tmp_path_factory.mktemp("ops_int16")
    paths: list[Path] = []
    inputs: list[list[list[np.ndarray]]] = []
    for i, c in enumerate(CASES):
        rng = np.random.default_rng(1000 * c.seed + i % 997)
        model = c.spec.build(rng)
        p = root / f"case{i}.tflite"
        p.write_bytes(model)
        paths.append(p)
        inputs.append(model_inputs(model, rng))
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
            diff = np.nonzero(o.view(np.uint8) != r.view(np.uint8))[0]
            assert diff.size == 0, (f"set {si} output {k}: {diff.size}/{o.nbytes} bytes differ; ours "
                                    f"{o[:8].tolist()} TFLM {r[:8].tolist()}")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op_matches_tflm(case: Case, op_results: dict[str, tuple[object, object]]) -> None:
    ours, ref = op_results[case.id]
    assert_same(ours, ref)


# --- a whole 16x8 network: the planner, in-place ADD and the kernels together ---------------------------

def test_chain_16x8_model_matches_tflm(tmp_path: Path) -> None:
    """CONV_2D -> DEPTHWISE_CONV_2D -> residual ADD -> MUL -> AVERAGE_POOL_2D -> RESHAPE -> FULLY_CONNECTED ->
    SOFTMAX with int16 activations (three weight draws, five input sets each), byte for byte with TFLM."""
    paths, sets = [], []
    for seed in range(3):
        rng = np.random.default_rng(40 + seed)
        m = mg.chain_16x8_model(rng)
        p = tmp_path / f"chain{seed}.tflite"
        p.write_bytes(m)
        paths.append(p)
        sets.append(model_inputs(m, rng))
    built = compile_and_build(paths, tmp_path / "build")
    refs = run_reference_many(paths, sets)
    for b, ins, ref in zip(built, sets, refs, strict=True):
        assert not isinstance(b, Exception), b
        assert_same([b.run(x) for x in ins], ref)


# --- the schedules: the M4 DSP kernels stay int8-only ------------------------------------------------

def test_int16_conv_fc_offer_only_the_portable_kernel(tmp_path: Path) -> None:
    """On the DSP targets the knob space of a 16x8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED is the
    portable kernel alone, and the generated call is the conv16 family's (no int8 fast kernel, no scratch)."""
    from microaot.compiler import compile_model
    from microaot.frontend.tflite import load_tflite
    from microaot.ops import get

    rng = np.random.default_rng(7)
    models = {
        "CONV_2D": mg.conv2d_16x8_model(rng, input_shape=(1, 6, 6, 16), filters=8, kernel=(3, 3)),
        "DEPTHWISE_CONV_2D": mg.conv2d_16x8_model(rng, input_shape=(1, 6, 6, 8), filters=0, kernel=(3, 3),
                                                  depthwise=True),
        "FULLY_CONNECTED": mg.fully_connected_16x8_model(rng, input_shape=(1, 64), units=8),
    }
    for op, m in models.items():
        path = tmp_path / f"{op}.tflite"
        path.write_bytes(m)
        graph = load_tflite(path)
        (o,) = graph.operators
        d = get(op)
        assert d is not None and d.space is not None
        for target in ("cortex-m4", "cortex-m7", "generic"):
            assert d.space.space(graph, o, target) == {"algo": ["direct"]}, (op, target)
            assert d.space.default(graph, o, target) == {"algo": "direct"}, (op, target)
        res = compile_model(path, tmp_path / f"src_{op}", name=f"m_{op.lower()}", target="cortex-m4")
        src = "".join(p.read_text() for p in (tmp_path / f"src_{op}").glob("*.c"))
        names = sorted(k.name for k in res.kernel_sources)
        assert "_s16(" in src and "conv16.c" in names and not any("fast" in n for n in names), (op, names)


# --- the kernels: C99, warnings as errors, no libc beyond libm -----------------------------------------

INT16_FAMILIES = ("conv16", "act16", "softmax16", "add", "mul", "pad", "maxpool", "avg_pool")


@pytest.mark.parametrize("cc", ["gcc", "arm-none-eabi-gcc"])
def test_int16_kernel_families_compile_clean(cc: str, tmp_path: Path) -> None:
    """The new (and extended) kernel families: C99 -Wall -Wextra -Werror -pedantic on the host and the
    Cortex-M4, at -O0 and -O2; the only external symbols are memcpy / memset and the compiler's helpers
    (no malloc/printf)."""
    import shutil
    import subprocess

    from microaot.paths import crt_root

    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    nm = "arm-none-eabi-nm" if cc.startswith("arm-") else "nm"
    cpu = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"] if cc.startswith("arm-") else []
    for fam in INT16_FAMILIES:
        for opt in ("-O0", "-O2"):
            obj = tmp_path / f"{fam}{opt}.o"
            proc = subprocess.run([cc, *cpu, opt, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                                   f"-I{crt_root() / 'include'}", "-c", str(crt_root() / "kernels" / f"{fam}.c"),
                                   "-o", str(obj)], capture_output=True, text=True, check=False)
            assert proc.returncode == 0, f"{cc} {opt} {fam}.c:\n{proc.stderr}"
            syms = subprocess.run([nm, "-u", str(obj)], capture_output=True, text=True, check=True).stdout.split()
            undefined = {s for s in syms if s not in ("U", "w")}
            assert undefined <= {"memcpy", "__aeabi_ldivmod", "__aeabi_lmul", "__aeabi_llsl", "__aeabi_lasr",
                                 "__aeabi_idiv", "__aeabi_memcpy", "memset", "__aeabi_memset",
                                 "__aeabi_memclr"}, f"{fam}.c ({opt}) needs {sorted(undefined)}"


def test_every_declared_int16_dtype_is_tested() -> None:
    """Each operator extended here declares exactly the int16 / int16x8 signature its cases test."""
    from microaot import ops as opreg

    tested: dict[str, set[str]] = {}
    for s in SPECS:
        tested.setdefault(s.op, set()).add(s.dtype)
    for op, dts in tested.items():
        declared = {d for d in opreg.declared_dtypes(op) if d.startswith("int16")}
        assert declared == dts, (op, declared, dts)


# --- a sample on the Cortex-M4 (QEMU) ----------------------------------------------------------------

@pytest.mark.qemu
def test_ops_int16_on_cortex_m4(tmp_path: Path) -> None:
    """One case per operator (first seed, two input sets) and the 16x8 chain, built with arm-none-eabi-gcc for
    the cortex-m4 target and run in QEMU mps2-an386: byte-identical to TFLM on the host."""
    from concurrent.futures import ThreadPoolExecutor

    from microaot.compiler import compile_model

    m4run = pytest.importorskip("microaot.testing.m4run")
    if not m4run.available():
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm missing")
    wanted = {("CONV_2D", "dil2_same"), ("DEPTHWISE_CONV_2D", "mult2"), ("FULLY_CONNECTED", "bias32"),
              ("ADD", "bcast_row"), ("MUL", "saturating"), ("AVERAGE_POOL_2D", "k3s2_same"),
              ("MAX_POOL_2D", "relu6"), ("PADV2", "rank4_hw"), ("LOGISTIC", "random"), ("TANH", "large"),
              ("SOFTMAX", "beta_2.5")}
    picked = [c for c in CASES if (c.spec.op, c.spec.case) in wanted and c.seed == c.spec.seeds[0]]
    assert len(picked) == len(wanted)
    models: list[tuple[str, bytes, list[list[np.ndarray]]]] = []
    chain = mg.chain_16x8_model(np.random.default_rng(41))
    models.append(("chain_16x8", chain, model_inputs(chain, np.random.default_rng(3))[2:4]))
    for i, c in enumerate(picked):
        rng = np.random.default_rng(900 + i)
        m = c.spec.build(rng)
        models.append((c.id, m, model_inputs(m, rng)[2:4]))  # a random set and the extremes
    paths = []
    for i, (_, m, _) in enumerate(models):
        p = tmp_path / f"m{i}.tflite"
        p.write_bytes(m)
        paths.append(p)
    refs = run_reference_many(paths, [m[2] for m in models])

    def run(i: int) -> str | None:
        cid, _, ins = models[i]
        try:
            r = compile_model(paths[i], tmp_path / f"src{i}", name=f"m4s{i}", target="cortex-m4")
            res = m4run.run_m4(r, ins, tmp_path / f"fw{i}")
            assert_same(res.outputs, refs[i])
        except BaseException as e:  # collect every failure (pytest.fail raises a BaseException)
            return f"{cid}: {type(e).__name__}: {str(e)[-800:]}"
        return None

    with ThreadPoolExecutor(max_workers=2) as ex:
        errors = [e for e in ex.map(run, range(len(models))) if e]
    assert not errors, f"{len(errors)} of {len(models)} models differ on the M4:\n" + "\n".join(errors)


def test_chain_16x8_model_over_rpc(tmp_path: Path) -> None:
    """The 16x8 network (int16 input, three int16 outputs) evaluated through the host board's RPC server by
    ``microaot eval``: every output byte-identical to TFLM."""
    import json

    from microaot.cli import main

    model = tmp_path / "chain16.tflite"
    model.write_bytes(mg.chain_16x8_model(np.random.default_rng(42)))
    report = tmp_path / "r.json"
    assert main(["eval", str(model), "--board", "host", "--work-dir", str(tmp_path / "w"), "--json", str(report)]) == 0
    rep = json.loads(report.read_text())
    assert rep["outputs_match"] is True and rep["mismatches"] == []
    assert rep["compared_bytes"] == 3 * 2 * (1 * 8 * 8 * 6 + 10 + 10)
