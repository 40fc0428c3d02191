"""The host "board": a compiled model + the RPC server as a native program on stdin/stdout.

    exe = build_host_board(result, build_dir)         # gcc via toolchain.compile_c
    with start_host_board(result, build_dir) as s:    # a Session, hello() already done
        ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from microaot.paths import crt_root
from microaot.rpc.glue import write_rpc_glue
from microaot.rpc.session import Session
from microaot.rpc.transport import SubprocessTransport
from microaot.toolchain import compile_c

# Resolve every dynamic symbol at start-up: lazy PLT binding would run the dynamic linker (which
# saves the whole vector register state, ~3 KB on AVX-512 machines) on the server's stack the first
# time read()/write() are called, and the stack high-water mark would measure ld.so, not microaot.
HOST_LDFLAGS = ("-Wl,-z,now",)

# the runtime files the RPC firmware needs (crt/src), in addition to the model and its kernels
RPC_RUNTIME_SOURCES = ("rpc_server.c", "framing.c", "crc16.c", "platform_defaults.c")


def runtime_sources() -> list[Path]:
    """crt/src files of the RPC firmware plus any other crt/src runtime file (allocator, ...)."""
    src = crt_root() / "src"
    files = [src / f for f in RPC_RUNTIME_SOURCES]
    files += sorted(p for p in src.glob("*.c") if p.name not in RPC_RUNTIME_SOURCES)
    return files


def host_port_sources() -> list[Path]:
    return sorted((crt_root() / "ports" / "host").glob("*.c"))


def build_host_board(result: Any, build_dir: str | Path, *, defines: Mapping[str, str | int | None] | None = None,
                     extra_cflags: Sequence[str] = (), cc: str = "gcc") -> Path:
    """Build build_dir/<name>_hostboard (generated C + glue + crt runtime + host port + kernels)."""
    build_dir = Path(build_dir)
    glue = write_rpc_glue(result, build_dir)
    srcs = [*result.sources, *result.kernel_sources, glue, *runtime_sources(), *host_port_sources()]
    # de-duplicate while keeping order (kernel lists may overlap)
    seen: set[str] = set()
    uniq = [s for s in map(Path, srcs) if not (str(s.resolve()) in seen or seen.add(str(s.resolve())))]
    return compile_c(
        uniq,
        build_dir / f"{result.name}_hostboard",
        include_dirs=[Path(result.header).parent, build_dir],
        defines=defines,
        kind="exe",
        extra_cflags=[*HOST_LDFLAGS, *extra_cflags],
        cc=cc,
    )


def start_host_board(result: Any, build_dir: str | Path, *, exe: str | Path | None = None,
                     **session_kw: Any) -> Session:
    """Build (unless exe is given) and start the host board; returns a Session after hello()."""
    path = Path(exe) if exe is not None else build_host_board(result, build_dir)
    session = Session(SubprocessTransport([path]), name=f"host board {path.name}", **session_kw)
    try:
        session.hello()
    except BaseException:
        session.close()
        raise
    return session
