"""Validation before planning: every operator is supported, activations have supported types,
shapes are static and positive, graph inputs/outputs are activations."""

from __future__ import annotations

from microaot import ops as opreg
from microaot.errors import MicroaotError, ModelFormatError, UnsupportedModelError
from microaot.ir.graph import Graph
from microaot.ops.user_kernels import op_def

ACTIVATION_DTYPES = ("int8", "int16", "int32", "float32", "uint8", "int64", "bool", "resource", "uint16", "uint32",
                     "uint64")


def check_graph(graph: Graph) -> None:
    src = graph.source
    if not graph.operators:
        raise UnsupportedModelError(f"{src}: the model has no operators; nothing to compile")
    from microaot.passes.support import weight_only_error

    wo = weight_only_error(graph)
    if wo is not None:
        raise wo
    for op in graph.operators:
        d = op_def(graph, op)
        if d is None:
            if op.opcode.startswith("CUSTOM:"):
                raise UnsupportedModelError(
                    f"{src}: operator {op.index} ({op.opcode}): {opreg.unsupported_reason(op.opcode)}")
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
    check_dataflow(graph)
    check_sizes(graph)
    for op in graph.operators:  # the operators' own checks (``register(..., check=)``), on a sound graph
        d = op_def(graph, op)
        if d is None or d.check is None:
            continue
        try:
            d.check(graph, op)
        except MicroaotError:
            raise
        except Exception as e:  # e.g. an operator with fewer inputs than its kind needs
            raise UnsupportedModelError(
                f"{src}: operator {op.index} ({op.opcode}) with inputs {op.inputs} and outputs {op.outputs}: "
                f"cannot check it ({type(e).__name__}: {e}); the model file may be inconsistent: re-export it, "
                "or report this model"
            ) from None


# generated code and the model descriptor hold byte counts in 32 bits; no microcontroller comes close
MAX_ACTIVATION_BYTES = 0x7FFFFFFF


def check_sizes(graph: Graph) -> None:
    """Activations must fit the generated code's 32-bit sizes, each and all together."""
    total = 0
    for t in graph.activation_tensors():
        tt = graph.tensors[t]
        total += tt.nbytes
        if tt.nbytes > MAX_ACTIVATION_BYTES or total > MAX_ACTIVATION_BYTES:
            raise UnsupportedModelError(
                f"{graph.source}: tensor {t} ({tt.name!r}) of shape {list(tt.shape)} ({tt.nbytes} bytes) brings the "
                f"activations to {total} bytes; microaot supports at most {MAX_ACTIVATION_BYTES} bytes (2 GiB) "
                "of activations. Check the model's shapes"
            )


def check_dataflow(graph: Graph) -> None:
    """Every activation an operator reads is a graph input or written by an earlier operator, every
    activation is written once, graph inputs are never written and graph outputs are computed. Variable
    tensors (persistent state) are read before any write by design."""
    src = graph.source
    written: dict[int, int] = {t: -1 for t in graph.inputs}
    for op in graph.operators:
        for t in op.inputs:
            if t >= 0 and not graph.tensors[t].is_const and not graph.tensors[t].is_variable and t not in written:
                raise ModelFormatError(
                    f"{src}: operator {op.index} ({op.opcode}) reads tensor {t} ({graph.tensors[t].name!r}) "
                    "before any operator writes it and it is not a graph input; the model file is "
                    "inconsistent: re-export it"
                )
        for t in op.outputs:
            if t in written:
                who = "it is a graph input" if written[t] < 0 else f"operator {written[t]} already writes it"
                raise ModelFormatError(
                    f"{src}: operator {op.index} ({op.opcode}) writes tensor {t} ({graph.tensors[t].name!r}), "
                    f"but {who}; the model file is inconsistent: re-export it"
                )
            written[t] = op.index
    for t in graph.outputs:
        if t not in written:
            raise ModelFormatError(
                f"{src}: graph output {t} ({graph.tensors[t].name!r}) is not computed by any operator; "
                "the model file is inconsistent: re-export it"
            )
