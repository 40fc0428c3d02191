"""Resource variables: VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE (and CALL_ONCE, once its init subgraph is
folded into the reset values). The importer (``microaot.frontend.resources``) gives each variable one variable
tensor in the state buffer: READ_VARIABLE copies it out, ASSIGN_VARIABLE copies a value in, the first
VAR_HANDLE of the variable resets it in ``NAME_reset_state`` (TFLM's default byte, then the init subgraph's
constant); everything else is no code.
"""

from __future__ import annotations

from microaot.ops import Lowering, LoweringContext, register

_DTYPES = ("int8", "int16", "int32", "float32", "uint8", "bool", "int64")


@register("VAR_HANDLE", dtypes=_DTYPES)
def lower_var_handle(ctx: LoweringContext) -> Lowering:
    var = ctx.options.get("microaot_var")
    if ctx.op.outputs:
        raise ctx.unsupported("resource variable handle not folded by the importer; please report this model")
    if var is None or not ctx.has_input(0):
        return Lowering(call="UAOT_OK")  # another handle of a variable reset by its first VAR_HANDLE
    v = ctx.input(0)
    ptr = ctx.raw_ptr(v.index)
    reset = [f"memset({ptr}, {int(var['default'])}, {v.nbytes}u);"]
    if var["init"] is not None:
        init = ctx.const_array("init", "uint8_t", var["init"])
        reset.append(f"memcpy({ptr}, {init}, {v.nbytes}u);")
    return Lowering(call="UAOT_OK", reset="\n".join(reset))


@register("READ_VARIABLE", dtypes=_DTYPES)
def lower_read_variable(ctx: LoweringContext) -> Lowering:
    v, y = ctx.input(0), ctx.output(0)
    if not getattr(v, "is_variable", False):
        raise ctx.unsupported("input 0 is not a resource variable; please report this model")
    return Lowering(call=f"(memcpy({ctx.raw_ptr(y.index)}, {ctx.raw_ptr(v.index)}, {v.nbytes}u), UAOT_OK)")


@register("ASSIGN_VARIABLE", dtypes=_DTYPES)
def lower_assign_variable(ctx: LoweringContext) -> Lowering:
    v, x = ctx.input(0), ctx.input(1)
    if not getattr(v, "is_variable", False):
        raise ctx.unsupported("input 0 is not a resource variable; please report this model")
    return Lowering(call=f"(memcpy({ctx.raw_ptr(v.index)}, {ctx.in_ptr(1)}, {x.nbytes}u), UAOT_OK)")


@register("CALL_ONCE")
def lower_call_once(ctx: LoweringContext) -> Lowering:
    if not ctx.options.get("microaot_folded"):
        raise ctx.unsupported("control flow is not supported (single-subgraph models without control flow; a "
                              "CALL_ONCE whose init subgraph only assigns constants to resource variables is "
                              "supported)")
    return Lowering(call="UAOT_OK")  # its init subgraph is in NAME_reset_state
