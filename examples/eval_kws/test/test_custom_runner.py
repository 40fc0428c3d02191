"""pio test: evaluate the model over RPC against TFLM (microaot.pio.testing.MicroaotTestRunner)."""

import os
import sys

try:
    from microaot.pio.testing import MicroaotTestRunner
except ImportError:  # microaot not pip-installed in PlatformIO's Python: use the copy in lib_deps
    _here = os.path.dirname(os.path.abspath(__file__))
    _libdeps = os.path.join(_here, "..", ".pio", "libdeps")
    for _env in sorted(os.listdir(_libdeps)) if os.path.isdir(_libdeps) else []:
        sys.path.insert(0, os.path.join(_libdeps, _env, "microaot", "library"))
    from microaot.pio.testing import MicroaotTestRunner


class CustomTestRunner(MicroaotTestRunner):
    pass
