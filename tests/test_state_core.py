"""The state core: variable tensors and operator-private state in the model's state buffer (NAME_STATE_SIZE,
NAME_reset_state, NAME_run with a state argument), custom operators (``CUSTOM:<name>`` with flexbuffer
options), the TFLM reference over sequences; on the host and on QEMU Cortex-M4."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from microaot import ops as opreg
from microaot.compiler import compile_model
from microaot.errors import UnsupportedModelError
from microaot.frontend.tflite import import_tflite_bytes
from microaot.hostbuild import build_model_shared_lib, new_state, run_compiled
from microaot.inspect_model import summarize
from microaot.ops import Lowering, LoweringContext
from microaot.passes import check_graph
from microaot.reference import run_reference
from microaot.testing import m4run
from microaot.testing import modelgen as mg


def _variable_add_model(path: Path) -> Path:
    """y = x + v, v an int8 variable tensor with zero point -7 (TFLM resets it to its zero point)."""
    mb = mg.ModelBuilder()
    x = mb.add_input("x", [1, 24], "int8", quant=mg.Quant.per_tensor(0.1, 3))
    v = mb.add_variable("v", [1, 24], "int8", quant=mg.Quant.per_tensor(0.05, -7))
    y = mb.add_tensor("y", [1, 24], "int8", quant=mg.Quant.per_tensor(0.2, 1))
    mb.add_operator("ADD", [x, v], [y])
    mb.set_outputs([y])
    path.write_bytes(mb.to_bytes())
    return path


def test_variable_tensor_lives_in_the_state_and_resets_as_tflm(tmp_path: Path) -> None:
    model = _variable_add_model(tmp_path / "var_add.tflite")
    g = import_tflite_bytes(model.read_bytes())
    assert [t.is_variable for t in g.tensors] == [False, True, False]
    r = compile_model(model, tmp_path / "gen", name="var_add")
    assert r.state_size == 32  # 24 bytes, aligned to 16
    assert r.plan.locations[1].kind == "state" and r.plan.locations[1].offset == 0
    h = r.header.read_text()
    assert "#define var_add_STATE_SIZE 32" in h
    assert "uaot_status_t var_add_run(const void *const *inputs, void *const *outputs, void *workspace, " \
           "void *state);" in h
    assert "uaot_status_t var_add_reset_state(void *state);" in h
    c = r.sources[0].read_text()
    assert "memset(st + 0, (int)(uint8_t)(int8_t)-7, 24u);" in c
    lib = build_model_shared_lib(r, tmp_path / "lib")
    st = new_state(r, lib)
    assert bytes(st[:24]) == bytes([(-7) & 0xFF]) * 24 and bytes(st[24:32]) == bytes(8)
    xs = [np.random.default_rng(s).integers(-128, 128, size=(1, 24), dtype=np.int8) for s in range(3)]
    ref = run_reference(model, [[x] for x in xs])
    for x, want in zip(xs, ref, strict=True):
        got = run_compiled(r, lib, [x], state=st)
        assert got[0].tobytes() == want[0].tobytes()


# a test-only custom operator with private state: y = s += x (int32), s starts at the option "init"
OPCODE = "CUSTOM:MicroaotTestAccumulate"


def _acc_state(graph, op) -> int:  # noqa: ANN001
    return graph.tensors[op.inputs[0]].nbytes


def _lower_acc(ctx: LoweringContext) -> Lowering:
    n = ctx.input(0).num_elements
    fn = ctx.sym("acc")
    init = int(ctx.options["init"])
    assert ctx.state_ptr is not None
    decls = [f"static uaot_status_t {fn}(const int32_t *x, int32_t *y, int32_t *s)\n{{\n"
             f"    for (uint32_t i = 0; i < {n}u; ++i) {{\n        s[i] += x[i];\n        y[i] = s[i];\n    }}\n"
             "    return UAOT_OK;\n}"]
    reset = (f"for (uint32_t i = 0; i < {n}u; ++i) {{\n"
             f"    ((int32_t *){ctx.state_ptr})[i] = {init};\n}}")
    return Lowering(call=f"{fn}({ctx.in_ptr(0)}, (int32_t *){ctx.out_ptr(0)}, (int32_t *){ctx.state_ptr})",
                    decls=decls, reset=reset)


@pytest.fixture
def accumulate_op() -> Iterator[None]:
    opreg.load_all()
    opreg.register(OPCODE, state=_acc_state, dtypes=("int32",))(_lower_acc)
    try:
        yield
    finally:
        del opreg._REGISTRY[OPCODE]


def _acc_model(path: Path, init: int) -> Path:
    mb = mg.ModelBuilder()
    x = mb.add_input("x", [2, 5], "int32")
    y = mb.add_tensor("y", [2, 5], "int32")
    mb.add_custom_operator("MicroaotTestAccumulate", [x], [y], {"init": init, "unused": [1, 2], "name": "acc"})
    mb.set_outputs([y])
    path.write_bytes(mb.to_bytes())
    return path


def test_custom_operator_options_are_decoded(tmp_path: Path) -> None:
    g = import_tflite_bytes(_acc_model(tmp_path / "acc.tflite", 100).read_bytes())
    op = g.operators[0]
    assert op.opcode == OPCODE
    assert op.options == {"init": 100, "name": "acc", "unused": [1, 2]}
    assert op.custom_options  # the raw flexbuffer is kept for user kernels


def test_unknown_custom_operator_is_named(tmp_path: Path) -> None:
    model = _acc_model(tmp_path / "acc.tflite", 0)
    g = import_tflite_bytes(model.read_bytes(), str(model))
    with pytest.raises(UnsupportedModelError) as e:
        check_graph(g)
    assert str(e.value) == (f"{model}: operator 0 ({OPCODE}): custom operator 'MicroaotTestAccumulate' has no "
                            "microaot kernel; bind a C kernel of yours to it (microaot compile --custom-op "
                            "MicroaotTestAccumulate=my_c_function, or custom_microaot_custom_ops = "
                            "MicroaotTestAccumulate:my_c_function in platformio.ini; signature and how to build it "
                            "in docs/custom-operators.md), or re-export the model with builtin TFLite operators")
    info = summarize(model)
    assert info["compilable"] is False
    assert info["problems"][0]["why"].startswith("custom operator 'MicroaotTestAccumulate' has no microaot kernel")


def test_operator_state_persists_and_resets(tmp_path: Path, accumulate_op: None) -> None:
    model = _acc_model(tmp_path / "acc.tflite", 100)
    r = compile_model(model, tmp_path / "gen", name="acc")
    assert r.state_size == 48 and r.plan.state_regions == {0: 0}
    lib = build_model_shared_lib(r, tmp_path / "lib")
    xs = [np.arange(10, dtype=np.int32).reshape(2, 5) * (s + 1) for s in range(3)]
    st = new_state(r, lib)
    outs = [run_compiled(r, lib, [x], state=st)[0] for x in xs]
    assert [o.tolist() for o in outs] == [(100 + np.cumsum(xs, axis=0)[s]).tolist() for s in range(3)]
    st2 = new_state(r, lib)  # a reset state starts over
    assert run_compiled(r, lib, [xs[0]], state=st2)[0].tolist() == (100 + xs[0]).tolist()
    if m4run.available():  # the same sequence on QEMU Cortex-M4: the state persists between runs there too
        run = m4run.run_m4(r, [[x] for x in xs], tmp_path / "m4", timeout=60)
        assert [o[0].tolist() for o in run.outputs] == [o.tolist() for o in outs]


def test_reference_sequences_reset_between_sequences(tmp_path: Path) -> None:
    """run_reference(sequence_length=N) resets TFLM's variable tensors every N sets (here: reads the reset value
    of the variable tensor, so every set gives the same output for the same input)."""
    model = _variable_add_model(tmp_path / "var_add.tflite")
    x = np.full((1, 24), 5, np.int8)
    a = run_reference(model, [[x], [x], [x]], sequence_length=1)
    assert a[0][0].tobytes() == a[1][0].tobytes() == a[2][0].tobytes()
