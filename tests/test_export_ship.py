"""Goal 2 end to end: export the KWS model as a C library, link it into examples/ship_lib on the host
and on a Cortex-M4 (QEMU mps2-an386), run the three memory modes, compare with TFLM; prove no
malloc/printf in the linked images, the weight section in flash, the ABI guard, and that the
exported kernels are the evaluation firmware's kernels."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import mlperf_model
from microaot.errors import MicroaotError
from microaot.export import ExportResult, export_library
from microaot.paths import crt_root, repo_root
from microaot.report import elf
from microaot.tune.log import log_schedules

ARM_CC = "arm-none-eabi-gcc"
QEMU = "qemu-system-arm"
EXAMPLE = repo_root() / "examples" / "ship_lib"
# the machine + code generation flags of the evaluation firmware for qemu_mps2_an386
# (platform/builder/main.py: common_ccflags + cpu_flags; -g left out, it does not change code)
EVAL_ARM_FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections",
                  "-mthumb", "-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
# what the library may need from the C library: memory/string helpers and libm (float kernels)
ALLOWED_EXTERNAL = {"memcpy", "memset", "memmove", "memcmp", "expf", "tanhf", "roundf", "floorf", "sqrtf",
                    "logf", "fmaxf", "fminf", "lroundf"}
MODES = ("buffer", "arena", "hooks")

needs_arm = pytest.mark.skipif(shutil.which(ARM_CC) is None, reason=f"{ARM_CC} not installed")
needs_qemu = pytest.mark.skipif(shutil.which(ARM_CC) is None or shutil.which(QEMU) is None,
                                reason="needs arm-none-eabi-gcc and qemu-system-arm")


def lcg_input(n: int, seed: int = 1) -> np.ndarray:
    """The input examples/ship_lib/main.c feeds the model (make_input)."""
    out = np.empty(n, dtype=np.int8)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out[i] = np.uint8((x >> 16) & 0xFF).view(np.int8)
    return out


def run(cmd: list[str], *, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def parse_modes(stdout: str) -> dict[str, tuple[int, bytes]]:
    got = {m: (int(s), bytes.fromhex(h)) for m, s, h in re.findall(r"mode=(\w+) status=(\d+) out=([0-9a-f]+)", stdout)}
    assert set(got) == set(MODES), stdout
    assert "done ok" in stdout, stdout
    return got


@pytest.fixture(scope="module")
def kws_export(tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    out = tmp_path_factory.mktemp("export") / "kws"
    return export_library(mlperf_model("kws"), out, name="kws", target="cortex-m4")


@pytest.fixture(scope="module")
def kws_expected(kws_export: ExportResult) -> bytes:
    from microaot.reference import run_reference

    g = kws_export.compile_result.graph
    t_in = g.tensors[g.inputs[0]]
    x = lcg_input(t_in.num_elements).reshape(t_in.shape)
    [[y]] = run_reference(mlperf_model("kws"), [[x]])
    return np.ascontiguousarray(y).tobytes()


@pytest.fixture(scope="module")
def builds(kws_export: ExportResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build")


def _make(kws_export: ExportResult, build: Path, target: str) -> None:
    run(["make", "-s", "-C", str(EXAMPLE), f"LIB={kws_export.out_dir}", f"BUILD={build}", target])


@pytest.fixture(scope="module")
def host_exe(kws_export: ExportResult, builds: Path) -> Path:
    _make(kws_export, builds, "host")
    return builds / "host" / "ship_lib"


@pytest.fixture(scope="module")
def arm_elf(kws_export: ExportResult, builds: Path) -> Path:
    if shutil.which(ARM_CC) is None:
        pytest.skip(f"{ARM_CC} not installed")
    _make(kws_export, builds, "arm")
    return builds / "arm" / "ship_lib.elf"


# --- the folder -------------------------------------------------------------------------------------

def test_export_layout(kws_export: ExportResult) -> None:
    out = kws_export.out_dir
    for f in ("include/kws.h", "src/kws.c", "src/microaot/runtime/alloc.c", "include/microaot/alloc.h",
              "library.json", "CMakeLists.txt", "microaot.mk", "README.md", "size_report.json",
              "microaot_export.json"):
        assert (out / f).is_file(), f
    manifest = json.loads((out / "library.json").read_text())
    assert manifest["name"] == "kws" and manifest["headers"] == "kws.h"
    assert manifest["build"] == {"srcDir": "src", "includeDir": "include"}
    # exactly the kernels compile_model asked for, plus the runtime helper; no RPC/port code
    shipped = {p.name for p in (out / "src" / "microaot" / "kernels").glob("*.c")}
    assert shipped == {p.name for p in kws_export.compile_result.kernel_sources}
    assert not list(out.rglob("rpc*")) and not list(out.rglob("framing*")) and not list(out.rglob("platform*"))
    readme = (out / "README.md").read_text()
    assert "kws_WORKSPACE_SIZE" in readme and "uaot_arena_init" in readme and "KEEP(*(.rodata.microaot" in readme


def test_size_report(kws_export: ExportResult) -> None:
    rep = json.loads((kws_export.out_dir / "size_report.json").read_text())
    assert rep == kws_export.size
    # in-place depthwise / 1x1 convs: below the 16000 B liveness bound (scratch of the board's schedules included)
    assert rep["workspace"] == kws_export.workspace_size == kws_export.compile_result.workspace_size < 16000
    assert rep["weights"] == kws_export.weight_bytes > 0
    assert rep["text"] > 0 and rep["bss"] == 0 and rep["data"] == 0
    assert rep["compiler"] == ARM_CC or shutil.which(ARM_CC) is None
    assert rep["forbidden_symbols"] == []
    assert set(rep["external_references"]) <= ALLOWED_EXTERNAL


# --- running it: three memory modes, host and Cortex-M4, TFLM-identical ----------------------------

def test_host_three_modes_match_tflm(host_exe: Path, kws_expected: bytes) -> None:
    got = parse_modes(run([str(host_exe)], timeout=30).stdout)
    for mode in MODES:
        assert got[mode] == (0, kws_expected), mode


@needs_qemu
def test_qemu_m4_three_modes_match_tflm(arm_elf: Path, kws_expected: bytes) -> None:
    # semihosting console (SYS_WRITE0) on this process's stdout; the UART is not used
    cmd = ["timeout", "-k", "5", "60", QEMU, "-M", "mps2-an386", "-display", "none", "-monitor", "none",
           "-serial", "null", "-chardev", "stdio,id=semi", "-semihosting-config",
           "enable=on,target=native,chardev=semi", "-kernel", str(arm_elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    got = parse_modes(proc.stdout)
    for mode in MODES:
        assert got[mode] == (0, kws_expected), mode
    assert "hooks_allocs=1 hooks_frees=1" in proc.stdout
    assert "arena_used_after=0" in proc.stdout


# --- no malloc / printf -------------------------------------------------------------------------

def test_no_malloc_in_host_image(kws_export: ExportResult, host_exe: Path, tmp_path: Path) -> None:
    # 1. the library's own objects reference nothing outside themselves but string/math helpers
    objs = []
    for i, src in enumerate(kws_export.sources):
        obj = tmp_path / f"{i}_{src.stem}.o"
        run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{kws_export.out_dir / 'include'}",
             "-c", str(src), "-o", str(obj)])
        objs.append(obj)
    assert elf.external_references(objs) <= ALLOWED_EXTERNAL
    elf.check_no_dynamic_memory(objs, what="kws library objects (host)")
    # 2. the linked, dynamically linked program imports and defines no allocator or printf: a call
    # into libc's malloc would have to go through one of its undefined (.dynsym) symbols
    imported = {s.name for s in elf.undefined_symbols(host_exe)}
    assert "write" in imported  # the checker sees the imports
    elf.check_no_dynamic_memory(host_exe, what="ship_lib host program")


@needs_arm
def test_no_malloc_in_arm_image(arm_elf: Path) -> None:
    syms = elf.read_symbols(arm_elf)
    # static image: every function that can run is defined in it, nothing left to resolve
    assert [s.name for s in syms if not s.defined and s.bind != "STB_WEAK"] == []
    assert {"kws_run", "kws_model", "uaot_model_run_alloc", "main"} <= {s.name for s in syms if s.defined}
    elf.check_no_dynamic_memory(arm_elf, what="ship_lib Cortex-M4 firmware")


@needs_arm
def test_weight_section_in_arm_elf(kws_export: ExportResult, arm_elf: Path, tmp_path: Path) -> None:
    sections = {s.name: s for s in elf.read_sections(arm_elf)}
    w = sections.get(".rodata.microaot")
    assert w is not None, f"no .rodata.microaot in {sorted(sections)}"
    assert w.size == kws_export.weight_bytes and w.kind == "rodata"
    assert w.addr < 0x00400000, "weights must be in FLASH (0x0..4 MiB) by the example's linker script"
    # the bytes in the image are the generated weight arrays
    obj = tmp_path / "kws.o"
    run([ARM_CC, *EVAL_ARM_FLAGS, f"-I{kws_export.out_dir / 'include'}", "-c",
         str(kws_export.out_dir / "src" / "kws.c"), "-o", str(obj)])
    assert elf.section_bytes(arm_elf, ".rodata.microaot") == elf.section_bytes(obj, ".rodata.microaot")
    # ...and contain the model's largest constant tensor (the Cortex-M4 gemm schedule stores conv filters
    # with output channels interleaved in pairs, int8 or, by default within the flash budget, int16 weights:
    # ops/_pack.py pack_row_blocks)
    from microaot.ops._pack import pack_row_blocks

    g = kws_export.compile_result.graph
    biggest = max((t for t in g.tensors if t.data is not None), key=lambda t: t.nbytes)
    raw = np.ascontiguousarray(biggest.data)
    packed = [pack_row_blocks(raw.reshape(raw.shape[0], -1), 2, w16).tobytes() for w16 in (False, True)]
    section = elf.section_bytes(arm_elf, ".rodata.microaot")
    assert raw.tobytes() in section or any(p in section for p in packed)


def test_custom_weight_section(tmp_path: Path) -> None:
    res = export_library(mlperf_model("kws"), tmp_path / "kws", name="kws", weight_section=".flash_weights",
                         target="cortex-m4")
    assert res.size["weights"] == res.weight_bytes and res.size["weight_section"] == ".flash_weights"
    assert ".flash_weights" in (tmp_path / "kws" / "README.md").read_text()


# --- the ABI guard ------------------------------------------------------------------------------

def test_abi_guard_fires_on_runtime_mismatch(kws_export: ExportResult, tmp_path: Path) -> None:
    inc = tmp_path / "include"
    shutil.copytree(kws_export.out_dir / "include", inc)
    status = inc / "microaot" / "status.h"
    text = status.read_text()
    assert re.search(r"#define UAOT_ABI_VERSION \d+", text)
    status.write_text(re.sub(r"#define UAOT_ABI_VERSION (\d+)", lambda m: f"#define UAOT_ABI_VERSION {int(m[1]) + 1}",
                             text))
    app = tmp_path / "app.c"
    app.write_text('#include "kws.h"\nint main(void) { return kws_WORKSPACE_SIZE > 0 ? 0 : 1; }\n')
    bad = subprocess.run(["gcc", "-std=c99", f"-I{inc}", "-c", str(app), "-o", str(tmp_path / "app.o")],
                         capture_output=True, text=True, check=False)
    assert bad.returncode != 0
    assert "#error" in bad.stderr and "ABI" in bad.stderr, bad.stderr
    # the unmodified headers compile
    run(["gcc", "-std=c99", f"-I{kws_export.out_dir / 'include'}", "-c", str(app), "-o", str(tmp_path / "ok.o")])


# --- same code as the evaluation firmware ------------------------------------------------------------

def _text_sections(obj: Path) -> dict[str, bytes]:
    out = {}
    for s in elf.read_sections(obj):
        if s.kind in ("text", "rodata"):
            data = elf.section_bytes(obj, s.name)
            assert data is not None
            out[s.name] = data
    return out


@needs_arm
def test_exported_kernels_are_the_evaluation_kernels(kws_export: ExportResult, tmp_path: Path) -> None:
    prov = json.loads((kws_export.out_dir / "microaot_export.json").read_text())
    assert kws_export.origins, "no copied crt files"
    for dest, origin in kws_export.origins.items():
        # verbatim copies of crt/
        assert (kws_export.out_dir / dest).read_bytes() == (crt_root() / origin).read_bytes(), dest
        assert prov["files"][dest]["from"] == origin
    # and they compile to the same machine code as in the firmware build (crt/include vs include/)
    for dest, origin in kws_export.origins.items():
        if not dest.endswith(".c"):
            continue
        a, b = tmp_path / "exported.o", tmp_path / "crt.o"
        run([ARM_CC, *EVAL_ARM_FLAGS, f"-I{kws_export.out_dir / 'include'}", "-c",
             str(kws_export.out_dir / dest), "-o", str(a)])
        run([ARM_CC, *EVAL_ARM_FLAGS, f"-I{crt_root() / 'include'}", "-c", str(crt_root() / origin), "-o", str(b)])
        sa, sb = _text_sections(a), _text_sections(b)
        assert sa and sa == sb, f"{dest}: object code differs from {origin}"


def test_generated_model_is_what_compile_model_gives(kws_export: ExportResult, tmp_path: Path) -> None:
    """Same options -> the same bytes as the evaluation build's compile_model; a tuning log is applied."""
    from microaot.compiler import compile_model

    r = compile_model(mlperf_model("kws"), tmp_path / "gen", name="kws", target="cortex-m4")
    assert (kws_export.out_dir / "src" / "kws.c").read_bytes() == r.sources[0].read_bytes()
    assert (kws_export.out_dir / "include" / "kws.h").read_bytes() == r.header.read_bytes()
    assert [p.name for p in r.kernel_sources] == [p.name for p in kws_export.compile_result.kernel_sources]

    log = tmp_path / "tune.jsonl"
    log.write_text(json.dumps({"model_hash": r.model_hash, "op_index": 0, "knobs": {}, "time": 1.0}) + "\n")
    tuned = export_library(mlperf_model("kws"), tmp_path / "tuned", name="kws", target="cortex-m4",
                           tuning_log=log, measure=False)
    r2 = compile_model(mlperf_model("kws"), tmp_path / "gen2", name="kws", target="cortex-m4",
                       schedules=log_schedules(log, mlperf_model("kws"), target="cortex-m4"))
    assert (tuned.out_dir / "src" / "kws.c").read_bytes() == r2.sources[0].read_bytes()
    prov = json.loads((tuned.out_dir / "microaot_export.json").read_text())
    assert prov["options"]["tuning_log"] == str(log) and prov["tuning_log_sha256"]


# --- non-PlatformIO build files ---------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not installed")
def test_cmake_builds_the_library(kws_export: ExportResult, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(app C)\n"
        f"add_subdirectory({kws_export.out_dir.as_posix()} kws)\n"
        "add_executable(app main.c)\ntarget_link_libraries(app PRIVATE kws)\n")
    (app / "main.c").write_text(
        '#include "kws.h"\n#include "microaot/alloc.h"\n'
        "static unsigned char ws[kws_WORKSPACE_SIZE] __attribute__((aligned(kws_WORKSPACE_ALIGN)));\n"
        "int main(void) { static signed char in[kws_INPUT0_SIZE], out[kws_OUTPUT0_SIZE];\n"
        "  const void *i[] = {in}; void *o[] = {out}; return (int)kws_run(i, o, ws); }\n")
    run(["cmake", "-S", str(app), "-B", str(tmp_path / "b"), "-DCMAKE_BUILD_TYPE=Release"])
    # the library's inline-asm kernels compile at -O3 here, outside the object cache: minutes on a loaded machine
    run(["cmake", "--build", str(tmp_path / "b")], timeout=900)
    run([str(tmp_path / "b" / "app")])


# --- CLI ------------------------------------------------------------------------------------------

def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from microaot.cli import main

    out = tmp_path / "lib" / "kws"
    # no board and no target: the export refuses to guess which kernels to ship
    assert main(["export", str(mlperf_model("kws")), "-o", str(out), "--name", "kws"]) == 2
    assert ("export of kws_dscnn_int8.tflite: which kernels should the library ship? Give --board BOARD"
            in capsys.readouterr().err) and not out.exists()
    assert main(["export", str(mlperf_model("kws")), "-o", str(out), "--name", "kws", "--json",
                 "--target", "generic"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["name"] == "kws" and rep["workspace"] == 8640  # in place (16000 without)
    # again into the same folder: replaces the previous export
    assert main(["export", str(mlperf_model("kws")), "-o", str(out), "--name", "kws", "--no-size",
                 "--board", "qemu_mps2_an386"]) == 0
    printed = capsys.readouterr().out
    assert "exported kws" in printed
    assert ("  kernels   : target cortex-m4 (the code `microaot eval --board qemu_mps2_an386` measures): "
            in printed) and "conv_fast" in printed
    assert "  workspace : " in printed
    # a folder that is not an export is never overwritten
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    assert main(["export", str(mlperf_model("kws")), "-o", str(other), "--no-size", "--target", "generic"]) == 2
    assert "not a microaot export" in capsys.readouterr().err
    assert (other / "keep.txt").read_text() == "x"


# --- the folder is a PlatformIO library -------------------------------------------------------------

@pytest.mark.pio
def test_platformio_builds_the_exported_folder_as_a_library(
        kws_export: ExportResult, kws_expected: bytes, tmp_path: Path) -> None:
    """A PlatformIO project with the export in lib/ and the example's main.c in src/ (host board)."""
    from microaot.pio.project import pio_argv, pio_environ

    try:
        env = pio_environ()
    except Exception as e:  # PlatformIO not provisioned on this machine
        pytest.skip(f"PlatformIO not available: {e}")
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    shutil.copytree(kws_export.out_dir, proj / "lib" / "kws")
    shutil.copy(EXAMPLE / "main.c", proj / "src")
    shutil.copy(EXAMPLE / "host" / "port_host.c", proj / "src")
    (proj / "platformio.ini").write_text(
        f"[env:host]\nplatform = symlink://{repo_root() / 'platform'}\nboard = host\n")
    proc = subprocess.run(pio_argv("run", "-d", str(proj)), env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "kws @" in proc.stdout  # found through library.json
    firmware = proj / ".pio" / "build" / "host" / "firmware"
    got = parse_modes(run([str(firmware)], timeout=30).stdout)
    assert all(got[m] == (0, kws_expected) for m in MODES)
    elf.check_no_dynamic_memory(firmware, what="PlatformIO host build of the exported library")


def test_size_report_falls_back_to_host_gcc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import microaot.export as export

    real_which = shutil.which
    monkeypatch.setattr(export.shutil, "which", lambda n: None if n == ARM_CC else real_which(n))
    res = export_library(mlperf_model("kws"), tmp_path / "kws", name="kws")
    rep = res.size
    assert rep["compiler"] == "gcc" and rep["method"].startswith("linked")
    # pointer-holding const data of PIE code (.data.rel.ro) is read-only, not RAM
    assert rep["weights"] == res.weight_bytes and rep["data"] == 0 and rep["bss"] == 0
    assert rep["ram"] == rep["workspace"] == res.workspace_size


def test_board_export_matches_the_board_build(kws_export: ExportResult, tmp_path: Path) -> None:
    from microaot.export import TARGET_MACHINE_FLAGS, board_toolchain

    target, cc, flags = board_toolchain("qemu_mps2_an386")
    assert target == "cortex-m4"
    if cc == ARM_CC:
        # the flags the size report and the comparison above use are the board's firmware flags
        assert set(flags) == set(TARGET_MACHINE_FLAGS["cortex-m4"]) and set(flags) <= set(EVAL_ARM_FLAGS)
    res = export_library(mlperf_model("kws"), tmp_path / "kws", name="kws", board="qemu_mps2_an386", measure=False)
    assert (res.out_dir / "src" / "kws.c").read_bytes() == (kws_export.out_dir / "src" / "kws.c").read_bytes()
    prov = json.loads((res.out_dir / "microaot_export.json").read_text())
    assert prov["options"]["board"] == "qemu_mps2_an386" and prov["options"]["target"] == "cortex-m4"
    with pytest.raises(MicroaotError, match="contradicts board"):
        export_library(mlperf_model("kws"), tmp_path / "x", board="qemu_mps2_an386", target="generic", measure=False)
