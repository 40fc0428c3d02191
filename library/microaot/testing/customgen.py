"""Single custom-operator ``.tflite`` models for tests (a thin layer over :class:`microaot.testing.modelgen.
ModelBuilder`): the operator code is ``CUSTOM`` with a custom name (e.g. TFLM's ``SignalFramer``), its options a
flexbuffer map, as the TFLite converter writes them for TFLM's signal library.

    model = custom_op_model("SignalDelay", [CIn((2, 8), "int16")], [COut((2, 8), "int16")],
                            {"delay_length": 3})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tflite

from microaot.testing.modelgen import ModelBuilder


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
    return int(getattr(tflite.TensorType, dtype.upper()))


def custom_op_model(name: str, inputs: Sequence[CIn], outputs: Sequence[COut],
                    options: Mapping[str, Any] | bytes | None = None) -> bytes:
    """A model of one custom operator ``name``: non-constant inputs are the graph inputs (in order), every
    output a graph output. ``options``: a dict serialized as a flexbuffer map, or the raw bytes."""
    mb = ModelBuilder(description="microaot.testing.customgen")
    ins = []
    for k, t in enumerate(inputs):
        if t.data is None:
            ins.append(mb.add_input(f"input{k}", t.shape, t.dtype))  # type: ignore[arg-type]
        else:
            ins.append(mb.add_tensor(f"const{k}", t.shape, t.dtype, data=np.asarray(t.data)))  # type: ignore[arg-type]
    outs = [mb.add_tensor(f"output{k}", t.shape, t.dtype) for k, t in enumerate(outputs)]  # type: ignore[arg-type]
    mb.add_custom_operator(name, ins, outs, dict(options) if isinstance(options, Mapping) else options)
    mb.set_outputs(outs)
    return mb.to_bytes()
