"""Tuning log (read / append / merge / keys / best entry), the compile hook, and the searchers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from microaot import schedules as space
from microaot.compiler import compile_model
from microaot.frontend.tflite import load_tflite
from microaot.paths import shared_models_dir
from microaot.testing import modelgen
from microaot.tune.log import (
    GENERATOR,
    FailureKind,
    TuneRecord,
    TuningLogError,
    append_records,
    best_records,
    best_schedules,
    log_schedules,
    merge_logs,
    read_log,
    read_records,
)
from microaot.tune.search import CoordinateSearch, GridSearch, make_searcher

MODELS = shared_models_dir()


def rec(sig: str, t: float | None, knobs: dict | None = None, **kw: object) -> TuneRecord:
    base: dict = {"board": "qemu_mps2_an386", "target": "cortex-m4"}
    base.update(kw)
    return TuneRecord(signature=sig, knobs=knobs or {"k": t}, time=t, **base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("m") / "conv.tflite"
    p.write_bytes(modelgen.conv2d_model(np.random.default_rng(3), input_shape=(1, 6, 6, 8), filters=8,
                                        kernel=(3, 3), activation="RELU"))
    return p


def test_append_read_roundtrip_and_never_lose(tmp_path: Path) -> None:
    log = tmp_path / "t.jsonl"
    assert append_records(log, [rec("A", 10.0), rec("B", 5.0)]) == 2
    assert append_records(log, [rec("A", 7.0, error=None, failure=FailureKind.NOT_BITEXACT)]) == 1
    rs = read_records(log)
    assert [(r.signature, r.time, r.bitexact, r.failure) for r in rs] == \
        [("A", 10.0, True, None), ("B", 5.0, True, None), ("A", 7.0, False, FailureKind.NOT_BITEXACT)]
    d = read_log(log)[0]
    for key in ("signature", "board", "target", "generator", "knobs", "time", "bitexact", "v"):
        assert key in d
    assert "failure" not in d and read_log(log)[2]["failure"] == "not_bitexact"
    assert read_log(log)[2]["bitexact"] is False  # still written for readers without ``failure``
    assert d["generator"] == GENERATOR
    # a truncated last line (interrupted write) is skipped and the next append starts a fresh line
    with log.open("a") as f:
        f.write('{"signature": "C", "ti')
    with pytest.warns(UserWarning, match="incomplete record"):
        assert len(read_records(log)) == 3
    append_records(log, [rec("D", 1.0)])
    with pytest.warns(UserWarning, match="incomplete record"):
        assert [r.signature for r in read_records(log)] == ["A", "B", "A", "D"]
    assert sum(1 for ln in log.read_text().splitlines() if ln.strip()) == 5


def test_bad_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    log = tmp_path / "t.jsonl"
    log.write_text('{"signature": "A"}\nnot json\n{"signature": "B"}\n')
    with pytest.raises(TuningLogError, match=r"t.jsonl:2"):
        read_log(log)
    with pytest.raises(TuningLogError, match="does not exist"):
        read_log(tmp_path / "missing.jsonl")
    assert read_log(tmp_path / "missing.jsonl", missing_ok=True) == []


def test_merge_appends_only_new_records(tmp_path: Path) -> None:
    a, b, out = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "out.jsonl"
    append_records(a, [rec("A", 1.0), rec("B", 2.0)])
    append_records(b, [rec("B", 2.0), rec("C", 3.0)])
    append_records(out, [rec("A", 1.0)])
    assert merge_logs(out, [a, b]) == 2
    assert [r.signature for r in read_records(out)] == ["A", "B", "C"]
    assert merge_logs(out, [a, b]) == 0


def test_best_records_keys() -> None:
    rs = [
        rec("A", 10.0), rec("A", 4.0, failure=FailureKind.NOT_BITEXACT),
        rec("A", 3.0, failure=FailureKind.BUILD_FAILED, error="did not build"), rec("A", 6.0),
        rec("A", 1.0, target="cortex-m7"), rec("A", 2.0, generator="0.0.1"), rec("A", 0.5, board="other"),
        rec("B", None),
    ]
    best = best_records(rs, target="cortex-m4", board="qemu_mps2_an386")
    assert set(best) == {"A"} and best["A"].time == 6.0
    assert best_records(rs, target="cortex-m7")["A"].time == 1.0
    # no board given: the board of the most recent record for that signature
    assert best_records(rs, target="cortex-m4")["A"].board == "other"
    assert best_records(rs[:4], target="cortex-m4")["A"].time == 6.0


def test_best_records_prefer_the_whole_model_choice() -> None:
    """A ``final`` record (timed in the build of all the tuner's choices) wins over a faster candidate timed
    in a batch; among final records the fastest; unusable final records do not count."""
    rs = [rec("A", 5.0, {"k": "batch-fast"}), rec("A", 7.0, {"k": "chosen"}, extra={"final": True}),
          rec("A", 6.0, {"k": "x"}, extra={"final": True}, failure=FailureKind.TIMEOUT), rec("B", 3.0), rec("B", 2.0)]
    best = best_records(rs, target="cortex-m4", board="qemu_mps2_an386")
    assert best["A"].knobs == {"k": "chosen"} and best["B"].time == 2.0
    rs.append(rec("A", 6.5, {"k": "other model"}, extra={"final": True}))
    assert best_records(rs, target="cortex-m4")["A"].knobs == {"k": "other model"}


def test_best_schedules_by_signature_and_legacy(tmp_path: Path, conv_model: Path) -> None:
    g = load_tflite(conv_model)
    op = g.operators[0]
    sig = space.op_signature(g, op)
    cands = space.candidates(g, op, "cortex-m4")
    assert len(cands) >= 2, "CONV_2D int8 should have schedule variants on cortex-m4"
    other = cands[-1]
    log = tmp_path / "t.jsonl"
    append_records(log, [rec(sig, 100.0, cands[0]), rec(sig, 50.0, other),
                         rec(sig, 10.0, {"no_such_knob": 1}, board="qemu_mps2_an386")])
    # the fastest entry has an unknown knob: it is skipped (regenerated kernels), not an error
    assert best_schedules(log, g, target="cortex-m4") == {}
    log.write_text("")
    append_records(log, [rec(sig, 100.0, cands[0]), rec(sig, 50.0, other)])
    assert best_schedules(log, g, target="cortex-m4", board="qemu_mps2_an386") == {0: other}
    assert best_schedules(log, g, target="cortex-m4", board="host") == {}
    assert best_schedules(log, g, target="generic") == {}
    legacy = tmp_path / "legacy.jsonl"
    legacy.write_text(json.dumps({"op_index": 0, "knobs": other, "time": 1.0}) + "\n")
    assert best_schedules(legacy, g, target="cortex-m4") == {0: other}


def test_compile_model_picks_the_log_entry(tmp_path: Path, conv_model: Path) -> None:
    g = load_tflite(conv_model)
    op = g.operators[0]
    cands = space.candidates(g, op, "cortex-m4")
    other = next(c for c in cands if c != space.default_schedule(g, op, "cortex-m4"))
    log = tmp_path / "t.jsonl"
    append_records(log, [rec(space.op_signature(g, op), 1.0, other)])
    a = compile_model(conv_model, tmp_path / "a", target="cortex-m4",
                      schedules=log_schedules(log, conv_model, target="cortex-m4", board="qemu_mps2_an386"))
    b = compile_model(conv_model, tmp_path / "b", target="cortex-m4", schedules={0: other})
    c = compile_model(conv_model, tmp_path / "c", target="cortex-m4")
    assert a.sources[0].read_text() == b.sources[0].read_text()
    # the entry is for cortex-m4: a generic build ignores it
    d = compile_model(conv_model, tmp_path / "d", target="generic",
                      schedules=log_schedules(log, conv_model, target="generic"))
    e = compile_model(conv_model, tmp_path / "e", target="generic")
    assert d.sources[0].read_text() == e.sources[0].read_text()
    assert c.sources[0].exists()


def test_grid_search_enumerates_distinct_non_default() -> None:
    space_ = {"algo": ["direct", "gemm"], "cols": [1, 2]}

    def canon(k: dict) -> dict:
        return {"algo": "direct"} if k["algo"] == "direct" else dict(k)

    s = make_searcher(space_, {"algo": "direct"}, budget=10, canon=canon, n_distinct=3)
    assert isinstance(s, GridSearch)
    got = []
    while (c := s.propose()) is not None:
        got.append(c)
        s.report(c, 1.0)
    assert got == [{"algo": "gemm", "cols": 1}, {"algo": "gemm", "cols": 2}]


def test_coordinate_search_budget_and_descent() -> None:
    space_ = {"a": list(range(6)), "b": list(range(6)), "c": [0, 1]}

    def cost(k: dict) -> float:
        return (k["a"] - 4) ** 2 + (k["b"] - 1) ** 2 + 3 * k["c"] + 1.0

    default = {"a": 0, "b": 0, "c": 1}
    s = make_searcher(space_, default, budget=14)
    assert isinstance(s, CoordinateSearch)
    s.set_default_time(cost(default))
    seen = []
    for _ in range(100):
        batch = []
        while (c := s.propose()) is not None:
            batch.append(c)
        if not batch:
            break
        for c in batch:
            s.report(c, cost(c))
        seen += batch
    keys = [json.dumps(c, sort_keys=True) for c in seen]
    assert len(keys) == len(set(keys)) <= 14 and default not in seen
    best, t = s.best
    assert best == {"a": 4, "b": 1, "c": 0} and t == 1.0


# ---- tuner orchestration with a fake device (no builds): batching, sharing, bisection ---------------


@pytest.mark.parametrize("where", ["output", "intermediate"])
def test_tuner_isolates_a_non_bitexact_candidate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """A wrong FC candidate is isolated whether it changes the model's output or only an intermediate
    tensor (per-op OPCHECK hashes) that the final output happens to hide."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from microaot.tune import tuner
    from test_tune_run import two_conv_fc_model

    model = tmp_path / "tiny.tflite"
    model.write_bytes(two_conv_fc_model())
    g = load_tflite(model)
    sigs = [space.op_signature(g, op) for op in g.operators]
    bad = {"algo": "simd4", "w16": True, "x8": False}  # pretend this FC variant is wrong
    builds: dict[str, dict[str, dict]] = {}

    class FakeFirmware:
        def __init__(self, *a: object, **kw: object) -> None:
            self.builds = 0

        def build(self, slot: int, log_records: list | None = None, copy_log: Path | None = None) -> Path:
            self.builds += 1
            fw = tmp_path / f"fw{self.builds}"
            if copy_log is not None:
                sched = best_schedules(copy_log, g, target="generic", board="host")
                builds[str(fw)] = {sigs[i]: k for i, k in sched.items()}
            else:
                builds[str(fw)] = {r["signature"]: r["knobs"] for r in (log_records or [])}
            return fw

    def cost(k: dict) -> float:
        return {"direct": 100.0, "gemm": 50.0, "simd4": 40.0}[k.get("algo", "direct")] - 5 * k.get("cols", 0) - \
            3 * bool(k.get("w16")) + 4 * bool(k.get("x8"))

    def fake_measure(board, fw, inputs, **kw):  # noqa: ANN001, ANN003, ANN202
        a = builds[str(fw)]
        times = [cost(a.get(s, space.default_schedule(g, op, "generic"))) for s,
                 op in zip(sigs, g.operators, strict=True)]
        y = np.zeros((1, 10), np.int8)
        hashes = [11, 22, 33]
        if a.get(sigs[2]) == bad:
            if where == "output":
                y[0, 0] = 1
            else:
                hashes[2] = 34
        return tuner.Measurement([[y] for _ in inputs], times, sum(times), "ns", {}, [hashes for _ in inputs])

    monkeypatch.setattr(tuner, "PioFirmware", FakeFirmware)
    monkeypatch.setattr(tuner, "measure_firmware", fake_measure)
    log = tmp_path / "t.jsonl"
    res = tuner.tune_model(model, "host", log=log, budget=8, jobs=2, seeds=1, check_reference=False, progress=False)
    recs = read_records(log)
    fc = [r for r in recs if r.signature == sigs[2]]
    assert [(r.bitexact, r.extra.get("ops_differ")) for r in fc if r.knobs == bad] == \
        [(False, [2] if where == "intermediate" else None)]
    assert all(r.bitexact for r in recs if r.knobs != bad)
    conv = [r for r in recs if r.signature == sigs[0] and r.extra.get("stage") != "refine"]
    assert len(conv) == len(space.candidates(g, g.operators[0], "generic"))  # grid: every distinct one, once
    # additive fake costs: the whole-model refinement confirms the per-op bests (its final records)
    final = {r.signature: r.knobs for r in recs if r.extra.get("final")}
    assert final == {sigs[0]: {"algo": "gemm", "cols": 3, "w16": True}, sigs[2]: {"algo": "simd4", "w16": False,
                                                                                  "x8": False}}
    assert res.refined is not None and res.refined["swaps"] == [] and res.refined["refined_total"] == res.tuned_total
    best = best_schedules(log, g, target="generic", board="host")
    assert best[0] == best[1] == {"algo": "gemm", "cols": 3, "w16": True}
    assert best[2] == {"algo": "simd4", "w16": False, "x8": False}
    assert res.tuned_bitexact is True and res.tuned_total is not None and res.tuned_total < res.default_total


def _group(sig: str, op: int, tried: list[tuple[str, float]]):  # -> microaot.tune.tuner.OpGroup
    """A searched signature whose candidates ``tried`` (knob value, batch time; the first is the default)
    were measured, for the whole-model refinement tests."""
    from microaot.tune import tuner

    space_ = {"v": [k for k, _ in tried]}
    g = tuner.OpGroup(sig, "CONV_2D", [op], space_, {"v": tried[0][0]}, len(tried),
                      make_searcher(space_, {"v": tried[0][0]}, 4))
    g.tried = [({"v": k}, t) for k, t in tried]
    best = min(g.tried, key=lambda kt: kt[1])
    g.default_time, g.best_knobs, g.best_time = tried[0][1], dict(best[0]), best[1]
    return g


def test_refine_keeps_the_swap_that_makes_the_whole_model_faster() -> None:
    """Per-op bests a1 + b1 are slow together (A runs in place when B has b1's scratch): the refinement
    tries each runner-up within 10 % (never a3, 2x slower), keeps the best single swap when both swaps
    together are slower, swaps back nothing that is slower, and logs the choice as ``final`` records."""
    from tqdm import tqdm

    from microaot.boards import get_board
    from microaot.tune import tuner
    groups = {"A": _group("A", 0, [("a0", 30.0), ("a1", 10.0), ("a2", 10.5), ("a3", 20.0)]),
              "B": _group("B", 1, [("b0", 9.0), ("b1", 5.0), ("b2", 5.2), ("bad", 5.1)])}
    own = {"a0": 30.0, "a1": 10.0, "a2": 10.5, "a3": 20.0, "b0": 9.0, "b1": 5.0, "b2": 5.2, "bad": 5.1}
    seen: list[tuple[str, str]] = []

    def evaluate(slot: int, a: dict) -> tuner.Outcome:
        va, vb = a["A"]["v"], a["B"]["v"]
        seen.append((va, vb))
        ta = own[va] + (3.0 if (va, vb) == ("a1", "b1") else 0.0)
        times = [ta, own[vb]]
        m = tuner.Measurement([], times, sum(times), "instructions")
        if vb == "bad":
            return tuner.Outcome(m, FailureKind.NOT_BITEXACT, None, [1])  # not bit-exact in this build
        return tuner.Outcome(m)

    written: list[tuner.TuneRecord] = []
    summary = tuner._refine(groups, evaluate, jobs=2, board=get_board("qemu_mps2_an386"), margin=0.0,
                            pbar=tqdm(disable=True), write=written.extend)
    assert seen[0] == ("a1", "b1") and all(va != "a3" for va, _ in seen)
    assert ("a2", "b2") in seen  # both improving swaps were tried together (15.7 > 15.2: not kept)
    assert summary == {"combined_total": 18.0, "combined_workspace": 0, "combined_flash": 0, "refined_total": 15.2,
                       "workspace": 0, "flash": 0, "max_workspace": None, "max_flash": None, "fits": True,
                       "rounds": 2, "reverted": [],
                       "swaps": [{"signature": "B", "op_indices": [1], "from": {"v": "b1"}, "to": {"v": "b2"}}]}
    assert groups["A"].best_knobs == {"v": "a1"} and groups["B"].best_knobs == {"v": "b2"}
    final = [r for r in written if r.extra.get("final")]
    assert [(r.signature, r.knobs, r.time) for r in final] == [("A", {"v": "a1"}, 10.0), ("B", {"v": "b2"}, 5.2)]
    bad = [r for r in written if r.knobs == {"v": "bad"}]
    assert bad and all(r.failure is FailureKind.NOT_BITEXACT and not r.bitexact and r.time is None
                       and r.error == "not_bitexact in the whole-model refinement" for r in bad)
    best = best_records(written, target="cortex-m4")
    assert best["A"].knobs == {"v": "a1"} and best["B"].knobs == {"v": "b2"}
    # nothing within 10 % of a best: nothing to refine, nothing built
    seen.clear()
    lone = {"A": _group("A", 0, [("a0", 30.0), ("a1", 10.0), ("a3", 20.0)])}
    assert tuner._refine(lone, evaluate, jobs=1, board=get_board("qemu_mps2_an386"), margin=0.0,
                         pbar=tqdm(disable=True), write=written.extend) is None
    assert seen == []


def test_refine_fits_a_workspace_limit() -> None:
    """Over the limit, signatures go back to their defaults: the fastest revert that fits wins; swaps that
    would break the limit are not kept; the final records are the fitting choice."""
    from tqdm import tqdm

    from microaot.boards import get_board
    from microaot.tune import tuner
    own = {"a0": 30.0, "a1": 10.0, "b0": 9.0, "b1": 5.0, "b2": 5.4, "c0": 4.0, "c1": 2.0}
    scratch = {"a0": 0, "a1": 600, "b0": 0, "b1": 300, "b2": 900, "c0": 0, "c1": 100}

    def evaluate(slot: int, a: dict) -> tuner.Outcome:
        vs = [a[s]["v"] for s in ("A", "B", "C")]
        times = [own[v] for v in vs]
        return tuner.Outcome(tuner.Measurement([], times, sum(times), "instructions",
                                               {"workspace_size": 1000 + max(scratch[v] for v in vs)}))

    def fresh() -> dict[str, tuner.OpGroup]:
        return {"A": _group("A", 0, [("a0", 30.0), ("a1", 10.0)]),
                "B": _group("B", 1, [("b0", 9.0), ("b1", 5.0), ("b2", 5.4)]),
                "C": _group("C", 2, [("c0", 4.0), ("c1", 2.0)])}

    written: list[tuner.TuneRecord] = []
    groups = fresh()
    summary = tuner._refine(groups, evaluate, jobs=2, board=get_board("qemu_mps2_an386"), margin=0.0,
                            pbar=tqdm(disable=True), write=written.extend, max_workspace=1300)
    # a1 + b1 + c1 = 17 in 1,600 B; A back to a0 (37 in 1,300 B) is the only revert that fits; b2 (900 B)
    # would be refined in but does not fit
    assert summary is not None and summary["fits"] and summary["workspace"] == 1300
    assert summary["reverted"] == [{"signature": "A", "op_indices": [0], "from": {"v": "a1"}, "to": {"v": "a0"},
                                    "workspace": 1300, "flash": 0}]
    assert summary["swaps"] == [] and summary["refined_total"] == 37.0
    final = {r.signature: r.knobs["v"] for r in written if r.extra.get("final")}
    assert final == {"A": "a0", "B": "b1", "C": "c1"}
    # nothing fits but the defaults: every revert is taken, cheapest per byte first
    written.clear()
    summary = tuner._refine(fresh(), evaluate, jobs=1, board=get_board("qemu_mps2_an386"), margin=0.0,
                            pbar=tqdm(disable=True), write=written.extend, swap=False, max_workspace=1000)
    assert summary is not None and summary["fits"] and summary["refined_total"] == 43.0
    assert [w["signature"] for w in summary["reverted"]] == ["A", "B", "C"]


def test_refine_fits_a_flash_limit_and_reports_flash() -> None:
    """--max-flash (issue 19): flash-hungry schedules (w16-like: more weight bytes) go back to their defaults,
    the one costing the fewest instructions per byte saved first, until the firmware fits."""
    from tqdm import tqdm

    from microaot.boards import get_board
    from microaot.tune import tuner
    own = {"a0": 30.0, "a1": 10.0, "b0": 9.0, "b1": 5.0}
    extra_flash = {"a0": 0, "a1": 4000, "b0": 0, "b1": 1500}

    def evaluate(slot: int, a: dict) -> tuner.Outcome:
        vs = [a[s]["v"] for s in ("A", "B")]
        times = [own[v] for v in vs]
        return tuner.Outcome(tuner.Measurement([], times, sum(times), "instructions",
                                               {"workspace_size": 1000,
                                                "flash": 20000 + sum(extra_flash[v] for v in vs)}))

    groups = {"A": _group("A", 0, [("a0", 30.0), ("a1", 10.0)]), "B": _group("B", 1, [("b0", 9.0), ("b1", 5.0)])}
    written: list[tuner.TuneRecord] = []
    summary = tuner._refine(groups, evaluate, jobs=1, board=get_board("qemu_mps2_an386"), margin=0.0,
                            pbar=tqdm(disable=True), write=written.extend, swap=False, max_flash=23000)
    # a1 + b1: 25,500 B; reverting B saves 1,500 B (not enough), reverting A 4,000 B (fits): A goes back
    assert summary is not None and summary["fits"] and summary["flash"] == 21500 and summary["combined_flash"] == 25500
    assert [(w["signature"], w["flash"]) for w in summary["reverted"]] == [("A", 21500)]
    assert {r.signature: r.knobs["v"] for r in written if r.extra.get("final")} == {"A": "a0", "B": "b1"}
    res = tuner.TuneResult(model="m.tflite", model_hash="0" * 64, board="qemu_mps2_an386", target="cortex-m4",
                           unit="instructions", log="t.jsonl", batches=1, builds=1, seconds=1.0, default_total=39.0,
                           tuned_total=35.0, tuned_bitexact=True, default_matches_tflm=True, groups=[],
                           refined=summary, default_flash=20000, tuned_flash=21500)
    assert ("flash (bytes): default 20,000, tuned 21,500 (+1,500 B, 8%: the tuned schedules trade flash for speed"
            in res.format_text())


def test_tune_limit_below_the_default_workspace_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from microaot.pio import target as pio_target
    from microaot.tune import cli, tuner

    model = tmp_path / "conv.tflite"
    model.write_bytes(modelgen.conv2d_model(np.random.default_rng(3), input_shape=(1, 6, 6, 8), filters=8,
                                            kernel=(3, 3), activation="RELU"))
    g = load_tflite(model)

    class FakeFirmware:
        def __init__(self, *a: object, **kw: object) -> None:
            self.builds = 0

        def build(self, slot: int, log_records: list | None = None, copy_log: Path | None = None) -> Path:
            self.builds += 1
            return tmp_path / "fw"

    def fake_measure(board, fw, inputs, **kw):  # noqa: ANN001, ANN003, ANN202
        times = [10.0] * len(g.operators)
        return tuner.Measurement([[np.zeros((1, 6, 6, 8), np.int8)] for _ in inputs], times, sum(times), "ns",
                                 {"workspace_size": 2304})

    monkeypatch.setattr(tuner, "PioFirmware", FakeFirmware)
    monkeypatch.setattr(tuner, "measure_firmware", fake_measure)
    with pytest.raises(tuner.TuneError) as ei:
        tuner.tune_model(model, "host", log=tmp_path / "t.jsonl", budget=2, seeds=1, check_reference=False,
                         progress=False, max_workspace=2000)
    assert str(ei.value) == (
        "conv.tflite: --max-workspace 2000 B is below the default build's workspace (2304 B); the default "
        "schedules are already the RAM-first ones, so no tuning fits: raise the limit (or use --max-workspace "
        "default)")
    res = tuner.tune_model(model, "host", log=tmp_path / "t.jsonl", budget=2, seeds=1, check_reference=False,
                           progress=False, max_workspace="default")
    assert res.refined is not None and res.refined["max_workspace"] == 2304 and res.refined["fits"]
    assert res.default_workspace == res.tuned_workspace == 2304
    # the command line and `pio run -t tune` spell it the same way
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    assert p.parse_args([str(model), "--max-workspace", "0x4000"]).max_workspace == 16384
    assert p.parse_args([str(model), "--max-workspace", "default"]).max_workspace == "default"
    assert p.parse_args([str(model), "--max-flash", "96K"]).max_flash == 98304
    assert p.parse_args([str(model), "--max-flash", "default"]).max_flash == "default"
    for flag in ("--budget", "--jobs", "--seeds"):  # numbers checked by argparse (exit 2 with the flag named)
        with pytest.raises(SystemExit):
            p.parse_args([str(model), flag, "0"])
    with pytest.raises(SystemExit):
        p.parse_args([str(model), "--max-workspace", "lots"])
    argv = pio_target.tune_argv(model, "qemu_mps2_an386", tmp_path / "t.jsonl", max_ws="default")
    assert argv[-2:] == ["--max-workspace", "default"]


def test_old_records_still_load_with_their_failure_kind(tmp_path: Path) -> None:
    """Records written before ``failure`` existed (``bitexact`` + free-text ``error``) are read with the kind
    derived from them; an unknown kind (a newer microaot) is still a failure; none of them is usable."""
    base = {"v": 1, "signature": "A", "board": "qemu_mps2_an386", "target": "cortex-m4", "generator": GENERATOR,
            "knobs": {"k": 1}}
    rows = [{"time": 5.0, "bitexact": True}, {"time": None, "bitexact": False},
            {"time": None, "bitexact": True, "error": "`pio run` failed: build error in conv_fast.c"},
            {"time": None, "bitexact": True, "error": "no valid reply within 120 s (timed out)"},
            {"time": None, "bitexact": True, "error": "RPC link closed: the QEMU process exited"},
            {"time": None, "failure": "a_kind_from_the_future"}]
    log = tmp_path / "old.jsonl"
    log.write_text("".join(json.dumps({**base, **r}) + "\n" for r in rows))
    rs = read_records(log)
    assert [r.failure for r in rs] == [None, FailureKind.NOT_BITEXACT, FailureKind.BUILD_FAILED, FailureKind.TIMEOUT,
                                       FailureKind.RUN_FAILED, FailureKind.RUN_FAILED]
    assert [r.usable for r in rs] == [True, False, False, False, False, False]
    assert [r.bitexact for r in rs] == [True, False, True, True, True, True]
    # and they round-trip with the kind written out
    append_records(tmp_path / "new.jsonl", rs)
    assert [d.get("failure") for d in read_log(tmp_path / "new.jsonl")] == \
        [None, "not_bitexact", "build_failed", "timeout", "run_failed", "run_failed"]


def test_candidate_evaluator_names_each_failure_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Builder + runner + reference: a build error, an RPC timeout, a dead link and differing outputs each
    get their FailureKind; a failing batch is split until each failing candidate is alone, and the others
    keep their measured times."""
    from microaot.boards import get_board
    from microaot.errors import BuildError
    from microaot.rpc.session import RpcLinkError, RpcTimeoutError
    from microaot.tune import tuner

    groups = {s: _group(s, i, [(f"{s.lower()}0", 9.0), (f"{s.lower()}1", 1.0)]) for i, s in enumerate("ABCDE")}
    built: dict[str, dict[str, str]] = {}

    class Builder:
        def build(self, slot: int, log_records: list | None = None, copy_log: Path | None = None) -> Path:
            forced = {r["signature"]: r["knobs"]["v"] for r in (log_records or [])}
            if forced.get("A") == "a1":
                raise BuildError("arm-none-eabi-gcc failed building conv_fast.c")
            fw = tmp_path / f"fw{len(built)}"
            built[str(fw)] = forced
            return fw

    def fake_measure(board, fw, inputs, **kw):  # noqa: ANN001, ANN003, ANN202
        forced = built[str(fw)]
        if forced.get("B") == "b1":
            raise RpcTimeoutError("no valid reply within 5 s")
        if forced.get("C") == "c1":
            raise RpcLinkError("the QEMU process exited (status -11)")
        y = np.full((1, 2), 1 if forced.get("D") == "d1" else 0, np.int8)
        return tuner.Measurement([[y]], [1.0, 2.0, 3.0, 4.0, 5.0], 15.0, "instructions", {}, None)

    monkeypatch.setattr(tuner, "measure_firmware", fake_measure)
    runner = tuner.Runner(get_board("qemu_mps2_an386"), [[np.zeros((1, 2), np.int8)]], "0" * 64, 1, 1)
    ev = tuner.CandidateEvaluator(Builder(), runner, groups)
    with pytest.raises(tuner.TuneError, match="before the default build"):
        ev.try_assignment(0, {"E": {"v": "e1"}})
    ev.measure_default()
    res = ev.evaluate_batch(0, {s: {"v": f"{s.lower()}1"} for s in "ABCDE"}, 7)
    assert [(r.signature, r.failure, r.time, r.batch) for r in res] == [
        ("A", FailureKind.BUILD_FAILED, None, 7), ("B", FailureKind.TIMEOUT, None, 7),
        ("C", FailureKind.RUN_FAILED, None, 7), ("D", FailureKind.NOT_BITEXACT, None, 7), ("E", None, 5.0, 7)]
    assert res[0].error == "arm-none-eabi-gcc failed building conv_fast.c"
    assert res[2].error == "the QEMU process exited (status -11)" and res[3].error is None
    assert [r.bitexact for r in res] == [True, True, True, False, True]


def test_concurrent_appends_and_merges_keep_every_record_once(tmp_path: Path) -> None:
    """The tuning database (issue 22): 4 processes append 200 records each (in batches, one of them 60 KB)
    while 2 processes merge two more logs into the same file: every line parses, each record is there
    exactly once."""
    import multiprocessing as mp

    from microaot.tune.log import read_log

    db = tmp_path / "db.jsonl"
    srcs = []
    for k in range(2):
        src = tmp_path / f"src{k}.jsonl"
        src.write_text("".join(json.dumps({"signature": f"m{k}-{i}", "time": i}) + "\n" for i in range(300)))
        srcs.append(src)
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(db, w)) for w in range(4)]
    procs += [ctx.Process(target=_merge_into, args=(db, srcs)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    recs = read_log(db)
    sigs = [r["signature"] for r in recs]
    want = {f"w{w}-{i}" for w in range(4) for i in range(200)} | {f"m{k}-{i}" for k in range(2) for i in range(300)}
    assert len(sigs) == len(want) and set(sigs) == want


def _append_many(db: Path, w: int) -> None:
    from microaot.tune.log import append_records

    for start in range(0, 200, 20):
        pad = "x" * (3000 if start == 0 else 10)
        append_records(db, [{"signature": f"w{w}-{i}", "time": i, "pad": pad} for i in range(start, start + 20)])


def _merge_into(db: Path, srcs: list[Path]) -> None:
    from microaot.tune.log import merge_logs

    merge_logs(db, srcs)
