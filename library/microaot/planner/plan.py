"""Static memory plan.

Steps are operator indices (execution order). Every non-constant tensor lives either in the
caller's input/output buffers (graph inputs and outputs are never copied into the workspace) or in
a *buffer* of the workspace. Tensors that hold the same bytes (a RESHAPE output aliasing its
input) share one buffer. A buffer is live from the step that writes it to the last step that
reads it; buffers whose lifetimes overlap must not overlap in memory. Offsets are chosen greedily,
largest buffer first, at the lowest aligned offset that fits (TFLM's greedy planner does the same).

Reported: ``workspace_size`` (= peak, aligned) and ``lower_bound``: max over steps of the bytes
live at that step (no plan of these buffers can use less), plus ``lower_bound_io``, the same bound
counting the graph inputs and outputs too (comparable with TFLM's activation "head").

Extension point: ``share`` (output tensor -> input tensor of the same op, for in-place kernels)
merges a tensor into the buffer of a tensor whose last use is the op that writes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from microaot.ir.graph import Graph

ALIGN = 16  # UAOT_WORKSPACE_ALIGN


def align_up(x: int, a: int = ALIGN) -> int:
    return (x + a - 1) // a * a


@dataclass(frozen=True)
class TensorLocation:
    kind: Literal["workspace", "input", "output", "const"]
    offset: int = 0  # byte offset in the workspace (kind == "workspace")
    index: int = 0  # graph input/output position (kind == "input"/"output")


@dataclass
class Buffer:
    id: int
    size: int  # bytes (before alignment)
    first: int  # step that writes it
    last: int  # last step that reads it
    tensors: list[int] = field(default_factory=list)  # tensor indices sharing it; [] for scratch
    scratch_op: int = -1  # op index when this is an op's scratch buffer
    offset: int = -1

    def overlaps_in_time(self, other: Buffer) -> bool:
        return not (self.last < other.first or other.last < self.first)


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

    @property
    def peak(self) -> int:
        return self.workspace_size


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


def plan_memory(
    graph: Graph,
    *,
    views: Iterable[int] = (),
    scratch: Mapping[int, int] | None = None,
    share: Mapping[int, int] | None = None,
    align: int = ALIGN,
) -> MemoryPlan:
    """Plan the workspace of ``graph``.

    views: operator indices whose output 0 may alias input 0 (byte-identical views, e.g. RESHAPE);
        the alias is taken when legal (input not constant; not joining a caller input with a caller
        output or two caller outputs). ``aliased_ops`` reports which were.
    scratch: op index -> bytes of temporary workspace live only during that op.
    share: output tensor -> input tensor (in-place kernels); honoured when the input's last read
        is the writer of the output and both are workspace tensors.
    """
    scratch = dict(scratch or {})
    nsteps = len(graph.operators)
    tensors = graph.tensors
    in_pos = {t: k for k, t in enumerate(graph.inputs)}
    out_pos = {t: k for k, t in enumerate(graph.outputs)}
    producers = graph.producers()
    consumers = graph.consumers()

    uf = _UnionFind()
    # pin: root -> ("input", k) / ("output", k)
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

    aliased: set[int] = set()
    for oi in sorted(set(views)):
        op = graph.operators[oi]
        if not op.inputs or op.inputs[0] < 0 or not op.outputs:
            continue
        src, dst = op.inputs[0], op.outputs[0]
        if tensors[src].is_const or tensors[src].nbytes != tensors[dst].nbytes:
            continue
        # the caller's input buffer is read-only: a view of it must not be written by anyone
        # (views are only read), so joining an input group is fine unless the other side is pinned.
        if try_join(src, dst):
            aliased.add(oi)

    for dst, src in (share or {}).items():
        wop = producers.get(dst)
        if wop is None or tensors[src].is_const:
            continue
        last_reads = [c for t in _members(uf, src, tensors_count=len(tensors)) for c in consumers.get(t, [])]
        if last_reads and max(last_reads) == wop and uf.find(src) not in pins and uf.find(dst) not in pins:
            try_join(src, dst)

    # group activation tensors by root
    groups: dict[int, list[int]] = {}
    for t in graph.activation_tensors():
        groups.setdefault(uf.find(t), []).append(t)

    locations: dict[int, TensorLocation] = {}
    buffers: list[Buffer] = []
    for root, members in sorted(groups.items()):
        pin = pins.get(root)
        if pin is not None:
            loc = TensorLocation(kind="input" if pin[0] == "input" else "output", index=pin[1])
            for t in members:
                locations[t] = loc
            continue
        writes = [producers[t] for t in members if t in producers]
        reads = [c for t in members for c in consumers.get(t, [])]
        first = min(writes) if writes else 0
        last = max([first, *reads])
        size = max(tensors[t].nbytes for t in members)
        buffers.append(Buffer(id=len(buffers), size=size, first=first, last=last, tensors=sorted(members)))
    for oi, nbytes in sorted(scratch.items()):
        if nbytes > 0:
            buffers.append(Buffer(id=len(buffers), size=nbytes, first=oi, last=oi, scratch_op=oi))

    _place_greedy(buffers, align)
    ws = max((align_up(b.offset + b.size, align) for b in buffers), default=0)

    for b in buffers:
        for t in b.tensors:
            locations[t] = TensorLocation(kind="workspace", offset=b.offset)
    for t in tensors:
        if t.is_const:
            locations[t.index] = TensorLocation(kind="const")

    live = [0] * max(nsteps, 1)
    for b in buffers:
        for s in range(b.first, b.last + 1):
            live[s] += b.size
    # bound with graph inputs/outputs counted (inputs live from step 0, outputs until the end)
    live_io = list(live)
    for root, members in groups.items():
        if root not in pins:
            continue
        size = max(tensors[t].nbytes for t in members)
        writes = [producers[t] for t in members if t in producers]
        reads = [c for t in members for c in consumers.get(t, [])]
        first = 0 if pins[root][0] == "input" else (min(writes) if writes else 0)
        last = max(reads) if (pins[root][0] == "input" and reads) else max(nsteps - 1, 0)
        for s in range(first, last + 1):
            live_io[s] += size
    return MemoryPlan(
        workspace_size=ws,
        lower_bound=max(live, default=0),
        lower_bound_io=max(live_io, default=0),
        locations=locations,
        buffers=buffers,
        aliased_ops=aliased,
        scratch={b.scratch_op: b.offset for b in buffers if b.scratch_op >= 0},
        live_bytes=live,
    )


def _members(uf: _UnionFind, t: int, tensors_count: int) -> list[int]:
    r = uf.find(t)
    return [x for x in range(tensors_count) if uf.find(x) == r]


def _place_greedy(buffers: list[Buffer], align: int) -> None:
    """Largest first; each at the lowest aligned offset not overlapping a time-overlapping buffer."""
    order = sorted(buffers, key=lambda b: (-b.size, b.first, b.id))
    placed: list[Buffer] = []
    for b in order:
        conflicts = sorted(
            ((p.offset, p.offset + align_up(p.size, align)) for p in placed if p.overlaps_in_time(b)),
        )
        offset = 0
        need = align_up(b.size, align)
        for lo, hi in conflicts:
            if offset + need <= lo:
                break
            offset = max(offset, hi)
        b.offset = offset
        placed.append(b)
