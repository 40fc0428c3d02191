"""Where microaot's non-Python parts live (crt/, platform/, builder/) relative to the package."""

from __future__ import annotations

from pathlib import Path

# library/microaot/paths.py -> repository root is two levels above the package folder
REPO_ROOT = Path(__file__).resolve().parents[2]


def repo_root() -> Path:
    return REPO_ROOT


def crt_root() -> Path:
    return REPO_ROOT / "crt"


def platform_root() -> Path:
    return REPO_ROOT / "platform"


def shared_models_dir() -> Path:
    """The MLPerf Tiny models shipped beside the checkout (never copied into the repo)."""
    return REPO_ROOT.parent / "shared" / "models"
