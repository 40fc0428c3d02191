"""Static memory planner: lifetimes, no overlap of live buffers, alignment, views, scratch, bounds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from conftest import MLPERF_MODELS, mlperf_model
from microaot.frontend.tflite import load_tflite
from microaot.ir.graph import Graph, Operator, Tensor
from microaot.ops._inplace import rows_deltas
from microaot.passes import inplace_options, view_ops
from microaot.planner import MemoryPlan, plan_memory
from microaot.planner.plan import InPlaceOption, topological_orders


def _graph(sizes: dict[int, int], ops: list[tuple[str, list[int], list[int]]], inputs: list[int],
           outputs: list[int], consts: tuple[int, ...] = ()) -> Graph:
    tensors = []
    for i in range(max(sizes) + 1):
        n = sizes.get(i, 1)
        data = np.zeros(n, np.int8) if i in consts else None
        tensors.append(Tensor(index=i, name=f"t{i}", shape=(n,), dtype="int8", data=data))
    operators = [Operator(index=k, opcode=op, inputs=ins, outputs=outs) for k, (op, ins, outs) in enumerate(ops)]
    return Graph(tensors=tensors, operators=operators, inputs=inputs, outputs=outputs, source="synthetic")


def _assert_valid(g: Graph, plan: MemoryPlan) -> None:
    for b in plan.buffers:
        assert b.offset % 16 == 0
        assert b.offset + b.size <= plan.workspace_size
        assert all(r % 16 == 0 for r in b.rel.values())
    for a, b in itertools.combinations(plan.buffers, 2):
        assert not a.conflicts(b), (a, b)
    assert plan.lower_bound <= plan.workspace_size
    assert plan.inplace_bound <= plan.lower_bound
    assert sorted(plan.order) == list(range(len(g.operators)))
    # tensor level: two workspace tensors live at the same step overlap only as view + source, or
    # as the input and output of the in-place operator running at that step
    step = {op: s for s, op in enumerate(plan.order)}
    prod, cons = g.producers(), g.consumers()
    ws = {t: loc.offset for t, loc in plan.locations.items() if loc.kind == "workspace"}
    life = {t: (step[prod[t]] if t in prod else 0,
                max([step[prod[t]] if t in prod else 0, *(step[c] for c in cons.get(t, []))])) for t in ws}
    same_bytes = {(t, u) for b in plan.buffers for t in b.tensors for u in b.tensors if b.rel[t] == b.rel[u]}
    for t, u in itertools.combinations(ws, 2):
        (ft, lt), (fu, lu) = life[t], life[u]
        if lt < fu or lu < ft:
            continue
        if ws[t] + g.tensors[t].nbytes <= ws[u] or ws[u] + g.tensors[u].nbytes <= ws[t]:
            continue
        if (t, u) in same_bytes and g.tensors[t].nbytes == g.tensors[u].nbytes:
            continue
        o = next((o for o in plan.inplace_ops.values() if {o.inp, o.out} == {t, u}), None)
        assert o is not None and max(ft, fu) == min(lt, lu) == step[o.op], (t, u, life[t], life[u])
    for op, off in plan.scratch.items():
        s = step[op]
        for t, o in ws.items():
            if life[t][0] <= s <= life[t][1]:
                assert off >= o + g.tensors[t].nbytes or o >= off + next(
                    b.size for b in plan.buffers if b.scratch_op == op), (op, t)
    # every operator's inputs and outputs that live in the workspace are placed
    for op in g.operators:
        for t in [*op.inputs, *op.outputs]:
            if t >= 0 and not g.tensors[t].is_const:
                assert t in plan.locations


def test_chain_reuses_memory() -> None:
    # in(0) -> a(1) -> b(2) -> c(3) -> out(4)
    g = _graph({0: 100, 1: 1000, 2: 600, 3: 1000, 4: 10},
               [("X", [0], [1]), ("X", [1], [2]), ("X", [2], [3]), ("X", [3], [4])], [0], [4])
    p = plan_memory(g)
    _assert_valid(g, p)
    assert p.locations[0].kind == "input" and p.locations[4].kind == "output"
    assert p.lower_bound == 1600
    assert p.workspace_size == 1008 + 608  # two buffers alternate, aligned
    assert p.locations[1].offset == p.locations[3].offset


def test_residual_branch_keeps_skip_alive() -> None:
    # in -> a ; a -> b ; b -> c ; add(a, c) -> d ; d -> out
    g = _graph({0: 16, 1: 512, 2: 512, 3: 512, 4: 512, 5: 16},
               [("X", [0], [1]), ("X", [1], [2]), ("X", [2], [3]), ("ADD", [1, 3], [4]), ("X", [4], [5])],
               [0], [5])
    p = plan_memory(g)
    _assert_valid(g, p)
    assert p.lower_bound == 3 * 512  # a, b, c at step 2 (and a, c, d at step 3)
    assert p.workspace_size == 3 * 512
    assert p.live_bytes == [512, 1024, 1536, 1536, 512]


def test_view_aliases_input_and_extends_lifetime() -> None:
    # in -> a ; RESHAPE a -> v ; v -> b ; b -> out
    g = _graph({0: 16, 1: 256, 2: 256, 3: 256, 4: 16},
               [("X", [0], [1]), ("RESHAPE", [1], [2]), ("X", [2], [3]), ("X", [3], [4])], [0], [4])
    p = plan_memory(g, views=[1])
    _assert_valid(g, p)
    assert p.aliased_ops == {1}
    assert p.locations[1] == p.locations[2]
    assert p.workspace_size == 512


def test_view_between_caller_buffers_is_not_aliased() -> None:
    g = _graph({0: 64, 1: 64}, [("RESHAPE", [0], [1])], [0], [1])
    p = plan_memory(g, views=[0])
    assert p.aliased_ops == set()
    assert p.locations[0].kind == "input" and p.locations[1].kind == "output"


def test_view_of_input_reads_caller_buffer() -> None:
    g = _graph({0: 64, 1: 64, 2: 8}, [("RESHAPE", [0], [1]), ("X", [1], [2])], [0], [2])
    p = plan_memory(g, views=[0])
    assert p.aliased_ops == {0}
    assert p.locations[1].kind == "input"
    assert p.workspace_size == 0


def test_view_of_constant_is_a_copy() -> None:
    g = _graph({0: 8, 1: 8, 2: 8, 3: 8}, [("RESHAPE", [1], [0]), ("ADD", [0, 2], [3])], [2], [3], consts=(1,))
    p = plan_memory(g, views=[0])
    assert p.aliased_ops == set()
    assert p.locations[0].kind == "workspace" and p.locations[1].kind == "const"


def test_scratch_is_live_only_during_its_op() -> None:
    g = _graph({0: 16, 1: 320, 2: 320, 3: 16}, [("X", [0], [1]), ("X", [1], [2]), ("X", [2], [3])], [0], [3])
    p = plan_memory(g, scratch={1: 100, 2: 50})
    _assert_valid(g, p)
    assert set(p.scratch) == {1, 2}
    assert p.lower_bound == 320 + 320 + 100


def test_unused_output_still_gets_memory() -> None:
    # op 0 writes two tensors, one never read
    g = _graph({0: 16, 1: 128, 2: 128, 3: 16}, [("SPLIT", [0], [1, 2]), ("X", [1], [3])], [0], [3])
    p = plan_memory(g)
    _assert_valid(g, p)
    assert p.locations[2].kind == "workspace"


@pytest.mark.parametrize("key", list(MLPERF_MODELS))
def test_mlperf_plans_are_valid(key: str) -> None:
    g = load_tflite(mlperf_model(key))
    p = plan_memory(g, views=view_ops(g))
    _assert_valid(g, p)
    expected_bound = {"kws": 16000, "vww": 55296, "ic": 49152, "ad": 256}[key]
    assert p.lower_bound == p.liveness_bound == expected_bound
    assert p.workspace_size == expected_bound  # the AD chain (128, 128, ..., 8, 128, ...) included


# in-place bounds of the four models (generic kernels): 3x3 depthwise / conv over their input with
# two rows of slack, 1x1 convs with one, residual ADDs over the dead branch
INPLACE_WORKSPACE = {"kws": 8640, "vww": 37248, "ic": 33792, "ad": 256}


@pytest.mark.parametrize("key", list(MLPERF_MODELS))
def test_mlperf_inplace_plans_are_valid(key: str) -> None:
    g = load_tflite(mlperf_model(key))
    p = plan_memory(g, views=view_ops(g), inplace=inplace_options(g), reorder=True)
    _assert_valid(g, p)
    assert p.liveness_bound == {"kws": 16000, "vww": 55296, "ic": 49152, "ad": 256}[key]
    assert p.workspace_size == INPLACE_WORKSPACE[key]
    assert p.inplace_bound <= p.workspace_size
    kinds = {g.operators[o].opcode for o in p.inplace_ops}
    if key == "ic":
        assert "ADD" in kinds and "CONV_2D" in kinds
    if key in ("kws", "vww"):
        assert "DEPTHWISE_CONV_2D" in kinds


def test_share_puts_inplace_output_on_its_input() -> None:
    # in -> a ; DW(a) -> b in place (a is not read later) ; b -> out
    g = _graph({0: 16, 1: 512, 2: 512, 3: 16}, [("X", [0], [1]), ("DW", [1], [2]), ("X", [2], [3])], [0], [3])
    p = plan_memory(g, share={2: 1})
    _assert_valid(g, p)
    assert p.locations[1] == p.locations[2]
    assert p.workspace_size == 512
    # not honoured when the input is still read after the op
    g2 = _graph({0: 16, 1: 512, 2: 512, 3: 16},
                [("X", [0], [1]), ("DW", [1], [2]), ("ADD", [1, 2], [3])], [0], [3])
    p2 = plan_memory(g2, share={2: 1})
    assert p2.locations[1] != p2.locations[2]


# ---- in-place legality -----------------------------------------------------------------------------

def _add_graph(shapes: dict[int, tuple[int, ...]], ops: list[tuple[str, list[int], list[int]]], inputs: list[int],
               outputs: list[int], dtypes: dict[int, str] | None = None) -> Graph:
    tensors = [Tensor(index=i, name=f"t{i}", shape=shapes[i], dtype=(dtypes or {}).get(i, "int8"))
               for i in range(max(shapes) + 1)]
    operators = [Operator(index=k, opcode=op, inputs=ins, outputs=outs) for k, (op, ins, outs) in enumerate(ops)]
    return Graph(tensors=tensors, operators=operators, inputs=inputs, outputs=outputs, source="synthetic")


def test_inplace_add_over_the_dead_branch() -> None:
    # in -> a ; a -> b ; b -> c ; ADD(a, c) -> d ; d -> out: d may overwrite c (a is dead too)
    s = (8, 8, 8)
    g = _add_graph({0: s, 1: s, 2: s, 3: s, 4: s, 5: (4,)},
                   [("X", [0], [1]), ("X", [1], [2]), ("X", [2], [3]), ("ADD", [1, 3], [4]), ("X", [4], [5])],
                   [0], [5])
    opts = inplace_options(g)
    assert {(o.op, o.inp) for o in opts} == {(3, 1), (3, 3)}
    p = plan_memory(g, inplace=opts)
    _assert_valid(g, p)
    assert 3 in p.inplace_ops and p.inplace_ops[3].variant == "elementwise"
    assert p.locations[4] in (p.locations[1], p.locations[3])
    assert p.workspace_size == 3 * 512  # the conv step (a, b, c) stays the peak
    assert p.live_bytes[3] == 2 * 512


def test_no_inplace_when_the_input_is_read_later() -> None:
    s = (8, 8, 8)
    # ADD(a, b) -> c, then X(a) -> d: a is still needed, b is not
    g = _add_graph({0: s, 1: s, 2: s, 3: s, 4: s, 5: s},
                   [("X", [0], [1]), ("X", [1], [2]), ("ADD", [1, 2], [3]), ("X", [1], [4]), ("ADD", [3, 4], [5])],
                   [0], [5])
    p = plan_memory(g, inplace=inplace_options(g))
    _assert_valid(g, p)
    assert p.inplace_ops[2].inp == 2
    forced = plan_memory(g, inplace=[InPlaceOption(op=2, out=3, inp=1)])
    assert 2 not in forced.inplace_ops and forced.locations[3] != forced.locations[1]


def test_no_inplace_over_a_caller_buffer() -> None:
    s = (16,)
    # ADD(in, in) -> a: the caller's input is read-only; ADD(a, a) -> out: the output is the caller's
    g = _add_graph({0: s, 1: s, 2: s}, [("ADD", [0, 0], [1]), ("ADD", [1, 1], [2])], [0], [2])
    p = plan_memory(g, inplace=inplace_options(g))
    assert p.inplace_ops == {}
    assert p.locations[0].kind == "input" and p.locations[2].kind == "output"
    assert p.locations[1].kind == "workspace"


def test_no_inplace_over_a_different_shape_or_type() -> None:
    # broadcast: ADD(a[8,1], b[8,8]) -> c[8,8] may overwrite b only; int8 + int8 -> int16 never
    g = _add_graph({0: (8, 1), 1: (8, 1), 2: (8, 8), 3: (8, 8), 4: (8, 8)},
                   [("X", [0], [1]), ("X", [0], [2]), ("ADD", [1, 2], [3]), ("X", [3], [4])], [0], [4])
    assert [(o.op, o.inp) for o in inplace_options(g)] == [(2, 2)]
    g2 = _add_graph({0: (8,), 1: (8,), 2: (8,), 3: (8,), 4: (8,)},
                    [("X", [0], [1]), ("X", [0], [2]), ("ADD", [1, 2], [3]), ("X", [3], [4])], [0], [4],
                    dtypes={3: "int16"})
    assert inplace_options(g2) == []


def test_inplace_through_a_view_checks_the_whole_group() -> None:
    s = (64,)
    # a -> RESHAPE v -> ADD(v, v) -> c, but a is read again later: v's buffer (= a's) is not dead
    g = _add_graph({0: s, 1: s, 2: s, 3: s, 4: s, 5: s},
                   [("X", [0], [1]), ("RESHAPE", [1], [2]), ("ADD", [2, 2], [3]), ("X", [1], [4]),
                    ("ADD", [3, 4], [5])], [0], [5])
    p = plan_memory(g, views=view_ops(g), inplace=inplace_options(g))
    _assert_valid(g, p)
    assert 2 not in p.inplace_ops
    assert p.locations[3] != p.locations[1]


def test_rows_deltas() -> None:
    ir = 5 * 64
    # 3x3 stride 1 SAME: two rows below (forward) or above (backward)
    assert rows_deltas(25, ir, 25, ir, 3, 1, 1, 1) == (2 * ir, -2 * ir)
    # 1x1 stride 1: one row
    assert rows_deltas(25, ir, 25, ir, 1, 1, 1, 0) == (ir, -ir)
    # 1x1 expanding 8 -> 16 channels (48 x 48): forward needs the input above the whole output,
    # backward only one input row below the output
    fwd, bwd = rows_deltas(48, 48 * 8, 48, 48 * 16, 1, 1, 1, 0)
    assert fwd == 48 * 48 * 8 + 48 * 8 and bwd == -48 * 8
    # 3x3 stride 2 shrinking: the output fits ahead of the rows still read
    assert rows_deltas(32, 512, 16, 512, 3, 2, 1, 0)[0] == 512


@pytest.mark.parametrize("seed", range(40))
def test_rows_deltas_are_tight_and_safe(seed: int) -> None:
    """Simulate the row driver: each output row must miss every input row it or a later row reads;
    the computed distance works and one alignment step closer does not."""
    rng = np.random.default_rng(seed)
    ih, kh, sh, dh = int(rng.integers(1, 12)), int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    ir, orow = 16 * int(rng.integers(1, 6)), 16 * int(rng.integers(1, 6))
    pad = int(rng.integers(0, kh))
    oh = max(1, (ih + 2 * pad - ((kh - 1) * dh + 1)) // sh + 1)

    def ok(delta: int, reverse: bool) -> bool:
        for oy in (range(oh - 1, -1, -1) if reverse else range(oh)):
            s = oy * sh - pad
            e = s + (kh - 1) * dh
            o0, o1 = oy * orow, (oy + 1) * orow
            if reverse:
                lo_b, hi_b = delta, delta + (min(e, ih - 1) + 1) * ir
                if e >= 0 and o0 < hi_b and lo_b < o1:
                    return False
            else:
                lo_b, hi_b = delta + max(s, 0) * ir, delta + ih * ir
                if max(s, 0) < ih and o0 < hi_b and lo_b < o1:
                    return False
        return True

    fwd, bwd = rows_deltas(ih, ir, oh, orow, kh, sh, dh, pad)
    assert ok(fwd, False) and ok(fwd + 16 * int(rng.integers(1, 50)), False)
    assert not ok(fwd - 16, False) or fwd - 16 < -ih * ir - orow * oh
    assert ok(bwd, True) and ok(bwd - 16 * int(rng.integers(1, 50)), True)
    assert not ok(bwd + 16, True) or bwd + 16 > oh * orow


def test_reorder_runs_the_cheap_branch_first() -> None:
    # in -> a1 (big) -> a2 (small) ; in -> b1 (big) -> b2 (small) ; ADD(a2, b2) -> out
    g = _graph({0: 16, 1: 1000, 2: 16, 3: 1000, 4: 16, 5: 16},
               [("X", [0], [1]), ("X", [0], [3]), ("X", [1], [2]), ("X", [3], [4]), ("ADD", [2, 4], [5])],
               [0], [5])
    assert len(topological_orders(g)) == 6
    plain = plan_memory(g)
    assert plain.workspace_size >= 2000 and plain.order == [0, 1, 2, 3, 4]
    p = plan_memory(g, reorder=True)
    _assert_valid(g, p)
    assert p.order.index(2) < p.order.index(1) or p.order.index(3) < p.order.index(0)
    assert p.workspace_size <= 1008 + 32


def test_reorder_keeps_the_model_order_on_ties() -> None:
    g = load_tflite(mlperf_model("ic"))
    p = plan_memory(g, views=view_ops(g), inplace=inplace_options(g), reorder=True)
    assert p.order == list(range(len(g.operators)))


def test_placement_reaches_the_bound_on_a_chain_with_a_narrow_waist() -> None:
    # 128, 128, 128, 128, 8, 128, 128, ...: largest-first alone needs 16 bytes more
    sizes = [128, 128, 128, 128, 8, 128, 128, 128, 128]
    n = len(sizes)
    g = _graph({0: 640, **{i + 1: s for i, s in enumerate(sizes)}, n + 1: 640},
               [("X", [i], [i + 1]) for i in range(n + 1)], [0], [n + 1])
    p = plan_memory(g)
    _assert_valid(g, p)
    assert p.lower_bound == 256 and p.workspace_size == 256


def test_scratch_does_not_overlap_inplace_pair() -> None:
    g = _graph({0: 16, 1: 512, 2: 512, 3: 16}, [("X", [0], [1]), ("DW", [1], [2]), ("X", [2], [3])], [0], [3])
    p = plan_memory(g, scratch={1: 64}, inplace=[InPlaceOption(op=1, out=2, inp=1, delta=32, free=False,
                                                               variant="rows_fwd", slack=1)])
    _assert_valid(g, p)
    assert p.inplace_ops[1].delta >= 32
    assert p.workspace_size == 512 + 32 + 64

