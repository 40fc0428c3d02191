"""User C kernels bound to custom operator names (docs/custom-operators.md).

``graph.custom_kernels`` maps a custom operator name (the TFLite custom code, e.g. ``"MyOp"``) to the name of a
C function of the user's; ``compile_model(custom_ops=...)``, ``microaot compile --custom-op MyOp=my_op`` and
``custom_microaot_custom_ops = MyOp:my_op`` fill it. :func:`op_def` is how the passes and the emitter find an
operator's declaration: the binding when there is one (it wins over microaot's own kernel of that name), else
the registry's. The generated code declares ``extern uaot_status_t my_op(const uaot_custom_op_t *op);``
(``crt/include/microaot/custom_op.h``) and calls it through a small wrapper that fills a view of every input and
output tensor (data pointer, dtype, rank, dims, bytes, scale, zero point) and the raw custom options bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from microaot.errors import MicroaotError
from microaot.ir.graph import DTYPES, Graph, Operator, Tensor
from microaot.ops import Lowering, LoweringContext, OpDef, c_float, get

HEADER = "microaot/custom_op.h"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_bindings(items: Iterable[str], *, sep: str = "=", what: str = "--custom-op") -> dict[str, str]:
    """``["MyOp=my_op", ...]`` (CLI, ``sep="="``) or ``"MyOp:my_op, B:b"`` items (platformio.ini, ``sep=":"``)
    -> ``{"MyOp": "my_op"}``; raises MicroaotError naming the bad item."""
    out: dict[str, str] = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        name, s, fn = item.rpartition(sep)
        name, fn = name.strip(), fn.strip()
        if not s or not name or not _IDENT.fullmatch(fn):
            raise MicroaotError(f"{what} {item!r}: expected NAME{sep}C_FUNCTION (the custom operator's name in the "
                                f"model, then a C identifier), e.g. MyOp{sep}my_op")
        if name.startswith("CUSTOM:"):
            name = name[len("CUSTOM:"):]
        if name in out and out[name] != fn:
            raise MicroaotError(f"{what}: custom operator {name!r} bound twice ({out[name]}, {fn})")
        out[name] = fn
    return out


def bind(graph: Graph, bindings: Mapping[str, str] | None) -> None:
    """Record the bindings on the graph (``graph.custom_kernels``)."""
    graph.custom_kernels = dict(bindings or {})


def bound_function(graph: Graph, op: Operator) -> str | None:
    if not op.opcode.startswith("CUSTOM:"):
        return None
    return graph.custom_kernels.get(op.opcode[len("CUSTOM:"):])


def op_def(graph: Graph, op: Operator) -> OpDef | None:
    """The declaration of ``op``: a user kernel bound to its custom name, else the registry's (None: neither)."""
    fn = bound_function(graph, op)
    if fn is not None:
        return OpDef(op.opcode, lower_user_kernel, module=__name__)
    return get(op.opcode)


def _dims_array(ctx: LoweringContext, t: Tensor, suffix: str) -> str:
    if not t.shape:
        return "NULL"
    name = ctx.sym(suffix)
    ctx.decls.append(f"static const int32_t {name}[{len(t.shape)}] = {{{', '.join(str(int(d)) for d in t.shape)}}};")
    return name


def _view(ctx: LoweringContext, t: Tensor | None, ptr: str, suffix: str) -> str:
    if t is None:
        return "{NULL, NULL, 0u, 0, 0, 0.0f, 0u}"
    scale, zp = (float(t.quant.scale0), int(t.quant.zp0)) if t.quant is not None else (0.0, 0)
    nbytes = math.prod(t.shape) * DTYPES[t.dtype][1]
    return (f"{{(void *){ptr}, {_dims_array(ctx, t, suffix)}, {nbytes}u, {len(t.shape)}, {zp}, {c_float(scale)}, "
            f"{DTYPES[t.dtype][2]}u}}")


def lower_user_kernel(ctx: LoweringContext) -> Lowering:
    fn = bound_function(ctx.graph, ctx.op)
    if fn is None:  # pragma: no cover - op_def only returns this lowering for a bound operator
        raise ctx.unsupported("internal: no user kernel is bound to this operator")
    op = ctx.op
    ins = [ctx.graph.tensors[t] if t >= 0 else None for t in op.inputs]
    outs = [ctx.graph.tensors[t] for t in op.outputs]
    for t in [*ins, *outs]:
        if t is not None and t.dtype not in DTYPES:
            raise ctx.unsupported(f"tensor {t.name!r} has type {t.dtype}, which a user kernel view cannot carry")
    raw = bytes(op.custom_options)
    opts = ctx.const_array("custom_options", "uint8_t", list(raw)) if raw else "NULL"
    wrapper = ctx.sym("user")
    params = [f"const void *i{k}" for k in range(len(ins))] + [f"void *o{k}" for k in range(len(outs))]
    in_views = [_view(ctx, t, f"i{k}", f"in{k}_dims") for k, t in enumerate(ins)]
    out_views = [_view(ctx, t, f"o{k}", f"out{k}_dims") for k, t in enumerate(outs)]
    body = [f"static uaot_status_t {wrapper}({', '.join(params) or 'void'})", "{"]
    for var, views in (("in", in_views), ("out", out_views)):
        if views:
            rows = ",\n".join(f"        {v}" for v in views)
            body.append(f"    const uaot_tensor_view_t {var}[{len(views)}] = {{\n{rows}\n    }};")
    body += [f"    const uaot_custom_op_t op = {{{'in' if in_views else 'NULL'}, {'out' if out_views else 'NULL'}, "
             f"{opts}, {len(raw)}u, {len(in_views)}u, {len(out_views)}u, {op.index}u}};",
             f"    return {fn}(&op);", "}"]
    ctx.decls.insert(0, f'#include "{HEADER}"')
    ctx.decls.append(f"extern uaot_status_t {fn}(const uaot_custom_op_t *op);")
    ctx.decls.append("\n".join(body))
    args = [ctx.in_ptr(k) if ins[k] is not None else "NULL" for k in range(len(ins))]
    args += [ctx.out_ptr(k) for k in range(len(outs))]
    return Lowering(call=f"{wrapper}({', '.join(args)})")
