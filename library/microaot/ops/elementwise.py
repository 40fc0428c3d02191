"""Lowering of the elementwise operators of kernel family ``elementwise`` (crt/kernels/elementwise.c).

Two inputs, numpy broadcasting up to 6 dims: SUB, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, DIV, PRELU,
EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL, LOGICAL_AND, LOGICAL_OR; three: SELECT_V2;
one: ABS, NEG, EXP, LOG, SQRT, RSQRT, SQUARE, ELU, HARD_SWISH, LEAKY_RELU, RELU_N1_TO_1, RELU_0_TO_1,
LOGICAL_NOT, CAST, ZEROS_LIKE. Each accepts the dtypes TFLM's kernel accepts (``SUPPORTED`` below,
listed in docs/operators.md), and computes the quantization parameters exactly as that kernel's
Prepare does (float32 or double evaluation order included). The int8 one-input operators whose output
depends on the input byte alone (ELU as TFLM's PopulateLookupTable; LEAKY_RELU, ABS, HARD_SWISH,
RELU_N1_TO_1, RELU_0_TO_1 through ``q_elem_s8``, the Python twin of the C kernel's arithmetic) become a
256-byte table run by the activation family's ``uaot_lut_s8``; int16 runs the C kernel.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from microaot.ir.graph import Graph, Operator, Tensor, dtype_size
from microaot.ir.quant import quantize_multiplier, quantize_multiplier_smaller_than_one_exp, tflite_round
from microaot.ops import InPlace, Lowering, LoweringContext, register
from microaot.ops._common import FLT_MAX, require_quant
from microaot.ops._tflm_math import mbqm

DIMS = 6
DT_CODE = {"int8": 1, "uint8": 2, "int16": 3, "int32": 4, "float32": 5, "bool": 6, "uint32": 9}
_QRANGE = {"int8": (-128, 127), "int16": (-32768, 32767)}
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

# operator -> dtypes of its (first) input that microaot supports, as TFLM's kernel does
SUPPORTED: dict[str, tuple[str, ...]] = {
    "SUB": ("float32", "int32", "int8", "int16"),
    "MAXIMUM": ("float32", "int32", "int8", "int16"),
    "MINIMUM": ("float32", "int32", "int8", "int16"),
    "SQUARED_DIFFERENCE": ("float32", "int32", "int8", "int16"),
    "DIV": ("float32", "int32", "int8"),
    "PRELU": ("float32", "int8", "int16"),
    "EQUAL": ("float32", "int32", "int8", "bool"),
    "NOT_EQUAL": ("float32", "int32", "int8", "bool"),
    "LESS": ("float32", "int32", "int8"),
    "LESS_EQUAL": ("float32", "int32", "int8"),
    "GREATER": ("float32", "int32", "int8"),
    "GREATER_EQUAL": ("float32", "int32", "int8"),
    "LOGICAL_AND": ("bool",),
    "LOGICAL_OR": ("bool",),
    "LOGICAL_NOT": ("bool",),
    "SELECT_V2": ("float32", "int8", "int16"),
    "ABS": ("float32", "int8", "int16"),
    "NEG": ("float32",),
    "EXP": ("float32",),
    "LOG": ("float32",),
    "SQRT": ("float32",),
    "RSQRT": ("float32", "int8", "int16"),
    "SQUARE": ("float32",),
    "ELU": ("float32", "int8"),
    "HARD_SWISH": ("float32", "int8"),
    "LEAKY_RELU": ("float32", "int8", "int16"),
    "RELU_N1_TO_1": ("float32", "int8"),
    "RELU_0_TO_1": ("float32", "int8"),
    "CAST": ("float32", "int32", "int16", "int8", "uint8", "bool", "uint32"),
    "ZEROS_LIKE": ("float32", "int32", "int16", "int8", "bool"),
}

_OP_CODE = {
    "SUB": 1, "MAXIMUM": 2, "MINIMUM": 3, "SQUARED_DIFFERENCE": 4, "DIV": 5, "PRELU": 6,
    "EQUAL": 7, "NOT_EQUAL": 8, "LESS": 9, "LESS_EQUAL": 10, "GREATER": 11, "GREATER_EQUAL": 12,
    "LOGICAL_AND": 13, "LOGICAL_OR": 14, "ADD": 15, "MUL": 16,
    "ABS": 20, "NEG": 21, "EXP": 22, "LOG": 23, "SQRT": 24, "RSQRT": 25, "SQUARE": 26, "ELU": 27,
    "HARD_SWISH": 28, "LEAKY_RELU": 29, "RELU_N1_TO_1": 30, "RELU_0_TO_1": 30, "LOGICAL_NOT": 31,
}


def ew_inplace(graph: Graph, op: Operator) -> list[InPlace]:
    """The output may overwrite an input of its shape and element size: every kernel of this family
    reads element o of such an input (and whatever it needs of the others) before writing element o.
    (CAST between sizes, and broadcast inputs, are never offered.)"""
    y = graph.tensors[op.outputs[0]]
    out = []
    for k, t in enumerate(op.inputs):
        if t < 0:
            continue
        x = graph.tensors[t]
        if (not x.is_const and x.num_elements == y.num_elements and x.nbytes == y.nbytes
                and dtype_size(x.dtype) == dtype_size(y.dtype)
                and tuple(d for d in x.shape if d != 1) == tuple(d for d in y.shape if d != 1)):
            out.append(InPlace(input=k))
    return out


def f32(x: float) -> float:
    return float(np.float32(x))


def _c_list(v: list[int]) -> str:
    return "{" + ", ".join(map(str, v)) + "}"


def broadcast(ctx: LoweringContext, inputs: list[Tensor], out: Tensor) -> dict[str, object]:
    """out_dims and per-input element strides right-aligned to 6 dims (s1, s2, s3; 0 where an input
    broadcasts); inputs of the output's shape collapse to dims {1,1,1,1,1,n}."""
    shape = [int(d) for d in out.shape]
    if len(shape) > DIMS or any(len(t.shape) > DIMS for t in inputs):
        raise ctx.unsupported(f"more than {DIMS} dimensions")

    def pad(s: tuple[int, ...]) -> list[int]:
        return [1] * (DIMS - len(s)) + [int(d) for d in s]

    po = pad(tuple(shape))
    padded = [pad(tuple(t.shape)) for t in inputs]
    for t, p in zip(inputs, padded, strict=True):
        for d in range(DIMS):
            if p[d] not in (1, po[d]):
                shapes = " and ".join(str(list(x.shape)) for x in inputs)
                raise ctx.unsupported(f"input shapes {shapes} do not broadcast to the output shape {shape} "
                                      f"(tensor {t.name!r})")
    fields: dict[str, object] = {}
    if all(p == po for p in padded):
        n = out.num_elements
        fields["out_dims"] = _c_list([1] * (DIMS - 1) + [n])
        for k in range(3):
            fields[f"s{k + 1}"] = _c_list([0] * (DIMS - 1) + [1 if k < len(inputs) else 0])
        return fields
    fields["out_dims"] = _c_list(po)
    for k in range(3):
        st = [0] * DIMS
        if k < len(inputs):
            acc = 1
            for d in range(DIMS - 1, -1, -1):
                st[d] = acc if padded[k][d] != 1 else 0
                acc *= padded[k][d]
        fields[f"s{k + 1}"] = _c_list(st)
    return fields


def _fields(ctx: LoweringContext, op: str, dtype: str, inputs: list[Tensor], out: Tensor) -> dict[str, object]:
    f: dict[str, object] = {
        "size": out.num_elements, "op": _OP_CODE.get(op, 0), "dtype": DT_CODE[dtype],
        "out_dtype": DT_CODE.get(out.dtype, 0), "act": 0,
    }
    f.update(broadcast(ctx, inputs, out))
    f.update(in1_offset=0, in2_offset=0, out_offset=0, left_shift=0, in1_mult=0, in1_shift=0, in2_mult=0,
             in2_shift=0, out_mult=0, out_shift=0, out2_mult=0, out2_shift=0, act_min=0, act_max=0,
             act_min_f=-FLT_MAX, act_max_f=FLT_MAX, alpha=0.0)
    return f


def _dtype(ctx: LoweringContext, tensors: list[Tensor], what: str = "inputs and output") -> str:
    op = ctx.opcode
    dts = {t.dtype for t in tensors}
    allowed = SUPPORTED[op]
    if len(dts) != 1 or next(iter(dts)) not in allowed:
        names = ", ".join(f"{t.name!r}: {t.dtype}" for t in tensors)
        raise ctx.unsupported(f"tensor types ({names}) not supported; {op} needs its {what} all of one type: "
                              f"{', '.join(allowed)} (as TFLite Micro); re-export the model with one of them")
    return next(iter(dts))


def _q(ctx: LoweringContext, t: Tensor, what: str) -> tuple[float, int]:
    return require_quant(ctx, t, what)


def _act_range(ctx: LoweringContext, dtype: str, y: Tensor) -> tuple[int, int]:
    """TFLM CalculateActivationRangeQuantized (int8/int16) or CalculateActivationRange<int32>."""
    act = str(ctx.options.get("fused_activation_function", "NONE"))
    if dtype == "int32":
        lims = {"NONE": (INT32_MIN, INT32_MAX), "RELU": (0, INT32_MAX), "RELU6": (0, 6), "RELU_N1_TO_1": (-1, 1)}
        if act not in lims:
            raise ctx.unsupported(f"fused activation {act} not supported (NONE, RELU, RELU6, RELU_N1_TO_1)")
        return lims[act]
    qmin, qmax = _QRANGE[dtype]
    if act == "NONE":
        return qmin, qmax
    s, z = _q(ctx, y, "output")

    def qf(v: float) -> int:
        return z + tflite_round(f32(np.float32(v) / np.float32(s)))

    if act == "RELU":
        return max(qmin, qf(0.0)), qmax
    if act == "RELU6":
        return max(qmin, qf(0.0)), min(qmax, qf(6.0))
    if act == "RELU_N1_TO_1":
        return max(qmin, qf(-1.0)), min(qmax, qf(1.0))
    raise ctx.unsupported(f"fused activation {act} not supported (NONE, RELU, RELU6, RELU_N1_TO_1)")


def _act_f32(ctx: LoweringContext) -> tuple[float, float]:
    act = str(ctx.options.get("fused_activation_function", "NONE"))
    lims = {"NONE": (-FLT_MAX, FLT_MAX), "RELU": (0.0, FLT_MAX), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}
    if act not in lims:
        raise ctx.unsupported(f"fused activation {act} not supported (NONE, RELU, RELU6, RELU_N1_TO_1)")
    return lims[act]


def _qm(ctx: LoweringContext, real: float, what: str) -> tuple[int, int]:
    try:
        return quantize_multiplier(real)
    except ValueError as e:
        raise ctx.unsupported(f"{what}: {e}") from None


def _qm_lt1(ctx: LoweringContext, real: float, what: str) -> tuple[int, int]:
    try:
        return quantize_multiplier_smaller_than_one_exp(real)
    except ValueError:
        raise ctx.unsupported(f"{what}: the rescale factor {real!r} must be in (0, 1) (TFLM's "
                              "QuantizeMultiplierSmallerThanOneExp); the tensors' scales are not usable") from None


def _call(ctx: LoweringContext, fn: str, fields: dict[str, object], *ptrs: str) -> Lowering:
    p = ctx.params("uaot_ew_params_t", fields)
    return Lowering(families=("elementwise",), call=f"{fn}({p}, {', '.join(ptrs)})")


def _kernel(dtype: str) -> str:
    return {"float32": "uaot_ew_f32", "int32": "uaot_ew_i32", "int8": "uaot_ew_s8", "int16": "uaot_ew_s16"}[dtype]


def _same_shape_out(ctx: LoweringContext, x: Tensor, y: Tensor) -> None:
    if x.num_elements != y.num_elements:
        raise ctx.unsupported(f"input {list(x.shape)} and output {list(y.shape)} differ in size")


# ---- two inputs, arithmetic -----------------------------------------------------------------------


@register("SUB", inplace=ew_inplace, dtypes=("float32", "int32", "int8", "int16"))
def lower_sub(ctx: LoweringContext) -> Lowering:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    dtype = _dtype(ctx, [a, b, y])
    f = _fields(ctx, "SUB", dtype, [a, b], y)
    if dtype == "float32":
        f["act_min_f"], f["act_max_f"] = _act_f32(ctx)
    elif dtype == "int32":
        f["act"] = 1
        f["act_min"], f["act_max"] = _act_range(ctx, dtype, y)
    else:
        # TFLM CalculateOpDataSub: double arithmetic, left shift 20 (int8) / 15 (int16)
        s1, z1 = _q(ctx, a, "input 1")
        s2, z2 = _q(ctx, b, "input 2")
        so, zo = _q(ctx, y, "output")
        ls = 15 if dtype == "int16" else 20
        twice = 2.0 * max(s1, s2)
        m1, sh1 = _qm_lt1(ctx, s1 / twice, "input 1")
        m2, sh2 = _qm_lt1(ctx, s2 / twice, "input 2")
        mo, sho = _qm_lt1(ctx, twice / ((1 << ls) * so), "output")
        lo, hi = _act_range(ctx, dtype, y)
        f.update(in1_offset=-z1, in2_offset=-z2, out_offset=zo, left_shift=ls, in1_mult=m1, in1_shift=sh1,
                 in2_mult=m2, in2_shift=sh2, out_mult=mo, out_shift=sho, act_min=lo, act_max=hi, act=1)
    return _call(ctx, _kernel(dtype), f, ctx.in_ptr(0), ctx.in_ptr(1), ctx.out_ptr(0))


def lower_int32_arith(ctx: LoweringContext, op: str) -> Lowering:
    """int32 ADD / MUL (registered in ops/add.py and ops/mul.py), as the PyPI TFLM computes them: wrapping
    modulo 2^32, numpy broadcasting; MUL clamps to its fused activation's int32 range
    (CalculateActivationRange), ADD ignores the fused activation on int32 (TFLM does)."""
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    if {a.dtype, b.dtype, y.dtype} != {"int32"}:
        raise ctx.unsupported(f"int32 {op} needs int32 inputs and output, got {a.dtype}, {b.dtype} -> {y.dtype}")
    f = _fields(ctx, op, "int32", [a, b], y)
    if op == "MUL":
        f["act"] = 1
        f["act_min"], f["act_max"] = _act_range(ctx, "int32", y)
    return _call(ctx, "uaot_ew_i32", f, ctx.in_ptr(0), ctx.in_ptr(1), ctx.out_ptr(0))


def _lower_maxmin(ctx: LoweringContext) -> Lowering:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    dtype = _dtype(ctx, [a, b, y])
    f = _fields(ctx, ctx.opcode, dtype, [a, b], y)
    return _call(ctx, _kernel(dtype), f, ctx.in_ptr(0), ctx.in_ptr(1), ctx.out_ptr(0))


register("MAXIMUM", inplace=ew_inplace, dtypes=("float32", "int32", "int8", "int16"))(_lower_maxmin)
register("MINIMUM", inplace=ew_inplace, dtypes=("float32", "int32", "int8", "int16"))(_lower_maxmin)


@register("SQUARED_DIFFERENCE", inplace=ew_inplace, dtypes=("float32", "int32", "int8", "int16"))
def lower_squared_difference(ctx: LoweringContext) -> Lowering:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    dtype = _dtype(ctx, [a, b, y])
    f = _fields(ctx, "SQUARED_DIFFERENCE", dtype, [a, b], y)
    if dtype in ("int8", "int16"):
        # TFLM squared_difference.cc PrepareQuantized: double arithmetic; left shift 7 (int8) / 0 (int16)
        s1, z1 = _q(ctx, a, "input 1")
        s2, z2 = _q(ctx, b, "input 2")
        so, zo = _q(ctx, y, "output")
        if dtype == "int16" and (z1, z2, zo) != (0, 0, 0):
            raise ctx.unsupported("int16 SQUARED_DIFFERENCE needs zero points 0 (TFLM)")
        ls = 7 if dtype == "int8" else 0
        twice = 2.0 * max(s1, s2)
        m1, sh1 = _qm_lt1(ctx, s1 / twice, "input 1")
        m2, sh2 = _qm_lt1(ctx, s2 / twice, "input 2")
        mo, sho = _qm(ctx, (twice * twice) / f32(np.float32(1 << (ls * 2)) * np.float32(so)), "output")
        lo, hi = _QRANGE[dtype]
        f.update(in1_offset=-z1, in2_offset=-z2, out_offset=zo, left_shift=ls, in1_mult=m1, in1_shift=sh1,
                 in2_mult=m2, in2_shift=sh2, out_mult=mo, out_shift=sho, act_min=lo, act_max=hi)
    return _call(ctx, _kernel(dtype), f, ctx.in_ptr(0), ctx.in_ptr(1), ctx.out_ptr(0))


@register("DIV", inplace=ew_inplace, dtypes=("float32", "int32", "int8"))
def lower_div(ctx: LoweringContext) -> Lowering:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    dtype = _dtype(ctx, [a, b, y])
    f = _fields(ctx, "DIV", dtype, [a, b], y)
    if dtype == "float32":
        f["act_min_f"], f["act_max_f"] = _act_f32(ctx)
    elif dtype == "int32":
        f["act"] = 1
        f["act_min"], f["act_max"] = _act_range(ctx, dtype, y)
    else:
        s1, z1 = _q(ctx, a, "input 1")
        s2, z2 = _q(ctx, b, "input 2")
        so, zo = _q(ctx, y, "output")
        # TFLM CalculateOpDataDiv: float32 input1_scale / (input2_scale * output_scale)
        mo, sho = _qm(ctx, f32(np.float32(s1) / np.float32(f32(np.float32(s2) * np.float32(so)))), "output")
        lo, hi = _act_range(ctx, dtype, y)
        f.update(in1_offset=-z1, in2_offset=-z2, out_offset=zo, out_mult=mo, out_shift=sho, act_min=lo,
                 act_max=hi)
    return _call(ctx, _kernel(dtype), f, ctx.in_ptr(0), ctx.in_ptr(1), ctx.out_ptr(0))


@register("PRELU", inplace=ew_inplace, dtypes=("float32", "int8", "int16"))
def lower_prelu(ctx: LoweringContext) -> Lowering:
    x, alpha, y = ctx.input(0), ctx.input(1), ctx.output(0)
    dtype = _dtype(ctx, [x, y], "input and output")
    want_alpha = "int8" if dtype == "int16" else dtype
    if alpha.dtype != want_alpha:
        raise ctx.unsupported(f"alpha tensor {alpha.name!r} is {alpha.dtype}; {dtype} PRELU needs a {want_alpha} "
                              "alpha (TFLM)")
    f = _fields(ctx, "PRELU", dtype, [x, alpha], y)
    if dtype != "float32":
        si, zi = _q(ctx, x, "input")
        sa, za = _q(ctx, alpha, "alpha")
        so, zo = _q(ctx, y, "output")
        m1, sh1 = _qm(ctx, si / so, "input")
        m2, sh2 = _qm(ctx, si * sa / so, "alpha")
        f.update(in1_offset=-zi, in2_offset=-za, out_offset=zo, out_mult=m1, out_shift=sh1, out2_mult=m2,
                 out2_shift=sh2)
    return _call(ctx, _kernel(dtype), f, ctx.in_ptr(0), ctx.in_ptr(1), ctx.out_ptr(0))


# ---- comparisons, logical, select ----------------------------------------------------------------


def _lower_compare(ctx: LoweringContext) -> Lowering:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    dtype = _dtype(ctx, [a, b], "inputs")
    if y.dtype != "bool":
        raise ctx.unsupported(f"output {y.name!r} is {y.dtype}; {ctx.opcode} writes bool")
    f = _fields(ctx, ctx.opcode, dtype, [a, b], y)
    if dtype == "int8":
        # TFLM comparisons.cc Prepare: left shift 8, QuantizeMultiplierSmallerThanOneExp(scale)
        s1, z1 = _q(ctx, a, "input 1")
        s2, z2 = _q(ctx, b, "input 2")
        m1, sh1 = _qm_lt1(ctx, s1, "input 1")
        m2, sh2 = _qm_lt1(ctx, s2, "input 2")
        f.update(in1_offset=-z1, in2_offset=-z2, left_shift=8, in1_mult=m1, in1_shift=sh1, in2_mult=m2,
                 in2_shift=sh2)
    return _call(ctx, "uaot_ew_compare", f, ctx.in_ptr(0), ctx.in_ptr(1), ctx.out_ptr(0))


for _op in ("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"):
    register(_op, inplace=ew_inplace, dtypes=("float32->bool", "int32->bool", "int8->bool")
             + (("bool",) if _op in ("EQUAL", "NOT_EQUAL") else ()))(_lower_compare)


def _lower_logical(ctx: LoweringContext) -> Lowering:
    unary = ctx.opcode == "LOGICAL_NOT"
    ins = [ctx.input(0)] if unary else [ctx.input(0), ctx.input(1)]
    y = ctx.output(0)
    _dtype(ctx, [*ins, y])
    f = _fields(ctx, ctx.opcode, "bool", ins, y)
    return _call(ctx, "uaot_ew_compare", f, ctx.in_ptr(0), "NULL" if unary else ctx.in_ptr(1), ctx.out_ptr(0))


for _op in ("LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT"):
    register(_op, inplace=ew_inplace, dtypes=("bool",))(_lower_logical)


@register("SELECT_V2", inplace=ew_inplace, dtypes=("bool->float32", "bool->int8", "bool->int16"))
def lower_select_v2(ctx: LoweringContext) -> Lowering:
    c, a, b, y = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    if c.dtype != "bool":
        raise ctx.unsupported(f"condition {c.name!r} is {c.dtype}; SELECT_V2 needs a bool condition")
    dtype = _dtype(ctx, [a, b, y], "value inputs and output")
    # quantized values are copied unchanged, whatever their quantization (as TFLM)
    f = _fields(ctx, "SELECT_V2", dtype, [c, a, b], y)
    size = {"float32": 4, "int16": 2, "int8": 1}[dtype]
    return _call(ctx, "uaot_ew_select", f, ctx.in_ptr(0), ctx.in_ptr(1), ctx.in_ptr(2), ctx.out_ptr(0), str(size))


# ---- one input ------------------------------------------------------------------------------------


def _unary(ctx: LoweringContext) -> tuple[Tensor, Tensor, str, dict[str, object]]:
    x, y = ctx.input(0), ctx.output(0)
    _same_shape_out(ctx, x, y)
    dtype = _dtype(ctx, [x, y])
    f = _fields(ctx, ctx.opcode, dtype, [], y)
    f["out_dims"] = _c_list([1] * (DIMS - 1) + [y.num_elements])
    f["s1"] = _c_list([0] * (DIMS - 1) + [1])
    return x, y, dtype, f


def _unary_call(ctx: LoweringContext, dtype: str, f: dict[str, object]) -> Lowering:
    return _call(ctx, _kernel(dtype), f, ctx.in_ptr(0), "NULL", ctx.out_ptr(0))


def _lower_float_unary(ctx: LoweringContext) -> Lowering:
    _, _, dtype, f = _unary(ctx)
    return _unary_call(ctx, dtype, f)


for _op in ("NEG", "EXP", "LOG", "SQRT", "SQUARE"):
    register(_op, inplace=ew_inplace, dtypes=("float32",))(_lower_float_unary)


@register("ABS", inplace=ew_inplace, dtypes=("float32", "int8", "int16"))
def lower_abs(ctx: LoweringContext) -> Lowering:
    x, y, dtype, f = _unary(ctx)
    if dtype == "int16" and x.quant is None and y.quant is None:
        f["act"] = 1  # TFLM: plain std::abs (offsets 0, no rescale, -32768 stays -32768)
        return _unary_call(ctx, dtype, f)
    if dtype != "float32":
        si, zi = _q(ctx, x, "input")
        so, zo = _q(ctx, y, "output")
        if dtype == "int16" and (zi, zo) != (0, 0):
            raise ctx.unsupported("int16 ABS needs zero points 0 (TFLM)")
        f.update(in1_offset=-zi, out_offset=zo)
        if si != so:  # TFLM needs_rescale: float32 scales differ
            f["out_mult"], f["out_shift"] = _qm(ctx, si / so, "output")
    if dtype == "int8":  # the output depends on the input byte alone: a 256-byte table
        return _lut_call(ctx, table_s8(q_elem_s8(ctx.opcode, f)))
    return _unary_call(ctx, dtype, f)


@register("RSQRT", inplace=ew_inplace, dtypes=("float32", "int8", "int16"))
def lower_rsqrt(ctx: LoweringContext) -> Lowering:
    x, y, dtype, f = _unary(ctx)
    if dtype != "float32":
        si, zi = _q(ctx, x, "input")
        so, zo = _q(ctx, y, "output")
        if dtype == "int16" and (zi, zo) != (0, 0):
            raise ctx.unsupported("int16 RSQRT needs zero points 0 (TFLM)")
        f.update(in1_offset=-zi, out_offset=zo)
        f["out_mult"], f["out_shift"] = _qm(ctx, 1.0 / (math.sqrt(si) * so), "output")
    return _unary_call(ctx, dtype, f)


def _lut_call(ctx: LoweringContext, table: list[int]) -> Lowering:
    """``uaot_lut_s8`` (activation family) over a 256-entry table indexed by the input byte (uint8 view)."""
    y = ctx.output(0)
    name = ctx.const_array("lut", "int8_t", np.array(table, dtype=np.int8))
    p = ctx.params("uaot_act_params_t", {
        "size": y.num_elements, "input_zp": 0, "output_zp": 0, "mult": 0, "shift": 0, "act_min": -128,
        "act_max": 127, "lo_f": 0.0, "hi_f": 0.0, "table": name})
    return Lowering(families=("activation",), call=f"uaot_lut_s8({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")


def table_s8(fn: Callable[[int], int]) -> list[int]:
    """The 256 int8 outputs of an int8 operator whose output depends on the input byte alone, indexed by
    the byte (uint8 view), clamped to int8 as the kernels store them."""
    out = [0] * 256
    for v in range(-128, 128):
        out[v & 0xFF] = max(-128, min(127, fn(v)))
    return out


def q_elem_s8(op: str, f: dict[str, object]) -> Callable[[int], int]:
    """Python twin of elementwise.c ``ew_q_elem`` for the one-input int8 operators that become tables
    (LEAKY_RELU, ABS, RELU_N1_TO_1 / RELU_0_TO_1 (CLAMP), HARD_SWISH), same integer arithmetic."""
    g = {k: int(v) for k, v in f.items() if isinstance(v, int)}
    if op == "LEAKY_RELU":
        return lambda v: g["out_offset"] + (mbqm(v + g["in1_offset"], g["out_mult"], g["out_shift"])
                                            if v + g["in1_offset"] >= 0 else
                                            mbqm(v + g["in1_offset"], g["out2_mult"], g["out2_shift"]))
    if op == "ABS":
        return lambda v: (abs(v + g["in1_offset"]) + g["out_offset"] if g["out_mult"] == 0 else
                          mbqm(abs(v + g["in1_offset"]), g["out_mult"], g["out_shift"]) + g["out_offset"])
    if op in ("RELU_N1_TO_1", "RELU_0_TO_1"):
        return lambda v: min(g["act_max"], max(g["act_min"], g["out_offset"] + mbqm(v + g["in1_offset"], g["out_mult"],
                                                                                     g["out_shift"])))
    if op == "HARD_SWISH":
        return lambda v: _hard_swish_q(v, g)
    raise ValueError(op)


def _i16(x: int) -> int:
    return ((x + 2**15) % 2**16) - 2**15


def _tdiv(n: int, d: int) -> int:
    """C integer division (truncation toward zero)."""
    q = abs(n) // d
    return q if n >= 0 else -q


def _srdhm16(a: int, b: int) -> int:
    if a == b == -32768:
        return 32767
    ab = a * b
    return _i16(_tdiv(ab + ((1 << 14) if ab >= 0 else 1 - (1 << 14)), 1 << 15))


def _rdbpot16(x: int, e: int) -> int:
    mask = (1 << e) - 1
    return _i16((x >> e) + (1 if (x & mask) > (mask >> 1) + (1 if x < 0 else 0) else 0))


def _sat_shl16(v: int, n: int) -> int:
    return max(-32768, min(32767, v * (1 << n)))


def _hard_swish_q(x: int, g: dict[str, int]) -> int:
    """TFLM reference_ops::HardSwish (int8), as elementwise.c hard_swish_q."""
    hires = _i16(_i16(x - g["in1_offset"]) * (1 << 7))
    pre_out = _srdhm16(hires, g["out_mult"])
    rel = hires
    if g["out2_shift"] > 0:
        rel = _sat_shl16(rel, g["out2_shift"] - 1)
    rel = _srdhm16(rel, g["out2_mult"])
    if g["out2_shift"] > 0:
        rel = _sat_shl16(rel, 1)
    if g["out2_shift"] < 0:
        rel = _rdbpot16(rel, -g["out2_shift"])
    rel = _i16((rel + (1 << 15)) >> 1)
    pre = 32767 if rel == pre_out == -32768 else _i16(_tdiv(rel * pre_out, 1 << 15))
    return _i16(_rdbpot16(pre, -g["out_shift"]) + g["out_offset"])


def elu_table_s8(s_in: float, z_in: int, s_out: float, z_out: int) -> list[int]:
    """TFLM elu.cc PopulateLookupTable<int8_t> (float32 arithmetic, std::exp of a float)."""
    inv = np.float32(1.0) / np.float32(s_out)
    out = [0] * 256
    for v in range(-128, 128):
        deq = np.float32(np.float32(s_in) * np.float32(v - z_in))
        tr = np.float32(np.float32(np.exp(np.float64(deq))) - np.float32(1.0)) if deq < 0 else deq
        resc = np.float32(tflite_round(float(np.float32(tr * inv))))
        q = int(np.float32(resc + np.float32(z_out)))
        out[v & 0xFF] = max(-128, min(127, q))  # indexed by the input byte (uint8 view), as TFLM
    return out


@register("ELU", inplace=ew_inplace, dtypes=("float32", "int8"))
def lower_elu(ctx: LoweringContext) -> Lowering:
    x, y, dtype, f = _unary(ctx)
    if dtype == "int8":
        si, zi = _q(ctx, x, "input")
        so, zo = _q(ctx, y, "output")
        return _lut_call(ctx, elu_table_s8(si, zi, so, zo))
    return _unary_call(ctx, dtype, f)


def _downscale_to_int16(m: int) -> int:
    """TFLM DownScaleInt32ToInt16Multiplier."""
    if m >= INT32_MAX - (1 << 15):
        return 32767
    return (m + (1 << 15)) >> 16


@register("HARD_SWISH", inplace=ew_inplace, dtypes=("float32", "int8"))
def lower_hard_swish(ctx: LoweringContext) -> Lowering:
    x, y, dtype, f = _unary(ctx)
    if dtype == "int8":
        si, zi = _q(ctx, x, "input")
        so, zo = _q(ctx, y, "output")
        # TFLM HardSwishPrepare, float32 arithmetic
        hires = f32(np.float32(1.0 / 128.0) * np.float32(si))
        reluish_scale = f32(np.float32(3.0) / np.float32(32768.0))
        om, oe = _qm(ctx, f32(np.float32(hires) / np.float32(so)), "output")
        if oe > 0:
            raise ctx.unsupported("int8 HARD_SWISH needs output scale >= input scale / 128 (TFLM)")
        rm, re_ = _qm(ctx, f32(np.float32(hires) / np.float32(reluish_scale)), "reluish")
        f.update(in1_offset=zi, out_offset=zo, out_mult=_downscale_to_int16(om), out_shift=oe,
                 out2_mult=_downscale_to_int16(rm), out2_shift=re_)
    if dtype == "int8":  # the output depends on the input byte alone: a 256-byte table
        return _lut_call(ctx, table_s8(q_elem_s8(ctx.opcode, f)))
    return _unary_call(ctx, dtype, f)


@register("LEAKY_RELU", inplace=ew_inplace, dtypes=("float32", "int8", "int16"))
def lower_leaky_relu(ctx: LoweringContext) -> Lowering:
    x, y, dtype, f = _unary(ctx)
    alpha = f32(float(ctx.options.get("alpha", 0.2)))
    if dtype == "float32":
        f["alpha"] = alpha
    else:
        si, zi = _q(ctx, x, "input")
        so, zo = _q(ctx, y, "output")
        # TFLM CalculateOpDataLeakyRelu (the PyPI runtime's: double arithmetic)
        ma, sa = _qm(ctx, si * alpha / so, "alpha")
        mi, shi = _qm(ctx, si / so, "identity")
        f.update(in1_offset=-zi, out_offset=zo, out_mult=mi, out_shift=shi, out2_mult=ma, out2_shift=sa)
    if dtype == "int8":  # the output depends on the input byte alone: a 256-byte table
        return _lut_call(ctx, table_s8(q_elem_s8(ctx.opcode, f)))
    return _unary_call(ctx, dtype, f)


def _lower_relu_clamp(ctx: LoweringContext) -> Lowering:
    """RELU_N1_TO_1 / RELU_0_TO_1 (TFLite; TFLM has no kernel): float clamp; int8 as TFLite's
    QuantizedReluX: out = clamp(out_zp + MBQM(in - in_zp, in_scale / out_scale), quantized limits)."""
    x, y, dtype, f = _unary(ctx)
    lo, hi = (-1.0, 1.0) if ctx.opcode == "RELU_N1_TO_1" else (0.0, 1.0)
    if dtype == "float32":
        f.update(act_min_f=lo, act_max_f=hi)
    else:
        si, zi = _q(ctx, x, "input")
        so, zo = _q(ctx, y, "output")
        m, sh = _qm(ctx, si / so, "output")
        qlo = max(-128, zo + tflite_round(f32(np.float32(lo) / np.float32(so))))
        qhi = min(127, zo + tflite_round(f32(np.float32(hi) / np.float32(so))))
        f.update(in1_offset=-zi, out_offset=zo, out_mult=m, out_shift=sh, act_min=qlo, act_max=qhi)
    if dtype == "int8":  # the output depends on the input byte alone: a 256-byte table
        return _lut_call(ctx, table_s8(q_elem_s8(ctx.opcode, f)))
    return _unary_call(ctx, dtype, f)


register("RELU_N1_TO_1", inplace=ew_inplace, dtypes=("float32", "int8", "int16"))(_lower_relu_clamp)
register("RELU_0_TO_1", inplace=ew_inplace, dtypes=("float32", "int8", "int16"))(_lower_relu_clamp)


@register("CAST", inplace=ew_inplace, dtypes=("float32->int32", "float32->int16", "float32->int8", "float32->bool",
                                              "int32->float32", "int32->int16", "int32->int8", "int32->bool",
                                                  "int16->float32", "int16->int32", "int16->int8", "int16->bool",
                                                      "int8->float32", "int8->int32", "int8->int16", "int8->bool",
                                                          "bool->float32", "bool->int32", "bool->int16", "bool->int8",
                                              "uint32->int32", "int32->uint32", "uint32->float32"))
def lower_cast(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    _same_shape_out(ctx, x, y)
    allowed = SUPPORTED["CAST"]
    if x.dtype not in allowed or y.dtype not in allowed:
        raise ctx.unsupported(
            f"CAST from {x.dtype} ({x.name!r}) to {y.dtype} ({y.name!r}) not supported; types: {', '.join(allowed)}"
        )
    if "uint32" in (x.dtype, y.dtype) and (x.dtype, y.dtype) not in _CAST_U32:
        raise ctx.unsupported(f"CAST from {x.dtype} ({x.name!r}) to {y.dtype} ({y.name!r}) not supported; uint32 "
                              f"casts: {', '.join(f'{a}->{b}' for a, b in _CAST_U32)}")
    f = _fields(ctx, "CAST", x.dtype, [], y)
    return _call(ctx, "uaot_ew_cast", f, ctx.in_ptr(0), ctx.out_ptr(0))


# uint32 casts (TFLM's audio front end: energy uint32 <-> int32): the pairs checked against TFLM
_CAST_U32 = (("uint32", "int32"), ("int32", "uint32"), ("uint32", "float32"))


@register("ZEROS_LIKE", inplace=ew_inplace, dtypes=("float32", "int32", "int8", "int16", "int64"))
def lower_zeros_like(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    _same_shape_out(ctx, x, y)
    _dtype(ctx, [x, y])
    return Lowering(families=("elementwise",), call=f"uaot_ew_zero({ctx.out_ptr(0)}, {y.nbytes}u)")
