"""The tuning log: JSON lines, one measured candidate schedule of one operator per line.

A record (unknown keys are kept and ignored)::

    {"v": 1, "signature": "CONV_2D|int8|...", "board": "qemu_mps2_an386", "target": "cortex-m4",
     "generator": "0.1.0", "op": "CONV_2D", "knobs": {"oc_block": 4}, "time": 123456.0,
     "unit": "instructions", "default_time": 150000.0, "bitexact": true,
     "model": "kws_dscnn_int8.tflite", "model_hash": "<sha256>", "op_indices": [2, 4],
     "tuner_run": "<id>", "batch": 3, "when": "2026-11-26T04:30:00Z"}

Records are keyed by (operator signature, board, target, generator version): the signature
(``microaot.tune.space.op_signature``) captures everything about an operator that matters to its
kernel (opcode, dtypes, shapes, strides, padding, fused activation), so one log serves every model
that contains the same layer. The generator version is microaot's ``__version__``; a record made
by another version is not used (kernels may have changed).

Writing only ever appends (``append_records``), so earlier entries are never lost; ``merge_logs``
concatenates logs and drops exact duplicates. Reading (``best_schedules``) picks, for each operator
of a graph, the fastest record with ``bitexact`` true and no ``error`` whose knobs are still valid in
the operator's current knob space; when the signature has ``final`` records (the tuner's whole-model
choice, see ``microaot.tune.tuner``), the fastest of those. Old-style records keyed by
``model_hash`` + ``op_index`` (no signature) are honoured too, for that model only.
"""

from __future__ import annotations

import fcntl
import json
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microaot import __version__
from microaot.errors import MicroaotError
from microaot.ir.graph import Graph, Operator

LOG_VERSION = 1
GENERATOR = __version__


class TuningLogError(MicroaotError):
    """A tuning log that cannot be read."""


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
    bitexact: bool = True
    error: str | None = None
    default_time: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> LogKey:
        return LogKey(self.signature, self.board, self.target, self.generator)

    @property
    def usable(self) -> bool:
        return self.time is not None and self.bitexact and not self.error

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "v": LOG_VERSION, "signature": self.signature, "board": self.board, "target": self.target,
            "generator": self.generator, "op": self.op, "knobs": _jsonable(self.knobs), "time": self.time,
            "unit": self.unit, "default_time": self.default_time, "bitexact": self.bitexact,
        }
        if self.error:
            d["error"] = self.error
        for k, v in self.extra.items():
            d.setdefault(k, _jsonable(v))
        return d

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> TuneRecord:
        known = {"v", "signature", "board", "target", "generator", "op", "knobs", "time", "unit",
                 "default_time", "bitexact", "error"}
        t = d.get("time")
        dt = d.get("default_time")
        return TuneRecord(
            signature=str(d.get("signature", "")), board=str(d.get("board", "")), target=str(d.get("target", "")),
            knobs=dict(d.get("knobs") or {}), time=None if t is None else float(t), op=str(d.get("op", "")),
            unit=str(d.get("unit", "")), generator=str(d.get("generator", GENERATOR)),
            bitexact=bool(d.get("bitexact", True)), error=d.get("error") or None,
            default_time=None if dt is None else float(dt),
            extra={k: v for k, v in d.items() if k not in known},
        )


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        return v.item()
    return v


def read_log(path: str | Path, *, missing_ok: bool = False) -> list[dict[str, Any]]:
    """All records (raw dicts) of a JSON-lines log, in file order. Blank lines are skipped; a
    truncated record (a line starting with ``{`` that does not parse: an interrupted write) is
    skipped with a warning; any other line that is not JSON is an error (not a tuning log)."""
    p = Path(path)
    if not p.is_file():
        if missing_ok:
            return []
        raise TuningLogError(f"tuning log {p} does not exist (run `microaot tune` to create it)")
    lines = p.read_text(encoding="utf8").splitlines()
    out: list[dict[str, Any]] = []
    for ln, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            if line.startswith("{"):
                warnings.warn(f"tuning log {p}:{ln}: incomplete record skipped (interrupted write?)", stacklevel=2)
                continue
            raise TuningLogError(f"tuning log {p}:{ln}: not JSON ({e.msg}); fix or delete that line") from None
        if isinstance(rec, dict):
            out.append(rec)
    return out


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
    try:
        from microaot.tune import space
    except ImportError:
        return None
    return getattr(space, "op_signature", None), getattr(space, "op_space", None)


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
