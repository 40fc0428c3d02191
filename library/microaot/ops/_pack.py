"""Weight layouts of the fast kernel variants (crt/include/microaot/kernels/conv_fast.h, fc_fast.h).

SXTB16 lane order: an int8 word (w0, w1, w2, w3) is used as the int16 pairs (w0, w2) and (w1, w3);
the ``w16`` layouts store those pairs directly (int16 [w0, w2, w1, w3] per group of 4).
"""

from __future__ import annotations

import numpy as np

from microaot.ops._tflm_math import mbqm

SXTB16_ORDER = [0, 2, 1, 3]


def pad_k(rows: np.ndarray) -> np.ndarray:
    """[n, K] -> [n, Kp] with zero columns, Kp = K rounded up to 4."""
    n, k = rows.shape
    kp = (k + 3) // 4 * 4
    out = np.zeros((n, kp), dtype=np.int64)
    out[:, :k] = rows
    return out


def _words(rows: np.ndarray, w16: bool) -> np.ndarray:
    """[r, Kp] -> [G, r, 4] (int8 words of each row per group), or int16 in SXTB16 order."""
    r, kp = rows.shape
    g = rows.reshape(r, kp // 4, 4).transpose(1, 0, 2)
    if w16:
        g = g[:, :, SXTB16_ORDER]
    return g


def pack_row_blocks(rows: np.ndarray, block: int, w16: bool) -> np.ndarray:
    """Rows [n, K] -> flat array: blocks of ``block`` rows interleaved per group of 4, then the
    remaining rows one after the other (int8, or int16 when w16)."""
    rows = pad_k(rows)
    n = rows.shape[0]
    parts = []
    full = n - n % block
    for r in range(0, full, block):
        parts.append(_words(rows[r:r + block], w16).reshape(-1))
    for r in range(full, n):
        parts.append(_words(rows[r:r + 1], w16).reshape(-1))
    flat = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return flat.astype(np.int16 if w16 else np.int8)


def gemm_k_order(k_h: int, run: int) -> np.ndarray:
    """The K order of the conv gemm's packed weights (crt/kernels/conv_fast.c uaot_expand_rows): K = k_h
    kernel rows of ``run`` = k_w * in_c bytes; the q = run // 4 whole groups of every row, row by row,
    then the r = run % 4 bytes left of every row, row by row (k_h * r bytes, zero padded to a group by
    pad_k). Still ceil(K / 4) groups; the identity when run % 4 == 0 (in_c % 4 == 0 in particular)."""
    q4 = run // 4 * 4
    rows = np.arange(k_h * run).reshape(k_h, run)
    return np.concatenate([rows[:, :q4].reshape(-1), rows[:, q4:].reshape(-1)])


def pack_depthwise_simd4(taps_by_channel: np.ndarray) -> np.ndarray:
    """Depthwise filter [taps, C] -> int16 [G, taps, 4] in SXTB16 order, zero channels up to 4G."""
    taps, c = taps_by_channel.shape
    g = (c + 3) // 4
    w = np.zeros((taps, 4 * g), dtype=np.int64)
    w[:, :c] = taps_by_channel
    out = w.reshape(taps, g, 4).transpose(1, 0, 2)[:, :, SXTB16_ORDER]
    return out.reshape(-1).astype(np.int16)


def fast_requant_ok(folded_bias: np.ndarray, rows: np.ndarray, mults: list[int], shifts: list[int]) -> bool:
    """The precondition of ``uaot_rq_smmulr`` (crt/include/microaot/simd.h) for every channel that is not
    constant (``_constant``; ``rq_table`` gives those their output directly): m > 0, -22 <= shift <= -1,
    and |acc| * 2^(max(shift, 0) + 1) < 2^31 where
    |acc| <= |folded bias| + 128 * sum|w| bounds the accumulator over all int8 inputs. (r = -shift <= 22
    keeps y + 2^(r-1) + output_offset * 2^r inside int32 for |y| < 2^30.)"""
    bound = np.abs(np.asarray(folded_bias, dtype=np.int64)) + 128 * np.abs(rows.astype(np.int64)).sum(axis=1)
    for c, (m, s) in enumerate(zip(mults, shifts, strict=True)):
        if _constant(m, rows[c]):
            continue
        if m < 0 or not -22 <= s <= -1 or int(bound[c]) * (1 << (max(s, 0) + 1)) >= 2**31:
            return False
    return True


def _constant(m: int, row: np.ndarray) -> bool:
    """A channel whose output does not depend on the input: zero multiplier or all-zero weights (pruned
    channels: MobileNet's carry a bias near +-2^30 and a shift below -22, outside the SMMULR form)."""
    return m == 0 or not np.any(row)


def rq_table(
    mults: list[int], shifts: list[int], output_offset: int, folded_bias: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """{mult, l1, r, bias} per channel for uaot_rq_smmulr: l1 = max(shift, 0) + 1, r = -shift,
    bias = 2^(r-1) + output_offset * 2^r, so that (y + bias + (y >> 31)) >> r is the requantized value
    plus the output offset. A constant channel (zero multiplier or all-zero weights: the accumulator is
    its folded bias) outputs q = TFLM's requantized bias (saturated to int8, the kernels clamp it further):
    m = 0, l1 = 0, r = 1, bias = 1 + 2q, so y = 0 and (1 + 2q + 0 or -1) >> 1 = q. (r >= 1 on every row:
    the conv gemm asm may round with the sign of x instead of y, which differ only when y = 0.)
    Multipliers are positive (``fast_requant_ok``)."""
    out = []
    for c, (m, s) in enumerate(zip(mults, shifts, strict=True)):
        if _constant(m, rows[c]):
            q = min(max(mbqm(int(folded_bias[c]), m, s) + output_offset, -128), 127)
            out += [0, 0, 1, 1 + 2 * q]
            continue
        r = -s
        out += [m, max(s, 0) + 1, r, (1 << (r - 1)) + output_offset * (1 << r)]
    return np.asarray(out, dtype=np.int64)


def gemm_rq_bias(folded_bias: np.ndarray, rows: np.ndarray, mults: list[int]) -> np.ndarray:
    """The conv gemm's bias array when it requantizes with ``rq_table``: a constant channel's accumulator is
    ignored (its rq row gives the output), so its bias is 0, and INT32_MIN on the first channel of a pair
    (2i, 2i+1) of constant channels lets the cols=3 asm skip that pair's K loop (crt/kernels/conv_fast.c
    UAOT_GEMM3_RQ_LOOP). The other paths accumulate the pair as any other: a zero-multiplier channel may have
    non-zero weights, so its accumulator may run past INT32_MIN; that is defined (every accumulation wraps
    modulo 2^32: the SMLAD instructions, and simd.h's portable ones) and ignored (m = 0 in its rq row)."""
    b = np.asarray(folded_bias, dtype=np.int64).copy()
    const = [_constant(m, rows[c]) for c, m in enumerate(mults)]
    for c, k in enumerate(const):
        if k:
            b[c] = 0
    for c in range(0, len(b) - 1, 2):
        if const[c] and const[c + 1]:
            b[c] = -(2**31)
    return b
