"""bench section ``layers``: instructions per MAC of every int8 layer class on generated single-layer models.

Each case is a one-operator model built by ``microaot.testing.modelgen`` (random weights and quantization from
a fixed seed), compiled with the default cortex-m4 schedules, run on QEMU mps2-an386 (-icount) on the seed-0
input (``microaot.testing.m4run.measure``: outputs bit-exact with TFLM and the operator's output equal to the
generic-C build's), and run through CMSIS-NN as TFLM's CMSIS-NN port calls it (``cmsis_m4.measure``) where
CMSIS-NN has a kernel for it, its output hash checked against microaot's. The operator's count is the PROFILE
count of op 0 (the op hooks' ~30 instructions included). The shapes are those of keyword-spotting models
(MFCC 49x10x1 input, depthwise with multiplier 8 and 10x8 kernels, Kx1 / 1xK depthwise, pointwise, FC at
batch 1) plus odd channel counts, so that no class is measured on a friendly shape only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from microaot.testing import modelgen
from microaot.testing.m4run import measure as m4_measure

TARGET_INSTR_PER_MAC = 1.6  # issue 21: every int8 layer class <= 1.6 instr/MAC in the default build
TARGET_CMSIS_SLACK = 0.05  # no layer where CMSIS-NN is faster by more than 5 %


@dataclass(frozen=True)
class Layer:
    name: str
    cls: str  # the class the target is stated for
    build: Callable[[np.random.Generator], bytes]
    macs_target: bool = True  # False: a layer whose target is "not slower than CMSIS-NN" only (tiny FC, softmax)
    # a 1-D depthwise (the line kernel): its taps and the same layer with a 2-tap kernel, whose instructions per output
    # minus its 2 taps give the measured requantization cost per output and so the layer's floor (``requant_floor``)
    taps: int = 0
    probe: Callable[[np.random.Generator], bytes] | None = None


# the line kernel's multiply-accumulate floor: 2 MACs per instruction (SMLAD), the requantization excluded
MAC_FLOOR = 0.5
# TFLM's per-output requantization in the line kernel (crt/kernels/dw_small.c, counted in its asm, RELU with an output
# zero point above -128): per output LDM of the rq row, SMMLAR, ASR, SSAT (4), per 4 outputs the bias LDM, 3 BFI,
# LDR + SSUB8 + SEL (the act_min clamp) and one STR (8): 4 + 8 / 4 = 6 (the whole int8 range: 5.25; the rounding
# sign, when act_min < the output offset: + 1)
LINE_REQUANT = 6.0
# the line kernel's MAC work in the 2-tap probe, per output: a tap = LDRD position + LDRD weights + 4 SMLA per 4
# channels (crt/kernels/dw_small.c UAOT_DWS_TAP)
PROBE_TAPS = 2 * 1.5


def _dw(shape: tuple[int, int, int, int], k: tuple[int, int], mult: int = 1, stride: tuple[int, int] = (1, 1),
        act: str = "RELU", padding: str = "SAME") -> Callable[[np.random.Generator], bytes]:
    return lambda rng: modelgen.depthwise_conv2d_model(rng, input_shape=shape, kernel=k, depth_multiplier=mult,
                                                       stride=stride, activation=act,  # type: ignore[arg-type]
                                                       padding=padding)  # type: ignore[arg-type]


def _dw_line(shape: tuple[int, int, int, int], k: tuple[int, int], mult: int = 1, stride: tuple[int, int] = (1, 1),
             act: str = "RELU") -> dict[str, Any]:
    """taps / build / probe of a 1-D depthwise layer: the probe has the same input, multiplier, stride and
    activation with a 2-tap kernel along the same axis (the smallest the line kernel's asm covers)."""
    pk = (2, 1) if k[1] == 1 else (1, 2)
    return {"taps": k[0] * k[1], "build": _dw(shape, k, mult, stride, act), "probe": _dw(shape, pk, mult, stride, act)}


def _conv(shape: tuple[int, int, int, int], filters: int, k: tuple[int, int], stride: tuple[int, int] = (1, 1),
          act: str = "RELU", padding: str = "SAME") -> Callable[[np.random.Generator], bytes]:
    return lambda rng: modelgen.conv2d_model(rng, input_shape=shape, filters=filters, kernel=k, stride=stride,
                                             activation=act, padding=padding)  # type: ignore[arg-type]


def _fc(depth: int, units: int, act: str = "NONE") -> Callable[[np.random.Generator], bytes]:
    return lambda rng: modelgen.fully_connected_model(rng, input_shape=(1, depth), units=units,
                                                      activation=act)  # type: ignore[arg-type]


def _softmax(n: int) -> Callable[[np.random.Generator], bytes]:
    def build(rng: np.random.Generator) -> bytes:
        return modelgen.unary_model(rng, op="SOFTMAX", shape=(1, n))
    return build


LAYERS: tuple[Layer, ...] = (
    Layer("dw 49x10x1 m8 k10x8 s2", "depthwise multiplier > 1", _dw((1, 49, 10, 1), (10, 8), 8, (2, 2))),
    Layer("dw 25x5x12 m4 k3x3 s1", "depthwise multiplier > 1", _dw((1, 25, 5, 12), (3, 3), 4)),
    Layer("dw 49x10x3 m2 k5x1 s1", "depthwise multiplier > 1", **_dw_line((1, 49, 10, 3), (5, 1), 2)),
    Layer("dw 25x5x17 m2 k1x5 s2", "depthwise multiplier > 1", **_dw_line((1, 25, 5, 17), (1, 5), 2, (2, 2))),
    Layer("dw 25x5x64 k3x1", "depthwise Kx1 / 1xK", **_dw_line((1, 25, 5, 64), (3, 1))),
    Layer("dw 25x5x64 k1x3", "depthwise Kx1 / 1xK", **_dw_line((1, 25, 5, 64), (1, 3))),
    Layer("dw 49x1x40 k9x1", "depthwise Kx1 / 1xK", **_dw_line((1, 49, 1, 40), (9, 1))),
    Layer("dw 25x5x30 k5x1", "depthwise Kx1 / 1xK", **_dw_line((1, 25, 5, 30), (5, 1))),
    Layer("dw 98x1x48 k10x1", "depthwise Kx1 / 1xK", **_dw_line((1, 98, 1, 48), (10, 1))),
    Layer("dw 25x5x64 k3x3", "depthwise 3x3", _dw((1, 25, 5, 64), (3, 3))),
    Layer("dw 24x24x27 k5x5 s2", "depthwise KxK", _dw((1, 24, 24, 27), (5, 5), 1, (2, 2))),
    Layer("conv 49x10x1 64 k10x4 s2", "conv 1-channel input", _conv((1, 49, 10, 1), 64, (10, 4), (2, 2))),
    Layer("conv 49x10x1 28 k3x3 s1", "conv 1-channel input", _conv((1, 49, 10, 1), 28, (3, 3))),
    Layer("conv 25x5x64 64 1x1", "pointwise", _conv((1, 25, 5, 64), 64, (1, 1))),
    Layer("conv 25x5x45 35 1x1", "pointwise", _conv((1, 25, 5, 45), 35, (1, 1))),
    Layer("conv 16x16x16 16 k3x3", "conv KxK", _conv((1, 16, 16, 16), 16, (3, 3))),
    Layer("fc 640->128", "fully connected batch 1", _fc(640, 128, "RELU")),
    Layer("fc 250->37", "fully connected batch 1", _fc(250, 37)),
    Layer("fc 256->2", "fully connected batch 1", _fc(256, 2), macs_target=False),
    Layer("fc 64->12", "fully connected batch 1", _fc(64, 12), macs_target=False),
    Layer("softmax 2", "softmax", _softmax(2), macs_target=False),
    Layer("softmax 12", "softmax", _softmax(12), macs_target=False),
    # more 2-D depthwise shapes (appended: the earlier layers keep their seeds): 3x3 stride 2 with an odd channel
    # count (the pair kernel, padded groups), 5x5 stride 1, 7x7 (plane), 3x3 with multiplier 2 (plane)
    Layer("dw 24x24x27 k3x3 s2", "depthwise 3x3", _dw((1, 24, 24, 27), (3, 3), 1, (2, 2))),
    Layer("dw 20x20x30 k5x5 s1", "depthwise KxK", _dw((1, 20, 20, 30), (5, 5))),
    Layer("dw 14x14x24 k7x7 s1", "depthwise KxK", _dw((1, 14, 14, 24), (7, 7))),
    Layer("dw 24x24x8 m2 k3x3 s1", "depthwise multiplier > 1", _dw((1, 24, 24, 8), (3, 3), 2)),
    # appended (the draws of the layers above stay): 3x3 stride 2 (MobileNet / VWW downsampling), C % 4 == 0 and odd
    Layer("dw 48x48x16 k3x3 s2", "depthwise 3x3", _dw((1, 48, 48, 16), (3, 3), 1, (2, 2))),
    Layer("dw 12x12x27 k3x3 s2", "depthwise 3x3", _dw((1, 12, 12, 27), (3, 3), 1, (2, 2))),
)


def measure_layers(work: Path, anchors: Path, names: list[str] | None = None,
                   log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every case of LAYERS (or those named): microaot default build and CMSIS-NN on QEMU M4."""
    import cmsis_m4

    out: dict[str, Any] = {}
    have_cmsis = cmsis_m4.have_sources(anchors)
    for i, layer in enumerate(LAYERS):
        if names and layer.name not in names:
            continue
        d = work / f"layer{i:02d}"
        d.mkdir(parents=True, exist_ok=True)
        model = d / "layer.tflite"
        model.write_bytes(layer.build(np.random.default_rng(1000 + i)))
        log(f"layers: {layer.name}: microaot default build on QEMU M4")
        r = m4_measure(model, build_dir=d / "m4")
        op = r["ops"][0]
        row: dict[str, Any] = {"class": layer.cls, "opcode": op["opcode"], "macs": r["macs"],
                               "microaot": op["instructions"], "bit_exact": r["bit_exact"],
                               "macs_target": layer.macs_target}
        row["instr_per_mac"] = op["instructions"] / r["macs"] if r["macs"] else None
        if layer.probe is not None:  # the measured requantization cost per output and the floor it implies
            probe = d / "probe.tflite"
            probe.write_bytes(layer.probe(np.random.default_rng(1000 + i)))
            pr = m4_measure(probe, build_dir=d / "probe_m4")
            outs = pr["macs"] / 2  # 2 MACs per output
            rest = pr["ops"][0]["instructions"] / outs - PROBE_TAPS
            row["requant_per_output"] = LINE_REQUANT
            row["floor_instr_per_mac"] = requant_floor(LINE_REQUANT, layer.taps)
            row["non_tap_per_output"] = rest  # requantization, store, expansion, loop and call overhead (measured)
            row["kernel_floor_instr_per_mac"] = requant_floor(rest, layer.taps)
        if have_cmsis:
            try:
                xs = [np.random.default_rng(0).integers(-128, 128, size=_input_shape(model), dtype=np.int8)]
                c = cmsis_m4.measure(model, xs, d / "cmsis", anchors)
                lay = c["layers"][0]
                row["cmsis"] = lay["instructions"]
                row["cmsis_equal"] = r["op_hashes"] is not None and lay["hash"] == r["op_hashes"][0]
                row["cmsis_ratio"] = lay["instructions"] / op["instructions"]
            except Exception as exc:  # noqa: BLE001 - a layer CMSIS-NN cannot run is reported, not fatal
                row["cmsis_error"] = str(exc).splitlines()[0][:300]
        out[layer.name] = row
    return out


def requant_floor(rq_per_output: float, taps: int) -> float:
    """The instr/MAC no kernel of this design goes below: the requantization (and store) per output spread over
    its taps, plus the MAC floor (SMLAD: 2 MACs per instruction)."""
    return rq_per_output / taps + MAC_FLOOR


def _input_shape(model: Path) -> tuple[int, ...]:
    from microaot.frontend.tflite import load_tflite

    g = load_tflite(model)
    return tuple(int(s) for s in g.tensors[g.inputs[0]].shape)


def layer_targets(rows: dict[str, Any]) -> dict[str, Any]:
    """Per class: the worst instr/MAC (classes with a MAC target), and every layer CMSIS-NN beats by > 5 %."""
    classes: dict[str, float] = {}
    for r in rows.values():
        if r["macs_target"] and r.get("instr_per_mac") is not None:
            classes[r["class"]] = max(classes.get(r["class"], 0.0), r["instr_per_mac"])
    slow = [n for n, r in rows.items() if r.get("cmsis") is not None and r["cmsis"] * (1 + TARGET_CMSIS_SLACK)
            < r["microaot"]]
    bad = [n for n, r in rows.items() if not r["bit_exact"] or r.get("cmsis_equal") is False]
    return {"class_worst_instr_per_mac": classes,
            "instr_per_mac_pass": bool(classes) and all(v <= TARGET_INSTR_PER_MAC for v in classes.values()),
            "cmsis_faster_by_5pct": slow, "cmsis_pass": not slow, "not_bit_exact": bad}


def report_lines(rows: dict[str, Any], table: Callable[[list[list[Any]], list[str]], str]) -> list[str]:
    out = ["\n(6) generated single-layer models (int8, default cortex-m4 build vs CMSIS-NN), QEMU M4 instructions "
           "of the operator"]
    body = []
    for name, r in rows.items():
        body.append([name, r["class"], r["macs"], r["microaot"], r.get("instr_per_mac"), r.get("cmsis"),
                     None if r.get("cmsis") is None else r["cmsis"] / r["macs"] if r["macs"] else None,
                     r.get("cmsis_ratio"), r["bit_exact"], r.get("cmsis_equal", r.get("cmsis_error", "-"))])
    out.append(table(body, ["layer", "class", "MACs", "microaot", "instr/MAC", "CMSIS-NN", "CMSIS instr/MAC",
                            "CMSIS/microaot", "= TFLM, = generic", "CMSIS = microaot"]))
    t = layer_targets(rows)
    for cls, v in t["class_worst_instr_per_mac"].items():
        out.append(f"  {cls}: worst {v:.2f} instr/MAC (target <= {TARGET_INSTR_PER_MAC}) "
                   f"[{'PASS' if v <= TARGET_INSTR_PER_MAC else 'FAIL'}]")
    for name, r in rows.items():
        if r.get("floor_instr_per_mac") is not None:
            fl = r["floor_instr_per_mac"]
            out.append(f"  {name}: requantization {r['requant_per_output']:.2f} instr/output (the line kernel's asm) "
                       f"-> floor {fl:.2f} instr/MAC with 2 MACs an instruction"
                       f"{' > target: out of reach for this shape' if fl > TARGET_INSTR_PER_MAC else ''}; measured "
                       f"everything but the taps {r['non_tap_per_output']:.2f} instr/output (a 2-tap layer of the same "
                       f"shape) -> {r['kernel_floor_instr_per_mac']:.2f} instr/MAC for this kernel")
    out.append("  no layer where CMSIS-NN is faster by > 5 %: "
               + ("none" if t["cmsis_pass"] else ", ".join(t["cmsis_faster_by_5pct"]))
               + f" [{'PASS' if t['cmsis_pass'] else 'FAIL'}]")
    if t["not_bit_exact"]:
        out.append("  NOT bit-exact: " + ", ".join(t["not_bit_exact"]))
    return out
