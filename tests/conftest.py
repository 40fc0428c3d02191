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
