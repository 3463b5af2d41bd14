"""A hostile web on 127.0.0.1: every way a source or an article page can misbehave.

`serve_hostile()` starts a ThreadingHTTPServer on port 0 in a background thread, plus a
tripwire: a bare TCP port that only records connections, for redirects to ftp:// and
gopher:// (nothing may ever connect to it). Every request is logged with how many body
bytes the server managed to send before the client left.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from sequelwatch.sampleworld.server import SITE, fill_placeholders
from tests.crawler import hostile_documents as docs

GIB = 1024**3
CHUNK = 64 * 1024
HOLD_SECONDS = 30.0  # the longest a hanging route holds a connection open
RSS = "application/rss+xml; charset=utf-8"
HTML = "text/html; charset=utf-8"


@dataclass
class Hit:
    """One request: status 0 while (or when) nothing was answered; body bytes sent."""

    path: str
    at: float
    status: int = 0
    sent: int = 0
    done: bool = False


class Tripwire:
    """A TCP port that accepts, records and closes every connection, and never answers."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        """Count connections until the socket is closed."""
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        """Stop listening."""
        self._sock.close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    """Routes each path to one kind of misbehaviour (see HostileWeb.routes)."""

    protocol_version = "HTTP/1.1"
    web: HostileWeb
    hit: Hit

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep stderr quiet."""

    def do_GET(self) -> None:
        """Answer by the path's route; a client that hangs up early is not an error."""
        self.hit = self.web.record(self.path)
        route = self.web.routes.get(urlsplit(self.path).path, self.web.static)
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self.hit.done = True

    def start(self, status: int, ctype: str | None, length: int | None, **headers: str) -> None:
        """Send the status line and headers (no Content-Type when ctype is None)."""
        self.hit.status = status
        self.send_response(status)
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()

    def write(self, data: bytes) -> None:
        """Write body bytes, counting them."""
        self.wfile.write(data)
        self.hit.sent += len(data)

    def send(
        self, status: int, data: bytes = b"", ctype: str | None = HTML, **headers: str
    ) -> None:
        """A complete response with a Content-Length; a 200 has an ETag, as most servers'."""
        if status == 200:
            # Like a real server: a source whose validators were kept gets 304 next time.
            etag = f'"{hashlib.sha1(data).hexdigest()[:16]}"'
            if self.headers.get("If-None-Match") == etag:
                status, data = 304, b""
            headers = {"ETag": etag, **headers}
        self.start(status, ctype if status != 304 else None, len(data), **headers)
        self.write(data)

    def client_gone(self, wait: float) -> bool:
        """Whether the client closed its end, waiting up to `wait` seconds to find out."""
        self.connection.settimeout(wait)
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except TimeoutError:
            return False
        except OSError:
            return True


Route = Callable[[_Handler], None]


class _Server(ThreadingHTTPServer):
    """A threading server whose accept queue holds a whole crawl's connections at once.

    With the default queue of 5, a burst of connections overflows it, the kernel drops
    the extra SYNs, and requests time out before the server ever sees them.
    """

    request_queue_size = 256
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A crawler hanging up or resetting mid-request is what these routes are for."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class HostileWeb:
    """The running hostile server: its routes, its request log and its tripwire."""

    def __init__(self, secrets_folder: Path) -> None:
        self.tripwire = Tripwire()
        self._log: list[Hit] = []
        self._lock = threading.Lock()
        handler = type("HostileHandler", (_Handler,), {"web": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_port}"
        self.secrets = docs.make_secrets(secrets_folder, self.base_url)
        gzip_bomb()  # made now: made on first request, it would stall the server mid-crawl
        self.routes: dict[str, Route] = {**_ROUTES, **_document_routes(self)}
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return self.base_url + path

    def record(self, path: str) -> Hit:
        """Log a request as it arrives."""
        hit = Hit(path, time.monotonic())
        with self._lock:
            self._log.append(hit)
        return hit

    def hits(self, prefix: str = "/") -> list[Hit]:
        """The requests whose path (with query) starts with prefix, oldest first."""
        with self._lock:
            return [hit for hit in self._log if hit.path.startswith(prefix)]

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every handler has finished (the client's end is closed by now)."""
        deadline = time.monotonic() + timeout
        while any(not hit.done for hit in self.hits()) and time.monotonic() < deadline:
            time.sleep(0.05)

    def fill(self, template: bytes) -> bytes:
        """A document with this server's addresses and the secret files filled in."""
        return docs.fill(template, self.base_url, self.tripwire.port, self.secrets)

    def static(self, handler: _Handler) -> None:
        """The sample world's article pages, at their own paths; 404 for anything else."""
        path = urlsplit(handler.path).path
        file = (SITE / path.lstrip("/")).resolve()
        if path.startswith("/trade/") and file.is_relative_to(SITE) and file.is_file():
            handler.send(200, fill_placeholders(file.read_bytes(), self.base_url))
        else:
            handler.send(404, b"<p>Not here.</p>")

    def close(self) -> None:
        """Stop serving and release both ports."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self.tripwire.close()

    def __enter__(self) -> HostileWeb:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# -- misbehaviours -----------------------------------------------------------------------


def _status(code: int, **headers: str) -> Route:
    """A plain error status."""
    return lambda h: h.send(code, f"<p>Status {code} on purpose.</p>".encode(), **headers)


def _busy_once(h: _Handler) -> None:
    """429 with Retry-After: 1 the first time, then a good article page."""
    first = len(h.web.hits("/busy-once")) == 1
    if first:
        h.send(429, b"<p>Slow down.</p>", Retry_After="1")
    else:
        h.send(200, fill_placeholders((SITE / docs.BUSY.lstrip("/")).read_bytes(), h.web.base_url))


def _never(h: _Handler) -> None:
    """Accept, read the request, and never answer (until the client gives up)."""
    deadline = time.monotonic() + HOLD_SECONDS
    while time.monotonic() < deadline and not h.client_gone(0.5):
        pass
    h.close_connection = True


def _drip(h: _Handler) -> None:
    """A 200 that promises 100 kB and sends one byte a second."""
    h.start(200, HTML, 100_000)
    deadline = time.monotonic() + HOLD_SECONDS
    while time.monotonic() < deadline and not h.client_gone(1.0):
        h.write(b" ")
        h.wfile.flush()
    h.close_connection = True


def _document(body: bytes, ctype: str | None) -> Route:
    """A 200 with this body (and this Content-Type, or none)."""
    return lambda h: h.send(200, body, ctype)


def _redirect(location: str) -> Route:
    """A 302 to this location."""
    return lambda h: h.send(302, b"", Location=location)


def _refresh(h: _Handler) -> None:
    """An HTML page whose meta refresh points at the secret page on disk."""
    page = f'<html><head><meta http-equiv="refresh" content="0; url={h.web.secrets.page.as_uri()}">'
    h.send(200, (page + "</head><body>Moved.</body></html>").encode())


def _huge(chunked: bool) -> Route:
    """A 2 GiB body, made up chunk by chunk as it is sent (with a length, or chunked)."""

    def route(h: _Handler) -> None:
        if chunked:
            h.start(200, HTML, None, Transfer_Encoding="chunked")
        else:
            h.start(200, HTML, 2 * GIB)
        block = b"<p>" + b"x" * (CHUNK - 8) + b"</p>\n"
        frame = f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block
        for _ in range(2 * GIB // len(block)):
            h.wfile.write(frame)
            h.hit.sent += len(block)
        h.close_connection = True

    return route


@cache
def gzip_bomb() -> bytes:
    """About 2 MB of gzip that inflates to 2 GiB of zeros (repeated gzip members)."""
    member = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    return member * 32


def _bomb(h: _Handler) -> None:
    """The gzip bomb, sent as Content-Encoding: gzip."""
    h.send(200, gzip_bomb(), HTML, Content_Encoding="gzip")


def _sitemap_bomb(h: _Handler) -> None:
    """The gzip bomb as a .xml.gz sitemap file (no Content-Encoding: the spider inflates it)."""
    h.send(200, gzip_bomb(), "application/x-gzip")


def _reset(h: _Handler) -> None:
    """Drop the connection with a TCP reset and no answer at all."""
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


def _nested(kind: str) -> Route:
    """A page, feed or sitemap buried under 100,000 nested elements."""
    body, ctype = {
        "page": (docs.nested_page(100_000), HTML),
        "feed": (docs.nested_feed(100_000), RSS),
        "sitemap": (docs.nested_sitemap(100_000), "application/xml"),
    }[kind]
    return lambda h: h.send(200, h.web.fill(body), ctype)


_ROUTES: dict[str, Route] = {
    "/status/404": _status(404),
    "/status/410": _status(410),
    "/status/500": _status(500),
    "/status/503": _status(503, Retry_After="1"),
    "/status/429": _status(429, Retry_After="1"),
    "/leak": _status(404),
    "/busy-once": _busy_once,
    "/never": _never,
    "/drip": _drip,
    "/reset": _reset,
    "/loop": _redirect("/loop2"),
    "/loop2": _redirect("/loop"),
    "/refresh-to-secret": _refresh,
    "/huge": _huge(chunked=False),
    "/huge-chunked": _huge(chunked=True),
    "/bomb": _bomb,
    "/sitemap-bomb.xml.gz": _sitemap_bomb,
    "/nested": _nested("page"),
    "/nested.rss": _nested("feed"),
    "/nested.xml": _nested("sitemap"),
}


def _document_routes(web: HostileWeb) -> dict[str, Route]:
    """Redirects out of http(s), the good feed, encodings and XML attacks, for this server."""
    secrets, trip = web.secrets, web.tripwire.port
    routes: dict[str, Route] = {
        "/to-passwd": _redirect("file:///etc/passwd"),
        "/to-secret-feed": _redirect(secrets.feed.as_uri()),
        "/to-secret-page": _redirect(secrets.page.as_uri()),
        "/to-ftp": _redirect(f"ftp://127.0.0.1:{trip}/secret.rss"),
        "/to-gopher": _redirect(f"gopher://127.0.0.1:{trip}/0secret"),
        "/to-data": _redirect(docs.data_url(secrets.marker)),
        "/good.rss": _document(web.fill(docs.good_feed()), RSS),
    }
    for path, (body, ctype) in docs.encoding_cases(web.fill).items():
        routes[path] = _document(body, ctype)
    for name, ctype in docs.LOCAL_LINKS.items():
        routes[f"/local/{name}"] = _document(web.fill((docs.DATA / name).read_bytes()), ctype)
    for path, body in docs.xml_attacks().items():
        routes[path] = _document(web.fill(body), docs.xml_type(path))
    return routes


def serve_hostile(secrets_folder: Path) -> HostileWeb:
    """Start the hostile web on 127.0.0.1 (free ports), its secrets written in the folder."""
    return HostileWeb(secrets_folder)
