"""Pages read in a second process while the crawl fetches more.

Extracting a page, judging it and reading a kept article (labels, facts, evidence) need no
store and take most of a crawl's CPU; the crawl's own process also runs Scrapy and writes
the store. A busy crawl hands that work to reader processes and uses the machine's other
core. A small crawl never starts one: the first `START_AFTER` pages are read in the crawl's
own process. The readers start once more pages than that have been asked for, so that
they are up (a second or two of imports) by the time most pages come back. Everything is
read in the crawl's own process when `[crawl] readers = 0` or when a reader process dies;
it also reads while its readers start and whenever they have `BACKLOG` pages each
waiting: both cores read.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from config import Topic
from pipeline.ingest import Prepared, prepare
from pipeline.records import Page
from pipeline.understand import Reading, Subject

logger = logging.getLogger("sequelwatch.crawl")

# Pages read in the crawl's own process before the readers start: starting one costs about
# as much as reading fifty pages, so a crawl that finds a few new articles does without.
START_AFTER = 40
# Pages that may wait at each reader process; one more is read in the crawl's own process.
BACKLOG = 8

_topic: Topic | None = None  # in a reader process: the topic it reads for


def _start_reader(topic: Topic) -> None:
    """A reader process's initializer: keep the topic (sent once, not with every page)."""
    global _topic
    _topic = topic


def _ready() -> None:
    """Sent to a starting reader process: done once it is up."""


def _prepare_here(page: Page) -> Prepared:
    """In a reader process: prepare one page for the topic it was started with."""
    assert _topic is not None, "reader process started without a topic"
    return prepare(page, _topic)


class Readers:
    """Where a crawl's pages are prepared: here, then (when busy) in reader processes."""

    def __init__(self, topic: Topic, processes: int) -> None:
        self.topic = topic
        self.processes = processes
        self.seen = 0
        self.asked = 0  # pages requested so far: more than START_AFTER, and readers start
        self.pool: ProcessPoolExecutor | None = None
        self.started: Future[Any] | None = None  # the first work sent: done, they are up
        self.failed = False
        self.pending: list[Future[Prepared]] = []  # pages sent to the readers, not yet read
        self.sent = 0  # pages read by reader processes

    async def prepare(self, page: Page) -> Prepared:
        """The page prepared, by a reader process when one is free enough, else here."""
        self.seen += 1
        pool = self._pool()
        # what the readers have not read yet, not what this process has not yet taken back:
        # while it reads a page itself, the readers' answers wait for it
        self.pending = [future for future in self.pending if not future.done()]
        if pool is not None and self._up() and len(self.pending) < BACKLOG * self.processes:
            future = pool.submit(_prepare_here, page)
            self.pending.append(future)
            self.started = self.started or future
            try:
                prepared = await asyncio.wrap_future(future)
            except BrokenProcessPool:
                self._broken()
            else:
                self.sent += 1
                return prepared
        return prepare(page, self.topic)

    def expect(self) -> None:
        """A page has been requested: once more than `START_AFTER` have, start the readers
        at once rather than when the pages arrive, which then would be read here while the
        readers import."""
        self.asked += 1
        if self.asked > START_AFTER and self.started is None:
            pool = self._pool()
            if pool is not None:
                self.started = pool.submit(_ready)

    def _pool(self) -> ProcessPoolExecutor | None:
        """The reader processes, started once the crawl has shown it is busy."""
        busy = max(self.seen, self.asked) > START_AFTER
        if self.pool is None and not self.failed and self.processes and busy:
            # spawn, not fork: the crawl's process runs threads (Twisted's, SQLite's)
            self.pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_reader,
                initargs=(self.topic,),
            )
            logger.info("reading pages in %d reader process(es) beside the crawl", self.processes)
        return self.pool

    def _up(self) -> bool:
        """Whether the reader processes have started: the first page sent to them waits
        for them to start, and meanwhile the pages after it are read here."""
        if self.started is None:
            return True
        if not self.started.done():
            return False
        if self.started.cancelled() or self.started.exception() is not None:
            self._broken()
            return False
        return True

    def _broken(self) -> None:
        """A reader process died: read everything here from now on."""
        if not self.failed:
            logger.warning("a reader process died; pages are read in the crawl's process")
        self.failed = True
        self.close()

    def close(self) -> None:
        """Stop the reader processes: queued work is cancelled, and the processes are
        waited for (the work the crawl needed was awaited already)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
            logger.info("%d of %d pages were read by reader processes", self.sent, self.seen)


# One crawl process, one set of readers and one table of readings made ahead of `settle`,
# shared by its spiders (each has its own CrawlState) and by crawler.run, which settles.
_readers: dict[str, Readers] = {}
_read_ahead: dict[str, dict[int, tuple[Subject, Reading]]] = {}


def readers_for(database: str, topic: Topic, processes: int) -> Readers:
    """This process's readers for a store."""
    found = _readers.get(database)
    if found is None:
        found = _readers[database] = Readers(topic, processes)
    return found


def read_ahead_for(database: str) -> dict[int, tuple[Subject, Reading]]:
    """The readings made while storing a crawl's articles into this store, by article id."""
    return _read_ahead.setdefault(database, {})


def finish(database: str) -> dict[int, tuple[Subject, Reading]]:
    """The crawl is over: stop its readers; the readings they made, for `settle`."""
    readers = _readers.pop(database, None)
    if readers is not None:
        readers.close()
    return _read_ahead.pop(database, {})
