"""What every source spider shares: sources of its kind, health, articles, failures."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

import config
from crawler.address_guard import InternalAddressRefused
from crawler.decoding import page_text
from crawler.errors import FORBIDDEN_BY_ROBOTS, describe_failure
from crawler.feeds import is_feed_document
from crawler.middlewares import ROLE, SOURCE, KnownURL
from crawler.scrapy_settings import from_config
from crawler.state import CrawlState, crawl_state
from pipeline.records import EntryHint, Page
from pipeline.relevance import prefilter
from pipeline.store import utcnow

logger = logging.getLogger("sequelwatch.crawl")

# A page that failed for now is asked for again by the next crawls for this long, a few
# per source and crawl: long enough for an outage, short enough for a page that is gone.
RETRY_UNRESOLVED_FOR = timedelta(days=3)
RETRY_UNRESOLVED_MAX = 25

_SLUG_SEPARATORS = re.compile(r"[-_/.+]+")


class SourceSpider(scrapy.Spider):
    """Crawls every enabled source of one kind (or those named with -a sources=a,b)."""

    kind: ClassVar[str]
    state: CrawlState

    def __init__(self, sources: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.only = {s.strip() for s in sources.split(",")} if sources else None

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Under a bare `scrapy crawl`, apply the sequelwatch configuration's [crawl] table."""
        super().update_settings(settings)
        if not settings.getbool("SEQUELWATCH_CONFIGURED"):
            loaded = config.load(settings.get("SEQUELWATCH_CONFIG") or None)
            settings.setdict(from_config(loaded), priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SourceSpider:
        """Attach the crawler's shared state and open the run for this spider's sources."""
        spider: SourceSpider = super().from_crawler(crawler, *args, **kwargs)
        spider.state = crawl_state(crawler)
        spider.state.open([s.name for s in spider.sources()])
        return spider

    def sources(self) -> list[config.Source]:
        """The sources this spider crawls."""
        return [
            s
            for s in self.state.settings.sources
            if s.kind == self.kind and (s.name in self.only if self.only else s.enabled)
        ]

    async def start(self) -> AsyncIterator[Any]:
        """One request per source, with its validators added by the middleware, and one
        for each recent article of it whose page could not be fetched last time."""
        for source in self.sources():
            logger.info("%s: fetching %s", source.name, source.url)
            yield self.source_request(source.url, source)
            for request in self.retry_unresolved(source):
                yield request

    def retry_unresolved(self, source: config.Source) -> Iterator[scrapy.Request]:
        """Ask again for the pages that failed for now (a 503, a timeout): the feed that
        listed them may answer 304 and never list them again."""
        since = utcnow() - RETRY_UNRESOLVED_FOR
        for url, title in self.state.store.unresolved_articles(
            source.name, since, RETRY_UNRESOLVED_MAX
        ):
            yield scrapy.Request(
                url,
                callback=self.parse_article,
                errback=self.article_failed,
                cb_kwargs={"source": source, "hint": EntryHint(title=title, link=url), "seen": ()},
                meta={SOURCE: source.name, ROLE: "article"},
            )

    def source_request(
        self, url: str, source: config.Source, role: str = "source"
    ) -> scrapy.Request:
        """A request for a source's own document (or a further page of it)."""
        return scrapy.Request(
            url,
            callback=self.parse_source,
            errback=self.source_failed,
            cb_kwargs={"source": source},
            meta={SOURCE: source.name, ROLE: role, "handle_httpstatus_list": [304]},
            dont_filter=True,
        )

    def parse_source(self, response: Response, source: config.Source) -> Iterator[Any]:
        """Record the source's health, then read its document.

        Its new ETag and Last-Modified are kept only when the crawl finishes: stored now, a
        crawl killed before the document's articles are stored would get 304 next time and
        never see those articles again.
        """
        role = response.meta.get(ROLE)
        if response.status == 304:
            self._record_ok(source, response, role)
            self.state.result(source.name).status = "not_modified"
            logger.info("%s: not modified", source.name)
            return
        try:
            yield from self.read_source(response, source)
        except ValueError as exc:  # NotAFeed, NotASitemap and other unreadable documents
            self.source_error(source, str(exc), response.status, role)
            return
        # Only now: a document fetched but unreadable is a failure too, and recording
        # success first would reset the source's count of failures in a row every time.
        self._record_ok(source, response, role)

    def _record_ok(self, source: config.Source, response: Response, role: Any) -> None:
        """The source's own document was read (or not modified) without a problem.

        Only then are its validators worth keeping: kept for a document that could not be
        read, they would make the next try a 304, and the failure "not modified".
        """
        result = self.state.result(source.name)
        if role != "source" or result.status == "error":
            return
        result.validators = (_header(response, b"ETag"), _header(response, b"Last-Modified"))
        self.state.store.record_source_ok(
            source.name, http_status=response.status, etag=None, last_modified=None
        )

    def read_source(self, response: Response, source: config.Source) -> Iterator[Any]:
        """Turn a source's document into article requests and pages (one per kind)."""
        raise NotImplementedError

    def source_failed(self, failure: Failure) -> None:
        """A source's document could not be fetched: store the readable error."""
        request = failure.request  # type: ignore[attr-defined]
        source: config.Source = request.cb_kwargs["source"]
        error, status = describe_failure(failure)
        self.source_error(source, error, status, request.meta.get(ROLE))

    def source_error(
        self, source: config.Source, error: str, status: int | None, role: Any
    ) -> None:
        """Record a source failure on the source (when it is its own document) and the run."""
        logger.warning("%s: %s", source.name, error)
        self.state.result(source.name).fail(error)
        if role == "source":
            self.state.store.record_source_error(source.name, error, http_status=status)

    # -- entries and articles ------------------------------------------------------------

    def follow_entry(
        self,
        source: config.Source,
        hint: EntryHint,
        url: str | None = None,
        seen: tuple[str, ...] = (),
    ) -> Iterator[scrapy.Request]:
        """Request an entry's article page, unless the pre-filter says it cannot be relevant."""
        url = url or hint.link
        if not url:
            return
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            # Sitemaps and listing pages may link to file:, data: or ftp: addresses; only
            # the web is fetched (feeds.py drops such entries as it reads them too).
            logger.warning("%s: %.80s is not an http(s) address; not followed", source.name, url)
            return
        self.state.count(source.name, "entries")
        texts = (hint.title or "", hint.summary or "", *hint.tags)
        if not any(texts):
            texts = (_slug_words(url),)
        if not prefilter(self.state.settings.topic, *texts):
            self.state.count(source.name, "prefiltered")
            return
        self.state.readers.expect()
        yield scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            cb_kwargs={"source": source, "hint": hint, "seen": seen},
            meta={SOURCE: source.name, ROLE: "article"},
        )

    def parse_article(
        self, response: Response, source: config.Source, hint: EntryHint, seen: tuple[str, ...]
    ) -> Iterator[Page]:
        """An article page: hand it to the pipeline with every URL that led to it."""
        text = page_text(response) if isinstance(response, TextResponse) else None
        if (problem := _not_an_article(text)) is not None:
            self.state.result(source.name).counts["errors"] += 1
            logger.warning("%s: %s %s", source.name, response.url, problem)
            yield from self.unresolved(
                source, hint, response.request.url if response.request else response.url
            )
            return
        hops = tuple(response.meta.get("redirect_urls") or ())
        yield Page(
            url=response.url,
            source=source.name,
            fetched_at=utcnow(),
            html=text,
            seen_urls=tuple(dict.fromkeys((*seen, *hops))),
            hint=hint,
        )

    def article_failed(self, failure: Failure) -> Iterator[Page]:
        """An article page could not be fetched: keep what the feed said, marked unresolved."""
        if failure.check(KnownURL):
            return
        request = failure.request  # type: ignore[attr-defined]
        source: config.Source = request.cb_kwargs["source"]
        error, _ = describe_failure(failure)
        if error == FORBIDDEN_BY_ROBOTS:  # not ours to read, not even as a headline
            return
        self.state.result(source.name).counts["errors"] += 1
        logger.warning("%s: article %s: %s", source.name, request.url, error)
        if failure.check(InternalAddressRefused):  # a way into someone's network is no headline
            return
        hops = request.meta.get("redirect_urls") or []
        yield from self.unresolved(
            source,
            request.cb_kwargs["hint"],
            hops[0] if hops else request.url,
            gone=_gone(failure),
        )

    def unresolved(
        self, source: config.Source, hint: EntryHint, url: str, *, gone: bool = True
    ) -> Iterator[Page]:
        """A Page made of the feed's words alone, when the feed said enough to keep; `gone`
        when asking for the page again will not help."""
        if hint.title:
            yield Page(
                url=url,
                source=source.name,
                fetched_at=utcnow(),
                html=None,
                seen_urls=(hint.link,) if hint.link else (),
                hint=hint,
                unresolved=True,
                gone=gone,
            )


def _gone(failure: Failure) -> bool:
    """Whether a failed article page is gone for good: a 4xx answer other than 408 and 429
    (a timeout, a reset, a 5xx or a 429 may pass, and the page is asked for again)."""
    _, status = describe_failure(failure)
    return status is not None and 400 <= status < 500 and status not in (408, 429)


def _header(response: Response, name: bytes) -> str | None:
    """A response header as text, if present and printable."""
    value = response.headers.get(name)
    if not value:
        return None
    text = value.decode("latin-1", "replace")
    return None if any(ch in text for ch in "\r\n\0") else text[:512]


def _slug_words(url: str) -> str:
    """The words of a URL's path, for the pre-filter when an entry has no title."""
    return _SLUG_SEPARATORS.sub(" ", unquote(urlsplit(url).path))


def _not_an_article(text: str | None) -> str | None:
    """Why a fetched page cannot be read as an article (None when it can)."""
    if text is None or _undecodable(text):
        return "is not a readable HTML page"
    if is_feed_document(text):  # an entry that links to a feed, served as HTML or not
        return "is a feed, not an article page"
    return None


def _undecodable(text: str) -> bool:
    """Binary junk served as HTML: NULs, or many replacement or control characters."""
    sample = text[:20000]
    # control characters too: bytes read as Windows-1252 (see crawler.decoding) seldom
    # become U+FFFD, but binary is full of C0 controls that no text has
    junk = len(_JUNK.findall(sample))  # a regex: a loop over 20,000 characters took 0.1 ms
    return "\x00" in sample or junk > max(20, len(sample) // 50)


_JUNK = re.compile("[\ufffd\x00-\x08\x0b\x0e-\x1f]")
