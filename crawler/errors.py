"""Readable sentences for the ways a fetch fails, as stored on a source."""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.response import response_status_message
from twisted.internet import defer, error
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

FORBIDDEN_BY_ROBOTS = "forbidden by robots.txt"


def describe_failure(failure: Failure) -> tuple[str, int | None]:
    """One sentence for a failed request, and the HTTP status when there was one."""
    exc = failure.value
    if isinstance(exc, HttpError):
        status = exc.response.status
        return f"HTTP {response_status_message(status)}", status
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "max redirections" in text:
            return "too many redirects (a redirect loop?)", None
        if "robots.txt" in text.lower():
            return FORBIDDEN_BY_ROBOTS, None
        return text or "request ignored", None
    if isinstance(exc, (defer.CancelledError, DownloadCancelledError)):
        return "response larger than the size cap (max_response_bytes); dropped", None
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
    if isinstance(exc, UnsupportedURLSchemeError):
        return "not an http(s) address", None
    return f"{type(exc).__name__}: {str(exc)[:200]}", None
