"""microaot as ``lib_deps`` in users' PlatformIO projects on PlatformIO's standard platforms.

The platforms and frameworks (native, ststm32 with none / cmsis / stm32cube / arduino, raspberrypi)
come from the offline copy in ``../shared/platformio`` (installed into the core dir by
``microaot.pio.std``). The projects are the repository's examples (``examples/std_kws``,
``examples/arduino_kws``), built in place with their ``.pio`` in a temporary workspace.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from microaot.boards import Board
from microaot.errors import BuildError
from microaot.evaluate import evaluate_firmware
from microaot.paths import repo_root
from microaot.pio.build import BuildInfo, budget_problems
from microaot.pio.ports import choose
from microaot.pio.project import pio_argv, pio_environ
from microaot.pio.std import default_source, install
from microaot.reference import run_reference
from microaot.report.elf import read_sections

STD = default_source()
MODEL = (repo_root().parent / "shared" / "models" / "kws_dscnn_int8.tflite").resolve()
HAVE_STD = (STD / "platforms" / "ststm32").is_dir()
HAVE_ARM = shutil.which("arm-none-eabi-gcc") is not None
needs_std = pytest.mark.skipif(
    not HAVE_STD, reason=f"no offline copy of PlatformIO's standard platforms at {STD} (set MICROAOT_PIO_STD)"
)
needs_model = pytest.mark.skipif(not MODEL.is_file(), reason=f"{MODEL} missing")
needs_arm = pytest.mark.skipif(not HAVE_ARM, reason="arm-none-eabi-gcc not installed")
needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")
pytestmark = [pytest.mark.pio, needs_model]

STD_KWS = repo_root() / "examples" / "std_kws"
ARDUINO_KWS = repo_root() / "examples" / "arduino_kws"


# ---- port and target choice (fast, no build) ------------------------------------------------------


def test_port_and_target_come_from_the_board_manifest() -> None:
    c = choose("nucleo_f446re", "ststm32", "stm32f446ret6", "cortex-m4", [])
    assert (c.port, c.target) == ("stm32", "cortex-m4")
    c = choose("nucleo_f446re", "ststm32", "stm32f446ret6", "cortex-m4", ["arduino"])
    assert (c.port, c.target) == ("arduino", "cortex-m4")
    c = choose("pico", "raspberrypi", "rp2040", "cortex-m0plus", [])
    assert (c.port, c.target) == ("rp2040", "generic")
    c = choose("native", "native", "", "", [])
    assert (c.port, c.target) == ("host", "generic")
    c = choose("bluepill_f103c8", "ststm32", "stm32f103c8t6", "cortex-m3", ["cmsis"])
    assert (c.port, c.target) == ("user", "generic")
    assert choose("x", "ststm32", "stm32h743zit6", "cortex-m7", [], target="cortex-m4").target == "cortex-m4"
    # Cortex-M33: the DSP kernels; Cortex-M55: its Helium kernels, the DSP or generic ones on request
    assert choose("x", "nordicnrf52", "nrf5340", "cortex-m33", []).target == "cortex-m4"
    c = choose("x", "ststm32", "alif_e7", "cortex-m55", [])
    assert c.target == "cortex-m55" and c.valid_targets == ("cortex-m55", "cortex-m4", "generic")


def test_a_port_or_target_that_does_not_fit_is_refused_with_the_valid_choices() -> None:
    with pytest.raises(BuildError) as e:
        choose("bluepill_f103c8", "ststm32", "stm32f103c8t6", "cortex-m3", [], port="stm32")
    assert str(e.value) == (
        "custom_microaot_port = stm32 does not fit board bluepill_f103c8 (platform ststm32, mcu stm32f103c8t6, "
        "cpu cortex-m3, no framework); valid choices: user (set custom_microaot_port to one of them, or remove it)"
    )
    with pytest.raises(BuildError, match=r"custom_microaot_target = cortex-m4 does not fit board pico .*"
                                         r"valid choices: generic"):
        choose("pico", "raspberrypi", "rp2040", "cortex-m0plus", [], target="cortex-m4")


# ---- builds --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pio_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if not HAVE_STD:
        pytest.skip(f"no offline copy of PlatformIO's standard platforms at {STD} (set MICROAOT_PIO_STD)")
    env = pio_environ()
    install(STD, Path(env["PLATFORMIO_CORE_DIR"]))
    env["PLATFORMIO_WORKSPACE_DIR"] = str(tmp_path_factory.mktemp("std_ws"))
    return env


def _run(project: Path, env: dict[str, str], *envs: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    argv = pio_argv("run", "-d", str(project), *[a for e in envs for a in ("-e", e)])
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)


def _build(project: Path, env: dict[str, str], *envs: str) -> Path:
    r = _run(project, env, *envs)
    assert r.returncode == 0, (r.stdout + r.stderr)[-5000:]
    return Path(env["PLATFORMIO_WORKSPACE_DIR"]) / "build"


def _std_input() -> np.ndarray:
    """The input of examples/std_kws/src/main.c: x = x * 1103515245 + 12345 (mod 2^32), top byte."""
    x = 12345
    out = []
    for _ in range(49 * 10):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out.append(((x >> 24) ^ 0x80) - 0x80)
    return np.array(out, dtype=np.int8).reshape(1, 49, 10, 1)


def _arch(obj: Path) -> str:
    out = subprocess.run(["arm-none-eabi-readelf", "-A", str(obj)], capture_output=True, text=True, check=True)
    m = re.search(r"Tag_CPU_arch: (\S+)", out.stdout)
    return m.group(1) if m else "?"


def test_native_standalone_app_prints_tflms_outputs(pio_env: dict[str, str]) -> None:
    bdir = _build(STD_KWS, pio_env, "native")
    out = subprocess.run([str(bdir / "native" / "program")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out
    scores = [int(v) for v in out.stdout.split("scores:")[1].split()]
    want = run_reference(MODEL, [[_std_input()]])[0][0].reshape(-1).tolist()
    assert scores == want
    # the library's own sources are optimized whatever the platform's default (native adds no -O)
    info = BuildInfo.load(bdir / "native" / "microaot" / "microaot_build.json")
    assert (info.port, info.mode) == ("host", "standalone")


def test_native_rpc_evaluates_bit_exact(pio_env: dict[str, str]) -> None:
    from microaot.boards import get_board

    bdir = _build(STD_KWS, pio_env, "native_rpc") / "native_rpc"
    info = BuildInfo.load(bdir / "microaot" / "microaot_build.json")
    rep = evaluate_firmware(MODEL, get_board("host"), bdir / "program", info, seeds=2, check_tensors=False)
    assert rep.outputs_match and rep.compared_bytes == 24
    assert rep.memory.weights == info.weight_bytes  # --unique keeps .rodata.microaot in the ELF


@needs_arm
def test_ststm32_no_framework_and_cmsis_build(pio_env: dict[str, str]) -> None:
    bdir = _build(STD_KWS, pio_env, "nucleo_f446re", "nucleo_f446re_cmsis")
    bare = bdir / "nucleo_f446re" / "firmware.elf"
    info = BuildInfo.load(bdir / "nucleo_f446re" / "microaot" / "microaot_build.json")
    assert (info.port, info.settings["flash_wait_states"]) == ("stm32", 5)
    secs = {s.name: s.size for s in read_sections(bare)}
    assert secs[".rodata.microaot"] == info.weight_bytes and ".isr_vector" in secs
    # under cmsis the framework's linker script folds the weights into .rodata: counted by symbol
    cmsis = bdir / "nucleo_f446re_cmsis"
    cinfo = BuildInfo.load(cmsis / "microaot" / "microaot_build.json")
    assert ".rodata.microaot" not in {s.name for s in read_sections(cmsis / "firmware.elf")}
    from microaot.evaluate import memory_from_elf

    assert memory_from_elf(cmsis / "firmware.elf", cinfo).weights == cinfo.weight_bytes
    # no startup of ours under a framework (the framework's Reset_Handler links)
    objs = {p.name for p in (cmsis).rglob("*.o")}
    assert "startup.o" not in objs and "platform_stm32.o" in objs
    assert budget_problems(cmsis / "firmware.elf", cinfo, 512 * 1024, 8192)[0].startswith(
        "RAM "
    )


@needs_arm
def test_board_memory_exceeded_fails_with_the_models_share(pio_env: dict[str, str], tmp_path: Path) -> None:
    proj = tmp_path / "small"
    (proj / "src").mkdir(parents=True)
    shutil.copy(STD_KWS / "src" / "main.c", proj / "src" / "main.c")
    (proj / "platformio.ini").write_text(
        "[env:small]\nplatform = ststm32\nboard = nucleo_f446re\nframework = cmsis\n"
        "board_upload.maximum_ram_size = 8192\n"
        f"lib_deps = microaot=symlink://{repo_root()}\ncustom_microaot_model = {MODEL}\n"
        "custom_microaot_name = kws\ncustom_microaot_mode = standalone\n"
    )
    for _ in range(2):  # the failed ELF is removed: a second run fails again
        r = _run(proj, pio_env, "small")
        out = r.stdout + r.stderr
        assert r.returncode != 0
        assert re.search(
            rf"microaot: error: {re.escape(str(MODEL))}: the firmware does not fit board nucleo_f446re: RAM \d+ B "
            r"\(\.data \+ \.bss\) is above the board's 8192 B; the model's share: workspace 14464 B \(\d+%\)",
            out,
        ), out[-3000:]


@needs_arm
def test_mismatched_board_is_refused(pio_env: dict[str, str], tmp_path: Path) -> None:
    proj = tmp_path / "bluepill"
    (proj / "src").mkdir(parents=True)
    shutil.copy(STD_KWS / "src" / "main.c", proj / "src" / "main.c")
    (proj / "platformio.ini").write_text(
        "[env:bluepill]\nplatform = ststm32\nboard = bluepill_f103c8\ncustom_microaot_port = stm32\n"
        f"lib_deps = microaot=symlink://{repo_root()}\ncustom_microaot_model = {MODEL}\n"
        "custom_microaot_mode = standalone\n"
    )
    r = _run(proj, pio_env, "bluepill")
    assert r.returncode != 0
    assert (
        "microaot: error: custom_microaot_port = stm32 does not fit board bluepill_f103c8 (platform ststm32, "
        "mcu stm32f103c8t6, cpu cortex-m3, no framework); valid choices: user" in r.stdout + r.stderr
    )


@needs_arm
def test_raspberrypi_pico_builds_cortex_m0plus_objects(pio_env: dict[str, str]) -> None:
    r = _run(STD_KWS, pio_env, "pico")
    bdir = Path(pio_env["PLATFORMIO_WORKSPACE_DIR"]) / "build" / "pico"
    objs = sorted(bdir.rglob("*.o"))
    names = {o.name for o in objs}
    # runtime, generic kernels, the rp2040 port and the generated model compiled with -Werror
    assert {"alloc.o", "conv.o", "platform_rp2040.o", "kws.o"} <= names, (r.stdout + r.stderr)[-3000:]
    assert {_arch(o) for o in objs} == {"v6S-M"}
    info = BuildInfo.load(bdir / "microaot" / "microaot_build.json")
    assert (info.port, info.mode) == ("rp2040", "standalone")
    assert (bdir / "firmware.elf").is_file()


@needs_arm
@needs_qemu
def test_ststm32_f405_rpc_under_qemu_netduinoplus2_is_bit_exact(pio_env: dict[str, str]) -> None:
    bdir = _build(STD_KWS, pio_env, "genericSTM32F405RG_rpc") / "genericSTM32F405RG_rpc"
    info = BuildInfo.load(bdir / "microaot" / "microaot_build.json")
    board = Board(id="genericSTM32F405RG", name="STM32F405 under QEMU netduinoplus2", launch="qemu", port="stm32",
                  target="cortex-m4", toolchain="arm", f_cpu=168_000_000, flash_size=1 << 20, ram_size=128 << 10,
                  icount_shift=3, qemu_machine="netduinoplus2", timeout=120, qemu_serial_index=1)
    rep = evaluate_firmware(MODEL, board, bdir / "firmware.elf", info, seeds=1, timeout=60, check_tensors=False,
                            profile=False)
    assert rep.outputs_match and rep.compared_bytes == 12
    # QEMU has no RCC: the port stays on the 16 MHz HSI and says so in HELLO; time uses that clock
    assert rep.settings["clock_hz"] == 16_000_000
    assert rep.seconds_per_inference == pytest.approx(rep.time_mean / 16e6)
    assert rep.memory.weights == info.weight_bytes


@pytest.mark.slow
@needs_arm
def test_ststm32_stm32cube_builds(pio_env: dict[str, str]) -> None:
    bdir = _build(STD_KWS, pio_env, "nucleo_f446re_stm32cube") / "nucleo_f446re_stm32cube"
    objs = {p.name for p in bdir.rglob("*.o")}
    assert "startup.o" not in objs and {"platform_stm32.o", "kws.o"} <= objs


@pytest.mark.slow
@needs_arm
def test_arduino_sketch_builds_standalone_and_rpc(pio_env: dict[str, str]) -> None:
    bdir = _build(ARDUINO_KWS, pio_env, "nucleo_f446re", "nucleo_f446re_rpc")
    for e in ("nucleo_f446re", "nucleo_f446re_rpc"):  # object names: conv.o or conv.c.o (Arduino builder)
        stems = {p.name.split(".")[0] for p in (bdir / e).rglob("*.o")}
        assert "platform_arduino" in stems and "startup" not in stems and "main_rpc" not in stems
    assert "rpc_server" in {p.name.split(".")[0] for p in (bdir / "nucleo_f446re_rpc").rglob("*.o")}
    # the sketch's setup()/loop() are what runs: Arduino's main() calls them
    nm = subprocess.run(["arm-none-eabi-nm", str(bdir / "nucleo_f446re_rpc" / "firmware.elf")],
                        capture_output=True, text=True, check=True).stdout
    assert re.search(r" T setup\b", nm) and re.search(r" T loop\b", nm) and re.search(r" T uaot_rpc_poll\b", nm)


@pytest.mark.slow
@needs_std
def test_users_own_pip_platformio_installs_the_generator_deps(tmp_path: Path) -> None:
    """A fresh venv with only PlatformIO (+ SCons, the stand-in for the registry's tool-scons):
    the extra script installs numpy, tflite and flatbuffers into it and the build succeeds."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    pins = [ln.strip() for ln in (repo_root() / "requirements.txt").read_text().splitlines()
            if ln.startswith(("platformio==", "scons=="))]
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", *pins], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.skip(f"cannot pip install {pins} (no package index reachable?): {r.stderr[-300:]}")
    assert subprocess.run([str(py), "-c", "import numpy"], capture_output=True).returncode != 0
    core = tmp_path / "core"
    install(STD, core)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update(PLATFORMIO_CORE_DIR=str(core), PLATFORMIO_WORKSPACE_DIR=str(tmp_path / "ws"),
               PLATFORMIO_SETTING_ENABLE_TELEMETRY="No", PLATFORMIO_NO_ANSI="true",
               PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL="3650")
    r = subprocess.run([str(py), "-m", "platformio", "run", "-d", str(STD_KWS), "-e", "native"], env=env,
                       capture_output=True, text=True, timeout=900)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "microaot: installing the code generator's dependencies into PlatformIO's Python: numpy==" in out
    assert subprocess.run([str(py), "-c", "import numpy, tflite, flatbuffers"]).returncode == 0
    prog = tmp_path / "ws" / "build" / "native" / "program"
    assert "scores:" in subprocess.run([str(prog)], capture_output=True, text=True, timeout=60).stdout


# ---- packaging -------------------------------------------------------------------------------------


def test_pio_pkg_pack_archive_and_git_url_work_as_lib_deps(pio_env: dict[str, str], tmp_path: Path) -> None:
    import tarfile

    dist = tmp_path / "dist"
    dist.mkdir()
    r = subprocess.run(pio_argv("pkg", "pack", str(repo_root()), "-o", str(dist)), env=pio_env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    (archive,) = dist.glob("microaot-*.tar.gz")
    assert archive.stat().st_size < 1_000_000
    with tarfile.open(archive) as tf:
        tops = {n.split("/")[0] for n in tf.getnames()}
        names = set(tf.getnames())
    assert tops == {"library.json", "README.md", "requirements.txt", "crt", "builder", "library"}
    assert "library/microaot/pio/build.py" in names and "builder/microaot_build.py" in names
    assert not any("__pycache__" in n or n.startswith(("library/microaot.egg-info", "tests")) for n in names)
    sources = [f"file://{archive}"]
    head = subprocess.run(["git", "-C", str(repo_root()), "rev-parse", "--abbrev-ref", "HEAD"],
                          capture_output=True, text=True)
    if head.returncode == 0 and head.stdout.strip() not in ("", "HEAD"):
        sources.append(f"git+file://{repo_root()}#{head.stdout.strip()}")
    for i, src in enumerate(sources):
        proj = tmp_path / f"user{i}"
        (proj / "src").mkdir(parents=True)
        shutil.copy(STD_KWS / "src" / "main.c", proj / "src" / "main.c")
        (proj / "platformio.ini").write_text(
            f"[env:native]\nplatform = native\nlib_deps = microaot={src}\ncustom_microaot_model = {MODEL}\n"
            "custom_microaot_name = kws\ncustom_microaot_mode = standalone\n"
        )
        env = {**pio_env, "PLATFORMIO_WORKSPACE_DIR": str(proj / ".pio")}
        bdir = _build(proj, env, "native")
        installed = proj / ".pio" / "libdeps" / "native" / "microaot"
        assert (installed / "library.json").is_file() and not (installed / ".venv").exists(), src
        if src.startswith("file://"):  # the archive: only what library.json exports
            assert not (installed / "tests").exists()
        out = subprocess.run([str(bdir / "native" / "program")], capture_output=True, text=True, timeout=60)
        assert out.stdout.startswith("scores: "), (src, out)


def test_a_core_dir_inside_the_checkout_keeps_its_cache_outside() -> None:
    core = Path(pio_environ()["PLATFORMIO_CORE_DIR"])
    try:
        core.resolve().relative_to(repo_root().resolve())
    except ValueError:
        pytest.skip(f"the core dir {core} is outside the checkout")
    cache = core / ".cache"
    assert cache.is_symlink()
    with pytest.raises(ValueError):
        cache.resolve().relative_to(repo_root().resolve())


def test_user_hooks_mode_the_application_supplies_the_platform_functions(
    pio_env: dict[str, str], tmp_path: Path
) -> None:
    proj = tmp_path / "hooks"
    (proj / "src").mkdir(parents=True)
    shutil.copy(STD_KWS / "src" / "main.c", proj / "src" / "main.c")
    (proj / "src" / "hooks.c").write_text(
        "#include <stdio.h>\n#include <time.h>\n#include \"microaot/platform.h\"\n"
        "void uaot_platform_write(const uint8_t *d, size_t n) { fwrite(d, 1, n, stdout); fflush(stdout); }\n"
        "uint64_t uaot_platform_timer_read(void) { return (uint64_t)clock(); }\n"
        "uaot_time_unit_t uaot_platform_timer_unit(void) { return UAOT_TIME_UNIT_US; }\n"
    )
    ini = (
        "[env:hooks]\nplatform = native\ncustom_microaot_port = user\n"
        f"lib_deps = microaot=symlink://{repo_root()}\ncustom_microaot_model = {MODEL}\n"
        "custom_microaot_name = kws\ncustom_microaot_mode = standalone\n"
    )
    (proj / "platformio.ini").write_text(ini)
    env = {**pio_env, "PLATFORMIO_WORKSPACE_DIR": str(proj / ".pio")}
    bdir = _build(proj, env, "hooks") / "hooks"
    assert not list(bdir.rglob("host_port.o"))  # no port of microaot's: the hooks above
    out = subprocess.run([str(bdir / "program")], capture_output=True, text=True, timeout=60)
    want = run_reference(MODEL, [[_std_input()]])[0][0].reshape(-1).tolist()
    assert [int(v) for v in out.stdout.split("scores:")[1].split()] == want
    # without the hooks the link names what the application must define
    (proj / "src" / "hooks.c").unlink()
    r = _run(proj, env, "hooks")
    assert r.returncode != 0 and "undefined reference to `uaot_platform_write'" in r.stdout + r.stderr


@needs_arm
def test_f_cpu_and_optimization_reach_the_librarys_build(pio_env: dict[str, str], tmp_path: Path) -> None:
    proj = tmp_path / "fcpu"
    (proj / "src").mkdir(parents=True)
    shutil.copy(STD_KWS / "src" / "main.c", proj / "src" / "main.c")
    (proj / "platformio.ini").write_text(
        "[env:f446]\nplatform = ststm32\nboard = nucleo_f446re\nboard_build.f_cpu = 84000000L\n"
        f"lib_deps = microaot=symlink://{repo_root()}\ncustom_microaot_model = {MODEL}\n"
        "custom_microaot_name = kws\ncustom_microaot_mode = standalone\n"
    )
    env = {**pio_env, "PLATFORMIO_WORKSPACE_DIR": str(proj / ".pio")}
    r = subprocess.run(pio_argv("run", "-d", str(proj), "-e", "f446", "-v"), env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    line = next(ln for ln in r.stdout.splitlines() if "-c" in ln.split() and ln.rstrip().endswith("softmax.c"))
    flags = line.split()
    # ststm32 compiles with -Os; the library's own -O2 comes later on the line and wins
    assert flags.index("-O2") > flags.index("-Os") and {"-Wall", "-Wextra", "-Werror", "-std=c99"} <= set(flags)
    assert "-DUAOT_F_CPU=84000000UL" in flags and "-DUAOT_FLASH_WAIT_STATES=2" in flags
    info = BuildInfo.load(proj / ".pio" / "build" / "f446" / "microaot" / "microaot_build.json")
    assert info.settings["f_cpu"] == "84000000L"
