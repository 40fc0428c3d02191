"""TFLM's signal-library streaming custom operators (kernel family ``signal_stream``), bit-exact with TFLM
(signal/micro/kernels/{pcan,framer,stacker,overlap_add,delay}.cc, signal/src):

- ``CUSTOM:SignalPCAN`` (uint32, stateless): per-channel auto gain control from a noise estimate and a gain LUT.
- ``CUSTOM:SignalFramer`` (int16): overlapping frames of ``frame_size`` every ``frame_step`` samples, plus a
  bool "output valid" flag; ``prefill`` starts with frame_size - frame_step zeros buffered.
- ``CUSTOM:SignalStacker`` (int16): stacks left/right context frames, every ``stacker_step`` frames, plus a
  bool "output valid" flag; the first frame is repeated ``stacker_left_context`` times.
- ``CUSTOM:SignalOverlapAdd`` (int16 saturating, float32): overlap-add of frames into ``frame_step`` samples.
- ``CUSTOM:SignalDelay`` (int16): delays every row by ``delay_length`` samples.

The last four keep state across invocations in operator-private state (``state=``), which
``NAME_reset_state()`` resets as TFLM's Reset does: zeros, plus the framer's prefill count.
Options come from the operator's flexbuffer custom options (``op.options``), read by position in key order as
TFLM's FlexbufferWrapper reads them (SignalOverlapAdd's ``T`` by name, as TFLM).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from microaot.errors import UnsupportedModelError
from microaot.ir.graph import Graph, Operator, Tensor
from microaot.ops import Lowering, LoweringContext, register

FAMILY = "signal_stream"
_TYPE_CODES = {"float32": 0, "int16": 7}  # tflite.TensorType values of SignalOverlapAdd's "T" option
# TFLM's WideDynamicFunction reads up to lut[4 * 32 - 6 + 2]: the PCAN gain LUT of the microfrontend has 125
PCAN_LUT_MIN = 125


def _err(graph: Graph, op: Operator, what: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"{graph.source}: operator {op.index} ({op.opcode}): {what}")


def _ins(graph: Graph, op: Operator, n: int) -> list[Tensor]:
    if len(op.inputs) != n or any(t < 0 for t in op.inputs):
        raise _err(graph, op, f"expects {n} input(s), the model gives {len(op.inputs)}")
    return [graph.tensors[t] for t in op.inputs]


def _outs(graph: Graph, op: Operator, n: int) -> list[Tensor]:
    if len(op.outputs) != n:
        raise _err(graph, op, f"expects {n} output(s), the model gives {len(op.outputs)}")
    return [graph.tensors[t] for t in op.outputs]


def _opt_raw(graph: Graph, op: Operator, index: int, name: str) -> Any:
    """The value TFLM reads for option ``name``: entry ``index`` of the options map in key order (TFLM's
    FlexbufferWrapper reads by position, whatever the key is)."""
    opts = op.options if isinstance(op.options, dict) else {}
    keys = sorted(opts)
    if index >= len(keys):
        raise _err(graph, op, f"its custom options have {len(keys)} entries {keys}; TFLM reads {name!r} as entry "
                              f"{index} of the map (keys in sorted order), which is missing; re-export the model "
                              "with the TensorFlow signal ops")
    return opts[keys[index]]


def _opt_int(graph: Graph, op: Operator, index: int, name: str, lo: int, hi: int = 2**31 - 1) -> int:
    v = _opt_raw(graph, op, index, name)
    if not isinstance(v, (bool, int, np.integer)):
        raise _err(graph, op, f"custom option {sorted(op.options)[index]!r} (entry {index}, read as {name!r}) is "
                              f"{v!r}; TFLM reads an integer there")
    v = (int(v) + 2**31) % 2**32 - 2**31  # static_cast<int32_t> of the int64 TFLM reads
    if not lo <= v <= hi:
        raise _err(graph, op, f"custom option {name!r} = {v} is out of range [{lo}, {hi}]")
    return v


def _dtype(graph: Graph, op: Operator, t: Tensor, what: str, allowed: tuple[str, ...]) -> str:
    if t.dtype not in allowed:
        raise _err(graph, op, f"{what} tensor {t.name!r} is {t.dtype}; TFLM's kernel takes {' or '.join(allowed)}")
    return t.dtype


def _size(t: Tensor) -> int:
    return math.prod(t.shape)


# ---- geometry (computed once per operator, cached in graph.derived) ----

@dataclass(frozen=True)
class StreamGeometry:
    kind: str                 # pcan | framer | stacker | overlap_add | delay
    fields: tuple[tuple[str, int], ...]  # the C params struct
    state: int                # bytes of operator-private state
    dtype: str = "int16"

    def get(self, key: str) -> int:
        return dict(self.fields)[key]


def _pcan(graph: Graph, op: Operator) -> StreamGeometry:
    x, noise, lut = _ins(graph, op, 3)
    (y,) = _outs(graph, op, 1)
    for t, what in ((x, "input"), (noise, "noise estimate"), (y, "output")):
        _dtype(graph, op, t, what, ("uint32",))
        if len(t.shape) != 1:
            raise _err(graph, op, f"{what} tensor {t.name!r} must be 1-D (TFLM), has shape {list(t.shape)}")
    _dtype(graph, op, lut, "gain LUT", ("int16",))
    n = x.shape[0]
    if _size(noise) != n or _size(y) != n or n <= 0:
        raise _err(graph, op, f"input, noise estimate and output need the same number of channels "
                              f"({list(x.shape)}, {list(noise.shape)}, {list(y.shape)})")
    if _size(lut) < PCAN_LUT_MIN:
        raise _err(graph, op, f"gain LUT {lut.name!r} has {_size(lut)} entries; TFLM's kernel reads up to "
                              f"{PCAN_LUT_MIN} (the microfrontend's PCAN LUT); re-export the model with a full LUT")
    shift = _opt_int(graph, op, 0, "snr_shift", 0, 63)
    return StreamGeometry("pcan", (("num_channels", n), ("snr_shift", shift)), 0, "uint32")


def _framer(graph: Graph, op: Operator) -> StreamGeometry:
    (x,) = _ins(graph, op, 1)
    y, valid = _outs(graph, op, 2)
    _dtype(graph, op, x, "input", ("int16",))
    _dtype(graph, op, y, "output", ("int16",))
    _dtype(graph, op, valid, "output-valid", ("bool",))
    size = _opt_int(graph, op, 0, "frame_size", 1)
    step = _opt_int(graph, op, 1, "frame_step", 1)
    pre = _opt_raw(graph, op, 2, "prefill")
    if not isinstance(pre, (bool, int, np.integer)):
        raise _err(graph, op, f"custom option {sorted(op.options)[2]!r} (entry 2, read as 'prefill') is {pre!r}; "
                              "TFLM reads a bool there")
    prefill = bool(pre)
    if not x.shape:
        raise _err(graph, op, "the input must have at least one dimension")
    inner = x.shape[-1]
    if inner < step or inner % step:
        raise _err(graph, op, f"the innermost input dimension ({inner}) must be a multiple of frame_step ({step})")
    if prefill and step > size:
        raise _err(graph, op, f"prefill with frame_step ({step}) > frame_size ({size}) is not defined in TFLM")
    outer = _size(x) // inner
    n_frames = inner // step
    if len(y.shape) != len(x.shape) + 1 or _size(y) != outer * n_frames * size or _size(valid) != 1:
        raise _err(graph, op, f"output shape {list(y.shape)} is not the input's {list(x.shape[:-1])} + "
                              f"[{n_frames}, {size}] (and the valid flag a scalar)")
    capacity = (size + step - 1) // step * step
    fields = (("outer", outer), ("n_frames", n_frames), ("frame_size", size), ("frame_step", step),
              ("capacity", capacity), ("prefill", int(prefill)))
    return StreamGeometry("framer", fields, 4 + 2 * outer * capacity)


def _stacker(graph: Graph, op: Operator) -> StreamGeometry:
    (x,) = _ins(graph, op, 1)
    y, valid = _outs(graph, op, 2)
    _dtype(graph, op, x, "input", ("int16",))
    _dtype(graph, op, y, "output", ("int16",))
    _dtype(graph, op, valid, "output-valid", ("bool",))
    ch = _opt_int(graph, op, 0, "num_channels", 1)
    left = _opt_int(graph, op, 1, "stacker_left_context", 0)
    right = _opt_int(graph, op, 2, "stacker_right_context", 0)
    frames = left + right + 1
    step = _opt_int(graph, op, 3, "stacker_step", 1, frames)
    if len(x.shape) != 1 or x.shape[0] != ch:
        raise _err(graph, op, f"the input must be 1-D of num_channels ({ch}) elements, has shape {list(x.shape)}")
    if len(y.shape) != 1 or y.shape[0] != ch * frames or _size(valid) != 1:
        raise _err(graph, op, f"the output must be 1-D of num_channels * (left + right + 1) = {ch * frames} "
                              f"elements, has shape {list(y.shape)} (and the valid flag a scalar)")
    fields = (("num_channels", ch), ("left", left), ("right", right), ("step", step))
    return StreamGeometry("stacker", fields, 8 + 2 * ch * frames)


def _overlap_add(graph: Graph, op: Operator) -> StreamGeometry:
    (x,) = _ins(graph, op, 1)
    (y,) = _outs(graph, op, 1)
    dt = _dtype(graph, op, x, "input", ("int16", "float32"))
    if y.dtype != dt:
        raise _err(graph, op, f"output tensor {y.name!r} is {y.dtype}, the input {dt}")
    t_code = op.options.get("T", 0) if isinstance(op.options, dict) else 0  # absent: 0 (float32), as TFLM
    if t_code != _TYPE_CODES[dt]:
        raise _err(graph, op, f"custom option 'T' is {t_code!r}, the input is {dt} (TensorType "
                              f"{_TYPE_CODES[dt]}); TFLM picks the kernel by 'T' and refuses the model otherwise")
    step = _opt_int(graph, op, 1, "frame_step", 1)
    if len(x.shape) < 2 or len(y.shape) != len(x.shape) - 1:
        raise _err(graph, op, f"input shape {list(x.shape)} must be [..., frames, frame_size] and the output "
                              f"one dimension less (has {list(y.shape)})")
    size, n_frames = x.shape[-1], x.shape[-2]
    if step > size:
        raise _err(graph, op, f"frame_step ({step}) > frame_size ({size}) is not defined in TFLM")
    outer = _size(x) // (size * n_frames) if size * n_frames else 0
    if _size(y) != outer * n_frames * step:
        raise _err(graph, op, f"output shape {list(y.shape)} must hold {outer} x {n_frames} frames of "
                              f"frame_step ({step}) samples")
    elem = 2 if dt == "int16" else 4
    fields = (("outer", outer), ("n_frames", n_frames), ("frame_size", size), ("frame_step", step))
    return StreamGeometry("overlap_add", fields, elem * outer * size, dt)


def _delay(graph: Graph, op: Operator) -> StreamGeometry:
    (x,) = _ins(graph, op, 1)
    (y,) = _outs(graph, op, 1)
    _dtype(graph, op, x, "input", ("int16",))
    _dtype(graph, op, y, "output", ("int16",))
    d = _opt_int(graph, op, 0, "delay_length", 0)
    if not x.shape or _size(x) == 0:
        raise _err(graph, op, "the input must have at least one dimension and one element")
    if _size(y) != _size(x):
        raise _err(graph, op, f"output shape {list(y.shape)} differs from the input's {list(x.shape)}")
    inner = x.shape[-1]
    outer = _size(x) // inner
    fields = (("outer", outer), ("frame_size", inner), ("delay_length", d))
    return StreamGeometry("delay", fields, 2 * outer * d)


_GEOMETRY = {"CUSTOM:SignalPCAN": _pcan, "CUSTOM:SignalFramer": _framer, "CUSTOM:SignalStacker": _stacker,
             "CUSTOM:SignalOverlapAdd": _overlap_add, "CUSTOM:SignalDelay": _delay}


def geometry(graph: Graph, op: Operator) -> StreamGeometry:
    key = ("signal_stream", op.index)
    g = graph.derived.get(key)
    if g is None:
        g = _GEOMETRY[op.opcode](graph, op)
        graph.derived[key] = g
    assert isinstance(g, StreamGeometry)
    return g


def _check(graph: Graph, op: Operator) -> None:
    geometry(graph, op)


def _state(graph: Graph, op: Operator) -> int:
    return geometry(graph, op).state


def _params(ctx: LoweringContext, g: StreamGeometry) -> str:
    fields: dict[str, Any] = dict(g.fields)
    return ctx.params(f"uaot_{g.kind}_params_t", fields)


def _state_ptr(ctx: LoweringContext) -> str:
    st = ctx.state_ptr
    if st is None:
        raise ctx.unsupported("internal: no state region was planned for this stateful operator")
    return str(st)


def lower_pcan(ctx: LoweringContext) -> Lowering:
    g = geometry(ctx.graph, ctx.op)
    p = _params(ctx, g)
    return Lowering(families=(FAMILY,), call=f"uaot_pcan_u32({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, "
                                             f"{ctx.in_ptr(2)}, {ctx.out_ptr(0)})")


def lower_framer(ctx: LoweringContext) -> Lowering:
    g = geometry(ctx.graph, ctx.op)
    p = _params(ctx, g)
    st = _state_ptr(ctx)
    reset = f"(void)uaot_framer_reset({p}, {st});" if g.get("prefill") else None
    return Lowering(families=(FAMILY,), reset=reset,
                    call=f"uaot_framer_s16({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)}, {ctx.out_ptr(1)}, {st})")


def lower_stacker(ctx: LoweringContext) -> Lowering:
    g = geometry(ctx.graph, ctx.op)
    p = _params(ctx, g)
    st = _state_ptr(ctx)
    return Lowering(families=(FAMILY,),
                    call=f"uaot_stacker_s16({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)}, {ctx.out_ptr(1)}, {st})")


def lower_overlap_add(ctx: LoweringContext) -> Lowering:
    g = geometry(ctx.graph, ctx.op)
    p = _params(ctx, g)
    fn = "uaot_overlap_add_s16" if g.dtype == "int16" else "uaot_overlap_add_f32"
    return Lowering(families=(FAMILY,),
                    call=f"{fn}({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)}, {_state_ptr(ctx)})")


def lower_delay(ctx: LoweringContext) -> Lowering:
    g = geometry(ctx.graph, ctx.op)
    p = _params(ctx, g)
    st = _state_ptr(ctx) if g.state else "NULL"
    return Lowering(families=(FAMILY,), call=f"uaot_delay_s16({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)}, {st})")


register("CUSTOM:SignalPCAN", check=_check, dtypes=("uint32",))(lower_pcan)
register("CUSTOM:SignalFramer", check=_check, state=_state, dtypes=("int16",), defined_if={0: 1})(lower_framer)
register("CUSTOM:SignalStacker", check=_check, state=_state, dtypes=("int16",), defined_if={0: 1})(lower_stacker)
register("CUSTOM:SignalOverlapAdd", check=_check, state=_state, dtypes=("int16", "float32"))(lower_overlap_add)
register("CUSTOM:SignalDelay", check=_check, state=_state, dtypes=("int16",))(lower_delay)
