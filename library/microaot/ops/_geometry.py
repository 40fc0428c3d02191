"""The geometry of a CONV_2D / DEPTHWISE_CONV_2D, computed once per operator.

``conv_geometry(graph, op)`` validates the operator's shapes and options (NHWC input / filter /
output, padding SAME or VALID, output shape consistent with the TFLite formulas) and returns a frozen
:class:`ConvGeometry`, cached on the graph (``Graph.derived``): the lowering, the scratch sizes, the
knob spaces and the in-place variants all read the same value (TFLM's per-op data computed once in
Prepare). Its check is the operators' ``check=`` in the registry, so a bad geometry is reported by
``passes.check_graph`` before anything else looks at the operator.
"""

from __future__ import annotations

from dataclasses import dataclass

from microaot.errors import UnsupportedModelError
from microaot.ir.graph import Graph, Operator, Tensor


def out_size(padding: str, in_size: int, k: int, stride: int, dil: int) -> int:
    eff = (k - 1) * dil + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size + stride - eff) // stride


def pad_before(in_size: int, k: int, stride: int, dil: int, out: int) -> int:
    """TFLM ComputePaddingWithOffset: the smaller half goes first (asymmetric SAME padding)."""
    eff = (k - 1) * dil + 1
    total = max((out - 1) * stride + eff - in_size, 0)
    return total // 2


@dataclass(frozen=True)
class ConvGeometry:
    """Shapes of one convolution (NHWC). ``in_c`` is the input's channels; for DEPTHWISE_CONV_2D
    ``out_c = in_c * depth_mult``. The first 16 fields, in order, are the geometry of
    ``uaot_conv_s8_params_t`` / ``uaot_conv_f32_params_t`` (``params()``)."""

    batches: int
    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    dil_h: int
    dil_w: int
    pad_top: int
    pad_left: int
    depth_mult: int
    padding: str
    depthwise: bool

    def params(self) -> dict[str, int]:
        """The geometry fields of the kernels' parameter struct, in declaration order."""
        return {"batches": self.batches, "in_h": self.in_h, "in_w": self.in_w, "in_c": self.in_c,
                "out_h": self.out_h, "out_w": self.out_w, "out_c": self.out_c, "k_h": self.k_h, "k_w": self.k_w,
                "stride_h": self.stride_h, "stride_w": self.stride_w, "dil_h": self.dil_h, "dil_w": self.dil_w,
                "pad_top": self.pad_top, "pad_left": self.pad_left, "depth_mult": self.depth_mult}

    @property
    def k(self) -> int:
        """Length of one filter row: k_h * k_w * in_c (CONV_2D's im2col column; K of the gemm)."""
        return self.k_h * self.k_w * self.in_c

    def padded_w(self, dilation: bool = True) -> int:
        """Input columns one output row reads, padding included: UAOT_DW_PADDED_W(out_w, stride_w, k_w, dil_w)
        (dilation=False: as with dil_w = 1)."""
        return (self.out_w - 1) * self.stride_w + (self.k_w - 1) * (self.dil_w if dilation else 1) + 1

    @property
    def pointwise_shrinking(self) -> bool:
        """1x1, stride 1, batch 1, out_c <= in_c (no padding possible with a 1x1 kernel)."""
        return (self.batches == 1 and (self.k_h, self.k_w) == (1, 1) and self.stride_h == 1 and self.stride_w == 1
                and self.out_c <= self.in_c)


def _unsupported(graph: Graph, op: Operator, what: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"{graph.source}: operator {op.index} ({op.opcode}): {what}")


def _input(graph: Graph, op: Operator, k: int) -> Tensor:
    if k >= len(op.inputs) or op.inputs[k] < 0:
        raise _unsupported(graph, op, f"input {k} is missing")
    return graph.tensors[op.inputs[k]]


def conv_geometry(graph: Graph, op: Operator) -> ConvGeometry:
    """The geometry of CONV_2D / DEPTHWISE_CONV_2D ``op`` (computed on the first call, then cached on the
    graph); UnsupportedModelError naming the operator when its shapes or options are not supported."""
    key = ("conv_geometry", op.index)
    g = graph.derived.get(key)
    if g is None:
        g = _compute(graph, op)
        graph.derived[key] = g
    assert isinstance(g, ConvGeometry)
    return g


def _compute(graph: Graph, op: Operator) -> ConvGeometry:
    depthwise = op.opcode == "DEPTHWISE_CONV_2D"
    x, w = _input(graph, op, 0), _input(graph, op, 1)
    if not op.outputs or op.outputs[0] < 0:
        raise _unsupported(graph, op, "output 0 is missing")
    y = graph.tensors[op.outputs[0]]
    o = op.options
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        raise _unsupported(graph, op, f"needs 4-D input/filter/output (NHWC), got {list(x.shape)}, {list(w.shape)}, "
                                      f"{list(y.shape)}")
    n, ih, iw, ic = (int(d) for d in x.shape)
    if depthwise:
        _, kh, kw, oc = (int(d) for d in w.shape)
        dm = int(o.get("depth_multiplier", 1)) or 1
        if oc != ic * dm:
            if ic and oc % ic == 0:
                dm = oc // ic
            else:
                raise _unsupported(graph, op, f"filter channels {oc} are not input channels {ic} x depth multiplier")
    else:
        oc, kh, kw, fic = (int(d) for d in w.shape)
        dm = 1
        if fic != ic:
            raise _unsupported(graph, op, f"filter input channels {fic} != input channels {ic} (grouped conv "
                                          "unsupported)")
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dh, dw = int(o.get("dilation_h_factor", 1)), int(o.get("dilation_w_factor", 1))
    if min(sh, sw, dh, dw) < 1:
        raise _unsupported(graph, op, f"strides ({sh}, {sw}) and dilations ({dh}, {dw}) must be at least 1")
    padding = str(o.get("padding", "VALID"))
    if padding not in ("SAME", "VALID"):
        raise _unsupported(graph, op, f"padding {padding} not supported (SAME, VALID)")
    oh, ow = out_size(padding, ih, kh, sh, dh), out_size(padding, iw, kw, sw, dw)
    if tuple(int(d) for d in y.shape) != (n, oh, ow, oc):
        raise _unsupported(
            graph, op, f"output shape {list(y.shape)} does not match the computed [{n}, {oh}, {ow}, {oc}]"
        )
    return ConvGeometry(
        batches=n,
        in_h=ih,
        in_w=iw,
        in_c=ic,
        out_h=oh,
        out_w=ow,
        out_c=oc,
        k_h=kh,
        k_w=kw,
        stride_h=sh,
        stride_w=sw,
        dil_h=dh,
        dil_w=dw,
        pad_top=pad_before(ih, kh, sh, dh, oh),
        pad_left=pad_before(iw, kw, sw, dw, ow),
        depth_mult=dm,
        padding=padding,
        depthwise=depthwise,
    )


def check_conv(graph: Graph, op: Operator) -> None:
    """The registry check of CONV_2D / DEPTHWISE_CONV_2D: its geometry is supported."""
    conv_geometry(graph, op)
