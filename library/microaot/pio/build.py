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
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from microaot import __version__
from microaot.compiler import compile_model
from microaot.errors import MicroaotError
from microaot.pio.target import add_tune_target, tune_requested
from microaot.rpc.glue import write_rpc_glue
from microaot.tune.log import log_schedules

GEN_SUBDIR = "microaot"
BUILD_INFO = "microaot_build.json"
RPC_ONLY_SOURCES = {"rpc_server.c", "framing.c", "crc16.c"}
PORT_MAIN_SOURCES = {"main_rpc.c", "main.c"}
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

    def key_material(self) -> dict[str, Any]:
        return {
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
    sources: list[str] = field(default_factory=list)
    kernel_sources: list[str] = field(default_factory=list)
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
        h.update(opts.model.read_bytes())
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
    info = BuildInfo(
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
        sources=sorted(set(sources)),
        kernel_sources=sorted(set(kernels)),
    )
    info.dump(info_path)
    return info


def src_filter(info: BuildInfo, crt: Path) -> list[str]:
    """PlatformIO src_filter (relative to crt/) of the runtime files this build needs."""
    flt = ["-<*>"]
    for p in sorted((crt / "src").glob("*.c")):
        if info.mode != "rpc" and p.name in RPC_ONLY_SOURCES:
            continue
        flt.append(f"+<src/{p.name}>")
    for k in info.kernel_sources:
        flt.append(f"+<{k}>")
    port_dir = crt / "ports" / info.port
    for p in sorted(port_dir.glob("*.c")):
        if info.mode != "rpc" and p.name in PORT_MAIN_SOURCES:
            continue
        flt.append(f"+<ports/{info.port}/{p.name}>")
    return flt


def _fail(msg: str) -> None:
    sys.stderr.write(f"\nmicroaot: error: {msg}\n\n")
    sys.stderr.flush()


def configure(lib_env: Any, global_env: Any, lib_root: str) -> BuildInfo | None:
    """SCons side: read the options, generate, wire sources, include paths and the linker script."""
    root = Path(lib_root)
    crt = root / "crt"
    project_dir = Path(global_env.subst("$PROJECT_DIR"))
    board_id = global_env.subst("$BOARD")
    board = global_env.BoardConfig()
    mconf = board.get("build.microaot", {})

    def opt(name: str, default: str = "") -> str:
        return str(lib_env.GetProjectOption(f"custom_microaot_{name}", default) or default).strip()

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
    port = str(mconf.get("port", ""))
    if not port or not (crt / "ports" / port).is_dir():
        _fail(f"board {board_id}: build.microaot.port = {port!r} is not a folder of {crt / 'ports'}")
        global_env.Exit(1)
    opts = BuildOptions(
        model=model,
        name=opt("name") or None,
        section=opt("section", ".rodata.microaot"),
        mode=mode,
        tuning_log=tlog,
        target=str(mconf.get("target", "generic")),
        port=port,
        board=board_id,
        werror=opt("werror", "yes").lower() in ("1", "yes", "true", "on"),
    )
    gen_dir = Path(global_env.subst("$BUILD_DIR")) / GEN_SUBDIR
    try:
        if model is not None:
            from microaot.passes.support import check_compilable

            check_compilable(model, opts.target)  # every problem at once, before any source is compiled
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
    info.settings = {
        "f_cpu": str(board.get("build.f_cpu", "0")),
        "cache": mconf.get("cache", 0),
        "flash_wait_states": mconf.get("flash_wait_states", 0),
        "icount_shift": mconf.get("icount_shift", -1),
    }
    info.dump(gen_dir / BUILD_INFO)
    if model is not None:
        print(
            f"microaot: {Path(model).name} -> {gen_dir} (name {info.name}, workspace {info.workspace_size} B, "
            f"weights {info.weight_bytes} B, mode {info.mode})"
        )

    lib_env.Replace(SRC_FILTER=src_filter(info, crt))
    lib_env.Append(CPPPATH=[str(gen_dir)])
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
    ldscript = mconf.get("ldscript")
    if ldscript and not global_env.get("LDSCRIPT_PATH"):
        global_env.Replace(LDSCRIPT_PATH=str(crt / "ports" / port / str(ldscript)))
    return info
