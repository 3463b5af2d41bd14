"""Fetched page -> Article -> store: the stages run, in order, for each page."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from config import StorySettings, Topic
from pipeline.canonical import choose_canonical, clean_url
from pipeline.extract import extract
from pipeline.records import Article, Extracted, Page, Relevance
from pipeline.relevance import judge
from pipeline.store import Store
from pipeline.understand import Reading, Subject, read, settle, understand

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What happened to one page: the article it became, whether it was new and kept."""

    article_id: int
    url: str
    title: str
    new: bool
    kept: bool
    reason: str
    story_id: int | None = None
    duplicate_of: int | None = None


def _from_hint(page: Page) -> Extracted:
    """What is known of an article when its page could not be fetched: the feed's words."""
    hint = page.hint
    return Extracted(
        title=hint.title,
        canonical=None,
        outlet=hint.outlet,
        authors=hint.authors,
        published=hint.published,
        language=hint.language,
        description=hint.summary,
        text="",
    )


def _host(url: str) -> str | None:
    """The host of a URL, without a leading www., as the outlet of last resort."""
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None


def build_article(page: Page, topic: Topic) -> Article:
    """Extract, canonicalize and judge one page, without storing it."""
    found = extract(page.html, page.url) if page.html else _from_hint(page)
    hint = page.hint
    title = found.title or hint.title or ""
    text = found.text or (hint.summary or "" if page.unresolved else "")
    description = found.description or hint.summary
    url = choose_canonical(page.url, found.canonical) if page.html else clean_url(page.url)
    urls = {url, page.url, clean_url(page.url)}
    for seen in page.seen_urls:
        urls.update((seen, clean_url(seen)))
    outlet = found.outlet or hint.outlet or _host(url)
    relevance: Relevance = judge(topic, title, text, description or "", outlet)
    return Article(
        url=url,
        urls=tuple(sorted(u for u in urls if u)),
        title=title,
        outlet=outlet,
        authors=found.authors or hint.authors,
        published=found.published or hint.published,
        language=found.language or hint.language,
        description=description,
        text=text,
        source=page.source,
        fetched_at=page.fetched_at,
        relevance=relevance,
        unresolved=page.unresolved,
        gone=page.gone,
        from_feed=page.from_feed,
    )


@dataclass(frozen=True, slots=True)
class Prepared:
    """A page made into an article, and a kept one read: the work that needs no store."""

    article: Article
    reading: Reading | None  # labels, facts and evidence of a kept article


def subject_of_article(article_id: int, article: Article) -> Subject:
    """What understanding an article starts from, as `settle` reads it from the store."""
    return Subject(
        id=article_id,
        title=article.title,
        text=article.text,
        description=article.description or "",
        outlet=article.outlet,
        published=article.published,
        first_seen=article.fetched_at,
    )


def prepare(page: Page, topic: Topic) -> Prepared:
    """Extract, judge and (when kept) read one page: pure work, safe in another process."""
    article = build_article(page, topic)
    reading = read(topic, subject_of_article(0, article)) if article.relevance.kept else None
    return Prepared(article, reading)


class Ingestor:
    """Runs the pipeline's stages for each page and writes the result in one transaction."""

    def __init__(
        self,
        store: Store,
        topic: Topic,
        stories: StorySettings | None = None,
        read_ahead: dict[int, tuple[Subject, Reading]] | None = None,
    ) -> None:
        self.store = store
        self.topic = topic
        self.stories = stories or StorySettings()
        # the readings of stored articles left waiting, for `settle` not to read them again
        self.read_ahead = {} if read_ahead is None else read_ahead

    def ingest(
        self, page: Page, *, wait: bool = False, prepared: Prepared | None = None
    ) -> IngestResult:
        """Turn one fetched page into a stored article (or more URLs for a known one).

        A kept new article is understood at once, or with `wait` left for `settle`, which
        places a crawl's articles together whatever order they came in. `prepared` is the
        page already made into an article (by `prepare`, perhaps in another process).
        """
        prepared = prepared or Prepared(build_article(page, self.topic), None)
        article = prepared.article
        with self.store.transaction():
            saved = self.store.save_article(article)
            found = None
            if saved.new and article.relevance.kept:
                subject = subject_of_article(saved.id, article)
                if not wait:
                    found = understand(
                        self.store, self.topic, self.stories, subject, prepared.reading
                    )
                elif prepared.reading is not None:
                    self.read_ahead[saved.id] = (subject, prepared.reading)
        if saved.new:
            logger.debug(
                "%s %s (%s)",
                "kept" if article.relevance.kept else "dropped",
                article.url,
                article.relevance.reason,
            )
        return IngestResult(
            article_id=saved.id,
            url=article.url,
            title=article.title,
            new=saved.new,
            kept=article.relevance.kept,
            reason=article.relevance.reason,
            story_id=found.story_id if found else None,
            duplicate_of=found.duplicate_of if found else None,
        )

    def settle(self) -> int:
        """Place the articles left waiting; how many were placed."""
        return settle(self.store, self.topic, self.stories, read_ahead=self.read_ahead)
