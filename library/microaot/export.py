"""Export a compiled model as a self-contained C library folder (goal 2: ship it).

``export_library(model, out_dir)`` writes::

    out_dir/
      include/NAME.h                 the one public header (generated; includes microaot/*.h)
      include/microaot/...           the crt headers it and the sources need, copied verbatim
      src/NAME.c                     the generated model (weights in the configured section)
      src/microaot/kernels/*.c       exactly the crt kernels the model needs, copied verbatim
      src/microaot/runtime/alloc.c   the arena allocator / uaot_model_run_alloc (memory modes 2, 3)
      library.json                   so the folder is itself a PlatformIO library
      CMakeLists.txt, microaot.mk    for CMake and make users
      README.md                      memory modes, linker-section snippet, sizes
      size_report.json               text / rodata / weights / data / bss / workspace / state
      microaot_export.json           provenance: model hash, options, every file and its crt origin

The kernels and runtime helpers are byte-for-byte the files in ``crt/`` that the evaluation
firmware and the tuner build, and the model sources come from the same ``compile_model`` call with
the same options (name, weight section, tuning log, target), so the shipped code is the tested code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from microaot import __version__
from microaot.boards import get_board
from microaot.cliutil import run_standalone
from microaot.compiler import compile_model
from microaot.errors import BuildError, MicroaotError
from microaot.hostbuild import state_size
from microaot.ops.user_kernels import parse_bindings
from microaot.paths import crt_root
from microaot.report import elf
from microaot.toolchain import cached_objects
from microaot.tune.log import log_schedules

# crt files every export carries besides the kernels the model needs (memory modes 2 and 3)
RUNTIME_SOURCES = ("src/alloc.c",)

ARM_CC = "arm-none-eabi-gcc"
# Per target: the C compiler and machine flags used for the size report (the same machine flags as
# the Cortex-M evaluation boards). "generic" code is measured as Cortex-M4 code when the Arm
# toolchain is installed, since microcontrollers are what it is for.
TARGET_MACHINE_FLAGS: dict[str, list[str]] = {
    "cortex-m0": ["-mcpu=cortex-m0", "-mthumb"],
    "cortex-m3": ["-mcpu=cortex-m3", "-mthumb"],
    "cortex-m4": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m7": ["-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"],
    "cortex-m55": ["-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"],
}
SIZE_CFLAGS = ["-std=c99", "-O2", "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra", "-Werror"]

_INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)


@dataclass
class ExportResult:
    out_dir: Path
    name: str
    header: Path  # include/NAME.h
    sources: list[Path]  # every .c of the library (generated + copied)
    headers: list[Path]  # every .h of the library
    origins: dict[str, str]  # library-relative path -> crt-relative path (copied files only)
    workspace_size: int
    weight_bytes: int
    size: dict[str, Any] = field(default_factory=dict)
    compile_result: Any = None  # microaot.compiler.CompileResult


# --- which files -------------------------------------------------------------------------------------

def _dest_for_crt(rel: Path) -> Path:
    """Library-relative destination of a crt-relative path."""
    parts = rel.parts
    if parts[0] == "include":
        return Path("include", *parts[1:])
    if parts[0] == "src":
        return Path("src", "microaot", "runtime", *parts[1:])
    return Path("src", "microaot", *parts)


def _resolve_include(name: str, including: Path, search: Sequence[Path]) -> Path | None:
    for d in (including.parent, *search):
        cand = (d / name).resolve()
        if cand.is_file():
            return cand
    return None


def _collect(roots: Sequence[Path], search: Sequence[Path], model_label: str) -> list[Path]:
    """roots plus every quoted #include they reach (transitively), resolved like the compiler would."""
    seen: dict[Path, None] = {}
    todo = [r.resolve() for r in roots]
    while todo:
        f = todo.pop(0)
        if f in seen:
            continue
        seen[f] = None
        for inc in _INCLUDE_RE.findall(f.read_text(encoding="utf-8", errors="replace")):
            hit = _resolve_include(inc, f, search)
            if hit is None:
                raise BuildError(
                    f"export of {model_label}: {f.name} includes \"{inc}\", which is neither beside it nor in "
                    f"{', '.join(str(s) for s in search)}; a library file may only include crt headers"
                )
            todo.append(hit)
    return list(seen)


def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# --- size report ------------------------------------------------------------------------------------

def size_toolchain(target: str) -> tuple[str, list[str]]:
    """(compiler, machine flags) used to measure a library for ``target``."""
    flags = TARGET_MACHINE_FLAGS.get(target)
    if flags is None and target == "generic":
        flags = TARGET_MACHINE_FLAGS["cortex-m4"]
    if flags is not None and shutil.which(ARM_CC):
        return ARM_CC, list(flags)
    return "gcc", []


def board_toolchain(board_id: str) -> tuple[str, str, list[str]]:
    """(target, compiler, machine flags) of a PlatformIO board of platform/boards, derived the way
    platform/builder/main.py derives the firmware's flags, so sizes are those of that board's build."""

    board = get_board(board_id)
    if board.toolchain == "host":
        return board.target, "gcc", []
    build = board.manifest.get("build", {})
    conf = build.get("microaot", {})
    flags = ["-mthumb", f"-mcpu={build.get('cpu', board.target)}", f"-mfloat-abi={conf.get('float_abi', 'soft')}"]
    if conf.get("fpu"):
        flags.append(f"-mfpu={conf['fpu']}")
    if shutil.which(ARM_CC) is None:
        return board.target, "gcc", []
    return board.target, ARM_CC, flags


def _probe_linker_script(weight_section: str) -> str:
    return f"""/* microaot size probe: the library alone, unused functions removed (--gc-sections) */
SECTIONS
{{
  .text : {{ *(.text .text.*) }}
  {weight_section} : {{ *({weight_section} {weight_section}.*) }}
  .rodata : {{ *(.rodata .rodata.*) }}
  .data.rel.ro : {{ *(.data.rel.ro .data.rel.ro.*) }}
  .data : {{ *(.data .data.*) }}
  .bss : {{ *(.bss .bss.*) *(COMMON) }}
}}
"""


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    except FileNotFoundError as e:
        raise BuildError(f"{what}: {cmd[0]} not found ({e})") from None
    if proc.returncode != 0:
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n{' '.join(cmd)}\n{proc.stderr.strip()}")


def measure_library(lib_dir: Path, name: str, sources: Sequence[Path], *, target: str,
                    weight_section: str, workspace_size: int, work_dir: Path,
                    toolchain: tuple[str, list[str]] | None = None, state_size: int = 0) -> dict[str, Any]:
    """Compile the library's sources and report its sizes.

    Headline numbers come from a link of the library alone with ``--gc-sections`` and the public
    entry points (``NAME_run``, ``NAME_run_ex``, ``NAME_reset_state``, ``NAME_model``,
    ``uaot_model_run_alloc``, ``uaot_model_state_init``, ``uaot_model_run_state``, ...) as roots, so they are
    what the library adds to a firmware image, excluding the C library's memcpy/memset (and the forbidden
    symbol check, malloc/free/printf, covers every one of them). ``objects`` sums the compiled objects
    before linking (an upper bound, unused kernels included). The workspace and the state
    (``NAME_STATE_SIZE``, 0 for a stateless model) are the caller's memory: counted in ``ram``."""
    cc, mflags = toolchain if toolchain is not None else size_toolchain(target)
    cflags = [*mflags, *SIZE_CFLAGS, f"-I{lib_dir / 'include'}"]
    objs: list[Path] = []
    per_file: dict[str, dict[str, Any]] = {}
    for i, src in enumerate(sources):
        # the exported copies compile like crt's files: through the object cache (toolchain.cached_objects)
        obj = cached_objects([cc, *cflags], [src], roots=[lib_dir], error=BuildError)[0]
        if obj == src:  # cache off
            obj = work_dir / f"{i:02d}_{src.stem}.o"
            _run([cc, *cflags, "-c", str(src), "-o", str(obj)], f"compiling {src.name} for the size report")
        objs.append(obj)
        per_file[src.relative_to(lib_dir).as_posix()] = elf.size_report(obj, weight_section=weight_section)
    external = sorted(elf.external_references(objs))
    missing = [s for s in external if s.startswith(("uaot_", name + "_"))]
    if missing:
        raise BuildError(
            f"export of {name}: the library references {', '.join(missing)} but no file in it defines "
            "them; the crt file that does is missing from the export (see RUNTIME_SOURCES in export.py)"
        )
    forbidden = sorted({s.name for s in elf.find_forbidden_symbols(objs)})
    state_elf = _descriptor_state_size(objs, sources, name)
    if state_elf is not None and state_elf != state_size:
        raise BuildError(f"export of {name}: the compiled descriptor {name}_model holds state_size {state_elf}, the "
                         f"generated header says {state_size}; the export is inconsistent, please report it")
    script = work_dir / "probe.ld"
    script.write_text(_probe_linker_script(weight_section))
    image = work_dir / "probe.elf"
    roots = [f"{name}_run", f"{name}_run_ex", f"{name}_reset_state", f"{name}_model", "uaot_model_run_alloc",
             "uaot_model_state_init", "uaot_model_state_reset", "uaot_model_state_free", "uaot_model_run_state"]
    defined = {s.name for o in objs for s in elf.defined_symbols(o)}
    link = [cc, *mflags, "-nostdlib", "-nostartfiles", "-static", "-Wl,--gc-sections",
            f"-Wl,-T,{script}", "-Wl,--unresolved-symbols=ignore-all", "-Wl,--no-warn-rwx-segments",
            f"-Wl,-e,{name}_run"]
    if cc == "gcc":
        link.append("-no-pie")
    link += [f"-Wl,-u,{r}" for r in roots if r in defined]
    link += [*map(str, objs), "-o", str(image)]
    try:
        _run(link, "linking the size probe")
        linked = elf.size_report(image, weight_section=weight_section)
        method = "linked --gc-sections from the public entry points"
    except BuildError:
        # older binutils without --no-warn-rwx-segments: retry without it
        link.remove("-Wl,--no-warn-rwx-segments")
        try:
            _run(link, "linking the size probe")
            linked = elf.size_report(image, weight_section=weight_section)
            method = "linked --gc-sections from the public entry points"
        except BuildError:
            linked = elf.size_report(objs, weight_section=weight_section)
            method = "sum of objects (probe link failed)"
    report: dict[str, Any] = {
        "name": name,
        "target": target,
        "compiler": cc,
        "cflags": [*mflags, *SIZE_CFLAGS],
        "method": method,
        "text": linked["text"],
        "rodata": linked["rodata"],
        "weights": linked["weights"],
        "data": linked["data"],
        "bss": linked["bss"],
        "workspace": workspace_size,
        "state": state_size,
        "state_from_elf": state_elf,  # uaot_model_t.state_size read from the compiled model (None: not found)
        "flash": linked["flash"],
        "ram": int(linked["ram"]) + workspace_size + state_size,
        "weight_section": weight_section,
        "objects": elf.size_report(objs, weight_section=weight_section),
        "per_file": per_file,
        "external_references": external,
        "forbidden_symbols": forbidden,
    }
    return report


def _descriptor_state_size(objs: Sequence[Path], sources: Sequence[Path], name: str) -> int | None:
    """``NAME_model.state_size`` (uaot_model_t: abi u32, name and hash pointers, workspace_size u32,
    state_size u32) read from the compiled model's object, or None when it cannot be found."""
    for obj, src in zip(objs, sources, strict=False):
        if src.name != f"{name}.c":
            continue
        got = elf.symbol_bytes(obj, f"{name}_model")
        if got is None:
            return None
        data, ptr = got
        at = ptr + 2 * ptr + 4  # abi (padded to a pointer), name, hash, workspace_size
        return int.from_bytes(data[at:at + 4], "little") if len(data) >= at + 4 else None
    return None


def format_size_report(rep: dict[str, Any]) -> str:
    rows = [("text (code)", rep["text"]), (f"weights ({rep['weight_section']})", rep["weights"]),
            ("rodata (other const)", rep["rodata"]), ("data", rep["data"]), ("bss", rep["bss"]),
            ("workspace (caller's)", rep["workspace"]), ("state (caller's, persists)", rep.get("state", 0)),
            ("flash total", rep["flash"]), ("RAM total incl. workspace and state", rep["ram"])]
    width = max(len(r[0]) for r in rows)
    lines = [f"{rep['name']}: size on {rep['target']} ({rep['compiler']} {' '.join(rep['cflags'])}; {rep['method']})"]
    lines += [f"  {label:<{width}}  {value:>9,d} B" for label, value in rows]
    return "\n".join(lines)


# --- generated text files ---------------------------------------------------------------------------

def _library_json(name: str, model_file: str, model_hash: str) -> str:
    manifest = {
        "name": name,
        "version": __version__,
        "description": f"{model_file} compiled ahead of time to C by microaot {__version__} "
                       f"(model sha256 {model_hash[:16]}): no malloc, caller-provided memory, const weights",
        "keywords": ["microaot", "tinyml", "neural network", "inference"],
        "frameworks": "*",
        "platforms": "*",
        "headers": f"{name}.h",
        "build": {"srcDir": "src", "includeDir": "include"},
    }
    return json.dumps(manifest, indent=2) + "\n"


def _cmake(name: str, rel_sources: Sequence[str]) -> str:
    srcs = "\n".join(f"    ${{CMAKE_CURRENT_LIST_DIR}}/{s}" for s in rel_sources)
    return f"""# microaot export of {name}: add_subdirectory(path/to/this/folder) then
#   target_link_libraries(your_app PRIVATE {name})
cmake_minimum_required(VERSION 3.13)
project({name} C)

add_library({name} STATIC
{srcs}
)
target_include_directories({name} PUBLIC ${{CMAKE_CURRENT_LIST_DIR}}/include)
# float kernels may call expf/tanhf: link the C math library where there is one
find_library(MICROAOT_LIBM m)
if(MICROAOT_LIBM)
  target_link_libraries({name} PUBLIC ${{MICROAOT_LIBM}})
endif()
set_target_properties({name} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
"""


def _make_var(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()


def _makefile(name: str, rel_sources: Sequence[str]) -> str:
    v = _make_var(name)
    srcs = " \\\n    ".join(f"$({v}_DIR)/{s}" for s in rel_sources)
    return f"""# microaot export of {name}: a make fragment.
#   include path/to/this/folder/microaot.mk
#   SRCS   += $({v}_SRCS)
#   CFLAGS += $({v}_CFLAGS)
#   LDLIBS += $({v}_LDLIBS)
{v}_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
{v}_SRCS := \\
    {srcs}
{v}_INCLUDE := $({v}_DIR)/include
{v}_CFLAGS := -I$({v}_INCLUDE)
{v}_LDLIBS := -lm
"""


def _readme(name: str, model_file: str, model_hash: str, options: dict[str, Any],
            size: dict[str, Any] | None, workspace: int, inputs: list[str], outputs: list[str],
            state: int = 0) -> str:
    sec = options["weight_section"]
    size_txt = "(size report skipped)"
    if size is not None:
        size_txt = ("```\n" + format_size_report(size) + "\n```\n\nThe library alone, as linked with "
                    "`--gc-sections` from its entry points; C library functions it calls (memcpy, memset, "
                    "expf, ...) are not included. Also in `size_report.json`.")
    io_txt = "\n".join([*(f"- input {i}: {s}" for i, s in enumerate(inputs)),
                        *(f"- output {i}: {s}" for i, s in enumerate(outputs))])
    memory_txt = _memory_stateful(name, workspace, state) if state else _memory_stateless(name, workspace)
    return f"""# {name}: `{model_file}` as a C library

Generated by microaot {__version__} from `{model_file}` (sha256 `{model_hash}`), target `{options['target']}`,
tuning log `{options['tuning_log'] or 'none'}`. Plain C99, no `malloc`/`free`/`printf`, no interpreter: a fixed,
ahead-of-time schedule of the same kernels microaot evaluated and tuned. Generated: re-running
`microaot export` replaces this folder.

{io_txt}

## Files

- `include/{name}.h`: the public header (`#include "{name}.h"`); `include/microaot/`: the runtime
  headers it needs (`microaot/alloc.h` for the allocator modes).
- `src/`: the generated model and the microaot kernels/runtime it uses. Compile every `.c` under `src/`
  with `include/` on the include path. Optional `-DUAOT_CHECKS`: the kernels also check the scratch size
  each call passes (`UAOT_ERR_SCRATCH` from the run function otherwise), at a few instructions per call.
- `library.json` (PlatformIO: drop the folder into `lib/`), `CMakeLists.txt` (`add_subdirectory`,
  target `{name}`), `microaot.mk` (make: `include microaot.mk`, then `$({_make_var(name)}_SRCS)` and
  `$({_make_var(name)}_CFLAGS)`).

{memory_txt}
## Per-operator hooks (optional)

`{name}_run_ex(in, out, ws, {"st" if state else "NULL"}, &hooks)` calls `hooks.op_begin(ctx, i)` /
`hooks.op_end(ctx, i)` around operator `i` (time it with your own timer) and then
`hooks.op_output(ctx, i, data, bytes)` with each of its output tensors (compare intermediate tensors
with a reference); any pointer may be NULL, and `{name}_run` is `{name}_run_ex` with no hooks.
Zero-initialise the struct (`uaot_hooks_t hooks = {{0}};`) so that fields added by later ABI versions
stay NULL.

## Weights in flash

Weights are `const` arrays in the linker section `{sec}`. Most vendor linker scripts already put
`*(.rodata*)` in flash; to place them yourself (own region, external flash, alignment), add before the
generic `.rodata` rule:

```ld
  {sec} : ALIGN(4)
  {{
    KEEP(*({sec} {sec}.*))
  }} > FLASH
```

(GNU ld; drop `KEEP` to let `--gc-sections` discard weights of an unused model.) Check with
`arm-none-eabi-size -A firmware.elf | grep microaot`.

## Size

{size_txt}
"""


def _memory_stateless(name: str, workspace: int) -> str:
    return f"""## Memory: bring your own

The model needs one workspace of `{name}_WORKSPACE_SIZE` = {workspace} bytes, aligned to
`{name}_WORKSPACE_ALIGN` bytes, for all activations. Nothing is allocated behind your back. It keeps no
state between runs (`{name}_STATE_SIZE` is 0; `{name}_reset_state` does nothing).

1. A buffer (static, stack, or your own pool):
   ```c
   static uint8_t ws[{name}_WORKSPACE_SIZE] __attribute__((aligned({name}_WORKSPACE_ALIGN)));
   const void *in[] = {{input0}};
   void *out[] = {{output0}};
   uaot_status_t st = {name}_run(in, out, ws);
   ```
2. The arena allocator over a buffer (share one buffer between several models or phases):
   ```c
   #include "microaot/alloc.h"
   static uint8_t pool[UAOT_ARENA_BYTES_FOR({name}_WORKSPACE_SIZE, {name}_WORKSPACE_ALIGN)];
   uaot_arena_t arena;
   uaot_arena_init(&arena, pool, sizeof pool);
   uaot_allocator_t a = uaot_arena_allocator(&arena);
   uaot_status_t st = uaot_model_run_alloc(&{name}_model, in, out, &a);
   ```
3. Your own hooks (an RTOS heap, a memory pool, ...):
   ```c
   static void *my_alloc(void *ctx, size_t size, size_t align) {{ /* return aligned memory or NULL */ }}
   static void my_free(void *ctx, void *ptr) {{ /* give it back */ }}
   uaot_allocator_t a = {{ my_alloc, my_free, my_ctx }};
   uaot_status_t st = uaot_model_run_alloc(&{name}_model, in, out, &a);
   ```
   `uaot_model_run_alloc` asks for exactly `{name}_WORKSPACE_SIZE` bytes aligned to
   `UAOT_WORKSPACE_ALIGN`, runs the model and frees the block before returning.

Every function returns `uaot_status_t` (`UAOT_OK` = 0; see `include/microaot/status.h`). Input buffers are
never written. The header refuses to compile (`#error`) against runtime headers of another ABI version.

"""


def _memory_stateful(name: str, workspace: int, state: int) -> str:
    return f"""## Memory: bring your own

The model needs one workspace of `{name}_WORKSPACE_SIZE` = {workspace} bytes, aligned to
`{name}_WORKSPACE_ALIGN` bytes, for the activations of one run, and **a state buffer** of
`{name}_STATE_SIZE` = {state} bytes, aligned to `{name}_STATE_ALIGN`, that persists between runs: the
model is stateful (recurrent cells, resource variables, ...), each run reads the state the previous run
left and updates it. The state is separate from the workspace and never reused for anything else: keep
it alive (static, or allocated once) for as long as the sequence goes on, reset it with
`{name}_reset_state(st)` before the first run and before each new, independent sequence (e.g. a new
utterance), and use one state buffer per independent stream. Nothing is allocated behind your back.

1. Buffers (static, stack, or your own pool):
   ```c
   static uint8_t ws[{name}_WORKSPACE_SIZE] __attribute__((aligned({name}_WORKSPACE_ALIGN)));
   static uint8_t st[{name}_STATE_SIZE] __attribute__((aligned({name}_STATE_ALIGN)));
   const void *in[] = {{input0}};
   void *out[] = {{output0}};
   {name}_reset_state(st);                         /* once per sequence */
   uaot_status_t status = {name}_run(in, out, ws, st);  /* every step */
   ```
2. The arena allocator over a buffer: allocate the state once, before anything else (the arena frees
   last-in first-out, so the workspace of each run comes and goes above it):
   ```c
   #include "microaot/alloc.h"
   static uint8_t pool[UAOT_ARENA_BYTES_FOR({name}_STATE_SIZE, {name}_STATE_ALIGN) +
                       UAOT_ARENA_BYTES_FOR({name}_WORKSPACE_SIZE, {name}_WORKSPACE_ALIGN)];
   uaot_arena_t arena;
   uaot_arena_init(&arena, pool, sizeof pool);
   uaot_allocator_t a = uaot_arena_allocator(&arena);
   void *st;
   uaot_model_state_init(&{name}_model, &a, &st);               /* allocates and resets the state */
   uaot_status_t status = uaot_model_run_state(&{name}_model, in, out, st, &a);  /* every step */
   uaot_model_state_reset(&{name}_model, st);                   /* a new sequence */
   ```
3. Your own hooks (an RTOS heap, a memory pool, ...): as the arena, with
   `uaot_allocator_t a = {{ my_alloc, my_free, my_ctx }};` (`my_alloc(ctx, size, align)` returns aligned
   memory or NULL). `uaot_model_state_init` asks once for `{name}_STATE_SIZE` bytes aligned to
   `UAOT_WORKSPACE_ALIGN` (give it back with `uaot_model_state_free`), `uaot_model_run_state` asks for
   `{name}_WORKSPACE_SIZE` bytes per run and frees them before returning.

`uaot_model_run_alloc` refuses this model (`UAOT_ERR_STATE`): a workspace-only run would have nowhere to
keep the state. Every function returns `uaot_status_t` (`UAOT_OK` = 0; see
`include/microaot/status.h`); `{name}_run` returns `UAOT_ERR_ARG` for a NULL state. Input buffers are
never written. The header refuses to compile (`#error`) against runtime headers of another ABI version.

"""


# --- the export ----------------------------------------------------------------------------------

def export_library(
    model_path: str | Path,
    out_dir: str | Path,
    *,
    name: str | None = None,
    weight_section: str = elf.DEFAULT_WEIGHT_SECTION,
    tuning_log: str | Path | None = None,
    target: str | None = None,
    board: str | None = None,
    measure: bool = True,
    force: bool = False,
    custom_ops: Mapping[str, str] | None = None,
    extra_sources: Sequence[str | Path] = (),
) -> ExportResult:
    """Compile ``model_path`` and write the C library folder ``out_dir`` (see the module docstring).

    ``out_dir`` must be empty or absent, or a previous export: then the files that export wrote (listed
    with their sha256 in its ``microaot_export.json``) are replaced, or removed when this export no
    longer writes them, but only while unchanged; a changed one, or any file that export did not write,
    is an error naming it. With ``force`` the files are written into any folder and overwrite
    same-named files; nothing but unchanged files of a previous export is ever deleted.
    ``target`` defaults to ``board``'s target (a platform/boards id, e.g. ``qemu_mps2_an386``: the code
    is then exactly what that board's evaluation firmware runs, and the size report uses its compiler
    flags), else ``generic``. ``measure=False`` skips the size report (no C compiler needed). ``custom_ops``: user C
    kernels bound to custom operators (docs/custom-operators.md): the library calls them; ``extra_sources``: your
    C files (.c / .h) shipped in ``src/user/`` (built and measured with the library, e.g. those kernels)."""
    model_path = Path(model_path)
    toolchain: tuple[str, list[str]] | None = None
    if board is not None:
        board_target, board_cc, board_flags = board_toolchain(board)
        if target is not None and target != board_target:
            raise MicroaotError(
                f"export of {model_path.name}: --target {target} contradicts board {board} "
                f"(target {board_target}); give only --board"
            )
        target = board_target
        toolchain = (board_cc, board_flags)
    target = target or "generic"
    final_out = Path(out_dir)
    if final_out.exists() and not final_out.is_dir():
        raise MicroaotError(f"export of {model_path.name}: {final_out} exists and is not a folder; choose a folder")
    previous = _previous_export(final_out, model_path.name)
    if previous is None and final_out.exists() and any(final_out.iterdir()) and not force:
        raise MicroaotError(
            f"export of {model_path.name}: {final_out} exists and is not a microaot export; "
            "choose an empty folder, or pass --force to write into it (files of the same name are overwritten, "
            "nothing is deleted)"
        )
    crt = crt_root().resolve()

    with tempfile.TemporaryDirectory(prefix="microaot-export-") as tmp_s:
        tmp = Path(tmp_s)
        # the library is assembled and measured in a staging folder, then installed into final_out
        # (see _install: only files a previous export wrote are ever replaced or removed)
        out = tmp / "lib"
        out.mkdir()
        gen_dir = tmp / "gen"
        gen_dir.mkdir()
        result = compile_model(model_path, gen_dir, name=name, weight_section=weight_section, target=target,
                               schedules=log_schedules(tuning_log, model_path, target=target),
                               custom_ops=custom_ops, flash_size=get_board(board).flash_size if board else None)
        name = result.name
        label = model_path.name
        runtime = [crt / r for r in RUNTIME_SOURCES]
        extra_runtime = [Path(p) for p in getattr(result, "runtime_sources", []) or []]
        copied_sources = [Path(p).resolve() for p in [*result.kernel_sources, *extra_runtime, *runtime]]
        copied_sources = list(dict.fromkeys(copied_sources))
        generated = [Path(p).resolve() for p in [*result.sources, result.header]]
        everything = _collect([*generated, *copied_sources], [gen_dir.resolve(), crt / "include"], label)

        origins: dict[str, str] = {}
        files: list[Path] = []
        for f in everything:
            if f.parent == gen_dir.resolve():
                dest = Path("include" if f.suffix == ".h" else "src", f.name)
            elif f.is_relative_to(crt):
                dest = _dest_for_crt(f.relative_to(crt))
                origins[dest.as_posix()] = f.relative_to(crt).as_posix()
            else:
                raise BuildError(f"export of {label}: {f} is outside crt/ and not generated; cannot ship it")
            (out / dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, out / dest)
            files.append(out / dest)
        for x in (Path(p) for p in extra_sources):
            dest = Path("src", "user", x.name)
            if x.suffix not in (".c", ".h") or not x.is_file():
                raise MicroaotError(f"export of {label}: --extra-source {x}: not a .c or .h file")
            if (out / dest).exists():
                raise MicroaotError(f"export of {label}: --extra-source {x}: two extra sources named {x.name}")
            (out / dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(x, out / dest)
            files.append(out / dest)

        # the copies must still find their includes in the new layout (include/ + their own folder)
        for f in files:
            for inc in _INCLUDE_RE.findall(f.read_text(encoding="utf-8", errors="replace")):
                if _resolve_include(inc, f, [out / "include"]) is None:
                    raise BuildError(
                        f"export of {label}: {f.relative_to(out)} includes \"{inc}\", which does not resolve "
                        "in the exported layout (include/ or beside the file); use crt/include paths"
                    )

        sources = sorted((f for f in files if f.suffix == ".c"), key=lambda p: p.relative_to(out).as_posix())
        headers = sorted((f for f in files if f.suffix == ".h"), key=lambda p: p.relative_to(out).as_posix())
        header = out / "include" / f"{name}.h"
        rel_sources = [s.relative_to(out).as_posix() for s in sources]
        model_state = state_size(result)
        size: dict[str, Any] | None = None
        if measure:
            probe = tmp / "size"
            probe.mkdir()
            size = measure_library(out, name, sources, target=target, weight_section=weight_section,
                                   workspace_size=int(result.workspace_size), work_dir=probe,
                                   toolchain=toolchain, state_size=model_state)
            if board is not None:
                size["board"] = board

        graph = getattr(result, "graph", None)
        ins, outs = _io_descriptions(graph)
        options = {"name": name, "weight_section": weight_section, "target": target, "board": board,
                   "tuning_log": str(tuning_log) if tuning_log else None}
        if custom_ops:
            options["custom_ops"] = dict(sorted(custom_ops.items()))
        meta = [out / "library.json", out / "CMakeLists.txt", out / "microaot.mk", out / "README.md"]
        meta[0].write_text(_library_json(name, model_path.name, result.model_hash))
        meta[1].write_text(_cmake(name, rel_sources))
        meta[2].write_text(_makefile(name, rel_sources))
        meta[3].write_text(_readme(name, model_path.name, result.model_hash, options, size,
                                   int(result.workspace_size), ins, outs, model_state))
        if size is not None:
            meta.append(out / "size_report.json")
            meta[-1].write_text(json.dumps(size, indent=2) + "\n")
        _write_provenance(out, model_path, result, options, tuning_log, origins, [*sources, *headers, *meta])
        _install(out, final_out, previous, force=force, label=model_path.name)

    def moved(p: Path) -> Path:
        return final_out / p.relative_to(out)

    return ExportResult(out_dir=final_out, name=name, header=moved(header), sources=[moved(p) for p in sources],
                        headers=[moved(p) for p in headers], origins=origins,
                        workspace_size=int(result.workspace_size), weight_bytes=int(result.weight_bytes),
                        size=size or {}, compile_result=result)


PROVENANCE = "microaot_export.json"


def _write_provenance(out: Path, model_path: Path, result: Any, options: dict[str, Any],
                      tuning_log: str | Path | None, origins: dict[str, str], written: Sequence[Path]) -> None:
    provenance = {
        "microaot_version": __version__,
        "model": model_path.name,
        "model_sha256": result.model_hash,
        "options": options,
        "tuning_log_sha256": _sha256(Path(tuning_log)) if tuning_log else None,
        "workspace_size": int(result.workspace_size),
        "weight_bytes": int(result.weight_bytes),
        # every file this export wrote (but this one), with its hash: the next export into the folder
        # replaces or removes exactly these, and only while they are unmodified
        "files": {p.relative_to(out).as_posix(): {"sha256": _sha256(p),
                                                   "from": origins.get(p.relative_to(out).as_posix(),
                                                                       "generated")}
                  for p in written},
    }
    (out / PROVENANCE).write_text(json.dumps(provenance, indent=2) + "\n")


def _previous_export(folder: Path, label: str) -> dict[str, str] | None:
    """{relative path: sha256} of the files a previous export wrote into folder (its provenance),
    or None when folder holds no export. Paths that would leave the folder are refused."""
    prov = folder / PROVENANCE
    if not prov.is_file() or prov.is_symlink():
        return None
    try:
        data = json.loads(prov.read_text(encoding="utf-8"))
        files = data["files"]
        out = {str(k): str(v["sha256"]) for k, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise MicroaotError(
            f"export of {label}: {prov} is not a readable microaot export record; the folder's files cannot be "
            "told from yours: fix or delete that file, or export into an empty folder"
        ) from None
    for rel in out:
        pp = PurePosixPath(rel)
        if pp.is_absolute() or ".." in pp.parts or not pp.parts or rel == PROVENANCE:
            raise MicroaotError(f"export of {label}: {prov} lists the path {rel!r}, which is not inside the folder; "
                                "fix or delete that file, or export into an empty folder")
    return out


def _file_sha(p: Path) -> str | None:
    """sha256 of a regular file (None for a symlink, a folder or anything else)."""
    if p.is_symlink() or not p.is_file():
        return None
    return _sha256(p)


def _install(stage: Path, out: Path, previous: dict[str, str] | None, *, force: bool, label: str) -> None:
    """Copy the staged library into out. A file of the previous export (listed in its provenance) is
    replaced or removed only while its hash is unchanged; a file the user changed, or one that is not
    the previous export's, is overwritten only with force and never removed; folders are removed only
    when empty."""
    prev = previous or {}
    new = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
    modified: list[str] = []
    foreign: list[str] = []
    for rel in new:
        dest = out / rel
        if not dest.exists() and not dest.is_symlink():
            continue
        if rel == PROVENANCE and previous is not None:
            continue
        if dest.is_dir() and not dest.is_symlink():
            raise MicroaotError(f"export of {label}: {dest} is a folder where the export writes a file; "
                                "move it away or export into another folder")
        if rel in prev:
            if _file_sha(dest) != prev[rel]:
                modified.append(rel)
        else:
            foreign.append(rel)
    if (modified or foreign) and not force:
        parts = []
        if modified:
            parts.append(f"{len(modified)} exported file(s) changed since the last export ({', '.join(modified[:8])})")
        if foreign:
            parts.append(f"{len(foreign)} file(s) the last export did not write ({', '.join(foreign[:8])})")
        raise MicroaotError(
            f"export of {label}: {out} holds " + " and ".join(parts) + "; they would be overwritten: save your "
            "changes elsewhere (or delete those files), export into another folder, or pass --force to overwrite them"
        )
    for rel in new:
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_symlink():
            dest.unlink()  # replace the link itself, never write through it
        shutil.copyfile(stage / rel, dest)
    # files of the previous export that this one no longer writes: removed while unmodified
    kept: list[str] = []
    for rel in sorted(set(prev) - set(new)):
        dest = out / rel
        if not dest.exists() and not dest.is_symlink():
            continue
        if _file_sha(dest) != prev[rel]:
            kept.append(rel)
            continue
        dest.unlink()
        parent = dest.parent
        while parent != out and parent.is_relative_to(out):
            try:
                parent.rmdir()  # only an empty folder
            except OSError:
                break
            parent = parent.parent
    if kept:
        warnings.warn(f"export of {label}: kept {len(kept)} file(s) of the previous export that you changed and "
                      f"this export no longer writes ({', '.join(kept[:8])}); delete them if unused", stacklevel=3)


def shipped_summary(res: ExportResult, *, target: str | None, board: str | None) -> str:
    """What the library ships: the kernel target (and the board whose evaluation ran the same code), the
    kernel files, workspace and weights."""
    cr = res.compile_result
    kernels = ", ".join(sorted(p.stem for p in (cr.kernel_sources if cr is not None else []))) or "none"
    tgt = board_toolchain(board)[0] if board is not None else (target or "generic")
    where = f"the code `microaot eval --board {board}` measures" if board else "not measured on a board"
    state = state_size(cr) if cr is not None else 0
    state_txt = f", state {state:,} B kept between runs (NAME_STATE_SIZE)" if state else ""
    return (f"  kernels   : target {tgt} ({where}): {kernels}\n"
            f"  workspace : {res.workspace_size:,} B (NAME_WORKSPACE_SIZE){state_txt}, weights "
            f"{res.weight_bytes:,} B const")


def _io_descriptions(graph: Any) -> tuple[list[str], list[str]]:
    def desc(ti: int) -> str:
        t = graph.tensors[ti]
        q = f", scale {t.quant.scale0:g}, zero point {t.quant.zp0}" if getattr(t, "quant", None) else ""
        return f"`{t.name}` {t.dtype} {list(t.shape)} ({t.nbytes} bytes{q})"

    try:
        return [desc(i) for i in graph.inputs], [desc(i) for i in graph.outputs]
    except (AttributeError, IndexError, KeyError, TypeError):
        return [], []


# --- CLI ----------------------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, help="the .tflite model")
    p.add_argument("-o", "--out", type=Path, required=True, help="library folder to write (e.g. lib/kws)")
    p.add_argument("--name", help="C identifier prefix (default: from the model file name)")
    p.add_argument("--section", default=elf.DEFAULT_WEIGHT_SECTION,
                   help="linker section of the weights (default %(default)s)")
    p.add_argument("--tuning-log", type=Path, help="tuning log whose best schedules to use")
    p.add_argument("--target", default=None, choices=("generic", "cortex-m4", "cortex-m7", "cortex-m55"),
                   help="kernel variants and the size report's toolchain, when no --board is given")
    p.add_argument("--board", default=None,
                   help="a board id of the microaot platform (e.g. qemu_mps2_an386): ship exactly what "
                        "`microaot eval --board` measured on it (its kernels), sized with its compiler flags")
    p.add_argument("--no-size", action="store_true", help="skip the size report (needs no C compiler)")
    p.add_argument("--force", action="store_true", help="write into a non-empty folder that is not an export, or over "
                                                        "exported files you changed "
                   "(overwrites same-named files; never deletes anything but unchanged files of the last export)")
    p.add_argument("--json", action="store_true", help="print the size report as JSON instead of a table")
    p.add_argument("--custom-op", action="append", default=[], metavar="NAME=C_FUNCTION",
                   help="bind your C kernel C_FUNCTION to the model's custom operator NAME (repeatable; "
                        "docs/custom-operators.md): the library calls it")
    p.add_argument("--extra-source", action="append", default=[], type=Path, metavar="FILE",
                   help="a C file (.c / .h) of yours to ship in src/user/ and build with the library, e.g. the "
                        "kernel of --custom-op (repeatable)")


def run_cli(args: argparse.Namespace) -> int:
    if args.board is None and args.target is None:
        raise MicroaotError(
            f"export of {args.model.name}: which kernels should the library ship? Give --board BOARD (exactly the "
            "code `microaot eval --board BOARD` measured: DSP kernels on Cortex-M4/M7 boards) or --target "
            "generic|cortex-m4|cortex-m7|cortex-m55 (portable C, the Cortex-M DSP kernels, or Helium on the M55)")
    res = export_library(args.model, args.out, name=args.name, weight_section=args.section,
                         tuning_log=args.tuning_log, target=args.target, board=args.board,
                         measure=not args.no_size,
                         force=args.force, custom_ops=parse_bindings(args.custom_op),
                         extra_sources=args.extra_source)
    if args.json:
        print(json.dumps(res.size, indent=2))
    else:
        print(f"exported {res.name} to {res.out_dir} ({len(res.sources)} sources, {len(res.headers)} headers)")
        print(shipped_summary(res, target=args.target, board=args.board))
        if res.size:
            print(format_size_report(res.size))
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``microaot export`` to the CLI's sub-command parsers."""
    p = subparsers.add_parser("export", help="write the compiled model as a standalone C library folder",
                              description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_arguments(p)
    p.set_defaults(func=run_cli)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m microaot.export`` (same as ``microaot export``)."""
    return run_standalone("microaot export", add_arguments, run_cli, argv, error_status=1)


if __name__ == "__main__":
    sys.exit(main())
