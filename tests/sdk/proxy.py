"""A TCP proxy in front of the API that loses the first answer: the edge of the world, where a
connection reset really happens. Everything else passes through untouched and is recorded."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType
from typing import Self


def read_http_message(sock: socket.socket) -> bytes:
    """One HTTP/1.1 message with a Content-Length body (what httpx sends and uvicorn answers here)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


class ResettingProxy:
    """The first connection's request reaches the server and is answered; the proxy keeps the answer
    and resets the client's connection (RST), as a dropped network would. Later connections are piped."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.requests: list[bytes] = []  # every request the server received, in order
        self.lost_answers: list[bytes] = []  # answers the server sent that the client never saw
        self.delivered = bytearray()  # what reached the client
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        first = True
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            self._spawn(self._lose_answer if first else self._pipe_connection, conn)
            first = False

    def _lose_answer(self, conn: socket.socket) -> None:
        with conn, socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
            request = read_http_message(conn)
            self.requests.append(request)
            upstream.sendall(request)
            self.lost_answers.append(read_http_message(upstream))
            # linger 0: close() sends RST instead of FIN — "connection reset by peer" for the client
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _pipe_connection(self, conn: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        self._spawn(self._pipe, upstream, conn, self.delivered)
        with contextlib.suppress(OSError):
            while True:
                request = read_http_message(conn)
                if not request:
                    break
                self.requests.append(request)
                upstream.sendall(request)
        with contextlib.suppress(OSError):
            upstream.shutdown(socket.SHUT_WR)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, record: bytearray) -> None:
        with source, sink, contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                record.extend(chunk)
                sink.sendall(chunk)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.listener.close()
