"""Float fidelity: how far microaot's float32 outputs may be from TFLM's, per operator.

microaot's float kernels take exp/expm1/log/tanh/sqrt from its own crt/include/microaot/fmath.h (the
same bytes on the host and on every device); TFLM calls the host's libm. Where an operator's result
goes through one of those functions, the two can differ by a few units in the last place (ulp). The
bounds below are the largest distance allowed per operator (docs/operators.md gives the table and
why); every other float32 operator is bit-exact (bound 0). The operator tests and ``microaot eval``
compare float32 outputs with these bounds and report the largest distance seen.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# operator -> largest ulp distance from TFLM allowed for its float32 output (absent: 0, bit-exact); SVDF: only
# with a fused TANH (bit-exact otherwise)
ULP_BOUND: dict[str, int] = {"EXP": 1, "LOG": 1, "ELU": 1, "LOGISTIC": 3, "TANH": 2, "SOFTMAX": 8,
                             "UNIDIRECTIONAL_SEQUENCE_LSTM": 8, "SVDF": 2}
# operator -> magnitude below which its float32 outputs are compared in ulps of that magnitude (an absolute
# tolerance) instead of their own: an LSTM's outputs lie in (-1, 1) and come out of a recurrence through
# tanh / sigmoid, so a result near 0 carries the absolute error of its larger terms (a few 2^-24), which
# counted in that tiny value's own ulps is unbounded
ULP_FLOOR: dict[str, float] = {"UNIDIRECTIONAL_SEQUENCE_LSTM": 0.5}


def ulp_distance(a: np.ndarray, b: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Elementwise distance of two float32 arrays in ulps (0 where equal, also +0/-0, or both NaN). With
    ``floor`` > 0, values closer to each other than that many ulps of ``floor`` (an absolute distance) count
    as that many: the distance is the smaller of the two measures."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    ai = a.view(np.int32).astype(np.int64)
    bi = b.view(np.int32).astype(np.int64)
    ai = np.where(ai < 0, -(2**31) - ai, ai)
    bi = np.where(bi < 0, -(2**31) - bi, bi)
    d = np.abs(ai - bi)
    if floor > 0.0:
        with np.errstate(invalid="ignore", over="ignore"):
            absd = np.ceil(np.abs(a.astype(np.float64) - b.astype(np.float64)) / float(np.spacing(np.float32(floor))))
        d = np.where(np.isfinite(absd), np.minimum(d, absd), d).astype(np.int64)
    return np.where((np.isnan(a) & np.isnan(b)) | (a == b), 0, d)


def model_ulp_floor(op_names: Iterable[str]) -> float:
    """The ``floor`` of :func:`ulp_distance` for a model's float32 outputs: the largest among its operators."""
    return max((ULP_FLOOR.get(n, 0.0) for n in op_names), default=0.0)


def model_ulp_bound(op_names: Iterable[str]) -> int:
    """The bound for a model's float32 outputs: the largest bound among its operators."""
    return max((ULP_BOUND.get(n, 0) for n in op_names), default=0)
