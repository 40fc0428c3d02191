"""crt/src/alloc.c: the arena allocator and uaot_model_run_alloc (memory modes 2 and 3)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from microaot.paths import crt_root
from microaot.report import elf

WARN = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-Wconversion", "-Wsign-conversion"]
TESTS_C = Path(__file__).parent / "c"


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_arena_and_run_alloc_unit(tmp_path: Path) -> None:
    exe = tmp_path / "alloc_test"
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]
    probe = subprocess.run(["gcc", *san, "-x", "c", "-", "-o", str(tmp_path / "probe")],
                           input="int main(void){return 0;}", capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        san = ["-g"]
    _run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", *san, f"-I{crt_root() / 'include'}",
          str(TESTS_C / "alloc_test.c"), str(crt_root() / "src" / "alloc.c"), "-o", str(exe)])
    out = _run([str(exe)])
    assert "alloc_test: ok" in out.stdout


@pytest.mark.parametrize("cc,flags", [
    ("gcc", []),
    ("arm-none-eabi-gcc", ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]),
    ("arm-none-eabi-gcc", ["-mcpu=cortex-m0", "-mthumb"]),
])
def test_alloc_builds_warning_free_and_needs_no_libc(tmp_path: Path, cc: str, flags: list[str]) -> None:
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    obj = tmp_path / "alloc.o"
    _run([cc, *WARN, *flags, "-Os", f"-I{crt_root() / 'include'}", "-c", str(crt_root() / "src" / "alloc.c"),
          "-o", str(obj)])
    # the allocator references nothing outside itself: not even memcpy, let alone malloc
    assert elf.external_references([obj]) == set()
    assert elf.find_forbidden_symbols(obj) == []
