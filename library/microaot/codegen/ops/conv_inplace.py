"""In-place (row-driven) variants of int8 CONV_2D and DEPTHWISE_CONV_2D (see ``_inplace.py``).

Loaded after ``conv`` (modules are imported in name order; the import below makes sure), it wraps
the registered lowerings: with ``ctx.inplace`` in (rows_fwd, rows_bwd) the operator's usual kernel
call runs through ``uaot_conv_s8_rows`` (crt/kernels/conv_rows.c); otherwise nothing changes."""

from __future__ import annotations

import microaot.codegen.ops.conv  # noqa: F401  (registers CONV_2D / DEPTHWISE_CONV_2D)
from microaot.codegen.ops._inplace import add_rows_inplace

add_rows_inplace("CONV_2D")
add_rows_inplace("DEPTHWISE_CONV_2D")
