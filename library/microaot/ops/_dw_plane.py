"""Schedule ``algo=plane`` of DEPTHWISE_CONV_2D (any depth multiplier, any kernel) and of a CONV_2D with one
input channel (kernel family ``dw_plane``, crt/include/microaot/kernels/dw_plane.h): one input channel plane at
a time, its lines expanded once into an int16 ring, SMLAD over pairs of taps along the longer kernel side,
2 output channels x 2 output pixels per step."""

from __future__ import annotations

import numpy as np

from microaot.ir.graph import Graph, Operator
from microaot.ops._geometry import ConvGeometry, conv_geometry

PLANE_MAX_KO = 32  # kernel taps along the outer axis (the kernel's line table)


def transposed(g: ConvGeometry) -> bool:
    """uaot_dw_plane_transposed: Kx1 kernels read the plane transposed (the height is the paired axis)."""
    return g.k_w == 1 and g.k_h > 1


def plane_ok(graph: Graph, op: Operator) -> bool:
    """The shapes uaot_dw_plane_s8 covers (int8 is checked by the caller): DEPTHWISE_CONV_2D with any
    multiplier, or CONV_2D with in_c == 1; dilation 1 along the paired axis, <= 32 taps along the other."""
    g = conv_geometry(graph, op)
    if not g.depthwise and g.in_c != 1:
        return False
    t = transposed(g)
    dil_inner = g.dil_h if t else g.dil_w
    k_outer = g.k_w if t else g.k_h
    return dil_inner == 1 and 0 < k_outer <= PLANE_MAX_KO and g.out_h > 0 and g.out_w > 0


def plane_scratch(graph: Graph, op: Operator) -> int:
    """uaot_dw_plane_s8_scratch_size: Eo int32 line tags, an output line's int32 accumulators (M == 1: Oi
    rounded up to 4; else 2 per pixel, Oi rounded up to even, per channel pair), Eo ring slots of min(in_c, 4)
    lines (the channels expanded together) of W int16 (W = uaot_dw_plane_line, rounded up to even)."""
    g = conv_geometry(graph, op)
    t = transposed(g)
    ko, ki = (g.k_w, g.k_h) if t else (g.k_h, g.k_w)
    dil_o = g.dil_w if t else g.dil_h
    oi, si = (g.out_h, g.stride_h) if t else (g.out_w, g.stride_w)
    eo = (ko - 1) * dil_o + 1
    w = ((oi + 3) // 4 * 4 - 1) * si + (ki + 1) // 2 * 2
    m = plane_multiplier(g)
    acc = (oi + 3) // 4 * 4 if m == 1 else (m + 1) // 2 * 2 * ((oi + 1) // 2 * 2)
    return 4 * eo + 4 * acc + 2 * eo * min(g.in_c, 4) * ((w + 1) // 2 * 2)


def plane_multiplier(g: ConvGeometry) -> int:
    """M of the kernel: the depth multiplier, or out_c for a CONV_2D with one input channel."""
    return g.depth_mult if g.depthwise else g.out_c


def pack_dw_plane(g: ConvGeometry, taps: np.ndarray) -> np.ndarray:
    """The kernel's int16 filter from ``taps`` [out_c][k_h][k_w] (output channel c*M + m of input channel c):
    per input channel, per pair of its output channels (an odd M padded with a zero channel; M == 1: the one
    channel only), per outer tap, per inner tap pair: (w[m] pair), (w[m+1] pair), the inner axis padded to even
    with zero taps."""
    t = transposed(g)
    w = taps.transpose(0, 2, 1) if t else taps  # [oc][outer][inner]
    oc, ko, ki = w.shape
    m = plane_multiplier(g)
    c = oc // m
    kip = (ki + 1) // 2 * 2
    mp = (m + 1) // 2
    full = np.zeros((c, 2 * mp, ko, kip), dtype=np.int16)
    full[:, :m, :, :ki] = w.reshape(c, m, ko, ki)
    if m == 1:
        return np.ascontiguousarray(full[:, 0]).reshape(-1)
    # [c][pair][2 channels][ko][kp][2 taps] -> [c][pair][ko][kp][2 channels][2 taps]
    arr = full.reshape(c, mp, 2, ko, kip // 2, 2).transpose(0, 1, 3, 4, 2, 5)
    return np.ascontiguousarray(arr).reshape(-1)
