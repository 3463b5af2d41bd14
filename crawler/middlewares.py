"""Downloader middlewares: conditional GET, skipping known URLs, polite retries, tallies."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.response import response_status_message
from w3lib.url import canonicalize_url

from crawler.state import CrawlState, crawl_state
from pipeline.canonical import clean_url

logger = logging.getLogger(__name__)

# request.meta keys shared by the spiders and these middlewares
SOURCE = "sw_source"  # the configured source's name
ROLE = "sw_role"  # "source" (the source's own document), "page" (more of it), "article"


class KnownURL(IgnoreRequest):
    """The article at this URL is already stored: it is not fetched again."""


class TooLongRetryAfter(IgnoreRequest):
    """The server asked us to come back later than this run is willing to wait."""


class RedirectOutOfTheWeb(IgnoreRequest):
    """A redirect to a file:, ftp:, data: or other address that is not http(s)."""


class RedirectLoop(IgnoreRequest):
    """A redirect back to an address this chain of redirects has already been through."""


class ConditionalGetMiddleware:
    """Send each source's stored ETag and Last-Modified; let a 304 through to the spider."""

    def __init__(self, state: CrawlState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalGetMiddleware:
        """Share the crawler's store."""
        return cls(crawl_state(crawler))

    def process_request(self, request: Request) -> None:
        """Add the validators to a source's own request."""
        if request.meta.get(ROLE) != "source":
            return
        etag, last_modified = self.state.store.validators(request.meta[SOURCE])
        if etag:
            request.headers.setdefault(b"If-None-Match", etag.encode("latin-1", "replace"))
        if last_modified:
            request.headers.setdefault(
                b"If-Modified-Since", last_modified.encode("latin-1", "replace")
            )


class SkipKnownMiddleware:
    """An article whose URL is in the store is not fetched again, even after a redirect,
    unless all that is stored of it is its feed's headline."""

    def __init__(self, state: CrawlState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SkipKnownMiddleware:
        """Share the crawler's store."""
        return cls(crawl_state(crawler))

    def process_request(self, request: Request) -> None:
        """Raise KnownURL for an article request that leads to a stored article."""
        if request.meta.get(ROLE) != "article":
            return
        store = self.state.store
        # a headline whose page could not be fetched last time is asked for again
        article_id = store.resolved_article_for_urls((request.url, clean_url(request.url)))
        if article_id is None:
            return
        # A redirect (a news-search link) that lands on a known article: remember the hop.
        hops = request.meta.get("redirect_urls") or []
        if hops:
            store.add_urls(article_id, hops)
        self.state.count(request.meta.get(SOURCE), "known")
        raise KnownURL(f"already stored: {request.url}")


def retry_after_seconds(value: bytes | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), if valid."""
    if not value:
        return None
    text = value.decode("latin-1", "replace").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, with exponential backoff and Retry-After honoured (up to a cap)."""

    base_delay = 0.5

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.max_retry_after = crawler.settings.getfloat("SEQUELWATCH_MAX_RETRY_AFTER", 120.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        """Read the retry settings."""
        return cls(crawler)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        """Wait as long as the server asked (or a growing backoff), then retry."""
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        retries = request.meta.get("retry_times", 0)
        asked = retry_after_seconds(response.headers.get(b"Retry-After"))
        if asked is not None and asked > self.max_retry_after:
            raise TooLongRetryAfter(
                f"HTTP {response.status}: the server asked to retry after {asked:.0f} s;"
                " left for the next run"
            )
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        delay = asked if asked is not None else self.base_delay * 2**retries
        await asyncio.sleep(delay * (1 + random.random() * 0.1))
        return retry


class SourceStatsMiddleware:
    """Count each source's requests, 304s and bytes (nearest the download, so every try)."""

    def __init__(self, state: CrawlState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SourceStatsMiddleware:
        """Share the crawler's tallies."""
        return cls(crawl_state(crawler))

    def process_response(self, request: Request, response: Response) -> Response:
        """Tally one response."""
        source = request.meta.get(SOURCE)
        self.state.count(source, "requests")
        self.state.count(source, "bytes", len(response.body))
        if response.status == 304:
            self.state.count(source, "not_modified")
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        """A request that got no response still cost a request."""
        # IgnoreRequest here comes from a process_request (an internal address, a known
        # URL, robots.txt): the request was never sent, so it cost nothing.
        if isinstance(exception, IgnoreRequest):
            return
        self.state.count(request.meta.get(SOURCE), "requests")


class RedirectGuardMiddleware:
    """Refuse a redirect out of http(s) or round in a loop, saying why.

    Scrapy's RedirectMiddleware does not follow a redirect out of http(s) either, but
    hands the bare 3xx on ("HTTP 302 Found"); refusing here says where it pointed, and
    keeps the rule ours whatever a later Scrapy does. A loop would end at the redirect
    limit, except that an article's next hop is silently dropped by the duplicate filter
    once it comes round again (scrapy#1225), leaving no error and no headline.
    """

    redirect_codes = frozenset({301, 302, 303, 307, 308})

    def process_response(self, request: Request, response: Response) -> Response:
        """Raise RedirectOutOfTheWeb or RedirectLoop; let any other response through."""
        location = response.headers.get(b"Location")
        if response.status not in self.redirect_codes or not location:
            return response
        target = urljoin(request.url, location.decode("latin-1").strip())
        if urlsplit(target).scheme.lower() not in ("http", "https"):
            raise RedirectOutOfTheWeb(
                f"redirected to {_shown(target)}, which is not an http(s) address; not followed"
            )
        chain = [*request.meta.get("redirect_urls", ()), request.url]
        if canonicalize_url(target) in {canonicalize_url(url) for url in chain}:
            raise RedirectLoop(
                f"redirect loop: {_shown(request.url)} leads back to {_shown(target)}"
            )
        return response


def _shown(url: str) -> str:
    """A URL short enough for an error message (data: URLs run long)."""
    return url if len(url) <= 80 else url[:77] + "..."
