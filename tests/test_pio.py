"""PlatformIO integration: the dev-platform, the library build hook, QEMU/host evaluation, examples.

Every MLPerf Tiny model is built once per board (one PlatformIO project per model with an env per
board, `pio run -j2`) and evaluated over RPC against TFLM, bit for bit; sizes come from the ELF.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import MLPERF_MODELS, mlperf_model
from microaot.boards import get_board, load_boards
from microaot.errors import BuildError
from microaot.evaluate import evaluate_firmware
from microaot.pio.build import GEN_SUBDIR
from microaot.pio.project import PioBuild, build, ini_text, pio_argv, pio_environ, write_project
from microaot.pio.setup import check_platformio_sees_it, ensure_tool_scons
from microaot.report.elf import check_no_dynamic_memory
from microaot.testing import m4run

BOARDS = ("qemu_mps2_an385", "qemu_mps2_an386", "host")
HAVE_ARM = shutil.which("arm-none-eabi-gcc") is not None and shutil.which("qemu-system-arm") is not None
needs_arm = pytest.mark.skipif(not HAVE_ARM, reason="arm-none-eabi-gcc / qemu-system-arm not installed")


# ---- offline PlatformIO set-up and the board registry (fast) --------------------------------------


def test_tool_scons_is_provisioned_offline_and_idempotent(tmp_path: Path) -> None:
    core = tmp_path / "core"
    pkg = ensure_tool_scons(core)
    first = {p.name: p.read_bytes() for p in pkg.iterdir()}
    mtimes = {p.name: p.stat().st_mtime_ns for p in pkg.iterdir()}
    assert ensure_tool_scons(core) == pkg
    assert {p.name: p.read_bytes() for p in pkg.iterdir()} == first
    assert {p.name: p.stat().st_mtime_ns for p in pkg.iterdir()} == mtimes  # nothing rewritten
    old = os.environ.get("PLATFORMIO_CORE_DIR")
    try:
        assert check_platformio_sees_it(core)
    finally:
        if old is None:
            os.environ.pop("PLATFORMIO_CORE_DIR", None)
        else:
            os.environ["PLATFORMIO_CORE_DIR"] = old


def test_board_registry() -> None:
    boards = load_boards()
    assert {"host", "qemu_mps2_an385", "qemu_mps2_an386", "nucleo_f446re"} <= set(boards)
    m4 = boards["qemu_mps2_an386"]
    assert m4.launch == "qemu" and m4.qemu_machine == "mps2-an386" and m4.target == "cortex-m4"
    argv = m4.launch_argv("fw.elf")
    assert argv[0] == "timeout" and "qemu-system-arm" in argv and "shift=3" in argv and "-semihosting" in argv
    assert boards["qemu_mps2_an385"].manifest["build"]["cpu"] == "cortex-m3"
    m55 = boards["qemu_mps3_an547"]
    assert m55.qemu_machine == "mps3-an547" and m55.target == "cortex-m55"
    assert m55.manifest["build"]["cpu"] == "cortex-m55"
    assert boards["qemu_mps2_an505"].target == "cortex-m4"  # the M33: the DSP kernels
    assert boards["host"].launch_argv("fw") == ["fw"]
    assert boards["nucleo_f446re"].launch == "serial" and boards["nucleo_f446re"].flash_size == 512 * 1024
    for b in boards.values():  # PlatformIO crashes without these
        assert b.manifest["upload"]["maximum_size"] > 0 and b.manifest["upload"]["maximum_ram_size"] > 0
    with pytest.raises(Exception, match="known boards"):
        get_board("no_such_board")


# ---- builds ----------------------------------------------------------------------------------------


def _multi_env_project(path: Path, model: Path, boards: tuple[str, ...]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "src").mkdir(exist_ok=True)
    text = "\n".join(ini_text(b, model=model) for b in boards)
    ini = path / "platformio.ini"
    if not ini.is_file() or ini.read_text() != text:
        ini.write_text(text)
    return path


def _boards_here() -> tuple[str, ...]:
    return BOARDS if HAVE_ARM else ("host",)


@pytest.fixture(scope="session")
def mlperf_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], PioBuild]:
    """One PlatformIO project per MLPerf model, one env per board, all built once."""
    root = tmp_path_factory.mktemp("pio_mlperf")
    out: dict[tuple[str, str], PioBuild] = {}
    for key in MLPERF_MODELS:
        proj = _multi_env_project(root / key, mlperf_model(key), _boards_here())
        for board in _boards_here():
            out[(key, board)] = build(proj, board, jobs=2)
    return out


@pytest.mark.pio
@pytest.mark.qemu
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("key", list(MLPERF_MODELS))
def test_mlperf_model_bit_exact_on_board(
    mlperf_builds: dict[tuple[str, str], PioBuild], key: str, board: str
) -> None:
    if (key, board) not in mlperf_builds:
        pytest.skip("ARM toolchain / QEMU not installed")
    b = mlperf_builds[(key, board)]
    brd = get_board(board)
    m4 = board == "qemu_mps2_an386"  # every tensor vs the generic-C build (a host compile): on one board here
    rep = evaluate_firmware(mlperf_model(key), brd, b.firmware, b.info, seeds=2, profile=(key == "kws"),
                            check_tensors=m4)
    assert rep.outputs_match, f"{key} on {board}: {rep.mismatches}"
    assert rep.tensors_match is (True if m4 else None), rep.tensor_diagnosis
    assert rep.compared_bytes > 0
    # the report shows the device's outputs for the first input, one list per output tensor
    # (int8 outputs: one byte per value, compared for each of the 2 inputs)
    assert sum(len(v) for v in rep.first_outputs) * 2 == rep.compared_bytes
    assert f"output 0 (seed 0)   : [{rep.first_outputs[0][0]:g}" in rep.format_text()
    assert rep.time_min > 0
    assert rep.timer_unit == ("ns" if board == "host" else "instructions")
    m = rep.memory
    # sizes come from the ELF: the weight section holds exactly the compiler's constants (plus alignment)
    assert b.info.weight_bytes <= m.weights <= b.info.weight_bytes + 16 * 256
    assert m.code > 1000 and m.static_ram >= m.workspace == b.info.workspace_size
    assert m.stack_high_water is not None and 0 < m.stack_high_water < (m.stack_reserved or 1 << 30)
    if key == "kws":
        assert len(rep.ops) == 13 and abs(sum(o.share for o in rep.ops) - 1.0) < 1e-6
    if board != "host":
        check_no_dynamic_memory(b.firmware, what=f"{key} firmware for {board}")
        if board == "qemu_mps2_an385":
            assert m.flash < 4 * 1024 * 1024


@pytest.mark.pio
@pytest.mark.qemu
@pytest.mark.parametrize("key", list(MLPERF_MODELS))
def test_every_intermediate_tensor_is_identical_on_every_board(
    mlperf_builds: dict[tuple[str, str], PioBuild], key: str
) -> None:
    """OPCHECK on the same input: the host build (generic C kernels), the Cortex-M3 and the Cortex-M4 build
    (DSP kernels, other schedules, in-place placements) produce every intermediate tensor byte for byte
    alike, not only the model's outputs; the last operator's hash is that of the output read back."""
    from microaot.boards import open_link
    from microaot.frontend.tflite import load_tflite
    from microaot.rpc import protocol as P
    from microaot.rpc.session import Session

    builds = {b: mlperf_builds[(key, b)] for b in BOARDS if (key, b) in mlperf_builds}
    if len(builds) < 2:
        pytest.skip("ARM toolchain / QEMU not installed")
    g = load_tflite(mlperf_model(key))
    last = next(op.index for op in g.operators if g.outputs[0] in op.outputs)
    shape = g.tensors[g.inputs[0]].shape
    x = np.random.default_rng(7).integers(-128, 128, size=shape, dtype=np.int8)
    hashes: dict[str, list[int]] = {}
    for board, b in builds.items():
        with Session(open_link(get_board(board), b.firmware), timeout=120) as s:
            assert s.hello().has_opcheck
            s.write_input(0, x)
            hashes[board] = s.op_hashes()
            assert hashes[board][last] == P.fnv1a32(s.read_output(0).tobytes())
    assert len(hashes["host"]) == len(g.operators) and len(set(hashes["host"])) > len(g.operators) // 2
    for board, h in hashes.items():
        assert h == hashes["host"], f"{key}: {board} differs from host on ops " + str(
            [k for k, (a, b) in enumerate(zip(h, hashes["host"], strict=True)) if a != b])


@pytest.mark.pio
def test_eval_mismatch_names_the_first_differing_operator(
    mlperf_builds: dict[tuple[str, str], PioBuild], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An output that differs from TFLM gets a diagnosis from the OPCHECK hashes even without
    check_tensors: here the 'reference' is made wrong, so every tensor equals the generic-C build and the
    report says so; with device hashes that differ from operator 3 on, the diagnosis names operator 3."""
    import microaot.evaluate as ev

    b = mlperf_builds[("ad", "host")]
    real = ev.reference_outputs

    def wrong_reference(model: Path, input_sets: list) -> list:
        refs = real(model, input_sets)
        refs[0][0] = np.asarray(refs[0][0]).copy()
        refs[0][0].reshape(-1)[5] ^= 1
        return refs

    monkeypatch.setattr(ev, "reference_outputs", wrong_reference)
    rep = evaluate_firmware(mlperf_model("ad"), get_board("host"), b.firmware, b.info, seeds=2, profile=False,
                            check_tensors=False)
    assert not rep.outputs_match and [(m.seed, m.differing) for m in rep.mismatches] == [(0, 1)]
    assert rep.tensors_match is True  # compared anyway, to diagnose the mismatch
    assert rep.tensor_diagnosis == (
        "every operator's output on host equals the generic-C build on the host, so the difference to TFLM is in "
        "microaot's portable arithmetic for this model, not in the board's kernels: please report it with the "
        "model file")
    text = rep.format_text()
    assert "    diagnosis: every operator" in text and "  every tensor        : MATCH" in text
    from microaot.frontend.tflite import load_tflite
    from microaot.rpc.protocol import fnv1a32

    g = load_tflite(mlperf_model("ad"))
    names = [op.opcode for op in g.operators]
    x = ev.make_input(np.dtype(np.int8), g.tensors[g.inputs[0]].shape, 0, 0)
    want = ev.generic_op_hashes(mlperf_model("ad"), [[x], [x]])
    assert isinstance(want, list) and len(want) == 2 and len(want[0]) == len(names) == 10
    bad = [list(want[0]), [h if k < 3 else fnv1a32(b"") for k, h in enumerate(want[1])]]
    ok, why = ev.compare_tensors(bad, want, names, "qemu_mps2_an386")
    assert not ok and why == (
        "on seed 1 operator 3 (FULLY_CONNECTED) is the first whose output differs from the generic-C build of the "
        "same model on the host (7 operator(s) differ: 3, 4, 5, 6, 7, 8, 9); its kernel or schedule on "
        "qemu_mps2_an386 is wrong: report it with the model file; to work around it, build with "
        "`board_build.microaot.target = generic` or give that operator another schedule in a tuning log")
    assert ev.compare_tensors(want, want, names, "host") == (True, None)


@pytest.mark.pio
def test_codegen_is_cached_by_model_and_options(mlperf_builds: dict[tuple[str, str], PioBuild]) -> None:
    b = build(mlperf_builds[("ad", "host")].project_dir, "host", jobs=2)  # current with the sources now
    gen = b.build_dir / GEN_SUBDIR
    c_file = gen / f"{b.info.name}.c"
    before = c_file.stat().st_mtime_ns
    again = build(b.project_dir, b.env_name, jobs=2)
    assert again.info.key == b.info.key
    assert c_file.stat().st_mtime_ns == before, "an unchanged model + options must not regenerate C"
    assert not any(p.suffix in (".c", ".h") for p in (b.project_dir / "src").iterdir()), (
        "nothing written to src/"
    )


@pytest.mark.pio
def test_build_error_names_the_option(tmp_path: Path) -> None:
    proj = write_project(tmp_path / "p", "host", model=tmp_path / "missing.tflite")
    with pytest.raises(BuildError, match="custom_microaot_model"):
        build(proj, "host")


@pytest.mark.pio
@needs_arm
def test_board_settings_reach_the_build_as_defines(tmp_path: Path) -> None:
    proj = tmp_path / "defs"
    (proj / "src").mkdir(parents=True)
    (proj / "src" / "main.c").write_text(
        '#include "microaot/platform.h"\n'
        "#if UAOT_F_CPU != 50000000UL || UAOT_CACHE_ENABLE != 1 || UAOT_FLASH_WAIT_STATES != 2\n"
        "#error SoC settings did not reach the build\n#endif\n"
        "#if UAOT_ICOUNT_SHIFT != 2 || UAOT_FLASH_SIZE != 4194304UL || !defined(UAOT_BOARD_QEMU_MPS2_AN385)\n"
        "#error board settings did not reach the build\n#endif\n"
        "int main(void) { const char *n = uaot_platform_board_name();\n"
        '  uaot_platform_write((const unsigned char *)n, 15); uaot_platform_write((const unsigned char *)"\\n", 1);\n'
        "  return 0; }\n"
    )
    (proj / "platformio.ini").write_text(
        ini_text(
            "qemu_mps2_an385",
            model=None,
            mode="standalone",
            extra={
                "board_build.f_cpu": "50000000L",
                "board_build.microaot.cache": "1",
                "board_build.microaot.flash_wait_states": "2",
                "board_build.microaot.icount_shift": "2",
            },
        )
    )
    build(proj, "qemu_mps2_an385")
    # pio run -t upload starts the firmware in QEMU; it prints the board name and exits 0
    r = subprocess.run(
        pio_argv("run", "-d", str(proj), "-t", "upload"),
        env=pio_environ(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "qemu_mps2_an385" in r.stdout and "shift=2" in r.stdout


# ---- the examples ------------------------------------------------------------------------------------


def _example_env(tmp_path: Path) -> dict[str, str]:
    env = pio_environ()
    env["PLATFORMIO_WORKSPACE_DIR"] = str(tmp_path / "ws")  # keep .pio out of the checkout
    return env


@pytest.mark.pio
@pytest.mark.qemu
@needs_arm
def test_example_eval_kws_pio_test_passes(repo: Path, tmp_path: Path) -> None:
    r = subprocess.run(
        pio_argv("test", "-d", str(repo / "examples" / "eval_kws"), "-e", "qemu_mps2_an386"),
        env=_example_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "MATCH (bit-exact)" in out and "instructions per inference" in out
    assert ("  every tensor        : MATCH (each operator's output vs the generic-C build on the host, 3 input(s))"
            in out)
    assert "9 passed, 0 failed" in out  # 7 checks + the RAM and flash budgets (the board's maxima)
    assert "qemu_mps2_an386:budget_ram\t[PASSED]" in out and "qemu_mps2_an386:outputs_match_tflm_seed0\t[PASSED]" in out
    # the real-silicon env of the same project builds too (RPC firmware for the STM32 port)
    r = subprocess.run(
        pio_argv("run", "-d", str(repo / "examples" / "eval_kws"), "-e", "nucleo_f446re", "-j", "2"),
        env=_example_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    fw = tmp_path / "ws" / "build" / "nucleo_f446re" / "firmware.elf"
    check_no_dynamic_memory(fw, what="eval_kws RPC firmware for nucleo_f446re")
    assert (tmp_path / "ws" / "build" / "nucleo_f446re" / "firmware.bin").stat().st_size > 30_000


@pytest.mark.pio
@pytest.mark.qemu
@needs_arm
def test_example_ship_app_builds_and_runs(repo: Path, tmp_path: Path) -> None:
    proj = repo / "examples" / "ship_app"
    env = _example_env(tmp_path)
    r = subprocess.run(
        pio_argv("run", "-d", str(proj), "-e", "qemu_mps2_an386", "-e", "nucleo_f446re", "-e", "host", "-j", "2"),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    ws = tmp_path / "ws" / "build"
    for e in ("qemu_mps2_an386", "nucleo_f446re"):
        fw = ws / e / "firmware.elf"
        assert fw.is_file()
        check_no_dynamic_memory(fw, what=f"ship_app for {e}")
        assert not (ws / e / "microaot" / "uaot_app_model.c").exists()  # standalone: no RPC glue
    r = subprocess.run(
        pio_argv("run", "-d", str(proj), "-e", "qemu_mps2_an386", "-t", "upload"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert "kws: class " in r.stdout
    # the same application as a native program (host board, standalone: the app's own main)
    host_fw = ws / "host" / "firmware"
    assert host_fw.is_file(), sorted(p.name for p in (ws / "host").iterdir())
    assert not (ws / "host" / "microaot" / "uaot_app_model.c").exists()
    out = subprocess.run([str(host_fw)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("kws: class "), out
    # both builds run the same generated model on the same input: the same class and score
    assert out.stdout.split(", ")[:2] == r.stdout[r.stdout.index("kws: class ") :].split(", ")[:2]


# ---- fast unit tests of the pieces ---------------------------------------------------------------


def test_src_filter_standalone_leaves_out_rpc_and_port_main(repo: Path) -> None:
    from microaot.pio.build import BuildInfo, src_filter

    crt = repo / "crt"
    rpc = src_filter(BuildInfo(key="k", board="qemu_mps2_an386", port="cmsdk", mode="rpc"), crt)
    alone = src_filter(BuildInfo(key="k", board="qemu_mps2_an386", port="cmsdk", mode="standalone"), crt)
    assert rpc[0] == "-<*>" and "+<ports/cmsdk/main_rpc.c>" in rpc and "+<src/rpc_server.c>" in rpc
    assert "+<ports/cmsdk/main_rpc.c>" not in alone and "+<src/rpc_server.c>" not in alone
    assert "+<ports/cmsdk/startup.c>" in alone and "+<ports/cmsdk/platform_cmsdk.c>" in alone


def test_report_text_json_png(tmp_path: Path) -> None:
    import json

    from microaot.report.evaluation import EvalReport, MemoryReport, OpTime, summary_line

    mem = MemoryReport(
        code=100,
        weights=2000,
        rodata=10,
        data=4,
        bss=600,
        flash=2114,
        static_ram=604,
        workspace=512,
        io_buffers=20,
        stack_reserved=4096,
        stack_high_water=300,
        model_stack=100,
    )
    rep = EvalReport(
        model="/m/kws.tflite",
        model_hash="ab",
        board="qemu_mps2_an386",
        board_name="qemu_mps2_an386",
        timer_unit="instructions",
        seeds=2,
        runs=1,
        outputs_match=True,
        compared_bytes=24,
        time_min=90,
        time_mean=95.0,
        time_max=100,
        memory=mem,
        ops=[OpTime(0, "CONV_2D", 70.0, 0.7), OpTime(1, "SOFTMAX", 30.0, 0.3)],
    )
    text = rep.format_text()
    for needle in (
        "MATCH (bit-exact)",
        "instructions per inference",
        "weights",
        "stack high-water",
        "CONV_2D",
    ):
        assert needle in text
    rep.write_json(tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["memory"]["weights"] == 2000
    rep.write_png(tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary_line(3, 1) == "3 passed, 1 failed"


@pytest.mark.pio
@pytest.mark.qemu
@needs_arm
@pytest.mark.parametrize("board,cpu", [("qemu_mps2_an500", "cortex-m7"), ("qemu_mps2_an505", "cortex-m33")])
def test_m7_and_m33_boards_are_bit_exact_on_every_tensor(tmp_path: Path, board: str, cpu: str) -> None:
    """The Cortex-M7 (MPS2 AN500) and Cortex-M33 (AN505: secure state, its own memory map, a 20 MHz counter)
    boards run the same evaluation as the M4: outputs bit-exact with TFLM, every tensor equal to the
    generic-C build, instructions counted (the AN505 counter's clock is taken into account: the AD model
    runs about as many instructions as on the M4 (m4run, same default schedules), not 0.8x), and a cycle
    estimate with the core's timings."""
    proj = write_project(tmp_path / "p", board, model=mlperf_model("ad"))
    b = build(proj, board, jobs=2)
    rep = evaluate_firmware(mlperf_model("ad"), get_board(board), b.firmware, b.info, seeds=1)
    assert rep.outputs_match and rep.tensors_match is True, rep.tensor_diagnosis
    m4 = m4run.measure(mlperf_model("ad"), target="cortex-m4", build_dir=tmp_path / "m4", check=False)
    assert rep.timer_unit == "instructions" and abs(rep.time_mean / m4["instructions"] - 1) < 0.05, m4
    assert rep.cycle_estimate is not None and rep.cycle_estimate.core == cpu, rep.cycle_note
    check_no_dynamic_memory(b.firmware, what=f"ad firmware for {board}")


def _m55_eval(tmp_path: Path, key: str) -> None:
    board = "qemu_mps3_an547"
    proj = write_project(tmp_path / "p", board, model=mlperf_model(key))
    b = build(proj, board, jobs=2)
    rep = evaluate_firmware(mlperf_model(key), get_board(board), b.firmware, b.info, seeds=1)
    assert rep.outputs_match and rep.tensors_match is True, f"{key}: {rep.mismatches} {rep.tensor_diagnosis}"
    assert rep.timer_unit == "instructions" and rep.time_min > 0
    assert rep.cycle_estimate is not None and rep.cycle_estimate.core == "cortex-m55", rep.cycle_note
    # the plugin counts the same instructions as the device's 20 MHz counter (within its 6.25-instruction tick)
    assert abs(rep.cycle_estimate.instructions_per_inference - rep.time_mean) <= 64 + 0.001 * rep.time_mean
    m = rep.memory
    assert b.info.weight_bytes <= m.weights <= b.info.weight_bytes + 16 * 256
    assert m.stack_high_water is not None and 0 < m.stack_high_water < (m.stack_reserved or 1 << 30)
    check_no_dynamic_memory(b.firmware, what=f"{key} firmware for {board}")


@pytest.mark.pio
@pytest.mark.qemu
@needs_arm
def test_m55_board_is_bit_exact_on_every_tensor(tmp_path: Path) -> None:
    """The Cortex-M55 board (MPS3 AN547 under QEMU: secure state, vectors and code in the ITCM at 0, weights
    and RAM in the internal SRAM, UART0 / FPGAIO at their secure aliases, a 20 MHz counter) runs the same
    evaluation as the M4 on AD: outputs bit-exact with TFLM, every tensor equal to the generic-C build,
    instructions counted, a cycle estimate priced for the M55."""
    _m55_eval(tmp_path, "ad")


@pytest.mark.pio
@pytest.mark.qemu
@pytest.mark.slow
@needs_arm
@pytest.mark.parametrize("key", ["kws", "vww", "ic"])
def test_m55_board_mlperf_models_bit_exact(tmp_path: Path, key: str) -> None:
    _m55_eval(tmp_path, key)
