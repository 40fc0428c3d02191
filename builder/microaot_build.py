"""library.json extraScript: the model code-generation step of ``pio run``.

PlatformIO runs this inside the microaot library's build environment. The work is done by
``microaot.pio.build.configure`` (options are documented there); this file only puts the library's
own Python package first on sys.path so the build uses the generator that ships with this copy of
the library.
"""

import os
import sys

from SCons.Script import DefaultEnvironment, Import  # type: ignore[import-not-found]

Import("env", "pio_lib_builder")
_lib_env = globals()["env"]
_lib_root = globals()["pio_lib_builder"].path

_pkg_parent = os.path.join(_lib_root, "library")
if _pkg_parent not in sys.path:
    sys.path.insert(0, _pkg_parent)

try:
    from microaot.pio.build import configure
except ImportError as exc:  # numpy/tflite missing in PlatformIO's Python
    sys.stderr.write(
        "\nmicroaot: error: cannot import the microaot Python package in PlatformIO's Python ({}): {}\n"
        "Install it there: {} -m pip install -r {}\n\n".format(
            sys.executable, exc, sys.executable, os.path.join(_lib_root, "requirements.txt")
        )
    )
    DefaultEnvironment().Exit(1)

configure(_lib_env, DefaultEnvironment(), _lib_root)
