"""Smoke runs of bench/bench.py on the smallest MLPerf model in reduced mode (no numbers are asserted:
the bench is a measurement, not a timed test)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench" / "bench.py"
MODEL = Path("/work/shared/models/ad_autoencoder_int8.tflite")

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
def test_bench_host_callgrind_smoke(tmp_path: Path) -> None:
    res = _bench(tmp_path, "--sections", "host")
    h = res["models"]["ad"]["host"]
    assert "error" not in h, h
    assert h["microaot_instructions"] > 0 and h["tflm_instructions"] > 0
    assert h["microaot_bitexact_tflm"] is True and h["tflm_same_as_reference"] is True


@pytest.mark.qemu
@pytest.mark.skipif(not os.environ.get("MICROAOT_TFLM_REF_SRC"),
                    reason="set MICROAOT_TFLM_REF_SRC to a folder with TFLM's reference integer_ops headers")
def test_tflm_reference_kernels_on_m4_smoke(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    import tflm_m4

    r = tflm_m4.measure(MODEL, Path(os.environ["MICROAOT_TFLM_REF_SRC"]), tmp_path)
    assert r["layers"] == 10 and len(r["per_layer"]) == 10 and r["total"] > 264_192  # > 1 instruction per MAC
