"""library.json extraScript: the model code-generation step of ``pio run``.

PlatformIO runs this inside the microaot library's build environment. The work is done by
``microaot.pio.build.configure`` (options are documented there); this file only puts the library's
own Python package first on sys.path so the build uses the generator that ships with this copy of
the library, and, when the generator's few dependencies (numpy, tflite, flatbuffers) are missing
from PlatformIO's Python (a user's own ``pip install platformio``), installs exactly those there with
the versions pinned in requirements.txt, as PlatformIO's nanopb generator does. If that fails it
prints the one command that would.
"""

import importlib
import importlib.util
import os
import re
import subprocess
import sys

from SCons.Script import DefaultEnvironment, Import  # type: ignore[import-not-found]

Import("env", "pio_lib_builder")
_lib_env = globals()["env"]
_lib_root = globals()["pio_lib_builder"].path

# import name -> pip name of what the code generator needs beyond PlatformIO's own dependencies
GENERATOR_DEPS = {"numpy": "numpy", "tflite": "tflite", "flatbuffers": "flatbuffers"}

_pkg_parent = os.path.join(_lib_root, "library")
if _pkg_parent not in sys.path:
    sys.path.insert(0, _pkg_parent)


def _pinned(names):
    """name==version from the library's requirements.txt (bare names when it has no pin)."""
    pins = {}
    try:
        with open(os.path.join(_lib_root, "requirements.txt"), encoding="utf8") as f:
            for line in f:
                m = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)", line)
                if m:
                    pins[m.group(1).lower()] = m.group(0).strip()
    except OSError:
        pass
    return [pins.get(n.lower(), n) for n in names]


def _ensure_generator_deps():
    missing = [pip for mod, pip in GENERATOR_DEPS.items() if importlib.util.find_spec(mod) is None]
    if not missing:
        return True
    python = sys.executable
    reqs = _pinned(missing)
    cmd = [python, "-m", "pip", "install", *reqs]
    print("microaot: installing the code generator's dependencies into PlatformIO's Python: " + " ".join(reqs))
    try:
        ok = subprocess.run(cmd, check=False).returncode == 0
    except OSError:
        ok = False
    importlib.invalidate_caches()
    if ok and all(importlib.util.find_spec(mod) is not None for mod in GENERATOR_DEPS):
        return True
    sys.stderr.write(
        "\nmicroaot: error: could not install {} into PlatformIO's Python ({}). Run this command, then "
        "`pio run` again:\n  {}\n\n".format(", ".join(missing), python, " ".join(cmd))
    )
    return False


if not _ensure_generator_deps():
    DefaultEnvironment().Exit(1)

try:
    from microaot.pio.build import configure
except ImportError as exc:  # a dependency we did not expect to be missing
    sys.stderr.write(
        "\nmicroaot: error: cannot import the microaot Python package in PlatformIO's Python ({}): {}\n"
        "Install it there: {} -m pip install -r {}\n\n".format(
            sys.executable, exc, sys.executable, os.path.join(_lib_root, "requirements.txt")
        )
    )
    DefaultEnvironment().Exit(1)

configure(_lib_env, DefaultEnvironment(), _lib_root)
