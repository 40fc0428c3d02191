"""Multi-operator graphs that exercise the plumbing: RESHAPE views of caller inputs and outputs,
outputs that other operators also read, several inputs/outputs. Compared with TFLM."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from microaot.compiler import compile_model
from microaot.hostbuild import build_model_shared_lib, run_compiled
from microaot.reference import run_reference
from microaot.testing import modelgen as mg


def _fc(mb: mg.ModelBuilder, rng: np.random.Generator, x: int, n_in: int, n_out: int, name: str,
        out: int | None = None, act: str = "NONE") -> int:
    w = mb.add_const(f"{name}_w", rng.normal(0, 0.5, (n_out, n_in)).astype(np.float32), "float32")
    b = mb.add_const(f"{name}_b", rng.normal(0, 0.5, (n_out,)).astype(np.float32), "float32")
    y = out if out is not None else mb.add_tensor(name, (1, n_out), "float32")
    mb.add_operator("FULLY_CONNECTED", [x, w, b], [y], mg.FullyConnectedOptions(act, False))  # type: ignore[arg-type]
    return y


def fc_then_reshape_to_output(rng: np.random.Generator) -> bytes:
    mb = mg.ModelBuilder()
    x = mb.add_input("x", (1, 12), "float32")
    h = _fc(mb, rng, x, 12, 24, "h", act="RELU")
    y = mb.add_tensor("y", (2, 3, 4), "float32")
    mb.add_operator("RESHAPE", [h, mb.add_const("shape", np.array([2, 3, 4], np.int32), "int32")], [y],
                    mg.ReshapeOptions((2, 3, 4)))
    mb.set_outputs([y])
    return mb.to_bytes()


def reshape_input_then_fc(rng: np.random.Generator) -> bytes:
    mb = mg.ModelBuilder()
    x = mb.add_input("x", (1, 2, 2, 4), "float32")
    v = mb.add_tensor("v", (1, 16), "float32")
    mb.add_operator("RESHAPE", [x, mb.add_const("shape", np.array([1, 16], np.int32), "int32")], [v],
                    mg.ReshapeOptions((1, 16)))
    y = _fc(mb, rng, v, 16, 5, "y")
    mb.set_outputs([y])
    return mb.to_bytes()


def output_also_read(rng: np.random.Generator) -> bytes:
    mb = mg.ModelBuilder()
    x = mb.add_input("x", (1, 8), "float32")
    a = _fc(mb, rng, x, 8, 8, "a", act="RELU6")
    b = _fc(mb, rng, a, 8, 8, "b")
    c = mb.add_tensor("c", (1, 8), "float32")
    mb.add_operator("ADD", [a, b], [c], mg.AddOptions("NONE"))
    mb.set_outputs([c, a])
    return mb.to_bytes()


def two_inputs_residual_int8(rng: np.random.Generator) -> bytes:
    q = mg.ActQ.from_range(-3.0, 3.0)
    mb = mg.ModelBuilder()
    x1 = mb.add_input("x1", (1, 4, 4, 3), "int8", quant=q.quant)
    x2 = mb.add_input("x2", (1, 4, 4, 3), "int8", quant=mg.ActQ.from_range(-1.0, 2.0).quant)
    s = mb.add_tensor("s", (1, 4, 4, 3), "int8", quant=mg.ActQ.from_range(-4.0, 5.0).quant)
    mb.add_operator("ADD", [x1, x2], [s], mg.AddOptions("NONE"))
    p = mb.add_tensor("p", (1, 2, 2, 3), "int8", quant=mg.ActQ.from_range(-4.0, 5.0).quant)
    mb.add_operator("AVERAGE_POOL_2D", [s], [p], mg.Pool2DOptions(2, 2, "VALID", 2, 2, "NONE"))
    f = mb.add_tensor("f", (1, 12), "int8", quant=mg.ActQ.from_range(-4.0, 5.0).quant)
    mb.add_operator("RESHAPE", [p, mb.add_const("shape", np.array([1, 12], np.int32), "int32")], [f],
                    mg.ReshapeOptions((1, 12)))
    y = mb.add_tensor("y", (1, 12), "int8", quant=mg.FIXED_OUTPUT_Q["SOFTMAX"].quant)
    mb.add_operator("SOFTMAX", [f], [y], mg.SoftmaxOptions(1.0))
    mb.set_outputs([y, s])
    return mb.to_bytes()


GRAPHS: dict[str, tuple[Callable[[np.random.Generator], bytes], set[int]]] = {
    # name: (builder, expected aliased RESHAPE ops)
    "fc_then_reshape_to_output": (fc_then_reshape_to_output, {1}),
    "reshape_input_then_fc": (reshape_input_then_fc, {0}),
    "output_also_read": (output_also_read, set()),
    "two_inputs_residual_int8": (two_inputs_residual_int8, {2}),
}


@pytest.mark.parametrize("name", list(GRAPHS))
def test_graph_matches_tflm(tmp_path: Path, name: str) -> None:
    build, aliased = GRAPHS[name]
    rng = np.random.default_rng(7)
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(build(rng))
    r = compile_model(model, tmp_path)
    assert r.plan.aliased_ops == aliased
    lib = build_model_shared_lib(r, tmp_path)
    sets = [[mg.random_input(rng, r.graph.tensors[t].shape, r.graph.tensors[t].dtype)  # type: ignore[arg-type]
             for t in r.graph.inputs] for _ in range(3)]
    refs = run_reference(model, sets)
    for xs, want in zip(sets, refs, strict=True):
        before = [a.copy() for a in xs]
        got = run_compiled(r, lib, xs)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert np.array_equal(g.reshape(-1), w.reshape(-1))
        for x, x0 in zip(xs, before, strict=True):
            assert np.array_equal(x, x0)  # the caller's inputs are never written
