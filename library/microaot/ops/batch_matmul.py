"""Lowering of BATCH_MATMUL (kernel family ``batch_matmul``): float32, int8, int16 as TFLM's reference
kernel (batch_matmul.cc): ranks 2..5, broadcast batch dimensions, adj_x / adj_y, either operand
constant or computed."""

from __future__ import annotations

import numpy as np

from microaot.ir.quant import quantize_multiplier
from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import require_dtype, require_quant

_FN = {"float32": "uaot_batch_matmul_f32", "int8": "uaot_batch_matmul_s8", "int16": "uaot_batch_matmul_s16"}


@register("BATCH_MATMUL", dtypes=("float32", "int8", "int16"))
def lower_batch_matmul(ctx: LoweringContext) -> Lowering:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    dtype = require_dtype(ctx, [a, b, y], ("float32", "int8", "int16"))
    ra, rb = len(a.shape), len(b.shape)
    if not (2 <= ra <= 5 and 2 <= rb <= 5):
        raise ctx.unsupported(f"operands of rank {ra} and {rb}; BATCH_MATMUL takes ranks 2 to 5 (as TFLM)")
    adj_x, adj_y = bool(ctx.options.get("adj_x", False)), bool(ctx.options.get("adj_y", False))
    rank = max(ra, rb)
    sa = [1] * (rank - ra) + [int(d) for d in a.shape]
    sb = [1] * (rank - rb) + [int(d) for d in b.shape]
    m, ka = (sa[-1], sa[-2]) if adj_x else (sa[-2], sa[-1])
    kb, n = (sb[-1], sb[-2]) if adj_y else (sb[-2], sb[-1])
    if ka != kb:
        raise ctx.unsupported(f"LHS {list(a.shape)} (adj_x={adj_x}) and RHS {list(b.shape)} (adj_y={adj_y}) "
                              f"disagree on the inner dimension ({ka} vs {kb})")
    batch: list[int] = []
    for d in range(rank - 2):
        if sa[d] != sb[d] and 1 not in (sa[d], sb[d]):
            raise ctx.unsupported(f"batch dimensions of {list(a.shape)} and {list(b.shape)} do not broadcast")
        batch.append(max(sa[d], sb[d]))
    if list(y.shape) != [*batch, m, n]:
        raise ctx.unsupported(f"output shape {list(y.shape)} does not match the computed {[*batch, m, n]}")

    def bstrides(s: list[int]) -> list[int]:
        st, acc = [0] * (rank - 2), s[-1] * s[-2]
        for d in range(rank - 3, -1, -1):
            st[d] = 0 if s[d] == 1 else acc
            acc *= s[d]
        return st

    pad = 3 - (rank - 2)
    fields: dict[str, object] = {
        "batch": "{" + ", ".join(str(v) for v in [1] * pad + batch) + "}",
        "a_bstride": "{" + ", ".join(str(v) for v in [0] * pad + bstrides(sa)) + "}",
        "b_bstride": "{" + ", ".join(str(v) for v in [0] * pad + bstrides(sb)) + "}",
        "rows": m, "cols": n, "depth": ka,
        "a_si": 1 if adj_x else ka, "a_sk": m if adj_x else 1,
        "b_sk": 1 if adj_y else n, "b_sj": ka if adj_y else 1,
        "a_zp": 0, "b_zp": 0, "out_zp": 0, "mult": 0, "shift": 0,
    }
    if dtype != "float32":
        (s_a, z_a), (s_b, z_b) = require_quant(ctx, a, "LHS"), require_quant(ctx, b, "RHS")
        s_o, z_o = require_quant(ctx, y, "output")
        if dtype == "int16" and (z_a, z_b, z_o) != (0, 0, 0):
            raise ctx.unsupported(f"int16 operands need zero points 0 (TFLM's 16-bit scheme); got {z_a}, {z_b}, {z_o}")
        # TFLM GetQuantizedConvolutionMultipler without bias: the product of the scales in float32
        real = float(np.float32(s_a) * np.float32(s_b)) / s_o
        mult, shift = quantize_multiplier(real)
        fields.update({"a_zp": z_a, "b_zp": z_b, "out_zp": z_o, "mult": mult, "shift": shift})
    p = ctx.params("uaot_batch_matmul_params_t", fields)
    return Lowering(families=("batch_matmul",),
                    call=f"{_FN[dtype]}({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, {ctx.out_ptr(0)})")
