"""Lowering of MAX_POOL_2D (kernel family ``maxpool``): int8 (TFLM reference arithmetic) and float32."""

from __future__ import annotations

from microaot.ops import Lowering, LoweringContext, register
from microaot.ops._common import lower_pool2d


@register("MAX_POOL_2D", dtypes=("int8", "float32", "int16"))
def lower_max_pool(ctx: LoweringContext) -> Lowering:
    return lower_pool2d(
        ctx, family="maxpool", kernel="uaot_max_pool", params_t="uaot_maxpool_params_t",
        filter_fields=("filter_h", "filter_w"),
        quant_error="int8 / int16 MAX_POOL_2D needs equal input and output quantization (as TFLM)",
    )
