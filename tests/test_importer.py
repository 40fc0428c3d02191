"""TFLite importer: the MLPerf models import, quirks are tolerated, and unsupported or malformed
models are rejected with messages naming the file, operator index and name, and what is supported."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np
import pytest
import tflite

from conftest import mlperf_model
from microaot.compiler import compile_model
from microaot.errors import ModelFormatError, UnsupportedModelError
from microaot.frontend.tflite import load_tflite
from microaot.ir.graph import Graph
from microaot.passes import check_graph
from microaot.testing import modelgen as mg


def _m(name: str) -> Any:  # the generated schema module (tflite.X is the class, not the module)
    return importlib.import_module(f"tflite.{name}")


def raw_model(*, n_subgraphs: int = 1, opcode: int = tflite.BuiltinOperator.RELU, custom: str | None = None,
              signature: list[int] | None = None, ttype: int = tflite.TensorType.FLOAT32) -> bytes:
    """A minimal model written with the schema builder: in[1,4] -op-> out[1,4] per subgraph."""
    b = flatbuffers.Builder(1024)
    M, SG, T, OP, OC, B = (_m(n) for n in ("Model", "SubGraph", "Tensor", "Operator", "OperatorCode", "Buffer"))

    def ivec(start: Any, vals: list[int]) -> int:
        start(b, len(vals))
        for v in reversed(vals):
            b.PrependInt32(v)
        return int(b.EndVector())

    subgraphs = []
    for _ in range(n_subgraphs):
        tensors = []
        for name in ("in", "out"):
            nm = b.CreateString(name)
            shape = ivec(T.TensorStartShapeVector, [1, 4])
            sig = ivec(T.TensorStartShapeSignatureVector, signature) if signature is not None else None
            T.TensorStart(b)
            T.TensorAddShape(b, shape)
            if sig is not None:
                T.TensorAddShapeSignature(b, sig)
            T.TensorAddType(b, ttype)
            T.TensorAddBuffer(b, 0)
            T.TensorAddName(b, nm)
            tensors.append(T.TensorEnd(b))
        SG.SubGraphStartTensorsVector(b, len(tensors))
        for t in reversed(tensors):
            b.PrependUOffsetTRelative(t)
        tvec = b.EndVector()
        oin, oout = ivec(OP.OperatorStartInputsVector, [0]), ivec(OP.OperatorStartOutputsVector, [1])
        OP.OperatorStart(b)
        OP.OperatorAddOpcodeIndex(b, 0)
        OP.OperatorAddInputs(b, oin)
        OP.OperatorAddOutputs(b, oout)
        op = OP.OperatorEnd(b)
        SG.SubGraphStartOperatorsVector(b, 1)
        b.PrependUOffsetTRelative(op)
        ovec = b.EndVector()
        gin, gout = ivec(SG.SubGraphStartInputsVector, [0]), ivec(SG.SubGraphStartOutputsVector, [1])
        SG.SubGraphStart(b)
        SG.SubGraphAddTensors(b, tvec)
        SG.SubGraphAddOperators(b, ovec)
        SG.SubGraphAddInputs(b, gin)
        SG.SubGraphAddOutputs(b, gout)
        subgraphs.append(SG.SubGraphEnd(b))
    cname = b.CreateString(custom) if custom is not None else None
    code = tflite.BuiltinOperator.CUSTOM if custom is not None else opcode
    OC.OperatorCodeStart(b)
    OC.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
    OC.OperatorCodeAddBuiltinCode(b, code)
    OC.OperatorCodeAddVersion(b, 1)
    if cname is not None:
        OC.OperatorCodeAddCustomCode(b, cname)
    oc = OC.OperatorCodeEnd(b)
    B.BufferStart(b)
    buf0 = B.BufferEnd(b)
    M.ModelStartSubgraphsVector(b, len(subgraphs))
    for s in reversed(subgraphs):
        b.PrependUOffsetTRelative(s)
    sgv = b.EndVector()
    M.ModelStartOperatorCodesVector(b, 1)
    b.PrependUOffsetTRelative(oc)
    ocv = b.EndVector()
    M.ModelStartBuffersVector(b, 1)
    b.PrependUOffsetTRelative(buf0)
    bv = b.EndVector()
    M.ModelStart(b)
    M.ModelAddVersion(b, 3)
    M.ModelAddOperatorCodes(b, ocv)
    M.ModelAddSubgraphs(b, sgv)
    M.ModelAddBuffers(b, bv)
    b.Finish(M.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_mlperf_models_import() -> None:
    g = load_tflite(mlperf_model("kws"))
    assert len(g.operators) == 13 and len(g.tensors) == 35
    conv = g.operators[0]
    assert conv.opcode == "CONV_2D"
    assert conv.options["padding"] == "SAME" and conv.options["stride_h"] == 2
    assert conv.options["fused_activation_function"] == "RELU"
    w = g.tensors[conv.inputs[1]]
    assert w.shape == (64, 10, 4, 1) and w.dtype == "int8" and w.quant is not None and w.quant.per_channel
    assert w.data is not None and w.data.shape == (64, 10, 4, 1)
    bias = g.tensors[conv.inputs[2]]
    assert bias.dtype == "int32" and bias.quant is not None and bias.quant.axis == 0


def test_minimal_raw_model_imports() -> None:
    g = load_tflite_bytes(raw_model())
    assert [op.opcode for op in g.operators] == ["RELU"]


def load_tflite_bytes(data: bytes) -> Graph:
    from microaot.frontend.tflite import import_tflite_bytes

    return import_tflite_bytes(data, "raw.tflite")


def test_bias_with_wrong_quantized_dimension_is_tolerated(tmp_path: Path) -> None:
    mb = mg.ModelBuilder()
    x = mb.add_input("x", (1, 4), "int8", quant=mg.Quant.per_tensor(0.1, 0))
    w = mb.add_const("w", np.ones((3, 4), np.int8), "int8", quant=mg.Quant.per_channel([0.1, 0.2, 0.3], axis=0))
    # 1-D bias whose quantized_dimension says 3 (seen in converter output)
    bias = mb.add_tensor("b", (3,), "int32", quant=mg.Quant((0.01, 0.02, 0.03), (0, 0, 0), axis=0),
                         data=np.zeros(3, np.int32))
    mb.tensors[bias] = mg.TensorSpec("b", (3,), "int32", mg.Quant((0.01, 0.02, 0.03), (0, 0, 0), axis=3),
                                     mb.tensors[bias].data)
    y = mb.add_tensor("y", (1, 3), "int8", quant=mg.Quant.per_tensor(0.5, 0))
    mb.add_operator("FULLY_CONNECTED", [x, w, bias], [y], mg.FullyConnectedOptions("NONE", False))
    mb.set_outputs([y])
    g = load_tflite(_write(tmp_path, "quirk.tflite", mb.to_bytes()))
    q = g.tensors[bias].quant
    assert q is not None and q.axis == 0 and q.scale.size == 3


def test_not_a_flatbuffer(tmp_path: Path) -> None:
    p = _write(tmp_path, "junk.tflite", b"this is not a model at all" * 4)
    with pytest.raises(ModelFormatError) as e:
        load_tflite(p)
    assert str(e.value) == f"{p}: not a TFLite flatbuffer (file identifier 'TFL3' missing); give a .tflite file"


def test_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "nope.tflite"
    with pytest.raises(ModelFormatError, match=re.escape(f"{p}: cannot read the model file")):
        load_tflite(p)


@pytest.mark.parametrize("cut", [20, 1000, 30000])
def test_truncated_flatbuffer(tmp_path: Path, cut: int) -> None:
    p = _write(tmp_path, "cut.tflite", mlperf_model("kws").read_bytes()[:cut])
    with pytest.raises(ModelFormatError) as e:
        load_tflite(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}: ")
    assert "malformed TFLite flatbuffer" in msg or "outside the file" in msg or "buffer holds" in msg


def test_corrupted_offsets(tmp_path: Path) -> None:
    data = bytearray(mlperf_model("ad").read_bytes())
    rng = np.random.default_rng(0)
    for pos in rng.integers(8, 2000, size=64):
        data[int(pos)] = 0xFF
    p = _write(tmp_path, "corrupt.tflite", bytes(data))
    with pytest.raises((ModelFormatError, UnsupportedModelError)) as e:
        load_tflite(p)
    assert str(e.value).startswith(f"{p}: ")


def test_several_subgraphs(tmp_path: Path) -> None:
    p = _write(tmp_path, "two.tflite", raw_model(n_subgraphs=2))
    with pytest.raises(UnsupportedModelError) as e:
        load_tflite(p)
    assert str(e.value) == (f"{p}: the model has 2 subgraphs; microaot compiles single-subgraph models only "
                            "(no control flow, no signatures with several graphs)")


def test_control_flow(tmp_path: Path) -> None:
    p = _write(tmp_path, "while.tflite", raw_model(opcode=tflite.BuiltinOperator.WHILE))
    with pytest.raises(UnsupportedModelError) as e:
        load_tflite(p)
    assert str(e.value) == (f"{p}: operator 0 (WHILE): control flow is not supported; microaot compiles "
                            "single-subgraph models without control flow")


def test_custom_operator(tmp_path: Path) -> None:
    """A custom operator is imported (opcode CUSTOM:<name>); compiling one without a kernel names it."""
    p = _write(tmp_path, "custom.tflite", raw_model(custom="MyOp"))
    g = load_tflite(p)
    assert g.operators[0].opcode == "CUSTOM:MyOp"
    with pytest.raises(UnsupportedModelError) as e:
        check_graph(g)
    assert str(e.value) == (f"{p}: operator 0 (CUSTOM:MyOp): custom operator 'MyOp' has no microaot kernel; "
                            "bind a C kernel of yours to it (microaot compile --custom-op MyOp=my_c_function, or "
                            "custom_microaot_custom_ops = MyOp:my_c_function in platformio.ini; signature and how "
                            "to build it in docs/custom-operators.md), or re-export the model with builtin TFLite "
                            "operators")


def test_dynamic_shape(tmp_path: Path) -> None:
    p = _write(tmp_path, "dyn.tflite", raw_model(signature=[1, -1]))
    with pytest.raises(UnsupportedModelError) as e:
        load_tflite(p)
    assert str(e.value) == (f"{p}: tensor 0 ('in') has a dynamic shape [1, -1]; microaot needs static shapes "
                            "(only the batch dimension may be -1, it is compiled as 1). Re-export the model "
                            "with fixed input shapes")


def test_dynamic_batch_is_accepted() -> None:
    g = load_tflite_bytes(raw_model(signature=[-1, 4]))
    assert g.tensors[0].shape == (1, 4)


def test_unsupported_tensor_type(tmp_path: Path) -> None:
    p = _write(tmp_path, "c64.tflite", raw_model(ttype=tflite.TensorType.COMPLEX64))
    with pytest.raises(UnsupportedModelError) as e:
        load_tflite(p)
    assert str(e.value) == (f"{p}: operator 0 (RELU): tensor 0 ('in') has type COMPLEX64; supported types are "
                            "int8, uint8, int16, uint16, int32, uint32, int64, uint64, float32, bool")


def test_unsupported_operator_is_rejected_before_codegen(tmp_path: Path) -> None:
    p = _write(tmp_path, "floor.tflite", raw_model(opcode=tflite.BuiltinOperator.FLOOR))
    out = tmp_path / "out"
    with pytest.raises(UnsupportedModelError) as e:
        compile_model(p, out)
    msg = str(e.value)
    assert msg.startswith(f"{p}: operator 0 (FLOOR) is not supported; supported operators: ")
    assert "CONV_2D" in msg and "SOFTMAX" in msg
    assert not out.exists() or not any(out.iterdir())


def test_unsupported_option_names_operator(tmp_path: Path) -> None:
    # int8 SOFTMAX whose output quantization TFLM does not accept either
    data = mg.unary_model(np.random.default_rng(0), op="SOFTMAX", shape=(1, 8), out_q=mg.ActQ(0.1, 0))
    p = _write(tmp_path, "sm.tflite", data)
    with pytest.raises(UnsupportedModelError) as e:
        compile_model(p, tmp_path / "out")
    assert str(e.value) == (f"{p}: operator 0 (SOFTMAX): int8 output must have scale 1/256 and zero point -128 "
                            f"(got {np.float32(0.1).item()}, 0)")
