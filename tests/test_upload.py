"""``pio run -t upload`` of RPC firmware (issue 19): never silent. On stdio it says what the firmware is and
how to talk to it, and returns; with ``--upload-port tcp:PORT`` QEMU serves it on that port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from microaot.pio.project import build, pio_argv, pio_environ, write_project
from microaot.testing import modelgen as mg


def _model(tmp_path: Path) -> Path:
    m = tmp_path / "fc.tflite"
    m.write_bytes(mg.fully_connected_model(np.random.default_rng(0), input_shape=(1, 8), units=3))
    return m


@pytest.mark.pio
def test_upload_of_rpc_firmware_on_stdio_says_how_to_use_it(tmp_path: Path) -> None:
    proj = write_project(tmp_path / "p", "host", model=_model(tmp_path))
    t0 = time.monotonic()
    r = subprocess.run(pio_argv("run", "-d", str(proj), "-t", "upload"), env=pio_environ(), capture_output=True,
                       text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "is RPC firmware for host: it answers microaot's binary protocol and prints nothing" in r.stdout
    assert "microaot eval --project . --env host MODEL.tflite" in r.stdout
    assert time.monotonic() - t0 < 120


@pytest.mark.pio
@pytest.mark.qemu
def test_upload_with_a_tcp_port_serves_the_rpc_firmware(tmp_path: Path) -> None:
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs qemu-system-arm and arm-none-eabi-gcc (scripts/bootstrap.sh)")
    from microaot.rpc.session import Session

    proj = write_project(tmp_path / "p", "qemu_mps2_an386", model=_model(tmp_path))
    build(proj, "qemu_mps2_an386")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    up = subprocess.Popen(pio_argv("run", "-d", str(proj), "-t", "upload", "--upload-port", f"tcp:{port}"),
                          env=pio_environ(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                sess = Session.open(f"socket://127.0.0.1:{port}", timeout=10)
                break
            except Exception:
                if time.monotonic() > deadline or up.poll() is not None:
                    raise
                time.sleep(0.5)
        with sess:
            assert sess.hello().board == "qemu_mps2_an386"
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGTERM)  # pio, timeout and QEMU: the whole group
        out, _ = up.communicate(timeout=60)
    assert f"it listens on 127.0.0.1:{port} (connect with socket://127.0.0.1:{port}); it runs until Ctrl-C" in out
