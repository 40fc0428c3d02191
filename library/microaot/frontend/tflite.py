"""TFLite flatbuffer importer (PyPI ``tflite`` schema package) -> ``ir.Graph``.

Rejects, with a message naming the file, operator index and name: several subgraphs, control flow,
dynamic shapes, unknown tensor types (custom operators are kept as ``CUSTOM:<name>`` with their flexbuffer
options; the passes reject those without a kernel); and raises ModelFormatError for anything
that is not a readable, consistent TFLite flatbuffer.
"""

from __future__ import annotations

import inspect
import os
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np
import tflite
from flatbuffers import flexbuffers

from microaot.errors import MicroaotError, ModelFormatError, UnsupportedModelError
from microaot.ir.graph import Graph, Operator, QuantParams, Tensor

CONTROL_FLOW_OPS = {"IF", "WHILE", "CALL", "CALL_ONCE", "STABLEHLO_WHILE", "STABLEHLO_CASE"}

# tflite.TensorType value -> (ir dtype, numpy dtype)
_TENSOR_TYPES: dict[int, tuple[str, Any]] = {
    tflite.TensorType.FLOAT32: ("float32", np.float32),
    tflite.TensorType.INT32: ("int32", np.int32),
    tflite.TensorType.UINT8: ("uint8", np.uint8),
    tflite.TensorType.INT64: ("int64", np.int64),
    tflite.TensorType.INT16: ("int16", np.int16),
    tflite.TensorType.INT8: ("int8", np.int8),
    tflite.TensorType.BOOL: ("bool", np.bool_),
    tflite.TensorType.UINT16: ("uint16", np.uint16),
    tflite.TensorType.UINT32: ("uint32", np.uint32),
    tflite.TensorType.UINT64: ("uint64", np.uint64),
    tflite.TensorType.RESOURCE: ("resource", None),  # VAR_HANDLE's output: a handle, no data
}
_TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_") and isinstance(v, int)}
_OPCODE_NAMES: dict[int, str] = {
    v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)
}
_OPTION_CLASSES: dict[int, str] = {
    v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_") and isinstance(v, int)
}
_PADDING = {v: k for k, v in vars(tflite.Padding).items() if not k.startswith("_") and isinstance(v, int)}
_ACT = {v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_") and isinstance(v, int)}
_ENUM_FIELDS: dict[str, dict[int, str]] = {"padding": _PADDING, "fused_activation_function": _ACT}
_SKIP_METHODS = {"Init"}
# zero points a quantized tensor of each type can have (others: int32)
_ZP_RANGE: dict[str, tuple[int, int]] = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


def _snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s).lower()


def _read_options(op: Any) -> dict[str, Any]:
    """All fields of the operator's BuiltinOptions table as a snake_case dict."""
    typ = op.BuiltinOptionsType()
    if typ == 0:
        return {}
    cls_name = _OPTION_CLASSES.get(typ)
    table = op.BuiltinOptions()
    if cls_name is None or table is None or not hasattr(tflite, cls_name):
        return {}
    obj = getattr(tflite, cls_name)()
    obj.Init(table.Bytes, table.Pos)
    out: dict[str, Any] = {}
    for attr in dir(type(obj)):
        if attr.startswith("_") or attr in _SKIP_METHODS or attr.startswith("GetRootAs"):
            continue
        if attr.endswith(("Length", "IsNone", "AsNumpy", "BufferHasIdentifier")):
            continue
        fn = getattr(obj, attr)
        if not callable(fn):
            continue
        params = [p for p in inspect.signature(fn).parameters.values()]
        key = _snake(attr)
        if not params:
            val = fn()
            if key in _ENUM_FIELDS:
                val = _ENUM_FIELDS[key].get(int(val), str(val))
            out[key] = val
        elif len(params) == 1 and hasattr(obj, attr + "AsNumpy"):
            arr = getattr(obj, attr + "AsNumpy")()
            out[key] = [] if isinstance(arr, int) else [int(x) if np.issubdtype(arr.dtype, np.integer) else x
                                                       for x in arr.tolist()]
    return out


def _custom_options(op: Any) -> tuple[dict[str, Any], bytes]:
    """A custom operator's options: the flexbuffer map decoded (``{}`` when there are none or they are not
    a flexbuffer map) and the raw bytes."""
    raw = op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() > 0 else b""
    if not raw:
        return {}, b""
    try:
        val = flexbuffers.Loads(raw)
    except Exception:  # not a flexbuffer: the raw bytes are still there for a user kernel
        return {}, raw
    return (dict(val) if isinstance(val, dict) else {}), raw


def _fmt_err(path: str, what: str) -> str:
    return f"{path}: {what}"


# A flatbuffer cannot exceed 2 GiB (32-bit offsets); no microcontroller model comes near the default
# limit below (raise it with MICROAOT_MAX_MODEL_MB for an unusual one).
FLATBUFFER_LIMIT = (1 << 31) - 1
DEFAULT_MAX_MODEL_MB = 512


def max_model_bytes() -> int:
    env = os.environ.get("MICROAOT_MAX_MODEL_MB", "")
    try:
        mb = float(env) if env else DEFAULT_MAX_MODEL_MB
    except ValueError:
        raise ModelFormatError(f"MICROAOT_MAX_MODEL_MB={env!r} is not a number of megabytes") from None
    return min(int(mb * (1 << 20)), FLATBUFFER_LIMIT)


def read_model_file(model_path: str | Path) -> bytes:
    """The bytes of a .tflite file, after checking what it is without reading it whole: a regular file
    (never a FIFO, device or directory, which could hang or never end), of a size a TFLite model can
    have, whose header carries the TFLite file identifier. ModelFormatError names the file and what
    to do otherwise."""
    path = Path(model_path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        what = "a directory, not a model file" if isinstance(e, IsADirectoryError) else (e.strerror or str(e))
        raise ModelFormatError(f"{path}: cannot read the model file: {what}; give a .tflite file") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise ModelFormatError(f"{path}: is {kind}, not a model file; give a regular .tflite file")
    with os.fdopen(fd, "rb", buffering=0) as f:
        size = st.st_size
        if size < 16:
            raise ModelFormatError(f"{path}: {size} bytes is too small for a TFLite model; give a .tflite file")
        head = f.read(8)
        if len(head) < 8 or head[4:8] != b"TFL3":
            raise ModelFormatError(
                _fmt_err(str(path), "not a TFLite flatbuffer (file identifier 'TFL3' missing); give a .tflite file")
            )
        limit = max_model_bytes()
        if size > limit:
            raise ModelFormatError(
                f"{path}: {size / (1 << 20):.0f} MB is larger than any model microaot compiles (limit "
                f"{limit / (1 << 20):.0f} MB; a flatbuffer cannot exceed 2 GiB); check the file, or raise "
                "MICROAOT_MAX_MODEL_MB"
            )
        try:
            os.set_blocking(f.fileno(), True)
            data = bytearray(head)
            while len(data) < size:
                part = f.read(min(size - len(data), 1 << 24))
                if not part:
                    break
                data += part
        except OSError as e:
            raise ModelFormatError(f"{path}: cannot read the model file: {e.strerror or e}") from None
    if len(data) != size:
        raise ModelFormatError(f"{path}: the file changed while it was read ({len(data)} of {size} bytes); "
                               "read it again once it is complete")
    return bytes(data)


def load_tflite(model_path: str | Path, *, lenient: bool = False) -> Graph:
    """Read a .tflite file into an ir.Graph (see module doc for what is rejected). ``lenient``: keep
    control-flow operators as operators (opcode ``IF`` ...) instead of raising, for ``microaot inspect``, which
    reports every problem of a model; compiling still rejects them."""
    path = Path(model_path)
    return import_tflite_bytes(read_model_file(path), str(path), lenient=lenient)


def import_tflite_bytes(buf: bytes, source: str = "<bytes>", *, lenient: bool = False) -> Graph:
    if len(buf) < 16 or buf[4:8] != b"TFL3":
        raise ModelFormatError(
            _fmt_err(source, "not a TFLite flatbuffer (file identifier 'TFL3' missing); give a .tflite file")
        )
    try:
        return _import(buf, source, lenient)
    except MicroaotError:
        raise
    except Exception as e:  # malformed flatbuffer: offsets out of range, bad unions, ...
        raise ModelFormatError(
            _fmt_err(source, f"malformed TFLite flatbuffer ({type(e).__name__}: {e}); re-export the model")
        ) from None


def _buffer_data(model: Any, buf: bytes, bidx: int, source: str, tname: str) -> bytes | None:
    if bidx <= 0:
        return None
    if bidx >= model.BuffersLength():
        raise ModelFormatError(_fmt_err(source, f"tensor {tname!r} refers to buffer {bidx}, "
                                                f"but the model has {model.BuffersLength()} buffers"))
    b = model.Buffers(bidx)
    off = b.Offset() if hasattr(b, "Offset") else 0
    if off > 1:
        size = b.Size()
        if off + size > len(buf):
            raise ModelFormatError(_fmt_err(source, f"buffer {bidx} of tensor {tname!r} lies outside the file"))
        return bytes(buf[off:off + size])
    if b.DataLength() == 0:
        return None
    return b.DataAsNumpy().tobytes()


def _import(buf: bytes, source: str, lenient: bool = False) -> Graph:
    model = tflite.Model.GetRootAs(buf, 0)
    nsub = model.SubgraphsLength()
    if nsub != 1:
        raise UnsupportedModelError(
            _fmt_err(source, f"the model has {nsub} subgraphs; microaot compiles single-subgraph models "
                             "only (no control flow, no signatures with several graphs)")
        )
    sg = model.Subgraphs(0)

    opcodes: list[str] = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        if code == tflite.BuiltinOperator.CUSTOM:
            cname = oc.CustomCode()
            opcodes.append("CUSTOM:" + (cname.decode("utf-8", "replace") if cname else "?"))
        else:
            opcodes.append(_OPCODE_NAMES.get(code, f"BUILTIN_{code}"))

    tensors: list[Tensor] = []
    for ti in range(sg.TensorsLength()):
        t = sg.Tensors(ti)
        raw_name = t.Name()
        tname = raw_name.decode("utf-8", "replace") if raw_name else f"tensor_{ti}"
        ttype = int(t.Type())
        if ttype not in _TENSOR_TYPES or _TENSOR_TYPES[ttype][0] == "resource":
            # only an error if an operator uses it; record a placeholder dtype
            dtype, npdt = f"unsupported:{_TYPE_NAMES.get(ttype, ttype)}", None
            if ttype in _TENSOR_TYPES:
                dtype = "resource"
        else:
            dtype, npdt = _TENSOR_TYPES[ttype]
        shape = tuple(int(x) for x in (t.ShapeAsNumpy() if t.ShapeLength() > 0 else []))
        sig = [int(x) for x in (t.ShapeSignatureAsNumpy() if t.ShapeSignatureLength() > 0 else [])]
        if any(d < 0 for d in sig[1:]) or any(d < 0 for d in shape[1:]):
            raise UnsupportedModelError(
                _fmt_err(source, f"tensor {ti} ({tname!r}) has a dynamic shape {sig or list(shape)}; "
                                 "microaot needs static shapes (only the batch dimension may be -1, it is "
                                 "compiled as 1). Re-export the model with fixed input shapes")
            )
        if shape and shape[0] < 0:
            shape = (1, *shape[1:])
        quant = None
        q = t.Quantization()
        if q is not None and q.ScaleLength() > 0:
            scale = q.ScaleAsNumpy().astype(np.float32)
            zp = (q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() > 0
                  else np.zeros(scale.shape, np.int64))
            if zp.size == 1 and scale.size > 1:
                zp = np.full(scale.shape, int(zp[0]), np.int64)
            axis = int(q.QuantizedDimension())
            if scale.size == 1:
                axis = 0
            elif not (0 <= axis < len(shape) and shape[axis] == scale.size):
                # tolerate converter quirks: e.g. a 1-D bias whose quantized_dimension says 3
                cands = [a for a, d in enumerate(shape) if d == scale.size]
                if len(shape) == 1 and cands:
                    axis = 0
                elif len(cands) == 1:
                    axis = cands[0]
                else:
                    raise ModelFormatError(
                        _fmt_err(source, f"tensor {ti} ({tname!r}): {scale.size} quantization scales do not "
                                         f"match shape {list(shape)} along quantized_dimension {axis}")
                    )
            if zp.size != scale.size:
                raise ModelFormatError(_fmt_err(source, f"tensor {ti} ({tname!r}): {scale.size} scales but "
                                                        f"{zp.size} zero points"))
            if not np.all(np.isfinite(scale) & (scale > 0)):
                bad = scale[~(np.isfinite(scale) & (scale > 0))][0]
                raise ModelFormatError(_fmt_err(source, f"tensor {ti} ({tname!r}): quantization scale {bad} is "
                                                        "not a positive finite number; the file is corrupt or "
                                                        "badly quantized: re-export the model"))
            lo, hi = _ZP_RANGE.get(dtype, (-(2**31), 2**31 - 1))
            if zp.size and (int(zp.min()) < lo or int(zp.max()) > hi):
                bad = int(zp.min()) if int(zp.min()) < lo else int(zp.max())
                raise ModelFormatError(_fmt_err(source, f"tensor {ti} ({tname!r}): zero point {bad} is outside "
                                                        f"[{lo}, {hi}] for {dtype}; the file is corrupt: "
                                                        "re-export the model"))
            quant = QuantParams(scale=scale, zero_point=zp, axis=axis)
        data = None
        raw = _buffer_data(model, buf, int(t.Buffer()), source, tname)
        if raw is not None:
            if npdt is None:
                data = np.frombuffer(raw, dtype=np.uint8).copy()
            else:
                n = int(np.prod(shape)) if shape else 1
                item = np.dtype(npdt).itemsize
                if len(raw) != n * item:
                    raise ModelFormatError(
                        _fmt_err(source, f"tensor {ti} ({tname!r}): buffer holds {len(raw)} bytes, "
                                         f"shape {list(shape)} of {dtype} needs {n * item}")
                    )
                data = np.frombuffer(raw, dtype=npdt).reshape(shape).copy()
        if dtype == "resource":
            data = None  # a handle: never constant data
        if t.IsVariable():
            data = None  # TFLM allocates a variable tensor in its arena and ignores any data the file gives it
        tensors.append(Tensor(index=ti, name=tname, shape=shape, dtype=dtype, quant=quant, data=data,
                              is_variable=bool(t.IsVariable())))

    ntens = len(tensors)

    def _check_idx(lst: list[int], what: str, allow_absent: bool) -> list[int]:
        for x in lst:
            if (x < 0 and not (allow_absent and x == -1)) or x >= ntens:
                raise ModelFormatError(_fmt_err(source, f"{what} refers to tensor {x}, the subgraph has {ntens}"))
        return lst

    operators: list[Operator] = []
    for oi in range(sg.OperatorsLength()):
        o = sg.Operators(oi)
        idx = int(o.OpcodeIndex())
        if idx >= len(opcodes):
            raise ModelFormatError(_fmt_err(source, f"operator {oi} uses opcode index {idx}, "
                                                    f"the model has {len(opcodes)}"))
        name = opcodes[idx]
        if name in CONTROL_FLOW_OPS and not lenient:
            raise UnsupportedModelError(
                _fmt_err(source, f"operator {oi} ({name}): control flow is not supported; microaot compiles "
                                 "single-subgraph models without control flow")
            )
        ins = [int(x) for x in (o.InputsAsNumpy() if o.InputsLength() > 0 else [])]
        outs = [int(x) for x in (o.OutputsAsNumpy() if o.OutputsLength() > 0 else [])]
        _check_idx(ins, f"operator {oi} ({name}) input", True)
        _check_idx(outs, f"operator {oi} ({name}) output", False)
        for x in [*ins, *outs]:
            if x >= 0 and tensors[x].dtype.startswith("unsupported:"):
                raise UnsupportedModelError(
                    _fmt_err(source, f"operator {oi} ({name}): tensor {x} ({tensors[x].name!r}) has type "
                                     f"{tensors[x].dtype.split(':', 1)[1]}; supported types are int8, "
                                     "uint8, int16, uint16, int32, uint32, int64, uint64, float32, bool")
                )
        version = int(model.OperatorCodes(idx).Version())
        if name.startswith("CUSTOM:"):
            options, custom = _custom_options(o)
        else:
            options, custom = _read_options(o), b""
        operators.append(Operator(index=oi, opcode=name, inputs=ins, outputs=outs,
                                  options=options, version=version, custom_options=custom))

    g_in = _check_idx([int(x) for x in (sg.InputsAsNumpy() if sg.InputsLength() > 0 else [])], "graph input", False)
    g_out = _check_idx([int(x) for x in (sg.OutputsAsNumpy() if sg.OutputsLength() > 0 else [])],
                       "graph output", False)
    if not g_out:
        raise ModelFormatError(_fmt_err(source, "the subgraph has no outputs"))
    desc = model.Description()
    return Graph(
        tensors=tensors,
        operators=operators,
        inputs=g_in,
        outputs=g_out,
        name=Path(source).stem,
        source=source,
        description=desc.decode("utf-8", "replace") if desc else "",
    )
