"""CMSIS-NN on the Cortex-M4 (QEMU -icount), every layer of a model as TFLM's CMSIS-NN port calls it.

The bench's speed anchor (DESIGN.md, "References and measurement"). From the CMSIS-NN and CMSIS-Core
sources in ``ANCHORS`` (``../shared/anchors`` beside the checkout, never copied into this repository) this builds one
firmware per model for qemu_mps2_an386 with the CPU flags and CMSDK port of microaot's firmware:

- CMSIS-NN's int8 sources compiled with arm-none-eabi-gcc -O2 (TFLM's THIRD_PARTY_KERNEL_OPTIMIZATION_LEVEL)
  and ``-DCMSIS_NN_USE_REQUANTIZE_INLINE_ASSEMBLY`` (what TFLM defines under gcc), cached per work dir;
- a generated C harness holding the model's weights, biases and quantization parameters (read by
  microaot's importer and turned into multipliers with microaot's TFLM formulas, ``_common``/``ir.quant``)
  and the seed-0 input; it runs the operators in order, each reading the outputs CMSIS-NN computed for
  the operators before it, calling per operator what TFLM's CMSIS-NN port (tensorflow/lite/micro/kernels/
  cmsis_nn) calls in Eval: ``arm_convolve_wrapper_s8`` and ``arm_depthwise_conv_wrapper_s8`` with a
  scratch buffer of their ``_get_buffer_size`` (asked before the timed call, as TFLM's Prepare does),
  ``arm_fully_connected_s8`` (scratch ``arm_fully_connected_s8_get_buffer_size``), ``arm_avgpool_s8``
  (scratch ``arm_avgpool_s8_get_buffer_size``), ``arm_max_pool_s8``, ``arm_elementwise_add_s8``,
  ``arm_elementwise_mul_s8``, ``arm_softmax_s8``; RESHAPE is TFLM's copy (``memcpy``).

Each call is timed with the FPGAIO counter microaot's firmware reads (``-icount shift=3``: instructions,
5-instruction resolution), then (untimed) its output is hashed with FNV-1a 32 as microaot's OPCHECK does,
so the bench can check every CMSIS-NN layer output equals microaot's. TFLM's interpreter (Eval dispatch,
tensor lookups) is not counted: the figure is CMSIS-NN's kernels only, a lower bound of TFLM+CMSIS-NN.
Operators TFLM's CMSIS-NN port does not run through CMSIS-NN (or broadcasting ADD/MUL) are refused with a
MicroaotError naming the model, operator index and operator.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from microaot.errors import MicroaotError
from microaot.frontend.tflite import load_tflite
from microaot.ir.graph import Graph, Operator, Tensor
from microaot.ir.quant import quantize_multiplier, quantize_multiplier_smaller_than_one_exp
from microaot.ops._common import act_range_s8, out_size, pad_before, per_channel_multipliers
from microaot.ops.softmax import softmax_int8_params
from microaot.paths import crt_root
from microaot.testing.m4run import MACHINES, Machine

ANCHORS = Path(__file__).resolve().parents[2] / "shared" / "anchors"
M4 = ["-mthumb", "-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
CMSIS_FLAGS = ["-O2", "-std=c99", "-ffunction-sections", "-fdata-sections", "-DCMSIS_NN_USE_REQUANTIZE_INLINE_ASSEMBLY"]
# the int8 kernels' folders (float and other sources are not built: TFLM's int8 path never calls them)
CMSIS_DIRS = ("ActivationFunctions", "BasicMathFunctions", "ConvolutionFunctions", "FullyConnectedFunctions",
              "NNSupportFunctions", "PoolingFunctions", "SoftmaxFunctions",
              "TransposeFunctions")  # arm_transpose_s8: the MVE depthwise wrapper calls it
SCRATCH_BYTES = 256 * 1024  # static scratch of the harness; a layer asking for more is an error
SUPPORTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD", "MUL",
             "SOFTMAX", "RESHAPE")


def have_sources(anchors: Path = ANCHORS) -> bool:
    return (anchors / "cmsis-nn" / "Include" / "arm_nnfunctions.h").is_file() and \
        (anchors / "cmsis-core" / "CMSIS" / "Core" / "Include" / "cmsis_compiler.h").is_file()


class _Ctx:
    """The bits of a LoweringContext that microaot's quantization helpers use (error construction)."""

    def __init__(self, model: Path, op: Operator) -> None:
        self.model, self.op = model, op

    def unsupported(self, msg: str) -> MicroaotError:
        return MicroaotError(f"{self.model}: operator {self.op.index} ({self.op.opcode}): {msg}; the CMSIS-NN "
                             "harness cannot run this model (drop it from the bench's model list)")


def _carr(ctype: str, name: str, vals: Sequence[int] | np.ndarray, const: bool = True) -> str:
    v = np.asarray(vals).reshape(-1).astype(np.int64)
    body = ",".join(map(str, v.tolist())) if v.size else "0"
    return (
        f"static {'const ' if const else ''}{ctype} {name}[{max(v.size, 1)}] __attribute__((aligned(4))) = {{{body}}};"
    )


def _scale_zp(t: Tensor, ctx: _Ctx, what: str) -> tuple[float, int]:
    if t.dtype != "int8":
        raise ctx.unsupported(f"{what} tensor {t.name!r} is {t.dtype}; the harness runs int8 models only")
    if t.quant is None or t.quant.per_channel:
        raise ctx.unsupported(f"{what} tensor {t.name!r} needs per-tensor quantization")
    return float(np.float32(t.quant.scale0)), t.quant.zp0


def _dims(v: Sequence[int]) -> str:
    n, h, w, c = (int(x) for x in v)
    return f"{{.n = {n}, .h = {h}, .w = {w}, .c = {c}}}"


def _nhwc(t: Tensor, ctx: _Ctx) -> tuple[int, int, int, int]:
    if len(t.shape) != 4:
        raise ctx.unsupported(f"tensor {t.name!r} must be 4-D NHWC, got {list(t.shape)}")
    n, h, w, c = (int(x) for x in t.shape)
    return n, h, w, c


def layer_class(g: Graph, op: Operator) -> str:
    """The bench's layer class of an operator (ratios per class): conv kxk / pointwise, depthwise, fc, ..."""
    if op.opcode == "CONV_2D":
        w = g.tensors[op.inputs[1]]
        return "conv 1x1" if int(w.shape[1]) == 1 and int(w.shape[2]) == 1 else "conv"
    return {"DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "fully connected", "AVERAGE_POOL_2D": "avg pool",
            "MAX_POOL_2D": "max pool", "ADD": "add", "MUL": "mul", "SOFTMAX": "softmax",
            "RESHAPE": "reshape"}.get(op.opcode, op.opcode.lower())


def _op_code(g: Graph, op: Operator, model: Path, name: str) -> tuple[list[str], str, str]:
    """(static declarations, untimed setup, the timed call) of one operator, as TFLM's CMSIS-NN port runs it."""
    ctx = _Ctx(model, op)
    o = op.options
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    xin, yout = f"tns{x.index}", f"tns{y.index}"
    act = str(o.get("fused_activation_function", "NONE"))
    decl: list[str] = []
    if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w = g.tensors[op.inputs[1]]
        b = g.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        s_in, zp_in = _scale_zp(x, ctx, "input")
        s_out, zp_out = _scale_zp(y, ctx, "output")
        if w.data is None or w.dtype != "int8":
            raise ctx.unsupported(f"filter {w.name!r} must be a constant int8 tensor")
        n, ih, iw, ic = _nhwc(x, ctx)
        _, oh, ow, oc = _nhwc(y, ctx)
        kh, kw = int(w.shape[1]), int(w.shape[2])
        sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
        dh, dw = int(o.get("dilation_h_factor", 1)), int(o.get("dilation_w_factor", 1))
        padding = str(o.get("padding", "VALID"))
        if (out_size(padding, ih, kh, sh, dh), out_size(padding, iw, kw, sw, dw)) != (oh, ow):
            raise ctx.unsupported(f"output shape {list(y.shape)} does not follow from padding {padding}")
        ph, pw = pad_before(ih, kh, sh, dh, oh), pad_before(iw, kw, sw, dw, ow)
        mults, shifts = per_channel_multipliers(ctx, s_in, w, s_out, oc)  # type: ignore[arg-type]
        lo, hi = act_range_s8(ctx, act, s_out, zp_out)  # type: ignore[arg-type]
        decl += [_carr("int8_t", f"{name}_w", w.data), _carr("int32_t", f"{name}_m", mults, const=False),
                 _carr("int32_t", f"{name}_s", shifts, const=False)]
        if b is not None:
            if b.data is None or b.dtype != "int32":
                raise ctx.unsupported(f"bias {b.name!r} must be a constant int32 tensor")
            decl.append(_carr("int32_t", f"{name}_b", b.data))
        bias = f"{name}_b" if b is not None else "NULL"
        common = (f".input_offset = {-zp_in}, .output_offset = {zp_out}, .stride = {{.w = {sw}, .h = {sh}}}, "
                  f".padding = {{.w = {pw}, .h = {ph}}}, .dilation = {{.w = {dw}, .h = {dh}}}, "
                  f".activation = {{.min = {lo}, .max = {hi}}}")
        if op.opcode == "CONV_2D":
            fdims = _dims([oc, kh, kw, int(w.shape[3])])
            ptype, fn, extra = "cmsis_nn_conv_params", "arm_convolve_wrapper_s8", ""
        else:
            fdims = _dims([1, kh, kw, oc])
            ptype, fn, extra = "cmsis_nn_dw_conv_params", "arm_depthwise_conv_wrapper_s8", f".ch_mult = {oc // ic}, "
        setup = (f"    static const {ptype} p = {{{extra}{common}}};\n"
                 f"    cmsis_nn_per_channel_quant_params q = {{.multiplier = {name}_m, .shift = {name}_s}};\n"
                 f"    const cmsis_nn_dims id = {_dims([n, ih, iw, ic])}, fd = {fdims}, "
                 f"bd = {_dims([1, 1, 1, oc])}, od = {_dims([n, oh, ow, oc])};\n"
                 f"    cmsis_nn_context c = {{.buf = scratch, .size = {fn}_get_buffer_size(&p, &id, &fd, &od)}};\n"
                 "    if (c.size > (int32_t)sizeof scratch) { fail(\"scratch\"); }\n"
                 "    if (c.size == 0) { c.buf = NULL; }")
        call = f"st = {fn}(&c, &p, &q, &id, {xin}, &fd, {name}_w, &bd, {bias}, &od, {yout});"
        return decl, setup, call
    if op.opcode == "FULLY_CONNECTED":
        w = g.tensors[op.inputs[1]]
        b = g.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        s_in, zp_in = _scale_zp(x, ctx, "input")
        s_out, zp_out = _scale_zp(y, ctx, "output")
        if w.data is None or w.dtype != "int8" or w.quant is None or len(w.shape) != 2:
            raise ctx.unsupported(f"weights {w.name!r} must be a constant 2-D int8 tensor")
        if w.quant.per_channel:
            raise ctx.unsupported("per-channel FULLY_CONNECTED weights (arm_fully_connected_per_channel_s8) are not "
                                  "in the harness")
        n_out, n_in = int(w.shape[0]), int(w.shape[1])
        batches = x.num_elements // n_in
        prod = float(np.float32(s_in) * np.float32(w.quant.scale0))  # TFLM GetQuantizedConvolutionMultipler
        m, s = quantize_multiplier(prod / s_out)
        lo, hi = act_range_s8(ctx, act, s_out, zp_out)  # type: ignore[arg-type]
        decl.append(_carr("int8_t", f"{name}_w", w.data))
        if b is not None:
            if b.data is None or b.dtype != "int32":
                raise ctx.unsupported(f"bias {b.name!r} must be a constant int32 tensor")
            decl.append(_carr("int32_t", f"{name}_b", b.data))
        bias = f"{name}_b" if b is not None else "NULL"
        setup = (f"    static const cmsis_nn_fc_params p = {{.input_offset = {-zp_in}, "
                 f".filter_offset = {-w.quant.zp0}, "
                 f".output_offset = {zp_out}, .activation = {{.min = {lo}, .max = {hi}}}}};\n"
                 f"    const cmsis_nn_per_tensor_quant_params q = {{.multiplier = {m}, .shift = {s}}};\n"
                 f"    const cmsis_nn_dims id = {_dims([batches, 1, 1, n_in])}, fd = {_dims([n_in, 1, 1, n_out])}, "
                 f"bd = {_dims([1, 1, 1, n_out])}, od = {_dims([batches, 1, 1, n_out])};\n"
                 "    cmsis_nn_context c = {.buf = scratch, .size = arm_fully_connected_s8_get_buffer_size(&fd)};\n"
                 "    if (c.size > (int32_t)sizeof scratch) { fail(\"scratch\"); }\n"
                 "    if (c.size == 0) { c.buf = NULL; }\n"
                 # MVE (the M55): the buffer holds the kernel sums, which TFLM's Prepare computes (untimed) with
                 # arm_vector_sum_s8 (KERNELS_OPTIMIZED_FOR_SPEED, TFLM's default); elsewhere its size is 0
                 f"    else {{ arm_vector_sum_s8((int32_t *)c.buf, {n_in}, {n_out}, {name}_w, {-zp_in}, "
                 f"{-w.quant.zp0}, {bias}); }}")
        call = f"st = arm_fully_connected_s8(&c, &p, &q, &id, {xin}, &fd, {name}_w, &bd, {bias}, &od, {yout});"
        return decl, setup, call
    if op.opcode in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        s_in, zp_in = _scale_zp(x, ctx, "input")
        s_out, zp_out = _scale_zp(y, ctx, "output")
        if (s_in, zp_in) != (s_out, zp_out):
            raise ctx.unsupported("input and output quantization differ (TFLM requires them equal)")
        n, ih, iw, c = _nhwc(x, ctx)
        _, oh, ow, _ = _nhwc(y, ctx)
        kh, kw = int(o["filter_height"]), int(o["filter_width"])
        sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
        ph, pw = pad_before(ih, kh, sh, 1, oh), pad_before(iw, kw, sw, 1, ow)
        lo, hi = act_range_s8(ctx, act, s_out, zp_out)  # type: ignore[arg-type]
        avg = op.opcode == "AVERAGE_POOL_2D"
        size = f"arm_avgpool_s8_get_buffer_size({ow}, {c})" if avg else "0"
        setup = (f"    static const cmsis_nn_pool_params p = {{.stride = {{.w = {sw}, .h = {sh}}}, "
                 f".padding = {{.w = {pw}, .h = {ph}}}, .activation = {{.min = {lo}, .max = {hi}}}}};\n"
                 f"    const cmsis_nn_dims id = {_dims([n, ih, iw, c])}, fd = {_dims([1, kh, kw, 1])}, "
                 f"od = {_dims([n, oh, ow, c])};\n"
                 f"    cmsis_nn_context c = {{.buf = scratch, .size = {size}}};\n"
                 "    if (c.size > (int32_t)sizeof scratch) { fail(\"scratch\"); }\n"
                 "    if (c.size == 0) { c.buf = NULL; }")
        fn = "arm_avgpool_s8" if avg else "arm_max_pool_s8"
        return decl, setup, f"st = {fn}(&c, &p, &id, {xin}, &fd, &od, {yout});"
    if op.opcode in ("ADD", "MUL"):
        a, bb = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]]
        if tuple(a.shape) != tuple(bb.shape) or tuple(a.shape) != tuple(y.shape):
            raise ctx.unsupported(f"broadcasting {op.opcode} ({list(a.shape)} and {list(bb.shape)}): TFLM's CMSIS-NN "
                                  "port runs it with reference kernels, not CMSIS-NN")
        for t in (a, bb):
            if t.data is not None:
                decl.append(_carr("int8_t", f"tns{t.index}", t.data))
        s1, z1 = _scale_zp(a, ctx, "input 1")
        s2, z2 = _scale_zp(bb, ctx, "input 2")
        so, zo = _scale_zp(y, ctx, "output")
        lo, hi = act_range_s8(ctx, act, so, zo)  # type: ignore[arg-type]
        size = y.num_elements
        if op.opcode == "ADD":
            left_shift = 20  # TFLM's int8 ADD (add_common.cc)
            twice_max = 2.0 * max(s1, s2)
            m1, sh1 = quantize_multiplier_smaller_than_one_exp(s1 / twice_max)
            m2, sh2 = quantize_multiplier_smaller_than_one_exp(s2 / twice_max)
            mo, sho = quantize_multiplier_smaller_than_one_exp(twice_max / ((1 << left_shift) * so))
            call = (f"st = arm_elementwise_add_s8(tns{a.index}, tns{bb.index}, {-z1}, {m1}, {sh1}, {-z2}, {m2}, {sh2}, "
                    f"{left_shift}, {yout}, {zo}, {mo}, {sho}, {lo}, {hi}, {size});")
        else:
            mo, sho = quantize_multiplier(s1 * s2 / so)
            call = (f"st = arm_elementwise_mul_s8(tns{a.index}, tns{bb.index}, {-z1}, {-z2}, {yout}, {zo}, {mo}, "
                    f"{sho}, "
                    f"{lo}, {hi}, {size});")
        return decl, "", call
    if op.opcode == "SOFTMAX":
        s_in, _ = _scale_zp(x, ctx, "input")
        _scale_zp(y, ctx, "output")
        beta = float(np.float32(o.get("beta", 1.0)))
        mult, shift, diff_min = softmax_int8_params(beta, s_in)
        depth = int(x.shape[-1])
        return decl, "", (f"arm_softmax_s8({xin}, {x.num_elements // depth}, {depth}, {mult}, {shift}, {diff_min}, "
                          f"{yout}); st = ARM_CMSIS_NN_SUCCESS;")
    if op.opcode == "RESHAPE":
        _scale_zp(x, ctx, "input")
        return decl, "", f"memcpy({yout}, {xin}, {y.num_elements}); st = ARM_CMSIS_NN_SUCCESS;"
    raise ctx.unsupported(f"not in the CMSIS-NN harness (runs: {', '.join(SUPPORTED)})")


HEAD = r"""/* generated by microaot bench/cmsis_m4.py: CMSIS-NN layer by layer, as TFLM's CMSIS-NN port calls it */
#include <stdint.h>
#include <string.h>
#include "arm_nnfunctions.h"
#include "microaot/platform.h"

static int8_t scratch[@SCRATCH@] __attribute__((aligned(16), unused));
static void put(const char *s) { size_t n = 0; while (s[n]) { n++; } uaot_platform_write((const uint8_t *)s, n); }
static void put_u64(uint64_t v)
{
    char b[24];
    int i = 23;
    b[i] = 0;
    do { b[--i] = (char)('0' + (int)(v % 10u)); v /= 10u; } while (v);
    put(&b[i]);
}
static void fail(const char *what) { put("error "); put(what); put("\n"); for (;;) { } }
static uint32_t fnv = 0x811C9DC5u;
static void hash(const int8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) { fnv = (fnv ^ (uint8_t)p[i]) * 0x01000193u; }
}
"""


def harness(model: Path, x: Sequence[np.ndarray]) -> tuple[str, list[dict[str, Any]]]:
    """The C harness for ``model`` on inputs ``x`` and the per-layer descriptions (op index, opcode, class, MACs)."""
    g = load_tflite(model)
    if len(x) != len(g.inputs):
        raise MicroaotError(f"{model}: {len(g.inputs)} inputs, {len(x)} given")
    decl: list[str] = []
    const = {t for op in g.operators for t in op.inputs if t >= 0 and g.tensors[t].data is not None}
    acts = sorted({t for op in g.operators for t in (*op.inputs, *op.outputs) if t >= 0 and t not in const})
    for t in acts:
        tt = g.tensors[t]
        if tt.dtype != "int8":
            raise MicroaotError(f"{model}: tensor {t} ({tt.name!r}) is {tt.dtype}; the CMSIS-NN harness runs int8 "
                                "models only")
        if t in g.inputs:
            decl.append(_carr("int8_t", f"tns{t}", x[g.inputs.index(t)], const=False))
        else:
            decl.append(f"static int8_t tns{t}[{max(tt.num_elements, 1)}] __attribute__((aligned(4)));")
    body: list[str] = []
    info: list[dict[str, Any]] = []
    for op in g.operators:
        name = f"op{op.index}"
        d, setup, call = _op_code(g, op, model, name)
        decl += [s for s in d if s not in decl]  # a constant ADD/MUL operand shared by two operators
        outs = " ".join(f"hash(tns{t}, {g.tensors[t].num_elements});" for t in op.outputs)
        body += ["  {", setup, "    uint64_t t0 = uaot_platform_timer_read();", f"    {call}",
                 "    uint64_t t = uaot_platform_timer_read() - t0;",
                 f'    if (st != ARM_CMSIS_NN_SUCCESS) {{ fail("{name}"); }}',
                 f"    total += t; fnv = 0x811C9DC5u; {outs}",
                 f'    put("L {op.index} "); put_u64(t); put(" "); put_u64(fnv); put("\\n");', "  }"]
        info.append({"op": op.index, "opcode": op.opcode, "class": layer_class(g, op), "macs": _macs(g, op)})
    src = "\n".join([HEAD.replace("@SCRATCH@", str(SCRATCH_BYTES)), *decl, "", "int main(void)", "{",
                     "  uint64_t total = 0;", "  arm_cmsis_nn_status st = ARM_CMSIS_NN_SUCCESS;", *body,
                     '  put("total "); put_u64(total); put("\\ndone\\n");', "  return 0;", "}", ""])
    return src, info


def _macs(g: Graph, op: Operator) -> int:
    if op.opcode == "CONV_2D":
        w, y = g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
        return y.num_elements * int(w.shape[1]) * int(w.shape[2]) * int(w.shape[3])
    if op.opcode == "DEPTHWISE_CONV_2D":
        w, y = g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
        return y.num_elements * int(w.shape[1]) * int(w.shape[2])
    if op.opcode == "FULLY_CONNECTED":
        w, y = g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
        return y.num_elements * int(w.shape[1])
    return 0


def _run(cmd: list[str], what: str) -> None:
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise MicroaotError(f"{what} failed:\n{' '.join(cmd)}\n{p.stderr[-3000:]}")


def cmsis_library(anchors: Path, cache: Path, cpu: Sequence[str] = tuple(M4)) -> list[Path]:
    """CMSIS-NN's int8 objects for the M4 (or the ``cpu`` flags: on the M55, -mcpu=cortex-m55 defines
    __ARM_FEATURE_MVE and CMSIS-NN takes its ARM_MATH_MVEI paths), built once into ``cache``/cmsis-nn-KEY (KEY:
    hash of the sources' paths, times and the flags, so an edited source or other flags build afresh)."""
    flags = [*CMSIS_FLAGS, *(["-DARM_MATH_MVEI"] if "-mcpu=cortex-m55" in cpu else [])]
    srcs = sorted(
        f
        for d in CMSIS_DIRS
        for f in (anchors / "cmsis-nn" / "Source" / d).glob("*.c")
        if not re.search(r"_f(16|32)\.c$", f.name)
    )
    if not srcs:
        raise MicroaotError(f"{anchors}/cmsis-nn/Source: no CMSIS-NN sources (see ../shared/anchors/README.md "
                            "beside the checkout)")
    key = hashlib.sha256(" ".join([*cpu, *flags, *(f"{f}:{f.stat().st_mtime_ns}" for f in srcs)]).encode())
    out = cache / f"cmsis-nn-{key.hexdigest()[:12]}"
    out.mkdir(parents=True, exist_ok=True)
    inc = [f"-I{anchors / 'cmsis-nn' / 'Include'}", f"-I{anchors / 'cmsis-core' / 'CMSIS' / 'Core' / 'Include'}"]
    objs = []
    for f in srcs:
        o = out / (f.stem + ".o")
        if not o.is_file():
            tmp = o.with_suffix(f".{os.getpid()}.tmp.o")  # concurrent runs: each renames its own
            _run(["arm-none-eabi-gcc", *cpu, *flags, *inc, "-c", str(f), "-o", str(tmp)], f"compiling {f.name}")
            tmp.rename(o)
        objs.append(o)
    return objs


def measure(model: Path, x: Sequence[np.ndarray], work: Path, anchors: Path = ANCHORS, *,
            lib_cache: Path | None = None, timeout: float = 600, machine: Machine | None = None) -> dict[str, Any]:
    """CMSIS-NN instructions and output hash of every layer of ``model`` on input ``x`` (QEMU mps2-an386, or
    ``machine``: ``MACHINES["mps3-an547"]`` builds everything for the Cortex-M55, CMSIS-NN's MVE paths).
    CMSIS-NN's objects are cached in ``lib_cache`` (default: TMPDIR/microaot-cmsis-nn)."""
    mach = machine or MACHINES["mps2-an386"]
    cpu = list(mach.flags)
    if not have_sources(anchors):
        raise MicroaotError(f"{anchors}: no cmsis-nn/Include/arm_nnfunctions.h or cmsis-core/CMSIS/Core/Include "
                            "(the CMSIS-NN and CMSIS-Core sources of ../shared/anchors/README.md)")
    src, info = harness(model, x)
    work.mkdir(parents=True, exist_ok=True)
    lib = cmsis_library(anchors, lib_cache or Path(tempfile.gettempdir()) / "microaot-cmsis-nn", tuple(cpu))
    c = work / "cmsis_harness.c"
    c.write_text(src)
    crt = crt_root()
    port = crt / "ports" / "cmsdk"
    inc = [
        f"-I{anchors / 'cmsis-nn' / 'Include'}",
        f"-I{anchors / 'cmsis-core' / 'CMSIS' / 'Core' / 'Include'}",
        f"-I{crt / 'include'}",
    ]
    objs = []
    for f in (c, port / "startup.c", port / "platform_cmsdk.c", crt / "src" / "platform_defaults.c"):
        o = work / (f.stem + ".o")
        _run(["arm-none-eabi-gcc", "-std=c99", *cpu, "-O2", "-ffunction-sections", "-fdata-sections",
              *mach.defines, "-DUAOT_ICOUNT_SHIFT=3", *(["-Wall", "-Wextra", "-Werror"] if f == c else []), *inc,
              "-c", str(f), "-o", str(o)], f"building the CMSIS-NN harness ({f.name})")
        objs.append(str(o))
    elf = work / "cmsis_nn.elf"
    _run(["arm-none-eabi-gcc", *cpu, "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
          f"-T{port / mach.ldscript}", "-Wl,--gc-sections", *objs, *map(str, lib), "-o", str(elf), "-lm"],
         "linking the CMSIS-NN harness")
    run = ["timeout", str(int(timeout)), "qemu-system-arm", "-M", mach.qemu, "-nographic", "-semihosting",
           "-icount", "shift=3", "-kernel", str(elf)]
    p = subprocess.run(run, capture_output=True, text=True, timeout=timeout + 10, check=False)
    if "done" not in p.stdout:
        raise MicroaotError(f"{model}: QEMU run of the CMSIS-NN harness failed ({p.returncode}):\n{p.stdout[-1500:]}")
    rows = {int(a): (int(b), int(h)) for a, b, h in re.findall(r"^L (\d+) (\d+) (\d+)", p.stdout, re.M)}
    if len(rows) != len(info):
        raise MicroaotError(f"{model}: the CMSIS-NN harness reported {len(rows)} of {len(info)} layers")
    for d in info:
        d["instructions"], d["hash"] = rows[d["op"]]
    total = int(re.search(r"^total (\d+)", p.stdout, re.M).group(1))  # type: ignore[union-attr]
    return {"total": total, "layers": info, "macs": sum(d["macs"] for d in info),
            "instr_per_mac": total / max(1, sum(d["macs"] for d in info)) if any(d["macs"] for d in info) else None,
            "sources": str(anchors), "flags": [*cpu, *CMSIS_FLAGS, *(["-DARM_MATH_MVEI"] if "-mcpu=cortex-m55" in cpu
                                                                    else [])]}


def compare(cmsis: dict[str, Any], op_indices: Sequence[int], microaot_hashes: Sequence[int] | None,
            microaot_instr: Sequence[float] | None) -> dict[str, Any]:
    """Match CMSIS-NN's layers with microaot's operators (``op_indices[i]``: the model operator index of
    microaot's operator i): hashes equal per layer, instruction ratios per layer and per layer class."""
    by_op = {d["op"]: d for d in cmsis["layers"]}
    mism: list[int] = []
    for i, k in enumerate(op_indices):
        d = by_op.get(k)
        if d is None:
            continue
        if microaot_hashes is not None:
            d["equal_microaot"] = d["hash"] == microaot_hashes[i]
            if not d["equal_microaot"]:
                mism.append(k)
        if microaot_instr is not None:
            d["microaot_instructions"] = microaot_instr[i]
            d["ratio"] = d["instructions"] / microaot_instr[i] if microaot_instr[i] > 0 else None
    classes: dict[str, dict[str, float]] = {}
    for d in cmsis["layers"]:
        if "microaot_instructions" not in d:
            continue
        c = classes.setdefault(d["class"], {"cmsis": 0, "microaot": 0, "layers": 0, "macs": 0})
        c["cmsis"] += d["instructions"]
        c["microaot"] += d["microaot_instructions"]
        c["layers"] += 1
        c["macs"] += d["macs"]
    for c in classes.values():
        c["ratio"] = c["cmsis"] / c["microaot"] if c["microaot"] else math.nan
    faster = [{"op": d["op"], "opcode": d["opcode"], "cmsis": d["instructions"], "microaot": d["microaot_instructions"]}
              for d in cmsis["layers"]
              if "microaot_instructions" in d and d["instructions"] < d["microaot_instructions"]]
    checked = microaot_hashes is not None and all(k in by_op for k in op_indices) and len(op_indices) == len(by_op)
    return {"equal_all": (not mism) if checked else None, "mismatched_ops": mism, "classes": classes,
            "cmsis_faster": faster}
