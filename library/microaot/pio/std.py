"""Install PlatformIO's standard dev-platforms and frameworks into a core dir, offline.

PlatformIO users get ``platform = ststm32`` / ``framework = arduino`` from PlatformIO's registry.
Where that registry is unreachable (CI, this project's machines), an offline copy of the real
packages (``platforms/<name>`` and ``packages/<name>`` folders, each with its ``package.json`` and
``.piopm``, see ``../shared/platformio/README.md``) is linked into ``$PLATFORMIO_CORE_DIR`` the way
PlatformIO would have unpacked it, and the packages Debian provides are written as stand-ins:

- ``toolchain-gccarmnoneeabi``: a folder whose ``bin/`` links to Debian's ``arm-none-eabi-*``, once
  per version a platform asks for (ststm32 ``<1.80000``, its Arduino core ``~1.120301``,
  raspberrypi ``~1.90201``);
- uploader tools (``tool-rp2040tools``, ...): empty packages (only ``-t upload`` would use them).

Idempotent. Usage: ``python -m microaot.pio.std [SHARED_PLATFORMIO_DIR]`` (honours
``PLATFORMIO_CORE_DIR``; the default source is ``$MICROAOT_PIO_STD`` or ``<repo>/../shared/platformio``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from microaot.errors import BuildError
from microaot.paths import repo_root
from microaot.pio.setup import core_dir, ensure_tool_scons

# versions of the toolchain stand-in: one per requirement of the offline platforms
TOOLCHAIN_VERSIONS = ("1.70201.0", "1.90201.0", "1.120301.0")
EMPTY_TOOLS = {"tool-rp2040tools": "1.0.2"}


def default_source() -> Path:
    env = os.environ.get("MICROAOT_PIO_STD")
    if env:
        return Path(env)
    return repo_root().parent / "shared" / "platformio"


def _pkg_name_version(folder: Path) -> tuple[str, str]:
    meta = json.loads((folder / "package.json").read_text(encoding="utf8"))
    return str(meta["name"]), str(meta["version"])


def _link(dst: Path, src: Path) -> None:
    if dst.is_symlink():
        if Path(os.readlink(dst)) == src:
            return
        dst.unlink()
    elif dst.exists():
        return  # a real install (for example from the registry): leave it alone
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(src, target_is_directory=True)


def _write_json(path: Path, data: dict[str, object]) -> None:
    text = json.dumps(data, indent=2) + "\n"
    if not path.is_file() or path.read_text(encoding="utf8") != text:
        path.write_text(text, encoding="utf8")


def _stand_in(folder: Path, name: str, version: str, kind: str, description: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(
        folder / "package.json",
        {"name": name, "version": version, "description": description, "system": "*"},
    )
    _write_json(
        folder / ".piopm",
        {
            "type": kind,
            "name": name,
            "version": version,
            "spec": {"owner": "platformio", "id": None, "name": name, "requirements": None, "uri": None},
        },
    )


def ensure_toolchain(core: Path) -> list[Path]:
    """toolchain-gccarmnoneeabi stand-ins whose bin/ links to the system's arm-none-eabi-* tools."""
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        raise BuildError(
            "arm-none-eabi-gcc is not on PATH; install Debian's gcc-arm-none-eabi libnewlib-arm-none-eabi "
            "libstdc++-arm-none-eabi-newlib (scripts/bootstrap.sh does) before building ARM projects"
        )
    bindir = Path(gcc).resolve().parent
    tools = sorted(p for p in bindir.glob("arm-none-eabi-*") if p.is_file())
    out = []
    for i, version in enumerate(TOOLCHAIN_VERSIONS):
        name = "toolchain-gccarmnoneeabi"
        folder = core / "packages" / (name if i == 0 else f"{name}@{version}")
        _stand_in(folder, name, version, "toolchain", f"system arm-none-eabi-gcc ({bindir}) linked by microaot")
        (folder / "bin").mkdir(exist_ok=True)
        for tool in tools:
            link = folder / "bin" / tool.name
            if not link.is_symlink():
                link.symlink_to(tool)
        out.append(folder)
    return out


def install(source: Path | None = None, core: Path | None = None) -> Path:
    """Link the offline platforms/packages of ``source`` into ``core``; returns the core dir."""
    source = source or default_source()
    core = core or core_dir()
    if not (source / "platforms").is_dir():
        raise BuildError(
            f"{source} holds no platforms/ folder: point MICROAOT_PIO_STD at the offline copy of "
            "PlatformIO's standard platforms (see its README)"
        )
    ensure_tool_scons(core)
    for plat in sorted((source / "platforms").iterdir()):
        if (plat / "platform.json").is_file():
            _link(core / "platforms" / plat.name, plat.resolve())
    for pkg in sorted((source / "packages").iterdir()):
        if not (pkg / "package.json").is_file():
            continue
        _link(core / "packages" / pkg.name, pkg.resolve())
    ensure_toolchain(core)
    for name, version in EMPTY_TOOLS.items():
        _stand_in(core / "packages" / name, name, version, "tool", "empty stand-in (upload only) by microaot")
    return core


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    core = install(Path(args[0]) if args else None)
    print(f"standard PlatformIO platforms installed in {core}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
