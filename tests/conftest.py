"""Shared pytest fixtures. Append new shared fixtures here; keep them small."""

from __future__ import annotations

from pathlib import Path

import pytest

from microaot.paths import repo_root, shared_models_dir

MLPERF_MODELS = {
    "kws": "kws_dscnn_int8.tflite",
    "vww": "vww_mobilenet_int8.tflite",
    "ic": "ic_resnet8_int8.tflite",
    "ad": "ad_autoencoder_int8.tflite",
}


@pytest.fixture(scope="session")
def repo() -> Path:
    return repo_root()


@pytest.fixture(scope="session")
def models_dir() -> Path:
    d = shared_models_dir()
    assert d.is_dir(), f"MLPerf Tiny models expected in {d} (the shared/ folder beside the checkout)"
    return d


def mlperf_model(key: str) -> Path:
    """Path of one of the four MLPerf Tiny models: key in kws, vww, ic, ad."""
    return shared_models_dir() / MLPERF_MODELS[key]


# ---- issue 7 (reliability): figures printed at the end of the run, no `-s` needed ----------------
RELIABILITY_FIGURES: dict[str, dict[str, object]] = {}


def record_figures(section: str, figures: dict[str, object]) -> None:
    """Store figures (execs fuzzed, mutants tried, faults injected, ...) for the terminal summary."""
    RELIABILITY_FIGURES.setdefault(section, {}).update(figures)
    print(f"[{section}] " + ", ".join(f"{k}: {v}" for k, v in figures.items()))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RELIABILITY_FIGURES:
        return
    terminalreporter.section("reliability figures (issues 7, 20)")
    for section, figs in RELIABILITY_FIGURES.items():
        terminalreporter.write_line(f"{section}:")
        for k, v in figs.items():
            terminalreporter.write_line(f"    {k}: {v}")
