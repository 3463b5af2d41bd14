"""Understanding a stored article: copies, stale news, its story, labels and facts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from config import StorySettings, Topic
from pipeline.dedupe import (
    EXCERPT_SHARE,
    Signature,
    best_stored_match,
    excerpt_share,
    may_be_excerpt,
    signature,
    somewhat_alike,
    tokens,
    word_pairs,
)
from pipeline.facts import analyse
from pipeline.records import Analysis
from pipeline.store import STORY_CANDIDATES, Store, iso
from pipeline.stories import Background, evidence_keys, matching_stories, parse_evidence
from pipeline.window import StoryWindow

# A fact read from a hedged or general remark ("sequels have been greenlit on less") comes
# out below this: it is no claim about the sequel, and it is not recorded.
MIN_FACT_CONFIDENCE = 0.5


@dataclass(frozen=True, slots=True)
class Subject:
    """The stored article being understood."""

    id: int
    title: str
    text: str
    description: str
    outlet: str | None
    published: datetime | None
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class Understanding:
    """What was found: the original it copies, staleness, its story and what it says."""

    duplicate_of: int | None
    stale: bool
    story_id: int
    new_story: bool
    changes: int  # facts that differ from what was known before
    analysis: Analysis


def _when(text: str | None) -> datetime | None:
    """A stored ISO 8601 time."""
    return datetime.fromisoformat(text) if text else None


def subject_of(row: dict[str, Any]) -> Subject:
    """The Subject of a stored article row."""
    return Subject(
        id=row["id"],
        title=row["title"],
        text=row["text"] or "",
        description=row["description"] or "",
        outlet=row["outlet"],
        published=_when(row["published"]),
        first_seen=_when(row["first_seen"]) or datetime.min,
    )


def news_moment(subject: Subject) -> datetime:
    """When the article's news happened: a first crawl sees a week of news at once."""
    return min(subject.published or subject.first_seen, subject.first_seen)


def is_stale(published: datetime | None, first_seen: datetime, settings: StorySettings) -> bool:
    """Whether an article was published long before it was first seen (a re-post)."""
    return published is not None and (first_seen - published).total_seconds() > (
        settings.stale_seconds
    )


def _copy_of(
    store: Store, subject: Subject, threshold: float, mine: Signature | None
) -> tuple[int | None, int | None]:
    """Index the article's MinHash; return the original it copies and the article it matched.

    The original is the copy published first: when a syndicated copy was crawled before
    the article it copies, the earlier-stored one becomes the copy.
    """
    if mine is None:
        return None, None
    buckets = mine.buckets()
    candidates = store.lsh_candidates(buckets)
    store.save_signature(subject.id, mine.to_bytes(), buckets)
    return _copy_among(store, subject, candidates, threshold, mine)


def _copy_in_story(
    store: Store, subject: Subject, story_id: int, threshold: float, mine: Signature | None
) -> tuple[int | None, int | None]:
    """`_copy_of` among the articles of the story the article joined.

    The LSH index finds a pair as alike as `threshold` only about 6 times in 10 (64 bands
    of 3 values); a word-spun copy (about 0.3 alike) names the same people and numbers as
    its original, so it joins the original's story, where every article is compared.
    """
    if mine is None:
        return None, None
    stored = store.story_signatures(story_id)
    found = _copy_among(store, subject, stored, threshold, mine)
    if found[0] is None and found[1] is None:
        found = _excerpt_among(store, subject, stored, mine)
    return found


def _excerpt_among(
    store: Store, subject: Subject, stored: dict[int, bytes], mine: Signature
) -> tuple[int | None, int | None]:
    """The original and the matched article when one of the story's articles is an excerpt
    of the other (a scraper's first paragraphs and a "continue reading" link): nearly all
    the shorter one's word pairs are the longer one's. Only somewhat alike ones are read."""
    others = {other: blob for other, blob in stored.items() if other != subject.id}
    alike = somewhat_alike(mine, others)
    lengths = store.text_lengths([other for other, _ in alike])
    mine_length = len(subject.text)
    fit = [
        other
        for other, similarity in alike
        if may_be_excerpt(similarity, mine_length, lengths.get(other, 0))
    ]
    if not fit:
        return None, None
    texts, pairs = store.article_texts(fit), word_pairs(tokens(subject.text))
    for other in fit:
        if excerpt_share(pairs, texts.get(other, "")) >= EXCERPT_SHARE:
            return _original(store, subject, other)
    return None, None


def _copy_among(
    store: Store, subject: Subject, stored: dict[int, bytes], threshold: float, mine: Signature
) -> tuple[int | None, int | None]:
    """The original and the matched article among these stored signatures (not its own)."""
    others = {other: blob for other, blob in stored.items() if other != subject.id}
    match = best_stored_match(mine, others, threshold)
    return (None, None) if match is None else _original(store, subject, match[0])


def _original(store: Store, subject: Subject, matched: int) -> tuple[int | None, int | None]:
    """(the original the article copies, the article it matched), the original being the
    one published first: a stored article published later becomes the copy of this one."""
    original = store.original_of(matched)
    theirs = store.published(original)
    if subject.published is not None and theirs is not None and subject.published < theirs:
        store.set_original(original, subject.id)
        return None, original
    return original, original


@dataclass(frozen=True, slots=True)
class Reading:
    """What an article says, read before it is placed: labels, facts, evidence and the
    MinHash of its text (None when too short to compare)."""

    analysis: Analysis
    keys: frozenset[str]
    signature: Signature | None


def read(topic: Topic, subject: Subject) -> Reading:
    """Read an article's labels, facts, evidence and MinHash (no store needed)."""
    analysis = analyse(
        topic, subject.title, subject.text, subject.description, subject.published, subject.outlet
    )
    keys = evidence_keys(topic, subject.title, subject.text, analysis, subject.description)
    return Reading(analysis, keys, signature(subject.text, subject.description))


def understand(
    store: Store,
    topic: Topic,
    settings: StorySettings,
    subject: Subject,
    reading: Reading | None = None,
    background: Background | None = None,
    window: StoryWindow | None = None,
) -> Understanding:
    """Find the article's original, story, labels and facts, and store them in one go.

    `window`, when given, answers for the store which story articles are near in time,
    and is told what placing the article changed.
    """
    reading = reading or read(topic, subject)
    analysis, keys = reading.analysis, reading.keys
    with store.transaction():
        original, kin = _copy_of(store, subject, settings.duplicate_threshold, reading.signature)
        stale = is_stale(subject.published, subject.first_seen, settings)
        store.mark_article(subject.id, duplicate_of=original, stale=stale, evidence=keys)
        story_id, new_story = _place(store, settings, subject, kin, keys, stale, background, window)
        if kin is None and not new_story:
            original, kin = _copy_in_story(
                store, subject, story_id, settings.story_duplicate_threshold, reading.signature
            )
            if original is not None:
                store.set_original(subject.id, original)
        if window is not None:
            # the article may now be a candidate; the one it matched may have become a copy
            window.reload(subject.id)
            if kin is not None:
                window.reload(kin)
        store.save_labels(subject.id, analysis.labels)
        changes = store.save_facts(
            subject.id,
            story_id,
            [fact for fact in analysis.facts if fact.confidence >= MIN_FACT_CONFIDENCE],
            outlet=subject.outlet,
            stated_at=iso(subject.published or subject.first_seen) or "",
            first_seen=iso(subject.first_seen) or "",
            stale=stale,
        )
    return Understanding(original, stale, story_id, new_story, changes, analysis)


def _place(
    store: Store,
    settings: StorySettings,
    subject: Subject,
    kin: int | None,
    keys: frozenset[str],
    stale: bool,
    background: Background | None,
    window: StoryWindow | None,
) -> tuple[int, bool]:
    """Join the story of the article it copies (or is copied by), or the stories whose
    recent articles are alike enough (merged into one), or open one."""
    when = iso(subject.first_seen) or ""
    story_id = store.article_story(kin) if kin is not None else None
    if story_id is None:
        moment = news_moment(subject)
        members, counts, holders = _candidates(store, window, moment, settings)
        found = matching_stories(
            keys,
            moment,
            members,
            settings.join_threshold,
            settings.window_seconds / 3600,
            background,
            counts,
            holders,
        )
        if found:
            # An article that reports the news of two stories as a whole shows they were
            # one: they merge. One that merely touches a story through a single article
            # does not (else one interview mentioning a casting rumour chains them all).
            bridged = [m.story for m in found[1:] if m.mean >= settings.join_threshold]
            story_id = store.merge_stories([found[0].story, *bridged])
            if window is not None:
                window.merge([found[0].story, *bridged], story_id)
    if story_id is None:
        return store.create_story(subject.id, subject.title, when, stale=stale), True
    store.join_story(subject.id, story_id, when, stale=stale)
    return story_id, False


def _candidates(
    store: Store, window: StoryWindow | None, moment: datetime, settings: StorySettings
) -> tuple[
    list[tuple[int, int, frozenset[str], datetime]],
    Counter[str] | None,
    dict[str, set[int]] | None,
]:
    """The story articles near the moment, from the window if there is one, with how many
    of them have each key and which (None, None: not counted yet)."""
    span = timedelta(seconds=settings.window_seconds)
    since, until, near = iso(moment - span) or "", iso(moment + span) or "", iso(moment) or ""
    if window is not None:
        members = window.candidates(since, until, near, STORY_CANDIDATES)
        return members, window.counts, window.holders
    members = [
        (story, article, parse_evidence(stored), seen)
        for story, article, stored, seen in store.story_candidates(
            since, until, near, STORY_CANDIDATES
        )
    ]
    return members, None, None


# How many waiting articles are placed together: their evidence is weighed as one batch.
SETTLE_BATCH = 500


def _reading(
    topic: Topic, row: Subject, read_ahead: dict[int, tuple[Subject, Reading]] | None
) -> Reading:
    """The article's reading: the one made when it was stored if it read the same text."""
    known = read_ahead.pop(row.id, None) if read_ahead is not None else None
    if known is not None and _same_words(known[0], row):
        return known[1]
    return read(topic, row)


def _same_words(a: Subject, b: Subject) -> bool:
    """Whether two subjects give `read` the same input."""
    return (a.title, a.text, a.description, a.published) == (
        b.title,
        b.text,
        b.description,
        b.published,
    )


def _window(store: Store, settings: StorySettings, rows: list[Subject]) -> StoryWindow:
    """The story articles any of these articles may join, in memory."""
    span = timedelta(seconds=settings.window_seconds)
    moments = [news_moment(row) for row in rows]
    return StoryWindow(store, iso(min(moments) - span) or "", iso(max(moments) + span) or "")


def settle(
    store: Store,
    topic: Topic,
    settings: StorySettings,
    batch: int = SETTLE_BATCH,
    each: Callable[[Understanding], None] | None = None,
    read_ahead: dict[int, tuple[Subject, Reading]] | None = None,
) -> int:
    """Understand the kept articles still waiting for a story, a batch at a time; how many.

    A crawl stores its articles as they come and leaves them waiting; settling reads a
    batch of them first, then places them in the order their news happened, each weighed
    against the evidence of the whole batch. So the stories made do not depend on which
    page happened to arrive first. An article left waiting by a killed crawl is placed by
    the next settle. `read_ahead` holds readings made while the crawl stored the articles
    (used, and removed, when the stored article still reads the same).
    """
    placed = 0
    tried: set[int] = set()
    while rows := [
        subject_of(row) for row in store.waiting_articles(batch) if row["id"] not in tried
    ]:
        readings = {row.id: _reading(topic, row, read_ahead) for row in rows}
        tried.update(readings)
        # The write lock first, then what still waits: another crawl (one that a killed
        # daemon left running) may have placed some of these since they were read.
        with store.transaction(immediate=True):
            waiting = store.still_waiting(list(readings))
            rows = [row for row in rows if row.id in waiting]
            if not rows:
                continue
            background = Background()
            for row in rows:
                background.add(readings[row.id].keys)
            # under the write lock only we change the story articles: keep them in memory
            window = _window(store, settings, rows)
            for row in rows:
                reading = readings[row.id]
                found = understand(store, topic, settings, row, reading, background, window)
                background.remove(reading.keys)
                placed += 1
                if each:
                    each(found)
    return placed
