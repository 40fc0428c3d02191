"""TFLM's signal-library streaming operators (SignalPCAN, SignalFramer, SignalStacker, SignalOverlapAdd,
SignalDelay; library/microaot/ops/signal_stream.py, crt/kernels/signal_stream.c) byte for byte against TFLM
over sequences of invocations.

Each case is a single custom-operator model (``microaot.testing.customgen``, flexbuffer custom options as the
TFLite converter writes them). TFLM (PyPI ``tflite-micro``) runs the sequence on one interpreter without
``reset()``, then resets and runs the first steps again; microaot's host build runs the same steps through
``NAME_run_ex`` with one state buffer, then ``NAME_reset_state`` and the first steps again. Every step must be
byte-identical; a framer's or stacker's frame output is compared when its "output valid" flag is set (while it
is 0 TFLM leaves the output buffer as it was, uninitialised arena memory at first), the flag always.
A sample runs on QEMU mps2-an386 (Cortex-M4F) too.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from microaot.compiler import CompileResult, compile_model
from microaot.errors import UnsupportedModelError
from microaot.hostbuild import compile_c
from microaot.inspect_model import summarize
from microaot.passes.support import check_compilable
from microaot.paths import crt_root
from microaot.testing.customgen import CIn, COut, custom_op_model, tensor_type
from microaot.testing.modelgen import ModelBuilder

STEPS = 7  # invocations per sequence
RESET_STEPS = 3  # invocations after the reset


@dataclass(frozen=True)
class Case:
    id: str
    model: bytes
    inputs: Callable[[np.random.Generator], list[np.ndarray]]  # one invocation's graph inputs
    valid_output: int | None = None  # index of the "output valid" flag among the outputs


Gen = Callable[[np.random.Generator], list[np.ndarray]]


def _i16(shape: tuple[int, ...]) -> Gen:
    return lambda r: [r.integers(-32768, 32768, size=shape).astype(np.int16)]


def _framer(shape: tuple[int, ...], size: int, step: int, prefill: bool) -> Case:
    out = (*shape[:-1], shape[-1] // step, size)
    m = custom_op_model("SignalFramer", [CIn(shape, "int16")], [COut(out, "int16"), COut((), "bool")],
                        {"frame_size": size, "frame_step": step, "prefill": prefill})
    return Case(f"framer-{'x'.join(map(str, shape))}-size{size}-step{step}{'-prefill' if prefill else ''}", m,
                _i16(shape), valid_output=1)


def _stacker(ch: int, left: int, right: int, step: int) -> Case:
    m = custom_op_model("SignalStacker", [CIn((ch,), "int16")], [COut((ch * (left + right + 1),), "int16"),
                                                                    COut((), "bool")],
                        {"num_channels": ch, "stacker_left_context": left, "stacker_right_context": right,
                         "stacker_step": step})
    return Case(f"stacker-c{ch}-l{left}-r{right}-step{step}", m, _i16((ch,)), valid_output=1)


def _overlap_add(shape: tuple[int, ...], step: int, dtype: str) -> Case:
    out = (*shape[:-2], shape[-2] * step)
    m = custom_op_model("SignalOverlapAdd", [CIn(shape, dtype)], [COut(out, dtype)],
                        {"T": tensor_type(dtype), "frame_step": step})
    if dtype == "float32":
        def gen(r: np.random.Generator) -> list[np.ndarray]:
            return [(r.standard_normal(shape) * 1000).astype(np.float32)]
    else:
        gen = _i16(shape)  # full range: the int16 sums saturate
    return Case(f"overlap_add-{'x'.join(map(str, shape))}-step{step}-{dtype}", m, gen)


def _delay(shape: tuple[int, ...], delay: int, extra: dict[str, int] | None = None) -> Case:
    m = custom_op_model("SignalDelay", [CIn(shape, "int16")], [COut(shape, "int16")],
                        {"delay_length": delay, **(extra or {})})
    return Case(f"delay-{'x'.join(map(str, shape))}-d{delay}{'-extra' if extra else ''}", m, _i16(shape))


def _pcan(ch: int, shift: int, lut_seed: int) -> Case:
    lut = np.random.default_rng(lut_seed).integers(-32768, 32768, size=125).astype(np.int16)
    m = custom_op_model("SignalPCAN", [CIn((ch,), "uint32"), CIn((ch,), "uint32"), CIn((125,), "int16", lut)],
                        [COut((ch,), "uint32")], {"snr_shift": shift})

    def gen(r: np.random.Generator) -> list[np.ndarray]:
        # magnitudes spread over every bit length (each LUT interval of the gain function)
        def u32() -> np.ndarray:
            bits = r.integers(0, 33, size=ch)
            return (r.integers(0, 2**32, size=ch, dtype=np.uint64) >> (32 - bits).astype(np.uint64)).astype(np.uint32)
        return [u32(), u32()]

    return Case(f"pcan-c{ch}-shift{shift}-lut{lut_seed}", m, gen)


def _chain() -> Case:
    """Three stateful operators in one graph (each its own state region): delay -> framer -> overlap-add, the
    frame output a graph output beside the reconstruction."""
    mb = ModelBuilder()
    x = mb.add_input("x", (16,), "int16")
    d = mb.add_tensor("delayed", (16,), "int16")
    frames = mb.add_tensor("frames", (4, 8), "int16")
    valid = mb.add_tensor("valid", (), "bool")
    y = mb.add_tensor("y", (16,), "int16")
    mb.add_custom_operator("SignalDelay", [x], [d], {"delay_length": 3})
    mb.add_custom_operator("SignalFramer", [d], [frames, valid], {"frame_size": 8, "frame_step": 4, "prefill": True})
    mb.add_custom_operator("SignalOverlapAdd", [frames], [y], {"T": tensor_type("int16"), "frame_step": 4})
    mb.set_outputs([y, valid, frames])
    return Case("chain-delay-framer-overlap_add", mb.to_bytes(), lambda r: [r.integers(-9000, 9000, 16).astype(
        np.int16)], valid_output=1)


CASES: list[Case] = [
    _framer((8,), 6, 4, False), _framer((8,), 6, 4, True), _framer((2, 3, 8), 5, 2, True),
    _framer((2, 12), 12, 4, False), _framer((3, 4), 3, 4, False), _framer((6,), 6, 6, True),
    _stacker(3, 1, 1, 1), _stacker(4, 2, 1, 1), _stacker(2, 1, 2, 2), _stacker(5, 3, 0, 2), _stacker(1, 0, 0, 1),
    _overlap_add((3, 8), 4, "int16"), _overlap_add((2, 2, 6), 3, "int16"), _overlap_add((4, 5), 5, "int16"),
    _overlap_add((3, 8), 2, "float32"), _overlap_add((2, 3, 4), 4, "float32"),
    _delay((2, 3), 4), _delay((1, 8), 3), _delay((2, 2, 5), 0), _delay((6,), 6), _delay((3, 1), 2),
    # TFLM reads options by position in key order: here entry 0 is "a_first" (2), not delay_length (5)
    _delay((2, 3), 5, {"a_first": 2}),
    _pcan(4, 6, 0), _pcan(40, 12, 1), _pcan(16, 0, 2), _pcan(7, 31, 3), _chain(),
]
QEMU_SAMPLE = ("chain-delay-framer-overlap_add",
               "framer-2x3x8-size5-step2-prefill", "stacker-c4-l2-r1-step1", "overlap_add-3x8-step4-int16",
               "overlap_add-3x8-step2-float32", "delay-2x3-d4", "pcan-c40-shift12-lut1")

_TFLM_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from tflite_micro import runtime

    def run(interp, seq, nout):
        outs = []
        for ins in seq:
            for k, a in enumerate(ins):
                interp.set_input(a, k)
            interp.invoke()
            outs.append([np.array(interp.get_output(k), copy=True) for k in range(nout)])
        return outs

    job = np.load(sys.argv[1], allow_pickle=False)
    res = {}
    for m in range(int(job["n_models"])):
        buf = job[f"m{m}_model"].tobytes()
        nin, nout, steps, rs = (int(v) for v in job[f"m{m}_dims"])
        seq = [[job[f"m{m}_s{s}_k{k}"] for k in range(nin)] for s in range(steps)]
        interp = runtime.Interpreter.from_bytes(buf, arena_size=1 << 16)
        outs = run(interp, seq, nout)
        interp.reset()
        outs += run(interp, seq[:rs], nout)
        for s, o in enumerate(outs):
            for k, a in enumerate(o):
                res[f"m{m}_s{s}_k{k}"] = a
    np.savez(sys.argv[2], **res)
""")


def _tflm_sequences(tmp: Path, models: list[bytes], seqs: list[list[list[np.ndarray]]],
                    nouts: list[int]) -> list[list[list[np.ndarray]]]:
    """TFLM's outputs of every model over its sequence, then (after ``reset()``) its first RESET_STEPS steps."""
    job: dict[str, np.ndarray] = {"n_models": np.array(len(models))}
    for m, (buf, seq) in enumerate(zip(models, seqs, strict=True)):
        job[f"m{m}_model"] = np.frombuffer(buf, dtype=np.uint8)
        job[f"m{m}_dims"] = np.array([len(seq[0]), nouts[m], len(seq), RESET_STEPS])
        for s, ins in enumerate(seq):
            for k, a in enumerate(ins):
                job[f"m{m}_s{s}_k{k}"] = a
    np.savez(tmp / "job.npz", **job)
    subprocess.run([sys.executable, "-c", _TFLM_CHILD, str(tmp / "job.npz"), str(tmp / "out.npz")], check=True,
                   timeout=300, capture_output=True)
    with np.load(tmp / "out.npz") as z:
        return [[[z[f"m{m}_s{s}_k{k}"] for k in range(nouts[m])] for s in range(len(seqs[m]) + RESET_STEPS)]
                for m in range(len(models))]


def state_size(result: CompileResult) -> int:
    m = re.search(rf"#define {result.name}_STATE_SIZE (\d+)", result.header.read_text())
    assert m is not None, "the generated header has no NAME_STATE_SIZE"
    assert int(m.group(1)) == result.state_size
    return result.state_size


def _np_dtype(dtype: str) -> type[np.generic]:
    return {"int16": np.int16, "float32": np.float32, "uint32": np.uint32, "bool": np.uint8}[dtype]


def run_host_sequence(lib: ctypes.CDLL, result: CompileResult, seq: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """NAME_run_ex over the sequence with one state buffer (reset first), then NAME_reset_state and the first
    RESET_STEPS steps again. Output buffers persist across steps, as TFLM's do."""
    g = result.graph
    run = getattr(lib, f"{result.name}_run_ex")
    run.argtypes = [ctypes.c_void_p] * 5
    run.restype = ctypes.c_int
    reset = getattr(lib, f"{result.name}_reset_state")
    reset.argtypes = [ctypes.c_void_p]
    reset.restype = ctypes.c_int
    ws = np.zeros(result.workspace_size + 64, np.uint8)
    ws_ptr = (ws.ctypes.data + 63) // 64 * 64
    st = np.zeros(state_size(result) + 64, np.uint8)
    st_ptr = (st.ctypes.data + 63) // 64 * 64
    outs = [np.zeros(g.tensors[t].shape, _np_dtype(g.tensors[t].dtype)) for t in g.outputs]
    out_ptrs = (ctypes.c_void_p * len(outs))(*[o.ctypes.data for o in outs])
    assert reset(ctypes.c_void_p(st_ptr)) == 0
    got: list[list[np.ndarray]] = []
    for step, ins in enumerate([*seq, *seq[:RESET_STEPS]]):
        if step == len(seq):
            assert reset(ctypes.c_void_p(st_ptr)) == 0
        arrs = [np.ascontiguousarray(a) for a in ins]
        in_ptrs = (ctypes.c_void_p * len(arrs))(*[a.ctypes.data for a in arrs])
        assert run(in_ptrs, out_ptrs, ctypes.c_void_p(ws_ptr), ctypes.c_void_p(st_ptr), None) == 0
        got.append([o.copy() for o in outs])
    return got


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list, list, Case]]:
    tmp = tmp_path_factory.mktemp("signal_stream")
    rng = np.random.default_rng(18)
    seqs = [[case.inputs(rng) for _ in range(STEPS)] for case in CASES]
    compiled: list[CompileResult] = []
    for i, case in enumerate(CASES):
        p = tmp / f"{case.id}.tflite"
        p.write_bytes(case.model)
        compiled.append(compile_model(p, tmp / "gen", name=f"ss{i}"))
    kernels = sorted({k for r in compiled for k in r.kernel_sources})
    lib_path = compile_c([*(r.sources[0] for r in compiled), *kernels], tmp / "libss.so",
                         include_dirs=[tmp / "gen"], kind="shared")
    lib = ctypes.CDLL(str(lib_path))
    ref = _tflm_sequences(tmp, [c.model for c in CASES], seqs, [len(r.graph.outputs) for r in compiled])
    return {case.id: (run_host_sequence(lib, r, seq), ref[i], case)
            for i, (case, r, seq) in enumerate(zip(CASES, compiled, seqs, strict=True))}


def compare_steps(case: Case, got: list[list[np.ndarray]], want: list[list[np.ndarray]]) -> int:
    """Asserts every step equal (see the module doc); returns how many steps had a valid frame output."""
    valid_steps = 0
    for step, (g, w) in enumerate(zip(got, want, strict=True)):
        where = f"{case.id} step {step}{' (after reset)' if step >= STEPS else ''}"
        if case.valid_output is not None:
            flag_g, flag_w = int(g[case.valid_output]), int(bool(w[case.valid_output]))
            assert flag_g == flag_w, f"{where}: output valid {flag_g}, TFLM {flag_w}"
            if not flag_w:
                continue
            valid_steps += 1
        for k, (a, b) in enumerate(zip(g, w, strict=True)):
            if k == case.valid_output:
                continue
            b = np.asarray(b)
            assert a.shape == b.shape and a.tobytes() == b.astype(a.dtype).tobytes(), \
                f"{where}, output {k}:\nmicroaot {a.ravel()[:16]}\nTFLM     {b.ravel()[:16]}"
    return valid_steps


@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_matches_tflm_over_a_sequence(results: dict[str, tuple[list, list, Case]], case_id: str) -> None:
    got, want, case = results[case_id]
    valid = compare_steps(case, got, want)
    if case.valid_output is not None:
        assert valid >= 2, f"{case_id}: only {valid} steps had a valid frame; the case tests too little"


def test_state_sizes_and_reset(tmp_path: Path) -> None:
    """Stateful ops get NAME_STATE_SIZE; PCAN and a zero delay need none; the framer's prefill is a reset
    statement."""
    sizes = {}
    for case in CASES:
        if case.id in ("framer-8-size6-step4-prefill", "stacker-c3-l1-r1-step1", "delay-2x2x5-d0",
                       "pcan-c4-shift6-lut0", "overlap_add-3x8-step2-float32"):
            p = tmp_path / f"{case.id}.tflite"
            p.write_bytes(case.model)
            r = compile_model(p, tmp_path / "gen", name="m_" + re.sub(r"\W", "_", case.id))
            sizes[case.id] = (state_size(r), r.sources[0].read_text())
    # framer: int32 count + 1 row of capacity 8 (6 rounded up to a multiple of 4) int16 samples
    assert sizes["framer-8-size6-step4-prefill"][0] >= 4 + 2 * 8
    assert "uaot_framer_reset(" in sizes["framer-8-size6-step4-prefill"][1]
    assert sizes["stacker-c3-l1-r1-step1"][0] >= 8 + 2 * 9
    assert sizes["overlap_add-3x8-step2-float32"][0] >= 4 * 8
    assert sizes["delay-2x2x5-d0"][0] == 0
    assert sizes["pcan-c4-shift6-lut0"][0] == 0


@pytest.mark.parametrize("name, ins, outs, options, why", [
    ("SignalFramer", [CIn((10,), "int16")], [COut((2, 6), "int16"), COut((), "bool")],
     {"frame_size": 6, "frame_step": 4, "prefill": False},
     "the innermost input dimension (10) must be a multiple of frame_step (4)"),
    ("SignalStacker", [CIn((3,), "int16")], [COut((9,), "int16"), COut((), "bool")],
     {"num_channels": 3, "stacker_left_context": 1, "stacker_right_context": 1},
     "its custom options have 3 entries ['num_channels', 'stacker_left_context', 'stacker_right_context']; TFLM "
     "reads 'stacker_step' as entry 3 of the map (keys in sorted order), which is missing"),
    ("SignalOverlapAdd", [CIn((3, 8), "int16")], [COut((12,), "int16")], {"T": 0, "frame_step": 4},
     "custom option 'T' is 0, the input is int16 (TensorType 7); TFLM picks the kernel by 'T'"),
    ("SignalOverlapAdd", [CIn((3, 8), "int16")], [COut((30,), "int16")], {"T": 7, "frame_step": 10},
     "frame_step (10) > frame_size (8) is not defined in TFLM"),
    ("SignalPCAN", [CIn((4,), "uint32"), CIn((4,), "uint32"), CIn((40,), "int16", np.zeros(40))],
     [COut((4,), "uint32")], {"snr_shift": 6}, "gain LUT 'const2' has 40 entries"),
    ("SignalDelay", [CIn((4,), "float32")], [COut((4,), "float32")], {"delay_length": 1},
     "input tensor 'input0' is float32; TFLM's kernel takes int16"),
])
def test_refused_with_a_clear_message(tmp_path: Path, name: str, ins: list[CIn], outs: list[COut],
                                      options: dict, why: str) -> None:
    p = tmp_path / "bad.tflite"
    p.write_bytes(custom_op_model(name, ins, outs, options))
    with pytest.raises(UnsupportedModelError) as ei:
        compile_model(p, tmp_path / "gen")
    assert f"{p}: operator 0 (CUSTOM:{name}): {why}" in str(ei.value)


@pytest.mark.parametrize("cc", ["gcc", "arm-none-eabi-gcc"])
def test_kernel_family_compiles_clean(cc: str, tmp_path: Path) -> None:
    """-std=c99 -Wall -Wextra -Werror on the host and Cortex-M4; no symbol beyond memcpy/memmove/memset."""
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} missing")
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{crt_root() / 'include'}"]
    if cc.startswith("arm"):
        flags += ["-mthumb", "-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    obj = tmp_path / "signal_stream.o"
    proc = subprocess.run([cc, *flags, "-c", str(crt_root() / "kernels" / "signal_stream.c"), "-o", str(obj)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    nm = "arm-none-eabi-nm" if cc.startswith("arm") else "nm"
    undefined = set(subprocess.run([nm, "-u", str(obj)], capture_output=True, text=True,
                                   check=True).stdout.split()) - {"U", "w"}
    assert undefined <= {"memcpy", "memmove", "memset"}, sorted(undefined)


def _m4_main(models: list[tuple[CompileResult, list[list[np.ndarray]]]]) -> str:
    """A firmware main(): per model, reset_state, the sequence, reset_state, the first RESET_STEPS steps; every
    output of every step printed as hex on UART0."""
    lines = ['#include <stddef.h>', '#include <stdint.h>', '#include "microaot/platform.h"']
    lines += [f'#include "{r.name}.h"' for r, _ in models]
    lines += ["static void put(const char *s) { size_t n = 0; while (s[n]) { n++; } "
              "uaot_platform_write((const uint8_t *)s, n); }",
              "static void put_hex(const uint8_t *p, uint32_t n) { static const char h[] = \"0123456789abcdef\"; "
              "char b[2]; for (uint32_t i = 0; i < n; i++) { b[0] = h[p[i] >> 4]; b[1] = h[p[i] & 15]; "
              "uaot_platform_write((const uint8_t *)b, 2); } }"]
    body = ["int main(void)", "{"]
    for r, seq in models:
        n, g = r.name, r.graph
        lines.append(f"static uint8_t {n}_ws[{n}_WORKSPACE_SIZE + 1] __attribute__((aligned(16)));")
        lines.append(f"static uint8_t {n}_st[{n}_STATE_SIZE + 1] __attribute__((aligned(16)));")
        for k, t in enumerate(g.outputs):
            lines.append(f"static uint8_t {n}_out{k}[{g.tensors[t].nbytes}] __attribute__((aligned(16)));")
        lines.append(f"static void *const {n}_outs[{len(g.outputs)}] = {{"
                     + ", ".join(f"{n}_out{k}" for k in range(len(g.outputs))) + "};")
        steps = [*seq, *seq[:RESET_STEPS]]
        for s, ins in enumerate(steps):
            for k, a in enumerate(ins):
                b = np.ascontiguousarray(a).tobytes()
                lines.append(f"static const uint8_t {n}_in{s}_{k}[{len(b)}] __attribute__((aligned(16))) = "
                             f"{{{', '.join(str(x) for x in b)}}};")
            lines.append(f"static const void *const {n}_ins{s}[{len(ins)}] = {{"
                         + ", ".join(f"{n}_in{s}_{k}" for k in range(len(ins))) + "};")
        body.append(f"    if ({n}_reset_state({n}_st) != UAOT_OK) {{ return 3; }}")
        for s in range(len(steps)):
            if s == len(seq):
                body.append(f"    if ({n}_reset_state({n}_st) != UAOT_OK) {{ return 3; }}")
            body.append(f"    if ({n}_run_ex({n}_ins{s}, {n}_outs, {n}_ws, {n}_st, NULL) != UAOT_OK) {{ return 4; }}")
            for k, t in enumerate(g.outputs):
                body.append(f'    put("out "); put_hex({n}_out{k}, {g.tensors[t].nbytes}u); put("\\n");')
    body += ['    put("done\\n");', "    return 0;", "}", ""]
    return "\n".join(lines + body)


@pytest.mark.qemu
def test_qemu_m4_sample_matches_tflm(tmp_path: Path) -> None:
    """A sample of the cases on QEMU mps2-an386 (Cortex-M4F, target cortex-m4): every step as TFLM's."""
    m4run = pytest.importorskip("microaot.testing.m4run")
    if not m4run.available():
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm missing")
    rng = np.random.default_rng(4)
    cases = [c for c in CASES if c.id in QEMU_SAMPLE]
    models: list[tuple[CompileResult, list[list[np.ndarray]]]] = []
    for i, case in enumerate(cases):
        p = tmp_path / f"{case.id}.tflite"
        p.write_bytes(case.model)
        models.append((compile_model(p, tmp_path / "gen", name=f"q{i}", target="cortex-m4"),
                       [case.inputs(rng) for _ in range(STEPS)]))
    want = _tflm_sequences(tmp_path, [c.model for c in cases], [s for _, s in models],
                           [len(r.graph.outputs) for r, _ in models])
    main = tmp_path / "main.c"
    main.write_text(_m4_main(models))
    crt = crt_root()
    port = crt / "ports" / "cmsdk"
    kernels = sorted({str(k) for r, _ in models for k in r.kernel_sources})
    elf = tmp_path / "signal.elf"
    cmd = [m4run.ARM_CC, *m4run.M4_FLAGS, *m4run.CFLAGS, f"-I{crt / 'include'}", f"-I{tmp_path / 'gen'}",
           str(main), *(str(r.sources[0]) for r, _ in models), *kernels, str(port / "startup.c"),
           str(port / "platform_cmsdk.c"), str(crt / "src" / "platform_defaults.c"), "-nostartfiles",
           "--specs=nano.specs", "--specs=nosys.specs", f"-T{port / 'mps2.ld'}", "-Wl,--gc-sections", "-o", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run(["timeout", "120", m4run.QEMU, "-M", "mps2-an386", "-nographic", "-semihosting",
                          "-kernel", str(elf)], capture_output=True, text=True, timeout=130, check=False)
    assert "done" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]
    hexes = iter(re.findall(r"^out ([0-9a-f]*)", run.stdout, re.M))
    for (r, _), case, ref in zip(models, cases, want, strict=True):
        g = r.graph
        got = [[np.frombuffer(bytes.fromhex(next(hexes)), _np_dtype(g.tensors[t].dtype)).reshape(g.tensors[t].shape)
                for t in g.outputs] for _ in range(STEPS + RESET_STEPS)]
        compare_steps(case, got, ref)


def test_inspect_accepts_the_stateful_operators(tmp_path: Path) -> None:
    """`microaot inspect` / the pre-build check run every lowering on placeholders: a stateful one is compilable."""
    for case in CASES:
        if case.id in ("framer-8-size6-step4-prefill", "delay-2x3-d4", "pcan-c4-shift6-lut0"):
            p = tmp_path / f"{case.id}.tflite"
            p.write_bytes(case.model)
            info = summarize(p)
            assert info["compilable"] and not info["problems"], (case.id, info["problems"])
            check_compilable(p)
