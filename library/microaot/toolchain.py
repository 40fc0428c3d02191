"""The host C compiler: ``compile_c`` is the one place that runs it (warnings are errors).

Below everything that builds C on the host: the model runners (``microaot.hostbuild``), the host RPC
board (``microaot.rpc.hostboard``), the tests and benchmarks.
"""

from __future__ import annotations

import subprocess
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
