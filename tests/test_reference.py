"""microaot.reference: TFLM in a subprocess, batched, with a clear error when the child fails."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import mlperf_model
from microaot.reference import ReferenceError, run_reference


def test_batched_reference_runs_every_set() -> None:
    sets = [[np.random.default_rng(s).integers(-128, 128, size=(1, 640), dtype=np.int8)] for s in range(3)]
    outs = run_reference(mlperf_model("ad"), sets)
    assert len(outs) == 3 and all(len(o) == 1 and o[0].shape == (1, 640) for o in outs)
    assert not np.array_equal(outs[0][0], outs[1][0])


def test_child_failure_is_reported() -> None:
    with pytest.raises(
        ReferenceError, match=r"kws_dscnn_int8.tflite: the TFLM reference subprocess .*\(arena 1000 bytes\)"
    ):
        run_reference(mlperf_model("kws"), [[np.zeros((1, 49, 10, 1), np.int8)]], arena_size=1000)
