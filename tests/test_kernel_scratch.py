"""One source of truth for kernel scratch: the C side states it, the planner asks for exactly that.

Every fast-kernel entry point that takes scratch has ``uaot_<entry point>_scratch_size(...)`` next to its
prototype (conv_fast.h, conv1ch.h, dw_fast.h, dw_plane.h, dw_small.h, fc_fast.h). Over a grid of shapes and every legal
schedule of each shape (``schedules.candidates`` on cortex-m4), a host C program prints the C size of the entry
point that the schedule lowers to, and it must equal the planner's request (``passes.scratch_requests``, i.e. the
scratch function registered with the operator). Every ``*_scratch_size`` defined in the headers must be reached.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from microaot.ir.graph import Graph, Operator, QuantParams, Tensor
from microaot.passes import scratch_requests
from microaot.paths import crt_root
from microaot.schedules import candidates, canonical_schedule

TARGET = "cortex-m4"
TARGETS = (TARGET, "cortex-m55")  # the M55 adds the Helium entry points (mve.h)
HEADERS = ("conv_fast.h", "conv1ch.h", "dw_fast.h", "dw_plane.h", "dw_small.h", "fc_fast.h", "mve.h")


def _q(n: int = 1) -> QuantParams:
    return QuantParams(scale=np.full(n, 0.05, np.float32), zero_point=np.zeros(n, np.int64))


def _out(padding: str, size: int, k: int, stride: int, dil: int) -> int:
    eff = (k - 1) * dil + 1
    return (size + stride - 1) // stride if padding == "SAME" else (size + stride - eff) // stride


@dataclass
class Shape:
    opcode: str
    graph: Graph
    params: dict[str, int]  # the C parameter struct's shape fields


def _conv(depthwise: bool, ih: int, iw: int, ic: int, oc: int, kh: int, kw: int, sh: int, sw: int, dh: int,
          dw: int, padding: str) -> Shape | None:
    oh, ow = _out(padding, ih, kh, sh, dh), _out(padding, iw, kw, sw, dw)
    if oh <= 0 or ow <= 0:
        return None
    wshape = (1, kh, kw, oc) if depthwise else (oc, kh, kw, ic)
    ts = [Tensor(0, "x", (1, ih, iw, ic), "int8", _q()),
          Tensor(1, "w", wshape, "int8", _q(oc), np.zeros(wshape, np.int8)),
          Tensor(2, "b", (oc,), "int32", _q(oc), np.zeros(oc, np.int32)),
          Tensor(3, "y", (1, oh, ow, oc), "int8", _q())]
    opts: dict[str, Any] = {"padding": padding, "stride_h": sh, "stride_w": sw, "dilation_h_factor": dh,
                            "dilation_w_factor": dw, "fused_activation_function": "NONE"}
    if depthwise:
        opts["depth_multiplier"] = oc // ic
    opcode = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    g = Graph(ts, [Operator(0, opcode, [0, 1, 2], [3], opts)], [0], [3], name="grid", source="grid.tflite")
    return Shape(opcode, g, {"batches": 1, "in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow, "out_c": oc,
                             "k_h": kh, "k_w": kw, "stride_h": sh, "stride_w": sw, "dil_h": dh, "dil_w": dw,
                             "depth_mult": oc // ic if depthwise else 1})


def _fc(n_in: int, n_out: int) -> Shape:
    ts = [Tensor(0, "x", (1, n_in), "int8", _q()),
          Tensor(1, "w", (n_out, n_in), "int8", _q(), np.zeros((n_out, n_in), np.int8)),
          Tensor(2, "b", (n_out,), "int32", _q(), np.zeros(n_out, np.int32)),
          Tensor(3, "y", (1, n_out), "int8", _q())]
    g = Graph(ts, [Operator(0, "FULLY_CONNECTED", [0, 1, 2], [3], {"fused_activation_function": "NONE"})], [0], [3],
              name="grid", source="grid.tflite")
    return Shape("FULLY_CONNECTED", g, {"batches": 1, "in_features": n_in, "out_features": n_out})


def _grid() -> list[Shape]:
    rng = np.random.default_rng(16)
    shapes: list[Shape | None] = []
    # edge cases: gather rows (in_c % 4 != 0), 1x1, 1-pixel outputs, every x16 step, dilation, long kernels
    fixed = [(False, 5, 5, 1, 3, 3, 3, 1, 1, 1, 1, "SAME"), (False, 49, 10, 1, 64, 10, 4, 2, 2, 1, 1, "SAME"),
             (False, 8, 8, 3, 16, 3, 3, 1, 1, 1, 1, "SAME"), (False, 4, 4, 16, 16, 3, 3, 1, 1, 1, 1, "SAME"),
             (False, 6, 7, 8, 5, 1, 2, 1, 2, 1, 1, "VALID"), (False, 9, 9, 32, 7, 3, 1, 2, 1, 1, 1, "SAME"),
             (False, 5, 6, 64, 4, 2, 1, 1, 1, 1, 1, "VALID"), (False, 6, 6, 4, 2, 1, 4, 1, 2, 1, 1, "SAME"),
             (False, 7, 7, 6, 9, 3, 3, 1, 1, 2, 2, "SAME"), (False, 3, 3, 5, 1, 3, 3, 2, 2, 1, 1, "VALID"),
             (True, 5, 5, 4, 4, 3, 3, 1, 1, 1, 1, "SAME"), (True, 25, 5, 64, 64, 3, 3, 1, 1, 1, 1, "SAME"),
             (True, 7, 9, 12, 12, 3, 3, 2, 2, 1, 1, "SAME"), (True, 6, 40, 8, 8, 3, 3, 1, 1, 1, 1, "VALID"),
             (True, 6, 6, 6, 6, 5, 2, 1, 2, 2, 1, "SAME"), (True, 4, 4, 3, 6, 3, 3, 1, 1, 1, 1, "SAME"),
             (True, 2, 1, 16, 16, 3, 3, 1, 1, 1, 1, "SAME"), (True, 49, 10, 1, 8, 10, 8, 2, 2, 1, 1, "SAME"),
             (True, 25, 5, 30, 30, 5, 1, 1, 1, 1, 1, "SAME"), (True, 9, 8, 3, 9, 1, 5, 2, 1, 2, 1, "VALID"),
             (True, 9, 8, 3, 12, 7, 1, 1, 3, 1, 2, "SAME"), (True, 25, 5, 64, 64, 1, 3, 1, 1, 1, 1, "SAME"),
             (True, 49, 1, 40, 40, 9, 1, 1, 1, 1, 1, "SAME"), (True, 40, 1, 1, 8, 50, 1, 1, 1, 1, 1, "SAME"),
             (True, 11, 7, 3, 6, 5, 1, 2, 2, 1, 1, "VALID"), (True, 6, 13, 5, 5, 1, 4, 1, 1, 1, 3, "SAME")]
    shapes += [_conv(*f) for f in fixed]
    for _ in range(36):
        dw = bool(rng.integers(2))
        ic = int(rng.choice([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64]))
        oc = ic * int(rng.choice([1, 1, 1, 2])) if dw else int(rng.integers(1, 20))
        kh, kw = int(rng.choice([1, 2, 3, 3, 5])), int(rng.choice([1, 2, 3, 3, 4, 5]))
        sh, sw = int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 1, 2, 4]))
        d = int(rng.choice([1, 1, 1, 2]))
        shapes.append(_conv(dw, int(rng.integers(1, 24)), int(rng.integers(1, 24)), ic, oc, kh, kw, sh, sw, d, d,
                            str(rng.choice(["SAME", "VALID"]))))
    shapes += [_fc(n, m) for n, m in [(1, 1), (3, 5), (4, 4), (7, 10), (250, 3), (640, 128), (13, 1), (1024, 9)]]
    return [s for s in shapes if s is not None]


def _entry(shape: Shape, knobs: dict[str, Any]) -> tuple[str, str] | None:
    """(C size expression given a params pointer p, entry point) of the kernel these knobs lower to; None
    for the reference kernels (no scratch)."""
    algo = knobs.get("algo", "direct")
    if shape.opcode == "FULLY_CONNECTED" and algo == "simd4":
        name = f"uaot_fully_connected_s8_simd4{'_x8' if knobs['x8'] else ''}{'_w16' if knobs['w16'] else ''}"
    elif algo == "gemm":
        name = (f"uaot_conv2d_s8_gemm_c{knobs['cols']}"
                f"{'_w16' if knobs['w16'] else ''}{'_wx' if knobs.get('wexp') else ''}")
    elif algo == "x16":
        name = (f"uaot_conv2d_s8_x16_s{shape.params['stride_w'] * shape.params['in_c'] * 2}"
                f"{'_w16' if knobs['w16'] else ''}")
    elif algo == "simd4":
        name = "uaot_depthwise_conv2d_s8_simd4"
    elif algo == "pair":
        return f"uaot_dw3x3_s8_pair_scratch_size(p, {int(knobs['cols'])})", "uaot_dw3x3_s8_pair"
    elif algo == "mve" and shape.opcode == "CONV_2D":
        name = "uaot_conv2d_s8_mve"
    elif algo == "mve":  # depthwise and FC: no scratch
        return None
    elif algo == "plane":
        name = "uaot_dw_plane_s8"
    elif algo == "line":
        name = "uaot_dw_line_s8"
    elif algo == "patch":
        name = "uaot_conv1ch_s8"
    else:
        assert algo == "direct", knobs
        return None
    return f"{name}_scratch_size(p)", name


def _program(rows: list[tuple[Shape, str]]) -> str:
    lines = ['#include <stdio.h>', '#include "microaot/kernels/conv_fast.h"', '#include "microaot/kernels/conv1ch.h"',
             '#include "microaot/kernels/dw_fast.h"', '#include "microaot/kernels/dw_plane.h"',
             '#include "microaot/kernels/dw_small.h"', '#include "microaot/kernels/fc_fast.h"',
             '#include "microaot/kernels/mve.h"', "int main(void)", "{"]
    for shape, expr in rows:
        ty = "uaot_fc_s8_params_t" if shape.opcode == "FULLY_CONNECTED" else "uaot_conv_s8_params_t"
        fields = ", ".join(f".{k} = {v}" for k, v in shape.params.items())
        lines.append(f"    {{ const {ty} q = {{{fields}}}; const {ty} *p = &q; printf(\"%lu\\n\", "
                     f"(unsigned long){expr}); }}")
    lines += ["    return 0;", "}", ""]
    return "\n".join(lines)


def _defined_size_functions() -> set[str]:
    out: set[str] = set()
    for h in HEADERS:
        out |= set(re.findall(r"\b(uaot_\w+)_scratch_size\(", (crt_root() / "include" / "microaot" / "kernels" / h)
                              .read_text()))
    return out


def test_c_scratch_sizes_equal_the_planner_requests(tmp_path: Path) -> None:
    rows: list[tuple[Shape, str]] = []
    want: list[tuple[int, str, str]] = []  # planner bytes, entry point, schedule (for the message)
    for shape in _grid():
        op = shape.graph.operators[0]
        for target in TARGETS:
            for knobs in candidates(shape.graph, op, target, default=canonical_schedule(shape.graph, op, target, {})):
                asked = scratch_requests(shape.graph, target, {0: knobs}).get(0, 0)
                entry = _entry(shape, knobs)
                if entry is None:
                    assert asked == 0, (shape.params, knobs)
                    continue
                rows.append((shape, entry[0]))
                want.append((asked, entry[1], f"{shape.opcode} {shape.params} {knobs} ({target})"))
        # generic target: the reference kernels, no scratch
        assert scratch_requests(shape.graph, "generic") == {}
    src = tmp_path / "sizes.c"
    src.write_text(_program(rows))
    exe = tmp_path / "sizes"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{crt_root() / 'include'}", str(src),
                    "-o", str(exe)], check=True, capture_output=True, text=True)
    got = [int(v) for v in subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()]
    assert len(got) == len(want)
    bad = [f"{name}: C {c} B, planner {asked} B ({what})" for c, (asked, name, what) in zip(got, want, strict=True)
           if c != asked]
    assert not bad, "\n".join(bad[:20])
    covered = {name for _, name, _ in want}
    assert covered == _defined_size_functions(), sorted(_defined_size_functions() ^ covered)
    assert len(covered) >= 20  # gemm c1/c2/c3 (w16, wx): 7, x16: 6, depthwise simd4 + pair + plane, FC simd4: 4, mve


@pytest.mark.parametrize("header", HEADERS)
def test_every_scratch_taking_entry_point_has_its_size_function(header: str) -> None:
    """A prototype with ``uint8_t *scratch`` also takes ``uint32_t scratch_size`` and has its size function."""
    text = (crt_root() / "include" / "microaot" / "kernels" / header).read_text()
    protos = re.findall(r"uaot_status_t (uaot_\w+)\(([^;]*)\);", text)
    assert protos
    for name, args in protos:
        if "scratch" not in args and header == "mve.h":  # mve.h: the depthwise and FC kernels take none
            continue
        assert "uint8_t *scratch, uint32_t scratch_size" in " ".join(args.split()), name
        assert f"{name}_scratch_size(" in text, name


def _ic_schedules(graph: Graph) -> dict[int, dict[str, Any]]:
    """IC with every CONV_2D on x16 (w16) where legal, else the gemm cols=3 wexp: the scratch-hungry variants."""
    from microaot.schedules import op_space

    out: dict[int, dict[str, Any]] = {}
    for op in graph.operators:
        if op.opcode == "CONV_2D":
            algos = op_space(graph, op, TARGET).get("algo", [])
            out[op.index] = ({"algo": "x16", "w16": True} if "x16" in algos else
                             {"algo": "gemm", "cols": 3, "w16": False, "wexp": True})
    return out


@pytest.mark.parametrize("key", ["kws", "ad", "ic"])
def test_generated_calls_pass_enough_scratch_in_checked_builds(key: str, tmp_path: Path) -> None:
    """The cortex-m4 code of the MLPerf models built with -DUAOT_CHECKS (host gcc, the kernels' portable C):
    every kernel call passes at least its *_scratch_size() (else UAOT_ERR_SCRATCH fails the run), in place
    through uaot_conv_s8_rows and the pair kernel too; outputs equal TFLM's."""
    from conftest import mlperf_model
    from microaot.compiler import compile_model
    from microaot.frontend.tflite import load_tflite
    from microaot.hostbuild import build_model_shared_lib, run_compiled
    from microaot.reference import run_reference

    model = mlperf_model(key)
    sched = _ic_schedules(load_tflite(model)) if key == "ic" else None
    r = compile_model(model, tmp_path / "gen", target=TARGET, schedules=sched)
    src = r.sources[0].read_text()
    assert re.search(r"\(ws \+ \d+\), \d+u[,)]", src)  # scratch pointer, then its size
    if key == "ic":
        assert "uaot_conv2d_s8_x16_s" in src and "rows_s, rows_n" in src
    lib = build_model_shared_lib(r, tmp_path / "lib", extra_cflags=["-DUAOT_CHECKS"])
    g = r.graph
    rng = np.random.default_rng(5)
    xs = [rng.integers(-128, 128, g.tensors[t].shape).astype(np.int8) for t in g.inputs]
    got = run_compiled(r, lib, xs)
    want = run_reference(model, [xs])[0]
    for a, b in zip(got, want, strict=True):
        assert np.array_equal(a.reshape(-1), b.reshape(-1))
