"""microaot.testing.modelgen: valid flatbuffers that TFLM accepts and the importer reads back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tflite

from microaot.frontend.tflite import import_tflite_bytes
from microaot.testing import modelgen as mg
from microaot.testing.batch import run_reference_many


def _all_builders(rng: np.random.Generator) -> dict[str, bytes]:
    return {
        "conv": mg.conv2d_model(rng, input_shape=(1, 6, 6, 3), filters=4, kernel=(3, 3), stride=(2, 1),
                                dilation=(1, 2), activation="RELU6"),
        "dw": mg.depthwise_conv2d_model(rng, input_shape=(1, 6, 6, 2), kernel=(3, 3), depth_multiplier=2),
        "fc": mg.fully_connected_model(rng, input_shape=(1, 2, 2, 4), units=3, per_channel=True),
        "avg": mg.pool2d_model(rng, op="AVERAGE_POOL_2D", input_shape=(1, 4, 4, 2), filter_hw=(2, 2)),
        "max": mg.pool2d_model(rng, op="MAX_POOL_2D", input_shape=(1, 4, 4, 2), filter_hw=(3, 3), padding="SAME"),
        "add": mg.binary_model(rng, op="ADD", shape_a=(1, 3, 3, 2), shape_b=(1, 1, 1, 2)),
        "sub": mg.binary_model(rng, op="SUB", shape_a=(1, 3, 3, 2), shape_b=(1, 3, 3, 2)),
        "mul": mg.binary_model(rng, op="MUL", shape_a=(2, 3), shape_b=(2, 3), const_b=True),
        "softmax": mg.unary_model(rng, op="SOFTMAX", shape=(1, 7), beta=0.5),
        "logistic": mg.unary_model(rng, op="LOGISTIC", shape=(1, 7)),
        "tanh_f32": mg.unary_model(rng, op="TANH", shape=(1, 7), dtype="float32"),
        "quantize": mg.quantize_model(shape=(1, 5), in_dtype="float32", in_q=None, out_q=mg.ActQ(0.1, 2)),
        "dequantize": mg.dequantize_model(shape=(1, 5), in_q=mg.ActQ(0.1, 2)),
        "concat": mg.concatenation_model(rng, shapes=[(1, 2, 3), (1, 4, 3)], axis=1),
        "pad": mg.pad_model(rng, shape=(1, 2, 2, 1), paddings=[(0, 0), (1, 1), (2, 0), (0, 0)]),
        "padv2_f32": mg.pad_model(rng, shape=(2, 3), paddings=[(1, 0), (0, 2)], dtype="float32", v2_value=3.0),
        "mean": mg.mean_model(rng, shape=(1, 3, 3, 2), axes=[1, 2], keep_dims=True),
        "reshape": mg.reshape_model(rng, shape=(1, 2, 3), new_shape=(6,)),
    }


def test_flatbuffer_structure() -> None:
    buf = mg.conv2d_model(np.random.default_rng(0), input_shape=(1, 5, 5, 3), filters=4, kernel=(3, 3))
    assert buf[4:8] == b"TFL3"
    m = tflite.Model.GetRootAs(buf, 0)
    assert m.Version() == 3 and m.SubgraphsLength() == 1
    assert m.Buffers(0).DataLength() == 0, "buffer 0 must be the empty sentinel"
    for i in range(m.OperatorCodesLength()):
        oc = m.OperatorCodes(i)
        assert oc.DeprecatedBuiltinCode() == min(oc.BuiltinCode(), 127)
        assert oc.BuiltinCode() == tflite.BuiltinOperator.CONV_2D and oc.Version() == 3
    sg = m.Subgraphs(0)
    for ti in range(sg.TensorsLength()):
        t = sg.Tensors(ti)
        b = m.Buffers(t.Buffer())
        if b.DataLength():
            # constant data starts on a 16-byte boundary of the file, as the converter writes it
            start = b._tab.Vector(b._tab.Offset(4))
            assert start % 16 == 0


def test_importer_reads_back_options_and_quantization() -> None:
    rng = np.random.default_rng(3)
    g = import_tflite_bytes(mg.depthwise_conv2d_model(rng, input_shape=(1, 7, 6, 2), kernel=(3, 2),
                                                      depth_multiplier=3, stride=(2, 1), dilation=(1, 2),
                                                      padding="VALID", activation="RELU"))
    op = g.operators[0]
    assert op.opcode == "DEPTHWISE_CONV_2D"
    o = op.options
    assert (o["padding"], o["stride_h"], o["stride_w"], o["depth_multiplier"]) == ("VALID", 2, 1, 3)
    assert (o["dilation_h_factor"], o["dilation_w_factor"], o["fused_activation_function"]) == (1, 2, "RELU")
    w, b = g.tensors[op.inputs[1]], g.tensors[op.inputs[2]]
    assert w.shape == (1, 3, 2, 6) and w.dtype == "int8" and w.quant is not None
    assert w.quant.axis == 3 and w.quant.scale.size == 6 and not w.quant.zero_point.any()
    assert np.abs(w.data).max() == 127  # symmetric, narrow range: every channel reaches +-127
    assert b.dtype == "int32" and b.quant is not None
    x = g.tensors[op.inputs[0]]
    assert x.quant is not None
    np.testing.assert_allclose(b.quant.scale, (x.quant.scale0 * w.quant.scale).astype(np.float32), rtol=1e-7)


def test_choose_qparams_represents_zero_and_range() -> None:
    for lo, hi in [(-1.0, 3.0), (0.0, 6.0), (-5.0, -1.0), (2.0, 9.0), (-0.3, 0.3)]:
        s, z = mg.choose_qparams(lo, hi)
        assert -128 <= z <= 127
        assert mg.dequantize(np.array([z]), s, z)[0] == 0.0
        rmin, rmax = mg.dequantize(np.array([-128, 127]), s, z)
        assert rmin <= min(lo, 0.0) + s and rmax >= max(hi, 0.0) - s


def test_builder_rejects_inconsistent_tensors() -> None:
    b = mg.ModelBuilder()
    with pytest.raises(ValueError, match="scales do not match"):
        b.add_tensor("w", (4, 3), "int8", quant=mg.Quant.per_channel([0.1, 0.2, 0.3], axis=0))
    with pytest.raises(ValueError, match="elements"):
        b.add_tensor("d", (2, 2), "float32", data=np.zeros(5))
    with pytest.raises(ValueError, match="no outputs"):
        mg.ModelBuilder().to_bytes()


def test_tflm_accepts_every_builder(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    models = _all_builders(rng)
    paths, inputs = [], []
    for name, buf in models.items():
        p = tmp_path / f"{name}.tflite"
        p.write_bytes(buf)
        paths.append(p)
        g = import_tflite_bytes(buf, name)
        inputs.append([[mg.random_input(rng, g.tensors[t].shape, g.tensors[t].dtype)  # type: ignore[arg-type]
                        for t in g.inputs]])
    for name, res in zip(models, run_reference_many(paths, inputs), strict=True):
        assert not isinstance(res, Exception), f"{name}: {res}"
        assert len(res[0]) == 1, name
