"""The code-generation step of ``pio run`` (called by builder/microaot_build.py, library.json's extraScript).

platformio.ini options (all optional except the model in RPC mode):

===============================  ===========================================================
``custom_microaot_model``        path of the .tflite file (relative to the project folder)
``custom_microaot_name``         C prefix of the generated API (default: from the file name)
``custom_microaot_section``      linker section of the weights (default ``.rodata.microaot``)
``custom_microaot_mode``         ``rpc`` (default: the port's main() serves the RPC protocol)
                                 or ``standalone`` (the application's own main() calls NAME_run)
``custom_microaot_tuning_log``   tuning log (JSON lines) whose best schedules the build uses
``custom_microaot_werror``       ``yes`` (default) builds crt/ and generated C with -Werror
===============================  ===========================================================

Generated C goes to ``$BUILD_DIR/microaot/`` (never into the project's src/), cached by a hash of the
model bytes, the options, the board target and the generator (microaot version + its Python sources).
``$BUILD_DIR/microaot/microaot_build.json`` records what was built (used by ``microaot eval``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from microaot import __version__
from microaot.compiler import compile_model
from microaot.errors import MicroaotError
from microaot.frontend.tflite import read_model_file
from microaot.options import check_options, parse_bool, parse_custom_ops
from microaot.pio.ports import choose, stm32f4_flash_wait_states
from microaot.pio.target import add_tune_target, tune_requested
from microaot.report.memory import memory_from_elf
from microaot.rpc.glue import write_rpc_glue
from microaot.tune.log import log_schedules

GEN_SUBDIR = "microaot"
# a weight array of the generated C: static const T NAME[N] PREFIX_WEIGHT_ATTR = {
WEIGHT_DECL = re.compile(r"^static const \w+ (\w+)\[\d*\] \w+_WEIGHT_ATTR", re.MULTILINE)
BUILD_INFO = "microaot_build.json"
RPC_ONLY_SOURCES = {"rpc_server.c", "framing.c", "crc16.c"}
PORT_MAIN_SOURCES = {"main_rpc.c", "main.c"}
STARTUP_SOURCE = "startup.c"
MODES = ("rpc", "standalone")


@dataclass
class BuildOptions:
    model: Path | None
    name: str | None
    section: str
    mode: str
    tuning_log: Path | None
    target: str
    port: str
    board: str
    werror: bool = True
    custom_ops: dict[str, str] = field(default_factory=dict)  # custom operator name -> user C kernel
    flash_size: int = 0  # the board's upload.maximum_size (bounds the default int16 weights); 0: unknown

    def key_material(self) -> dict[str, Any]:
        return {
            "flash_size": self.flash_size,
            "custom_ops": dict(sorted(self.custom_ops.items())),
            "name": self.name,
            "section": self.section,
            "mode": self.mode,
            "tuning_log": _file_hash(self.tuning_log) if self.tuning_log else None,
            "target": self.target,
        }


@dataclass
class BuildInfo:
    """What the code-generation step produced (stored as JSON beside the generated C)."""

    key: str
    board: str
    port: str
    mode: str
    model: str | None = None
    model_hash: str | None = None
    name: str | None = None
    section: str = ".rodata.microaot"
    workspace_size: int = 0
    weight_bytes: int = 0
    num_ops: int = 0
    sources: list[str] = field(default_factory=list)
    kernel_sources: list[str] = field(default_factory=list)
    # the weight arrays' symbols: sizes come from the ELF even where a framework's linker script
    # folds the weight section into .rodata
    weight_symbols: list[str] = field(default_factory=list)
    generator: str = __version__
    settings: dict[str, Any] = field(default_factory=dict)

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf8")

    @staticmethod
    def load(path: Path) -> BuildInfo:
        return BuildInfo(**json.loads(path.read_text(encoding="utf8")))


def _file_hash(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


GENERATOR_PARTS = ("compiler.py", "frontend", "ir", "passes", "planner", "codegen", "rpc/glue.py")


def generator_fingerprint() -> str:
    """microaot's version plus a hash of the generator's Python sources (a changed generator regenerates)."""
    pkg = Path(__file__).resolve().parent
    h = hashlib.sha256(__version__.encode())
    for part in GENERATOR_PARTS:
        base = pkg / part
        files = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for p in files:
            h.update(p.relative_to(pkg).as_posix().encode())
            h.update(p.read_bytes())
    return f"{__version__}+{h.hexdigest()[:16]}"


def cache_key(opts: BuildOptions) -> str:
    h = hashlib.sha256()
    h.update(generator_fingerprint().encode())
    h.update(json.dumps(opts.key_material(), sort_keys=True).encode())
    if opts.model is not None:
        h.update(read_model_file(opts.model))  # checks the file before reading it whole
    return h.hexdigest()


def generate(opts: BuildOptions, gen_dir: Path, crt: Path) -> BuildInfo:
    """Run the compiler (and the RPC glue generator) unless the cache in gen_dir is current."""
    gen_dir.mkdir(parents=True, exist_ok=True)
    info_path = gen_dir / BUILD_INFO
    if opts.model is None:
        info = BuildInfo(key="", board=opts.board, port=opts.port, mode=opts.mode)
        for stale in gen_dir.glob("*.[ch]"):
            stale.unlink()
        info.dump(info_path)
        return info
    key = cache_key(opts)
    if info_path.is_file():
        try:
            old = BuildInfo.load(info_path)
        except (ValueError, TypeError):
            old = None
        if old is not None and old.key == key and all((gen_dir / s).is_file() for s in old.sources):
            old.board, old.port = opts.board, opts.port
            return old
    for stale in gen_dir.glob("*.[ch]"):
        stale.unlink()

    result = compile_model(
        opts.model,
        gen_dir,
        name=opts.name,
        weight_section=opts.section,
        target=opts.target,
        schedules=log_schedules(opts.tuning_log, opts.model, target=opts.target, board=opts.board),
        custom_ops=opts.custom_ops,
        flash_size=opts.flash_size or None,
    )
    sources = [Path(s).name for s in result.sources]
    if opts.mode == "rpc":
        glue = write_rpc_glue(result, gen_dir)
        glue_paths = glue if isinstance(glue, list | tuple) else [glue]
        sources += [Path(str(g)).name for g in glue_paths if str(g).endswith(".c")]
    kernels = []
    for k in result.kernel_sources:
        kp = Path(k).resolve()
        try:
            kernels.append(kp.relative_to(crt.resolve()).as_posix())
        except ValueError as exc:
            raise MicroaotError(f"kernel source {kp} is not inside {crt}") from exc
    weight_symbols: list[str] = []
    for src in sorted(set(sources)):
        text = (gen_dir / src).read_text(encoding="utf8", errors="replace")
        weight_symbols += WEIGHT_DECL.findall(text)
    info = BuildInfo(
        weight_symbols=sorted(set(weight_symbols)),
        key=key,
        board=opts.board,
        port=opts.port,
        mode=opts.mode,
        model=str(opts.model),
        model_hash=result.model_hash,
        name=result.name,
        section=opts.section,
        workspace_size=int(result.workspace_size),
        weight_bytes=int(result.weight_bytes),
        num_ops=len(getattr(getattr(result, "graph", None), "operators", ()) or ()),
        sources=sorted(set(sources)),
        kernel_sources=sorted(set(kernels)),
    )
    info.dump(info_path)
    return info


def src_filter(info: BuildInfo, crt: Path, *, own_board: bool = True, startup: bool = True) -> list[str]:
    """PlatformIO src_filter (relative to crt/) of the runtime files this build needs.

    own_board: microaot's own board (the port's main() serves RPC mode); on any other platform the
    application owns main() and calls the RPC API. startup: add the port's startup.c (vector table,
    reset handler), left out under a framework (which brings its own)."""
    flt = ["-<*>"]
    for p in sorted((crt / "src").glob("*.c")):
        if info.mode != "rpc" and p.name in RPC_ONLY_SOURCES:
            continue
        flt.append(f"+<src/{p.name}>")
    for k in info.kernel_sources:
        flt.append(f"+<{k}>")
    port_dir = crt / "ports" / info.port
    for p in sorted([*port_dir.glob("*.c"), *port_dir.glob("*.cpp")]):
        if (info.mode != "rpc" or not own_board) and p.name in PORT_MAIN_SOURCES:
            continue
        if not startup and p.name == STARTUP_SOURCE:
            continue
        flt.append(f"+<ports/{info.port}/{p.name}>")
    return flt


def env_options(lib_env: Any, global_env: Any) -> dict[str, str]:
    """Every option of the environment being built (its own section and the [env] defaults)."""
    config = lib_env.GetProjectConfig()
    section = f"env:{global_env.subst('$PIOENV')}"
    return {k: str(config.get(section, k)) for k in config.options(section)}


RPC_DEFAULT_MAX_OPS = 128  # crt/include/microaot/rpc.h


class _NoBoard:
    """BoardConfig stand-in for ``platform = native`` without ``board =`` (every key missing)."""

    def get(self, key: str, default: Any = None) -> Any:  # noqa: ARG002 - BoardConfig's signature
        return default


def _fail(msg: str) -> None:
    sys.stderr.write(f"\nmicroaot: error: {msg}\n\n")
    sys.stderr.flush()


def configure(lib_env: Any, global_env: Any, lib_root: str) -> BuildInfo | None:
    """SCons side: read the options, generate, wire sources, include paths and the linker script."""
    root = Path(lib_root)
    crt = root / "crt"
    project_dir = Path(global_env.subst("$PROJECT_DIR"))
    board_id = global_env.subst("$BOARD")
    board: Any = global_env.BoardConfig() if board_id else _NoBoard()
    mconf = board.get("build.microaot", {})

    def opt(name: str, default: str = "") -> str:
        return str(lib_env.GetProjectOption(f"custom_microaot_{name}", default) or default).strip()

    problems = check_options(env_options(lib_env, global_env))
    if problems:
        _fail("\n".join(problems))
        global_env.Exit(1)

    model_s = opt("model")
    mode = opt("mode", "rpc").lower()
    if mode not in MODES:
        _fail(f"custom_microaot_mode = {mode!r} in platformio.ini: use one of {', '.join(MODES)}")
        global_env.Exit(1)
    model = (project_dir / model_s).resolve() if model_s else None
    if model is not None and not model.is_file():
        _fail(
            f"custom_microaot_model = {model_s}: no such file ({model}); the path is relative to {project_dir}"
        )
        global_env.Exit(1)
    if model is None and mode == "rpc":
        _fail(
            "custom_microaot_model is not set in platformio.ini; the RPC firmware needs a model "
            "(or set custom_microaot_mode = standalone to build only the runtime and the port)"
        )
        global_env.Exit(1)
    tlog_s = opt("tuning_log")
    tlog = (project_dir / tlog_s).resolve() if tlog_s else None

    tune_log = tlog
    if tlog is not None and not tlog.is_file():
        if tune_requested():
            tlog = None  # `pio run -t tune` creates it
        else:
            _fail(f"custom_microaot_tuning_log = {tlog_s}: no such file ({tlog}); run `pio run -t tune` to create it")
            global_env.Exit(1)
    add_tune_target(lib_env, global_env, root, model, tune_log)
    own_board = bool(mconf)
    frameworks = [str(f) for f in (global_env.get("PIOFRAMEWORK") or [])]
    if own_board:
        port = opt("port") or str(mconf.get("port", ""))
        target = opt("target") or str(mconf.get("target", "generic"))
        if not port or not (crt / "ports" / port).is_dir():
            _fail(f"board {board_id}: build.microaot.port = {port!r} is not a folder of {crt / 'ports'}")
            global_env.Exit(1)
    else:
        try:
            choice = choose(
                board_id,
                str(global_env.PioPlatform().name),
                str(board.get("build.mcu", "")),
                str(board.get("build.cpu", "")),
                frameworks,
                port=opt("port"),
                target=opt("target"),
            )
        except MicroaotError as exc:
            _fail(str(exc))
            global_env.Exit(1)
            return None
        port, target = choice.port, choice.target
    opts = BuildOptions(
        model=model,
        name=opt("name") or None,
        section=opt("section", ".rodata.microaot"),
        mode=mode,
        tuning_log=tlog,
        target=target,
        port=port,
        board=board_id,
        werror=parse_bool(opt("werror", "yes")),
        custom_ops=parse_custom_ops(opt("custom_ops")),
        flash_size=_int(board.get("upload.maximum_size", 0)),
    )
    gen_dir = Path(global_env.subst("$BUILD_DIR")) / GEN_SUBDIR
    try:
        if model is not None:
            from microaot.passes.support import check_compilable

            # every problem at once, before any source is compiled
            check_compilable(model, opts.target, opts.custom_ops)
        info = generate(opts, gen_dir, crt)
    except MicroaotError as exc:
        # compiler errors start with the model path: name it once
        _fail(str(exc) if str(model) in str(exc) else f"{model}: {exc}")
        global_env.Exit(1)
        return None
    except ImportError as exc:
        _fail(f"the microaot Python package is incomplete ({exc}); run scripts/bootstrap.sh")
        global_env.Exit(1)
        return None
    except Exception as exc:  # a compiler bug: still stop the build with a readable message
        import traceback

        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
        _fail(
            f"{model}: internal error of the microaot compiler ({type(exc).__name__}: {exc}); "
            f"please report it with the model.\n{tb}"
        )
        global_env.Exit(1)
        return None
    f_cpu = _int(board.get("build.f_cpu", "0"))
    info.settings = {
        "f_cpu": str(board.get("build.f_cpu", "0")),
        "cache": mconf.get("cache", 0),
        "flash_wait_states": mconf.get("flash_wait_states", 0),
        "icount_shift": mconf.get("icount_shift", -1),
    }
    if not own_board:
        info.settings.update(_std_settings(port, f_cpu, frameworks))
    info.dump(gen_dir / BUILD_INFO)
    if model is not None:
        print(
            f"microaot: {Path(model).name} -> {gen_dir} (name {info.name}, workspace {info.workspace_size} B, "
            f"weights {info.weight_bytes} B, mode {info.mode})"
        )

    startup = own_board or not frameworks
    lib_env.Replace(SRC_FILTER=src_filter(info, crt, own_board=own_board, startup=startup))
    if not own_board:
        _configure_std(lib_env, global_env, info, crt, frameworks, f_cpu, board, gen_dir)
    lib_env.Append(CPPPATH=[str(gen_dir)])
    _cache_runtime_objects(lib_env, crt)
    if info.mode == "rpc" and info.num_ops > RPC_DEFAULT_MAX_OPS and "UAOT_RPC_MAX_OPS" not in str(
            global_env.get("CPPDEFINES", "")) + str(lib_env.get("CPPDEFINES", "")):
        # the RPC server's per-operator tables (PROFILE, OPCHECK: 12 B of RAM per operator) must hold every
        # operator, or eval could neither profile the model nor check its tensors
        lib_env.Append(CPPDEFINES=[("UAOT_RPC_MAX_OPS", info.num_ops)])
    global_env.AppendUnique(CPPPATH=[str(gen_dir), str(crt / "include")])
    if opts.werror:
        lib_env.Append(CCFLAGS=["-Werror"])
    if info.sources:
        lib_env.BuildSources(
            str(Path(global_env.subst("$BUILD_DIR")) / "microaot_obj"),
            str(gen_dir),
            ["-<*>"] + [f"+<{s}>" for s in info.sources],
        )
    if str(mconf.get("toolchain", "")) == "host" and info.name:
        # the host's default linker script folds .rodata.* into .rodata: keep the weights apart
        global_env.Append(LINKFLAGS=[f"-Wl,--unique={opts.section}"])
    _add_budget_check(global_env, info, board)
    ldscript = mconf.get("ldscript")
    if ldscript and not global_env.get("LDSCRIPT_PATH"):
        global_env.Replace(LDSCRIPT_PATH=str(crt / "ports" / port / str(ldscript)))
    return info


def _cache_runtime_objects(lib_env: Any, crt: Path) -> None:
    """Compile the runtime's C files through the object cache (``python -m microaot.toolchain``, a compiler
    launcher): a project's second environment, a tuning run's candidate firmwares and every other project on
    the machine reuse the objects of the inline-assembly kernels instead of recompiling them. The generated
    model is compiled as before; ``MICROAOT_CACHE_DIR=off`` turns the cache off."""
    cc = lib_env.subst("$CC")
    if not cc or " " in cc or " " in sys.executable or " " in str(crt):
        return
    env = dict(lib_env["ENV"])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH"))
                                        if p)
    for var in ("MICROAOT_CACHE_DIR", "XDG_CACHE_HOME", "HOME"):
        if var in os.environ and var not in env:
            env[var] = os.environ[var]
    lib_env.Replace(CC=[sys.executable, "-m", "microaot.toolchain", "--root", str(crt), cc], ENV=env)


def _int(value: object) -> int:
    try:
        return int(str(value).strip().rstrip("Ll") or "0", 0)
    except ValueError:
        return 0


def _std_settings(port: str, f_cpu: int, frameworks: list[str]) -> dict[str, Any]:
    """SoC defines of a standard board (microaot's own boards take them from their JSON)."""
    if port == "stm32":

        return {"cache": 1, "flash_wait_states": stm32f4_flash_wait_states(f_cpu), "icount_shift": -1}
    return {}


def _configure_std(
    lib_env: Any, global_env: Any, info: BuildInfo, crt: Path, frameworks: list[str], f_cpu: int, board: Any,
    gen_dir: Path,
) -> None:
    """Flags of a standard platform: -O2 for the library, libm, the SoC defines; without a framework
    on a port with a startup, also a linker script sized from the board manifest."""
    s = info.settings
    defines: list[Any] = [
        ("UAOT_F_CPU", f"{f_cpu}UL"),
        ("UAOT_FLASH_SIZE", f"{_int(board.get('upload.maximum_size', 0))}UL"),
        ("UAOT_RAM_SIZE", f"{_int(board.get('upload.maximum_ram_size', 0))}UL"),
        ("UAOT_CACHE_ENABLE", int(s.get("cache", 0))),
        ("UAOT_FLASH_WAIT_STATES", int(s.get("flash_wait_states", 0))),
        ("UAOT_ICOUNT_SHIFT", int(s.get("icount_shift", -1))),
        ("UAOT_BOARD_NAME", '\\"{}\\"'.format(global_env.subst("$BOARD") or global_env.subst("$PIOENV"))),
    ]
    if info.port == "host":
        defines.append("UAOT_HOST")
    lib_env.Append(CPPDEFINES=defines, CCFLAGS=["-O2", "-Wall", "-Wextra"], CFLAGS=["-std=c99"])
    global_env.Append(CPPDEFINES=[d for d in defines if isinstance(d, tuple) and d[0] == "UAOT_F_CPU"])
    global_env.AppendUnique(LIBS=["m"])
    if info.port == "host":
        global_env.AppendUnique(LIBS=["pthread"])
        if info.name:
            global_env.Append(LINKFLAGS=[f"-Wl,--unique={info.section}"])
        return
    if frameworks or not (crt / "ports" / info.port / STARTUP_SOURCE).is_file():
        return
    # no framework: the port's startup runs main(); newlib's stubs (nosys) and a linker script
    global_env.Append(LINKFLAGS=["--specs=nano.specs", "--specs=nosys.specs"])
    if not global_env.get("LDSCRIPT_PATH"):
        ld = _sized_ldscript(crt / "ports" / info.port, board, gen_dir)
        if ld is not None:
            global_env.Replace(LDSCRIPT_PATH=str(ld))
            # the port's script keeps the weights in their own section: PlatformIO's size line counts it
            global_env.Replace(
                SIZEPROGREGEXP=r"^(?:\.isr_vector|\.text|\.rodata\S*|\.data|\.ARM\.exidx|\.ARM\.extab)\s+(\d+).*",
                SIZEDATAREGEXP=r"^(?:\.data|\.bss)\s+(\d+).*",
            )


def _sized_ldscript(port_dir: Path, board: Any, gen_dir: Path) -> Path | None:
    """The port's linker script with FLASH / RAM lengths from the board manifest."""
    import re

    templates = sorted(port_dir.glob("*.ld"))
    if not templates:
        return None
    text = templates[0].read_text(encoding="utf8")
    flash = _int(board.get("upload.maximum_size", 0))
    ram = _int(board.get("upload.maximum_ram_size", 0))
    if flash:
        text = re.sub(r"(FLASH\s*\([^)]*\)\s*:\s*ORIGIN\s*=\s*\S+,\s*LENGTH\s*=\s*)\S+", rf"\g<1>{flash}", text)
    if ram:
        text = re.sub(r"(RAM\s*\([^)]*\)\s*:\s*ORIGIN\s*=\s*\S+,\s*LENGTH\s*=\s*)\S+", rf"\g<1>{ram}", text)
    out = gen_dir / "microaot_port.ld"
    if not out.is_file() or out.read_text(encoding="utf8") != text:
        out.write_text(text, encoding="utf8")
    return out



def budget_problems(elf: Path, info: BuildInfo, max_flash: int, max_ram: int) -> list[str]:
    """What of the linked firmware exceeds the board's flash or RAM, with the model's share."""
    mem = memory_from_elf(elf, info)
    out = []
    if max_flash and mem.flash > max_flash:
        out.append(
            f"flash {mem.flash} B is above the board's {max_flash} B; the model's share: weights {mem.weights} B "
            f"({100.0 * mem.weights / mem.flash:.0f}%)"
        )
    if max_ram and mem.static_ram > max_ram:
        out.append(
            f"RAM {mem.static_ram} B (.data + .bss) is above the board's {max_ram} B; the model's share: workspace "
            f"{mem.workspace} B ({100.0 * mem.workspace / max(mem.static_ram, 1):.0f}%)"
        )
    return out


def _add_budget_check(global_env: Any, info: BuildInfo, board: Any) -> None:
    """After linking: fail `pio run` when flash or RAM exceed the board's maximum, naming the model's share."""
    max_flash = _int(board.get("upload.maximum_size", 0))
    max_ram = _int(board.get("upload.maximum_ram_size", 0))
    if not info.name or not (max_flash or max_ram):
        return
    board_id = global_env.subst("$BOARD")

    def check(target: Any, source: Any, env: Any) -> int | None:  # noqa: ARG001 - SCons action signature
        elf = Path(str(target[0]))
        try:
            problems = budget_problems(elf, info, max_flash, max_ram)
        except ImportError:  # no pyelftools in PlatformIO's Python: PlatformIO's own size check remains
            return None
        if not problems:
            return None
        _fail(
            f"{info.model}: the firmware does not fit board {board_id}: " + "; ".join(problems)
            + ". Use a board with more memory, a smaller model, or a tuning log with smaller schedules"
        )
        elf.unlink(missing_ok=True)  # or the next `pio run` would find it up to date and succeed
        return 1

    global_env.AddPostAction(global_env.subst("$BUILD_DIR/${PROGNAME}${PROGSUFFIX}"), check)
