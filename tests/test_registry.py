"""The operator registry (one declaration per operator), the convolution geometry computed once, and the
command line failing loudly on a broken command module."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

from microaot import cli
from microaot import ops as opreg
from microaot.errors import UnsupportedModelError
from microaot.frontend.tflite import load_tflite
from microaot.ir.graph import Graph, Operator
from microaot.ops._geometry import ConvGeometry, conv_geometry
from microaot.passes import check_graph, scratch_requests
from microaot.testing import modelgen


def _summary() -> dict[str, tuple[object, ...]]:
    return {k: (d.module, d.view, d.scratch is not None, d.inplace is not None, d.check is not None,
                d.space is not None and d.space.lean is not None)
            for k, d in opreg._REGISTRY.items()}


def test_declarations_do_not_depend_on_import_order() -> None:
    """Re-importing every operator module in the reverse order gives the same registry; CONV_2D and
    DEPTHWISE_CONV_2D carry their check, scratch, in-place variants and knob space in one declaration."""
    opreg.load_all()
    before = _summary()
    for m in sorted({d.module for d in opreg._REGISTRY.values()}, reverse=True):
        importlib.reload(sys.modules[m])
    assert _summary() == before
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        assert before[op] == ("microaot.ops.conv", False, True, True, True, True)
    assert before["FULLY_CONNECTED"][2:] == (True, False, False, True)
    assert before["RESHAPE"][1] is True
    assert not hasattr(opreg, "extend")


def test_register_rejects_contradictory_declarations() -> None:
    def f(graph: Graph, op: Operator) -> int:
        return 0

    def g(graph: Graph, op: Operator, target: str, knobs: dict) -> int:
        return 0

    with pytest.raises(RuntimeError, match="give scratch= or schedule_scratch=, not both"):
        opreg.register("TEST_OP", scratch=f, schedule_scratch=g)
    with pytest.raises(RuntimeError, match="needs both space= and default="):
        opreg.register("TEST_OP", space=lambda graph, op, target: {})
    with pytest.raises(RuntimeError, match="need a knob space"):
        opreg.register("TEST_OP", lean=lambda graph, op, target, knobs: None)
    assert "TEST_OP" not in opreg._REGISTRY


def test_conv_geometry_is_computed_once(tmp_path: Path) -> None:
    """One frozen value per operator (cached on the graph), the same numbers as the TFLite formulas:
    7x9 input, 3x3 stride (2, 2) dilation (1, 2) SAME -> 4x5 output, top/left padding (TFLM: smaller half
    first) 1 / 2."""
    p = tmp_path / "conv.tflite"
    p.write_bytes(modelgen.conv2d_model(np.random.default_rng(0), input_shape=(1, 7, 9, 6), filters=5,
                                        kernel=(3, 3), stride=(2, 2), dilation=(1, 2), padding="SAME"))
    g = load_tflite(p)
    op = g.operators[0]
    geo = conv_geometry(g, op)
    assert conv_geometry(g, op) is geo and isinstance(geo, ConvGeometry)
    assert (geo.out_h, geo.out_w, geo.out_c, geo.pad_top, geo.pad_left, geo.k) == (4, 5, 5, 1, 2, 3 * 3 * 6)
    assert list(geo.params())[:3] == ["batches", "in_h", "in_w"] and len(geo.params()) == 16
    assert geo.padded_w() == (5 - 1) * 2 + (3 - 1) * 2 + 1 and geo.padded_w(dilation=False) == (5 - 1) * 2 + 3
    with pytest.raises(AttributeError):
        geo.out_h = 3  # type: ignore[misc]
    # gemm scratch from the same geometry: 6 * Kp + gather row (in_c % 4 != 0), Kp = 56
    assert scratch_requests(g, "cortex-m4") == {0: 6 * 56 + 56}


def test_a_bad_convolution_is_rejected_by_its_check(tmp_path: Path) -> None:
    """The operator's check= (its geometry) runs in check_graph, before planning, with the lowering's message."""
    p = tmp_path / "conv.tflite"
    p.write_bytes(modelgen.conv2d_model(np.random.default_rng(1), input_shape=(1, 6, 6, 4), filters=4,
                                        kernel=(3, 3)))
    g = load_tflite(p)
    g.operators[0].options["padding"] = "EXPLICIT"
    with pytest.raises(UnsupportedModelError, match=r"conv\.tflite: operator 0 \(CONV_2D\): padding EXPLICIT "
                                                    r"not supported \(SAME, VALID\)"):
        check_graph(g)


def test_cli_fails_loudly_on_a_broken_command_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "microaot.no_such_commands"))
    with pytest.raises(cli.CommandModuleError, match=r"command module microaot\.no_such_commands cannot be imported "
                                                     r"\(ModuleNotFoundError"):
        cli.build_parser()
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("microaot.cli", "microaot.errors"))
    with pytest.raises(cli.CommandModuleError, match=r"microaot\.errors has no register\(subparsers\)"):
        cli.build_parser()
