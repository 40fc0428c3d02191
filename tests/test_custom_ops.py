"""Custom operators without a microaot kernel: the error names them (inspect and compile), and a user C kernel
bound to a custom operator name (``--custom-op NAME=FUNCTION``, docs/custom-operators.md) is called by the
generated code with views of the operator's tensors and its raw custom options."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from microaot.compiler import compile_model
from microaot.errors import MicroaotError, UnsupportedModelError
from microaot.export import export_library
from microaot.hostbuild import build_model_shared_lib, run_compiled
from microaot.inspect_model import summarize
from microaot.ops.user_kernels import parse_bindings
from microaot.options import check_options
from microaot.pio.project import pio_argv, pio_environ
from microaot.testing.customgen import CIn, COut, custom_op_model

KERNEL = Path(__file__).parent / "c" / "custom_op_scale.c"
W = np.array([1, -2, 3], dtype=np.int16)
OPTIONS = bytes([7, 1, 2, 9, 4])  # raw custom options: the kernel adds their length


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("custom") / "myscale.tflite"
    p.write_bytes(custom_op_model("MyScale", [CIn((2, 3), "float32"), CIn((3,), "int16", W)],
                                  [COut((2, 3), "float32")], OPTIONS))
    return p


def test_bound_user_kernel_runs_on_host(model: Path, tmp_path: Path) -> None:
    r = compile_model(model, tmp_path / "gen", custom_ops={"MyScale": "my_scale"})
    c_src = r.sources[0].read_text()
    assert "extern uaot_status_t my_scale(const uaot_custom_op_t *op);" in c_src
    lib = build_model_shared_lib(r, tmp_path / "lib", extra_sources=[KERNEL])
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    (y,) = run_compiled(r, lib, [x])
    # float32 throughout, as the C kernel computes it (one product and one sum per element)
    want = x * W.astype(np.float32)[None, :] + np.float32(len(OPTIONS))
    assert y.dtype == np.float32 and np.array_equal(y, want)


def test_unbound_custom_op_is_named(model: Path, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError) as ei:
        compile_model(model, tmp_path / "gen")
    msg = str(ei.value)
    assert f"{model}: operator 0 (CUSTOM:MyScale): custom operator 'MyScale' has no microaot kernel" in msg
    assert "--custom-op MyScale=" in msg and "custom_microaot_custom_ops = MyScale:" in msg
    info = summarize(model)
    assert not info["compilable"]
    assert [(p["index"], p["op"]) for p in info["problems"]] == [(0, "CUSTOM:MyScale")]
    assert "has no microaot kernel" in info["problems"][0]["why"]
    assert summarize(model, custom_ops={"MyScale": "my_scale"})["compilable"]


def test_inspect_cli_exit_code_and_binding(model: Path) -> None:
    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "microaot.cli", "inspect", str(model), "--json", *extra],
                              capture_output=True, text=True, timeout=120, check=False)

    bad = run()
    assert bad.returncode == 2, bad.stderr
    assert "custom operator 'MyScale' has no microaot kernel" in bad.stdout
    good = run("--custom-op", "MyScale=my_scale")
    assert good.returncode == 0, good.stdout + good.stderr
    assert json.loads(good.stdout)["compilable"]


def test_parse_bindings() -> None:
    assert parse_bindings(["MyOp=my_op", " B = b_fn "]) == {"MyOp": "my_op", "B": "b_fn"}
    assert parse_bindings(["MyOp:my_op", "CUSTOM:X:x_fn"], sep=":") == {"MyOp": "my_op", "X": "x_fn"}
    with pytest.raises(MicroaotError, match=r"--custom-op 'MyOp=1x': expected NAME=C_FUNCTION"):
        parse_bindings(["MyOp=1x"])
    with pytest.raises(MicroaotError, match="bound twice"):
        parse_bindings(["A=f", "A=g"])


def test_export_ships_the_header_and_the_users_kernel(model: Path, tmp_path: Path) -> None:
    res = export_library(model, tmp_path / "lib", target="generic", measure=False,
                         custom_ops={"MyScale": "my_scale"}, extra_sources=[KERNEL])
    assert (res.out_dir / "include" / "microaot" / "custom_op.h").is_file()
    assert (res.out_dir / "src" / "user" / KERNEL.name).read_bytes() == KERNEL.read_bytes()
    assert f"src/user/{KERNEL.name}" in (res.out_dir / "CMakeLists.txt").read_text()
    prov = json.loads((res.out_dir / "microaot_export.json").read_text())
    assert prov["options"]["custom_ops"] == {"MyScale": "my_scale"}


@pytest.mark.pio
def test_platformio_binding_builds_the_users_src(model: Path, tmp_path: Path, repo: Path) -> None:
    """`custom_microaot_custom_ops = MyScale:my_scale` with the kernel in the project's src/: `pio run` on the
    host board links it, and the application's NAME_run gets the kernel's output."""
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    shutil.copy(model, proj / "myscale.tflite")
    shutil.copy(KERNEL, proj / "src" / "my_scale.c")
    (proj / "src" / "main.c").write_text(textwrap.dedent("""\
        #include <stdio.h>
        #include "myscale.h"
        static uint8_t ws[myscale_WORKSPACE_SIZE] __attribute__((aligned(16)));
        int main(void)
        {
            static const float x[6] = {1, 2, 3, 4, 5, 6};
            static float y[6];
            const void *in[1] = {x};
            void *out[1] = {y};
            uaot_status_t st = myscale_run(in, out, ws);
            printf("%d %g %g %g %g %g %g\\n", (int)st, y[0], y[1], y[2], y[3], y[4], y[5]);
            return (int)st;
        }
        """))
    (proj / "platformio.ini").write_text(
        f"[env:host]\nplatform = symlink://{repo / 'platform'}\nlib_deps = microaot=symlink://{repo}\nboard = host\n"
        "custom_microaot_model = myscale.tflite\ncustom_microaot_mode = standalone\n"
        "custom_microaot_custom_ops = MyScale:my_scale\n")
    r = subprocess.run(pio_argv("run", "-d", str(proj)), env=pio_environ(), capture_output=True, text=True,
                       timeout=600, check=False)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    out = subprocess.run([str(proj / ".pio" / "build" / "host" / "firmware")], capture_output=True, text=True,
                         timeout=60, check=False)
    x = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    want = x * W.astype(np.float32)[None, :] + np.float32(len(OPTIONS))
    assert out.returncode == 0 and out.stdout.split() == ["0", *(f"{v:g}" for v in want.ravel())], out


def test_platformio_option_is_checked() -> None:
    assert check_options({"custom_microaot_custom_ops": "MyOp:my_op, Other:other_fn"}) == []
    assert check_options({"custom_microaot_custom_ops": "MyOp=my_op"}) == [
        "custom_microaot_custom_ops = MyOp=my_op in platformio.ini: 'MyOp=my_op' is not NAME:C_FUNCTION (the "
        "custom operator's name, then a C identifier)"]
