"""Host side of the microaot RPC protocol (docs/protocol.md): framing, transports, Session."""

from microaot.rpc.framing import FrameDecoder, crc16, encode_frame
from microaot.rpc.session import (
    DeviceInfo,
    DeviceResetError,
    DeviceStats,
    OpProfile,
    Profile,
    RpcCommandError,
    RpcProtocolError,
    RpcTimeoutError,
    RunTiming,
    Session,
    TensorInfo,
)
from microaot.rpc.transport import (
    LoggingTransport,
    RpcLinkError,
    SerialTransport,
    SubprocessTransport,
    open_transport,
)

__all__ = [
    "DeviceInfo", "DeviceResetError", "DeviceStats", "FrameDecoder", "LoggingTransport", "OpProfile",
    "Profile", "RpcCommandError", "RpcLinkError", "RpcProtocolError",
    "RpcTimeoutError", "RunTiming", "SerialTransport",
    "Session", "SubprocessTransport", "TensorInfo", "crc16", "encode_frame", "open_transport",
]
