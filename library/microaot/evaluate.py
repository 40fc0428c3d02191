"""``microaot eval``: build RPC firmware for a model and a board with PlatformIO, start it, check its
outputs against TFLM byte for byte, and report on-device time, sizes (from the ELF) and RAM.

    microaot eval model.tflite --board qemu_mps2_an386 [--json r.json] [--png r.png] [--seeds K]

The same evaluation runs in ``pio test`` (examples/eval_kws/test/test_custom_runner.py) on an
already built firmware through :func:`evaluate_firmware`.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microaot.boards import Board, get_board, load_boards, open_link
from microaot.cliutil import run_standalone
from microaot.cycles import CyclePlugin
from microaot.datasets import (
    Dataset,
    class_indices,
    input_specs,
    load_labels,
    load_preprocess_hook,
    load_samples,
    reference_samples,
)
from microaot.errors import MicroaotError, RpcError
from microaot.fidelity import model_ulp_bound, model_ulp_floor, ulp_distance
from microaot.frontend.tflite import load_tflite, read_model_file
from microaot.fsutil import FileLock, private_temp_dir
from microaot.hostbuild import generic_op_hashes as host_hashes
from microaot.inspect_model import op_macs
from microaot.ir.graph import Graph
from microaot.ops import conditional_outputs
from microaot.options import argparse_type, parse_positive_float, parse_positive_int, parse_size
from microaot.passes.support import check_compilable
from microaot.paths import repo_root
from microaot.pio import project as pio_project
from microaot.pio.build import BuildInfo
from microaot.reference import run_reference_sequences
from microaot.report.budgets import Budgets, exceeded
from microaot.report.budgets import check as check_budgets
from microaot.report.evaluation import EvalReport, MemoryReport, Mismatch, OpTime, number_settings
from microaot.report.memory import memory_from_elf
from microaot.report.metrics import DataMetrics, class_metrics, dequantize, error_metrics
from microaot.rpc.protocol import differing_ops
from microaot.rpc.session import Session

DEFAULT_SEEDS = 3
# consecutive invocations per seed of a stateful model (state reset before each seed's sequence)
DEFAULT_STATEFUL_SEQUENCE = 3
positive_int = argparse_type(parse_positive_int)


# ---- inputs and the reference -------------------------------------------------------------------


# a float32 output this close to TFLM (in ulps) on a device that matches the host build is float rounding
FLOAT_ULP_LEVEL = 64


def make_input(dtype: np.dtype, shape: Sequence[int], seed: int, index: int = 0, step: int = 0) -> np.ndarray:
    """Deterministic test input: uniform over the integer range, or N(0, 1) for float tensors. ``step``: the
    position in a sequence (step 0 is the input a stateless evaluation of ``seed`` uses)."""
    rng = np.random.default_rng([seed, index] if step == 0 else [seed, index, step])
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, size=tuple(shape)).astype(dt)
    if dt.kind in "iu":
        ii = np.iinfo(dt)
        return rng.integers(ii.min, int(ii.max) + 1, size=tuple(shape), dtype=dt)
    return rng.standard_normal(size=tuple(shape)).astype(dt)


def reference_outputs(model: Path, input_sets: Sequence[Sequence[np.ndarray]],
                      groups: Sequence[int] | None = None) -> list[list[np.ndarray]]:
    """TFLM's outputs for each set of inputs (one TFLM subprocess for all sets). ``groups``: the sets form
    consecutive sequences of these lengths, each starting from the model's initial state (a stateful model);
    None: each set is a sequence of its own."""
    groups = [1] * len(input_sets) if groups is None else list(groups)
    pos, seqs = 0, []
    for n in groups:
        seqs.append(list(input_sets[pos:pos + n]))
        pos += n
    return [outs for seq in run_reference_sequences(model, seqs) for outs in seq]


def sequence_groups(count: int, sequence: int) -> list[int]:
    """Lengths of the consecutive sequences ``count`` steps are cut into (the last one may be shorter)."""
    return [min(sequence, count - k) for k in range(0, count, sequence)]


# ---- memory from the ELF ------------------------------------------------------------------------


# ---- evaluation of a running firmware -----------------------------------------------------------


def _seconds(value: float, unit: str, f_cpu: int) -> float | None:
    if unit == "ns":
        return value * 1e-9
    if unit == "us":
        return value * 1e-6
    if unit == "cycles" and f_cpu > 0:
        return value / f_cpu
    return None


def evaluate_firmware(
    model: Path,
    board: Board,
    firmware: Path | None,
    info: BuildInfo,
    *,
    seeds: int = DEFAULT_SEEDS,
    runs: int = 1,
    port: str | None = None,
    profile: bool = True,
    timeout: float = 60.0,
    check_tensors: bool = True,
    data: UserData | None = None,
    cycle_estimate: bool = True,
    sequence: int | None = None,
) -> EvalReport:
    """Start the firmware (or open the port), evaluate the model over RPC against TFLM, on ``seeds`` random
    inputs or on the samples of ``data`` (with metrics: see :func:`data_metrics`). ``check_tensors``:
    also compare every operator's output (the device's OPCHECK hashes) with the generic-C build of the
    model run on the host (whose kernels are checked against TFLM operator by operator); on an output
    mismatch that comparison runs anyway, to name the first differing operator.

    ``sequence``: consecutive invocations per seed (each with its own random inputs), the model's state
    reset before each seed's sequence (RESET_STATE on the device, a fresh start of TFLM), every step
    compared with TFLM. None: 1 for a stateless model, DEFAULT_STATEFUL_SEQUENCE (3) for a stateful one
    (HELLO's state size > 0). With ``data`` the samples are the steps, in order, cut into sequences of
    ``sequence`` samples (None: one sequence of every sample for a stateful model, 1 otherwise)."""

    t0 = time.monotonic()
    model = Path(model)
    model_hash = hashlib.sha256(read_model_file(model)).hexdigest()
    graph = load_tflite(model)
    cycles_dir = tempfile.TemporaryDirectory(prefix="microaot_cycles_")  # private (mode 0700)
    plugin, cycle_note = _cycle_plugin(board, firmware, info, Path(cycles_dir.name)) if cycle_estimate else (None, None)
    transport = open_link(board, firmware, port=port, qemu_args=plugin.qemu_args if plugin else ())
    mismatches: list[Mismatch] = []
    compared = 0
    times: list[int] = []
    with Session(transport, timeout=timeout) as s:
        dev = s.hello()
        if dev.model_hash and not model_hash.startswith(dev.model_hash[:16]):
            raise MicroaotError(
                f"{model}: the firmware on {board.id} was built for another model "
                f"(device hash {dev.model_hash}, file {model_hash[:16]}); rebuild it"
            )
        input_sets: list[list[np.ndarray]] = []
        device_outs: list[list[np.ndarray]] = []
        # OPCHECK: every operator's output hash, per input (one more, untimed run each)
        device_hashes: list[list[int]] | None = [] if dev.has_opcheck else None
        from tqdm import tqdm

        stateful = dev.stateful
        skipped: list[str] = []
        if stateful and runs > 1:
            skipped.append(f"--runs {runs}: the model keeps state between runs, so every step of a sequence runs "
                           "once (another run would be the next step)")
            runs = 1
        if sequence is None:
            sequence = (max(len(data.dataset), 1) if data is not None else DEFAULT_STATEFUL_SEQUENCE) if stateful else 1
        # (sequence, step, sample index) of every invocation, in order; the state is reset at each step 0
        count = len(data.dataset) if data is not None else seeds * sequence
        plan = [(i // sequence, i % sequence, i) for i in range(count)]
        bar = tqdm(plan, desc=f"eval on {board.id}", unit="input", disable=not sys.stderr.isatty())
        device_error: str | None = None
        done: list[tuple[int, int]] = []  # (sequence, step) of every input that ran
        for seq, step, i in bar:
            xs = (data.device_sample(i, dev.inputs) if data is not None
                  else [make_input(t.np_dtype, t.shape, seq, t.index, step) for t in dev.inputs])
            try:
                if step == 0 and stateful:
                    s.reset_state()
                ys, timing = s.invoke(xs, runs=runs)
                # a stateful model's tensors are hashed in a replay of the sequences below (OPCHECK is a run)
                hashes = s.op_hashes() if device_hashes is not None and not stateful else None
            except RpcError as e:  # the device died or hung: keep what finished, name the input that ran
                what = (f"sample {i} ({data.dataset.sources[i]})" if data is not None
                        else f"input {seq} (seed {seq})" if sequence == 1 else f"seed {seq} step {step}")
                device_error = f"the device failed while running {what}: {e}"
                break
            times.extend(int(v) for v in timing.per_run)
            input_sets.append(xs)
            device_outs.append(ys)
            done.append((seq, step))
            if device_hashes is not None and hashes is not None:
                device_hashes.append(hashes)
        groups = sequence_groups(len(input_sets), sequence)  # what ran (a failure cuts the last sequence)
        if stateful and device_hashes is not None and device_error is None:
            try:  # replay every sequence from a reset state, hashing each step's tensors
                pos = 0
                for n in groups:
                    s.reset_state()
                    for xs in input_sets[pos:pos + n]:
                        for k, a in enumerate(xs):
                            s.write_input(k, a)
                        device_hashes.append(s.op_hashes())
                    pos += n
            except RpcError as e:
                device_error = f"the device failed while replaying the sequences for the tensor check: {e}"
                device_hashes = []  # not compared (the failure is reported)
        table_note = (f"the firmware's RPC server has no per-operator table for this model's {len(dev.op_names)} "
                      "operators (it holds UAOT_RPC_MAX_OPS, 128 by default; microaot's PlatformIO build raises it to "
                      f"the model's operator count): rebuild the firmware, or add `build_flags = -D UAOT_RPC_MAX_OPS="
                      f"{len(dev.op_names)}` to its platformio.ini")
        if device_hashes is None and check_tensors:
            skipped.append(f"the per-operator tensor check (OPCHECK): {table_note}")
        if profile and not dev.has_profile:
            skipped.append(f"the per-operator profile (PROFILE): {table_note}")
        ops: list[OpTime] = []
        stats = None
        prof = None
        if device_error is None:
            if profile and dev.has_profile:
                prof = s.profile(runs=1)
                total = sum(o.per_run for o in prof) or 1.0
                ops = [OpTime(o.index, o.name, float(o.per_run), float(o.per_run) / total, *op_figures(graph, o.index))
                       for o in prof]
            stats = s.stats()
        out_quant = [(t.scale, t.zero_point) for t in dev.outputs]
        unit = dev.timer_unit
        board_name = dev.board
        clock_hz = dev.clock_hz
        state_size = dev.state_size
        op_names = list(dev.op_names)
    est = None
    if plugin is not None:  # QEMU has exited: the plugin's file is complete
        est = plugin.estimate(times, [o.per_run for o in prof] if prof is not None else [])
        if est is None:
            cycle_note = "the cycle plugin's segments did not match the device's timed runs"
        else:
            for op, c in zip(ops, est.op_cycles, strict=False):
                op.est_cycles = c
    cycles_dir.cleanup()
    if not input_sets:
        refs_all: list[list[np.ndarray]] = []
    elif sequence == 1:  # every input from the initial state
        refs_all = reference_outputs(model, input_sets)
    else:
        refs_all = reference_outputs(model, input_sets, groups)
    exact_samples = 0
    # float32 outputs: within the model's documented ulp bound of TFLM (microaot.fidelity) is a match
    ulp_bound = model_ulp_bound(op_names)
    ulp_floor = model_ulp_floor(op_names)
    float_max_ulp: int | None = None
    float_ulp_only = True  # every mismatch is a float32 output
    # outputs TFLM defines only while a flag output is true (SignalFramer / SignalStacker frames)
    conditional = {c.output: c for c in conditional_outputs(graph)}
    undefined_skipped = 0
    for (seed, step), ys, refs in zip(done, device_outs, refs_all, strict=True):
        identical = len(refs) == len(ys)  # every output byte equal (float outputs within their ulp bound are not)
        if len(refs) != len(ys):
            mismatches.append(Mismatch(seed, -1, abs(len(refs) - len(ys)), float("nan"), step))
            float_ulp_only = False
        for oi, (y, r) in enumerate(zip(ys, refs, strict=False)):
            cond = conditional.get(oi)
            if cond is not None and (cond.flag is None or cond.flag >= len(refs)
                                     or not np.asarray(refs[cond.flag]).any()):
                undefined_skipped += 1  # TFLM leaves this output unwritten at this step: nothing to compare
                continue
            yb = np.ascontiguousarray(y).tobytes()
            rb = np.ascontiguousarray(np.asarray(r).astype(y.dtype, copy=False)).tobytes()
            compared += len(yb)
            identical = identical and yb == rb
            is_float = y.dtype == np.float32 and y.size == np.asarray(r).size
            if is_float:
                ulps = int(ulp_distance(np.asarray(y).reshape(-1), np.asarray(r).reshape(-1),
                                        ulp_floor).max(initial=0))
                float_max_ulp = max(float_max_ulp or 0, ulps)
                if ulps <= ulp_bound:
                    continue
            if yb != rb or y.size != np.asarray(r).size:
                float_ulp_only = float_ulp_only and is_float
                yy = np.asarray(y).reshape(-1).astype(np.float64)
                rr = np.asarray(r).reshape(-1).astype(np.float64)
                n = min(yy.size, rr.size)
                diff = np.abs(yy[:n] - rr[:n])
                mismatches.append(Mismatch(seed, oi, int((diff != 0).sum()), float(diff.max(initial=0.0)), step))
        exact_samples += identical
    metrics = (data.metrics(device_outs, out_quant, exact_samples, groups) if data is not None and device_outs
               else None)
    diagnosis: str | None = None
    tensors_match: bool | None = None
    if device_hashes and (check_tensors or mismatches):
        want = generic_op_hashes(model, input_sets, groups if stateful else None)
        if isinstance(want, str):
            diagnosis = want
        else:
            labels = [f"seed {q}" if sequence == 1 else f"seed {q} step {k}" for q, k in done]
            tensors_match, diagnosis = compare_tensors(device_hashes, want, op_names, board.id, labels)
            if diagnosis is None and mismatches and float_ulp_only and (float_max_ulp or 0) <= FLOAT_ULP_LEVEL:
                diagnosis = (f"float32 rounding, not a wrong kernel: every operator's output on {board.id} equals the "
                             "generic-C build on the host bit for bit, and the outputs are within "
                             f"{float_max_ulp} ulp of TFLM (documented bound for this model's operators: {ulp_bound} "
                             "ulp, docs/operators.md): microaot's float math (fmath.h) and TFLM's libm round a few "
                             "results differently; changing the target or schedule will not change that")
            elif diagnosis is None and mismatches:
                diagnosis = (f"every operator's output on {board.id} equals the generic-C build on the host, so the "
                             "difference to TFLM is in microaot's portable arithmetic for this model, not in the "
                             "board's kernels: please report it with the model file")
    if undefined_skipped:
        why = "; ".join(
            f"output {c.output} ({c.opcode} #{c.op_index} output {c.k}) is defined only when "
            + (f"output {c.flag} is true" if c.flag is not None
               else f"its output {c.j} is true, which is not a graph output (make it one to compare the frames)")
            for c in conditional.values())
        skipped.append(f"{undefined_skipped} output comparison(s) with TFLM at steps where TFLM leaves the output "
                       f"unwritten: {why}")
    for note in skipped:
        print(f"microaot: eval skipped {note}", file=sys.stderr)
    memory = (
        memory_from_elf(firmware, info, stats) if firmware is not None
        else _memory_from_stats(info, stats)
    )
    mean = float(np.mean(times)) if times else 0.0
    # the clock the firmware reports running at (HELLO) wins over the build's F_CPU
    f_cpu = clock_hz or _board_clock(board, info)
    settings = dict(info.settings)
    if clock_hz:
        settings["clock_hz"] = clock_hz
    return EvalReport(
        model=str(model),
        model_hash=model_hash,
        board=board.id,
        board_name=board_name,
        timer_unit=unit,
        seeds=len(groups),
        runs=runs,
        sequence=sequence,
        state_size=state_size,
        outputs_match=not mismatches and device_error is None,
        compared_bytes=compared,
        time_min=min(times) if times else 0,
        time_mean=mean,
        time_max=max(times) if times else 0,
        memory=memory,
        ops=ops,
        mismatches=mismatches,
        first_outputs=[np.asarray(y).reshape(-1).tolist() for y in device_outs[0]] if device_outs else [],
        settings=settings,
        firmware=str(firmware or ""),
        eval_seconds=time.monotonic() - t0,
        seconds_per_inference=_seconds(mean, unit, f_cpu),
        tensor_diagnosis=diagnosis,
        tensors_match=tensors_match,
        data_metrics=metrics,
        device_error=device_error,
        macs=sum(op_macs(graph, op) for op in graph.operators),
        cycle_estimate=est,
        cycle_note=cycle_note,
        flash_limit=board.flash_size,
        ram_limit=board.ram_size,
        float_max_ulp=float_max_ulp,
        float_ulp_bound=ulp_bound if float_max_ulp is not None else None,
        skipped=skipped,
    )


def _board_clock(board: Board, info: BuildInfo) -> int:
    """The clock (Hz) the build was configured for: ``f_cpu`` of its SoC settings, else the board's (0: none)."""
    return int(number_settings({"f_cpu": info.settings.get("f_cpu", board.f_cpu)})["f_cpu"] or 0)


def _cycle_plugin(board: Board, firmware: Path | None, info: BuildInfo,
                  work: Path) -> tuple[CyclePlugin | None, str | None]:
    """The QEMU cycle plugin for this firmware, or (None, why not) - only QEMU boards get an estimate."""
    if board.launch != "qemu" or firmware is None:
        return None, None
    cpu = str(board.manifest.get("build", {}).get("cpu", "") or board.target)
    try:
        return CyclePlugin.prepare(firmware, cpu=cpu, settings=info.settings, f_cpu=_board_clock(board, info),
                                   name=info.name, work_dir=work), None
    except (OSError, ValueError) as e:
        return None, f"no cycle estimate: {e}"


def op_figures(graph: Graph, index: int) -> tuple[int, int, int]:
    """(MACs, constant input bytes, output bytes) of operator ``index`` (zeros if out of range)."""
    if not 0 <= index < len(graph.operators):
        return 0, 0, 0
    op = graph.operators[index]
    consts = sum(graph.tensors[t].nbytes for t in op.inputs if t >= 0 and graph.tensors[t].is_const)
    return op_macs(graph, op), consts, sum(graph.tensors[t].nbytes for t in op.outputs)


@dataclass
class UserData:
    """A user's samples (``--inputs``), optional labels and float reference model, for
    :func:`evaluate_firmware`."""

    dataset: Dataset
    labels: np.ndarray | None = None
    class_names: list[str] | None = None
    reference_model: Path | None = None
    reference_inputs: list[list[np.ndarray]] | None = None

    @classmethod
    def load(cls, model: Path, inputs: Path, *, labels: str | None = None, reference_model: Path | None = None,
             preprocess: str | None = None) -> UserData:
        """Read everything before any build, so that a wrong file fails at once."""
        specs = input_specs(load_tflite(model))
        hook = load_preprocess_hook(preprocess) if preprocess else None
        ds = load_samples(inputs, specs, preprocess=hook)
        if not len(ds):
            raise MicroaotError(f"{inputs}: no input samples")
        idx: np.ndarray | None = None
        names: list[str] | None = None
        if labels is not None:
            idx, names = load_labels(labels, ds)
        elif ds.file_labels is not None:
            idx = class_indices(ds.file_labels, str(inputs))
            if len(idx) != len(ds):
                raise MicroaotError(f"{inputs}: {len(idx)} labels for {len(ds)} input samples")
        ref_inputs = None
        if reference_model is not None:
            reference_model = Path(reference_model)
            if not reference_model.is_file():
                raise MicroaotError(f"{reference_model}: no such reference model (--reference-model)")
            ref_inputs = reference_samples(ds, specs, input_specs(load_tflite(reference_model)))
        return cls(ds, idx, names, reference_model, ref_inputs)

    def device_sample(self, i: int, inputs: Sequence[object]) -> list[np.ndarray]:
        sample = self.dataset.samples[i]
        if len(sample) != len(inputs):
            raise MicroaotError(f"the device's model has {len(inputs)} input(s), the data {len(sample)}: rebuild the "
                                "firmware for this model")
        return sample

    def metrics(self, device_outs: Sequence[Sequence[np.ndarray]], out_quant: Sequence[tuple[float, int]],
                exact: int, groups: Sequence[int] | None = None) -> DataMetrics:
        m = DataMetrics(samples=len(device_outs), bit_exact=exact,
                        reference_model=str(self.reference_model) if self.reference_model else None)
        deq = [np.concatenate([dequantize(y, sc, zp).reshape(-1) for y, (sc, zp) in zip(ys, out_quant, strict=True)])
               for ys in device_outs]
        first = [dequantize(ys[0], *out_quant[0]) for ys in device_outs]
        refs: list[np.ndarray] | None = None
        if self.reference_model is not None and self.reference_inputs is not None:
            ref_all = reference_outputs(self.reference_model, self.reference_inputs[:len(device_outs)], groups)
            flat = [np.concatenate([np.asarray(r, dtype=np.float64).reshape(-1) for r in rs]) for rs in ref_all]
            if flat and flat[0].size != deq[0].size:
                m.notes.append(f"the reference model gives {flat[0].size} output values, the model {deq[0].size}: "
                               "no error metrics")
            else:
                m.error = error_metrics(deq, flat)
                refs = [np.asarray(rs[0], dtype=np.float64) for rs in ref_all]
        if self.labels is not None or refs is not None:
            try:
                m.classification = class_metrics(first, self.labels, refs, self.class_names)
            except ValueError as e:
                m.notes.append(f"no classification metrics: {e}")
        return m


def generic_op_hashes(model: Path, input_sets: Sequence[Sequence[np.ndarray]],
                      groups: Sequence[int] | None = None) -> list[list[int]] | str:
    """``hostbuild.generic_op_hashes`` in a temporary folder (``groups``: the sets are consecutive sequences of
    these lengths, for a stateful model); a message instead when that build is not possible here."""

    try:
        with tempfile.TemporaryDirectory(prefix="microaot_tensors_") as tmp:
            return host_hashes(model, input_sets, tmp, groups=groups)
    except (MicroaotError, OSError) as e:
        return f"could not build the generic-C model on the host to compare the tensors ({str(e).splitlines()[0]})"


def compare_tensors(device: Sequence[Sequence[int]], want: Sequence[Sequence[int]], op_names: Sequence[str],
                    board: str, labels: Sequence[str] | None = None) -> tuple[bool, str | None]:
    """(every tensor equal, None) or (False, which operator first differs, on which input: ``labels[i]`` names
    input i, default "seed i")."""
    for seed, (dh, wh) in enumerate(zip(device, want, strict=True)):
        where = labels[seed] if labels is not None and seed < len(labels) else f"seed {seed}"
        if len(dh) != len(wh):
            return False, (f"the device reports {len(dh)} operators, the model has {len(wh)}: the firmware was "
                           "built from another version of the model; rebuild it")
        diff = differing_ops(dh, wh)
        if diff:
            k = diff[0]
            name = op_names[k] if k < len(op_names) else "?"
            return False, (
                f"on {where} operator {k} ({name}) is the first whose output differs from the generic-C build "
                f"of the same model on the host ({len(diff)} operator(s) differ: {', '.join(map(str, diff[:8]))}"
                f"{', ...' if len(diff) > 8 else ''}); its kernel or schedule on {board} is wrong: report it with "
                "the model file; to work around it, build with `board_build.microaot.target = generic` or give "
                "that operator another schedule in a tuning log")
    return True, None


def _memory_from_stats(info: BuildInfo, stats: object) -> MemoryReport:
    ram = int(getattr(stats, "static_ram", 0) or 0)
    return MemoryReport(
        code=0,
        weights=info.weight_bytes,
        rodata=0,
        data=0,
        bss=ram,
        flash=info.weight_bytes,
        static_ram=ram,
        workspace=info.workspace_size,
        io_buffers=getattr(stats, "io_bytes", None),
        stack_reserved=getattr(stats, "stack_size", None),
        stack_high_water=getattr(stats, "stack_high_water", None),
        model_stack=getattr(stats, "model_stack", None),
        weight_section=info.section,
    )


# ---- the whole thing: project, build, run -------------------------------------------------------


def eval_model(
    model: Path,
    board_id: str,
    *,
    project: Path | None = None,
    env_name: str | None = None,
    work_dir: Path | None = None,
    seeds: int = DEFAULT_SEEDS,
    runs: int = 1,
    port: str | None = None,
    jobs: int | None = None,
    verbose: bool = False,
    check_tensors: bool = True,
    data: UserData | None = None,
    sequence: int | None = None,
) -> EvalReport:
    model = Path(model).resolve()
    if not model.is_file():
        raise MicroaotError(f"{model}: no such model file")
    board = get_board(board_id)
    check_compilable(model, board.target)  # every problem of an unsupported model, before any PlatformIO build
    generated = project is None
    if project is None:
        # a per-user private folder (mode 0700, owner checked): never a predictable shared path
        base = Path(work_dir) if work_dir else private_temp_dir("eval")
        key = hashlib.sha256(f"{model}|{board_id}|{repo_root()}".encode()).hexdigest()[:10]
        project = base / f"{model.stem}-{board_id}-{key}"
    project = Path(project)
    project.mkdir(parents=True, exist_ok=True)
    # one eval at a time per project folder: a second eval of the same model and board waits for
    # the first instead of racing it in the same build folder (symlink-safe lock, microaot.fsutil)
    (project / ".pio").mkdir(exist_ok=True)
    lock = FileLock(project / ".pio" / "microaot-eval.lock").acquire(
        on_wait=lambda: print(f"microaot: waiting for another microaot eval using {project} ...", file=sys.stderr))
    try:
        return _eval_locked(model, board, board_id, project, env_name if not generated else None, generated=generated,
                            seeds=seeds, runs=runs, port=port, jobs=jobs, verbose=verbose,
                            check_tensors=check_tensors, data=data, sequence=sequence)
    finally:
        lock.release()


def _eval_locked(model: Path, board: Board, board_id: str, project: Path, env_name: str | None, *, generated: bool,
                 seeds: int, runs: int, port: str | None, jobs: int | None, verbose: bool,
                 check_tensors: bool, data: UserData | None, sequence: int | None = None) -> EvalReport:
    if generated:
        pio_project.write_project(project, board_id, model=model)
    env_name = env_name or board_id
    print(f"microaot: building {model.name} for {board_id} in {project} ...", file=sys.stderr)
    built = pio_project.build(Path(project), env_name, jobs=jobs, verbose=verbose)
    shift = built.info.settings.get("icount_shift")
    if shift is not None:
        board = board.with_settings(icount_shift=int(shift))
    print(f"microaot: built in {built.seconds:.1f} s; evaluating on {board_id} ...", file=sys.stderr)
    if board.launch == "serial":
        if not port:
            raise MicroaotError(
                f"board {board_id} is real hardware: connect it and give its serial port, e.g. --port /dev/ttyACM0"
            )
        print(f"microaot: flashing {board_id} (pio run -t upload) ...", file=sys.stderr)
        pio_project.upload(Path(project), env_name)
    rep = evaluate_firmware(model, board, built.firmware, built.info, seeds=seeds, runs=runs, port=port,
                            check_tensors=check_tensors, data=data, sequence=sequence)
    rep.build_seconds = built.seconds
    return rep


# ---- CLI -----------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", type=Path, nargs="+", metavar="model",
                   help="the .tflite model (several: a model-zoo evaluation, with --boards)")
    p.add_argument("--boards", metavar="B1,B2",
                   help="evaluate every model on each of these boards; one combined table / JSON")
    p.add_argument("--cluster", metavar="tcp://HOST:PORT|local:N",
                   help="run the builds and measurements on a Dask cluster (docs/cluster.md)")
    p.add_argument("--board", default="qemu_mps2_an386",
                   help=f"board id (platform/boards/*.json): {', '.join(sorted(load_boards()))}")
    p.add_argument("--project", type=Path, help="use this PlatformIO project instead of a generated one")
    p.add_argument("--env", dest="env_name", help="environment of --project (default: the board id)")
    p.add_argument(
        "--work-dir", type=Path, help="where generated projects are kept (default: $TMPDIR/microaot-<uid>/eval, "
                                      "private to you)"
    )
    p.add_argument("--seeds", type=positive_int, default=DEFAULT_SEEDS,
                   help="number of random inputs checked (without --inputs)")
    p.add_argument("--runs", type=positive_int, default=1, help="timed runs per input")
    p.add_argument("--sequence", type=positive_int, metavar="N",
                   help="consecutive invocations per seed, each with new random inputs, the model's state reset "
                        "before each seed's sequence and every step compared with TFLM (default: 1 for a stateless "
                        f"model, {DEFAULT_STATEFUL_SEQUENCE} for a stateful one: LSTM, SVDF, resource variables); "
                        "with --inputs: N consecutive samples per sequence (default: all of them for a stateful "
                        "model)")
    p.add_argument("--inputs", type=Path, metavar="PATH",
                   help="evaluate on your own data instead of random inputs: a .npy/.npz batch, a folder of .npy "
                        "files (sub-folders = classes) or raw files (see docs/evaluation.md)")
    p.add_argument("--labels", metavar="PATH|folders",
                   help="class labels of --inputs (.npy/.npz/text, one integer per sample, or 'folders'): "
                        "reports top-1 accuracy and the confusion matrix")
    p.add_argument("--reference-model", type=Path, metavar="FLOAT.tflite",
                   help="the float model the quantized one came from, run by TFLM on the same data: reports "
                        "RMSE, MAE, L2r, cosine, its top-1 and the agreement")
    p.add_argument("--max-ram", type=argparse_type(parse_size), metavar="BYTES",
                   help="fail (exit 1) when static RAM + stack high-water exceed this (default: the board's RAM)")
    p.add_argument("--max-flash", type=argparse_type(parse_size), metavar="BYTES",
                   help="fail (exit 1) when flash (code + weights + constants) exceeds this (default: the board's "
                        "flash)")
    p.add_argument("--max-ms", type=argparse_type(parse_positive_float), metavar="MS",
                   help="fail (exit 1) when one inference takes longer (needs a board that measures time)")
    p.add_argument("--preprocess", metavar="FILE.py:FUNCTION",
                   help="turns each input file into a sample: FUNCTION(path) -> array (or a list, one per input)")
    p.add_argument("--port", help="serial port URL of a real board (after `pio run -t upload`)")
    p.add_argument("--json", type=Path, help="write the report as JSON")
    p.add_argument("--png", type=Path, help="write the per-operator bar chart")
    p.add_argument("--no-check-tensors", dest="check_tensors", action="store_false",
                   help="do not compare every intermediate tensor with the generic-C build on the host "
                        "(saves its host compile; a mismatch of the outputs is still diagnosed)")
    p.add_argument("-j", "--jobs", type=int, help="parallel compile jobs")
    p.add_argument("-v", "--verbose", action="store_true", help="show the PlatformIO build output")


def run_cli(args: argparse.Namespace) -> int:
    """One model on one board (``microaot eval`` dispatches a model zoo to ``microaot.cluster``)."""
    if len(args.models) > 1 or args.boards or args.cluster:
        raise MicroaotError("several models, --boards or --cluster: a model-zoo evaluation, run it with `microaot "
                            "eval`")
    args.model = args.models[0]
    data = None
    if args.inputs is not None:
        data = UserData.load(
            Path(args.model),
            args.inputs,
            labels=args.labels,
            reference_model=args.reference_model,
            preprocess=args.preprocess,
        )
    elif args.labels or args.reference_model or args.preprocess:
        raise MicroaotError("--labels, --reference-model and --preprocess need --inputs (your data)")
    rep = eval_model(
        args.model,
        args.board,
        project=args.project,
        env_name=args.env_name,
        work_dir=args.work_dir,
        seeds=args.seeds,
        runs=args.runs,
        port=args.port,
        jobs=args.jobs,
        verbose=args.verbose,
        check_tensors=args.check_tensors,
        data=data,
        sequence=args.sequence,
    )
    board = get_board(args.board)
    budgets = Budgets(
        max_ram=args.max_ram or board.ram_size or None,
        max_flash=args.max_flash or board.flash_size or None,
        max_ms=args.max_ms,
    )
    rep.budgets = [{"name": n, "ok": ok, "message": msg} for n, ok, msg in check_budgets(rep, budgets)]
    over = exceeded(rep, budgets)
    print(rep.format_text())
    for line in over:
        print(line)
    if args.json:
        rep.write_json(args.json)
        print(f"\nJSON report: {args.json}")
    if args.png:
        rep.write_png(args.png)
        print(f"per-operator chart: {args.png}")
    return 0 if rep.outputs_match and rep.tensors_match is not False and not over else 1


def main(argv: Sequence[str] | None = None) -> int:
    return run_standalone("microaot eval", add_arguments, run_cli, argv, error_status=2)


if __name__ == "__main__":
    sys.exit(main())
