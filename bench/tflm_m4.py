"""TFLM's reference int8 kernels on the Cortex-M4 (QEMU -icount), layer by layer, for bench.py.

TFLM itself is not in this repository and not installable offline for arm-none-eabi. Given a folder
holding TFLM's reference kernel headers (``--tflm-ref-src DIR`` with
``DIR/tensorflow/lite/kernels/internal/reference/integer_ops/{conv,depthwise_conv,fully_connected}.h``
from a tflite-micro checkout), this builds a firmware that calls
``reference_integer_ops::ConvPerChannel`` / ``DepthwiseConvPerChannel`` / ``FullyConnected`` once per
CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED layer of a model, with that layer's shapes, strides,
padding and pseudo-random data, and counts each call's instructions with the same FPGAIO counter
(``-icount shift=3``). ``bench/tflm_shim/`` supplies what those headers need from the rest of TFLM
(RuntimeShape, params structs, MultiplyByQuantizedMultiplier with TFLM's double rounding; ``nostdcxx/``:
``std::max``/``min`` and ``<cstdint>``, used only when arm-none-eabi-g++ has no libstdc++, e.g. without Debian's
libstdc++-arm-none-eabi-newlib); it is microaot's code, not TFLM's.

What is counted: the MAC layers' kernel calls only. TFLM's interpreter (per-op Eval, tensor lookups),
the other operators (pooling, softmax, add, reshape) and its invoke overhead are not, so the total is
a lower bound of TFLM's count and the ratio microaot wins by is understated.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from microaot.errors import MicroaotError
from microaot.frontend.tflite import load_tflite
from microaot.ops._common import out_size, pad_before
from microaot.paths import crt_root

SHIM = Path(__file__).resolve().parent / "tflm_shim"
M4 = ["-mthumb", "-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
HEADERS = ("conv.h", "depthwise_conv.h", "fully_connected.h")
REL = "tensorflow/lite/kernels/internal/reference/integer_ops"
RELS = (REL, "tflite/kernels/internal/reference/integer_ops")  # older and newer tflite-micro layouts


def kernel_dir(src: Path) -> str | None:
    """The layout of ``src`` holding the three reference headers, or None."""
    return next((r for r in RELS if all((src / r / h).is_file() for h in HEADERS)), None)


def have_libstdcxx() -> bool:
    """Whether arm-none-eabi-g++ has its C++ library headers (Debian: libstdc++-arm-none-eabi-newlib)."""
    p = subprocess.run(
        ["arm-none-eabi-g++", "-x", "c++", "-std=c++17", "-fsyntax-only", "-"],
        input="#include <algorithm>\n#include <cmath>\n",
        capture_output=True,
        text=True,
        check=False,
    )
    return p.returncode == 0


def have_sources(src: Path) -> bool:
    return kernel_dir(src) is not None


def layers(model: Path) -> list[dict[str, Any]]:
    g = load_tflite(model)
    out = []
    for op in g.operators:
        if op.opcode not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        x, w, y = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
        o = op.options
        if op.opcode == "FULLY_CONNECTED":
            n_out, n_in = int(w.shape[0]), int(w.shape[1])
            out.append({"op": op.index, "kind": "fc", "batches": x.num_elements // n_in, "n_in": n_in, "n_out": n_out})
            continue
        n, ih, iw, ic = (int(v) for v in x.shape)
        kh, kw = int(w.shape[1]), int(w.shape[2])
        sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
        dh, dw = int(o.get("dilation_h_factor", 1)), int(o.get("dilation_w_factor", 1))
        padding = str(o.get("padding", "VALID"))
        oh, ow = out_size(padding, ih, kh, sh, dh), out_size(padding, iw, kw, sw, dw)
        oc = int(y.shape[3])
        out.append({"op": op.index, "kind": "dw" if op.opcode == "DEPTHWISE_CONV_2D" else "conv",
                    "in": [n, ih, iw, ic], "filter": [int(v) for v in w.shape], "out": [n, oh, ow, oc],
                    "stride": [sh, sw], "dil": [dh, dw],
                    "pad": [pad_before(ih, kh, sh, dh, oh), pad_before(iw, kw, sw, dw, ow)],
                    "dm": oc // ic if ic else 1})
    return out


def _dims(v: list[int]) -> str:
    return "{" + ", ".join(map(str, v)) + "}"


def harness(ls: list[dict[str, Any]], rel: str = REL) -> str:
    def size(d: dict[str, Any], key: str) -> int:
        if d["kind"] == "fc":
            return {"in": d["batches"] * d["n_in"], "out": d["batches"] * d["n_out"], "w": d["n_in"] * d["n_out"],
                    "c": d["n_out"]}[key]
        import math

        return {"in": math.prod(d["in"]), "out": math.prod(d["out"]), "w": math.prod(d["filter"]),
                "c": d["out"][3]}[key]

    mx = {k: max(size(d, k) for d in ls) for k in ("in", "out", "w", "c")}
    s = [
        *(f'#include "{rel}/{h}"' for h in HEADERS),
        'extern "C" {', '#include "microaot/platform.h"', "}",
        "using namespace tflite;",
        f"static int8_t in_buf[{mx['in']}] __attribute__((aligned(4)));",
        f"static int8_t out_buf[{mx['out']}] __attribute__((aligned(4)));",
        f"static int8_t w_buf[{mx['w']}] __attribute__((aligned(4)));",
        f"static int32_t bias[{mx['c']}], mult[{mx['c']}], shift[{mx['c']}];",
        "static void put(const char *s) { size_t n = 0; while (s[n]) { n++; } uaot_platform_write((const uint8_t *)s, "
        "n); }",
        "static void put_u64(uint64_t v) { char b[24]; int i = 23; b[i] = 0; "
        "do { b[--i] = (char)('0' + (int)(v % 10u)); v /= 10u; } while (v); put(&b[i]); }",
        "static uint32_t rng = 12345u;",
        "static int8_t r8(void) { rng = rng * 1664525u + 1013904223u; return (int8_t)(rng >> 24); }",
        "int main(void) {",
        f"  for (int i = 0; i < {mx['in']}; i++) in_buf[i] = r8();",
        f"  for (int i = 0; i < {mx['w']}; i++) w_buf[i] = r8();",
        f"  for (int i = 0; i < {mx['c']}; i++) {{ bias[i] = r8() * 37; mult[i] = 1200000000 + r8() * 100000; "
        "shift[i] = -7 - (i % 3); }",
        "  uint64_t total = 0;",
    ]
    for d in ls:
        s.append("  {")
        if d["kind"] == "fc":
            s += [f"    const int32_t id[2] = {{{d['batches']}, {d['n_in']}}}, fd[2] = {{{d['n_out']}, {d['n_in']}}}, "
                  f"bd[1] = {{{d['n_out']}}}, od[2] = {{{d['batches']}, {d['n_out']}}};",
                  "    RuntimeShape is(2, id), fs(2, fd), bs(1, bd), os(2, od);",
                  "    FullyConnectedParams p = {};",
                  "    p.input_offset = 7; p.weights_offset = 0; p.output_offset = -5; p.output_multiplier = "
                  "1300000000;",
                  "    p.output_shift = -8; p.quantized_activation_min = -128; p.quantized_activation_max = 127;",
                  "    uint64_t t0 = uaot_platform_timer_read();",
                  "    reference_integer_ops::FullyConnected(p, is, in_buf, fs, w_buf, bs, bias, os, out_buf);"]
        else:
            ptype = "DepthwiseParams" if d["kind"] == "dw" else "ConvParams"
            s += [f"    const int32_t id[4] = {_dims(d['in'])}, fd[4] = {_dims(d['filter'])}, bd[1] = "
                  f"{{{d['out'][3]}}}, "
                  f"od[4] = {_dims(d['out'])};",
                  "    RuntimeShape is(4, id), fs(4, fd), bs(1, bd), os(4, od);",
                  f"    {ptype} p = {{}};",
                  f"    p.padding_values.height = {d['pad'][0]}; p.padding_values.width = {d['pad'][1]};",
                  f"    p.stride_height = {d['stride'][0]}; p.stride_width = {d['stride'][1]};",
                  f"    p.dilation_height_factor = {d['dil'][0]}; p.dilation_width_factor = {d['dil'][1]};",
                  "    p.input_offset = 7; p.output_offset = -5; p.quantized_activation_min = -128; "
                  "p.quantized_activation_max = 127;"]
            if d["kind"] == "dw":
                s.append(f"    p.depth_multiplier = {d['dm']};")
            fn = "DepthwiseConvPerChannel" if d["kind"] == "dw" else "ConvPerChannel"
            s += ["    uint64_t t0 = uaot_platform_timer_read();",
                  f"    reference_integer_ops::{fn}(p, mult, shift, is, in_buf, fs, w_buf, bs, bias, os, out_buf);"]
        s += ["    uint64_t t = uaot_platform_timer_read() - t0; total += t;",
              f'    put("L {d["op"]} "); put_u64(t); put("\\n");', "  }"]
    s += ['  put("total "); put_u64(total); put("\\ndone\\n");', "  return 0;", "}", ""]
    return "\n".join(s)


def measure(model: Path, src: Path, work: Path, *, timeout: float = 600) -> dict[str, Any]:
    """Instructions of TFLM's reference kernels for every MAC layer of ``model`` on QEMU mps2-an386."""
    if not have_sources(src):
        raise MicroaotError(f"{src}: no {' or '.join(RELS)}/{{{','.join(HEADERS)}}} (a tflite-micro checkout)")
    ls = layers(model)
    work.mkdir(parents=True, exist_ok=True)
    cc = work / "tflm_ref_harness.cc"
    cc.write_text(harness(ls, kernel_dir(src) or REL))
    crt = crt_root()
    port = crt / "ports" / "cmsdk"
    objs = []
    # tflm_shim/nostdcxx stands in for <algorithm>/<cstdint> only where the toolchain has no libstdc++: next to
    # the real one (whose <cmath> brings std::min/max) it would redefine them
    inc = [f"-I{SHIM}", *([] if have_libstdcxx() else [f"-I{SHIM / 'nostdcxx'}"]), f"-I{src}", f"-I{crt / 'include'}"]
    jobs = [(["arm-none-eabi-g++", "-std=c++17", "-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics"], cc)]
    jobs += [(["arm-none-eabi-gcc", "-std=c99"], port / f) for f in ("startup.c", "platform_cmsdk.c")]
    jobs += [(["arm-none-eabi-gcc", "-std=c99"], crt / "src" / "platform_defaults.c")]
    for cmd0, f in jobs:
        o = work / (f.stem + ".o")
        cmd = [*cmd0, *M4, "-O2", "-ffunction-sections", "-fdata-sections", "-DUAOT_ICOUNT_SHIFT=3", *inc, "-c", str(f),
               "-o", str(o)]
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if p.returncode != 0:
            raise MicroaotError(f"building the TFLM reference harness failed:\n{' '.join(cmd)}\n{p.stderr[-3000:]}")
        objs.append(str(o))
    elf = work / "tflm_ref.elf"
    cmd = ["arm-none-eabi-gcc", *M4, "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
           f"-T{port / 'mps2.ld'}",
           "-Wl,--gc-sections", *objs, "-o", str(elf), "-lm"]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise MicroaotError(f"linking the TFLM reference harness failed:\n{p.stderr[-3000:]}")
    run = ["timeout", str(int(timeout)), "qemu-system-arm", "-M", "mps2-an386", "-nographic", "-semihosting",
           "-icount", "shift=3", "-kernel", str(elf)]
    p = subprocess.run(run, capture_output=True, text=True, timeout=timeout + 10, check=False)
    if "done" not in p.stdout:
        raise MicroaotError(f"QEMU run of the TFLM reference harness failed ({p.returncode}):\n{p.stdout[-1500:]}")
    per = {int(a): int(b) for a, b in re.findall(r"^L (\d+) (\d+)", p.stdout, re.M)}
    total = int(re.search(r"^total (\d+)", p.stdout, re.M).group(1))  # type: ignore[union-attr]
    return {"total": total, "per_layer": per, "layers": len(ls)}
