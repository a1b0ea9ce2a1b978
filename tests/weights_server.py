"""A local HTTP server on 127.0.0.1 that serves weights files to the download tests.

Never the internet: tests point FaceLab at ``server.base_url`` (a mirror) and choose
how the server misbehaves: no Range support, a connection dropped after so many
bytes, a pause midway until the test releases it. It also answers proxy-style
requests ("GET http://host/path"), so the same class stands in for a proxy.
"""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import unquote, urlsplit

_RANGE = re.compile(r"^bytes=(\d+)-$")


@dataclass
class Request:
    path: str          # as sent: absolute ("http://host/x") when it came through as a proxy
    range: str | None  # the Range header, if any
    status: int = 0


@dataclass
class WeightsServer:
    files: dict[str, bytes] = field(default_factory=dict)
    supports_range: bool = True
    # Close the connection after this many body bytes, for the first `drops` requests.
    drop_after: int | None = None
    drops: int = 1
    # Stop sending after this many body bytes until `release` is set (cancel tests),
    # in the first `pauses` requests.
    pause_after: int | None = None
    pauses: int = 1_000_000
    release: threading.Event = field(default_factory=threading.Event)
    paused: threading.Event = field(default_factory=threading.Event)  # set while it waits
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        handler = type("Handler", (_Handler,), {"owner": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/files"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


class _Handler(BaseHTTPRequestHandler):
    owner: WeightsServer

    def log_message(self, format, *args) -> None:  # quiet test output
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # the client hung up (a cancelled download): nothing to report
            pass

    def do_GET(self) -> None:
        server = self.owner
        record = Request(self.path, self.headers.get("Range"))
        server.requests.append(record)
        name = unquote(urlsplit(self.path).path.rsplit("/", 1)[-1])
        body = server.files.get(name)
        if body is None:
            record.status = 404
            self.send_error(404, "Not Found")
            return
        start = 0
        match = _RANGE.match(record.range or "")
        if server.supports_range and match:
            start = int(match.group(1))
            if start >= len(body):
                record.status = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            record.status = 206
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            record.status = 200
            self.send_response(200)
            self.send_header("Accept-Ranges", "bytes" if server.supports_range else "none")
        rest = body[start:]
        self.send_header("Content-Length", str(len(rest)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        dropping = server.drop_after is not None and server.drops > 0
        if dropping:
            server.drops -= 1
            self.wfile.write(rest[:server.drop_after])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # the client sees the body end early
            return
        if server.pause_after is not None and server.pauses > 0:
            server.pauses -= 1
            self.wfile.write(rest[:server.pause_after])
            self.wfile.flush()
            server.paused.set()
            server.release.wait(timeout=30)
            rest = rest[server.pause_after:]
        self.wfile.write(rest)
