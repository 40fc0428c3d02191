"""Stateful models (issue 18, deliverable 3): resource variables (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE,
CALL_ONCE init subgraphs), TFLM reference over sequences, the RPC RESET_STATE command, eval/pio test sequences
(every step compared with TFLM) and the memory modes with a state buffer."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from microaot.errors import RpcError
from microaot.reference import run_reference, run_reference_sequences
from microaot.report.evaluation import EvalReport, MemoryReport, Mismatch
from microaot.rpc import protocol as P
from microaot.rpc.session import Session
from microaot.rpc.transport import SubprocessTransport
from microaot.testing.resvar import accumulator_model

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
