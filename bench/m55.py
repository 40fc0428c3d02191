"""Bench section ``m55``: microaot's Cortex-M55 build (target cortex-m55: Helium kernels) vs CMSIS-NN's MVE path.

Both on QEMU mps3-an547 (-icount shift=3, the FPGAIO counter: instructions), on the bench's seed-0 input:

- microaot: the default build for target cortex-m55 (``microaot.testing.m4run``, arm-none-eabi-gcc -O2
  -mcpu=cortex-m55), its outputs checked against TFLM and every intermediate tensor against the generic-C
  build; also the same model built for target cortex-m4 (the DSP kernels) on the same M55, to show what the
  Helium kernels bring;
- CMSIS-NN: ``cmsis_m4.measure`` with the AN547 machine: CMSIS-NN's int8 sources compiled with -mcpu=cortex-m55
  (``__ARM_FEATURE_MVE``: ARM_MATH_MVEI, the MVE kernels TFLM uses on the M55), every layer called as TFLM's
  CMSIS-NN port calls it, each layer's output hash compared with microaot's (OPCHECK).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

BOARD = "qemu_mps3_an547"


def measure(key: str, model: Path, work: Path, x: list[np.ndarray], anchors: Path,
            op_indices: list[int] | None) -> dict[str, Any]:
    import cmsis_m4

    from microaot.testing import m4run

    an547 = m4run.MACHINES["mps3-an547"]
    mine = m4run.measure(model, target="cortex-m55", seed=0, build_dir=work / f"m55-{key}")
    dsp = m4run.measure(model, target="cortex-m4", seed=0, build_dir=work / f"m55dsp-{key}", check=False,
                        machine=an547)
    out: dict[str, Any] = {
        "board": BOARD,
        "microaot": {k: mine[k] for k in ("instructions", "instructions_per_mac", "bit_exact", "ops_differ",
                                          "text_bytes", "workspace")},
        "microaot_ops": [[o["index"], o["opcode"], o["instructions"]] for o in mine["ops"]],
        "dsp_kernels_on_m55": dsp["instructions"],
        "dsp_tensors_equal": dsp["op_hashes"] == mine["op_hashes"],
        "mve_speedup_vs_dsp": dsp["instructions"] / mine["instructions"],
    }
    if cmsis_m4.have_sources(anchors):
        c = cmsis_m4.measure(model, x, work / f"cmsis-m55-{key}", anchors, machine=an547)
        if op_indices is not None and mine["op_hashes"] is not None and len(op_indices) == len(mine["op_hashes"]):
            c.update(cmsis_m4.compare(c, op_indices, mine["op_hashes"], [o["instructions"] for o in mine["ops"]]))
        out["cmsis_mve"] = {k: c.get(k) for k in ("total", "instr_per_mac", "equal_all", "mismatched_ops", "classes",
                                                  "cmsis_faster", "flags")}
        out["cmsis_mve_layers"] = [[d["op"], d["opcode"], d["instructions"]] for d in c["layers"]]
        out["ratio_cmsis_over_microaot"] = c["total"] / mine["instructions"]
    return out


def format_m55(ms: dict[str, Any], keys: list[str], table: Any) -> list[str]:
    """Section (6): the Cortex-M55 table: microaot (Helium) vs the DSP kernels and CMSIS-NN's MVE path."""
    done = [k for k in keys if "microaot" in ms[k].get("m55", {})]
    out = [f"{k}: the M55 section failed: {ms[k]['m55']['error'].splitlines()[0][:300]}"
           for k in keys if "error" in ms[k].get("m55", {})]
    if not done:
        return out
    rows = []
    for k in done:
        m = ms[k]["m55"]
        c = m.get("cmsis_mve", {})
        rows.append([k, m["microaot"]["instructions"], m["microaot"]["instructions_per_mac"], m["dsp_kernels_on_m55"],
                     m["mve_speedup_vs_dsp"], c.get("total"), m.get("ratio_cmsis_over_microaot"),
                     m["microaot"]["bit_exact"], c.get("equal_all")])
    out.append("\n(6) Cortex-M55 (qemu_mps3_an547 -icount): microaot target cortex-m55 (Helium) vs its DSP kernels on "
               "the same core and CMSIS-NN's MVE path (-mcpu=cortex-m55, ARM_MATH_MVEI)")
    out.append(table(rows, ["model", "microaot M55", "instr/MAC", "DSP kernels", "MVE gain", "CMSIS-NN MVE",
                            "CMSIS/microaot", "= TFLM, all tensors", "CMSIS layers = microaot"]))
    ratios = [ms[k]["m55"]["ratio_cmsis_over_microaot"] for k in done if ms[k]["m55"].get("ratio_cmsis_over_microaot")]
    if ratios:
        g = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        out.append(f"CMSIS-NN MVE / microaot M55 geomean: {g:.2f}x over {len(ratios)} model(s)")
    cls: dict[str, list[float]] = {}
    for k in done:
        for name, c in ms[k]["m55"].get("cmsis_mve", {}).get("classes", {}).items():
            a = cls.setdefault(name, [0.0, 0.0])
            a[0] += c["cmsis"]
            a[1] += c["microaot"]
    if cls:
        out.append("per layer class (CMSIS-NN MVE / microaot M55): " + ", ".join(
            f"{n} {a[0] / a[1]:.2f}x" for n, a in sorted(cls.items()) if a[1]))
    wins = [f"{k} op {w['op']} {w['opcode']} ({w['cmsis']:,} vs {w['microaot']:,.0f})" for k in done
            for w in ms[k]["m55"].get("cmsis_mve", {}).get("cmsis_faster") or []]
    out.append("layers where CMSIS-NN MVE is faster: " + ("; ".join(wins) if wins else "none"))
    return out
