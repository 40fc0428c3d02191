#!/usr/bin/env python3
"""microaot vs TFLM on the MLPerf Tiny models: instructions, RAM and flash, side by side.

    .venv/bin/python bench/bench.py                       # all four models, all sections, tunes on QEMU
    .venv/bin/python bench/bench.py --models ad --reduced # smoke run (smallest model, tiny budget)
    .venv/bin/python bench/bench.py --log tuning.jsonl    # use an existing tuning log instead of tuning

Sections (``--sections``, default all):
  qemu   instructions per inference on qemu_mps2_an386 (QEMU -icount, deterministic) for microaot
         generic C, default (cortex-m4 schedules) and tuned (tuning log), and instructions per MAC
  host   x86-64 instructions per inference under valgrind callgrind: microaot (generic C, a small host
         program running the model N times, collection toggled on NAME_run) vs the PyPI TFLM
         interpreter (collection toggled on tflite::micro::MicroInterpreter::Invoke())
  ram    peak RAM = workspace + stack used by the run (QEMU, stack painting) vs TFLM's arena and the
         liveness / in-place lower bounds
  flash  code + constants from the Cortex-M4 ELF vs the model's weight bytes
  cmsis  CMSIS-NN (sources in ../shared/anchors beside the checkout, bench/cmsis_m4.py) on the same QEMU M4,
         every layer as TFLM's CMSIS-NN port calls it, on the same input; per-layer outputs checked against microaot's
         OPCHECK hashes; ratios per model, geomean, per layer class, and every layer CMSIS-NN runs faster
  float  float32 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED on generated single-layer models (bench/float_layers.py):
         instructions per MAC of the generic float kernel and of fp_fast (algo=fpu) per layer class on the M4F,
         PASS/FAIL vs 3 instr/MAC; independent of --models (with --sections float alone, only results.json["float"]
         is rewritten)
  m55    Cortex-M55 (qemu_mps3_an547, bench/m55.py): microaot's target cortex-m55 build (Helium kernels) vs the
         same model on its DSP kernels and vs CMSIS-NN's MVE path built for the M55 from the anchors, layer by
         layer, outputs and every tensor checked. Run alone (--sections m55) it merges its results into the
         existing --json instead of replacing the other sections
  cores  Cortex-M7 (qemu_mps2_an500) default vs tuned there (bench/tuning_m7.jsonl) and Cortex-M33
         (qemu_mps2_an505) with the DSP kernels (bench/cores.py); merges like m55 when run without qemu
  layers generated single-layer int8 models (bench/layers.py: depthwise with multiplier 8 and a 10x8 kernel, Kx1 /
         1xK depthwise, 1-channel-input and pointwise convolutions, FC at batch 1, tiny FC and SOFTMAX): instr/MAC
         of the default cortex-m4 build per layer class and CMSIS-NN's count for the same layer (issue 21 targets)

    .venv/bin/python bench/bench.py --sections layers    # the layer classes only (~7 min), no model

    .venv/bin/python bench/bench.py --check --models ad   # exit 1 when a default-build count rose > 2%
                                                           # above the committed bench/results.json

Everything is measured on the same input (seed 0 of bench/README.md) and every output is checked
against TFLM byte for byte. Prints a table, the issue-6 targets with PASS/FAIL, and writes JSON.
Method: bench/README.md. This is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "library"))

from microaot.boards import get_board, open_link  # noqa: E402
from microaot.evaluate import memory_from_elf  # noqa: E402
from microaot.frontend.tflite import load_tflite  # noqa: E402
from microaot.fsutil import private_temp_dir  # noqa: E402
from microaot.inspect_model import summarize  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
import float_layers  # noqa: E402

MODELS_DIR = REPO.parent / "shared" / "models"
MODELS = {
    "kws": "kws_dscnn_int8.tflite",
    "vww": "vww_mobilenet_int8.tflite",
    "ic": "ic_resnet8_int8.tflite",
    "ad": "ad_autoencoder_int8.tflite",
}
# TFLM arena (bytes): the RecordingMicroAllocator total of DESIGN.md / models/README.md, and the smallest
# arena_size that works (bisection, models/README.md); PyPI tflite-micro, same models.
TFLM_ARENA = {"kws": 24272, "vww": 103680, "ic": 55984, "ad": 3984}
TFLM_MIN_ARENA = {"kws": 24272, "vww": 103672, "ic": 55984, "ad": 4632}
TFLM_ARENA_HEAD = {"kws": 16000, "vww": 73728, "ic": 49152, "ad": 768}
# DESIGN.md: activation liveness lower bound, and with in-place depthwise + residual add
LIVENESS_BOUND = {"kws": 16000, "vww": 55296, "ic": 49152, "ad": 768}
INPLACE_BOUND = {"kws": 8960, "vww": 39168, "ic": 34304, "ad": 768}
QEMU_BOARD = "qemu_mps2_an386"
# DESIGN.md anchors: MLPerf Tiny results on NUCLEO-L4R5ZI (Cortex-M4 @ 120 MHz), ms per inference
ANCHOR_MS = {
    "TFLM+CMSIS-NN": {"kws": 181.9, "vww": 600.6, "ic": 704.2, "ad": 10.05},
    "X-CUBE-AI 9.0": {"kws": 43.2, "vww": 88.9, "ic": 165.1, "ad": 5.26},
}
ANCHOR_HZ = 120_000_000

TARGETS = {
    "m4_vs_tflm_geomean": 25.0,  # >= 25x fewer Cortex-M4 instructions than TFLM reference kernels (geomean)
    "instr_per_mac": 1.2,  # <= 1.2 on kws, vww, ic
    "ram_vs_arena": 0.67,  # <= 0.67x TFLM arena on every model
    "tuned_speedup": 1.3,  # >= 1.3x on at least two models
}


# issue 21: CMSIS-NN instructions / microaot's on the MLPerf models (Cortex-M4)
TARGETS21 = {"default_every": 2.5, "default_geomean": 3.0, "tuned_geomean": 3.5}

CHECK_TOLERANCE = 0.02  # --check: a default-build count may rise at most 2% above the committed results


def resolve_models(spec: str) -> list[tuple[str, Path]]:
    """``--models``: MLPerf keys (kws, vww, ic, ad) or paths of other .tflite files (key = the file's stem)."""
    out: list[tuple[str, Path]] = []
    for item in (k.strip() for k in spec.split(",")):
        if not item:
            continue
        if item in MODELS:
            out.append((item, MODELS_DIR / MODELS[item]))
            continue
        path = Path(item)
        if path.suffix != ".tflite" or not path.is_file():
            raise SystemExit(f"bench: --models: {item!r} is neither one of {', '.join(MODELS)} nor a .tflite file")
        key = path.stem
        if key in MODELS or any(k == key for k, _ in out):
            raise SystemExit(f"bench: --models: {path} has the key {key!r} of another model; rename the file")
        out.append((key, path.resolve()))
    return out


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def seed0_input(model: Path) -> list[np.ndarray]:
    """models/README.md's input: default_rng(seed).integers(-128, 128, shape, int8) (float: N(0,1))."""
    g = load_tflite(model)
    xs = []
    for i in g.inputs:
        t = g.tensors[i]
        rng = np.random.default_rng(0)
        if t.dtype == "int8":
            xs.append(rng.integers(-128, 128, size=t.shape, dtype=np.int8))
        else:
            xs.append(rng.standard_normal(size=t.shape).astype(np.dtype(t.dtype)))
    return xs


def same(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    return len(a) == len(b) and all(
        np.asarray(x).tobytes() == np.asarray(y).astype(np.asarray(x).dtype).tobytes() for x,
            y in zip(a, b, strict=True)
    )


def geomean(xs: Sequence[float]) -> float | None:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


# ---- (1) QEMU Cortex-M4 ---------------------------------------------------------------------------


def qemu_variant(model: Path, variant: str, work: Path, x: list[np.ndarray],
                 tuning_log: Path | None = None) -> dict[str, Any]:
    """Build the RPC firmware with PlatformIO for qemu_mps2_an386, run once on x, read STATS + ELF sizes."""
    from microaot.pio import project as pio_project
    from microaot.rpc.session import Session

    extra = {"board_build.microaot.target": "generic"} if variant == "generic" else {}
    proj = work / f"{model.stem}-{variant}"
    pio_project.write_project(proj, QEMU_BOARD, model=model, tuning_log=tuning_log, extra=extra)
    built = pio_project.build(proj, QEMU_BOARD)
    board = get_board(QEMU_BOARD)
    with Session(open_link(board, built.firmware), timeout=900) as s:
        dev = s.hello()
        ys, t = s.invoke(x)
        ys2, t2 = s.invoke(x)  # second run: same count (no warm-up effects under -icount)
        hashes = s.op_hashes() if dev.has_opcheck else None  # every intermediate tensor (untimed run)
        prof = s.profile() if variant != "generic" and dev.has_profile else None  # per-operator instructions (op hooks)
        st = s.stats()
    mem = memory_from_elf(built.firmware, built.info, st)
    gen_c = (built.build_dir / "microaot" / f"{built.info.name}.c").read_text()
    return {
        "variant": variant, "unit": dev.timer_unit, "instructions": int(t.min), "instructions_run2": int(t2.min),
        "outputs": [y.tolist() for y in ys], "_ys": ys, "workspace": built.info.workspace_size,
        "model_stack": st.model_stack, "stack_high_water": st.stack_high_water, "io_bytes": st.io_bytes,
        "code": mem.code, "weights": mem.weights, "rodata": mem.rodata, "data": mem.data, "bss": mem.bss,
        "flash": mem.flash, "kernel_calls": sorted(set(re.findall(r"status = (uaot_\w+)\(", gen_c))),
        "firmware": str(built.firmware), "build_seconds": round(built.seconds, 1), "op_hashes": hashes,
        "op_instructions": None if prof is None else [op.per_run for op in prof.ops],
    }


def section_qemu(key: str, model: Path, work: Path, x: list[np.ndarray], ref: list[np.ndarray],
                 args: argparse.Namespace,
                 macs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant in ("generic", "default"):
        log(f"{key}: QEMU M4 build + run ({variant})")
        out[variant] = qemu_variant(model, variant, work, x)
    tlog = args.log
    if tlog is None:
        from microaot.tune.tuner import tune_model

        tlog = work / "tuning.jsonl"
        log(f"{key}: tuning on {QEMU_BOARD} (budget {args.budget}, jobs {args.jobs}) -> {tlog}")
        res = tune_model(model, QEMU_BOARD, log=tlog, budget=args.budget, jobs=args.jobs, seeds=1,
                         work_dir=work / f"tune-{model.stem}", progress=not args.quiet, final_check=False)
        out["tune"] = {"batches": res.batches, "builds": res.builds, "seconds": round(res.seconds, 1),
                       "groups": [{k: g[k] for k in ("opcode", "shape", "op_indices", "measured", "default_time",
                                                      "best_time", "best_knobs")} for g in res.groups]}
    log(f"{key}: QEMU M4 build + run (tuned, log {tlog})")
    out["tuned"] = qemu_variant(model, "tuned", work, x, tuning_log=Path(tlog))
    for v in ("generic", "default", "tuned"):
        r = out[v]
        r["bitexact_tflm"] = same(r.pop("_ys"), ref)
        r["instr_per_mac"] = r["instructions"] / macs
        # OPCHECK: every operator's outputs hash alike in the generic-C build (None: a firmware cannot say)
        g = out["generic"]["op_hashes"]
        r["tensors_equal_generic"] = None if g is None or r["op_hashes"] is None else r["op_hashes"] == g
    out["tuned_speedup"] = out["default"]["instructions"] / out["tuned"]["instructions"]
    return out


# ---- (2) host callgrind -----------------------------------------------------------------------------

HOST_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include "@NAME@.h"

static uint8_t ws[@NAME@_WORKSPACE_SIZE + 1] __attribute__((aligned(16)));
static uint8_t in0[@NAME@_INPUT0_SIZE];
static uint8_t out0[@NAME@_OUTPUT0_SIZE];

int main(int argc, char **argv)
{
    if (argc != 4) {
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL || fread(in0, 1, sizeof in0, f) != sizeof in0) {
        return 3;
    }
    fclose(f);
    const void *ins[1] = {in0};
    void *outs[1] = {out0};
    long n = atol(argv[3]);
    for (long i = 0; i < n; i++) {
        if (@NAME@_run(ins, outs, ws) != UAOT_OK) {
            return 4;
        }
    }
    f = fopen(argv[2], "wb");
    if (f == NULL || fwrite(out0, 1, sizeof out0, f) != sizeof out0) {
        return 5;
    }
    fclose(f);
    return 0;
}
"""

TFLM_SCRIPT = r"""
import sys
import numpy as np
from tflite_micro import runtime
model, inp, outp, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
interp = runtime.Interpreter.from_bytes(open(model, "rb").read(), arena_size=4 * 1024 * 1024)
d = interp.get_input_details(0)
x = np.fromfile(inp, dtype=d["dtype"]).reshape(d["shape"])
for _ in range(n):
    interp.set_input(x, 0)  # TFLM's planner may reuse the input tensor's memory during a run
    interp.invoke()
np.asarray(interp.get_output(0)).tofile(outp)
"""


def callgrind(argv: list[str], toggle: str, cwd: Path) -> int:
    out = cwd / f"callgrind.{abs(hash(tuple(argv))) % 10**8}.out"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--collect-atstart=no",
           f"--toggle-collect={toggle}", *argv]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"callgrind failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    m = re.search(r"Collected\s*:\s*(\d+)", p.stderr)
    if not m:
        raise RuntimeError(f"no 'Collected' line in callgrind output:\n{p.stderr[-1000:]}")
    return int(m.group(1))


def section_host(key: str, model: Path, work: Path, x: list[np.ndarray], ref: list[np.ndarray],
                 n: int) -> dict[str, Any]:
    from microaot.compiler import compile_model
    from microaot.hostbuild import compile_c

    if shutil.which("valgrind") is None:
        return {"error": "valgrind not installed"}
    if len(x) != 1 or len(ref) != 1:
        return {"error": "the host harness handles one input and one output"}
    d = work / f"host-{model.stem}"
    d.mkdir(parents=True, exist_ok=True)
    r = compile_model(model, d / "gen", target="generic")
    main_c = d / "bench_main.c"
    main_c.write_text(HOST_MAIN.replace("@NAME@", r.name))
    exe = compile_c([main_c, *r.sources, *r.kernel_sources], d / "bench_host", include_dirs=[r.header.parent],
                    kind="exe")
    inp = d / "input.bin"
    np.ascontiguousarray(x[0]).tofile(inp)
    log(f"{key}: callgrind microaot host x{n}")
    ir_u = callgrind([str(exe), str(inp), str(d / "out_microaot.bin"), str(n)], f"{r.name}_run", d)
    y_u = np.fromfile(d / "out_microaot.bin", dtype=ref[0].dtype)
    script = d / "tflm_run.py"
    script.write_text(TFLM_SCRIPT)
    log(f"{key}: callgrind TFLM Invoke x{n}")
    ir_t = callgrind([sys.executable, str(script), str(model), str(inp), str(d / "out_tflm.bin"), str(n)],
                     "tflite::micro::MicroInterpreter::Invoke()", d)
    y_t = np.fromfile(d / "out_tflm.bin", dtype=ref[0].dtype)
    return {
        "n": n, "microaot_instructions": ir_u / n, "tflm_instructions": ir_t / n, "ratio": ir_t / ir_u,
        "microaot_bitexact_tflm": y_u.tobytes() == np.asarray(ref[0]).tobytes(),
        "tflm_same_as_reference": y_t.tobytes() == np.asarray(ref[0]).tobytes(),
    }


# ---- driver ------------------------------------------------------------------------------------------


def fmt(v: Any, nd: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:,.{nd}f}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [[str(h) for h in header]] + [[fmt(c) for c in r] for r in rows]
    w = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(r)) for r in cells]
    lines.insert(1, "  ".join("-" * x for x in w))
    return "\n".join(lines)


def section_cmsis(key: str, model: Path, work: Path, x: list[np.ndarray], r: dict[str, Any],
                  anchors: Path, op_indices: list[int] | None) -> dict[str, Any]:
    """CMSIS-NN layer by layer on the M4 (bench/cmsis_m4.py), matched with microaot's default build per layer."""
    import cmsis_m4

    log(f"{key}: CMSIS-NN on the M4 (QEMU), layer by layer as TFLM's CMSIS-NN port calls it")
    c = cmsis_m4.measure(model, x, work / f"cmsis-{key}", anchors)
    q = r.get("qemu")
    if q is None:
        return c
    d = q["default"]
    hashes, instr = d.get("op_hashes"), d.get("op_instructions")
    if op_indices is None or (hashes is not None and len(hashes) != len(op_indices)):
        c["compare_error"] = "microaot's operators could not be matched with the model's (operator lists differ)"
        return c
    c.update(cmsis_m4.compare(c, op_indices, hashes, instr))
    for v in ("default", "tuned"):
        c[f"ratio_vs_{v}"] = c["total"] / q[v]["instructions"]
    return c


def run_check(models: list[tuple[str, Path]], baseline: Path, work: Path) -> int:
    """--check: build and run each model's default firmware; exit 1 when its instruction count is more than
    CHECK_TOLERANCE above ``baseline``'s (the committed bench/results.json)."""
    if not baseline.is_file():
        print(f"bench --check: no committed results {baseline} (run the full bench and commit its JSON)")
        return 1
    base = json.loads(baseline.read_text()).get("models", {})
    failed = False
    for key, model in models:
        old = base.get(key, {}).get("qemu", {}).get("default", {}).get("instructions")
        if old is None:
            print(f"bench --check: {key} ({model.name}) has no default-build count in {baseline}; run the bench on "
                  "it and commit the JSON")
            failed = True
            continue
        x = seed0_input(model)
        log(f"{key}: QEMU M4 build + run (default) for --check")
        new = qemu_variant(model, "default", work, x)["instructions"]
        limit = old * (1 + CHECK_TOLERANCE)
        ok = new <= limit
        failed |= not ok
        print(f"bench --check: {key} ({model.name}) default build {new:,} instructions, committed {old:,} "
              f"({(new / old - 1) * 100:+.2f}%, limit +{CHECK_TOLERANCE * 100:.0f}%) "
              f"[{'PASS' if ok else 'FAIL: rose more than ' + format(CHECK_TOLERANCE * 100, '.0f') + '%'}]")
    return 1 if failed else 0


def run_float_only(out: Path, work: Path) -> int:
    """--sections float: measure the float layers, print them, and replace only the "float" entry of ``out``."""
    t0 = time.monotonic()
    res = float_layers.measure_layers(work / "float", log)
    print(float_layers.format_float(res))
    results = json.loads(out.read_text()) if out.is_file() else {"method": "bench/README.md", "models": {}}
    results["float"] = res
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nJSON: {out} (float section, {time.monotonic() - t0:.0f} s)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="kws,vww,ic,ad",
                    help="comma list of kws, vww, ic, ad and/or paths of other int8 .tflite models")
    ap.add_argument("--sections", default="qemu,host,ram,flash,cmsis,layers,float,m55,cores",
                    help="comma list of qemu, host, ram, flash, cmsis, layers, float, m55, cores")
    ap.add_argument("--log", type=Path, help="tuning log to use for 'tuned' (default: tune now, into the work dir)")
    ap.add_argument("--budget", type=int, default=8, help="tuner budget per operator signature")
    ap.add_argument("--jobs", type=int, default=2, help="parallel tuner jobs (QEMU instances)")
    ap.add_argument("--callgrind-runs", type=int, default=2, help="inferences per callgrind run")
    ap.add_argument("--work-dir", type=Path, default=None,
                    help="work folder (default: $TMPDIR/microaot-<uid>/bench, private to you)")
    ap.add_argument("--json", type=Path, default=REPO / "bench" / "results.json")
    ap.add_argument("--anchors", type=Path, default=REPO.parent / "shared" / "anchors",
                    help="folder with cmsis-nn/, cmsis-core/ (and tflite-micro/) sources: section cmsis (and "
                         "TFLM's reference kernels, when --tflm-ref-src is not given)")
    ap.add_argument(
        "--tflm-ref-src",
        type=Path,
        default=None,
        help="folder with TFLM's tensorflow/lite/kernels/internal/reference/integer_ops/*.h (a tflite-micro "
        "checkout): measures TFLM's reference kernels on the M4 (bench/tflm_m4.py); default: "
        "ANCHORS/tflite-micro when present",
    )
    ap.add_argument("--check", action="store_true",
                    help="regression check only: build each model's default firmware and fail (exit 1) when its "
                         "instruction count is > 2%% above --baseline; writes no JSON")
    ap.add_argument("--baseline", type=Path, default=REPO / "bench" / "results.json",
                    help="--check: the committed results to compare with")
    ap.add_argument("--reduced", action="store_true", help="smoke mode: budget 1, one callgrind inference")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.reduced:
        args.budget, args.callgrind_runs = 1, 1
    models = resolve_models(args.models)
    keys = [k for k, _ in models]
    paths = dict(models)
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    bad = sections - {"qemu", "host", "ram", "flash", "cmsis", "layers", "float", "m55", "cores"}
    if bad:
        ap.error(f"unknown section(s) {sorted(bad)}; choose from qemu, host, ram, flash, cmsis, layers, float, m55, "
                 "cores")
    if args.work_dir is None:
        args.work_dir = private_temp_dir("bench")
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    if args.check:
        return run_check(models, args.baseline, work)
    if sections == {"float"}:
        return run_float_only(args.json, work)
    if sections & {"ram", "flash", "cmsis"}:
        sections.add("qemu")  # RAM and flash come from the Cortex-M4 firmware; CMSIS-NN is compared with it
    import cmsis_m4
    import tflm_m4

    if "cmsis" in sections and not cmsis_m4.have_sources(args.anchors):
        log(f"no CMSIS-NN sources under {args.anchors}: section cmsis skipped")
        sections.discard("cmsis")
    if args.tflm_ref_src is None and tflm_m4.have_sources(args.anchors / "tflite-micro"):
        args.tflm_ref_src = args.anchors / "tflite-micro"
    if args.log is None:  # this run's tuning only: a log left by an earlier run holds times of older kernels
        (work / "tuning.jsonl").unlink(missing_ok=True)
    from microaot.reference import run_reference

    t0 = time.monotonic()
    results: dict[str, Any] = {"method": "bench/README.md", "board": QEMU_BOARD, "models": {}}
    # the M55 / M7+M33 sections alone: into the existing results
    merge = bool(sections) and sections <= {"m55", "cores"} and args.json.is_file()
    if merge:
        results = json.loads(args.json.read_text())
        results.setdefault("models", {})
    if sections == {"layers"}:
        keys = []  # the layer classes only: the models' results already in --json are kept
        if args.json.is_file():
            results = {**json.loads(args.json.read_text()), "layers": {}}
    for key in keys:
        model = paths[key]
        info = summarize(model)
        x = seed0_input(model)
        ref = [np.asarray(y) for y in run_reference(model, [x])[0]]
        r: dict[str, Any] = {"model": model.name, "macs": info["macs"], "const_bytes": info["const_bytes"],
                             "planner_lower_bound": info["liveness_lower_bound"]}
        op_indices: list[int] | None = None
        try:
            from microaot.compiler import compile_model

            plan = compile_model(model, work / f"plan-{key}", target="cortex-m4")
            op_indices = [op.index for op in plan.graph.operators]  # microaot's operator i = model operator
            figs = getattr(plan, "memory_figures", None)
            if figs:
                r["planner"] = dict(figs)
                r["planner_lower_bound"] = figs.get("inplace_bound", r["planner_lower_bound"])
        except Exception as exc:  # noqa: BLE001 - the bounds are informative only
            log(f"{key}: planner figures unavailable: {exc}")
        if "qemu" in sections:
            try:
                r["qemu"] = section_qemu(key, model, work, x, ref, args, int(info["macs"]))
            except Exception as exc:  # noqa: BLE001 - report and go on with the other models
                log(f"{key}: QEMU section failed: {exc}")
                r["qemu_error"] = str(exc)[:2000]
        if "cmsis" in sections:
            try:
                r["cmsis"] = section_cmsis(key, model, work, x, r, args.anchors, op_indices)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other models
                log(f"{key}: CMSIS-NN section failed: {exc}")
                r["cmsis"] = {"error": str(exc)[:2000]}
        if "m55" in sections:
            import m55

            log(f"{key}: Cortex-M55 (QEMU mps3-an547): microaot cortex-m55, its DSP kernels, CMSIS-NN MVE")
            try:
                r["m55"] = m55.measure(key, model, work, x, args.anchors, op_indices)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other models
                log(f"{key}: M55 section failed: {exc}")
                r["m55"] = {"error": str(exc)[:2000]}
        if "cores" in sections:
            import cores

            log(f"{key}: Cortex-M7 (AN500, default and tuned) and Cortex-M33 (AN505) on QEMU")
            try:
                r["cores"] = cores.measure(key, model, work)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other models
                log(f"{key}: cores section failed: {exc}")
                r["cores"] = {"error": str(exc)[:2000]}
        if "host" in sections:
            try:
                r["host"] = section_host(key, model, work, x, ref, args.callgrind_runs)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other sections
                r["host"] = {"error": str(exc)[:500]}
        if args.tflm_ref_src is not None and "qemu" in sections:
            log(f"{key}: TFLM reference kernels on the M4 (QEMU), layer by layer")
            try:
                r["tflm_m4"] = tflm_m4.measure(model, args.tflm_ref_src, work / f"tflm-m4-{key}")
                if "qemu" in r:
                    for v in ("generic", "default", "tuned"):
                        r["tflm_m4"][f"ratio_vs_{v}"] = r["tflm_m4"]["total"] / r["qemu"][v]["instructions"]
            except Exception as exc:  # noqa: BLE001 - report and go on
                r["tflm_m4"] = {"error": str(exc)[:1000]}
        if "qemu" in r:
            q = r["qemu"]
            for v in ("default", "tuned"):
                ram = q[v]["workspace"] + (q[v]["model_stack"] or 0)
                q[v]["peak_ram"] = ram
                q[v]["peak_ram_with_io"] = ram + (q[v]["io_bytes"] or 0)
        if "host" in r and "qemu" in r and "error" not in r["host"]:
            # TFLM cannot run on the Cortex-M4 here (no TFLM sources offline). Estimate its M4 count as
            # TFLM's x86-64 count scaled by microaot's own portable-C M4/x86 ratio (same C, both ISAs).
            isa = r["qemu"]["generic"]["instructions"] / r["host"]["microaot_instructions"]
            est = r["host"]["tflm_instructions"] * isa
            r["m4_estimate"] = {"isa_ratio_m4_over_x86": isa, "tflm_m4_estimated": est,
                                "ratio_vs_tuned": est / r["qemu"]["tuned"]["instructions"],
                                "ratio_vs_default": est / r["qemu"]["default"]["instructions"]}
        results["models"][key] = {**results["models"].get(key, {}), **r} if merge else r
        results["seconds_m55" if merge else "seconds"] = round(time.monotonic() - t0, 1)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if "float" in sections:
        results["float"] = float_layers.measure_layers(work / "float", log)
        results["seconds"] = round(time.monotonic() - t0, 1)
    if "layers" in sections:
        import layers

        t1 = time.monotonic()
        results["layers"] = layers.measure_layers(work / "layers", args.anchors, log=log)
        results["layers_seconds"] = round(time.monotonic() - t1, 1)
        if not keys:
            results["seconds"] = results.get("seconds", results["layers_seconds"])
    if sections == {"layers"}:
        saved = results  # the models' tables are not re-printed; their targets stay as committed
        results = {"models": {}, "layers": saved["layers"]}
    report = format_report(results, keys)
    if "layers" in results:
        report += "\n" + "\n".join(layers.report_lines(results["layers"], table))
    print(report)
    if "float" in results:
        print(float_layers.format_float(results["float"]))
    if sections == {"layers"}:
        saved["layer_targets"] = evaluate_targets(results, keys).get("layers")
        results = saved
    elif not merge:
        results["targets"] = evaluate_targets(results, keys)
    args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    took = results["layers_seconds"] if sections == {"layers"} else results["seconds_m55" if merge else "seconds"]
    print(f"\nJSON: {args.json}  ({took:.0f} s)")
    return 0


def format_report(res: dict[str, Any], keys: list[str]) -> str:
    ms = res["models"]
    out: list[str] = []
    for k in keys:
        if "qemu_error" in ms[k]:
            out.append(f"{k}: the Cortex-M4 section failed: {ms[k]['qemu_error'].splitlines()[0][:200]}")
    if any("qemu" in ms[k] for k in keys):
        rows = []
        for k in keys:
            q = ms[k].get("qemu")
            if not q:
                continue
            rows.append([k, ms[k]["macs"], q["generic"]["instructions"], q["default"]["instructions"],
                         q["tuned"]["instructions"], q["tuned_speedup"], q["default"]["instr_per_mac"],
                         q["tuned"]["instr_per_mac"],
                         all(q[v]["bitexact_tflm"] for v in ("generic", "default", "tuned")),
                         all(q[v].get("tensors_equal_generic") for v in ("default", "tuned"))])
        out.append("(1) Cortex-M4 instructions per inference, qemu_mps2_an386 -icount (deterministic)")
        out.append(table(rows, ["model", "MACs", "generic C", "default", "tuned", "tuned x", "instr/MAC def",
                                "instr/MAC tuned", "= TFLM", "all tensors = generic"]))
    if any("tflm_m4" in ms[k] and "total" in ms[k]["tflm_m4"] for k in keys):
        rows = []
        for k in keys:
            t = ms[k].get("tflm_m4", {})
            if "total" not in t or "qemu" not in ms[k]:
                continue
            q = ms[k]["qemu"]
            rows.append([k, t["total"], t["total"] / ms[k]["macs"], q["generic"]["instructions"],
                         q["tuned"]["instructions"],
                         t["ratio_vs_generic"], t["ratio_vs_default"], t["ratio_vs_tuned"]])
        out.append("\n(1b) TFLM reference kernels on the Cortex-M4 (QEMU -icount), MAC layers only (a lower bound of "
                   "TFLM)")
        out.append(table(rows, ["model", "TFLM ref kernels", "instr/MAC", "microaot generic", "microaot tuned",
                                "TFLM/generic", "TFLM/default", "TFLM/tuned"]))
    if any("host" in ms[k] for k in keys):
        rows = []
        for k in keys:
            h = ms[k].get("host")
            if not h:
                continue
            if "error" in h:
                rows.append([k, h["error"][:60], None, None, None, None, None])
                continue
            e = ms[k].get("m4_estimate", {})
            rows.append([k, h["microaot_instructions"], h["tflm_instructions"], h["ratio"], e.get("tflm_m4_estimated"),
                         e.get("ratio_vs_tuned"), h["microaot_bitexact_tflm"]])
        out.append("\n(2) x86-64 instructions per inference, callgrind: microaot generic C vs TFLM reference kernels "
                   "(PyPI tflite-micro Invoke)")
        out.append(table(rows, ["model", "microaot", "TFLM", "TFLM/microaot", "TFLM on M4 (est.)",
                                "est. TFLM-M4 / tuned", "= TFLM"]))
    if any("qemu" in ms[k] for k in keys):
        rows = []
        for k in keys:
            q = ms[k].get("qemu")
            if not q:
                continue
            d, t = q["default"], q["tuned"]
            arena = TFLM_ARENA.get(k)  # extra models: not measured
            rows.append([k, d["workspace"], d["model_stack"], d["peak_ram"], t["peak_ram"], arena,
                         min(d["peak_ram"], t["peak_ram"]) / arena if arena else None, LIVENESS_BOUND.get(k),
                         INPLACE_BOUND.get(k), ms[k]["planner_lower_bound"]])
        out.append("\n(3) peak RAM (bytes) = workspace + stack used by the run (M4, stack painting); TFLM arena; "
                   "bounds")
        out.append(table(rows, ["model", "workspace", "run stack", "peak def", "peak tuned", "TFLM arena",
                                "best/arena", "liveness LB", "in-place LB", "planner in-place LB"]))
        rows = []
        for k in keys:
            q = ms[k].get("qemu")
            if not q:
                continue
            d, t = q["default"], q["tuned"]
            cb = ms[k]["const_bytes"]
            rows.append([k, cb, d["weights"], d["weights"] / cb, d["code"], d["rodata"],
                         d["code"] + d["weights"] + d["rodata"],
                         t["code"] + t["weights"] + t["rodata"], (d["code"] + d["weights"] + d["rodata"]) / cb])
        out.append("\n(4) flash (bytes) of the Cortex-M4 firmware (code includes the RPC server and port, ~"
                   "5-6 KB) vs the model's constant bytes")
        out.append(table(rows, ["model", "model consts", "weights sec", "w/consts", "code", "rodata",
                                "flash def", "flash tuned", "flash def/consts"]))
    out += format_cmsis(res, keys)
    import m55

    out += m55.format_m55(ms, keys, table)
    import cores

    out += cores.format_cores(ms, keys, table)
    return "\n".join(out)


def format_cmsis(res: dict[str, Any], keys: list[str]) -> list[str]:
    """Section (5): CMSIS-NN / microaot per model, geomean, per layer class, and the layers CMSIS-NN wins."""
    ms = res["models"]
    out: list[str] = []
    for k in keys:
        if "error" in ms[k].get("cmsis", {}):
            out.append(f"{k}: the CMSIS-NN section failed: {ms[k]['cmsis']['error'].splitlines()[0][:300]}")
    done = [k for k in keys if "ratio_vs_default" in ms[k].get("cmsis", {})]
    if not done:
        return out
    rows = []
    for k in done:
        c, q = ms[k]["cmsis"], ms[k]["qemu"]
        rows.append(
            [
                k,
                c["total"],
                c["instr_per_mac"],
                q["default"]["instructions"],
                q["tuned"]["instructions"],
                c["ratio_vs_default"],
                c["ratio_vs_tuned"],
                c.get("equal_all"),
            ]
        )
    g_def = geomean([ms[k]["cmsis"]["ratio_vs_default"] for k in done])
    g_tun = geomean([ms[k]["cmsis"]["ratio_vs_tuned"] for k in done])
    rows.append(["geomean", None, None, None, None, g_def, g_tun, None])
    out.append("\n(5) CMSIS-NN (TFLM's Cortex-M kernels, -O2, every layer as TFLM's CMSIS-NN port calls it, "
               "no interpreter) vs microaot, Cortex-M4 instructions (QEMU -icount), same input")
    out.append(table(rows, ["model", "CMSIS-NN", "instr/MAC", "microaot default", "microaot tuned", "CMSIS/default",
                            "CMSIS/tuned", "every layer = microaot"]))
    cls: dict[str, dict[str, float]] = {}
    for k in done:
        for name, c in ms[k]["cmsis"].get("classes", {}).items():
            a = cls.setdefault(name, {"cmsis": 0, "microaot": 0, "layers": 0, "macs": 0})
            for f in ("cmsis", "microaot", "layers", "macs"):
                a[f] += c[f]
    rows = [
        [
            name,
            int(a["layers"]),
            int(a["macs"]),
            int(a["cmsis"]),
            int(a["microaot"]),
            a["cmsis"] / a["macs"] if a["macs"] else None,
            a["microaot"] / a["macs"] if a["macs"] else None,
            a["cmsis"] / a["microaot"] if a["microaot"] else None,
        ]
        for name, a in sorted(cls.items())
    ]
    out.append("\nper layer class, all models above (microaot: default build, PROFILE per operator)")
    out.append(table(rows, ["class", "layers", "MACs", "CMSIS-NN", "microaot", "CMSIS instr/MAC", "microaot instr/MAC",
                            "CMSIS/microaot"]))
    wins = [[k, w["op"], w["opcode"], w["cmsis"], w["microaot"], w["cmsis"] / w["microaot"]]
            for k in done for w in ms[k]["cmsis"].get("cmsis_faster", [])]
    out.append("\nlayers where CMSIS-NN runs fewer instructions than microaot's default build: "
               + ("none" if not wins else ""))
    if wins:
        out.append(table(wins, ["model", "op", "operator", "CMSIS-NN", "microaot", "CMSIS/microaot"]))
    for k in done:
        if ms[k]["cmsis"].get("mismatched_ops"):
            out.append(f"{k}: CMSIS-NN's outputs differ from microaot's at operators "
                       f"{ms[k]['cmsis']['mismatched_ops']}")
    res["cmsis_geomean"] = {"vs_default": g_def, "vs_tuned": g_tun, "models": done}
    return out


def evaluate_targets(res: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    ms = res["models"]
    t: dict[str, Any] = {}
    lines = ["\nissue 6 targets:"]
    meas = [ms[k]["tflm_m4"]["ratio_vs_tuned"] for k in keys if "ratio_vs_tuned" in ms[k].get("tflm_m4", {})]
    if meas:
        g_meas = geomean(meas)
        ok = bool(g_meas and g_meas >= TARGETS["m4_vs_tflm_geomean"] and len(meas) == 4)
        t["m4_vs_tflm_measured"] = {"value": g_meas, "pass": ok, "models": len(meas),
                                    "values": {k: ms[k]["tflm_m4"]["ratio_vs_tuned"] for k in keys
                                               if "ratio_vs_tuned" in ms[k].get("tflm_m4", {})}}
        lines.append(f"  >=25x fewer M4 instructions than TFLM reference kernels (geomean, MEASURED: TFLM's reference "
                     f"kernels of the MAC layers on QEMU M4 vs microaot tuned whole model): {fmt(g_meas)}x over "
                     f"{len(meas)} model(s) [{'PASS' if ok else 'FAIL'}] ("
                     + ", ".join(f"{k} {v:.1f}x" for k, v in t["m4_vs_tflm_measured"]["values"].items()) + ")")
    est = [ms[k]["m4_estimate"]["ratio_vs_tuned"] for k in keys if "m4_estimate" in ms[k]]
    host = [ms[k]["host"]["ratio"] for k in keys if "host" in ms[k] and "ratio" in ms[k]["host"]]
    g_est, g_host = geomean(est), geomean(host)
    if g_est is not None:
        ok = g_est >= TARGETS["m4_vs_tflm_geomean"] and len(est) == 4
        t["m4_vs_tflm_geomean"] = {"value": g_est, "host_measured_geomean": g_host, "pass": ok, "models": len(est)}
        lines.append(f"  {'(secondary) ' if meas else ''}>=25x fewer M4 instructions than TFLM ref (geomean, "
                     "ESTIMATED: TFLM x86 count x microaot M4/x86 "
                     f"ratio): {g_est:.1f}x over {len(est)} model(s) [{'PASS' if ok else 'FAIL'}]; measured on x86-64 "
                     f"(microaot generic C vs TFLM): {fmt(g_host)}x")
    ipm = {k: ms[k]["qemu"]["tuned"]["instr_per_mac"] for k in keys if k in ("kws", "vww", "ic") and "qemu" in ms[k]}
    if ipm:
        ok = all(v <= TARGETS["instr_per_mac"] for v in ipm.values()) and len(ipm) == 3
        t["instr_per_mac"] = {"values": ipm, "pass": ok}
        lines.append("  <=1.2 instr/MAC on kws, vww, ic (tuned): " + ", ".join(f"{k} {v:.2f}" for k, v in ipm.items())
                     + f" [{'PASS' if ok else 'FAIL'}]")
    ram = {k: min(ms[k]["qemu"]["default"]["peak_ram"], ms[k]["qemu"]["tuned"]["peak_ram"]) / TFLM_ARENA[k]
           for k in keys if "qemu" in ms[k] and k in TFLM_ARENA}
    if ram:
        ok = all(v <= TARGETS["ram_vs_arena"] for v in ram.values()) and len(ram) == 4
        t["ram_vs_arena"] = {"values": ram, "pass": ok}
        lines.append("  peak RAM <=0.67x TFLM arena on every "
                     "model: " + ", ".join(f"{k} {v:.2f}" for k, v in ram.items())
                     + f" [{'PASS' if ok else 'FAIL'}]")
    sp = {k: ms[k]["qemu"]["tuned_speedup"] for k in keys if "qemu" in ms[k]}
    if sp:
        n_ok = sum(v >= TARGETS["tuned_speedup"] for v in sp.values())
        t["tuned_speedup"] = {"values": sp, "pass": n_ok >= 2}
        lines.append("  tuned >=1.3x faster than default on >=2 "
                     "models: " + ", ".join(f"{k} {v:.2f}x" for k, v in sp.items())
                     + f" [{'PASS' if n_ok >= 2 else 'FAIL'}]")
    cm = {k: ms[k]["cmsis"] for k in keys if "ratio_vs_default" in ms[k].get("cmsis", {})}
    if cm:
        d = {k: c["ratio_vs_default"] for k, c in cm.items()}
        tu = {k: c["ratio_vs_tuned"] for k, c in cm.items()}
        gd, gt = geomean(list(d.values())), geomean(list(tu.values()))
        full = all(k in cm for k in MODELS)
        ok_every = all(v >= TARGETS21["default_every"] for v in d.values()) and full
        ok_gd = bool(gd and gd >= TARGETS21["default_geomean"]) and full
        ok_gt = bool(gt and gt >= TARGETS21["tuned_geomean"]) and full
        t["cmsis_default_every"] = {"values": d, "pass": ok_every}
        t["cmsis_default_geomean"] = {"value": gd, "pass": ok_gd}
        t["cmsis_tuned_geomean"] = {"value": gt, "pass": ok_gt}
        lines.append("issue 21 targets (CMSIS-NN instructions / microaot's, Cortex-M4):")
        lines.append("  default >= 2.5x on every MLPerf model: " + ", ".join(f"{k} {v:.2f}x" for k, v in d.items())
                     + f" [{'PASS' if ok_every else 'FAIL'}]")
        lines.append(f"  default >= 3x geomean: {fmt(gd)}x [{'PASS' if ok_gd else 'FAIL'}]")
        lines.append(f"  tuned >= 3.5x geomean: {fmt(gt)}x [{'PASS' if ok_gt else 'FAIL'}]")
    if "layers" in res:
        import layers

        if not cm:
            lines.append("issue 21 targets:")
        lt = layers.layer_targets(res["layers"])
        t["layers"] = lt
        lines.append(f"  every int8 layer class <= {layers.TARGET_INSTR_PER_MAC} instr/MAC (default build, generated "
                     "single layers): " + ", ".join(f"{c} {v:.2f}" for c, v in lt["class_worst_instr_per_mac"].items())
                     + f" [{'PASS' if lt['instr_per_mac_pass'] else 'FAIL'}]")
        lines.append("  no layer where CMSIS-NN is faster by > 5 % (generated single layers): "
                     + (", ".join(lt["cmsis_faster_by_5pct"]) or "none")
                     + f" [{'PASS' if lt['cmsis_pass'] else 'FAIL'}]")
    if cm:
        slow = [f"{k} op {w['op']} ({w['opcode']})" for k, c in cm.items() for w in c.get("cmsis_faster", [])
                if w["cmsis"] * 1.05 < w["microaot"]]
        t["cmsis_model_layers"] = {"slower_by_5pct": slow, "pass": not slow}
        lines.append("  no MLPerf layer where CMSIS-NN is faster by > 5 %: " + (", ".join(slow) or "none")
                     + f" [{'PASS' if not slow else 'FAIL'}]")
    if len(keys) < 4:
        lines.append("  (a reduced run: targets over all four models need --models kws,vww,ic,ad)")
    lines.append("  context (not a target; cycles of real M4 boards vs our QEMU instruction counts, which are "
                 "not cycles): published Mcycles " + "; ".join(
                     f"{name}: " + ", ".join(f"{k} {ANCHOR_MS[name][k] * ANCHOR_HZ / 1e9:.1f}" for k in keys
                                           if k in ANCHOR_MS[name])
                     for name in ANCHOR_MS if any(k in ANCHOR_MS[name] for k in keys))
        + "; microaot tuned M-instructions: " + ", ".join(
                     f"{k} {ms[k]['qemu']['tuned']['instructions'] / 1e6:.1f}" for k in keys if "qemu" in ms[k]))
    print("\n".join(lines))
    return t


if __name__ == "__main__":
    sys.exit(main())
