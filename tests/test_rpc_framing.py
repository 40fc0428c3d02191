"""Wire format: the Python and C framing both reproduce tests/golden/rpc_frames.json."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microaot.hostbuild import compile_c
from microaot.paths import crt_root
from microaot.rpc.framing import FrameDecoder, FrameError, crc16, encode_frame

GOLDEN = Path(__file__).parent / "golden" / "rpc_frames.json"
C_DIR = Path(__file__).parent / "c"
C_EVENT = {"OK": 1, "CRC": 2, "LENGTH": 3, "ESCAPE": 4, "TOO_LARGE": 5}


def golden() -> dict:
    return json.loads(GOLDEN.read_text())


def test_crc16_check_value() -> None:
    g = golden()["crc16_check"]
    assert crc16(bytes.fromhex(g["data"])) == g["crc"] == 0x29B1


@pytest.mark.parametrize("case", golden()["encode"], ids=lambda c: c["name"])
def test_python_encode_golden(case: dict) -> None:
    payload = bytes.fromhex(case["payload"])
    frame = bytes.fromhex(case["frame"])
    assert encode_frame(payload) == frame
    evs = FrameDecoder(max(len(payload), 1)).feed(frame)
    assert [e.payload for e in evs] == [payload]


@pytest.mark.parametrize("case", golden()["decode"], ids=lambda c: c["name"])
def test_python_decode_golden(case: dict) -> None:
    evs = FrameDecoder(case["max_payload"]).feed(bytes.fromhex(case["wire"]))
    got = [{"ok": e.payload.hex()} if e.payload is not None else {"error": e.error.name} for e in evs]
    assert got == case["events"]


def _c_bytes(name: str, data: bytes) -> str:
    body = ", ".join(f"0x{b:02x}" for b in data) or "0"
    return f"static const uint8_t {name}[{max(len(data), 1)}] = {{{body}}};\n"


def write_golden_header(path: Path) -> Path:
    """tests/golden/rpc_frames.json as C arrays for tests/c/test_framing.c."""
    g = golden()
    out = ["/* generated from tests/golden/rpc_frames.json by tests/test_rpc_framing.py */\n"]
    out.append(_c_bytes("GOLDEN_CRC_DATA", bytes.fromhex(g["crc16_check"]["data"])))
    out.append(f"#define GOLDEN_CRC_VALUE 0x{g['crc16_check']['crc']:04x}u\n")
    enc_rows = []
    for i, c in enumerate(g["encode"]):
        p, f = bytes.fromhex(c["payload"]), bytes.fromhex(c["frame"])
        out.append(_c_bytes(f"enc{i}_p", p) + _c_bytes(f"enc{i}_f", f))
        enc_rows.append(f'{{"{c["name"]}", enc{i}_p, {len(p)}u, enc{i}_f, {len(f)}u}}')
    out.append("static const golden_encode_t GOLDEN_ENCODE[] = {\n  " + ",\n  ".join(enc_rows) + "\n};\n")
    dec_rows = []
    for i, c in enumerate(g["decode"]):
        wire = bytes.fromhex(c["wire"])
        out.append(_c_bytes(f"dec{i}_w", wire))
        ev_rows = []
        for j, e in enumerate(c["events"]):
            if "ok" in e:
                p = bytes.fromhex(e["ok"])
                out.append(_c_bytes(f"dec{i}_e{j}", p))
                ev_rows.append(f"{{{C_EVENT['OK']}, dec{i}_e{j}, {len(p)}u}}")
            else:
                ev_rows.append(f"{{{C_EVENT[e['error']]}, 0, 0u}}")
        rows = ", ".join(ev_rows) or "{0, 0, 0u}"
        out.append(f"static const golden_event_t dec{i}_ev[] = {{{rows}}};\n")
        dec_rows.append(
            f'{{"{c["name"]}", {c["max_payload"]}u, dec{i}_w, {len(wire)}u, dec{i}_ev, {len(c["events"])}u}}'
        )
    out.append("static const golden_decode_t GOLDEN_DECODE[] = {\n  " + ",\n  ".join(dec_rows) + "\n};\n")
    path.write_text("".join(out))
    return path


@pytest.mark.parametrize("sanitize", [False, True], ids=["O2", "asan_ubsan"])
def test_c_framing_golden(tmp_path: Path, sanitize: bool) -> None:
    write_golden_header(tmp_path / "golden_frames.h")
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"] if sanitize else []
    exe = compile_c(
        [C_DIR / "test_framing.c", crt_root() / "src" / "framing.c", crt_root() / "src" / "crc16.c"],
        tmp_path / "test_framing",
        include_dirs=[tmp_path],
        kind="exe",
        extra_cflags=flags,
    )
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "cases ok" in proc.stdout


def test_frame_error_kinds_match_c_enum() -> None:
    text = (crt_root() / "include" / "microaot" / "framing.h").read_text()
    for e in FrameError:
        assert f"UAOT_FRAME_ERR_{e.name} = {e.value}" in text


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.binary(max_size=40))
def test_python_roundtrip_after_garbage(payload: bytes, garbage: bytes) -> None:
    evs = FrameDecoder(600).feed(garbage + encode_frame(payload))
    assert evs and evs[-1].payload == payload
    assert all(e.payload is None for e in evs[:-1])
