"""Lowering of ADD (kernel family ``add``): int8 with TFLite's full rescaling, float32; broadcasting."""

from __future__ import annotations

import numpy as np

from microaot.ir.graph import Graph, Operator
from microaot.ir.quant import quantize_multiplier_smaller_than_one_exp
from microaot.ops import InPlace, Lowering, LoweringContext, register
from microaot.ops._common import (
    act_range_f32,
    act_range_q,
    pad_broadcast,
    require_dtype,
    require_quant,
)
from microaot.ops._tflm_math import mbqm, wrap32
from microaot.ops.elementwise import lower_int32_arith

MAX_DIMS = 6
# int8 ADDs from this many output elements on get the two rescale tables (2 KiB of flash) of
# uaot_add_s8_lut; smaller ones use the per-element uaot_add_s8
ADD_TABLE_MIN = 512


def broadcast_fields(ctx: LoweringContext, a: tuple[int, ...], b: tuple[int, ...],
                     out: tuple[int, ...]) -> dict[str, object]:
    """out_dims / in strides right-aligned to 6 dims; stride 0 where an input broadcasts."""
    if max(len(a), len(b), len(out)) > MAX_DIMS:
        raise ctx.unsupported(f"more than {MAX_DIMS} dimensions")
    r = MAX_DIMS
    pa, pb, po = pad_broadcast(ctx, a, b, out, r)

    def strides(p: list[int]) -> list[int]:
        st, acc = [0] * r, 1
        for d in range(r - 1, -1, -1):
            st[d] = acc if p[d] != 1 else 0
            acc *= p[d]
        return st

    return {
        "size": 0,  # filled by caller
        "broadcast": int(pa != po or pb != po),
        "out_dims": "{" + ", ".join(map(str, po)) + "}",
        "in1_strides": "{" + ", ".join(map(str, strides(pa))) + "}",
        "in2_strides": "{" + ", ".join(map(str, strides(pb))) + "}",
    }


def add_inplace(graph: Graph, op: Operator) -> list[InPlace]:
    """The output may overwrite an input of its own shape and type: the kernels (crt/kernels/add.c)
    read both operands of element i before writing element i, and a same-shape input is read at i."""
    y = graph.tensors[op.outputs[0]]
    out = []
    for k in (0, 1):
        if k < len(op.inputs) and op.inputs[k] >= 0:
            x = graph.tensors[op.inputs[k]]
            if not x.is_const and tuple(x.shape) == tuple(y.shape) and x.dtype == y.dtype and x.nbytes == y.nbytes:
                out.append(InPlace(input=k))
    return out


def add_table_s8(f: dict[str, int]) -> list[int] | None:
    """The 512 int32 entries of ``uaot_add_s8_lut`` (crt/kernels/add.c): per input k and int8 value v,
    ``2 * MBQM_lt1((v + offset_k) << left_shift, mult_k, shift_k)`` (TFLM's own per-input rescaling),
    or None when the table form is not exact for these parameters (|t1| + |t2| >= 2^30, output shift
    outside [-22, -1], left_shift outside [0, 21], or an output offset outside int8)."""
    if not (1 <= -f["output_shift"] <= 22 and 0 <= f["left_shift"] <= 21 and f["output_mult"] >= 0
            and -128 <= f["output_offset"] <= 127):
        return None
    tabs = []
    for k in (1, 2):
        off, m, sh = f[f"input{k}_offset"], f[f"input{k}_mult"], f[f"input{k}_shift"]
        tabs.append([2 * mbqm(wrap32((off + v) << f["left_shift"]), m, sh) for v in range(-128, 128)])
    if max(map(abs, tabs[0])) + max(map(abs, tabs[1])) >= 1 << 30:
        return None
    return tabs[0] + tabs[1]


@register("ADD", inplace=add_inplace, dtypes=("int8", "float32", "int16", "int32"))
def lower_add(ctx: LoweringContext) -> Lowering:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    dtype = require_dtype(ctx, [a, b, y], ("int8", "int16", "float32", "int32"))
    if dtype == "int32":
        return lower_int32_arith(ctx, "ADD")
    fields = broadcast_fields(ctx, a.shape, b.shape, y.shape)
    fields["size"] = y.num_elements
    act = str(ctx.options.get("fused_activation_function", "NONE"))
    if dtype == "float32":
        lo, hi = act_range_f32(ctx, act)
        fields.update(act_min=-128, act_max=127, act_min_f=lo, act_max_f=hi)
        p = ctx.params("uaot_add_params_t", fields)
        return Lowering(families=("add",), call=f"uaot_add_f32({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, "
                                                f"{ctx.out_ptr(0)})")
    s1, z1 = require_quant(ctx, a, "input 1")
    s2, z2 = require_quant(ctx, b, "input 2")
    so, zo = require_quant(ctx, y, "output")
    left_shift = 15 if dtype == "int16" else 20  # TFLM CalculateOpDataAdd
    twice_max = 2.0 * max(s1, s2)
    try:
        m1, sh1 = quantize_multiplier_smaller_than_one_exp(s1 / twice_max)
        m2, sh2 = quantize_multiplier_smaller_than_one_exp(s2 / twice_max)
        mo, sho = quantize_multiplier_smaller_than_one_exp(twice_max / ((1 << left_shift) * so))
    except ValueError as e:
        raise ctx.unsupported(f"scales out of range for {dtype} ADD ({e})") from None
    lo, hi = act_range_q(ctx, act, so, zo, *((-32768, 32767) if dtype == "int16" else (-128, 127)))
    fields.update(
        input1_offset=-z1, input2_offset=-z2, output_offset=zo, left_shift=left_shift,
        input1_mult=m1, input1_shift=sh1, input2_mult=m2, input2_shift=sh2,
        output_mult=mo, output_shift=sho, act_min=lo, act_max=hi, act_min_f=0.0, act_max_f=0.0,
    )
    p = ctx.params("uaot_add_params_t", fields)
    if dtype == "int16":
        return Lowering(
            families=("add",), call=f"uaot_add_s16({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {ctx.out_ptr(0)})"
        )
    table = add_table_s8(fields) if y.num_elements >= ADD_TABLE_MIN else None  # type: ignore[arg-type]
    if table is not None:
        t = ctx.const_array("add_tab", "int32_t", np.array(table, dtype=np.int32))
        return Lowering(
            families=("add",), call=f"uaot_add_s8_lut({p}, {t}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {ctx.out_ptr(0)})"
        )
    return Lowering(families=("add",), call=f"uaot_add_s8({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {ctx.out_ptr(0)})")
