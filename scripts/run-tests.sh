#!/usr/bin/env bash
# The whole test suite (unit, bit-exactness vs TFLM, RPC, PlatformIO + QEMU, fuzzing), after set-up.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
export PLATFORMIO_CORE_DIR="$ROOT/.pio-core"
.venv/bin/ruff check library tests builder platform bench
.venv/bin/lint-imports --no-cache  # the layering contracts in pyproject.toml [tool.importlinter]
.venv/bin/mypy                     # strict on the modules listed in pyproject.toml [tool.mypy]
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
