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
from pathlib import Path

import numpy as np

from microaot.boards import Board, get_board, open_link
from microaot.cliutil import run_standalone
from microaot.errors import MicroaotError
from microaot.hostbuild import generic_op_hashes as host_hashes
from microaot.paths import repo_root
from microaot.pio import project as pio_project
from microaot.pio.build import BuildInfo
from microaot.reference import run_reference
from microaot.report.elf import read_sections, read_symbols
from microaot.report.evaluation import EvalReport, MemoryReport, Mismatch, OpTime
from microaot.rpc.protocol import differing_ops
from microaot.rpc.session import Session

DEFAULT_SEEDS = 3


# ---- inputs and the reference -------------------------------------------------------------------


def make_input(dtype: np.dtype, shape: Sequence[int], seed: int, index: int = 0) -> np.ndarray:
    """Deterministic test input: uniform over the integer range, or N(0, 1) for float tensors."""
    rng = np.random.default_rng([seed, index])
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        ii = np.iinfo(dt)
        return rng.integers(ii.min, int(ii.max) + 1, size=tuple(shape), dtype=dt)
    return rng.standard_normal(size=tuple(shape)).astype(dt)


def reference_outputs(model: Path, input_sets: Sequence[Sequence[np.ndarray]]) -> list[list[np.ndarray]]:
    """TFLM's outputs for each set of inputs (one TFLM subprocess for all sets)."""
    return run_reference(model, input_sets)


# ---- memory from the ELF ------------------------------------------------------------------------


def memory_from_elf(elf: Path, info: BuildInfo, stats: object | None = None) -> MemoryReport:
    weight_section = info.section or ".rodata.microaot"
    code = weights = rodata = data = bss = 0
    stack_reserved: int | None = None
    for s in read_sections(elf):
        if s.name == weight_section or s.name.startswith(weight_section + "."):
            weights += s.size
        elif s.name == ".stack":
            stack_reserved = s.size
        elif s.kind == "text":
            code += s.size
        elif s.kind == "rodata":
            if s.name == ".isr_vector":
                code += s.size
            else:
                rodata += s.size
        elif s.kind == "data":
            data += s.size
        elif s.kind == "bss":
            bss += s.size
    workspace = info.workspace_size
    io_bytes: int | None = None
    for sym in read_symbols(elf):
        if sym.name == "uaot_app_workspace" and sym.size:
            workspace = sym.size
    hw = model_stack = None
    if stats is not None:
        io_bytes = getattr(stats, "io_bytes", None)
        hw = getattr(stats, "stack_high_water", None)
        model_stack = getattr(stats, "model_stack", None)
        if stack_reserved is None:
            stack_reserved = getattr(stats, "stack_size", None)
    return MemoryReport(
        code=code,
        weights=weights,
        rodata=rodata,
        data=data,
        bss=bss,
        flash=code + weights + rodata + data,
        static_ram=data + bss,
        workspace=workspace,
        io_buffers=io_bytes,
        stack_reserved=stack_reserved,
        stack_high_water=hw,
        model_stack=model_stack,
        weight_section=weight_section,
    )


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
) -> EvalReport:
    """Start the firmware (or open the port), evaluate the model over RPC against TFLM. ``check_tensors``:
    also compare every operator's output (the device's OPCHECK hashes) with the generic-C build of the
    model run on the host (whose kernels are checked against TFLM operator by operator); on an output
    mismatch that comparison runs anyway, to name the first differing operator."""

    t0 = time.monotonic()
    model = Path(model)
    model_hash = hashlib.sha256(model.read_bytes()).hexdigest()
    transport = open_link(board, firmware, port=port)
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

        bar = tqdm(range(seeds), desc=f"eval on {board.id}", unit="input", disable=not sys.stderr.isatty())
        for seed in bar:
            xs = [make_input(t.np_dtype, t.shape, seed, t.index) for t in dev.inputs]
            ys, timing = s.invoke(xs, runs=runs)
            times.extend(int(v) for v in timing.per_run)
            input_sets.append(xs)
            device_outs.append(ys)
            if device_hashes is not None:
                device_hashes.append(s.op_hashes())
        ops: list[OpTime] = []
        if profile and dev.has_profile:
            prof = s.profile(runs=1)
            total = sum(o.per_run for o in prof) or 1.0
            ops = [OpTime(o.index, o.name, float(o.per_run), float(o.per_run) / total) for o in prof]
        stats = s.stats()
        unit = dev.timer_unit
        board_name = dev.board
        op_names = list(dev.op_names)
    refs_all = reference_outputs(model, input_sets)
    for seed, (ys, refs) in enumerate(zip(device_outs, refs_all, strict=True)):
        if len(refs) != len(ys):
            mismatches.append(Mismatch(seed, -1, abs(len(refs) - len(ys)), float("nan")))
        for oi, (y, r) in enumerate(zip(ys, refs, strict=False)):
            yb = np.ascontiguousarray(y).tobytes()
            rb = np.ascontiguousarray(np.asarray(r).astype(y.dtype, copy=False)).tobytes()
            compared += len(yb)
            if yb != rb or y.size != np.asarray(r).size:
                yy = np.asarray(y).reshape(-1).astype(np.float64)
                rr = np.asarray(r).reshape(-1).astype(np.float64)
                n = min(yy.size, rr.size)
                diff = np.abs(yy[:n] - rr[:n])
                mismatches.append(Mismatch(seed, oi, int((diff != 0).sum()), float(diff.max(initial=0.0))))
    diagnosis: str | None = None
    tensors_match: bool | None = None
    if device_hashes and (check_tensors or mismatches):
        want = generic_op_hashes(model, input_sets)
        if isinstance(want, str):
            diagnosis = want
        else:
            tensors_match, diagnosis = compare_tensors(device_hashes, want, op_names, board.id)
            if diagnosis is None and mismatches:
                diagnosis = (f"every operator's output on {board.id} equals the generic-C build on the host, so the "
                             "difference to TFLM is in microaot's portable arithmetic for this model, not in the "
                             "board's kernels: please report it with the model file")
    memory = (
        memory_from_elf(firmware, info, stats) if firmware is not None else _memory_from_stats(info, stats)
    )
    mean = float(np.mean(times)) if times else 0.0
    f_cpu = int(str(info.settings.get("f_cpu", board.f_cpu)).rstrip("Ll") or 0)
    return EvalReport(
        model=str(model),
        model_hash=model_hash,
        board=board.id,
        board_name=board_name,
        timer_unit=unit,
        seeds=seeds,
        runs=runs,
        outputs_match=not mismatches,
        compared_bytes=compared,
        time_min=min(times) if times else 0,
        time_mean=mean,
        time_max=max(times) if times else 0,
        memory=memory,
        ops=ops,
        mismatches=mismatches,
        first_outputs=[np.asarray(y).reshape(-1).tolist() for y in device_outs[0]] if device_outs else [],
        settings=dict(info.settings),
        firmware=str(firmware or ""),
        eval_seconds=time.monotonic() - t0,
        seconds_per_inference=_seconds(mean, unit, f_cpu),
        tensor_diagnosis=diagnosis,
        tensors_match=tensors_match,
    )


def generic_op_hashes(model: Path, input_sets: Sequence[Sequence[np.ndarray]]) -> list[list[int]] | str:
    """``hostbuild.generic_op_hashes`` in a temporary folder; a message instead when that build is not
    possible here."""

    try:
        with tempfile.TemporaryDirectory(prefix="microaot_tensors_") as tmp:
            return host_hashes(model, input_sets, tmp)
    except (MicroaotError, OSError) as e:
        return f"could not build the generic-C model on the host to compare the tensors ({str(e).splitlines()[0]})"


def compare_tensors(device: Sequence[Sequence[int]], want: Sequence[Sequence[int]], op_names: Sequence[str],
                    board: str) -> tuple[bool, str | None]:
    """(every tensor equal, None) or (False, which operator first differs, on which input)."""
    for seed, (dh, wh) in enumerate(zip(device, want, strict=True)):
        if len(dh) != len(wh):
            return False, (f"the device reports {len(dh)} operators, the model has {len(wh)}: the firmware was "
                           "built from another version of the model; rebuild it")
        diff = differing_ops(dh, wh)
        if diff:
            k = diff[0]
            name = op_names[k] if k < len(op_names) else "?"
            return False, (
                f"on seed {seed} operator {k} ({name}) is the first whose output differs from the generic-C build "
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
) -> EvalReport:
    model = Path(model).resolve()
    if not model.is_file():
        raise MicroaotError(f"{model}: no such model file")
    board = get_board(board_id)
    from microaot.passes.support import check_compilable

    check_compilable(model, board.target)  # every problem of an unsupported model, before any PlatformIO build
    if project is None:
        base = work_dir or Path(tempfile.gettempdir()) / "microaot-eval"
        key = hashlib.sha256(f"{model}|{board_id}|{repo_root()}".encode()).hexdigest()[:10]
        project = base / f"{model.stem}-{board_id}-{key}"
        pio_project.write_project(project, board_id, model=model)
        env_name = board_id
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
                            check_tensors=check_tensors)
    rep.build_seconds = built.seconds
    return rep


# ---- CLI -----------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, help="the .tflite model")
    p.add_argument("--board", default="qemu_mps2_an386", help="board id (platform/boards/*.json)")
    p.add_argument("--project", type=Path, help="use this PlatformIO project instead of a generated one")
    p.add_argument("--env", dest="env_name", help="environment of --project (default: the board id)")
    p.add_argument(
        "--work-dir", type=Path, help="where generated projects are kept (default: $TMPDIR/microaot-eval)"
    )
    p.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="number of random inputs checked")
    p.add_argument("--runs", type=int, default=1, help="timed runs per input")
    p.add_argument("--port", help="serial port URL of a real board (after `pio run -t upload`)")
    p.add_argument("--json", type=Path, help="write the report as JSON")
    p.add_argument("--png", type=Path, help="write the per-operator bar chart")
    p.add_argument("--no-check-tensors", dest="check_tensors", action="store_false",
                   help="do not compare every intermediate tensor with the generic-C build on the host "
                        "(saves its host compile; a mismatch of the outputs is still diagnosed)")
    p.add_argument("-j", "--jobs", type=int, help="parallel compile jobs")
    p.add_argument("-v", "--verbose", action="store_true", help="show the PlatformIO build output")


def run_cli(args: argparse.Namespace) -> int:
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
    )
    print(rep.format_text())
    if args.json:
        rep.write_json(args.json)
        print(f"\nJSON report: {args.json}")
    if args.png:
        rep.write_png(args.png)
        print(f"per-operator chart: {args.png}")
    return 0 if rep.outputs_match and rep.tensors_match is not False else 1


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "eval",
        help="build, run and check a model on a board (PlatformIO + QEMU/host/serial), report time and sizes",
    )
    add_arguments(p)
    p.set_defaults(func=run_cli)


def main(argv: Sequence[str] | None = None) -> int:
    return run_standalone("microaot eval", add_arguments, run_cli, argv, error_status=2)


if __name__ == "__main__":
    sys.exit(main())
