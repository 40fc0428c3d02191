"""The graph IR: a single-subgraph dataflow graph of typed tensors and operators.

Operators are stored in execution order (the order of the TFLite subgraph, which is a valid
topological order). Constant tensors carry their data as numpy arrays; activations have
``data is None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# dtype strings used throughout the compiler, with their C types, element sizes and uaot_dtype_t values
DTYPES: dict[str, tuple[str, int, int]] = {
    # name: (C type, bytes per element, uaot_dtype_t)
    "int8": ("int8_t", 1, 1),
    "uint8": ("uint8_t", 1, 2),
    "int16": ("int16_t", 2, 3),
    "int32": ("int32_t", 4, 4),
    "float32": ("float", 4, 5),
    "int64": ("int64_t", 8, 7),
    "bool": ("uint8_t", 1, 6),
    "uint16": ("uint16_t", 2, 8),
    "uint32": ("uint32_t", 4, 9),
    "uint64": ("uint64_t", 8, 10),
    # a TFLite RESOURCE tensor (VAR_HANDLE's output): a handle, not data; 4 bytes where it has a location
    "resource": ("int32_t", 4, 0),
}


def dtype_ctype(dtype: str) -> str:
    return DTYPES[dtype][0]


def dtype_size(dtype: str) -> int:
    return DTYPES[dtype][1]


@dataclass
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point). Per-tensor when len(scale) == 1."""

    scale: np.ndarray  # float32, shape [n]
    zero_point: np.ndarray  # int64, shape [n]
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return int(self.scale.size) > 1

    @property
    def scale0(self) -> float:
        return float(self.scale[0])

    @property
    def zp0(self) -> int:
        return int(self.zero_point[0])


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: QuantParams | None = None
    data: np.ndarray | None = None  # constants only
    # a TFLite variable tensor (LSTM/SVDF state inputs): not constant, persists across invocations in the
    # model's state buffer (NAME_STATE_SIZE), reset by NAME_reset_state()
    is_variable: bool = False

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def num_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= int(d)
        return n

    @property
    def nbytes(self) -> int:
        return self.num_elements * dtype_size(self.dtype)


@dataclass
class Operator:
    index: int
    opcode: str  # builtin operator name, e.g. "CONV_2D"
    inputs: list[int]  # tensor indices, -1 = absent optional input
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)  # builtin options; a custom op's flexbuffer map
    version: int = 1
    custom_options: bytes = b""  # raw custom_options of a custom operator (opcode "CUSTOM:<name>")


@dataclass
class Graph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    name: str = "model"
    source: str = ""  # model file path, for error messages
    description: str = ""
    # values derived once from the (unchanging) graph per operator, e.g. ("conv_geometry", op index) ->
    # microaot.ops._geometry.ConvGeometry; filled on first use
    derived: dict[tuple[str, int], Any] = field(default_factory=dict, repr=False, compare=False)
    # custom operator name -> C function of the user's bound to it (microaot.ops.user_kernels)
    custom_kernels: dict[str, str] = field(default_factory=dict)

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]

    def producers(self) -> dict[int, int]:
        """tensor index -> index of the operator that writes it."""
        prod: dict[int, int] = {}
        for op in self.operators:
            for t in op.outputs:
                prod[t] = op.index
        return prod

    def consumers(self) -> dict[int, list[int]]:
        """tensor index -> indices of the operators that read it (in execution order)."""
        cons: dict[int, list[int]] = {}
        for op in self.operators:
            for t in op.inputs:
                if t >= 0:
                    cons.setdefault(t, []).append(op.index)
        return cons

    def variable_tensors(self) -> list[int]:
        """Indices of the variable tensors operators use (they live in the state buffer, not the workspace)."""
        used: set[int] = set()
        for op in self.operators:
            used.update(t for t in op.inputs if t >= 0)
            used.update(op.outputs)
        return sorted(t for t in used if self.tensors[t].is_variable and not self.tensors[t].is_const)

    def activation_tensors(self) -> list[int]:
        """Indices of every non-constant, non-variable tensor used by the graph (inputs, outputs,
        intermediates): what the workspace planner places."""
        seen: list[int] = []
        used = set(self.inputs) | set(self.outputs)
        for op in self.operators:
            used.update(t for t in op.inputs if t >= 0)
            used.update(op.outputs)
        for t in sorted(used):
            if not self.tensors[t].is_const and not self.tensors[t].is_variable:
                seen.append(t)
        return seen
