"""A tiny tune run on the host board and on QEMU Cortex-M4: writes a log, the rebuild uses the best
schedules (the generated C is the one of those schedules) and stays bit-exact with TFLM."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from microaot import schedules as space
from microaot.compiler import compile_model
from microaot.frontend.tflite import load_tflite
from microaot.hostbuild import build_model_shared_lib, run_compiled
from microaot.reference import run_reference
from microaot.testing import modelgen
from microaot.testing.modelgen import ActQ, Conv2DOptions, FullyConnectedOptions, ModelBuilder
from microaot.tune.log import log_schedules, read_log, read_records
from microaot.tune.tuner import tune_model

pytestmark = pytest.mark.pio


def two_conv_fc_model(seed: int = 5) -> bytes:
    """CONV 3x3 (8->8) -> CONV 3x3 (8->8, same signature as the first) -> FC 10."""
    rng = np.random.default_rng(seed)
    mb = ModelBuilder()
    q = [ActQ.from_range(-4.0, 4.0), ActQ.from_range(0.0, 6.0), ActQ.from_range(0.0, 6.0), ActQ.from_range(-8.0, 8.0)]
    x = mb.add_input("input", (1, 6, 6, 8), "int8", quant=q[0].quant)
    cur = x
    for layer in range(2):
        w = rng.normal(0, 0.3, size=(8, 3, 3, 8))
        wq, wquant = modelgen.quantize_weights(w, 0)
        bq, bquant = modelgen.quantize_bias(rng.normal(0, 0.5, size=(8,)), q[layer].scale, wquant)
        wt = mb.add_const(f"w{layer}", wq, "int8", quant=wquant)
        bt = mb.add_const(f"b{layer}", bq, "int32", quant=bquant)
        y = mb.add_tensor(f"conv{layer}", (1, 6, 6, 8), "int8", quant=q[layer + 1].quant)
        mb.add_operator("CONV_2D", [cur, wt, bt], [y], Conv2DOptions("SAME", 1, 1, "RELU"))
        cur = y
    w = rng.normal(0, 0.1, size=(10, 6 * 6 * 8))
    wq, wquant = modelgen.quantize_weights(w, None)
    bq, bquant = modelgen.quantize_bias(rng.normal(0, 0.5, size=(10,)), q[2].scale, wquant)
    wt = mb.add_const("wfc", wq, "int8", quant=wquant)
    bt = mb.add_const("bfc", bq, "int32", quant=bquant)
    out = mb.add_tensor("logits", (1, 10), "int8", quant=q[3].quant)
    mb.add_operator("FULLY_CONNECTED", [cur, wt, bt], [out], FullyConnectedOptions("NONE"))
    mb.set_outputs([out])
    return mb.to_bytes()


@pytest.fixture(scope="module")
def shared_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One log for both boards: the second run appends, nothing earlier is lost."""
    return tmp_path_factory.mktemp("log") / "tuning.jsonl"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("tune") / "tiny_tune.tflite"
    p.write_bytes(two_conv_fc_model())
    return p


def _check_run(res, log: Path, board: str, target: str, model: Path, tmp: Path) -> None:  # noqa: ANN001
    g = load_tflite(model)
    # the two convolutions share one signature, hence one search and one measurement per batch
    conv_sig = space.op_signature(g, g.operators[0])
    assert conv_sig == space.op_signature(g, g.operators[1])
    conv_rows = [r for r in res.groups if r["signature"] == conv_sig]
    assert len(conv_rows) == 1 and conv_rows[0]["op_indices"] == [0, 1]
    assert res.default_matches_tflm is True
    assert res.tuned_bitexact is True
    recs = [r for r in read_records(log) if r.extra.get("tuner_run") == _run_id(log, board)]
    assert recs and all(r.board == board and r.target == target for r in recs)
    assert any(r.extra.get("is_default") for r in recs)
    searched = [r for r in recs if r.extra.get("stage") != "refine"]
    assert sum(1 for r in searched if r.signature == conv_sig) == 1 + conv_rows[0]["measured"] >= 2
    assert all(r.bitexact and not r.error for r in searched)
    # the whole-model refinement's choice, when it ran, is what the table shows and what builds pick
    final = {r.signature: r.knobs for r in recs if r.extra.get("final")}
    if res.refined is not None and res.refined.get("combined_total") is not None:
        assert final == {r["signature"]: r["best_knobs"] for r in res.groups}
    else:
        assert not final
    assert any(d.get("kind") == "model_summary" for d in read_log(log))
    # the rebuild picks the best measured entry of every operator ...
    best = {r["signature"]: r["best_knobs"] for r in res.groups}
    a = compile_model(model, tmp / "from_log", target=target,
                      schedules=log_schedules(log, model, target=target, board=board))
    want = {op.index: space.canonical_schedule(g, op, target, best[space.op_signature(g, op)])
            for op in g.operators if space.op_signature(g, op) in best}
    b = compile_model(model, tmp / "explicit", target=target, schedules=want)
    assert a.sources[0].read_text() == b.sources[0].read_text()
    # the RAM the device reported for both builds is the generator's planned workspace
    assert res.tuned_workspace == a.workspace_size
    assert res.default_workspace == compile_model(model, tmp / "default", target=target).workspace_size
    # ... and the tuned C is bit-exact with TFLM (host shared library on 3 inputs)
    lib = build_model_shared_lib(a, tmp / "lib")
    rng = np.random.default_rng(11)
    xs = [[rng.integers(-128, 128, size=(1, 6, 6, 8), dtype=np.int8)] for _ in range(3)]
    refs = run_reference(model, xs)
    for x, r in zip(xs, refs, strict=True):
        assert run_compiled(a, lib, x)[0].tobytes() == np.asarray(r[0]).tobytes()


def _run_id(log: Path, board: str) -> str:
    """tuner_run of the last run on that board."""
    return [d for d in read_log(log) if d.get("board") == board and d.get("tuner_run")][-1]["tuner_run"]


def test_tune_host_board(tiny_model: Path, shared_log: Path, tmp_path: Path) -> None:
    before = read_log(shared_log, missing_ok=True)
    res = tune_model(tiny_model, "host", log=shared_log, budget=2, jobs=1, seeds=2, work_dir=tmp_path / "work",
                     progress=False, runs=1, repeats=3)
    assert res.unit == "ns" and res.board == "host" and res.target == "generic"
    assert read_log(shared_log)[: len(before)] == before
    _check_run(res, shared_log, "host", "generic", tiny_model, tmp_path)


@pytest.mark.qemu
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs qemu-system-arm and arm-none-eabi-gcc")
def test_tune_qemu_m4_parallel(tiny_model: Path, shared_log: Path, tmp_path: Path) -> None:
    log = shared_log
    before = read_log(log, missing_ok=True)
    res = tune_model(tiny_model, "qemu_mps2_an386", log=log, budget=2, jobs=2, seeds=2, work_dir=tmp_path / "work",
                     progress=False)
    assert res.unit == "instructions" and res.target == "cortex-m4"
    assert read_log(log)[: len(before)] == before  # appended: the host board's entries are still there
    _check_run(res, log, "qemu_mps2_an386", "cortex-m4", tiny_model, tmp_path)
    # instruction counts are deterministic: the per-op bests add up, the tuned model is not slower
    assert res.tuned_total is not None and res.tuned_total <= res.default_total * 1.01
    # the final check's PlatformIO build compiled exactly the log's best schedules
    built = next((tmp_path / "work" / "slot0" / ".pio" / "build" / "qemu_mps2_an386" / "microaot").glob("tiny_tune.c"))
    a = compile_model(tiny_model, tmp_path / "again", target="cortex-m4",
                      schedules=log_schedules(log, tiny_model, target="cortex-m4", board="qemu_mps2_an386"))
    assert built.read_text() == a.sources[0].read_text()
