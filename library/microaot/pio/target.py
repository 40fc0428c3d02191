"""``pio run -t tune``: the PlatformIO custom target that runs ``microaot tune`` for the project's model.

platformio.ini options (all optional):

=================================  ===================================================================
``custom_microaot_tuning_log``     the log to append to and build from (default ``tuning.jsonl`` in the
                                   project folder when tuning; builds use it only when this is set)
``custom_microaot_tune_budget``    candidates per operator signature (default 16)
``custom_microaot_tune_jobs``      batches built and measured in parallel (default 1)
``custom_microaot_tune_seeds``     random inputs every candidate is checked on (default 2)
``custom_microaot_tune_max_flash`` flash limit of the tuned firmware (bytes, K, M, or ``default``)
``custom_microaot_tune_max_ws``    RAM limit of the tuned workspace in bytes, or ``default`` (the
                                   default build's workspace); none by default
``custom_microaot_tune_cluster``   ``local:N[:S]`` or ``tcp://HOST:PORT``: build and measure the
                                   candidates on a Dask cluster (docs/cluster.md); none by default
=================================  ===================================================================

The target runs the tuner in a child process (it builds its own candidate firmware in
``$BUILD_DIR/microaot_tune``); the next ``pio run`` regenerates the model from the log because the
log's hash is part of the code-generation cache key. Serial boards use ``upload_port``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

TARGET = "tune"


def tune_requested() -> bool:
    try:
        from SCons.Script import COMMAND_LINE_TARGETS  # type: ignore[import-not-found]
    except ImportError:
        return False
    return TARGET in COMMAND_LINE_TARGETS


def tune_argv(
    model: Path,
    board_id: str,
    log: Path,
    *,
    budget: str = "",
    jobs: str = "",
    seeds: str = "",
    work_dir: Path | None = None,
    port: str = "",
    max_ws: str = "",
    max_flash: str = "",
    cluster: str = "",
) -> list[str]:
    argv = [sys.executable, "-m", "microaot.tune.cli", str(model), "--board", board_id, "--log", str(log)]
    for flag, v in (("--budget", budget), ("--jobs", jobs), ("--seeds", seeds), ("--port", port),
                    ("--max-workspace", max_ws), ("--max-flash", max_flash), ("--cluster", cluster)):
        if v:
            argv += [flag, str(v)]
    if work_dir is not None:
        argv += ["--work-dir", str(work_dir)]
    return argv


def add_tune_target(lib_env: Any, global_env: Any, lib_root: Path, model: Path | None, tuning_log: Path | None) -> None:
    """Register ``pio run -t tune`` on the project environment (no-op without a model)."""
    if model is None:
        return
    project_dir = Path(global_env.subst("$PROJECT_DIR"))
    board_id = global_env.subst("$BOARD")

    def opt(name: str) -> str:
        return str(lib_env.GetProjectOption(f"custom_microaot_{name}", "") or "").strip()

    log = tuning_log or (project_dir / "tuning.jsonl")
    argv = tune_argv(model, board_id, log, budget=opt("tune_budget"), jobs=opt("tune_jobs"), seeds=opt("tune_seeds"),
                     max_ws=opt("tune_max_ws"), max_flash=opt("tune_max_flash"), cluster=opt("tune_cluster"),
                     work_dir=Path(global_env.subst("$BUILD_DIR")) / "microaot_tune",
                     port=str(global_env.subst("$UPLOAD_PORT") or ""))

    def run_tuner(target: Any, source: Any, env: Any) -> int:  # noqa: ARG001 - SCons action signature
        child_env = dict(os.environ)
        pkg = str(lib_root / "library")
        child_env["PYTHONPATH"] = pkg + (os.pathsep + child_env["PYTHONPATH"] if child_env.get("PYTHONPATH") else "")
        print("microaot: " + " ".join(argv[1:]), flush=True)
        rc = subprocess.run(argv, env=child_env, check=False).returncode
        if rc == 0 and tuning_log is None:
            print(f"microaot: add `custom_microaot_tuning_log = {log.name}` to platformio.ini so builds use it")
        return rc

    global_env.AddCustomTarget(
        name=TARGET,
        dependencies=None,
        actions=[run_tuner],
        title="Tune",
        description="search operator schedules on the device and append to the tuning log (microaot tune)",
        always_build=True,
    )
