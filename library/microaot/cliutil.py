"""Helpers of the command-line modules (below every one of them and below ``microaot.cli``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from microaot.errors import MicroaotError


def run_standalone(prog: str, add_arguments: Callable[[argparse.ArgumentParser], None],
                   handler: Callable[[argparse.Namespace], int], argv: Sequence[str] | None = None,
                   *, error_status: int = 2) -> int:
    """``python -m`` entry of a sub-command module: a parser named ``prog`` with the module's
    ``add_arguments``, then ``handler(args)``; a MicroaotError prints ``<prog>: error: ...`` and
    returns ``error_status``."""
    parser = argparse.ArgumentParser(prog=prog)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return handler(args)
    except MicroaotError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return error_status
