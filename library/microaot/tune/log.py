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

import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
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


def append_records(path: str | Path, records: Iterable[TuneRecord | Mapping[str, Any]]) -> int:
    """Append records to the log (created if missing), one ``write`` per call, flushed and synced."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(
        json.dumps(r.to_json() if isinstance(r, TuneRecord) else _jsonable(dict(r)), sort_keys=True) + "\n"
        for r in records
    )
    if not text:
        return 0
    # a log whose last line lacks its newline (interrupted write) must not swallow our first record
    prefix = ""
    if p.is_file() and p.stat().st_size > 0:
        with p.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                prefix = "\n"
    with p.open("a", encoding="utf8") as f:
        f.write(prefix + text)
        f.flush()
        os.fsync(f.fileno())
    return text.count("\n")


def merge_logs(out: str | Path, inputs: Sequence[str | Path]) -> int:
    """Append to ``out`` every record of ``inputs`` that ``out`` does not already hold verbatim.
    Returns the number of records added."""
    seen = {json.dumps(d, sort_keys=True) for d in read_log(out, missing_ok=True)}
    new: list[dict[str, Any]] = []
    for src in inputs:
        for d in read_log(src):
            s = json.dumps(d, sort_keys=True)
            if s not in seen:
                seen.add(s)
                new.append(d)
    return append_records(out, new)


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
