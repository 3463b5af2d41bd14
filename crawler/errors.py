"""Readable sentences for the ways a fetch fails, as stored on a source."""

from __future__ import annotations

from http import HTTPStatus

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    NotSupported,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import defer, error
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

FORBIDDEN_BY_ROBOTS = "forbidden by robots.txt"
TOO_LARGE = "response larger than the size cap (max_response_bytes); dropped"
TOO_LARGE_INFLATED = "response larger than the size cap (max_response_bytes) once decompressed"


def status_text(status: int) -> str:
    """The code and its standard phrase (429 Too Many Requests, where Twisted has none)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} (non-standard status)"


def describe_failure(failure: Failure) -> tuple[str, int | None]:
    """One sentence for a failed request, and the HTTP status when there was one."""
    exc = failure.value
    if isinstance(exc, HttpError):
        status = exc.response.status
        return f"HTTP {status_text(status)}", status
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "max redirections" in text:
            return "too many redirects (a redirect loop?)", None
        if "robots.txt" in text.lower():
            return FORBIDDEN_BY_ROBOTS, None
        if "DOWNLOAD_MAXSIZE" in text:  # Scrapy's wording for a body that inflates past the cap
            return f"{TOO_LARGE_INFLATED}; dropped", None
        return text or "request ignored", None
    if isinstance(exc, (defer.CancelledError, DownloadCancelledError)):
        return TOO_LARGE, None
    if isinstance(exc, (error.TimeoutError, defer.TimeoutError, DownloadTimeoutError)):
        return "timed out (no complete answer within the timeout)", None
    if isinstance(exc, (error.DNSLookupError, CannotResolveHostError)):
        return "cannot resolve the host name", None
    if isinstance(exc, (error.ConnectionRefusedError, DownloadConnectionRefusedError)):
        return "connection refused", None
    if isinstance(
        exc,
        (
            ResponseNeverReceived,
            ResponseFailed,
            error.ConnectionLost,
            ResponseDataLossError,
            DownloadFailedError,
        ),
    ):
        return "the connection was closed before a complete answer", None
    if isinstance(exc, (UnsupportedURLSchemeError, NotSupported)):
        return "not an http(s) address", None
    return f"{type(exc).__name__}: {str(exc)[:200]}", None
