"""Generated C API: run_ex hooks around every operator, status codes, weight section, naming, CLI."""

from __future__ import annotations

import ctypes
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile

from conftest import mlperf_model
from microaot.cli import main as cli_main
from microaot.codegen.emit import ABI_VERSION
from microaot.compiler import CompileResult, compile_model, default_name
from microaot.errors import MicroaotError
from microaot.hostbuild import build_model_shared_lib, compile_c, run_compiled
from microaot.paths import crt_root

HOOK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint16)
OUT_HOOK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint16, ctypes.c_void_p, ctypes.c_uint32)


class Hooks(ctypes.Structure):  # uaot_hooks_t, runtime ABI 4
    _fields_ = [("op_begin", HOOK), ("op_end", HOOK), ("ctx", ctypes.c_void_p), ("op_output", OUT_HOOK)]


@pytest.fixture(scope="module")
def kws(tmp_path_factory: pytest.TempPathFactory) -> tuple[CompileResult, Path]:
    d = tmp_path_factory.mktemp("kws_codegen")
    r = compile_model(mlperf_model("kws"), d, name="kws")
    return r, build_model_shared_lib(r, d)


def _call(lib: ctypes.CDLL, fn: str, ins: list[int | None], outs: list[int | None], ws: int | None,
          hooks: Hooks | None = None) -> int:
    f = getattr(lib, fn)
    f.restype = ctypes.c_int
    in_arr = (ctypes.c_void_p * len(ins))(*ins)
    out_arr = (ctypes.c_void_p * len(outs))(*outs)
    args: list[object] = [in_arr, out_arr, ctypes.c_void_p(ws)]
    if fn.endswith("_run_ex"):
        args.append(None)  # state: KWS is stateless (kws_STATE_SIZE 0)
        args.append(ctypes.byref(hooks) if hooks is not None else None)
    return int(f(*args))


def test_run_ex_calls_hooks_around_every_op(kws: tuple[CompileResult, Path]) -> None:
    r, libpath = kws
    lib = ctypes.CDLL(str(libpath))
    events: list[tuple[str, int]] = []
    seen: dict[int, bytes] = {}

    def on_output(_c: object, i: int, data: int, n: int) -> None:
        events.append(("o", i))
        seen[i] = ctypes.string_at(data, n)

    hooks = Hooks(HOOK(lambda _c, i: events.append(("b", i))), HOOK(lambda _c, i: events.append(("e", i))), None,
                  OUT_HOOK(on_output))
    x = np.random.default_rng(0).integers(-128, 128, size=(1, 49, 10, 1), dtype=np.int8)
    y = np.zeros(12, np.int8)
    ws = np.zeros(r.workspace_size + 16, np.uint8)
    wsp = ws.ctypes.data + (-ws.ctypes.data) % 16
    assert _call(lib, "kws_run_ex", [x.ctypes.data], [y.ctypes.data], wsp, hooks) == 0
    g = r.graph
    n = len(g.operators)
    # op_begin, op_end, then op_output once per output tensor (KWS: one each), in operator order
    assert events == [(k, i) for i in range(n) for k in ("b", "e", "o")]
    assert all(len(seen[op.index]) == g.tensors[op.outputs[0]].nbytes for op in g.operators)
    assert seen[n - 1] == y.tobytes()  # the last operator writes the model output
    assert y.tolist() == run_compiled(r, libpath, [x])[0].reshape(-1).tolist()
    # NULL hooks and the plain entry point give the same result
    y2 = np.zeros(12, np.int8)
    assert _call(lib, "kws_run", [x.ctypes.data], [y2.ctypes.data], wsp) == 0
    assert np.array_equal(y, y2)


def test_status_codes(kws: tuple[CompileResult, Path]) -> None:
    r, libpath = kws
    lib = ctypes.CDLL(str(libpath))
    x = np.zeros(490, np.int8)
    y = np.zeros(12, np.int8)
    ws = np.zeros(r.workspace_size + 32, np.uint8)
    aligned = ws.ctypes.data + (-ws.ctypes.data) % 16
    assert _call(lib, "kws_run", [x.ctypes.data], [y.ctypes.data], aligned + 4) == 2  # UAOT_ERR_ALIGN
    assert _call(lib, "kws_run", [None], [y.ctypes.data], aligned) == 1  # UAOT_ERR_ARG
    assert _call(lib, "kws_run", [x.ctypes.data], [y.ctypes.data], None) == 1


def test_header_contract(kws: tuple[CompileResult, Path]) -> None:
    r, _ = kws
    h = r.header.read_text()
    # 8640: depthwise / 1x1 convs run in place (16000 without)
    for s in ("#define kws_WORKSPACE_SIZE 8640", "#define kws_WORKSPACE_ALIGN UAOT_WORKSPACE_ALIGN",
              "#define kws_NUM_INPUTS 1", "#define kws_NUM_OUTPUTS 1", "#define kws_INPUT0_SIZE 490",
              "#define kws_OUTPUT0_SIZE 12", f"#if UAOT_ABI_VERSION != {ABI_VERSION}", "#error",
              "#define kws_STATE_SIZE 0", "uaot_status_t kws_reset_state(void *state);",
              "uaot_status_t kws_run(const void *const *inputs, void *const *outputs, void *workspace);",
              "extern const uaot_model_t kws_model;", "kws_run_ex(", "const uaot_hooks_t *hooks"):
        assert s in h, s
    assert r.model_hash in h
    c = r.sources[0].read_text()
    assert '__attribute__((section(".rodata.microaot"), aligned(16)))' in c


def test_abi_version_matches_the_runtime() -> None:
    """The generator's ABI number is the runtime's (crt/include/microaot/status.h)."""
    text = (crt_root() / "include" / "microaot" / "status.h").read_text()
    m = re.search(r"#define UAOT_ABI_VERSION (\d+)", text)
    assert m is not None and int(m[1]) == ABI_VERSION
    assert ABI_VERSION >= 4  # 3: kernels take (scratch, scratch_size); 4: run_ex takes the state buffer


@pytest.mark.parametrize("runtime_abi", [ABI_VERSION - 1, 99])
def test_abi_guard_fires(kws: tuple[CompileResult, Path], tmp_path: Path, runtime_abi: int) -> None:
    """A generated header against a runtime of another ABI (the previous one: kernels without their scratch
    size) stops the build with the #error; the matching runtime builds."""
    r, _ = kws
    src = tmp_path / "use.c"
    src.write_text(f'#include "microaot/status.h"\n#undef UAOT_ABI_VERSION\n#define UAOT_ABI_VERSION {runtime_abi}\n'
                   '#include "kws.h"\nint main(void) { return 0; }\n')
    with pytest.raises(MicroaotError, match=f"generated for microaot runtime ABI {ABI_VERSION}"):
        compile_c([src], tmp_path / "use.o", include_dirs=[r.header.parent], kind="object")
    src.write_text('#include "kws.h"\nint main(void) { return 0; }\n')
    compile_c([src], tmp_path / "ok.o", include_dirs=[r.header.parent], kind="object")


def test_weights_land_in_the_configured_section(tmp_path: Path) -> None:
    r = compile_model(mlperf_model("ad"), tmp_path, name="ad", weight_section=".flash_weights")
    obj = compile_c(r.sources, tmp_path / "ad.o", include_dirs=[tmp_path], kind="object")
    with obj.open("rb") as f:
        elf = ELFFile(f)
        sec = elf.get_section_by_name(".flash_weights")
        assert sec is not None
        assert sec.data_size >= r.weight_bytes
        assert int(sec["sh_addralign"]) >= 16


def test_descriptor_matches(kws: tuple[CompileResult, Path]) -> None:
    r, libpath = kws

    class TensorInfo(ctypes.Structure):
        _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_uint8), ("rank", ctypes.c_uint8),
                    ("dims", ctypes.c_int32 * 6), ("bytes", ctypes.c_uint32), ("scale", ctypes.c_float),
                    ("zero_point", ctypes.c_int32)]

    class Model(ctypes.Structure):
        _fields_ = [("abi_version", ctypes.c_uint32), ("name", ctypes.c_char_p), ("hash", ctypes.c_char_p),
                    ("workspace_size", ctypes.c_uint32), ("state_size", ctypes.c_uint32),
                    ("weight_bytes", ctypes.c_uint32),
                    ("num_inputs", ctypes.c_uint16), ("num_outputs", ctypes.c_uint16), ("num_ops", ctypes.c_uint16),
                    ("inputs", ctypes.POINTER(TensorInfo)), ("outputs", ctypes.POINTER(TensorInfo)),
                    ("op_names", ctypes.POINTER(ctypes.c_char_p)), ("run", ctypes.c_void_p),
                    ("reset_state", ctypes.c_void_p)]

    m = Model.in_dll(ctypes.CDLL(str(libpath)), "kws_model")
    assert m.abi_version == ABI_VERSION and m.name == b"kws" and m.hash == r.model_hash[:16].encode()
    assert m.workspace_size == r.workspace_size and m.weight_bytes == r.weight_bytes and m.state_size == 0
    assert m.reset_state
    assert (m.num_inputs, m.num_outputs, m.num_ops) == (1, 1, 13)
    assert m.inputs[0].name == b"input_1" and list(m.inputs[0].dims[:4]) == [1, 49, 10, 1]
    assert m.inputs[0].zero_point == 83 and m.outputs[0].bytes == 12
    assert [m.op_names[i] for i in range(13)][:2] == [b"CONV_2D", b"DEPTHWISE_CONV_2D"]


def test_default_names() -> None:
    assert default_name("kws_dscnn_int8.tflite") == "kws_dscnn_int8"
    assert default_name("/x/1st-model.v2.tflite") == "m_1st_model_v2"


def test_bad_name_rejected(tmp_path: Path) -> None:
    with pytest.raises(MicroaotError, match="is not a C identifier"):
        compile_model(mlperf_model("ad"), tmp_path, name="9-bad")


def test_cli_compile_and_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["compile", str(mlperf_model("ad")), "-o", str(tmp_path), "--name", "ad",
                     "--section", ".wsec"]) == 0
    assert (tmp_path / "ad.c").is_file() and (tmp_path / "ad.h").is_file()
    assert '".wsec"' in (tmp_path / "ad.c").read_text()
    capsys.readouterr()
    assert cli_main(["inspect", str(mlperf_model("kws")), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["macs"] == 2656768
    assert info["liveness_lower_bound"] == 16000  # without in-place operators
    assert info["inplace_lower_bound"] == info["workspace_bytes"] == 8640
    assert len(info["inplace_ops"]) == 8
    assert [o["op"] for o in info["operators"]][-1] == "SOFTMAX"
    assert cli_main(["inspect", str(mlperf_model("vww"))]) == 0
    assert "7,489,664" in capsys.readouterr().out


def test_cli_reports_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"nope" * 10)
    proc = subprocess.run([sys.executable, "-m", "microaot.cli", "compile", str(bad), "-o", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {bad}: not a TFLite flatbuffer")
