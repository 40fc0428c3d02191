#!/usr/bin/env bash
# Idempotent set-up of everything microaot needs on a fresh Debian/Ubuntu machine:
#   - apt toolchains (gcc, arm-none-eabi-gcc + newlib + libstdc++ (Arduino cores), qemu-system-arm, clang for the fuzzer) when missing
#   - a virtualenv in .venv with the pinned Python dependencies and microaot itself (editable)
# Safe to run many times: each step is skipped when already done.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

need_apt=()
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
command -v arm-none-eabi-gcc >/dev/null 2>&1 || need_apt+=(gcc-arm-none-eabi)
[ -e /usr/lib/arm-none-eabi/newlib/libc.a ] || [ -e /usr/lib/arm-none-eabi/lib/libc.a ] || need_apt+=(libnewlib-arm-none-eabi)
[ -d /usr/include/newlib/c++ ] || need_apt+=(libstdc++-arm-none-eabi-newlib)  # bench/tflm_m4.py: TFLM headers include <cmath>
command -v qemu-system-arm >/dev/null 2>&1 || need_apt+=(qemu-system-arm)
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
command -v clang-format >/dev/null 2>&1 || need_apt+=(clang-format)  # tests/test_c_format.py
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || need_apt+=(libclang-rt-14-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[bootstrap] installing system packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "[bootstrap] creating .venv"
  "$PY" -m venv .venv
fi
stamp=".venv/.microaot-deps"
want="$(cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[bootstrap] installing pinned Python dependencies"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
# PlatformIO's core dir lives inside the checkout so nothing leaks into ~/.platformio;
# microaot provisions tool-scons there itself (no registry access needed).
export PLATFORMIO_CORE_DIR="$ROOT/.pio-core"
if [ -f library/microaot/pio/setup.py ]; then .venv/bin/python -m microaot.pio.setup >/dev/null; fi
