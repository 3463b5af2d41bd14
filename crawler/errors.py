"""Readable sentences for the ways a fetch fails, as stored on a source."""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.response import response_status_message
from twisted.internet import defer, error
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived


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
            return "forbidden by robots.txt", None
        return text or "request ignored", None
    if isinstance(exc, (defer.CancelledError,)) or "DownloadCancelled" in type(exc).__name__:
        return "response larger than the size cap (max_response_bytes); dropped", None
    if isinstance(exc, (error.TimeoutError, defer.TimeoutError)):
        return "timed out (no complete answer within the timeout)", None
    if isinstance(exc, error.DNSLookupError):
        return "cannot resolve the host name", None
    if isinstance(exc, error.ConnectionRefusedError):
        return "connection refused", None
    if isinstance(exc, (ResponseNeverReceived, ResponseFailed, error.ConnectionLost)):
        return "the connection was closed before a complete answer", None
    return f"{type(exc).__name__}: {str(exc)[:200]}", None
