"""The operator registry: one declaration per builtin operator.

One module per operator family lives in this package (``conv.py``, ``add.py``, ...). Each module
declares its operators with :func:`register`: the lowering, and next to it everything else the
passes, the planner, the code generator and the tuner need to know about the operator (view, scratch
size, in-place variants, checks, schedule knob space with its default and lean schedules). Every
module of the package is imported automatically (``pkgutil``; the order does not matter), so adding an
operator means adding a module here plus its kernel family in ``crt/`` -- no other file changes
(docs/adding-an-operator.md). The contract is documented in docs/internals.md, section "Operator
lowering contract".

A lowering function receives a :class:`LoweringContext` and returns a :class:`Lowering`::

    @register("MAX_POOL_2D")
    def lower_max_pool(ctx: LoweringContext) -> Lowering:
        x, y = ctx.input(0), ctx.output(0)
        p = ctx.params("uaot_pool_params_t", {"in_h": x.shape[1], ...})
        return Lowering(families=("pool",),
                        call=f"uaot_max_pool_s8({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microaot.errors import UnsupportedModelError
from microaot.ir.graph import Graph, Operator, Tensor, dtype_ctype


@dataclass
class Lowering:
    """What a lowering returns.

    families: kernel families the call needs; each family F is ``crt/kernels/F.c`` declared in
        ``crt/include/microaot/kernels/F.h`` (the emitter includes the header, the build compiles
        the source). Empty for operators lowered to plain C (e.g. memcpy).
    call: one C expression of type ``uaot_status_t`` (usually a kernel call), or None when the
        operator needs no code (a RESHAPE whose output aliases its input).
    decls: extra file-scope C definitions, emitted after the weight arrays and parameter structs.
    reset: C statements for ``NAME_reset_state(void *state)`` (run after the whole state buffer got its
        default: zeros, and TFLM's reset value for variable tensors); may use the operator's decls and ``st``
        (``uint8_t *``, the state buffer), e.g. through ``ctx.state_ptr``. None: the default is right.
    """

    families: tuple[str, ...] = ()
    call: str | None = None
    decls: list[str] = field(default_factory=list)
    reset: str | None = None


@dataclass(frozen=True)
class InPlace:
    """An in-place variant a lowering offers: output 0 may be written over input ``input``.

    delta: byte offset of the input minus that of the output inside the shared buffer (0: same
        start; > 0: the input sits ``delta`` bytes above the output); a multiple of 16.
    free: True when the in-place kernel costs nothing (elementwise: every output element is
        written after the input elements it reads at the same index); False when it has a run-time
        cost (the planner then takes it only when it lowers the workspace).
    variant: passed to the lowering as ``ctx.inplace`` when the planner takes it.
    slack: 0 = exactly ``delta``; +1 = ``delta`` or more; -1 = ``delta`` or less (the kernel is
        also correct with the output further away in that direction).
    """

    input: int = 0
    delta: int = 0
    free: bool = True
    variant: str = "elementwise"
    slack: int = 0


LowerFn = Callable[["LoweringContext"], Lowering]
Knobs = dict[str, Any]
ScratchFn = Callable[[Graph, Operator], int]  # scratch(graph, op): the same for every schedule
ScheduleScratchFn = Callable[[Graph, Operator, str, Knobs], int]  # scratch(graph, op, target, knobs)
InPlaceFn = Callable[[Graph, Operator], list[InPlace]]
StateFn = Callable[[Graph, Operator], int]  # state(graph, op): bytes of operator-private persistent state
CheckFn = Callable[[Graph, Operator], None]
SpaceFn = Callable[[Graph, Operator, str], dict[str, list[Any]]]
DefaultFn = Callable[[Graph, Operator, str], Knobs]
CanonFn = Callable[[Graph, Operator, str, Knobs], Knobs]
LeanFn = Callable[[Graph, Operator, str, Knobs], Knobs | None]


@dataclass(frozen=True)
class SpaceDef:
    """The schedule knobs of an operator (docs/internals.md, "Schedule knobs"; ``microaot.ops._schedule``).

    space(graph, op, target) -> {knob: [legal values]}; default(graph, op, target) -> knobs of a build
    without tuning log; canonical(graph, op, target, knobs) -> knobs minus those the chosen variant
    ignores; lean(graph, op, target, default knobs) -> a variant with less scratch (slower), or None."""

    space: SpaceFn
    default: DefaultFn
    canonical: CanonFn | None = None
    lean: LeanFn | None = None


@dataclass(frozen=True)
class OpDef:
    """Everything microaot knows about one builtin operator: ONE declaration (``register``).

    lower: the lowering (C call + definitions) given a LoweringContext.
    view: output 0 is a byte-identical view of input 0 (RESHAPE, SQUEEZE, ...).
    scratch(graph, op, target, knobs) -> bytes of workspace scratch the kernel needs during this op
        (knobs = the operator's schedule entry, {} for its default; ``_schedule.resolve`` completes it).
    inplace(graph, op) -> the in-place variants legal for this operator's shapes.
    check(graph, op): raises UnsupportedModelError when the operator cannot be compiled (called by
        ``passes.check_graph`` before planning).
    space: the schedule knob space (None: nothing to tune).
    """

    opcode: str
    lower: LowerFn
    view: bool = False
    scratch: ScheduleScratchFn | None = None
    module: str = ""
    inplace: InPlaceFn | None = None
    check: CheckFn | None = None
    space: SpaceDef | None = None
    # dtype signatures the lowering accepts (see ``dtype_key``): "int8", "float32", "int16" (int16 activations),
    # "int16x8" (int16 activations with int8 weights), "int32", "uint8", or "a->b" for conversions
    dtypes: tuple[str, ...] = ()
    # state(graph, op) -> bytes of persistent operator-private state (None / 0: none); ``ctx.state_ptr``
    state: StateFn | None = None
    # (k, j): output k's content is defined only when output j (a bool flag) is true; TFLM leaves it as it was
    # otherwise (SignalFramer / SignalStacker), so eval does not compare it then (``conditional_outputs``)
    defined_if: tuple[tuple[int, int], ...] = ()


_REGISTRY: dict[str, OpDef] = {}
_LOADED = False


def _knob_independent(fn: ScratchFn) -> ScheduleScratchFn:
    def scratch(graph: Graph, op: Operator, target: str, knobs: Knobs) -> int:
        return fn(graph, op)

    return scratch


def register(opcode: str, *, view: bool = False, scratch: ScratchFn | None = None,
             schedule_scratch: ScheduleScratchFn | None = None, inplace: InPlaceFn | None = None,
             check: CheckFn | None = None, space: SpaceFn | None = None, default: DefaultFn | None = None,
             canonical: CanonFn | None = None, lean: LeanFn | None = None,
             wrap: Callable[[LowerFn], LowerFn] | None = None,
             dtypes: Sequence[str] = (), state: StateFn | None = None,
             defined_if: Mapping[int, int] | None = None) -> Callable[[LowerFn], LowerFn]:
    """Decorator: declare operator ``opcode`` (a builtin name such as "CONV_2D", or "CUSTOM:<name>" for a
    custom operator, e.g. "CUSTOM:SignalWindow") with ``fn`` as its lowering.

    view=True declares that output 0 holds exactly the bytes of input 0 (the planner then lets the
    output alias the input; the lowering is called with ``ctx.aliased`` telling whether it did).
    scratch(graph, op) -> bytes asks the planner for a temporary buffer live only during the op
    (``ctx.scratch_ptr``); schedule_scratch(graph, op, target, knobs) -> bytes instead when the size
    depends on the schedule (knobs = the resolved schedule of the op). Give at most one of them.
    inplace(graph, op) -> [InPlace, ...] lists the in-place variants legal for this operator's
    shapes (the planner decides whether to take one, checking liveness); the lowering is then
    called with ``ctx.inplace`` = the variant's name (None otherwise) and ``out_ptr(0)`` pointing
    into the input's memory as the variant's ``delta`` says.
    check(graph, op) raises UnsupportedModelError for an operator that cannot be compiled.
    space / default (both or neither) / canonical / lean: the schedule knobs (``SpaceDef``).
    wrap(fn) -> the lowering actually registered (e.g. ``_inplace.rows_lowering``: the in-place row
    driver around the out-of-place lowering); the decorator still returns ``fn``.
    dtypes: the dtype signatures the lowering accepts (``dtype_key``); ``microaot ops`` lists them and
    ``microaot inspect`` reports an operator whose signature is not among them (empty: not declared).
    state(graph, op) -> bytes of operator-private state that persists across invocations (the planner
    places it in the model's state buffer, never shared; ``ctx.state_ptr``; zeroed by NAME_reset_state
    unless the lowering's ``Lowering.reset`` says otherwise).
    defined_if: {k: j}: output k is defined only when the bool output j is true (TFLM leaves it unwritten,
    uninitialised memory at first, otherwise); eval then skips comparing it with TFLM.
    """
    if scratch is not None and schedule_scratch is not None:
        raise RuntimeError(f"operator {opcode}: give scratch= or schedule_scratch=, not both")
    if (space is None) != (default is None):
        raise RuntimeError(f"operator {opcode}: a knob space needs both space= and default=")
    if space is None and (canonical is not None or lean is not None):
        raise RuntimeError(f"operator {opcode}: canonical= / lean= need a knob space (space=, default=)")
    sized = schedule_scratch if schedule_scratch is not None else (
        _knob_independent(scratch) if scratch is not None else None)
    sdef = SpaceDef(space, default, canonical, lean) if space is not None and default is not None else None

    def deco(fn: LowerFn) -> LowerFn:
        if opcode in _REGISTRY and _REGISTRY[opcode].module != fn.__module__:
            raise RuntimeError(f"operator {opcode} registered twice ({_REGISTRY[opcode].module}, {fn.__module__})")
        _REGISTRY[opcode] = OpDef(opcode, wrap(fn) if wrap is not None else fn, view, sized, fn.__module__,
                                  inplace, check, sdef, tuple(dtypes), state,
                                  tuple(sorted((defined_if or {}).items())))
        return fn

    return deco


def load_all() -> None:
    """Import every module of this package (each declares its operators; the order does not matter)."""
    global _LOADED
    if _LOADED:
        return
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _LOADED = True


def get(opcode: str) -> OpDef | None:
    load_all()
    return _REGISTRY.get(opcode)


def supported_ops() -> list[str]:
    load_all()
    return sorted(_REGISTRY)


def unsupported_reason(opcode: str) -> str:
    """Why an operator without a declaration cannot compile, and what to do (without the model/op prefix)."""
    if opcode.startswith("CUSTOM:"):
        name = opcode.split(":", 1)[1]
        return (f"custom operator {name!r} has no microaot kernel; bind a C kernel of yours to it "
                f"(microaot compile --custom-op {name}=my_c_function, or custom_microaot_custom_ops = "
                f"{name}:my_c_function in platformio.ini; signature and how to build it in "
                "docs/custom-operators.md), or re-export the model with builtin TFLite operators")
    return "operator not supported by microaot (`microaot ops` lists the supported ones)"


@dataclass(frozen=True)
class ConditionalOutput:
    """A graph output whose content is defined only while a flag is true (``OpDef.defined_if``)."""

    output: int  # the graph output index
    flag: int | None  # the graph output index of the flag (None: the flag is not a graph output)
    op_index: int
    opcode: str
    k: int  # the operator's output index
    j: int  # the operator's flag output index


def conditional_outputs(graph: Graph) -> list[ConditionalOutput]:
    """The graph outputs that an operator defines only while one of its bool outputs is true."""
    res: list[ConditionalOutput] = []
    for oi, op in enumerate(graph.operators):
        d = get(op.opcode)
        if d is None:
            continue
        for k, j in d.defined_if:
            if k >= len(op.outputs) or j >= len(op.outputs) or op.outputs[k] not in graph.outputs:
                continue
            flag = graph.outputs.index(op.outputs[j]) if op.outputs[j] in graph.outputs else None
            res.append(ConditionalOutput(graph.outputs.index(op.outputs[k]), flag, oi, op.opcode, k, j))
    return res


def state_bytes(graph: Graph, op: Operator) -> int:
    """Bytes of operator-private persistent state ``op`` declares (0: none)."""
    d = get(op.opcode)
    if d is None or d.state is None:
        return 0
    return int(d.state(graph, op))


def dtype_key(graph: Graph, op: Operator, conversion: bool = False) -> str:
    """The dtype signature of an operator as ``OpDef.dtypes`` declares them: ``"a->b"`` (input 0 -> output 0)
    for a conversion; else the dtype of the first non-constant input (input 0 when all are constant), with
    ``"int16x8"`` for int16 activations beside an int8 constant (weights); ``"a->b"`` when the output's dtype
    differs from that input's."""
    ins = [graph.tensors[t] for t in op.inputs if t >= 0]
    out = graph.tensors[op.outputs[0]].dtype if op.outputs else "?"
    if conversion:
        return f"{ins[0].dtype if ins else '?'}->{out}"
    act = next((t for t in ins if not t.is_const), ins[0] if ins else None)
    if act is None:
        return out
    if not op.outputs:  # ASSIGN_VARIABLE, VAR_HANDLE: the dtype of what they take
        return act.dtype
    if act.dtype == "int16" and any(t.is_const and t.dtype == "int8" for t in ins):
        return "int16x8"
    return act.dtype if act.dtype == out else f"{act.dtype}->{out}"


def declared_dtypes(opcode: str) -> tuple[str, ...]:
    d = get(opcode)
    return d.dtypes if d is not None else ()


def dtype_supported(graph: Graph, op: Operator) -> bool | None:
    """Whether the operator's dtype signature is declared by its lowering (None: nothing declared)."""
    decl = declared_dtypes(op.opcode)
    if not decl:
        return None
    return dtype_key(graph, op, conversion=any("->" in d for d in decl)) in decl


def c_float(x: float) -> str:
    """A C float literal that round-trips the float32 value exactly."""
    f = float(np.float32(x))
    if np.isinf(f):
        return "(-3.402823466e+38f)" if f < 0 else "3.402823466e+38f"
    r = repr(f)
    if "e" not in r and "." not in r:
        r += ".0"
    return r + "f"


def c_value(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        iv = int(v)
        if iv == -(2**31):
            return "(-2147483647 - 1)"
        return str(iv)
    if isinstance(v, (float, np.floating)):
        return c_float(float(v))
    if isinstance(v, str):
        return v
    raise TypeError(f"cannot render {v!r} as C")


class LoweringContext:
    """What a lowering function gets: the operator, its tensors, and C helpers.

    The emitter creates one context per operator after memory planning, so pointer expressions
    are final. Helpers that add definitions (params, const_array) name them uniquely per op.
    """

    def __init__(
        self,
        graph: Graph,
        op: Operator,
        *,
        prefix: str,
        ptrs: dict[int, str],
        const_ref: Callable[[int], str],
        add_const: Callable[[str, str, np.ndarray], str],
        scratch_ptr: str | None = None,
        aliased: bool = False,
        target: str = "generic",
        schedule: dict[str, Any] | None = None,
        inplace: str | None = None,
        state_ptr: str | None = None,
    ) -> None:
        self.graph = graph
        self.op = op
        self.prefix = prefix
        self.target = target
        self.schedule: dict[str, Any] = dict(schedule or {})
        self.scratch_ptr = scratch_ptr
        # C expression (uint8_t *, 16-byte aligned) of the operator's private state (register(state=)), or None
        self.state_ptr = state_ptr
        self.aliased = aliased
        # None, or the name of the in-place variant (InPlace.variant) the planner took for this op
        self.inplace = inplace
        self._ptrs = ptrs
        self._const_ref = const_ref
        self._add_const = add_const
        self.decls: list[str] = []  # parameter structs, filled by params()

    # --- tensors -------------------------------------------------------------------------
    @property
    def opcode(self) -> str:
        return self.op.opcode

    @property
    def options(self) -> dict[str, Any]:
        return self.op.options

    def num_inputs(self) -> int:
        return len(self.op.inputs)

    def has_input(self, k: int) -> bool:
        return k < len(self.op.inputs) and self.op.inputs[k] >= 0

    def input(self, k: int) -> Tensor:
        if not self.has_input(k):
            raise self.unsupported(f"input {k} is missing")
        return self.graph.tensors[self.op.inputs[k]]

    def output(self, k: int = 0) -> Tensor:
        return self.graph.tensors[self.op.outputs[k]]

    # --- C expressions -------------------------------------------------------------------
    def sym(self, suffix: str) -> str:
        """A file-unique C identifier for something belonging to this operator."""
        return f"{self.prefix}_op{self.op.index}_{re.sub(r'[^A-Za-z0-9_]', '_', suffix)}"

    def in_ptr(self, k: int) -> str:
        """C expression of input k's data (``const T *``); NULL for an absent optional input.

        Constant inputs become weight arrays (emitted only when referenced this way)."""
        if not self.has_input(k):
            return "NULL"
        t = self.input(k)
        if t.is_const:
            return self._const_ref(t.index)
        return f"(const {dtype_ctype(t.dtype)} *){self._ptrs[t.index]}"

    def out_ptr(self, k: int = 0) -> str:
        t = self.output(k)
        return f"({dtype_ctype(t.dtype)} *){self._ptrs[t.index]}"

    def raw_ptr(self, tensor_index: int) -> str:
        """Untyped pointer expression (``uint8_t *``) of a non-constant tensor."""
        return self._ptrs[tensor_index]

    def const_array(self, suffix: str, ctype: str, values: Sequence[Any] | np.ndarray) -> str:
        """Add a ``static const ctype NAME[]`` in the weight section; returns NAME."""
        arr = np.asarray(values)
        return self._add_const(self.sym(suffix), ctype, arr.reshape(-1))

    def params(self, ctype: str, fields: dict[str, Any], suffix: str = "p") -> str:
        """Define ``static const ctype NAME = { .field = value, ... };`` and return ``&NAME``.

        Values: ints, floats (exact float32 literals), or C expressions as str (e.g. array names)."""
        name = self.sym(suffix)
        body = ",\n".join(f"    .{k} = {c_value(v)}" for k, v in fields.items())
        self.decls.append(f"static const {ctype} {name} = {{\n{body}\n}};")
        return f"&{name}"

    def unsupported(self, what: str) -> UnsupportedModelError:
        return UnsupportedModelError(
            f"{self.graph.source}: operator {self.op.index} ({self.op.opcode}): {what}"
        )
