"""A user's own evaluation data (issue 19): loading samples and labels, and the metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from microaot.datasets import InputSpec, load_labels, load_preprocess_hook, load_samples, reference_samples
from microaot.errors import MicroaotError
from microaot.report.metrics import class_metrics, error_metrics

Q = InputSpec("in", (1, 4, 2), np.dtype(np.int8), 0.5, -3)
F = InputSpec("x", (1, 4, 2), np.dtype(np.float32))


def test_npy_batch_and_single_and_quantization(tmp_path: Path) -> None:
    batch = np.arange(3 * 8, dtype=np.float32).reshape(3, 4, 2) - 10.25  # batch without the 1-dim
    np.save(tmp_path / "b.npy", batch)
    d = load_samples(tmp_path / "b.npy", [Q])
    assert len(d) == 3 and d.samples[0][0].shape == (1, 4, 2) and d.samples[0][0].dtype == np.int8
    # round half away from zero then zero point, clamped: -10.25/0.5 = -20.5 -> -21 - 3 = -24
    assert int(d.samples[0][0].reshape(-1)[0]) == -24
    want = np.clip(np.sign(batch / 0.5) * np.floor(np.abs(batch / 0.5) + 0.5) - 3, -128, 127).astype(np.int8)
    assert np.array_equal(np.stack([s[0].reshape(4, 2) for s in d.samples]), want)
    assert np.array_equal(d.raw[1][0].reshape(4, 2), batch[1])
    np.save(tmp_path / "one.npy", np.ones((1, 4, 2), np.int8))
    assert len(load_samples(tmp_path / "one.npy", [Q])) == 1


def test_folder_of_classes_and_labels(tmp_path: Path) -> None:
    for cls, n in (("cat", 2), ("dog", 3)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            np.save(tmp_path / cls / f"{i}.npy", np.full((4, 2), i, np.int8))
    d = load_samples(tmp_path, [Q])
    assert len(d) == 5
    idx, names = load_labels("folders", d)
    assert names == ["cat", "dog"] and idx.tolist() == [0, 0, 1, 1, 1]
    (tmp_path / "labels.txt").write_text("1\n0\n1\n1\n0\n")
    idx2, _ = load_labels(tmp_path / "labels.txt", d)
    assert idx2.tolist() == [1, 0, 1, 1, 0]
    np.save(tmp_path / "onehot.npy", np.eye(3)[[2, 0, 1, 1, 0]])
    assert load_labels(tmp_path / "onehot.npy", d)[0].tolist() == [2, 0, 1, 1, 0]
    (tmp_path / "short.txt").write_text("1\n")
    with pytest.raises(MicroaotError, match=r"short.txt: 1 labels for 5 input samples"):
        load_labels(tmp_path / "short.txt", d)


def test_npz_multi_input_and_stored_labels(tmp_path: Path) -> None:
    a, b = InputSpec("a", (2,), np.dtype(np.float32)), InputSpec("b", (1, 3), np.dtype(np.int16))
    np.savez(tmp_path / "d.npz", a=np.zeros((4, 2), np.float32), input1=np.ones((4, 3), np.int16),
             labels=np.array([0, 1, 0, 1]))
    d = load_samples(tmp_path / "d.npz", [a, b])
    assert len(d) == 4 and d.samples[2][1].dtype == np.int16 and d.file_labels is not None
    np.savez(tmp_path / "bad.npz", a=np.zeros((4, 2), np.float32))
    with pytest.raises(MicroaotError, match=r"no array for input 1 \('b'\)"):
        load_samples(tmp_path / "bad.npz", [a, b])


def test_raw_files_hook_and_errors(tmp_path: Path) -> None:
    (tmp_path / "s.bin").write_bytes(bytes(range(8)))
    d = load_samples(tmp_path / "s.bin", [Q])
    assert d.samples[0][0].reshape(-1).tolist() == list(range(8))
    (tmp_path / "short.bin").write_bytes(b"\0" * 7)
    with pytest.raises(MicroaotError, match=r"short.bin: 7 bytes, but one raw sample of input 'in' \(int8 \[1, 4, "
                                            r"2\]\) "
                                            r"is 8 bytes"):
        load_samples(tmp_path / "short.bin", [Q])
    hook = tmp_path / "prep.py"
    hook.write_text("import numpy as np\ndef load(p):\n    return np.frombuffer(p.read_bytes(), np.uint8)[:8] / 2.0\n")
    d2 = load_samples(tmp_path / "s.bin", [F], preprocess=load_preprocess_hook(f"{hook}:load"))
    assert d2.samples[0][0].dtype == np.float32 and d2.samples[0][0].reshape(-1)[3] == 1.5
    with pytest.raises(MicroaotError, match="defines no function 'nope'"):
        load_preprocess_hook(f"{hook}:nope")
    np.save(tmp_path / "big.npy", np.full((8,), 300, np.int32))
    with pytest.raises(MicroaotError, match=r"values 300..300 do not fit input 'in' \(int8\)"):
        load_samples(tmp_path / "big.npy", [Q])
    with pytest.raises(MicroaotError, match="no such file or folder"):
        load_samples(tmp_path / "missing", [Q])


def test_reference_samples_dequantize_integer_data(tmp_path: Path) -> None:
    np.save(tmp_path / "i.npy", np.array([[-3, -1, 1, 3, 5, 7, 9, 11]], np.int8))
    d = load_samples(tmp_path / "i.npy", [Q])
    ref = reference_samples(d, [Q], [F])
    assert ref[0][0].reshape(-1).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]


def test_metrics_values() -> None:
    out = [np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])]
    ref = [np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 2.0])]
    e = error_metrics(out, ref)
    assert e.mae == pytest.approx(4.0 / 6) and e.rmse == pytest.approx(np.sqrt(8.0 / 6))
    assert e.l2r == pytest.approx(np.sqrt(8.0) / np.sqrt(5.0)) and e.cosine == pytest.approx(0.5)
    c = class_metrics(out, np.array([0, 2]), ref)
    assert (c.top1, c.reference_top1, c.agreement) == (0.5, 1.0, 0.5)
    assert c.confusion == [[1, 0, 0], [0, 0, 0], [0, 1, 0]]
    assert c.reference_confusion == [[1, 0, 0], [0, 0, 0], [0, 0, 1]]


@pytest.mark.pio
def test_eval_on_user_data_with_labels_and_float_reference(tmp_path: Path) -> None:
    """A labelled set produced by running the float model (TFLM); the int8 model evaluated on it on the host
    board: every sample bit-exact with TFLM, the reference's top-1 is 100 % by construction, the agreement
    equals the device's top-1, and the confusion matrix counts every sample."""
    import json
    import subprocess
    import sys

    from microaot.reference import run_reference
    from microaot.testing import modelgen as mg

    in_q = mg.ActQ.from_range(-4.0, 4.0)
    qm, fm = tmp_path / "clf_int8.tflite", tmp_path / "clf_float.tflite"
    qm.write_bytes(mg.fully_connected_model(np.random.default_rng(7), input_shape=(1, 16), units=5, in_q=in_q))
    fm.write_bytes(mg.fully_connected_model(np.random.default_rng(7), input_shape=(1, 16), units=5, in_q=in_q,
                                            dtype="float32"))
    xs = np.random.default_rng(1).uniform(-3.5, 3.5, size=(40, 1, 16)).astype(np.float32)
    ref = run_reference(fm, [[x] for x in xs])
    labels = np.array([int(np.argmax(r[0])) for r in ref])
    data = tmp_path / "data"
    data.mkdir()
    for i, x in enumerate(xs):
        np.save(data / f"{i:03d}.npy", x)
    np.save(tmp_path / "labels.npy", labels)
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "microaot.evaluate", str(qm), "--board", "host", "--inputs", str(data),
         "--labels", str(tmp_path / "labels.npy"), "--reference-model", str(fm), "--json", str(out),
         "--work-dir", str(tmp_path / "work"), "--no-check-tensors"],
        capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rep = json.loads(out.read_text())
    m = rep["data_metrics"]
    assert rep["outputs_match"] and rep["seeds"] == 40
    assert m["samples"] == 40 and m["bit_exact"] == 40
    c = m["classification"]
    assert c["reference_top1"] == 1.0 and c["agreement"] == c["top1"] and 0.5 <= c["top1"] <= 1.0
    assert (sum(map(sum, c["confusion"])) == 40
            and c["reference_confusion"] == np.diag(np.bincount(labels, minlength=5)).tolist())
    e = m["error"]
    assert 0 < e["rmse"] and e["mae"] <= e["rmse"] and 0 < e["l2r"] < 0.5 and 0.8 < e["cosine"] <= 1.0
    assert "  samples             : 40 (40 bit-exact with TFLM)" in proc.stdout
    assert (f"top-1 {c['top1'] * 100:.2f}%, reference top-1 100.00%, agreement {c['top1'] * 100:.2f}% (5 classes)"
            in proc.stdout)


def test_eval_cli_rejects_bad_numbers_and_data_options(tmp_path: Path) -> None:
    import subprocess
    import sys

    for args, msg in ((["--seeds", "0"], "argument --seeds: 0 is not a positive integer (1 or more)"),
                      (["--runs", "-1"], "argument --runs: -1 is not a positive integer (1 or more)"),
                      (["--sequence", "0"], "argument --sequence: 0 is not a positive integer (1 or more)"),
                      (["--labels", "x.npy"], "--labels, --reference-model and --preprocess need --inputs")):
        proc = subprocess.run([sys.executable, "-m", "microaot.evaluate", str(tmp_path / "m.tflite"), *args],
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 2 and msg in proc.stderr, proc.stderr


@pytest.mark.pio
def test_pio_test_on_user_data_names_every_case_and_gates_budgets(tmp_path: Path) -> None:
    """``pio test`` with custom_microaot_test_inputs (a folder of .npy) and a RAM budget below what the model
    needs: one named line per case in PlatformIO's output (one per sample), the budget case fails with the
    option's name, and pio test exits non-zero."""
    import subprocess

    from microaot.pio.project import pio_argv, pio_environ, write_project
    from microaot.testing import modelgen as mg

    model = tmp_path / "fc.tflite"
    model.write_bytes(mg.fully_connected_model(np.random.default_rng(3), input_shape=(1, 32), units=4))
    (tmp_path / "p" / "data").mkdir(parents=True)
    for i in range(3):
        np.save(tmp_path / "p" / "data" / f"{i}.npy",
                np.random.default_rng(i).uniform(-2, 2, (1, 32)).astype(np.float32))
    proj = write_project(tmp_path / "p", "host", model=model, extra={
        "test_framework": "custom", "custom_microaot_test_inputs": "data", "custom_microaot_max_ram": "1K"})
    (proj / "test").mkdir()
    (proj / "test" / "test_custom_runner.py").write_text(
        "from microaot.pio.testing import MicroaotTestRunner\n\n\nclass CustomTestRunner(MicroaotTestRunner):\n"
        "    pass\n")
    env = pio_environ()
    env["PLATFORMIO_WORKSPACE_DIR"] = str(tmp_path / "ws")
    r = subprocess.run(pio_argv("test", "-d", str(proj), "-e", "host"), env=env, capture_output=True, text=True,
                       timeout=600, check=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out[-3000:]
    for i in range(3):
        assert f"host:outputs_match_tflm_seed{i}\t[PASSED] bit-exact" in out, out[-3000:]
    assert "host:budget_ram\t[FAILED] RAM " in out and "> 1,024 B (custom_microaot_max_ram; static " in out
    # flash defaults to the board's maximum (upload.maximum_size)
    assert "host:budget_flash\t[PASSED] flash " in out and "<= 268,435,456 B (custom_microaot_max_flash; model" in out
    assert "samples             : 3 (3 bit-exact with TFLM)" in out


def test_report_json_follows_its_schema_and_numbers_are_numbers(repo: Path, tmp_path: Path) -> None:
    import json

    import jsonschema

    from microaot import __version__
    from microaot.report.evaluation import EvalReport, MemoryReport, OpTime

    mem = MemoryReport(code=1000, weights=2000, rodata=10, data=4, bss=300, flash=3014, static_ram=304,
                       workspace=200, io_buffers=20, stack_reserved=1024, stack_high_water=400, pio_ram=1328)
    rep = EvalReport(model="m.tflite", model_hash="ab" * 32, board="qemu_mps2_an386", board_name="x",
                     timer_unit="instructions", seeds=2, runs=1, outputs_match=True, compared_bytes=24,
                     time_min=90, time_mean=95.0, time_max=100, memory=mem, macs=50,
                     ops=[OpTime(0, "CONV_2D", 70.0, 0.7, macs=50), OpTime(1, "SOFTMAX", 30.0, 0.3)],
                     settings={"f_cpu": "25000000L", "cache": 0, "flash_wait_states": "2", "icount_shift": 3})
    d = rep.to_dict()
    schema = json.loads((repo / "docs" / "schemas" / "eval-report-1.schema.json").read_text())
    jsonschema.validate(d, schema)
    assert (d["schema"], d["tool_version"]) == ("microaot-eval-report/1", __version__)
    assert d["settings"]["f_cpu"] == 25_000_000 and d["settings"]["flash_wait_states"] == 2
    assert d["time_per_mac"] == 95.0 / 50 and d["ops"][0]["per_mac"] == 70.0 / 50 and d["ops"][1]["per_mac"] is None
    text = rep.format_text()
    assert "  MACs                :         50 (1.90 instructions/MAC)" in text
    assert "RAM as PlatformIO counts it: 1,328 B = static 304 B + reserved stack 1,024 B" in text
    d["settings"]["f_cpu"] = "25000000L"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(d, schema)
    rep.write_png(tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.pio
@pytest.mark.qemu
def test_cycle_estimate_is_deterministic_and_follows_wait_states_and_cache(tmp_path: Path) -> None:
    """The QEMU plugin's cycle estimate (docs/cycle-model.md): the same firmware and settings give the same
    estimate; flash wait states raise it; the board's cache lowers it again; per-operator estimates add up
    to about the whole run (the profile's hooks aside)."""
    import dataclasses
    import shutil

    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs qemu-system-arm and arm-none-eabi-gcc (scripts/bootstrap.sh)")
    from microaot.boards import get_board
    from microaot.evaluate import evaluate_firmware
    from microaot.pio.project import build, write_project
    from microaot.testing import modelgen as mg

    model = tmp_path / "conv.tflite"
    model.write_bytes(mg.conv2d_model(np.random.default_rng(5), input_shape=(1, 12, 12, 8), filters=16,
                                      kernel=(3, 3)))
    b = build(write_project(tmp_path / "p", "qemu_mps2_an386", model=model), "qemu_mps2_an386", jobs=2)
    board = get_board("qemu_mps2_an386")

    def est(**settings: object) -> tuple[float, list[float | None], float]:
        info = dataclasses.replace(b.info, settings={**b.info.settings, **settings})
        rep = evaluate_firmware(model, board, b.firmware, info, seeds=1, check_tensors=False)
        assert rep.outputs_match and rep.cycle_estimate is not None, rep.cycle_note
        e = rep.cycle_estimate
        assert e.instructions_per_inference == pytest.approx(rep.time_mean, abs=64)
        return e.cycles_per_inference, e.op_cycles, e.cpi

    c0, ops0, cpi0 = est(flash_wait_states=0, cache=0)
    assert est(flash_wait_states=0, cache=0)[0] == c0
    assert 1.0 < cpi0 < 3.0 and ops0[0] is not None and 0.9 * c0 < ops0[0] <= c0
    c5, _, _ = est(flash_wait_states=5, cache=0)
    c5c, _, _ = est(flash_wait_states=5, cache=1)
    assert c5 > 1.3 * c0 and c0 < c5c < c5


@pytest.mark.pio
def test_a_device_that_dies_mid_run_keeps_the_finished_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from microaot.boards import get_board
    from microaot.errors import RpcError
    from microaot.evaluate import evaluate_firmware
    from microaot.pio.project import build, write_project
    from microaot.rpc.session import Session
    from microaot.testing import modelgen as mg

    model = tmp_path / "fc.tflite"
    model.write_bytes(mg.fully_connected_model(np.random.default_rng(1), input_shape=(1, 8), units=3))
    b = build(write_project(tmp_path / "p", "host", model=model), "host")
    calls = {"n": 0}
    real = Session.invoke

    def dying(self: Session, *a: object, **kw: object):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise RpcError("device process closed its output (exit code -9)")
        return real(self, *a, **kw)

    monkeypatch.setattr(Session, "invoke", dying)
    rep = evaluate_firmware(model, get_board("host"), b.firmware, b.info, seeds=5)
    assert rep.device_error == ("the device failed while running input 2 (seed 2): device process closed its output "
                                "(exit code -9)")
    assert rep.seeds == 2 and not rep.outputs_match and not rep.mismatches and rep.tensors_match is True
    assert "  DEVICE FAILED       : the device failed while running input 2 (seed 2)" in rep.format_text()
