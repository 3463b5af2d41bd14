"""What one crawler shares among its spider, middlewares and pipeline: store and tallies."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from scrapy import signals
from scrapy.crawler import Crawler

import config
from crawler.reading import finish, read_ahead_for, readers_for
from pipeline.ingest import Ingestor
from pipeline.store import Store

logger = logging.getLogger(__name__)

_ATTRIBUTE = "_sequelwatch_state"


@dataclass
class SourceResult:
    """One source's tally in this crawl, and how its own document fared."""

    counts: Counter[str] = field(default_factory=Counter)
    status: str = "ok"  # ok | not_modified | error
    error: str | None = None
    validators: tuple[str | None, str | None] | None = None  # ETag, Last-Modified to keep

    def fail(self, error: str) -> None:
        """Mark the source failed (the first error is the one kept)."""
        if self.status != "error":
            self.status, self.error = "error", error
        self.counts["errors"] += 1


class CrawlState:
    """The store, the ingestor and each source's result, for one crawler."""

    def __init__(self, settings: config.Settings, run_id: int | None) -> None:
        self.settings = settings
        self.store = Store(settings.database)
        database = str(settings.database)
        self.readers = readers_for(database, settings.topic, settings.crawl.readers)
        self.ingestor = Ingestor(
            self.store, settings.topic, settings.stories, read_ahead_for(database)
        )
        self.results: dict[str, SourceResult] = {}
        self.own_run = run_id is None
        self.run_id = run_id

    def result(self, source: str) -> SourceResult:
        """The result being tallied for a source."""
        return self.results.setdefault(source, SourceResult())

    def count(self, source: str | None, key: str, amount: int = 1) -> None:
        """Add to one of a source's counters."""
        if source:
            self.result(source).counts[key] += amount

    def open(self, source_names: list[str]) -> None:
        """Register the sources about to be crawled, and open a run if nobody else did."""
        self.store.sync_sources(s for s in self.settings.sources if s.name in source_names)
        if self.run_id is None:
            self.run_id = self.store.start_run(source_names)
        for name in source_names:
            self.result(name)

    def close(self, reason: str = "finished") -> None:
        """Write each source's result into the run, then close the store.

        The sources' validators are kept only when the spider finished: then every article
        their documents led to is stored. After a shutdown or a crash the next crawl reads
        the documents again instead of getting 304.
        """
        if reason == "finished":
            for name, result in self.results.items():
                if result.validators is not None:
                    self.store.save_validators(name, *result.validators)
        if self.run_id is not None:
            for name, result in self.results.items():
                self.store.record_source_run(
                    self.run_id, name, result.status, result.error, dict(result.counts)
                )
            if self.own_run:  # `scrapy crawl`, not `sequelwatch crawl`, which settles itself
                self.ingestor.settle()  # with the readings made ahead of it
                finish(str(self.settings.database))
                self.store.finish_run(self.run_id)
        self.store.close()


def crawl_state(crawler: Crawler) -> CrawlState:
    """The crawler's shared state, made on first use and closed when its spider closes."""
    state: CrawlState | None = getattr(crawler, _ATTRIBUTE, None)
    if state is None:
        settings = config.load(crawler.settings.get("SEQUELWATCH_CONFIG") or None)
        run_id = crawler.settings.getint("SEQUELWATCH_RUN_ID") or None
        state = CrawlState(settings, run_id)
        setattr(crawler, _ATTRIBUTE, state)
        crawler.signals.connect(state.close, signal=signals.spider_closed)
    return state
