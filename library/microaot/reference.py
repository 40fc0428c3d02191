"""Reference outputs from TFLM (PyPI ``tflite-micro``), run in a subprocess.

The TFLM Python wrapper can crash the whole process (e.g. on a too small arena), so every call
runs in a child Python; a batch of input sets goes through one child to keep the start-up cost
(~0.5 s) low. Usage::

    outs = run_reference("model.tflite", [[x0], [x1]])   # -> [[y0...], [y1...]]
    seqs = run_reference_sequences("model.tflite", [[[x0], [x1], [x2]], [[x3], [x4], [x5]]])
    # -> per sequence, per step, the outputs (every step of a sequence sees the state left by the one before)

Stateful models (LSTM, SVDF, resource variables): ``run_reference`` runs every input set on one
interpreter, one after the other (one sequence, never reset); ``run_reference_sequences`` starts each
sequence from the initial state: ``interpreter.reset()`` (TFLM's ResetVariableTensors and
MicroResourceVariables::ResetAll), or a freshly created interpreter for a model with several subgraphs
(a CALL_ONCE initialising resource variables): TFLM's ``reset()`` does not re-arm CALL_ONCE (measured
with tflite-micro 0.dev20261023: after ``reset()`` the variables hold their default, the zero point,
and the init subgraph never runs again), while microaot's ``NAME_reset_state`` gives the state of a
freshly created interpreter (init values included).

``run_reference(..., sequence_length=N)`` is ``run_reference_sequences`` over consecutive sequences of N
sets (0: one sequence of them all).
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
    """Run TFLM once per input set, in order on one interpreter (a stateful model's state carries over from
    one set to the next); returns the outputs of every set (in graph output order). ``sequence_length`` N > 0:
    the state is reset before sets 0, N, 2N, ... (sequences of N steps; 0: never)."""
    n = len(input_sets)
    groups = [min(sequence_length, n - k) for k in range(0, n, sequence_length)] if sequence_length > 0 else [n]
    return _run(Path(model_path), input_sets, groups, arena_size, timeout)


def run_reference_sequences(
    model_path: str | Path,
    sequences: Sequence[Sequence[Sequence[np.ndarray]]],
    *,
    arena_size: int = DEFAULT_ARENA,
    timeout: float = 600.0,
) -> list[list[list[np.ndarray]]]:
    """Run TFLM over each sequence of input sets (the steps of one sequence run one after the other, each
    seeing the state the previous step left; every sequence starts from the initial state, see the module
    doc); returns, per sequence and step, the outputs."""
    flat = [step for seq in sequences for step in seq]
    outs = _run(Path(model_path), flat, [len(seq) for seq in sequences], arena_size, timeout)
    result: list[list[list[np.ndarray]]] = []
    pos = 0
    for seq in sequences:
        result.append(outs[pos:pos + len(seq)])
        pos += len(seq)
    return result


def _run(model_path: Path, input_sets: Sequence[Sequence[np.ndarray]], groups: Sequence[int], arena_size: int,
         timeout: float) -> list[list[np.ndarray]]:
    """The child over ``input_sets``, resetting the interpreter before each group of ``groups[i]`` sets."""
    with tempfile.TemporaryDirectory(prefix="microaot_ref_") as td:
        inp, outp = Path(td) / "in.npz", Path(td) / "out.npz"
        arrays = {f"s{i}_k{k}": np.asarray(a, order="C") for i, s in enumerate(input_sets) for k, a in enumerate(s)}
        np.savez(inp, __nsets=np.array(len(input_sets)), __groups=np.array(list(groups), dtype=np.int64),
                 **arrays)
        nout = _num_outputs(model_path)
        cmd = [sys.executable, "-m", "microaot.reference", str(model_path), str(inp), str(outp), str(arena_size),
               str(nout)]
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


def _child(model: str, inp: str, outp: str, arena: int, nout: int) -> None:
    import tflite
    from tflite_micro import runtime

    buf = Path(model).read_bytes()
    interp = runtime.Interpreter.from_bytes(buf, arena_size=arena)
    # several subgraphs (CALL_ONCE): reset() does not re-arm CALL_ONCE, a new interpreter does
    fresh = tflite.Model.GetRootAs(buf, 0).SubgraphsLength() > 1
    with np.load(inp) as z:
        nsets = int(z["__nsets"])
        groups = [int(g) for g in z["__groups"]] if "__groups" in z.files else [nsets]
        sets = []
        for i in range(nsets):
            ks = sorted(int(k.split("_k")[1]) for k in z.files if k.startswith(f"s{i}_k"))
            sets.append([z[f"s{i}_k{k}"] for k in ks])
    starts = set(np.cumsum([0, *groups])[:-1].tolist())
    results: dict[str, np.ndarray] = {}
    for i, arrs in enumerate(sets):
        if i in starts and i > 0:
            if fresh:
                interp = runtime.Interpreter.from_bytes(buf, arena_size=arena)
            else:
                interp.reset()
        for k, a in enumerate(arrs):
            interp.set_input(a, k)
        interp.invoke()
        for k in range(nout):
            results[f"s{i}_k{k}"] = np.array(interp.get_output(k), copy=True)
    np.savez(outp, __nsets=np.array(nsets), __nout=np.array(nout), **results)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
