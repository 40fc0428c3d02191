"""Weight layouts of the fast kernel variants (crt/include/microaot/kernels/conv_fast.h, fc_fast.h).

SXTB16 lane order: an int8 word (w0, w1, w2, w3) is used as the int16 pairs (w0, w2) and (w1, w3);
the ``w16`` layouts store those pairs directly (int16 [w0, w2, w1, w3] per group of 4).
"""

from __future__ import annotations

import numpy as np

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


def pack_depthwise_simd4(taps_by_channel: np.ndarray) -> np.ndarray:
    """Depthwise filter [taps, C] -> int16 [G, taps, 4] in SXTB16 order, zero channels up to 4G."""
    taps, c = taps_by_channel.shape
    g = (c + 3) // 4
    w = np.zeros((taps, 4 * g), dtype=np.int64)
    w[:, :c] = taps_by_channel
    out = w.reshape(taps, g, 4).transpose(1, 0, 2)[:, :, SXTB16_ORDER]
    return out.reshape(-1).astype(np.int16)
