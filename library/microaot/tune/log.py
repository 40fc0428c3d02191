"""The tuning log: JSON lines, one measured candidate schedule of one operator per line.

A record (unknown keys are kept and ignored)::

    {"v": 1, "signature": "CONV_2D|int8|...", "board": "qemu_mps2_an386", "target": "cortex-m4",
     "generator": "0.1.0", "op": "CONV_2D", "knobs": {"oc_block": 4}, "time": 123456.0,
     "unit": "instructions", "default_time": 150000.0, "bitexact": true,
     "model": "kws_dscnn_int8.tflite", "model_hash": "<sha256>", "op_indices": [2, 4],
     "tuner_run": "<id>", "batch": 3, "when": "2026-11-26T04:30:00Z"}

A candidate that failed has ``"failure"``: one of ``FailureKind`` (``build_failed``, ``run_failed``,
``timeout``, ``not_bitexact``), ``"time": null`` and usually an ``"error"`` message; ``"bitexact"`` is
still written (false only for ``not_bitexact``) so that older readers keep skipping it. Records written
before ``failure`` existed are read with the kind derived from their ``bitexact`` / ``error``.

Records are keyed by (operator signature, board, target, generator version): the signature
(``microaot.schedules.op_signature``) captures everything about an operator that matters to its
kernel (opcode, dtypes, shapes, strides, padding, fused activation), so one log serves every model
that contains the same layer. The generator version is microaot's ``__version__``; a record made
by another version is not used (kernels may have changed).

Writing only ever appends (``append_records``), so earlier entries are never lost; ``merge_logs``
concatenates logs and drops exact duplicates. Reading (``best_schedules``) picks, for each operator
of a graph, the fastest record without ``failure`` (nor ``error``) whose knobs are still valid in
the operator's current knob space; when the signature has ``final`` records (the tuner's whole-model
choice, see ``microaot.tune.tuner``), the fastest of those. Old-style records keyed by
``model_hash`` + ``op_index`` (no signature) are honoured too, for that model only.
"""

from __future__ import annotations

import enum
import fcntl
import hashlib
import json
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microaot import __version__, schedules
from microaot.errors import MicroaotError
from microaot.frontend.tflite import load_tflite
from microaot.ir.graph import Graph, Operator

LOG_VERSION = 1
GENERATOR = __version__


class TuningLogError(MicroaotError):
    """A tuning log that cannot be read."""


class FailureKind(str, enum.Enum):
    """Why a candidate schedule has no usable time (the ``failure`` of its log record)."""

    BUILD_FAILED = "build_failed"  # the firmware did not build (code generator, compiler, linker)
    RUN_FAILED = "run_failed"  # it built but did not start / answer / profile
    TIMEOUT = "timeout"  # the device stopped answering within the RPC timeout
    NOT_BITEXACT = "not_bitexact"  # its outputs or intermediate tensors differ from the default build's

    @staticmethod
    def of_legacy(bitexact: bool, error: str | None) -> FailureKind | None:
        """The kind of a record written before ``failure`` existed (``bitexact`` + free-text ``error``)."""
        if error:
            text = error.lower()
            if "timed out" in text or "timeout" in text:
                return FailureKind.TIMEOUT
            if "build" in text or "compil" in text or "pio run" in text:
                return FailureKind.BUILD_FAILED
            return FailureKind.RUN_FAILED
        return None if bitexact else FailureKind.NOT_BITEXACT


@dataclass(frozen=True)
class LogKey:
    signature: str
    board: str
    target: str
    generator: str


@dataclass
class TuneRecord:
    signature: str
    board: str
    target: str
    knobs: dict[str, Any]
    time: float | None
    op: str = ""
    unit: str = ""
    generator: str = GENERATOR
    failure: FailureKind | None = None  # None: a usable measurement (when ``time`` is set)
    error: str | None = None  # what went wrong, for people (``failure`` says what kind)
    default_time: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> LogKey:
        return LogKey(self.signature, self.board, self.target, self.generator)

    @property
    def bitexact(self) -> bool:
        """False only when the candidate's outputs differed (the log's legacy ``bitexact`` field)."""
        return self.failure is not FailureKind.NOT_BITEXACT

    @property
    def usable(self) -> bool:
        return self.time is not None and self.failure is None and not self.error

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "v": LOG_VERSION, "signature": self.signature, "board": self.board, "target": self.target,
            "generator": self.generator, "op": self.op, "knobs": _jsonable(self.knobs), "time": self.time,
            "unit": self.unit, "default_time": self.default_time, "bitexact": self.bitexact,
        }
        if self.failure is not None:
            d["failure"] = self.failure.value
        if self.error:
            d["error"] = self.error
        for k, v in self.extra.items():
            d.setdefault(k, _jsonable(v))
        return d

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> TuneRecord:
        known = {"v", "signature", "board", "target", "generator", "op", "knobs", "time", "unit",
                 "default_time", "bitexact", "error", "failure"}
        t = d.get("time")
        dt = d.get("default_time")
        return TuneRecord(
            signature=str(d.get("signature", "")), board=str(d.get("board", "")), target=str(d.get("target", "")),
            knobs=dict(d.get("knobs") or {}), time=None if t is None else float(t), op=str(d.get("op", "")),
            unit=str(d.get("unit", "")), generator=str(d.get("generator", GENERATOR)),
            failure=_failure_of(d), error=d.get("error") or None,
            default_time=None if dt is None else float(dt),
            extra={k: v for k, v in d.items() if k not in known},
        )


def _failure_of(d: Mapping[str, Any]) -> FailureKind | None:
    f = d.get("failure")
    if f is not None:
        try:
            return FailureKind(str(f))
        except ValueError:  # a kind this version does not know: still a failure
            return FailureKind.RUN_FAILED
    return FailureKind.of_legacy(bool(d.get("bitexact", True)), d.get("error") or None)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        return v.item()
    return v


_STR_FIELDS = ("signature", "board", "target", "generator", "op", "unit", "model", "model_hash", "tuner_run")
_TIME_FIELDS = ("time", "default_time")


def _field_error(d: Mapping[str, Any]) -> str | None:
    """What is wrong with the fields a reader uses in record d (None when nothing is)."""
    for k in _STR_FIELDS:
        if d.get(k) is not None and not isinstance(d[k], str):
            return f'"{k}" is {json.dumps(d[k])}, not a string'
    for k in _TIME_FIELDS:
        v = d.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0):
            return f'"{k}" is {json.dumps(v)}, not a time (a finite number >= 0, or null)'
    knobs = d.get("knobs")
    if knobs is not None and not isinstance(knobs, dict):
        return f'"knobs" is {json.dumps(knobs)}, not an object of knob values'
    for k in ("bitexact", "final"):
        if k in d and not isinstance(d[k], bool):
            return f'"{k}" is {json.dumps(d[k])}, not true or false'
    if d.get("error") is not None and not isinstance(d["error"], str):
        return f'"error" is {json.dumps(d["error"])}, not a message'
    if "op_index" in d and (isinstance(d["op_index"], bool) or not isinstance(d["op_index"], int) or d["op_index"] < 0):
        return f'"op_index" is {json.dumps(d["op_index"])}, not an operator index'
    return None


def read_log(path: str | Path, *, missing_ok: bool = False) -> list[dict[str, Any]]:
    """All records (raw dicts) of a JSON-lines log, in file order. Blank lines are skipped; a
    truncated record (a line starting with ``{`` that does not parse: an interrupted write) is
    skipped with a warning; any other line that is not a JSON object, is not UTF-8, or whose fields
    have the wrong types (``"time": "fast"``, ``"knobs": 5``) is a TuningLogError naming the file
    and line."""
    p = Path(path)
    if not p.exists():
        if missing_ok:
            return []
        raise TuningLogError(f"tuning log {p} does not exist (run `microaot tune` to create it)")
    if not p.is_file():
        raise TuningLogError(f"tuning log {p} is not a regular file; give the .jsonl file `microaot tune` wrote")
    try:
        lines = p.read_bytes().splitlines()
    except OSError as e:
        raise TuningLogError(f"tuning log {p}: cannot read it: {e.strerror or e}") from None
    out: list[dict[str, Any]] = []
    for ln, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf8").strip()
        except UnicodeDecodeError as e:
            raise TuningLogError(f"tuning log {p}:{ln}: not UTF-8 text (byte {e.start + 1} of the line); "
                                 "fix or delete that line") from None
        if not line:
            continue
        try:
            rec = json.loads(line, parse_constant=_no_constant)
        except (json.JSONDecodeError, ValueError) as e:
            if line.startswith("{") and isinstance(e, json.JSONDecodeError):
                warnings.warn(f"tuning log {p}:{ln}: incomplete record skipped (interrupted write?)", stacklevel=2)
                continue
            msg = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
            raise TuningLogError(f"tuning log {p}:{ln}: not JSON ({msg}); fix or delete that line") from None
        if not isinstance(rec, dict):
            raise TuningLogError(f"tuning log {p}:{ln}: {type(rec).__name__} where a record (JSON object) belongs; "
                                 "fix or delete that line")
        bad = _field_error(rec)
        if bad is not None:
            raise TuningLogError(f"tuning log {p}:{ln}: {bad}; fix or delete that line")
        out.append(rec)
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a tuning log holds")


def read_records(path: str | Path, *, missing_ok: bool = False) -> list[TuneRecord]:
    return [TuneRecord.from_json(d) for d in read_log(path, missing_ok=missing_ok) if d.get("signature")]


@contextmanager
def _locked(path: Path) -> Iterator[int]:
    """The log opened for appending (O_APPEND, not following a symlink) under an exclusive advisory lock:
    several processes, on this machine or on a shared file system with working locks, can append and
    merge into one log at once without interleaving or duplicating lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def _append_locked(fd: int, path: Path, text: str) -> None:
    data = text.encode("utf8")
    # a log whose last line lacks its newline (interrupted write) must not swallow our first record
    size = os.fstat(fd).st_size
    if size > 0:
        with path.open("rb") as f:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                data = b"\n" + data
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    os.fsync(fd)


def _lines(records: Iterable[TuneRecord | Mapping[str, Any]]) -> str:
    return "".join(
        json.dumps(r.to_json() if isinstance(r, TuneRecord) else _jsonable(dict(r)), sort_keys=True) + "\n"
        for r in records
    )


def append_records(path: str | Path, records: Iterable[TuneRecord | Mapping[str, Any]]) -> int:
    """Append records to the log (created if missing) under the log's lock, flushed and synced."""
    p = Path(path)
    text = _lines(records)
    if not text:
        return 0
    with _locked(p) as fd:
        _append_locked(fd, p, text)
    return text.count("\n")


def merge_logs(out: str | Path, inputs: Sequence[str | Path]) -> int:
    """Append to ``out`` every record of ``inputs`` that ``out`` does not already hold verbatim (the tuning
    database of many runs and machines: builds query it by operator signature, target and board). Reading
    ``out`` and appending happen under its lock, so concurrent merges add each record once. Returns the
    number of records added."""
    p = Path(out)
    with _locked(p) as fd:
        seen = {json.dumps(d, sort_keys=True) for d in read_log(p, missing_ok=True)}
        new: list[dict[str, Any]] = []
        for src in inputs:
            for d in read_log(src):
                key = json.dumps(d, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    new.append(d)
        text = _lines(new)
        if text:
            _append_locked(fd, p, text)
    return len(new)


# ---- picking the best entries --------------------------------------------------------------------


def _space_fns() -> tuple[Any, Any] | None:
    return schedules.op_signature, schedules.op_space


def signature_of(graph: Graph, op: Operator) -> str:
    fns = _space_fns()
    if fns is not None and fns[0] is not None:
        return str(fns[0](graph, op))
    return fallback_signature(graph, op)


def fallback_signature(graph: Graph, op: Operator) -> str:
    """Opcode, dtypes and shapes of the inputs/outputs, options (used when space.py is absent)."""
    parts = [op.opcode]
    for ti in op.inputs:
        if ti < 0:
            parts.append("-")
            continue
        t = graph.tensors[ti]
        pc = "pc" if (t.quant is not None and getattr(t.quant, "per_channel", False)) else ""
        parts.append(f"{'c' if t.is_const else 'a'}:{t.dtype}{list(t.shape)}{pc}")
    for ti in op.outputs:
        t = graph.tensors[ti]
        parts.append(f"o:{t.dtype}{list(t.shape)}")
    parts.append(json.dumps(op.options, sort_keys=True, default=str))
    return "|".join(parts)


def knob_valid(knobs: Mapping[str, Any], space: Mapping[str, Sequence[Any]] | None) -> bool:
    if space is None:
        return True
    return all(k in space and v in list(space[k]) for k, v in knobs.items())


def best_records(records: Iterable[TuneRecord], *, target: str, board: str | None = None,
                 generator: str = GENERATOR) -> dict[str, TuneRecord]:
    """Fastest usable record per signature for (board, target, generator).

    With ``board=None`` the board of the signature's most recent record is used (a log normally
    holds one board; times of different boards are never compared)."""
    by_sig: dict[str, list[TuneRecord]] = {}
    for r in records:
        if r.target != target or r.generator != generator or not r.usable:
            continue
        if board is not None and r.board != board:
            continue
        by_sig.setdefault(r.signature, []).append(r)
    best: dict[str, TuneRecord] = {}
    for sig, rs in by_sig.items():
        b = rs[-1].board
        cands = [r for r in rs if r.board == b]
        # a tuner's whole-model choice (``final``: timed in the build of all its chosen schedules, memory
        # plan included) wins over a candidate timed with the other operators on other schedules
        final = [r for r in cands if r.extra.get("final")]
        best[sig] = min(final or cands, key=lambda r: float(r.time or 0.0))
    return best


def best_schedules(
    path: str | Path,
    graph: Graph,
    *,
    target: str,
    board: str | None = None,
    model_hash: str | None = None,
) -> dict[int, dict[str, Any]]:
    """``{op_index: knobs}`` of the best usable entry of the log for every operator of ``graph``.

    Knobs no longer in the operator's knob space (a kernel variant was removed) are skipped.
    Old-style records (``op_index`` + ``time``, optional ``model_hash``) apply when the model matches."""
    raw = read_log(path)
    recs = [TuneRecord.from_json(d) for d in raw if d.get("signature")]
    fns = _space_fns()
    space_fn = fns[1] if fns is not None else None
    best = best_records(recs, target=target, board=board)
    out: dict[int, dict[str, Any]] = {}
    # legacy: {"op_index": i, "knobs": {...}, "time": t, "model_hash": h?}
    legacy: dict[int, tuple[float, dict[str, Any]]] = {}
    for d in raw:
        if d.get("signature") or "op_index" not in d or d.get("time") is None or d.get("error"):
            continue
        if model_hash and d.get("model_hash") not in (None, model_hash):
            continue
        oi, t = int(d["op_index"]), float(d["time"])
        if oi not in legacy or t < legacy[oi][0]:
            legacy[oi] = (t, dict(d.get("knobs") or {}))
    for op in graph.operators:
        rec = best.get(signature_of(graph, op)) if best else None
        knobs: dict[str, Any] | None = dict(rec.knobs) if rec is not None else None
        if knobs is None and op.index in legacy:
            knobs = legacy[op.index][1]
        if not knobs:
            continue
        space = None
        if space_fn is not None:
            try:
                space = space_fn(graph, op, target)
            except Exception:  # noqa: BLE001 - an op without a space keeps its default
                space = {}
        if knob_valid(knobs, space):
            out[op.index] = knobs
    return out


def log_schedules(path: str | Path | None, model: str | Path, *, target: str,
                  board: str | None = None) -> dict[int, dict[str, Any]]:
    """The schedules a build of ``model`` for ``target`` (and ``board``, if given) takes from the tuning log
    ``path`` (None: none), for ``compile_model(schedules=...)``: the fastest bit-exact entry per operator
    signature (``best_schedules``; old-style records by op index when the model hash matches). The one
    helper every caller (CLI, PlatformIO build, export, tuner) resolves a log with."""
    if path is None:
        return {}
    model = Path(model)
    graph = load_tflite(model)
    return best_schedules(path, graph, target=target, board=board,
                          model_hash=hashlib.sha256(model.read_bytes()).hexdigest())
