"""UNIDIRECTIONAL_SEQUENCE_LSTM against TFLM over sequences of invocations (issue 18 deliverable 3).

One single-LSTM model per case (``microaot.testing.modelgen.lstm_model``: the 24 inputs of a converted
keras LSTM, its hidden and cell states as variable tensors), compiled and built into one shared library,
run through ctypes with one state buffer for a sequence of 3 invocations (different random inputs, the
state reset once before the sequence), and compared with TFLM (PyPI ``tflite-micro``) invoked on the same
sequence without a reset in between: every step's output byte for byte (float32: within
``fidelity.ULP_BOUND`` ulps of ``ULP_FLOOR``), and after the last step both state tensors, read from
TFLM with ``kPreserveAllTensors`` and from microaot's state buffer. Variants TFLM does not run are refused
with their messages; one int8 sequence also runs on QEMU Cortex-M4.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from microaot.compiler import CompileResult, compile_model
from microaot.errors import UnsupportedModelError
from microaot.fidelity import ULP_BOUND, ULP_FLOOR, ulp_distance
from microaot.hostbuild import compile_c, new_state, run_compiled
from microaot.reference import ReferenceError, run_reference
from microaot.testing import modelgen as mg

OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"
STEPS = 3
HIDDEN, CELL = 18, 19
NP_DTYPE = {"float32": np.float32, "int8": np.int8, "int16": np.int16}


@dataclass(frozen=True)
class Case:
    scheme: str  # "float32", "int8", "int16x8"
    batches: int
    time_steps: int
    input_size: int
    units: int
    time_major: bool = False
    cell_clip: float = 0.0
    cell_scale_power: int = -11
    seed: int = 0
    activation: str = "TANH"
    cell_scale: float | None = None  # instead of 2^cell_scale_power (TFLM rounds its log2)

    @property
    def id(self) -> str:
        return (f"{self.scheme}-b{self.batches}t{self.time_steps}i{self.input_size}u{self.units}-"
                f"{'tm' if self.time_major else 'bm'}{f'-clip{self.cell_clip:g}' if self.cell_clip else ''}"
                f"{f'-c2^{self.cell_scale_power}' if self.cell_scale_power != -11 else ''}"
                f"{f'-{self.activation}' if self.activation != 'TANH' else ''}"
                f"{f'-cs{self.cell_scale:g}' if self.cell_scale else ''}")

    def model(self) -> bytes:
        return mg.lstm_model(np.random.default_rng(1000 + self.seed), scheme=self.scheme,  # type: ignore[arg-type]
                             batches=self.batches, time_steps=self.time_steps, input_size=self.input_size,
                             units=self.units, time_major=self.time_major, cell_clip=self.cell_clip,
                             cell_scale_power=self.cell_scale_power, activation=self.activation,
                             cell_scale=self.cell_scale)


@dataclass(frozen=True)
class StackedCase:
    """Two LSTM layers (each with its own two states) -> RESHAPE -> FULLY_CONNECTED, batch 1."""

    scheme: str
    seed: int = 0

    @property
    def id(self) -> str:
        return f"{self.scheme}-stacked"

    def model(self) -> bytes:
        return mg.stacked_lstm_model(np.random.default_rng(2000 + self.seed), scheme=self.scheme,  # type: ignore[arg-type]
                                     time_steps=5, input_size=6, units=(8, 6), classes=4)


def _cases() -> list[Case | StackedCase]:
    out: list[Case | StackedCase] = [StackedCase(s) for s in ("float32", "int8", "int16x8")]
    for s in ("float32", "int8", "int16x8"):
        out += [
            Case(s, 1, 1, 3, 2),
            Case(s, 2, 3, 5, 4),
            Case(s, 2, 3, 5, 4, time_major=True),
            Case(s, 1, 5, 8, 12, time_major=True, seed=1),
            Case(s, 3, 2, 7, 9, seed=2),
            Case(s, 2, 4, 6, 8, cell_clip=0.5 if s != "float32" else 1.0, seed=3),
        ]
    out += [Case("int8", 1, 4, 6, 16, cell_scale_power=-10, seed=4),
            Case("int16x8", 2, 3, 4, 5, time_major=True, cell_scale_power=-12, seed=5),
            # TFLM's release build applies no activation to the cell gate unless it is TANH (see ops/lstm.py)
            Case("float32", 1, 3, 4, 5, activation="NONE", seed=6), Case("int8", 2, 3, 4, 5, activation="RELU", seed=6),
            Case("int16x8", 1, 3, 4, 5, cell_clip=0.5, activation="RELU6", seed=6),
            Case("int8", 1, 3, 4, 6, cell_scale=3e-4, cell_clip=2.0, seed=7),  # log2 -11.7: tanh as for 2^-12
            Case("int16x8", 2, 2, 3, 4, cell_scale=7e-4, seed=7)]  # log2 -10.5: rounds to -10
    return out


CASES = _cases()


def _inputs(model: bytes, rng: np.random.Generator) -> list[np.ndarray]:
    """STEPS random inputs: float32 N(0, 1.5), integers over the whole range."""
    import tflite

    m = tflite.Model.GetRootAs(model, 0)
    sg = m.Subgraphs(0)
    t = sg.Tensors(sg.Inputs(0))
    shape = tuple(int(d) for d in t.ShapeAsNumpy())
    dt = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.INT8: np.int8,
          tflite.TensorType.INT16: np.int16}[t.Type()]
    if dt is np.float32:
        return [rng.normal(0, 1.5, shape).astype(np.float32) for _ in range(STEPS)]
    info = np.iinfo(dt)
    return [rng.integers(info.min, info.max + 1, shape).astype(dt) for _ in range(STEPS)]


_TFLM_CHILD = r"""
import json, sys
import numpy as np
from tflite_micro import runtime
job = json.load(open(sys.argv[1]))
out = {}
for m, (path, nsteps, states) in enumerate(job):
    it = runtime.Interpreter.from_bytes(open(path, "rb").read(),
                                        intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    z = np.load(path + ".in.npz")
    for s in range(nsteps):
        it.set_input(z[f"s{s}"], 0)
        it.invoke()  # no reset between the steps: the variable tensors carry the state
        out[f"m{m}_s{s}"] = np.array(it.get_output(0), copy=True)
    for k, t in enumerate(states):
        v = it.GetTensor(t, 0)
        out[f"m{m}_state{k}"] = np.array((v[0] if isinstance(v, list) else v)["tensor_data"], copy=True)
np.savez(sys.argv[2], **out)
"""


def _tflm_sequences(paths: list[Path], seqs: list[list[np.ndarray]], states: list[list[int]],
                    tmp: Path) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]]]:
    """TFLM over each model's sequence (one interpreter per model, never reset): per model, every step's
    output and, after the last step, the tensors ``states``."""
    for p, seq in zip(paths, seqs, strict=True):
        np.savez(str(p) + ".in.npz", **{f"s{i}": a for i, a in enumerate(seq)})
    job = tmp / "tflm_job.json"
    job.write_text(json.dumps([[str(p), len(s), st] for p, s, st in zip(paths, seqs, states, strict=True)]))
    out = tmp / "tflm_out.npz"
    proc = subprocess.run([sys.executable, "-c", _TFLM_CHILD, str(job), str(out)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, f"TFLM failed: {proc.stderr[-2000:]}"
    with np.load(out) as z:
        return ([[z[f"m{m}_s{s}"] for s in range(len(seqs[m]))] for m in range(len(paths))],
                [[z[f"m{m}_state{k}"] for k in range(len(states[m]))] for m in range(len(paths))])


class _Stateful:
    """A compiled stateful model in a shared library with one state buffer (``hostbuild.new_state``: after
    NAME_reset_state) that every ``run`` continues (``run_compiled(state=)``: NAME_run_ex), as an application
    does."""

    def __init__(self, result: CompileResult, lib: Path) -> None:
        self.r, self.lib = result, lib
        self.state_size = result.state_size
        self.state = new_state(result, lib)

    def reset(self) -> None:
        self.state[:] = new_state(self.r, self.lib)[: self.state.size]

    def run(self, x: np.ndarray) -> np.ndarray:
        return run_compiled(self.r, self.lib, [x], state=self.state)[0]

    def tensor(self, t: int) -> np.ndarray:
        """A variable tensor's bytes in the state buffer, as its dtype."""
        loc = self.r.plan.locations[t]
        tt = self.r.graph.tensors[t]
        assert loc.kind == "state", f"tensor {t} is in {loc.kind}, not in the state buffer"
        return self.state[loc.offset:loc.offset + tt.nbytes].view(NP_DTYPE[tt.dtype]).reshape(tt.shape)


def _compare(case_id: str, scheme: str, step: str, got: np.ndarray, ref: np.ndarray) -> str | None:
    got, ref = np.asarray(got).reshape(-1), np.asarray(ref).reshape(-1)
    if got.dtype != ref.dtype or got.size != ref.size:
        return f"{case_id} {step}: {got.dtype} x{got.size} vs TFLM {ref.dtype} x{ref.size}"
    if scheme == "float32":
        d = int(ulp_distance(got, ref, ULP_FLOOR[OP]).max(initial=0))
        return None if d <= ULP_BOUND[OP] else f"{case_id} {step}: {d} ulps of 0.5 from TFLM (bound {ULP_BOUND[OP]})"
    if not np.array_equal(got, ref):
        i = np.nonzero(got != ref)[0]
        return f"{case_id} {step}: {i.size} values differ, first at {i[:5].tolist()}: {got[i[:5]]} vs {ref[i[:5]]}"
    return None


def _build(cases: list[Case | StackedCase] | list[Case], tmp: Path) -> tuple[list[Path], list[CompileResult], Path]:
    paths, results = [], []
    for i, c in enumerate(cases):
        p = tmp / f"lstm{i}.tflite"
        p.write_bytes(c.model())
        paths.append(p)
        results.append(compile_model(p, tmp / "src", name=f"lstm{i}"))
    srcs = [s for r in results for s in r.sources]
    kernels = sorted({str(k) for r in results for k in r.kernel_sources})
    lib = compile_c([*srcs, *map(Path, kernels)], tmp / "liblstm.so", include_dirs=[tmp / "src"], kind="shared")
    return paths, results, lib


def test_lstm_matches_tflm_over_sequences(tmp_path: Path) -> None:
    """Every case x every step of a 3-invocation sequence, and the final hidden / cell states."""
    paths, results, lib = _build(CASES, tmp_path)
    seqs = [_inputs(p.read_bytes(), np.random.default_rng(50 + i)) for i, p in enumerate(paths)]
    states = [[op.inputs[k] for op in r.graph.operators if op.opcode == OP for k in (HIDDEN, CELL)] for r in results]
    ref_out, ref_state = _tflm_sequences(paths, seqs, states, tmp_path)
    errors = []
    for c, r, seq, ro, rs, st in zip(CASES, results, seqs, ref_out, ref_state, states, strict=True):
        m = _Stateful(r, lib)
        assert len(st) >= 2 and m.state_size >= sum(r.graph.tensors[t].nbytes for t in st)
        m.reset()
        for s, x in enumerate(seq):
            errors.append(_compare(c.id, c.scheme, f"step {s}", m.run(x), ro[s]))
        for k, (t, ref) in enumerate(zip(st, rs, strict=True)):
            errors.append(_compare(c.id, c.scheme, f"{('hidden', 'cell')[k % 2]} state of LSTM {k // 2}",
                                   m.tensor(t), ref))
    bad = [e for e in errors if e]
    assert not bad, f"{len(bad)} mismatches:\n" + "\n".join(bad)


def test_lstm_reset_state_restarts_the_sequence(tmp_path: Path) -> None:
    """reset_state gives TFLM's reset values (int8 hidden state: its zero point; the rest 0), so a sequence
    run after it repeats the first run; without it the state carries on (different outputs)."""
    case = Case("int8", 2, 3, 5, 4, seed=7)
    paths, results, lib = _build([case], tmp_path)
    m = _Stateful(results[0], lib)
    m.reset()
    op = results[0].graph.operators[0]
    h = results[0].graph.tensors[op.inputs[HIDDEN]]
    assert h.quant is not None and h.quant.zp0 != 0
    assert (m.tensor(op.inputs[HIDDEN]) == h.quant.zp0).all() and (m.tensor(op.inputs[CELL]) == 0).all()
    seq = _inputs(paths[0].read_bytes(), np.random.default_rng(3))
    first = [m.run(x) for x in seq]
    carried = [m.run(x) for x in seq]
    m.reset()
    again = [m.run(x) for x in seq]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, carried, strict=True))


@pytest.mark.parametrize(("kw", "message"), [
    (dict(peephole=True), "uses peephole connections (cell_to_*_weights) ('cell_to_input_weights', "
                          "'cell_to_forget_weights', 'cell_to_output_weights'); TFLM's LSTM kernel runs the standard "
                          "LSTM only (no peephole, projection, layer norm or CIFG): convert a plain keras LSTM layer"),
    (dict(projection=True), "uses a projection (projection_weights / projection_bias) ('projection_weights')"),
    (dict(layer_norm=True), "uses layer normalization (*_layer_norm_coefficients) ('input_layer_norm_coefficients'"),
    (dict(cifg=True), "inputs [1, 5, 12] are absent (a CIFG LSTM without input gate); TFLM's LSTM kernel needs the "
                      "input, the eight gate weights, the four gate biases and both state tensors"),
])
def test_lstm_variants_tflm_does_not_run_are_refused(kw: dict[str, object], message: str, tmp_path: Path) -> None:
    """Each variant is refused by microaot with its message, and by TFLM in its Prepare."""
    p = tmp_path / "v.tflite"
    p.write_bytes(mg.lstm_model(np.random.default_rng(0), scheme="float32", batches=1, time_steps=2, input_size=3,
                                units=4, **kw))  # type: ignore[arg-type]
    with pytest.raises(UnsupportedModelError) as ei:
        compile_model(p, tmp_path / "out")
    assert f"operator 0 ({OP}): {message}" in str(ei.value)
    with pytest.raises(ReferenceError):
        run_reference(p, [[np.zeros((1, 2, 3), np.float32)]])


def test_lstm_dynamic_range_and_wrong_bias_are_refused(tmp_path: Path) -> None:
    """A weight-only quantized LSTM (float activations, int8 weights) and a 16x8 LSTM with int32 biases (TFLM
    would read them as int64)."""
    mb = mg.ModelBuilder()
    rng = np.random.default_rng(0)
    x = mb.add_input("input", (1, 2, 3), "float32")
    ins = [x]
    for g in range(8):
        q, wq = mg.quantize_weights(rng.normal(0, 1, (4, 3 if g < 4 else 4)), None)
        ins.append(mb.add_const(f"w{g}", q, "int8", quant=wq))
    ins += [-1, -1, -1] + [mb.add_const(f"b{g}", np.zeros(4, np.float32), "float32") for g in range(4)] + [-1, -1]
    ins.append(mb.add_tensor("h", (1, 4), "float32", variable=True))
    ins.append(mb.add_tensor("c", (1, 4), "float32", variable=True))
    ins += [-1] * 4
    y = mb.add_tensor("y", (1, 2, 4), "float32")
    mb.add_operator(OP, ins, [y])
    mb.set_outputs([y])
    p = tmp_path / "dr.tflite"
    p.write_bytes(mb.to_bytes())
    with pytest.raises(UnsupportedModelError, match=re.escape(
            f"operator 0 ({OP}): the model is weight-only (dynamic-range) quantized: float32 activations with int8 "
            "weights ('w0')")):
        compile_model(p, tmp_path / "out")

    mb = mg.ModelBuilder()
    x = mb.add_input("input", (1, 2, 3), "int16", quant=mg.Quant.per_tensor(1e-4, 0))
    mb.set_outputs([mg.add_lstm(mb, rng, x, scheme="int16x8", units=4)])
    for t in mb.tensors:
        if t.name.endswith("_gate_bias") and t.data is not None:
            t.data, t.dtype = np.frombuffer(t.data, np.int64).astype(np.int32).tobytes(), "int32"
    p.write_bytes(mb.to_bytes())
    with pytest.raises(UnsupportedModelError, match=re.escape(
            f"operator 0 ({OP}): input 12 ('input_gate_bias') is int32; TFLM's int16x8 LSTM needs int64 there "
            "(input/states/output int16, weights int8, biases int64, cell state int16)")):
        compile_model(p, tmp_path / "out")


def test_lstm_kernel_compiles_clean(tmp_path: Path) -> None:
    """-std=c99 -pedantic -Wall -Wextra -Werror with gcc and arm-none-eabi-gcc; the only external symbols are
    memcpy, act16's int16 sigmoid / tanh and (M4) libgcc's soft double."""
    import shutil

    from microaot.paths import crt_root

    for cc, nm, extra in (("gcc", "nm", []), ("arm-none-eabi-gcc", "arm-none-eabi-nm",
                                              ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard",
                                               "-mfpu=fpv4-sp-d16"])):
        if shutil.which(cc) is None:
            continue
        obj = tmp_path / f"lstm_{cc}.o"
        proc = subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic",
                               f"-I{crt_root() / 'include'}", *extra, "-c", str(crt_root() / "kernels" / "lstm.c"),
                               "-o", str(obj)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        syms = subprocess.run([nm, "-u", str(obj)], capture_output=True, text=True, check=True).stdout.split()
        undefined = {s for s in syms if s not in ("U", "w") and not s.startswith("__aeabi_")}
        assert undefined <= {"memcpy", "uaot_logistic_s16", "uaot_tanh_s16"}, undefined


@pytest.mark.qemu
def test_lstm_sequence_on_cortex_m4(tmp_path: Path) -> None:
    """One int8 and one float32 LSTM on QEMU mps2-an386 (arm-none-eabi-gcc -O2, hard float): the firmware runs
    the 3-step sequence with one state buffer; int8 byte-identical with TFLM, float32 byte-identical with the
    host build (microaot's own fmath: the same bytes everywhere)."""
    m4run = pytest.importorskip("microaot.testing.m4run")
    if not m4run.available():
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm missing")
    cases = [Case("int8", 2, 3, 5, 4, seed=8), Case("float32", 1, 3, 4, 6, time_major=True, seed=9)]
    paths, results, lib = _build(cases, tmp_path)
    seqs = [_inputs(p.read_bytes(), np.random.default_rng(90 + i)) for i, p in enumerate(paths)]
    ref_out, _ = _tflm_sequences(paths, seqs, [[], []], tmp_path)
    for i, (c, p, seq) in enumerate(zip(cases, paths, seqs, strict=True)):
        r = compile_model(p, tmp_path / f"m4src{i}", name=f"m4lstm{i}", target="cortex-m4")
        run = m4run.run_m4(r, [[x] for x in seq], tmp_path / f"fw{i}")
        host = _Stateful(results[i], lib)
        host.reset()
        for s, x in enumerate(seq):
            dev = np.asarray(run.outputs[s][0])
            assert np.array_equal(dev.view(np.uint8), host.run(x).view(np.uint8)), f"{c.id} step {s}: M4 != host"
            assert _compare(c.id, c.scheme, f"step {s}", dev, ref_out[i][s]) is None
