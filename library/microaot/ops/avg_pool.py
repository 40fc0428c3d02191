"""Lowering of AVERAGE_POOL_2D (kernel family ``avg_pool``)."""

from __future__ import annotations

from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import lower_pool2d


@register("AVERAGE_POOL_2D", dtypes=("int8", "float32", "int16"))
def lower_avg_pool(ctx: LoweringContext) -> Lowering:
    return lower_pool2d(
        ctx, family="avg_pool", kernel="uaot_avg_pool", params_t="uaot_avg_pool_params_t",
        filter_fields=("k_h", "k_w"),
        quant_error="int8 / int16 AVERAGE_POOL_2D needs equal input and output quantization",
    )
