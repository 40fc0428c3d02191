"""Parsers for the values a user writes in platformio.ini options and on the command line: one boolean
spelling everywhere, byte sizes with units, positive numbers. Each raises ``ValueError`` with a message
naming what is accepted; callers add the option's name."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

TRUE_WORDS = ("yes", "true", "on", "1")
FALSE_WORDS = ("no", "false", "off", "0")


def parse_bool(text: str | bool) -> bool:
    """yes/no, true/false, on/off, 1/0 (any case)."""
    if isinstance(text, bool):
        return text
    t = str(text).strip().lower()
    if t in TRUE_WORDS:
        return True
    if t in FALSE_WORDS:
        return False
    raise ValueError(f"{text!r} is not a boolean: write one of {'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)}")


_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20}


def parse_size(text: str | int) -> int:
    """A byte count: 65536, 64K, 64KiB, 1M (K = 1024)."""
    if isinstance(text, int):
        v = text
    else:
        m = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", str(text))
        unit = m.group(2).lower() if m else ""
        if m is None or unit not in _UNITS:
            raise ValueError(f"{text!r} is not a size in bytes (e.g. 65536, 64K, 1M)")
        v = int(m.group(1)) * _UNITS[unit]
    if v < 1:
        raise ValueError(f"{text!r} is not a positive size")
    return v


def parse_positive_float(text: str | float) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not v > 0 or v != v or v == float("inf"):
        raise ValueError(f"{text!r} is not a positive number")
    return v


def parse_positive_int(text: str | int) -> int:
    try:
        v = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an integer") from None
    if v < 1:
        raise ValueError(f"{v} is not a positive integer (1 or more)")
    return v


def argparse_type(parse):  # type: ignore[no-untyped-def]
    """An argparse ``type=`` from one of the parsers above (argparse prints the message)."""
    import argparse

    def conv(text: str):  # type: ignore[no-untyped-def]
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    conv.__name__ = parse.__name__.replace("parse_", "")
    return conv


# ---- the options a PlatformIO project can set (docs/options.md is generated from this table) ----------

C_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SECTION = re.compile(r"\.?[A-Za-z0-9_.$]+")


def parse_c_identifier(text: str) -> str:
    if not C_IDENT.fullmatch(text):
        raise ValueError(f"{text!r} is not a C identifier (letters, digits and _, no leading digit)")
    return text


def parse_section(text: str) -> str:
    if not SECTION.fullmatch(text):
        raise ValueError(f"{text!r} is not a linker section name (letters, digits, '.', '_' and '$', no spaces)")
    return text


def _choice(*values: str):  # type: ignore[no-untyped-def]
    def parse(text: str) -> str:
        t = text.strip().lower()
        if t not in values:
            raise ValueError(f"{text!r} is not one of {', '.join(values)}")
        return t

    return parse


def parse_size_or_default(text: str) -> int | str:
    return "default" if text.strip().lower() == "default" else parse_size(text)


_C_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_custom_ops(text: str) -> dict[str, str]:
    """``MyOp:my_op, Other:other_fn`` (commas or new lines) -> {custom operator name: C function}."""
    out: dict[str, str] = {}
    for item in re.split(r"[,\n]", text):
        item = item.strip()
        if not item:
            continue
        name, sep, fn = item.rpartition(":")
        name, fn = name.strip(), fn.strip()
        if not sep or not name or not _C_IDENT.fullmatch(fn):
            raise ValueError(f"{item!r} is not NAME:C_FUNCTION (the custom operator's name, then a C identifier)")
        if name.startswith("CUSTOM:"):
            name = name[len("CUSTOM:"):]
        if out.get(name, fn) != fn:
            raise ValueError(f"custom operator {name!r} is bound twice ({out[name]}, {fn})")
        out[name] = fn
    return out


@dataclass(frozen=True)
class Option:
    key: str  # as written in platformio.ini
    kind: str  # for the docs: path, text, bool, integer, size, ...
    default: str
    help: str
    example: str
    parse: Callable[[str], object] | None = None


def _custom(name: str, kind: str, default: str, help: str, example: str,
            parse: Callable[[str], object] | None = None) -> Option:
    return Option(f"custom_microaot_{name}", kind, default, help, example, parse)


def _board(name: str, kind: str, default: str, help: str, example: str,
           parse: Callable[[str], object] | None = None) -> Option:
    return Option(f"board_build.microaot.{name}", kind, default, help, example, parse)


OPTIONS: tuple[Option, ...] = (
    _custom("model", "path", "(none)", "the .tflite model, relative to the project folder; required in rpc mode",
            "models/kws.tflite"),
    _custom("mode", "rpc | standalone", "rpc", "rpc: the port's main() serves the RPC protocol (eval, pio test, "
            "tune); standalone: your own main() calls NAME_run", "standalone", _choice("rpc", "standalone")),
    _custom("name", "C identifier", "from the model's file name", "prefix of the generated C API (NAME_run, "
            "NAME_WORKSPACE_SIZE, ...)", "kws", parse_c_identifier),
    _custom("section", "section name", ".rodata.microaot", "linker section of the weights", ".rodata.weights",
            parse_section),
    _custom("tuning_log", "path", "(none)", "tuning log (JSON lines) whose best schedules the build uses; "
            "`pio run -t tune` appends to it", "tuning.jsonl"),
    _custom("port", "port", "from the board (build.mcu / framework)", "crt/ports/<port> the platform hooks come "
            "from: stm32, arduino, host, rp2040, cmsdk, or user (your application supplies the hooks; "
            "docs/platformio.md); a port that does not fit the MCU is refused", "user"),
    _custom("target", "generic | cortex-m4 | cortex-m7 | cortex-m55", "from the board (build.cpu)", "kernel target: "
            "portable C, the Cortex-M DSP kernels, or Helium (MVE) kernels on the M55", "generic",
            _choice("generic", "cortex-m4", "cortex-m7", "cortex-m55")),
    _custom("custom_ops", "NAME:C_FUNCTION, ...", "(none)", "bind C kernels of yours (in the project's src/) to "
            "the model's custom operators; the generated code calls C_FUNCTION(const uaot_custom_op_t *) "
            "(docs/custom-operators.md)", "MyOp:my_op_kernel", parse_custom_ops),
    _custom("werror", "bool", "yes", "build the runtime and the generated C with -Werror", "no", parse_bool),
    _custom("tune_budget", "integer", "16", "`pio run -t tune`: candidates per operator signature", "32",
            parse_positive_int),
    _custom("tune_jobs", "integer", "1", "`pio run -t tune`: batches built and measured in parallel", "2",
            parse_positive_int),
    _custom("tune_seeds", "integer", "2", "`pio run -t tune`: random inputs every candidate is checked on", "3",
            parse_positive_int),
    _custom("tune_max_ws", "size | default", "(no limit)", "`pio run -t tune`: RAM limit of the tuned workspace "
            "(bytes, K, M) or `default` (the default build's workspace)", "48K", parse_size_or_default),
    _custom("tune_max_flash", "size | default", "(no limit)", "`pio run -t tune`: flash limit of the tuned "
            "firmware (bytes, K, M) or `default` (the default build's flash): flash-hungry schedules (w16 "
            "weights) go back to their defaults", "256K", parse_size_or_default),
    _custom("tune_cluster", "tcp://HOST:PORT | local:N", "(none)", "`pio run -t tune`: build and measure the "
            "candidates on a Dask cluster (docs/cluster.md)", "tcp://10.0.0.5:8786"),
    _custom("test_seeds", "integer", "3", "`pio test`: random inputs checked (without test_inputs)", "10",
            parse_positive_int),
    _custom("test_sequence", "integer", "(auto)", "`pio test`: consecutive invocations per seed, state reset "
            "before each seed's sequence, every step compared with TFLM (auto: 1 for a stateless model, 3 for a "
            "stateful one; with test_inputs: consecutive samples, auto = all of them)", "5", parse_positive_int),
    _custom("test_tensors", "bool", "yes", "`pio test`: compare every operator's output with the generic-C build "
            "on the host", "no", parse_bool),
    _custom("test_inputs", "path", "(none)", "`pio test`: your data instead of random inputs (.npy/.npz, a folder "
            "of .npy files, raw files; see docs/evaluation.md)", "data/test"),
    _custom("test_labels", "path | folders", "(none)", "`pio test`: class labels of test_inputs (top-1, "
            "confusion matrix)", "data/labels.npy"),
    _custom("test_reference_model", "path", "(none)", "`pio test`: the float model, run by TFLM on the same data "
            "(RMSE, MAE, L2r, cosine, agreement)", "models/kws_float.tflite"),
    _custom("test_preprocess", "FILE.py:FUNCTION", "(none)", "`pio test`: turns each input file into a sample",
            "prep.py:load_wav"),
    _custom("max_ram", "size", "the board's RAM (board_upload.maximum_ram_size)", "`pio test`: fail when static "
            "RAM + stack high-water exceed it", "64K", parse_size),
    _custom("max_flash", "size", "the board's flash (board_upload.maximum_size)", "`pio test`: fail when flash "
            "exceeds it", "256K", parse_size),
    _custom("max_ms", "number", "(none)", "`pio test`: fail when one inference takes longer (ms)", "50",
            parse_positive_float),
    _board("toolchain", "host | arm", "the board's", "which compiler builds the firmware (microaot's own boards)",
           "arm", _choice("host", "arm")),
    _board("port", "port folder", "the board's", "crt/ports/<port>: the platform hooks", "cmsdk"),
    _board("target", "generic | cortex-m4 | cortex-m7 | cortex-m55", "the board's", "kernel target (generic C, "
           "Cortex-M DSP or Helium kernels)", "generic", _choice("generic", "cortex-m4", "cortex-m7", "cortex-m55")),
    _board("ldscript", "file", "the board's", "linker script of microaot's own boards (crt/ports/<port>)",
           "mps2.ld"),
    _board("float_abi", "soft | softfp | hard", "the board's", "-mfloat-abi", "hard",
           _choice("soft", "softfp", "hard")),
    _board("fpu", "text", "the board's", "-mfpu", "fpv4-sp-d16"),
    _board("cache", "0 | 1", "the board's", "instruction/data caches on (SoC setting)", "1", _choice("0", "1")),
    _board("flash_wait_states", "integer", "the board's", "flash wait states (SoC setting)", "5",
           lambda t: int(t, 0)),
    _board("icount_shift", "integer", "the board's", "QEMU -icount shift (instructions per tick)", "3",
           lambda t: int(t, 0)),
)
KNOWN = {o.key: o for o in OPTIONS}
PREFIXES = ("custom_microaot_", "board_build.microaot.")


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (insertions, deletions, substitutions, adjacent swaps)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def did_you_mean(key: str) -> str | None:
    """The known option of the same family closest to ``key`` (at most 2 edits, or a third of its
    length, away in the part after the prefix), or None."""
    prefix = next((p for p in PREFIXES if key.startswith(p)), "")
    rest = key[len(prefix):]
    scored = []
    for known in KNOWN:
        if known.startswith(prefix) and prefix:
            dist = edit_distance(rest, known[len(prefix):])
            if dist <= max(2, len(rest) // 3):
                other = known[len(prefix):]
                # ties: the same letters (a swap) first, then the most similar
                scored.append((dist, sorted(rest) != sorted(other), -difflib.SequenceMatcher(None, rest, other).ratio(),
                               known))
    return min(scored)[-1] if scored else None


def check_options(values: dict[str, str]) -> list[str]:
    """Problems with the microaot options of one platformio.ini environment: unknown keys (with a
    did-you-mean) and values that do not parse. ``values``: every option of the environment."""
    problems = []
    for key, value in values.items():
        if not key.startswith(PREFIXES):
            continue
        opt = KNOWN.get(key)
        if opt is None:
            close = did_you_mean(key)
            hint = f"; did you mean {close}?" if close else "; see docs/options.md for every option"
            problems.append(f"unknown option {key} = {value} in platformio.ini{hint}")
            continue
        text = str(value).strip()
        if opt.parse is not None and text:
            try:
                opt.parse(text)
            except ValueError as e:
                problems.append(f"{key} = {text} in platformio.ini: {e}")
    return problems


def markdown() -> str:
    """docs/options.md (tests check the file equals this)."""
    out = ["# platformio.ini options of microaot", "",
           "Generated from `microaot.options.OPTIONS` (`python -m microaot.options > docs/options.md`). An "
           "unknown `custom_microaot_*` or `board_build.microaot.*` key, or a value that does not parse, fails "
           "the build with the option's name. Booleans: yes/no, true/false, on/off, 1/0. Sizes: bytes, or with "
           "K/KiB/M (1024-based).", "",
           "| option | type | default | what | example |", "|---|---|---|---|---|"]
    for o in OPTIONS:
        kind = o.kind.replace(" | ", " / ")
        out.append(f"| `{o.key}` | {kind} | {o.default} | {o.help} | `{o.key} = {o.example}` |")
    out += ["", "The command-line tools: `microaot --help` and `microaot COMMAND --help` (every flag with its "
            "default).", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown(), end="")
