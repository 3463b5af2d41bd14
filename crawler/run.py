"""Run the source spiders together in one Scrapy process and report per source."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings as ScrapySettings

import config
from crawler.reading import finish
from crawler.scrapy_settings import from_config
from crawler.spiders.feed import FeedSpider
from crawler.spiders.listing import ListingSpider
from crawler.spiders.search import SearchSpider
from crawler.spiders.sitemap import SitemapSpider
from pipeline.store import Store, utcnow
from pipeline.understand import settle

logger = logging.getLogger(__name__)

SPIDERS = {cls.kind: cls for cls in (FeedSpider, SearchSpider, ListingSpider, SitemapSpider)}


class UnknownSource(ValueError):
    """A source named on the command line is not in the sources file."""


@dataclass(frozen=True)
class CrawlReport:
    """The outcome of one crawl: the run's totals and each source's line."""

    run: dict[str, Any]
    sources: list[dict[str, Any]]

    @property
    def all_failed(self) -> bool:
        """True when every crawled source failed."""
        return bool(self.sources) and all(s["status"] == "error" for s in self.sources)


def select_sources(settings: config.Settings, names: tuple[str, ...] = ()) -> list[config.Source]:
    """The sources to crawl: the named ones, else every enabled one."""
    if not names:
        return [s for s in settings.sources if s.enabled]
    known = {s.name: s for s in settings.sources}
    missing = [n for n in names if n not in known]
    if missing:
        raise UnknownSource(
            f"no source named {', '.join(missing)} in {settings.sources_path}"
            f" (known: {', '.join(sorted(known)) or 'none'})"
        )
    return [known[n] for n in dict.fromkeys(names)]


def scrapy_settings(settings: config.Settings, run_id: int) -> ScrapySettings:
    """The project's Scrapy settings with the configuration's [crawl] table applied."""
    scrapy = ScrapySettings()
    scrapy.setmodule("crawler.settings", priority="project")
    scrapy.setdict(from_config(settings), priority="cmdline")
    scrapy.set("SEQUELWATCH_CONFIGURED", True, priority="cmdline")
    scrapy.set("SEQUELWATCH_RUN_ID", run_id, priority="cmdline")
    return scrapy


def _process(scrapy: ScrapySettings) -> CrawlerProcess:
    """A Scrapy process that logs through the handlers and levels already set up.

    Scrapy sets its own loggers to DEBUG when it starts: without the levels put back,
    every crawled page and every scraped item (its whole text) would be written to stderr,
    which is noise to read and, in a big crawl, time spent formatting it.
    """
    levels = {name: logging.getLogger(name).level for name in ("scrapy", "twisted")}
    scrapy.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    process = CrawlerProcess(scrapy)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    return process


def crawl(settings: config.Settings, names: tuple[str, ...] = ()) -> CrawlReport:
    """Crawl the chosen sources in one Scrapy process (this one) and return the report."""
    sources = select_sources(settings, names)
    store = Store(settings.database)
    try:
        store.sync_sources(settings.sources)
        # a run still open after the longest a crawl may take was killed with its crawl
        limit = timedelta(seconds=config.parse_duration(settings.schedule.crawl_timeout))
        store.interrupt_stale_runs(utcnow() - limit)
        run_id = store.start_run([s.name for s in sources])
    finally:
        store.close()
    process = _process(scrapy_settings(settings, run_id))
    for kind, spider in SPIDERS.items():
        chosen = [s.name for s in sources if s.kind == kind]
        if chosen:
            process.crawl(spider, sources=",".join(chosen))
    try:
        process.start()
    finally:
        read_ahead = finish(str(settings.database))  # stop the reader processes
    store = Store(settings.database)
    try:
        # every spider has stored its pages: place them in stories together
        placed = settle(store, settings.topic, settings.stories, read_ahead=read_ahead)
        logger.info("placed %d new articles in stories", placed)
        run = store.finish_run(run_id)
        return CrawlReport(run=run, sources=store.source_runs(run_id))
    finally:
        store.close()
