"""Compile, build and run many small models at once, and get TFLM's answers for all of them.

Operator tests and fuzzers compare hundreds of tiny models with TFLM. Doing that one model at a
time costs a gcc run and a TFLM subprocess start (~0.5 s each) per model; this module amortizes
both:

* :func:`compile_and_build` compiles every model with :func:`microaot.compiler.compile_model`
  (unique C prefixes) and links them into a few shared libraries, built in parallel;
* :func:`run_reference_many` runs TFLM (PyPI ``tflite-micro``) for many models in a few child
  processes (a crash in one child only re-runs its models one by one through
  :func:`microaot.reference.run_reference`, so the failing model is named).

Both return results in the order of the inputs; per-model failures are returned as exceptions,
not raised, so one bad case does not hide the others.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microaot.compiler import compile_model
from microaot.errors import MicroaotError
from microaot.hostbuild import compile_c, run_compiled
from microaot.reference import run_reference

InputSets = Sequence[Sequence[np.ndarray]]


@dataclass
class BuiltModel:
    """A compiled model and the shared library that contains its ``<name>_run``."""

    result: object  # microaot.compiler.CompileResult (kept untyped to avoid importing the compiler here)
    lib: Path

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return run_compiled(self.result, self.lib, inputs)  # type: ignore[arg-type]


def _chunks(n: int, parts: int) -> list[range]:
    parts = max(1, min(parts, n))
    size = (n + parts - 1) // parts
    return [range(i, min(i + size, n)) for i in range(0, n, size)]


def compile_and_build(
    model_paths: Sequence[Path],
    out_dir: Path,
    *,
    prefix: str = "m",
    workers: int | None = None,
    models_per_lib: int = 250,
    extra_cflags: Sequence[str] = (),
    unity: bool = True,
    target: str = "generic",
) -> list[BuiltModel | Exception]:
    """Compile each model as ``<prefix><i>`` and link them into shared libraries (parallel gcc runs).

    ``unity``: compile the generated model files of one library as a single translation unit (a file
    that #includes them; every generated symbol carries its model's prefix), which saves one compiler
    start-up per model. If that build fails, the library is built again file by file. ``target``: the
    kernel target the models are compiled for (its schedules; the host runs their portable C).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[object | Exception] = []
    for i, path in enumerate(model_paths):
        try:
            results.append(compile_model(path, out_dir / "src", name=f"{prefix}{i}", target=target))
        except Exception as e:  # returned to the caller, per model
            results.append(e)
    ok = [i for i, r in enumerate(results) if not isinstance(r, Exception)]
    nworkers = workers or os.cpu_count() or 2
    n_libs = max(min(nworkers, len(ok)), (len(ok) + models_per_lib - 1) // models_per_lib)
    groups = [[ok[j] for j in rng] for rng in _chunks(len(ok), n_libs)] if ok else []

    def build(gi: int) -> tuple[int, Path | Exception]:
        idx = groups[gi]
        srcs: list[Path] = []
        kernels: dict[str, Path] = {}
        for i in idx:
            r = results[i]
            srcs.extend(r.sources)  # type: ignore[union-attr]
            for k in r.kernel_sources:  # type: ignore[union-attr]
                kernels[str(k)] = Path(k)
        lib_path = out_dir / f"lib{prefix}_{gi}.so"
        if unity:
            unit = out_dir / "src" / f"unity_{prefix}_{gi}.c"
            unit.write_text("".join(f'#include "{Path(s).name}"\n' for s in srcs))
            try:
                return gi, compile_c([unit, *sorted(kernels.values())], lib_path, include_dirs=[out_dir / "src"],
                                     kind="shared", extra_cflags=extra_cflags)
            except Exception:
                pass  # fall back to one translation unit per model
        try:
            return gi, compile_c([*srcs, *sorted(kernels.values())], lib_path, include_dirs=[out_dir / "src"],
                                 kind="shared", extra_cflags=extra_cflags)
        except Exception as e:
            return gi, e

    built: list[BuiltModel | Exception] = [
        r if isinstance(r, Exception) else MicroaotError("not built") for r in results
    ]
    with ThreadPoolExecutor(max_workers=nworkers) as ex:
        for gi, lib in ex.map(build, range(len(groups))):
            for i in groups[gi]:
                built[i] = lib if isinstance(lib, Exception) else BuiltModel(results[i], lib)
    return built


def _child(job: str, out: str) -> None:
    """Child process: run TFLM for every model listed in ``job`` (an .npz), write outputs to ``out``."""
    from tflite_micro import runtime

    results: dict[str, np.ndarray] = {}
    with np.load(job, allow_pickle=False) as z:
        paths = [str(p) for p in z["__paths"]]
        arena = int(z["__arena"])
        for m, path in enumerate(paths):
            nsets = int(z[f"m{m}__nsets"])
            interp = runtime.Interpreter.from_bytes(Path(path).read_bytes(), arena_size=arena)
            for s in range(nsets):
                k = 0
                while f"m{m}_s{s}_k{k}" in z.files:
                    interp.set_input(z[f"m{m}_s{s}_k{k}"], k)
                    k += 1
                interp.invoke()
                k = 0
                while True:
                    try:
                        o = interp.get_output(k)
                    except Exception:  # past the last output
                        break
                    if o is None:
                        break
                    results[f"m{m}_s{s}_k{k}"] = np.array(o, copy=True)
                    k += 1
                results[f"m{m}_s{s}__nout"] = np.array(k)
                interp.reset()
    np.savez(out, **results)


def _run_chunk(paths: list[Path], sets: list[InputSets], arena: int, timeout: float) -> list[list[list[np.ndarray]]]:
    with tempfile.TemporaryDirectory(prefix="microaot_refbatch_") as td:
        job, out = Path(td) / "job.npz", Path(td) / "out.npz"
        arrays: dict[str, np.ndarray] = {"__paths": np.array([str(p) for p in paths]), "__arena": np.array(arena)}
        for m, s in enumerate(sets):
            arrays[f"m{m}__nsets"] = np.array(len(s))
            for si, ins in enumerate(s):
                for k, a in enumerate(ins):
                    arrays[f"m{m}_s{si}_k{k}"] = np.asarray(a, order="C")
        np.savez(job, **arrays)
        proc = subprocess.run([sys.executable, "-m", "microaot.testing.batch", str(job), str(out)],
                              capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise MicroaotError(f"TFLM batch child failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        res: list[list[list[np.ndarray]]] = []
        with np.load(out) as z:
            for m, s in enumerate(sets):
                per_set = []
                for si in range(len(s)):
                    n = int(z[f"m{m}_s{si}__nout"])
                    per_set.append([z[f"m{m}_s{si}_k{k}"].copy() for k in range(n)])
                res.append(per_set)
        return res


def run_reference_many(
    model_paths: Sequence[Path],
    input_sets: Sequence[InputSets],
    *,
    workers: int | None = None,
    arena_size: int = 1 << 20,
    timeout: float = 600.0,
) -> list[list[list[np.ndarray]] | Exception]:
    """TFLM outputs for many models: result[m][set][output]. Models run in ``workers`` child processes."""
    n = len(model_paths)
    out: list[list[list[np.ndarray]] | Exception] = [MicroaotError("not run")] * n

    def work(rng: range) -> None:
        idx = list(rng)
        try:
            res = _run_chunk([model_paths[i] for i in idx], [input_sets[i] for i in idx], arena_size, timeout)
            for i, r in zip(idx, res, strict=True):
                out[i] = r
        except Exception:  # isolate the failing model(s)
            for i in idx:
                try:
                    out[i] = run_reference(model_paths[i], input_sets[i], arena_size=arena_size, timeout=timeout)
                except Exception as e:
                    out[i] = e

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as ex:
        list(ex.map(work, _chunks(n, workers or os.cpu_count() or 2)))
    return out


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
