"""A loopback HTTP server for the sample world: static fictional outlets plus a few bad routes."""

from __future__ import annotations

import argparse
import hashlib
import random
import signal
import socket
import struct
import threading
import time
import tomllib
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, quote, unquote, urlsplit

SITE = Path(__file__).resolve().parent / "site"
PLACEHOLDER = "@@BASE@@"
# Bing-style click URLs carry the article URL percent-encoded, lowercase hex like the real thing.
ENCODED_PLACEHOLDER = "@@BASE_ENCODED@@"
LAST_MODIFIED = "Mon, 23 Nov 2026 06:00:00 GMT"
CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json; charset=utf-8",
}
RSS_TYPE = CONTENT_TYPES[".rss"]
HUGE_BYTES = 30 * 1024 * 1024
NOT_FOUND = "<!doctype html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><p>No page lives at this address.</p></body></html>"  # noqa: E501


@dataclass(frozen=True)
class RequestRecord:
    """One answered request: status 0 means the connection was dropped without an answer."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    at: float = 0.0  # time.monotonic() when the request arrived


@dataclass
class _State:
    """What the handlers share: site folder, base URL, redirects and the request log."""

    site: Path
    base_url: str = ""
    redirects: dict[str, str] = field(default_factory=dict)
    log: list[RequestRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    retry_after_served: bool = False


class _Handler(BaseHTTPRequestHandler):
    """Serves static site files with conditional GET, and the dynamic and bad routes."""

    protocol_version = "HTTP/1.1"
    server_version = "SampleWorld/1.0"
    state: _State

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep stderr quiet."""

    def do_GET(self) -> None:
        """Answer a GET."""
        self._dispatch(body=True)

    def do_HEAD(self) -> None:
        """Answer a HEAD like a GET, without the body."""
        self._dispatch(body=False)

    def _record(self, status: int) -> None:
        """Append one record to the shared log."""
        record = RequestRecord(
            self.command, self.path, status, dict(self.headers.items()), time.monotonic()
        )
        with self.state.lock:
            self.state.log.append(record)

    def _send(
        self, status: int, data: bytes = b"", ctype: str = "text/html; charset=utf-8", **hdrs: str
    ) -> None:
        """Send a complete response with a Content-Length (HEAD gets no body)."""
        self._record(status)  # before answering, so a client never sees an unlogged response
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
        for name, value in hdrs.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self._body and status != 304:
            self.wfile.write(data)

    def _dispatch(self, body: bool) -> None:
        """Route one request; a client that hangs up early is not an error."""
        self._body = body
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        try:
            if path.startswith("/gnews/rss/articles/"):
                self._gnews(path.rsplit("/", 1)[-1])
            elif path == "/bing/apiclick.aspx":
                self._bing(query)
            elif path.startswith("/bad/") and self._bad(path, query):
                pass
            else:
                self._static(path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _gnews(self, article_id: str) -> None:
        """Redirect a Google-News-style article id to its publisher page."""
        target = self.state.redirects.get(article_id)
        if target is None:
            self._send(404, NOT_FOUND.encode())
        else:
            self._send(302, b"", Location=self.state.base_url + target)

    def _bing(self, query: dict[str, list[str]]) -> None:
        """Redirect a Bing-style click URL to its url parameter."""
        target = query.get("url", [""])[0]
        if not target.startswith(("http://", "https://")):
            self._send(400, b"<p>Missing url parameter.</p>")
        else:
            self._send(302, b"", Location=target)

    def _bad(self, path: str, query: dict[str, list[str]]) -> bool:
        """Serve one deliberately bad route; False when the path is a static bad file."""
        base = self.state.base_url
        if path.startswith("/bad/status/") and path.rsplit("/", 1)[-1].isdigit():
            code = int(path.rsplit("/", 1)[-1])
            self._send(code, f"<p>Status {code} on purpose.</p>".encode())
        elif path == "/bad/slow":
            time.sleep(min(float(query.get("seconds", ["3"])[0]), 60.0))
            self._send(200, self._site_bytes("bad/small.rss"), RSS_TYPE)
        elif path in ("/bad/loop", "/bad/loop2"):
            self._send(302, b"", Location=base + {"/bad/loop": "/bad/loop2"}.get(path, "/bad/loop"))
        elif path == "/bad/huge.rss":
            self._huge()
        elif path == "/bad/undecodable.html":
            self._send(200, random.Random(2026).randbytes(8192), "text/html; charset=utf-8")
        elif path == "/bad/retry-after":
            with self.state.lock:
                first, self.state.retry_after_served = not self.state.retry_after_served, True
            if first:
                self._send(503, b"<p>Busy, come back soon.</p>", Retry_After="1")
            else:
                self._send(200, self._site_bytes("bad/small.rss"), RSS_TYPE)
        elif path == "/bad/reset":
            self._reset()
        else:
            return False
        return True

    def _huge(self) -> None:
        """Stream about 30 MB of valid-looking RSS in chunks, never held in memory at once."""
        head = b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Huge</title>\n'
        item = (
            b"<item><title>Filler item</title><link>http://127.0.0.1/filler.html</link>"
            b"<description>" + b"padding " * 120 + b"</description></item>\n"
        )
        tail = b"</channel></rss>\n"
        count = (HUGE_BYTES - len(head) - len(tail)) // len(item) + 1
        self._record(200)
        self.send_response(200)
        self.send_header("Content-Type", RSS_TYPE)
        self.send_header("Content-Length", str(len(head) + count * len(item) + len(tail)))
        self.end_headers()
        if not self._body:
            return
        self.wfile.write(head)
        chunk, per_chunk = item * 64, 64
        for _ in range(count // per_chunk):
            self.wfile.write(chunk)
        self.wfile.write(item * (count % per_chunk) + tail)

    def _reset(self) -> None:
        """Drop the connection with a TCP reset and no response at all."""
        self._record(0)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _static(self, path: str) -> None:
        """Serve a site file with placeholders filled and conditional GET."""
        file = self._resolve(path)
        if file is None:
            self._send(404, NOT_FOUND.encode())
            return
        if file.is_dir():
            self._send(301, b"", Location=self.state.base_url + path + "/")
            return
        data = self._site_bytes(file)
        etag = '"' + hashlib.sha1(data).hexdigest()[:20] + '"'
        headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if self._not_modified(etag):
            self._send(304, b"", **headers)
        else:
            self._send(200, data, CONTENT_TYPES[file.suffix], **headers)

    def _site_bytes(self, file: Path | str) -> bytes:
        """A site file's bytes with the placeholders filled in."""
        return fill_placeholders((self.state.site / file).read_bytes(), self.state.base_url)

    def _resolve(self, path: str) -> Path | None:
        """Map a URL path to a servable file inside the site, or None."""
        if path.endswith("/.rss"):  # reddit-style feed address
            path = path[: -len(".rss")] + "index.atom"
        elif path.endswith("/"):
            path += "index.html"
        root = self.state.site.resolve()
        file = (root / path.lstrip("/")).resolve()
        if not file.is_relative_to(root) or not file.exists():
            return None
        if file.is_file() and file.suffix not in CONTENT_TYPES:
            return None
        return file

    def _not_modified(self, etag: str) -> bool:
        """Whether If-None-Match or If-Modified-Since lets us answer 304."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return etag in tags or "*" in tags
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            return parsedate_to_datetime(since) >= parsedate_to_datetime(LAST_MODIFIED)
        except (TypeError, ValueError):
            return False


class SampleWorld:
    """A running sample-world server; close it, or use it as a context manager."""

    def __init__(self, httpd: ThreadingHTTPServer, state: _State, host: str) -> None:
        """Start serving in a daemon thread."""
        self._httpd, self._state = httpd, state
        self.base_url = f"http://{host}:{httpd.server_port}"
        state.base_url = self.base_url
        self._thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log, oldest first."""
        with self._state.lock:
            return list(self._state.log)

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return self.base_url + path

    def clear_log(self) -> None:
        """Forget the requests seen so far."""
        with self._state.lock:
            self._state.log.clear()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SampleWorld:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def fill_placeholders(data: bytes, base_url: str) -> bytes:
    """Replace @@BASE_ENCODED@@ and @@BASE@@ with this server's base URL."""
    encoded = quote(base_url, safe="").lower()
    data = data.replace(ENCODED_PLACEHOLDER.encode(), encoded.encode())
    return data.replace(PLACEHOLDER.encode(), base_url.encode())


def load_redirects(site: Path) -> dict[str, str]:
    """The Google-News-style article ids and the publisher paths they redirect to."""
    file = site / "redirects.toml"
    if not file.exists():
        return {}
    return dict(tomllib.loads(file.read_text(encoding="utf-8")).get("redirects", {}))


def serve(site: Path = SITE, host: str = "127.0.0.1", port: int = 0) -> SampleWorld:
    """Serve the sample world on host:port (0 picks a free port) in a background thread."""
    state = _State(site=site, redirects=load_redirects(site))
    handler = type("SampleWorldHandler", (_Handler,), {"state": state})
    httpd = ThreadingHTTPServer((host, port), handler)
    httpd.daemon_threads = True
    return SampleWorld(httpd, state, host)


def main() -> None:
    """Print the base URL on one line and serve until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve the sequelwatch sample world.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    with serve(host=args.host, port=args.port) as world:
        print(world.base_url, flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
