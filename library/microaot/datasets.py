"""A user's own evaluation data: input samples (and labels) read from files, typed for the model.

    load_samples(path, specs, preprocess=None) -> list of samples, each one array per model input
    load_labels(path, count, samples_path=None) -> int64 array of class indices
    load_preprocess_hook("prep.py:fn") -> callable(path) -> array or list of arrays

Accepted input data (``microaot eval --inputs PATH``, ``custom_microaot_test_inputs``):

- ``.npy``: one sample (the input's shape, or its shape without the batch dimension of 1) or a batch
  (a leading sample axis in front of either). Single-input models only.
- ``.npz``: one array per model input, keyed by the input's tensor name, ``input<k>`` or ``arr_<k>``;
  each a sample or a batch as above (all with the same number of samples). A single-input model also
  takes an archive with one array. Keys ``labels`` / ``y`` hold labels (used when ``--labels`` is not
  given).
- a folder: every ``.npy`` file in it (sorted by name; one sample or a batch each), or, with a
  preprocessing hook, every regular file; sub-folders are read too, and when every sample comes from a
  sub-folder its name is the sample's class (``--labels folders``: ImageNet-style layout, classes in
  sorted order of the sub-folder names).
- any other file (``.bin``, ``.raw``, ...): the raw bytes of one sample in the input's dtype and shape.
- a preprocessing hook ``FILE.py:FUNCTION`` turns one file into a sample: ``FUNCTION(path) -> array``
  (or a list of arrays, one per input). It is applied to every file (a folder's, or the single file).

Typing: integer data of the input's dtype is taken as it is; float data for a quantized integer input
is quantized with the input's scale and zero point (round half away from zero, as TFLite's QUANTIZE,
then clamped); other integer data must fit the input's dtype. Float inputs take any numeric data as
float32.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microaot.errors import MicroaotError
from microaot.ir.graph import Graph

Sample = list[np.ndarray]
Loaded = tuple[Sample, Sample]  # (typed for the model, the data as given, reshaped)
PreprocessFn = Callable[[Path], "np.ndarray | Sequence[np.ndarray]"]
MAX_FILES = 1_000_000


@dataclass(frozen=True)
class InputSpec:
    """One model input: what a sample's array must become."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float | None = None  # quantized integer inputs
    zero_point: int = 0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


def load_preprocess_hook(spec: str) -> PreprocessFn:
    """``FILE.py:FUNCTION`` -> the function (imported from that file)."""
    file, sep, fn = spec.rpartition(":")
    if not sep or not file or not fn:
        raise MicroaotError(f"preprocessing hook {spec!r}: write it as FILE.py:FUNCTION")
    path = Path(file)
    if not path.is_file():
        raise MicroaotError(f"preprocessing hook {spec!r}: {path} is not a file")
    mod_spec = importlib.util.spec_from_file_location(f"microaot_user_preprocess_{path.stem}", path)
    if mod_spec is None or mod_spec.loader is None:
        raise MicroaotError(f"preprocessing hook {spec!r}: cannot import {path}")
    module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(module)
    except Exception as e:  # the user's code: report any failure with its file
        raise MicroaotError(f"preprocessing hook {spec!r}: importing {path} failed: {type(e).__name__}: {e}") from e
    func = getattr(module, fn, None)
    if not callable(func):
        raise MicroaotError(f"preprocessing hook {spec!r}: {path} defines no function {fn!r}")
    return func  # type: ignore[no-any-return]


def to_input(data: np.ndarray, spec: InputSpec, where: str) -> np.ndarray:
    """One sample's array typed and shaped for ``spec`` (see the module docstring)."""
    a = np.asarray(data)
    if a.size != spec.size:
        raise MicroaotError(f"{where}: {a.size} values ({list(a.shape)}) for input {spec.name!r}, which takes "
                            f"{spec.size} ({list(spec.shape)})")
    a = a.reshape(spec.shape)
    dt = np.dtype(spec.dtype)
    if dt.kind == "f":
        return a.astype(dt)
    if dt.kind == "b":
        return a.astype(dt)
    info = np.iinfo(dt)
    if a.dtype.kind == "f":
        if spec.scale is None or spec.scale <= 0:
            raise MicroaotError(f"{where}: float data for input {spec.name!r} ({dt.name}) without quantization "
                                "parameters: give the data as integers of the input's type")
        q = a.astype(np.float64) / spec.scale
        q = np.sign(q) * np.floor(np.abs(q) + 0.5) + spec.zero_point
        return np.clip(q, info.min, info.max).astype(dt)
    if a.dtype.kind not in "iub":
        raise MicroaotError(f"{where}: data of type {a.dtype} cannot feed input {spec.name!r} ({dt.name})")
    if a.size and (int(a.min()) < info.min or int(a.max()) > info.max):
        raise MicroaotError(f"{where}: values {int(a.min())}..{int(a.max())} do not fit input {spec.name!r} "
                            f"({dt.name}); give float data to have it quantized, or values of the input's type")
    return a.astype(dt)


def _split_batch(a: np.ndarray, spec: InputSpec, where: str) -> list[np.ndarray]:
    """A sample or a batch of samples of one input."""
    shp = tuple(int(d) for d in a.shape)
    unbatched = spec.shape[1:] if spec.shape and spec.shape[0] == 1 else None
    if shp == spec.shape or (unbatched is not None and shp == unbatched) or shp == (spec.size,):
        return [a]
    if len(shp) >= 1 and (shp[1:] == spec.shape or (unbatched is not None and shp[1:] == unbatched)):
        return [a[i] for i in range(shp[0])]
    if len(shp) == 2 and shp[1] == spec.size:
        return [a[i] for i in range(shp[0])]
    raise MicroaotError(f"{where}: array of shape {list(shp)} is neither a sample of input {spec.name!r} "
                        f"{list(spec.shape)} nor a batch of them (a leading sample axis)")


def _npz_arrays(path: Path, specs: Sequence[InputSpec]) -> list[np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        keys = [k for k in z.files if k not in ("labels", "y")]
        out = []
        for k, spec in enumerate(specs):
            for key in (spec.name, f"input{k}", f"arr_{k}"):
                if key in z.files:
                    out.append(z[key])
                    break
            else:
                if len(specs) == 1 and len(keys) == 1:
                    out.append(z[keys[0]])
                else:
                    raise MicroaotError(f"{path}: no array for input {k} ({spec.name!r}); name the arrays after the "
                                        f"inputs ({', '.join(repr(s.name) for s in specs)}) or input0, input1, ...; "
                                        f"the archive holds {', '.join(z.files) or 'nothing'}")
        return out


def _npz_labels(path: Path) -> np.ndarray | None:
    with np.load(path, allow_pickle=False) as z:
        for key in ("labels", "y"):
            if key in z.files:
                return np.asarray(z[key])
    return None


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise MicroaotError(f"{path}: not a readable .npy file ({e})") from None


def _loaded(arrays: Sequence[np.ndarray], specs: Sequence[InputSpec], where: str) -> Loaded:
    typed = [to_input(a, s, where) for a, s in zip(arrays, specs, strict=True)]
    return typed, [np.asarray(a).reshape(s.shape) for a, s in zip(arrays, specs, strict=True)]


def _file_samples(path: Path, specs: Sequence[InputSpec], preprocess: PreprocessFn | None) -> list[Loaded]:
    where = str(path)
    if preprocess is not None:
        try:
            got = preprocess(path)
        except Exception as e:  # the user's hook
            raise MicroaotError(f"{where}: the preprocessing hook failed: {type(e).__name__}: {e}") from e
        arrays = list(got) if isinstance(got, (list, tuple)) else [np.asarray(got)]
        if len(arrays) != len(specs):
            raise MicroaotError(f"{where}: the preprocessing hook returned {len(arrays)} array(s) for a model with "
                                f"{len(specs)} input(s)")
        return [_loaded(arrays, specs, where)]
    if path.suffix == ".npz":
        per_input = [_split_batch(a, s, where) for a, s in zip(_npz_arrays(path, specs), specs, strict=True)]
        counts = {len(p) for p in per_input}
        if len(counts) != 1:
            raise MicroaotError(f"{where}: the inputs' arrays hold different numbers of samples ({sorted(counts)})")
        return [_loaded([p[i] for p in per_input], specs, where) for i in range(counts.pop())]
    if len(specs) != 1:
        raise MicroaotError(f"{where}: the model has {len(specs)} inputs: give them as one .npz (one array per "
                            "input) or through a preprocessing hook")
    spec = specs[0]
    if path.suffix == ".npy":
        return [_loaded([a], specs, where) for a in _split_batch(_read_npy(path), spec, where)]
    raw = path.read_bytes()
    want = spec.size * spec.dtype.itemsize
    if len(raw) != want:
        raise MicroaotError(f"{where}: {len(raw)} bytes, but one raw sample of input {spec.name!r} "
                            f"({spec.dtype.name} {list(spec.shape)}) is {want} bytes; give .npy files or a "
                            "preprocessing hook (--preprocess FILE.py:FUNCTION)")
    return [_loaded([np.frombuffer(raw, dtype=spec.dtype)], specs, where)]


def _data_files(folder: Path, preprocess: PreprocessFn | None) -> list[Path]:
    files: list[Path] = []
    for p in sorted(folder.rglob("*")):
        if len(files) > MAX_FILES:
            raise MicroaotError(f"{folder}: more than {MAX_FILES:,} files")
        if p.is_file() and not p.name.startswith(".") and (preprocess is not None or p.suffix in (".npy", ".npz")):
            files.append(p)
    if not files:
        what = "file" if preprocess is not None else ".npy / .npz file (or give --preprocess for other files)"
        raise MicroaotError(f"{folder}: no {what} in this folder")
    return files


@dataclass
class Dataset:
    samples: list[Sample]  # typed for the model's inputs
    raw: list[Sample]  # the same samples as given (before quantization), for a float reference model
    sources: list[Path]  # the file each sample came from
    folder_labels: list[str] | None = None  # the sub-folder of each sample (when all come from one)
    file_labels: np.ndarray | None = None  # labels stored beside the data (.npz "labels" / "y")

    def __len__(self) -> int:
        return len(self.samples)


def load_samples(path: str | Path, specs: Sequence[InputSpec], *,
                 preprocess: PreprocessFn | None = None) -> Dataset:
    """All samples of ``path`` (module docstring), typed for the model's inputs ``specs``."""
    path = Path(path)
    if not path.exists():
        raise MicroaotError(f"{path}: no such file or folder (--inputs)")
    if path.is_dir():
        files = _data_files(path, preprocess)
        loaded: list[Loaded] = []
        sources: list[Path] = []
        for f in files:
            got = _file_samples(f, specs, preprocess)
            loaded += got
            sources += [f] * len(got)
        rel = [s.relative_to(path).parts for s in sources]
        folders = [r[0] for r in rel] if rel and all(len(r) >= 2 for r in rel) else None
        return Dataset([t for t, _ in loaded], [r for _, r in loaded], sources, folder_labels=folders)
    if not path.is_file():
        raise MicroaotError(f"{path}: not a regular file or a folder (--inputs)")
    got = _file_samples(path, specs, preprocess)
    labels = _npz_labels(path) if path.suffix == ".npz" and preprocess is None else None
    return Dataset([t for t, _ in got], [r for _, r in got], [path] * len(got), file_labels=labels)


def input_specs(graph: Graph) -> list[InputSpec]:
    """The model's inputs as :class:`InputSpec` (from the imported graph)."""
    out = []
    for t in (graph.tensors[i] for i in graph.inputs):
        q = t.quant
        out.append(InputSpec(t.name, tuple(int(d) for d in t.shape), np.dtype(t.dtype),
                             float(q.scale0) if q is not None else None, int(q.zp0) if q is not None else 0))
    return out


def reference_samples(data: Dataset, specs: Sequence[InputSpec], ref_specs: Sequence[InputSpec]) -> list[Sample]:
    """The samples for the float reference model: the data as given, integer data of a quantized input
    dequantized first (so the reference sees the values the quantized model stands for)."""
    if len(ref_specs) != len(specs):
        raise MicroaotError(f"the reference model has {len(ref_specs)} input(s), the model {len(specs)}")
    out = []
    for i, raw in enumerate(data.raw):
        sample = []
        for a, s, r in zip(raw, specs, ref_specs, strict=True):
            if a.dtype.kind in "iu" and s.scale and r.dtype.kind == "f":
                a = (a.astype(np.float64) - s.zero_point) * s.scale
            sample.append(to_input(a, r, f"{data.sources[i]} (for the reference model)"))
        out.append(sample)
    return out


def class_indices(labels: np.ndarray, where: str) -> np.ndarray:
    """Integer class indices from integer labels or one-hot / score rows (argmax)."""
    a = np.asarray(labels)
    if a.ndim == 2 and a.shape[1] > 1:
        return np.argmax(a, axis=1).astype(np.int64)
    a = a.reshape(-1)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise MicroaotError(f"{where}: labels must be class indices (integers) or one-hot rows")
    elif a.dtype.kind not in "iub":
        raise MicroaotError(f"{where}: labels of type {a.dtype} are not class indices")
    if a.size and a.min() < 0:
        raise MicroaotError(f"{where}: negative class index {int(a.min())}")
    return a.astype(np.int64)


def load_labels(spec: str | Path, data: Dataset) -> tuple[np.ndarray, list[str] | None]:
    """Class index per sample, and class names when known. ``spec``: a file (.npy, .npz with ``labels``/
    ``y``, or text: one integer per line), or ``folders`` (each sample's sub-folder is its class)."""
    names: list[str] | None = None
    if str(spec) == "folders":
        if data.folder_labels is None:
            raise MicroaotError("--labels folders: every input file must sit in a sub-folder named after its class")
        names = sorted(set(data.folder_labels))
        idx = np.array([names.index(f) for f in data.folder_labels], dtype=np.int64)
        return idx, names
    path = Path(spec)
    if not path.is_file():
        raise MicroaotError(f"{path}: no such labels file (--labels)")
    if path.suffix == ".npy":
        raw = _read_npy(path)
    elif path.suffix == ".npz":
        got = _npz_labels(path)
        if got is None:
            raise MicroaotError(f"{path}: no array named 'labels' or 'y' in this archive")
        raw = got
    else:
        try:
            raw = np.array([int(line) for line in path.read_text().split() if line.strip()], dtype=np.int64)
        except ValueError:
            raise MicroaotError(f"{path}: a text labels file holds one integer class index per line") from None
    idx = class_indices(raw, str(path))
    if len(idx) != len(data):
        raise MicroaotError(f"{path}: {len(idx)} labels for {len(data)} input samples")
    return idx, names
