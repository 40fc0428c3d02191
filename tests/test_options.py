"""Options a user writes (issue 19): unknown keys with a did-you-mean, one boolean parser, values checked
with the option's name, and docs/options.md generated from the same table."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from microaot.options import check_options, markdown, parse_bool, parse_size


def test_one_boolean_parser_and_sizes() -> None:
    for t in ("yes", "True", "ON", "1"):
        assert parse_bool(t) is True
    for t in ("no", "false", "Off", "0"):
        assert parse_bool(t) is False
    with pytest.raises(ValueError, match="'maybe' is not a boolean: write one of yes/true/on/1 or no/false/off/0"):
        parse_bool("maybe")
    assert (parse_size("65536"), parse_size("64K"), parse_size("64KiB"), parse_size("1M")) == (65536, 65536, 65536,
                                                                                               1 << 20)
    with pytest.raises(ValueError, match="'64 apples' is not a size in bytes"):
        parse_size("64 apples")


def test_unknown_keys_and_bad_values_name_the_option() -> None:
    got = check_options({"custom_microaot_mdoe": "standalone", "custom_microaot_modle": "m.tflite",
                         "custom_microaot_werror": "off", "custom_microaot_name": "1abc",
                         "custom_microaot_section": ".rodata weights", "board_build.microaot.cahce": "1",
                         "board_build.f_cpu": "80000000L", "custom_other_tool": "x", "custom_microaot_zzz": "1"})
    assert got == [
        "unknown option custom_microaot_mdoe = standalone in platformio.ini; did you mean custom_microaot_mode?",
        "unknown option custom_microaot_modle = m.tflite in platformio.ini; did you mean custom_microaot_model?",
        "custom_microaot_name = 1abc in platformio.ini: '1abc' is not a C identifier (letters, digits and _, no "
        "leading digit)",
        "custom_microaot_section = .rodata weights in platformio.ini: '.rodata weights' is not a linker section name "
        "(letters, digits, '.', '_' and '$', no spaces)",
        "unknown option board_build.microaot.cahce = 1 in platformio.ini; did you mean board_build.microaot.cache?",
        "unknown option custom_microaot_zzz = 1 in platformio.ini; see docs/options.md for every option",
    ]


def test_docs_options_md_is_generated_from_the_table(repo: Path) -> None:
    assert (repo / "docs" / "options.md").read_text() == markdown(), \
        "docs/options.md is stale: run `python -m microaot.options > docs/options.md`"


@pytest.mark.pio
def test_pio_run_fails_on_a_misspelled_option(tmp_path: Path) -> None:
    from microaot.pio.project import pio_argv, pio_environ, write_project
    from microaot.testing import modelgen as mg

    model = tmp_path / "fc.tflite"
    model.write_bytes(mg.fully_connected_model(np.random.default_rng(0), input_shape=(1, 8), units=2))
    proj = write_project(tmp_path / "p", "host", model=model, extra={"custom_microaot_mdoe": "standalone"})
    env = pio_environ()
    env["PLATFORMIO_WORKSPACE_DIR"] = str(tmp_path / "ws")
    r = subprocess.run(pio_argv("run", "-d", str(proj)), env=env, capture_output=True, text=True, timeout=300,
                       check=False)
    assert r.returncode != 0
    assert ("microaot: error: unknown option custom_microaot_mdoe = standalone in platformio.ini; did you mean "
            "custom_microaot_mode?") in r.stdout + r.stderr


def test_help_shows_defaults_boards_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    from microaot.cli import build_parser

    parser = build_parser()
    text = parser.format_help()
    assert (
        "boards (--board):\n  host " in text and "qemu_mps2_an386" in text and "examples:\n  microaot inspect" in text
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", "--help"])
    out = capsys.readouterr().out
    assert "timed runs per input (default: 1)" in out and "examples:\n  microaot eval" in out
    assert "(default: None)" not in out and "(default: False)" not in out
