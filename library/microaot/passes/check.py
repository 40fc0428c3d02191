"""Validation before planning: every operator is supported, activations have supported types,
shapes are static and positive, graph inputs/outputs are activations."""

from __future__ import annotations

from microaot.codegen import ops as opreg
from microaot.errors import UnsupportedModelError
from microaot.ir.graph import Graph

ACTIVATION_DTYPES = ("int8", "int16", "int32", "float32", "uint8")


def check_graph(graph: Graph) -> None:
    src = graph.source
    if not graph.operators:
        raise UnsupportedModelError(f"{src}: the model has no operators; nothing to compile")
    for op in graph.operators:
        if opreg.get(op.opcode) is None:
            raise UnsupportedModelError(
                f"{src}: operator {op.index} ({op.opcode}) is not supported; supported operators: "
                f"{', '.join(opreg.supported_ops())}"
            )
        for t in [*op.inputs, *op.outputs]:
            if t < 0:
                continue
            tt = graph.tensors[t]
            if not tt.is_const and tt.dtype not in ACTIVATION_DTYPES:
                raise UnsupportedModelError(
                    f"{src}: operator {op.index} ({op.opcode}): tensor {t} ({tt.name!r}) has type {tt.dtype}; "
                    f"supported activation types: {', '.join(ACTIVATION_DTYPES)}"
                )
            if any(d <= 0 for d in tt.shape) and not tt.is_const:
                raise UnsupportedModelError(
                    f"{src}: operator {op.index} ({op.opcode}): tensor {t} ({tt.name!r}) has shape "
                    f"{list(tt.shape)}; every dimension must be a positive constant"
                )
        for t in op.outputs:
            if graph.tensors[t].is_const:
                raise UnsupportedModelError(
                    f"{src}: operator {op.index} ({op.opcode}) writes the constant tensor {t} "
                    f"({graph.tensors[t].name!r}); variable tensors are not supported"
                )
    for t in graph.inputs:
        if graph.tensors[t].is_const:
            raise UnsupportedModelError(f"{src}: graph input {t} ({graph.tensors[t].name!r}) is a constant")
