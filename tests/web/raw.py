"""HTTP/1.1 by hand over a socket: a request whose body is announced but not (yet) sent.

httpx sends the whole body before reading the answer; these tests need the opposite, to show
the worker answers while the body is still in flight, so it never waited for it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def post(
    url: str,
    headers: dict[str, str],
    body: Iterable[bytes] = (),
    *,
    chunked: bool = False,
    timeout: float = 10.0,
) -> Answer:
    """POST `body` piece by piece (chunked framing if asked: only an empty piece ends the body)
    and return the answer, which must come within `timeout` seconds."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"POST {parts.path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            for piece in body:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        except OSError:  # the server answered and closed while we were still sending
            pass
        return _read_answer(sock)


def _read_answer(sock: socket.socket) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)  # socket.timeout here means the server is still reading
        if not chunk:
            raise ConnectionError(f"closed before an answer: {data[:200]!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Answer(int(status_line.split()[1]), headers, rest[:length])
