"""Issue 20 item 10: counts the runtime keeps in narrow fields are refused at compile time.

``uaot_model_t`` stores the number of inputs, outputs and operators in uint16 fields (and the hooks' op
index, the RPC's u16 indices); a model with 65,536 of any used to compile into truncated descriptors (gcc
said only -Woverflow). Building such a flatbuffer and importing it takes ~20 s, so the graphs here are
synthetic ``ir.Graph`` objects handed to the compile driver in place of the importer's result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import record_figures
from microaot import compiler
from microaot.codegen.emit import U16_MAX, check_runtime_limits
from microaot.errors import UnsupportedModelError
from microaot.ir.graph import Graph, Operator, QuantParams, Tensor

SRC = "synthetic_big.tflite"


def _q() -> QuantParams:
    return QuantParams(scale=np.array([0.05], np.float32), zero_point=np.array([0], np.int64))


def _t(i: int, n: int = 1) -> Tensor:
    return Tensor(index=i, name=f"t{i}", shape=(1, n), dtype="int8", quant=_q())


def many_inputs(n: int) -> Graph:
    """n (1, 1) inputs -> CONCATENATION -> (1, n)."""
    tensors = [_t(i) for i in range(n)] + [_t(n, n)]
    op = Operator(index=0, opcode="CONCATENATION", inputs=list(range(n)), outputs=[n],
                  options={"axis": 1, "fused_activation_function": "NONE"})
    return Graph(tensors=tensors, operators=[op], inputs=list(range(n)), outputs=[n], source=SRC)


def many_outputs(n: int) -> Graph:
    """one input -> n RELUs, each output a graph output."""
    tensors = [_t(i) for i in range(n + 1)]
    ops = [Operator(index=k, opcode="RELU", inputs=[0], outputs=[k + 1]) for k in range(n)]
    return Graph(tensors=tensors, operators=ops, inputs=[0], outputs=list(range(1, n + 1)), source=SRC)


def chain(n: int) -> Graph:
    """a chain of n RELUs."""
    tensors = [_t(i) for i in range(n + 1)]
    ops = [Operator(index=k, opcode="RELU", inputs=[k], outputs=[k + 1]) for k in range(n)]
    return Graph(tensors=tensors, operators=ops, inputs=[0], outputs=[n], source=SRC)


CASES = [("inputs", many_inputs, "num_inputs"), ("outputs", many_outputs, "num_outputs"),
         ("operators", chain, "num_ops")]


@pytest.mark.parametrize("what,make,field", CASES, ids=[c[0] for c in CASES])
def test_counts_over_uint16_refused(what: str, make, field: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    check_runtime_limits(make(U16_MAX))  # the largest count the fields hold passes
    g = make(U16_MAX + 1)
    expected = (f"{SRC}: the model has 65,536 {what}; the microaot runtime stores the number of {what} in a "
                f"16-bit field (uaot_model_t.{field}, at most 65,535). Split the model into smaller models "
                f"(or merge {what}) so that each has at most 65,535 {what}")
    with pytest.raises(UnsupportedModelError) as ei:
        check_runtime_limits(g)
    assert str(ei.value) == expected
    # the compile driver refuses it before planning, without writing anything
    model = tmp_path / SRC
    model.write_bytes(b"not read: the importer is replaced")
    monkeypatch.setattr(compiler, "read_model_file", lambda _p: b"")
    monkeypatch.setattr(compiler, "import_tflite_bytes", lambda _b, _src: g)
    out = tmp_path / "out"
    with pytest.raises(UnsupportedModelError) as ei:
        compiler.compile_model(model, out)
    assert str(ei.value) == expected
    assert not out.exists()
    record_figures("narrow runtime fields (issue 20.10)", {f"{what} over uint16 refused": 1})


def test_sizes_over_uint32_refused() -> None:
    g = chain(2)
    check_runtime_limits(g, workspace_size=2**32 - 1, weight_bytes=2**32 - 1)
    with pytest.raises(UnsupportedModelError, match=r"the workspace need 4,294,967,296 bytes; the runtime's "
                                                    r"uaot_model_t.workspace_size is 32-bit"):
        check_runtime_limits(g, workspace_size=2**32)
    with pytest.raises(UnsupportedModelError, match=r"uaot_model_t.weight_bytes is 32-bit"):
        check_runtime_limits(g, weight_bytes=2**32)
    big = Graph(tensors=[Tensor(index=0, name="x", shape=(65536, 65536), dtype="int8", quant=_q()), _t(1)],
                operators=[], inputs=[0], outputs=[1], source=SRC)
    with pytest.raises(UnsupportedModelError, match=r"graph input tensor 0 \('x'\) has 4,294,967,296 bytes"):
        check_runtime_limits(big)
