"""Reference outputs from TFLM (PyPI ``tflite-micro``), run in a subprocess.

The TFLM Python wrapper can crash the whole process (e.g. on a too small arena), so every call
runs in a child Python; a batch of input sets goes through one child to keep the start-up cost
(~0.5 s) low. Usage::

    outs = run_reference("model.tflite", [[x0], [x1]])   # -> [[y0...], [y1...]]

The input sets run one after the other in one interpreter: a stateful model (LSTM, SVDF, resource
variables, the signal library's framer ...) sees them as one sequence; ``sequence_length=N`` resets the
interpreter's state (``interpreter.reset()``) before every N-th set instead (sequences of N steps).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from microaot.errors import MicroaotError

DEFAULT_ARENA = 2 * 1024 * 1024


class ReferenceError(MicroaotError):
    """The TFLM reference interpreter failed or crashed."""


def run_reference(
    model_path: str | Path,
    input_sets: Sequence[Sequence[np.ndarray]],
    *,
    arena_size: int = DEFAULT_ARENA,
    timeout: float = 600.0,
    sequence_length: int = 0,
) -> list[list[np.ndarray]]:
    """Run TFLM once per input set; returns the outputs of every set (in graph output order).
    sequence_length > 0: reset the interpreter's state before sets 0, N, 2N, ... (0: never)."""
    model_path = Path(model_path)
    with tempfile.TemporaryDirectory(prefix="microaot_ref_") as td:
        inp, outp = Path(td) / "in.npz", Path(td) / "out.npz"
        arrays = {f"s{i}_k{k}": np.ascontiguousarray(a) for i, s in enumerate(input_sets) for k, a in enumerate(s)}
        np.savez(inp, __nsets=np.array(len(input_sets)), **arrays)
        nout = _num_outputs(model_path)
        cmd = [sys.executable, "-m", "microaot.reference", str(model_path), str(inp), str(outp), str(arena_size),
               str(nout), str(int(sequence_length))]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ReferenceError(f"{model_path}: TFLM reference did not finish within {timeout:.0f} s") from None
        if proc.returncode != 0:
            how = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
                   else f"exited with status {proc.returncode}")
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise ReferenceError(
                f"{model_path}: the TFLM reference subprocess {how} (arena {arena_size} bytes); "
                f"try a larger arena_size or check the model.\n{tail}"
            )
        with np.load(outp) as z:
            nsets = int(z["__nsets"])
            nout = int(z["__nout"])
            return [[z[f"s{i}_k{k}"].copy() for k in range(nout)] for i in range(nsets)]


def _num_outputs(model_path: Path) -> int:
    import tflite

    try:
        buf = model_path.read_bytes()
        return int(tflite.Model.GetRootAs(buf, 0).Subgraphs(0).OutputsLength())
    except Exception as e:
        raise ReferenceError(f"{model_path}: cannot read the model for the TFLM reference ({e})") from None


def _child(model: str, inp: str, outp: str, arena: int, nout: int, sequence_length: int = 0) -> None:
    from tflite_micro import runtime

    buf = Path(model).read_bytes()
    interp = runtime.Interpreter.from_bytes(buf, arena_size=arena)
    with np.load(inp) as z:
        nsets = int(z["__nsets"])
        sets = []
        for i in range(nsets):
            ks = sorted(int(k.split("_k")[1]) for k in z.files if k.startswith(f"s{i}_k"))
            sets.append([z[f"s{i}_k{k}"] for k in ks])
    results: dict[str, np.ndarray] = {}
    for i, arrs in enumerate(sets):
        if sequence_length > 0 and i > 0 and i % sequence_length == 0:
            interp.reset()
        for k, a in enumerate(arrs):
            interp.set_input(a, k)
        interp.invoke()
        for k in range(nout):
            results[f"s{i}_k{k}"] = np.array(interp.get_output(k), copy=True)
    np.savez(outp, __nsets=np.array(nsets), __nout=np.array(nout), **results)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
           int(sys.argv[6]) if len(sys.argv) > 6 else 0)
