"""Single custom-operator ``.tflite`` models for tests: the operator code is ``CUSTOM`` with a custom name
(e.g. TFLM's ``SignalFramer``), its options a flexbuffer map (``flatbuffers.flexbuffers``), as the TFLite
converter writes them for TFLM's signal library.

    model = custom_op_model("SignalDelay", [CIn((2, 8), "int16")], [COut((2, 8), "int16")],
                            {"delay_length": 3})

Tensor types beyond :mod:`microaot.testing.modelgen`'s: ``uint32`` (PCAN, the filter banks) and ``bool``
(the output-valid flags of the framer and the stacker).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import flatbuffers
import numpy as np
import tflite
from flatbuffers import flexbuffers

_TYPES: dict[str, tuple[int, Any]] = {
    "float32": (tflite.TensorType.FLOAT32, np.float32),
    "int32": (tflite.TensorType.INT32, np.int32),
    "uint32": (tflite.TensorType.UINT32, np.uint32),
    "int16": (tflite.TensorType.INT16, np.int16),
    "int8": (tflite.TensorType.INT8, np.int8),
    "uint8": (tflite.TensorType.UINT8, np.uint8),
    "bool": (tflite.TensorType.BOOL, np.bool_),
}


@dataclass(frozen=True)
class CIn:
    """An operator input: a graph input (``data`` None) or a constant."""

    shape: tuple[int, ...]
    dtype: str
    data: np.ndarray | None = None


@dataclass(frozen=True)
class COut:
    shape: tuple[int, ...]
    dtype: str


def tensor_type(dtype: str) -> int:
    """The TFLite TensorType value of a dtype name (for the ``T`` attribute some signal ops carry)."""
    return int(_TYPES[dtype][0])


def _i32_vector(b: flatbuffers.Builder, start: Any, values: Sequence[int]) -> int:
    start(b, len(values))
    for v in reversed(values):
        b.PrependInt32(int(v))
    return int(b.EndVector())


def _bytes_vector(b: flatbuffers.Builder, data: bytes, alignment: int = 16) -> int:
    b.StartVector(1, len(data), alignment)
    b.head = b.head - len(data)
    b.Bytes[b.head : b.head + len(data)] = data
    b.vectorNumElems = len(data)
    return int(b.EndVector())


def custom_op_model(name: str, inputs: Sequence[CIn], outputs: Sequence[COut],
                    options: Mapping[str, Any] | bytes | None = None) -> bytes:
    """A model of one custom operator ``name``: non-constant inputs are the graph inputs (in order), every
    output a graph output. ``options``: a dict serialized as a flexbuffer map, or the raw bytes."""
    if isinstance(options, bytes):
        custom = options
    else:
        custom = bytes(flexbuffers.Dumps(dict(options or {})))
    b = flatbuffers.Builder(1024)
    tensors: list[tuple[str, tuple[int, ...], str, bytes | None]] = []
    for k, t in enumerate(inputs):
        raw = None
        if t.data is not None:
            arr = np.asarray(t.data).astype(_TYPES[t.dtype][1])
            if arr.size != math.prod(t.shape):
                raise ValueError(f"input {k}: {arr.size} values for shape {t.shape}")
            raw = np.ascontiguousarray(arr).astype(np.dtype(_TYPES[t.dtype][1]).newbyteorder("<")).tobytes()
        tensors.append((f"input{k}" if raw is None else f"const{k}", tuple(t.shape), t.dtype, raw))
    n_in = len(tensors)
    tensors += [(f"output{k}", tuple(t.shape), t.dtype, None) for k, t in enumerate(outputs)]

    data_offs = [_bytes_vector(b, raw) for (_, _, _, raw) in tensors if raw is not None]
    buffers: list[int] = []
    tflite.BufferStart(b)
    buffers.append(tflite.BufferEnd(b))
    for off in data_offs:
        tflite.BufferStart(b)
        tflite.BufferAddData(b, off)
        buffers.append(tflite.BufferEnd(b))
    tensor_offs: list[int] = []
    next_buffer = 1
    for tname, shape, dtype, raw in tensors:
        name_off = b.CreateString(tname)
        shape_off = _i32_vector(b, tflite.TensorStartShapeVector, shape)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape_off)
        tflite.TensorAddType(b, _TYPES[dtype][0])
        if raw is not None:
            tflite.TensorAddBuffer(b, next_buffer)
            next_buffer += 1
        else:
            tflite.TensorAddBuffer(b, 0)
        tflite.TensorAddName(b, name_off)
        tensor_offs.append(tflite.TensorEnd(b))

    graph_inputs = [k for k in range(n_in) if tensors[k][3] is None]
    graph_outputs = list(range(n_in, len(tensors)))
    op_ins = _i32_vector(b, tflite.OperatorStartInputsVector, list(range(n_in)))
    op_outs = _i32_vector(b, tflite.OperatorStartOutputsVector, graph_outputs)
    custom_off = _bytes_vector(b, custom, 1)
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
    tflite.OperatorAddInputs(b, op_ins)
    tflite.OperatorAddOutputs(b, op_outs)
    tflite.OperatorAddCustomOptions(b, custom_off)
    tflite.OperatorAddCustomOptionsFormat(b, tflite.CustomOptionsFormat.FLEXBUFFERS)
    op_off = tflite.OperatorEnd(b)

    def table_vector(start: Any, offsets: Sequence[int]) -> int:
        start(b, len(offsets))
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return int(b.EndVector())

    sg_tensors = table_vector(tflite.SubGraphStartTensorsVector, tensor_offs)
    sg_inputs = _i32_vector(b, tflite.SubGraphStartInputsVector, graph_inputs)
    sg_outputs = _i32_vector(b, tflite.SubGraphStartOutputsVector, graph_outputs)
    sg_ops = table_vector(tflite.SubGraphStartOperatorsVector, [op_off])
    sg_name = b.CreateString("main")
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, sg_tensors)
    tflite.SubGraphAddInputs(b, sg_inputs)
    tflite.SubGraphAddOutputs(b, sg_outputs)
    tflite.SubGraphAddOperators(b, sg_ops)
    tflite.SubGraphAddName(b, sg_name)
    subgraph = tflite.SubGraphEnd(b)

    code_name = b.CreateString(name)
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, tflite.BuiltinOperator.CUSTOM)
    tflite.OperatorCodeAddBuiltinCode(b, tflite.BuiltinOperator.CUSTOM)
    tflite.OperatorCodeAddCustomCode(b, code_name)
    tflite.OperatorCodeAddVersion(b, 1)
    code = tflite.OperatorCodeEnd(b)

    m_codes = table_vector(tflite.ModelStartOperatorCodesVector, [code])
    m_subgraphs = table_vector(tflite.ModelStartSubgraphsVector, [subgraph])
    m_buffers = table_vector(tflite.ModelStartBuffersVector, buffers)
    desc = b.CreateString("microaot.testing.customgen")
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, m_codes)
    tflite.ModelAddSubgraphs(b, m_subgraphs)
    tflite.ModelAddDescription(b, desc)
    tflite.ModelAddBuffers(b, m_buffers)
    model = tflite.ModelEnd(b)
    b.Finish(model, file_identifier=b"TFL3")
    return bytes(b.Output())
