"""A synchronous gRPC client over one HTTP/2 connection on a unix socket, for the benchmark.

It exists to time the driver's side of an RPC without a client library's own threads in the
figure: ``call`` returns, with the response, the seconds from the moment the request's bytes were
handed to the kernel to the moment the last bytes of the response came back. What lies between is
the socket and the driver (its gRPC stack and the handler), which is what the Kubernetes sidecars,
written in Go, see of it. Unary calls only, one at a time; not for production use.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from typing import Any, Optional

import h2.config
import h2.connection
import h2.events

_HEADER = struct.Struct(">BI")  # gRPC message framing: compressed flag, length


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class WireCallError(Exception):
    def __init__(self, path: str, status: int, message: str) -> None:
        super().__init__("%s failed with gRPC status %d: %s" % (path, status, message))
        self.status = status


class WireClient:
    def __init__(self, socket_path: str, timeout: float = 30.0) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(timeout)
        self._socket.connect(socket_path)
        self._connection = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self._connection.initiate_connection()
        self._socket.sendall(self._connection.data_to_send())

    def close(self) -> None:
        """Say goodbye when the server still listens; a server that already closed the connection is fine."""
        self._connection.close_connection()
        with contextlib.suppress(OSError):  # the driver closed an idle connection first: nothing left to tell
            self._socket.sendall(self._connection.data_to_send())
        self._socket.close()

    def call(self, path: str, request: Any, response_type: Any) -> tuple[Any, float]:
        """Send ``request`` to ``path`` (``/package.Service/Method``); the parsed response and the
        seconds the request spent beyond this process. A non-OK status raises ``WireCallError``."""
        stream = self._connection.get_next_available_stream_id()
        self._connection.send_headers(
            stream,
            [
                (":method", "POST"),
                (":scheme", "http"),
                (":path", path),
                (":authority", "localhost"),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
            ],
        )
        payload = request.SerializeToString()
        self._connection.send_data(stream, _HEADER.pack(0, len(payload)) + payload, end_stream=True)
        outgoing = self._connection.data_to_send()
        sent = time.perf_counter()
        self._socket.sendall(outgoing)
        body, status, message, arrived = self._receive(stream)
        if status != 0:
            raise WireCallError(path, status, message)
        _compressed, length = _HEADER.unpack_from(body)
        return response_type.FromString(body[_HEADER.size : _HEADER.size + length]), arrived - sent

    def _receive(self, stream: int) -> tuple[bytes, int, str, float]:
        body = b""
        status: Optional[int] = None
        message = ""
        arrived = 0.0
        while status is None:
            data = self._socket.recv(65536)
            arrived = time.perf_counter()
            if not data:
                raise ConnectionError("the driver closed the connection during a call")
            for event in self._connection.receive_data(data):
                if isinstance(event, h2.events.DataReceived) and event.stream_id == stream:
                    body += event.data
                    self._connection.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(event, (h2.events.TrailersReceived, h2.events.ResponseReceived)):
                    headers = {_text(name): _text(value) for name, value in event.headers or []}
                    if "grpc-status" in headers:  # trailers, or a trailers-only error response
                        status = int(headers["grpc-status"])
                        message = headers.get("grpc-message", "")
                elif isinstance(event, h2.events.StreamReset) and event.stream_id == stream:
                    raise ConnectionError("the driver reset the stream (error code %s)" % event.error_code)
            pending = self._connection.data_to_send()
            if pending:
                self._socket.sendall(pending)
        return body, status, message, arrived
