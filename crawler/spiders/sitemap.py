"""News sitemaps and sitemap indexes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from scrapy.http import Response
from scrapy.utils.gz import gunzip

import config
from crawler.errors import TOO_LARGE_INFLATED
from crawler.middlewares import ROLE
from crawler.sitemaps import parse_sitemap
from crawler.spiders.base import SourceSpider

MAX_CHILD_SITEMAPS = 10  # an index of archives: the newest few are where news is


class SitemapSpider(SourceSpider):
    """Reads a sitemap index or (news) sitemap and follows the articles it lists."""

    name = "sitemap"
    kind = "sitemap"

    def read_source(self, response: Response, source: config.Source) -> Iterator[Any]:
        """An index leads to its newest child sitemaps; a sitemap to its articles."""
        body = response.body
        if body[:2] == b"\x1f\x8b":
            try:
                body = gunzip(body, max_size=self.state.settings.crawl.max_response_bytes)
            except ValueError:  # Scrapy's "decompressed past max_size": a gzip bomb
                raise ValueError(f"{TOO_LARGE_INFLATED}; dropped") from None
        sitemap = parse_sitemap(body)
        if sitemap.problem:
            self.source_error(source, sitemap.problem, response.status, response.meta.get(ROLE))
        if sitemap.children:
            oldest = datetime.min.replace(tzinfo=UTC)
            newest = sorted(sitemap.children, key=lambda c: c[1] or oldest, reverse=True)
            for url, _ in newest[:MAX_CHILD_SITEMAPS]:
                yield self.source_request(response.urljoin(url), source, role="page")
        for hint in sitemap.entries:
            yield from self.follow_entry(source, hint, response.urljoin(hint.link or ""))
