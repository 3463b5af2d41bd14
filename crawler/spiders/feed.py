"""RSS and Atom feeds: full-content entries are articles; others lead to their pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

import config
from crawler.feeds import parse_feed
from crawler.middlewares import ROLE
from crawler.spiders.base import SourceSpider
from pipeline.records import Page
from pipeline.relevance import prefilter
from pipeline.store import utcnow


class FeedSpider(SourceSpider):
    """Reads RSS 0.9x/1.0/2.0 and Atom feeds with feedparser."""

    name = "feed"
    kind = "feed"

    def read_source(self, response: Response, source: config.Source) -> Iterator[Any]:
        """Each entry: its own full content, or a request for its page."""
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        feed = parse_feed(response.body, response.url, content_type)
        if feed.problem:
            self.source_error(source, feed.problem, response.status, response.meta.get(ROLE))
        for entry in feed.entries:
            if entry.content_html is None:
                yield from self.follow_entry(source, entry.hint)
                continue
            self.state.count(source.name, "entries")
            hint = entry.hint
            if not prefilter(
                self.state.settings.topic, hint.title or "", hint.summary or "", *hint.tags
            ):
                self.state.count(source.name, "prefiltered")
                continue
            yield Page(
                url=entry.link,
                source=source.name,
                fetched_at=utcnow(),
                html=entry.content_html,
                hint=hint,
                from_feed=True,
            )
