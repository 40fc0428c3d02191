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
# CI runs everything but the tests marked `slow` (long sweeps, each > ~30 s: the model zoo on three boards,
# KWS tuned on a cluster, the stm32cube/arduino/pip PlatformIO builds, UBSan builds, every schedule of every
# test_schedules case on QEMU (CI: a sample per kernel family), the M55 runs of KWS/VWW/IC, AD tuned on a
# cluster vs locally, the callgrind bench smoke, the -O2/-O3 inline-asm builds, the kernel fuzz sweeps
# (MICROAOT_FUZZ_N sized), ...), to stay
# within 25 minutes on 2 cores; MICROAOT_TEST_SLOW=1 runs them too. Arguments go to pytest.
marks=(-m "not slow")
[ "${MICROAOT_TEST_SLOW:-0}" = "1" ] && marks=()
exec .venv/bin/python -m pytest -q -p no:cacheprovider --durations=20 "${marks[@]}" "$@"
