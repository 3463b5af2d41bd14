"""Listing pages: article links by a CSS selector, following `next` a few pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from parsel import Selector
from scrapy.http import Response, TextResponse

import config
from crawler.spiders.base import SourceSpider
from pipeline.records import EntryHint

_PAGE = "sw_page"


def _href(node: Selector) -> str | None:
    """The link of a selected element: its own href, or its first descendant anchor's."""
    href = node.attrib.get("href") or node.css("a::attr(href)").get()
    return href.strip() if href else None


class ListingSpider(SourceSpider):
    """Reads a site's news listing and follows the articles it links to."""

    name = "listing"
    kind = "listing"

    def read_source(self, response: Response, source: config.Source) -> Iterator[Any]:
        """Each matching link is an entry; `next` leads to one more page, up to the limit."""
        if not isinstance(response, TextResponse):
            raise ValueError("the listing page is not an HTML page")
        page = response.meta.get(_PAGE, 1)
        nodes = response.css(source.links or "a")
        if not nodes and page == 1:
            raise ValueError(f"the links selector {source.links!r} matched nothing on the page")
        for node in nodes:
            href = _href(node)
            if not href or href.startswith(("#", "javascript:", "mailto:")):
                continue
            url = response.urljoin(href)
            title = " ".join(" ".join(node.css("::text").getall()).split())
            title = title or node.attrib.get("title") or ""
            yield from self.follow_entry(source, EntryHint(title=title or None, link=url))
        limit = source.max_pages or self.state.settings.crawl.max_listing_pages
        following = response.css(source.next).attrib.get("href") if source.next else None
        if following and page < limit:
            request = self.source_request(response.urljoin(following), source, role="page")
            request.meta[_PAGE] = page + 1
            yield request
