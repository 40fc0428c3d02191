"""Smoke runs of bench/bench.py on the smallest MLPerf model in reduced mode (no numbers are asserted:
the bench is a measurement, not a timed test)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from microaot.paths import repo_root

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench" / "bench.py"
MODEL = repo_root().parent / "shared" / "models" / "ad_autoencoder_int8.tflite"

pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason="MLPerf models not available")


def _bench(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "results.json"
    p = subprocess.run([sys.executable, str(BENCH), "--models", "ad", "--reduced", "-q", "--work-dir",
                        str(tmp_path / "work"), "--json", str(out), *args], capture_output=True, text=True,
                       timeout=600, check=False)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    assert "issue 6 targets" in p.stdout
    return json.loads(out.read_text())


@pytest.mark.pio
@pytest.mark.qemu
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs qemu-system-arm and arm-none-eabi-gcc")
def test_bench_qemu_ram_flash_smoke(tmp_path: Path) -> None:
    log = tmp_path / "empty.jsonl"
    log.write_text("")
    res = _bench(tmp_path, "--sections", "qemu,ram,flash", "--log", str(log))
    q = res["models"]["ad"]["qemu"]
    for v in ("generic", "default", "tuned"):
        assert q[v]["unit"] == "instructions" and q[v]["instructions"] > 0
        # -icount: deterministic up to the counter's tick (40 ns = 5 instructions at shift 3)
        assert abs(q[v]["instructions"] - q[v]["instructions_run2"]) <= 5
        assert q[v]["bitexact_tflm"] is True
        assert len(q[v]["op_hashes"]) == 10  # AD: 10 operators, one OPCHECK hash each
    assert q["default"]["tensors_equal_generic"] is True and q["tuned"]["tensors_equal_generic"] is True
    assert q["default"]["peak_ram"] >= q["default"]["workspace"] > 0
    assert q["default"]["weights"] > 0 and q["default"]["code"] > 0
    assert "ram_vs_arena" in res["targets"] and "tuned_speedup" in res["targets"]


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind")
@pytest.mark.slow  # CI runs the QEMU bench smoke test below; callgrind is the host-only section
def test_bench_host_callgrind_smoke(tmp_path: Path) -> None:
    res = _bench(tmp_path, "--sections", "host")
    h = res["models"]["ad"]["host"]
    assert "error" not in h, h
    assert h["microaot_instructions"] > 0 and h["tflm_instructions"] > 0
    assert h["microaot_bitexact_tflm"] is True and h["tflm_same_as_reference"] is True


TFLM_REF_SRC = Path(
    os.environ.get("MICROAOT_TFLM_REF_SRC", str(repo_root().parent / "shared" / "anchors" / "tflite-micro"))
)


@pytest.mark.qemu
@pytest.mark.skipif(not (TFLM_REF_SRC / "tensorflow").is_dir() and not (TFLM_REF_SRC / "tflite").is_dir(),
                    reason="TFLM's reference integer_ops headers absent (../shared/anchors/tflite-micro beside the "
                           "checkout, or set "
                           "MICROAOT_TFLM_REF_SRC to a tflite-micro checkout)")
def test_tflm_reference_kernels_on_m4_smoke(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    import tflm_m4

    r = tflm_m4.measure(MODEL, TFLM_REF_SRC, tmp_path)
    assert r["layers"] == 10 and len(r["per_layer"]) == 10 and r["total"] > 264_192  # > 1 instruction per MAC


ANCHORS = repo_root().parent / "shared" / "anchors"
M4_TOOLS = shutil.which("qemu-system-arm") is not None and shutil.which("arm-none-eabi-gcc") is not None


@pytest.mark.qemu
@pytest.mark.skipif(not (ANCHORS / "cmsis-nn" / "Include" / "arm_nnfunctions.h").is_file(),
                    reason="CMSIS-NN sources absent (../shared/anchors/cmsis-nn beside the checkout, see its README): "
                           "the bench's "
                           "CMSIS-NN harness cannot be built")
@pytest.mark.skipif(not M4_TOOLS, reason="needs qemu-system-arm and arm-none-eabi-gcc")
def test_cmsis_nn_harness_layers_equal_microaot(tmp_path: Path) -> None:
    """bench/cmsis_m4.py on AD: CMSIS-NN runs every layer on the M4 and each layer's output hashes as
    microaot's OPCHECK hash of that operator (host build of the same model, same seed-0 input)."""
    sys.path.insert(0, str(REPO / "bench"))
    import cmsis_m4

    from microaot.compiler import compile_model
    from microaot.reference import run_reference
    from microaot.rpc.hostboard import start_host_board
    from microaot.rpc.protocol import fnv1a32

    x = np.random.default_rng(0).integers(-128, 128, size=(1, 640), dtype=np.int8)  # bench's seed-0 input
    r = cmsis_m4.measure(MODEL, [x], tmp_path / "cmsis")
    assert [(d["op"], d["opcode"]) for d in r["layers"]] == [(i, "FULLY_CONNECTED") for i in range(10)]
    assert r["total"] == sum(d["instructions"] for d in r["layers"])
    # the M4 does at most 2 MACs per instruction (SMLAD): a counter that works reads more than macs / 2
    assert all(d["instructions"] > d["macs"] // 2 > 0 for d in r["layers"])
    result = compile_model(MODEL, tmp_path / "gen", target="generic")
    s = start_host_board(result, tmp_path / "host", timeout=60.0)
    try:
        s.write_input(0, x)
        hashes = s.op_hashes()
    finally:
        s.close()
    assert [d["hash"] for d in r["layers"]] == hashes
    y = np.asarray(run_reference(MODEL, [[x]])[0][0])
    assert r["layers"][-1]["hash"] == fnv1a32(y.tobytes())  # and the last one is TFLM's output
    ops = [op.index for op in result.graph.operators]
    assert cmsis_m4.compare(r, ops, hashes, None)["equal_all"] is True
    wrong = [*hashes[:3], hashes[3] ^ 1, *hashes[4:]]
    c = cmsis_m4.compare(r, ops, wrong, [1000.0] * 10)
    assert c["equal_all"] is False and c["mismatched_ops"] == [3]
    assert c["classes"]["fully connected"]["layers"] == 10 and c["cmsis_faster"] == []


@pytest.mark.qemu
@pytest.mark.slow  # builds CMSIS-NN for the M55 (once per machine: ~1 min)
@pytest.mark.skipif(not M4_TOOLS, reason="needs qemu-system-arm and arm-none-eabi-gcc")
def test_cmsis_nn_mve_harness_on_the_m55_equals_microaot(tmp_path: Path) -> None:
    """The bench's M55 comparison (section m55): CMSIS-NN built with -mcpu=cortex-m55 (its MVE paths, FC kernel
    sums precomputed as TFLM's Prepare does) on QEMU mps3-an547 computes every AD layer as microaot's Helium
    build does (OPCHECK hashes of m4run on the same machine), and the last one is TFLM's output."""
    sys.path.insert(0, str(REPO / "bench"))
    import cmsis_m4

    from microaot.reference import run_reference
    from microaot.rpc.protocol import fnv1a32
    from microaot.testing import m4run

    x = np.random.default_rng(0).integers(-128, 128, size=(1, 640), dtype=np.int8)
    r = cmsis_m4.measure(MODEL, [x], tmp_path / "cmsis", machine=m4run.MACHINES["mps3-an547"])
    assert "-mcpu=cortex-m55" in r["flags"] and "-DARM_MATH_MVEI" in r["flags"]
    mine = m4run.measure(MODEL, target="cortex-m55", seed=0, build_dir=tmp_path / "m55", check=False)
    assert [d["hash"] for d in r["layers"]] == mine["op_hashes"]
    y = np.asarray(run_reference(MODEL, [[x]])[0][0])
    assert r["layers"][-1]["hash"] == fnv1a32(y.tobytes())


@pytest.mark.pio
@pytest.mark.qemu
@pytest.mark.skipif(not M4_TOOLS, reason="needs qemu-system-arm and arm-none-eabi-gcc")
def test_bench_check_default_count_against_committed_results(tmp_path: Path) -> None:
    """bench.py --check on AD: passes against the committed bench/results.json (the regression check), and
    fails, naming the model and both counts, against a baseline the current count exceeds by more than 2%."""
    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(BENCH), "--check", "--models", "ad", "-q", "--work-dir",
                               str(tmp_path / "work"), *args], capture_output=True, text=True, timeout=600, check=False)

    committed = json.loads((REPO / "bench" / "results.json").read_text())["models"]["ad"]["qemu"]["default"]
    p = check()
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    m = re.search(r"ad \(ad_autoencoder_int8\.tflite\) default build ([\d,]+) instructions, "
                  r"committed ([\d,]+)", p.stdout)
    assert m, p.stdout
    new, old = (int(v.replace(",", "")) for v in m.groups())
    assert old == committed["instructions"] and new <= old * 1.02 and "[PASS]" in p.stdout
    base = tmp_path / "baseline.json"
    low = int(new / 1.025)  # the current count is 2.5% above this baseline
    base.write_text(json.dumps({"models": {"ad": {"qemu": {"default": {"instructions": low}}}}}))
    p = check("--baseline", str(base))
    assert p.returncode == 1, p.stdout + p.stderr[-3000:]
    m = re.search(rf"ad \(ad_autoencoder_int8\.tflite\) default build ([\d,]+) instructions, committed {low:,} ",
                  p.stdout)
    assert m, p.stdout
    assert abs(int(m.group(1).replace(",", "")) - new) <= 5  # -icount: the same count up to one 5-instruction tick
    assert "FAIL: rose more than 2%" in p.stdout


def test_bench_layer_targets_judge_each_class_and_cmsis() -> None:
    """bench/layers.py: the worst layer of a class decides its instr/MAC target; a layer CMSIS-NN runs in
    fewer than microaot / 1.05 instructions fails the CMSIS target; a layer off TFLM or off CMSIS-NN's output
    is listed as not bit-exact."""
    sys.path.insert(0, str(REPO / "bench"))
    import layers

    def row(cls: str, macs: int, ours: int, cmsis: int | None, exact: bool = True) -> dict:
        return {"class": cls, "macs": macs, "microaot": ours, "instr_per_mac": ours / macs if macs else None,
                "macs_target": macs > 0, "bit_exact": exact, "cmsis": cmsis, "cmsis_equal": exact}

    rows = {"a": row("dw", 1000, 1500, 3000), "b": row("dw", 1000, 1700, 3000), "c": row("fc", 100, 150, 300),
            "tiny": row("fc tiny", 0, 1049, 1000), "head": row("fc tiny", 0, 1051, 1000)}
    t = layers.layer_targets(rows)
    assert t["class_worst_instr_per_mac"] == {"dw": 1.7, "fc": 1.5}
    assert t["instr_per_mac_pass"] is False and t["cmsis_faster_by_5pct"] == ["head"] and t["cmsis_pass"] is False
    rows["b"] = row("dw", 1000, 1600, 3000, exact=False)
    del rows["head"]
    t = layers.layer_targets(rows)
    assert t["instr_per_mac_pass"] is True and t["cmsis_pass"] is True and t["not_bit_exact"] == ["b"]


@pytest.mark.qemu
@pytest.mark.skipif(not M4_TOOLS, reason="needs qemu-system-arm and arm-none-eabi-gcc")
def test_bench_layers_section_on_a_2_class_head(tmp_path: Path) -> None:
    """bench section layers, one generated layer (FC 256->2): microaot's default build bit-exact with TFLM and
    the generic build, CMSIS-NN's output equal to microaot's, and microaot within 5 % of CMSIS-NN."""
    sys.path.insert(0, str(REPO / "bench"))
    import layers

    rows = layers.measure_layers(tmp_path, repo_root().parent / "shared" / "anchors", ["fc 256->2"], log=lambda s: None)
    r = rows["fc 256->2"]
    assert r["bit_exact"] and r["cmsis_equal"], r
    assert r["macs"] == 512 and r["microaot"] > 256 and r["cmsis"] > 256
    assert r["microaot"] <= 1.05 * r["cmsis"], r
