"""SVDF (issue 18, stateful models): bit-exact with TFLM (PyPI ``tflite-micro``) over sequences of invocations.

Models come from ``microaot.testing.svdfgen`` (single SVDF operators over float32, int8 with an int16 state,
int8 with an int8 state; rank, batch, memory size 1, fused activations, bias random / zero / omitted) and a
small keyword-spotting-like graph SVDF -> SVDF -> FULLY_CONNECTED -> SOFTMAX. The activation_state is a
variable tensor in the model's state buffer: the host runs ``NAME_reset_state`` once, then ``NAME_run_ex``
once per step with the same state buffer, TFLM runs its interpreter once per step without reset; every step's
outputs must be byte-identical (float32 too: the kernel does TFLM's float operations in TFLM's order; the
float model's SOFTMAX output alone is allowed its documented ulp bound). A sample runs on QEMU Cortex-M4.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from microaot.compiler import CompileResult, compile_model
from microaot.errors import UnsupportedModelError
from microaot.fidelity import ULP_BOUND, ulp_distance
from microaot.hostbuild import build_model_shared_lib
from microaot.inspect_model import summarize
from microaot.paths import crt_root
from microaot.reference import run_reference
from microaot.testing import modelgen as mg
from microaot.testing import svdfgen as sg
from microaot.testing.batch import compile_and_build


@dataclass(frozen=True)
class Case:
    name: str
    kw: dict[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    ulp: int = 0  # float32 outputs: largest ulp distance from TFLM allowed (fused TANH: microaot.fidelity's)


CASES = [
    Case("f32-r1", {"dtype": "float32"}),
    Case("f32-r2-relu-b2", {"dtype": "float32", "rank": 2, "activation": "RELU", "batch": 2, "units": 3,
                            "memory": 4}, seeds=(0, 1)),
    Case("f32-relu6-m1", {"dtype": "float32", "activation": "RELU6", "memory": 1, "units": 5}),
    Case("f32-relun1-r3", {"dtype": "float32", "activation": "RELU_N1_TO_1", "rank": 3, "input_size": 3}),
    Case("f32-signbit-b2", {"dtype": "float32", "activation": "SIGN_BIT", "batch": 2}),
    Case("f32-tanh-r2", {"dtype": "float32", "activation": "TANH", "rank": 2, "units": 16, "input_size": 12},
         ulp=ULP_BOUND["SVDF"]),
    Case("s8s16-r1", {"dtype": "int8"}),
    Case("s8s16-r2-b2", {"dtype": "int8", "rank": 2, "batch": 2, "input_size": 13, "memory": 6}, seeds=(0, 1)),
    Case("s8s16-m1-relu", {"dtype": "int8", "memory": 1, "activation": "RELU"}),  # TFLM: no activation on int8
    Case("s8s16-kws", {"dtype": "int8", "input_size": 40, "units": 32, "rank": 2, "memory": 8}),
    Case("s8s8-r3-b2", {"dtype": "int8", "state": "int8", "rank": 3, "batch": 2, "memory": 3}, seeds=(0, 1)),
    Case("s8s8-r1", {"dtype": "int8", "state": "int8", "input_size": 17, "memory": 7}),
    # a state range 4x too narrow: the feature values saturate (int8 state: TFLM's narrowing wraps around)
    Case("s8s16-saturating", {"dtype": "int8", "headroom": 0.25}),
    Case("s8s8-saturating", {"dtype": "int8", "state": "int8", "rank": 2, "headroom": 0.25}),
]


def _steps(graph_inputs: list[tuple[tuple[int, ...], str]], n: int, rng: np.random.Generator) -> list[list[np.ndarray]]:
    out = []
    for _ in range(n):
        row = []
        for shape, dtype in graph_inputs:
            if dtype == "float32":
                row.append((rng.standard_normal(shape) * 2.0).astype(np.float32))
            else:
                row.append(rng.integers(-128, 128, size=shape).astype(np.int8))
        out.append(row)
    return out


class HostSequence:
    """A compiled stateful model on the host: one state buffer kept across ``step`` calls."""

    def __init__(self, result: CompileResult, lib_path: Path) -> None:
        self.result = result
        self.lib = ctypes.CDLL(str(lib_path))
        self.run = getattr(self.lib, f"{result.name}_run_ex")
        self.run.argtypes = [ctypes.c_void_p] * 5
        self.run.restype = ctypes.c_int
        self.reset_fn = getattr(self.lib, f"{result.name}_reset_state")
        self.reset_fn.argtypes = [ctypes.c_void_p]
        self.reset_fn.restype = ctypes.c_int
        self.state_size = result.state_size
        self._state_raw = np.zeros(self.state_size + 16, np.uint8)
        self.state = self._state_raw[(-self._state_raw.ctypes.data) % 16:][: self.state_size]
        self._ws_raw = np.zeros(max(result.workspace_size, 1) + 16, np.uint8)
        self.ws = self._ws_raw[(-self._ws_raw.ctypes.data) % 16:]
        self.reset()

    def reset(self) -> None:
        self.state[:] = 0xA5  # garbage: reset_state must set every byte TFLM's reset sets
        assert self.reset_fn(self.state.ctypes.data) == 0

    def step(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        g = self.result.graph
        ins = [np.ascontiguousarray(a) for a in inputs]
        outs = [np.zeros(g.tensors[t].shape, dtype=np.dtype(g.tensors[t].dtype)) for t in g.outputs]
        in_p = (ctypes.c_void_p * len(ins))(*[a.ctypes.data for a in ins])
        out_p = (ctypes.c_void_p * len(outs))(*[a.ctypes.data for a in outs])
        st = self.run(ctypes.cast(in_p, ctypes.c_void_p), ctypes.cast(out_p, ctypes.c_void_p), self.ws.ctypes.data,
                      self.state.ctypes.data, None)
        assert st == 0, f"{self.result.name}_run_ex returned {st}"
        return outs

    def sequence(self, steps: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        return [self.step(s) for s in steps]


def _inputs_of(result: CompileResult) -> list[tuple[tuple[int, ...], str]]:
    g = result.graph
    return [(tuple(int(d) for d in g.tensors[t].shape), g.tensors[t].dtype) for t in g.inputs]


def _mismatch(name: str, step: int, k: int, got: np.ndarray, ref: np.ndarray) -> str:
    return f"{name}: step {step} output {k} differs from TFLM:\n got {got.ravel()[:24]}\n ref {ref.ravel()[:24]}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case x seed compiled and linked into a few host shared libraries, and TFLM's outputs of a
    sequence of 2 * memory + 3 steps (memory wraps at least twice) for each."""
    td = tmp_path_factory.mktemp("svdf")
    names, paths, kws, ulps = [], [], [], []
    for c in CASES:
        for seed in c.seeds:
            ulps.append(c.ulp)
            p = td / f"{c.name}-s{seed}.tflite"
            p.write_bytes(sg.svdf_model(np.random.default_rng(seed), **c.kw))
            names.append(f"{c.name}-s{seed}")
            paths.append(p)
            kws.append(c.kw)
    libs = compile_and_build(paths, td / "build", prefix="svdf")
    seqs: list[list[list[np.ndarray]]] = []
    for i, b in enumerate(libs):
        assert not isinstance(b, Exception), f"{names[i]}: {b}"
        n = 2 * int(kws[i].get("memory", 5)) + 3
        seqs.append(_steps(_inputs_of(b.result), n, np.random.default_rng(100 + i)))  # type: ignore[arg-type]
    with ThreadPoolExecutor(max_workers=2) as ex:
        refs = list(ex.map(lambda i: run_reference(paths[i], seqs[i]), range(len(paths))))
    return {"names": names, "paths": paths, "libs": libs, "seqs": seqs, "refs": refs, "ulps": ulps}


def test_svdf_sequences_match_tflm(built: dict[str, Any]) -> None:
    """Every step of every sequence byte-identical with TFLM (float32 and int8, both state types; a float32
    SVDF with a fused TANH within its ulp bound, and not everywhere off by it)."""
    bad = []
    for name, b, seq, ref, ulp in zip(built["names"], built["libs"], built["seqs"], built["refs"], built["ulps"],
                                      strict=True):
        host = HostSequence(b.result, b.lib)
        worst = 0
        for s, (got, want) in enumerate(zip(host.sequence(seq), ref, strict=True)):
            for k, (y, r) in enumerate(zip(got, want, strict=True)):
                if ulp:
                    d = ulp_distance(y, r)
                    worst = max(worst, int(d.max()))
                    if int(d.max()) > ulp or float((d == 0).mean()) < 0.5:
                        bad.append(_mismatch(name, s, k, y, r) + f" ({int(d.max())} ulp, bound {ulp})")
                elif y.tobytes() != np.ascontiguousarray(r).tobytes():
                    bad.append(_mismatch(name, s, k, y, r))
    assert not bad, "\n".join(bad[:6])


def test_svdf_state_size_and_reset(built: dict[str, Any]) -> None:
    """NAME_STATE_SIZE covers the activation_state (batch * memory * filters elements); after
    NAME_reset_state a replay gives the first run's outputs again, while continuing without reset does not
    (the state really carries the sequence)."""
    for name, b, seq in zip(built["names"], built["libs"], built["seqs"], strict=True):
        g = b.result.graph
        st = g.tensors[g.operators[0].inputs[4]]
        host = HostSequence(b.result, b.lib)
        assert host.state_size >= st.nbytes, name
        first = host.sequence(seq[:4])
        cont = host.sequence(seq[:4])
        host.reset()
        again = host.sequence(seq[:4])
        assert [[y.tobytes() for y in s] for s in again] == [[y.tobytes() for y in s] for s in first], name
        if name.startswith("s8s16-r1") or name.startswith("f32-r1"):
            assert [[y.tobytes() for y in s] for s in cont] != [[y.tobytes() for y in s] for s in first], name


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_svdf_without_bias(dtype: str, tmp_path: Path) -> None:
    """Bias omitted (input 3 = -1): the same outputs as the model with an all-zero bias run by TFLM (the PyPI
    TFLM itself crashes in SVDF's Prepare when the bias is absent, so it cannot be the oracle directly)."""
    zero, none = tmp_path / "zero.tflite", tmp_path / "none.tflite"
    kw = {"dtype": dtype, "rank": 2, "units": 3, "memory": 4}
    zero.write_bytes(sg.svdf_model(np.random.default_rng(7), bias="zero", **kw))  # type: ignore[arg-type]
    none.write_bytes(sg.svdf_model(np.random.default_rng(7), bias="none", **kw))  # type: ignore[arg-type]
    r = compile_model(none, tmp_path / "gen", name="svdf_nobias")
    assert r.graph.operators[0].inputs[3] == -1
    host = HostSequence(r, build_model_shared_lib(r, tmp_path / "lib"))
    seq = _steps(_inputs_of(r), 10, np.random.default_rng(3))
    ref = run_reference(zero, seq)
    for s, (got, want) in enumerate(zip(host.sequence(seq), ref, strict=True)):
        assert got[0].tobytes() == want[0].tobytes(), _mismatch("no bias", s, 0, got[0], want[0])


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_svdf_kws_graph_matches_tflm(dtype: str, tmp_path: Path) -> None:
    """SVDF -> SVDF -> FULLY_CONNECTED -> SOFTMAX over 2 sequences of 12 frames: int8 byte for byte; float32:
    the second SVDF's output byte for byte, the SOFTMAX within its documented ulp bound."""
    model = tmp_path / f"kws_{dtype}.tflite"
    model.write_bytes(sg.svdf_kws_model(np.random.default_rng(11), dtype=dtype))  # type: ignore[arg-type]
    r = compile_model(model, tmp_path / "gen", name=f"svdf_kws_{dtype}")
    assert [op.opcode for op in r.graph.operators] == ["SVDF", "SVDF", "FULLY_CONNECTED", "SOFTMAX"]
    host = HostSequence(r, build_model_shared_lib(r, tmp_path / "lib"))
    for seed in (0, 1):
        seq = _steps(_inputs_of(r), 12, np.random.default_rng(seed))
        ref = run_reference(model, seq)
        host.reset()
        for s, (got, want) in enumerate(zip(host.sequence(seq), ref, strict=True)):
            assert got[1].tobytes() == want[1].tobytes(), _mismatch("kws svdf2", s, 1, got[1], want[1])
            if dtype == "int8":
                assert got[0].tobytes() == want[0].tobytes(), _mismatch("kws softmax", s, 0, got[0], want[0])
            else:
                assert int(ulp_distance(got[0], want[0]).max()) <= ULP_BOUND["SOFTMAX"], (got[0], want[0])


def test_svdf_refusals(tmp_path: Path) -> None:
    """What microaot cannot compile is refused naming the model, the operator and what to do."""
    # an activation value outside the schema's enum (a corrupt or future file)
    mb = mg.ModelBuilder()
    x = mb.add_input("input", (1, 4), "float32")
    wf = mb.add_const("wf", np.ones((2, 4), np.float32), "float32")
    wt = mb.add_const("wt", np.ones((2, 3), np.float32), "float32")
    st = mb.add_tensor("state", (1, 6), "float32", variable=True)
    y = mb.add_tensor("output", (1, 2), "float32")
    mb.add_operator("SVDF", [x, wf, wt, -1, st], [y], mg.TableOptions("SVDFOptions", (("Rank", 1),
                                                                                     ("FusedActivationFunction", 9))))
    mb.set_outputs([y])
    p = tmp_path / "act9.tflite"
    p.write_bytes(mb.to_bytes())
    with pytest.raises(UnsupportedModelError) as e:
        compile_model(p, tmp_path / "g1")
    assert "operator 0 (SVDF): fused activation" in str(e.value)
    assert str(e.value).endswith("on a float32 SVDF is not supported (NONE, RELU, RELU_N1_TO_1, RELU6, TANH, "
                                 "SIGN_BIT); re-export the model without it")
    # the state fed as a graph input instead of a variable tensor (TFLM's Prepare refuses it too)
    mb = mg.ModelBuilder()
    x = mb.add_input("input", (1, 4), "float32")
    wf = mb.add_const("wf", np.ones((2, 4), np.float32), "float32")
    wt = mb.add_const("wt", np.ones((2, 3), np.float32), "float32")
    st = mb.add_input("state", (1, 6), "float32")
    y = mb.add_tensor("output", (1, 2), "float32")
    mb.add_operator("SVDF", [x, wf, wt, -1, st], [y], sg.SvdfOptions(1, "NONE"))
    mb.set_outputs([y])
    p2 = tmp_path / "novar.tflite"
    p2.write_bytes(mb.to_bytes())
    with pytest.raises(UnsupportedModelError) as e:
        compile_model(p2, tmp_path / "g2")
    assert f"{p2}: operator 0 (SVDF): activation_state 'state' is not a variable tensor" in str(e.value)


@pytest.mark.parametrize("cc", ["gcc", "arm-none-eabi-gcc"])
def test_svdf_kernel_family_compiles_clean(cc: str, tmp_path: Path) -> None:
    """C99 -Wall -Wextra -Werror -pedantic at -O0 and -O2 on the host and the Cortex-M4; no external symbol but
    memmove (the state shift) and, on the M4, libgcc's soft double (uaot_tanhf)."""
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    nm = "arm-none-eabi-nm" if cc.startswith("arm-") else "nm"
    cpu = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"] if cc.startswith("arm-") else []
    for opt in ("-O0", "-O2"):
        obj = tmp_path / f"svdf{opt}.o"
        subprocess.run([cc, *cpu, opt, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                        f"-I{crt_root() / 'include'}", "-c", str(crt_root() / "kernels" / "svdf.c"), "-o", str(obj)],
                       check=True, capture_output=True, text=True)
        undefined = subprocess.run([nm, "-u", str(obj)], check=True, capture_output=True, text=True).stdout.split()
        assert [u for u in undefined if u not in ("U", "memmove") and not u.startswith("__aeabi_")] == [], undefined


def _m4_sequence_main(result: CompileResult, steps: list[list[np.ndarray]]) -> str:
    """A firmware main: reset the state, run every step with one state buffer, print the outputs in hex."""
    n, g = result.name, result.graph
    lines = [f'#include "{n}.h"', "#include <stddef.h>", "#include <stdint.h>", '#include "microaot/platform.h"',
             f"static uint8_t ws[{n}_WORKSPACE_SIZE + 1] __attribute__((aligned(16)));",
             f"static uint8_t state[{n}_STATE_SIZE + 1] __attribute__((aligned(16)));"]
    for s, xs in enumerate(steps):
        for k, x in enumerate(xs):
            data = ", ".join(str(v) for v in np.ascontiguousarray(x).tobytes())
            lines.append(f"static const uint8_t in_{s}_{k}[] __attribute__((aligned(16))) = {{{data}}};")
    lines.append(f"static const void *const inputs[{len(steps)}][{len(g.inputs)}] = {{"
                 + ", ".join("{" + ", ".join(f"in_{s}_{k}" for k in range(len(g.inputs))) + "}"
                             for s in range(len(steps))) + "};")
    for k, t in enumerate(g.outputs):
        lines.append(f"static uint8_t out_{k}[{g.tensors[t].nbytes}] __attribute__((aligned(16)));")
    lines += [
        f"static void *const outputs[] = {{{', '.join(f'out_{k}' for k in range(len(g.outputs)))}}};",
        f"static const uint32_t out_bytes[] = {{{', '.join(str(g.tensors[t].nbytes) for t in g.outputs)}}};",
        "static void put(const char *s) { size_t n = 0; while (s[n]) { n++; } "
        "uaot_platform_write((const uint8_t *)s, n); }",
        "static void put_hex(const uint8_t *p, uint32_t n) { static const char h[] = \"0123456789abcdef\"; "
        "char b[2]; for (uint32_t i = 0; i < n; i++) { b[0] = h[p[i] >> 4]; b[1] = h[p[i] & 15]; "
        "uaot_platform_write((const uint8_t *)b, 2); } }",
        "int main(void)", "{",
        f"    if ({n}_reset_state(state) != UAOT_OK) {{ put(\"reset failed\\n\"); return 2; }}",
        f"    for (uint32_t s = 0; s < {len(steps)}u; s++) {{",
        f"        if ({n}_run_ex(inputs[s], outputs, ws, state, NULL) != UAOT_OK) {{",
        "            put(\"run failed\\n\");",
        "            return 3;",
        "        }",
        f"        for (uint32_t k = 0; k < {len(g.outputs)}u; k++) {{",
        "            put(\"out \");",
        "            put_hex(outputs[k], out_bytes[k]);",
        "            put(\"\\n\");",
        "        }",
        "    }",
        "    put(\"done\\n\");",
        "    return 0;",
        "}", ""]
    return "\n".join(lines)


@pytest.mark.qemu
def test_svdf_kws_sequence_on_m4(tmp_path: Path) -> None:
    """The int8 keyword-spotting-like SVDF graph over a 10-frame sequence on QEMU mps2-an386 (Cortex-M4F,
    arm-none-eabi-gcc, target cortex-m4): every step's outputs byte-identical with TFLM on the host."""
    m4run = pytest.importorskip("microaot.testing.m4run")
    if not m4run.available():
        pytest.skip("arm-none-eabi-gcc / qemu-system-arm not installed")
    model = tmp_path / "kws_m4.tflite"
    model.write_bytes(sg.svdf_kws_model(np.random.default_rng(5), dtype="int8"))
    r = compile_model(model, tmp_path / "gen", name="svdf_kws_m4", target="cortex-m4")
    seq = _steps(_inputs_of(r), 10, np.random.default_rng(9))
    ref = run_reference(model, seq)
    main = tmp_path / "main.c"
    main.write_text(_m4_sequence_main(r, seq))
    port = crt_root() / "ports" / "cmsdk"
    elf = tmp_path / "svdf_m4.elf"
    subprocess.run([m4run.ARM_CC, *m4run.M4_FLAGS, *m4run.CFLAGS, f"-I{crt_root() / 'include'}", f"-I{r.header.parent}",
                    str(main), *map(str, r.sources), *map(str, r.kernel_sources), str(port / "startup.c"),
                    str(port / "platform_cmsdk.c"), str(crt_root() / "src" / "platform_defaults.c"),
                    "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", f"-T{port / 'mps2.ld'}",
                    "-Wl,--gc-sections", "-o", str(elf), "-lm"], check=True, capture_output=True, text=True)
    proc = subprocess.run(["timeout", "60", m4run.QEMU, "-M", "mps2-an386", "-nographic", "-semihosting", "-kernel",
                           str(elf)], capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0 and "done" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    hexes = re.findall(r"^out ([0-9a-f]*)", proc.stdout, re.M)
    want = [np.ascontiguousarray(o).tobytes().hex() for step in ref for o in step]
    assert hexes == want


def test_svdf_inspect_reports_macs_and_state(tmp_path: Path) -> None:
    """``microaot inspect``: each SVDF's MACs (batch x filters x (input_size + memory_size)) and the state
    buffer (both activation_states, int16, each 16-byte aligned)."""
    model = tmp_path / "kws.tflite"
    model.write_bytes(sg.svdf_kws_model(np.random.default_rng(1), dtype="int8"))
    info = summarize(model)
    assert info["problems"] == []
    assert [o["macs"] for o in info["operators"]] == [64 * (40 + 8), 16 * (32 + 4), 4 * 16, 0]
    assert info["state_bytes"] == 64 * 8 * 2 + 16 * 4 * 2


def test_svdf_state_with_file_data_starts_from_reset(tmp_path: Path) -> None:
    """A variable tensor that carries data in the file (some exporters write an initial buffer) is still the
    operator's state, reset as TFLM resets it: TFLM ignores the file's values, and so does microaot."""
    mb = mg.ModelBuilder()
    x = mb.add_input("input", (1, 4), "float32")
    wf = mb.add_const("wf", np.arange(8, dtype=np.float32).reshape(2, 4) / 8, "float32")
    wt = mb.add_const("wt", np.linspace(-1.0, 1.0, 6, dtype=np.float32).reshape(2, 3), "float32")
    b = mb.add_const("bias", np.array([0.5, -0.25], np.float32), "float32")
    st = mb.add_tensor("state", (1, 6), "float32", data=np.full((1, 6), 5.0, np.float32), variable=True)
    y = mb.add_tensor("output", (1, 2), "float32")
    mb.add_operator("SVDF", [x, wf, wt, b, st], [y], sg.SvdfOptions(1, "NONE"))
    mb.set_outputs([y])
    model = tmp_path / "state_data.tflite"
    model.write_bytes(mb.to_bytes())
    r = compile_model(model, tmp_path / "gen", name="svdf_state_data")
    assert r.graph.tensors[st].is_variable and not r.graph.tensors[st].is_const
    host = HostSequence(r, build_model_shared_lib(r, tmp_path / "lib"))
    seq = _steps(_inputs_of(r), 5, np.random.default_rng(2))
    for s, (got, want) in enumerate(zip(host.sequence(seq), run_reference(model, seq), strict=True)):
        assert got[0].tobytes() == want[0].tobytes(), _mismatch("state with data", s, 0, got[0], want[0])
