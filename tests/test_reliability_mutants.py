"""Issue 7: hostile model files. Several hundred deterministic mutants of the four MLPerf Tiny models
(bit flips, truncation, bogus flatbuffer offsets, huge/zero/negative shapes, wrong dtypes, bad opcode,
tensor and buffer indices, bad quantization, scrambled operator options) go through compile_model.

Each mutant must either compile (and then up to 24 distinct generated C files pass gcc -std=c99
-Wall -Wextra -Werror, and a few mutants of the small models run once on the ASan+UBSan host board)
or raise a microaot.errors.MicroaotError whose message names the
model file; any other exception type, or no answer within the per-mutant timeout, fails the test
with the mutant's recipe so it can be reproduced (``mutate(MODEL_BYTES, seed)``).
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import os
import random
import re
import resource
import signal
import struct
import subprocess
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import tflite

from conftest import MLPERF_MODELS, mlperf_model, record_figures
from microaot.paths import crt_root

MUTANTS_PER_MODEL = int(os.environ.get("MICROAOT_MUTANTS_PER_MODEL", "150"))
TIMEOUT_S = 20.0  # per mutant (a clean compile of the largest model takes ~0.3 s)
MEM_LIMIT = 3 << 30  # address space of a worker: a huge allocation becomes MemoryError, not an OOM kill
GCC_SAMPLE = 24  # distinct generated C files checked with gcc -Werror (the first GCC_FULL compiled to objects)
GCC_FULL = 2
ASAN_MODELS = ("ad", "kws")  # small models: their mutants also run once on the ASan+UBSan host board
ASAN_RUNS = 2
KINDS = ("bitflip_meta", "bitflip_any", "truncate", "bogus_offset", "huge_shape", "wrong_dtype", "opcode",
         "op_io", "buffer_index", "quant", "options")


# ---------------------------------------------------------------------------------------------- mutator

@dataclass
class Fields:
    """Absolute positions of mutable fields of one .tflite flatbuffer."""

    meta: list[tuple[int, int]]  # [start, end) regions that are not weight data
    offsets: list[int]  # uoffset / soffset fields (u32)
    shape_dims: list[int]  # int32 shape elements
    tensor_types: list[int]  # int8 tensor type fields
    buffer_indices: list[int]  # u32 tensor buffer indices
    opcode_indices: list[int]  # u32 operator opcode indices
    builtin_codes: list[tuple[int, int]]  # (position, byte width) of operator-code builtin codes
    op_io: list[int]  # int32 operator input/output tensor indices
    scales: list[int]  # float32 quantization scales
    zero_points: list[int]  # int64 zero points
    quant_dims: list[int]  # int32 quantized_dimension
    options: list[tuple[int, int]]  # [start, end) of builtin option tables (scalars inline)
    ntensors: int
    nbuffers: int


def _field(tab: object, vt: int) -> int | None:
    o = tab.Offset(vt)  # type: ignore[attr-defined]
    return None if o == 0 else tab.Pos + o  # type: ignore[attr-defined]


def _vector(tab: object, vt: int) -> tuple[int, int] | None:
    o = tab.Offset(vt)  # type: ignore[attr-defined]
    if o == 0:
        return None
    return tab.Vector(o), tab.VectorLen(o)  # type: ignore[attr-defined]


def scan(buf: bytes) -> Fields:
    m = tflite.Model.GetRootAs(buf, 0)
    f = Fields([], [0], [], [], [], [], [], [], [], [], [], [], 0, m.BuffersLength())
    data_regions: list[tuple[int, int]] = []
    for i in range(m.BuffersLength()):
        b = m.Buffers(i)
        v = _vector(b._tab, 4)
        if v is not None and v[1] > 0:
            data_regions.append((v[0], v[0] + v[1]))
    for i in range(m.OperatorCodesLength()):
        oc = m.OperatorCodes(i)
        f.offsets.append(oc._tab.Pos)
        for vt, width in ((4, 1), (10, 4)):
            p = _field(oc._tab, vt)
            if p is not None:
                f.builtin_codes.append((p, width))
    sg = m.Subgraphs(0)
    f.offsets.append(sg._tab.Pos)
    for vt in (4, 6, 8, 10):
        p = _field(sg._tab, vt)
        if p is not None:
            f.offsets.append(p)
    f.ntensors = sg.TensorsLength()
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        f.offsets.append(t._tab.Pos)
        for vt in (4, 10, 12):
            p = _field(t._tab, vt)
            if p is not None:
                f.offsets.append(p)
        sv = _vector(t._tab, 4)
        if sv is not None:
            f.shape_dims += [sv[0] + 4 * k for k in range(sv[1])]
        for vt, lst in ((6, f.tensor_types), (8, f.buffer_indices)):
            p = _field(t._tab, vt)
            if p is not None:
                lst.append(p)
        q = t.Quantization()
        if q is not None:
            sc = _vector(q._tab, 8)
            if sc is not None:
                f.scales += [sc[0] + 4 * k for k in range(sc[1])]
            zp = _vector(q._tab, 10)
            if zp is not None:
                f.zero_points += [zp[0] + 8 * k for k in range(zp[1])]
            p = _field(q._tab, 16)
            if p is not None:
                f.quant_dims.append(p)
    for i in range(sg.OperatorsLength()):
        o = sg.Operators(i)
        f.offsets.append(o._tab.Pos)
        p = _field(o._tab, 4)
        if p is not None:
            f.opcode_indices.append(p)
        for vt in (6, 8):
            v = _vector(o._tab, vt)
            if v is not None:
                f.op_io += [v[0] + 4 * k for k in range(v[1])]
            p = _field(o._tab, vt)
            if p is not None:
                f.offsets.append(p)
        p = _field(o._tab, 12)
        if p is not None:
            f.offsets.append(p)
            opt = o.BuiltinOptions()
            if opt is not None:
                f.options.append((opt.Pos, min(opt.Pos + 32, len(buf))))
    # metadata = everything outside the weight data
    data_regions.sort()
    at = 0
    for s, e in data_regions:
        if s > at:
            f.meta.append((at, s))
        at = max(at, e)
    if at < len(buf):
        f.meta.append((at, len(buf)))
    return f


HUGE_DIMS = (0, -1, -7, 2**31 - 1, 1 << 16, 1 << 20, 1 << 28)
BAD_SCALES = (0.0, -1.0, math.nan, math.inf, -math.inf, 1e-45, 1e30)


def _pick_meta(rng: random.Random, f: Fields) -> int:
    total = sum(e - s for s, e in f.meta)
    k = rng.randrange(total)
    for s, e in f.meta:
        if k < e - s:
            return s + k
        k -= e - s
    raise AssertionError


def mutate_once(buf: bytearray, f: Fields, kind: str, rng: random.Random) -> str:
    """Apply one mutation of the given kind in place; returns a short description."""
    if kind == "bitflip_meta" or kind == "bitflip_any":
        where = []
        for _ in range(rng.randint(1, 4)):
            p = _pick_meta(rng, f) if kind == "bitflip_meta" else rng.randrange(len(buf))
            buf[p] ^= 1 << rng.randrange(8)
            where.append(p)
        return f"{kind}@{where}"
    if kind == "truncate":
        n = rng.choice([rng.randrange(len(buf)), rng.randrange(64), len(buf) - rng.randrange(1, 64)])
        del buf[max(n, 0):]
        return f"truncate@{n}"
    if kind == "bogus_offset":
        p = rng.choice(f.offsets)
        old = struct.unpack_from("<I", buf, p)[0]
        v = rng.choice([0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, len(buf), len(buf) - 4, rng.getrandbits(32),
                        (old + rng.choice([-8, -4, -1, 1, 4, 8, 4096])) & 0xFFFFFFFF])
        struct.pack_into("<I", buf, p, v)
        return f"offset@{p}:{old:#x}->{v:#x}"
    if kind == "huge_shape" and f.shape_dims:
        p = rng.choice(f.shape_dims)
        old = struct.unpack_from("<i", buf, p)[0]
        v = rng.choice([*HUGE_DIMS, old * 3, old + 1])
        struct.pack_into("<i", buf, p, max(min(v, 2**31 - 1), -2**31))
        return f"shape@{p}:{old}->{v}"
    if kind == "wrong_dtype" and f.tensor_types:
        p = rng.choice(f.tensor_types)
        old = buf[p]
        buf[p] = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 16, 17, 40, 255])
        return f"dtype@{p}:{old}->{buf[p]}"
    if kind == "opcode" and (f.opcode_indices or f.builtin_codes):
        if f.opcode_indices and rng.random() < 0.5:
            p = rng.choice(f.opcode_indices)
            v = rng.choice([0, 1, 2, 5, 200, 0xFFFFFFFF])
            struct.pack_into("<I", buf, p, v)
            return f"opcode_index@{p}->{v}"
        p, width = rng.choice(f.builtin_codes)
        v = rng.choice([0, 1, 3, 4, 9, 17, 22, 25, 32, 40, 49, 114, 127, 150, 255 if width == 1 else 100000])
        if width == 1:
            buf[p] = v & 0xFF
        else:
            struct.pack_into("<i", buf, p, v)
        return f"builtin_code@{p}->{v}"
    if kind == "op_io" and f.op_io:
        p = rng.choice(f.op_io)
        v = rng.choice([-1, -2, 0, f.ntensors - 1, f.ntensors, f.ntensors + 5, rng.randrange(f.ntensors)])
        struct.pack_into("<i", buf, p, v)
        return f"op_io@{p}->{v}"
    if kind == "buffer_index" and f.buffer_indices:
        p = rng.choice(f.buffer_indices)
        v = rng.choice([0, 1, f.nbuffers - 1, f.nbuffers, 0xFFFFFFFF, rng.randrange(max(f.nbuffers, 1))])
        struct.pack_into("<I", buf, p, v)
        return f"buffer@{p}->{v}"
    if kind == "quant" and (f.scales or f.zero_points or f.quant_dims):
        which = rng.choice([w for w, lst in (("scale", f.scales), ("zp", f.zero_points), ("dim", f.quant_dims))
                            if lst])
        if which == "scale":
            p = rng.choice(f.scales)
            v = rng.choice(BAD_SCALES)
            struct.pack_into("<f", buf, p, v)
        elif which == "zp":
            p = rng.choice(f.zero_points)
            v = rng.choice([-129, 128, 1 << 40, -(1 << 62), 255])
            struct.pack_into("<q", buf, p, v)
        else:
            p = rng.choice(f.quant_dims)
            v = rng.choice([-1, 1, 2, 3, 4, 100])
            struct.pack_into("<i", buf, p, v)
        return f"quant_{which}@{p}->{v}"
    if kind == "options" and f.options:
        s, e = rng.choice(f.options)
        where = []
        for _ in range(rng.randint(1, 3)):
            p = rng.randrange(s, e)
            buf[p] = rng.choice([0, 1, 2, 3, 4, 5, 6, 0x7F, 0x80, 0xFF, rng.getrandbits(8)])
            where.append(p)
        return f"options@{where}"
    return mutate_once(buf, f, "bitflip_meta", rng)


def mutate(model: bytes, seed: int, fields: Fields | None = None) -> tuple[bytes, str]:
    """Mutant number seed of model (deterministic): 1-3 mutations of one kind."""
    rng = random.Random(seed)
    f = fields or scan(model)
    kind = KINDS[seed % len(KINDS)]
    buf = bytearray(model)
    count = 1 if kind == "truncate" else rng.choice([1, 1, 1, 2, 3])  # positions stay valid
    descs = [mutate_once(buf, f, kind, rng) for _ in range(count)]
    return bytes(buf), kind + ": " + "; ".join(descs)


# ---------------------------------------------------------------------------------------------- worker

class MutantTimeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise MutantTimeout


def _init_worker() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))
    signal.signal(signal.SIGALRM, _alarm)


@dataclass
class Outcome:
    key: str
    seed: int
    recipe: str
    status: str  # compiled | rejected | crash | timeout
    detail: str
    c_file: str | None = None
    seconds: float = 0.0


_MODELS: dict[str, tuple[bytes, Fields]] = {}


def _model(key: str) -> tuple[bytes, Fields]:
    if key not in _MODELS:
        data = mlperf_model(key).read_bytes()
        _MODELS[key] = (data, scan(data))
    return _MODELS[key]


def run_mutant(task: tuple[str, int, str]) -> Outcome:
    from microaot.compiler import compile_model
    from microaot.errors import MicroaotError

    key, seed, out_root = task
    data, fields = _model(key)
    mutant, recipe = mutate(data, seed, fields)
    d = Path(out_root) / f"{key}_{seed}"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{key}_m{seed}.tflite"
    path.write_bytes(mutant)
    t0 = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, TIMEOUT_S)
    try:
        r = compile_model(path, d, name="mut")
        signal.setitimer(signal.ITIMER_REAL, 0)
        return Outcome(key, seed, recipe, "compiled", "", str(r.sources[0]), time.monotonic() - t0)
    except MutantTimeout:
        return Outcome(key, seed, recipe, "timeout", f"no answer within {TIMEOUT_S} s", None, time.monotonic() - t0)
    except MicroaotError as e:
        signal.setitimer(signal.ITIMER_REAL, 0)
        msg = str(e)
        status = "rejected" if path.name in msg and len(msg) > len(str(path)) + 10 else "crash"
        detail = f"{type(e).__name__}: {msg}" if status == "rejected" else \
            f"{type(e).__name__} without the model file name or a reason: {msg!r}"
        return Outcome(key, seed, recipe, status, detail, None, time.monotonic() - t0)
    except BaseException as e:  # noqa: BLE001 - this is what the test hunts
        signal.setitimer(signal.ITIMER_REAL, 0)
        tb = traceback.format_exception(type(e), e, e.__traceback__)
        return Outcome(key, seed, recipe, "crash", f"{type(e).__name__}: {e}\n{''.join(tb[-4:])}", None,
                       time.monotonic() - t0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


# ---------------------------------------------------------------------------------------------- tests

def _c_fingerprint(path: str) -> str:
    text = Path(path).read_text()
    text = re.sub(r"/\*.*?\*/", "", text, count=3, flags=re.S)  # banner (model hash, file name)
    return hashlib.sha256(text.encode()).hexdigest()


def _gcc_check(o: Outcome, *, full: bool) -> str | None:
    assert o.c_file is not None
    c = Path(o.c_file)
    out = ["-c", "-O1", "-o", str(c.with_suffix(".o"))] if full else ["-fsyntax-only"]
    proc = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", *out, f"-I{crt_root() / 'include'}",
                           f"-I{c.parent}", str(c)], capture_output=True, text=True, timeout=120, check=False)
    return None if proc.returncode == 0 else f"{o.key} seed {o.seed} ({o.recipe}):\n{proc.stderr[-1500:]}"


def _asan_run(o: Outcome, root: Path) -> str | None:
    """Build the mutant's RPC host board with ASan+UBSan, run it once on random inputs."""
    import numpy as np

    from microaot.compiler import compile_model
    from microaot.errors import RpcError
    from microaot.rpc.hostboard import build_host_board, start_host_board

    d = root / f"{o.key}_{o.seed}"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{o.key}_m{o.seed}.tflite"
    path.write_bytes(mutate(_model(o.key)[0], o.seed)[0])
    r = compile_model(path, d, name="mut")
    exe = build_host_board(r, d, extra_cflags=["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-O1"])
    s = start_host_board(r, d, exe=exe, timeout=30.0)
    try:
        rng = np.random.default_rng(o.seed)
        assert s.info is not None
        xs = [rng.integers(-128, 128, size=t.shape).astype(t.dtype) for t in s.info.inputs]
        try:
            s.invoke(xs)
        except RpcError as e:  # a clean error from the device is fine; a dead device is not
            if "closed its output" in str(e):
                return f"{o.key} seed {o.seed} ({o.recipe}): {e}"
    finally:
        s.close()
    proc = s.transport.proc  # type: ignore[attr-defined]
    err = bytes(s.transport._stderr).decode(errors="replace")  # type: ignore[attr-defined]
    if proc.returncode != 0 or "runtime error" in err or "AddressSanitizer" in err:
        return f"{o.key} seed {o.seed} ({o.recipe}): board exit {proc.returncode}\n{err[-1500:]}"
    return None


def test_mutants_compile_or_fail_cleanly(tmp_path: Path) -> None:
    keys = list(MLPERF_MODELS)
    tasks = [(k, seed, str(tmp_path)) for seed in range(MUTANTS_PER_MODEL) for k in keys]
    outcomes: list[Outcome] = []
    t0 = time.monotonic()
    # forkserver: workers fork from a fresh single-threaded server, not from this process (whose
    # transport and pytest threads may hold locks); the heavy imports are done once in the server
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["numpy", "tflite", "microaot.compiler", "test_reliability_mutants"])
    pending = list(tasks)
    while pending:
        with ctx.Pool(min(2, os.cpu_count() or 1), initializer=_init_worker, maxtasksperchild=100) as pool:
            it = pool.imap(run_mutant, pending, chunksize=1)
            done = 0
            try:
                for _ in pending:
                    outcomes.append(it.next(timeout=TIMEOUT_S + 30))
                    done += 1
            except multiprocessing.TimeoutError:
                k, seed, _ = pending[done]
                outcomes.append(Outcome(k, seed, mutate(*_model(k)[:1], seed)[1], "timeout",
                                        "worker stuck (no Python-level timeout either)"))
                done += 1
                pool.terminate()
            pending = pending[done:]
    elapsed = time.monotonic() - t0
    by_status = Counter(o.status for o in outcomes)
    by_kind = Counter(o.recipe.split(":")[0] + "/" + o.status for o in outcomes)

    # the baseline: what the unmutated models generate
    base_dir = tmp_path / "base"
    from microaot.compiler import compile_model
    base = {_c_fingerprint(str(compile_model(mlperf_model(k), base_dir / k, name="mut").sources[0])) for k in keys}
    changed = [o for o in outcomes if o.status == "compiled" and o.c_file and _c_fingerprint(o.c_file) not in base]
    seen: set[str] = set()
    sample: list[Outcome] = []
    for o in sorted(changed, key=lambda o: (o.recipe.startswith("bitflip_any"), o.seed, o.key)):
        fp = _c_fingerprint(o.c_file or "")
        if fp not in seen and len(sample) < GCC_SAMPLE:
            seen.add(fp)
            sample.append(o)
    with ThreadPoolExecutor(2) as pool:
        gcc_fail = [f for f in pool.map(lambda io: _gcc_check(io[1], full=io[0] < GCC_FULL), enumerate(sample)) if f]
        asan = [o for o in sample if o.key in ASAN_MODELS][:ASAN_RUNS]
        asan_fail = [f for f in pool.map(lambda o: _asan_run(o, tmp_path / "asan"), asan) if f]

    slowest = max(outcomes, key=lambda o: o.seconds)
    record_figures("mutated models (importer + compiler)", {
        "mutants tried": len(outcomes),
        "compiled": by_status["compiled"],
        "compiled with changed C": len(changed),
        "rejected with MicroaotError": by_status["rejected"],
        "crashes (other exception)": by_status["crash"],
        "timeouts": by_status["timeout"],
        "generated C through gcc -Werror": f"{len(sample) - len(gcc_fail)}/{len(sample)} "
                                             f"({min(GCC_FULL, len(sample))} compiled, the rest -fsyntax-only)",
        "run once on the ASan+UBSan host board": f"{len(asan) - len(asan_fail)}/{len(asan)} clean",
        "by kind": ", ".join(f"{k} {v}" for k, v in sorted(by_kind.items())),
        "slowest mutant": f"{slowest.seconds:.2f} s ({slowest.key} seed {slowest.seed})",
        "wall time": f"{elapsed:.1f} s",
    })
    bad = [o for o in outcomes if o.status in ("crash", "timeout")]
    msgs = [f"{o.key} seed {o.seed} [{o.recipe}] -> {o.status}: {o.detail}" for o in bad[:15]]
    assert not bad, f"{len(bad)} of {len(outcomes)} mutants did not fail cleanly:\n" + "\n\n".join(msgs)
    assert not gcc_fail, "generated C of mutants does not compile:\n" + "\n".join(gcc_fail)
    assert not asan_fail, "generated C of mutants misbehaves at run time:\n" + "\n".join(asan_fail)
    assert by_status["rejected"] > len(outcomes) // 10 and by_status["compiled"] > 0


def test_mutator_is_deterministic() -> None:
    data = mlperf_model("ad").read_bytes()
    assert mutate(data, 17) == mutate(data, 17)
    assert mutate(data, 17)[0] != mutate(data, 18)[0]


@pytest.mark.parametrize("key", ["kws"])
def test_clean_model_still_compiles(key: str) -> None:
    from microaot.compiler import compile_model

    with tempfile.TemporaryDirectory() as d:
        assert compile_model(mlperf_model(key), d).workspace_size > 0


# ---------------------------------------------------------------------------------------------- regressions
# mutants that crashed (another exception type, or an 'internal:' error) before the fixes of issue 7
CRASHED_BEFORE = [("kws", 18), ("ic", 18), ("ad", 42), ("kws", 53), ("ad", 124), ("ic", 410)]


def _expect_clean_error(path: Path, out: Path, match: str) -> None:
    from microaot.compiler import compile_model
    from microaot.errors import MicroaotError

    with pytest.raises(MicroaotError, match=match) as e:
        compile_model(path, out, name="mut")
    assert str(path) in str(e.value)


@pytest.mark.parametrize(("key", "seed"), CRASHED_BEFORE, ids=[f"{k}-{s}" for k, s in CRASHED_BEFORE])
def test_mutant_regressions(key: str, seed: int, tmp_path: Path) -> None:
    data, fields = _model(key)
    mutant, recipe = mutate(data, seed, fields)
    p = tmp_path / f"{key}_m{seed}.tflite"
    p.write_bytes(mutant)
    _expect_clean_error(p, tmp_path, r"operator|tensor")


def _io_pos(sg: object, op: int, outputs: bool, k: int) -> int:
    o = sg.Operators(op)  # type: ignore[attr-defined]
    v = _vector(o._tab, 8 if outputs else 6)
    assert v is not None
    return v[0] + 4 * k


def test_inconsistent_dataflow_is_rejected(tmp_path: Path) -> None:
    """These compiled silently into C reading unplanned workspace before issue 7."""
    data = mlperf_model("kws").read_bytes()
    sg = tflite.Model.GetRootAs(data, 0).Subgraphs(0)
    cases = {
        "read_before_write": (_io_pos(sg, 1, False, 0), sg.Operators(5).Outputs(0), "before any operator writes"),
        "written_twice": (_io_pos(sg, 3, True, 0), sg.Operators(1).Outputs(0), "already writes it"),
        "writes_graph_input": (_io_pos(sg, 1, True, 0), sg.Inputs(0), "graph input"),
    }
    for name, (pos, value, match) in cases.items():
        b = bytearray(data)
        struct.pack_into("<i", b, pos, value)
        p = tmp_path / f"{name}.tflite"
        p.write_bytes(bytes(b))
        _expect_clean_error(p, tmp_path / name, match)


def test_out_of_range_zero_point_and_bad_scales_are_rejected(tmp_path: Path) -> None:
    """A zero point of 2^40 used to reach the generated C (gcc -Werror: overflow), NaN/inf/0 scales a
    ValueError/OverflowError/ZeroDivisionError in the codegen."""
    data = mlperf_model("ad").read_bytes()
    sg = tflite.Model.GetRootAs(data, 0).Subgraphs(0)
    q = sg.Tensors(sg.Outputs(0)).Quantization()
    scales, zps = _vector(q._tab, 8), _vector(q._tab, 10)
    assert scales is not None and zps is not None
    for i, (fmt, pos, value) in enumerate([("<q", zps[0], 1 << 40), ("<q", zps[0], 128), ("<f", scales[0], math.nan),
                                           ("<f", scales[0], math.inf), ("<f", scales[0], 0.0),
                                           ("<f", scales[0], -0.5)]):
        b = bytearray(data)
        struct.pack_into(fmt, b, pos, value)
        p = tmp_path / f"q{i}.tflite"
        p.write_bytes(bytes(b))
        _expect_clean_error(p, tmp_path / f"q{i}", "zero point|scale")


# the mutants whose scales gave requantization shifts of 100+ (UB in the generated C before the fix)
HUGE_MULTIPLIER_BEFORE = [("ad", 9), ("kws", 9)]


@pytest.mark.parametrize(("key", "seed"), HUGE_MULTIPLIER_BEFORE, ids=[f"{k}-{s}" for k, s in HUGE_MULTIPLIER_BEFORE])
def test_huge_requantization_multiplier_is_rejected(key: str, seed: int, tmp_path: Path) -> None:
    p = tmp_path / f"{key}_m{seed}.tflite"
    p.write_bytes(mutate(*_model(key)[:1], seed)[0])
    _expect_clean_error(p, tmp_path, "multiplier .* too large")


def _gcc_syntax(c: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                           f"-I{crt_root() / 'include'}", f"-I{c.parent}", str(c)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_hostile_tensor_names_and_file_names_stay_inside_c_literals(tmp_path: Path) -> None:
    """ic seed 47 (a corrupted string length: NULs and control bytes in a tensor name) generated C
    that did not compile; so would quotes, newlines, '??/' trigraphs and '*/' in names."""
    from microaot.compiler import compile_model

    data, fields = _model("ic")
    p = tmp_path / "ic_m47.tflite"
    p.write_bytes(mutate(data, 47, fields)[0])
    r = compile_model(p, tmp_path / "ic47", name="mut")
    assert _gcc_syntax(r.sources[0]).returncode == 0, _gcc_syntax(r.sources[0]).stderr[-2000:]

    data = mlperf_model("ad").read_bytes()
    sg = tflite.Model.GetRootAs(data, 0).Subgraphs(0)
    t = sg.Tensors(sg.Inputs(0))
    pos, n = _vector(t._tab, 10)  # type: ignore[misc]
    evil = (b'"\n*/??/\\\x00\xff' * 8)[:n]
    b = bytearray(data)
    b[pos:pos + n] = evil
    p = tmp_path / "evil*?name.tflite"
    p.write_bytes(bytes(b))
    r = compile_model(p, tmp_path / "evil", name="evil")
    proc = _gcc_syntax(r.sources[0])
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("shape", [(1, 1 << 16, 1 << 16), (1, 3, 1 << 30), (1 << 15, 1 << 15, 1 << 10)])
def test_activations_beyond_32_bit_sizes_are_rejected(shape: tuple[int, ...], tmp_path: Path) -> None:
    """A consistent model with a 3 GiB .. 1 TiB activation compiled into C that gcc -Werror refused
    (sizes overflowing the descriptor's 32-bit fields) before issue 7."""
    import numpy as np

    from microaot.testing.modelgen import unary_model

    p = tmp_path / "huge.tflite"
    p.write_bytes(unary_model(np.random.default_rng(0), op="RELU", shape=shape))
    _expect_clean_error(p, tmp_path / "out", "at most 2147483647 bytes")
