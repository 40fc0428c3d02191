"""``pio test`` for microaot projects: a PlatformIO custom test runner that evaluates the model.

Use it with ``test_framework = custom`` and a ``test/test_custom_runner.py`` of two lines::

    from microaot.pio.testing import MicroaotTestRunner
    class CustomTestRunner(MicroaotTestRunner): pass

Stages: *building* runs ``pio run`` for the environment (the RPC firmware of
``custom_microaot_model``); *uploading* flashes real boards only (QEMU and host firmware is started
by the evaluation); *testing* starts the firmware, feeds ``custom_microaot_test_seeds`` random inputs
(default 3; a stateful model gets a sequence of ``custom_microaot_test_sequence`` consecutive inputs per
seed, default 3, its state reset before each) over RPC, compares every output byte with TFLM (every step)
and records one test case per seed plus
the timing and size checks, then prints the evaluation report and ``N passed, N failed``. With
``custom_microaot_test_tensors = yes`` (the default) every operator's output on the device (OPCHECK
hashes) must also equal the generic-C build of the model run on the host: one more test case.
Real boards: ``pio test -e <env> --test-port /dev/ttyACM0`` (or ``test_port`` in platformio.ini).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from platformio.test.result import TestCase, TestStatus
from platformio.test.runners.base import TestRunnerBase

from microaot.boards import get_board
from microaot.evaluate import UserData, evaluate_firmware
from microaot.options import parse_bool, parse_positive_float, parse_positive_int, parse_size
from microaot.pio.build import BUILD_INFO, GEN_SUBDIR, BuildInfo
from microaot.pio.project import firmware_of
from microaot.report.budgets import Budgets
from microaot.report.budgets import check as check_budgets
from microaot.report.evaluation import summary_line

_T = TypeVar("_T")


class MicroaotTestRunner(TestRunnerBase):  # type: ignore[misc]
    NAME = "microaot"

    def _opt(self, name: str, default: str = "") -> str:
        return str(self.project_config.get(f"env:{self.test_suite.env_name}", name, default) or default)

    def _parsed(self, name: str, default: str, parse: Callable[[str], _T]) -> _T | None:
        """The option parsed, None when unset and without default; a bad value names the option."""
        text = self._opt(name, default).strip()
        if not text:
            return None
        try:
            return parse(text)
        except ValueError as e:
            raise RuntimeError(f"env {self.test_suite.env_name}: {name} = {text}: {e}") from None

    def _user_data(self, model: Path) -> Any:
        """custom_microaot_test_inputs (+ _labels, _reference_model, _preprocess), relative to the project."""
        inputs = self._opt("custom_microaot_test_inputs").strip()
        rest = {k: self._opt(f"custom_microaot_test_{k}").strip() for k in ("labels", "reference_model", "preprocess")}
        if not inputs:
            given = [f"custom_microaot_test_{k}" for k, v in rest.items() if v]
            if given:
                raise RuntimeError(f"env {self.test_suite.env_name}: {', '.join(given)} need "
                                   "custom_microaot_test_inputs")
            return None
        root = Path(self.project_config.path).parent if getattr(self.project_config, "path", None) else Path.cwd()

        def at(v: str) -> Path:
            p = Path(v).expanduser()
            return p if p.is_absolute() else root / p

        labels = (rest["labels"] if rest["labels"] == "folders"
                  else (str(at(rest["labels"])) if rest["labels"] else None))
        prep = rest["preprocess"]
        if prep:
            f, _, fn = prep.rpartition(":")
            prep = f"{at(f)}:{fn}"
        return UserData.load(model, at(inputs), labels=labels,
                             reference_model=at(rest["reference_model"]) if rest["reference_model"] else None,
                             preprocess=prep or None)

    def _board_id(self) -> str:
        return self._opt("board")

    def stage_building(self) -> Any:
        if self.options.without_building:
            return None
        click.secho("Building...", bold=True)
        return self.run_project_targets(["checkprogsize"])

    def stage_uploading(self) -> Any:
        if self.options.without_uploading:
            return None
        board = get_board(self._board_id())
        if board.launch != "serial":
            return None  # QEMU / host firmware is started by the testing stage
        click.secho("Uploading...", bold=True)
        return self.run_project_targets(["upload", "nobuild"])

    def stage_testing(self) -> Any:
        if self.options.without_testing:
            return None
        click.secho("Testing...", bold=True)
        env_name = self.test_suite.env_name
        board = get_board(self._board_id())
        build_dir = Path(self.project_config.get("platformio", "build_dir")) / env_name
        info = BuildInfo.load(build_dir / GEN_SUBDIR / BUILD_INFO)
        if info.model is None:
            raise RuntimeError(f"env {env_name}: custom_microaot_model is not set; nothing to evaluate")
        shift = info.settings.get("icount_shift")
        if shift is not None:
            board = board.with_settings(icount_shift=int(shift))
        seeds = self._parsed("custom_microaot_test_seeds", "3", parse_positive_int)
        sequence = self._parsed("custom_microaot_test_sequence", "", parse_positive_int)
        check_tensors = self._parsed("custom_microaot_test_tensors", "yes", parse_bool)
        data = self._user_data(Path(info.model))
        budgets = Budgets(
            max_ram=self._parsed("custom_microaot_max_ram", self._opt("board_upload.maximum_ram_size")
                                 or str(board.ram_size or ""), parse_size),
            max_flash=self._parsed("custom_microaot_max_flash", self._opt("board_upload.maximum_size")
                                   or str(board.flash_size or ""), parse_size),
            max_ms=self._parsed("custom_microaot_max_ms", "", parse_positive_float),
            names=("custom_microaot_max_ram", "custom_microaot_max_flash", "custom_microaot_max_ms"))
        port = self.get_test_port() if board.launch == "serial" else None
        firmware = firmware_of(build_dir)
        t0 = time.monotonic()
        rep = evaluate_firmware(Path(info.model), board, firmware, info, seeds=seeds, port=port,
                                check_tensors=check_tensors, data=data, sequence=sequence)
        dt = time.monotonic() - t0
        click.echo(rep.format_text())
        bad_seeds = {m.seed for m in rep.mismatches}
        cases: list[tuple[str, bool, str]] = []
        if rep.device_error:
            cases.append(("device_ran_every_input", False, rep.device_error))
        for seed in range(rep.seeds):
            detail = "; ".join(
                (f"step {m.step} " if rep.sequence > 1 else "")
                + f"output {m.output}: {m.differing} element(s) differ (max |diff| {m.max_abs_diff:g})"
                for m in rep.mismatches
                if m.seed == seed
            )
            if not detail and rep.sequence > 1:
                detail = f"bit-exact on every step of the sequence ({rep.sequence} steps)"
            cases.append((f"outputs_match_tflm_seed{seed}", seed not in bad_seeds, detail or "bit-exact"))
        if rep.tensors_match is not None:
            cases.append(("tensors_match_generic_c", rep.tensors_match,
                          rep.tensor_diagnosis or "every operator's output equals the generic-C build on the host"))
        cases.append(
            (
                "on_device_time",
                rep.time_min > 0,
                f"{rep.time_mean:,.0f} {rep.timer_unit} per inference",
            )
        )
        m = rep.memory
        fits = board.flash_size <= 0 or m.flash <= board.flash_size
        # weights may be 0: a model without constants, or whose few constants the compiler folded into code
        # (a resource variable's 8-byte initial value becomes an immediate store)
        cases.append(("sizes_from_elf", m.code > 0 and fits, f"flash {m.flash:,} B (weights {m.weights:,} B)"))
        cases.append(
            (
                "ram_report",
                m.static_ram >= m.workspace > 0 and (m.stack_high_water or 0) > 0,
                f"static {m.static_ram:,} B, workspace {m.workspace:,} B, stack {m.stack_high_water} B",
            )
        )
        cases += check_budgets(rep, budgets)
        passed = failed = 0
        click.echo()
        for name, ok, message in cases:
            passed += ok
            failed += not ok
            status = click.style("PASSED" if ok else "FAILED", fg="green" if ok else "red")
            click.echo(f"{env_name}:{name}\t[{status}] {message}")
            self.test_suite.add_case(
                TestCase(
                    name=f"{env_name}:{name}",
                    status=TestStatus.PASSED if ok else TestStatus.FAILED,
                    message=None if ok else message,
                    stdout=message,
                    duration=dt / len(cases),
                    source=None,
                )
            )
        click.echo()
        click.echo(summary_line(passed, failed))
        return None
