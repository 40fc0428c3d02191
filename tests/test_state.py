"""Stateful models (issue 18, deliverable 3): resource variables (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE,
CALL_ONCE init subgraphs), TFLM reference over sequences, the RPC RESET_STATE command, eval/pio test sequences
(every step compared with TFLM) and the memory modes with a state buffer."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from microaot.compiler import compile_model
from microaot.errors import RpcError, UnsupportedModelError
from microaot.export import export_library
from microaot.frontend.tflite import load_tflite
from microaot.hostbuild import build_model_shared_lib, new_state, run_compiled_sequence
from microaot.hostbuild import state_size as hostbuild_state_size
from microaot.planner.plan import topological_orders
from microaot.reference import run_reference, run_reference_sequences
from microaot.report.evaluation import EvalReport, MemoryReport, Mismatch
from microaot.rpc import protocol as P
from microaot.rpc.hostboard import start_host_board
from microaot.rpc.session import Session
from microaot.rpc.transport import SubprocessTransport
from microaot.testing import m4run
from microaot.testing.modelgen import AddOptions, OperatorSpec
from microaot.testing.resvar import (
    AssignVariableOptions,
    MultiModelBuilder,
    accumulator_builder,
    accumulator_model,
    delay_model,
)

FAKE_DEVICE = Path(__file__).parent / "fake_rpc_device.py"


def _model(tmp_path: Path, dtype: str = "int8", *, init: bool = True, seed: int = 1) -> Path:
    p = tmp_path / f"acc_{dtype}_{int(init)}_{seed}.tflite"
    p.write_bytes(accumulator_model(dtype, init=init, seed=seed))
    return p


def _steps(dtype: str, n: int, seed: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        return [[rng.standard_normal((1, 8)).astype(np.float32)] for _ in range(n)]
    ii = np.iinfo(np.dtype(dtype))
    return [[rng.integers(ii.min, int(ii.max) + 1, size=(1, 8)).astype(dtype)] for _ in range(n)]


# ---- the TFLM reference over sequences ------------------------------------------------------------------------


def test_reference_sequences_restart_from_the_initial_state(tmp_path: Path) -> None:
    """Each sequence starts where a fresh interpreter starts (CALL_ONCE init included); run_reference chains."""
    m = _model(tmp_path, "float32")
    xs = _steps("float32", 3, 0)
    seqs = run_reference_sequences(m, [xs, xs])
    chained = run_reference(m, [*xs, *xs])
    for a, b in zip(seqs[0], seqs[1], strict=True):  # the same inputs from the same start: the same outputs
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(seqs[0][0], chained[0], strict=True))
    # without a reset the 4th step continues from the 3rd: the "sum" variable keeps growing
    assert not np.array_equal(chained[3][1], seqs[1][0][1])
    # the state is real: step 1 is not step 0 although "acc" only adds the same kind of inputs
    assert not np.array_equal(seqs[0][1][1], seqs[0][0][1])


def test_tflm_reset_does_not_rerun_call_once(tmp_path: Path) -> None:
    """The measured TFLM behaviour microaot.reference works around with a new interpreter per sequence: after
    interpreter.reset() the variables hold their default and CALL_ONCE's init subgraph never runs again.
    If a tflite-micro release changes that, this test says so (and the workaround can go)."""
    from tflite_micro import runtime

    buf = accumulator_model("float32", init=True, seed=1)
    it = runtime.Interpreter.from_bytes(buf, arena_size=1 << 16)
    x = np.zeros((1, 8), np.float32)
    it.set_input(x, 0)
    it.invoke()
    first = it.get_output(0).copy()
    it.reset()
    it.set_input(x, 0)
    it.invoke()
    after_reset = it.get_output(0).copy()
    assert np.any(first != 0)  # the init constant came through
    assert np.array_equal(after_reset, np.zeros_like(after_reset))  # default (0), init not re-run


# ---- RPC: RESET_STATE, HELLO's state_size, no blind resend of a stateful RUN -------------------------------------


def test_session_reset_state_and_no_resend_of_a_stateful_run(tmp_path: Path) -> None:
    count = tmp_path / "count"
    dev = SubprocessTransport([sys.executable, str(FAKE_DEVICE), "stateful", "0", str(count)])
    with Session(dev, timeout=15.0, retries=2, resend_after=0.2, name="stateful fake") as s:
        info = s.hello()
        assert info.state_size == 64 and info.stateful and info.flags & P.FLAG_STATE
        s.reset_state()
        s.reset_state()  # idempotent
        with pytest.raises(RpcError, match=r"RUN: the reply from stateful fake was corrupted.*reset_state\(\) and "
                                           r"replay the sequence"):
            s.run(1, timeout=2.0)
        assert count.read_text().split() == ["reset", "reset", "run"]  # the RUN ran once, was not resent
        t = s.run(1, timeout=2.0)  # the next RUN's reply is intact
        assert t.n == 1
    assert count.read_text().split() == ["reset", "reset", "run", "run"]


def test_session_reset_state_sends_nothing_for_a_stateless_device(tmp_path: Path) -> None:
    dev = SubprocessTransport([sys.executable, str(FAKE_DEVICE), "hung"])
    with Session(dev, timeout=15.0, retries=0, name="stateless fake") as s:
        info = s.hello()
        assert info.state_size == 0 and not info.stateful
        s.reset_state()  # no request: the fake would not know RESET_STATE (a hung device never answers)


# ---- the report names the first divergence -----------------------------------------------------------------------


def test_report_names_the_first_diverging_step() -> None:
    mem = MemoryReport(code=0, weights=0, rodata=0, data=0, bss=0, flash=0, static_ram=0, workspace=0)
    rep = EvalReport(model="m.tflite", model_hash="0" * 64, board="host", board_name="host", timer_unit="ns",
                     seeds=2, runs=1, outputs_match=False, compared_bytes=96, time_min=1, time_mean=1.0, time_max=1,
                     memory=mem, sequence=3, state_size=64,
                     mismatches=[Mismatch(1, 0, 2, 1.0, step=0), Mismatch(0, 1, 1, 3.0, step=2),
                                 Mismatch(0, 0, 4, 2.0, step=2)])
    assert rep.first_divergence == "seed 0 step 2 output 0"
    text = rep.format_text()
    assert "over 2 sequence(s) x 3 step(s), state reset before each" in text
    assert "first divergence    : seed 0 step 2 output 0" in text
    assert "model state         : 64 bytes kept between runs" in text
    assert "seed 0 step 2 output 1: 1 element(s) differ" in text
    one = EvalReport(model="m.tflite", model_hash="0" * 64, board="host", board_name="host", timer_unit="ns",
                     seeds=2, runs=1, outputs_match=False, compared_bytes=96, time_min=1, time_mean=1.0, time_max=1,
                     memory=mem, mismatches=[Mismatch(1, 0, 2, 1.0)])
    assert one.first_divergence == "seed 1 output 0" and "first divergence" not in one.format_text()


# ---- resource variables: import, compile, bit-exact with TFLM over sequences (host) ------------------------------


def _host_sequences(m: Path, tmp: Path, seqs: list[list[list[np.ndarray]]]) -> list[list[list[np.ndarray]]]:
    r = compile_model(m, tmp / "gen")
    lib = build_model_shared_lib(r, tmp / "lib")
    return [run_compiled_sequence(r, lib, seq) for seq in seqs]


@pytest.mark.parametrize("dtype,init", [
    ("int8", True), ("float32", True),
    # int16 runs on the Cortex-M4 below; "sum" of every model starts from the default byte (no init)
    pytest.param("int16", True, marks=pytest.mark.slow), pytest.param("int8", False, marks=pytest.mark.slow)])
def test_resource_variables_bit_exact_over_sequences(tmp_path: Path, dtype: str, init: bool) -> None:
    m = _model(tmp_path, dtype, init=init)
    seqs = [_steps(dtype, 4, 10), _steps(dtype, 3, 11)]
    want = run_reference_sequences(m, seqs)
    got = _host_sequences(m, tmp_path, seqs)
    for s, (gs, ws) in enumerate(zip(got, want, strict=True)):
        for k, (g, w) in enumerate(zip(gs, ws, strict=True)):
            for o, (a, b) in enumerate(zip(g, w, strict=True)):
                assert a.tobytes() == np.ascontiguousarray(b).tobytes(), f"sequence {s} step {k} output {o}"


def test_an_assignment_no_tensor_orders_stays_after_the_read(tmp_path: Path) -> None:
    """y_t = x_(t-1) + x_t: ASSIGN_VARIABLE(prev, x) depends on no tensor of READ_VARIABLE(prev), yet every
    execution order the planner may pick keeps it after the read; bit-exact with TFLM over a sequence."""
    m = tmp_path / "delay.tflite"
    m.write_bytes(delay_model("float32"))
    g = load_tflite(m)
    read = next(op.index for op in g.operators if op.opcode == "READ_VARIABLE")
    assign = next(op.index for op in g.operators if op.opcode == "ASSIGN_VARIABLE")
    orders = topological_orders(g)
    assert len(orders) > 1 and all(o.index(read) < o.index(assign) for o in orders)
    xs = _steps("float32", 4, 2)
    xs = [[x[0][:, :4]] for x in xs]
    [want] = run_reference_sequences(m, [xs])
    [got] = _host_sequences(m, tmp_path, [xs])
    for k, (g_, w) in enumerate(zip(got, want, strict=True)):
        assert g_[0].tobytes() == np.ascontiguousarray(w[0]).tobytes(), f"step {k}"


def test_resource_variable_state_layout_and_reset_values(tmp_path: Path) -> None:
    """One state region per (container, shared_name); the reset value is TFLM's: the init subgraph's constant for
    "acc", the zero point (as a byte) of the first tensor assigned to "sum"."""
    m = _model(tmp_path, "int8", init=True)
    g = load_tflite(m)
    variables = [t for t in g.tensors if t.is_variable]
    assert [t.name for t in variables] == ["variable acc", "variable sum"]
    assert all(t.shape == (1, 8) and t.dtype == "int8" for t in variables)
    r = compile_model(m, tmp_path / "gen")
    lib = build_model_shared_lib(r, tmp_path / "lib")
    st = new_state(r, lib)  # after NAME_reset_state
    assert hostbuild_state_size(r) >= 16
    plan = r.plan.locations
    vs = [t for t in r.graph.tensors if t.is_variable]
    acc, tot = (plan[t.index].offset for t in vs)
    [init_const] = load_tflite_init(m)
    assert st[acc:acc + 8].tobytes() == init_const
    w = next(t for t in g.tensors if t.name == "w")
    assert st[tot:tot + 8].tobytes() == bytes([int(w.quant.zp0) & 0xFF]) * 8


def load_tflite_init(m: Path) -> list[bytes]:
    """The constants of the model's init subgraph (read with the tflite schema package, independently)."""
    import tflite

    buf = m.read_bytes()
    model = tflite.Model.GetRootAs(buf, 0)
    sg = model.Subgraphs(1)
    out = []
    for i in range(sg.TensorsLength()):
        b = model.Buffers(sg.Tensors(i).Buffer())
        if b.DataLength():
            out.append(b.DataAsNumpy().tobytes())
    return out


def _mutated(tmp_path: Path, name: str, edit: Callable[[MultiModelBuilder], None]) -> Path:
    """The int8 accumulator model rebuilt with ``edit`` applied to its builder."""
    mm = accumulator_builder("int8", init=True, seed=1)
    edit(mm)
    p = tmp_path / name
    p.write_bytes(mm.to_bytes())
    return p


def test_unsupported_state_forms_are_rejected_with_the_reason(tmp_path: Path) -> None:
    # an init subgraph that computes (an ADD), not only assigns constants: the old multi-subgraph message
    def compute(mm: MultiModelBuilder) -> None:
        sub = mm.subgraphs[1]
        c = next(i for i, t in enumerate(sub.tensors) if t.data is not None)
        y = sub.add_tensor("twice", (1, 8), "int8", quant=sub.tensors[c].quant)
        sub.operators.insert(1, OperatorSpec("ADD", (c, c), (y,), AddOptions()))
        sub.operators[-1] = OperatorSpec("ASSIGN_VARIABLE", (sub.operators[-1].inputs[0], y), (),
                                         AssignVariableOptions())

    p = _mutated(tmp_path, "compute.tflite", compute)
    with pytest.raises(UnsupportedModelError) as e:
        load_tflite(p)
    assert str(e.value) == (f"{p}: the model has 2 subgraphs; microaot compiles single-subgraph models only "
                            "(no control flow, no signatures with several graphs)")

    # a variable read but never assigned (TFLM cannot allocate it)
    def never(mm: MultiModelBuilder) -> None:
        main = mm.subgraphs[0]
        h = next(i for i, t in enumerate(main.tensors) if t.name == "sum_handle")
        main.operators = [o for o in main.operators if not (o.op == "ASSIGN_VARIABLE" and o.inputs[0] == h)]

    p = _mutated(tmp_path, "never.tflite", never)
    with pytest.raises(UnsupportedModelError, match=r"operator \d+ \(READ_VARIABLE\) reads resource variable 'sum', "
                                                    r"which no ASSIGN_VARIABLE ever assigns"):
        load_tflite(p)

    # a variable read with another size than it was assigned with
    def resize(mm: MultiModelBuilder) -> None:
        main = mm.subgraphs[0]
        t = next(t for t in main.tensors if t.name == "sum_read")
        t.shape = (1, 4)

    p = _mutated(tmp_path, "resize.tflite", resize)
    with pytest.raises(UnsupportedModelError, match=r"operator \d+ \(READ_VARIABLE\) reads tensor \d+ \('sum_read', "
                                                    r"int8 \[1, 4\], 4 bytes\) but resource variable 'sum' holds 8 "
                                                    r"bytes"):
        load_tflite(p)


# ---- the RPC server: HELLO state_size, RESET_STATE, RESET, sequences on the host board ---------------------------


def test_rpc_reset_state_on_the_host_board(tmp_path: Path) -> None:
    m = _model(tmp_path, "int8")
    r = compile_model(m, tmp_path / "gen")
    xs = _steps("int8", 3, 5)
    [want] = run_reference_sequences(m, [xs])
    with start_host_board(r, tmp_path / "board", timeout=10.0) as s:
        info = s.hello()
        assert info.state_size == hostbuild_state_size(r) > 0 and info.flags & P.FLAG_STATE

        def sequence() -> list[list[np.ndarray]]:
            return [s.invoke(x)[0] for x in xs]

        first = sequence()  # from the state the server reset at boot
        for got, ref in zip(first, want, strict=True):
            assert [g.tobytes() for g in got] == [np.ascontiguousarray(w).tobytes() for w in ref]
        again = sequence()  # no reset: the state goes on, the outputs differ
        assert any(a[1].tobytes() != b[1].tobytes() for a, b in zip(first, again, strict=True))
        s.reset_state()
        assert [[o.tobytes() for o in step] for step in sequence()] == [[o.tobytes() for o in st] for st in first]
        s.reset()  # RESET resets the state too
        assert [[o.tobytes() for o in step] for step in sequence()] == [[o.tobytes() for o in st] for st in first]
        # RUN n = n consecutive steps; OPCHECK is a step too
        s.reset_state()
        s.write_input(0, xs[0][0])
        s.run(2)
        s.op_hashes()
        y = s.read_output(1)
        [chained] = run_reference_sequences(m, [[xs[0]] * 3])
        assert y.tobytes() == np.ascontiguousarray(chained[2][1]).tobytes()


# ---- eval / pio test over sequences -------------------------------------------------------------------------------


@pytest.mark.pio
def test_eval_compares_every_step_and_names_the_first_divergence(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from microaot import evaluate as ev
    from microaot.boards import get_board
    from microaot.pio.project import build, write_project

    m = _model(tmp_path, "int8")
    b = build(write_project(tmp_path / "p", "host", model=m), "host")
    rep = ev.evaluate_firmware(m, get_board("host"), b.firmware, b.info, seeds=2, profile=False)
    assert (rep.sequence, rep.seeds, rep.state_size) == (3, 2, hostbuild_state_size(compile_model(m, tmp_path / "g")))
    assert rep.outputs_match and rep.tensors_match is True and not rep.mismatches, rep.format_text()
    assert rep.compared_bytes == 2 * 3 * 2 * 8  # seeds x steps x outputs x bytes
    assert "over 2 sequence(s) x 3 step(s), state reset before each" in rep.format_text()

    # a reference that forgets to reset between the seeds: seed 0 still matches, seed 1 diverges at step 0
    def chained(model: Path, seqs: list[list[list[np.ndarray]]]) -> list[list[list[np.ndarray]]]:
        flat = run_reference(model, [step for seq in seqs for step in seq])
        out, pos = [], 0
        for seq in seqs:
            out.append(flat[pos:pos + len(seq)])
            pos += len(seq)
        return out

    monkeypatch.setattr(ev, "run_reference_sequences", chained)
    bad = ev.evaluate_firmware(m, get_board("host"), b.firmware, b.info, seeds=2, sequence=2, profile=False,
                               check_tensors=False)
    assert not bad.outputs_match and bad.sequence == 2
    assert bad.first_divergence == "seed 1 step 0 output 0"
    assert {(mm.seed, mm.step) for mm in bad.mismatches} <= {(1, 0), (1, 1)}
    assert "first divergence    : seed 1 step 0 output 0" in bad.format_text()


@pytest.mark.qemu
def test_resource_variables_on_qemu_m4_over_a_sequence(tmp_path: Path) -> None:
    """One small sample on the Cortex-M4 (QEMU mps2-an386): the device's steps equal TFLM's."""
    if not m4run.available():
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    m = _model(tmp_path, "int16")
    r = compile_model(m, tmp_path / "gen", target="cortex-m4")
    xs = _steps("int16", 4, 3)
    got = m4run.run_m4(r, xs, tmp_path / "m4", timeout=60)
    [want] = run_reference_sequences(m, [xs])
    for k, (g, w) in enumerate(zip(got.outputs, want, strict=True)):
        assert [a.tobytes() for a in g] == [np.ascontiguousarray(b).tobytes() for b in w], f"step {k}"


# ---- the export: state buffer, three memory modes, size report, no malloc --------------------------------------


def test_export_three_memory_modes_keep_the_state(tmp_path: Path) -> None:
    m = _model(tmp_path, "int8")
    res = export_library(m, tmp_path / "lib", name="acc")
    size = res.size
    state = hostbuild_state_size(res.compile_result)
    assert size["state"] == state > 0 and size["ram"] >= size["workspace"] + state
    assert size["state_from_elf"] == state  # the compiled descriptor agrees (read from the object)
    assert size["forbidden_symbols"] == []  # no malloc/free/printf, the state functions included
    readme = (res.out_dir / "README.md").read_text()
    assert "acc_STATE_SIZE" in readme and "uaot_model_state_init" in readme and "UAOT_ERR_STATE" in readme
    assert "state (caller's, persists)" in readme
    exe = tmp_path / "state_modes"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-g", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all", '-DMODEL_HEADER="acc.h"', "-DMODEL=acc",
                    f"-I{res.out_dir / 'include'}", str(Path(__file__).parent / "c" / "state_modes.c"),
                    *map(str, res.sources), "-o", str(exe), "-lm"], check=True, capture_output=True, timeout=120)
    xs = _steps("int8", 4, 21)
    data = tmp_path / "in.bin"
    data.write_bytes(b"".join(x[0].tobytes() for x in xs))
    proc = subprocess.run([str(exe), "4", str(data)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "done ok" in proc.stdout, proc.stdout + proc.stderr
    rows = re.findall(r"mode=(\w+) pass=(\d) step=(\d+) status=(\d+) out=([0-9a-f]+)", proc.stdout)
    assert len(rows) == 3 * 2 * 4
    [want] = run_reference_sequences(m, [xs])
    expect = [b"".join(np.ascontiguousarray(o).tobytes() for o in step).hex() for step in want]
    for mode, _pass, step, status, out in rows:
        assert (status, out) == ("0", expect[int(step)]), f"mode {mode} pass {_pass} step {step}"


@pytest.mark.pio
@pytest.mark.slow
def test_pio_test_feeds_sequences_of_custom_microaot_test_sequence(tmp_path: Path) -> None:
    """``pio test`` of a stateful model: custom_microaot_test_sequence steps per seed, one case per seed covering
    every step of its sequence."""
    from microaot.pio.project import pio_argv, pio_environ, write_project

    m = _model(tmp_path, "int8")
    proj = write_project(tmp_path / "p", "host", model=m, extra={
        "test_framework": "custom", "custom_microaot_test_seeds": "2", "custom_microaot_test_sequence": "4"})
    (proj / "test").mkdir()
    (proj / "test" / "test_custom_runner.py").write_text(
        "from microaot.pio.testing import MicroaotTestRunner\n\n\nclass CustomTestRunner(MicroaotTestRunner):\n"
        "    pass\n")
    env = pio_environ()
    env["PLATFORMIO_WORKSPACE_DIR"] = str(tmp_path / "ws")
    r = subprocess.run(pio_argv("test", "-d", str(proj), "-e", "host"), env=env, capture_output=True, text=True,
                       timeout=600, check=False)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    for seed in range(2):
        assert (f"host:outputs_match_tflm_seed{seed}\t[PASSED] bit-exact on every step of the sequence (4 steps)"
                in out), out[-3000:]
    assert "over 2 sequence(s) x 4 step(s), state reset before each" in out
    assert "host:tensors_match_generic_c\t[PASSED]" in out
