"""The QEMU cycle estimate (microaot.cycles, docs/cycle-model.md) of the four MLPerf Tiny models on the
Cortex-M4 board, under three SoC settings, next to the published MLPerf Tiny figures (NUCLEO-L4R5ZI,
Cortex-M4 at 120 MHz). Run: .venv/bin/python bench/cycle_model.py [--models kws,ad]

The published figures are other software on real silicon (TFLM + CMSIS-NN, microTVM, X-CUBE-AI,
Plumerai): the table shows where microaot's default build would land by this model, not a measurement
of the same code. An estimate, labelled as such.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from microaot.boards import get_board
from microaot.evaluate import evaluate_firmware
from microaot.paths import shared_models_dir
from microaot.pio.project import build, write_project

MODELS = {"kws": "kws_dscnn_int8.tflite", "vww": "vww_mobilenet_int8.tflite", "ic": "ic_resnet8_int8.tflite",
          "ad": "ad_autoencoder_int8.tflite"}
# ms at 120 MHz on NUCLEO-L4R5ZI (MLPerf Tiny v1.0 closed division, ../shared/DESIGN.md)
PUBLISHED = {"TFLM+CMSIS-NN": (181.9, 600.6, 704.2, 10.05), "microTVM+CMSIS-NN": (99.8, 301.2, 389.6, 8.60),
             "X-CUBE-AI 9.0": (43.2, 88.9, 165.1, 5.26), "Plumerai": (47.8, 98.8, 167.8, 4.05)}
SETTINGS = {"0 ws, no cache": dict(flash_wait_states=0, cache=0),
            "5 ws, no cache": dict(flash_wait_states=5, cache=0),
            "5 ws, cache (L4R5 @120 MHz)": dict(flash_wait_states=5, cache=1)}
F_CPU = 120_000_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="kws,vww,ic,ad")
    args = ap.parse_args()
    board = get_board("qemu_mps2_an386")
    rows = []
    with tempfile.TemporaryDirectory(prefix="microaot_cycle_bench_") as td:
        for key in args.models.split(","):
            model = shared_models_dir() / MODELS[key]
            b = build(write_project(Path(td) / key, board.id, model=model), board.id, jobs=2)
            for label, st in SETTINGS.items():
                info = dataclasses.replace(b.info, settings={**b.info.settings, **st, "f_cpu": F_CPU})
                rep = evaluate_firmware(model, board, b.firmware, info, seeds=1, check_tensors=False, profile=False)
                e = rep.cycle_estimate
                assert e is not None and rep.outputs_match, rep.cycle_note
                rows.append(
                    (key, label, rep.time_mean, e.cycles_per_inference, e.cpi, e.cycles_per_inference / F_CPU * 1e3)
                )
    print(f"{'model':<5} {'SoC setting':<30} {'instructions':>12} {'est. cycles':>12} {'CPI':>5} {'ms @120MHz':>10}")
    for key, label, ins, cyc, cpi, ms in rows:
        print(f"{key:<5} {label:<30} {ins:>12,.0f} {cyc:>12,.0f} {cpi:>5.2f} {ms:>10.2f}")
    print("\npublished (ms at 120 MHz, NUCLEO-L4R5ZI):")
    keys = list(MODELS)
    for name, vals in PUBLISHED.items():
        print(f"  {name:<20} " + "  ".join(f"{k} {v:g}" for k, v in zip(keys, vals, strict=True)))


if __name__ == "__main__":
    main()
