"""News search feeds (Google News, Bing News): publisher pages behind wrapped links."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from scrapy.http import Response

import config
from crawler.feeds import parse_feed
from crawler.middlewares import ROLE
from crawler.spiders.base import SourceSpider
from pipeline.canonical import unwrap_redirect
from pipeline.records import EntryHint


def strip_outlet(hint: EntryHint) -> EntryHint:
    """Google News titles end with " - Outlet" (the outlet named in <source>): drop it."""
    title = hint.title or ""
    if hint.outlet and title.endswith(f" - {hint.outlet}"):
        return replace(hint, title=title[: -len(hint.outlet) - 3].rstrip())
    return hint


class SearchSpider(SourceSpider):
    """Reads a news search feed and reaches each publisher's article."""

    name = "search"
    kind = "search"

    def read_source(self, response: Response, source: config.Source) -> Iterator[Any]:
        """Unwrap links that carry their target; follow the redirects of the others."""
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        feed = parse_feed(response.body, response.url, content_type)
        if feed.problem:
            self.source_error(source, feed.problem, response.status, response.meta.get(ROLE))
        for entry in feed.entries:
            hint = strip_outlet(entry.hint)
            target = unwrap_redirect(entry.link) or entry.link
            yield from self.follow_entry(source, hint, target, seen=(entry.link,))
