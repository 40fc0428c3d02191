#!/usr/bin/env bash
# The main job: evaluate the KWS model on the default board (QEMU Cortex-M4) and print the report.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
export PLATFORMIO_CORE_DIR="$ROOT/.pio-core"
MODEL="${1:-$ROOT/../shared/models/kws_dscnn_int8.tflite}"
BOARD="${2:-qemu_mps2_an386}"
exec "$ROOT/.venv/bin/microaot" eval "$MODEL" --board "$BOARD"
