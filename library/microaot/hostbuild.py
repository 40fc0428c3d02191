"""Host builds of generated code: compile with the host gcc (``microaot.toolchain.compile_c``, also
importable from here), load with ctypes, run; per-operator output hashes as a device's OPCHECK.

Stateful models (``NAME_STATE_SIZE`` > 0): ``new_state`` gives a reset state buffer, ``reset_state`` resets
one; pass it as ``state=`` to :func:`run_compiled` / :func:`run_compiled_op_hashes` to run the consecutive
steps of a sequence, or use :func:`run_compiled_sequence`. Without ``state=`` every call starts from a
freshly reset state.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from microaot.compiler import CompileResult, compile_model
from microaot.errors import MicroaotError
from microaot.rpc.protocol import fnv1a32
from microaot.toolchain import BASE_CFLAGS, compile_c

__all__ = ["BASE_CFLAGS", "build_model_shared_lib", "compile_c", "generic_op_hashes", "new_state", "reset_state",
           "run_compiled", "run_compiled_op_hashes", "run_compiled_sequence", "state_size"]


def state_size(result: CompileResult) -> int:
    """``NAME_STATE_SIZE`` of a compiled model (0: stateless)."""
    return int(result.state_size)

def build_model_shared_lib(result: CompileResult, out_dir: str | Path, *, cc: str = "gcc",
                           extra_cflags: Sequence[str] = (), extra_sources: Sequence[str | Path] = ()) -> Path:
    """Build the generated model + the kernels it needs into ``out_dir/lib<name>.so``; ``extra_sources``: more C
    files to link in (the user kernels bound to custom operators, docs/custom-operators.md)."""
    out_dir = Path(out_dir)
    srcs = [*result.sources, *result.kernel_sources, *(Path(s) for s in extra_sources)]
    return compile_c(
        srcs,
        out_dir / f"lib{result.name}.so",
        include_dirs=[result.header.parent],
        kind="shared",
        extra_cflags=extra_cflags,
        cc=cc,
    )


_LIB_CACHE: dict[str, ctypes.CDLL] = {}


def _load(lib_path: Path) -> ctypes.CDLL:
    key = str(lib_path.resolve())
    if key not in _LIB_CACHE:
        _LIB_CACHE[key] = ctypes.CDLL(key)
    return _LIB_CACHE[key]


def _aligned(nbytes: int, align: int = 16) -> np.ndarray:
    raw = np.zeros(max(nbytes, 1) + align, dtype=np.uint8)
    off = (-raw.ctypes.data) % align
    return raw[off:off + max(nbytes, 1)]


def new_state(result: CompileResult, lib_path: str | Path) -> np.ndarray:
    """A state buffer for the model (NAME_STATE_SIZE bytes, 16-byte aligned) after NAME_reset_state: pass it to
    ``run_compiled(..., state=)`` for consecutive invocations that continue a sequence."""
    lib = _load(Path(lib_path))
    st = _aligned(result.state_size)
    fn = getattr(lib, f"{result.name}_reset_state")
    fn.argtypes = [ctypes.c_void_p]
    fn.restype = ctypes.c_int
    status = fn(st.ctypes.data)
    if status != 0:
        raise MicroaotError(f"{result.name}_reset_state returned status {status}")
    return st


def reset_state(result: CompileResult, lib_path: str | Path, state: np.ndarray) -> None:
    """``NAME_reset_state`` on a state buffer from :func:`new_state` (a new sequence starts)."""
    fn = getattr(_load(Path(lib_path)), f"{result.name}_reset_state")
    fn.argtypes = [ctypes.c_void_p]
    fn.restype = ctypes.c_int
    status = fn(state.ctypes.data)
    if status != 0:
        raise MicroaotError(f"{result.name}_reset_state returned status {status}")


def run_compiled_sequence(result: CompileResult, lib_path: str | Path,
                          steps: Sequence[Sequence[np.ndarray]]) -> list[list[np.ndarray]]:
    """Run the consecutive steps of one sequence from a reset state; the outputs of every step."""
    st = new_state(result, lib_path)
    return [run_compiled(result, lib_path, xs, state=st) for xs in steps]


def run_compiled(result: CompileResult, lib_path: str | Path, inputs: Sequence[np.ndarray], *,
                 state: np.ndarray | None = None) -> list[np.ndarray]:
    """Run one inference of a model built by build_model_shared_lib; returns the outputs. ``state``: the
    model's state buffer (``new_state``), kept between calls; None = a fresh (reset) state for this call."""
    return _invoke(result, lib_path, inputs, None, state)


_OP_OUTPUT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint16, ctypes.c_void_p, ctypes.c_uint32)
_OP_HOOK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint16)


class _Hooks(ctypes.Structure):  # uaot_hooks_t (runtime ABI 2)
    _fields_ = [("op_begin", _OP_HOOK), ("op_end", _OP_HOOK), ("ctx", ctypes.c_void_p), ("op_output", _OP_OUTPUT)]


def run_compiled_op_hashes(result: CompileResult, lib_path: str | Path, inputs: Sequence[np.ndarray], *,
                           state: np.ndarray | None = None) -> tuple[list[np.ndarray], list[int]]:
    """One inference through ``NAME_run_ex`` with the op_output hook: the outputs and, per operator, the
    FNV-1a 32 of its output tensors exactly as the RPC server's OPCHECK computes it on a device."""
    hashes = [fnv1a32(b"")] * len(result.graph.operators)

    def on_output(_ctx: object, op: int, data: int, n: int) -> None:
        hashes[op] = fnv1a32(ctypes.string_at(data, n), hashes[op])

    hooks = _Hooks(_OP_HOOK(), _OP_HOOK(), None, _OP_OUTPUT(on_output))
    outs = _invoke(result, lib_path, inputs, hooks, state)
    return outs, hashes


def generic_op_hashes(model: str | Path, input_sets: Sequence[Sequence[np.ndarray]],
                      build_dir: str | Path, *, groups: Sequence[int] | None = None) -> list[list[int]]:
    """Per input set, the OPCHECK hash of every operator's outputs in the generic-C build of ``model`` run on
    the host (its kernels are the ones checked against TFLM operator by operator): the reference for the
    hashes of a device build. ``groups``: the sets are consecutive sequences of these lengths (a stateful
    model: one state, reset before each sequence; None: each set from a reset state). Raises MicroaotError /
    BuildError when the build is not possible here."""
    bd = Path(build_dir)
    r = compile_model(model, bd / "gen", target="generic")
    lib = build_model_shared_lib(r, bd / "lib")
    st = new_state(r, lib)
    starts = set(np.cumsum([0, *(groups or [1] * len(input_sets))])[:-1].tolist())
    out = []
    for i, xs in enumerate(input_sets):
        if i in starts and i > 0:
            reset_state(r, lib, st)
        out.append(run_compiled_op_hashes(r, lib, list(xs), state=st)[1])
    return out


def _invoke(result: CompileResult, lib_path: str | Path, inputs: Sequence[np.ndarray],
            hooks: _Hooks | None, state: np.ndarray | None = None) -> list[np.ndarray]:
    graph = result.graph
    lib = _load(Path(lib_path))
    fn = getattr(lib, f"{result.name}_run_ex")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    fn.restype = ctypes.c_int
    if state is None:
        state = new_state(result, lib_path)
    elif state.nbytes < result.state_size or state.ctypes.data % 16:
        raise ValueError(f"{result.name}: the state buffer must hold {result.state_size} bytes aligned to 16 "
                         "(use hostbuild.new_state)")
    if len(inputs) != len(graph.inputs):
        raise ValueError(f"{result.name}: expected {len(graph.inputs)} inputs, got {len(inputs)}")
    in_arrays = []
    for k, (arr, ti) in enumerate(zip(inputs, graph.inputs, strict=True)):
        t = graph.tensors[ti]
        a = np.ascontiguousarray(arr)
        if a.dtype != np.dtype(t.dtype) or a.size != t.num_elements:
            raise ValueError(
                f"{result.name}: input {k} must be {t.dtype} with {t.num_elements} elements "
                f"(shape {list(t.shape)}), got {a.dtype} {list(a.shape)}"
            )
        in_arrays.append(a)
    out_arrays = [np.zeros(graph.tensors[ti].shape, dtype=np.dtype(graph.tensors[ti].dtype)) for ti in graph.outputs]
    align = 16
    ws_raw = np.zeros(max(result.workspace_size, 1) + align, dtype=np.uint8)
    off = (-ws_raw.ctypes.data) % align
    ws = ws_raw[off:]
    in_ptrs = (ctypes.c_void_p * max(len(in_arrays), 1))(*[a.ctypes.data for a in in_arrays])
    out_ptrs = (ctypes.c_void_p * max(len(out_arrays), 1))(*[a.ctypes.data for a in out_arrays])
    args: list[Any] = [ctypes.cast(in_ptrs, ctypes.c_void_p), ctypes.cast(out_ptrs, ctypes.c_void_p), ws.ctypes.data,
                       state.ctypes.data, ctypes.addressof(hooks) if hooks is not None else None]
    status = fn(*args)
    if status != 0:
        raise MicroaotError(f"{result.name}_run returned status {status}")
    return out_arrays
