"""Lowering of CONV_2D and DEPTHWISE_CONV_2D (kernel family ``conv``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from microaot.codegen.ops import Lowering, LoweringContext, register
from microaot.codegen.ops._common import (
    act_range_f32,
    act_range_s8,
    check_padding,
    const_data,
    folded_bias,
    out_size,
    pad_before,
    per_channel_multipliers,
    require_dtype,
    require_quant,
)
from microaot.codegen.ops._dw_pair import (
    PAIR_COLS,
    lean_cols,
    lower_pair,
    pair_ok,
    pair_scratch,
    strip_cols,
)
from microaot.codegen.ops._pack import (
    fast_requant_ok,
    gemm_k_order,
    gemm_rq_bias,
    pack_depthwise_simd4,
    pack_row_blocks,
    rq_table,
)
from microaot.codegen.ops._schedule import DSP_TARGETS, register_space, resolve
from microaot.ir.graph import Graph, Operator


def _geometry(ctx: LoweringContext, depthwise: bool) -> dict[str, Any]:
    x, w, y = ctx.input(0), ctx.input(1), ctx.output(0)
    o = ctx.options
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        raise ctx.unsupported(f"needs 4-D input/filter/output (NHWC), got {list(x.shape)}, {list(w.shape)}, "
                              f"{list(y.shape)}")
    n, ih, iw, ic = x.shape
    if depthwise:
        _, kh, kw, oc = w.shape
        dm = int(o.get("depth_multiplier", 1)) or 1
        if oc != ic * dm:
            if ic and oc % ic == 0:
                dm = oc // ic
            else:
                raise ctx.unsupported(f"filter channels {oc} are not input channels {ic} x depth multiplier")
    else:
        oc, kh, kw, fic = w.shape
        dm = 1
        if fic != ic:
            raise ctx.unsupported(f"filter input channels {fic} != input channels {ic} (grouped conv unsupported)")
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dh, dw = int(o.get("dilation_h_factor", 1)), int(o.get("dilation_w_factor", 1))
    padding = str(o.get("padding", "VALID"))
    check_padding(ctx, padding)
    oh, ow = out_size(padding, ih, kh, sh, dh), out_size(padding, iw, kw, sw, dw)
    if tuple(y.shape) != (n, oh, ow, oc):
        raise ctx.unsupported(f"output shape {list(y.shape)} does not match the computed [{n}, {oh}, {ow}, {oc}]")
    return {
        "batches": n, "in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow, "out_c": oc,
        "k_h": kh, "k_w": kw, "stride_h": sh, "stride_w": sw, "dil_h": dh, "dil_w": dw,
        "pad_top": pad_before(ih, kh, sh, dh, oh), "pad_left": pad_before(iw, kw, sw, dw, ow),
        "depth_mult": dm,
    }


def pointwise_shrinking(graph: Graph, op: Operator) -> bool:
    """1x1, stride 1, batch 1, out_c <= in_c (no padding possible with a 1x1 kernel)."""
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    o = op.options
    return (len(x.shape) == 4 and len(w.shape) == 4 and int(x.shape[0]) == 1 and tuple(w.shape[1:3]) == (1, 1)
            and int(o.get("stride_h", 1)) == 1 and int(o.get("stride_w", 1)) == 1
            and int(w.shape[0]) <= int(x.shape[3]))


def runs_placement_itself(ctx: LoweringContext) -> bool:
    """The kernels that run an in-place rows_fwd / rows_bwd placement themselves, on the whole tensor,
    instead of row by row through ``uaot_conv_s8_rows`` (``_inplace.rows_lowering``): DEPTHWISE_CONV_2D
    ``algo=pair`` (kernel mode 1 / 2 from ``ctx.inplace``, keeping its ring of expanded rows) and the
    ``gemm`` of a shrinking pointwise CONV_2D, which conv_inplace.py offers ``rows_fwd`` only (the gemm
    expands each block of pixels before writing its outputs, so any forward distance is safe)."""
    algo = resolve(ctx.graph, ctx.op, ctx.target, ctx.schedule).get("algo")
    if algo == "pair":
        return True
    return (algo == "gemm" and ctx.inplace == "rows_fwd" and ctx.op.opcode == "CONV_2D"
            and pointwise_shrinking(ctx.graph, ctx.op))


def _lower(ctx: LoweringContext, depthwise: bool) -> Lowering:
    x, w, y = ctx.input(0), ctx.input(1), ctx.output(0)
    bias = ctx.input(2) if ctx.has_input(2) else None
    g = _geometry(ctx, depthwise)
    act = str(ctx.options.get("fused_activation_function", "NONE"))
    fn = "uaot_depthwise_conv2d" if depthwise else "uaot_conv2d"
    dtype = require_dtype(ctx, [x, w, y], ("int8", "float32"))
    if dtype == "float32":
        if bias is not None and bias.dtype != "float32":
            raise ctx.unsupported(f"bias {bias.name!r} must be float32")
        lo, hi = act_range_f32(ctx, act)
        p = ctx.params("uaot_conv_f32_params_t", {**g, "act_min": lo, "act_max": hi})
        b = ctx.in_ptr(2) if bias is not None else "NULL"
        return Lowering(families=("conv",), call=f"{fn}_f32({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {b}, {ctx.out_ptr(0)})")

    s_in, zp_in = require_quant(ctx, x, "input")
    s_out, zp_out = require_quant(ctx, y, "output")
    if w.quant is not None and any(int(z) != 0 for z in w.quant.zero_point):
        raise ctx.unsupported(f"filter {w.name!r} has a non-zero zero point (int8 filters must be symmetric)")
    wd = const_data(ctx, 1, "filter")
    oc = g["out_c"]
    rows = wd.reshape(oc, -1) if not depthwise else wd.reshape(-1, oc).T
    mults, shifts = per_channel_multipliers(ctx, s_in, w, s_out, oc)
    fb = folded_bias(ctx, bias, rows, -zp_in)
    lo, hi = act_range_s8(ctx, act, s_out, zp_out)
    knobs = resolve(ctx.graph, ctx.op, ctx.target, ctx.schedule)
    algo = knobs.get("algo", "direct")
    if algo == "pair":  # in place (ctx.inplace rows_fwd / rows_bwd): the kernel runs the placement itself
        return lower_pair(ctx, g, wd.reshape(-1, oc), fb, rows, mults, shifts, zp_in, zp_out, lo, hi,
                          int(knobs["cols"]))
    if ctx.inplace is not None and not runs_placement_itself(ctx):  # the others: row by row (conv_inplace.py)
        raise ctx.unsupported(f"internal: {ctx.inplace!r} reached the out-of-place lowering")
    # the fast kernels requantize from the rq table alone when the generator could prove it exact
    use_rq = algo != "direct" and fast_requant_ok(fb, rows, mults, shifts)
    gemm_bias = use_rq and algo in ("gemm", "x16")  # the gemm's bias (constant channel pairs marked)
    p = ctx.params("uaot_conv_s8_params_t", {
        **g, "input_offset": -zp_in, "output_offset": zp_out, "act_min": lo, "act_max": hi,
        "bias": ctx.const_array("bias", "int32_t", gemm_rq_bias(fb, rows, mults) if gemm_bias else fb),
        **({"mult": "NULL", "shift": "NULL", "rq": ctx.const_array("rq", "int32_t", rq_table(mults, shifts, zp_out, fb, rows))}
           if use_rq else
           {"mult": ctx.const_array("mult", "int32_t", mults), "shift": ctx.const_array("shift", "int32_t", shifts),
            "rq": "NULL"}),
    })
    if algo in ("gemm", "x16"):  # the same packed weights (x16: in_c % 4 == 0, the natural K order)
        w16 = bool(knobs["w16"])
        packed = pack_row_blocks(rows[:, gemm_k_order(g["k_h"], g["k_w"] * g["in_c"])], 2, w16)
        arr = ctx.const_array("wgemm16" if w16 else "wgemm", "int16_t" if w16 else "int8_t", packed)
        if ctx.scratch_ptr is None:
            raise ctx.unsupported(f"internal: the {algo} schedule has no scratch buffer")
        if algo == "x16":
            kname = f"uaot_conv2d_s8_x16_s{x16_step(ctx.graph, ctx.op)}{'_w16' if w16 else ''}"
        else:  # wexp (c3, int8 weights): expanded to the w16 layout in scratch by the kernel at each call
            kname = (f"uaot_conv2d_s8_gemm_c{int(knobs['cols'])}{'_w16' if w16 else ''}"
                     f"{'_wx' if knobs.get('wexp') else ''}")
        return Lowering(families=("conv_fast",),
                        call=f"{kname}({p}, {ctx.in_ptr(0)}, (const int8_t *){arr}, {ctx.out_ptr(0)}, "
                             f"{ctx.scratch_ptr}, {_conv_scratch(ctx.graph, ctx.op, ctx.target, ctx.schedule)}u)")
    if algo == "simd4":
        arr = ctx.const_array("wdw16", "int16_t", pack_depthwise_simd4(wd.reshape(-1, oc)))
        if ctx.scratch_ptr is None:
            raise ctx.unsupported("internal: the simd4 schedule has no scratch buffer")
        return Lowering(families=("conv_fast",),
                        call=f"uaot_depthwise_conv2d_s8_simd4({p}, {ctx.in_ptr(0)}, (const int8_t *){arr}, "
                             f"{ctx.out_ptr(0)}, {ctx.scratch_ptr}, {_simd4_scratch(ctx.graph, ctx.op)}u)")
    return Lowering(families=("conv",), call=f"{fn}_s8({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {ctx.out_ptr(0)})")


def _simd4_scratch(graph: Graph, op: Operator) -> int:
    """UAOT_DW_SIMD4_SCRATCH(C, k_h, UAOT_DW_PADDED_W(...))"""
    w, y = graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
    c, kh, kw = int(w.shape[-1]), int(w.shape[1]), int(w.shape[2])
    o = op.options
    pw = (int(y.shape[2]) - 1) * int(o.get("stride_w", 1)) + (kw - 1) * int(o.get("dilation_w_factor", 1)) + 1
    return 4 * c + (kh * pw * c + 3) // 4 * 4


def _conv_scratch(graph: Graph, op: Operator, target: str = "generic",
                  schedule: dict[str, Any] | None = None) -> int:
    """Scratch bytes of the chosen CONV_2D / DEPTHWISE_CONV_2D variant (crt/include/microaot/kernels/conv_fast.h)."""
    knobs = resolve(graph, op, target, schedule)
    w = graph.tensors[op.inputs[1]]
    if knobs.get("algo") == "gemm":  # UAOT_CONV_GEMM_SCRATCH(K, in_c) / UAOT_CONV_GEMM3{,_WX}_SCRATCH (cols=3)
        k = int(np.prod(w.shape[1:]))
        kp = (k + 3) // 4 * 4
        gather = kp if int(w.shape[3]) % 4 else 0  # the int8 gather row (in_c % 4 != 0)
        wx = 2 * int(w.shape[0]) * kp if knobs.get("wexp") else 0  # UAOT_CONV_GEMM3_WX_SCRATCH
        return (6 if int(knobs.get("cols", 2)) == 3 else 4) * kp + gather + wx
    if knobs.get("algo") == "x16":  # UAOT_CONV_X16_SCRATCH(k_h, UAOT_DW_PADDED_W(out_w, stride_w, k_w, 1), k_w, in_c)
        return x16_scratch(graph, op)
    if knobs.get("algo") == "pair":  # UAOT_DW_PAIR_SCRATCH(C, cols)
        return pair_scratch(graph, op, int(knobs.get("cols", 0)))
    if knobs.get("algo") == "simd4":  # UAOT_DW_SIMD4_SCRATCH(C, k_h, UAOT_DW_PADDED_W(...))
        return _simd4_scratch(graph, op)
    return 0


@register("CONV_2D", scratch=_conv_scratch)
def lower_conv2d(ctx: LoweringContext) -> Lowering:
    return _lower(ctx, depthwise=False)


@register("DEPTHWISE_CONV_2D", scratch=_conv_scratch)
def lower_depthwise_conv2d(ctx: LoweringContext) -> Lowering:
    return _lower(ctx, depthwise=True)


# ---- schedule knobs (docs/internals.md "Schedule knobs"; microaot.tune.space) -----------------------

def _is_int8(graph: Graph, op: Operator) -> bool:
    return graph.tensors[op.inputs[0]].dtype == "int8"


def _dw_mult(graph: Graph, op: Operator) -> int:
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    ic, oc = int(x.shape[-1]), int(w.shape[-1])
    return oc // ic if ic else 1


X16_STEPS = (32, 64, 128)  # the x16 entry points: bytes between the pixels of a block (stride_w * in_c * 2)
X16_MAX_KH = 16


def x16_step(graph: Graph, op: Operator) -> int:
    """S of ``uaot_conv2d_s8_x16_s{S}``: stride_w * in_c * 2."""
    return int(op.options.get("stride_w", 1)) * int(graph.tensors[op.inputs[0]].shape[-1]) * 2


def x16_ok(graph: Graph, op: Operator) -> bool:
    """The shapes ``uaot_conv2d_s8_x16_s*`` covers (crt/kernels/conv_fast.c uaot_x16_ok): 4-D, in_c % 4 == 0,
    (k_w * in_c) % 16 == 0, no dilation, out_w >= 3, k_h <= 16, stride_w * in_c * 2 in X16_STEPS."""
    x, w, y = (graph.tensors[t] for t in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        return False
    ic, kh, kw = int(x.shape[3]), int(w.shape[1]), int(w.shape[2])
    o = op.options
    return (ic > 0 and ic % 4 == 0 and (kw * ic) % 16 == 0 and int(o.get("dilation_h_factor", 1)) == 1
            and int(o.get("dilation_w_factor", 1)) == 1 and int(y.shape[2]) >= 3 and 0 < kh <= X16_MAX_KH
            and x16_step(graph, op) in X16_STEPS)


def x16_scratch(graph: Graph, op: Operator) -> int:
    """UAOT_CONV_X16_SCRATCH: k_h ring rows of (out_w - 1) * stride_w + k_w pixels of in_c int16, then the
    int16 columns of 2 pixels (4 * K bytes)."""
    x, w, y = (graph.tensors[t] for t in (op.inputs[0], op.inputs[1], op.outputs[0]))
    kh, kw, ic = int(w.shape[1]), int(w.shape[2]), int(x.shape[3])
    pw = (int(y.shape[2]) - 1) * int(op.options.get("stride_w", 1)) + kw
    return 2 * kh * pw * ic + 4 * kh * kw * ic


def conv_space(graph: Graph, op: Operator, target: str) -> dict[str, list[Any]]:
    if not _is_int8(graph, op):
        return {"algo": ["direct"]}
    algos = ["direct", "gemm"] + (["x16"] if x16_ok(graph, op) else [])
    return {"algo": algos, "cols": [1, 2, 3], "w16": [False, True], "wexp": [False, True]}


def conv_default(graph: Graph, op: Operator, target: str) -> dict[str, Any]:
    """gemm cols=3, int8 weights. Not wexp: its kernel runs the int16-weight gemm, a second ~10 KB copy of
    the cols=3 loop in the image beside the int8 one the other convs use, for ~1 % of the model's
    instructions (first layers, measured on KWS / VWW / IC); the tuner tries it. Not x16 either: its ring
    (``x16_scratch``) trades RAM for speed, and it wins only where im2col weighs most (16-channel layers);
    on IC, the one model with such layers, they run at the workspace peak (tried: with x16 their default and
    the gemm its lean alternative, the memory-aware pass took the gemm back on both; x16 ran nowhere)."""
    if not _is_int8(graph, op) or target not in DSP_TARGETS:
        return {"algo": "direct"}
    return {"algo": "gemm", "cols": 3, "w16": False}


def conv_lean(graph: Graph, op: Operator, target: str, knobs: dict[str, Any]) -> dict[str, Any] | None:
    """gemm cols=2: 4·Kp bytes of scratch instead of 6·Kp (+ 2·out_c·Kp with wexp, which it drops;
    requantizes in C: ~15 % more instructions on that op); taken by ``compiler.plan_schedules`` when the op runs at the workspace peak and that shrinks it."""
    if knobs.get("algo") != "gemm" or int(knobs.get("cols", 2)) != 3:
        return None
    return {**knobs, "cols": 2}


def conv_canonical(graph: Graph, op: Operator, target: str, knobs: dict[str, Any]) -> dict[str, Any]:
    """wexp applies to cols=3 with int8 weights only, and is listed only when on; x16 takes w16 only"""
    if knobs.get("algo") == "x16":
        return {"algo": "x16", "w16": bool(knobs.get("w16", False))}
    if knobs.get("algo") != "gemm":
        return {"algo": "direct"}
    out = {"algo": "gemm", "cols": int(knobs.get("cols", 2)), "w16": bool(knobs.get("w16", False))}
    if knobs.get("wexp") and out["cols"] == 3 and not out["w16"]:
        out["wexp"] = True
    return out


def dw_space(graph: Graph, op: Operator, target: str) -> dict[str, list[Any]]:
    if not _is_int8(graph, op) or _dw_mult(graph, op) != 1:
        return {"algo": ["direct"]}
    if not pair_ok(graph, op):
        return {"algo": ["direct", "simd4"]}
    return {"algo": ["direct", "simd4", "pair"], "cols": list(PAIR_COLS)}


def dw_default(graph: Graph, op: Operator, target: str) -> dict[str, Any]:
    algos = dw_space(graph, op, target)["algo"]
    if target in DSP_TARGETS and "pair" in algos:
        return {"algo": "pair", "cols": 0}
    if target in DSP_TARGETS and "simd4" in algos:
        return {"algo": "simd4"}
    return {"algo": "direct"}


def dw_lean(graph: Graph, op: Operator, target: str, knobs: dict[str, Any]) -> dict[str, Any] | None:
    """pair with the whole-row ring -> the strip within budget (``_dw_pair.lean_cols``); taken by
    ``compiler.plan_schedules`` when the op runs at the workspace peak and that shrinks it."""
    if knobs.get("algo") != "pair" or int(knobs.get("cols", 0)) != 0:
        return None
    return {**knobs, "cols": lean_cols(graph, op, _simd4_scratch(graph, op))}


def dw_canonical(graph: Graph, op: Operator, target: str, knobs: dict[str, Any]) -> dict[str, Any]:
    if knobs.get("algo") != "pair":
        return {"algo": knobs.get("algo", "direct")}
    cols = strip_cols(graph, op, int(knobs.get("cols", 0)))  # a strip as wide as the row is the whole row
    return {"algo": "pair", "cols": 0 if cols == int(graph.tensors[op.outputs[0]].shape[2]) else cols}


register_space("CONV_2D", space=conv_space, default=conv_default, canonical=conv_canonical, lean=conv_lean)
register_space("DEPTHWISE_CONV_2D", space=dw_space, default=dw_default, canonical=dw_canonical, lean=dw_lean)
