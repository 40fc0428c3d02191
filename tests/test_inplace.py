"""In-place operators end to end: row-driven CONV_2D / DEPTHWISE_CONV_2D and elementwise ADD.

Seeded random geometries (kernel, stride, dilation, padding, channel counts) in a model where the
convolution's input and output both live in the workspace (ADD -> conv -> ADD), compiled for the
portable kernels and for the Cortex-M4 schedules (gemm / simd4, run here on their portable
emulation), built with the host gcc and compared byte for byte with TFLM. The four MLPerf models
with the Cortex-M4 schedules (the host test suite covers the generic ones), and the RAM target of
issue 6: workspace <= 0.67 x TFLM's arena on every model, kernel scratch included."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from conftest import MLPERF_MODELS, mlperf_model
from microaot.compiler import compile_model
from microaot.frontend.tflite import load_tflite
from microaot.hostbuild import build_model_shared_lib, generic_op_hashes, run_compiled, run_compiled_op_hashes
from microaot.paths import shared_models_dir
from microaot.reference import run_reference
from microaot.rpc.protocol import differing_ops, fnv1a32
from microaot.testing import m4run
from microaot.testing import modelgen as mg

# TFLM's arena for the four models (RecordingMicroAllocator total: activations "head" + persistent
# "tail"), as published in shared/models/README.md and shared/DESIGN.md
TFLM_ARENA = {"kws": 24272, "vww": 103680, "ic": 55984, "ad": 3984}
RAM_TARGET = 0.67
TARGETS = ("generic", "cortex-m4")


def _conv_chain(rng: np.random.Generator, *, depthwise: bool, shape: tuple[int, int, int, int],
                filters: int, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
                padding: str, dm: int = 1) -> bytes:
    """input -> ADD(x, x) -> t -> CONV/DEPTHWISE(t) -> y -> ADD(y, y) -> output (t and y in the workspace)."""
    n, h, w, c = shape
    kh, kw = kernel
    in_q = mg.random_actq(rng)
    mb = mg.ModelBuilder()
    x = mb.add_input("input", shape, "int8", quant=in_q.quant)
    t_q = mg.ActQ.from_range(-8.0, 8.0)
    t = mb.add_tensor("t", shape, "int8", quant=t_q.quant)
    mb.add_operator("ADD", [x, x], [t], mg.AddOptions("NONE"))
    if depthwise:
        oc = c * dm
        wf = rng.normal(0, 1.0, size=(1, kh, kw, oc))
        axis = 3
    else:
        oc = filters
        wf = rng.normal(0, 1.0, size=(oc, kh, kw, c))
        axis = 0
    wq, wquant = mg.quantize_weights(wf, axis)
    bq, bquant = mg.quantize_bias(rng.normal(0, 0.5, size=(oc,)), t_q.scale, wquant)
    wt = mb.add_const("weights", wq, "int8", quant=wquant)
    bt = mb.add_const("bias", bq, "int32", quant=bquant)
    oh = mg._conv_out_size(h, kh, stride[0], dilation[0], padding)  # noqa: SLF001
    ow = mg._conv_out_size(w, kw, stride[1], dilation[1], padding)  # noqa: SLF001
    fan = kh * kw * (1 if depthwise else c)
    y_q = mg._output_range_guess(t_q, wf, fan, rng)  # noqa: SLF001
    y = mb.add_tensor("y", (n, oh, ow, oc), "int8", quant=y_q.quant)
    if depthwise:
        opts: mg.Options = mg.DepthwiseConv2DOptions(padding, stride[1], stride[0], dm, "RELU", dilation[1],
                                                    dilation[0])
        mb.add_operator("DEPTHWISE_CONV_2D", [t, wt, bt], [y], opts)
    else:
        opts = mg.Conv2DOptions(padding, stride[1], stride[0], "NONE", dilation[1], dilation[0])
        mb.add_operator("CONV_2D", [t, wt, bt], [y], opts)
    z = mb.add_tensor("z", (n, oh, ow, oc), "int8", quant=mg.ActQ(y_q.scale * 2, y_q.zero_point).quant)
    mb.add_operator("ADD", [y, y], [z], mg.AddOptions("NONE"))
    mb.set_outputs([z])
    return mb.to_bytes()


def _cases(n: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(66)
    out: list[dict[str, object]] = []
    while len(out) < n:
        dw = bool(rng.integers(0, 2))
        kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        dh = int(rng.integers(1, 3)) if rng.random() < 0.3 else 1
        h, w, c = int(rng.integers(3, 14)), int(rng.integers(1, 7)), int(rng.choice([1, 3, 4, 8, 16]))
        pad = "SAME" if rng.random() < 0.6 else "VALID"
        if mg._conv_out_size(h, kh, sh, dh, pad) < 1 or mg._conv_out_size(w, kw, sw, 1, pad) < 1:  # noqa: SLF001
            continue
        out.append({"depthwise": dw, "shape": (1, h, w, c), "filters": int(rng.integers(1, 3 * c + 2)),
                    "kernel": (kh, kw), "stride": (sh, sw), "dilation": (dh, 1), "padding": pad,
                    "dm": int(rng.choice([1, 1, 2]))})
    return out


CASES = _cases(24)


@pytest.mark.parametrize("target", TARGETS)
def test_row_driven_inplace_conv_is_bit_exact(tmp_path: Path, target: str) -> None:
    taken = 0
    failures: list[str] = []
    for i, case in enumerate(CASES):
        rng = np.random.default_rng(1000 + i)
        path = tmp_path / f"case{i}.tflite"
        path.write_bytes(_conv_chain(rng, **case))  # type: ignore[arg-type]
        d = tmp_path / f"b{i}"
        r = compile_model(path, d, name=f"ip{i}", target=target)
        conv_op = 1
        if conv_op in r.plan.inplace_ops:
            taken += 1
            assert r.plan.inplace_ops[conv_op].variant in ("rows_fwd", "rows_bwd")
            # the depthwise pair kernel runs the placement itself (mode 1 / 2), every other kernel row by row
            src = r.sources[0].read_text()
            assert "uaot_conv_s8_rows" in src or re.search(r"uaot_dw3x3_s8_pair\(.*, [12]\);", src), src[-1500:]
        lib = build_model_shared_lib(r, d)
        shape = r.graph.tensors[r.graph.inputs[0]].shape
        xs = [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(3)]
        ref = run_reference(path, [[x] for x in xs])
        for k, x in enumerate(xs):
            got = run_compiled(r, lib, [x])[0]
            if not np.array_equal(got, ref[k][0]):
                failures.append(f"case {i} {case} input {k}: {int(np.sum(got != ref[k][0]))} values differ "
                                f"(in place: {r.plan.inplace_ops.get(conv_op)})")
    assert not failures, "\n".join(failures)
    assert taken >= len(CASES) // 2, f"only {taken}/{len(CASES)} convolutions ran in place"


# DEPTHWISE_CONV_2D pair (crt/kernels/dw_fast.c) runs the rows_fwd / rows_bwd placements itself (mode 1 / 2):
# whole-row ring, and column strips narrower than the row (then row by row, re-expanding)
DW_PAIR_INPLACE = [
    ((1, 9, 5, 8), (1, 1), "SAME", 0, 1),
    ((1, 10, 7, 4), (1, 1), "VALID", 0, 2),
    ((1, 12, 6, 12), (2, 2), "SAME", 0, 2),
    ((1, 8, 8, 16), (1, 1), "SAME", 2, 1),
    ((1, 12, 6, 12), (2, 1), "VALID", 4, 2),
    # C % 4 != 0: the padded groups' extra output bytes stay inside the row being written
    ((1, 10, 7, 5), (1, 1), "VALID", 0, 2),
    ((1, 9, 5, 3), (1, 1), "SAME", 2, 1),
]


@pytest.mark.parametrize("case", range(len(DW_PAIR_INPLACE)))
def test_dw_pair_in_place_bit_exact_host_and_m4(tmp_path: Path, case: int) -> None:
    shape, stride, padding, cols, mode = DW_PAIR_INPLACE[case]
    rng = np.random.default_rng(500 + case)
    path = tmp_path / "dw.tflite"
    path.write_bytes(_conv_chain(rng, depthwise=True, shape=shape, filters=shape[3], kernel=(3, 3), stride=stride,
                                 dilation=(1, 1), padding=padding))
    r = compile_model(path, tmp_path / "b", name="dwp", target="cortex-m4",
                      schedules={1: {"algo": "pair", "cols": cols}})
    # each case is here to cover one direction: if the planner places it otherwise, pick another geometry
    assert r.plan.inplace_ops[1].variant == ("rows_fwd" if mode == 1 else "rows_bwd"), r.plan.inplace_ops.get(1)
    call = re.search(r"uaot_dw3x3_s8_pair\(.*, (\d+), ([01]), ([012])\);", r.sources[0].read_text())
    assert call is not None and call.group(3) == str(mode), call
    xs = [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(2)]
    ref = run_reference(path, [[x] for x in xs])
    lib = build_model_shared_lib(r, tmp_path / "b")
    for k, x in enumerate(xs):
        assert np.array_equal(run_compiled(r, lib, [x])[0], ref[k][0]), f"host, input {k}"
        outs, hashes = run_compiled_op_hashes(r, lib, [x])
        assert np.array_equal(outs[0], ref[k][0]) and hashes[-1] == fnv1a32(outs[0].tobytes())
    if m4run.available():
        run = m4run.run_m4(r, [[x] for x in xs], tmp_path / "m4", timeout=60)
        for k in range(len(xs)):
            assert np.array_equal(run.outputs[k][0].reshape(-1), ref[k][0].reshape(-1)), f"Cortex-M4, input {k}"
            # every intermediate tensor too: the in-place M4 build vs the generic-C build on the host
            want = generic_op_hashes(path, [xs[k]], tmp_path / f"generic{k}")[0]
            assert run.op_hashes is not None and len(want) == len(r.graph.operators), f"input {k}"
            assert differing_ops(run.op_hashes[k], want) == [], f"input {k}"


# CONV_2D x16 in place: through the row driver, each call expanding its k_h input rows into the ring first
X16_INPLACE = [((1, 9, 7, 16), (1, 1), "SAME", 16, (3, 3)), ((1, 11, 10, 8), (2, 2), "VALID", 8, (3, 2)),
               ((1, 8, 9, 16), (1, 1), "SAME", 11, (5, 2))]


@pytest.mark.parametrize("case", range(len(X16_INPLACE)))
def test_x16_in_place_bit_exact_host_and_m4(tmp_path: Path, case: int) -> None:
    shape, stride, padding, filters, kernel = X16_INPLACE[case]
    rng = np.random.default_rng(700 + case)
    path = tmp_path / "x16.tflite"
    path.write_bytes(_conv_chain(rng, depthwise=False, shape=shape, filters=filters, kernel=kernel, stride=stride,
                                 dilation=(1, 1), padding=padding))
    r = compile_model(path, tmp_path / "b", name="x16", target="cortex-m4", schedules={1: {"algo": "x16", "w16": True}})
    assert r.plan.inplace_ops[1].variant in ("rows_fwd", "rows_bwd"), r.plan.inplace_ops.get(1)
    src = r.sources[0].read_text()  # the row driver calls a wrapper of the x16 kernel per output row
    assert "uaot_conv_s8_rows(&x16_op1_p," in src and re.search(r"return uaot_conv2d_s8_x16_s\d+_w16\(rows_p", src)
    xs = [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(2)]
    ref = run_reference(path, [[x] for x in xs])
    lib = build_model_shared_lib(r, tmp_path / "b")
    for k, x in enumerate(xs):
        assert np.array_equal(run_compiled(r, lib, [x])[0], ref[k][0]), f"host, input {k}"
    if m4run.available():
        run = m4run.run_m4(r, [[x] for x in xs], tmp_path / "m4", timeout=60)
        for k in range(len(xs)):
            assert np.array_equal(run.outputs[k][0].reshape(-1), ref[k][0].reshape(-1)), f"Cortex-M4, input {k}"


@pytest.mark.parametrize("key", list(MLPERF_MODELS))
def test_mlperf_cortex_m4_schedules_in_place_bit_exact(tmp_path: Path, key: str) -> None:
    r = compile_model(mlperf_model(key), tmp_path, target="cortex-m4")
    lib = build_model_shared_lib(r, tmp_path)
    shape = r.graph.tensors[r.graph.inputs[0]].shape
    xs = [np.random.default_rng(s).integers(-128, 128, size=shape, dtype=np.int8) for s in range(5)]
    ref = run_reference(mlperf_model(key), [[x] for x in xs])
    for s, x in enumerate(xs):
        assert np.array_equal(run_compiled(r, lib, [x])[0], ref[s][0]), f"{key} seed {s}"
    if key != "ad":  # the autoencoder is fully connected only: nothing can run in place
        assert r.plan.inplace_ops


def test_lean_gemm_cols_at_the_peak(tmp_path: Path) -> None:
    """schedules.plan_schedules: a conv on its default gemm cols=3 whose scratch is the workspace peak gets
    its lean alternative cols=2 (4·Kp instead of 6·Kp bytes) when that shrinks the workspace; an explicit
    schedule is left alone. (A single conv: its input and output are caller buffers, the workspace is its
    scratch alone; Kp = 3·3·64 = 576: cols=2 saves 1,152 B, more than LEAN_MIN_BYTES and 1/16 of it.)"""
    from microaot.ops._schedule import lean_schedule
    from microaot.schedules import plan_schedules

    path = tmp_path / "conv.tflite"
    path.write_bytes(mg.conv2d_model(np.random.default_rng(5), input_shape=(1, 8, 8, 64), filters=8,
                                     kernel=(3, 3)))
    g = load_tflite(path)
    cols2 = {"algo": "gemm", "cols": 2, "w16": False}
    assert lean_schedule(g, g.operators[0], "cortex-m4") == cols2
    assert lean_schedule(g, g.operators[0], "generic") is None
    plan, sched = plan_schedules(g, "cortex-m4")  # int16 weights by default (w16_defaults), kept by the lean pass
    assert sched == {0: {**cols2, "w16": True}} and plan.workspace_size == 4 * 576 and plan.scratch == {0: 0}
    r = compile_model(path, tmp_path / "d", target="cortex-m4")
    assert r.workspace_size == 4 * 576, r.workspace_size
    assert "uaot_conv2d_s8_gemm_c2_w16(" in r.sources[0].read_text()
    forced = compile_model(path, tmp_path / "f", target="cortex-m4", schedules={0: {"cols": 3}})
    assert forced.workspace_size == 6 * 576
    assert "uaot_conv2d_s8_gemm_c3(" in forced.sources[0].read_text()


def test_inplace_pointwise_gemm_runs_whole_tensor(tmp_path: Path) -> None:
    """KWS's 1x1 64->64 convs run in place (rows_fwd: the output at or below the input) as one gemm call
    over the whole tensor, not through the row driver (conv_inplace.py); bit-exactness: the test above
    (host, 5 seeds) and test_schedules' MLPerf-on-QEMU-M4 test."""
    r = compile_model(mlperf_model("kws"), tmp_path, target="cortex-m4")
    src = r.sources[0].read_text()
    pw = [op.index for op in r.graph.operators
          if op.opcode == "CONV_2D" and tuple(r.graph.tensors[op.inputs[1]].shape[1:3]) == (1, 1)]
    assert len(pw) == 4
    for i in pw:
        taken = r.plan.inplace_ops[i]
        assert taken.variant == "rows_fwd" and taken.delta >= 0, (i, taken)
        assert re.search(rf"status = uaot_conv2d_s8_gemm_c3(_w16)?\(&kws_dscnn_int8_op{i}_p,", src), i
    assert "uaot_conv_s8_rows(" not in src.split("_run_ex(")[-1]


def test_published_arena_figures() -> None:
    readme = shared_models_dir() / "README.md"
    if not readme.is_file():
        pytest.skip("shared/models/README.md not available")
    text = readme.read_text()
    for key, arena in TFLM_ARENA.items():
        assert f"total {arena:,} B" in text, key


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("key", list(MLPERF_MODELS))
def test_workspace_within_two_thirds_of_tflm_arena(tmp_path: Path, key: str, target: str) -> None:
    r = compile_model(mlperf_model(key), tmp_path, target=target)
    plan = r.plan
    # the workspace holds every activation and every kernel's scratch (the planner places both)
    assert set(plan.scratch) <= set(range(len(r.graph.operators)))
    ratio = r.workspace_size / TFLM_ARENA[key]
    assert ratio <= RAM_TARGET, (key, target, r.workspace_size, TFLM_ARENA[key], ratio)
    assert plan.inplace_bound <= plan.lower_bound <= r.workspace_size
    assert plan.inplace_bound <= plan.liveness_bound


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("key", list(MLPERF_MODELS))
def test_workspace_plus_io_buffers_within_two_thirds_of_tflm_arena(tmp_path: Path, key: str, target: str) -> None:
    """TFLM's arena also holds the input and output tensors; here the caller's buffers are counted too."""
    r = compile_model(mlperf_model(key), tmp_path, target=target)
    io = sum(r.graph.tensors[t].nbytes for t in (*r.graph.inputs, *r.graph.outputs))
    assert (r.workspace_size + io) / TFLM_ARENA[key] <= RAM_TARGET, (key, target, r.workspace_size + io)


ROWS_C = r"""
#include <stdint.h>
#include <string.h>

#include "microaot/kernels/conv.h"
#include "microaot/kernels/conv_rows.h"

#define H 7
#define W 3
#define C 4
#define IR (W * C)
#define N (H * IR)

static const int32_t bias[C] = {100, -50, 7, 0};
static const int32_t mult[C] = {1518500250, 1073741824, 2000000000, 1300000000};
static const int32_t shift[C] = {-7, -6, -8, -7};
static int8_t filt[9 * C];

static uaot_status_t dw(const uaot_conv_s8_params_t *p, const int8_t *x, const int8_t *w, int8_t *y, uint8_t *s,
                        uint32_t n)
{
    (void)s;
    (void)n;
    return uaot_depthwise_conv2d_s8(p, x, w, y);
}

int main(void)
{
    static const uaot_conv_s8_params_t p = {
        .batches = 1, .in_h = H, .in_w = W, .in_c = C, .out_h = H, .out_w = W, .out_c = C, .k_h = 3, .k_w = 3,
        .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_top = 1, .pad_left = 1, .depth_mult = 1,
        .input_offset = 5, .output_offset = -3, .act_min = -128, .act_max = 127,
        .bias = bias, .mult = mult, .shift = shift};
    static int8_t x[N], want[N], mem[N + 4 * IR];
    for (int i = 0; i < N; ++i) {
        x[i] = (int8_t)((i * 37 + 11) % 256 - 128);
    }
    for (int i = 0; i < 9 * C; ++i) {
        filt[i] = (int8_t)((i * 53 + 3) % 256 - 128);
    }
    if (uaot_depthwise_conv2d_s8(&p, x, filt, want) != UAOT_OK) {
        return 10;
    }
    /* forward: input two rows above the output; backward: two rows below */
    for (int rev = 0; rev < 2; ++rev) {
        memset(mem, 0x55, sizeof mem);
        int8_t *in = rev ? mem : mem + 2 * IR;
        int8_t *out = rev ? mem + 2 * IR : mem;
        memcpy(in, x, N);
        if (uaot_conv_s8_rows(&p, in, filt, out, NULL, 0u, dw, rev) != UAOT_OK) {
            return 20 + rev;
        }
        if (memcmp(out, want, N) != 0) {
            return 30 + rev;
        }
    }
    /* one row too close: refused before the row that would clobber its own input is written */
    for (int rev = 0; rev < 2; ++rev) {
        memset(mem, 0x55, sizeof mem);
        int8_t *in = rev ? mem : mem + IR;
        int8_t *out = rev ? mem + IR : mem;
        memcpy(in, x, N);
        if (uaot_conv_s8_rows(&p, in, filt, out, NULL, 0u, dw, rev) != UAOT_ERR_ARG) {
            return 40 + rev;
        }
    }
    /* separate buffers are fine in both directions */
    static int8_t y[N];
    for (int rev = 0; rev < 2; ++rev) {
        if (uaot_conv_s8_rows(&p, x, filt, y, NULL, 0u, dw, rev) != UAOT_OK || memcmp(y, want, N) != 0) {
            return 50 + rev;
        }
    }
    return 0;
}
"""


def test_row_driver_in_c(tmp_path: Path) -> None:
    """uaot_conv_s8_rows: same bytes as the kernel on separate buffers, in place in both directions,
    and UAOT_ERR_ARG when the output would overwrite input rows still to be read."""
    import subprocess

    from microaot.hostbuild import compile_c
    from microaot.paths import crt_root

    src = tmp_path / "rows_test.c"
    src.write_text(ROWS_C)
    exe = compile_c([src, crt_root() / "kernels" / "conv.c", crt_root() / "kernels" / "conv_rows.c"],
                    tmp_path / "rows_test", kind="exe")
    assert subprocess.run([str(exe)], check=False).returncode == 0


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_inplace_add_chain_bit_exact(tmp_path: Path, dtype: str) -> None:
    """x -> ADD(x, x) -> a -> ADD(a, b=ADD(x, x)) -> c -> ADD(c, c) -> out: the middle ADD writes over a dead input."""
    rng = np.random.default_rng(7)
    shape = (1, 5, 7, 3)
    mb = mg.ModelBuilder()
    q = [mg.random_actq(rng, 2.0 * (k + 1)) for k in range(5)]

    def act(name: str, k: int, inp: bool = False) -> int:
        quant = q[k].quant if dtype == "int8" else None
        return mb.add_input(name, shape, dtype, quant=quant) if inp else mb.add_tensor(name, shape, dtype, quant=quant)

    x = act("x", 0, inp=True)
    a, b, c, out = act("a", 1), act("b", 2), act("c", 3), act("out", 4)
    mb.add_operator("ADD", [x, x], [a], mg.AddOptions("NONE"))
    mb.add_operator("ADD", [x, x], [b], mg.AddOptions("RELU"))
    mb.add_operator("ADD", [a, b], [c], mg.AddOptions("NONE"))
    mb.add_operator("ADD", [c, c], [out], mg.AddOptions("NONE"))
    mb.set_outputs([out])
    path = tmp_path / "adds.tflite"
    path.write_bytes(mb.to_bytes())
    r = compile_model(path, tmp_path / "b")
    assert 2 in r.plan.inplace_ops and r.plan.inplace_ops[2].variant == "elementwise"
    assert r.plan.locations[c] in (r.plan.locations[a], r.plan.locations[b])
    lib = build_model_shared_lib(r, tmp_path / "b")
    xs = [mg.random_input(rng, shape, dtype) for _ in range(4)]
    ref = run_reference(path, [[v] for v in xs])
    for k, v in enumerate(xs):
        assert np.array_equal(run_compiled(r, lib, [v])[0], ref[k][0]), k
