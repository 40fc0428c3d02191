"""``pio test`` for microaot projects: a PlatformIO custom test runner that evaluates the model.

Use it with ``test_framework = custom`` and a ``test/test_custom_runner.py`` of two lines::

    from microaot.pio.testing import MicroaotTestRunner
    class CustomTestRunner(MicroaotTestRunner): pass

Stages: *building* runs ``pio run`` for the environment (the RPC firmware of
``custom_microaot_model``); *uploading* flashes real boards only (QEMU and host firmware is started
by the evaluation); *testing* starts the firmware, feeds ``custom_microaot_test_seeds`` random inputs
(default 3) over RPC, compares every output byte with TFLM and records one test case per input plus
the timing and size checks, then prints the evaluation report and ``N passed, N failed``. With
``custom_microaot_test_tensors = yes`` (the default) every operator's output on the device (OPCHECK
hashes) must also equal the generic-C build of the model run on the host: one more test case.
Real boards: ``pio test -e <env> --test-port /dev/ttyACM0`` (or ``test_port`` in platformio.ini).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from platformio.test.result import TestCase, TestStatus
from platformio.test.runners.base import TestRunnerBase

from microaot.boards import get_board
from microaot.evaluate import evaluate_firmware
from microaot.pio.build import BUILD_INFO, GEN_SUBDIR, BuildInfo
from microaot.pio.project import firmware_of
from microaot.report.evaluation import summary_line


class MicroaotTestRunner(TestRunnerBase):  # type: ignore[misc]
    NAME = "microaot"

    def _opt(self, name: str, default: str = "") -> str:
        return str(self.project_config.get(f"env:{self.test_suite.env_name}", name, default) or default)

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
        seeds = int(self._opt("custom_microaot_test_seeds", "3"))
        port = self.get_test_port() if board.launch == "serial" else None
        firmware = firmware_of(build_dir)
        t0 = time.monotonic()
        check_tensors = self._opt("custom_microaot_test_tensors", "yes").strip().lower() not in ("no", "false", "0")
        rep = evaluate_firmware(Path(info.model), board, firmware, info, seeds=seeds, port=port,
                                check_tensors=check_tensors)
        dt = time.monotonic() - t0
        click.echo(rep.format_text())
        bad_seeds = {m.seed for m in rep.mismatches}
        cases: list[tuple[str, bool, str]] = []
        for seed in range(seeds):
            detail = "; ".join(
                f"output {m.output}: {m.differing} element(s) differ (max |diff| {m.max_abs_diff:g})"
                for m in rep.mismatches
                if m.seed == seed
            )
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
        cases.append(("sizes_from_elf", m.code > 0 and m.weights > 0 and fits, f"flash {m.flash:,} B"))
        cases.append(
            (
                "ram_report",
                m.static_ram >= m.workspace > 0 and (m.stack_high_water or 0) > 0,
                f"static {m.static_ram:,} B, workspace {m.workspace:,} B, stack {m.stack_high_water} B",
            )
        )
        passed = failed = 0
        for name, ok, message in cases:
            passed += ok
            failed += not ok
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
