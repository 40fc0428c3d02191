"""Data-movement, reduction and resize operators (issue 18) against TFLM, byte for byte.

Single-operator models from ``microaot.testing.modelgen.op_model`` for every operator x element type
TFLM runs it with x edge parameters (negative axes, begin/end/ellipsis/new-axis/shrink masks,
negative strides, keep_dims both ways, align_corners / half_pixel_centers, crops and paddings...),
all compiled at once and run on the host (``microaot.testing.batch``) and by TFLM. Every output
must be byte-identical with TFLM, float32 included (these operators move values or sum them in
TFLM's order). Test ids read ``<OP>-<case>-<dtype>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from microaot.testing import modelgen as mg
from microaot.testing.batch import compile_and_build, run_reference_many
from microaot.testing.modelgen import TIn, TOut

N_SETS = 2
ALL_MOVE = ("int8", "int16", "float32", "int32", "bool")
NOBOOL = ("int8", "int16", "float32", "int32")

Builder = Callable[[np.random.Generator, str], bytes]


@dataclass(frozen=True)
class Spec:
    op: str
    case: str
    dtype: str
    build: Builder

    @property
    def id(self) -> str:
        return f"{self.op}-{self.case}-{self.dtype}"


def _q(rng: np.random.Generator, dtype: str) -> mg.ActQ | None:
    if dtype == "int8":
        return mg.random_actq(rng)
    if dtype == "int16":
        return mg.ActQ(float(rng.uniform(1e-4, 1e-3)), 0)
    return None


def _ti(shape: Sequence[int], dtype: str, q: mg.ActQ | None) -> TIn:
    return TIn(tuple(shape), dtype, None, q)


def _to(shape: Sequence[int], dtype: str, q: mg.ActQ | None) -> TOut:
    return TOut(tuple(shape), dtype, q)


def _c32(values: Sequence[int]) -> TIn:
    return TIn((len(values),), "int32", np.array(values, np.int32))


def _opt(table: str, **fields: object) -> mg.TableOptions:
    return mg.TableOptions(table, tuple(fields.items()))


# ---- data movement ----------------------------------------------------------------------------


def _np_index(begin: Sequence[int], end: Sequence[int], strides: Sequence[int],
              masks: dict[str, int]) -> tuple[object, ...]:
    """The numpy index of a strided slice (masks as TF)."""
    idx: list[object] = []
    for i in range(len(begin)):
        if (masks.get("ellipsis_mask", 0) >> i) & 1:
            idx.append(Ellipsis)
        elif (masks.get("new_axis_mask", 0) >> i) & 1:
            idx.append(None)
        elif (masks.get("shrink_axis_mask", 0) >> i) & 1:
            idx.append(begin[i])
        else:
            b = None if (masks.get("begin_mask", 0) >> i) & 1 else begin[i]
            e = None if (masks.get("end_mask", 0) >> i) & 1 else end[i]
            if masks.get("offset", 0) and e is not None:
                e = (begin[i] + e)
            idx.append(slice(b, e, strides[i]))
    return tuple(idx)


def _np_strided_slice(shape: Sequence[int], begin: Sequence[int], end: Sequence[int], strides: Sequence[int],
                      masks: dict[str, int]) -> tuple[int, ...]:
    """The output shape numpy gives for the slice, to build the model's output tensor."""
    return tuple(np.zeros(shape)[_np_index(begin, end, strides, masks)].shape)


def _strided_slice(shape: tuple[int, ...], begin: list[int], end: list[int], strides: list[int],
                   **masks: int) -> Builder:
    def build(rng: np.random.Generator, dt: str) -> bytes:
        q = _q(rng, dt)
        out = _np_strided_slice(shape, begin, end, strides, masks)
        opts = _opt("StridedSliceOptions", BeginMask=masks.get("begin_mask", 0), EndMask=masks.get("end_mask", 0),
                    EllipsisMask=masks.get("ellipsis_mask", 0), NewAxisMask=masks.get("new_axis_mask", 0),
                    ShrinkAxisMask=masks.get("shrink_axis_mask", 0), Offset=bool(masks.get("offset", 0)))
        return mg.op_model("STRIDED_SLICE", [_ti(shape, dt, q), _c32(begin), _c32(end), _c32(strides)],
                           [_to(out, dt, q)], opts)
    return build


def _movement_specs() -> list[Spec]:
    out: list[Spec] = []

    def add(op: str, case: str, build: Builder, dtypes: Sequence[str] = ALL_MOVE) -> None:
        out.extend(Spec(op, case, d, build) for d in dtypes)

    ss = _strided_slice
    add("STRIDED_SLICE", "basic", ss((1, 6, 5, 4), [0, 1, 0, 1], [1, 5, 5, 3], [1, 1, 2, 1]))
    add("STRIDED_SLICE", "masks_neg", ss((2, 7, 6), [1, -5, -1], [0, -1, 0], [1, 2, -1], begin_mask=1, end_mask=5),
        ("int8", "float32", "int16"))
    add("STRIDED_SLICE", "shrink", ss((3, 8, 4), [1, 2, 0], [2, 7, 4], [1, 2, 1], shrink_axis_mask=1),
        ("int8", "float32", "int32"))
    add("STRIDED_SLICE", "neg_stride_clamp", ss((9, 5), [20, -2], [-20, 0], [-3, -1]), ("int8", "float32"))

    def slice_(shape: tuple[int, ...], begin: list[int], size: list[int]) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            o = [shape[d] - begin[d] if size[d] == -1 else size[d] for d in range(len(shape))]
            return mg.op_model("SLICE", [_ti(shape, dt, q), _c32(begin), _c32(size)], [_to(o, dt, q)])
        return build

    add("SLICE", "rank4", slice_((2, 5, 6, 3), [1, 1, 2, 0], [1, 3, -1, 2]))
    add("SLICE", "rank2_full_rows", slice_((7, 9), [2, 0], [4, -1]), ("int8", "float32"))

    def split(shape: tuple[int, ...], axis: int, num: int) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            o = list(shape)
            o[axis % len(shape)] //= num
            return mg.op_model("SPLIT", [TIn((1,), "int32", np.array([axis], np.int32)), _ti(shape, dt, q)],
                               [_to(o, dt, q)] * num, _opt("SplitOptions", NumSplits=num))
        return build

    add("SPLIT", "axis3", split((1, 4, 3, 6), 3, 3), NOBOOL)
    add("SPLIT", "neg_axis", split((2, 6, 5), -2, 2), ("int8", "float32"))
    add("SPLIT", "axis0", split((4, 3), 0, 4), ("int8",))

    def split_v(shape: tuple[int, ...], sizes: list[int], axis: int) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            a = axis % len(shape)
            real = list(sizes)
            if -1 in real:
                real[real.index(-1)] = shape[a] - (sum(real) + 1)
            outs = [_to([*shape[:a], n, *shape[a + 1:]], dt, q) for n in real]
            return mg.op_model("SPLIT_V",
                               [_ti(shape, dt, q), _c32(sizes), TIn((1,), "int32", np.array([axis], np.int32))],
                               outs, _opt("SplitVOptions", NumSplits=len(sizes)))
        return build

    add("SPLIT_V", "axis1", split_v((2, 7, 3), [2, 4, 1], 1), NOBOOL)
    add("SPLIT_V", "minus1_neg_axis", split_v((3, 8), [3, -1], -1), ("int8", "float32"))

    def pack(shape: tuple[int, ...], n: int, axis: int) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            r = len(shape) + 1
            a = axis % r
            o = [*shape[:a], n, *shape[a:]]
            return mg.op_model("PACK", [_ti(shape, dt, q)] * n, [_to(o, dt, q)],
                               _opt("PackOptions", ValuesCount=n, Axis=axis))
        return build

    add("PACK", "axis0", pack((3, 4), 3, 0), NOBOOL)
    add("PACK", "axis_last", pack((2, 3, 2), 2, -1), ("int8", "float32"))
    add("PACK", "axis1", pack((2, 5), 4, 1), ("int8", "int32"))

    def unpack(shape: tuple[int, ...], axis: int) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            a = axis % len(shape)
            o = [d for i, d in enumerate(shape) if i != a]
            return mg.op_model("UNPACK", [_ti(shape, dt, q)], [_to(o, dt, q)] * shape[a],
                               _opt("UnpackOptions", Num=shape[a], Axis=axis))
        return build

    add("UNPACK", "axis0", unpack((3, 4, 2), 0), NOBOOL)
    add("UNPACK", "neg_axis", unpack((2, 5, 3), -1), ("int8", "float32"))

    def transpose(shape: tuple[int, ...], perm: list[int]) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            return mg.op_model("TRANSPOSE", [_ti(shape, dt, q), _c32(perm)], [_to([shape[p] for p in perm], dt, q)])
        return build

    add("TRANSPOSE", "nhwc_nchw", transpose((2, 3, 4, 5), [0, 3, 1, 2]), ("int8", "int16", "float32"))
    add("TRANSPOSE", "rank2", transpose((7, 3), [1, 0]), ("int8", "float32"))
    add("TRANSPOSE", "rank5", transpose((2, 1, 3, 2, 4), [4, 2, 0, 3, 1]), ("int8", "float32"))

    def view(op: str, shape: tuple[int, ...], out: tuple[int, ...], arg: int | Sequence[int] | None) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            if op == "EXPAND_DIMS":
                return mg.op_model(op, [_ti(shape, dt, q), TIn((1,), "int32", np.array([arg], np.int32))],
                                   [_to(out, dt, q)])
            return mg.op_model(op, [_ti(shape, dt, q)], [_to(out, dt, q)], mg.SqueezeOptions(tuple(arg or ())))  # type: ignore[arg-type]
        return build

    add("SQUEEZE", "given_dims", view("SQUEEZE", (1, 3, 1, 4), (3, 4), [0, -2]))
    add("SQUEEZE", "all_ones", view("SQUEEZE", (1, 5, 1), (5,), None), ("int8", "float32"))
    add("EXPAND_DIMS", "axis1", view("EXPAND_DIMS", (3, 4), (3, 1, 4), 1), ("int8", "int16", "float32"))
    add("EXPAND_DIMS", "neg_axis", view("EXPAND_DIMS", (3, 4), (3, 4, 1), -1), ("int8", "float32"))

    def d2s(op: str, shape: tuple[int, ...], b: int) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            n, h, w, c = shape
            o = (n, h * b, w * b, c // (b * b)) if op == "DEPTH_TO_SPACE" else (n, h // b, w // b, c * b * b)
            tab = "DepthToSpaceOptions" if op == "DEPTH_TO_SPACE" else "SpaceToDepthOptions"
            return mg.op_model(op, [_ti(shape, dt, q)], [_to(o, dt, q)], _opt(tab, BlockSize=b))
        return build

    for dt_set in (("int8", "float32"),):
        add("DEPTH_TO_SPACE", "b2", d2s("DEPTH_TO_SPACE", (2, 3, 2, 8), 2), dt_set)
        add("DEPTH_TO_SPACE", "b3", d2s("DEPTH_TO_SPACE", (1, 2, 2, 18), 3), ("int8",))
        add("SPACE_TO_DEPTH", "b2", d2s("SPACE_TO_DEPTH", (2, 4, 6, 3), 2), dt_set)

    def b2s(shape: tuple[int, ...], block: list[int], crops: list[int]) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            sp = len(block)
            o = [shape[0] // int(np.prod(block))]
            o += [shape[1 + i] * block[i] - crops[2 * i] - crops[2 * i + 1] for i in range(sp)]
            o += list(shape[1 + sp:])
            cr = TIn((sp, 2), "int32", np.array(crops, np.int32).reshape(sp, 2))
            return mg.op_model("BATCH_TO_SPACE_ND", [_ti(shape, dt, q), _c32(block), cr], [_to(o, dt, q)])
        return build

    add("BATCH_TO_SPACE_ND", "b2x2", b2s((4, 3, 2, 3), [2, 2], [0, 0, 0, 0]), ("int8", "float32"))
    add("BATCH_TO_SPACE_ND", "crops", b2s((12, 3, 4, 2), [2, 3], [1, 0, 2, 1]), ("int8", "float32"))
    add("BATCH_TO_SPACE_ND", "rank3", b2s((6, 4, 3), [3], [1, 2]), ("int8", "float32"))

    def s2b(shape: tuple[int, ...], block: list[int], pads: list[int]) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            sp = len(block)
            o = [shape[0] * int(np.prod(block))]
            o += [(shape[1 + i] + pads[2 * i] + pads[2 * i + 1]) // block[i] for i in range(sp)]
            o += list(shape[1 + sp:])
            pd = TIn((sp, 2), "int32", np.array(pads, np.int32).reshape(sp, 2))
            return mg.op_model("SPACE_TO_BATCH_ND", [_ti(shape, dt, q), _c32(block), pd], [_to(o, dt, q)])
        return build

    add("SPACE_TO_BATCH_ND", "b2x2", s2b((2, 4, 6, 3), [2, 2], [0, 0, 0, 0]), ("int8", "float32"))

    def concat(shapes: list[tuple[int, ...]], axis: int) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            o = list(shapes[0])
            o[axis % len(o)] = sum(s[axis % len(o)] for s in shapes)
            return mg.op_model("CONCATENATION", [_ti(s, dt, q) for s in shapes], [_to(o, dt, q)],
                               mg.ConcatenationOptions(axis))
        return build

    add("CONCATENATION", "axis0", concat([(2, 3, 4), (1, 3, 4)], 0), ("int8", "int16", "float32", "int32", "bool"))
    add("CONCATENATION", "axis1_3in", concat([(2, 3, 4), (2, 1, 4), (2, 2, 4)], 1), ("int8", "int16", "float32"))
    add("CONCATENATION", "neg_axis", concat([(2, 3, 2, 4), (2, 3, 2, 1)], -1), ("int8", "int16", "float32"))
    return out


def _reduce_specs() -> list[Spec]:
    out: list[Spec] = []

    def red(op: str, shape: tuple[int, ...], axes: list[int], keep: bool, same_q: bool = False) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q_in = _q(rng, dt)
            q_out = q_in if (same_q or op in ("REDUCE_MAX", "REDUCE_MIN")) else _q(rng, dt)
            if op == "SUM" and q_out is not None and dt == "int8":
                q_out = mg.ActQ(q_out.scale * float(np.sqrt(np.prod([shape[a] for a in axes]))), q_out.zero_point)
            norm = {a % len(shape) for a in axes}
            o = [1 if i in norm else d for i, d in enumerate(shape)] if keep else \
                [d for i, d in enumerate(shape) if i not in norm]
            return mg.op_model(op, [_ti(shape, dt, q_in), _c32(axes)], [_to(o, dt, q_out)], mg.ReducerOptions(keep))
        return build

    cases: list[tuple[str, tuple[int, ...], list[int], bool]] = [
        ("hw_keep", (1, 5, 4, 6), [1, 2], True),
        ("last_nokeep", (2, 3, 7), [-1], False),
        ("first_keep", (4, 3, 5), [0], True),
        ("three_axes", (2, 3, 4, 5), [0, 2, 3], False),
        ("all_axes_keep", (3, 4, 2), [0, 1, 2], True),
        ("dup_neg_axes", (3, 4, 5), [1, -2, 2], False),
    ]
    for op, dts in (("MEAN", ("int8", "int16", "float32")), ("SUM", ("int8", "int16", "float32")),
                    ("REDUCE_MAX", ("int8", "float32")), ("REDUCE_MIN", ("int8", "float32"))):
        for name, shape, axes, keep in cases:
            out.extend(Spec(op, name, d, red(op, shape, axes, keep)) for d in dts)
    out.append(Spec("MEAN", "same_q", "int8", red("MEAN", (1, 6, 6, 4), [1, 2], True, same_q=True)))

    def arg(op: str, shape: tuple[int, ...], axis: int, out_t: str) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            o = [d for i, d in enumerate(shape) if i != axis % len(shape)]
            tab = "ArgMaxOptions" if op == "ARG_MAX" else "ArgMinOptions"
            code = {"int32": 2, "int64": 4}[out_t]
            return mg.op_model(op, [_ti(shape, dt, q), _c32([axis])], [_to(o, out_t, None)], _opt(tab, OutputType=code))
        return build

    for op in ("ARG_MAX", "ARG_MIN"):
        for dt in ("int8", "float32"):
            out.append(Spec(op, "last", dt, arg(op, (2, 3, 9), -1, "int32")))
        out.append(Spec(op, "axis1", "int8", arg(op, (2, 7, 3), 1, "int32")))
        out.append(Spec(op, "axis0", "float32", arg(op, (5, 4), 0, "int32")))

    def gather(shape: tuple[int, ...], idx_shape: tuple[int, ...], axis: int, bd: int, idx_t: str) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            a = axis % len(shape)
            idx = rng.integers(0, shape[a], size=idx_shape)
            o = [*shape[:a], *idx_shape[bd:], *shape[a + 1:]]
            return mg.op_model("GATHER", [_ti(shape, dt, q), TIn(idx_shape, idx_t, idx)], [_to(o, dt, q)],
                               _opt("GatherOptions", Axis=axis, BatchDims=bd))
        return build

    for dt in ("int8", "float32"):
        out.append(Spec("GATHER", "axis0", dt, gather((6, 4), (3,), 0, 0, "int32")))
    out.append(Spec("GATHER", "axis1_2d_idx", "int8", gather((2, 5, 3), (2, 2), 1, 0, "int32")))
    out.append(Spec("GATHER", "neg_axis", "float32", gather((3, 4, 6), (4,), -1, 0, "int32")))
    out.append(Spec("GATHER", "batch_dims1", "int8", gather((2, 5, 3), (2, 4), 1, 1, "int32")))

    def resize(op: str, shape: tuple[int, ...], size: tuple[int, int], ac: bool, hp: bool,
               diff_q: bool = False) -> Builder:
        def build(rng: np.random.Generator, dt: str) -> bytes:
            q = _q(rng, dt)
            tab = "ResizeBilinearOptions" if op == "RESIZE_BILINEAR" else "ResizeNearestNeighborOptions"
            o = (shape[0], size[0], size[1], shape[3])
            return mg.op_model(op, [_ti(shape, dt, q), _c32(list(size))], [_to(o, dt, _q(rng, dt) if diff_q else q)],
                               _opt(tab, AlignCorners=ac, HalfPixelCenters=hp))
        return build

    rcases = [("up2", (1, 3, 4, 3), (6, 8), False, False), ("down", (2, 7, 9, 2), (3, 4), False, False),
              ("odd_align", (1, 5, 4, 3), (9, 7), True, False), ("odd_half", (1, 5, 4, 3), (9, 7), False, True),
              ("down_half", (1, 9, 8, 2), (4, 3), False, True)]
    for op in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        for name, shape, size, ac, hp in rcases:
            for dt in ("int8", "int16", "float32") if op == "RESIZE_NEAREST_NEIGHBOR" else ("int8", "float32"):
                out.append(Spec(op, name, dt, resize(op, shape, size, ac, hp)))
    # TFLM interpolates the raw values whatever the output quantization
    out.append(Spec("RESIZE_BILINEAR", "other_out_q", "int8",
                    resize("RESIZE_BILINEAR", (1, 3, 3, 2), (5, 4), False, False, diff_q=True)))
    return out


def _random_specs(n: int = 80) -> list[Spec]:
    """Random strided slices (ranks 1-5, any begin/end/stride signs, begin/end/shrink masks) and random
    transposes: parameters a fixed seed draws, so the set is the same on every run."""
    rng = np.random.default_rng(1234)
    out: list[Spec] = []
    dts = ("int8", "float32", "int16")
    for i in range(n):
        rank = int(rng.integers(1, 6))
        shape = tuple(int(d) for d in rng.integers(1, 7, size=rank))
        begin, end, strides = [], [], []
        bm = em = sm = 0
        for d in range(rank):
            size = shape[d]
            st = int(rng.choice([1, 1, 2, 3, -1, -2]))
            begin.append(int(rng.integers(-size - 2, size + 2)))
            end.append(int(rng.integers(-size - 2, size + 2)))
            strides.append(st)
            r = rng.random()
            if r < 0.2:
                bm |= 1 << d
            elif r < 0.3 and rank > 1:
                sm |= 1 << d
                begin[-1] = int(rng.integers(-size, size))
            if rng.random() < 0.2:
                em |= 1 << d
        masks = {"begin_mask": bm, "end_mask": em, "shrink_axis_mask": sm}
        if 0 in _np_strided_slice(shape, begin, end, strides, masks):
            continue  # empty outputs: TFLM and microaot both refuse zero-sized tensors
        out.append(Spec("STRIDED_SLICE", f"random{i}", dts[i % 3], _strided_slice(shape, begin, end, strides, **masks)))
    for i in range(6):
        rank = int(rng.integers(2, 6))
        shape = tuple(int(d) for d in rng.integers(1, 5, size=rank))
        perm = [int(v) for v in rng.permutation(rank)]

        def build(r: np.random.Generator, dt: str, shape: tuple[int, ...] = shape, perm: list[int] = perm) -> bytes:
            q = _q(r, dt)
            return mg.op_model("TRANSPOSE", [_ti(shape, dt, q), _c32(perm)], [_to([shape[p] for p in perm], dt, q)])

        out.append(Spec("TRANSPOSE", f"random{i}", dts[i % 3], build))
    return out


SPECS: list[Spec] = [*_movement_specs(), *_reduce_specs(), *_random_specs()]


def _inputs(model: bytes, rng: np.random.Generator) -> list[list[np.ndarray]]:
    from microaot.frontend.tflite import import_tflite_bytes

    g = import_tflite_bytes(model)
    ts = [g.tensors[i] for i in g.inputs]
    return [[mg.random_data(rng, t.shape, t.dtype) for t in ts] for _ in range(N_SETS)]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, object, object]]:
    """spec id -> (our outputs or error, TFLM outputs or error, inputs), for every case at once."""
    root = tmp_path_factory.mktemp("ops_shape")
    paths: list[Path] = []
    inputs: list[list[list[np.ndarray]]] = []
    for i, s in enumerate(SPECS):
        rng = np.random.default_rng(100 + i)
        m = s.build(rng, s.dtype)
        p = root / f"case{i}.tflite"
        p.write_bytes(m)
        paths.append(p)
        inputs.append(_inputs(m, rng))
    built = compile_and_build(paths, root / "build")
    refs = run_reference_many(paths, inputs)
    out: dict[str, tuple[object, object, object]] = {}
    for s, b, ins, ref in zip(SPECS, built, inputs, refs, strict=True):
        if isinstance(b, Exception):
            out[s.id] = (b, ref, ins)
            continue
        try:
            ours: object = [b.run(x) for x in ins]
        except Exception as e:  # reported by the test of this case
            ours = e
        out[s.id] = (ours, ref, ins)
    return out


def assert_same(ours: object, ref: object) -> None:
    if isinstance(ref, Exception):
        pytest.fail(f"TFLM failed on the generated model: {ref}")
    if isinstance(ours, Exception):
        pytest.fail(f"microaot failed: {type(ours).__name__}: {ours}")
    assert isinstance(ours, list) and isinstance(ref, list)
    for si, (o_set, r_set) in enumerate(zip(ours, ref, strict=True)):
        assert len(o_set) == len(r_set)
        for k, (o, r) in enumerate(zip(o_set, r_set, strict=True)):
            o, r = np.asarray(o), np.asarray(r)
            assert o.dtype == r.dtype and o.size == r.size, (
                f"set {si} output {k}: {o.dtype}{o.shape} vs {r.dtype}{r.shape}")
            ob, rb = o.reshape(-1).view(np.uint8), r.reshape(-1).view(np.uint8)
            diff = np.nonzero(ob != rb)[0]
            assert diff.size == 0, (f"set {si} output {k}: {diff.size}/{ob.size} bytes differ; "
                                    f"ours {o.reshape(-1)[:12].tolist()} TFLM {r.reshape(-1)[:12].tolist()}")


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_op_matches_tflm(spec: Spec, results: dict[str, tuple[object, object, object]]) -> None:
    ours, ref, _ = results[spec.id]
    assert_same(ours, ref)


# STRIDED_SLICE features TF defines but TFLM's kernel refuses (its Prepare fails on these models):
# compared with numpy's slicing (TF semantics) instead.
NUMPY_SLICES: list[tuple[str, tuple[int, ...], list[int], list[int], list[int], dict[str, int]]] = [
    ("ellipsis", (2, 3, 6, 4), [0, 1], [0, 4], [1, 2], {"ellipsis_mask": 1}),
    ("ellipsis_mid_shrink", (2, 3, 6, 4), [1, 0, -2], [2, 0, 0], [1, 1, -1], {"ellipsis_mask": 2,
                                                                              "shrink_axis_mask": 1}),
    ("new_axis", (4, 6), [0, 0, 1], [0, 4, 5], [1, 1, 1], {"new_axis_mask": 1}),
    ("offset", (5, 8), [1, 2], [3, 4], [1, 1], {"offset": 1}),
    ("short_spec", (3, 4, 5), [1], [3], [1], {}),
]


def test_strided_slice_beyond_tflm_matches_numpy(tmp_path: Path) -> None:
    paths, sets, idxs = [], [], []
    rng = np.random.default_rng(5)
    for i, (_, shape, b, e, st, masks) in enumerate(NUMPY_SLICES):
        p = tmp_path / f"ss{i}.tflite"
        p.write_bytes(_strided_slice(shape, b, e, st, **masks)(rng, "int16"))
        paths.append(p)
        sets.append(mg.random_data(rng, shape, "int16"))
        idxs.append(_np_index(b, e, st, masks))
    built = compile_and_build(paths, tmp_path / "build")
    for (name, *_), bm, x, idx in zip(NUMPY_SLICES, built, sets, idxs, strict=True):
        assert not isinstance(bm, Exception), f"{name}: {bm}"
        got = bm.run([x])[0]
        want = x[idx]
        assert got.shape == want.shape and np.array_equal(got, want), f"{name}: {got.tolist()} != {want.tolist()}"


def _np_space_to_batch(x: np.ndarray, block: list[int], pads: list[int], fill: float) -> np.ndarray:
    """TF's SpaceToBatchND: pad the spatial dims with ``fill``, move the block offsets to the batch."""
    x4 = x if x.ndim == 4 else x[:, :, None, :]
    bl = block + [1] * (2 - len(block))
    pp = pads + [0] * (4 - len(pads))
    xp = np.pad(x4, ((0, 0), (pp[0], pp[1]), (pp[2], pp[3]), (0, 0)), constant_values=fill)
    b, h, w, c = xp.shape
    y = xp.reshape(b, h // bl[0], bl[0], w // bl[1], bl[1], c).transpose(2, 4, 0, 1, 3, 5)
    y = y.reshape(bl[0] * bl[1] * b, h // bl[0], w // bl[1], c)
    return y if x.ndim == 4 else y[:, :, 0, :]


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_space_to_batch_padding_is_a_real_zero(dtype: str, tmp_path: Path) -> None:
    """Padded SPACE_TO_BATCH_ND: TFLM pads with an unset value (arena contents), so the oracle is TF's
    definition in numpy; the padding is the output zero point (int8) or 0.0."""
    cases = [((1, 5, 4, 2), [2, 3], [1, 0, 1, 1]), ((2, 5, 3), [2], [2, 1])]
    rng = np.random.default_rng(9)
    paths, xs, zps = [], [], []
    for i, (shape, block, pads) in enumerate(cases):
        q = _q(rng, dtype)
        sp = len(block)
        o = [shape[0] * int(np.prod(block))] + [(shape[1 + k] + pads[2 * k] + pads[2 * k + 1]) // block[k]
                                                for k in range(sp)] + list(shape[1 + sp:])
        pd = TIn((sp, 2), "int32", np.array(pads, np.int32).reshape(sp, 2))
        p = tmp_path / f"s2b{i}.tflite"
        p.write_bytes(mg.op_model("SPACE_TO_BATCH_ND", [_ti(shape, dtype, q), _c32(block), pd], [_to(o, dtype, q)]))
        paths.append(p)
        xs.append(mg.random_data(rng, shape, dtype))
        zps.append(q.zero_point if q is not None else 0)
    built = compile_and_build(paths, tmp_path / "build")
    for (shape, block, pads), bm, x, zp in zip(cases, built, xs, zps, strict=True):
        assert not isinstance(bm, Exception), str(bm)
        got = bm.run([x])[0]
        want = _np_space_to_batch(x, block, pads, zp).astype(x.dtype)
        assert got.shape == want.shape and np.array_equal(got, want), f"{shape} {block} {pads}"


# Element types TFLM's kernels refuse (its Prepare fails) but microaot runs: numpy is the oracle.
Oracle = Callable[[list[np.ndarray]], list[np.ndarray]]


def _beyond_tflm() -> list[tuple[str, str, Callable[[np.random.Generator], bytes], Oracle]]:
    out: list[tuple[str, str, Callable[[np.random.Generator], bytes], Oracle]] = []

    def red(op: str, dt: str, shape: tuple[int, ...], axes: list[int], keep: bool) -> None:
        norm = {a % len(shape) for a in axes}
        o = ([1 if i in norm else d for i, d in enumerate(shape)] if keep
             else [d for i, d in enumerate(shape) if i not in norm])
        q = mg.ActQ(0.01, 0) if dt == "int16" else None

        def build(rng: np.random.Generator) -> bytes:
            return mg.op_model(op, [_ti(shape, dt, q), _c32(axes)], [_to(o, dt, q)], mg.ReducerOptions(keep))

        fn = {"SUM": np.sum, "REDUCE_MAX": np.max, "REDUCE_MIN": np.min}[op]
        out.append((f"{op}-{len(axes)}axes-{dt}", dt, build,
                    lambda xs: [np.asarray(fn(xs[0], axis=tuple(sorted(norm)), keepdims=keep)).astype(dt)]))

    for dt in ("int16", "int32"):
        red("REDUCE_MAX", dt, (2, 3, 4), [0, -1], False)
        red("REDUCE_MIN", dt, (2, 3, 4), [1], True)
    red("SUM", "int32", (3, 5, 2), [1, 2], True)

    def arg(op: str, dt: str, out_t: str, shape: tuple[int, ...], axis: int) -> None:
        o = [d for i, d in enumerate(shape) if i != axis % len(shape)]
        q = mg.ActQ(0.01, 0) if dt == "int16" else None
        tab = "ArgMaxOptions" if op == "ARG_MAX" else "ArgMinOptions"

        def build(rng: np.random.Generator) -> bytes:
            return mg.op_model(op, [_ti(shape, dt, q), _c32([axis])], [_to(o, out_t, None)],
                               _opt(tab, OutputType={"int32": 2, "int64": 4}[out_t]))

        fn = np.argmax if op == "ARG_MAX" else np.argmin
        out.append((f"{op}-{dt}-{out_t}", dt, build, lambda xs: [fn(xs[0], axis=axis).astype(out_t)]))

    for op in ("ARG_MAX", "ARG_MIN"):
        arg(op, "int16", "int32", (3, 9), 1)
        arg(op, "int32", "int64", (6, 4), 0)
        arg(op, "int8", "int64", (2, 7, 3), -2)

    def gather(dt: str, idx_t: str, shape: tuple[int, ...], n: int, axis: int) -> None:
        a = axis % len(shape)
        o = [*shape[:a], n, *shape[a + 1:]]
        idx = np.random.default_rng(3).integers(0, shape[a], size=(n,))

        def build(rng: np.random.Generator) -> bytes:
            return mg.op_model("GATHER", [_ti(shape, dt, None), TIn((n,), idx_t, idx)], [_to(o, dt, None)],
                               _opt("GatherOptions", Axis=axis, BatchDims=0))

        out.append((f"GATHER-{dt}-{idx_t}", dt, build, lambda xs: [np.take(xs[0], idx, axis=a)]))

    gather("int32", "int32", (5, 3), 4, 0)
    gather("bool", "int32", (2, 6), 3, 1)
    gather("float32", "int64", (3, 4, 6), 5, -1)
    gather("int16", "int64", (4, 2), 6, 0)
    return out


BEYOND = _beyond_tflm()


@pytest.fixture(scope="module")
def beyond_built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, bytes]]:
    """name -> (built model or error, model bytes), all compiled into one batch."""
    root = tmp_path_factory.mktemp("beyond")
    paths, models = [], []
    for i, (_, _, build, _) in enumerate(BEYOND):
        m = build(np.random.default_rng(17 + i))
        p = root / f"b{i}.tflite"
        p.write_bytes(m)
        paths.append(p)
        models.append(m)
    built = compile_and_build(paths, root / "build")
    return {c[0]: (b, m) for c, b, m in zip(BEYOND, built, models, strict=True)}


@pytest.mark.parametrize("case", BEYOND, ids=[c[0] for c in BEYOND])
def test_dtypes_tflm_refuses_match_numpy(case: tuple[str, str, Callable[[np.random.Generator], bytes], Oracle],
                                         beyond_built: dict[str, tuple[object, bytes]]) -> None:
    name, _, _, oracle = case
    bm, model = beyond_built[name]
    assert not isinstance(bm, Exception), str(bm)
    rng = np.random.default_rng(23)
    for x in _inputs(model, rng):
        got, want = bm.run(x), oracle(x)  # type: ignore[attr-defined]
        for g, w in zip(got, want, strict=True):
            assert g.dtype == w.dtype and np.array_equal(g.reshape(-1), w.reshape(-1)), f"{name}: {g} != {w}"


# ---- a sample on the Cortex-M4 (QEMU mps2-an386), same oracle ----------------------------------------

M4_SAMPLE = ("STRIDED_SLICE-masks_neg-int16", "SPLIT-axis3-float32", "TRANSPOSE-rank5-int8", "PACK-axis1-int32",
             "BATCH_TO_SPACE_ND-crops-float32", "SPACE_TO_DEPTH-b2-int8", "MEAN-three_axes-int8",
             "SUM-hw_keep-int16", "REDUCE_MAX-dup_neg_axes-float32", "ARG_MIN-axis1-int8",
             "GATHER-batch_dims1-int8", "RESIZE_BILINEAR-odd_half-float32", "RESIZE_BILINEAR-odd_align-int8",
             "RESIZE_NEAREST_NEIGHBOR-down_half-int16", "MEAN-hw_keep-float32", "SUM-three_axes-float32",
             "RESIZE_BILINEAR-up2-float32")


@pytest.mark.qemu
def test_sample_bit_exact_on_cortex_m4(tmp_path: Path) -> None:
    """float32 too: RESIZE_BILINEAR and the float sums must give TFLM's bytes on the M4 (no FMA contraction)."""
    from concurrent.futures import ThreadPoolExecutor

    from microaot.compiler import compile_model

    m4run = pytest.importorskip("microaot.testing.m4run")
    if not m4run.available():
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm missing")
    by_id = {s.id: s for s in SPECS}
    specs = [by_id[i] for i in M4_SAMPLE]
    paths, inputs = [], []
    for i, s in enumerate(specs):
        rng = np.random.default_rng(300 + i)
        m = s.build(rng, s.dtype)
        p = tmp_path / f"m4_{i}.tflite"
        p.write_bytes(m)
        paths.append(p)
        inputs.append(_inputs(m, rng))
    refs = run_reference_many(paths, inputs)

    def run(i: int) -> str | None:
        try:
            r = compile_model(paths[i], tmp_path / f"src{i}", name=f"m4s{i}", target="cortex-m4")
            res = m4run.run_m4(r, inputs[i], tmp_path / f"fw{i}", timeout=60)
            assert_same([list(o) for o in res.outputs], refs[i])
        except BaseException as e:  # noqa: BLE001 - collected per case (pytest.fail raises BaseException)
            return f"{specs[i].id}: {type(e).__name__}: {str(e)[-600:]}"
        return None

    with ThreadPoolExecutor(max_workers=2) as ex:
        errors = [e for e in ex.map(run, range(len(specs))) if e]
    assert not errors, "\n".join(errors)


# ---- errors ---------------------------------------------------------------------------------------


def _compile_error(tmp_path: Path, model: bytes) -> str:
    from microaot.compiler import compile_model
    from microaot.errors import UnsupportedModelError

    p = tmp_path / "bad.tflite"
    p.write_bytes(model)
    with pytest.raises(UnsupportedModelError) as ei:
        compile_model(p, tmp_path / "gen")
    return str(ei.value)


def test_run_time_begin_is_rejected_naming_operator_and_tensor(tmp_path: Path) -> None:
    m = mg.op_model("STRIDED_SLICE", [_ti((4, 6), "int8", mg.ActQ(0.1, 0)), TIn((2,), "int32"), _c32([3, 5]),
                                      _c32([1, 1])], [_to((3, 5), "int8", mg.ActQ(0.1, 0))],
                                          _opt("StridedSliceOptions"))
    msg = _compile_error(tmp_path, m)
    assert msg == (f"{tmp_path / 'bad.tflite'}: operator 0 (STRIDED_SLICE): begin 'input1' must be a constant tensor "
                   "(it is computed at run time)")


def test_output_shape_that_does_not_follow_is_rejected(tmp_path: Path) -> None:
    m = mg.op_model("TRANSPOSE", [_ti((2, 3), "float32", None), _c32([1, 0])], [_to((2, 3), "float32", None)])
    msg = _compile_error(tmp_path, m)
    assert msg == (f"{tmp_path / 'bad.tflite'}: operator 0 (TRANSPOSE): output 'output0' has shape [2, 3], but "
                   "TRANSPOSE gives [3, 2] (dynamic output shapes are not supported)")


def test_gather_index_out_of_range_fails_the_run(tmp_path: Path) -> None:
    """Indices computed at run time are checked: out of range, the run returns UAOT_ERR_RANGE (TFLM errors too)."""
    from microaot.errors import MicroaotError

    m = mg.op_model("GATHER", [_ti((5, 3), "float32", None), TIn((2,), "int32")], [_to((2, 3), "float32", None)],
                    _opt("GatherOptions", Axis=0, BatchDims=0))
    p = tmp_path / "g.tflite"
    p.write_bytes(m)
    (bm,) = compile_and_build([p], tmp_path / "build", workers=1)
    assert not isinstance(bm, Exception), str(bm)
    x = np.arange(15, dtype=np.float32).reshape(5, 3)
    assert np.array_equal(bm.run([x, np.array([4, 0], np.int32)])[0], x[[4, 0]])
    for bad in ([5, 0], [0, -1]):
        with pytest.raises(MicroaotError, match="returned status 4"):
            bm.run([x, np.array(bad, np.int32)])


# ---- a chain of these operators (planner: views, several outputs, buffers reused) ---------------------


def _chain(rng: np.random.Generator, dt: str) -> bytes:
    """RESIZE_BILINEAR -> STRIDED_SLICE -> TRANSPOSE -> SPLIT (2 outputs) -> PACK -> SQUEEZE -> SUM, and a
    GATHER + ARG_MAX branch, ending in CONCATENATION of the reduced values."""
    q = _q(rng, dt)
    b = mg.ModelBuilder()

    def t(name: str, shape: tuple[int, ...], dtype: str = dt, qq: mg.ActQ | None = q) -> int:
        return b.add_tensor(name, shape, dtype, quant=qq.quant if qq is not None else None)  # type: ignore[arg-type]

    def c(name: str, v: list[int]) -> int:
        return b.add_const(name, np.array(v, np.int32), "int32")

    x = b.add_input("x", (1, 6, 6, 4), dt, quant=q.quant if q else None)  # type: ignore[arg-type]
    r = t("resized", (1, 9, 9, 4))
    b.add_operator("RESIZE_BILINEAR", [x, c("size", [9, 9])], [r], _opt("ResizeBilinearOptions", HalfPixelCenters=True))
    s = t("sliced", (1, 4, 4, 4))
    b.add_operator("STRIDED_SLICE", [r, c("b", [0, 1, 8, 0]), c("e", [1, 9, 0, 4]), c("s", [1, 2, -2, 1])], [s],
                   _opt("StridedSliceOptions"))
    tr = t("nchw", (1, 4, 4, 4))
    b.add_operator("TRANSPOSE", [s, c("perm", [0, 3, 1, 2])], [tr])
    s0, s1 = t("half0", (1, 2, 4, 4)), t("half1", (1, 2, 4, 4))
    b.add_operator("SPLIT", [c("axis", [1]), tr], [s0, s1], _opt("SplitOptions", NumSplits=2))
    pk = t("packed", (2, 1, 2, 4, 4))
    b.add_operator("PACK", [s1, s0], [pk], _opt("PackOptions", ValuesCount=2, Axis=0))
    sq = t("squeezed", (2, 2, 4, 4))
    b.add_operator("SQUEEZE", [pk], [sq], mg.SqueezeOptions((1,)))
    sm = t("sum", (2, 4))
    b.add_operator("SUM", [sq, c("axes", [1, -1])], [sm], mg.ReducerOptions(False))
    g = t("gathered", (2, 2, 4, 2))
    b.add_operator("GATHER", [sq, c("idx", [3, 0])], [g], _opt("GatherOptions", Axis=3, BatchDims=0))
    am = t("argmax", (2, 2, 4), "int32", None)
    b.add_operator("ARG_MAX", [sq, c("am_axis", [2])], [am], _opt("ArgMaxOptions", OutputType=2))
    out = t("out", (4, 4))
    b.add_operator("CONCATENATION", [sm, sm], [out], mg.ConcatenationOptions(0))
    b.set_outputs([out, g, am])
    return b.to_bytes()


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_chain_matches_tflm(dtype: str, tmp_path: Path) -> None:
    paths, inputs = [], []
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        p = tmp_path / f"chain{seed}.tflite"
        p.write_bytes(_chain(rng, dtype))
        paths.append(p)
        inputs.append(_inputs(p.read_bytes(), rng))
    built = compile_and_build(paths, tmp_path / "build")
    refs = run_reference_many(paths, inputs)
    for bm, ins, ref in zip(built, inputs, refs, strict=True):
        assert not isinstance(bm, Exception), str(bm)
        assert_same([bm.run(x) for x in ins], ref)
