"""Bench section ``cores``: the Cortex-M7 (qemu_mps2_an500) and Cortex-M33 (qemu_mps2_an505) builds.

``microaot.testing.m4run`` builds each model for the core's kernel target with its compiler flags and runs it
on the core's QEMU machine (-icount shift=3: instructions), outputs checked against TFLM and every tensor
against the generic-C build:

- M7 (target cortex-m7): the default build, and the build tuned on the AN500 (``bench/tuning_m7.jsonl``, made
  with ``microaot tune MODEL --board qemu_mps2_an500 --budget 4``; models without entries run their defaults);
- M33 (target cortex-m4, what the board and ``microaot.pio.ports`` pick for a cortex-m33: the DSP kernels),
  default build, with the kernels it calls listed (the DSP entry points, not the generic ones).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

M7_LOG = Path(__file__).with_name("tuning_m7.jsonl")
DSP_CALLS = ("uaot_conv2d_s8_gemm", "uaot_dw3x3_s8_pair", "uaot_depthwise_conv2d_s8_simd4",
             "uaot_fully_connected_s8_simd4", "uaot_conv2d_s8_x16")


def _run(model: Path, target: str, machine: str, work: Path, log: Path | None = None) -> dict[str, Any]:
    from microaot.testing import m4run

    r = m4run.measure(model, target=target, seed=0, build_dir=work, tuning_log=log, machine=m4run.MACHINES[machine])
    src = "\n".join(p.read_text() for p in (work / "gen").glob("*.c"))
    return {"instructions": r["instructions"], "instructions_per_mac": r["instructions_per_mac"],
            "bit_exact": r["bit_exact"], "ops_differ": r["ops_differ"],
            "kernel_calls": sorted(set(re.findall(r"\b(uaot_\w+_s8\w*)\(", src)))}


def measure(key: str, model: Path, work: Path, m7_log: Path = M7_LOG) -> dict[str, Any]:
    m7d = _run(model, "cortex-m7", "mps2-an500", work / f"m7-{key}")
    log = m7_log if m7_log.is_file() and model.name in m7_log.read_text() else None
    m7t = _run(model, "cortex-m7", "mps2-an500", work / f"m7t-{key}", log) if log else dict(m7d)
    m33 = _run(model, "cortex-m4", "mps2-an505", work / f"m33-{key}")
    return {"m7": {"board": "qemu_mps2_an500", "default": m7d, "tuned": m7t, "tuning_log": str(log) if log else None,
                   "tuned_speedup": m7d["instructions"] / m7t["instructions"]},
            "m33": {"board": "qemu_mps2_an505", "target": "cortex-m4", "default": m33,
                    "dsp_kernels": [c for c in m33["kernel_calls"] if c.startswith(DSP_CALLS)]}}


def format_cores(ms: dict[str, Any], keys: list[str], table: Any) -> list[str]:
    """Section (7): M7 default vs tuned, M33 default (DSP kernels)."""
    done = [k for k in keys if "m7" in ms[k].get("cores", {})]
    out = [f"{k}: the cores section failed: {ms[k]['cores']['error'].splitlines()[0][:300]}"
           for k in keys if "error" in ms[k].get("cores", {})]
    if not done:
        return out
    rows = []
    for k in done:
        c = ms[k]["cores"]
        m7, m33 = c["m7"], c["m33"]
        rows.append([k, m7["default"]["instructions"], m7["tuned"]["instructions"], m7["tuned_speedup"],
                     m7["default"]["bit_exact"] and m7["tuned"]["bit_exact"], m33["default"]["instructions"],
                     m33["default"]["instructions_per_mac"], m33["default"]["bit_exact"],
                     ", ".join(s.replace("uaot_", "") for s in m33["dsp_kernels"]) or "NONE"])
    out.append("\n(7) Cortex-M7 (qemu_mps2_an500: default vs tuned there, bench/tuning_m7.jsonl) and Cortex-M33 "
               "(qemu_mps2_an505, DSP kernels), instructions (-icount)")
    out.append(table(rows, ["model", "M7 default", "M7 tuned", "tuned x", "M7 = TFLM", "M33 default", "instr/MAC",
                            "M33 = TFLM", "M33 DSP kernels"]))
    return out
