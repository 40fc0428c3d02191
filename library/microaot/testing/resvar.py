"""Test models with TFLite resource variables (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE), optionally
initialised the way TensorFlow exports ``tf.Variable``: a CALL_ONCE operator in the main subgraph that runs an
init subgraph assigning constants to the variables once.

:class:`MultiModelBuilder` serializes several subgraphs (each a :class:`microaot.testing.modelgen.ModelBuilder`
holding its tensors and operators; ``"resource"`` tensors and the option tables of the four operators are
handled here) into one ``.tflite`` with shared buffers and operator codes. :func:`accumulator_model` builds the
model the state tests use::

    main:  [CALL_ONCE(init)]  h1 = VAR_HANDLE("acc")  y = ADD(READ_VARIABLE(h1), x)  ASSIGN_VARIABLE(h1, y)
           h2 = VAR_HANDLE("sum")  w = ADD(READ_VARIABLE(h2), y)  ASSIGN_VARIABLE(h2, w)   -> outputs y, w
    init:  ASSIGN_VARIABLE(VAR_HANDLE("acc"), const)          (only "acc" gets an initial value)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import flatbuffers
import numpy as np
import tflite

from microaot.testing.modelgen import (
    _NUMPY_DTYPES,
    AddOptions,
    ModelBuilder,
    Options,
    Quant,
    TensorSpec,
    serialize_subgraphs,
)

__all__ = ["AssignVariableOptions", "CallOnceOptions", "MultiModelBuilder", "ReadVariableOptions",
           "VarHandleOptions", "accumulator_builder", "accumulator_model", "add_variable_tensor", "delay_model"]


@dataclass(frozen=True)
class VarHandleOptions(Options):
    shared_name: str
    container: str = ""

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        sn = b.CreateString(self.shared_name)
        cn = b.CreateString(self.container) if self.container else None
        tflite.VarHandleOptionsStart(b)
        if cn is not None:
            tflite.VarHandleOptionsAddContainer(b, cn)
        tflite.VarHandleOptionsAddSharedName(b, sn)
        return tflite.BuiltinOptions.VarHandleOptions, tflite.VarHandleOptionsEnd(b)


@dataclass(frozen=True)
class CallOnceOptions(Options):
    init_subgraph_index: int

    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.CallOnceOptionsStart(b)
        tflite.CallOnceOptionsAddInitSubgraphIndex(b, self.init_subgraph_index)
        return tflite.BuiltinOptions.CallOnceOptions, tflite.CallOnceOptionsEnd(b)


@dataclass(frozen=True)
class ReadVariableOptions(Options):
    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.ReadVariableOptionsStart(b)
        return tflite.BuiltinOptions.ReadVariableOptions, tflite.ReadVariableOptionsEnd(b)


@dataclass(frozen=True)
class AssignVariableOptions(Options):
    def build(self, b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.AssignVariableOptionsStart(b)
        return tflite.BuiltinOptions.AssignVariableOptions, tflite.AssignVariableOptionsEnd(b)


def add_variable_tensor(mb: ModelBuilder, name: str) -> int:
    """A RESOURCE tensor (a variable handle, shape []) in ``mb``; returns its index."""
    mb.tensors.append(TensorSpec(name, (), "resource"))  # type: ignore[arg-type]
    return len(mb.tensors) - 1


@dataclass
class MultiModelBuilder:
    """Several subgraphs (subgraph 0 is the one the interpreter runs) serialized into one model."""

    subgraphs: list[ModelBuilder] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    description: str = "microaot.testing.resvar"

    def add_subgraph(self, name: str) -> ModelBuilder:
        mb = ModelBuilder()
        self.subgraphs.append(mb)
        self.names.append(name)
        return mb

    def to_bytes(self) -> bytes:
        return serialize_subgraphs(self.subgraphs, self.names, self.description)


def _quant(dtype: str, rng: np.random.Generator, zp_nonzero: bool) -> Quant | None:
    if dtype == "float32":
        return None
    if dtype == "int16":  # TFLM's 16-bit activations are symmetric
        return Quant.per_tensor(float(rng.uniform(1e-3, 4e-3)), 0)
    zp = int(rng.integers(-60, 60)) if zp_nonzero else 0
    return Quant.per_tensor(float(rng.uniform(0.02, 0.06)), zp)


def accumulator_model(dtype: str = "int8", *, shape: Sequence[int] = (1, 8), init: bool = True,
                      seed: int = 0, container: str = "") -> bytes:
    """Two resource variables ``acc`` and ``sum`` updated by every invocation (see the module doc); with
    ``init`` a CALL_ONCE + init subgraph gives ``acc`` a constant initial value (``sum`` starts at TFLM's
    default: the zero point of its first assigned tensor, as a byte). int8 quantization has non-zero zero
    points, so the default value matters."""
    return accumulator_builder(dtype, shape=shape, init=init, seed=seed, container=container).to_bytes()


def accumulator_builder(dtype: str = "int8", *, shape: Sequence[int] = (1, 8), init: bool = True,
                        seed: int = 0, container: str = "") -> MultiModelBuilder:
    """The builder of :func:`accumulator_model` (tests mutate it into models microaot must refuse)."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in shape)
    qx = _quant(dtype, rng, True)
    qy = _quant(dtype, rng, True)
    qw = _quant(dtype, rng, True)
    mm = MultiModelBuilder()
    main = mm.add_subgraph("main")
    x = main.add_input("x", shape, dtype, quant=qx)  # type: ignore[arg-type]
    if init:
        main.add_operator("CALL_ONCE", [], [], CallOnceOptions(1))
    h1 = add_variable_tensor(main, "acc_handle")
    main.add_operator("VAR_HANDLE", [], [h1], VarHandleOptions("acc", container))
    v1 = main.add_tensor("acc_read", shape, dtype, quant=qy)  # type: ignore[arg-type]
    main.add_operator("READ_VARIABLE", [h1], [v1], ReadVariableOptions())
    y = main.add_tensor("y", shape, dtype, quant=qy)  # type: ignore[arg-type]
    main.add_operator("ADD", [v1, x], [y], AddOptions())
    main.add_operator("ASSIGN_VARIABLE", [h1, y], [], AssignVariableOptions())
    h2 = add_variable_tensor(main, "sum_handle")
    main.add_operator("VAR_HANDLE", [], [h2], VarHandleOptions("sum", container))
    v2 = main.add_tensor("sum_read", shape, dtype, quant=qw)  # type: ignore[arg-type]
    main.add_operator("READ_VARIABLE", [h2], [v2], ReadVariableOptions())
    w = main.add_tensor("w", shape, dtype, quant=qw)  # type: ignore[arg-type]
    main.add_operator("ADD", [v2, y], [w], AddOptions())
    main.add_operator("ASSIGN_VARIABLE", [h2, w], [], AssignVariableOptions())
    main.set_outputs([y, w])
    if init:
        sub = mm.add_subgraph("init")
        hi = add_variable_tensor(sub, "acc_init_handle")
        sub.add_operator("VAR_HANDLE", [], [hi], VarHandleOptions("acc", container))
        if dtype == "float32":
            vals: np.ndarray = rng.standard_normal(shape).astype(np.float32)
        else:
            ii = np.iinfo(_NUMPY_DTYPES[dtype])
            lim = min(int(ii.max), 2000)
            vals = rng.integers(-lim, lim + 1, size=shape).astype(_NUMPY_DTYPES[dtype])
        c = sub.add_tensor("acc_init", shape, dtype, quant=qy, data=vals)  # type: ignore[arg-type]
        sub.add_operator("ASSIGN_VARIABLE", [hi, c], [], AssignVariableOptions())
    return mm


def delay_model(dtype: str = "float32", *, shape: Sequence[int] = (1, 4), seed: int = 0) -> bytes:
    """``y_t = x_(t-1) + x_t``: READ_VARIABLE, ADD, then ASSIGN_VARIABLE of the graph input itself (no tensor
    orders the assignment after the read: only the model's operator order does)."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in shape)
    q = _quant(dtype, rng, False)
    mm = MultiModelBuilder()
    main = mm.add_subgraph("main")
    x = main.add_input("x", shape, dtype, quant=q)  # type: ignore[arg-type]
    h = add_variable_tensor(main, "prev_handle")
    main.add_operator("VAR_HANDLE", [], [h], VarHandleOptions("prev"))
    v = main.add_tensor("prev", shape, dtype, quant=q)  # type: ignore[arg-type]
    main.add_operator("READ_VARIABLE", [h], [v], ReadVariableOptions())
    y = main.add_tensor("y", shape, dtype, quant=_quant(dtype, rng, False))  # type: ignore[arg-type]
    main.add_operator("ADD", [v, x], [y], AddOptions())
    main.add_operator("ASSIGN_VARIABLE", [h, x], [], AssignVariableOptions())
    main.set_outputs([y])
    return mm.to_bytes()
