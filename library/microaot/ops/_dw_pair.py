"""DEPTHWISE_CONV_2D schedule ``algo=pair`` (kernel family ``dw_fast``, crt/include/microaot/kernels/dw_fast.h):
3x3, depth multiplier 1, no dilation, any channel count (C % 4 != 0: padded to whole groups of 4 channels with
zero weights, see dw_fast.h); the weights, bias and requantization table of every pair of channels interleaved in
one int32 stream that the kernel walks with LDM."""

from __future__ import annotations

from typing import Any

import numpy as np

from microaot.ir.graph import Graph, Operator
from microaot.ops import Lowering, LoweringContext
from microaot.ops._geometry import conv_geometry
from microaot.ops._pack import fast_requant_ok, rq_table

# the in-place placement the pair kernel runs itself (its `mode` argument): 0 = out of place
PAIR_MODES = {None: 0, "rows_fwd": 1, "rows_bwd": 2}


def _pair(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """int32 words of int16 pairs (lo, hi), low half first."""
    return ((lo.astype(np.int64) & 0xFFFF) | ((hi.astype(np.int64) & 0xFFFF) << 16)).astype(np.uint32).view(np.int32)


def _splat8(v: int) -> int:
    """4 copies of the int8 v in one word (the asm's packed-byte bounds)."""
    return (v & 0xFF) * 0x01010101


def pair_ok(graph: Graph, op: Operator) -> bool:
    """The shapes uaot_dw3x3_s8_pair covers (int8 and depth multiplier 1 are checked by the caller)."""
    g = conv_geometry(graph, op)
    return g.k_h == 3 and g.k_w == 3 and g.out_c > 0 and g.dil_h == 1 and g.dil_w == 1


PAIR_COLS = [0, 16, 8, 4, 2, 1]  # the `cols` knob: output columns per strip, 0 = the whole row
# default: the whole row (each input row expanded once); the lean alternative (schedules.plan_schedules takes
# it when the operator runs at the workspace peak and that shrinks the workspace): the whole row when its
# scratch is at most FULL_RING_BYTES, else the widest strip within max(STRIP_BYTES, the simd4 kernel's scratch)
FULL_RING_BYTES = 6144
STRIP_BYTES = 4096


def _dims(graph: Graph, op: Operator) -> tuple[int, int]:
    g = conv_geometry(graph, op)
    return g.out_c, g.out_w


def strip_cols(graph: Graph, op: Operator, cols: int) -> int:
    """The strip width the kernel uses: min(cols, out_w), cols = 0 meaning out_w."""
    ow = _dims(graph, op)[1]
    return ow if cols <= 0 or cols > ow else int(cols)


def padded_channels(c: int) -> int:
    """UAOT_DW_PAIR_CP(C): the channels the kernel computes, C rounded up to 4."""
    return (c + 3) // 4 * 4


def pair_scratch(graph: Graph, op: Operator, cols: int) -> int:
    """UAOT_DW_PAIR_SCRATCH(C, cols): 3 ring rows of cols * Cp/2 records of 12 bytes, Cp zero-point bytes
    (Cp = C rounded up to 4) and, when C % 4 != 0, Cp bytes more (the last pixel of a call, the input's last
    column padded)."""
    c = _dims(graph, op)[0]
    cp = padded_channels(c)
    return 18 * cp * strip_cols(graph, op, cols) + cp * (2 if c % 4 else 1)


def lean_cols(graph: Graph, op: Operator, simd4_scratch: int) -> int:
    """The lean `cols`: 0 (the whole row) when its ring is small, else the widest strip within budget
    (strips cost little out of place; in place each (row, strip) re-expands its 3 rows, see dw_fast.h)."""
    if pair_scratch(graph, op, 0) <= max(FULL_RING_BYTES, simd4_scratch):
        return 0
    budget = max(STRIP_BYTES, simd4_scratch)
    for v in PAIR_COLS[1:]:
        if pair_scratch(graph, op, v) <= budget:
            return v
    return 1


def pair_channels(c: int) -> list[int]:
    """The first channel of every pair, in stream order: pairs (c, c+2), (c+1, c+3) of each group of 4
    (the kernel's records take both halves of an SXTB16 word)."""
    return [q + lane for q in range(0, c, 4) for lane in (0, 1)]


def pack_dw_pair(taps: np.ndarray, fb: np.ndarray, mults: list[int], shifts: list[int], zp_out: int,
                 fast: bool, lo: int = -128, hi: int = 127) -> np.ndarray:
    """taps [9, C] (tap = ky*3 + kx), folded bias [C] -> the int32 stream of dw_fast.h, C padded to Cp =
    ``padded_channels(C)`` with channels of zero weights and bias (and, fast, a constant rq row): per pair of
    channels (c, c+2) (``pair_channels``) bias x2, 3 x (w01[c], w01[c+2], w2[c, c+2]) and, when fast,
    {m, b, r} x2 with bias and weights doubled (channels with a zero multiplier: zero weights and bias,
    their output is the offset),
    then, when the activation range [lo, hi] is not the whole int8 range, after every quad's second pair
    (c0 % 4 == 1) the words {lo x4} and, when hi < 127, {hi x4}."""
    n_ch = taps.shape[1]
    c = padded_channels(n_ch)
    w = np.zeros((3, 3, c), dtype=np.int64)
    w[:, :, :n_ch] = taps.astype(np.int64).reshape(3, 3, n_ch)
    b = np.zeros(c, dtype=np.int64)
    b[:n_ch] = np.asarray(fb, dtype=np.int64)
    if fast:
        rq = np.concatenate([rq_table(mults, shifts, zp_out, fb, taps.T),
                             np.tile(np.array([0, 0, 1, 1], dtype=np.int64), c - n_ch)]).reshape(c, 4)
        live = rq[:, 0] != 0  # constant channels (rq_table): zero multiplier, output from the row alone
        if not np.all(rq[live, 1] == 1):
            raise ValueError("internal: the pair stream needs l1 == 1 (shift <= -1) on every live channel")
        w = w * 2 * live[None, None, :]
        b = b * 2 * live
    parts = []
    for c0 in pair_channels(c):
        ch = [c0, c0 + 2]
        words = [b[ch].astype(np.int32)]
        for ky in range(3):
            words.append(_pair(w[ky, 0, ch], w[ky, 1, ch]))
            words.append(_pair(w[ky, 2, ch[:1]], w[ky, 2, ch[1:]]))
        if fast:
            q = rq[ch][:, [0, 3, 2]].copy()
            if c0 + 2 == c - 1:
                q[1, 2] |= 256  # the asm loop ends after this pair
            words.append(q.reshape(-1).astype(np.int32))
            if (lo, hi) != (-128, 127) and c0 % 4 == 1:  # after each quad: {lo x4}, {hi x4} when hi < 127
                words.append(np.array([_splat8(v) for v in ([lo] if hi == 127 else [lo, hi])], dtype=np.int64)
                             .astype(np.uint32).view(np.int32))
        parts.append(np.concatenate(words))
    return np.concatenate(parts).astype(np.int64)


def lower_pair(ctx: LoweringContext, g: dict[str, Any], taps: np.ndarray, fb: np.ndarray, rows: np.ndarray,
               mults: list[int], shifts: list[int], zp_in: int, zp_out: int, lo: int, hi: int,
               cols: int) -> Lowering:
    """``uaot_dw3x3_s8_pair``; in place (``ctx.inplace`` rows_fwd / rows_bwd) it runs the placement itself."""
    if ctx.inplace not in PAIR_MODES:
        raise ctx.unsupported(f"internal: the pair kernel has no in-place variant {ctx.inplace!r}")
    mode = PAIR_MODES[ctx.inplace]
    fast = fast_requant_ok(fb, rows, mults, shifts)  # m > 0 on every live channel
    p = ctx.params("uaot_conv_s8_params_t", {
        **g, "input_offset": -zp_in, "output_offset": zp_out, "act_min": lo, "act_max": hi, "bias": "NULL",
        **({"mult": "NULL", "shift": "NULL"} if fast else
           {"mult": ctx.const_array("mult", "int32_t", mults), "shift": ctx.const_array("shift", "int32_t", shifts)}),
        "rq": "NULL",
    })
    stream = ctx.const_array("wdwp", "int32_t", pack_dw_pair(taps, fb, mults, shifts, zp_out, fast, lo, hi))
    if ctx.scratch_ptr is None:
        raise ctx.unsupported("internal: the pair schedule has no scratch buffer")
    return Lowering(
        families=("dw_fast",),
        call=f"uaot_dw3x3_s8_pair({p}, {ctx.in_ptr(0)}, {stream}, {ctx.out_ptr(0)}, {ctx.scratch_ptr}, "
        f"{pair_scratch(ctx.graph, ctx.op, cols)}u, {strip_cols(ctx.graph, ctx.op, cols)}, {int(fast)}, {mode})",
    )
