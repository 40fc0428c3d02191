"""float32 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED on an FPU (kernel family ``fp_fast``).

``algo=fpu`` (crt/include/microaot/kernels/fp_fast.h): register-blocked kernels with VLDM loads and
VMLA.F32 (chained, not fused) multiply-accumulates on cores with a single-precision FPU, portable C
with the same blocking elsewhere. Every output keeps the generic kernel's summation order (+0.0f, the
taps in (ky, kx, ic) order, then the bias), so results are bit-identical with ``algo=direct`` and with
TFLM's reference kernels. The default on the FPU targets (cortex-m4: M4F and M33; cortex-m7); ``direct``
on ``generic``, where the tuner may still try it.

CONV_2D gathers each pixel's patch into scratch with +0.0f for the taps outside the input; adding
``+0.0f * w`` cannot change a sum that starts at +0.0f only for a finite ``w``, so ``fpu`` is offered
only for a constant, finite filter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microaot.ir.graph import Graph, Operator
from microaot.ops import Lowering, LoweringContext
from microaot.ops._schedule import DSP_TARGETS

FPU_TARGETS = DSP_TARGETS  # targets whose boards have a single-precision FPU (M4F, M33 as cortex-m4; M7)


def is_float(graph: Graph, op: Operator) -> bool:
    return graph.tensors[op.inputs[0]].dtype == "float32"


def _finite_const_filter(graph: Graph, op: Operator) -> bool:
    if len(op.inputs) < 2 or op.inputs[1] < 0:
        return False
    w = graph.tensors[op.inputs[1]]
    return w.is_const and w.data is not None and bool(np.all(np.isfinite(np.asarray(w.data, dtype=np.float32))))


def fpu_space(graph: Graph, op: Operator, target: str) -> dict[str, list[Any]]:
    """float32: ``direct`` and ``fpu`` (CONV_2D: ``fpu`` only with a constant, finite filter)."""
    if op.opcode == "CONV_2D" and not _finite_const_filter(graph, op):
        return {"algo": ["direct"]}
    return {"algo": ["direct", "fpu"]}


def fpu_default(graph: Graph, op: Operator, target: str) -> dict[str, Any]:
    """``fpu`` on the FPU targets where legal, else ``direct``."""
    if target in FPU_TARGETS and "fpu" in fpu_space(graph, op, target)["algo"]:
        return {"algo": "fpu"}
    return {"algo": "direct"}


def fpu_conv_scratch(graph: Graph, op: Operator) -> int:
    """uaot_conv2d_f32_fpu_scratch_size: the patches of 2 pixels, k_h * k_w * in_c floats each."""
    w = graph.tensors[op.inputs[1]]
    _, k_h, k_w, in_c = (int(d) for d in w.shape)
    return 8 * k_h * k_w * in_c


def lower_fpu_conv(ctx: LoweringContext, depthwise: bool, params: str, bias: str) -> Lowering:
    """The fp_fast call of a float32 CONV_2D / DEPTHWISE_CONV_2D with ``algo=fpu``."""
    args = f"{params}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {bias}, {ctx.out_ptr(0)}"
    if depthwise:
        return Lowering(families=("fp_fast",), call=f"uaot_depthwise_conv2d_f32_fpu({args})")
    if ctx.scratch_ptr is None:
        raise ctx.unsupported("internal: the fpu schedule has no scratch buffer")
    return Lowering(families=("fp_fast",), call=f"uaot_conv2d_f32_fpu({args}, {ctx.scratch_ptr}, "
                                                f"{fpu_conv_scratch(ctx.graph, ctx.op)}u)")


def lower_fpu_fc(ctx: LoweringContext, params: str, bias: str) -> Lowering:
    """The fp_fast call of a float32 FULLY_CONNECTED with ``algo=fpu``."""
    return Lowering(families=("fp_fast",),
                    call=f"uaot_fully_connected_f32_fpu({params}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {bias}, "
                         f"{ctx.out_ptr(0)})")
