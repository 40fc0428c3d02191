"""Run a compiled model on QEMU mps2-an386 (Cortex-M4F) and count instructions.

A self-contained firmware (no RPC): the generated model + its kernels + the cmsdk port + a generated
``main.c`` that holds the inputs as constant arrays, runs the model once per input set, and prints
the outputs and the instructions per run and per operator on UART0 (QEMU ``-icount shift=3``: the
port's timer counts guest instructions exactly, 5-instruction resolution; the op_begin/op_end hook
calls are excluded from nothing, they add ~30 instructions per operator).

    r = compile_model(model, out, target="cortex-m4", schedules=...)
    run = run_m4(r, [[x0], [x1]], build_dir)        # -> M4Run(outputs, instructions, op_instructions)

Used by the kernel tests (bit-exactness of the DSP paths) and by bench/ (instructions per inference).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microaot.compiler import CompileResult
from microaot.errors import MicroaotError
from microaot.paths import crt_root

ARM_CC = "arm-none-eabi-gcc"
QEMU = "qemu-system-arm"
ICOUNT_SHIFT = 3
M4_FLAGS = ["-mthumb", "-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffunction-sections", "-fdata-sections"]


def available() -> bool:
    return shutil.which(ARM_CC) is not None and shutil.which(QEMU) is not None


@dataclass
class M4Run:
    outputs: list[list[np.ndarray]]  # per input set, per graph output
    instructions: list[int]  # per input set: the whole NAME_run_ex call
    op_instructions: list[int]  # per operator, of the last input set
    text_bytes: int
    elf: Path


def _c_bytes(data: bytes) -> str:
    items = [str(b) for b in data] or ["0"]
    return ",\n".join(", ".join(items[i:i + 24]) for i in range(0, len(items), 24))


def _main_c(result: CompileResult, inputs: Sequence[Sequence[np.ndarray]]) -> str:
    n = result.name
    g = result.graph
    lines = [f'#include "{n}.h"', "#include <stdint.h>", "#include <stddef.h>", '#include "microaot/platform.h"', "",
             f"static uint8_t ws[{n}_WORKSPACE_SIZE] __attribute__((aligned(16)));"]
    for s, xs in enumerate(inputs):
        for k, x in enumerate(xs):
            t = g.tensors[g.inputs[k]]
            b = np.ascontiguousarray(np.asarray(x).astype(t.dtype if t.dtype != "float32" else np.float32)).tobytes()
            lines.append(f"static const uint8_t in_{s}_{k}[{max(len(b), 1)}] __attribute__((aligned(16))) = {{\n"
                         f"{_c_bytes(b)}\n}};")
    for k, t in enumerate(g.outputs):
        lines.append(f"static uint8_t out_{k}[{max(g.tensors[t].nbytes, 1)}] __attribute__((aligned(16)));")
    lines.append(f"static const void *const inputs[{len(inputs)}][{max(len(g.inputs), 1)}] = {{")
    for s in range(len(inputs)):
        lines.append("    {" + ", ".join(f"in_{s}_{k}" for k in range(len(g.inputs))) + "},")
    lines.append("};")
    lines.append(f"static void *const outputs[{max(len(g.outputs), 1)}] = {{"
                 + ", ".join(f"out_{k}" for k in range(len(g.outputs))) + "};")
    lines.append(f"static const uint32_t out_bytes[{max(len(g.outputs), 1)}] = {{"
                 + ", ".join(str(g.tensors[t].nbytes) for t in g.outputs) + "};")
    lines += [
        f"static uint64_t op_t[{max(len(g.operators), 1)}];",
        "static uint64_t op_t0;",
        "static void on_begin(void *ctx, uint16_t i) { (void)ctx; (void)i; op_t0 = uaot_platform_timer_read(); }",
        "static void on_end(void *ctx, uint16_t i) { (void)ctx; op_t[i] += uaot_platform_timer_read() - op_t0; }",
        "static void put(const char *s) { size_t n = 0; while (s[n]) { n++; } "
        "uaot_platform_write((const uint8_t *)s, n); }",
        "static void put_u64(uint64_t v) { char b[24]; int i = 23; b[i] = 0; "
        "do { b[--i] = (char)('0' + (int)(v % 10u)); v /= 10u; } while (v); put(&b[i]); }",
        "static void put_hex(const uint8_t *p, uint32_t n) { static const char h[] = \"0123456789abcdef\"; "
        "char b[2]; for (uint32_t i = 0; i < n; i++) { b[0] = h[p[i] >> 4]; b[1] = h[p[i] & 15]; "
        "uaot_platform_write((const uint8_t *)b, 2); } }",
        "int main(void)", "{",
        "    uaot_hooks_t hooks = {0};",
        "    hooks.op_begin = on_begin;",
        "    hooks.op_end = on_end;",
        f"    for (uint32_t s = 0; s < {len(inputs)}u; s++) {{",
        f"        for (uint32_t i = 0; i < {max(len(g.operators), 1)}u; i++) {{ op_t[i] = 0; }}",
        "        uint64_t t0 = uaot_platform_timer_read();",
        f"        uaot_status_t st = {n}_run_ex(inputs[s], outputs, ws, &hooks);",
        "        uint64_t t1 = uaot_platform_timer_read();",
        "        if (st != UAOT_OK) { put(\"status \"); put_u64((uint64_t)st); put(\"\\n\"); return 3; }",
        "        put(\"insn \"); put_u64(t1 - t0); put(\"\\n\");",
        f"        for (uint32_t k = 0; k < {len(g.outputs)}u; k++) {{ put(\"out \"); "
        "put_hex((const uint8_t *)outputs[k], out_bytes[k]); put(\"\\n\"); }",
        "    }",
        f"    for (uint32_t i = 0; i < {len(g.operators)}u; i++) {{ put(\"op \"); put_u64(op_t[i]); put(\"\\n\"); }}",
        "    put(\"done\\n\");",
        "    return 0;",
        "}", ""]
    return "\n".join(lines)


def build_m4(result: CompileResult, inputs: Sequence[Sequence[np.ndarray]], build_dir: str | Path,
             *, extra_cflags: Sequence[str] = ()) -> Path:
    """Build the firmware ELF; returns its path."""
    bd = Path(build_dir)
    bd.mkdir(parents=True, exist_ok=True)
    main = bd / "m4main.c"
    main.write_text(_main_c(result, inputs))
    crt = crt_root()
    port = crt / "ports" / "cmsdk"
    srcs = [main, *result.sources, *result.kernel_sources, port / "startup.c", port / "platform_cmsdk.c",
            crt / "src" / "platform_defaults.c"]
    elf = bd / f"{result.name}_m4.elf"
    cmd = [ARM_CC, *M4_FLAGS, *CFLAGS, *extra_cflags, f"-DUAOT_ICOUNT_SHIFT={ICOUNT_SHIFT}",
           f"-I{crt / 'include'}", f"-I{result.header.parent}", *map(str, srcs),
           "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", f"-T{port / 'mps2.ld'}",
           "-Wl,--gc-sections", "-o", str(elf), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise MicroaotError(f"{ARM_CC} failed building {elf.name}:\n{' '.join(cmd)}\n{proc.stderr.strip()}")
    return elf


def _text_bytes(elf: Path) -> int:
    size = shutil.which("arm-none-eabi-size")
    if size is None:
        return 0
    out = subprocess.run([size, str(elf)], capture_output=True, text=True, check=False).stdout.splitlines()
    return int(out[1].split()[0]) if len(out) > 1 else 0


def run_elf(result: CompileResult, elf: Path, n_sets: int, *, timeout: float = 120) -> M4Run:
    cmd = ["timeout", str(int(timeout)), QEMU, "-M", "mps2-an386", "-nographic", "-semihosting",
           "-icount", f"shift={ICOUNT_SHIFT}", "-kernel", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10, check=False)
    out = proc.stdout
    if proc.returncode != 0 or "done" not in out:
        raise MicroaotError(f"QEMU run of {elf.name} failed (exit {proc.returncode}):\n{out[-2000:]}\n{proc.stderr[-2000:]}")
    g = result.graph
    insn = [int(v) for v in re.findall(r"^insn (\d+)", out, re.M)]
    hexes = re.findall(r"^out ([0-9a-f]*)", out, re.M)
    ops = [int(v) for v in re.findall(r"^op (\d+)", out, re.M)]
    outs: list[list[np.ndarray]] = []
    no = len(g.outputs)
    for s in range(n_sets):
        row = []
        for k, t in enumerate(g.outputs):
            tt = g.tensors[t]
            dt = np.float32 if tt.dtype == "float32" else np.dtype(tt.dtype)
            row.append(np.frombuffer(bytes.fromhex(hexes[s * no + k]), dtype=dt).reshape(tt.shape))
        outs.append(row)
    return M4Run(outs, insn, ops, _text_bytes(elf), elf)


def run_m4(result: CompileResult, inputs: Sequence[Sequence[np.ndarray]], build_dir: str | Path,
           *, timeout: float = 120) -> M4Run:
    """Build and run on QEMU mps2-an386 under ``timeout`` seconds."""
    elf = build_m4(result, inputs, build_dir)
    return run_elf(result, elf, len(inputs), timeout=timeout)
