"""Build small, valid `.tflite` flatbuffers for tests, fuzzing and examples.

Two layers:

* :class:`ModelBuilder` -- a typed, low-level builder: add tensors (shape, dtype, per-tensor or
  per-channel quantization, optional constant data), add operators (builtin opcode + one of the
  option dataclasses below), name the graph inputs/outputs, serialize with :meth:`ModelBuilder.to_bytes`.
  Serialization goes through the ``tflite`` schema package's builder functions (flatbuffers), and
  produces files TFLM accepts: buffer 0 is the empty sentinel, every constant tensor has its own
  16-byte aligned buffer, ``deprecated_builtin_code`` is filled (``min(code, 127)``), opcode versions
  are the ones the TFLite converter would write, file identifier ``TFL3``, schema version 3.
* Quantization helpers (:func:`choose_qparams`, :func:`quantize_weights`, :func:`quantize_bias`) and
  single-operator model builders (:func:`conv2d_model`, :func:`depthwise_conv2d_model`, ...) that
  start from random float weights and pick scales / zero points the way the converter does
  (asymmetric int8 activations whose range contains 0, symmetric int8 weights in [-127, 127],
  int32 bias with scale ``input_scale * weight_scale`` and zero point 0).

Everything here is deterministic for a given ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import flatbuffers
import numpy as np
import tflite
from flatbuffers import flexbuffers

DType = Literal["int8", "int16", "int32", "uint8", "float32", "bool", "int64", "resource", "uint16", "uint32",
                "uint64"]
PaddingName = Literal["SAME", "VALID"]
Activation = Literal["NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH"]

_TENSOR_TYPES: dict[str, int] = {
    "float32": tflite.TensorType.FLOAT32,
    "int32": tflite.TensorType.INT32,
    "uint8": tflite.TensorType.UINT8,
    "int16": tflite.TensorType.INT16,
    "int8": tflite.TensorType.INT8,
    "bool": tflite.TensorType.BOOL,
    "int64": tflite.TensorType.INT64,
    "resource": tflite.TensorType.RESOURCE,
    "uint16": tflite.TensorType.UINT16,
    "uint32": tflite.TensorType.UINT32,
    "uint64": tflite.TensorType.UINT64,
}
_NUMPY_DTYPES: dict[str, type[np.generic]] = {
    "float32": np.float32,
    "int32": np.int32,
    "uint8": np.uint8,
    "int16": np.int16,
    "int8": np.int8,
    "bool": np.bool_,
    "int64": np.int64,
    "resource": np.int32,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
}
_ACTIVATIONS: dict[str, int] = {
    "NONE": tflite.ActivationFunctionType.NONE,
    "RELU": tflite.ActivationFunctionType.RELU,
    "RELU_N1_TO_1": tflite.ActivationFunctionType.RELU_N1_TO_1,
    "RELU6": tflite.ActivationFunctionType.RELU6,
    "TANH": tflite.ActivationFunctionType.TANH,
}
_PADDINGS: dict[str, int] = {"SAME": tflite.Padding.SAME, "VALID": tflite.Padding.VALID}

# Opcode versions the TFLite converter writes for int8 models (float models get version 1).
# TFLM resolves kernels by builtin code only, but keep the versions realistic.
_INT8_VERSIONS: dict[str, int] = {
    "CONV_2D": 3,
    "DEPTHWISE_CONV_2D": 3,
    "FULLY_CONNECTED": 4,
    "AVERAGE_POOL_2D": 2,
    "MAX_POOL_2D": 2,
    "ADD": 2,
    "SUB": 2,
    "MUL": 2,
    "SOFTMAX": 2,
    "RELU": 2,
    "RELU6": 2,
    "LOGISTIC": 2,
    "TANH": 2,
    "CONCATENATION": 2,
    "PAD": 2,
    "PADV2": 2,
    "MEAN": 2,
    "QUANTIZE": 1,
    "DEQUANTIZE": 2,
    "RESHAPE": 1,
    "SQUEEZE": 1,
}


def builtin_code(op: str | int) -> int:
    """Numeric builtin operator code of an operator name such as ``"CONV_2D"``."""
    if isinstance(op, int):
        return op
    code = getattr(tflite.BuiltinOperator, op, None)
    if not isinstance(code, int):
        raise ValueError(f"unknown TFLite builtin operator {op!r}")
    return code


def builtin_name(code: int) -> str:
    for name, value in vars(tflite.BuiltinOperator).items():
        if not name.startswith("_") and value == code:
            return name
    raise ValueError(f"unknown TFLite builtin operator code {code}")


# ---------------------------------------------------------------------------------------------
# Operator options
# ---------------------------------------------------------------------------------------------


class Options:
    """Base of the builtin option tables. ``build`` returns (BuiltinOptions type, table offset)."""

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Conv2DOptions(Options):
    padding: PaddingName = "VALID"
    stride_w: int = 1
    stride_h: int = 1
    activation: Activation = "NONE"
    dilation_w: int = 1
    dilation_h: int = 1

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.Conv2DOptionsStart(b)
        tflite.Conv2DOptionsAddPadding(b, _PADDINGS[self.padding])
        tflite.Conv2DOptionsAddStrideW(b, self.stride_w)
        tflite.Conv2DOptionsAddStrideH(b, self.stride_h)
        tflite.Conv2DOptionsAddFusedActivationFunction(b, _ACTIVATIONS[self.activation])
        tflite.Conv2DOptionsAddDilationWFactor(b, self.dilation_w)
        tflite.Conv2DOptionsAddDilationHFactor(b, self.dilation_h)
        return tflite.BuiltinOptions.Conv2DOptions, tflite.Conv2DOptionsEnd(b)


@dataclass(frozen=True)
class DepthwiseConv2DOptions(Options):
    padding: PaddingName = "VALID"
    stride_w: int = 1
    stride_h: int = 1
    depth_multiplier: int = 1
    activation: Activation = "NONE"
    dilation_w: int = 1
    dilation_h: int = 1

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.DepthwiseConv2DOptionsStart(b)
        tflite.DepthwiseConv2DOptionsAddPadding(b, _PADDINGS[self.padding])
        tflite.DepthwiseConv2DOptionsAddStrideW(b, self.stride_w)
        tflite.DepthwiseConv2DOptionsAddStrideH(b, self.stride_h)
        tflite.DepthwiseConv2DOptionsAddDepthMultiplier(b, self.depth_multiplier)
        tflite.DepthwiseConv2DOptionsAddFusedActivationFunction(b, _ACTIVATIONS[self.activation])
        tflite.DepthwiseConv2DOptionsAddDilationWFactor(b, self.dilation_w)
        tflite.DepthwiseConv2DOptionsAddDilationHFactor(b, self.dilation_h)
        return tflite.BuiltinOptions.DepthwiseConv2DOptions, tflite.DepthwiseConv2DOptionsEnd(b)


@dataclass(frozen=True)
class FullyConnectedOptions(Options):
    activation: Activation = "NONE"
    keep_num_dims: bool = False

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.FullyConnectedOptionsStart(b)
        tflite.FullyConnectedOptionsAddFusedActivationFunction(b, _ACTIVATIONS[self.activation])
        tflite.FullyConnectedOptionsAddKeepNumDims(b, self.keep_num_dims)
        return tflite.BuiltinOptions.FullyConnectedOptions, tflite.FullyConnectedOptionsEnd(b)


@dataclass(frozen=True)
class Pool2DOptions(Options):
    """Options of AVERAGE_POOL_2D and MAX_POOL_2D."""

    filter_w: int = 2
    filter_h: int = 2
    padding: PaddingName = "VALID"
    stride_w: int = 1
    stride_h: int = 1
    activation: Activation = "NONE"

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.Pool2DOptionsStart(b)
        tflite.Pool2DOptionsAddPadding(b, _PADDINGS[self.padding])
        tflite.Pool2DOptionsAddStrideW(b, self.stride_w)
        tflite.Pool2DOptionsAddStrideH(b, self.stride_h)
        tflite.Pool2DOptionsAddFilterWidth(b, self.filter_w)
        tflite.Pool2DOptionsAddFilterHeight(b, self.filter_h)
        tflite.Pool2DOptionsAddFusedActivationFunction(b, _ACTIVATIONS[self.activation])
        return tflite.BuiltinOptions.Pool2DOptions, tflite.Pool2DOptionsEnd(b)


def _build_table(b: flatbuffers.Builder, table: str, **fields: Any) -> tuple[int, int]:
    """Build the option table ``table`` (e.g. ``"AddOptions"``) with the schema package's
    ``<table>Start``, ``<table>Add<Field>`` (in the order given) and ``<table>End`` functions."""
    getattr(tflite, f"{table}Start")(b)
    for name, value in fields.items():
        getattr(tflite, f"{table}Add{name}")(b, value)
    return getattr(tflite.BuiltinOptions, table), getattr(tflite, f"{table}End")(b)


@dataclass(frozen=True)
class _ActivationOnlyOptions(Options):
    """Option tables whose only field is the fused activation (ADD, SUB, MUL); ``_table`` names it."""

    activation: Activation = "NONE"
    _table: ClassVar[str] = ""

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        return _build_table(b, self._table, FusedActivationFunction=_ACTIVATIONS[self.activation])


@dataclass(frozen=True)
class _EmptyOptions(Options):
    """Option tables without fields (PAD, PADV2, QUANTIZE, DEQUANTIZE); ``_table`` names it."""

    _table: ClassVar[str] = ""

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        return _build_table(b, self._table)


@dataclass(frozen=True)
class AddOptions(_ActivationOnlyOptions):
    _table = "AddOptions"


@dataclass(frozen=True)
class SubOptions(_ActivationOnlyOptions):
    _table = "SubOptions"


@dataclass(frozen=True)
class MulOptions(_ActivationOnlyOptions):
    _table = "MulOptions"


@dataclass(frozen=True)
class ReshapeOptions(Options):
    new_shape: tuple[int, ...] = ()

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        vec = _int32_vector(b, tflite.ReshapeOptionsStartNewShapeVector, self.new_shape)
        tflite.ReshapeOptionsStart(b)
        tflite.ReshapeOptionsAddNewShape(b, vec)
        return tflite.BuiltinOptions.ReshapeOptions, tflite.ReshapeOptionsEnd(b)


@dataclass(frozen=True)
class SqueezeOptions(Options):
    squeeze_dims: tuple[int, ...] = ()

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        vec = _int32_vector(b, tflite.SqueezeOptionsStartSqueezeDimsVector, self.squeeze_dims)
        tflite.SqueezeOptionsStart(b)
        tflite.SqueezeOptionsAddSqueezeDims(b, vec)
        return tflite.BuiltinOptions.SqueezeOptions, tflite.SqueezeOptionsEnd(b)


@dataclass(frozen=True)
class SoftmaxOptions(Options):
    beta: float = 1.0

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.SoftmaxOptionsStart(b)
        tflite.SoftmaxOptionsAddBeta(b, self.beta)
        return tflite.BuiltinOptions.SoftmaxOptions, tflite.SoftmaxOptionsEnd(b)


@dataclass(frozen=True)
class ConcatenationOptions(Options):
    axis: int = -1
    activation: Activation = "NONE"

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.ConcatenationOptionsStart(b)
        tflite.ConcatenationOptionsAddAxis(b, self.axis)
        tflite.ConcatenationOptionsAddFusedActivationFunction(b, _ACTIVATIONS[self.activation])
        return tflite.BuiltinOptions.ConcatenationOptions, tflite.ConcatenationOptionsEnd(b)


@dataclass(frozen=True)
class ReducerOptions(Options):
    """Options of MEAN (and SUM, REDUCE_MAX, ...)."""

    keep_dims: bool = False

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.ReducerOptionsStart(b)
        tflite.ReducerOptionsAddKeepDims(b, self.keep_dims)
        return tflite.BuiltinOptions.ReducerOptions, tflite.ReducerOptionsEnd(b)


@dataclass(frozen=True)
class PadOptions(_EmptyOptions):
    _table = "PadOptions"


@dataclass(frozen=True)
class PadV2Options(_EmptyOptions):
    _table = "PadV2Options"


@dataclass(frozen=True)
class QuantizeOptions(_EmptyOptions):
    _table = "QuantizeOptions"


@dataclass(frozen=True)
class DequantizeOptions(_EmptyOptions):
    _table = "DequantizeOptions"


# Options a converter attaches by default when the caller gives none (ops without options: None).
_DEFAULT_OPTIONS: dict[str, Options | None] = {
    "CONV_2D": Conv2DOptions(),
    "DEPTHWISE_CONV_2D": DepthwiseConv2DOptions(),
    "FULLY_CONNECTED": FullyConnectedOptions(),
    "AVERAGE_POOL_2D": Pool2DOptions(),
    "MAX_POOL_2D": Pool2DOptions(),
    "ADD": AddOptions(),
    "SUB": SubOptions(),
    "MUL": MulOptions(),
    "SOFTMAX": SoftmaxOptions(),
    "CONCATENATION": ConcatenationOptions(),
    "MEAN": ReducerOptions(),
    "PAD": PadOptions(),
    "PADV2": PadV2Options(),
    "QUANTIZE": QuantizeOptions(),
    "DEQUANTIZE": DequantizeOptions(),
}


def _int32_vector(b: flatbuffers.Builder, start: Any, values: Sequence[int]) -> int:
    start(b, len(values))
    for v in reversed(values):
        b.PrependInt32(int(v))
    return int(b.EndVector())


def _float32_vector(b: flatbuffers.Builder, start: Any, values: Sequence[float]) -> int:
    start(b, len(values))
    for v in reversed(values):
        b.PrependFloat32(float(v))
    return int(b.EndVector())


def _int64_vector(b: flatbuffers.Builder, start: Any, values: Sequence[int]) -> int:
    start(b, len(values))
    for v in reversed(values):
        b.PrependInt64(int(v))
    return int(b.EndVector())


def _aligned_bytes(b: flatbuffers.Builder, data: bytes, alignment: int = 16) -> int:
    """A ubyte vector whose payload starts on an ``alignment`` boundary (what the converter does)."""
    b.StartVector(1, len(data), alignment)
    b.head = b.head - len(data)
    b.Bytes[b.head : b.head + len(data)] = data
    b.vectorNumElems = len(data)
    return int(b.EndVector())


# ---------------------------------------------------------------------------------------------
# The builder
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quant:
    """Affine quantization: per-tensor (one scale) or per-channel along ``axis``."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    @staticmethod
    def per_tensor(scale: float, zero_point: int = 0) -> Quant:
        return Quant((float(scale),), (int(zero_point),))

    @staticmethod
    def per_channel(scales: Sequence[float], axis: int, zero_points: Sequence[int] | None = None) -> Quant:
        zps = tuple(int(z) for z in zero_points) if zero_points is not None else (0,) * len(scales)
        return Quant(tuple(float(s) for s in scales), zps, axis)


@dataclass
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: DType
    quant: Quant | None = None
    data: bytes | None = None
    variable: bool = False  # a TFLite variable tensor (persistent state, e.g. an LSTM's cell state)


@dataclass
class OperatorSpec:
    op: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Options | None = None
    version: int | None = None
    custom_options: bytes | None = None  # a custom operator's (op "CUSTOM:<name>") custom_options


def flexbuffer_map(options: dict[str, Any]) -> bytes:
    """A flexbuffer map of ``options`` (ints, floats, bools, strings, lists of ints/floats), as TFLite custom
    operators (e.g. TFLM's signal library) carry their parameters."""
    fb = flexbuffers.Builder()
    with fb.Map():
        for k in sorted(options):
            v = options[k]
            if isinstance(v, bool):
                fb.Bool(k, v)
            elif isinstance(v, (int, np.integer)):
                fb.Int(k, int(v))
            elif isinstance(v, (float, np.floating)):
                fb.Float(k, float(v))
            elif isinstance(v, str):
                fb.String(k, v)
            elif isinstance(v, (list, tuple, np.ndarray)):
                vals = list(v)
                if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in vals):
                    fb.TypedVectorFromElements(k, [int(x) for x in vals])
                else:
                    fb.TypedVectorFromElements(k, [float(x) for x in vals])
            else:
                raise TypeError(f"flexbuffer option {k!r}: cannot encode {type(v).__name__}")
    return bytes(fb.Finish())


@dataclass
class ModelBuilder:
    """Accumulates tensors and operators of one subgraph and serializes them to a .tflite."""

    description: str = "microaot.testing.modelgen"
    tensors: list[TensorSpec] = field(default_factory=list)
    operators: list[OperatorSpec] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    # -- tensors -------------------------------------------------------------------------------
    def add_tensor(
        self,
        name: str,
        shape: Sequence[int],
        dtype: DType,
        *,
        quant: Quant | None = None,
        data: np.ndarray | bytes | None = None,
        variable: bool = False,
    ) -> int:
        """Add a tensor; ``data`` makes it a constant (numpy array cast to ``dtype``); ``variable`` marks a
        TFLite variable tensor (state that persists across invocations). Returns its index."""
        if dtype not in _TENSOR_TYPES:
            raise ValueError(f"tensor {name!r}: unsupported dtype {dtype!r}")
        shape_t = tuple(int(d) for d in shape)
        if quant is not None:
            if len(quant.scale) != len(quant.zero_point):
                raise ValueError(f"tensor {name!r}: {len(quant.scale)} scales but {len(quant.zero_point)} zero points")
            if len(quant.scale) > 1 and (quant.axis >= len(shape_t) or shape_t[quant.axis] != len(quant.scale)):
                raise ValueError(f"tensor {name!r}: {len(quant.scale)} scales do not match axis {quant.axis} of "
                                 f"{shape_t}")
        raw: bytes | None = None
        if data is not None:
            if isinstance(data, bytes):
                raw = data
            else:
                arr = np.asarray(data)
                if arr.size != math.prod(shape_t):
                    raise ValueError(f"tensor {name!r}: data has {arr.size} elements, shape {shape_t} needs "
                                     f"{math.prod(shape_t)}")
                raw = np.ascontiguousarray(arr.astype(_NUMPY_DTYPES[dtype]).reshape(shape_t)).astype(
                    np.dtype(_NUMPY_DTYPES[dtype]).newbyteorder("<")
                ).tobytes()
            expected = math.prod(shape_t) * np.dtype(_NUMPY_DTYPES[dtype]).itemsize
            if len(raw) != expected:
                raise ValueError(f"tensor {name!r}: {len(raw)} bytes of data, shape {shape_t} needs {expected}")
        self.tensors.append(TensorSpec(name, shape_t, dtype, quant, raw, variable))
        return len(self.tensors) - 1

    def add_variable(self, name: str, shape: Sequence[int], dtype: DType, *, quant: Quant | None = None) -> int:
        """A variable tensor (persistent state: LSTM/SVDF state inputs)."""
        return self.add_tensor(name, shape, dtype, quant=quant, variable=True)

    def add_const(self, name: str, data: np.ndarray, dtype: DType, *, quant: Quant | None = None) -> int:
        """A constant tensor with the shape of ``data``."""
        return self.add_tensor(name, np.shape(data), dtype, quant=quant, data=data)

    def add_input(self, name: str, shape: Sequence[int], dtype: DType, *, quant: Quant | None = None) -> int:
        """A non-constant tensor appended to the graph inputs."""
        idx = self.add_tensor(name, shape, dtype, quant=quant)
        self.inputs.append(idx)
        return idx

    # -- operators -----------------------------------------------------------------------------
    def add_operator(
        self,
        op: str | int,
        inputs: Sequence[int],
        outputs: Sequence[int],
        options: Options | None = None,
        *,
        version: int | None = None,
    ) -> int:
        """Add a builtin operator; an input index of -1 marks an omitted optional input."""
        name = op if isinstance(op, str) else builtin_name(op)
        builtin_code(name)  # validates the name
        for t in [*inputs, *outputs]:
            if t != -1 and not 0 <= t < len(self.tensors):
                raise ValueError(f"operator {name}: tensor index {t} out of range")
        if options is None:
            options = _DEFAULT_OPTIONS.get(name)
        self.operators.append(OperatorSpec(name, tuple(inputs), tuple(outputs), options, version))
        return len(self.operators) - 1

    def add_custom_operator(self, name: str, inputs: Sequence[int], outputs: Sequence[int],
                            options: dict[str, Any] | bytes | None = None) -> int:
        """Add a custom operator (TFLite opcode CUSTOM, custom_code ``name``); ``options`` is a dict encoded as a
        flexbuffer map (``flexbuffer_map``) or the raw custom_options bytes."""
        for t in [*inputs, *outputs]:
            if t != -1 and not 0 <= t < len(self.tensors):
                raise ValueError(f"operator CUSTOM:{name}: tensor index {t} out of range")
        raw = flexbuffer_map(options) if isinstance(options, dict) else options
        self.operators.append(OperatorSpec(f"CUSTOM:{name}", tuple(inputs), tuple(outputs), None, 1, raw))
        return len(self.operators) - 1

    def set_inputs(self, inputs: Sequence[int]) -> None:
        self.inputs = list(inputs)

    def set_outputs(self, outputs: Sequence[int]) -> None:
        self.outputs = list(outputs)

    # -- serialization ---------------------------------------------------------------------------
    def _version(self, spec: OperatorSpec) -> int:
        if spec.version is not None:
            return spec.version
        first = next((t for t in spec.inputs if t >= 0), None)
        quantized = first is not None and self.tensors[first].dtype in ("int8", "int16", "uint8")
        if spec.op == "DEQUANTIZE":
            quantized = True
        return _INT8_VERSIONS.get(spec.op, 1) if quantized else 1

    def to_bytes(self) -> bytes:
        if not self.outputs:
            raise ValueError("model has no outputs: call set_outputs()")
        return serialize_subgraphs([self], ["main"], self.description)


def serialize_subgraphs(subgraphs: Sequence[ModelBuilder], names: Sequence[str], description: str) -> bytes:
    """One ``.tflite`` of several subgraphs (subgraph 0 is the one an interpreter runs; e.g. a CALL_ONCE init
    subgraph after it), with the operator codes and buffers shared: buffer 0 is the empty sentinel, then one
    16-byte aligned buffer per constant tensor of every subgraph, in order."""
    b = flatbuffers.Builder(1024)

    # Opcodes in order of first use.
    opcode_index: dict[tuple[str, int], int] = {}
    op_versions: list[tuple[str, int]] = []
    for mb in subgraphs:
        for spec in mb.operators:
            key = (spec.op, mb._version(spec))
            if key not in opcode_index:
                opcode_index[key] = len(op_versions)
                op_versions.append(key)

    # Buffers: 0 is the empty sentinel, then one per constant tensor.
    buffer_of: list[list[int]] = []
    buffer_data: list[bytes] = []
    for mb in subgraphs:
        ids: list[int] = []
        for t in mb.tensors:
            if t.data is None:
                ids.append(0)
            else:
                buffer_data.append(t.data)
                ids.append(len(buffer_data))
        buffer_of.append(ids)
    data_offsets = [_aligned_bytes(b, d) for d in buffer_data]
    buffer_offsets: list[int] = []
    tflite.BufferStart(b)
    buffer_offsets.append(tflite.BufferEnd(b))
    for off in data_offsets:
        tflite.BufferStart(b)
        tflite.BufferAddData(b, off)
        buffer_offsets.append(tflite.BufferEnd(b))

    def table_vector(start: Any, offsets: Sequence[int]) -> int:
        start(b, len(offsets))
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return int(b.EndVector())

    subgraph_offsets: list[int] = []
    for si, mb in enumerate(subgraphs):
        # Tensors
        tensor_offsets: list[int] = []
        for i, t in enumerate(mb.tensors):
            name_off = b.CreateString(t.name)
            shape_off = _int32_vector(b, tflite.TensorStartShapeVector, t.shape)
            q_off = None
            if t.quant is not None:
                sc = _float32_vector(b, tflite.QuantizationParametersStartScaleVector, t.quant.scale)
                zp = _int64_vector(b, tflite.QuantizationParametersStartZeroPointVector, t.quant.zero_point)
                tflite.QuantizationParametersStart(b)
                tflite.QuantizationParametersAddScale(b, sc)
                tflite.QuantizationParametersAddZeroPoint(b, zp)
                tflite.QuantizationParametersAddQuantizedDimension(b, t.quant.axis)
                q_off = tflite.QuantizationParametersEnd(b)
            tflite.TensorStart(b)
            tflite.TensorAddShape(b, shape_off)
            tflite.TensorAddType(b, _TENSOR_TYPES[t.dtype])
            tflite.TensorAddBuffer(b, buffer_of[si][i])
            tflite.TensorAddName(b, name_off)
            if t.variable:
                tflite.TensorAddIsVariable(b, True)
            if q_off is not None:
                tflite.TensorAddQuantization(b, q_off)
            tensor_offsets.append(tflite.TensorEnd(b))

        # Operators
        operator_offsets: list[int] = []
        for spec in mb.operators:
            ins = _int32_vector(b, tflite.OperatorStartInputsVector, spec.inputs)
            outs = _int32_vector(b, tflite.OperatorStartOutputsVector, spec.outputs)
            opt = spec.options.build(b) if spec.options is not None else None
            custom = None
            if spec.custom_options:
                tflite.OperatorStartCustomOptionsVector(b, len(spec.custom_options))
                for byte in reversed(spec.custom_options):
                    b.PrependUint8(byte)
                custom = int(b.EndVector())
            tflite.OperatorStart(b)
            tflite.OperatorAddOpcodeIndex(b, opcode_index[(spec.op, mb._version(spec))])
            tflite.OperatorAddInputs(b, ins)
            tflite.OperatorAddOutputs(b, outs)
            if opt is not None:
                tflite.OperatorAddBuiltinOptionsType(b, opt[0])
                tflite.OperatorAddBuiltinOptions(b, opt[1])
            if custom is not None:
                tflite.OperatorAddCustomOptions(b, custom)
            operator_offsets.append(tflite.OperatorEnd(b))

        sg_tensors = table_vector(tflite.SubGraphStartTensorsVector, tensor_offsets)
        sg_inputs = _int32_vector(b, tflite.SubGraphStartInputsVector, mb.inputs)
        sg_outputs = _int32_vector(b, tflite.SubGraphStartOutputsVector, mb.outputs)
        sg_ops = table_vector(tflite.SubGraphStartOperatorsVector, operator_offsets)
        sg_name = b.CreateString(names[si])
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, sg_tensors)
        tflite.SubGraphAddInputs(b, sg_inputs)
        tflite.SubGraphAddOutputs(b, sg_outputs)
        tflite.SubGraphAddOperators(b, sg_ops)
        tflite.SubGraphAddName(b, sg_name)
        subgraph_offsets.append(tflite.SubGraphEnd(b))

    opcode_offsets: list[int] = []
    custom_names = {name: b.CreateString(name.split(":", 1)[1]) for name, _ in op_versions
                    if name.startswith("CUSTOM:")}
    for name, version in op_versions:
        code = tflite.BuiltinOperator.CUSTOM if name.startswith("CUSTOM:") else builtin_code(name)
        tflite.OperatorCodeStart(b)
        if name in custom_names:
            tflite.OperatorCodeAddCustomCode(b, custom_names[name])
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddVersion(b, version)
        opcode_offsets.append(tflite.OperatorCodeEnd(b))

    m_opcodes = table_vector(tflite.ModelStartOperatorCodesVector, opcode_offsets)
    m_subgraphs = table_vector(tflite.ModelStartSubgraphsVector, subgraph_offsets)
    m_buffers = table_vector(tflite.ModelStartBuffersVector, buffer_offsets)
    m_desc = b.CreateString(description)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, m_opcodes)
    tflite.ModelAddSubgraphs(b, m_subgraphs)
    tflite.ModelAddDescription(b, m_desc)
    tflite.ModelAddBuffers(b, m_buffers)
    model = tflite.ModelEnd(b)
    b.Finish(model, file_identifier=b"TFL3")
    return bytes(b.Output())


# ---------------------------------------------------------------------------------------------
# Quantization helpers (what the TFLite converter does)
# ---------------------------------------------------------------------------------------------


def choose_qparams(fmin: float, fmax: float, qmin: int = -128, qmax: int = 127) -> tuple[float, int]:
    """Asymmetric affine parameters for a float range, nudged to contain 0 (TFLite's ChooseQuantizationParams)."""
    fmin = min(float(fmin), 0.0)
    fmax = max(float(fmax), 0.0)
    if fmax - fmin < 1e-8:
        fmax = fmin + 1e-3
    scale = (fmax - fmin) / (qmax - qmin)
    zp_from_min = qmin - fmin / scale
    zp = int(np.clip(round(zp_from_min), qmin, qmax))
    return float(np.float32(scale)), zp


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: DType = "int8") -> np.ndarray:
    info = np.iinfo(_NUMPY_DTYPES[dtype])
    q = np.round(np.asarray(x, dtype=np.float64) / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(_NUMPY_DTYPES[dtype])


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (np.asarray(q, dtype=np.float64) - zero_point) * scale


def quantize_weights(w: np.ndarray, axis: int | None) -> tuple[np.ndarray, Quant]:
    """Symmetric int8 weights in [-127, 127]; per-channel along ``axis`` or per-tensor (axis None)."""
    w = np.asarray(w, dtype=np.float64)
    if axis is None:
        scales = np.array([max(float(np.abs(w).max()), 1e-6) / 127.0])
        q = np.clip(np.round(w / scales[0]), -127, 127).astype(np.int8)
        return q, Quant.per_tensor(float(np.float32(scales[0])), 0)
    moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    scales = np.maximum(np.abs(moved).max(axis=1), 1e-6) / 127.0
    scales = scales.astype(np.float32).astype(np.float64)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scales.reshape(shape)), -127, 127).astype(np.int8)
    return q, Quant.per_channel(scales.tolist(), axis)


def quantize_bias(b: np.ndarray, input_scale: float, weight_quant: Quant) -> tuple[np.ndarray, Quant]:
    """int32 bias with scale input_scale * weight_scale (per channel when the weights are), zero point 0."""
    b = np.asarray(b, dtype=np.float64)
    wscales = np.array(weight_quant.scale, dtype=np.float64)
    scales = (input_scale * wscales).astype(np.float32).astype(np.float64)
    if scales.size == 1:
        scales = np.full(b.shape, scales[0])
        q = np.round(b / scales).astype(np.int64)
        return np.clip(q, -(2**31), 2**31 - 1).astype(np.int32), Quant.per_tensor(float(scales[0]), 0)
    q = np.round(b / scales).astype(np.int64)
    return np.clip(q, -(2**31), 2**31 - 1).astype(np.int32), Quant.per_channel(scales.tolist(), 0)


# ---------------------------------------------------------------------------------------------
# Single-operator models from random float weights
# ---------------------------------------------------------------------------------------------

ModelDType = Literal["int8", "float32"]


@dataclass(frozen=True)
class ActQ:
    """Quantization of an activation tensor (ignored for float32 models)."""

    scale: float
    zero_point: int

    @property
    def quant(self) -> Quant:
        return Quant.per_tensor(self.scale, self.zero_point)

    @staticmethod
    def from_range(fmin: float, fmax: float) -> ActQ:
        s, z = choose_qparams(fmin, fmax)
        return ActQ(s, z)


def random_actq(rng: np.random.Generator, magnitude: float = 4.0) -> ActQ:
    """A plausible activation range: not always symmetric, sometimes all >= 0 (after a ReLU)."""
    hi = float(rng.uniform(0.25, 1.0)) * magnitude
    kind = int(rng.integers(0, 3))
    lo = 0.0 if kind == 0 else -float(rng.uniform(0.25, 1.0)) * magnitude
    return ActQ.from_range(lo, hi)


def _act_tensor(mb: ModelBuilder, name: str, shape: Sequence[int], dtype: ModelDType, q: ActQ | None) -> int:
    return mb.add_tensor(name, shape, dtype, quant=q.quant if (dtype == "int8" and q is not None) else None)


def _conv_out_size(size: int, k: int, stride: int, dilation: int, padding: PaddingName) -> int:
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size - eff + stride) // stride


def _output_range_guess(in_q: ActQ, w: np.ndarray, fan_in: int, rng: np.random.Generator) -> ActQ:
    """A calibrated-looking output range for a dot-product op: about +-3 sigma of the output."""
    in_std = in_q.scale * 255 / 4.0
    w_std = float(np.std(w)) or 1e-3
    sigma = in_std * w_std * math.sqrt(max(fan_in, 1))
    lo = -3.0 * sigma * float(rng.uniform(0.6, 1.2))
    hi = 3.0 * sigma * float(rng.uniform(0.6, 1.2))
    return ActQ.from_range(lo, hi)


def _weights_and_bias(
    mb: ModelBuilder,
    w: np.ndarray,
    bias: np.ndarray,
    dtype: ModelDType,
    in_q: ActQ,
    axis: int | None,
) -> tuple[int, int]:
    if dtype == "float32":
        return mb.add_const("weights", w.astype(np.float32), "float32"), mb.add_const(
            "bias", bias.astype(np.float32), "float32"
        )
    wq, wquant = quantize_weights(w, axis)
    bq, bquant = quantize_bias(bias, in_q.scale, wquant)
    return mb.add_const("weights", wq, "int8", quant=wquant), mb.add_const("bias", bq, "int32", quant=bquant)


def conv2d_model(
    rng: np.random.Generator,
    *,
    input_shape: tuple[int, int, int, int],
    filters: int,
    kernel: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
    padding: PaddingName = "SAME",
    activation: Activation = "NONE",
    per_channel: bool = True,
    dtype: ModelDType = "int8",
    in_q: ActQ | None = None,
    out_q: ActQ | None = None,
    bias: bool = True,
    dead_filters: Sequence[int] = (),
) -> bytes:
    """CONV_2D on NHWC input with OHWI weights (stride/dilation given as (h, w)). ``dead_filters``: output
    channels with all-zero weights (as in pruned models: per-channel, their tiny weight scale makes the
    bias huge, up to the int32 limits, and the requantization shift very negative)."""
    n, h, wdt, c = input_shape
    kh, kw = kernel
    w = rng.normal(0, 1.0, size=(filters, kh, kw, c)) * rng.uniform(0.2, 1.0, size=(filters, 1, 1, 1))
    w[list(dead_filters)] = 0.0
    b = rng.normal(0, 0.5, size=(filters,))
    in_q = in_q or random_actq(rng)
    out_q = out_q or _output_range_guess(in_q, w, kh * kw * c, rng)
    oh = _conv_out_size(h, kh, stride[0], dilation[0], padding)
    ow = _conv_out_size(wdt, kw, stride[1], dilation[1], padding)
    mb = ModelBuilder()
    x = mb.add_input("input", input_shape, dtype, quant=in_q.quant if dtype == "int8" else None)
    wt, bt = _weights_and_bias(mb, w, b, dtype, in_q, 0 if per_channel else None)
    y = _act_tensor(mb, "output", (n, oh, ow, filters), dtype, out_q)
    opts = Conv2DOptions(padding, stride[1], stride[0], activation, dilation[1], dilation[0])
    mb.add_operator("CONV_2D", [x, wt, bt if bias else -1], [y], opts)
    mb.set_outputs([y])
    return mb.to_bytes()


def depthwise_conv2d_model(
    rng: np.random.Generator,
    *,
    input_shape: tuple[int, int, int, int],
    kernel: tuple[int, int],
    depth_multiplier: int = 1,
    stride: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
    padding: PaddingName = "SAME",
    activation: Activation = "NONE",
    per_channel: bool = True,
    dtype: ModelDType = "int8",
    in_q: ActQ | None = None,
    out_q: ActQ | None = None,
) -> bytes:
    """DEPTHWISE_CONV_2D with 1HWC' weights (C' = C * depth_multiplier), per-channel along axis 3."""
    n, h, wdt, c = input_shape
    kh, kw = kernel
    oc = c * depth_multiplier
    w = rng.normal(0, 1.0, size=(1, kh, kw, oc)) * rng.uniform(0.2, 1.0, size=(1, 1, 1, oc))
    b = rng.normal(0, 0.5, size=(oc,))
    in_q = in_q or random_actq(rng)
    out_q = out_q or _output_range_guess(in_q, w, kh * kw, rng)
    oh = _conv_out_size(h, kh, stride[0], dilation[0], padding)
    ow = _conv_out_size(wdt, kw, stride[1], dilation[1], padding)
    mb = ModelBuilder()
    x = mb.add_input("input", input_shape, dtype, quant=in_q.quant if dtype == "int8" else None)
    wt, bt = _weights_and_bias(mb, w, b, dtype, in_q, 3 if per_channel else None)
    y = _act_tensor(mb, "output", (n, oh, ow, oc), dtype, out_q)
    opts = DepthwiseConv2DOptions(padding, stride[1], stride[0], depth_multiplier, activation, dilation[1], dilation[0])
    mb.add_operator("DEPTHWISE_CONV_2D", [x, wt, bt], [y], opts)
    mb.set_outputs([y])
    return mb.to_bytes()


def fully_connected_model(
    rng: np.random.Generator,
    *,
    input_shape: tuple[int, ...],
    units: int,
    activation: Activation = "NONE",
    per_channel: bool = False,
    keep_num_dims: bool = False,
    dtype: ModelDType = "int8",
    in_q: ActQ | None = None,
    out_q: ActQ | None = None,
    bias: bool = True,
) -> bytes:
    """FULLY_CONNECTED; the last input dimension is the depth (rank-4 inputs are flattened by TFLM)."""
    depth = input_shape[-1]
    batches = math.prod(input_shape) // depth
    w = rng.normal(0, 1.0, size=(units, depth)) * rng.uniform(0.2, 1.0, size=(units, 1))
    b = rng.normal(0, 0.5, size=(units,))
    in_q = in_q or random_actq(rng)
    out_q = out_q or _output_range_guess(in_q, w, depth, rng)
    out_shape = (*input_shape[:-1], units) if keep_num_dims else (batches, units)
    mb = ModelBuilder()
    x = mb.add_input("input", input_shape, dtype, quant=in_q.quant if dtype == "int8" else None)
    wt, bt = _weights_and_bias(mb, w, b, dtype, in_q, 0 if per_channel else None)
    y = _act_tensor(mb, "output", out_shape, dtype, out_q)
    mb.add_operator("FULLY_CONNECTED", [x, wt, bt if bias else -1], [y],
                    FullyConnectedOptions(activation, keep_num_dims))
    mb.set_outputs([y])
    return mb.to_bytes()


def pool2d_model(
    rng: np.random.Generator,
    *,
    op: Literal["AVERAGE_POOL_2D", "MAX_POOL_2D"],
    input_shape: tuple[int, int, int, int],
    filter_hw: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    padding: PaddingName = "VALID",
    activation: Activation = "NONE",
    dtype: ModelDType = "int8",
    q: ActQ | None = None,
) -> bytes:
    """Pooling; input and output share quantization (as TFLM requires for int8)."""
    n, h, w, c = input_shape
    oh = _conv_out_size(h, filter_hw[0], stride[0], 1, padding)
    ow = _conv_out_size(w, filter_hw[1], stride[1], 1, padding)
    q = q or random_actq(rng)
    mb = ModelBuilder()
    x = mb.add_input("input", input_shape, dtype, quant=q.quant if dtype == "int8" else None)
    y = _act_tensor(mb, "output", (n, oh, ow, c), dtype, q)
    opts = Pool2DOptions(filter_hw[1], filter_hw[0], padding, stride[1], stride[0], activation)
    mb.add_operator(op, [x], [y], opts)
    mb.set_outputs([y])
    return mb.to_bytes()


def _broadcast_shape(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(d) for d in np.broadcast_shapes(tuple(a), tuple(b)))


def binary_model(
    rng: np.random.Generator,
    *,
    op: Literal["ADD", "SUB", "MUL"],
    shape_a: tuple[int, ...],
    shape_b: tuple[int, ...],
    activation: Activation = "NONE",
    dtype: ModelDType = "int8",
    a_q: ActQ | None = None,
    b_q: ActQ | None = None,
    out_q: ActQ | None = None,
    const_b: bool = False,
) -> bytes:
    """ADD / SUB / MUL of two tensors (numpy broadcasting); ``const_b`` makes the second a constant."""
    a_q = a_q or random_actq(rng)
    b_q = b_q or random_actq(rng, magnitude=float(rng.uniform(1.0, 8.0)))
    if out_q is None:
        ra = (dequantize(np.array([-128, 127]), a_q.scale, a_q.zero_point))
        rb = (dequantize(np.array([-128, 127]), b_q.scale, b_q.zero_point))
        if op == "MUL":
            prods = [x * y for x in ra for y in rb]
            lo, hi = min(prods), max(prods)
        elif op == "ADD":
            lo, hi = ra[0] + rb[0], ra[1] + rb[1]
        else:
            lo, hi = ra[0] - rb[1], ra[1] - rb[0]
        shrink = float(rng.uniform(0.5, 1.0))
        out_q = ActQ.from_range(lo * shrink, hi * shrink)
    mb = ModelBuilder()
    a = mb.add_input("a", shape_a, dtype, quant=a_q.quant if dtype == "int8" else None)
    if const_b:
        if dtype == "int8":
            data = rng.integers(-128, 128, size=shape_b).astype(np.int8)
            bt = mb.add_const("b", data, "int8", quant=b_q.quant)
        else:
            bt = mb.add_const("b", rng.normal(0, 2.0, size=shape_b).astype(np.float32), "float32")
    else:
        bt = mb.add_input("b", shape_b, dtype, quant=b_q.quant if dtype == "int8" else None)
    y = _act_tensor(mb, "output", _broadcast_shape(shape_a, shape_b), dtype, out_q)
    options: Options = {"ADD": AddOptions, "SUB": SubOptions, "MUL": MulOptions}[op](activation)
    mb.add_operator(op, [a, bt], [y], options)
    mb.set_outputs([y])
    return mb.to_bytes()


# Output quantization TFLM requires for int8 LOGISTIC / TANH / SOFTMAX.
FIXED_OUTPUT_Q: dict[str, ActQ] = {
    "LOGISTIC": ActQ(1.0 / 256.0, -128),
    "TANH": ActQ(1.0 / 128.0, 0),
    "SOFTMAX": ActQ(1.0 / 256.0, -128),
}


def unary_model(
    rng: np.random.Generator,
    *,
    op: Literal["RELU", "RELU6", "RELU_N1_TO_1", "LOGISTIC", "TANH", "SOFTMAX"],
    shape: tuple[int, ...],
    dtype: ModelDType = "int8",
    in_q: ActQ | None = None,
    out_q: ActQ | None = None,
    beta: float = 1.0,
) -> bytes:
    """One elementwise activation (or SOFTMAX along the last axis)."""
    in_q = in_q or random_actq(rng, magnitude=float(rng.uniform(2.0, 10.0)))
    if out_q is None:
        if op in FIXED_OUTPUT_Q:
            out_q = FIXED_OUTPUT_Q[op]
        elif op == "RELU6":
            out_q = ActQ.from_range(0.0, 6.0 * float(rng.uniform(0.5, 1.2)))
        elif op == "RELU_N1_TO_1":
            out_q = ActQ.from_range(-1.0, 1.0)
        else:
            hi = dequantize(np.array([127]), in_q.scale, in_q.zero_point)[0]
            out_q = ActQ.from_range(0.0, max(float(hi), 0.1) * float(rng.uniform(0.5, 1.5)))
    mb = ModelBuilder()
    x = mb.add_input("input", shape, dtype, quant=in_q.quant if dtype == "int8" else None)
    y = _act_tensor(mb, "output", shape, dtype, out_q)
    mb.add_operator(op, [x], [y], SoftmaxOptions(beta) if op == "SOFTMAX" else None)
    mb.set_outputs([y])
    return mb.to_bytes()


def quantize_model(
    *,
    shape: tuple[int, ...],
    in_dtype: Literal["float32", "int8"],
    in_q: ActQ | None,
    out_q: ActQ,
) -> bytes:
    """QUANTIZE float32->int8 (in_q None) or int8->int8 requantization."""
    mb = ModelBuilder()
    x = mb.add_input("input", shape, in_dtype, quant=in_q.quant if in_q is not None else None)
    y = mb.add_tensor("output", shape, "int8", quant=out_q.quant)
    mb.add_operator("QUANTIZE", [x], [y])
    mb.set_outputs([y])
    return mb.to_bytes()


def dequantize_model(*, shape: tuple[int, ...], in_q: ActQ) -> bytes:
    """DEQUANTIZE int8->float32."""
    mb = ModelBuilder()
    x = mb.add_input("input", shape, "int8", quant=in_q.quant)
    y = mb.add_tensor("output", shape, "float32")
    mb.add_operator("DEQUANTIZE", [x], [y])
    mb.set_outputs([y])
    return mb.to_bytes()


def concatenation_model(
    rng: np.random.Generator,
    *,
    shapes: Sequence[tuple[int, ...]],
    axis: int,
    dtype: ModelDType = "int8",
    in_qs: Sequence[ActQ] | None = None,
    out_q: ActQ | None = None,
    activation: Activation = "NONE",
) -> bytes:
    """CONCATENATION of several graph inputs.

    TFLM requires int8 inputs and output to share one scale and zero point (the converter unifies
    them), so by default every tensor gets the same random quantization.
    """
    rank = len(shapes[0])
    ax = axis % rank
    out_shape = list(shapes[0])
    out_shape[ax] = sum(s[ax] for s in shapes)
    if out_q is None:
        out_q = in_qs[0] if in_qs else random_actq(rng)
    in_qs = list(in_qs) if in_qs is not None else [out_q for _ in shapes]
    mb = ModelBuilder()
    xs = [
        mb.add_input(f"input{i}", s, dtype, quant=q.quant if dtype == "int8" else None)
        for i, (s, q) in enumerate(zip(shapes, in_qs, strict=True))
    ]
    y = _act_tensor(mb, "output", out_shape, dtype, out_q)
    mb.add_operator("CONCATENATION", xs, [y], ConcatenationOptions(axis, activation))
    mb.set_outputs([y])
    return mb.to_bytes()


def pad_model(
    rng: np.random.Generator,
    *,
    shape: tuple[int, ...],
    paddings: Sequence[tuple[int, int]],
    dtype: ModelDType = "int8",
    q: ActQ | None = None,
    v2_value: float | None = None,
) -> bytes:
    """PAD (or PADV2 with a constant pad value when ``v2_value`` is given); paddings is [(before, after)]*rank."""
    q = q or random_actq(rng)
    out_shape = tuple(d + a + b for d, (a, b) in zip(shape, paddings, strict=True))
    mb = ModelBuilder()
    x = mb.add_input("input", shape, dtype, quant=q.quant if dtype == "int8" else None)
    p = mb.add_const("paddings", np.array(paddings, dtype=np.int32).reshape(len(shape), 2), "int32")
    y = _act_tensor(mb, "output", out_shape, dtype, q)
    if v2_value is None:
        mb.add_operator("PAD", [x, p], [y])
    else:
        if dtype == "int8":
            cv = mb.add_const("value", quantize(np.array([v2_value]), q.scale, q.zero_point), "int8", quant=q.quant)
        else:
            cv = mb.add_const("value", np.array([v2_value], dtype=np.float32), "float32")
        mb.add_operator("PADV2", [x, p, cv], [y])
    mb.set_outputs([y])
    return mb.to_bytes()


def mean_model(
    rng: np.random.Generator,
    *,
    shape: tuple[int, ...],
    axes: Sequence[int],
    keep_dims: bool,
    dtype: ModelDType = "int8",
    in_q: ActQ | None = None,
    out_q: ActQ | None = None,
) -> bytes:
    """MEAN over ``axes`` (a constant int32 tensor), keep_dims either way."""
    in_q = in_q or random_actq(rng)
    if out_q is None:
        out_q = in_q if rng.integers(0, 2) == 0 else random_actq(rng, magnitude=float(rng.uniform(1.0, 4.0)))
    rank = len(shape)
    norm = sorted({a % rank for a in axes})
    if keep_dims:
        out_shape = tuple(1 if i in norm else d for i, d in enumerate(shape))
    else:
        out_shape = tuple(d for i, d in enumerate(shape) if i not in norm)
    mb = ModelBuilder()
    x = mb.add_input("input", shape, dtype, quant=in_q.quant if dtype == "int8" else None)
    ax = mb.add_const("axes", np.array(list(axes), dtype=np.int32), "int32")
    y = _act_tensor(mb, "output", out_shape, dtype, out_q)
    mb.add_operator("MEAN", [x, ax], [y], ReducerOptions(keep_dims))
    mb.set_outputs([y])
    return mb.to_bytes()


def reshape_model(
    rng: np.random.Generator,
    *,
    shape: tuple[int, ...],
    new_shape: tuple[int, ...],
    dtype: ModelDType = "int8",
    shape_tensor: bool = True,
) -> bytes:
    """RESHAPE (int8 keeps the quantization); the new shape as a constant input tensor and in options."""
    q = random_actq(rng)
    mb = ModelBuilder()
    x = mb.add_input("input", shape, dtype, quant=q.quant if dtype == "int8" else None)
    ins = [x]
    if shape_tensor:
        ins.append(mb.add_const("shape", np.array(new_shape, dtype=np.int32), "int32"))
    y = _act_tensor(mb, "output", new_shape, dtype, q)
    mb.add_operator("RESHAPE", ins, [y], ReshapeOptions(new_shape))
    mb.set_outputs([y])
    return mb.to_bytes()


def random_input(rng: np.random.Generator, shape: Sequence[int], dtype: DType, scale: float = 3.0) -> np.ndarray:
    """Random input data: full int8 range, or normal floats with standard deviation ``scale``."""
    if dtype == "float32":
        return (rng.normal(0.0, scale, size=tuple(shape))).astype(np.float32)
    info = np.iinfo(_NUMPY_DTYPES[dtype])
    return rng.integers(info.min, int(info.max) + 1, size=tuple(shape)).astype(_NUMPY_DTYPES[dtype])


# ---- issue 18: data movement, reductions, resize ----
# Element types the data-movement tests also use (their tensors are graph inputs/outputs as well).
_TENSOR_TYPES.setdefault("int64", tflite.TensorType.INT64)
_TENSOR_TYPES.setdefault("bool", tflite.TensorType.BOOL)
_NUMPY_DTYPES.setdefault("int64", np.int64)
_NUMPY_DTYPES.setdefault("bool", np.bool_)
for _op in ("STRIDED_SLICE", "SLICE", "SPLIT", "SPLIT_V", "PACK", "UNPACK", "TRANSPOSE", "GATHER", "DEPTH_TO_SPACE",
            "SPACE_TO_DEPTH", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR",
            "SUM", "REDUCE_MAX", "REDUCE_MIN", "ARG_MAX", "ARG_MIN", "EXPAND_DIMS"):
    _INT8_VERSIONS.setdefault(_op, 2)


@dataclass(frozen=True)
class TableOptions(Options):
    """Any builtin option table by name, e.g. ``TableOptions("PackOptions", (("ValuesCount", 2), ("Axis", 0)))``:
    the fields are added in order with the schema package's ``<table>Add<Field>`` functions."""

    table: str
    fields: tuple[tuple[str, Any], ...] = ()

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        return _build_table(b, self.table, **dict(self.fields))


# option tables of the operators of this section (converter defaults when a model builder gives none)
for _op, _tab in (("STRIDED_SLICE", "StridedSliceOptions"), ("SLICE", "SliceOptions"), ("SPLIT", "SplitOptions"),
                  ("SPLIT_V", "SplitVOptions"), ("PACK", "PackOptions"), ("UNPACK", "UnpackOptions"),
                  ("TRANSPOSE", "TransposeOptions"), ("GATHER", "GatherOptions"),
                  ("DEPTH_TO_SPACE", "DepthToSpaceOptions"), ("SPACE_TO_DEPTH", "SpaceToDepthOptions"),
                  ("BATCH_TO_SPACE_ND", "BatchToSpaceNDOptions"), ("SPACE_TO_BATCH_ND", "SpaceToBatchNDOptions"),
                  ("RESIZE_BILINEAR", "ResizeBilinearOptions"),
                  ("RESIZE_NEAREST_NEIGHBOR", "ResizeNearestNeighborOptions"), ("SUM", "ReducerOptions"),
                  ("REDUCE_MAX", "ReducerOptions"), ("REDUCE_MIN", "ReducerOptions"), ("ARG_MAX", "ArgMaxOptions"),
                  ("ARG_MIN", "ArgMinOptions"), ("EXPAND_DIMS", "ExpandDimsOptions"), ("SQUEEZE", "SqueezeOptions")):
    _DEFAULT_OPTIONS.setdefault(_op, TableOptions(_tab))


@dataclass(frozen=True)
class TIn:
    """An operator input of :func:`op_model`: a graph input (``data`` None) or a constant."""

    shape: tuple[int, ...]
    dtype: str
    data: np.ndarray | None = None
    q: ActQ | None = None


@dataclass(frozen=True)
class TOut:
    shape: tuple[int, ...]
    dtype: str
    q: ActQ | None = None


def op_model(op: str, inputs: Sequence[TIn | None], outputs: Sequence[TOut], options: Options | None = None) -> bytes:
    """A model of one operator: non-constant inputs become graph inputs (in order), every output a
    graph output; ``None`` marks an omitted optional input."""
    mb = ModelBuilder()
    ins: list[int] = []
    for k, t in enumerate(inputs):
        if t is None:
            ins.append(-1)
            continue
        quant = t.q.quant if t.q is not None else None
        if t.data is None:
            ins.append(mb.add_input(f"input{k}", t.shape, t.dtype, quant=quant))  # type: ignore[arg-type]
        else:
            ins.append(mb.add_tensor(f"const{k}", t.shape, t.dtype, quant=quant, data=np.asarray(t.data)))  # type: ignore[arg-type]
    outs = [mb.add_tensor(f"output{k}", t.shape, t.dtype, quant=t.q.quant if t.q is not None else None)  # type: ignore[arg-type]
            for k, t in enumerate(outputs)]
    mb.add_operator(op, ins, outs, options)
    mb.set_outputs(outs)
    return mb.to_bytes()


def random_data(rng: np.random.Generator, shape: Sequence[int], dtype: str, scale: float = 3.0) -> np.ndarray:
    """Random values of any element type of this section (bool, int64 too)."""
    if dtype == "bool":
        return rng.integers(0, 2, size=tuple(shape)).astype(np.bool_)
    if dtype == "int64":
        return rng.integers(-(2**40), 2**40, size=tuple(shape)).astype(np.int64)
    return random_input(rng, shape, dtype, scale)  # type: ignore[arg-type]


# ---- issue 18: elementwise operators ----
# builtin option table of each elementwise operator (None: the operator has none)
EW_OPTION_TABLES: dict[str, str | None] = {
    "SUB": "SubOptions", "DIV": "DivOptions", "MAXIMUM": "MaximumMinimumOptions",
    "MINIMUM": "MaximumMinimumOptions", "SQUARED_DIFFERENCE": "SquaredDifferenceOptions", "PRELU": None,
    "EQUAL": "EqualOptions", "NOT_EQUAL": "NotEqualOptions", "LESS": "LessOptions",
    "LESS_EQUAL": "LessEqualOptions", "GREATER": "GreaterOptions", "GREATER_EQUAL": "GreaterEqualOptions",
    "LOGICAL_AND": "LogicalAndOptions", "LOGICAL_OR": "LogicalOrOptions", "LOGICAL_NOT": "LogicalNotOptions",
    "SELECT_V2": "SelectV2Options", "ABS": "AbsOptions", "NEG": "NegOptions", "EXP": "ExpOptions",
    "LOG": None, "SQRT": None, "RSQRT": None, "SQUARE": "SquareOptions", "ELU": None,
    "HARD_SWISH": "HardSwishOptions", "LEAKY_RELU": "LeakyReluOptions", "RELU_N1_TO_1": None,
    "RELU_0_TO_1": None, "CAST": "CastOptions", "ZEROS_LIKE": "ZerosLikeOptions",
}
COMPARISONS = ("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL")


def _ew_options(op: str, activation: Activation = "NONE", alpha: float = 0.2) -> Options | None:
    table = EW_OPTION_TABLES.get(op)
    if table is None:
        return None
    if op in ("SUB", "DIV"):
        return TableOptions(table, (("FusedActivationFunction", _ACTIVATIONS[activation]),))
    if op == "LEAKY_RELU":
        return TableOptions(table, (("Alpha", float(alpha)),))
    return TableOptions(table)


def ew_float_fn(op: str, alpha: float = 0.2) -> Any:
    """numpy version of an elementwise operator (ranges for output quantization, non-TFLM checks)."""
    return {
        "SUB": np.subtract, "DIV": np.divide, "MAXIMUM": np.maximum, "MINIMUM": np.minimum,
        "SQUARED_DIFFERENCE": lambda a, b: (a - b) ** 2, "PRELU": lambda x, a: np.where(x >= 0, x, x * a),
        "ABS": np.abs, "NEG": np.negative, "EXP": np.exp, "LOG": np.log, "SQRT": np.sqrt,
        "RSQRT": lambda x: 1.0 / np.sqrt(x), "SQUARE": np.square, "ELU": lambda x: np.where(x < 0, np.expm1(x), x),
        "HARD_SWISH": lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
        "LEAKY_RELU": lambda x: np.where(x > 0, x, x * alpha),
        "RELU_N1_TO_1": lambda x: np.clip(x, -1.0, 1.0), "RELU_0_TO_1": lambda x: np.clip(x, 0.0, 1.0),
    }[op]


def ew_quant(rng: np.random.Generator, dtype: str, lo: float, hi: float) -> Quant | None:
    """int8: asymmetric parameters for [lo, hi] (nudged to contain 0); int16: symmetric, zero point 0."""
    if dtype == "int8":
        s, z = choose_qparams(lo, hi)
        return Quant.per_tensor(s, z)
    if dtype == "int16":
        m = max(abs(lo), abs(hi), 1e-3)
        return Quant.per_tensor(float(np.float32(m / 32767.0)), 0)
    return None


def _deq_samples(q: Quant | None, dtype: str, rng: np.random.Generator, n: int = 512) -> np.ndarray:
    if q is None:
        return rng.normal(0.0, 3.0, size=n)
    info = np.iinfo(_NUMPY_DTYPES[dtype])
    v = np.concatenate([[info.min, info.max, q.zero_point[0]], rng.integers(info.min, int(info.max) + 1, size=n)])
    return (v.astype(np.float64) - q.zero_point[0]) * q.scale[0]


def _out_quant(rng: np.random.Generator, dtype: str, values: np.ndarray) -> Quant | None:
    v = values[np.isfinite(values)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (-1.0, 1.0)
    shrink = float(rng.uniform(0.6, 1.0))
    return ew_quant(rng, dtype, lo * shrink, hi * shrink)


def ew_binary_model(
    rng: np.random.Generator,
    *,
    op: str,
    shape_a: tuple[int, ...],
    shape_b: tuple[int, ...],
    dtype: DType = "int8",
    activation: Activation = "NONE",
    a_q: Quant | None = None,
    b_q: Quant | None = None,
    out_q: Quant | None = None,
    const_b: bool = False,
    b_dtype: DType | None = None,
) -> bytes:
    """A two-input elementwise operator (numpy broadcasting). Quantized inputs get random ranges unless
    given; the output range follows the operator on sampled inputs. Comparisons and LOGICAL_AND/OR write
    bool; PRELU's second input is alpha (``b_dtype`` int8 for an int16 PRELU)."""
    b_dtype = b_dtype or dtype
    quantized = dtype in ("int8", "int16")
    if quantized and a_q is None:
        mag = float(rng.uniform(1.0, 8.0))
        a_q = ew_quant(rng, dtype, -mag * float(rng.uniform(0.0, 1.0)), mag)
    if b_dtype in ("int8", "int16") and b_q is None:
        mag = float(rng.uniform(0.25, 4.0)) if op == "PRELU" else float(rng.uniform(1.0, 8.0))
        b_q = ew_quant(rng, b_dtype, -mag * float(rng.uniform(0.0, 1.0)), mag)
    out_dtype: DType = "bool" if op in COMPARISONS or op.startswith("LOGICAL") else dtype
    if quantized and out_q is None and out_dtype != "bool":
        xa, xb = _deq_samples(a_q, dtype, rng), _deq_samples(b_q, b_dtype, rng)
        if op == "DIV":
            xb = np.where(np.abs(xb) < 0.25 * max(float(np.abs(xb).max()), 1e-6), np.nan, xb)
        with np.errstate(all="ignore"):
            vals = ew_float_fn(op)(xa[:, None], xb[None, :]).reshape(-1)
        out_q = _out_quant(rng, dtype, vals)
    mb = ModelBuilder()
    a = mb.add_input("a", shape_a, dtype, quant=a_q if quantized else None)
    bq = b_q if b_dtype in ("int8", "int16") else None
    if const_b:
        if b_dtype == "float32":
            data: np.ndarray = rng.normal(0.0, 2.0, size=shape_b).astype(np.float32)
        elif b_dtype == "bool":
            data = rng.integers(0, 2, size=shape_b).astype(np.bool_)
        else:
            info = np.iinfo(_NUMPY_DTYPES[b_dtype])
            lo = max(int(info.min), -1000) if b_dtype in ("int16", "int32") else int(info.min)
            hi = min(int(info.max), 1000) if b_dtype in ("int16", "int32") else int(info.max)
            data = rng.integers(lo, hi + 1, size=shape_b).astype(_NUMPY_DTYPES[b_dtype])
            if op == "DIV":
                zp = int(bq.zero_point[0]) if bq is not None else 0
                data = np.where(data == zp, zp + 1 if zp < hi else zp - 1, data).astype(_NUMPY_DTYPES[b_dtype])
        bt = mb.add_const("b", data, b_dtype, quant=bq)
    else:
        bt = mb.add_input("b", shape_b, b_dtype, quant=bq)
    out_shape = shape_a if op == "PRELU" else _broadcast_shape(shape_a, shape_b)
    y = mb.add_tensor("output", out_shape, out_dtype, quant=out_q if out_dtype in ("int8", "int16") else None)
    mb.add_operator(op, [a, bt], [y], _ew_options(op, activation))
    mb.set_outputs([y])
    return mb.to_bytes()


def ew_unary_model(
    rng: np.random.Generator,
    *,
    op: str,
    shape: tuple[int, ...],
    dtype: DType = "int8",
    in_q: Quant | None = None,
    out_q: Quant | None = None,
    alpha: float = 0.2,
    same_q: bool = False,
    quantized: bool = True,
) -> bytes:
    """A one-input elementwise operator; the output range follows the operator on the input range
    (``same_q``: the output keeps the input quantization; ``quantized=False``: int tensors without
    quantization parameters)."""
    quantized = quantized and dtype in ("int8", "int16")
    if quantized and in_q is None:
        mag = float(rng.uniform(1.0, 8.0))
        in_q = ew_quant(rng, dtype, -mag * float(rng.uniform(0.2, 1.0)), mag)
    if quantized and out_q is None:
        if same_q:
            out_q = in_q
        else:
            with np.errstate(all="ignore"):
                vals = ew_float_fn(op, alpha)(_deq_samples(in_q, dtype, rng))
            out_q = _out_quant(rng, dtype, np.asarray(vals, dtype=np.float64))
    out_dtype: DType = "bool" if op == "LOGICAL_NOT" else dtype
    mb = ModelBuilder()
    x = mb.add_input("input", shape, dtype, quant=in_q if quantized else None)
    y = mb.add_tensor("output", shape, out_dtype, quant=out_q if quantized else None)
    mb.add_operator(op, [x], [y], _ew_options(op, alpha=alpha))
    mb.set_outputs([y])
    return mb.to_bytes()


def select_v2_model(
    rng: np.random.Generator,
    *,
    shape_c: tuple[int, ...],
    shape_a: tuple[int, ...],
    shape_b: tuple[int, ...],
    dtype: DType = "float32",
) -> bytes:
    """SELECT_V2(condition, a, b) with broadcasting; quantized values share one quantization."""
    q = ew_quant(rng, dtype, -4.0, 3.0) if dtype in ("int8", "int16") else None
    mb = ModelBuilder()
    c = mb.add_input("cond", shape_c, "bool")
    a = mb.add_input("a", shape_a, dtype, quant=q)
    b = mb.add_input("b", shape_b, dtype, quant=q)
    out_shape = _broadcast_shape(_broadcast_shape(shape_c, shape_a), shape_b)
    y = mb.add_tensor("output", out_shape, dtype, quant=q)
    mb.add_operator("SELECT_V2", [c, a, b], [y], _ew_options("SELECT_V2"))
    mb.set_outputs([y])
    return mb.to_bytes()


def cast_model(*, shape: tuple[int, ...], in_dtype: DType, out_dtype: DType) -> bytes:
    mb = ModelBuilder()
    x = mb.add_input("input", shape, in_dtype)
    y = mb.add_tensor("output", shape, out_dtype)
    mb.add_operator("CAST", [x], [y], TableOptions("CastOptions", (("InDataType", _TENSOR_TYPES[in_dtype]),
                                                                    ("OutDataType", _TENSOR_TYPES[out_dtype]))))
    mb.set_outputs([y])
    return mb.to_bytes()


def chain_model(rng: np.random.Generator, n_ops: int, *, shape: tuple[int, int, int, int] = (1, 8, 8, 8)) -> bytes:
    """A long int8 chain for planner scaling (bench/planner_scale.py, tests): ``n_ops`` operators repeating
    CONV_2D 3x3, DEPTHWISE_CONV_2D 3x3, CONV_2D 1x1 and an ADD of the last two outputs (a short residual), all
    SAME padding on ``shape``; the operators of one kind share their weight tensors (a small file)."""
    _, h, w, c = shape
    q = ActQ(0.05, 0)
    mb = ModelBuilder()
    x = mb.add_input("input", shape, "int8", quant=q.quant)
    consts: dict[str, tuple[int, int]] = {}
    for kind, wshape, axis in (("k3", (c, 3, 3, c), 0), ("dw", (1, 3, 3, c), 3), ("k1", (c, 1, 1, c), 0)):
        wq, wquant = quantize_weights(rng.normal(0, 0.3, size=wshape), axis)
        bq, bquant = quantize_bias(rng.normal(0, 0.2, size=(c,)), q.scale, wquant)
        consts[kind] = (mb.add_const(f"w_{kind}", wq, "int8", quant=wquant),
                        mb.add_const(f"b_{kind}", bq, "int32", quant=bquant))
    prev, cur = x, x
    for i in range(n_ops):
        y = mb.add_tensor(f"t{i}", shape, "int8", quant=q.quant)
        kind = i % 4
        if kind == 0:
            mb.add_operator("CONV_2D", [cur, *consts["k3"]], [y], Conv2DOptions("SAME", 1, 1, "RELU"))
        elif kind == 1:
            mb.add_operator("DEPTHWISE_CONV_2D", [cur, *consts["dw"]], [y],
                            DepthwiseConv2DOptions("SAME", 1, 1, 1, "RELU6"))
        elif kind == 2:
            mb.add_operator("CONV_2D", [cur, *consts["k1"]], [y], Conv2DOptions("SAME", 1, 1, "NONE"))
        else:
            mb.add_operator("ADD", [cur, prev], [y], AddOptions("NONE"))
        prev, cur = cur, y
    mb.set_outputs([cur])
    return mb.to_bytes()


# ---- issue 18: transpose conv, batch matmul, quantize ----


def quant_convert_model(*, op: Literal["QUANTIZE", "DEQUANTIZE"], shape: tuple[int, ...], in_dtype: DType,
                        out_dtype: DType, in_q: ActQ | None, out_q: ActQ | None) -> bytes:
    """One QUANTIZE or DEQUANTIZE between any two dtypes (a float32 side has no quantization)."""
    mb = ModelBuilder()
    x = mb.add_input("input", shape, in_dtype, quant=in_q.quant if in_q is not None else None)
    y = mb.add_tensor("output", shape, out_dtype, quant=out_q.quant if out_q is not None else None)
    mb.add_operator(op, [x], [y])
    mb.set_outputs([y])
    return mb.to_bytes()


def random_q(rng: np.random.Generator, dtype: DType, magnitude: float = 4.0) -> ActQ:
    """Activation quantization for ``dtype``: int8/uint8 asymmetric (uint8: zero point in [0, 255]),
    int16 symmetric (zero point 0, as TFLM's 16x8 scheme requires), int32 any scale, zero point 0."""
    if dtype == "int16":
        return ActQ(float(np.float32(magnitude * float(rng.uniform(0.3, 1.0)) / 32767.0)), 0)
    if dtype == "int32":
        return ActQ(float(np.float32(magnitude * float(rng.uniform(0.3, 1.0)) / 2**20)), 0)
    q = random_actq(rng, magnitude)
    if dtype == "uint8":
        return ActQ(q.scale, q.zero_point + 128)
    return q


_TENSOR_TYPES.setdefault("int64", tflite.TensorType.INT64)  # 16x8 TRANSPOSE_CONV bias
_NUMPY_DTYPES.setdefault("int64", np.int64)


@dataclass(frozen=True)
class TransposeConvOptions(Options):
    padding: PaddingName = "SAME"
    stride_w: int = 1
    stride_h: int = 1
    activation: Activation = "NONE"

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        return _build_table(b, "TransposeConvOptions", Padding=_PADDINGS[self.padding], StrideW=self.stride_w,
                            StrideH=self.stride_h, FusedActivationFunction=_ACTIVATIONS[self.activation])


@dataclass(frozen=True)
class BatchMatMulOptions(Options):
    adj_x: bool = False
    adj_y: bool = False

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        return _build_table(b, "BatchMatMulOptions", AdjX=self.adj_x, AdjY=self.adj_y)


@dataclass(frozen=True)
class L2NormOptions(_ActivationOnlyOptions):
    _table = "L2NormOptions"


@dataclass(frozen=True)
class LogSoftmaxOptions(_EmptyOptions):
    _table = "LogSoftmaxOptions"


def transpose_conv_model(
    rng: np.random.Generator,
    *,
    input_shape: tuple[int, int, int, int],
    filters: int,
    kernel: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    padding: PaddingName = "SAME",
    dtype: Literal["int8", "float32", "int16"] = "int8",
    per_channel: bool = True,
    bias: bool = True,
    bias16: bool = False,
    activation: Activation = "NONE",
    out_hw: tuple[int, int] | None = None,
) -> bytes:
    """TRANSPOSE_CONV (the converter's layout: output-shape tensor, OHWI filter, input, bias). The output size
    is ``in * stride`` (SAME) or ``(in - 1) * stride + k`` (VALID) unless ``out_hw`` gives another size that
    the same convolution maps back to the input. ``dtype="int16"``: 16x8 (int8 weights, int64 bias, or int16
    bias when ``bias16``)."""
    n, h, w, c = input_shape
    kh, kw = kernel
    if out_hw is None:
        out_hw = (h * stride[0], w * stride[1]) if padding == "SAME" else ((h - 1) * stride[0] + kh,
                                                                          (w - 1) * stride[1] + kw)
    oh, ow = out_hw
    wf = rng.normal(0, 1.0, size=(filters, kh, kw, c)) * rng.uniform(0.2, 1.0, size=(filters, 1, 1, 1))
    bf = rng.normal(0, 0.5, size=(filters,))
    mb = ModelBuilder()
    shape_t = mb.add_const("output_shape", np.array([n, oh, ow, filters], np.int32), "int32")
    ins: list[int]
    if dtype == "float32":
        x = mb.add_input("input", input_shape, "float32")
        wt = mb.add_const("weights", wf.astype(np.float32), "float32")
        bt = mb.add_const("bias", bf.astype(np.float32), "float32")
        y = mb.add_tensor("output", (n, oh, ow, filters), "float32")
    else:
        in_q = random_q(rng, dtype)
        fan_in = max(1, kh * kw * c // max(1, stride[0] * stride[1]))
        out_q = _output_range_guess(in_q if dtype == "int8" else ActQ(in_q.scale * 256, 0), wf, fan_in, rng)
        if dtype == "int16":
            out_q = ActQ(float(np.float32(out_q.scale * 255 / 65535)), 0)
        x = mb.add_input("input", input_shape, dtype, quant=in_q.quant)
        wq, wquant = quantize_weights(wf, 0 if per_channel else None)
        wt = mb.add_const("weights", wq, "int8", quant=wquant)
        bq, bquant = quantize_bias(bf, in_q.scale, wquant)
        if dtype == "int16":
            bdt: DType = "int16" if bias16 else "int64"  # type: ignore[assignment]
            lim = 32767 if bias16 else 2**40
            bt = mb.add_const("bias", np.clip(bq.astype(np.int64), -lim, lim), bdt, quant=bquant)
        else:
            bt = mb.add_const("bias", bq, "int32", quant=bquant)
        y = mb.add_tensor("output", (n, oh, ow, filters), dtype, quant=out_q.quant)
    ins = [shape_t, wt, x, bt] if bias else [shape_t, wt, x]
    mb.add_operator("TRANSPOSE_CONV", ins, [y], TransposeConvOptions(padding, stride[1], stride[0], activation),
                    version=3 if dtype != "float32" else 1)
    mb.set_outputs([y])
    return mb.to_bytes()


def batch_matmul_model(
    rng: np.random.Generator,
    *,
    lhs_shape: tuple[int, ...],
    rhs_shape: tuple[int, ...],
    adj_x: bool = False,
    adj_y: bool = False,
    dtype: Literal["int8", "int16", "float32"] = "int8",
    const_rhs: bool = False,
) -> bytes:
    """BATCH_MATMUL of two inputs (or a constant RHS); the output shape follows TFLM's broadcasting."""
    rank = max(len(lhs_shape), len(rhs_shape))
    la = [1] * (rank - len(lhs_shape)) + list(lhs_shape)
    lb = [1] * (rank - len(rhs_shape)) + list(rhs_shape)
    m = la[-1] if adj_x else la[-2]
    k = la[-2] if adj_x else la[-1]
    nn = lb[-2] if adj_y else lb[-1]
    out_shape = tuple(max(p, q) for p, q in zip(la[:-2], lb[:-2], strict=True)) + (m, nn)
    mb = ModelBuilder()
    qa = random_q(rng, dtype) if dtype != "float32" else None  # type: ignore[arg-type]
    qb = random_q(rng, dtype) if dtype != "float32" else None  # type: ignore[arg-type]
    a = mb.add_input("lhs", lhs_shape, dtype, quant=qa.quant if qa else None)
    if const_rhs:
        data = (rng.normal(0, 1.0, rhs_shape).astype(np.float32) if dtype == "float32"
                else random_input(rng, rhs_shape, dtype))
        b = mb.add_const("rhs", data, dtype, quant=qb.quant if qb else None)
    else:
        b = mb.add_input("rhs", rhs_shape, dtype, quant=qb.quant if qb else None)
    out_q = None
    if qa is not None and qb is not None:
        # the 1st..99th percentile of the real-valued product of full-range operands, widened a little
        da = dequantize(random_input(rng, (m, k), dtype), qa.scale, qa.zero_point)
        db = dequantize(random_input(rng, (k, nn), dtype), qb.scale, qb.zero_point)
        prod = da @ db
        lo, hi = (float(v) * float(rng.uniform(1.0, 1.4)) for v in np.percentile(prod, [1, 99]))
        if dtype == "int16":
            top = max(abs(lo), abs(hi), 1e-6)
            out_q = ActQ(float(np.float32(top / 32767)), 0)
        else:
            out_q = ActQ.from_range(lo, hi)
    y = mb.add_tensor("output", out_shape, dtype, quant=out_q.quant if out_q else None)
    mb.add_operator("BATCH_MATMUL", [a, b], [y], BatchMatMulOptions(adj_x, adj_y))
    mb.set_outputs([y])
    return mb.to_bytes()


def l2norm_model(rng: np.random.Generator, *, shape: tuple[int, ...], dtype: Literal["int8", "float32"] = "int8",
                 in_q: ActQ | None = None) -> bytes:
    """L2_NORMALIZATION over the last axis; int8 output scale 1/128, zero point 0 (TFLM requires it)."""
    mb = ModelBuilder()
    q = in_q or random_actq(rng) if dtype == "int8" else None
    x = mb.add_input("input", shape, dtype, quant=q.quant if q else None)
    y = mb.add_tensor("output", shape, dtype, quant=ActQ(1.0 / 128.0, 0).quant if dtype == "int8" else None)
    mb.add_operator("L2_NORMALIZATION", [x], [y], L2NormOptions("NONE"), version=2 if dtype == "int8" else 1)
    mb.set_outputs([y])
    return mb.to_bytes()


def log_softmax_model(rng: np.random.Generator, *, shape: tuple[int, ...],
                      dtype: Literal["int8", "float32"] = "int8", in_q: ActQ | None = None) -> bytes:
    """LOG_SOFTMAX over the last axis; int8 output scale 16/256, zero point 127 (TFLM requires it)."""
    mb = ModelBuilder()
    q = (in_q or random_actq(rng, magnitude=float(rng.uniform(2.0, 12.0)))) if dtype == "int8" else None
    x = mb.add_input("input", shape, dtype, quant=q.quant if q else None)
    y = mb.add_tensor("output", shape, dtype, quant=ActQ(16.0 / 256.0, 127).quant if dtype == "int8" else None)
    mb.add_operator("LOG_SOFTMAX", [x], [y], LogSoftmaxOptions(), version=2 if dtype == "int8" else 1)
    mb.set_outputs([y])
    return mb.to_bytes()


# ---- issue 18: int16 (16x8) ----

Int16Bias = Literal["int64", "int32", "none"]


def _q16_out(rng: np.random.Generator, in_q: ActQ, w: np.ndarray, fan_in: int, extreme: float = 1.0) -> ActQ:
    """A symmetric int16 output quantization about +-3 sigma of a dot product of int16 inputs (full range)
    with ``w`` (``extreme`` < 1 makes it saturate, > 1 leaves most of the range unused)."""
    g = _output_range_guess(ActQ(in_q.scale * 256, 0), w, fan_in, rng)
    return ActQ(float(np.float32(g.scale * 255 / 65535 * extreme)), 0)


def _weights16(mb: ModelBuilder, w: np.ndarray, b: np.ndarray, in_q: ActQ, axis: int | None,
               bias: Int16Bias) -> tuple[int, int]:
    """int8 weights (per channel along ``axis`` or per tensor) and an int64 / int32 bias (or -1)."""
    wq, wquant = quantize_weights(w, axis)
    wt = mb.add_const("weights", wq, "int8", quant=wquant)
    if bias == "none":
        return wt, -1
    bq, bquant = quantize_bias(b, in_q.scale, wquant)
    return wt, mb.add_const("bias", bq.astype(np.int64), bias, quant=bquant)  # type: ignore[arg-type]


def conv2d_16x8_model(
    rng: np.random.Generator,
    *,
    input_shape: tuple[int, int, int, int],
    filters: int,
    kernel: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
    padding: PaddingName = "SAME",
    activation: Activation = "NONE",
    per_channel: bool = True,
    bias: Int16Bias = "int64",
    extreme: float = 1.0,
    depthwise: bool = False,
    depth_multiplier: int = 1,
) -> bytes:
    """CONV_2D (OHWI weights) or DEPTHWISE_CONV_2D (1HWC' weights) with int16 input/output (zero point 0),
    int8 weights and an int64 (or int32) bias: TFLite's 16x8 quantization."""
    n, h, wd, c = input_shape
    kh, kw = kernel
    oc = c * depth_multiplier if depthwise else filters
    shape = (1, kh, kw, oc) if depthwise else (oc, kh, kw, c)
    scale_shape = (1, 1, 1, oc) if depthwise else (oc, 1, 1, 1)
    w = rng.normal(0, 1.0, size=shape) * rng.uniform(0.2, 1.0, size=scale_shape)
    b = rng.normal(0, 0.5, size=(oc,))
    in_q = random_q(rng, "int16")
    out_q = _q16_out(rng, in_q, w, kh * kw * (1 if depthwise else c), extreme)
    oh = _conv_out_size(h, kh, stride[0], dilation[0], padding)
    ow = _conv_out_size(wd, kw, stride[1], dilation[1], padding)
    mb = ModelBuilder()
    x = mb.add_input("input", input_shape, "int16", quant=in_q.quant)
    wt, bt = _weights16(mb, w, b, in_q, (3 if depthwise else 0) if per_channel else None, bias)
    y = mb.add_tensor("output", (n, oh, ow, oc), "int16", quant=out_q.quant)
    if depthwise:
        opts: Options = DepthwiseConv2DOptions(padding, stride[1], stride[0], depth_multiplier, activation,
                                               dilation[1], dilation[0])
        mb.add_operator("DEPTHWISE_CONV_2D", [x, wt, bt], [y], opts)
    else:
        opts = Conv2DOptions(padding, stride[1], stride[0], activation, dilation[1], dilation[0])
        mb.add_operator("CONV_2D", [x, wt, bt], [y], opts)
    mb.set_outputs([y])
    return mb.to_bytes()


def fully_connected_16x8_model(
    rng: np.random.Generator,
    *,
    input_shape: tuple[int, ...],
    units: int,
    activation: Activation = "NONE",
    per_channel: bool = False,
    bias: Int16Bias = "int64",
    extreme: float = 1.0,
) -> bytes:
    """FULLY_CONNECTED with int16 input/output (zero point 0), int8 weights, int64 (or int32) bias."""
    depth = input_shape[-1]
    batches = math.prod(input_shape) // depth
    w = rng.normal(0, 1.0, size=(units, depth)) * rng.uniform(0.2, 1.0, size=(units, 1))
    b = rng.normal(0, 0.5, size=(units,))
    in_q = random_q(rng, "int16")
    out_q = _q16_out(rng, in_q, w, depth, extreme)
    mb = ModelBuilder()
    x = mb.add_input("input", input_shape, "int16", quant=in_q.quant)
    wt, bt = _weights16(mb, w, b, in_q, 0 if per_channel else None, bias)
    y = mb.add_tensor("output", (batches, units), "int16", quant=out_q.quant)
    mb.add_operator("FULLY_CONNECTED", [x, wt, bt], [y], FullyConnectedOptions(activation, False))
    mb.set_outputs([y])
    return mb.to_bytes()


def binary_16_model(
    rng: np.random.Generator,
    *,
    op: Literal["ADD", "MUL"],
    shape_a: tuple[int, ...],
    shape_b: tuple[int, ...],
    activation: Activation = "NONE",
    const_b: bool = False,
    same_scale: bool = False,
    extreme: float = 1.0,
) -> bytes:
    """int16 ADD / MUL (zero points 0, numpy broadcasting); ``const_b`` makes the second operand a constant,
    ``same_scale`` gives both inputs one scale (power-of-two ratios otherwise are not special in TFLM Micro)."""
    a_q = random_q(rng, "int16", float(rng.uniform(1.0, 8.0)))
    b_q = a_q if same_scale else random_q(rng, "int16", float(rng.uniform(0.5, 16.0)))
    ra, rb = a_q.scale * 32767, b_q.scale * 32767
    hi = ra * rb if op == "MUL" else ra + rb
    out_q = ActQ(float(np.float32(hi * float(rng.uniform(0.5, 1.0)) * extreme / 32767)), 0)
    mb = ModelBuilder()
    a = mb.add_input("a", shape_a, "int16", quant=a_q.quant)
    if const_b:
        bt = mb.add_const("b", rng.integers(-32768, 32768, size=shape_b).astype(np.int16), "int16", quant=b_q.quant)
    else:
        bt = mb.add_input("b", shape_b, "int16", quant=b_q.quant)
    y = mb.add_tensor("output", _broadcast_shape(shape_a, shape_b), "int16", quant=out_q.quant)
    options: Options = {"ADD": AddOptions, "MUL": MulOptions}[op](activation)
    mb.add_operator(op, [a, bt], [y], options)
    mb.set_outputs([y])
    return mb.to_bytes()


def pool2d_16_model(
    rng: np.random.Generator,
    *,
    op: Literal["AVERAGE_POOL_2D", "MAX_POOL_2D"],
    input_shape: tuple[int, int, int, int],
    filter_hw: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    padding: PaddingName = "VALID",
    activation: Activation = "NONE",
) -> bytes:
    """int16 pooling; input and output share one symmetric quantization (as TFLM requires)."""
    n, h, w, c = input_shape
    oh = _conv_out_size(h, filter_hw[0], stride[0], 1, padding)
    ow = _conv_out_size(w, filter_hw[1], stride[1], 1, padding)
    q = random_q(rng, "int16", float(rng.uniform(0.5, 12.0)))
    mb = ModelBuilder()
    x = mb.add_input("input", input_shape, "int16", quant=q.quant)
    y = mb.add_tensor("output", (n, oh, ow, c), "int16", quant=q.quant)
    mb.add_operator(op, [x], [y], Pool2DOptions(filter_hw[1], filter_hw[0], padding, stride[1], stride[0], activation))
    mb.set_outputs([y])
    return mb.to_bytes()


def pad_16_model(rng: np.random.Generator, *, shape: tuple[int, ...], paddings: Sequence[tuple[int, int]],
                 v2_value: int | None = None) -> bytes:
    """int16 PAD (or PADV2 with the raw int16 constant ``v2_value``)."""
    q = random_q(rng, "int16")
    out_shape = tuple(d + a + b for d, (a, b) in zip(shape, paddings, strict=True))
    mb = ModelBuilder()
    x = mb.add_input("input", shape, "int16", quant=q.quant)
    p = mb.add_const("paddings", np.array(paddings, dtype=np.int32).reshape(len(shape), 2), "int32")
    y = mb.add_tensor("output", out_shape, "int16", quant=q.quant)
    if v2_value is None:
        mb.add_operator("PAD", [x, p], [y])
    else:
        cv = mb.add_const("value", np.array([v2_value], np.int16), "int16", quant=q.quant)
        mb.add_operator("PADV2", [x, p, cv], [y])
    mb.set_outputs([y])
    return mb.to_bytes()


def concatenation_16_model(rng: np.random.Generator, *, shapes: Sequence[tuple[int, ...]], axis: int) -> bytes:
    """int16 CONCATENATION of graph inputs sharing one quantization (TFLM requires it)."""
    rank = len(shapes[0])
    ax = axis % rank
    out_shape = list(shapes[0])
    out_shape[ax] = sum(s[ax] for s in shapes)
    q = random_q(rng, "int16")
    mb = ModelBuilder()
    xs = [mb.add_input(f"input{i}", s, "int16", quant=q.quant) for i, s in enumerate(shapes)]
    y = mb.add_tensor("output", out_shape, "int16", quant=q.quant)
    mb.add_operator("CONCATENATION", xs, [y], ConcatenationOptions(axis, "NONE"))
    mb.set_outputs([y])
    return mb.to_bytes()


def reshape_16_model(rng: np.random.Generator, *, shape: tuple[int, ...], new_shape: tuple[int, ...]) -> bytes:
    """int16 RESHAPE (the new shape as a constant tensor and in the options)."""
    q = random_q(rng, "int16")
    mb = ModelBuilder()
    x = mb.add_input("input", shape, "int16", quant=q.quant)
    s = mb.add_const("shape", np.array(new_shape, dtype=np.int32), "int32")
    y = mb.add_tensor("output", new_shape, "int16", quant=q.quant)
    mb.add_operator("RESHAPE", [x, s], [y], ReshapeOptions(new_shape))
    mb.set_outputs([y])
    return mb.to_bytes()


def activation_16_model(rng: np.random.Generator, *, op: Literal["LOGISTIC", "TANH", "SOFTMAX"],
                        shape: tuple[int, ...], in_scale: float | None = None, beta: float = 1.0) -> bytes:
    """int16 LOGISTIC / TANH / SOFTMAX with TFLM's required output quantization (scale 2^-15 for LOGISTIC /
    TANH, 1/32768 for SOFTMAX, zero point 0); ``in_scale`` None draws a range of +-1..12 over int16."""
    if in_scale is None:
        in_scale = float(np.float32(float(rng.uniform(1.0, 12.0)) / 32768.0))
    mb = ModelBuilder()
    x = mb.add_input("input", shape, "int16", quant=Quant.per_tensor(in_scale, 0))
    y = mb.add_tensor("output", shape, "int16", quant=Quant.per_tensor(1.0 / 32768.0, 0))
    mb.add_operator(op, [x], [y], SoftmaxOptions(beta) if op == "SOFTMAX" else None)
    mb.set_outputs([y])
    return mb.to_bytes()


def chain_16x8_model(rng: np.random.Generator) -> bytes:
    """A small 16x8 network: CONV_2D -> DEPTHWISE_CONV_2D (+ residual ADD) -> MUL -> AVERAGE_POOL_2D -> RESHAPE
    -> FULLY_CONNECTED -> SOFTMAX, int16 activations throughout (zero points 0), int8 weights, int64 biases;
    outputs: the MUL result, the FULLY_CONNECTED result and the SOFTMAX."""
    def q(r: float) -> Quant:
        return Quant.per_tensor(float(np.float32(r / 32767.0)), 0)

    def conv_consts(name: str, w: np.ndarray, axis: int, in_scale: float, n: int) -> tuple[int, int]:
        wq, wquant = quantize_weights(w, axis)
        bq, bquant = quantize_bias(rng.normal(0, 0.3, size=(n,)), in_scale, wquant)
        return (mb.add_const(f"{name}_w", wq, "int8", quant=wquant),
                mb.add_const(f"{name}_b", bq.astype(np.int64), "int64", quant=bquant))

    mb = ModelBuilder()
    q_in, q_c, q_d, q_a, q_m, q_f = q(4.0), q(12.0), q(12.0), q(20.0), q(30.0), q(80.0)
    x = mb.add_input("input", (1, 8, 8, 3), "int16", quant=q_in)
    w1, b1 = conv_consts("conv", rng.normal(0, 0.5, size=(6, 3, 3, 3)), 0, q_in.scale[0], 6)
    c = mb.add_tensor("conv_out", (1, 8, 8, 6), "int16", quant=q_c)
    mb.add_operator("CONV_2D", [x, w1, b1], [c], Conv2DOptions("SAME", 1, 1, "RELU", 1, 1))
    w2, b2 = conv_consts("dw", rng.normal(0, 0.5, size=(1, 3, 3, 6)), 3, q_c.scale[0], 6)
    d = mb.add_tensor("dw_out", (1, 8, 8, 6), "int16", quant=q_d)
    mb.add_operator("DEPTHWISE_CONV_2D", [c, w2, b2], [d], DepthwiseConv2DOptions("SAME", 1, 1, 1, "NONE", 1, 1))
    a = mb.add_tensor("add_out", (1, 8, 8, 6), "int16", quant=q_a)
    mb.add_operator("ADD", [c, d], [a], AddOptions("NONE"))
    m = mb.add_tensor("mul_out", (1, 8, 8, 6), "int16", quant=q_m)
    mb.add_operator("MUL", [a, d], [m], MulOptions("NONE"))
    p = mb.add_tensor("pool_out", (1, 4, 4, 6), "int16", quant=q_m)
    mb.add_operator("AVERAGE_POOL_2D", [m], [p], Pool2DOptions(2, 2, "VALID", 2, 2, "NONE"))
    s = mb.add_const("shape", np.array([1, 96], np.int32), "int32")
    r = mb.add_tensor("flat", (1, 96), "int16", quant=q_m)
    mb.add_operator("RESHAPE", [p, s], [r], ReshapeOptions((1, 96)))
    w3, b3 = conv_consts("fc", rng.normal(0, 0.3, size=(10, 96)), 0, q_m.scale[0], 10)
    f = mb.add_tensor("fc_out", (1, 10), "int16", quant=q_f)
    mb.add_operator("FULLY_CONNECTED", [r, w3, b3], [f], FullyConnectedOptions("NONE", False))
    y = mb.add_tensor("output", (1, 10), "int16", quant=Quant.per_tensor(1.0 / 32768.0, 0))
    mb.add_operator("SOFTMAX", [f], [y], SoftmaxOptions(0.25))
    mb.set_outputs([m, f, y])  # the intermediate MUL and FULLY_CONNECTED results are compared too
    return mb.to_bytes()


# ---- issue 18: UNIDIRECTIONAL_SEQUENCE_LSTM ----
LstmScheme = Literal["float32", "int8", "int16x8"]


@dataclass(frozen=True)
class UnidirectionalSequenceLSTMOptions(Options):
    activation: Activation = "TANH"
    cell_clip: float = 0.0
    proj_clip: float = 0.0
    time_major: bool = False

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        return _build_table(b, "UnidirectionalSequenceLSTMOptions",
                            FusedActivationFunction=_ACTIVATIONS[self.activation], CellClip=float(self.cell_clip),
                            ProjClip=float(self.proj_clip), TimeMajor=bool(self.time_major))


_DEFAULT_OPTIONS.setdefault("UNIDIRECTIONAL_SEQUENCE_LSTM", UnidirectionalSequenceLSTMOptions())
_INT8_VERSIONS.setdefault("UNIDIRECTIONAL_SEQUENCE_LSTM", 4)


def add_lstm(
    mb: ModelBuilder,
    rng: np.random.Generator,
    x: int,
    *,
    scheme: LstmScheme,
    units: int,
    time_major: bool = False,
    cell_clip: float = 0.0,
    cell_scale_power: int = -11,
    peephole: bool = False,
    projection: bool = False,
    layer_norm: bool = False,
    cifg: bool = False,
    activation: Activation = "TANH",
    name: str = "",
    cell_scale: float | None = None,
) -> int:
    """Add one UNIDIRECTIONAL_SEQUENCE_LSTM reading tensor ``x`` (3-D; int8 / int16: quantized) to ``mb`` as the
    TFLite converter writes a stateful keras LSTM layer: 24 inputs (absent optional ones -1), the hidden (18)
    and cell (19) states as variable tensors. Returns the output tensor (quantized as the hidden state).

    scheme float32; int8 (int8 hidden state / output with an asymmetric zero point, symmetric per-tensor int8
    weights, int32 biases, int16 cell state of scale 2^cell_scale_power or ``cell_scale``); int16x8 (int16
    activations with zero point 0, int64 biases). ``peephole`` / ``projection`` / ``layer_norm`` add those
    variants' tensors, ``cifg`` leaves out the input gate (inputs 1, 5, 12): variants TFLM's kernel refuses,
    for the error tests."""
    xt = mb.tensors[x]
    x_shape = xt.shape
    batches = x_shape[1] if time_major else x_shape[0]
    input_size = x_shape[2]
    act_t: DType = {"float32": "float32", "int8": "int8", "int16x8": "int16"}[scheme]  # type: ignore[assignment]
    w_in = [rng.normal(0, 1.0 / math.sqrt(input_size), size=(units, input_size)) for _ in range(4)]
    w_rec = [rng.normal(0, 1.0 / math.sqrt(units), size=(units, units)) for _ in range(4)]
    biases = [rng.normal(0, 0.5, size=(units,)) for _ in range(4)]
    biases[1] = biases[1] + 1.0  # keras' unit forget bias
    in_q = xt.quant
    h_q: Quant | None = None
    c_q: Quant | None = None
    if scheme == "int8":
        h_q = ActQ.from_range(-float(rng.uniform(0.6, 1.0)), float(rng.uniform(0.6, 1.0))).quant
    elif scheme == "int16x8":
        h_q = Quant.per_tensor(float(np.float32(1.0 / 32767.0)), 0)
    if scheme != "float32":
        c_q = Quant.per_tensor(cell_scale if cell_scale is not None else 2.0**cell_scale_power, 0)
    ins: list[int] = [x]
    w_quants: list[Quant] = []
    for g, w in enumerate(w_in + w_rec):
        wname = f"{name}{'input' if g < 4 else 'recurrent'}_to_{('input', 'forget', 'cell', 'output')[g % 4]}_weights"
        if scheme == "float32":
            ins.append(mb.add_const(wname, w.astype(np.float32), "float32"))
        else:
            q, wq = quantize_weights(w, None)
            w_quants.append(wq)
            ins.append(mb.add_const(wname, q, "int8", quant=wq))
    ins += [mb.add_const(f"{name}cell_to_{g}_weights", rng.normal(0, 0.5, size=(units,)).astype(np.float32),
                         "float32") if peephole and scheme == "float32" else -1 for g in ("input", "forget", "output")]
    for g, b in enumerate(biases):
        bname = f"{name}{('input', 'forget', 'cell', 'output')[g]}_gate_bias"
        if scheme == "float32":
            ins.append(mb.add_const(bname, b.astype(np.float32), "float32"))
        else:
            assert in_q is not None
            bq, bquant = quantize_bias(b, in_q.scale[0], w_quants[g])
            bdt: DType = "int32" if scheme == "int8" else "int64"
            ins.append(mb.add_const(bname, bq.astype(np.int64), bdt, quant=bquant))
    if projection:
        pw = rng.normal(0, 0.3, size=(units, units)).astype(np.float32)
        ins += [mb.add_const(f"{name}projection_weights", pw, "float32"), -1]
    else:
        ins += [-1, -1]
    ins.append(mb.add_tensor(f"{name}output_state", (batches, units), act_t, quant=h_q, variable=True))
    ins.append(mb.add_tensor(f"{name}cell_state", (batches, units), "float32" if scheme == "float32" else "int16",
                             quant=c_q, variable=True))
    ins += [mb.add_const(f"{name}{g}_layer_norm_coefficients", np.ones(units, np.float32), "float32")
            if layer_norm and scheme == "float32" else -1 for g in ("input", "forget", "cell", "output")]
    if cifg:
        for k in (1, 5, 12):
            ins[k] = -1
    y = mb.add_tensor(f"{name}output", (x_shape[0], x_shape[1], units), act_t, quant=h_q)
    mb.add_operator("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [y],
                    UnidirectionalSequenceLSTMOptions(activation, cell_clip, 0.0, time_major))
    return y


def _lstm_input_quant(rng: np.random.Generator, scheme: LstmScheme) -> Quant | None:
    if scheme == "int8":
        return ActQ.from_range(-float(rng.uniform(1.0, 3.0)), float(rng.uniform(1.0, 3.0))).quant
    if scheme == "int16x8":
        return Quant.per_tensor(float(np.float32(rng.uniform(1.0, 3.0) / 32767.0)), 0)
    return None


def lstm_model(
    rng: np.random.Generator,
    *,
    scheme: LstmScheme,
    batches: int,
    time_steps: int,
    input_size: int,
    units: int,
    time_major: bool = False,
    **kw: Any,
) -> bytes:
    """A model of one UNIDIRECTIONAL_SEQUENCE_LSTM (:func:`add_lstm`; ``kw``: its options) on a graph input of
    [batches, time_steps, input_size] ([time_steps, batches, input_size] when time-major)."""
    x_shape = (time_steps, batches, input_size) if time_major else (batches, time_steps, input_size)
    act_t: DType = {"float32": "float32", "int8": "int8", "int16x8": "int16"}[scheme]  # type: ignore[assignment]
    mb = ModelBuilder()
    x = mb.add_input("input", x_shape, act_t, quant=_lstm_input_quant(rng, scheme))
    y = add_lstm(mb, rng, x, scheme=scheme, units=units, time_major=time_major, **kw)
    mb.set_outputs([y])
    return mb.to_bytes()


def stacked_lstm_model(rng: np.random.Generator, *, scheme: LstmScheme, time_steps: int, input_size: int,
                       units: Sequence[int], classes: int) -> bytes:
    """A keras-like sequence classifier: LSTM layers stacked (each returning its sequence, batch 1), then a
    FULLY_CONNECTED over the last layer's sequence, flattened by a RESHAPE (float32 / int8 / 16x8)."""
    act_t: DType = {"float32": "float32", "int8": "int8", "int16x8": "int16"}[scheme]  # type: ignore[assignment]
    mb = ModelBuilder()
    x = mb.add_input("input", (1, time_steps, input_size), act_t, quant=_lstm_input_quant(rng, scheme))
    for li, u in enumerate(units):
        x = add_lstm(mb, rng, x, scheme=scheme, units=u, name=f"lstm{li}_")
    q = mb.tensors[x].quant
    flat = mb.add_tensor("flat", (1, time_steps * units[-1]), act_t, quant=q)
    shape = mb.add_const("flat_shape", np.array([1, time_steps * units[-1]], np.int32), "int32")
    mb.add_operator("RESHAPE", [x, shape], [flat], ReshapeOptions((1, time_steps * units[-1])))
    w = rng.normal(0, 1.0 / math.sqrt(time_steps * units[-1]), size=(classes, time_steps * units[-1]))
    b = rng.normal(0, 0.2, size=(classes,))
    if scheme == "float32":
        wt = mb.add_const("fc_weights", w.astype(np.float32), "float32")
        bt = mb.add_const("fc_bias", b.astype(np.float32), "float32")
        y = mb.add_tensor("logits", (1, classes), "float32")
    else:
        assert q is not None
        wq, wquant = quantize_weights(w, None)
        wt = mb.add_const("fc_weights", wq, "int8", quant=wquant)
        bq, bquant = quantize_bias(b, q.scale[0], wquant)
        bt = mb.add_const("fc_bias", bq.astype(np.int64), "int32" if scheme == "int8" else "int64", quant=bquant)
        oq = (ActQ.from_range(-4.0, 4.0).quant if scheme == "int8"
              else Quant.per_tensor(float(np.float32(4.0 / 32767.0)), 0))
        y = mb.add_tensor("logits", (1, classes), act_t, quant=oq)
    mb.add_operator("FULLY_CONNECTED", [flat, wt, bt], [y], FullyConnectedOptions())
    mb.set_outputs([y])
    return mb.to_bytes()
