"""The object cache of the runtime's C files (microaot.toolchain.cached_objects): one compile per compiler, flags
and preprocessed text; the generated and user sources are always compiled."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from microaot.errors import BuildError
from microaot.paths import crt_root
from microaot.toolchain import BASE_CFLAGS, cached_objects, compile_c, launch

SRC = crt_root() / "kernels" / "pad.c"


def _cmd(*extra: str) -> list[str]:
    return ["gcc", *BASE_CFLAGS, "-fPIC", f"-I{crt_root() / 'include'}", *extra]


def test_runtime_files_compile_once_per_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROAOT_CACHE_DIR", str(tmp_path / "cache"))
    user = tmp_path / "user.c"
    user.write_text("int user_fn(void) { return 1; }\n")
    first = cached_objects(_cmd(), [SRC, user])
    assert first[1] == user  # not a runtime file: compiled by the caller every time
    obj = first[0]
    assert obj.is_relative_to(tmp_path / "cache" / "obj") and obj.suffix == ".o"
    stamp = obj.stat().st_mtime_ns
    assert cached_objects(_cmd(), [SRC])[0] == obj and obj.stat().st_mtime_ns == stamp  # reused, not rebuilt
    # a flag that changes code, or a define the preprocessor sees, is another key; an unused -I is the same one
    assert cached_objects(_cmd("-O1"), [SRC])[0] != obj
    assert cached_objects(_cmd("-Dmemcpy=__builtin_memcpy"), [SRC])[0] != obj
    assert cached_objects(_cmd(f"-I{tmp_path}"), [SRC])[0] == obj


def test_an_edited_header_is_a_new_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROAOT_CACHE_DIR", str(tmp_path / "cache"))
    inc = tmp_path / "include"
    shutil.copytree(crt_root() / "include", inc)
    cmd = ["gcc", *BASE_CFLAGS, "-fPIC", f"-I{inc}"]
    before = cached_objects(cmd, [SRC])[0]
    status = inc / "microaot" / "status.h"
    status.write_text(status.read_text() + "\ntypedef int uaot_test_edit_t;\n")
    assert cached_objects(cmd, [SRC])[0] != before


def test_cache_off_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROAOT_CACHE_DIR", "off")
    assert cached_objects(_cmd(), [SRC]) == [SRC]
    monkeypatch.setenv("MICROAOT_CACHE_DIR", str(tmp_path / "cache"))
    # no such compiler: the sources come back, and compile_c's own call names the missing compiler
    assert cached_objects(["no-such-cc", *_cmd()[1:]], [SRC]) == [SRC]
    with pytest.raises(BuildError, match=r"C compiler 'no-such-cc' not found"):
        compile_c([SRC], tmp_path / "x.so", cc="no-such-cc")
    monkeypatch.setenv("MICROAOT_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(BuildError, match=r"gcc failed compiling .*pad\.c"):
        cached_objects(_cmd("-Duaot_pad_s8=int"), [SRC])
    # a shared library linked from cached objects runs like one compiled from the sources
    lib = compile_c([SRC], tmp_path / "libpad.so")
    assert lib.exists()
    assert not list((tmp_path / "cache").rglob("*.tmp*"))


def test_launcher_copies_cached_objects_and_passes_other_commands(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROAOT_CACHE_DIR", str(tmp_path / "cache"))
    flags = [*BASE_CFLAGS, "-fPIC", f"-I{crt_root() / 'include'}"]
    out = tmp_path / "pad.o"
    assert launch(["gcc", "-o", str(out), "-c", *flags, str(SRC)]) == 0
    assert out.read_bytes() == cached_objects(["gcc", *flags], [SRC])[0].read_bytes()
    # a file outside the roots (here: another root given) is compiled by the compiler itself
    other = tmp_path / "pad_other.o"
    assert launch(["--root", str(tmp_path), "gcc", "-o", str(other), "-c", *flags, str(SRC)]) == 0
    assert other.exists() and len(list((tmp_path / "cache").rglob("*.o"))) == 1
    assert launch(["gcc", "-o", str(tmp_path / "x.o"), "-c", *flags, "-Duaot_pad_s8=int", str(SRC)]) == 1
    assert launch([]) == 2
