"""Graph inputs and outputs of dtype int64 and bool (issue 18): uaot_dtype_t codes 7 (UAOT_DTYPE_INT64) and 6
(UAOT_DTYPE_BOOL) in the generated descriptor, carried by the RPC server and the host Session, and evaluated
bit-exact with TFLM through the host board."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from microaot.cli import main
from microaot.compiler import compile_model
from microaot.hostbuild import build_model_shared_lib, run_compiled
from microaot.reference import run_reference
from microaot.rpc import protocol as P
from microaot.testing import modelgen as mg


def _io_model() -> bytes:
    """int64 a, int64 b -> CONCATENATION -> int64 out; bool c -> LOGICAL_NOT -> bool out; int8 d, e -> EQUAL ->
    bool out."""
    mb = mg.ModelBuilder()
    a = mb.add_input("a64", (2, 3), "int64")
    b = mb.add_input("b64", (2, 2), "int64")
    c = mb.add_input("flags", (7,), "bool")
    q = mg.ActQ(0.05, 3).quant
    d = mb.add_input("d8", (1, 9), "int8", quant=q)
    e = mb.add_input("e8", (1, 9), "int8", quant=q)
    y = mb.add_tensor("cat64", (2, 5), "int64")
    mb.add_operator("CONCATENATION", [a, b], [y], mg.ConcatenationOptions(axis=1))
    n = mb.add_tensor("not_flags", (7,), "bool")
    mb.add_operator("LOGICAL_NOT", [c], [n], mg.TableOptions("LogicalNotOptions"))
    eq = mb.add_tensor("eq", (1, 9), "bool")
    mb.add_operator("EQUAL", [d, e], [eq], mg.TableOptions("EqualOptions"))
    mb.set_outputs([y, n, eq])
    return mb.to_bytes()


def test_int64_bool_dtype_codes_in_descriptor(tmp_path: Path) -> None:
    model = tmp_path / "io64.tflite"
    model.write_bytes(_io_model())
    r = compile_model(model, tmp_path / "gen", name="io64")
    src = r.sources[0].read_text()
    codes = [int(v) for v in re.findall(r"\{ \.name = \"\w+\", \.dtype = (\d+)", src)]
    assert codes == [7, 7, 6, 1, 1, 7, 6, 6]  # the five inputs, then the three outputs, in graph order
    assert P.DTYPES[7] == "int64" and P.DTYPES[6] == "bool"
    header = (Path(__file__).resolve().parents[1] / "crt/include/microaot/model.h").read_text()
    assert re.search(r"UAOT_DTYPE_INT64 = 7", header)


def test_int64_bool_model_io_on_host(tmp_path: Path) -> None:
    """The generated code on the host (ctypes): int64 and bool inputs and outputs bit-exact with TFLM."""
    model = tmp_path / "io64.tflite"
    model.write_bytes(_io_model())
    r = compile_model(model, tmp_path / "gen", name="io64h")
    lib = build_model_shared_lib(r, tmp_path / "lib")
    rng = np.random.default_rng(0)
    sets = [[rng.integers(-2**63, 2**63 - 1, size=(2, 3), dtype=np.int64),
             rng.integers(-2**63, 2**63 - 1, size=(2, 2), dtype=np.int64),
             rng.integers(0, 2, size=(7,)).astype(np.bool_),
             rng.integers(-128, 128, size=(1, 9)).astype(np.int8),
             rng.integers(-2, 3, size=(1, 9)).astype(np.int8)] for _ in range(3)]
    for xs, ref in zip(sets, run_reference(model, sets), strict=True):
        got = run_compiled(r, lib, xs)
        assert [g.dtype for g in got] == [np.int64, np.bool_, np.bool_]
        assert [g.tobytes() for g in got] == [np.ascontiguousarray(o).tobytes() for o in ref]


@pytest.mark.slow
def test_int64_bool_model_io_over_rpc(tmp_path: Path) -> None:
    """eval on the host board: int64 and bool inputs written and outputs read over RPC, bit-exact with TFLM
    (3 seeds: random full-range int64, random 0/1 bools, int8 pairs)."""
    model = tmp_path / "io64.tflite"
    model.write_bytes(_io_model())
    report = tmp_path / "r.json"
    assert main(["eval", str(model), "--board", "host", "--work-dir", str(tmp_path / "w"), "--json", str(report)]) == 0
    rep = json.loads(report.read_text())
    assert rep["outputs_match"] is True and rep["tensors_match"] is True and rep["mismatches"] == []
    assert rep["compared_bytes"] == 3 * (10 * 8 + 7 + 9)
