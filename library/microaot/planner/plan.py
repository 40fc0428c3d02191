"""Static memory plan.

Steps are positions in the execution order (``MemoryPlan.order``, a topological order of the
operators; the identity unless ``reorder=True`` found a better one). Every non-constant tensor lives
either in the caller's input/output buffers (graph inputs and outputs are never copied into the
workspace) or in a *buffer* of the workspace. Tensors that hold the same bytes (a RESHAPE output
aliasing its input) share one buffer at the same offset; an in-place operator's output shares the
buffer of the input it overwrites, at a fixed byte distance (``InPlaceOption.delta``). Each tensor is
live from the step that writes it to the last step that reads it; two tensors live at the same step
never overlap in memory, except a view and its source, and an in-place operator's input and output
at that operator's step (the kernel guarantees it never overwrites input bytes it still needs).

A buffer is therefore a rigid set of member rectangles (bytes x steps). Offsets are chosen greedily,
each buffer at the lowest aligned offset where none of its members overlaps a time-overlapping
member of an already placed buffer; several placement orders are tried (largest first, as TFLM's
greedy planner, then earliest first, longest lived first, and seeded shuffles) and the smallest
workspace is kept (deterministic).

In-place operators (``inplace=``, from the lowerings' ``register(..., inplace=)`` declarations) are
*options*: an option is legal when the input's buffer is read for the last time by the operator,
and neither side is a caller buffer. ``free`` options (elementwise kernels such as ADD) cost nothing;
the others (row-by-row convolutions) are taken only when they lower the workspace. Which options
to take (and, for branching graphs with ``reorder=True``, which operator order) is a small local
search whose objective is (workspace, number of costly in-place operators, sum over steps of the
live bytes).

Reported: ``workspace_size`` (= peak, aligned); ``lower_bound``: max over steps of the bytes live at
that step in *this* plan (no placement of these buffers can use less); ``liveness_bound``: the same
without any in-place operator, in the model's order (the classic activation liveness bound);
``inplace_bound``: the smallest such bound among all orders and in-place choices the planner
evaluated; ``lower_bound_io``: ``lower_bound`` counting the graph inputs and outputs too
(comparable with TFLM's activation "head").
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from microaot.ir.graph import Graph

ALIGN = 16  # UAOT_WORKSPACE_ALIGN
MAX_ORDERS = 24  # topological orders evaluated with reorder=True (the model's own order first)
MAX_REORDER_OPS = 400  # larger graphs keep the model's order
SEARCH_WORK = 20_000_000  # member-pair checks the in-place search may spend (big graphs get fewer candidates)
PLACEMENT_SHUFFLES = 24  # seeded random placement orders tried after the deterministic ones


def align_up(x: int, a: int = ALIGN) -> int:
    return (x + a - 1) // a * a


def align_down(x: int, a: int = ALIGN) -> int:
    return x // a * a


@dataclass(frozen=True)
class TensorLocation:
    kind: Literal["workspace", "input", "output", "const", "state"]
    offset: int = 0  # byte offset in the workspace (kind == "workspace") or the state buffer ("state")
    index: int = 0  # graph input/output position (kind == "input"/"output")


@dataclass(frozen=True)
class InPlaceOption:
    """Operator ``op`` may write its output tensor ``out`` over its input tensor ``inp``.

    delta: byte offset of the input minus that of the output inside the shared buffer (0: same
        start; > 0: the input sits ``delta`` bytes above the output). Rounded to the alignment
        in the safe direction by whoever builds the option.
    free: True when the in-place kernel costs nothing (elementwise); False: taken only when it
        lowers the workspace.
    variant: what the lowering needs to know to emit the in-place kernel (``ctx.inplace``).
    slack: 0: exactly ``delta``; +1: ``delta`` or more (the output may sit lower); -1: ``delta`` or
        less (the output may sit higher). The planner picks the distance within the slack that keeps
        the shared buffer smallest; ``MemoryPlan.inplace_ops`` holds the distance it took.
    """

    op: int
    out: int
    inp: int
    delta: int = 0
    free: bool = True
    variant: str = "elementwise"
    slack: int = 0


@dataclass
class Buffer:
    id: int
    size: int  # bytes (before alignment): span of its members
    first: int  # step that writes it
    last: int  # last step that reads it
    tensors: list[int] = field(default_factory=list)  # tensor indices sharing it; [] for scratch
    scratch_op: int = -1  # op index when this is an op's scratch buffer
    offset: int = -1
    rel: dict[int, int] = field(default_factory=dict)  # tensor -> byte offset inside the buffer
    # member rectangles relative to offset: (lo, hi, first step, last step)
    spans: list[tuple[int, int, int, int]] = field(default_factory=list)

    def overlaps_in_time(self, other: Buffer) -> bool:
        return not (self.last < other.first or other.last < self.first)

    def conflicts(self, other: Buffer) -> bool:
        """True when a member of self overlaps a member of other in both time and memory."""
        for lo, hi, f, la in self.spans:
            for lo2, hi2, f2, la2 in other.spans:
                if la < f2 or la2 < f:
                    continue
                if self.offset + lo < other.offset + hi2 and other.offset + lo2 < self.offset + hi:
                    return True
        return False


@dataclass
class MemoryPlan:
    workspace_size: int
    lower_bound: int
    lower_bound_io: int
    locations: dict[int, TensorLocation]
    buffers: list[Buffer]
    aliased_ops: set[int]  # view operators whose output aliases their input (no code)
    scratch: dict[int, int]  # op index -> workspace offset of its scratch buffer
    live_bytes: list[int]  # per step: bytes live in the workspace
    order: list[int] = field(default_factory=list)  # execution order (op indices); step s runs order[s]
    inplace_ops: dict[int, InPlaceOption] = field(default_factory=dict)  # op index -> option taken
    liveness_bound: int = 0  # bound without in-place operators, model order
    inplace_bound: int = 0  # smallest bound among the orders / in-place choices evaluated
    # the persistent state buffer (NAME_STATE_SIZE): variable tensors (locations kind "state") and the
    # operators' private state regions (op index -> offset); never shared, never reused
    state_size: int = 0
    state_regions: dict[int, int] = field(default_factory=dict)

    @property
    def peak(self) -> int:
        return self.workspace_size

    def step_of(self, op: int) -> int:
        return self.order.index(op) if self.order else op


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


@dataclass
class _State:
    """One candidate plan before placement."""

    buffers: list[Buffer]
    groups: dict[int, dict[int, int]]  # root -> {tensor: rel}
    taken: dict[int, InPlaceOption]
    live: list[int]


class _Planner:
    def __init__(self, graph: Graph, views: Iterable[int], scratch: Mapping[int, int],
                 options: list[InPlaceOption], align: int) -> None:
        self.g = graph
        self.align = align
        self.scratch = {k: v for k, v in scratch.items() if v > 0}
        self.nsteps = len(graph.operators)
        tensors = graph.tensors
        self.producers = graph.producers()
        self.consumers = graph.consumers()
        in_pos = {t: k for k, t in enumerate(graph.inputs)}
        out_pos = {t: k for k, t in enumerate(graph.outputs)}
        uf = _UnionFind()
        pins: dict[int, tuple[str, int]] = {}
        for t, k in in_pos.items():
            pins[uf.find(t)] = ("input", k)
        for t, k in out_pos.items():
            r = uf.find(t)
            if r not in pins:
                pins[r] = ("output", k)

        def try_join(a: int, b: int) -> bool:
            ra, rb = uf.find(a), uf.find(b)
            if ra == rb:
                return True
            pa, pb = pins.get(ra), pins.get(rb)
            if pa is not None and pb is not None:
                return False
            uf.union(ra, rb)
            pin = pa or pb
            if pin is not None:
                pins[uf.find(ra)] = pin
            return True

        self.aliased: set[int] = set()
        for oi in sorted(set(views)):
            op = graph.operators[oi]
            if not op.inputs or op.inputs[0] < 0 or not op.outputs:
                continue
            src, dst = op.inputs[0], op.outputs[0]
            if tensors[src].is_const or tensors[src].nbytes != tensors[dst].nbytes:
                continue
            if tensors[src].is_variable or tensors[dst].is_variable:
                continue  # persistent state is never aliased
            # the caller's input buffer is read-only: a view of it must not be written by anyone
            # (views are only read), so joining an input group is fine unless the other side is pinned.
            if try_join(src, dst):
                self.aliased.add(oi)
        self.root = {t: uf.find(t) for t in graph.activation_tensors()}
        self.base_groups: dict[int, list[int]] = {}
        for t, r in sorted(self.root.items()):
            self.base_groups.setdefault(r, []).append(t)
        self.pins = {r: p for r, p in pins.items() if r in self.base_groups}
        # in-place options on workspace tensors only
        self.nbytes = {t: tensors[t].nbytes for t in self.root}
        self.options: dict[int, list[InPlaceOption]] = {}
        for o in options:
            if o.out not in self.root or o.inp not in self.root or tensors[o.inp].is_const:
                continue
            if self.producers.get(o.out) != o.op or o.inp not in graph.operators[o.op].inputs:
                continue
            if self.root[o.out] in self.pins or self.root[o.inp] in self.pins:
                continue
            if o.delta % align:
                continue
            self.options.setdefault(o.op, []).append(o)
        self._memo: dict[tuple[tuple[int, ...], tuple[tuple[int, int], ...]], tuple[tuple[int, int, int], _State]] = {}
        self.evaluated_bounds: list[int] = []
        self.evals = 0
        members = len(self.root) + len(self.scratch)
        self.budget = max(64, SEARCH_WORK // max(members * members, 1))  # objective evaluations

    # ---- one candidate ----------------------------------------------------------------------
    def build(self, order: list[int], choice: Mapping[int, InPlaceOption | None]) -> _State:
        nb = self.nbytes
        pos = {op: i for i, op in enumerate(order)}
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for t in self.root:
            w = pos[self.producers[t]] if t in self.producers else 0
            reads = [pos[c] for c in self.consumers.get(t, [])]
            first[t] = w
            last[t] = max([w, *reads])
        groups: dict[int, dict[int, int]] = {r: dict.fromkeys(ms, 0) for r, ms in self.base_groups.items()}
        # per group, kept up to date while groups merge (a chain of in-place operators grows one group:
        # recomputing these from its members at every merge was quadratic): first and last step, lowest
        # member offset (the offsets are normalized to start at 0 once, at the end) and highest member end
        gfirst = {r: min(first[t] for t in ms) for r, ms in groups.items()}
        glast = {r: max(last[t] for t in ms) for r, ms in groups.items()}
        glow = dict.fromkeys(groups, 0)
        gend = {r: max(nb[t] for t in ms) for r, ms in groups.items()}
        where = dict(self.root)
        taken: dict[int, InPlaceOption] = {}
        for op in sorted((o for o, c in choice.items() if c is not None), key=lambda o: pos[o]):
            opt = choice[op]
            assert opt is not None
            ra, rb = where[opt.inp], where[opt.out]
            if ra == rb or ra in self.pins or rb in self.pins:
                continue
            ga, gb = groups[ra], groups[rb]
            if glast[ra] != pos[op] or gfirst[rb] != pos[op]:
                continue  # the input is read later (or the output group starts earlier): not legal
            m = glow[ra]  # below: offsets relative to the lowest member of ga (as if normalized)
            at0 = ga[opt.inp] - m - opt.delta  # where the output starts with the given distance
            at = at0
            if opt.slack:
                span_a = gend[ra] - m
                bmin = min(r - gb[opt.out] for r in gb.values())
                bmax = max(r - gb[opt.out] + nb[t] for t, r in gb.items())
                if opt.slack > 0 and at0 >= -bmin:
                    at = -bmin  # as low as possible without growing the buffer downwards
                elif opt.slack < 0 and align_down(span_a - bmax, self.align) >= at0:
                    at = align_down(span_a - bmax, self.align)  # as high as possible inside it
            shift = at + m - gb[opt.out]
            for t, r in gb.items():
                ga[t] = r + shift
                where[t] = ra
            glow[ra] = min(m, glow[rb] + shift)
            gend[ra] = max(gend[ra], gend[rb] + shift)
            gfirst[ra] = min(gfirst[ra], gfirst[rb])
            glast[ra] = max(glast[ra], glast[rb])
            del groups[rb]
            taken[op] = opt if at == at0 else dataclasses.replace(opt, delta=ga[opt.inp] - ga[opt.out])
        for r, g in groups.items():
            low = glow[r]
            if low:
                for t in g:
                    g[t] -= low
        buffers: list[Buffer] = []
        for r, members in sorted(groups.items()):
            if r in self.pins:
                continue
            spans = [(members[t], members[t] + nb[t], first[t], last[t]) for t in sorted(members)]
            buffers.append(Buffer(
                id=len(buffers), size=max(hi for _, hi, _, _ in spans), first=min(s[2] for s in spans),
                last=max(s[3] for s in spans), tensors=sorted(members), rel=dict(sorted(members.items())),
                spans=spans))
        for oi, nbytes in sorted(self.scratch.items()):
            s = pos[oi]
            buffers.append(Buffer(id=len(buffers), size=nbytes, first=s, last=s, scratch_op=oi,
                                  rel={}, spans=[(0, nbytes, s, s)]))
        live = _live_bytes(buffers, self.nsteps)
        self.evaluated_bounds.append(max(live, default=0))
        return _State(buffers=buffers, groups=groups, taken=taken, live=live)

    def objective(self, order: list[int],
                  choice: Mapping[int, InPlaceOption | None]) -> tuple[tuple[int, int, int], _State]:
        key = (tuple(order), tuple(sorted((op, self._opt_id(op, c)) for op, c in choice.items() if c is not None)))
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        self.evals += 1
        st = self.build(order, choice)
        ws = min(_place(st.buffers, self.align, _key_size), _place(st.buffers, self.align, _key_first))
        costly = sum(1 for o in st.taken.values() if not o.free)
        res = ((ws, costly, sum(st.live)), st)
        self._memo[key] = res
        return res

    def _opt_id(self, op: int, opt: InPlaceOption) -> int:
        return self.options[op].index(opt)

    # ---- search -----------------------------------------------------------------------------
    def seeds(self) -> list[dict[int, InPlaceOption | None]]:
        nvar = max((len(v) for v in self.options.values()), default=0)
        out: list[dict[int, InPlaceOption | None]] = [{}]
        out.append({op: next((o for o in opts if o.free), None) for op, opts in self.options.items()})
        for k in range(nvar):
            out.append({op: opts[min(k, len(opts) - 1)] for op, opts in self.options.items()})
        for k in range(nvar):  # alternate variants along the order (bounds the drift of row kernels)
            out.append({op: opts[(k + i) % len(opts)] for i, (op, opts) in enumerate(sorted(self.options.items()))})
        return out

    def descend(
        self, order: list[int], choice: dict[int, InPlaceOption | None]
    ) -> tuple[tuple[int, int, int], dict[int, InPlaceOption | None]]:
        best, _ = self.objective(order, choice)
        pos = {op: i for i, op in enumerate(order)}
        ops = sorted(self.options, key=lambda o: pos[o])
        for _sweep in range(4):
            improved = False
            for op in ops:
                for alt in [None, *self.options[op]]:
                    if choice.get(op) == alt or self.evals >= self.budget:
                        continue
                    trial = dict(choice)
                    trial[op] = alt
                    obj, _ = self.objective(order, trial)
                    if obj < best:
                        best, choice, improved = obj, trial, True
            if not improved:
                break
        return best, choice


def _live_bytes(buffers: list[Buffer], nsteps: int) -> list[int]:
    live = [0] * max(nsteps, 1)
    for b in buffers:
        if len(b.spans) == 1:
            lo, hi, f, la = b.spans[0]
            for s in range(f, la + 1):
                live[s] += hi - lo
            continue
        at: dict[int, list[tuple[int, int]]] = {}  # step -> its members' byte ranges (one pass over the spans)
        for lo, hi, f, la in b.spans:
            for s in range(f, la + 1):
                at.setdefault(s, []).append((lo, hi))
        for s, ranges in at.items():
            total, end = 0, 0
            for lo, hi in sorted(ranges):
                if hi > end:
                    total += hi - max(lo, end)
                    end = hi
            live[s] += total
    return live


def _key_size(b: Buffer) -> tuple[int, ...]:
    return (-b.size, b.first, b.id)


def _key_first(b: Buffer) -> tuple[int, ...]:
    return (b.first, -b.size, b.id)


def _key_long(b: Buffer) -> tuple[int, ...]:
    return (b.first - b.last, -b.size, b.id)


def _key_area(b: Buffer) -> tuple[int, ...]:
    return (-b.size * (b.last - b.first + 1), b.id)


# work of _place since import (tests bound it): calls, buffers placed, and checks = the placed buffers and
# member spans examined for them (all pairs before: ~n^2/2 per call on a chain; now ~ the buffers that share
# a step with each one)
PLACE_STATS = {"calls": 0, "buffers": 0, "checks": 0}
_Span = tuple[int, int, int, int]
_FEW_SPANS = 4  # buffers with more members get a per-step index of them in _place


def _span_index(spans: list[_Span]) -> tuple[dict[int, list[_Span]], dict[int, list[_Span]]]:
    """(step -> the spans live at it, step -> the spans whose first step it is)."""
    alive: dict[int, list[_Span]] = {}
    starts: dict[int, list[_Span]] = {}
    for sp in spans:
        starts.setdefault(sp[2], []).append(sp)
        for s in range(sp[2], sp[3] + 1):
            alive.setdefault(s, []).append(sp)
    return alive, starts


def _place(
    buffers: list[Buffer],
    align: int,
    key: Callable[[Buffer], tuple[int, ...]] | None,
    order: list[Buffer] | None = None,
) -> int:
    """Place every buffer (sets ``offset``) in ``order`` or sorted by ``key``; returns the workspace."""
    seq = order if order is not None else sorted(buffers, key=key)
    # the placed buffers by step, so that a buffer meets only those that share a step with it (a chain
    # costs O(n) instead of O(n^2)): alive[s] = placed buffers live at step s, starts[s] = those whose
    # first step is s. A placed p overlaps b in time iff it is alive at b.first or starts inside
    # (b.first, b.last], each found once; the forbidden intervals (hence the offsets) are those of the
    # all-pairs scan, only collected in another order before the sort.
    nsteps = max((b.last for b in seq), default=-1) + 1
    alive: list[list[Buffer]] = [[] for _ in range(nsteps)]
    starts: list[list[Buffer]] = [[] for _ in range(nsteps)]
    span_index: dict[int, tuple[dict[int, list[_Span]], dict[int, list[_Span]]]] = {}
    ws = 0
    checks = 0
    for b in seq:
        forbidden: list[tuple[int, int]] = []
        near = list(alive[b.first]) if b.first >= 0 else []
        for s in range(max(b.first + 1, 0), b.last + 1):
            near += starts[s]
        checks += len(near)
        b_many = len(b.spans) > _FEW_SPANS
        for p in near:
            if len(p.spans) <= _FEW_SPANS and b_many:
                # b has many members: those that share a step with each member of p, from b's index
                idx = span_index.get(id(b))
                if idx is None:
                    idx = span_index[id(b)] = _span_index(b.spans)
                b_alive, b_starts = idx
                for lo2, hi2, f2, la2 in p.spans:
                    cand = list(b_alive.get(f2, ()))
                    for s in range(f2 + 1, la2 + 1):
                        cand += b_starts.get(s, ())
                    checks += len(cand)
                    for lo, hi, _f, _la in cand:
                        forbidden.append((p.offset + lo2 - hi, p.offset + hi2 - lo))
                continue
            if len(p.spans) <= _FEW_SPANS:
                for lo, hi, f, la in b.spans:
                    for lo2, hi2, f2, la2 in p.spans:
                        if la < f2 or la2 < f:
                            continue
                        # b.offset + lo < p.offset + hi2 and p.offset + lo2 < b.offset + hi  -> conflict
                        forbidden.append((p.offset + lo2 - hi, p.offset + hi2 - lo))
                continue
            # a buffer of many members (a chain of in-place operators): only its members that share a
            # step with a member of b, found through its index as the buffers above
            idx = span_index.get(id(p))
            if idx is None:
                idx = span_index[id(p)] = _span_index(p.spans)
            p_alive, p_starts = idx
            for lo, hi, f, la in b.spans:
                cand = list(p_alive.get(f, ()))
                for s in range(f + 1, la + 1):
                    cand += p_starts.get(s, ())
                checks += len(cand)
                for lo2, hi2, _f2, _la2 in cand:
                    forbidden.append((p.offset + lo2 - hi, p.offset + hi2 - lo))
        forbidden.sort()
        off = 0
        changed = True
        while changed:  # sorted by start: one sweep almost always settles it
            changed = False
            for flo, fhi in forbidden:
                if flo < off < fhi:
                    off = align_up(fhi, align)
                    changed = True
        b.offset = off
        if b.first >= 0:
            starts[b.first].append(b)
        for s in range(max(b.first, 0), b.last + 1):
            alive[s].append(b)
        ws = max(ws, align_up(off + b.size, align))
    PLACE_STATS["calls"] += 1
    PLACE_STATS["buffers"] += len(seq)
    PLACE_STATS["checks"] += checks
    return ws


def _place_best(buffers: list[Buffer], align: int, bound: int) -> int:
    """Several placement orders; keeps the smallest workspace (ties: the first). Deterministic."""
    best_ws = -1
    best_offsets: list[int] = []
    target = align_up(bound, align)
    orders: list[list[Buffer]] = [sorted(buffers, key=k) for k in (_key_size, _key_first, _key_long, _key_area)]
    rng = random.Random(0)
    for _ in range(PLACEMENT_SHUFFLES):
        seq = list(buffers)
        rng.shuffle(seq)
        orders.append(seq)
    for seq in orders:
        ws = _place(buffers, align, None, seq)
        if best_ws < 0 or ws < best_ws:
            best_ws, best_offsets = ws, [b.offset for b in buffers]
        if best_ws <= target:
            break
    for b, o in zip(buffers, best_offsets, strict=True):
        b.offset = o
    return best_ws


def topological_orders(graph: Graph, limit: int = MAX_ORDERS) -> list[list[int]]:
    """Up to ``limit`` execution orders respecting data dependencies, the model's own order first."""
    n = len(graph.operators)
    producers = graph.producers()
    deps: list[set[int]] = [set() for _ in range(n)]
    for op in graph.operators:
        for t in op.inputs:
            if t >= 0 and t in producers and producers[t] != op.index:
                deps[op.index].add(producers[t])
    out: list[list[int]] = []
    cur: list[int] = []
    done = [False] * n

    def rec() -> None:
        if len(out) >= limit:
            return
        if len(cur) == n:
            out.append(list(cur))
            return
        for j in range(n):
            if not done[j] and all(done[d] for d in deps[j]):
                done[j] = True
                cur.append(j)
                rec()
                cur.pop()
                done[j] = False
                if len(out) >= limit:
                    return

    rec()
    return out or [list(range(n))]


def plan_state(graph: Graph, state: Mapping[int, int] | None = None,
               align: int = ALIGN) -> tuple[int, dict[int, TensorLocation], dict[int, int]]:
    """Layout of the persistent state buffer: every variable tensor (in tensor order), then each operator's
    private state (in operator order), each at an aligned offset; nothing shares memory. Returns (size,
    variable tensor locations, op index -> offset)."""
    off = 0
    locations: dict[int, TensorLocation] = {}
    for t in graph.variable_tensors():
        locations[t] = TensorLocation(kind="state", offset=off)
        off = align_up(off + graph.tensors[t].nbytes, align)
    regions: dict[int, int] = {}
    for oi, nbytes in sorted((state or {}).items()):
        if nbytes > 0:
            regions[oi] = off
            off = align_up(off + nbytes, align)
    return off, locations, regions


def plan_memory(
    graph: Graph,
    *,
    views: Iterable[int] = (),
    scratch: Mapping[int, int] | None = None,
    state: Mapping[int, int] | None = None,
    share: Mapping[int, int] | None = None,
    inplace: Iterable[InPlaceOption] = (),
    reorder: bool = False,
    align: int = ALIGN,
) -> MemoryPlan:
    """Plan the workspace of ``graph``.

    views: operator indices whose output 0 may alias input 0 (byte-identical views, e.g. RESHAPE);
        the alias is taken when legal (input not constant; not joining a caller input with a caller
        output or two caller outputs). ``aliased_ops`` reports which were.
    scratch: op index -> bytes of temporary workspace live only during that op.
    share: output tensor -> input tensor (elementwise in-place kernels, same start): a free
        ``InPlaceOption``; honoured when the input's last read is the writer of the output and both
        are workspace tensors.
    inplace: in-place options (see ``InPlaceOption``); ``inplace_ops`` reports the ones taken.
    reorder: also evaluate other topological orders of the operators (``order``).
    state: op index -> bytes of operator-private persistent state (``plan_state``; with the variable tensors).
    """
    scratch = dict(scratch or {})
    producers = graph.producers()
    options = list(inplace)
    for dst, src in (share or {}).items():
        if dst in producers:
            options.append(InPlaceOption(op=producers[dst], out=dst, inp=src))
    pl = _Planner(graph, views, scratch, options, align)
    ident = list(range(len(graph.operators)))
    base = pl.build(ident, {})
    liveness_bound = max(base.live, default=0)

    if pl.options or reorder:
        orders = topological_orders(graph) if reorder and len(ident) <= MAX_REORDER_OPS else [ident]
        seeds = pl.seeds()
        ranked: list[tuple[tuple[int, int, int], int, dict[int, InPlaceOption | None]]] = []
        for k, order in enumerate(orders):
            objs = [(pl.objective(order, s)[0], i) for i, s in enumerate(seeds)]
            obj, i = min(objs)
            ranked.append((obj, k, seeds[i]))
        ranked.sort(key=lambda r: (r[0][:2], r[1]))
        best: tuple[tuple[int, int, int], int, dict[int, InPlaceOption | None]] | None = None
        for _obj, k, seed in ranked[:3]:
            obj, choice = pl.descend(orders[k], dict(seed))
            # across orders only the workspace and the costly in-place count matter: the model's
            # own order (k = 0) wins ties
            if best is None or (obj[:2], k) < (best[0][:2], best[1]):
                best = (obj, k, choice)
        assert best is not None
        order = orders[best[1]]
        st = pl.build(order, best[2])
    else:
        order, st = ident, base
    inplace_bound = min(pl.evaluated_bounds)

    lower_bound = max(st.live, default=0)
    ws = _place_best(st.buffers, align, lower_bound)

    locations: dict[int, TensorLocation] = {}
    for root, members in pl.base_groups.items():
        pin = pl.pins.get(root)
        if pin is not None:
            loc = TensorLocation(kind="input" if pin[0] == "input" else "output", index=pin[1])
            for t in members:
                locations[t] = loc
    for b in st.buffers:
        for t in b.tensors:
            locations[t] = TensorLocation(kind="workspace", offset=b.offset + b.rel[t])
    for t in graph.tensors:
        if t.is_const:
            locations[t.index] = TensorLocation(kind="const")
    state_size, state_locs, state_regions = plan_state(graph, state, align)
    locations.update(state_locs)

    # bound with graph inputs/outputs counted (inputs live from step 0, outputs until the end)
    pos = {op: i for i, op in enumerate(order)}
    nsteps = len(graph.operators)
    live_io = list(st.live)
    for root, members in pl.base_groups.items():
        if root not in pl.pins:
            continue
        size = max(graph.tensors[t].nbytes for t in members)
        writes = [pos[producers[t]] for t in members if t in producers]
        reads = [pos[c] for t in members for c in pl.consumers.get(t, [])]
        first = 0 if pl.pins[root][0] == "input" else (min(writes) if writes else 0)
        last = max(reads) if (pl.pins[root][0] == "input" and reads) else max(nsteps - 1, 0)
        for s in range(first, last + 1):
            live_io[s] += size
    return MemoryPlan(
        workspace_size=ws,
        lower_bound=lower_bound,
        lower_bound_io=max(live_io, default=0),
        locations=locations,
        buffers=st.buffers,
        aliased_ops=pl.aliased,
        scratch={b.scratch_op: b.offset for b in st.buffers if b.scratch_op >= 0},
        live_bytes=st.live,
        order=list(order),
        inplace_ops=dict(st.taken),
        liveness_bound=liveness_bound,
        inplace_bound=min(inplace_bound, lower_bound),
        state_size=state_size,
        state_regions=state_regions,
    )
