"""TFLM's signal-library spectral custom operators, byte for byte against TFLM (PyPI ``tflite-micro``, which
registers them): SignalWindow, SignalFftAutoScale, SignalRfft / SignalIrfft (int16, int32, float32),
SignalEnergy, SignalFilterBank, SignalFilterBankSquareRoot, SignalFilterBankLog and the stateful
SignalFilterBankSpectralSubtraction (over sequences of invocations, its noise estimate in the state
buffer), and an audio-front-end chain of all of them; a sample on a Cortex-M4 (QEMU mps2-an386). Also the
builtins TFLM's audio preprocessor wraps them in: CAST uint32 <-> int32 / uint32 -> float32, int32 ADD and MUL.

Models come from ``microaot.testing.signal_models`` (custom operators with flexbuffer options). Every
output must be byte-identical, float32 FFTs included (microaot's KISS FFT does TFLM's float operations in
TFLM's order, without fused multiply-add). Test ids read ``<op>-<case>``.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from microaot.compiler import compile_model
from microaot.errors import UnsupportedModelError
from microaot.frontend.tflite import load_tflite
from microaot.hostbuild import new_state, run_compiled
from microaot.paths import crt_root
from microaot.reference import run_reference
from microaot.testing import modelgen as mg
from microaot.testing import signal_models as sm
from microaot.testing.batch import BuiltModel, compile_and_build, run_reference_many

Inputs = Callable[[np.random.Generator], list[np.ndarray]]


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[np.random.Generator], bytes]
    inputs: Inputs
    sets: int = 4  # input sets (stateful: consecutive invocations of one sequence)
    stateful: bool = False
    compare: Callable[[int, np.ndarray], np.ndarray] | None = None  # output k -> the part TFLM defines


def _s16(shape: Sequence[int]) -> Inputs:
    def gen(r: np.random.Generator) -> list[np.ndarray]:
        x = r.integers(-32768, 32768, size=tuple(shape)).astype(np.int16)
        flat = x.reshape(-1)
        flat[: min(4, flat.size)] = np.array([-32768, 32767, 0, -1], np.int16)[: min(4, flat.size)]
        return [x]
    return gen


def _audio(n: int) -> Inputs:
    """A tone in noise whose loudness changes from frame to frame (the spectral subtraction tracks the noise)."""
    def gen(r: np.random.Generator) -> list[np.ndarray]:
        t = np.arange(n)
        level = 10 ** r.uniform(1.0, 4.2)
        x = level * (np.sin(2 * np.pi * r.uniform(0.02, 0.4) * t) + 0.3 * r.standard_normal(n))
        return [np.clip(np.round(x), -32768, 32767).astype(np.int16)]
    return gen


def _u32_special(shape: Sequence[int], dtype: str) -> Inputs:
    special = np.array([0, 1, 2**31 - 1, 2**31, 2**32 - 1, 16777217, 3000000001], np.uint64)

    def gen(r: np.random.Generator) -> list[np.ndarray]:
        x = r.integers(0, 2**32, size=int(np.prod(shape)), dtype=np.uint64)
        x[: special.size] = special
        return [x.astype(np.uint32).view(np.int32 if dtype == "int32" else np.uint32).reshape(tuple(shape))]
    return gen


def _i32_mixed(shape: Sequence[int]) -> Inputs:
    """int32 values, half anywhere in the range (products and sums wrap), half small."""
    def gen(r: np.random.Generator) -> list[np.ndarray]:
        big = r.integers(-(2**31), 2**31, size=tuple(shape), dtype=np.int64).astype(np.int32)
        small = r.integers(-300, 300, size=tuple(shape)).astype(np.int32)
        return [np.where(r.random(tuple(shape)) < 0.5, big, small).astype(np.int32)]
    return gen


def _s32(shape: Sequence[int]) -> Inputs:
    return lambda r: [r.integers(-(2**31), 2**31, size=tuple(shape), dtype=np.int64).astype(np.int32)]


def _f32(shape: Sequence[int]) -> Inputs:
    return lambda r: [(r.standard_normal(tuple(shape)) * r.choice([1e-3, 1.0, 300.0])).astype(np.float32)]


def _u32_log(n: int, max_bits: int = 32) -> Inputs:
    """uint32 values spread over every magnitude (log-uniform), with 0, 1, 2 and the maximum."""
    def gen(r: np.random.Generator) -> list[np.ndarray]:
        bits = r.integers(0, max_bits + 1, size=n)
        x = np.array([int(r.integers(0, 2 ** int(b), dtype=np.uint64)) if b else 0 for b in bits], dtype=np.uint64)
        x[:4] = [0, 1, 2, 2**max_bits - 1]
        return [x.astype(np.uint32)]
    return gen


def _u64_log(n: int) -> Inputs:
    def gen(r: np.random.Generator) -> list[np.ndarray]:
        bits = r.integers(0, 65, size=n)
        x = np.array([int(r.integers(0, 2 ** int(b) - 1, dtype=np.uint64, endpoint=True)) if b else 0 for b in bits],
                     dtype=np.uint64)
        x[:6] = [0, 1, 2**32 - 1, 2**32, 2**64 - 1, 2**63]
        return [x]
    return gen


def _fft_inputs(shape: Sequence[int], dtype: str) -> Inputs:
    return {"int16": _s16, "int32": _s32, "float32": _f32}[dtype](shape)


def _spectral_subtraction_variants(options: Sequence[dict[str, object]]) -> bytes:
    m = sm.SignalModel()
    for i, o in enumerate(options):
        n = int(o["num_channels"])  # type: ignore[call-overload]
        x = m.input(f"x{i}", (n,), "uint32")
        y, ne = m.tensor(f"y{i}", (n,), "uint32"), m.tensor(f"noise{i}", (n,), "uint32")
        m.op("SignalFilterBankSpectralSubtraction", [x], [y, ne], o)
        m.outputs += [y, ne]
    return m.to_bytes()


def _window_weights_input() -> bytes:
    """The window as a graph input (TFLM takes any int16 tensor there)."""
    m = sm.SignalModel()
    x, w = m.input("input", (2, 20), "int16"), m.input("weights", (20,), "int16")
    y = m.tensor("output", (2, 20), "int16")
    m.op("SignalWindow", [x, w], [y], {"shift": 9})
    m.outputs = [y]
    return m.to_bytes()


def _cases() -> list[Case]:
    out: list[Case] = []
    for name, shape, wn, shift in (("flat", (64,), 64, 12), ("rows", (3, 32), 32, 0), ("rank3", (2, 2, 16), 16, 15),
                                   ("shift31", (24,), 24, 31), ("tiled", (48,), 16, 7)):
        out.append(Case(f"SignalWindow-{name}", lambda r, s=shape, wn=wn, sh=shift: sm.window_model(
            s, r.integers(-32768, 32768, wn), sh), _s16(shape)))
    out.append(Case("SignalFftAutoScale-random", lambda r: sm.fft_auto_scale_model(40), _s16((40,))))
    edge = [np.zeros(40, np.int16), np.full(40, -32768, np.int16), np.r_[np.full(39, 3), -32768].astype(np.int16),
            np.r_[-32768, np.full(39, 5)].astype(np.int16), np.r_[np.zeros(39), 1].astype(np.int16)]
    out.append(Case("SignalFftAutoScale-edges", lambda r: sm.fft_auto_scale_model(40),
                    lambda r, e=edge: [e[int(r.integers(0, len(e)))]], sets=8))
    lengths = {"int16": (4, 6, 10, 64, 96, 100, 512), "int32": (8, 12, 60, 256), "float32": (4, 20, 64, 120, 512)}
    for dt, ns in lengths.items():
        for n in ns:
            for rows, in_len in ((1, n), (3, max(1, n - 5))):
                out.append(Case(f"SignalRfft-{dt}-n{n}-r{rows}x{in_len}",
                                lambda r, s=(rows, in_len), n=n, dt=dt: sm.rfft_model(s, n, dt),
                                _fft_inputs((rows, in_len), dt), sets=3))
            bins = 2 * (n // 2 + 1)
            out.append(Case(f"SignalIrfft-{dt}-n{n}", lambda r, n=n, dt=dt, b=bins: sm.irfft_model((2, b), n, dt),
                            _fft_inputs((2, bins), dt), sets=3))
    out.append(Case("SignalEnergy-full", lambda r: sm.energy_model(33, 0, 33), _s16((66,))))
    out.append(Case("SignalEnergy-range", lambda r: sm.energy_model(16, 3, 11), _s16((32,)),
                    compare=lambda k, a: a[3:11]))  # TFLM leaves the other outputs unwritten
    for nbins, nch in ((65, 4), (65, 23), (257, 40)):
        out.append(Case(f"SignalFilterBank-{nbins}x{nch}",
                        lambda r, nb=nbins, nc=nch: sm.filter_bank_model(nb, sm.random_filter_bank(r, nb, nc)),
                        _u32_log(nbins)))
    out.append(Case("SignalFilterBank-signed_weights", lambda r: sm.filter_bank_model(
        65, sm.random_filter_bank(r, 65, 9, full_range=True)), _u32_log(65)))
    # extra option keys: TFLM reads by position in key order ("a_first" is read as the shift; "zoom" is ignored)
    for name, opts in (("extra_key_first", {"a_first": 5, "shift": 30}), ("extra_key_last", {"shift": 4, "zoom": 1})):
        out.append(Case(f"SignalWindow-{name}", lambda r, o=opts: _window_with(o, 16), _s16((16,)), sets=2))
    out.append(Case("SignalWindow-weights_input", lambda r: _window_weights_input(),
                    lambda r: [_s16((2, 20))(r)[0], _s16((20,))(r)[0]]))
    # (a computed scale: the front-end chain below, from SignalFftAutoScale)
    for sb in (0, 1, 7, 15, 33):
        out.append(Case(f"SignalFilterBankSquareRoot-scale{sb}", lambda r, sb=sb: sm.filter_bank_sqrt_model(70, sb),
                        _u64_log(70)))
    for scale, bits in ((1600, 3), (65535, 0), (1 << 20, 5), (1, 0), (4096, 31)):
        out.append(Case(f"SignalFilterBankLog-s{scale}-b{bits}", lambda r, s=scale, b=bits: sm.filter_bank_log_model(
            80, s, b), _u32_log(80)))
    ss = (("smooth", dict(smoothing=655, alternate_smoothing=655, min_signal_remaining=819, smoothing_bits=10)),
          ("alternate", dict(smoothing=3000, alternate_smoothing=100, min_signal_remaining=0, smoothing_bits=2)),
          ("full", dict(smoothing=16384, alternate_smoothing=0, min_signal_remaining=16384, smoothing_bits=0)))
    # every parameter set x clamping as independent operators of one model (one TFLM run for the sequence)
    variants = [(sm.spectral_subtraction_options(9, clamping=clamp, **kw), 32 - int(kw["smoothing_bits"]))  # type: ignore[arg-type]
                for _, kw in ss for clamp in (False, True)]
    out.append(Case("SignalFilterBankSpectralSubtraction-" + "-".join(f"{n}{c}" for n, _ in ss for c in (0, 1)),
                    lambda r, v=variants: _spectral_subtraction_variants([o for o, _ in v]),
                    lambda r, v=variants: [_u32_log(9, bits)(r)[0] for _, bits in v], sets=8, stateful=True))
    # builtins around the signal ops in TFLM's audio preprocessor: CAST uint32 <-> int32 (it zeroes the energy
    # bins outside the filter bank's range in int32), int32 MUL / ADD (its int8 feature rescaling)
    for a, b in (("uint32", "int32"), ("int32", "uint32"), ("uint32", "float32")):
        out.append(Case(f"CAST-{a}->{b}", lambda r, a=a, b=b: mg.cast_model(shape=(2, 32), in_dtype=a, out_dtype=b),
                        _u32_special((2, 32), a), sets=2))
    for op in ("ADD", "MUL"):
        for sa, sb, act in (((40,), (40,), "NONE"), ((2, 3, 5), (1, 5), "RELU6"), ((4, 1), (1, 6), "RELU"),
                            ((1, 3, 1, 2), (2, 1, 4, 1), "RELU_N1_TO_1"), ((5,), (1,), "NONE")):
            out.append(Case(f"{op}-int32-{'x'.join(map(str, sa))}-{'x'.join(map(str, sb))}-{act}",
                            lambda r, op=op, sa=sa, sb=sb, act=act: mg.binary_model(
                                r, op=op, shape_a=sa, shape_b=sb, dtype="int32", activation=act),
                            lambda r, sa=sa, sb=sb: [_i32_mixed(sa)(r)[0], _i32_mixed(sb)(r)[0]], sets=2))
    out.append(Case("frontend_chain", lambda r: sm.frontend_chain_model(r), _audio(96), sets=10, stateful=True))
    return out


CASES = _cases()


def _inputs(case: Case, seed: int) -> list[list[np.ndarray]]:
    r = np.random.default_rng(seed)
    return [case.inputs(r) for _ in range(case.sets)]


def _compare(case: Case, k: int, got: np.ndarray, ref: np.ndarray) -> str | None:
    g, e = np.asarray(got), np.asarray(ref)
    if case.compare is not None:
        g, e = case.compare(k, g.reshape(-1)), case.compare(k, e.reshape(-1))
    if g.dtype != e.dtype or g.shape != e.shape:
        return f"output {k}: {g.dtype}{list(g.shape)}, TFLM {e.dtype}{list(e.shape)}"
    if g.tobytes() != e.tobytes():
        bad = np.flatnonzero(g.reshape(-1).view(np.uint8) != e.reshape(-1).view(np.uint8))
        i = int(bad[0]) // g.itemsize
        return (f"output {k}: {bad.size} bytes differ, first at element {i}: {g.reshape(-1)[i]!r} vs TFLM "
                f"{e.reshape(-1)[i]!r}")
    return None


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, Path, list[list[np.ndarray]]]]:
    """Every case compiled, linked (a few shared libraries) and run by TFLM (stateless: one interpreter per
    model, every set; stateful: one sequence without reset)."""
    tmp = tmp_path_factory.mktemp("sigspec")
    paths, sets = [], []
    for i, c in enumerate(CASES):
        p = tmp / f"case{i}.tflite"
        p.write_bytes(c.build(np.random.default_rng(100 + i)))
        paths.append(p)
        sets.append(_inputs(c, 200 + i))
    libs = compile_and_build(paths, tmp / "build", prefix="sig")
    stateless = [i for i, c in enumerate(CASES) if not c.stateful]
    refs: dict[int, object] = dict(zip(stateless, run_reference_many([paths[i] for i in stateless],
                                                                      [sets[i] for i in stateless]), strict=True))
    for i, c in enumerate(CASES):
        if c.stateful:
            try:
                refs[i] = run_reference(paths[i], sets[i])
            except Exception as e:  # reported by the test of that case
                refs[i] = e
    return {c.id: (libs[i], refs[i], sets[i]) for i, c in enumerate(CASES)}  # type: ignore[misc]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_signal_op_matches_tflm(case: Case, built: dict[str, tuple[object, object, list[list[np.ndarray]]]]) -> None:
    lib, ref, sets = built[case.id]
    if isinstance(lib, Exception):
        raise lib
    if isinstance(ref, Exception):
        raise ref
    outs = _run_sequence(lib, sets) if case.stateful else [lib.run(s) for s in sets]  # type: ignore[attr-defined]
    for si, (o, r) in enumerate(zip(outs, ref, strict=True)):  # type: ignore[call-overload]
        assert len(o) == len(r)
        for k, (a, b) in enumerate(zip(o, r, strict=True)):
            msg = _compare(case, k, a, b)
            assert msg is None, f"{case.id} set {si}: {msg}"


def _run_sequence(lib: BuiltModel, sets: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """The sets as consecutive invocations with one state buffer (NAME_reset_state once, before the first)."""
    state = new_state(lib.result, lib.lib)  # type: ignore[arg-type]
    return [run_compiled(lib.result, lib.lib, s, state=state) for s in sets]  # type: ignore[arg-type]


def _window_with(options: dict[str, object], n: int = 8) -> bytes:
    m = sm.SignalModel()
    x = m.input("input", (n,), "int16")
    w = m.const("weights", np.arange(n) * 3001 - 20000, "int16")
    y = m.tensor("output", (n,), "int16")
    m.op("SignalWindow", [x, w], [y], options)
    m.outputs = [y]
    return m.to_bytes()


@pytest.mark.parametrize("what, model, message", [
    ("fft_factor7", lambda: sm.rfft_model((28,), 28, "int16"),
     "operator 0 (CUSTOM:SignalRfft): fft_length 28: fft_length / 2 has the prime factor 7 > 5, which TFLM's KISS "
     "FFT build cannot run (its generic butterfly has no scratch memory); use a length whose half is a product of "
     "2, 3 and 5"),
    ("fft_odd", lambda: sm.rfft_model((9,), 9, "float32"),
     "operator 0 (CUSTOM:SignalRfft): fft_length 9 is not an even number >= 4 (TFLM's KISS FFT needs one)"),
    ("rfft_long_rows", lambda: sm.rfft_model((2, 20), 16, "int32"),
     "operator 0 (CUSTOM:SignalRfft): the input rows have 20 samples, more than fft_length 16"),
    ("no_options", lambda: _window_with({}),
     "operator 0 (CUSTOM:SignalWindow): its custom options have 0 entries []; TFLM reads 'shift' as entry 0 of the "
     "map (keys in sorted order), which is missing; re-export the model with the TensorFlow signal ops"),
    ("float_option", lambda: _window_with({"shift": 2.5}),
     "operator 0 (CUSTOM:SignalWindow): custom option 'shift' (entry 0, read as 'shift') is 2.5; TFLM reads an "
     "integer there"),
    ("window_shift", lambda: _window_with({"shift": 32}),
     "operator 0 (CUSTOM:SignalWindow): shift 32 is outside [0, 31]"),
    ("energy_range", lambda: sm.energy_model(8, 2, 9),
     "operator 0 (CUSTOM:SignalEnergy): start_index 2 / end_index 9 do not fit the 8 complex inputs and 8 outputs"),
])
def test_signal_op_errors(tmp_path: Path, what: str, model: Callable[[], bytes], message: str) -> None:
    p = tmp_path / f"{what}.tflite"
    p.write_bytes(model())
    with pytest.raises(UnsupportedModelError) as e:
        compile_model(p, tmp_path / "out")
    assert str(e.value) == f"{p}: {message}"


def _fft_combo() -> bytes:
    """Independent FFTs of every dtype in one model (one firmware for the Cortex-M4 sample)."""
    m = sm.SignalModel()
    for dt, n, inverse, rows in (("float32", 120, False, 3), ("float32", 64, True, 2), ("int32", 60, False, 2),
                                 ("int32", 12, True, 1), ("int16", 96, True, 2), ("int16", 512, False, 1)):
        if inverse:
            x = m.input(f"x_{dt}_{n}", (rows, 2 * (n // 2 + 1)), dt)
            y = m.tensor(f"y_{dt}_{n}", (rows, n), dt)
            m.op("SignalIrfft", [x], [y], {"T": sm.TYPE_CODES[dt], "fft_length": n})
        else:
            x = m.input(f"x_{dt}_{n}", (rows, n - 3), dt)
            y = m.tensor(f"y_{dt}_{n}", (rows, 2 * (n // 2 + 1)), dt)
            m.op("SignalRfft", [x], [y], {"T": sm.TYPE_CODES[dt], "fft_length": n})
        m.outputs.append(y)
    return m.to_bytes()


def _model_inputs(path: Path, r: np.random.Generator) -> list[np.ndarray]:
    g = load_tflite(path)
    return [_fft_inputs(g.tensors[t].shape, g.tensors[t].dtype)(r)[0] for t in g.inputs]


@pytest.mark.qemu
def test_signal_ops_on_cortex_m4(tmp_path: Path) -> None:
    """FFTs of every dtype (float32 included: no fused multiply-add on the M4's FPU either) and the stateful
    front-end chain, built with arm-none-eabi-gcc and run in QEMU mps2-an386, byte for byte against TFLM."""
    m4run = pytest.importorskip("microaot.testing.m4run")
    if not m4run.available():
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm missing")
    combo = tmp_path / "fft_combo.tflite"
    combo.write_bytes(_fft_combo())
    r = np.random.default_rng(5)
    sets = [_model_inputs(combo, r) for _ in range(2)]
    ref = run_reference(combo, sets)
    res = m4run.run_m4(compile_model(combo, tmp_path / "src", name="sigcombo", target="cortex-m4"), sets,
                       tmp_path / "fw")
    for si, (o, e) in enumerate(zip(res.outputs, ref, strict=True)):
        for k, (a, b) in enumerate(zip(o, e, strict=True)):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), f"fft combo set {si} output {k}"
    # the chain: 8 frames as one sequence (the spectral subtraction's noise estimate carried in the state)
    chain = tmp_path / "chain.tflite"
    chain.write_bytes(sm.frontend_chain_model(np.random.default_rng(6)))
    frames = [_audio(96)(r) for _ in range(8)]
    ref = run_reference(chain, frames)
    res = m4run.run_m4(compile_model(chain, tmp_path / "src", name="sigchain", target="cortex-m4"), frames,
                       tmp_path / "fw_chain")
    for si, (o, e) in enumerate(zip(res.outputs, ref, strict=True)):
        for k, (a, b) in enumerate(zip(o, e, strict=True)):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), f"chain frame {si} output {k}"


def test_spectral_subtraction_state_reset(tmp_path: Path) -> None:
    """NAME_STATE_SIZE holds the noise estimate (4 bytes per channel); NAME_reset_state on a used state buffer
    starts the sequence over exactly as TFLM's Reset does (the same outputs as a fresh interpreter)."""
    opts = sm.spectral_subtraction_options(6, smoothing=4000, alternate_smoothing=900, min_signal_remaining=300,
                                           smoothing_bits=5, clamping=True)
    p = tmp_path / "ss.tflite"
    p.write_bytes(sm.spectral_subtraction_model(6, opts))
    r = np.random.default_rng(9)
    seq = [_u32_log(6, 27)(r) for _ in range(5)]
    ref = run_reference(p, seq)
    lib = compile_and_build([p], tmp_path / "b", prefix="ssr")[0]
    assert isinstance(lib, BuiltModel)
    assert lib.result.state_size >= 4 * 6  # type: ignore[attr-defined]
    state = new_state(lib.result, lib.lib)  # type: ignore[arg-type]
    first = [run_compiled(lib.result, lib.lib, s, state=state) for s in seq]  # type: ignore[arg-type]
    assert state.view(np.uint32)[:6].any()  # the estimate moved
    reset = getattr(ctypes.CDLL(str(lib.lib)), f"{lib.result.name}_reset_state")  # type: ignore[attr-defined]
    reset.argtypes, reset.restype = [ctypes.c_void_p], ctypes.c_int
    assert reset(state.ctypes.data) == 0
    assert not state.any()
    again = [run_compiled(lib.result, lib.lib, s, state=state) for s in seq]  # type: ignore[arg-type]
    for step, (a, b, e) in enumerate(zip(first, again, ref, strict=True)):
        for k in range(2):
            assert a[k].tobytes() == e[k].tobytes() == b[k].tobytes(), f"step {step} output {k}"


@pytest.mark.parametrize("cc", ["gcc", "arm-none-eabi-gcc"])
def test_signal_spectral_kernels_compile_clean(cc: str, tmp_path: Path) -> None:
    """-std=c99 -pedantic -Wall -Wextra -Werror on the host and the Cortex-M4; no libm (twiddles are constants),
    only memcpy and memset from libc."""
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{crt_root() / 'include'}"]
    if cc.startswith("arm-"):
        flags += ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    obj = tmp_path / "signal_spectral.o"
    proc = subprocess.run([cc, *flags, "-c", str(crt_root() / "kernels" / "signal_spectral.c"), "-o", str(obj)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    nm = "arm-none-eabi-nm" if cc.startswith("arm-") else "nm"
    syms = subprocess.run([nm, "-u", str(obj)], capture_output=True, text=True, check=True).stdout.split()
    assert {s for s in syms if s not in ("U", "w") and not s.startswith("__aeabi_")} <= {"memcpy", "memset"}



def test_cast_float32_to_uint32_refused(tmp_path: Path) -> None:
    p = tmp_path / "cast_f_u.tflite"
    p.write_bytes(mg.cast_model(shape=(4,), in_dtype="float32", out_dtype="uint32"))
    with pytest.raises(UnsupportedModelError) as e:
        compile_model(p, tmp_path / "out")
    assert str(e.value) == (f"{p}: operator 0 (CAST): CAST from float32 ('input') to uint32 ('output') not supported; "
                            "uint32 casts: uint32->int32, int32->uint32, uint32->float32")
