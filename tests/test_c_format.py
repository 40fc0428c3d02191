"""crt/ is formatted with the repository's .clang-format (issue 16): `clang-format -i` on every C file of crt/
changes nothing. scripts/bootstrap.sh installs Debian's clang-format (the version the tree was formatted with)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.mark.skipif(shutil.which("clang-format") is None, reason="clang-format not installed (scripts/bootstrap.sh)")
def test_crt_is_clang_formatted(repo: Path) -> None:
    files = sorted(str(p) for p in (repo / "crt").rglob("*") if p.suffix in (".c", ".h"))
    assert len(files) > 40
    r = subprocess.run(["clang-format", "--dry-run", "-Werror", "--style=file", *files], cwd=repo,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, "run `clang-format -i` on these (crt/ follows .clang-format):\n" + r.stderr[-3000:]
