"""Lowering of QUANTIZE and DEQUANTIZE (family ``quantize``), every dtype pair TFLM's reference kernels take:

QUANTIZE: float32 -> int8 / int16; requantization int8 -> int8 / uint8 / int16 / int32, uint8 -> int8,
int16 -> int8 / int16 / int32, int32 -> int8 / int16. DEQUANTIZE: int8 / uint8 / int16 -> float32.
Their ``register(dtypes=...)`` declares them (``microaot ops`` lists it)."""

from __future__ import annotations

from microaot.ir.graph import DTYPES
from microaot.ir.quant import quantize_multiplier
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import require_quant, unary_call

_BASE = {"size": 0, "scale": 0.0, "zero_point": 0, "input_zp": 0, "output_zp": 0, "mult": 0, "shift": 0,
         "in_type": 0, "out_type": 0}

# (input dtype, output dtype) pairs, as TFLM's quantize_common.cc / dequantize_common.cc accept them
QUANTIZE_PAIRS: tuple[tuple[str, str], ...] = (
    ("float32", "int8"), ("float32", "int16"),
    ("int8", "int8"), ("int8", "uint8"), ("int8", "int16"), ("int8", "int32"),
    ("uint8", "int8"),
    ("int16", "int8"), ("int16", "int16"), ("int16", "int32"),
    ("int32", "int8"), ("int32", "int16"),
)
DEQUANTIZE_PAIRS: tuple[tuple[str, str], ...] = (("int8", "float32"), ("uint8", "float32"), ("int16", "float32"))


def _call(ctx: LoweringContext, fn: str, fields: dict[str, object]) -> Lowering:
    return unary_call(ctx, family="quantize", params_t="uaot_quantize_params_t", base=_BASE, fn=fn, fields=fields)


def _types(ctx: LoweringContext) -> dict[str, object]:
    return {"in_type": DTYPES[ctx.input(0).dtype][2], "out_type": DTYPES[ctx.output(0).dtype][2]}


def _pairs_text(pairs: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{a} -> {b}" for a, b in pairs)


@register("QUANTIZE", dtypes=tuple(f"{a}->{b}" for a, b in QUANTIZE_PAIRS))
def lower_quantize(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    if (x.dtype, y.dtype) not in QUANTIZE_PAIRS:
        raise ctx.unsupported(f"QUANTIZE {x.dtype} -> {y.dtype} is not supported (TFLM neither); supported: "
                              f"{_pairs_text(QUANTIZE_PAIRS)}")
    s_out, z_out = require_quant(ctx, y, "output")
    if x.dtype == "float32":
        if y.dtype == "int8":
            return _call(ctx, "uaot_quantize_f32_s8", {"scale": s_out, "zero_point": z_out})
        return _call(ctx, "uaot_quantize_f32", {"scale": s_out, "zero_point": z_out, **_types(ctx)})
    s_in, z_in = require_quant(ctx, x, "input")
    mult, shift = quantize_multiplier(s_in / s_out)  # TFLM: double(in) / double(out)
    fields: dict[str, object] = {"input_zp": z_in, "output_zp": z_out, "mult": mult, "shift": shift}
    if x.dtype == y.dtype == "int8":
        return _call(ctx, "uaot_requantize_s8", fields)
    return _call(ctx, "uaot_requantize", {**fields, **_types(ctx)})


@register("DEQUANTIZE", dtypes=tuple(f"{a}->{b}" for a, b in DEQUANTIZE_PAIRS))
def lower_dequantize(ctx: LoweringContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    if (x.dtype, y.dtype) not in DEQUANTIZE_PAIRS:
        raise ctx.unsupported(f"DEQUANTIZE {x.dtype} -> {y.dtype} is not supported; supported: "
                              f"{_pairs_text(DEQUANTIZE_PAIRS)}")
    s_in, z_in = require_quant(ctx, x, "input")
    if x.dtype == "int8":
        return _call(ctx, "uaot_dequantize_s8_f32", {"scale": s_in, "zero_point": z_in})
    return _call(ctx, "uaot_dequantize_f32", {"scale": s_in, "zero_point": z_in, **_types(ctx)})
