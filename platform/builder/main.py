"""microaot dev-platform build script (SCons, run by PlatformIO).

Toolchains come from the system, not from PlatformIO's registry:
  - board "host": the native gcc; the program runs as a host process (RPC over stdio)
  - ARM boards: Debian's arm-none-eabi-gcc + newlib (nano specs, no startup files: the port brings
    its own vector table and reset handler, see crt/ports/<port>/)

SoC settings of the board JSON (``build.f_cpu`` and ``build.microaot.*``, overridable in
platformio.ini as ``board_build.f_cpu = ...`` / ``board_build.microaot.cache = 0``) reach the C
build as defines: UAOT_F_CPU, UAOT_CACHE_ENABLE, UAOT_FLASH_WAIT_STATES, UAOT_ICOUNT_SHIFT,
UAOT_FLASH_SIZE, UAOT_RAM_SIZE, UAOT_BOARD_NAME, UAOT_BOARD_<ID>.

``pio run -t upload`` starts the firmware: QEMU (under a timeout, serial on stdio or on
``upload_port = tcp:PORT``), the host program, or, on real boards, the flash tool of the board
(``upload_command`` from the board JSON; override with ``upload_command`` in platformio.ini).
"""

import os
import shlex
import sys

from SCons.Script import (  # type: ignore[import-not-found]
    COMMAND_LINE_TARGETS,
    AlwaysBuild,
    Builder,
    Default,
    DefaultEnvironment,
)

env = DefaultEnvironment()
board = env.BoardConfig()
board_id = env.subst("$BOARD")
mconf = board.get("build.microaot", {})
toolchain = mconf.get("toolchain", "arm")


def _int_setting(name, default):
    value = mconf.get(name, default)
    try:
        return int(str(value).rstrip("Ll"), 0)
    except ValueError:
        sys.stderr.write(
            f"Error: board {board_id}: build.microaot.{name} = {value!r} is not an integer (platformio.ini "
            f"board_build.microaot.{name})\n"
        )
        env.Exit(1)
        return default


f_cpu = int(str(board.get("build.f_cpu", "0")).rstrip("Ll") or 0)
env.Append(
    CPPDEFINES=[
        ("UAOT_F_CPU", f"{f_cpu}UL"),
        ("F_CPU", f"{f_cpu}UL"),
        ("UAOT_CACHE_ENABLE", _int_setting("cache", 0)),
        ("UAOT_FLASH_WAIT_STATES", _int_setting("flash_wait_states", 0)),
        ("UAOT_ICOUNT_SHIFT", _int_setting("icount_shift", -1)),
        ("UAOT_FLASH_SIZE", f"{int(board.get('upload.maximum_size', 0))}UL"),
        ("UAOT_RAM_SIZE", f"{int(board.get('upload.maximum_ram_size', 0))}UL"),
        ("UAOT_BOARD_NAME", f'\\"{board_id}\\"'),
        f"UAOT_BOARD_{board_id.upper()}",
    ]
)

if env.get("PROGNAME", "program") == "program":
    env.Replace(PROGNAME="firmware")

common_ccflags = ["-O2", "-g", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections"]

if toolchain == "host":
    env.Replace(
        AR="ar",
        AS="gcc",
        CC="gcc",
        CXX="g++",
        GDB="gdb",
        OBJCOPY="objcopy",
        RANLIB="ranlib",
        SIZETOOL="size",
        PROGSUFFIX="",
    )
    env.Append(
        ASFLAGS=["-x", "assembler-with-cpp"],
        CFLAGS=["-std=c99"],
        CCFLAGS=common_ccflags,
        CPPDEFINES=["UAOT_HOST"],
        LINKFLAGS=["-Wl,--gc-sections"],
        LIBS=["m"],
    )
else:
    cpu = board.get("build.cpu")
    cpu_flags = ["-mthumb", f"-mcpu={cpu}"]
    float_abi = mconf.get("float_abi", "soft")
    cpu_flags.append(f"-mfloat-abi={float_abi}")
    if mconf.get("fpu"):
        cpu_flags.append(f"-mfpu={mconf['fpu']}")
    env.Replace(
        AR="arm-none-eabi-gcc-ar",
        AS="arm-none-eabi-gcc",
        CC="arm-none-eabi-gcc",
        CXX="arm-none-eabi-g++",
        GDB="arm-none-eabi-gdb",
        OBJCOPY="arm-none-eabi-objcopy",
        RANLIB="arm-none-eabi-gcc-ranlib",
        SIZETOOL="arm-none-eabi-size",
        PROGSUFFIX=".elf",
        SIZEPROGREGEXP=r"^(?:\.isr_vector|\.text|\.rodata\S*|\.data|\.ARM\.exidx|\.ARM\.extab)\s+(\d+).*",
        SIZEDATAREGEXP=r"^(?:\.data|\.bss|\.stack)\s+(\d+).*",
        SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
        SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
    )
    env.Append(
        ASFLAGS=cpu_flags + ["-x", "assembler-with-cpp"],
        CFLAGS=["-std=c99"],
        CCFLAGS=common_ccflags + cpu_flags,
        CXXFLAGS=["-fno-rtti", "-fno-exceptions"],
        LINKFLAGS=cpu_flags
        + [
            "-nostartfiles",
            "--specs=nano.specs",
            "--specs=nosys.specs",
            "-Wl,--gc-sections",
            "-Wl,-Map,${BUILD_DIR}/firmware.map",
        ],
        LIBS=["m", "c", "gcc"],
        BUILDERS=dict(
            ElfToBin=Builder(
                action=env.VerboseAction(
                    " ".join(["$OBJCOPY", "-O", "binary", "$SOURCES", "$TARGET"]), "Building $TARGET"
                ),
                suffix=".bin",
            )
        ),
    )

# the library (library.json's extraScript) sets LDSCRIPT_PATH to the port's linker script; a user
# may set board_build.ldscript instead.

target_elf = None
if "nobuild" in COMMAND_LINE_TARGETS:
    target_elf = os.path.join("$BUILD_DIR", "${PROGNAME}${PROGSUFFIX}")
    target_firm = target_elf
else:
    target_elf = env.BuildProgram()
    if toolchain == "host":
        target_firm = target_elf
    else:
        target_firm = env.ElfToBin(os.path.join("$BUILD_DIR", "${PROGNAME}"), target_elf)
        env.Depends(target_firm, "checkprogsize")

AlwaysBuild(env.Alias("nobuild", target_firm))
target_buildprog = env.Alias("buildprog", target_firm, target_firm)

target_size = env.Alias("size", target_elf, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE"))
AlwaysBuild(target_size)

# ---- upload = start the firmware ------------------------------------------------------------


def _launch_command(elf_path):
    launch = board.get("microaot.launch", "qemu")
    if launch == "host":
        return [elf_path]
    if launch == "qemu":
        port = env.subst("$UPLOAD_PORT") or ""
        serial = "stdio"
        if port.startswith("tcp:"):
            serial = f"tcp:127.0.0.1:{port.split(':')[-1]},server=on,wait=on"
        timeout = int(board.get("microaot.timeout", 300))
        return [
            "timeout",
            "--foreground",
            "-k",
            "5",
            str(timeout),
            "qemu-system-arm",
            "-M",
            board.get("microaot.qemu_machine"),
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            serial,
            "-semihosting",
            "-icount",
            f"shift={_int_setting('icount_shift', 3)}",
            "-kernel",
            elf_path,
        ]
    return None


def _build_mode():
    """The microaot mode of this build (rpc / standalone), from what the code-generation step recorded."""
    import json

    info = os.path.join(env.subst("$BUILD_DIR"), "microaot", "microaot_build.json")
    try:
        with open(info, encoding="utf8") as f:
            return str(json.load(f).get("mode", "rpc"))
    except (OSError, ValueError):
        return "rpc"


def _upload(target, source, env):  # noqa: ARG001 - SCons action signature
    elf = os.path.abspath(env.subst(os.path.join("$BUILD_DIR", "${PROGNAME}${PROGSUFFIX}")))
    custom = env.GetProjectOption("upload_command", "") or board.get("microaot.upload_command", "")
    cmd = _launch_command(elf)
    port = env.subst("$UPLOAD_PORT") or ""
    env_name = env.subst("$PIOENV")
    if cmd is not None and _build_mode() == "rpc":
        if not port.startswith("tcp:") or board.get("microaot.launch", "qemu") == "host":
            # RPC firmware on stdio only speaks the binary protocol: starting it on a terminal would sit
            # silent until its timeout, so say how to talk to it instead
            print(
                f"microaot: {elf} is RPC firmware for {board_id}: it answers microaot's binary protocol and "
                "prints nothing, so it is not started on this terminal.\n"
                f"  evaluate it:        microaot eval --project . --env {env_name} MODEL.tflite   (or: pio test -e "
                f"{env_name})\n"
                + ("  serve it on TCP:    pio run -t upload --upload-port tcp:5555   (QEMU listens on 127.0.0.1:5555 "
                   "until a client connects; then Session.open('socket://127.0.0.1:5555'))\n"
                   if board.get("microaot.launch", "qemu") == "qemu" else "")
                + "  standalone app:     set custom_microaot_mode = standalone (your main() calls NAME_run)"
            )
            return 0
        print(f"microaot: starting {board_id} RPC firmware; it listens on 127.0.0.1:{port.split(':')[-1]} "
              f"(connect with socket://127.0.0.1:{port.split(':')[-1]}); it runs until Ctrl-C or for at most "
              f"{int(board.get('microaot.timeout', 300))} s (the board's microaot.timeout)")
    if cmd is None:
        if not custom:
            sys.stderr.write(
                f"Error: board {board_id} has no upload command; set upload_command in platformio.ini\n"
            )
            return 1
        firmware_bin = os.path.abspath(env.subst(os.path.join("$BUILD_DIR", "${PROGNAME}.bin")))
        line = custom.replace("$SOURCE", shlex.quote(firmware_bin)).replace(
            "$UPLOAD_PORT", env.subst("$UPLOAD_PORT")
        )
        print(line)
        return os.system(line) and 1
    print(" ".join(shlex.quote(c) for c in cmd))
    sys.stdout.flush()
    import subprocess

    rc = subprocess.call(cmd)
    if rc == 124:
        sys.stderr.write("Error: firmware did not exit before the board's timeout\n")
        return 1
    if rc != 0:
        sys.stderr.write(f"Error: firmware exited with code {rc}\n")
        return 1
    return 0


AlwaysBuild(env.Alias("upload", target_firm, env.VerboseAction(_upload, f"Starting firmware on {board_id}")))

Default([target_buildprog, target_size])
