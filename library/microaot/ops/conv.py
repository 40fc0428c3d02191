"""Lowering of CONV_2D and DEPTHWISE_CONV_2D (kernel family ``conv``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from microaot.ir.graph import Graph, Operator
from microaot.ops import InPlace, LowerFn, Lowering, LoweringContext, register
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
from microaot.ops._conv1ch import conv1ch_ok, conv1ch_scratch, pack_conv1ch
from microaot.ops._dw_pair import (
    PAIR_COLS,
    lean_cols,
    lower_pair,
    pair_ok,
    pair_scratch,
    strip_cols,
)
from microaot.ops._dw_plane import pack_dw_plane, plane_multiplier, plane_ok, plane_scratch
from microaot.ops._dw_small import line_geometry_pairs, line_ok, line_scratch, pack_dw_line
from microaot.ops._fpu import fpu_conv_scratch, fpu_default, fpu_space, is_float, lower_fpu_conv
from microaot.ops._geometry import check_conv, conv_geometry
from microaot.ops._inplace import conv_rows_inplace, rows_lowering
from microaot.ops._pack import (
    fast_requant_ok,
    gemm_k_order,
    gemm_rq_bias,
    pack_depthwise_simd4,
    pack_row_blocks,
    rq_table,
)
from microaot.ops._schedule import DSP_TARGETS, MVE_TARGETS, resolve


def pointwise_shrinking(graph: Graph, op: Operator) -> bool:
    """1x1, stride 1, batch 1, out_c <= in_c (no padding possible with a 1x1 kernel)."""
    return conv_geometry(graph, op).pointwise_shrinking


def runs_placement_itself(ctx: LoweringContext) -> bool:
    """The kernels that run an in-place rows_fwd / rows_bwd placement themselves, on the whole tensor,
    instead of row by row through ``uaot_conv_s8_rows`` (``_inplace.rows_lowering``): DEPTHWISE_CONV_2D
    ``algo=pair`` (kernel mode 1 / 2 from ``ctx.inplace``, keeping its ring of expanded rows) and the
    ``gemm`` of a shrinking pointwise CONV_2D, which ``_conv_inplace`` offers ``rows_fwd`` only (the gemm
    expands each block of pixels before writing its outputs, so any forward distance is safe)."""
    algo = resolve(ctx.graph, ctx.op, ctx.target, ctx.schedule).get("algo")
    if algo == "pair":
        return True
    return (algo == "gemm" and ctx.inplace == "rows_fwd" and ctx.op.opcode == "CONV_2D"
            and pointwise_shrinking(ctx.graph, ctx.op))


def _lower(ctx: LoweringContext, depthwise: bool) -> Lowering:
    x, w, y = ctx.input(0), ctx.input(1), ctx.output(0)
    bias = ctx.input(2) if ctx.has_input(2) else None
    g = conv_geometry(ctx.graph, ctx.op).params()
    act = str(ctx.options.get("fused_activation_function", "NONE"))
    fn = "uaot_depthwise_conv2d" if depthwise else "uaot_conv2d"
    if x.dtype == "int16":
        return _lower_s16(ctx, fn, g, act)
    dtype = require_dtype(ctx, [x, w, y], ("int8", "float32"))
    if dtype == "float32":
        if bias is not None and bias.dtype != "float32":
            raise ctx.unsupported(f"bias {bias.name!r} must be float32")
        lo, hi = act_range_f32(ctx, act)
        p = ctx.params("uaot_conv_f32_params_t", {**g, "act_min": lo, "act_max": hi})
        b = ctx.in_ptr(2) if bias is not None else "NULL"
        if resolve(ctx.graph, ctx.op, ctx.target, ctx.schedule).get("algo") == "fpu":
            return lower_fpu_conv(ctx, depthwise, p, b)
        return Lowering(families=("conv",), call=f"{fn}_f32({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {b}, "
                                                 f"{ctx.out_ptr(0)})")

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
    if ctx.inplace is not None and not runs_placement_itself(ctx):  # the others: row by row (_inplace.py)
        raise ctx.unsupported(f"internal: {ctx.inplace!r} reached the out-of-place lowering")
    if algo == "mve":  # Helium (crt/kernels/mve.c): TFLite's filter layout, mult/shift per channel
        p = ctx.params("uaot_conv_s8_params_t", {
            **g, "input_offset": -zp_in, "output_offset": zp_out, "act_min": lo, "act_max": hi,
            "bias": ctx.const_array("bias", "int32_t", fb), "mult": ctx.const_array("mult", "int32_t", mults),
            "shift": ctx.const_array("shift", "int32_t", shifts), "rq": "NULL"})
        if depthwise:
            return Lowering(families=("mve",), call=f"uaot_depthwise_conv2d_s8_mve({p}, {ctx.in_ptr(0)}, "
                                                     f"{ctx.in_ptr(1)}, {ctx.out_ptr(0)})")
        nbytes = mve_conv_scratch(ctx.graph, ctx.op)
        if nbytes and ctx.scratch_ptr is None:
            raise ctx.unsupported("internal: the mve schedule has no scratch buffer")
        scr = f"{ctx.scratch_ptr}, {nbytes}u" if nbytes else "NULL, 0u"
        return Lowering(families=("mve",), call=f"uaot_conv2d_s8_mve({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, "
                                                 f"{ctx.out_ptr(0)}, {scr})")
    if algo == "line":  # Kx1 / 1xK, any multiplier (crt/kernels/dw_small.c): one int32 stream per group of 4
        fast = fast_requant_ok(fb, rows, mults, shifts)
        pairs = line_geometry_pairs(conv_geometry(ctx.graph, ctx.op))
        stream = ctx.const_array("wline", "int32_t", pack_dw_line(rows.T, fb, mults, shifts, zp_out, fast, pairs))
        p = ctx.params("uaot_conv_s8_params_t", {
            **g, "input_offset": -zp_in, "output_offset": zp_out, "act_min": lo, "act_max": hi, "bias": "NULL",
            **({"mult": "NULL", "shift": "NULL", "rq": f"(const int32_t *){stream}"} if fast else
               {"mult": ctx.const_array("mult", "int32_t", mults),
                "shift": ctx.const_array("shift", "int32_t", shifts), "rq": "NULL"})})
        if ctx.scratch_ptr is None:
            raise ctx.unsupported("internal: the line schedule has no scratch buffer")
        return Lowering(families=("dw_small",),
                        call=f"uaot_dw_line_s8({p}, {ctx.in_ptr(0)}, (const int8_t *){stream}, {ctx.out_ptr(0)}, "
                             f"{ctx.scratch_ptr}, {line_scratch(ctx.graph, ctx.op)}u)")
    if algo == "patch":  # CONV_2D with one input channel (crt/kernels/conv1ch.c)
        return _lower_conv1ch(ctx, g, rows, fb, mults, shifts, zp_in, zp_out, lo, hi)
    # the fast kernels requantize from the rq table alone when the generator could prove it exact
    use_rq = algo != "direct" and fast_requant_ok(fb, rows, mults, shifts)
    gemm_bias = use_rq and algo in ("gemm", "x16")  # the gemm's bias (constant channel pairs marked)
    if algo == "plane":  # a CONV_2D with one input channel is a depthwise with out_c outputs per channel
        g = {**g, "depth_mult": plane_multiplier(conv_geometry(ctx.graph, ctx.op))}
    p = ctx.params("uaot_conv_s8_params_t", {
        **g, "input_offset": -zp_in, "output_offset": zp_out, "act_min": lo, "act_max": hi,
        "bias": ctx.const_array("bias", "int32_t", gemm_rq_bias(fb, rows, mults) if gemm_bias else fb),
        **({"mult": "NULL", "shift": "NULL",
            "rq": ctx.const_array("rq", "int32_t", rq_table(mults, shifts, zp_out, fb, rows))}
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
    if algo == "plane":
        geo = conv_geometry(ctx.graph, ctx.op)
        arr = ctx.const_array("wplane", "int16_t", pack_dw_plane(geo, rows.reshape(oc, geo.k_h, geo.k_w)))
        if ctx.scratch_ptr is None:
            raise ctx.unsupported("internal: the plane schedule has no scratch buffer")
        return Lowering(families=("dw_plane",),
                        call=f"uaot_dw_plane_s8({p}, {ctx.in_ptr(0)}, (const int8_t *){arr}, {ctx.out_ptr(0)}, "
                             f"{ctx.scratch_ptr}, {plane_scratch(ctx.graph, ctx.op)}u)")
    if algo == "simd4":
        arr = ctx.const_array("wdw16", "int16_t", pack_depthwise_simd4(wd.reshape(-1, oc)))
        if ctx.scratch_ptr is None:
            raise ctx.unsupported("internal: the simd4 schedule has no scratch buffer")
        return Lowering(families=("conv_fast",),
                        call=f"uaot_depthwise_conv2d_s8_simd4({p}, {ctx.in_ptr(0)}, (const int8_t *){arr}, "
                             f"{ctx.out_ptr(0)}, {ctx.scratch_ptr}, {_simd4_scratch(ctx.graph, ctx.op)}u)")
    return Lowering(families=("conv",), call=f"{fn}_s8({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {ctx.out_ptr(0)})")


def _lower_conv1ch(ctx: LoweringContext, g: dict[str, int], rows: np.ndarray, fb: np.ndarray, mults: list[int],
                   shifts: list[int], zp_in: int, zp_out: int, lo: int, hi: int) -> Lowering:
    """``uaot_conv1ch_s8``: the stream of ``_conv1ch.pack_conv1ch`` (fast when ``fast_requant_ok``)."""
    fast = fast_requant_ok(fb, rows, mults, shifts)
    p = ctx.params("uaot_conv_s8_params_t", {
        **g, "input_offset": -zp_in, "output_offset": zp_out, "act_min": lo, "act_max": hi, "bias": "NULL",
        **({"mult": "NULL", "shift": "NULL"} if fast else
           {"mult": ctx.const_array("mult", "int32_t", mults), "shift": ctx.const_array("shift", "int32_t", shifts)}),
        "rq": "NULL",
    })
    geo = conv_geometry(ctx.graph, ctx.op)
    stream = ctx.const_array("wc1", "int32_t", pack_conv1ch(geo, rows, fb, mults, shifts, zp_out, fast, lo, hi))
    if ctx.scratch_ptr is None:
        raise ctx.unsupported("internal: the patch schedule has no scratch buffer")
    return Lowering(families=("conv1ch",),
                    call=f"uaot_conv1ch_s8({p}, {ctx.in_ptr(0)}, {stream}, {ctx.out_ptr(0)}, {ctx.scratch_ptr}, "
                         f"{conv1ch_scratch(ctx.graph, ctx.op)}u, {int(fast)})")


def wide_bias(ctx: LoweringContext, bias_index: int, n: int) -> tuple[str, int]:
    """(the C array of the 16x8 kernels' int64 bias or NULL, acc32). TFLM accumulates in the bias type:
    int64 (or no bias) -> int64 sum + 64-bit requantization; int32 -> int32 sum + the 32-bit one."""
    if not ctx.has_input(bias_index):
        return "NULL", 0
    bias = ctx.input(bias_index)
    if bias.dtype not in ("int64", "int32") or bias.num_elements != n:
        raise ctx.unsupported(f"bias {bias.name!r} is {bias.dtype} {list(bias.shape)}; int16 activations with int8 "
                              f"weights need an int64 (or int32) bias of {n} values: re-export with TFLite's 16x8 "
                              "quantization")
    data = const_data(ctx, bias_index, "bias")
    return ctx.const_array("bias64", "int64_t", data.reshape(-1).astype(np.int64)), int(bias.dtype == "int32")


def _lower_s16(ctx: LoweringContext, fn: str, g: dict[str, int], act: str) -> Lowering:
    """16x8 (int16 activations, int8 weights): TFLM's ConvPerChannel / DepthwiseConvPerChannel on int16
    input, portable kernel only (the schedules offer ``direct`` alone for it; no in-place variant)."""
    x, w, y = ctx.input(0), ctx.input(1), ctx.output(0)
    if w.dtype != "int8" or y.dtype != "int16":
        raise ctx.unsupported(f"input int16, filter {w.dtype}, output {y.dtype}: int16 activations need int8 "
                              "weights and an int16 output (TFLM's 16x8 scheme)")
    s_in, zp_in = require_quant(ctx, x, "input")
    s_out, zp_out = require_quant(ctx, y, "output")
    if zp_in != 0 or zp_out != 0:
        raise ctx.unsupported(f"int16 input / output zero points are {zp_in} / {zp_out}; TFLM's 16x8 scheme needs "
                              "symmetric (zero point 0) int16 activations")
    if w.quant is not None and any(int(z) != 0 for z in w.quant.zero_point):
        raise ctx.unsupported(f"filter {w.name!r} has a non-zero zero point (int8 filters must be symmetric)")
    const_data(ctx, 1, "filter")
    oc = g["out_c"]
    mults, shifts = per_channel_multipliers(ctx, s_in, w, s_out, oc)
    lo, hi = act_range_q(ctx, act, s_out, zp_out, -32768, 32767)
    bias_ref, acc32 = wide_bias(ctx, 2, oc)
    p = ctx.params("uaot_conv_s16_params_t", {
        **g, "input_offset": 0, "output_offset": 0, "act_min": lo, "act_max": hi, "acc32": acc32,
        "mult": ctx.const_array("mult", "int32_t", mults), "shift": ctx.const_array("shift", "int32_t", shifts)})
    return Lowering(families=("conv16",),
                    call=f"{fn}_s16({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {bias_ref}, {ctx.out_ptr(0)})")


def _simd4_scratch(graph: Graph, op: Operator) -> int:
    """UAOT_DW_SIMD4_SCRATCH(C, k_h, UAOT_DW_PADDED_W(...))"""
    g = conv_geometry(graph, op)
    c, pw = g.out_c, g.padded_w()
    return 4 * c + (g.k_h * pw * c + 3) // 4 * 4


def mve_conv_scratch(graph: Graph, op: Operator) -> int:
    """UAOT_CONV_MVE_SCRATCH(K) of ``uaot_conv2d_s8_mve``: the im2col column of one pixel in whole 16-byte
    vectors; none for a 1x1 convolution without padding (it reads the input pixel in place)."""
    g = conv_geometry(graph, op)
    p = g.params()
    if g.k_h == 1 and g.k_w == 1 and p["pad_top"] == 0 and p["pad_left"] == 0:
        return 0
    return (g.k + 15) // 16 * 16


def _conv_scratch(graph: Graph, op: Operator, target: str = "generic",
                  schedule: dict[str, Any] | None = None) -> int:
    """Scratch bytes of the chosen CONV_2D / DEPTHWISE_CONV_2D variant (crt/include/microaot/kernels/conv_fast.h)."""
    knobs = resolve(graph, op, target, schedule)
    g = conv_geometry(graph, op)
    if knobs.get("algo") == "fpu":  # uaot_conv2d_f32_fpu_scratch_size (depthwise: none)
        return fpu_conv_scratch(graph, op) if op.opcode == "CONV_2D" else 0
    if knobs.get("algo") == "gemm":  # UAOT_CONV_GEMM_SCRATCH(K, in_c) / UAOT_CONV_GEMM3{,_WX}_SCRATCH (cols=3)
        kp = (g.k + 3) // 4 * 4
        gather = kp if g.in_c % 4 else 0  # the int8 gather row (in_c % 4 != 0)
        wx = 2 * g.out_c * kp if knobs.get("wexp") else 0  # UAOT_CONV_GEMM3_WX_SCRATCH
        return (6 if int(knobs.get("cols", 2)) == 3 else 4) * kp + gather + wx
    if knobs.get("algo") == "x16":  # UAOT_CONV_X16_SCRATCH(k_h, UAOT_DW_PADDED_W(out_w, stride_w, k_w, 1), k_w, in_c)
        return x16_scratch(graph, op)
    if knobs.get("algo") == "pair":  # UAOT_DW_PAIR_SCRATCH(C, cols)
        return pair_scratch(graph, op, int(knobs.get("cols", 0)))
    if knobs.get("algo") == "patch":  # uaot_conv1ch_s8_scratch_size
        return conv1ch_scratch(graph, op)
    if knobs.get("algo") == "plane":  # uaot_dw_plane_s8_scratch_size
        return plane_scratch(graph, op)
    if knobs.get("algo") == "line":  # uaot_dw_line_s8_scratch_size
        return line_scratch(graph, op)
    if knobs.get("algo") == "simd4":  # UAOT_DW_SIMD4_SCRATCH(C, k_h, UAOT_DW_PADDED_W(...))
        return _simd4_scratch(graph, op)
    if knobs.get("algo") == "mve" and op.opcode == "CONV_2D":  # UAOT_CONV_MVE_SCRATCH(K); depthwise: none
        return mve_conv_scratch(graph, op)
    return 0


def lower_conv2d(ctx: LoweringContext) -> Lowering:
    return _lower(ctx, depthwise=False)


def lower_depthwise_conv2d(ctx: LoweringContext) -> Lowering:
    return _lower(ctx, depthwise=True)


# ---- schedule knobs (docs/internals.md "Schedule knobs"; microaot.schedules) -----------------------

def _is_int8(graph: Graph, op: Operator) -> bool:
    return graph.tensors[op.inputs[0]].dtype == "int8"


def _dw_mult(graph: Graph, op: Operator) -> int:
    return conv_geometry(graph, op).depth_mult


X16_STEPS = (32, 64, 128)  # the x16 entry points: bytes between the pixels of a block (stride_w * in_c * 2)
X16_MAX_KH = 16


def x16_step(graph: Graph, op: Operator) -> int:
    """S of ``uaot_conv2d_s8_x16_s{S}``: stride_w * in_c * 2."""
    g = conv_geometry(graph, op)
    return g.stride_w * g.in_c * 2


def x16_ok(graph: Graph, op: Operator) -> bool:
    """The shapes ``uaot_conv2d_s8_x16_s*`` covers (crt/kernels/conv_fast.c uaot_x16_ok): 4-D, in_c % 4 == 0,
    (k_w * in_c) % 16 == 0, no dilation, out_w >= 3, k_h <= 16, stride_w * in_c * 2 in X16_STEPS."""
    g = conv_geometry(graph, op)
    ic = g.in_c
    return (ic > 0 and ic % 4 == 0 and (g.k_w * ic) % 16 == 0 and g.dil_h == 1 and g.dil_w == 1 and g.out_w >= 3
            and 0 < g.k_h <= X16_MAX_KH and x16_step(graph, op) in X16_STEPS)


def x16_scratch(graph: Graph, op: Operator) -> int:
    """UAOT_CONV_X16_SCRATCH: k_h ring rows of (out_w - 1) * stride_w + k_w pixels of in_c int16, then the
    int16 columns of 2 pixels (4 * K bytes)."""
    g = conv_geometry(graph, op)
    return 2 * g.k_h * g.padded_w(dilation=False) * g.in_c + 4 * g.k


def conv_space(graph: Graph, op: Operator, target: str) -> dict[str, list[Any]]:
    if is_float(graph, op):
        return fpu_space(graph, op, target)
    if not _is_int8(graph, op):
        return {"algo": ["direct"]}
    algos = ["direct", "gemm"] + (["x16"] if x16_ok(graph, op) else []) + (["plane"] if plane_ok(graph, op) else [])
    algos += ["patch"] if conv1ch_ok(graph, op) else []
    algos += ["mve"] if target in MVE_TARGETS else []
    return {"algo": algos, "cols": [1, 2, 3], "w16": [False, True], "wexp": [False, True]}


# the M55 defaults (measured on QEMU mps3-an547, docs/internals.md "Helium kernels"): CONV_2D takes the MVE
# kernel from K = k_h*k_w*in_c >= 16 on (below, a 16-lane VMLADAVA is mostly empty and the DSP gemm's 3-pixel
# blocks win: VWW's 1x1 8->16 layer 1.01M vs 0.70M instructions); DEPTHWISE_CONV_2D keeps the DSP kernels
# (MVE has no lane-wise int8/int32 multiply-accumulate, so its depthwise needs VMUL + VADD per 4 MACs: KWS's
# 3x3x64 layers 233K vs the SMLAD pair kernel's 152K); ``mve`` stays in its space for the tuner.
MVE_MIN_K = 16


def conv_default(graph: Graph, op: Operator, target: str) -> dict[str, Any]:
    """The default schedule of an int8 CONV_2D on a DSP target: gemm cols=3 with int8 weights; ``direct``
    (the generic kernel) elsewhere; ``mve`` (Helium) on the M55. wexp and x16 are tuning options only (why:
    docs/internals.md, "Why these defaults")."""
    if is_float(graph, op):
        return fpu_default(graph, op, target)
    if not _is_int8(graph, op) or target not in DSP_TARGETS:
        return {"algo": "direct"}
    if target in MVE_TARGETS and conv_geometry(graph, op).k >= MVE_MIN_K:
        return {"algo": "mve"}
    if conv1ch_ok(graph, op):  # one input channel: the patch kernel (conv1ch.c)
        return {"algo": "patch"}
    return {"algo": "gemm", "cols": 3, "w16": False}


def conv_lean(graph: Graph, op: Operator, target: str, knobs: dict[str, Any]) -> dict[str, Any] | None:
    """gemm cols=2: 4·Kp bytes of scratch instead of 6·Kp (+ 2·out_c·Kp with wexp, which it drops; the same
    fused asm K loop and requantization as cols=3 on 2-pixel blocks: ~3-7 % more instructions on that op); taken
    by ``schedules.plan_schedules`` when the op runs at the workspace peak and that shrinks it."""
    if knobs.get("algo") != "gemm" or int(knobs.get("cols", 2)) != 3:
        return None
    return {**knobs, "cols": 2}


def conv_canonical(graph: Graph, op: Operator, target: str, knobs: dict[str, Any]) -> dict[str, Any]:
    """wexp applies to cols=3 with int8 weights only, and is listed only when on; x16 takes w16 only"""
    if knobs.get("algo") == "x16":
        return {"algo": "x16", "w16": bool(knobs.get("w16", False))}
    if knobs.get("algo") == "fpu":
        return {"algo": "fpu"}
    if knobs.get("algo") == "mve":
        return {"algo": "mve"}
    if knobs.get("algo") in ("plane", "patch"):
        return {"algo": knobs["algo"]}
    if knobs.get("algo") != "gemm":
        return {"algo": "direct"}
    out = {"algo": "gemm", "cols": int(knobs.get("cols", 2)), "w16": bool(knobs.get("w16", False))}
    if knobs.get("wexp") and out["cols"] == 3 and not out["w16"]:
        out["wexp"] = True
    return out


def dw_space(graph: Graph, op: Operator, target: str) -> dict[str, list[Any]]:
    if is_float(graph, op):
        return fpu_space(graph, op, target)
    if not _is_int8(graph, op):
        return {"algo": ["direct"]}
    algos = ["direct"]
    if _dw_mult(graph, op) == 1:
        algos.append("simd4")
    if plane_ok(graph, op):
        algos.append("plane")
    if line_ok(graph, op):
        algos.append("line")
    mve = ["mve"] if target in MVE_TARGETS and _dw_mult(graph, op) == 1 else []
    if _dw_mult(graph, op) == 1 and pair_ok(graph, op):
        return {"algo": [*algos, "pair", *mve], "cols": list(PAIR_COLS)}
    return {"algo": [*algos, *mve]}


PLANE_MIN_TAPS = 5  # multiplier 1: plane from 5 taps on (3x1: 18 vs simd4 17 instr/MAC; 5x1: 11.7 vs 15.0)


def _plane_beats_simd4(graph: Graph, op: Operator) -> bool:
    g = conv_geometry(graph, op)
    return g.k_h * g.k_w >= PLANE_MIN_TAPS


def dw_default(graph: Graph, op: Operator, target: str) -> dict[str, Any]:
    """DSP targets: ``pair`` where legal (3x3, multiplier 1, no dilation), else ``line`` (Kx1 / 1xK, any multiplier),
    else ``plane`` (any multiplier, any kernel), else ``simd4``; ``direct`` elsewhere; float32: ``fpu`` on the FPU
    targets. The M55 keeps these (``mve`` is tunable)."""
    if is_float(graph, op):
        return fpu_default(graph, op, target)
    algos = dw_space(graph, op, target)["algo"]
    if target in DSP_TARGETS and "pair" in algos:
        return {"algo": "pair", "cols": 0}
    if target in DSP_TARGETS and "line" in algos:  # (measured faster than plane for every multiplier)
        return {"algo": "line"}
    if target in DSP_TARGETS and "plane" in algos and (_dw_mult(graph, op) > 1 or "simd4" not in algos
                                                      or _plane_beats_simd4(graph, op)):
        return {"algo": "plane"}
    if target in DSP_TARGETS and "simd4" in algos:
        return {"algo": "simd4"}
    return {"algo": "direct"}


def dw_lean(graph: Graph, op: Operator, target: str, knobs: dict[str, Any]) -> dict[str, Any] | None:
    """pair with the whole-row ring -> the strip within budget (``_dw_pair.lean_cols``); taken by
    ``schedules.plan_schedules`` when the op runs at the workspace peak and that shrinks it."""
    if knobs.get("algo") != "pair" or int(knobs.get("cols", 0)) != 0:
        return None
    return {**knobs, "cols": lean_cols(graph, op, _simd4_scratch(graph, op))}


def dw_canonical(graph: Graph, op: Operator, target: str, knobs: dict[str, Any]) -> dict[str, Any]:
    if knobs.get("algo") != "pair":
        return {"algo": knobs.get("algo", "direct")}
    cols = strip_cols(graph, op, int(knobs.get("cols", 0)))  # a strip as wide as the row is the whole row
    return {"algo": "pair", "cols": 0 if cols == int(graph.tensors[op.outputs[0]].shape[2]) else cols}


# ---- in place (``_inplace.py``) --------------------------------------------------------------------
# With ``ctx.inplace`` in (rows_fwd, rows_bwd) the operator's usual kernel call runs through
# ``uaot_conv_s8_rows`` (crt/kernels/conv_rows.c, ``_inplace.rows_lowering``); otherwise nothing changes.
#
# Pointwise exception: a 1x1 stride-1 CONV_2D with out_c <= in_c is offered ``rows_fwd`` only, and when
# its schedule is ``gemm`` the kernel runs once on the whole tensor instead of once per output row. The
# gemm kernels walk the pixels in increasing order in blocks of 1..3 and expand a block's input pixels
# into their int16 columns (scratch) before writing any output of that block (conv_fast.h), so with the
# output ``delta`` >= 0 bytes below the input, the bytes written up to pixel q ((q+1)*out_c) never reach
# an input pixel not yet read (delta + (q+1)*in_c). The forward row distance the planner keeps is >= 0,
# so every ``rows_fwd`` placement is also a legal pixel-order placement. (Whole-tensor blocks of 3 instead
# of rows of out_w pixels: KWS's 25x5 pointwise layers no longer run 2 of every 5 pixels as leftovers.)
#
# DEPTHWISE_CONV_2D ``algo=pair`` (``_dw_pair.py``) reads every input row once, when it expands it into its
# ring of 3 rows, so it runs the ``rows_fwd`` / ``rows_bwd`` placements by itself on the whole tensor
# (kernel mode 1 / 2, from ``ctx.inplace``) instead of once per output row through ``uaot_conv_s8_rows``
# (which would expand each input row for every output row that reads it).
#
# Both exceptions are one predicate, ``runs_placement_itself``: the row driver hands such a lowering
# ``ctx`` unchanged and the lowering emits its usual whole-tensor call.


def _conv_inplace(graph: Graph, op: Operator) -> list[InPlace]:
    variants = conv_rows_inplace(graph, op)
    if len(op.inputs) >= 2 and min(op.inputs[:2]) >= 0 and pointwise_shrinking(graph, op):
        variants = [v for v in variants if v.variant == "rows_fwd"]
    return variants


def _rows(lower: LowerFn) -> LowerFn:
    return rows_lowering(lower, runs_placement_itself)


# ---- the declarations -------------------------------------------------------------------------------

register(
    "CONV_2D",
    dtypes=("int8", "float32", "int16x8"),
    check=check_conv,
    schedule_scratch=_conv_scratch,
    inplace=_conv_inplace,
    wrap=_rows,
    space=conv_space,
    default=conv_default,
    canonical=conv_canonical,
    lean=conv_lean,
)(lower_conv2d)
register(
    "DEPTHWISE_CONV_2D",
    dtypes=("int8", "float32", "int16x8"),
    check=check_conv,
    schedule_scratch=_conv_scratch,
    inplace=conv_rows_inplace,
    wrap=_rows,
    space=dw_space,
    default=dw_default,
    canonical=dw_canonical,
    lean=dw_lean,
)(lower_depthwise_conv2d)
