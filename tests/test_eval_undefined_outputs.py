"""Held-out evaluation fixes of issue 18: outputs TFLM leaves unwritten are not compared, scalar graph inputs.

- SignalFramer / SignalStacker: while the "output valid" flag is false TFLM leaves the frame output as it was
  (uninitialised arena memory at first); the registry declares it (``OpDef.defined_if``), ``eval`` skips those
  comparisons and says how many and why, and microaot's kernels zero such frames so OPCHECK is deterministic.
- ``microaot eval`` on a QEMU board (PlatformIO firmware, RPC RESET_STATE between sequences) of stateful models:
  an int8 LSTM stack, resource variables with a CALL_ONCE initialiser, a delay -> framer chain (slow).
- A rank-0 (scalar) graph input reaches TFLM with its shape (``np.ascontiguousarray`` made it rank 1 and TFLM
  refused it) in ``microaot.reference`` and ``microaot.testing.batch``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from microaot.evaluate import eval_model
from microaot.frontend.tflite import load_tflite
from microaot.ops import conditional_outputs
from microaot.reference import run_reference
from microaot.testing.batch import run_reference_many
from microaot.testing.modelgen import AddOptions, ModelBuilder, stacked_lstm_model
from microaot.testing.resvar import accumulator_model
from microaot.testing.signal_models import audio_stream_model
from microaot.tune.tuner import TuneError, _same_outputs, tune_model

HAVE_QEMU = shutil.which("qemu-system-arm") is not None and shutil.which("arm-none-eabi-gcc") is not None


def _framer_model(path: Path, *, flag_output: bool) -> Path:
    mb = ModelBuilder()
    x = mb.add_input("x", (16,), "int16")
    d = mb.add_tensor("delayed", (16,), "int16")
    frames = mb.add_tensor("frames", (4, 8), "int16")
    valid = mb.add_tensor("valid", (), "bool")
    mb.add_custom_operator("SignalDelay", [x], [d], {"delay_length": 3})
    mb.add_custom_operator("SignalFramer", [d], [frames, valid], {"frame_size": 8, "frame_step": 4, "prefill": False})
    mb.set_outputs([valid, frames] if flag_output else [frames])
    path.write_bytes(mb.to_bytes())
    return path


def test_registry_declares_the_framer_frames_conditional(tmp_path: Path) -> None:
    g = load_tflite(_framer_model(tmp_path / "f.tflite", flag_output=True))
    (c,) = conditional_outputs(g)
    assert (c.output, c.flag, c.op_index, c.opcode, c.k, c.j) == (1, 0, 1, "CUSTOM:SignalFramer", 0, 1)
    g = load_tflite(_framer_model(tmp_path / "g.tflite", flag_output=False))
    (c,) = conditional_outputs(g)
    assert (c.output, c.flag) == (0, None)


def test_eval_skips_frames_while_not_valid_and_says_so(tmp_path: Path) -> None:
    # step 0 of each sequence: 3 delayed zeros + 16 samples fill 3 of the 4 frames (valid false); later steps valid
    model = _framer_model(tmp_path / "framer.tflite", flag_output=True)
    rep = eval_model(model, "host", work_dir=tmp_path / "work", seeds=2, sequence=3)
    assert rep.outputs_match, rep.mismatches
    assert rep.tensors_match is True, rep.tensor_diagnosis
    notes = [s for s in rep.skipped if "unwritten" in s]
    assert len(notes) == 1 and notes[0].startswith("2 output comparison(s) with TFLM"), rep.skipped
    assert "output 1 (CUSTOM:SignalFramer #1 output 0) is defined only when output 0 is true" in notes[0]
    # valid steps are compared: 2 seeds x 3 steps x 1 flag byte + 2 x 2 valid steps x 64 frame bytes
    assert rep.compared_bytes == 2 * 3 * 1 + 2 * 2 * 64


def test_eval_of_an_audio_front_end_stream_on_the_host(tmp_path: Path) -> None:
    """Every stateful signal operator in one model over 4-step sequences: the framer and the stacker are each
    invalid at step 0 only, so 2 of their 16 frame comparisons per seed are skipped."""
    model = tmp_path / "audio.tflite"
    model.write_bytes(audio_stream_model(np.random.default_rng(7)))
    rep = eval_model(model, "host", work_dir=tmp_path / "work", seeds=2, sequence=4)
    assert rep.outputs_match, rep.mismatches
    assert rep.tensors_match is True, rep.tensor_diagnosis
    (note,) = [s for s in rep.skipped if "unwritten" in s]
    assert note.startswith("4 output comparison(s)") and "CUSTOM:SignalStacker #11 output 0" in note, note
    assert rep.compared_bytes == 2 * 4 * (1 + 1) + 2 * 3 * (24 * 2 + 64 * 2)


def _scalar_model(path: Path) -> Path:
    mb = ModelBuilder()
    x = mb.add_input("x", (), "float32")
    c = mb.add_const("c", np.array(1.5, np.float32), "float32")
    y = mb.add_tensor("y", (), "float32")
    mb.add_operator("ADD", [x, c], [y], AddOptions())
    mb.set_outputs([y])
    path.write_bytes(mb.to_bytes())
    return path


def test_reference_keeps_a_scalar_input_scalar(tmp_path: Path) -> None:
    model = _scalar_model(tmp_path / "scalar.tflite")
    (out,) = run_reference(model, [[np.array(2.25, np.float32)]])
    assert out[0].shape == () and float(out[0]) == 3.75
    (res,) = run_reference_many([model], [[[np.array(-1.0, np.float32)], [np.array(4.0, np.float32)]]])
    assert not isinstance(res, Exception), res
    assert [float(o[0]) for o in res] == [0.5, 5.5] and res[0][0].shape == ()


def _stateful(kind: str, path: Path) -> Path:
    if kind == "framer":
        return _framer_model(path, flag_output=True)
    if kind == "audio":
        path.write_bytes(audio_stream_model(np.random.default_rng(7)))
        return path
    if kind == "lstm":
        path.write_bytes(stacked_lstm_model(np.random.default_rng(1), scheme="int8", time_steps=4, input_size=6,
                                            units=[8, 5], classes=3))
    else:
        path.write_bytes(accumulator_model("int8", init=True))
    return path


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.skipif(not HAVE_QEMU, reason="needs qemu-system-arm and arm-none-eabi-gcc (scripts/bootstrap.sh)")
@pytest.mark.parametrize("kind", ["lstm", "resvar", "framer", "audio"])
def test_eval_of_a_stateful_model_on_qemu(kind: str, tmp_path: Path) -> None:
    model = _stateful(kind, tmp_path / f"{kind}.tflite")
    rep = eval_model(model, "qemu_mps2_an386", work_dir=tmp_path / "work", seeds=2, sequence=3)
    assert rep.state_size > 0 and rep.sequence == 3 and rep.seeds == 2
    assert rep.outputs_match, (rep.mismatches, rep.device_error)
    assert rep.tensors_match is True, rep.tensor_diagnosis
    assert rep.compared_bytes > 0


def test_tuner_reference_check_ignores_frames_tflm_left_unwritten(tmp_path: Path) -> None:
    cond = conditional_outputs(load_tflite(_framer_model(tmp_path / "f.tflite", flag_output=True)))
    ours = [[np.array(False), np.zeros((4, 8), np.int16)], [np.array(True), np.ones((4, 8), np.int16)]]
    tflm = [[np.array(False), np.full((4, 8), 7, np.int16)], [np.array(True), np.ones((4, 8), np.int16)]]
    assert _same_outputs(ours, tflm, cond) and not _same_outputs(ours, tflm)
    tflm[1][1] = np.full((4, 8), 2, np.int16)  # a valid step's frames still count
    assert not _same_outputs(ours, tflm, cond)


def test_tune_of_a_model_without_knobs_says_so_before_building(tmp_path: Path) -> None:
    model = _framer_model(tmp_path / "framer.tflite", flag_output=True)
    with pytest.raises(TuneError) as e:
        tune_model(model, "host", work_dir=tmp_path / "work")
    assert str(e.value) == (
        f"{model}: nothing to tune on host (target generic): none of its operators (CUSTOM:SignalDelay, "
        "CUSTOM:SignalFramer) has schedule knobs there; `microaot eval framer.tflite --board host` measures the "
        "only build there is")
    assert not (tmp_path / "work").exists()
