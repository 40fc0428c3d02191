"""Lowering of MUL (kernel family ``mul``): int8 (TFLM reference arithmetic) and float32, broadcasting."""

from __future__ import annotations

from microaot.ir.quant import quantize_multiplier
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import (
    act_range_f32,
    act_range_q,
    pad_broadcast,
    require_dtype,
    require_quant,
)
from microaot.ops.elementwise import lower_int32_arith

MAX_DIMS = 6


def _carray(values: list[int]) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def broadcast_layout(ctx: LoweringContext, a: tuple[int, ...], b: tuple[int, ...],
                     out: tuple[int, ...]) -> tuple[list[int], list[int], list[int]]:
    """(dims, a_strides, b_strides), 6 entries each; adjacent dims with the same broadcast pattern merged."""
    r = max(len(a), len(b), len(out))
    if r > MAX_DIMS:
        raise ctx.unsupported(f"more than {MAX_DIMS} dimensions")
    pa, pb, po = pad_broadcast(ctx, a, b, out, r)
    # merge runs of dims where each input is either fully present or fully broadcast
    dims: list[int] = []
    pat: list[tuple[bool, bool]] = []
    for d in range(r):
        if po[d] == 1:
            continue
        key = (pa[d] == po[d], pb[d] == po[d])
        if dims and pat[-1] == key:
            dims[-1] *= po[d]
        else:
            dims.append(po[d])
            pat.append(key)
    if not dims:
        dims, pat = [1], [(True, True)]
    if len(dims) > MAX_DIMS:
        raise ctx.unsupported(f"broadcast pattern needs more than {MAX_DIMS} dimensions")

    def strides(which: int) -> list[int]:
        st = [0] * len(dims)
        acc = 1
        for d in range(len(dims) - 1, -1, -1):
            if pat[d][which]:
                st[d] = acc
                acc *= dims[d]
        return st

    fill = MAX_DIMS - len(dims)
    return [1] * fill + dims, [0] * fill + strides(0), [0] * fill + strides(1)


@register("MUL", dtypes=("int8", "float32", "int16", "int32"))
def lower_mul(ctx: LoweringContext) -> Lowering:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    dtype = require_dtype(ctx, [a, b, y], ("int8", "int16", "float32", "int32"))
    if dtype == "int32":
        return lower_int32_arith(ctx, "MUL")
    dims, sa, sb = broadcast_layout(ctx, a.shape, b.shape, y.shape)
    act = str(ctx.options.get("fused_activation_function", "NONE"))
    fields: dict[str, object] = {"dims": _carray(dims), "a_stride": _carray(sa), "b_stride": _carray(sb)}
    if dtype == "float32":
        lo, hi = act_range_f32(ctx, act)
        fields.update(a_offset=0, b_offset=0, output_offset=0, mult=0, shift=0, act_min=-128, act_max=127,
                      act_min_f=lo, act_max_f=hi)
        suffix = "f32"
    else:
        s1, z1 = require_quant(ctx, a, "input 1")
        s2, z2 = require_quant(ctx, b, "input 2")
        so, zo = require_quant(ctx, y, "output")
        if dtype == "int16" and (z1, z2, zo) != (0, 0, 0):
            raise ctx.unsupported(f"int16 zero points {z1}, {z2} -> {zo}: TFLM's int16 MUL needs zero points 0 "
                                  "(symmetric 16x8 quantization)")
        mult, shift = quantize_multiplier(s1 * s2 / so)  # double arithmetic, as TFLM's CalculateOpDataMul
        amin, amax = act_range_q(ctx, act, so, zo, *((-32768, 32767) if dtype == "int16" else (-128, 127)))
        fields.update(a_offset=-z1, b_offset=-z2, output_offset=zo, mult=mult, shift=shift, act_min=amin,
                      act_max=amax, act_min_f=0.0, act_max_f=0.0)
        suffix = "s16" if dtype == "int16" else "s8"
    p = ctx.params("uaot_mul_params_t", fields)
    return Lowering(
        families=("mul",), call=f"uaot_mul_{suffix}({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {ctx.out_ptr(0)})"
    )
