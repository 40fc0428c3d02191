"""bench section ``float``: float32 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED on the Cortex-M4F.

Generated single-layer float32 models (``microaot.testing.modelgen``, fixed seeds) of the layer classes below
are built twice for qemu_mps2_an386 (cortex-m4 target, arm-none-eabi-gcc -O2, hard float): with the generic
float kernel (``algo=direct``) and with the default schedule (``algo=fpu``, crt/kernels/fp_fast.c). Both run
on QEMU with -icount (``microaot.testing.m4run.measure``: the seeded standard-normal input of bench/README.md);
the operator's own instruction count (the FPGAIO counter around its call) is divided by its MACs. Every build's
output is checked bit for bit against TFLM and its tensor hash against the generic-C host build. Target:
<= 3 instructions per MAC for the fpu kernel on every layer of a class (FAIL names the class).

    .venv/bin/python bench/bench.py --sections float        # only this section (updates results.json["float"])
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from microaot.testing import m4run
from microaot.testing import modelgen as mg

TARGET_INSTR_PER_MAC = 3.0
F = "float32"

Builder = Callable[[np.random.Generator], bytes]


def _conv(**kw: Any) -> Builder:
    return lambda r: mg.conv2d_model(r, dtype=F, **kw)


def _dw(**kw: Any) -> Builder:
    return lambda r: mg.depthwise_conv2d_model(r, dtype=F, **kw)


def _fc(**kw: Any) -> Builder:
    return lambda r: mg.fully_connected_model(r, dtype=F, **kw)


# (class, layer name, model builder)
LAYERS: list[tuple[str, str, Builder]] = [
    ("conv 3x3", "16x16x8 -> 16, relu6", _conv(input_shape=(1, 16, 16, 8), filters=16, kernel=(3, 3),
                                              activation="RELU6")),
    ("conv 3x3", "17x17x16 -> 32, stride 2 valid, relu", _conv(input_shape=(1, 17, 17, 16), filters=32,
                                                              kernel=(3, 3), stride=(2, 2), padding="VALID",
                                                              activation="RELU")),
    ("conv 3x3", "12x12x5 -> 7 (odd channels)", _conv(input_shape=(1, 12, 12, 5), filters=7, kernel=(3, 3))),
    ("conv 1x1", "16x16x16 -> 32, relu", _conv(input_shape=(1, 16, 16, 16), filters=32, kernel=(1, 1),
                                              activation="RELU")),
    ("conv 1x1", "8x8x64 -> 64", _conv(input_shape=(1, 8, 8, 64), filters=64, kernel=(1, 1))),
    ("conv first layer", "32x32x3 -> 16, 3x3 stride 2, relu", _conv(input_shape=(1, 32, 32, 3), filters=16,
                                                                     kernel=(3, 3), stride=(2, 2),
                                                                     activation="RELU")),
    ("conv first layer", "49x10x1 -> 64, 10x4 stride 2, relu", _conv(input_shape=(1, 49, 10, 1), filters=64,
                                                                      kernel=(10, 4), stride=(2, 2),
                                                                      activation="RELU")),
    ("conv first layer", "16x16x1 -> 8, 3x3", _conv(input_shape=(1, 16, 16, 1), filters=8, kernel=(3, 3))),
    ("conv first layer", "49x10x1 -> 28, 3x3 (odd filters)", _conv(input_shape=(1, 49, 10, 1), filters=28,
                                                                    kernel=(3, 3))),
    ("depthwise 3x3", "16x16x32, relu6", _dw(input_shape=(1, 16, 16, 32), kernel=(3, 3), activation="RELU6")),
    ("depthwise 3x3", "25x5x64, relu", _dw(input_shape=(1, 25, 5, 64), kernel=(3, 3), activation="RELU")),
    ("depthwise 3x3", "15x13x30 stride 2x1 dilation 1x2 (odd channels)",
     _dw(input_shape=(1, 15, 13, 30), kernel=(3, 3), stride=(2, 1), dilation=(1, 2))),
    ("depthwise KxK", "24x24x27 5x5 stride 2 (odd channels)", _dw(input_shape=(1, 24, 24, 27), kernel=(5, 5),
                                                                   stride=(2, 2))),
    ("depthwise Kx1 / 1xK", "32x8x16, 5x1", _dw(input_shape=(1, 32, 8, 16), kernel=(5, 1))),
    ("depthwise Kx1 / 1xK", "8x32x16, 1x5", _dw(input_shape=(1, 8, 32, 16), kernel=(1, 5))),
    ("depthwise Kx1 / 1xK", "25x5x64, 3x1", _dw(input_shape=(1, 25, 5, 64), kernel=(3, 1))),
    ("depthwise Kx1 / 1xK", "25x5x64, 1x3", _dw(input_shape=(1, 25, 5, 64), kernel=(1, 3))),
    ("depthwise Kx1 / 1xK", "49x1x40, 9x1", _dw(input_shape=(1, 49, 1, 40), kernel=(9, 1))),
    ("depthwise Kx1 / 1xK", "25x5x30, 5x1 (odd channels)", _dw(input_shape=(1, 25, 5, 30), kernel=(5, 1))),
    ("depthwise multiplier > 1", "49x10x1 x8, 10x8 stride 2", _dw(input_shape=(1, 49, 10, 1), kernel=(10, 8),
                                                                  depth_multiplier=8, stride=(2, 2))),
    ("depthwise multiplier > 1", "8x8x16 x4, 3x3", _dw(input_shape=(1, 8, 8, 16), kernel=(3, 3),
                                                      depth_multiplier=4)),
    ("depthwise multiplier > 1", "9x9x12 x2, 3x3", _dw(input_shape=(1, 9, 9, 12), kernel=(3, 3),
                                                      depth_multiplier=2)),
    ("depthwise multiplier > 1", "25x5x12 x4, 3x3", _dw(input_shape=(1, 25, 5, 12), kernel=(3, 3),
                                                       depth_multiplier=4)),
    ("depthwise multiplier > 1", "49x10x3 x2, 5x1 (6 outputs)", _dw(input_shape=(1, 49, 10, 3), kernel=(5, 1),
                                                                   depth_multiplier=2)),
    ("FC batch 1", "256 -> 64", _fc(input_shape=(1, 256), units=64)),
    ("FC batch 1", "640 -> 128, relu", _fc(input_shape=(1, 640), units=128, activation="RELU")),
    ("FC batch 1", "64 -> 2", _fc(input_shape=(1, 64), units=2)),
    ("FC batch 1", "250 -> 37, relu", _fc(input_shape=(1, 250), units=37, activation="RELU")),
    ("FC batch 1", "64 -> 12", _fc(input_shape=(1, 64), units=12)),
    ("FC batch 1", "256 -> 2", _fc(input_shape=(1, 256), units=2)),
    ("FC batch > 1", "4 x 128 -> 10", _fc(input_shape=(4, 128), units=10)),
    ("FC batch > 1", "3 x 37 -> 13, relu6", _fc(input_shape=(3, 37), units=13, activation="RELU6")),
]


def measure_layers(work: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure every layer with the generic and the fpu kernel; per-layer rows and per-class worst cases."""
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for i, (cls, name, build) in enumerate(LAYERS):
        path = work / f"float{i}.tflite"
        path.write_bytes(build(np.random.default_rng(500 + i)))
        row: dict[str, Any] = {"class": cls, "layer": name}
        for variant, sched in (("generic", {0: {"algo": "direct"}}), ("fpu", None)):
            m = m4run.measure(path, target="cortex-m4", schedules=sched, build_dir=work / f"float{i}-{variant}")
            n = int(m["ops"][0]["instructions"])
            row["macs"] = int(m["macs"])
            row[variant] = {"instructions": n, "instr_per_mac": n / m["macs"], "bit_exact": bool(m["bit_exact"])}
        row["speedup"] = row["generic"]["instructions"] / row["fpu"]["instructions"]
        log(f"float {cls}: {name}: {row['generic']['instr_per_mac']:.2f} -> {row['fpu']['instr_per_mac']:.2f} "
            f"instr/MAC, bit-exact {row['generic']['bit_exact'] and row['fpu']['bit_exact']}")
        rows.append(row)
    classes: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = classes.setdefault(r["class"], {"layers": 0, "worst_fpu": 0.0, "worst_generic": 0.0, "bit_exact": True})
        c["layers"] += 1
        c["worst_fpu"] = max(c["worst_fpu"], r["fpu"]["instr_per_mac"])
        c["worst_generic"] = max(c["worst_generic"], r["generic"]["instr_per_mac"])
        c["bit_exact"] = c["bit_exact"] and r["fpu"]["bit_exact"] and r["generic"]["bit_exact"]
    for c in classes.values():
        c["target"] = TARGET_INSTR_PER_MAC
        c["pass"] = c["worst_fpu"] <= TARGET_INSTR_PER_MAC and c["bit_exact"]
    return {"board": m4run.BOARD, "target_instr_per_mac": TARGET_INSTR_PER_MAC, "layers": rows, "classes": classes}


def format_float(res: dict[str, Any]) -> str:
    lines = ["", "float32 layers on qemu_mps2_an386 (Cortex-M4F): instructions per MAC of the operator, generic "
             "float kernel vs fp_fast (algo=fpu); both bit-exact with TFLM"]
    w = max(len(f"{r['class']}: {r['layer']}") for r in res["layers"])
    lines.append(f"{'layer':<{w}}  {'MACs':>9}  {'generic':>8}  {'fpu':>6}  {'speed-up':>8}  bit-exact")
    for r in res["layers"]:
        be = r["generic"]["bit_exact"] and r["fpu"]["bit_exact"]
        lines.append(f"{r['class'] + ': ' + r['layer']:<{w}}  {r['macs']:>9,}  {r['generic']['instr_per_mac']:>8.2f}  "
                     f"{r['fpu']['instr_per_mac']:>6.2f}  {r['speedup']:>7.2f}x  {'yes' if be else 'NO'}")
    lines.append("")
    lines.append(f"per class (worst layer), target fpu <= {res['target_instr_per_mac']:g} instr/MAC:")
    for name, c in res["classes"].items():
        lines.append(f"  {name:<26} generic {c['worst_generic']:6.2f}  fpu {c['worst_fpu']:5.2f}  "
                     f"{'PASS' if c['pass'] else 'FAIL'}")
    return "\n".join(lines)
