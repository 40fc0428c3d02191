"""The four MLPerf Tiny models: compiled, built with the host gcc (-Wall -Wextra -Werror), run on
seeded inputs and compared byte for byte with TFLM; plus the seed-0 outputs published in
shared/models/README.md, determinism of the generated files and a Cortex-M4 compile."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from conftest import MLPERF_MODELS, mlperf_model
from microaot.compiler import CompileResult, compile_model
from microaot.hostbuild import build_model_shared_lib, run_compiled
from microaot.paths import crt_root, shared_models_dir
from microaot.reference import run_reference

N_SEEDS = 20
KEYS = list(MLPERF_MODELS)


@dataclass
class Built:
    result: CompileResult
    lib: Path
    inputs: list[np.ndarray]
    reference: list[list[np.ndarray]]


def seeded_input(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=shape, dtype=np.int8)


@pytest.fixture(scope="session")
def mlperf_built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Each model compiled and built once per session, TFLM run once per model on all seeds."""
    out: dict[str, Built] = {}
    for key in KEYS:
        d = tmp_path_factory.mktemp(f"mlperf_{key}")
        r = compile_model(mlperf_model(key), d)
        lib = build_model_shared_lib(r, d)
        shape = r.graph.tensors[r.graph.inputs[0]].shape
        inputs = [seeded_input(s, shape) for s in range(N_SEEDS)]
        ref = run_reference(mlperf_model(key), [[x] for x in inputs])
        out[key] = Built(r, lib, inputs, ref)
    return out


@pytest.mark.parametrize("key", KEYS)
def test_bit_exact_with_tflm(mlperf_built: dict[str, Built], key: str) -> None:
    b = mlperf_built[key]
    mismatches = []
    for seed, x in enumerate(b.inputs):
        got = run_compiled(b.result, b.lib, [x])[0]
        want = b.reference[seed][0]
        assert got.dtype == want.dtype and got.size == want.size
        if not np.array_equal(got.reshape(-1), want.reshape(-1)):
            d = np.abs(got.reshape(-1).astype(int) - want.reshape(-1).astype(int))
            mismatches.append(f"seed {seed}: {int(np.count_nonzero(d))} values differ, max {int(d.max())}")
    assert not mismatches, f"{key}: " + "; ".join(mismatches)


def _readme_seed0(file_name: str) -> tuple[str, list[int]]:
    """(input sha256/16, output values) published for seed 0 in shared/models/README.md."""
    text = (shared_models_dir() / "README.md").read_text()
    section = text.split(f"### `{file_name}`", 1)[1].split("\n### ", 1)[0]
    m = re.search(r"Output for seed-0 input\*\* \(input sha256/16 `([0-9a-f]{16})`.*?```\s*\n(.*?)\n\s*```",
                  section, re.S)
    assert m, f"seed-0 output of {file_name} not found in README.md"
    return m.group(1), [int(v) for v in m.group(2).replace("\n", " ").split(",")]


@pytest.mark.parametrize("key", KEYS)
def test_seed0_matches_published_output(mlperf_built: dict[str, Built], key: str) -> None:
    b = mlperf_built[key]
    in_hash, expected = _readme_seed0(MLPERF_MODELS[key])
    x = b.inputs[0]
    assert hashlib.sha256(x.tobytes()).hexdigest()[:16] == in_hash
    got = run_compiled(b.result, b.lib, [x])[0].reshape(-1).tolist()
    assert got == expected


@pytest.mark.parametrize("key", KEYS)
def test_workspace_close_to_liveness_bound(mlperf_built: dict[str, Built], key: str) -> None:
    r = mlperf_built[key].result
    plan = r.plan
    assert plan.lower_bound <= r.workspace_size
    # the greedy plan reaches the bound up to the 16-byte alignment of each buffer
    assert r.workspace_size <= plan.lower_bound + 16 * len(plan.buffers)
    assert r.workspace_size % 16 == 0
    # RESHAPE costs nothing: its output aliases the input
    reshapes = {op.index for op in r.graph.operators if op.opcode == "RESHAPE"}
    assert reshapes <= plan.aliased_ops


def test_codegen_is_deterministic(tmp_path: Path) -> None:
    model = mlperf_model("ic")
    a = compile_model(model, tmp_path / "a")
    b = compile_model(model, tmp_path / "b")
    for pa, pb in [(a.sources[0], b.sources[0]), (a.header, b.header)]:
        assert pa.read_bytes() == pb.read_bytes()
    text = a.sources[0].read_text()
    assert a.model_hash in text
    assert not re.search(r"20\d\d-\d\d-\d\d", text)  # no timestamps


def test_generated_code_uses_no_allocation_or_io(mlperf_built: dict[str, Built]) -> None:
    for b in mlperf_built.values():
        for p in [*b.result.sources, b.result.header, *b.result.kernel_sources]:
            code = re.sub(r"/\*.*?\*/", "", p.read_text(), flags=re.S)
            for bad in ("malloc", "calloc", "realloc", "free(", "printf", "<stdio.h>", "<stdlib.h>"):
                assert bad not in code, f"{p.name} uses {bad}"


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
def test_generated_code_compiles_for_cortex_m4(mlperf_built: dict[str, Built], tmp_path: Path) -> None:
    flags = ["-std=c99", "-O2", "-mcpu=cortex-m4", "-mthumb", "-Wall", "-Wextra", "-Werror",
             f"-I{crt_root() / 'include'}"]
    srcs: set[Path] = set()
    for b in mlperf_built.values():
        srcs.update(b.result.sources)
        srcs.update(b.result.kernel_sources)
    for src in sorted(srcs):
        proc = subprocess.run(
            ["arm-none-eabi-gcc", *flags, f"-I{src.parent}", "-c", str(src), "-o", str(tmp_path / (src.stem + ".o"))],
            capture_output=True, text=True, check=False,
        )
        assert proc.returncode == 0, f"{src}:\n{proc.stderr}"
