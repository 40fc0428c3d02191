"""Kernel-level harness: every public int8 conv / depthwise / FC kernel entry point called directly.

Randomized shapes and quantization (seeded; ``MICROAOT_HARNESS_SEED`` picks another draw), packed exactly as
the lowerings pack them (ops ``_pack`` / ``_dw_pair``), no model compiled. One firmware image
(tests/c/kernel_harness.c + the generated cases) runs every case on QEMU mps2-an386 (arm-none-eabi-gcc -O2,
the Cortex-M4 asm paths) and the same source on the host (the portable C paths); for each variant it reports
its status, how many output bytes differ from the generic kernel's (uaot_conv2d_s8,
uaot_depthwise_conv2d_s8, uaot_fully_connected_s8), bytes written past the output or past its
``*_scratch_size()``, and (built with -DUAOT_CHECKS) that one byte less of scratch returns UAOT_ERR_SCRATCH
before any output is written.

Entry points covered (``ENTRY_POINTS``): the gemm c1/c2/c3 with int8 and w16 weights and c3_wx, the x16
s32/s64/s128 with and without w16 (incl. the 12-group w16 loops), depthwise simd4, 3x3 pair (fast and
exact requantization, clamped ranges, strips), plane and line (Kx1 / 1xK, any multiplier, odd channels), the
1-input-channel conv (conv1ch), FC simd4 / simd4_w16 / simd4_x8 / simd4_x8_w16, the in-place row driver
uaot_conv_s8_rows (both directions) and the three generic kernels.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from microaot.ir.quant import quantize_multiplier
from microaot.ops._conv1ch import pack_conv1ch
from microaot.ops._dw_pair import pack_dw_pair
from microaot.ops._dw_plane import pack_dw_plane
from microaot.ops._dw_small import line_pairs, pack_dw_line
from microaot.ops._geometry import ConvGeometry
from microaot.ops._inplace import rows_deltas
from microaot.ops._pack import (
    fast_requant_ok,
    gemm_k_order,
    gemm_rq_bias,
    pack_depthwise_simd4,
    pack_row_blocks,
    rq_table,
)
from microaot.paths import crt_root
from microaot.planner.plan import ALIGN, align_down, align_up

HERE = Path(__file__).parent
ARM_CC = "arm-none-eabi-gcc"
QEMU = "qemu-system-arm"
M4 = ["-mthumb", "-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-DUAOT_CHECKS"]
KERNELS = ("conv", "conv_fast", "conv1ch", "conv_rows", "dw_fast", "dw_plane", "dw_small", "fc_fast",
           "fully_connected")
UAOT_ERR_SCRATCH = 7
SEED = int(os.environ.get("MICROAOT_HARNESS_SEED", "16"))

GEMM = [f"uaot_conv2d_s8_gemm_c{c}{w}" for c in (1, 2, 3) for w in ("", "_w16")] + ["uaot_conv2d_s8_gemm_c3_wx"]
X16 = [f"uaot_conv2d_s8_x16_s{s}{w}" for s in (32, 64, 128) for w in ("", "_w16")]
FC = [f"uaot_fully_connected_s8_simd4{x}{w}" for x in ("", "_x8") for w in ("", "_w16")]
ENTRY_POINTS = [*GEMM, *X16, "uaot_depthwise_conv2d_s8_simd4", "uaot_dw3x3_s8_pair", "uaot_dw_plane_s8",
                "uaot_dw_line_s8", "uaot_conv1ch_s8", *FC, "uaot_conv_s8_rows"]


# ---- cases ----------------------------------------------------------------------------------------------

@dataclass
class Variant:
    name: str  # the entry point (for rows: "uaot_conv_s8_rows:<inner>:<reverse>")
    kind: int  # V_CONV 0, V_FC 1, V_PAIR 2, V_ROWS 3, V_C1 4 (kernel_harness.c)
    fn: str  # the C function called (rows: the kernel it drives)
    params: dict[str, Any]  # the variant's parameter struct (arrays as numpy)
    weights: np.ndarray
    scratch: int
    cols: int = 0
    fast: int = 0
    mode: int = 0  # 1 / 2: in place, the planner's rows_fwd / rows_bwd placement (in_off, out_off)
    in_off: int = 0
    out_off: int = 0


@dataclass
class Case:
    kind: int  # K_CONV 0, K_DW 1, K_FC 2
    params: dict[str, Any]  # the generic kernel's parameter struct
    inp: np.ndarray
    weights: np.ndarray  # the generic kernel's filter (OHWI, [1, kh, kw, C] or [out, in])
    out_bytes: int
    what: str
    variants: list[Variant] = field(default_factory=list)


def _out_size(padding: str, n: int, k: int, s: int, d: int) -> int:
    eff = (k - 1) * d + 1
    return (n + s - 1) // s if padding == "SAME" else (n + s - eff) // s


def _pad(n: int, k: int, s: int, d: int, o: int) -> int:
    return max((o - 1) * s + (k - 1) * d + 1 - n, 0) // 2


def _weights(rng: np.random.Generator, oc: int, k: int, mode: str) -> np.ndarray:
    """[oc, k] int8 rows; mode "dead" / "wild": dead channels (a constant pair among them), near-dead and
    full-scale rows."""
    rows = rng.integers(-127, 128, (oc, k)).astype(np.int64)
    if mode != "normal":
        for c in range(oc):
            r = rng.random()
            if r < 0.15:
                rows[c] = 0
            elif r < 0.25:
                rows[c] = rng.integers(-1, 2, k)
            elif r < 0.3:
                rows[c] = rng.choice([-127, 127], k)
        if oc >= 2 and rng.random() < 0.7:
            p = 2 * int(rng.integers(0, oc // 2))
            rows[p:p + 2] = 0
    return rows


@dataclass
class Quant:
    zp_in: int
    zp_out: int
    lo: int
    hi: int
    fb: np.ndarray  # folded bias
    mults: list[int]
    shifts: list[int]


def _quant(rng: np.random.Generator, rows: np.ndarray, mode: str, full: bool) -> Quant:
    """Per-channel multipliers around the one that spreads the outputs over the int8 range. mode "dead": also
    zero multipliers (constant channels), still in the SMMULR form; "wild": also tiny (shift < -22) and large
    (shift >= 0) multipliers and +-2^28 biases (the exact requantization path). full: act range -128..127, else
    a random (RELU-like or arbitrary) sub-range."""
    oc, k = rows.shape
    zp_in = int(rng.integers(-128, 128))
    zp_out = int(rng.integers(-100, 101))
    typical = 40.0 / (np.sqrt(max(k, 1)) * 74.0 * 73.0)
    bias = rng.integers(-(1 << 14), 1 << 14, oc).astype(np.int64)
    mults, shifts = [], []
    for c in range(oc):
        real = typical * 2.0 ** rng.uniform(-1.5, 1.5)
        r = rng.random()
        if mode != "normal" and r < 0.1:
            real = 0.0  # a zero multiplier: a constant channel
        elif mode == "wild":
            if r < 0.2:
                real = 2.0 ** -rng.uniform(22, 31)  # tiny: shift below the SMMULR form's -22
            elif r < 0.3:
                real = rng.uniform(0.5, 3.0)  # >= 1/2 .. > 1: shift >= 0, saturating outputs
            elif r < 0.35:
                bias[c] = int(rng.choice([-1, 1])) * (1 << 28)  # MobileNet-like pruned-channel bias
        m, s = quantize_multiplier(real) if real > 0 else (0, 0)
        mults.append(int(m))
        shifts.append(int(s))
    fb = bias + (-zp_in) * rows.sum(axis=1)
    r = rng.random()
    lo, hi = (-128, 127) if full else ((max(zp_out, -128), 127) if r < 0.5 else
                                       tuple(sorted(int(v) for v in rng.integers(-128, 128, 2))))
    return Quant(zp_in, zp_out, int(lo), int(hi), fb.astype(np.int64), mults, shifts)


def _mode(rng: np.random.Generator, fused: bool) -> tuple[str, bool]:
    """(quantization mode, full act range); fused: what the fused requantizing asm paths need (rq, full range)."""
    if fused:
        return str(rng.choice(["normal", "dead"])), True
    return str(rng.choice(["normal", "dead", "wild"], p=[0.3, 0.3, 0.4])), bool(rng.random() < 0.5)


def _conv_case(rng: np.random.Generator, depthwise: bool, flavor: str, fused: bool, pick: int) -> Case | None:
    batches = 1
    dh = dw = 1
    mult = 1
    pad = str(rng.choice(["SAME", "VALID"]))
    if flavor == "plane":  # depthwise with a multiplier (KWS: 1 channel x 8, 10x8 stride 2), Kx1 / 1xK, odd C
        ic, mult = int(rng.choice([1, 1, 2, 3, 5])), int(rng.choice([1, 2, 3, 4, 8]))
        kh, kw = [(10, 8), (3, 1), (1, 3), (5, 1), (1, 5), (9, 1), (3, 3), (4, 2), (2, 5)][pick % 9]
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        if rng.random() < 0.2:
            dh, dw = (int(rng.integers(1, 3)), 1) if kw > 1 else (1, int(rng.integers(1, 3)))
        ih, iw = int(rng.integers(1, 14)), int(rng.integers(1, 11))
        batches = int(rng.choice([1, 1, 2]))
        oc = ic * mult
    elif flavor == "line":  # Kx1 / 1xK: every asm K (2, 3, 4, 5, 7, 9, 10) and others, multipliers, odd channels
        kh, kw = [(3, 1), (1, 3), (9, 1), (1, 5), (10, 1), (1, 2), (4, 1), (1, 7), (6, 1), (1, 1), (5, 1),
                  (1, 9)][pick % 12]
        ic = int(rng.choice([4, 8, 5, 12, 3, 16, 1]))
        mult = int(rng.choice([1, 1, 1, 2, 3, 4]))
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        if rng.random() < 0.2:
            dh, dw = (int(rng.integers(1, 3)), 1) if kh > 1 else (1, int(rng.integers(1, 3)))
        ih, iw = int(rng.integers(1, 16)), int(rng.integers(1, 9))
        if kh == 1:
            ih, iw = iw, ih
        batches = int(rng.choice([1, 1, 2]))
        oc = ic * mult
    elif flavor == "conv1ch":  # one input channel: 3x3 (the register-patch path) or other kernels, any out_c
        ic = 1
        kh, kw = [(3, 3), (10, 4), (3, 3), (5, 5), (3, 3), (2, 3), (3, 3), (1, 1), (3, 3), (7, 1)][pick % 10]
        oc = int(rng.choice([1, 3, 4, 7, 8, 12, 16, 28]))
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        if rng.random() < 0.3:
            dh, dw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        ih, iw = int(rng.integers(1, 14)), int(rng.integers(1, 11))
        batches = int(rng.choice([1, 1, 2]))
    elif flavor == "x16":
        ic, sw = [(16, 1), (8, 2), (4, 4), (32, 1), (16, 2), (64, 1), (32, 2), (16, 4)][pick % 8]
        kw = int(rng.choice([k for k in (1, 2, 3, 4) if (k * ic) % 16 == 0]))
        kh, sh = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        oc = int(rng.integers(1, 13))
        ih = int(rng.integers(kh, kh + 4))
        ow_target = int(rng.integers(3, 9))
        iw = (ow_target - 1) * sw + kw
    elif flavor == "x12":  # 3x3 over 16 channels: 36 groups, the 12-group w16 loops
        ic, kh, kw, sh, sw = 16, 3, 3, 1, int(rng.choice([1, 2]))
        oc = int(rng.integers(2, 9))
        ih, iw = int(rng.integers(3, 7)), int(rng.integers(4, 10))
    elif flavor == "pointwise":
        ic, kh, kw, sh, sw = int(rng.choice([4, 8, 12, 16, 3])), 1, 1, 1, 1
        oc = int(rng.integers(1, 17))
        ih, iw = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        batches = int(rng.integers(1, 3))
    elif flavor in ("pair", "pair_any"):  # pair_any: C % 4 != 0 (padded groups) and the clamped asm loops
        ic = (int(rng.choice([4, 8, 12, 16, 24])) if flavor == "pair" else
              [3, 8, 5, 12, 6, 16, 7, 1, 10, 2, 27, 13][pick % 12])
        kh, kw = 3, 3
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        oc = ic
        ih, iw = int(rng.integers(1, 9)), int(rng.integers(1, 12))
    else:
        ic = int(rng.choice([1, 2, 3, 4, 5, 6, 8, 12, 16]))
        oc = ic if depthwise else int(rng.integers(1, 21))
        kh, kw = int(rng.choice([1, 2, 3, 3, 5])), int(rng.choice([1, 2, 3, 3, 4]))
        sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        if rng.random() < 0.25:
            dh, dw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        ih, iw = int(rng.integers(1, 11)), int(rng.integers(1, 11))
        batches = int(rng.choice([1, 1, 1, 2]))
    if depthwise:
        oc = ic * mult
    oh, ow = _out_size(pad, ih, kh, sh, dh), _out_size(pad, iw, kw, sw, dw)
    if oh <= 0 or ow <= 0:
        return None
    k = kh * kw * (1 if depthwise else ic)
    mode, full = _mode(rng, fused)
    if flavor == "pair_any" and not fused:
        mode, full = "normal", False  # a clamped range on the rq table: the packed-store asm
    rows = _weights(rng, oc, k, mode)  # [oc, k]: OHWI rows, or the depthwise taps of each channel
    q = _quant(rng, rows, mode, full)
    if depthwise:
        wref = rows.T.reshape(1, kh, kw, oc)
    else:
        wref = rows.reshape(oc, kh, kw, ic)
    geo = {"batches": batches, "in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow, "out_c": oc,
           "k_h": kh, "k_w": kw, "stride_h": sh, "stride_w": sw, "dil_h": dh, "dil_w": dw,
           "pad_top": _pad(ih, kh, sh, dh, oh), "pad_left": _pad(iw, kw, sw, dw, ow), "depth_mult": mult,
           "input_offset": -q.zp_in, "output_offset": q.zp_out, "act_min": q.lo, "act_max": q.hi}
    base = {**geo, "bias": q.fb, "mult": np.array(q.mults), "shift": np.array(q.shifts), "rq": None}
    inp = rng.integers(-128, 128, (batches, ih, iw, ic)).astype(np.int8)
    what = (f"{'DEPTHWISE_CONV_2D' if depthwise else 'CONV_2D'} {flavor} in {inp.shape} k {kh}x{kw} s {sh},{sw} "
            f"d {dh},{dw} {pad} out_c {oc} act [{q.lo}, {q.hi}] {mode}")
    case = Case(1 if depthwise else 0, base, inp, wref, batches * oh * ow * oc, what)
    use_rq = fast_requant_ok(q.fb, rows, q.mults, q.shifts)
    rqp = ({"mult": None, "shift": None, "rq": rq_table(q.mults, q.shifts, q.zp_out, q.fb, rows)} if use_rq else
           {"mult": np.array(q.mults), "shift": np.array(q.shifts), "rq": None})
    sizes = _Sizes(geo)
    if (depthwise or ic == 1) and (dw if (kw > 1 or kh == 1) else dh) == 1:  # plane: dilation 1 along the pairs
        m = mult if depthwise else oc
        cg = ConvGeometry(batches, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, geo["pad_top"], geo["pad_left"], m,
                          pad, depthwise)
        case.variants.append(Variant("uaot_dw_plane_s8", 0, "uaot_dw_plane_s8", {**geo, "depth_mult": m,
                                                                                "bias": q.fb, **rqp},
                                     pack_dw_plane(cg, rows.reshape(oc, kh, kw)), sizes.plane()))
    if depthwise and (kh == 1 or kw == 1):  # line: the rq rows in its stream (p->rq only says fast)
        fast = fast_requant_ok(q.fb, rows, q.mults, q.shifts)
        lk, ld, ls = (kh, dh, sh) if kw == 1 and kh > 1 else (kw, dw, sw)
        stream = pack_dw_line(rows.T, q.fb, q.mults, q.shifts, q.zp_out, fast, line_pairs(lk, ld, ls))
        lq = ({"mult": None, "shift": None, "rq": stream} if fast else
              {"mult": np.array(q.mults), "shift": np.array(q.shifts), "rq": None})
        case.variants.append(Variant("uaot_dw_line_s8", 0, "uaot_dw_line_s8", {**geo, "bias": None, **lq}, stream,
                                     sizes.line()))
        if batches == 1:  # the in-place row driver over it: narrowed calls (out_h = 1, fewer positions for Kx1),
            # given the scratch of a narrowed call (never more than the whole call's, which the planner asks for)
            narrow = _Sizes({**geo, "out_h": 1}).line()
            assert narrow <= sizes.line()
            mode = 1 + int(rng.integers(2))
            case.variants.append(Variant(f"uaot_conv_s8_rows:uaot_dw_line_s8:mode={mode}", 3, "uaot_dw_line_s8",
                                         {**geo, "bias": None, **lq}, stream, narrow, 0, 0, mode,
                                         *_placement(geo, mode)))
    if not depthwise and ic == 1:  # conv1ch: the 3x3 register path or the generic one, fast stream or not
        fast = fast_requant_ok(q.fb, rows, q.mults, q.shifts)
        cg = ConvGeometry(batches, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, geo["pad_top"], geo["pad_left"], 1,
                          pad, False)
        stream = pack_conv1ch(cg, rows, q.fb, q.mults, q.shifts, q.zp_out, fast, q.lo, q.hi)
        case.variants.append(Variant("uaot_conv1ch_s8", 4, "uaot_conv1ch_s8",
                                     {**geo, "bias": None, "rq": None, **({"mult": None, "shift": None} if fast else
                                      {"mult": np.array(q.mults), "shift": np.array(q.shifts)})},
                                     stream.astype(np.int32), sizes.conv1ch(), fast=int(fast)))
    if depthwise and mult > 1:
        return case
    if depthwise:
        case.variants.append(Variant("uaot_depthwise_conv2d_s8_simd4", 0, "uaot_depthwise_conv2d_s8_simd4",
                                     {**geo, "bias": q.fb, **rqp}, pack_depthwise_simd4(rows.T),
                                     sizes.simd4()))
        if kh == 3 and kw == 3 and dh == 1 and dw == 1:
            fast = fast_requant_ok(q.fb, rows, q.mults, q.shifts)
            stream = pack_dw_pair(rows.T, q.fb, q.mults, q.shifts, q.zp_out, fast, q.lo, q.hi)
            pp = {**geo, "bias": None, "rq": None, **({"mult": None, "shift": None} if fast else
                                                       {"mult": np.array(q.mults), "shift": np.array(q.shifts)})}
            for cols in sorted({ow, int(rng.choice([1, 2, 4, 8, 16]))}):
                case.variants.append(Variant(f"uaot_dw3x3_s8_pair:cols={cols}", 2, "uaot_dw3x3_s8_pair", pp,
                                             stream.astype(np.int32), sizes.pair(cols), cols, int(fast)))
            if batches == 1:  # in place, both placements (the strips re-expand their rows then)
                for mode in (1, 2):
                    cols = int(rng.choice([1, 2, 4, ow]))
                    case.variants.append(Variant(f"uaot_dw3x3_s8_pair:cols={cols}:mode={mode}", 2,
                                                 "uaot_dw3x3_s8_pair", pp,
                                                 stream.astype(np.int32), sizes.pair(cols), cols, int(fast), mode,
                                                 *_placement(geo, mode)))
        return case
    gp = {**geo, "bias": gemm_rq_bias(q.fb, rows, q.mults) if use_rq else q.fb, **rqp}
    order = gemm_k_order(kh, kw * ic)
    packed = {w16: pack_row_blocks(rows[:, order], 2, w16) for w16 in (False, True)}
    for name in GEMM:
        w16 = name.endswith("_w16")
        case.variants.append(Variant(name, 0, name, gp, packed[w16], sizes.gemm(name)))
    step = sw * ic * 2
    if (ic % 4 == 0 and (kw * ic) % 16 == 0 and dh == 1 and dw == 1 and ow >= 3 and kh <= 16
            and step in (32, 64, 128)):
        for w16 in (False, True):
            name = f"uaot_conv2d_s8_x16_s{step}{'_w16' if w16 else ''}"
            case.variants.append(Variant(name, 0, name, gp, packed[w16], sizes.x16()))
    if batches == 1:  # the row driver, in place: every output row a narrowed call of a variant
        inner = [v for v in case.variants if v.name in ("uaot_conv2d_s8_gemm_c3", "uaot_conv2d_s8_gemm_c1_w16")
                 or v.name.startswith("uaot_conv2d_s8_x16")]
        v = inner[int(rng.integers(len(inner)))]
        mode = 1 + int(rng.integers(2))
        case.variants.append(Variant(f"uaot_conv_s8_rows:{v.name}:mode={mode}", 3, v.fn, gp, v.weights, v.scratch, 0, 0,
                                     mode, *_placement(geo, mode)))
    return case


def _placement(g: dict[str, Any], mode: int) -> tuple[int, int]:
    """(input offset, output offset) of the planner's rows_fwd (mode 1) / rows_bwd (mode 2) placement, as
    ``_inplace.conv_rows_inplace`` computes it (the closest legal distance, aligned)."""
    fwd, bwd = rows_deltas(g["in_h"], g["in_w"] * g["in_c"], g["out_h"], g["out_w"] * g["out_c"], g["k_h"],
                           g["stride_h"], g["dil_h"], g["pad_top"])
    if mode == 1:
        return align_up(max(fwd, 0), ALIGN), 0
    delta = align_down(min(bwd, 0), ALIGN)
    return 0, -delta


class _Sizes:
    """The scratch each entry point asks for (conv_fast.h / dw_fast.h), computed independently here; the
    harness's overrun guard and its one-byte-short check test the C side against it."""

    def __init__(self, g: dict[str, Any]) -> None:
        self.g = g

    def _kp(self) -> int:
        return (self.g["k_h"] * self.g["k_w"] * self.g["in_c"] + 3) // 4 * 4

    def gemm(self, name: str) -> int:
        kp = self._kp()
        gather = kp if self.g["in_c"] % 4 else 0
        cols = int(re.search(r"_c(\d)", name)[1])  # type: ignore[index]
        n = (6 if cols == 3 else 4) * kp + gather
        return n + (2 * self.g["out_c"] * kp if name.endswith("_wx") else 0)

    def x16(self) -> int:
        g = self.g
        pw = (g["out_w"] - 1) * g["stride_w"] + g["k_w"]
        return 2 * g["k_h"] * pw * g["in_c"] + 4 * g["k_h"] * g["k_w"] * g["in_c"]

    def simd4(self) -> int:
        g = self.g
        pw = (g["out_w"] - 1) * g["stride_w"] + (g["k_w"] - 1) * g["dil_w"] + 1
        return 4 * g["in_c"] + (g["k_h"] * pw * g["in_c"] + 3) // 4 * 4

    def plane(self) -> int:
        g = self.g
        t = g["k_w"] == 1 and g["k_h"] > 1  # Kx1: the plane read transposed
        ko, ki, dil_o = (g["k_w"], g["k_h"], g["dil_w"]) if t else (g["k_h"], g["k_w"], g["dil_h"])
        oi, si = (g["out_h"], g["stride_h"]) if t else (g["out_w"], g["stride_w"])
        kip = (ki + 1) // 2 * 2
        eo = (ko - 1) * dil_o + 1
        w = ((oi + 3) // 4 * 4 - 1) * si + kip  # the output line rounded up to 4 pixels
        m = g["out_c"] // g["in_c"]  # the kernel's M (a CONV_2D with one input channel: out_c)
        acc = (oi + 3) // 4 * 4 if m == 1 else (m + 1) // 2 * 2 * ((oi + 1) // 2 * 2)  # an output line's int32 sums
        return 4 * eo + 4 * acc + 2 * eo * min(g["in_c"], 4) * ((w + 1) // 2 * 2)  # min(C, 4) channels at once

    def line(self) -> int:
        g = self.g
        v = g["k_w"] == 1 and g["k_h"] > 1  # Kx1: the tap axis is the height
        k, st, d, o = (g["k_h"], g["stride_h"], g["dil_h"], g["out_h"]) if v else (g["k_w"], g["stride_w"], g["dil_w"],
                                                                                    g["out_w"])
        one = (16 if line_pairs(k, d, st) else 8) * ((o - 1) * st + (k - 1) * d + 1)
        return min(one * ((g["out_c"] + 3) // 4), max(2048, one)) + (4 * o if g["out_c"] < 4 else 0)
    def conv1ch(self) -> int:
        g = self.g
        eo = (g["k_h"] - 1) * g["dil_h"] + 1
        ls = (g["out_w"] - 1) * g["stride_w"] + (g["k_w"] - 1) * g["dil_w"] + 2
        ls = (ls + 1) // 2 * 2
        kp = g["k_h"] * (g["k_w"] // 2) + (g["k_h"] * (g["k_w"] % 2) + 1) // 2
        return 4 * eo * ls + 8 * kp + 4 * ((kp + 3) // 4 * 4) + 4 + (g["out_c"] + 3) // 4 * 4

    def pair(self, cols: int) -> int:
        c = self.g["in_c"]
        cp = (c + 3) // 4 * 4  # UAOT_DW_PAIR_CP; C % 4 != 0: Cp more bytes
        return 18 * cp * min(cols, self.g["out_w"]) + cp * (2 if c % 4 else 1)


def _fc_case(rng: np.random.Generator, fused: bool, n_in: int = 0, n_out: int = 0) -> Case:
    n_in = n_in or int(rng.choice([1, 2, 3, 4, 7, 8, 16, 33, 64, 100, 250]))
    n_out = n_out or int(rng.integers(1, 30))
    batches = int(rng.choice([1, 1, 2, 3]))
    mode, full = _mode(rng, fused)
    rows = _weights(rng, n_out, n_in, mode)
    q = _quant(rng, rows, mode, full)
    per_channel = rng.random() < 0.5
    if not per_channel:
        q.mults, q.shifts = [q.mults[0]] * n_out, [q.shifts[0]] * n_out
    dims = {"batches": batches, "in_features": n_in, "out_features": n_out, "output_offset": q.zp_out,
            "act_min": q.lo, "act_max": q.hi, "bias": q.fb}
    if per_channel:
        dims.update(mult=0, shift=0, mult_pc=np.array(q.mults), shift_pc=np.array(q.shifts))
    else:
        dims.update(mult=q.mults[0], shift=q.shifts[0], mult_pc=None, shift_pc=None)
    inp = rng.integers(-128, 128, (batches, n_in)).astype(np.int8)
    what = (f"FULLY_CONNECTED in {inp.shape} out {n_out} {'per-channel' if per_channel else 'per-tensor'} "
            f"act [{q.lo}, {q.hi}] {mode}")
    base = {**dims, "rq": None}
    case = Case(2, base, inp, rows, batches * n_out, what)
    rq = rq_table(q.mults, q.shifts, q.zp_out, q.fb, rows) if fast_requant_ok(q.fb, rows, q.mults, q.shifts) else None
    for name in FC:
        x8 = "_x8" in name
        case.variants.append(Variant(name, 1, name, {**dims, "rq": rq}, pack_row_blocks(rows, 4, name.endswith("_w16")),
                                     0 if x8 else 2 * ((n_in + 3) // 4 * 4)))
    return case


def make_cases(seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    plan = ([(False, "random", 24), (False, "x16", 16), (False, "x12", 4), (False, "pointwise", 6),
             (True, "random", 14), (True, "pair", 14), (True, "plane", 18), (True, "line", 14)])
    cases: list[Case] = []
    for dw, flavor, n in plan:
        for i in range(n):  # every other case fit for the fused asm (rq table, full range)
            c = None
            while c is None:
                c = _conv_case(rng, dw, flavor, fused=i % 2 == 0 or (flavor == "x16" and i < 8), pick=i)
            cases.append(c)
    cases += [_fc_case(rng, fused=i % 2 == 0) for i in range(18)]
    # 1-3 rows (a 2-class head: the two-row asm tails, int8 and int16 weights), full groups and a partial one
    cases += [_fc_case(rng, fused=True, n_in=256, n_out=2), _fc_case(rng, fused=False, n_in=35, n_out=3)]
    # the fused x8 w16 loop enters its 8-group iteration at groups % 8: 3, 5, 6, 7 groups (+ 8)
    cases += [_fc_case(rng, fused=True, n_in=n, n_out=o) for n, o in ((12, 4), (52, 8), (24, 5), (28, 12))]
    for i in range(10):  # CONV_2D with one input channel (conv1ch), drawn last: the other cases keep their draws
        c = None
        while c is None:
            c = _conv_case(rng, False, "conv1ch", fused=i % 2 == 0, pick=i)
        cases.append(c)
    for i in range(12):  # depthwise 3x3 pair: any C, clamped ranges (drawn last, as conv1ch)
        c = None
        while c is None:
            c = _conv_case(rng, True, "pair_any", fused=i % 2 == 0, pick=i)
        cases.append(c)
    return cases


# ---- C emission -----------------------------------------------------------------------------------------

class _Emitter:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.n = 0

    def array(self, ctype: str, data: np.ndarray) -> str:
        name = f"a{self.n}"
        self.n += 1
        vals = [str(int(v)) for v in np.asarray(data).reshape(-1)] or ["0"]
        body = ",\n".join(", ".join(vals[i:i + 32]) for i in range(0, len(vals), 32))
        self.lines.append(f"static const {ctype} {name}[{len(vals)}] __attribute__((aligned(8))) = {{\n{body}\n}};")
        return name

    def params(self, ctype: str, fields: dict[str, Any]) -> str:
        name = f"p{self.n}"
        self.n += 1
        parts = []
        for k, v in fields.items():
            if v is None:
                parts.append(f".{k} = NULL")
            elif isinstance(v, np.ndarray):
                parts.append(f".{k} = {self.array('int32_t', v)}")
            else:
                parts.append(f".{k} = {int(v)}")
        self.lines.append(f"static const {ctype} {name} = {{{', '.join(parts)}}};")
        return name


def cases_header(cases: Sequence[Case]) -> str:
    e = _Emitter()
    case_rows = []
    for c in cases:
        ptype = "uaot_fc_s8_params_t" if c.kind == 2 else "uaot_conv_s8_params_t"
        p = e.params(ptype, c.params)
        inp = e.array("int8_t", c.inp)
        w = e.array("int8_t", c.weights)
        vrows = []
        for v in c.variants:
            vp = e.params("uaot_fc_s8_params_t" if v.kind == 1 else "uaot_conv_s8_params_t", v.params)
            ctype = {np.dtype(np.int8): "int8_t", np.dtype(np.int16): "int16_t", np.dtype(np.int32): "int32_t"}[
                v.weights.dtype]
            vw = e.array(ctype, v.weights)
            cf = v.fn if v.kind in (0, 3) else "NULL"
            ff = v.fn if v.kind == 1 else "NULL"
            vrows.append(f'    {{"{v.name}", {v.kind}, {cf}, {ff}, &{vp}, {vw}, {v.scratch}u, {v.cols}, {v.fast}, '
                         f'{v.mode}, {v.in_off}u, {v.out_off}u}},')
        vname = f"v{e.n}"
        e.n += 1
        e.lines.append(f"static const variant_t {vname}[{max(len(vrows), 1)}] = {{\n" + "\n".join(vrows) + "\n};")
        case_rows.append(f"    {{{c.kind}, &{p}, {inp}, {w}, {c.inp.size}u, {c.out_bytes}u, {len(c.variants)}u, "
                         f"{vname}}},")
    max_out = max(c.out_bytes for c in cases)
    max_scratch = max((v.scratch for c in cases for v in c.variants), default=0)
    max_inplace = max((max(v.in_off + c.inp.size, v.out_off + c.out_bytes) for c in cases for v in c.variants
                       if v.mode), default=16)
    return "\n".join([
        f"#define HARNESS_N_CASES {len(cases)}u", f"#define HARNESS_MAX_OUT {max_out}u",
        f"#define HARNESS_MAX_SCRATCH {max_scratch}u", f"#define HARNESS_MAX_INPLACE {max_inplace}u", *e.lines,
        f"static const hcase_t harness_cases[{len(cases)}] = {{", *case_rows, "};", ""])


# ---- build, run, check ----------------------------------------------------------------------------------

@dataclass
class Result:
    generic: dict[int, tuple[int, int]]  # case -> (status, distinct output values)
    variants: list[tuple[int, str, int, int, int, int, int]]  # case, name, status, diff, over_out, over_scr, short


def parse(out: str) -> Result:
    gen = {int(a): (int(b), int(c)) for a, b, c in re.findall(r"^c (\d+) (-?\d+) (\d+)$", out, re.M)}
    var = [(int(m[0]), m[1], *(int(x) for x in m[2:])) for m in
           re.findall(r"^v (\d+) (\S+) (-?\d+) (-?\d+) (-?\d+) (-?\d+) (-?\d+)$", out, re.M)]
    return Result(gen, var)  # type: ignore[arg-type]


def build_and_run(cases: Sequence[Case], work: Path, *, target: str, extra_cflags: Sequence[str] = (),
                  timeout: float = 120) -> str:
    work.mkdir(parents=True, exist_ok=True)
    (work / "kernel_harness_cases.h").write_text(cases_header(cases))
    crt = crt_root()
    srcs = [HERE / "c" / "kernel_harness.c", *(crt / "kernels" / f"{k}.c" for k in KERNELS)]
    inc = [f"-I{work}", f"-I{crt / 'include'}"]
    if target == "m4":
        port = crt / "ports" / "cmsdk"
        elf = work / "harness.elf"
        cmd = [ARM_CC, *M4, *CFLAGS, *extra_cflags, *inc, *map(str, srcs), str(port / "startup.c"),
               str(port / "platform_cmsdk.c"), str(crt / "src" / "platform_defaults.c"), "-ffunction-sections",
               "-fdata-sections", "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
               f"-T{port / 'mps2.ld'}", "-Wl,--gc-sections", "-o", str(elf)]
        run = ["timeout", str(int(timeout)), QEMU, "-M", "mps2-an386", "-nographic", "-semihosting", "-kernel",
               str(elf)]
    else:
        exe = work / "harness"
        cmd = ["gcc", *CFLAGS, *extra_cflags, *inc, *map(str, srcs), str(crt / "ports" / "host" / "host_port.c"),
               str(crt / "src" / "platform_defaults.c"), "-o", str(exe)]
        run = ["timeout", str(int(timeout)), str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr[-3000:]}"
    proc = subprocess.run(run, capture_output=True, text=True, check=False, timeout=timeout + 10)
    assert proc.returncode == 0 and "done" in proc.stdout, (
        f"{' '.join(run)}: exit {proc.returncode}\n{proc.stdout[-2000:]}")
    return proc.stdout


def failures(cases: Sequence[Case], res: Result) -> list[str]:
    bad = []
    for i, c in enumerate(cases):
        st, _ = res.generic.get(i, (-1, 0))
        if st != 0:
            bad.append(f"case {i} ({c.what}): generic kernel status {st}")
    expected = [(ci, v) for ci, c in enumerate(cases) for v in c.variants]
    if [(ci, v.name) for ci, v in expected] != [(r[0], r[1]) for r in res.variants]:
        return [f"{len(res.variants)} variant results for {len(expected)} variants (the run stopped early?)"]
    for (ci, v), (_, name, st, diff, over_out, over_scr, short) in zip(expected, res.variants, strict=True):
        c = cases[ci]
        if st != 0 or diff or over_out or over_scr or short not in ((-1,) if v.scratch == 0 else (UAOT_ERR_SCRATCH,)):
            bad.append(f"case {ci} ({c.what}) {name}: status {st}, {diff} of {c.out_bytes} output bytes differ from "
                       f"the generic kernel, {over_out} bytes written past the output, {over_scr} past its "
                       f"{v.scratch} B of scratch, one byte short of scratch -> {short}")
    return bad


def test_harness_cases_cover_every_entry_point() -> None:
    cases = make_cases(SEED)
    names = {v.name.split(":")[0] for c in cases for v in c.variants}
    assert names == set(ENTRY_POINTS), sorted(names ^ set(ENTRY_POINTS))
    # the asm paths the shapes must reach: 1-2 pixel tails of the 3-pixel blocks, odd channels, the x16 steps
    conv = [c for c in cases if c.kind == 0]
    assert {c.params["out_h"] * c.params["out_w"] % 3 for c in conv} == {0, 1, 2}
    assert any(c.params["out_c"] % 2 for c in conv) and any(c.params["in_c"] % 4 for c in conv)
    assert any(c.params["pad_top"] or c.params["pad_left"] for c in cases if c.kind != 2)
    assert any(c.params["act_min"] > -128 for c in cases)
    # every entry point on the fused requantizing asm (rq table, full range, >= 2 channels) and off it
    fused: dict[str, set[bool]] = {}
    for c in cases:
        for v in c.variants:
            f = ((v.fast == 1 if v.kind in (2, 4) else v.params["rq"] is not None)
                 and (v.params["act_min"], v.params["act_max"]) == (-128, 127))
            fused.setdefault(v.name.split(":")[0], set()).add(f and (c.params.get("out_c", 2) >= 2))
    assert all(s == {False, True} for s in fused.values()), fused
    # the 2-pixel blocks' fused asm also runs with act_min > -128 (its SSUB8/SEL clamp), int8 and w16 weights
    lo2 = {v.name for c in conv for v in c.variants
           if v.name.startswith("uaot_conv2d_s8_gemm_c2") and v.params["rq"] is not None
           and v.params["act_min"] > -128 and v.params["act_max"] == 127 and c.params["out_c"] >= 2
           and c.params["out_h"] * c.params["out_w"] >= 2}
    assert lo2 == {"uaot_conv2d_s8_gemm_c2", "uaot_conv2d_s8_gemm_c2_w16"}, lo2
    # in place: the pair kernel in both modes and the row driver in both directions, output over the input
    inplace = {
        (v.name.split(":")[0], v.mode)
        for c in cases
        for v in c.variants
        if v.mode and v.out_off < v.in_off + c.inp.size and v.in_off < v.out_off + c.out_bytes
    }
    assert inplace == {(n, m) for n in ("uaot_dw3x3_s8_pair", "uaot_conv_s8_rows") for m in (1, 2)}, inplace


@pytest.mark.qemu
def test_every_kernel_variant_equals_the_generic_kernel(tmp_path: Path) -> None:
    """Cortex-M4 (QEMU mps2-an386, the asm) and host (portable C): every variant bit-exact with the generic
    kernel, no write past its output or its scratch size, UAOT_ERR_SCRATCH for a short buffer."""
    if shutil.which(ARM_CC) is None or shutil.which(QEMU) is None:
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm missing")
    cases = make_cases(SEED)
    with ThreadPoolExecutor(max_workers=2) as ex:
        runs = {t: ex.submit(build_and_run, cases, tmp_path / t, target=t) for t in ("m4", "host")}
        outs = {t: f.result() for t, f in runs.items()}
    for t, out in outs.items():
        res = parse(out)
        bad = failures(cases, res)
        assert not bad, f"{t} (seed {SEED}):\n" + "\n".join(bad[:15])
        # the cases are not degenerate: most generic outputs take many values
        spread = [n for _, n in res.generic.values()]
        assert sum(n >= 8 for n in spread) >= len(spread) // 2, spread
