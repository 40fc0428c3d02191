"""The four MLPerf Tiny models on the host board through the RPC Session: bit-exact with TFLM,
on-device timing, one profile entry per operator, stats that match the memory planner."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from conftest import MLPERF_MODELS, mlperf_model
from microaot.compiler import CompileResult, compile_model
from microaot.rpc import protocol as P
from microaot.rpc.framing import encode_frame
from microaot.rpc.hostboard import build_host_board, start_host_board
from microaot.rpc.session import RpcCommandError, Session

KEYS = list(MLPERF_MODELS)
SEEDS = (0, 1)
# runs per timing test, keeping each model under ~1 s of device time
N_RUNS = {"kws": 10, "vww": 5, "ic": 5, "ad": 50}


@dataclass
class Board:
    result: CompileResult
    exe: Path
    inputs: list[np.ndarray]
    reference: list[np.ndarray]


def _build(key: str, d: Path) -> tuple[CompileResult, Path]:
    r = compile_model(mlperf_model(key), d)
    return r, build_host_board(r, d)


@pytest.fixture(scope="module")
def boards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Board]:
    from microaot.reference import run_reference

    dirs = {k: tmp_path_factory.mktemp(f"rpc_{k}") for k in KEYS}
    with ThreadPoolExecutor(max_workers=4) as pool:
        built = dict(zip(KEYS, pool.map(lambda k: _build(k, dirs[k]), KEYS), strict=True))
        refs = {}
        inputs = {}
        for k in KEYS:
            r = built[k][0]
            shape = r.graph.tensors[r.graph.inputs[0]].shape
            inputs[k] = [np.random.default_rng(100 + s).integers(-128, 128, size=shape, dtype=np.int8) for s in SEEDS]
        futs = {k: pool.submit(run_reference, mlperf_model(k), [[x] for x in inputs[k]]) for k in KEYS}
        for k in KEYS:
            refs[k] = [o[0] for o in futs[k].result()]
    return {k: Board(built[k][0], built[k][1], inputs[k], refs[k]) for k in KEYS}


@pytest.fixture
def board(request: pytest.FixtureRequest, boards: dict[str, Board]) -> Iterator[tuple[Board, Session]]:
    b = boards[request.param]
    s = start_host_board(b.result, b.exe.parent, exe=b.exe, timeout=20.0)
    yield b, s
    s.close()


pytest_param = pytest.mark.parametrize("board", KEYS, indirect=True)


@pytest_param
def test_hello_matches_compiled_model(board: tuple[Board, Session]) -> None:
    b, s = board
    info = s.info
    g = b.result.graph
    assert info is not None and info.model_ok
    assert info.model_name == b.result.name and info.model_hash == b.result.model_hash[:16]
    assert info.board == "host" and info.timer_unit == "ns"
    assert info.workspace_size == b.result.workspace_size and info.weight_bytes == b.result.weight_bytes
    assert info.op_names == tuple(op.opcode for op in g.operators)
    for infos, ids in ((info.inputs, g.inputs), (info.outputs, g.outputs)):
        assert len(infos) == len(ids)
        for ti, tid in zip(infos, ids, strict=True):
            t = g.tensors[tid]
            assert ti.dtype == t.dtype and ti.shape == tuple(t.shape) and ti.nbytes == t.nbytes
            assert t.quant is not None
            assert ti.scale == pytest.approx(t.quant.scale0, rel=1e-6) and ti.zero_point == t.quant.zp0


@pytest_param
def test_bit_exact_with_tflm_over_rpc(board: tuple[Board, Session]) -> None:
    b, s = board
    for x, want in zip(b.inputs, b.reference, strict=True):
        outs, timing = s.invoke([x])
        assert timing.total > 0
        got = outs[0]
        assert got.dtype == want.dtype and got.shape == tuple(s.info.outputs[0].shape)  # type: ignore[union-attr]
        np.testing.assert_array_equal(got.reshape(-1), want.reshape(-1))


@pytest_param
def test_timing_positive_and_scales_with_n(board: tuple[Board, Session], request: pytest.FixtureRequest) -> None:
    b, s = board
    n = N_RUNS[request.node.callspec.params["board"]]
    s.write_input(0, b.inputs[0])
    s.run(1)  # warm up caches
    t1 = s.run(1)
    tn = s.run(n)
    assert t1.min > 0 and tn.min > 0 and tn.n == n and len(tn.per_run) == n
    assert sum(tn.per_run) == tn.total and min(tn.per_run) == tn.min and max(tn.per_run) == tn.max
    # n runs take about n times one run; noise on a shared host only ever makes runs slower
    assert tn.total > n * t1.min / 3
    np.testing.assert_array_equal(s.read_output(0).reshape(-1), b.reference[0].reshape(-1))


@pytest_param
def test_profile_one_entry_per_operator(board: tuple[Board, Session]) -> None:
    b, s = board
    s.write_input(0, b.inputs[1])
    prof = s.profile(runs=2)
    ops = b.result.graph.operators
    assert len(prof) == len(ops) and prof.runs == 2
    assert [p.name for p in prof] == [op.opcode for op in ops]
    assert all(p.total >= 0 for p in prof) and sum(p.total for p in prof) > 0
    assert prof.total >= sum(p.total for p in prof)
    # profiling does not change the result
    np.testing.assert_array_equal(s.read_output(0).reshape(-1), b.reference[1].reshape(-1))


@pytest_param
def test_stats_match_the_planner(board: tuple[Board, Session]) -> None:
    b, s = board
    s.run(1)
    st = s.stats()
    r = b.result
    assert st.workspace_size == r.workspace_size == max(r.plan.workspace_size, 16)
    assert st.workspace_buffer == r.workspace_size
    g = r.graph
    assert st.io_bytes == sum(g.tensors[t].nbytes for t in [*g.inputs, *g.outputs])
    assert st.stack_size and st.stack_high_water and st.model_stack
    assert 0 < st.model_stack <= st.stack_high_water < st.stack_size
    assert st.static_ram is not None and st.static_ram >= r.workspace_size + st.io_bytes


@pytest.mark.parametrize("board", ["kws"], indirect=True)
def test_faults_leave_model_results_intact(board: tuple[Board, Session]) -> None:
    b, s = board
    s.write_input(0, b.inputs[0])
    nbytes = s.info.inputs[0].nbytes  # type: ignore[union-attr]
    with pytest.raises(RpcCommandError, match="ERR_RANGE"):
        s.write_input_bytes(0, nbytes - 1, b"\x00\x00")
    with pytest.raises(RpcCommandError, match="ERR_INDEX"):
        s.write_input_bytes(1, 0, b"\x00")
    bad = bytearray(encode_frame(P.HEADER.pack(P.Cmd.WRITE_INPUT, 0, 1, s.info.nonce) + bytes(40)))  # type: ignore[union-attr]
    bad[-3] ^= 0xFF
    assert s.send_raw(bytes(bad))[0].status == P.Status.ERR_FRAME_CRC
    s.run(1)
    np.testing.assert_array_equal(s.read_output(0).reshape(-1), b.reference[0].reshape(-1))
