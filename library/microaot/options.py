"""Parsers for the values a user writes in platformio.ini options and on the command line: one boolean
spelling everywhere, byte sizes with units, positive numbers. Each raises ``ValueError`` with a message
naming what is accepted; callers add the option's name."""

from __future__ import annotations

import re

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
