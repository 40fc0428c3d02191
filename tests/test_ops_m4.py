"""The operators of the activation/elementwise/shape kernel families on a Cortex-M4 (QEMU mps2-an386).

Same oracle as tests/test_ops.py (TFLM on the host), but the generated code and kernels are built
with arm-none-eabi-gcc (hard float) and run in QEMU through ``microaot.testing.m4run``: int8
outputs must be byte-identical on the target as well, float32 outputs within FLOAT_RTOL (the float
LOGISTIC/TANH and float->int8 QUANTIZE kernels call newlib's libm). A few cases per operator.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from microaot.compiler import compile_model
from microaot.testing.batch import run_reference_many

m4run = pytest.importorskip("microaot.testing.m4run")

from test_ops import CASES, FLOAT_RTOL, Case, _int8_new_ops, _model_inputs  # noqa: E402

pytestmark = pytest.mark.qemu

OPS = {"ADD", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MUL", "RELU", "RELU6", "LOGISTIC", "TANH", "QUANTIZE", "DEQUANTIZE",
       "CONCATENATION", "PAD", "PADV2", "MEAN"}


def _selected() -> list[Case]:
    """First seed; first and last int8 case, first float32 case per operator (no fuzz), and every case with
    extreme inputs (AVERAGE_POOL_2D: its SXTAB16 blocks and int16 lane limits run only on the M4)."""
    by_key: dict[tuple[str, str], list[Case]] = {}
    for c in CASES:
        sp = c.spec
        if sp.op not in OPS or sp.case == "fuzz" or c.seed != sp.seeds[0]:
            continue
        by_key.setdefault((sp.op, sp.dtype), []).append(c)
    out: list[Case] = []
    for cs in by_key.values():
        picked = cs[:1] if len(cs) == 1 or cs[0].spec.dtype == "float32" else [cs[0], cs[-1]]
        out.extend(c for c in cs if c in picked or c.spec.extreme_int8)
    return out


def test_ops_bit_exact_on_cortex_m4(tmp_path: Path) -> None:
    if not m4run.available():
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm missing")
    cases = _selected()
    models: list[tuple[str, bytes, list[list[np.ndarray]], str]] = []
    for i, c in enumerate(cases):
        rng = np.random.default_rng(7000 + i)
        m = c.spec.build(rng)
        models.append((c.id, m, _model_inputs(m, c.spec, rng), c.spec.dtype))
    rng = np.random.default_rng(11)
    models.append(("multi_op_int8", _int8_new_ops(rng),
                   [[rng.integers(-128, 128, (1, 10, 10, 2)).astype(np.int8)] for _ in range(3)], "int8"))
    paths = []
    for i, (_, m, _, _) in enumerate(models):
        p = tmp_path / f"m4case{i}.tflite"
        p.write_bytes(m)
        paths.append(p)
    refs = run_reference_many(paths, [m[2] for m in models])

    def run(i: int) -> str | None:
        cid, _, ins, dtype = models[i]
        ref = refs[i]
        if isinstance(ref, Exception):
            return f"{cid}: TFLM failed: {ref}"
        try:
            r = compile_model(paths[i], tmp_path / f"src{i}", name=f"m4c{i}", target="cortex-m4")
            res = m4run.run_m4(r, ins, tmp_path / f"fw{i}")
        except Exception as e:
            return f"{cid}: {type(e).__name__}: {str(e)[-1500:]}"
        for si, (o_set, r_set) in enumerate(zip(res.outputs, ref, strict=True)):
            o, rr = np.asarray(o_set[0]).reshape(-1), np.asarray(r_set[0]).reshape(-1)
            if o.dtype == np.float32:
                tol = FLOAT_RTOL * max(float(np.abs(rr).max()), 1e-30)
                if not np.allclose(o, rr, rtol=FLOAT_RTOL, atol=tol):
                    return f"{cid} set {si}: float mismatch, max |diff| {float(np.abs(o - rr).max())}"
            elif not np.array_equal(o, rr):
                d = np.nonzero(o != rr)[0]
                return f"{cid} set {si}: {d.size} bytes differ, first {d[:6].tolist()}: {o[d[:6]]} vs {rr[d[:6]]}"
        return None

    with ThreadPoolExecutor(max_workers=2) as ex:
        errors = [e for e in ex.map(run, range(len(models))) if e]
    assert not errors, f"{len(errors)} of {len(models)} models differ on the M4:\n" + "\n".join(errors)
