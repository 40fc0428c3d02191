"""Schedule ``algo=patch`` of an int8 CONV_2D with one input channel (kernel family ``conv1ch``,
crt/include/microaot/kernels/conv1ch.h): per output pixel a patch of int16 tap pairs, reused by every output
channel (one SMLAD per tap pair and channel); the weights, bias and requantization words in one int32 stream
the kernel walks with LDM."""

from __future__ import annotations

import numpy as np

from microaot.ir.graph import Graph, Operator
from microaot.ops._geometry import ConvGeometry, conv_geometry
from microaot.ops._pack import rq_table

FULL, LO, LOHI = 0, 1, 2  # the requantization modes (UAOT_C1_*)


def conv1ch_ok(graph: Graph, op: Operator) -> bool:
    """The shapes uaot_conv1ch_s8 covers (int8 is checked by the caller): CONV_2D with in_c == 1."""
    g = conv_geometry(graph, op)
    return not g.depthwise and g.in_c == 1 and g.out_c > 0 and g.out_h > 0 and g.out_w > 0


def fast3(g: ConvGeometry) -> bool:
    """uaot_conv1ch_fast3: 3x3, dil_w == 1 (the register-patch path)."""
    return g.k_h == 3 and g.k_w == 3 and g.dil_w == 1


def kpairs(k_h: int, k_w: int) -> list[tuple[int, int | None]]:
    """The k-pairs of a patch as (tap, tap or None) with tap = ky * k_w + kx: every row's pairs (kx, kx+1),
    then the last column of rows (0, 1), (2, 3), .. when k_w is odd (conv1ch.h)."""
    out: list[tuple[int, int | None]] = []
    for ky in range(k_h):
        out += [(ky * k_w + kx, ky * k_w + kx + 1) for kx in range(0, k_w - 1, 2)]
    if k_w % 2:
        for ky in range(0, k_h, 2):
            out.append((ky * k_w + k_w - 1, (ky + 1) * k_w + k_w - 1 if ky + 1 < k_h else None))
    return out


def _kp4(g: ConvGeometry) -> int:
    return (len(kpairs(g.k_h, g.k_w)) + 3) // 4 * 4


def conv1ch_scratch(graph: Graph, op: Operator) -> int:
    """uaot_conv1ch_s8_scratch_size: the ring (2 Eo lines of Ls int16), 2 Kp offsets, Kp4 + 1 words, the last
    pixel's outputs (out_c rounded up to 4 bytes)."""
    g = conv_geometry(graph, op)
    eo = (g.k_h - 1) * g.dil_h + 1
    ls = (g.out_w - 1) * g.stride_w + (g.k_w - 1) * g.dil_w + 2
    ls = (ls + 1) // 2 * 2
    return 4 * eo * ls + 8 * len(kpairs(g.k_h, g.k_w)) + 4 * _kp4(g) + 4 + (g.out_c + 3) // 4 * 4


def rq_mode(lo: int, hi: int) -> int:
    return FULL if (lo, hi) == (-128, 127) else (LO if hi == 127 else LOHI)


def _words(lo16: np.ndarray, hi16: np.ndarray) -> np.ndarray:
    return ((lo16.astype(np.int64) & 0xFFFF) | ((hi16.astype(np.int64) & 0xFFFF) << 16)).astype(np.uint32).view(
        np.int32).astype(np.int64)


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def pack_conv1ch(g: ConvGeometry, rows: np.ndarray, fb: np.ndarray, mults: list[int], shifts: list[int],
                 zp_out: int, fast: bool, lo: int, hi: int) -> np.ndarray:
    """rows [out_c, k_h * k_w], folded bias [out_c] -> the int32 stream of conv1ch.h (fast3 or generic
    layout, fast or not)."""
    oc = rows.shape[0]
    mode = rq_mode(lo, hi)
    nrq = 4 if mode == LOHI else 3
    w = rows.astype(np.int64)
    b = np.asarray(fb, dtype=np.int64).copy()
    rq = np.zeros((oc, nrq), dtype=np.int64)
    if fast:
        t = rq_table(mults, shifts, zp_out, fb, rows).reshape(oc, 4)
        live = t[:, 0] != 0
        if not np.all(t[live, 1] == 1):
            raise ValueError("internal: the conv1ch stream needs l1 == 1 (shift <= -1) on every live channel")
        w = w * 2 * live[:, None]
        b = b * 2 * live
        for c in range(oc):
            m, _, r, bb = (int(v) for v in t[c])
            rq[c, 0] = m
            rq[c, 1] = bb if mode == FULL else bb - lo * (1 << r)
            rq[c, 2] = _i32(r | ((lo & 0xFF) << 24))
            if mode == LOHI:
                rq[c, 3] = hi - lo
    pairs = kpairs(g.k_h, g.k_w)
    wa = w[:, [a for a, _ in pairs]]
    wb = np.stack([w[:, t] if t is not None else np.zeros(oc, dtype=np.int64) for _, t in pairs], axis=1)
    ww = _words(wa, wb)  # [oc, Kp]
    if fast3(g):
        return _pack_fast3(oc, b, ww, rq, fast, mode, lo, hi)
    kp4 = _kp4(g)
    ocp = oc + (oc & 1)
    wp = np.zeros((ocp, kp4), dtype=np.int64)
    wp[:oc, :ww.shape[1]] = ww
    bp = np.zeros(ocp, dtype=np.int64)
    bp[:oc] = b
    rp = np.zeros((ocp, nrq), dtype=np.int64)
    rp[:oc] = rq
    rp[ocp - 1, 2] |= 256  # the asm runs every pair, the zero channel of an odd out_c included
    parts = []
    for c in range(0, ocp, 2):
        steps = [np.concatenate([wp[c, s:s + 4], wp[c + 1, s:s + 4]]) for s in range(0, kp4, 4)]
        parts.append(np.concatenate([bp[c:c + 2], *steps, rp[c], rp[c + 1]]))
    return np.concatenate(parts).astype(np.int64)


def _splat(v: int) -> int:
    return _i32((v & 0xFF) * 0x01010101)


def _pack_fast3(oc: int, b: np.ndarray, ww: np.ndarray, rq: np.ndarray, fast: bool, mode: int, lo: int,
                hi: int) -> np.ndarray:
    """fast3 layout: per channel {bias, 5 weight words, m, B, r | flag << 8}; after every 4th channel of the
    full groups of 4, {lo x4} (LO, LOHI) and {hi x4} (LOHI): the asm clamps the 4 packed output bytes."""
    words: list[int] = []
    full = (oc + 3) & ~3  # zero channels up to a multiple of 4 (the asm writes whole groups)
    for c in range(full):
        if c >= oc:
            words += [0] * 6 + [0, 1, 257 if c == full - 1 else 1]
            if c % 4 == 3:
                words += [_splat(lo), _splat(hi)][:mode]
            continue
        m, bb, r = (int(v) for v in rq[c, :3])
        if fast:  # the generic layout's {m, B - lo 2^r, r | lo << 24}: back to {m, B, r}
            r &= 0xFF
            bb = bb if mode == FULL else bb + lo * (1 << r)
            r |= 256 if c == full - 1 else 0
        words += [int(b[c]), *(int(v) for v in ww[c]), m, bb, r]
        if c % 4 == 3 and c < full:
            words += [_splat(lo), _splat(hi)][:mode]
    return np.asarray(words, dtype=np.int64)
