"""Static memory planner: lifetimes, no overlap of live buffers, alignment, views, scratch, bounds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from conftest import MLPERF_MODELS, mlperf_model
from microaot.frontend.tflite import load_tflite
from microaot.ir.graph import Graph, Operator, Tensor
from microaot.passes import view_ops
from microaot.planner import MemoryPlan, plan_memory


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
    for a, b in itertools.combinations(plan.buffers, 2):
        if a.overlaps_in_time(b):
            assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
    assert plan.lower_bound <= plan.workspace_size
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
    assert p.lower_bound == expected_bound
    assert p.workspace_size <= expected_bound + 16


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
