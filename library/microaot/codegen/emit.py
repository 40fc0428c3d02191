"""C emitter: writes the deterministic ``<name>.c`` / ``<name>.h`` of one compiled model.

Layout of the generated .c: banner, includes, weight arrays (in the weight section), per-op
parameter structs, op names and I/O descriptors, ``NAME_run_ex`` (a straight-line schedule of
kernel calls between op_begin/op_end hooks), ``NAME_run``, and the ``NAME_model`` descriptor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from microaot import __version__
from microaot import ops as opreg
from microaot.errors import MicroaotError, UnsupportedModelError
from microaot.ir.graph import DTYPES, Graph, Tensor, dtype_ctype
from microaot.ops import Lowering, LoweringContext, c_float
from microaot.ops.user_kernels import op_def
from microaot.planner import MemoryPlan

ABI_VERSION = 4  # must equal UAOT_ABI_VERSION in crt/include/microaot/status.h
MAX_RANK = 6
_VALUES_PER_LINE = {1: 24, 2: 16, 4: 8, 8: 4}


@dataclass
class OpCode:
    index: int
    opcode: str
    lowering: Lowering
    params_decls: list[str]


@dataclass
class EmittedModel:
    c_source: str
    header: str
    families: list[str]
    weight_bytes: int
    ops: list[OpCode] = field(default_factory=list)


def _format_array(ctype: str, values: np.ndarray) -> str:
    flat = values.reshape(-1)
    if ctype == "float":
        items = [c_float(float(v)) for v in flat.astype(np.float32)]
    else:
        items = []
        for v in flat.tolist():
            iv = int(v)
            items.append("(-2147483647 - 1)" if iv == -(2**31) else str(iv))
    size = np.dtype(values.dtype).itemsize if ctype != "float" else 4
    per = _VALUES_PER_LINE.get(size, 8)
    lines = [", ".join(items[i:i + per]) for i in range(0, len(items), per)]
    return "    " + ",\n    ".join(lines) if lines else "    0"


class _Emitter:
    def __init__(self, graph: Graph, plan: MemoryPlan, name: str, weight_section: str, target: str,
                 schedules: Mapping[int, Mapping[str, Any]]) -> None:
        self.g = graph
        self.plan = plan
        self.name = name
        self.section = weight_section
        self.target = target
        self.schedules = schedules
        self.weight_decls: list[str] = []
        self.weight_bytes = 0
        self.const_names: dict[int, str] = {}
        self.sym_used: set[str] = set()
        self.const_by_content: dict[tuple[str, str, bytes], str] = {}

    # ---- weights ---------------------------------------------------------------------------
    def _add_array(self, sym: str, ctype: str, values: np.ndarray) -> str:
        if sym in self.sym_used:
            raise MicroaotError(f"internal: C symbol {sym} defined twice")
        self.sym_used.add(sym)
        n = int(values.size)
        if n == 0:
            values = np.zeros(1, dtype=values.dtype)
            n = 1
        self.weight_decls.append(
            f"static const {ctype} {sym}[{n}] {self.name.upper()}_WEIGHT_ATTR = {{\n{_format_array(ctype, values)}\n}};"
        )
        elem = 4 if ctype == "float" else {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "int32_t": 4,
                                            "int64_t": 8}.get(ctype, int(np.dtype(values.dtype).itemsize))
        self.weight_bytes += n * elem
        return sym

    def const_ref(self, tindex: int) -> str:
        if tindex not in self.const_names:
            t = self.g.tensors[tindex]
            assert t.data is not None
            ctype = dtype_ctype(t.dtype)
            data = t.data
            if t.dtype == "bool":
                data = data.astype(np.uint8)
            self.const_names[tindex] = self._add_array(f"{self.name}_t{tindex}", ctype, data)
        return self.const_names[tindex]

    def add_const(self, sym: str, ctype: str, values: np.ndarray) -> str:
        """A generated constant (lookup or rescale table, packed weights): an array equal to one already
        emitted (same C type, same bytes) is shared, not emitted twice."""
        key = (ctype, str(values.dtype), np.ascontiguousarray(values).tobytes())
        if key not in self.const_by_content:
            self.const_by_content[key] = self._add_array(sym, ctype, values)
        return self.const_by_content[key]

    # ---- pointers ---------------------------------------------------------------------------
    def ptrs(self) -> dict[int, str]:
        out: dict[int, str] = {}
        for t, loc in self.plan.locations.items():
            if loc.kind == "workspace":
                out[t] = f"(ws + {loc.offset})"
            elif loc.kind == "input":
                out[t] = f"(inputs[{loc.index}])"
            elif loc.kind == "output":
                out[t] = f"(outputs[{loc.index}])"
            elif loc.kind == "state":
                out[t] = f"(st + {loc.offset})"
        return out

    # ---- lowering ---------------------------------------------------------------------------
    def lower_all(self) -> list[OpCode]:
        ptrs = self.ptrs()
        codes: list[OpCode] = []
        order = self.plan.order or list(range(len(self.g.operators)))
        for op in (self.g.operators[i] for i in order):
            d = op_def(self.g, op)
            if d is None:
                raise UnsupportedModelError(
                    f"{self.g.source}: operator {op.index} ({op.opcode}) is not supported; supported operators: "
                    f"{', '.join(opreg.supported_ops())}"
                )
            for t in op.outputs:
                loc = self.plan.locations.get(t)
                if loc is not None and loc.kind == "input" and op.index not in self.plan.aliased_ops:
                    raise MicroaotError(f"internal: operator {op.index} would write the caller's input buffer")
            scratch = self.plan.scratch.get(op.index)
            region = self.plan.state_regions.get(op.index)
            ctx = LoweringContext(
                self.g, op, prefix=self.name, ptrs=ptrs, const_ref=self.const_ref, add_const=self.add_const,
                scratch_ptr=f"(ws + {scratch})" if scratch is not None else None,
                aliased=op.index in self.plan.aliased_ops, target=self.target,
                schedule=dict(self.schedules.get(op.index, {})),
                inplace=self.plan.inplace_ops[op.index].variant if op.index in self.plan.inplace_ops else None,
                state_ptr=f"(st + {region})" if region is not None else None,
            )
            try:
                low = d.lower(ctx)
            except MicroaotError:
                raise
            except Exception as e:  # a lowering bug or an option it did not expect: name the operator
                raise UnsupportedModelError(
                    f"{self.g.source}: operator {op.index} ({op.opcode}): cannot lower it "
                    f"({type(e).__name__}: {e}); please report this model"
                ) from e
            codes.append(OpCode(op.index, op.opcode, low, list(ctx.decls)))
        return codes


def _c_string(text: str) -> str:
    """Contents of a C string literal for any text (tensor names come from the model file): printable
    ASCII as is, except \\ " and ? (trigraphs), everything else as octal escapes of its UTF-8 bytes."""
    out = []
    for b in text.encode("utf-8", "replace"):
        c = chr(b)
        out.append("\\" + c if c in '\\"?' else c if 0x20 <= b < 0x7F else f"\\{b:03o}")
    return "".join(out)


def _c_comment(text: str) -> str:
    """text safe inside a /* */ comment on one line (file names can hold '*/' or newlines)."""
    return "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in text).replace("*/", "*?/")


# Fields of the runtime (crt/include/microaot/model.h uaot_model_t / uaot_tensor_info_t / uaot_hooks_t, the
# RPC glue of rpc.h and the u16/u32 fields of docs/protocol.md) that a count or size of the model goes into.
U16_MAX = 0xFFFF
U32_MAX = 0xFFFF_FFFF


def check_runtime_limits(graph: Graph, *, workspace_size: int | None = None, weight_bytes: int | None = None) -> None:
    """Refuse a model whose counts or sizes the runtime's fixed-width fields cannot hold (the C compiler would
    only warn with -Woverflow and the descriptor would carry a truncated value): inputs, outputs and operators
    are uint16 (``num_inputs``/``num_outputs``/``num_ops``, the hooks' ``op_index``, the RPC's u16 indices),
    tensor bytes, the workspace and the weight bytes uint32. Raises UnsupportedModelError naming the model,
    the count and its limit."""
    src = graph.source
    counts = (("inputs", len(graph.inputs), "num_inputs"), ("outputs", len(graph.outputs), "num_outputs"),
              ("operators", len(graph.operators), "num_ops"))
    for what, n, field_name in counts:
        if n > U16_MAX:
            raise UnsupportedModelError(
                f"{src}: the model has {n:,} {what}; the microaot runtime stores the number of {what} in a "
                f"16-bit field (uaot_model_t.{field_name}, at most {U16_MAX:,}). Split the model into smaller "
                f"models (or merge {what}) so that each has at most {U16_MAX:,} {what}")
    for k, t in [*(("input", i) for i in graph.inputs), *(("output", i) for i in graph.outputs)]:
        tt = graph.tensors[t]
        if tt.nbytes > U32_MAX:
            raise UnsupportedModelError(
                f"{src}: graph {k} tensor {t} ({tt.name!r}) has {tt.nbytes:,} bytes; the runtime's tensor "
                f"size field (uaot_tensor_info_t.bytes) is 32-bit (at most {U32_MAX:,}). Use a smaller tensor")
    for what, v, field_name in (("workspace", workspace_size, "workspace_size"),
                                ("weights", weight_bytes, "weight_bytes")):
        if v is not None and v > U32_MAX:
            raise UnsupportedModelError(
                f"{src}: the {what} need {v:,} bytes; the runtime's uaot_model_t.{field_name} is 32-bit "
                f"(at most {U32_MAX:,} bytes). The model does not fit a 32-bit target; use a smaller model")


def _tensor_info(name: str, t: Tensor, source: str) -> str:
    if len(t.shape) > MAX_RANK:
        raise UnsupportedModelError(f"{source}: tensor {t.index} ({t.name!r}) has rank {len(t.shape)} > {MAX_RANK}")
    dims = list(t.shape) + [0] * (MAX_RANK - len(t.shape))
    scale = float(t.quant.scale0) if t.quant is not None else 0.0
    zp = int(t.quant.zp0) if t.quant is not None else 0
    cname = _c_string(t.name)
    return (f"    {{ .name = \"{cname}\", .dtype = {DTYPES[t.dtype][2]}, .rank = {len(t.shape)}, "
            f".dims = {{{', '.join(map(str, dims))}}}, .bytes = {t.nbytes}u, .scale = {c_float(scale)}, "
            f".zero_point = {zp} }}")


def emit_model(graph: Graph, plan: MemoryPlan, *, name: str, model_hash: str, model_file: str,
               workspace_size: int, weight_section: str = ".rodata.microaot", target: str = "generic",
               schedules: Mapping[int, Mapping[str, Any]] | None = None) -> EmittedModel:
    """Lower every operator and render model.c / model.h text (nothing is written here)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise MicroaotError(f"model name {name!r} is not a C identifier")
    if '"' in weight_section or "\\" in weight_section:
        raise MicroaotError(f"weight section {weight_section!r} must not contain quotes or backslashes")
    check_runtime_limits(graph, workspace_size=workspace_size)
    em = _Emitter(graph, plan, name, weight_section, target, schedules or {})
    codes = em.lower_all()
    check_runtime_limits(graph, weight_bytes=em.weight_bytes)

    # outputs whose tensor does not live in the caller's output buffer k (duplicates, input=output, consts)
    fixups: list[str] = []
    for k, t in enumerate(graph.outputs):
        loc = plan.locations.get(t)
        if loc is not None and loc.kind == "output" and loc.index == k:
            continue
        tt = graph.tensors[t]
        if tt.is_const:
            src = em.const_ref(t)
        else:
            src = em.ptrs()[t]
        fixups.append(f"    memcpy(outputs[{k}], {src}, {tt.nbytes}u);")

    families = sorted({f for c in codes for f in c.lowering.families})
    up = name.upper()
    banner = (f"/* Generated by microaot {__version__} from {_c_comment(model_file)} (sha256 {model_hash}).\n"
              f" * Do not edit: regenerate with `microaot compile`. */\n")

    # ---------------------------------------------------------------- header
    h: list[str] = [banner, f"#ifndef {up}_H_", f"#define {up}_H_", "",
                    "#include <stddef.h>", "#include <stdint.h>", "",
                    '#include "microaot/model.h"', '#include "microaot/status.h"', "",
                    f"#if UAOT_ABI_VERSION != {ABI_VERSION}",
                    f'#error "{name}.h was generated for microaot runtime ABI {ABI_VERSION}; '
                    'regenerate the model with the microaot that ships this runtime"',
                    "#endif", "",
                    "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
                    f"/** Bytes of workspace the caller provides, aligned to {name}_WORKSPACE_ALIGN. */",
                    f"#define {name}_WORKSPACE_SIZE {workspace_size}",
                    "/** Alignment (bytes) the workspace must have: UAOT_WORKSPACE_ALIGN. */",
                    f"#define {name}_WORKSPACE_ALIGN UAOT_WORKSPACE_ALIGN",
                    "/** Bytes of persistent state (variable tensors, operator state) the caller provides and keeps",
                    f" * between runs, aligned to {name}_STATE_ALIGN; 0 for a stateless model. */",
                    f"#define {name}_STATE_SIZE {plan.state_size}",
                    "/** Alignment (bytes) the state buffer must have: UAOT_WORKSPACE_ALIGN. */",
                    f"#define {name}_STATE_ALIGN UAOT_WORKSPACE_ALIGN",
                    "/** Bytes of const data (weights, biases, tables) the model keeps in flash. */",
                    f"#define {name}_WEIGHT_BYTES {em.weight_bytes}",
                    "/** Operators of the model (range of the op_index passed to uaot_hooks_t callbacks). */",
                    f"#define {name}_NUM_OPS {len(graph.operators)}",
                    f"/** Entries of the inputs array of {name}_run. */",
                    f"#define {name}_NUM_INPUTS {len(graph.inputs)}",
                    f"/** Entries of the outputs array of {name}_run. */",
                    f"#define {name}_NUM_OUTPUTS {len(graph.outputs)}"]
    for k, t in enumerate(graph.inputs):
        tt = graph.tensors[t]
        h.append(f"/** Bytes of input {k} ({tt.dtype} {[int(d) for d in tt.shape]}), "
                 f"the buffer inputs[{k}] points to. */")
        h.append(f"#define {name}_INPUT{k}_SIZE {graph.tensors[t].nbytes}")
    for k, t in enumerate(graph.outputs):
        tt = graph.tensors[t]
        h.append(f"/** Bytes of output {k} ({tt.dtype} {[int(d) for d in tt.shape]}), "
                 f"the buffer outputs[{k}] points to. */")
        h.append(f"#define {name}_OUTPUT{k}_SIZE {graph.tensors[t].nbytes}")
    stateful = plan.state_size > 0
    h += ["",
          "/**",
          " * Run the model once.",
          " * inputs[k] / outputs[k]: caller buffers of NAME_INPUTk_SIZE / NAME_OUTPUTk_SIZE bytes (inputs are",
          " * only read; inputs and outputs must not overlap); workspace: NAME_WORKSPACE_SIZE bytes aligned to",
          " * UAOT_WORKSPACE_ALIGN (its contents need not survive between runs).",
          *([" * state: NAME_STATE_SIZE bytes aligned to NAME_STATE_ALIGN that persist between runs (the model's",
             " * memory of earlier invocations); call NAME_reset_state() on it before the first run and whenever",
             " * a new sequence starts. Never shared with the workspace or another model instance."]
            if stateful else []),
          " * Returns UAOT_OK, UAOT_ERR_ARG (a NULL pointer), UAOT_ERR_ALIGN (misaligned buffer) or the error",
          " * status of a kernel (e.g. UAOT_ERR_SCRATCH in a UAOT_CHECKS build).",
          " * The caller owns every buffer; the model keeps no pointer to any of them after it returns.",
          " * The outputs are complete only when it returns UAOT_OK.",
          " */",
          (f"uaot_status_t {name}_run(const void *const *inputs, void *const *outputs, void *workspace, void *state);"
           if stateful else
           f"uaot_status_t {name}_run(const void *const *inputs, void *const *outputs, void *workspace);"),
          f"/** {name}_run with per-operator callbacks (uaot_hooks_t; NULL = none); the model's uaot_run_fn.",
          " * state: NAME_STATE_SIZE bytes (NULL allowed when NAME_STATE_SIZE is 0). */",
          f"uaot_status_t {name}_run_ex(const void *const *inputs, void *const *outputs, void *workspace, void *state,",
          f"{' ' * (len(name) + 22)}const uaot_hooks_t *hooks);",
          "/**",
          " * Put the state buffer (NAME_STATE_SIZE bytes, aligned to NAME_STATE_ALIGN) in its initial condition,",
          " * as TFLite Micro's interpreter reset does. Returns UAOT_OK, UAOT_ERR_ARG (NULL with NAME_STATE_SIZE",
          " * > 0) or UAOT_ERR_ALIGN. A stateless model (NAME_STATE_SIZE 0) ignores its argument.",
          " */",
          f"uaot_status_t {name}_reset_state(void *state);",
          "/** The model's descriptor (microaot/model.h), for the RPC server and uaot_model_run_alloc(). */",
          f"extern const uaot_model_t {name}_model;", "",
          "#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {up}_H_ */", ""]
    header = "\n".join(h)

    # ---------------------------------------------------------------- source
    c: list[str] = [banner, f'#include "{name}.h"', "", "#include <stddef.h>", "#include <stdint.h>",
                    "#include <string.h>", ""]
    c += [f'#include "microaot/kernels/{f}.h"' for f in families]
    c += ["", "#if defined(__GNUC__) || defined(__clang__)",
          f'#define {up}_WEIGHT_ATTR __attribute__((section("{weight_section}"), aligned(16)))',
          "#else", f"#define {up}_WEIGHT_ATTR", "#endif", "",
          "/* ---- weights ---- */"]
    c += em.weight_decls
    c += ["", "/* ---- operator parameters ---- */"]
    for code in codes:
        c += code.params_decls
        c += code.lowering.decls
    c += ["", f"static const char *const {name}_op_names[{max(len(codes), 1)}] = {{"]
    c += [f'    "{code.opcode}",' for code in sorted(codes, key=lambda k: k.index)] or ['    ""']
    c += ["};", ""]
    c += [f"static const uaot_tensor_info_t {name}_input_info[{max(len(graph.inputs), 1)}] = {{"]
    c += [",\n".join(_tensor_info(name, graph.tensors[t], graph.source) for t in graph.inputs) or "    { 0 }"]
    c += ["};", f"static const uaot_tensor_info_t {name}_output_info[{max(len(graph.outputs), 1)}] = {{"]
    c += [",\n".join(_tensor_info(name, graph.tensors[t], graph.source) for t in graph.outputs) or "    { 0 }"]
    c += ["};", ""]
    c += [f"#define {up}_OP_BEGIN(i) do {{ if (hooks != NULL && hooks->op_begin != NULL) "
          f"{{ hooks->op_begin(hooks->ctx, (uint16_t)(i)); }} }} while (0)",
          f"#define {up}_OP_END(i) do {{ if (hooks != NULL && hooks->op_end != NULL) "
          f"{{ hooks->op_end(hooks->ctx, (uint16_t)(i)); }} }} while (0)",
          f"#define {up}_OP_OUTPUT(i, p, n) do {{ if (hooks != NULL && hooks->op_output != NULL) "
          f"{{ hooks->op_output(hooks->ctx, (uint16_t)(i), (p), (n)); }} }} while (0)", ""]
    c += [f"uaot_status_t {name}_run_ex(const void *const *inputs, void *const *outputs, void *workspace, void *state,",
          f"{' ' * (len(name) + 22)}const uaot_hooks_t *hooks)", "{",
          "    uint8_t *ws = (uint8_t *)workspace;",
          "    uaot_status_t status = UAOT_OK;"]
    if stateful:
        c += ["    uint8_t *st = (uint8_t *)state;"]
    c += ["    if (inputs == NULL || outputs == NULL || workspace == NULL) {", "        return UAOT_ERR_ARG;", "    }",
          "    if (((uintptr_t)workspace & (uintptr_t)(UAOT_WORKSPACE_ALIGN - 1)) != 0u) {",
          "        return UAOT_ERR_ALIGN;", "    }"]
    if stateful:
        c += ["    if (state == NULL) {", "        return UAOT_ERR_ARG;", "    }",
              "    if (((uintptr_t)state & (uintptr_t)(UAOT_WORKSPACE_ALIGN - 1)) != 0u) {",
              "        return UAOT_ERR_ALIGN;", "    }"]
    else:
        c += ["    (void)state;"]
    for k in range(len(graph.inputs)):
        c += [f"    if (inputs[{k}] == NULL) {{", "        return UAOT_ERR_ARG;", "    }"]
    for k in range(len(graph.outputs)):
        c += [f"    if (outputs[{k}] == NULL) {{", "        return UAOT_ERR_ARG;", "    }"]
    c += ["    (void)ws;", "    (void)status;"]
    ptrs = em.ptrs()
    for code in codes:
        op = graph.operators[code.index]
        shapes = " x ".join(str(list(graph.tensors[t].shape)) for t in op.outputs)
        how = ""
        if code.index in plan.inplace_ops:
            o = plan.inplace_ops[code.index]
            how = f" (in place over tensor {o.inp}, {o.variant})"
        c.append(f"    /* op {code.index}: {code.opcode} -> {shapes}{how} */")
        c.append(f"    {up}_OP_BEGIN({code.index});")
        # each output where the next operators read it (tensors without a location have no reader)
        outs = [f"    {up}_OP_OUTPUT({code.index}, (const void *){ptrs[t]}, {graph.tensors[t].nbytes}u);"
                for t in op.outputs if t in ptrs]
        if code.lowering.call is None:
            c.append("    /* no code: the output aliases the input */")
            c.append(f"    {up}_OP_END({code.index});")
            c += outs
        else:
            c.append(f"    status = {code.lowering.call};")
            c.append(f"    {up}_OP_END({code.index});")
            c += ["    if (status != UAOT_OK) {", "        return status;", "    }"]
            c += outs
    c += fixups
    c += ["    return UAOT_OK;", "}", ""]
    if stateful:
        c += [f"uaot_status_t {name}_run(const void *const *inputs, void *const *outputs, void *workspace, "
              "void *state)", "{", f"    return {name}_run_ex(inputs, outputs, workspace, state, NULL);", "}", ""]
    else:
        c += [f"uaot_status_t {name}_run(const void *const *inputs, void *const *outputs, void *workspace)", "{",
              f"    return {name}_run_ex(inputs, outputs, workspace, NULL, NULL);", "}", ""]
    c += [f"uaot_status_t {name}_reset_state(void *state)", "{"]
    if stateful:
        c += ["    uint8_t *st = (uint8_t *)state;",
              "    if (state == NULL) {", "        return UAOT_ERR_ARG;", "    }",
              "    if (((uintptr_t)state & (uintptr_t)(UAOT_WORKSPACE_ALIGN - 1)) != 0u) {",
              "        return UAOT_ERR_ALIGN;", "    }",
              f"    memset(st, 0, {name}_STATE_SIZE);"]
        for t in graph.variable_tensors():
            tt = graph.tensors[t]
            loc = plan.locations[t]
            zp = tt.quant.zp0 if tt.quant is not None else 0
            if tt.dtype == "int8" and zp != 0:  # TFLM's ResetVariableTensors: int8 at its zero point, else 0
                c.append(f"    memset(st + {loc.offset}, (int)(uint8_t)(int8_t){zp}, {tt.nbytes}u); "
                         f"/* tensor {t} ({_c_comment(tt.name)}) */")
        for code in codes:
            if code.lowering.reset:
                c.append(f"    /* op {code.index}: {code.opcode} */")
                c += ["    " + line if line.strip() else line for line in code.lowering.reset.splitlines()]
        c += ["    return UAOT_OK;", "}", ""]
    else:
        c += ["    (void)state;", "    return UAOT_OK;", "}", ""]
    c += [f"const uaot_model_t {name}_model = {{",
          "    .abi_version = UAOT_ABI_VERSION,",
          f'    .name = "{name}",',
          f'    .hash = "{model_hash[:16]}",',
          f"    .workspace_size = {name}_WORKSPACE_SIZE,",
          f"    .state_size = {name}_STATE_SIZE,",
          f"    .weight_bytes = {name}_WEIGHT_BYTES,",
          f"    .num_inputs = {len(graph.inputs)},",
          f"    .num_outputs = {len(graph.outputs)},",
          f"    .num_ops = {len(codes)},",
          f"    .inputs = {name}_input_info,",
          f"    .outputs = {name}_output_info,",
          f"    .op_names = {name}_op_names,",
          f"    .run = {name}_run_ex,",
          f"    .reset_state = {name}_reset_state,",
          "};", ""]
    return EmittedModel(c_source="\n".join(c), header=header, families=families, weight_bytes=em.weight_bytes,
                        ops=codes)


def kernel_source_paths(families: list[str], crt: Path) -> list[Path]:
    paths = []
    for f in families:
        p = crt / "kernels" / f"{f}.c"
        if not p.is_file():
            raise MicroaotError(f"kernel family {f!r} has no source {p}")
        paths.append(p)
    return paths
