"""The one item pipeline: each fetched page goes to pipeline.ingest."""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.state import CrawlState, crawl_state
from pipeline.ingest import IngestResult
from pipeline.records import Page

logger = logging.getLogger("sequelwatch.crawl")


class IngestPipeline:
    """Hand each Page to the Ingestor; tally new, known and irrelevant articles per source."""

    def __init__(self, state: CrawlState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IngestPipeline:
        """Share the crawler's store and tallies."""
        return cls(crawl_state(crawler))

    async def process_item(self, item: object) -> IngestResult:
        """Store one page; its story is found when the crawl settles. Store errors are not
        swallowed. The page is extracted and read meanwhile, by a reader process when the
        crawl is busy (crawler.reading)."""
        if not isinstance(item, Page):
            raise DropItem(f"not a Page: {type(item).__name__}")
        prepared = await self.state.readers.prepare(item)
        result = self.state.ingestor.ingest(item, wait=True, prepared=prepared)
        if not result.new:
            self.state.count(item.source, "known")
        elif result.kept:
            self.state.count(item.source, "new_articles")
            logger.info("%s: kept %r", item.source, result.title[:90])
        else:
            self.state.count(item.source, "irrelevant")
            logger.debug("%s: dropped %r: %s", item.source, result.title[:90], result.reason)
        return result
