"""RPC server + Session on the host board, with a hand-written two-op model (tests/c/rpc_fake_model.c).

Every documented error is provoked and the session must keep working afterwards. The fault tests
also run against a build with AddressSanitizer + UBSan, so an out-of-bounds access in the server
fails the test instead of passing silently.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from microaot.errors import RpcError
from microaot.rpc import protocol as P
from microaot.rpc.framing import encode_frame
from microaot.rpc.hostboard import build_host_board, start_host_board
from microaot.rpc.session import DeviceResetError, RpcCommandError, RpcTimeoutError, Session
from microaot.rpc.transport import RpcLinkError, SubprocessTransport, open_transport

C_DIR = Path(__file__).parent / "c"
FAKE = SimpleNamespace(
    name="fake", header=C_DIR / "rpc_fake_model.h", sources=[C_DIR / "rpc_fake_model.c"], kernel_sources=[],
    workspace_size=32, graph=None,
)
SAN_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]


@pytest.fixture(scope="module")
def boards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("fakeboard")
    return {
        "plain": build_host_board(FAKE, d / "plain"),
        "asan": build_host_board(FAKE, d / "asan", extra_cflags=SAN_FLAGS),
    }


@pytest.fixture(params=["plain", "asan"])
def session(request: pytest.FixtureRequest, boards: dict[str, Path]) -> Iterator[Session]:
    s = start_host_board(FAKE, "", exe=boards[request.param], timeout=5.0)
    yield s
    s.close()
    proc = s.transport.proc  # type: ignore[attr-defined]
    assert proc.returncode == 0, f"board exited with {proc.returncode}: {bytes(s.transport._stderr)!r}"  # type: ignore[attr-defined]


@pytest.fixture
def plain(boards: dict[str, Path]) -> Iterator[Session]:
    s = start_host_board(FAKE, "", exe=boards["plain"], timeout=5.0)
    yield s
    s.close()


def x_bytes(seed: int = 0) -> np.ndarray:
    return ((np.arange(1000) * 7 + seed) % 256 - 128).astype(np.int8).reshape(1, 1000)


def expected0(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.int16) + 1).astype(np.uint8).view(np.int8)


def roundtrip(s: Session, seed: int = 0) -> None:
    x = x_bytes(seed)
    f = np.array([1.5, -2.0, 1e3 + seed], np.float32)
    outs, timing = s.invoke([x, f])
    np.testing.assert_array_equal(outs[0], expected0(x))
    np.testing.assert_array_equal(outs[1], 2 * f)
    assert timing.n == 1 and timing.total > 0


# ---------------------------------------------------------------------------- normal operation

def test_hello_describes_board_and_model(plain: Session) -> None:
    info = plain.info
    assert info is not None
    assert info.protocol_version == P.PROTOCOL_VERSION
    assert (info.board, info.model_name, info.model_hash) == ("host", "fake", "0123456789abcdef")
    assert info.timer_unit == "ns" and info.max_payload == 512 and info.workspace_size == 32
    assert info.model_ok and info.has_stack and info.has_profile
    assert info.op_names == ("ADD_ONE", "COPY_SCALE")
    i0, i1 = info.inputs
    assert ((i0.name, i0.dtype, i0.shape, i0.nbytes, i0.scale, i0.zero_point)
            == ("in_bytes", "int8", (1, 1000), 1000, 0.5, -3))
    assert (i1.name, i1.dtype, i1.shape, i1.nbytes) == ("in_floats", "float32", (3,), 12)
    assert [o.name for o in info.outputs] == ["out_bytes", "out_floats"]
    assert info.nonce != 0


def test_roundtrip_chunked(session: Session) -> None:
    roundtrip(session)
    roundtrip(session, seed=3)


def test_run_timing_scales_with_n(plain: Session) -> None:
    plain.invoke([x_bytes(), np.zeros(3, np.float32)])
    t1 = plain.run(1)
    t200 = plain.run(200)
    for t in (t1, t200):
        assert t.unit == "ns" and 0 < t.min <= t.mean <= t.max
    assert t200.n == 200
    # at most (512 - 8 - 36) / 4 per-run values fit in one reply; the summary covers all runs
    assert len(t1.per_run) == 1 and len(t200.per_run) == 117
    assert t1.per_run[0] == t1.total
    assert min(t200.per_run) >= t200.min and max(t200.per_run) <= t200.max
    assert t200.total >= 200 * t200.min
    assert t200.total > t1.min * 20
    assert t200.seconds(t200.mean) == pytest.approx(t200.mean * 1e-9)


def test_profile_one_entry_per_op(plain: Session) -> None:
    prof = plain.profile(runs=10)
    assert len(prof) == 2 and prof.runs == 10 and prof.unit == "ns"
    assert [(p.index, p.name) for p in prof] == [(0, "ADD_ONE"), (1, "COPY_SCALE")]
    assert all(p.total > 0 for p in prof)
    assert prof.total >= sum(p.total for p in prof)
    assert prof[0].per_run == pytest.approx(prof[0].total / 10)


def test_opcheck_hashes_every_op_output(session: Session) -> None:
    """OPCHECK: one run, then per operator the FNV-1a 32 of the outputs the op_output hook saw."""
    assert session.hello().has_opcheck
    x, f = x_bytes(3), np.array([0.25, -1.0, 7.0], np.float32)
    session.write_input(0, x)
    session.write_input(1, f)
    runs = session.stats().runs_total
    hashes = session.op_hashes()
    assert hashes == [P.fnv1a32(expected0(x).tobytes()), P.fnv1a32((2 * f).tobytes())]
    assert session.stats().runs_total == runs + 1
    # run = 0 only reads the table (paging from first_op); another input, other hashes
    d = session.request(P.Cmd.OPCHECK, P.OPCHECK_ARGS.pack(0, 0, 1)).data
    assert P.OPCHECK_FIXED.unpack_from(d) == (2, 1, 1, 0) and struct.unpack_from("<I", d, 8)[0] == hashes[1]
    session.write_input(0, x_bytes(4))
    assert session.op_hashes()[0] == P.fnv1a32(expected0(x_bytes(4)).tobytes()) != hashes[0]


def test_stats(plain: Session) -> None:
    plain.run(2)
    st = plain.stats()
    assert st.workspace_size == 32 and st.workspace_buffer == 32
    assert st.io_bytes == 2 * (1000 + 12)
    assert st.stack_size is not None and st.stack_size > 100_000
    assert st.stack_high_water is not None and 0 < st.stack_high_water < st.stack_size
    assert st.model_stack is not None and 0 < st.model_stack <= st.stack_high_water
    assert st.static_ram is not None and st.static_ram >= st.io_bytes + st.rpc_bytes
    assert st.runs_total == 2 and st.frames_bad == 0


def test_reset_clears_buffers(plain: Session) -> None:
    roundtrip(plain)
    plain.reset()
    assert not plain.read_output(0).any()
    st = plain.stats()
    assert st.runs_total == 0
    roundtrip(plain)


# ---------------------------------------------------------------------------- faults

def expect_error(s: Session, cmd: int, args: bytes, status: P.Status, detail: int | None = None) -> None:
    r = s.request(cmd, args, check=False)
    assert r.status == status, f"{P.status_name(r.status)} != {status.name}"
    if detail is not None:
        assert r.detail == detail


def frame_error(s: Session, raw: bytes, status: P.Status) -> int:
    replies = s.send_raw(raw, expect=1)
    assert replies, "no reply to a bad frame"
    r = replies[0]
    assert r.cmd == 0xFF and r.seq == 0 and r.status == status, (hex(r.cmd), P.status_name(r.status))
    return r.detail


def req(s: Session, cmd: int, args: bytes = b"", seq: int = 999) -> bytes:
    return P.HEADER.pack(cmd, 0, seq, s.info.nonce if s.info else 0) + args


def test_corrupted_frames_get_frame_errors(session: Session) -> None:
    s = session
    roundtrip(s)
    good = encode_frame(req(s, P.Cmd.STATS))

    def flip(frame: bytes, positions: range) -> bytes:
        """One bit flipped where neither the byte nor the result is framing (flag, escape, or an escaped
        byte: the nonce, hence the frame, is random per boot)."""
        special = {0x7E, 0x7D, 0x5E, 0x5D}
        for i in positions:
            for bit in (0x04, 0x01, 0x10):
                if frame[i] not in special and frame[i] ^ bit not in special and frame[i - 1] != 0x7D:
                    return frame[:i] + bytes([frame[i] ^ bit]) + frame[i + 1:]
        raise AssertionError(f"no byte to flip in {frame.hex()}")

    frame_error(s, flip(good, range(len(good) - 3, len(good) - 6, -1)), P.Status.ERR_FRAME_CRC)  # CRC end
    frame_error(s, flip(good, range(5, len(good) - 3)), P.Status.ERR_FRAME_CRC)  # in the body
    frame_error(s, good[:6] + good[-1:], P.Status.ERR_FRAME_LENGTH)  # truncated
    frame_error(s, b"\x7e\x01\x7e", P.Status.ERR_FRAME_LENGTH)  # shorter than length + CRC
    frame_error(s, b"\x7e\x7d\x00\x00\x00\x00\x7e", P.Status.ERR_FRAME_ESCAPE)
    assert frame_error(s, encode_frame(req(s, P.Cmd.WRITE_INPUT, bytes(600))), P.Status.ERR_FRAME_TOO_LARGE) == 512
    frame_error(s, b"\x7e\xff\xff" + bytes(100_000) + b"\x7e", P.Status.ERR_FRAME_TOO_LARGE)
    # garbage without any flag, then a request in the same write: one FRAME notice, then the reply
    before = s.device_frame_errors
    s.transport.write(b"\x13\x37" * 50)
    roundtrip(s)
    assert s.device_frame_errors == before + 1
    st = s.stats()
    assert st.frames_bad == 8
    roundtrip(s, seed=5)


def test_bad_requests_get_documented_errors(session: Session) -> None:
    s = session
    x = x_bytes(9)
    s.write_input(0, x)
    s.write_input(1, np.ones(3, np.float32))
    C, S = P.Cmd, P.Status
    expect_error(s, 0x42, b"", S.ERR_UNKNOWN_COMMAND, 0x42)
    expect_error(s, 0x00, b"", S.ERR_UNKNOWN_COMMAND)
    expect_error(s, 0x85, b"", S.ERR_UNKNOWN_COMMAND)
    expect_error(s, 0x0A, b"", S.ERR_UNKNOWN_COMMAND, 0x0A)
    # header shorter than 8 bytes
    r = s.send_raw(encode_frame(b"\x07\x00\x01"))[0]
    assert r.status == S.ERR_BAD_REQUEST and r.cmd == 0x87
    expect_error(s, C.RUN, b"\x01\x00\x00", S.ERR_BAD_REQUEST, 4)
    expect_error(s, C.STATS, b"\x00", S.ERR_BAD_REQUEST)
    expect_error(s, C.READ_OUTPUT, b"\x00" * 11, S.ERR_BAD_REQUEST, 12)
    expect_error(s, C.WRITE_INPUT, b"\x00" * 7, S.ERR_BAD_REQUEST, 8)
    expect_error(s, C.PROFILE, b"\x00" * 7, S.ERR_BAD_REQUEST, 8)
    expect_error(s, C.INFO, b"\x00" * 3, S.ERR_BAD_REQUEST, 4)
    expect_error(s, C.HELLO, b"\x01", S.ERR_BAD_REQUEST, 2)
    # tensor / op indices
    for idx in (2, 0xFFFF):
        expect_error(s, C.WRITE_INPUT, P.WRITE_INPUT_ARGS.pack(idx, 0, 0) + b"\x01", S.ERR_INDEX, 2)
        expect_error(s, C.READ_OUTPUT, P.READ_OUTPUT_ARGS.pack(idx, 0, 0, 1), S.ERR_INDEX, 2)
        expect_error(s, C.INFO, P.INFO_ARGS.pack(0, 0, idx), S.ERR_INDEX, 2)
        expect_error(s, C.INFO, P.INFO_ARGS.pack(1, 0, idx), S.ERR_INDEX, 2)
        expect_error(s, C.INFO, P.INFO_ARGS.pack(2, 0, idx), S.ERR_INDEX, 2)
    expect_error(s, C.INFO, P.INFO_ARGS.pack(7, 0, 0), S.ERR_ARG)
    # offsets and lengths
    for off, n in ((999, 2), (1000, 1), (1001, 0), (0xFFFFFFFF, 1), (0xFFFFFFF0, 32)):
        expect_error(s, C.WRITE_INPUT, P.WRITE_INPUT_ARGS.pack(0, 0, off) + bytes(n), S.ERR_RANGE, 1000)
        expect_error(s, C.READ_OUTPUT, P.READ_OUTPUT_ARGS.pack(0, 0, off, n), S.ERR_RANGE, 1000)
    expect_error(s, C.WRITE_INPUT, P.WRITE_INPUT_ARGS.pack(1, 0, 8) + bytes(5), S.ERR_RANGE, 12)
    expect_error(s, C.READ_OUTPUT, P.READ_OUTPUT_ARGS.pack(0, 0, 0, 505), S.ERR_ARG, 504)
    expect_error(s, C.READ_OUTPUT, P.READ_OUTPUT_ARGS.pack(0, 0, 0, 0xFFFFFFFF), S.ERR_ARG, 504)
    s.request(C.WRITE_INPUT, P.WRITE_INPUT_ARGS.pack(0, 0, 1000))  # empty write at the end is fine
    # run counts
    expect_error(s, C.RUN, P.RUN_ARGS.pack(0), S.ERR_ARG, 1_000_000)
    expect_error(s, C.RUN, P.RUN_ARGS.pack(1_000_001), S.ERR_ARG, 1_000_000)
    expect_error(s, C.PROFILE, P.PROFILE_ARGS.pack(1_000_001, 0, 0), S.ERR_ARG)
    expect_error(s, C.PROFILE, P.PROFILE_ARGS.pack(0, 3, 0), S.ERR_INDEX, 2)
    expect_error(s, C.OPCHECK, b"\x01\x00\x00", S.ERR_BAD_REQUEST, 4)
    expect_error(s, C.OPCHECK, P.OPCHECK_ARGS.pack(1, 0, 3), S.ERR_INDEX, 2)
    # protocol version
    expect_error(s, C.HELLO, bytes([2, 9]), S.ERR_VERSION, 0x0101)
    expect_error(s, C.HELLO, bytes([1, 0]), S.ERR_VERSION, 0x0101)
    # nothing above touched the inputs: the result is still the one for x
    s.run(1)
    np.testing.assert_array_equal(s.read_output(0), expected0(x))
    assert s.stats().requests_failed >= 40


def test_error_messages_name_command_status_and_fix(plain: Session) -> None:
    with pytest.raises(RpcCommandError) as e:
        plain.request(P.Cmd.READ_OUTPUT, P.READ_OUTPUT_ARGS.pack(5, 0, 0, 1))
    msg = str(e.value)
    assert "READ_OUTPUT" in msg and "ERR_INDEX" in msg and "detail 2" in msg and "index out of range" in msg
    assert e.value.status == P.Status.ERR_INDEX and e.value.status_name == "ERR_INDEX"
    with pytest.raises(RpcCommandError, match="ERR_UNKNOWN_COMMAND.*rebuild the firmware"):
        plain.request(0x55)
    with pytest.raises(RpcError, match="int8.*got float32"):
        plain.write_input(0, np.zeros(1000, np.float32))
    with pytest.raises(RpcError, match="max payload 512"):
        plain.write_input_bytes(0, 0, bytes(600))
    roundtrip(plain)


def test_model_error_is_reported(session: Session) -> None:
    x = x_bytes()
    x[0, :2] = -128  # the fake model refuses inputs starting with 0x80 0x80
    session.write_input(0, x)
    with pytest.raises(RpcCommandError, match="RUN failed.*ERR_MODEL \\(detail 4\\)"):
        session.run(3)
    with pytest.raises(RpcCommandError, match="ERR_MODEL"):
        session.profile()
    roundtrip(session)


def test_stale_nonce_is_a_device_reset(session: Session) -> None:
    assert session.info is not None
    roundtrip(session)
    session._nonce = session.info.nonce ^ 0x5A5A  # as if the device had rebooted since hello()
    with pytest.raises(DeviceResetError, match="was reset.*call hello"):
        session.run(1)
    session.hello()
    roundtrip(session)


def test_reply_nonce_change_is_detected(boards: dict[str, Path]) -> None:
    """Two boots of the board: a session that learned boot 1's nonce talks to boot 2."""
    with start_host_board(FAKE, "", exe=boards["plain"]) as s1:
        nonce1 = s1.info.nonce if s1.info else 0
    with start_host_board(FAKE, "", exe=boards["plain"]) as s2:
        assert s2.info is not None and s2.info.nonce != nonce1
        s2._nonce = nonce1
        with pytest.raises(DeviceResetError):
            s2.stats()


def test_timeout_and_dead_link_are_clear(tmp_path: Path) -> None:
    silent = Session(SubprocessTransport(["sleep", "30"]), timeout=0.3, retries=1)
    with pytest.raises(RpcTimeoutError, match=r"HELLO: no reply .* within 0.3 s after 2 attempt"):
        silent.hello()
    assert silent.resends == 1
    silent.transport.proc.kill()  # type: ignore[attr-defined]
    silent.close()
    dead = Session(SubprocessTransport(["sh", "-c", "echo oops >&2; exit 3"]), timeout=2.0)
    with pytest.raises(RpcLinkError, match="(?s)exit code 3.*oops"):
        dead.hello()
    dead.close()


def test_traffic_log(boards: dict[str, Path], tmp_path: Path) -> None:
    log = tmp_path / "rpc.log"
    s = start_host_board(FAKE, "", exe=boards["plain"], log=log)
    s.run(1)
    s.close()
    text = log.read_text()
    assert "> 0000: 7e" in text and "< 0000: 7e" in text


def test_socket_transport(boards: dict[str, Path]) -> None:
    """socket://host:port (how QEMU's serial is reached): the board's stdin/stdout is the TCP socket."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    procs: list[subprocess.Popen[bytes]] = []

    def serve() -> None:
        conn, _ = srv.accept()
        procs.append(subprocess.Popen([str(boards["plain"])], stdin=conn, stdout=conn))
        conn.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    s = Session(open_transport(f"socket://127.0.0.1:{port}"), timeout=5.0)
    info = s.hello()
    th.join(5)
    assert info.model_name == "fake"
    roundtrip(s)
    s.close()
    procs[0].wait(timeout=5)
    srv.close()


def test_max_payload_is_a_build_option(tmp_path: Path) -> None:
    exe = build_host_board(FAKE, tmp_path, defines={"UAOT_RPC_MAX_PAYLOAD": 128})
    with start_host_board(FAKE, "", exe=exe) as s:
        assert s.info is not None and s.info.max_payload == 128
        roundtrip(s)  # 1000-byte tensors in 112-byte chunks
        t = s.run(40)
        assert len(t.per_run) == (128 - 8 - 36) // 4
        r = s.send_raw(encode_frame(req(s, P.Cmd.WRITE_INPUT, bytes(200))))[0]
        assert r.status == P.Status.ERR_FRAME_TOO_LARGE and r.detail == 128


def test_hello_payload_struct_sizes() -> None:
    assert P.HEADER_SIZE == 8 and P.RUN_FIXED.size == 36 and P.PROFILE_FIXED.size == 24
    assert struct.calcsize("<12I") == P.STATS_FIXED.size


def test_urls_build_transports(boards: dict[str, Path]) -> None:
    loop = open_transport("loop://")
    loop.write(b"\x7e\x01\x02")
    assert loop.read(1.0) == b"\x7e\x01\x02"
    loop.close()
    with Session.open(f"subprocess:{boards['plain']}") as s:
        assert s.hello().model_name == "fake"
        roundtrip(s)
    with pytest.raises(RpcLinkError, match="without a command"):
        open_transport("subprocess:")


def test_glue_that_disagrees_with_the_model_is_refused(tmp_path: Path) -> None:
    """Buffers smaller than the descriptor says: RUN is refused, writes stay inside the real buffers."""
    from microaot.hostbuild import compile_c
    from microaot.rpc.hostboard import host_port_sources, runtime_sources

    glue = tmp_path / "bad_glue.c"
    glue.write_text(
        '#include "microaot/rpc.h"\n#include "rpc_fake_model.h"\n'
        "const uaot_model_t *const uaot_app_model = &fake_model;\n"
        "uint8_t uaot_app_workspace[32];\nconst uint32_t uaot_app_workspace_size = 32;\n"
        "uint8_t uaot_app_state[1];\nconst uint32_t uaot_app_state_size = 0;\n"
        "static uint8_t in0[10], in1[12], out0[1000], out1[12];\n"
        "const uint16_t uaot_app_num_inputs = 2;\nconst uint16_t uaot_app_num_outputs = 2;\n"
        "void *const uaot_app_inputs[] = {in0, in1};\nvoid *const uaot_app_outputs[] = {out0, out1};\n"
        "const uint32_t uaot_app_input_sizes[] = {10, 12};\nconst uint32_t uaot_app_output_sizes[] = {1000, 12};\n"
    )
    exe = compile_c([*FAKE.sources, glue, *runtime_sources(), *host_port_sources()], tmp_path / "bad",
                    include_dirs=[C_DIR], kind="exe", extra_cflags=SAN_FLAGS)
    with Session.open(f"subprocess:{exe}") as s:
        info = s.hello()
        assert not info.model_ok and info.inputs == ()
        s.write_input_bytes(0, 0, bytes(10))
        with pytest.raises(RpcCommandError, match="ERR_RANGE \\(detail 10\\)"):
            s.write_input_bytes(0, 5, bytes(6))
        with pytest.raises(RpcCommandError, match="ERR_MODEL"):
            s.run(1)
        with pytest.raises(RpcCommandError, match="ERR_MODEL"):
            s.request(P.Cmd.INFO, P.INFO_ARGS.pack(0, 0, 0))


class _Faulty:
    """Wraps a transport; flips one bit in the next write or read when armed."""

    def __init__(self, inner: SubprocessTransport) -> None:
        self.inner = inner
        self.corrupt_write = False
        self.corrupt_read = False

    def write(self, data: bytes) -> None:
        if self.corrupt_write and len(data) > 6:
            self.corrupt_write = False
            b = bytearray(data)
            b[len(b) // 2] ^= 0x01
            data = bytes(b)
        self.inner.write(data)

    def read(self, timeout: float) -> bytes:
        data = self.inner.read(timeout)
        if self.corrupt_read and len(data) > 6:
            self.corrupt_read = False
            b = bytearray(data)
            b[4] ^= 0x01
            data = bytes(b)
        return data

    def close(self) -> None:
        self.inner.close()

    def describe(self) -> str:
        return "faulty " + self.inner.describe()


def test_corrupted_request_or_reply_is_resent(boards: dict[str, Path]) -> None:
    t = _Faulty(SubprocessTransport([boards["plain"]]))
    with Session(t, timeout=5.0, resend_after=0.2) as s:
        s.hello()
        roundtrip(s)
        t.corrupt_write = True  # the device sees a bad CRC, answers FRAME, the Session re-sends
        roundtrip(s, seed=1)
        assert s.device_frame_errors == 1 and s.resends == 1
        t.corrupt_read = True  # the reply arrives corrupted: the Session re-sends
        st = s.stats()
        assert s.host_frame_errors == 1 and s.resends == 2
        assert st.frames_bad == 1
        roundtrip(s, seed=2)
