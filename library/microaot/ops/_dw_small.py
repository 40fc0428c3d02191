"""DEPTHWISE_CONV_2D schedule ``algo=line`` (kernel family ``dw_small``, crt/include/microaot/kernels/dw_small.h):
a one-dimensional kernel (Kx1 or 1xK), any depth multiplier, stride, dilation, padding and channel count. Every
input line is expanded once per group of 4 output channels into SXTB16 words; the weights, folded bias and
requantization table of each group are one int32 stream."""

from __future__ import annotations

import numpy as np

from microaot.ir.graph import Graph, Operator
from microaot.ops._geometry import ConvGeometry, conv_geometry
from microaot.ops._pack import _constant
from microaot.ops._tflm_math import mbqm

SXTB16_ORDER = [0, 2, 1, 3]  # the lanes of the two weight words of a tap: (oc0, oc2), (oc1, oc3)


def _pair(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """int32 words of int16 pairs (lo, hi), low half first."""
    return ((lo.astype(np.int64) & 0xFFFF) | ((hi.astype(np.int64) & 0xFFFF) << 16)).astype(np.uint32).view(np.int32)


def line_ok(graph: Graph, op: Operator) -> bool:
    """The shapes uaot_dw_line_s8 covers (int8 is checked by the caller): a depthwise kernel with k_h == 1 or
    k_w == 1 (a 1x1 one included)."""
    g = conv_geometry(graph, op)
    return g.depthwise and (g.k_h == 1 or g.k_w == 1) and g.out_h > 0 and g.out_w > 0 and g.out_c > 0


def _axis(g: ConvGeometry) -> tuple[int, int, int, int]:
    """(K, stride, dilation, outputs) along the tap axis (the height for a Kx1 kernel, else the width)."""
    if g.k_w == 1 and g.k_h > 1:
        return g.k_h, g.stride_h, g.dil_h, g.out_h
    return g.k_w, g.stride_w, g.dil_w, g.out_w


CHUNK_BYTES = 2048  # UAOT_DW_LINE_CHUNK_BYTES
PAIR_TAPS = (10,)  # uaot_dw_line_pairs: the K (without dilation) whose taps run in pairs (SMLAD) ...
PAIR_TAPS_S1 = (7, 9)  # ... and these with stride 1 (with stride 2 the pairs of odd positions are wasted work)


def line_pairs(k: int, d: int, s: int) -> bool:
    """uaot_dw_line_pairs: K taps along the axis with dilation d and stride s expand every position as 4 words of
    int16 pairs (x[j], x[j+1]) of one channel and multiply-accumulate 2 taps an instruction (SMLAD)."""
    return d == 1 and (k in PAIR_TAPS or (k in PAIR_TAPS_S1 and s == 1))


def line_geometry_pairs(g: ConvGeometry) -> bool:
    """line_pairs of a geometry's tap axis."""
    k, s, d, _ = _axis(g)
    return line_pairs(k, d, s)


def line_scratch(graph: Graph, op: Operator) -> int:
    """uaot_dw_line_s8_scratch_size: 8 bytes (16 with line_pairs) per input position of a line, Lp = (O - 1) * s +
    (K - 1) * d + 1, for
    every group of 4 output channels when they fit in CHUNK_BYTES, else max(CHUNK_BYTES, 8 * Lp) (chunks of groups;
    non-decreasing in Lp, so the in-place row driver's narrowed calls fit), and when out_c < 4 a word per output of a
    line (the partial group runs into it)."""
    g = conv_geometry(graph, op)
    k, s, d, o = _axis(g)
    one = (16 if line_pairs(k, d, s) else 8) * ((o - 1) * s + (k - 1) * d + 1)
    return min(one * ((g.out_c + 3) // 4), max(CHUNK_BYTES, one)) + (4 * o if g.out_c < 4 else 0)


def group_start(g: int, oc: int) -> int:
    """The first output channel of group g: 4 * g, but out_c - 4 for the last group of an out_c >= 4 that is not a
    multiple of 4 (it overlaps the group before it: every group is 4 real channels, stored as one word)."""
    return min(4 * g, oc - 4) if oc >= 4 else 4 * g


def pack_dw_line(taps: np.ndarray, fb: np.ndarray, mults: list[int], shifts: list[int], zp_out: int,
                 fast: bool, pairs: bool = False) -> np.ndarray:
    """taps [K, out_c] (along the tap axis), folded bias [out_c] -> the int32 stream of dw_small.h: per group of 4
    output channels (group_start; zero channels up to 4 when out_c < 4) bias[4], per tap (w[oc0], w[oc2]),
    (w[oc1], w[oc3]) and,
    when fast, {m, b, r} per channel (rq_table's mult, bias, r) with the bias and weights doubled and a constant
    channel's (zero multiplier or all-zero weights) weights and bias zeroed. With pairs (line_pairs) the taps go in
    pairs (t, t+1): (w[t][oc], w[t+1][oc]) for oc0, oc1, oc2, oc3, and an odd K's last tap alone as (w[oc0], w[oc1]),
    (w[oc2], w[oc3]): 2K words either way."""
    k, oc = taps.shape
    g4 = (oc + 3) // 4
    w = np.zeros((k, 4 * g4), dtype=np.int64)
    w[:, :oc] = taps
    b = np.zeros(4 * g4, dtype=np.int64)
    b[:oc] = np.asarray(fb, dtype=np.int64)
    rq = np.zeros((4 * g4, 3), dtype=np.int64)
    rq[:, 2] = 1  # padding channels: m = 0, b = 0, r = 1 (never stored)
    if fast:
        for c in range(oc):
            m, s = int(mults[c]), int(shifts[c])
            if _constant(m, taps[:, c]):
                q = min(max(int(mbqm(int(fb[c]), m, s)) + zp_out, -128), 127)
                rq[c] = (0, 1 + 2 * q, 1)
                w[:, c] = 0
                b[c] = 0
                continue
            r = -s
            rq[c] = (m, (1 << (r - 1)) + zp_out * (1 << r), r)
        w *= 2
        b *= 2
    parts = []
    for g in range(g4):
        c0 = group_start(g, oc)
        if pairs:
            cw = w[:, c0:c0 + 4]  # [K, 4]
            seq = [_pair(cw[t], cw[t + 1]) for t in range(0, k - 1, 2)]
            if k % 2:
                seq.append(_pair(cw[k - 1, [0, 2]], cw[k - 1, [1, 3]]))
            words = np.concatenate(seq)
        else:
            cols = w[:, c0:c0 + 4][:, SXTB16_ORDER]  # [K, 4] in lane order
            words = np.stack([_pair(cols[:, 0], cols[:, 1]), _pair(cols[:, 2], cols[:, 3])], axis=1).reshape(-1)
        parts.append(b[c0:c0 + 4].astype(np.int32))
        parts.append(words.astype(np.int32))
        if fast:
            parts.append(rq[c0:c0 + 4].reshape(-1).astype(np.int32))
    return np.concatenate(parts).astype(np.int32)


def line_taps(g: ConvGeometry, rows: np.ndarray) -> np.ndarray:
    """The depthwise filter rows [out_c, k_h * k_w] as taps [K, out_c] along the tap axis (one of k_h, k_w is 1,
    so the row-major tap order is the axis order either way)."""
    return np.ascontiguousarray(rows.T)

