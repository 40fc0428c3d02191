"""TFLite resource variables (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE) and the CALL_ONCE init subgraph
TensorFlow exports for ``tf.Variable``, turned into microaot's persistent state.

* :func:`init_values` recognises the one multi-subgraph form microaot accepts: subgraph 0 holds CALL_ONCE
  operators, every other subgraph is the init subgraph of one of them and only assigns constants to
  variables (VAR_HANDLE + ASSIGN_VARIABLE of a constant tensor, no inputs or outputs). It returns the
  constant each variable gets, or None for any other multi-subgraph model (the importer then rejects it).
* :func:`fold_variables` rewrites the imported subgraph 0: one variable tensor (``Tensor.is_variable``, in
  the state buffer) per distinct (container, shared_name), sized from the tensors assigned to it;
  READ_VARIABLE reads it (input 0, a copy out), ASSIGN_VARIABLE writes it (input 0, a copy in), the first
  VAR_HANDLE of each variable takes it as input 0 and carries its reset value in ``options["microaot_var"]``
  (the other VAR_HANDLEs and CALL_ONCE keep no tensors: no code). Operator indices stay those of the file.

Reset value = what a freshly created TFLM interpreter holds before its first invoke, then CALL_ONCE's init
subgraph (TFLM runs it at the start of the first invoke): MicroResourceVariables::Allocate memsets the
buffer with the zero point (cast to int8) of the first tensor an ASSIGN_VARIABLE of the variable prepares
(subgraph 0 first, in operator order; 0 without quantization); the init subgraph's constant then
overwrites it. TFLM's ``reset()`` (ResetAll) memsets the default again and never re-runs CALL_ONCE, which
is why ``microaot.reference`` starts each sequence of such a model from a new interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tflite

from microaot.errors import UnsupportedModelError
from microaot.ir.graph import Operator, QuantParams, Tensor

VAR_OPS = ("VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE")

_NUMPY: dict[int, Any] = {
    tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.INT32: np.int32, tflite.TensorType.UINT8: np.uint8,
    tflite.TensorType.INT64: np.int64, tflite.TensorType.INT16: np.int16, tflite.TensorType.INT8: np.int8,
    tflite.TensorType.BOOL: np.bool_,
}
_DTYPE_NAMES = {tflite.TensorType.FLOAT32: "float32", tflite.TensorType.INT32: "int32",
                tflite.TensorType.UINT8: "uint8", tflite.TensorType.INT64: "int64",
                tflite.TensorType.INT16: "int16", tflite.TensorType.INT8: "int8", tflite.TensorType.BOOL: "bool"}


@dataclass
class InitValue:
    """A constant an init subgraph assigns to a variable."""

    data: np.ndarray
    dtype: str
    zero_point: int | None  # of the assigned tensor (None: not quantized): TFLM's default byte if it comes first


def _key(container: Any, shared_name: Any) -> tuple[str, str]:
    def text(v: Any) -> str:
        if v is None:
            return ""
        return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)

    return text(container), text(shared_name)


def _opcode_name(model: Any, index: int) -> str:
    oc = model.OperatorCodes(index)
    code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
    for name, value in vars(tflite.BuiltinOperator).items():
        if not name.startswith("_") and value == code:
            return str(name)
    return f"BUILTIN_{code}"


def _var_handle_key(op: Any) -> tuple[str, str] | None:
    if op.BuiltinOptionsType() != tflite.BuiltinOptions.VarHandleOptions or op.BuiltinOptions() is None:
        return None
    o = tflite.VarHandleOptions()
    t = op.BuiltinOptions()
    o.Init(t.Bytes, t.Pos)
    return _key(o.Container(), o.SharedName())


def _call_once_index(op: Any) -> int | None:
    if op.BuiltinOptionsType() != tflite.BuiltinOptions.CallOnceOptions or op.BuiltinOptions() is None:
        return None
    o = tflite.CallOnceOptions()
    t = op.BuiltinOptions()
    o.Init(t.Bytes, t.Pos)
    return int(o.InitSubgraphIndex())


def _const(model: Any, sg: Any, ti: int) -> InitValue | None:
    t = sg.Tensors(ti)
    npdt = _NUMPY.get(int(t.Type()))
    b = model.Buffers(int(t.Buffer())) if t.Buffer() < model.BuffersLength() else None
    if npdt is None or b is None or b.DataLength() == 0:
        return None
    shape = tuple(int(x) for x in (t.ShapeAsNumpy() if t.ShapeLength() > 0 else []))
    raw = b.DataAsNumpy().tobytes()
    n = int(np.prod(shape)) if shape else 1
    if len(raw) != n * np.dtype(npdt).itemsize:
        return None
    q = t.Quantization()
    zp = None
    if q is not None and q.ScaleLength() > 0:
        zp = int(q.ZeroPointAsNumpy()[0]) if q.ZeroPointLength() > 0 else 0
    return InitValue(np.frombuffer(raw, dtype=npdt).reshape(shape).copy(), _DTYPE_NAMES[int(t.Type())], zp)


def init_values(model: Any) -> dict[tuple[str, str], InitValue] | None:
    """The constants the CALL_ONCE init subgraphs of a multi-subgraph model assign, per (container,
    shared_name); None when the model is not of that form (see the module doc)."""
    nsub = int(model.SubgraphsLength())
    main = model.Subgraphs(0)
    init_of: dict[int, int] = {}  # init subgraph -> CALL_ONCE operator of subgraph 0
    for oi in range(main.OperatorsLength()):
        op = main.Operators(oi)
        if _opcode_name(model, int(op.OpcodeIndex())) != "CALL_ONCE":
            continue
        k = _call_once_index(op)
        if k is None or not 0 < k < nsub or k in init_of or op.InputsLength() or op.OutputsLength():
            return None
        init_of[k] = oi
    if sorted(init_of) != list(range(1, nsub)):
        return None
    values: dict[tuple[str, str], InitValue] = {}
    for k in range(1, nsub):
        sg = model.Subgraphs(k)
        if sg.InputsLength() or sg.OutputsLength():
            return None
        handles: dict[int, tuple[str, str]] = {}
        for oi in range(sg.OperatorsLength()):
            op = sg.Operators(oi)
            name = _opcode_name(model, int(op.OpcodeIndex()))
            ins = [int(x) for x in (op.InputsAsNumpy() if op.InputsLength() else [])]
            outs = [int(x) for x in (op.OutputsAsNumpy() if op.OutputsLength() else [])]
            if name == "VAR_HANDLE":
                key = _var_handle_key(op)
                if key is None or len(outs) != 1 or ins:
                    return None
                handles[outs[0]] = key
            elif name == "ASSIGN_VARIABLE":
                if len(ins) != 2 or outs or ins[0] not in handles:
                    return None
                v = _const(model, sg, ins[1])
                if v is None:
                    return None
                values[handles[ins[0]]] = v
            else:
                return None
    return values


def _default_byte(t: Tensor) -> int:
    """TFLM's default byte of a variable first allocated from tensor t: its zero point cast to int8."""
    if t.quant is None:
        return 0
    return int(np.array(int(t.quant.zp0)).astype(np.int64).astype(np.int8).astype(np.uint8))


def fold_variables(tensors: list[Tensor], operators: list[Operator], inits: dict[tuple[str, str], InitValue],
                   source: str) -> None:
    """Rewrite subgraph 0's resource-variable operators in place (see the module doc)."""
    handle_key: dict[int, tuple[str, str]] = {}
    for op in operators:
        if op.opcode == "VAR_HANDLE":
            if len(op.outputs) != 1 or op.inputs:
                raise UnsupportedModelError(f"{source}: operator {op.index} (VAR_HANDLE) has inputs {op.inputs} and "
                                            f"outputs {op.outputs}; it takes none and makes one handle")
            handle_key[op.outputs[0]] = _key(op.options.get("container"), op.options.get("shared_name"))
    if not handle_key and not any(op.opcode in ("READ_VARIABLE", "ASSIGN_VARIABLE") for op in operators):
        return

    def key_of(op: Operator) -> tuple[str, str]:
        h = op.inputs[0] if op.inputs else -1
        if h not in handle_key:
            raise UnsupportedModelError(f"{source}: operator {op.index} ({op.opcode}): its input 0 (tensor {h}) is "
                                        "not made by a VAR_HANDLE of the main subgraph; microaot supports resource "
                                        "variables with handles from VAR_HANDLE only")
        return handle_key[h]

    def label(key: tuple[str, str]) -> str:
        return f"{key[0]}/{key[1]}" if key[0] else key[1]

    # the variable's layout: the first tensor assigned to it (TFLM allocates it from that one)
    spec: dict[tuple[str, str], Tensor] = {}
    for op in operators:
        if op.opcode == "ASSIGN_VARIABLE":
            if len(op.inputs) != 2 or op.outputs:
                raise UnsupportedModelError(f"{source}: operator {op.index} (ASSIGN_VARIABLE) must have 2 inputs "
                                            f"(handle, value) and no output, not {op.inputs} -> {op.outputs}")
            spec.setdefault(key_of(op), tensors[op.inputs[1]])
    var_of: dict[tuple[str, str], int] = {}
    for key in dict.fromkeys(handle_key.values()):
        t = spec.get(key)
        init = inits.get(key)
        if t is None and init is None:
            # read (or only declared) but never assigned: TFLM would read an unallocated buffer
            readers = [op.index for op in operators if op.opcode == "READ_VARIABLE" and key_of(op) == key]
            if readers:
                raise UnsupportedModelError(
                    f"{source}: operator {readers[0]} (READ_VARIABLE) reads resource variable {label(key)!r}, which "
                    "no ASSIGN_VARIABLE ever assigns (TFLM cannot allocate it either); assign it an initial value "
                    "(a tf.Variable initialiser) and re-export the model")
            continue
        if t is not None:
            shape, dtype, quant, default = t.shape, t.dtype, t.quant, _default_byte(t)
        else:
            assert init is not None
            shape, dtype = tuple(init.data.shape), init.dtype
            quant = (QuantParams(scale=np.ones(1, np.float32), zero_point=np.array([init.zero_point], np.int64),
                                 axis=0) if init.zero_point is not None else None)
            default = int(np.int64(init.zero_point or 0).astype(np.int8).astype(np.uint8))
        v = Tensor(index=len(tensors), name=f"variable {label(key)}", shape=tuple(shape), dtype=dtype, quant=quant,
                   is_variable=True)
        if init is not None and init.data.nbytes != v.nbytes:
            raise UnsupportedModelError(
                f"{source}: the init subgraph assigns {init.data.nbytes} bytes to resource variable {label(key)!r}, "
                f"which holds {v.nbytes} bytes ({dtype} {list(shape)}); the model file is inconsistent: re-export it")
        tensors.append(v)
        var_of[key] = v.index
        first = next(op for op in operators if op.opcode == "VAR_HANDLE" and handle_key[op.outputs[0]] == key)
        first.options["microaot_var"] = {
            "name": label(key),
            "default": default,
            "init": None if init is None else np.ascontiguousarray(init.data).view(np.uint8).reshape(-1).copy(),
        }
        first.inputs = [v.index]
    for op in operators:
        if op.opcode == "VAR_HANDLE":
            op.outputs = []
        elif op.opcode in ("READ_VARIABLE", "ASSIGN_VARIABLE"):
            key = key_of(op)
            v = tensors[var_of[key]]
            other = tensors[op.outputs[0]] if op.opcode == "READ_VARIABLE" and len(op.outputs) == 1 else (
                tensors[op.inputs[1]] if op.opcode == "ASSIGN_VARIABLE" else None)
            if other is None:
                raise UnsupportedModelError(f"{source}: operator {op.index} (READ_VARIABLE) must have 1 input and 1 "
                                            f"output, not {op.inputs} -> {op.outputs}")
            if other.nbytes != v.nbytes:
                what = "reads" if op.opcode == "READ_VARIABLE" else "assigns"
                raise UnsupportedModelError(
                    f"{source}: operator {op.index} ({op.opcode}) {what} tensor {other.index} ({other.name!r}, "
                    f"{other.dtype} {list(other.shape)}, {other.nbytes} bytes) but resource variable {label(key)!r} "
                    f"holds {v.nbytes} bytes ({v.dtype} {list(v.shape)}); microaot supports variables of one "
                    "constant shape: re-export the model with fixed shapes")
            op.inputs = [v.index, *op.inputs[1:]]
        elif op.opcode == "CALL_ONCE":
            op.options["microaot_folded"] = True
