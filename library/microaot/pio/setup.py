"""Provision PlatformIO's ``tool-scons`` core package offline, from pip's ``scons``.

PlatformIO runs every build as ``python <core_dir>/packages/tool-scons/scons.py ...`` and, when that
package is missing, downloads it from its registry. The registry is not reachable from the machines
microaot targets, so this module writes the package itself: a ``package.json``, a ``.piopm`` whose
spec satisfies ``platformio.dependencies.get_core_dependencies()["tool-scons"]`` and a ``scons.py``
that hands over to the ``SCons`` package installed by pip (pinned in requirements.txt).

Idempotent: running it again rewrites nothing when the files are already right.
Usage: ``python -m microaot.pio.setup`` (honours ``PLATFORMIO_CORE_DIR``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from microaot.errors import BuildError
from microaot.paths import repo_root

# "~4.40801.0" in PlatformIO 6.1.x: our package claims the smallest version that satisfies it.
_FALLBACK_REQUIREMENT = "~4.40801.0"

SCONS_PY = '''\
"""tool-scons provided by microaot: runs pip's SCons (see microaot/pio/setup.py)."""
import sys

from SCons.Script.Main import main

if __name__ == "__main__":
    sys.exit(main())
'''


def core_dir() -> Path:
    """PlatformIO's core dir: $PLATFORMIO_CORE_DIR, else <repo>/.pio-core (what the scripts export)."""
    env = os.environ.get("PLATFORMIO_CORE_DIR")
    return Path(env) if env else repo_root() / ".pio-core"


def _required_version() -> str:
    """A concrete version string satisfying PlatformIO's requirement for tool-scons."""
    try:
        from platformio.dependencies import get_core_dependencies

        req = str(get_core_dependencies()["tool-scons"])
    except Exception:  # platformio missing or changed: use the known pin
        req = _FALLBACK_REQUIREMENT
    ver = req.lstrip("~^=<> ")
    parts = (ver.split(".") + ["0", "0"])[:3]
    return ".".join(parts)


def _scons_version() -> str:
    try:
        import SCons

        return str(getattr(SCons, "__version__", "unknown"))
    except ImportError as exc:
        raise BuildError(
            "pip package 'scons' is not installed in this Python; run scripts/bootstrap.sh "
            "(it installs requirements.txt) before building with PlatformIO"
        ) from exc


def _write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text(encoding="utf8") == text:
        return False
    path.write_text(text, encoding="utf8")
    return True


def ensure_cache_outside_checkout(core: Path) -> None:
    """When the core dir sits inside this checkout, make its ``.cache`` (PlatformIO's download and
    ``tmp`` folders) a symlink to a folder outside it. ``lib_deps = file://<checkout>`` copies the
    checkout into ``<core>/.cache/tmp/...`` with symlinks kept as links: with a real ``.cache`` inside
    the checkout that copy would contain itself and recurse until the path is too long."""
    import hashlib
    import shutil
    import tempfile

    try:
        core.resolve().relative_to(repo_root().resolve())
    except ValueError:
        return  # outside the checkout: nothing can recurse
    cache = core / ".cache"
    if cache.is_symlink():
        return
    key = hashlib.sha256(str(core.resolve()).encode()).hexdigest()[:12]
    outside = Path(tempfile.gettempdir()) / f"microaot-pio-cache-{key}"
    outside.mkdir(parents=True, exist_ok=True)
    if cache.is_dir():
        shutil.rmtree(cache)  # only downloads and temporary files: PlatformIO recreates them
    core.mkdir(parents=True, exist_ok=True)
    cache.symlink_to(outside, target_is_directory=True)


def ensure_tool_scons(core: Path | None = None) -> Path:
    """Create or refresh <core>/packages/tool-scons; returns its folder."""
    core = core or core_dir()
    ensure_cache_outside_checkout(core)
    scons_ver = _scons_version()
    version = _required_version()
    pkg = core / "packages" / "tool-scons"
    pkg.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": "tool-scons",
        "version": version,
        "description": f"SCons from pip (scons=={scons_ver}) provided offline by microaot",
        "keywords": ["build", "tool"],
        "homepage": "https://scons.org",
        "license": "MIT",
        "system": "*",
    }
    piopm = {
        "type": "tool",
        "name": "tool-scons",
        "version": version,
        "spec": {"owner": "platformio", "id": None, "name": "tool-scons", "requirements": None, "uri": None},
    }
    _write_if_changed(pkg / "package.json", json.dumps(manifest, indent=2) + "\n")
    _write_if_changed(pkg / ".piopm", json.dumps(piopm) + "\n")
    _write_if_changed(pkg / "scons.py", SCONS_PY)
    # keep PlatformIO's "remove unnecessary core packages" from deleting it
    _write_if_changed(pkg / ".piokeep", "")
    return pkg


def check_platformio_sees_it(core: Path | None = None) -> bool:
    """True when PlatformIO resolves tool-scons without installing anything."""
    core = core or core_dir()
    os.environ["PLATFORMIO_CORE_DIR"] = str(core)
    try:
        from platformio.package.manager.core import get_core_package_dir

        path = get_core_package_dir("tool-scons", auto_install=False)
    except Exception:
        return False
    return path is not None and Path(path).resolve() == (core / "packages" / "tool-scons").resolve()


def main(argv: list[str] | None = None) -> int:
    core = core_dir()
    pkg = ensure_tool_scons(core)
    ok = check_platformio_sees_it(core)
    print(f"tool-scons: {pkg} ({'ok' if ok else 'NOT resolved by PlatformIO'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
