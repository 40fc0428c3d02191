"""Lowering of FULLY_CONNECTED (kernel family ``fully_connected``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from microaot.ir.graph import Graph, Operator
from microaot.ir.quant import quantize_multiplier
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import (
    act_range_f32,
    act_range_q,
    act_range_s8,
    const_data,
    folded_bias,
    per_channel_multipliers,
    require_dtype,
    require_quant,
)
from microaot.ops._fpu import fpu_default, fpu_space, is_float, lower_fpu_fc
from microaot.ops._pack import fast_requant_ok, pack_row_blocks, rq_table
from microaot.ops._schedule import DSP_TARGETS, MVE_TARGETS, resolve
from microaot.ops.conv import wide_bias


def _fc_scratch(graph: Graph, op: Operator, target: str = "generic",
                schedule: dict[str, Any] | None = None) -> int:
    """Scratch bytes of the chosen FULLY_CONNECTED variant (UAOT_FC_SIMD_SCRATCH for simd4, none for
    simd4 with x8)."""
    knobs = resolve(graph, op, target, schedule)
    if knobs.get("algo") != "simd4" or knobs.get("x8"):
        return 0
    n_in = int(graph.tensors[op.inputs[1]].shape[-1])
    return 2 * ((n_in + 3) // 4 * 4)  # UAOT_FC_SIMD_SCRATCH(in_features): the int16 copy of one input row


def lower_fully_connected(ctx: LoweringContext) -> Lowering:
    x, w, y = ctx.input(0), ctx.input(1), ctx.output(0)
    bias = ctx.input(2) if ctx.has_input(2) else None
    if len(w.shape) != 2:
        raise ctx.unsupported(f"weights must be 2-D [out, in], got {list(w.shape)}")
    if str(ctx.options.get("weights_format", 0)) not in ("0", "DEFAULT"):
        raise ctx.unsupported("shuffled weights formats are not supported")
    n_out, n_in = int(w.shape[0]), int(w.shape[1])
    if n_in == 0 or x.num_elements % n_in != 0:
        raise ctx.unsupported(f"input {list(x.shape)} is not a multiple of {n_in} features")
    batches = x.num_elements // n_in
    if y.num_elements != batches * n_out:
        raise ctx.unsupported(f"output {list(y.shape)} does not hold {batches} x {n_out} values")
    act = str(ctx.options.get("fused_activation_function", "NONE"))
    dims = {"batches": batches, "in_features": n_in, "out_features": n_out}
    if x.dtype == "int16":
        return _lower_s16(ctx, dims, act)
    dtype = require_dtype(ctx, [x, w, y], ("int8", "float32"))
    if dtype == "float32":
        lo, hi = act_range_f32(ctx, act)
        p = ctx.params("uaot_fc_f32_params_t", {**dims, "act_min": lo, "act_max": hi})
        b = ctx.in_ptr(2) if bias is not None else "NULL"
        if resolve(ctx.graph, ctx.op, ctx.target, ctx.schedule).get("algo") == "fpu":
            return lower_fpu_fc(ctx, p, b)
        return Lowering(families=("fully_connected",),
                        call=f"uaot_fully_connected_f32({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {b}, {ctx.out_ptr(0)})")

    s_in, zp_in = require_quant(ctx, x, "input")
    s_out, zp_out = require_quant(ctx, y, "output")
    if w.quant is None:
        raise ctx.unsupported(f"weights {w.name!r} are int8 without quantization parameters")
    if any(int(z) != 0 for z in w.quant.zero_point):
        raise ctx.unsupported(f"weights {w.name!r} have a non-zero zero point (int8 weights must be symmetric)")
    wd = const_data(ctx, 1, "weights")
    fb = folded_bias(ctx, bias, wd.reshape(n_out, n_in), -zp_in)
    lo, hi = act_range_s8(ctx, act, s_out, zp_out)
    fields: dict[str, object] = {**dims, "output_offset": zp_out, "act_min": lo, "act_max": hi,
                                 "bias": ctx.const_array("bias", "int32_t", fb)}
    if w.quant.per_channel:
        mults, shifts = per_channel_multipliers(ctx, s_in, w, s_out, n_out)
        fields.update(mult=0, shift=0, mult_pc=ctx.const_array("mult", "int32_t", mults),
                      shift_pc=ctx.const_array("shift", "int32_t", shifts))
        fm, fs = mults, shifts
    else:
        # TFLM GetQuantizedConvolutionMultipler: float32 product first, then / double(output scale)
        prod = float(np.float32(s_in) * np.float32(w.quant.scale0))
        m, s = quantize_multiplier(prod / s_out)
        fields.update(mult=m, shift=s, mult_pc="NULL", shift_pc="NULL")
        fm, fs = [m] * n_out, [s] * n_out
    knobs = resolve(ctx.graph, ctx.op, ctx.target, ctx.schedule)
    if knobs.get("algo") == "mve":  # Helium (crt/kernels/mve.c): the weights as in the model
        p = ctx.params("uaot_fc_s8_params_t", {**fields, "rq": "NULL"})
        return Lowering(families=("mve",), call=f"uaot_fully_connected_s8_mve({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, "
                                                 f"{ctx.out_ptr(0)})")
    fields["rq"] = (ctx.const_array("rq", "int32_t", rq_table(fm, fs, zp_out, fb, wd.reshape(n_out, n_in)))
                    if knobs.get("algo") != "direct" and fast_requant_ok(fb, wd.reshape(n_out, n_in), fm, fs)
                    else "NULL")
    p = ctx.params("uaot_fc_s8_params_t", fields)
    if knobs.get("algo") == "simd4":
        w16, x8 = bool(knobs["w16"]), bool(knobs["x8"])
        packed = pack_row_blocks(wd.reshape(n_out, n_in), 4, w16)
        arr = ctx.const_array("wsimd16" if w16 else "wsimd", "int16_t" if w16 else "int8_t", packed)
        if not x8 and ctx.scratch_ptr is None:
            raise ctx.unsupported("internal: the simd4 schedule has no scratch buffer")
        kname = f"uaot_fully_connected_s8_simd4{'_x8' if x8 else ''}{'_w16' if w16 else ''}"
        scr = "NULL, 0u" if x8 else f"{ctx.scratch_ptr}, {_fc_scratch(ctx.graph, ctx.op, ctx.target, ctx.schedule)}u"
        return Lowering(families=("fc_fast",),
                        call=f"{kname}({p}, {ctx.in_ptr(0)}, (const int8_t *){arr}, {ctx.out_ptr(0)}, {scr})")
    return Lowering(families=("fully_connected",),
                    call=f"uaot_fully_connected_s8({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {ctx.out_ptr(0)})")


def _lower_s16(ctx: LoweringContext, dims: dict[str, int], act: str) -> Lowering:
    """16x8 (int16 activations, int8 weights): TFLM's FullyConnected / FullyConnectedPerChannel on int16
    input (portable kernel only; the schedules offer ``direct`` alone for it)."""
    x, w, y = ctx.input(0), ctx.input(1), ctx.output(0)
    if w.dtype != "int8" or y.dtype != "int16":
        raise ctx.unsupported(f"input int16, weights {w.dtype}, output {y.dtype}: int16 activations need int8 "
                              "weights and an int16 output (TFLM's 16x8 scheme)")
    s_in, zp_in = require_quant(ctx, x, "input")
    s_out, zp_out = require_quant(ctx, y, "output")
    if w.quant is None:
        raise ctx.unsupported(f"weights {w.name!r} are int8 without quantization parameters")
    if any(int(z) != 0 for z in w.quant.zero_point):
        raise ctx.unsupported(f"weights {w.name!r} have a non-zero zero point (int8 weights must be symmetric)")
    const_data(ctx, 1, "weights")
    n_out = dims["out_features"]
    if w.quant.per_channel:
        mults, shifts = per_channel_multipliers(ctx, s_in, w, s_out, n_out)
    else:  # TFLM GetQuantizedConvolutionMultipler: float32 product first, then / double(output scale)
        m, s = quantize_multiplier(float(np.float32(s_in) * np.float32(w.quant.scale0)) / s_out)
        mults, shifts = [m] * n_out, [s] * n_out
    lo, hi = act_range_q(ctx, act, s_out, zp_out, -32768, 32767)
    bias_ref, acc32 = wide_bias(ctx, 2, n_out)
    p = ctx.params("uaot_fc_s16_params_t", {
        **dims, "input_offset": -zp_in, "filter_offset": 0, "output_offset": zp_out, "act_min": lo, "act_max": hi,
        "acc32": acc32, "mult": ctx.const_array("mult", "int32_t", mults),
        "shift": ctx.const_array("shift", "int32_t", shifts)})
    return Lowering(families=("conv16",),
                    call=f"uaot_fully_connected_s16({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {bias_ref}, "
                         f"{ctx.out_ptr(0)})")


# ---- schedule knobs (docs/internals.md "Schedule knobs"; microaot.schedules) -----------------------

def fc_space(graph: Graph, op: Operator, target: str) -> dict[str, list[Any]]:
    if is_float(graph, op):
        return fpu_space(graph, op, target)
    if graph.tensors[op.inputs[0]].dtype != "int8":
        return {"algo": ["direct"]}
    return {"algo": ["direct", "simd4"] + (["mve"] if target in MVE_TARGETS else []), "w16": [False, True],
            "x8": [False, True]}


def fc_default(graph: Graph, op: Operator, target: str) -> dict[str, Any]:
    """simd4 on DSP targets, the input row expanded to int16 in scratch (x8=False); ``fc_lean``; float32:
    ``fpu`` on the FPU targets (``_fpu.py``); ``mve`` (Helium, no scratch) on the M55."""
    if is_float(graph, op):
        return fpu_default(graph, op, target)
    if graph.tensors[op.inputs[0]].dtype != "int8" or target not in DSP_TARGETS:
        return {"algo": "direct"}
    if target in MVE_TARGETS:
        return {"algo": "mve"}
    return {"algo": "simd4", "w16": False, "x8": False}


def fc_lean(graph: Graph, op: Operator, target: str, knobs: dict[str, Any]) -> dict[str, Any] | None:
    """x8: no scratch instead of the 2·Kp-byte int16 copy (~10 % more instructions); taken by
    ``schedules.plan_schedules`` when the op runs at the workspace peak and that shrinks it (e.g. the autoencoder)."""
    if knobs.get("algo") != "simd4" or knobs.get("x8"):
        return None
    return {**knobs, "x8": True}


def fc_canonical(graph: Graph, op: Operator, target: str, knobs: dict[str, Any]) -> dict[str, Any]:
    if knobs.get("algo") == "fpu":
        return {"algo": "fpu"}
    if knobs.get("algo") == "mve":
        return {"algo": "mve"}
    if knobs.get("algo") != "simd4":
        return {"algo": "direct"}
    return {"algo": "simd4", "w16": bool(knobs.get("w16", False)), "x8": bool(knobs.get("x8", False))}


register(
    "FULLY_CONNECTED",
    dtypes=("int8", "float32", "int16x8"),
    schedule_scratch=_fc_scratch,
    space=fc_space,
    default=fc_default,
    canonical=fc_canonical,
    lean=fc_lean,
)(lower_fully_connected)
