"""The tuner: search every operator's schedule knobs by measuring candidates on the device.

    result = tune_model("kws.tflite", "qemu_mps2_an386", log="tuning.jsonl", budget=8, jobs=2)

Pieces: the builder (``PioFirmware``: a firmware with some schedules forced, through the normal
PlatformIO build), the runner (``Runner``: runs and profiles one firmware over RPC), the candidate
evaluator (``CandidateEvaluator``: builder + runner + the default build as reference; an ``Outcome``
with a typed ``FailureKind``), the search (``BatchSearch`` driving the ``tune.search`` searchers), the
whole-model refinement (``_refine``) and the log (``LogWriter``); ``tune_model`` wires them.

How it works:

1. Operators with a knob space (``microaot.schedules.op_space``) are grouped by signature
   (``op_signature``): operators with the same signature share one search and one measurement.
2. Batch 0 is the default build (no tuning log). Its outputs on ``seeds`` random inputs are the
   reference every candidate is checked against byte for byte (and are checked once against TFLM),
   and so is every intermediate tensor: the OPCHECK command hashes each operator's outputs on the
   device, so a wrong kernel is caught even where the last layers hide its error (a coarse
   softmax); its per-operator PROFILE times are the baseline.
3. Each further batch is ONE firmware that holds one candidate schedule for every signature still
   being searched (batch i = the i-th proposal of each signature's searcher). It is built with the
   normal PlatformIO build (the schedules reach the code generator as a per-batch tuning log),
   started (QEMU / host process) or flashed (serial boards), fed the same inputs over RPC and
   profiled; each operator's time comes from the on-device PROFILE command. A batch whose outputs
   or intermediate tensors differ from the default build's (or that fails to build/run) is split in
   halves and re-measured until the offending candidate is isolated; it is logged with its
   ``failure`` (``tune.log.FailureKind``: build_failed, run_failed, timeout, not_bitexact; for the last,
   the differing operators, ``ops_differ``) and the ``error`` message.
4. ``jobs`` batches are built and measured at once (one project folder and one QEMU or host process
   per job, or Dask tasks with a ``TuneBackend``: ``microaot.cluster``); their results are processed in
   submission order, so the search does not depend on which job finishes first. Searchers: the whole space
   when it fits in ``budget`` candidates per signature, coordinate descent then random sampling otherwise
   (``microaot.tune.search``).
5. Refinement: a candidate was timed in a batch whose other operators had other schedules, but
   the memory plan (which operators run in place, at a run-time cost) depends on every operator's
   scratch. So the combination of the per-signature bests is built and timed as a whole, then each
   signature's runners-up (measured within ``REFINE_WITHIN`` of its best, at most ``REFINE_ALTS``)
   are swapped in one at a time, in parallel; swaps that make the WHOLE MODEL faster are kept
   (all of them together when that is faster still), for at most ``REFINE_ROUNDS`` rounds. The
   chosen schedules are logged as ``final`` records (their per-op time in the chosen build), which
   builds prefer over the fastest single measurement of a signature.
6. RAM limit (``max_workspace``: bytes, or ``"default"`` for the default build's workspace): when the
   combined build's workspace is larger, signatures go back to their default schedules, the one
   that costs the fewest instructions per byte saved first (the fastest one that fits when one
   does), until it fits; refinement swaps must fit too. The defaults are RAM-first, so the limit
   cannot be below the default build's workspace. The flash limit (``max_flash``: the firmware's code,
   weights and constants, from its ELF) works the same way, together with the RAM limit (bytes over
   both limits are what a revert must reduce); the result reports the default and tuned flash.
7. Every measured candidate (and the default) is appended to the JSON-lines log as soon as its
   batch is done (``microaot.tune.log``); finally the model is rebuilt from the log exactly as a
   user's build would (``custom_microaot_tuning_log``), re-checked and timed: default vs tuned.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from microaot import schedules as sp
from microaot.boards import Board, get_board, open_link
from microaot.errors import MicroaotError
from microaot.evaluate import make_input
from microaot.frontend.tflite import load_tflite, read_model_file
from microaot.fsutil import FileLock, private_temp_dir
from microaot.ir.graph import Graph
from microaot.ops import ConditionalOutput, conditional_outputs
from microaot.pio import project as pio_project
from microaot.reference import run_reference
from microaot.report.elf import read_sections
from microaot.rpc.protocol import differing_ops
from microaot.rpc.session import RpcTimeoutError, Session
from microaot.tune.log import GENERATOR, FailureKind, TuneRecord, append_records
from microaot.tune.search import Knobs, Searcher, make_searcher, space_size

DEFAULT_BUDGET = 16
DEFAULT_SEEDS = 2
REFINE_WITHIN = 1.10  # runners-up measured within 10 % of a signature's best are re-timed in the whole model
REFINE_ALTS = 2  # ... at most this many per signature
REFINE_ROUNDS = 2


class TuneError(MicroaotError):
    """The tuner could not build, start or measure the model."""


@dataclass
class OpGroup:
    signature: str
    opcode: str
    op_indices: list[int]
    space: dict[str, list[Any]]
    default: Knobs
    n_distinct: int | None
    searcher: Searcher
    default_time: float | None = None
    best_knobs: Knobs = field(default_factory=dict)
    best_time: float | None = None
    measured: int = 0
    failed: int = 0
    tried: list[tuple[Knobs, float]] = field(default_factory=list)  # usable candidates, batch-measured times


@dataclass
class Measurement:
    """One firmware run: outputs per seed, per-op time per run, whole-run time."""

    outputs: list[list[np.ndarray]]
    op_times: list[float]
    run_time: float
    unit: str
    stats: dict[str, Any] = field(default_factory=dict)
    op_hashes: list[list[int]] | None = None  # per input set: OPCHECK hash of every operator's outputs
    where: dict[str, str] = field(default_factory=dict)  # on a cluster: measured_by / built_by (worker addresses)


@dataclass
class CandidateResult:
    """One candidate of one signature, as measured in a batch (``failure`` None: ``time`` is usable)."""

    signature: str
    knobs: Knobs
    time: float | None
    failure: FailureKind | None
    error: str | None
    batch: int
    ops_differ: list[int] = field(default_factory=list)  # OPCHECK: operators whose outputs differed
    where: dict[str, str] = field(default_factory=dict)  # on a cluster: which workers built and measured it

    @property
    def bitexact(self) -> bool:
        return self.failure is not FailureKind.NOT_BITEXACT


@dataclass
class Outcome:
    """One build + run of a firmware with a set of forced schedules: its measurement, or the kind of
    failure (``measurement`` is kept for NOT_BITEXACT: it ran, its outputs differ)."""

    measurement: Measurement | None
    failure: FailureKind | None = None
    error: str | None = None
    ops_differ: list[int] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)  # on a cluster: which workers built and measured it

    @property
    def ok(self) -> Measurement | None:
        """The measurement when it is usable (built, ran, bit-exact with the default build), else None."""
        return self.measurement if self.failure is None else None


@dataclass
class TuneResult:
    model: str
    model_hash: str
    board: str
    target: str
    unit: str
    log: str
    batches: int
    builds: int
    seconds: float
    default_total: float
    tuned_total: float | None
    tuned_bitexact: bool | None
    default_matches_tflm: bool | None
    groups: list[dict[str, Any]]
    refined: dict[str, Any] | None = None  # the whole-model refinement (see the module docstring)
    default_workspace: int | None = None  # bytes, the planned workspace of the default build
    tuned_workspace: int | None = None  # ... of the rebuild from the log (final check)
    default_flash: int | None = None  # bytes of flash (code, weights, constants) of the default build's firmware
    tuned_flash: int | None = None  # ... of the rebuild from the log

    @property
    def speedup(self) -> float | None:
        if not self.tuned_total:
            return None
        return self.default_total / self.tuned_total

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["speedup"] = self.speedup
        return d

    def format_text(self) -> str:
        lines = [
            f"microaot tune: {Path(self.model).name} on {self.board} (target {self.target}), "
            f"{self.batches} batches, {self.builds} builds, {self.seconds:.0f} s",
            f"{'signature group':<44} {'ops':>6} {'tried':>5} {'default':>12} {'best':>12} {'x':>6}  best knobs",
        ]
        for g in self.groups:
            dt, bt = g["default_time"], g["best_time"]
            sp = f"{dt / bt:6.2f}" if dt and bt else "     -"
            label = f"{g['opcode']} {g['shape']}"[:44]
            lines.append(
                f"{label:<44} {','.join(map(str, g['op_indices']))[:6]:>6} {g['measured']:>5} "
                f"{_fmt(dt):>12} {_fmt(bt):>12} {sp}  {json.dumps(g['best_knobs'], sort_keys=True)}"
            )
        rf = self.refined

        def moves(ws: list[dict[str, Any]]) -> str:
            return ", ".join(f"ops {','.join(map(str, w['op_indices']))} -> {json.dumps(w['to'], sort_keys=True)}"
                             for w in ws) or "none"

        if rf and rf.get("combined_total") is not None:
            if rf.get("max_flash") is not None:
                lines.append(f"flash limit {rf['max_flash']:,} B: per-op bests together {rf['combined_flash']:,} B, "
                             f"tuned {rf['flash']:,} B")
            if rf.get("max_workspace") is not None:
                lines.append(f"workspace limit {rf['max_workspace']:,} B: per-op bests together "
                             f"{rf['combined_workspace']:,} B, back to default: {moves(rf['reverted'])}"
                             + ("" if rf["fits"] else " (STILL OVER THE LIMIT)"))
            lines.append(f"whole-model refinement: per-op bests together {_fmt(rf['combined_total'])}, "
                         f"after {rf['rounds']} round(s) {_fmt(rf['refined_total'])}; swaps: {moves(rf['swaps'])}")
        elif rf:
            lines.append("whole-model refinement: the per-op bests together failed or differ; kept them")
        tot = f"whole model ({self.unit} per inference): default {_fmt(self.default_total)}"
        if self.tuned_total is not None:
            tot += f", tuned {_fmt(self.tuned_total)} ({self.speedup:.2f}x)"
            tot += ", outputs bit-exact" if self.tuned_bitexact else ", OUTPUTS DIFFER"
        lines.append(tot)
        if self.default_workspace is not None and self.tuned_workspace is not None:
            lines.append(f"workspace (RAM, bytes): default {self.default_workspace:,}, tuned {self.tuned_workspace:,}"
                         + (" (the tuned schedules trade RAM for speed)"
                            if self.tuned_workspace > self.default_workspace else ""))
        if self.default_flash is not None and self.tuned_flash is not None:
            grow = self.tuned_flash - self.default_flash
            lines.append(f"flash (bytes): default {self.default_flash:,}, tuned {self.tuned_flash:,}"
                         + (f" (+{grow:,} B, {grow / max(self.default_flash, 1) * 100:.0f}%: the tuned schedules trade "
                            "flash for speed, e.g. w16 weights; limit it with --max-flash)" if grow > 0 else ""))
        if self.default_matches_tflm is not None:
            lines.append("default build vs TFLM: " + ("bit-exact" if self.default_matches_tflm else "DIFFERS"))
        lines.append(f"tuning log: {self.log}")
        return "\n".join(lines)


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 100 else f"{v:.2f}"


# ---- building + running firmware -----------------------------------------------------------------


class PioFirmware:
    """Builds candidate firmware with PlatformIO: one project folder per parallel job ("slot").

    The project's ``custom_microaot_tuning_log`` is the slot's ``batch.jsonl``, rewritten before each
    build with exactly one record per signature of the batch, so the code generator picks exactly
    the batch's schedules through the normal tuning-log path of the build."""

    def __init__(self, model: Path, board: Board, work_dir: Path, *, verbose: bool = False,
                 port: str | None = None) -> None:
        self.model, self.board, self.work_dir, self.verbose, self.port = model, board, work_dir, verbose, port
        self.builds = 0

    def slot_dir(self, slot: int) -> Path:
        return self.work_dir / f"slot{slot}"

    def build(self, slot: int, log_records: Sequence[Mapping[str, Any]] | None = None,
              copy_log: Path | None = None) -> Path:
        proj = self.slot_dir(slot)
        batch_log = proj / "batch.jsonl"
        pio_project.write_project(proj, self.board.id, model=self.model, tuning_log=batch_log)
        if copy_log is not None:
            shutil.copyfile(copy_log, batch_log)
        else:
            batch_log.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in (log_records or ())))
        built = pio_project.build(proj, self.board.id, verbose=self.verbose)
        self.builds += 1
        if self.board.launch == "serial":
            self._upload(proj)
        return built.firmware

    def _upload(self, proj: Path) -> None:
        """Flash a real board (``pio run -t upload``); the RPC session then opens ``port``."""
        argv = pio_project.pio_argv("run", "-d", str(proj), "-e", self.board.id, "-t", "upload", "-t", "nobuild")
        if self.port:
            argv += ["--upload-port", self.port]
        p = subprocess.run(argv, env=pio_project.pio_environ(), capture_output=True, text=True, check=False)
        if p.returncode != 0:
            tail = "\n".join(((p.stdout or "") + (p.stderr or "")).strip().splitlines()[-15:])
            raise TuneError(f"`pio run -t upload` failed for {proj} (board {self.board.id}):\n{tail}")


def measure_firmware(board: Board, firmware: Path, inputs: Sequence[Sequence[np.ndarray]], *,
                     model_hash: str, runs: int, repeats: int, port: str | None = None,
                     timeout: float = 120.0) -> Measurement:
    """Start the firmware (or open the port), run every input set, profile; close."""
    transport = open_link(board, firmware, port=port)
    with Session(transport, timeout=timeout) as s:
        dev = s.hello()
        if dev.model_hash and not model_hash.startswith(dev.model_hash[:16]):
            raise TuneError(f"the firmware on {board.id} runs another model ({dev.model_hash})")
        outs: list[list[np.ndarray]] = []
        hashes: list[list[int]] | None = [] if dev.has_opcheck else None
        for xs in inputs:
            ys, _ = s.invoke(list(xs))
            outs.append([np.array(y, copy=True) for y in ys])
            if hashes is not None:
                hashes.append(s.op_hashes())
        if not dev.has_profile:
            raise TuneError(f"the firmware on {board.id} has no PROFILE command (more than UAOT_RPC_MAX_OPS ops?)")
        best_ops: list[float] | None = None
        best_run: float | None = None
        unit = dev.timer_unit
        for _ in range(max(repeats, 1)):
            prof = s.profile(runs=runs)
            ops = [float(o.per_run) for o in prof]
            best_ops = ops if best_ops is None else [min(a, b) for a, b in zip(best_ops, ops, strict=True)]
            t = s.run(runs)
            best_run = float(t.min) if best_run is None else min(best_run, float(t.min))
            unit = prof.unit
        st = s.stats()
    return Measurement(outs, best_ops or [], float(best_run or 0.0), unit,
                       {**asdict(st), "flash": firmware_flash(firmware)}, hashes)


def firmware_flash(firmware: Path) -> int:
    """Flash bytes of a linked firmware: its loadable code, constants (weights) and .data images."""
    return sum(sec.size for sec in read_sections(firmware) if sec.kind in ("text", "rodata", "data"))


def _differing_ops(m: Measurement, base: Measurement) -> list[int]:
    """Operators whose outputs (OPCHECK hashes, any input set) differ from the default build's; [] when
    either firmware cannot say."""
    if m.op_hashes is None or base.op_hashes is None:
        return []
    return sorted({k for ha, hb in zip(m.op_hashes, base.op_hashes, strict=True) for k in differing_ops(ha, hb)})


def _same_as_default(m: Measurement, base: Measurement) -> bool:
    """Byte-identical model outputs AND every intermediate tensor identical (OPCHECK): a wrong kernel
    whose error the last layers happen to hide (a coarse softmax) is still caught."""
    return _same_outputs(m.outputs, base.outputs) and not _differing_ops(m, base)


def _same_outputs(a: Sequence[Sequence[np.ndarray]], b: Sequence[Sequence[np.ndarray]],
                  conditional: Sequence[ConditionalOutput] = ()) -> bool:
    """Byte-identical outputs; ``conditional``: outputs not compared where ``b``'s flag output is false (or is
    not a graph output): TFLM leaves them unwritten there (``ops.conditional_outputs``)."""
    if len(a) != len(b):
        return False
    for xa, xb in zip(a, b, strict=True):
        if len(xa) != len(xb):
            return False
        undefined = {c.output for c in conditional
                     if c.flag is None or c.flag >= len(xb) or not np.asarray(xb[c.flag]).any()}
        for oi, (ya, yb) in enumerate(zip(xa, xb, strict=True)):
            if oi in undefined:
                continue
            if ya.dtype != yb.dtype or ya.shape != yb.shape or ya.tobytes() != yb.tobytes():
                return False
    return True


# ---- runner, candidate evaluation, search, log ---------------------------------------------------


@dataclass
class Runner:
    """Runs a built firmware on the board: the same input sets every time, ``runs`` x ``repeats``
    profiling (``measure_firmware``)."""

    board: Board
    inputs: list[list[np.ndarray]]
    model_hash: str
    runs: int
    repeats: int
    port: str | None = None

    def measure(self, firmware: Path) -> Measurement:
        return measure_firmware(self.board, firmware, self.inputs, model_hash=self.model_hash, runs=self.runs,
                                repeats=self.repeats, port=self.port)


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else repr(exc)


class CandidateEvaluator:
    """Builder (``PioFirmware``) + runner + the default build's measurement as the reference: builds one
    firmware with a set of signatures' schedules forced (``try_assignment``), or a batch of candidates
    (``evaluate_batch``, isolating the failing ones)."""

    def __init__(self, builder: Any, runner: Runner, groups: Mapping[str, OpGroup]) -> None:
        self.builder, self.runner, self.groups = builder, runner, groups
        self.base: Measurement | None = None

    @property
    def builds(self) -> int:
        return int(self.builder.builds)

    def measure_default(self) -> Measurement:
        """Batch 0: the build without tuning log; the reference of every later build."""
        self.base = self._reference(0, [])
        return self.base

    def measure_log(self, log: Path) -> Measurement:
        """The build a user makes from the tuning log ``log``."""
        return self._reference(0, None, copy_log=log)

    def _reference(self, slot: int, records: Sequence[Mapping[str, Any]] | None,
                   copy_log: Path | None = None) -> Measurement:
        """Build and measure a firmware whose failure stops the tuner (the default build, the final rebuild)."""
        return self.runner.measure(self.builder.build(slot, records, copy_log=copy_log))

    def _outcome(self, slot: int, records: Sequence[Mapping[str, Any]]) -> Outcome:
        """Build and measure a candidate firmware; a failure is the Outcome's ``failure`` (not compared yet).
        Overridden by the cluster (``microaot.cluster``): the same steps as tasks on Dask workers."""
        try:
            firmware = self.builder.build(slot, records)
        except (MicroaotError, OSError) as exc:
            return Outcome(None, FailureKind.BUILD_FAILED, _message(exc))
        try:
            return Outcome(self.runner.measure(firmware))
        except RpcTimeoutError as exc:
            return Outcome(None, FailureKind.TIMEOUT, _message(exc))
        except (MicroaotError, OSError) as exc:
            return Outcome(None, FailureKind.RUN_FAILED, _message(exc))

    def _records(self, assignment: Mapping[str, Knobs]) -> list[dict[str, Any]]:
        board = self.runner.board
        return [TuneRecord(signature=sig, board=board.id, target=board.target, knobs=dict(k), time=0.0,
                           op=self.groups[sig].opcode, extra={"forced": True}).to_json()
                for sig, k in assignment.items()]

    def try_assignment(self, slot: int, assignment: Mapping[str, Knobs]) -> Outcome:
        """Build the firmware with exactly ``assignment``'s schedules (the others: default), run and compare
        it with the default build (outputs and every operator's OPCHECK hash)."""
        if self.base is None:
            raise TuneError("internal: a candidate measured before the default build")
        o = self._outcome(slot, self._records(assignment))
        m = o.measurement
        if m is None or o.failure is not None:
            return o
        if not _same_as_default(m, self.base):
            return Outcome(m, FailureKind.NOT_BITEXACT, None, _differing_ops(m, self.base), where=o.where)
        return o

    def op_time(self, m: Measurement, sig: str) -> float:
        return float(np.mean([m.op_times[i] for i in self.groups[sig].op_indices]))

    def evaluate_batch(self, slot: int, assignment: Mapping[str, Knobs], batch: int) -> list[CandidateResult]:
        """One result per candidate of ``assignment``; a failing batch is split in halves and re-measured
        until each failing candidate is alone."""
        o = self.try_assignment(slot, assignment)
        if o.ok is not None:
            return [CandidateResult(sig, dict(k), self.op_time(o.ok, sig), None, None, batch, where=dict(o.where))
                    for sig, k in assignment.items()]
        items = list(assignment.items())
        if len(items) == 1:
            sig, k = items[0]
            return [CandidateResult(sig, dict(k), None, o.failure, o.error, batch, o.ops_differ, dict(o.where))]
        half = len(items) // 2
        return (self.evaluate_batch(slot, dict(items[:half]), batch)
                + self.evaluate_batch(slot, dict(items[half:]), batch))


@dataclass
class LogWriter:
    """Appends the tuner's records to the JSON-lines log as soon as they are known."""

    log: Path
    board: Board
    unit: str
    common: dict[str, Any]

    def defaults(self, groups: Mapping[str, OpGroup], where: Mapping[str, str] | None = None) -> None:
        append_records(self.log, [TuneRecord(
            signature=g.signature, board=self.board.id, target=self.board.target, knobs=dict(g.default),
            time=g.default_time, op=g.opcode, unit=self.unit, default_time=g.default_time,
            extra={**self.common, "op_indices": g.op_indices, "batch": 0, "is_default": True, "when": _now(),
                   **(where or {})})
            for g in groups.values()])

    def candidates(self, groups: Mapping[str, OpGroup], results: Sequence[CandidateResult]) -> None:
        recs = []
        for r in results:
            g = groups[r.signature]
            recs.append(TuneRecord(
                signature=r.signature, board=self.board.id, target=self.board.target, knobs=dict(r.knobs),
                time=r.time, op=g.opcode, unit=self.unit, default_time=g.default_time, failure=r.failure,
                error=r.error,
                extra={**self.common, "op_indices": g.op_indices, "batch": r.batch, "when": _now(),
                       **({"ops_differ": r.ops_differ} if r.ops_differ else {}), **r.where}))
        append_records(self.log, recs)

    def refine(self, recs: list[TuneRecord]) -> None:
        for r in recs:
            r.unit, r.extra = self.unit, {**self.common, **r.extra, "when": _now()}
        append_records(self.log, recs)

    def summary(self, fields: Mapping[str, Any]) -> None:
        append_records(self.log, [{"kind": "model_summary", "board": self.board.id, "target": self.board.target,
                                   "generator": GENERATOR, "unit": self.unit, **fields, **self.common,
                                   "when": _now()}])


class BatchSearch:
    """Steps 3 and 4 of the module docstring: batch after batch, one firmware holding the next proposal
    of every signature's searcher, ``jobs`` batches built and measured at once; each result goes back to
    its searcher, to its group's best, and to the log.

    Deterministic: results are processed in the order the batches were submitted (a batch finished early
    waits for the ones before it), so batch k is always proposed after exactly batches 1..k-jobs were
    reported, whichever slot or cluster worker finishes first; the same seed and ``jobs`` give the same
    batches, schedules and records locally and on a cluster."""

    def __init__(self, groups: Mapping[str, OpGroup], evaluator: CandidateEvaluator, writer: LogWriter, *,
                 jobs: int, on_batch: Callable[[int, Mapping[str, Knobs]], None] | None = None,
                 pbar: Any = None, status: Callable[[], str] | None = None) -> None:
        self.groups, self.evaluator, self.writer, self.jobs = groups, evaluator, writer, jobs
        self.on_batch, self.pbar, self.status = on_batch, pbar, status
        self.batches = 0

    def _next_batch(self) -> dict[str, Knobs]:
        assignment: dict[str, Knobs] = {}
        for sig, g in self.groups.items():
            cand = g.searcher.propose()
            if cand is not None:
                assignment[sig] = cand
        return assignment

    def _record(self, results: Sequence[CandidateResult]) -> None:
        for r in results:
            g = self.groups[r.signature]
            g.searcher.report(r.knobs, r.time if r.failure is None else None)
            g.measured += 1
            if r.time is None:
                g.failed += 1
            else:
                g.tried.append((dict(r.knobs), r.time))
                if g.best_time is None or r.time < g.best_time:
                    g.best_time, g.best_knobs = r.time, dict(r.knobs)
        self.writer.candidates(self.groups, results)
        if self.pbar is not None:
            best = [g.default_time / g.best_time for g in self.groups.values() if g.default_time and g.best_time]
            extra = f"; {self.status()}" if self.status is not None else ""
            self.pbar.set_postfix_str(f"batch {self.batches}, best op speedup {max(best, default=1.0):.2f}x{extra}")
            self.pbar.update(1)

    def run(self) -> int:
        """Search until every searcher is done; returns the number of batches."""
        slots_free = list(range(self.jobs))
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            running: deque[tuple[Future[list[CandidateResult]], int]] = deque()  # in submission order
            while True:
                while slots_free:
                    assignment = self._next_batch()
                    if not assignment:
                        break
                    self.batches += 1
                    slot = slots_free.pop(0)
                    if self.on_batch is not None:
                        self.on_batch(self.batches, assignment)
                    running.append((pool.submit(self.evaluator.evaluate_batch, slot, assignment, self.batches), slot))
                if not running:
                    break
                fut, slot = running.popleft()
                results = fut.result()
                slots_free.append(slot)
                self._record(results)
        return self.batches


# ---- the tuner -------------------------------------------------------------------------------------


class TuneBackend(Protocol):
    """Where candidates are built and measured when not in this process (``microaot.cluster``: a Dask
    cluster). ``evaluator`` returns the CandidateEvaluator the tuner uses; ``status`` a short text for the
    progress bar; ``slots`` the number of board slots (the default number of batches in flight)."""

    def evaluator(self, builder: PioFirmware, runner: Runner, groups: Mapping[str, OpGroup]) -> CandidateEvaluator:
        ...

    def status(self) -> str:
        ...

    def slots(self) -> int:
        ...



def _shape_label(sig: str) -> str:
    parts = sig.split("|")
    return parts[2].removeprefix("out=") if len(parts) > 2 else ""


def build_groups(graph: Graph, target: str, budget: int, *, strategy: str = "auto",
                 seed: int = 0) -> dict[str, OpGroup]:
    groups: dict[str, OpGroup] = {}
    defaults = sp.default_schedules(graph, target)  # what batch 0 (no log) builds, memory-aware choices included
    for op in graph.operators:
        knob_space = sp.op_space(graph, op, target)
        if not knob_space or space_size(knob_space) <= 1:
            continue
        sig = sp.op_signature(graph, op)
        if sig in groups:
            groups[sig].op_indices.append(op.index)
            continue
        default = defaults[op.index]
        n_distinct = len(sp.candidates(graph, op, target, default)) if space_size(knob_space) <= 4096 else None
        if n_distinct is not None and n_distinct <= 1:
            continue

        def canon(k: Knobs, _op: Any = op) -> Knobs:
            return sp.canonical_schedule(graph, _op, target, k)

        searcher = make_searcher(knob_space, default, budget, seed=seed + len(groups), strategy=strategy,
                                 canon=canon, n_distinct=n_distinct)
        groups[sig] = OpGroup(sig, op.opcode, [op.index], knob_space, searcher.default, n_distinct, searcher)
    return groups


def tune_model(
    model: str | Path,
    board_id: str,
    *,
    log: str | Path = "tuning.jsonl",
    budget: int = DEFAULT_BUDGET,
    jobs: int = 1,
    seeds: int = DEFAULT_SEEDS,
    strategy: str = "auto",
    work_dir: str | Path | None = None,
    port: str | None = None,
    check_reference: bool = True,
    final_check: bool = True,
    refine: bool = True,
    max_workspace: int | str | None = None,
    max_flash: int | str | None = None,
    progress: bool = True,
    verbose: bool = False,
    runs: int | None = None,
    repeats: int | None = None,
    on_batch: Callable[[int, Mapping[str, Knobs]], None] | None = None,
    backend: TuneBackend | None = None,
) -> TuneResult:
    """Tune ``model`` on ``board_id``; append every measurement to ``log``; see the module docstring.
    ``backend``: build and measure elsewhere (a Dask cluster, ``microaot.cluster.tune_on_cluster``); the log
    is still written here only. ``jobs`` is the number of batches in flight (default on a cluster: its
    board slots); the same seed and ``jobs`` give the same records with and without a backend."""
    from tqdm import tqdm

    t_start = time.monotonic()
    model = Path(model).resolve()
    if not model.is_file():
        raise TuneError(f"{model}: no such model file")
    log = Path(log).resolve()
    board = get_board(board_id)
    if backend is not None and board.launch == "serial":
        raise TuneError(f"board {board.id} is real hardware: tuning it on a cluster is not supported yet (each batch "
                        "is flashed from its project folder); run `microaot tune --port` on the board's host")
    if board.launch == "serial":
        if not port:
            raise TuneError(f"board {board.id} is real hardware: give its serial port (--port /dev/ttyACM0); "
                            "every batch is flashed with `pio run -t upload`")
        jobs = 1
    if board.launch != "serial" and backend is None:
        board.check_tools()
    jobs = max(1, int(jobs))
    model_hash = hashlib.sha256(read_model_file(model)).hexdigest()
    graph = load_tflite(model)
    target = board.target
    groups = build_groups(graph, target, budget, strategy=strategy)
    if not groups:
        ops = sorted({op.opcode for op in graph.operators})
        raise TuneError(f"{model}: nothing to tune on {board.id} (target {target}): none of its operators "
                        f"({', '.join(ops[:8])}{', ...' if len(ops) > 8 else ''}) has schedule knobs there; "
                        f"`microaot eval {model.name} --board {board.id}` measures the only build there is")
    deterministic = board.timer == "instructions"
    # instruction counts (QEMU -icount) are exact: one run. Wall time (host, real boards) is noisy on
    # a shared machine: the minimum over many single runs, per operator.
    runs = runs if runs is not None else 1
    repeats = repeats if repeats is not None else (1 if deterministic else 25)
    if work_dir is None:
        key = hashlib.sha256(f"{model}|{board.id}".encode()).hexdigest()[:10]
        work_dir = private_temp_dir("tune") / f"{model.stem}-{board.id}-{key}"
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    lock = _lock_work_dir(work)
    fw = PioFirmware(model, board, work, verbose=verbose, port=port)
    if board.launch == "qemu":
        # the board's icount shift as the build sees it (platformio.ini may override it)
        board = board.with_settings(icount_shift=board.icount_shift if board.icount_shift >= 0 else 3)

    input_tensors = [graph.tensors[i] for i in graph.inputs]
    inputs = [[make_input(np.dtype(t.dtype), t.shape, seed, k) for k, t in enumerate(input_tensors)]
              for seed in range(seeds)]
    run_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{model_hash[:8]}"
    runner = Runner(board, inputs, model_hash, runs, repeats, port)
    evaluator = CandidateEvaluator(fw, runner, groups) if backend is None else backend.evaluator(fw, runner, groups)
    status = backend.status if backend is not None else None

    planned = max((min(budget, (g.n_distinct or budget + 1) - 1) for g in groups.values()), default=0)
    pbar = tqdm(total=planned + 1 + int(final_check), desc=f"tune {model.stem}", unit="batch",
                disable=not progress, file=sys.stderr, dynamic_ncols=True)
    batch_no = 0
    try:
        # batch 0: the default build
        pbar.set_postfix_str("default build")
        base = evaluator.measure_default()
        pbar.update(1)
        limit = _workspace_limit(model, max_workspace, base)
        flash_limit = _flash_limit(model, max_flash, base)
        default_tflm: bool | None = None
        if check_reference:
            default_tflm = _same_outputs(base.outputs, [[np.asarray(y) for y in ys]
                                                        for ys in run_reference(model, inputs)],
                                         conditional_outputs(load_tflite(model)))
        writer = LogWriter(log, board, base.unit, {"model": model.name, "model_hash": model_hash, "tuner_run": run_id})
        for g in groups.values():
            g.default_time = evaluator.op_time(base, g.signature)
            g.best_knobs, g.best_time = dict(g.default), g.default_time
            g.tried.append((dict(g.default), g.default_time))
            if hasattr(g.searcher, "set_default_time"):
                g.searcher.set_default_time(g.default_time)
        writer.defaults(groups, base.where)

        batch_no = BatchSearch(groups, evaluator, writer, jobs=jobs, on_batch=on_batch, pbar=pbar,
                               status=status).run()

        refined: dict[str, Any] | None = None
        if refine or limit is not None or flash_limit is not None:
            refined = _refine(groups, evaluator.try_assignment, jobs=jobs, board=board,
                              margin=0.0 if deterministic else 0.02, pbar=pbar, write=writer.refine, swap=refine,
                              max_workspace=limit, max_flash=flash_limit)

        tuned_total: float | None = None
        tuned_ok: bool | None = None
        default_ws = base.stats.get("workspace_size")
        tuned_ws: int | None = None
        default_flash = base.stats.get("flash")
        tuned_flash: int | None = None
        if final_check:
            pbar.set_postfix_str("rebuild from the log")
            m = evaluator.measure_log(log)
            tuned_total, tuned_ok = m.run_time, _same_as_default(m, base)
            tuned_ws = m.stats.get("workspace_size")
            tuned_flash = m.stats.get("flash")
            pbar.update(1)
            writer.summary({"default_total": base.run_time, "tuned_total": tuned_total, "tuned_bitexact": tuned_ok,
                            "default_matches_tflm": default_tflm, "default_workspace": default_ws,
                            "tuned_workspace": tuned_ws, "default_flash": default_flash, "tuned_flash": tuned_flash})
    finally:
        pbar.close()
        lock.close()

    rows = []
    for g in groups.values():
        rows.append({"signature": g.signature, "opcode": g.opcode, "shape": _shape_label(g.signature),
                     "op_indices": g.op_indices, "space": g.space, "distinct": g.n_distinct,
                     "measured": g.measured, "failed": g.failed, "default_knobs": g.default,
                     "default_time": g.default_time, "best_knobs": g.best_knobs, "best_time": g.best_time})
    return TuneResult(model=str(model), model_hash=model_hash, board=board.id, target=target, unit=base.unit,
                      log=str(log), batches=batch_no + 1, builds=evaluator.builds, seconds=time.monotonic() - t_start,
                      default_total=base.run_time, tuned_total=tuned_total, tuned_bitexact=tuned_ok,
                      default_matches_tflm=default_tflm, groups=rows, refined=refined,
                      default_workspace=default_ws, tuned_workspace=tuned_ws,
                      default_flash=default_flash, tuned_flash=tuned_flash)


def _ws(m: Measurement) -> int:
    return int(m.stats.get("workspace_size") or 0)


def _flash(m: Measurement) -> int:
    return int(m.stats.get("flash") or 0)


def _flash_limit(model: Path, max_flash: int | str | None, base: Measurement) -> int | None:
    """``max_flash`` in bytes ("default": the default build's flash); not below the default's."""
    if max_flash is None:
        return None
    dfl = _flash(base)
    limit = dfl if max_flash == "default" else int(max_flash)
    if limit < dfl:
        raise TuneError(
            f"{model.name}: --max-flash {limit} B is below the default build's flash ({dfl} B): no tuning fits; "
            "raise the limit (or use --max-flash default)")
    return limit


def _workspace_limit(model: Path, max_workspace: int | str | None, base: Measurement) -> int | None:
    """``max_workspace`` in bytes ("default": the default build's workspace); not below the default's."""
    if max_workspace is None:
        return None
    dws = _ws(base)
    limit = dws if max_workspace == "default" else int(max_workspace)
    if limit < dws:
        raise TuneError(
            f"{model.name}: --max-workspace {limit} B is below the default build's workspace ({dws} B); "
            "the default schedules are already the RAM-first ones, so no tuning fits: raise the limit "
            "(or use --max-workspace default)")
    return limit


def _refine(groups: Mapping[str, OpGroup], evaluate: Callable[[int, dict[str, Knobs]], Outcome], *,
            jobs: int, board: Board, margin: float, pbar: Any, write: Callable[[list[TuneRecord]], None],
            swap: bool = True, max_workspace: int | None = None,
            max_flash: int | None = None) -> dict[str, Any] | None:
    """Steps 5 (``swap``) and 6 (``max_workspace``, ``max_flash``) of the module docstring.
    ``evaluate(slot, assignment)`` builds and measures one firmware with every signature's knobs forced
    (``CandidateEvaluator.try_assignment``: an Outcome, usable when it built, ran and matched the default
    build). Updates ``best_knobs``/``best_time`` of the groups; returns a summary (None when there was
    nothing to do)."""
    alts: dict[str, list[Knobs]] = {}
    for sig, g in groups.items():
        if not swap or g.best_time is None:
            continue
        seen: list[Knobs] = [g.best_knobs]
        for k, t in sorted(g.tried, key=lambda kt: kt[1]):
            if t <= g.best_time * REFINE_WITHIN and k not in seen and len(seen) <= REFINE_ALTS:
                seen.append(k)
        if len(seen) > 1:
            alts[sig] = seen[1:]
    if not alts and max_workspace is None and max_flash is None:
        return None
    current = {sig: dict(g.best_knobs) for sig, g in groups.items()}
    pbar.total = (pbar.total or 0) + 1
    pbar.set_postfix_str("refine: the combined build")
    cur = evaluate(0, current).ok
    pbar.update(1)
    if cur is None:
        # the per-signature bests were each bit-exact; together they are not (or do not build):
        # keep them (the final check reports it) rather than guess
        return {"combined_total": None, "rounds": 0, "swaps": [], "reverted": []}
    combined_total, combined_ws, combined_flash = cur.run_time, _ws(cur), _flash(cur)

    def excess(m: Measurement) -> int:
        """Bytes over the RAM and flash limits together (0: it fits)."""
        return (max(_ws(m) - max_workspace, 0) if max_workspace is not None else 0) + \
            (max(_flash(m) - max_flash, 0) if max_flash is not None else 0)

    def fits(m: Measurement) -> bool:
        return excess(m) == 0

    def op_time(m: Measurement, sig: str) -> float:
        return float(np.mean([m.op_times[i] for i in groups[sig].op_indices]))

    def run_trials(pool: ThreadPoolExecutor, trials: list[tuple[str, Knobs]],
                   what: str) -> list[tuple[str, Knobs, Measurement | None]]:
        """Each trial = ``current`` with one signature's knobs replaced; built and measured ``jobs`` at a time;
        every result is logged."""
        pbar.total = (pbar.total or 0) + len(trials)
        pbar.set_postfix_str(f"{what}: {len(trials)} builds")
        slots = list(range(jobs))
        futs: dict[Future[Outcome], tuple[int, str, Knobs, int]] = {}
        done_trials: list[tuple[int, str, Knobs, Outcome]] = []
        pending = list(enumerate(trials))
        while pending or futs:
            while pending and slots:
                i, (sig, k) = pending.pop(0)
                slot = slots.pop(0)
                futs[pool.submit(evaluate, slot, {**current, sig: k})] = (i, sig, k, slot)
            done, _ = wait(list(futs), return_when=FIRST_COMPLETED)
            for f in done:
                i, sig, k, slot = futs.pop(f)
                slots.append(slot)
                done_trials.append((i, sig, k, f.result()))
                pbar.update(1)
        # in trial order, whichever finished first: the log and the choice below do not depend on timing
        outcomes = [(sig, k, o) for _, sig, k, o in sorted(done_trials, key=lambda t: t[0])]
        write([TuneRecord(signature=sig, board=board.id, target=board.target, knobs=dict(k),
                          time=op_time(o.ok, sig) if o.ok else None, op=groups[sig].opcode,
                          default_time=groups[sig].default_time, failure=o.failure,
                          error=None if o.ok else (f"{o.failure.value if o.failure else 'failed'} in the whole-model "
                                                    f"refinement{': ' + o.error if o.error else ''}"),
                          extra={"op_indices": groups[sig].op_indices, "stage": "refine",
                                 "model_total": o.ok.run_time if o.ok else None,
                                 "workspace": _ws(o.ok) if o.ok else None, **o.where})
               for sig, k, o in outcomes])
        return [(sig, k, o.ok) for sig, k, o in outcomes]

    swaps: list[dict[str, Any]] = []
    reverted: list[dict[str, Any]] = []
    rounds = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        # over the RAM / flash limits: put back defaults, cheapest (instructions per byte saved) first
        while not fits(cur):
            trials = [(sig, dict(g.default)) for sig, g in groups.items() if current[sig] != g.default]
            if not trials:
                break
            smaller = [(sig, k, m) for sig, k, m in run_trials(pool, trials, "fit the memory limits")
                       if m is not None and excess(m) < excess(cur)]
            if not smaller:
                break
            ok = [r for r in smaller if fits(r[2])]
            now = cur
            sig, k, m = (min(ok, key=lambda r: r[2].run_time) if ok else
                         min(smaller, key=lambda r: max(r[2].run_time - now.run_time,
                                                        0.0) / (excess(now) - excess(r[2]))))
            reverted.append({"signature": sig, "op_indices": groups[sig].op_indices, "from": current[sig], "to": k,
                             "workspace": _ws(m), "flash": _flash(m)})
            current[sig], cur = dict(k), m
            alts.pop(sig, None)
        for rounds in range(1, REFINE_ROUNDS + 1):
            trials = [(sig, k) for sig, ks in alts.items() for k in ks if k != current[sig]]
            if not trials or not fits(cur):
                rounds -= 1
                break
            results = run_trials(pool, trials, f"refine round {rounds}")
            better: dict[str, tuple[Knobs, Measurement]] = {}
            for sig, k, mr in results:
                if mr is not None and fits(mr) and mr.run_time < cur.run_time * (1.0 - margin):
                    if sig not in better or mr.run_time < better[sig][1].run_time:
                        better[sig] = (k, mr)
            if not better:
                break
            best_sig = min(better, key=lambda s: better[s][1].run_time)
            pick = {best_sig: better[best_sig]}
            if len(better) > 1:
                pbar.total = (pbar.total or 0) + 1
                both = {**current, **{s: k for s, (k, _) in better.items()}}
                m_all = evaluate(0, both).ok
                pbar.update(1)
                if m_all is not None and fits(m_all) and m_all.run_time < better[best_sig][1].run_time:
                    pick = {s: (k, m_all) for s, (k, _) in better.items()}
            for sig, (k, m) in pick.items():
                swaps.append({"signature": sig, "op_indices": groups[sig].op_indices, "from": current[sig], "to": k})
                alts[sig] = [x for x in alts[sig] if x != k] + [current[sig]]
                current[sig] = dict(k)
                cur = m
    for sig, g in groups.items():
        g.best_knobs, g.best_time = dict(current[sig]), op_time(cur, sig)
    write([TuneRecord(signature=sig, board=board.id, target=board.target, knobs=dict(current[sig]),
                      time=g.best_time, op=g.opcode, default_time=g.default_time,
                      extra={"op_indices": g.op_indices, "stage": "refine", "final": True,
                             "model_total": cur.run_time, "workspace": _ws(cur), **cur.where})
           for sig, g in groups.items()])
    return {"combined_total": combined_total, "combined_workspace": combined_ws, "combined_flash": combined_flash,
            "refined_total": cur.run_time, "workspace": _ws(cur), "flash": _flash(cur), "max_workspace": max_workspace,
            "max_flash": max_flash, "fits": fits(cur), "rounds": rounds,
            "swaps": swaps, "reverted": reverted}


def _lock_work_dir(work: Path) -> Any:
    """An exclusive lock on the work folder (its slot projects are rebuilt in place); the lock file
    is never followed through a symlink nor truncated (microaot.fsutil)."""
    try:
        return FileLock(work / ".lock").acquire(wait=False)
    except BlockingIOError:
        raise TuneError(f"another `microaot tune` is using {work}; wait for it or pass --work-dir") from None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
