"""The ``microaot`` command line.

Sub-commands come from the modules in COMMAND_MODULES: each defines ``register(subparsers)`` which
adds its sub-parser(s) and sets ``func=handler`` (``handler(args) -> int``). A listed module that
cannot be imported, or has no ``register``, is an error (``CommandModuleError``: the CLI does not start
with a command missing); to add a command, write the module and list it here. MicroaotError from a
handler prints ``error: ...`` and exits with status 2. ``microaot.cliutil.run_standalone`` is the
``python -m`` entry of a command module.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from microaot import __version__
from microaot import ops as opreg
from microaot.boards import load_boards
from microaot.compiler import compile_model
from microaot.errors import MicroaotError
from microaot.inspect_model import format_summary, summarize
from microaot.ops.user_kernels import parse_bindings
from microaot.tune.log import log_schedules

COMMAND_MODULES: tuple[str, ...] = (
    "microaot.cli",  # compile, inspect (below)
    "microaot.export",
    "microaot.tune.cli",
    "microaot.cluster",
)


class CommandModuleError(RuntimeError):
    """A module of COMMAND_MODULES cannot be imported or has no ``register``: a bug of microaot (or of
    its installation), never skipped."""


def register(sub: Any) -> None:
    p = sub.add_parser("compile", help="compile a .tflite model into <name>.c / <name>.h")
    p.add_argument("model", help="path of the .tflite model")
    p.add_argument("-o", "--out-dir", required=True, help="folder for the generated files")
    p.add_argument("--name", default=None, help="C prefix (default: from the file name)")
    p.add_argument("--section", default=".rodata.microaot", help="linker section of the weights")
    p.add_argument("--target", default="generic", help="generic, cortex-m4, cortex-m7 or cortex-m55")
    p.add_argument("--tuning-log", default=None, help="JSON-lines tuning log to take schedules from")
    p.add_argument("--custom-op", action="append", default=[], metavar="NAME=C_FUNCTION",
                   help="bind your C kernel C_FUNCTION to the model's custom operator NAME (repeatable; "
                        "docs/custom-operators.md); compile your C file with the generated one")
    p.set_defaults(func=_cmd_compile)

    q = sub.add_parser("inspect", help="operators, tensors, MACs, weight bytes and planned RAM of a model")
    q.add_argument("model", help="path of the .tflite model")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    q.add_argument("--target", default="generic", help="generic, cortex-m4, cortex-m7 or cortex-m55 (kernel scratch "
                   "differs)")
    q.add_argument("--custom-op", action="append", default=[], metavar="NAME=C_FUNCTION",
                   help="custom operator NAME is bound to your C kernel C_FUNCTION (as in compile)")
    q.set_defaults(func=_cmd_inspect)

    o = sub.add_parser("ops", help="supported operators and the dtypes each accepts")
    o.add_argument("--json", action="store_true", help="print JSON: {\"operators\": {OP: [dtypes]}}")
    o.set_defaults(func=_cmd_ops)


def _cmd_compile(args: argparse.Namespace) -> int:
    r = compile_model(args.model, args.out_dir, name=args.name, weight_section=args.section, target=args.target,
                      schedules=log_schedules(args.tuning_log, args.model, target=args.target),
                      custom_ops=parse_bindings(args.custom_op))
    print(f"wrote {r.sources[0]} and {r.header}")
    f = r.memory_figures
    print(f"workspace {f['workspace']} B (liveness lower bound {f['liveness_bound']} B without in-place operators, "
          f"{f['inplace_bound']} B with them; {f['inplace_ops']} in place), weights {r.weight_bytes} B")
    print("kernels: " + " ".join(str(p) for p in r.kernel_sources))
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    info = summarize(args.model, target=args.target, custom_ops=parse_bindings(args.custom_op))
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(format_summary(info))
    return 0 if info.get("compilable") else 2


def _cmd_ops(args: argparse.Namespace) -> int:
    table = {op: list(opreg.declared_dtypes(op)) for op in opreg.supported_ops()}
    if args.json:
        print(json.dumps({"operators": table}, indent=2))
        return 0
    print(f"{len(table)} operators (dtype signatures: activations; int16x8 = int16 activations with int8 weights; "
          "a->b = conversion)")
    width = max([22, *(len(op) + 1 for op in table)])
    for op, dts in table.items():
        print(f"{op:<{width}} {', '.join(dts) if dts else '(dtypes not declared)'}")
    return 0


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help shows every default that says something (not None / False) and keeps the examples' lines."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, argparse.SUPPRESS) or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


M = "../shared/models/kws_dscnn_int8.tflite"
EXAMPLES: dict[str, str] = {
    "compile": f"example:\n  microaot compile {M} -o out/ --target cortex-m4",
    "inspect": f"example:\n  microaot inspect {M} --json",
    "eval": (f"examples:\n  microaot eval {M}                                  # QEMU Cortex-M4, random inputs\n"
             f"  microaot eval {M} --board host --json r.json --png r.png\n"
             f"  microaot eval {M} --inputs data/ --labels folders --reference-model kws_float.tflite\n"
             f"  microaot eval {M} --board nucleo_f446re --port /dev/ttyACM0   # a real board"),
    "export": f"example:\n  microaot export {M} -o mylib/ --board nucleo_f446re",
    "tune": f"example:\n  microaot tune {M} --board qemu_mps2_an386 --budget 16 --jobs 2",
}


def _boards_epilog() -> str:
    try:
        boards = load_boards()
    except Exception as e:  # the board folder is unreadable: say so in the help instead of failing it
        return f"boards: cannot list them ({e})"
    return "boards (--board):\n" + "\n".join(f"  {b.id:<18} {b.name}" for b in boards.values())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microaot", description="Ahead-of-time compiler of TFLite models to C for microcontrollers",
        formatter_class=HelpFormatter,
        epilog=f"{_boards_epilog()}\n\nexamples:\n  microaot inspect {M}\n  microaot eval {M}\n"
               "  microaot COMMAND --help\n\nplatformio.ini options: docs/options.md")
    parser.add_argument("--version", action="version", version=f"microaot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command")
    orig_add = sub.add_parser

    def add_parser(name: str, **kw: Any) -> argparse.ArgumentParser:
        kw.setdefault("formatter_class", HelpFormatter)
        if name in EXAMPLES:
            kw.setdefault("epilog", EXAMPLES[name])
        return orig_add(name, **kw)

    sub.add_parser = add_parser  # type: ignore[method-assign]
    this = sys.modules[__name__]
    for modname in COMMAND_MODULES:
        if modname == __name__ or modname == "microaot.cli":
            mod: Any = this
        else:
            try:
                mod = importlib.import_module(modname)
            except Exception as e:
                raise CommandModuleError(
                    f"microaot: the command module {modname} cannot be imported ({type(e).__name__}: {e}); "
                    "its commands would be missing: reinstall microaot (scripts/bootstrap.sh) or fix the module"
                ) from e
        reg = getattr(mod, "register", None)
        if not callable(reg):
            raise CommandModuleError(f"microaot: the command module {modname} has no register(subparsers) function; "
                                     "define it or remove the module from microaot.cli.COMMAND_MODULES")
        reg(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 1
    try:
        return int(func(args) or 0)
    except MicroaotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
