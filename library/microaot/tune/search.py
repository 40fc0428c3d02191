"""Search strategies over one operator signature's knob space.

A searcher proposes candidate schedules (``dict knob -> value``) and is told their measured time.
``GridSearch`` enumerates the whole space (small spaces); ``CoordinateSearch`` (large spaces) sweeps
one knob at a time around the best point so far, then samples random unseen points until its
budget is used. Both never propose the default schedule (it is measured in the default build) nor
the same point twice.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Knobs = dict[str, Any]


def _key(k: Mapping[str, Any]) -> str:
    return json.dumps(dict(sorted(k.items())), sort_keys=True, default=str)


def space_size(space: Mapping[str, Sequence[Any]]) -> int:
    n = 1
    for v in space.values():
        n *= max(len(v), 1)
    return n


class Searcher:
    """Base: bookkeeping of proposed / measured points."""

    def __init__(self, space: Mapping[str, Sequence[Any]], default: Mapping[str, Any], budget: int,
                 seed: int = 0, canon: Callable[[Knobs], Knobs] | None = None) -> None:
        self.space = {k: list(v) for k, v in space.items() if len(v) > 0}
        self.canon: Callable[[Knobs], Knobs] = canon or (lambda k: dict(k))
        self.default: Knobs = self.canon(dict(default))
        self.budget = max(int(budget), 0)
        self.rng = random.Random(seed)
        self.seen: set[str] = {_key(self.default)}
        self.pending: set[str] = set()
        self.results: dict[str, float] = {}
        self.proposed = 0

    @property
    def best(self) -> tuple[Knobs, float | None]:
        if not self.results:
            return dict(self.default), None
        k = min(self.results, key=lambda s: self.results[s])
        return json.loads(k), self.results[k]

    def _fresh(self, cand: Knobs) -> Knobs | None:
        """The canonical form of cand if it was not proposed yet (None: seen, or illegal)."""
        try:
            c = self.canon(cand)
        except Exception:  # noqa: BLE001 - an illegal combination is simply skipped
            return None
        return None if _key(c) in self.seen else c

    def _take(self, cand: Knobs) -> Knobs:
        k = _key(cand)
        self.seen.add(k)
        self.pending.add(k)
        self.proposed += 1
        return cand

    def propose(self) -> Knobs | None:
        raise NotImplementedError

    def report(self, knobs: Mapping[str, Any], time: float | None) -> None:
        """time None = the candidate failed (not bit-exact, did not build or run)."""
        k = _key(knobs)
        self.pending.discard(k)
        if time is not None:
            self.results[k] = float(time)

    @property
    def done(self) -> bool:
        return not self.pending and (self.proposed >= self.budget or self._exhausted())

    def _exhausted(self) -> bool:
        return len(self.seen) >= space_size(self.space)


class GridSearch(Searcher):
    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        names = list(self.space)
        self._it = (dict(zip(names, vals, strict=True)) for vals in itertools.product(*self.space.values()))

    def propose(self) -> Knobs | None:
        if self.proposed >= self.budget:
            return None
        for cand in self._it:
            c = self._fresh(cand)
            if c is not None:
                return self._take(c)
        return None


class CoordinateSearch(Searcher):
    """Coordinate descent from the default; random unseen points once a full sweep stops improving."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self._knob = 0
        self._queue: list[Knobs] = []
        self._center: Knobs = dict(self.default)
        self._center_time: float | None = None
        self._improved_this_pass = False
        self._knobs_left = len(self.space)
        self._random_phase = False

    def set_default_time(self, t: float | None) -> None:
        self._center_time = t
        if t is not None:
            self.results.setdefault(_key(self.default), float(t))

    def _fill(self) -> None:
        names = list(self.space)
        while not self._queue and not self._random_phase and names:
            if self._knobs_left == 0:
                if not self._improved_this_pass:
                    self._random_phase = True
                    break
                self._improved_this_pass = False
                self._knobs_left = len(names)
            name = names[self._knob % len(names)]
            self._knob += 1
            self._knobs_left -= 1
            queued = {_key(q) for q in self._queue}
            for v in self.space[name]:
                c = self._fresh({**self._center, name: v})
                if c is not None and _key(c) not in queued:
                    queued.add(_key(c))
                    self._queue.append(c)

    def propose(self) -> Knobs | None:
        if self.proposed >= self.budget:
            return None
        if not self._queue and self.pending:
            return None  # wait for this sweep's results before moving the center
        self._fill()
        if self._queue:
            return self._take(self._queue.pop(0))
        if self._random_phase and not self._exhausted():
            names = list(self.space)
            for _ in range(200):
                c = self._fresh({n: self.rng.choice(self.space[n]) for n in names})
                if c is not None:
                    return self._take(c)
        return None

    def report(self, knobs: Mapping[str, Any], time: float | None) -> None:
        super().report(knobs, time)
        if time is not None and (self._center_time is None or time < self._center_time):
            self._center, self._center_time = dict(knobs), float(time)
            self._improved_this_pass = True


def make_searcher(space: Mapping[str, Sequence[Any]], default: Mapping[str, Any], budget: int,
                  *, seed: int = 0, strategy: str = "auto", canon: Callable[[Knobs], Knobs] | None = None,
                  n_distinct: int | None = None) -> Searcher:
    """``auto``: the grid when the whole space (``n_distinct`` distinct schedules, default included)
    fits in the budget, else coordinate descent."""
    n = n_distinct if n_distinct is not None else space_size(space)
    if strategy == "grid" or (strategy == "auto" and n - 1 <= budget):
        return GridSearch(space, default, budget, seed, canon)
    if strategy in ("auto", "coordinate"):
        return CoordinateSearch(space, default, budget, seed, canon)
    if strategy == "random":
        s = CoordinateSearch(space, default, budget, seed, canon)
        s._random_phase = True
        return s
    raise ValueError(f"unknown search strategy {strategy!r} (auto, grid, coordinate, random)")
