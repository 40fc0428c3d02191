"""The host C compiler: ``compile_c`` is the one place that runs it (warnings are errors).

Below everything that builds C on the host: the model runners (``microaot.hostbuild``), the host RPC
board (``microaot.rpc.hostboard``), the tests and benchmarks.

The runtime's own C files (everything under ``crt/``: kernels, runtime, ports) are the same in every build, and
some take long to compile (the inline-assembly kernels: tens of seconds at -O2). ``cached_objects`` compiles each
of them once per compiler, flags and preprocessed text into a content-addressed object cache
(``$MICROAOT_CACHE_DIR/obj``, default ``~/.cache/microaot/obj``; ``MICROAOT_CACHE_DIR=off`` disables it); the
generated model sources are always compiled. The object code is the one a single compiler call would give (each
C file is its own translation unit either way).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from microaot.errors import BuildError
from microaot.paths import crt_root

BASE_CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror")


def compile_c(
    sources: Iterable[str | Path],
    out_path: str | Path,
    *,
    include_dirs: Iterable[str | Path] = (),
    defines: Mapping[str, str | int | None] | None = None,
    kind: Literal["shared", "exe", "object"] = "shared",
    extra_cflags: Sequence[str] = (),
    cc: str = "gcc",
) -> Path:
    """Compile C sources into a shared library, an executable or one object file.

    ``crt/include`` is always on the include path. Raises BuildError with the compiler's stderr.
    """
    srcs = [Path(s) for s in sources]
    if not srcs:
        raise BuildError("compile_c: no sources given")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd: list[str] = [cc, *BASE_CFLAGS]
    if kind == "shared":
        cmd += ["-shared", "-fPIC"]
    elif kind == "object":
        if len(srcs) != 1:
            raise BuildError("compile_c: kind='object' takes exactly one source")
        cmd.append("-c")
    elif kind != "exe":
        raise BuildError(f"compile_c: unknown kind {kind!r} (shared, exe, object)")
    for d in [*include_dirs, crt_root() / "include"]:
        cmd.append(f"-I{d}")
    for k, v in (defines or {}).items():
        cmd.append(f"-D{k}" if v is None else f"-D{k}={v}")
    cmd += list(extra_cflags)
    if kind != "object":
        srcs = cached_objects(cmd, srcs, error=BuildError)
    cmd += [str(s) for s in srcs]
    cmd += ["-o", str(out)]
    if kind != "object":
        cmd.append("-lm")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError as e:
        raise BuildError(f"C compiler {cc!r} not found: {e}") from None
    if proc.returncode != 0:
        raise BuildError(
            f"{cc} failed (exit {proc.returncode}) building {out.name}:\n{' '.join(cmd)}\n{proc.stderr.strip()}"
        )
    return out


def cache_dir() -> Path | None:
    """The object cache's directory, None when ``MICROAOT_CACHE_DIR=off``."""
    env = os.environ.get("MICROAOT_CACHE_DIR", "")
    if env.lower() in ("off", "0", "none"):
        return None
    if env:
        return Path(env) / "obj"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "microaot" / "obj"


@functools.cache
def _compiler_id(cc: str) -> str:
    """The compiler's resolved path, size, mtime and version: part of every cache key."""
    exe = shutil.which(cc) or cc
    try:
        st = os.stat(exe)
        ver = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return cc
    return f"{exe}:{st.st_size}:{st.st_mtime_ns}:{ver}"


def cached_objects(cmd: Sequence[str], sources: Sequence[Path], *, error: type[Exception] = BuildError,
                   roots: Sequence[Path] | None = None) -> list[Path]:
    """``sources`` with each C file under ``roots`` (default: the runtime, ``crt/``) replaced by its cached object,
    compiled with ``cmd`` (compiler then flags, no sources or output) plus ``-c`` when missing. The key is the
    compiler, the flags that are not preprocessor options, and the preprocessed text (so every header and ``-D``
    counts). Other sources (the generated model, user files) are returned as they are. Failures raise ``error``."""
    root = cache_dir()
    if root is None or shutil.which(cmd[0]) is None:  # no compiler: the caller's own call reports it
        return list(sources)
    dirs = [p.resolve() for p in (roots if roots is not None else [crt_root()])]
    cc, flags = cmd[0], list(cmd[1:])
    cflags = [f for f in flags if f not in ("-shared",) and not f.startswith("-Wl,") and f != "-lm"]
    codegen = [f for f in cflags if not f.startswith(("-I", "-D"))]
    out: list[Path] = []
    for src in sources:
        if src.suffix != ".c" or not any(src.resolve().is_relative_to(d) for d in dirs):
            out.append(src)
            continue
        pre = subprocess.run([cc, *cflags, "-E", "-P", str(src)], capture_output=True, check=False)
        if pre.returncode != 0:
            raise error(f"{cc} failed preprocessing {src}:\n{pre.stderr.decode(errors='replace').strip()}")
        h = hashlib.sha256()
        for part in (_compiler_id(cc), "\0".join(codegen), src.name):
            h.update(part.encode())
            h.update(b"\0")
        h.update(pre.stdout)
        obj = root / h.hexdigest()[:2] / f"{h.hexdigest()}.o"
        if not obj.exists():
            obj.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".o", dir=obj.parent)
            os.close(fd)
            proc = subprocess.run([cc, *cflags, "-c", str(src), "-o", tmp], capture_output=True, text=True,
                                  check=False)
            if proc.returncode != 0:
                os.unlink(tmp)
                raise error(f"{cc} failed compiling {src}:\n{' '.join([cc, *cflags, '-c', str(src)])}\n"
                            f"{proc.stderr.strip()}")
            os.replace(tmp, obj)  # atomic: concurrent builds of the same key agree
        out.append(obj)
    return out


def launch(argv: Sequence[str]) -> int:
    """A compiler launcher (like ccache) over :func:`cached_objects`: ``python -m microaot.toolchain [--root DIR]...
    CC ARGS...``. A ``-c`` compile of one C file under a root (default crt/) with ``-o OUT`` copies the cached
    object to OUT; every other command runs CC as it is. PlatformIO builds compile the runtime through it
    (``microaot.pio.build``). Note: objects are shared between directories, so a ``-g`` object's DWARF names the
    directory of the build that first compiled it (the code is the same)."""
    args = list(argv)
    roots: list[Path] = []
    while len(args) >= 2 and args[0] == "--root":
        roots.append(Path(args[1]))
        args = args[2:]
    if not args:
        sys.stderr.write("usage: python -m microaot.toolchain [--root DIR]... CC ARGS...\n")
        return 2
    cc, rest = args[0], args[1:]
    if "-c" in rest and rest.count("-o") == 1 and rest.index("-o") + 1 < len(rest):
        i = rest.index("-o")
        out, flags = rest[i + 1], rest[:i] + rest[i + 2:]
        srcs = [a for a in flags if a.endswith(".c") and not a.startswith("-")]
        if len(srcs) == 1:
            flags = [a for a in flags if a not in ("-c", srcs[0])]
            try:
                obj = cached_objects([cc, *flags], [Path(srcs[0])], roots=roots or None)[0]
            except BuildError as e:
                sys.stderr.write(f"{e}\n")
                return 1
            if obj != Path(srcs[0]):
                shutil.copyfile(obj, out)
                return 0
    try:
        return subprocess.call([cc, *rest])
    except FileNotFoundError:
        sys.stderr.write(f"microaot.toolchain: C compiler {cc!r} not found\n")
        return 127


if __name__ == "__main__":
    sys.exit(launch(sys.argv[1:]))
