"""The web face's guards: CSRF tokens, rate limits, client addresses, a discreet access log."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import time
from collections import deque

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

CSRF_MAX_AGE = 12 * 3600  # a form older than this must be reloaded
RATE_LIMIT = 5  # POST /subscribe per address and per client, each...
RATE_WINDOW = 3600.0  # ...per hour
_TOKEN_IN_PATH = re.compile(r"^/(confirm|unsubscribe|preferences)/[^/?]*")


class CsrfGuard:
    """Per-form tokens: an HMAC of a browser cookie, the form's path and when it was issued.

    The cookie is random, HttpOnly and SameSite=Strict, so another site can neither read
    it nor make the browser send it; without it no token verifies.
    """

    def __init__(self, secret: bytes, max_age: float = CSRF_MAX_AGE) -> None:
        self._secret = secret
        self.max_age = max_age

    def _sign(self, browser: str, path: str, issued: int) -> str:
        """The signature of one form for one browser."""
        text = f"{browser}\n{path}\n{issued}".encode()
        return hmac.new(self._secret, text, hashlib.sha256).hexdigest()

    def token(self, browser: str, path: str) -> str:
        """A token for the form at `path`, issued now."""
        issued = int(time.time())
        return f"{issued}.{self._sign(browser, path, issued)}"

    def valid(self, browser: str | None, path: str, token: str | None) -> bool:
        """Whether the token was issued here, for this browser and form, and is recent."""
        if not browser or not token:
            return False
        issued_text, _, signature = token.partition(".")
        if not issued_text.isdigit() or len(issued_text) > 12:
            return False
        age = time.time() - int(issued_text)
        if not -60 <= age <= self.max_age:
            return False
        expected = self._sign(browser, path, int(issued_text))
        return hmac.compare_digest(signature.encode(), expected.encode())


class RateLimit:
    """At most `limit` events per key in a sliding window, kept in memory."""

    def __init__(self, limit: int = RATE_LIMIT, window: float = RATE_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Count one event for the key; False when it is over the limit."""
        now = time.monotonic()
        if len(self._hits) > 10_000:  # forget keys whose window has passed
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True


def client_address(request: web.Request) -> str:
    """The client's address; behind a local reverse proxy, the one the proxy appended."""
    peer = request.remote or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    try:
        local_peer = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        local_peer = False
    if local_peer and forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()[:64] or peer
    return peer


class RedactingAccessLogger(AbstractAccessLogger):
    """One line per request, without the subscriber token that some paths carry."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Log method, path (token hidden), status and duration."""
        path = _TOKEN_IN_PATH.sub(r"/\1/…", request.path)
        self.logger.info(
            "%s %s %s %d %.1fms", request.remote, request.method, path, response.status, time * 1e3
        )
