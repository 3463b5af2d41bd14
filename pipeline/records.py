"""The records that flow between the stages: what the crawler hands in, what is stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class EntryHint:
    """What a feed, search feed, listing or sitemap said about an article before fetching it."""

    title: str | None = None
    summary: str | None = None
    link: str | None = None
    published: datetime | None = None  # UTC-aware
    outlet: str | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One fetched article page, or one full-content feed entry, handed to pipeline.ingest."""

    url: str  # where the content came from (the final URL after redirects)
    source: str  # the configured source's name
    fetched_at: datetime  # UTC-aware
    html: str | None  # the page's HTML, or the entry's content HTML; None when unresolved
    seen_urls: tuple[str, ...] = ()  # every URL that led here: feed link, redirect hops
    hint: EntryHint = field(default_factory=EntryHint)
    from_feed: bool = False  # a full-content entry: no page was fetched
    unresolved: bool = False  # the publisher's page could not be reached: feed data only
    gone: bool = False  # unresolved for good (404, 410...): not asked for again


@dataclass(frozen=True, slots=True)
class Extracted:
    """What extraction found in one HTML page; every field may be missing."""

    title: str | None
    canonical: str | None  # the page's own rel=canonical / og:url, unvalidated
    outlet: str | None
    authors: tuple[str, ...]
    published: datetime | None  # UTC-aware
    language: str | None  # ISO 639-1, e.g. "en"
    description: str | None
    text: str  # the main text, paragraphs separated by blank lines; "" when none


@dataclass(frozen=True, slots=True)
class Relevance:
    """Whether an article is about the topic, how strongly, and why."""

    score: float  # 0.0 .. 1.0
    kept: bool
    reason: str  # one human sentence: what counted for and against


@dataclass(frozen=True, slots=True)
class Article:
    """One piece of journalism at one canonical URL, ready to be stored."""

    url: str  # canonical
    urls: tuple[str, ...]  # every URL seen for it, the canonical one included
    title: str
    outlet: str | None
    authors: tuple[str, ...]
    published: datetime | None  # UTC-aware
    language: str | None
    description: str | None
    text: str
    source: str
    fetched_at: datetime  # UTC-aware
    relevance: Relevance
    unresolved: bool = False
    gone: bool = False  # unresolved for good: its page is not asked for again
    from_feed: bool = False


@dataclass(frozen=True, slots=True)
class Label:
    """A category an article earned, how surely, and the sentence that earned it."""

    category: str  # one of the topic's categories: cast, release, plot, production
    confidence: float  # 0.0 .. 1.0
    sentence: str  # the evidence, as the article wrote it


@dataclass(frozen=True, slots=True)
class Fact:
    """A typed claim pulled out of an evidence sentence."""

    kind: str  # "release", "cast" or "production"
    subject: str  # release: "release"; cast: the person's name; production: "status"
    value: str  # normalised: "2030", "no earlier than 2030", "after Avatar 5", "returning", ...
    detail: str | None  # e.g. the role ("Alita") of a cast fact; the phrase as written
    sentence: str  # the sentence it was read from, as written
    confidence: float  # 0.0 .. 1.0


@dataclass(frozen=True, slots=True)
class Analysis:
    """What classification and fact extraction found in one article."""

    labels: tuple[Label, ...]
    facts: tuple[Fact, ...]
