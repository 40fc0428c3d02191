"""microaot.report.elf: section sizes, symbols and the no-malloc/printf check on real gcc output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from microaot.report import elf

ARM_CC = "arm-none-eabi-gcc"
M4 = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]

CLEAN_C = r"""
#include <stdint.h>
#include <string.h>
__attribute__((section(".rodata.microaot"), aligned(4))) static const int8_t w[100] = {1, 2, 3, -4};
const int8_t table[8] = {9, 8, 7};
int32_t counter = 5;
static uint8_t scratch[64];
int32_t f(int32_t x) { memcpy(scratch, w, sizeof w < sizeof scratch ? sizeof scratch : sizeof w);
    return x + w[x & 63] + table[x & 7] + counter + scratch[3]; }
"""

DIRTY_C = r"""
#include <stdio.h>
#include <stdlib.h>
int g(int n) { char *p = malloc((size_t)n); if (!p) return 0; p[0] = 1; printf("%d\n", p[0]);
    int r = p[0]; free(p); return r; }
int main(void) { return g(3); }
"""


def _cc(cc: str, args: list[str]) -> None:
    proc = subprocess.run([cc, *args], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("cc,flags", [("gcc", []), (ARM_CC, M4)])
def test_size_report_object(tmp_path: Path, cc: str, flags: list[str]) -> None:
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    obj = tmp_path / "clean.o"
    _cc(cc, [*flags, "-O2", "-ffunction-sections", "-fdata-sections", "-c",
             str(_write(tmp_path, "clean.c", CLEAN_C)), "-o", str(obj)])
    rep = elf.size_report(obj)
    assert rep["weights"] == 100 and rep["weight_section_present"] is True
    assert rep["bss"] == 64 and rep["data"] == 4
    assert isinstance(rep["text"], int) and rep["text"] > 0
    assert isinstance(rep["rodata"], int) and rep["rodata"] >= 8
    assert rep["flash"] == rep["text"] + rep["rodata"] + rep["weights"] + rep["data"]
    w = elf.section_bytes(obj, ".rodata.microaot")
    assert w is not None and w[:4] == bytes([1, 2, 3, 0xFC]) and len(w) == 100
    names = {s.name for s in elf.defined_symbols(obj)}
    assert {"f", "w", "table", "counter", "scratch"} <= names
    assert "memcpy" in {s.name for s in elf.undefined_symbols(obj)} or cc == "gcc"  # gcc may inline it
    assert elf.find_forbidden_symbols(obj) == []
    elf.check_no_dynamic_memory(obj)
    assert elf.section_sizes(obj)[".rodata.microaot"] == 100


def test_forbidden_detected_in_host_executable(tmp_path: Path) -> None:
    exe = tmp_path / "dirty"
    _cc("gcc", ["-O1", str(_write(tmp_path, "dirty.c", DIRTY_C)), "-o", str(exe)])
    bad = {s.name for s in elf.find_forbidden_symbols(exe)}
    assert {"malloc", "free"} <= bad and bad & {"printf", "puts"}
    # the imports are undefined symbols (of .dynsym) in a dynamically linked image
    assert any(s.table == ".dynsym" and not s.defined for s in elf.find_forbidden_symbols(exe))
    with pytest.raises(elf.ForbiddenSymbolError, match="malloc"):
        elf.check_no_dynamic_memory(exe)


def test_forbidden_detected_in_arm_static_image(tmp_path: Path) -> None:
    if shutil.which(ARM_CC) is None:
        pytest.skip(f"{ARM_CC} not installed")
    exe = tmp_path / "dirty.elf"
    _cc(ARM_CC, [*M4, "-O1", "--specs=nosys.specs", "--specs=nano.specs", "-Wl,--gc-sections",
                 str(_write(tmp_path, "dirty.c", DIRTY_C)), "-o", str(exe)])
    bad = {s.name for s in elf.find_forbidden_symbols(exe)}
    # newlib's reentrant forms are defined in the static image
    assert {"malloc", "_malloc_r", "free", "_free_r"} <= bad
    with pytest.raises(elf.ForbiddenSymbolError, match="_malloc_r"):
        elf.check_no_dynamic_memory(exe, what="dirty.elf")


@pytest.mark.parametrize("name,forbidden", [
    ("malloc", True), ("_malloc_r", True), ("__wrap_malloc", True), ("__real_free", True),
    ("__libc_calloc", True), ("realloc@GLIBC_2.2.5", True), ("_free_r", True), ("__printf_chk", True),
    ("_svfprintf_r", True), ("iprintf", True), ("puts", True), ("_sbrk", True), ("_Znwj", True),
    ("_ZdlPv", True), ("memcpy", False), ("memset", False), ("freeze", False), ("uaot_arena_alloc", False),
    ("__libc_start_main", False), ("kws_run", False),
])
def test_is_forbidden(name: str, forbidden: bool) -> None:
    assert elf.is_forbidden(name) is forbidden


def test_not_an_elf(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.o", "hello")
    with pytest.raises(elf.ElfReadError, match="not an ELF"):
        elf.read_sections(p)
