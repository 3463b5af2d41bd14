"""The window `settle` keeps in memory answers as the store's query does."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from config import StorySettings, Topic
from pipeline import understand
from pipeline.ingest import Ingestor
from pipeline.records import Article, Relevance
from pipeline.store import Store, iso
from pipeline.stories import matching_stories, parse_evidence
from pipeline.window import StoryWindow
from tests.pipeline.test_settle import story_pages
from tests.stories import CAST_A, DAY, page

SPAN = timedelta(hours=6)


def save(store: Store, url: str, published: datetime | None, seen: datetime) -> int:
    """Store a kept article published and first seen then; its id."""
    return store.save_article(
        Article(
            url=url,
            urls=(url,),
            title=f"Alita 2 news {url}",
            outlet="The Trade Ledger",
            authors=(),
            published=published,
            language="en",
            description=None,
            text="",
            source="test",
            fetched_at=seen,
            relevance=Relevance(0.9, True, "title names the sequel"),
        )
    ).id


def same_answer(store: Store, window: StoryWindow, limit: int) -> None:
    """The window and the store give the same candidates around every hour of the day."""
    for hour in range(-2, 16):
        near = DAY + timedelta(hours=hour, minutes=30 * (hour % 2))
        since, until, at = iso(near - SPAN) or "", iso(near + SPAN) or "", iso(near) or ""
        mine = window.candidates(since, until, at, limit)
        theirs = [
            (story, article, parse_evidence(keys), when)
            for story, article, keys, when in store.story_candidates(since, until, at, limit)
        ]
        assert sorted(mine) == sorted(theirs), near
        counted: Counter[str] = Counter()
        for *_, keys, _ in theirs:
            counted.update(keys)
        assert +window.counts == counted, near
        holding: dict[str, set[int]] = {}
        for _, article, keys, _ in theirs:
            for key in keys:
                holding.setdefault(key, set()).add(article)
        assert window.holders == holding, near


def test_the_window_answers_as_the_store_through_merges_and_copies(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    # equal distances on both sides of the half hours; a future publication date is not
    # believed; one article has no date at all
    hours = [0, 1, 2, 2, 3, 4, 4, 5, 7, 8, 8, 9, 12, -1]
    ids = [
        save(store, f"https://a.example/{n}", DAY + timedelta(hours=h), DAY + timedelta(hours=9))
        for n, h in enumerate(hours)
    ]
    ids.append(save(store, "https://a.example/future", DAY + timedelta(days=3), DAY))
    ids.append(save(store, "https://a.example/undated", None, DAY + timedelta(hours=6)))
    stories = []
    for n, article in enumerate(ids):
        keys = {"c:cast", f"t:word{n % 3}", f"q:{n}"}
        store.mark_article(article, duplicate_of=None, stale=False, evidence=keys)
        if n < 4:
            stories.append(store.create_story(article, "a story", iso(DAY) or "", stale=False))
        else:
            store.join_story(article, stories[n % 4], iso(DAY) or "", stale=False)
    store.mark_article(ids[5], duplicate_of=ids[4], stale=False, evidence={"c:cast"})
    window = StoryWindow(
        store, iso(DAY - timedelta(days=1)) or "", iso(DAY + timedelta(days=2)) or ""
    )
    same_answer(store, window, limit=4)

    kept = store.merge_stories([stories[2], stories[1]])
    window.merge([stories[2], stories[1]], kept)
    same_answer(store, window, limit=4)

    # a later-found original published first makes a candidate a copy
    store.set_original(ids[2], ids[3])
    window.reload(ids[2])
    same_answer(store, window, limit=3)

    new = save(store, "https://a.example/new", DAY + timedelta(hours=4), DAY + timedelta(hours=9))
    store.mark_article(new, duplicate_of=None, stale=False, evidence={"c:cast", "q:new"})
    store.join_story(new, kept, iso(DAY) or "", stale=False)
    window.reload(new)
    same_answer(store, window, limit=4)
    with pytest.raises(ValueError):
        window.candidates(iso(DAY - timedelta(days=2)) or "", iso(DAY) or "", iso(DAY) or "")
    store.close()


class MergeCountingStore(Store):
    """Counts the merges of stories that settling makes."""

    merges = 0

    def merge_stories(self, stories: list[int]) -> int:  # type: ignore[override]
        self.merges += len(set(stories)) > 1
        return super().merge_stories(stories)


def placements(
    tmp_path: Path, topic: Topic, name: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[tuple[int, ...]], list[list[int]], int]:
    """The sample world and copies of one of its articles settled: (article, story, copy of)
    of every article, the candidates each was compared with, and how many merges were made.

    One copy, published last, is placed before the others wait: the first of them found
    turns it into a copy, and it must then leave the window.
    """
    compared: list[list[int]] = []

    def recorded(keys: frozenset[str], when: datetime, members: Any, *args: Any) -> Any:
        compared.append(sorted(article for _, article, _, _ in members))
        return matching_stories(keys, when, members, *args)

    monkeypatch.setattr(understand, "matching_stories", recorded)
    store = MergeCountingStore(tmp_path / f"{name}.db")
    ingestor = Ingestor(store, topic, StorySettings())
    body = f"Originally published by The Trade Ledger.\n\n{CAST_A}"
    ingestor.ingest(page("https://c.example/last", "Alita 2 casting", body, "Pulse", DAY))
    for _, fetched in story_pages():
        ingestor.ingest(fetched, wait=True)
    for n in range(3):
        when = DAY - timedelta(days=1, hours=n)
        copy = page(f"https://c.example/{n}", "Alita 2 casting", body, "Pulse", when)
        ingestor.ingest(copy, wait=True)
    ingestor.settle()
    rows = store.conn.execute("SELECT id, story_id, duplicate_of FROM articles ORDER BY id")
    found = [tuple(row) for row in rows]
    store.close()
    return found, compared, store.merges


def test_settling_with_the_window_places_as_the_store_query_does(
    tmp_path: Path, topic: Topic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(understand, "STORY_CANDIDATES", 3)  # busy windows, even here
    windowed, compared, merges = placements(tmp_path, topic, "window", monkeypatch)
    monkeypatch.setattr(understand, "_window", lambda *_: None)
    assert placements(tmp_path, topic, "query", monkeypatch) == (windowed, compared, merges)
    assert merges and sum(copy is not None for *_, copy in windowed) >= 3
    assert max(len(members) for members in compared) == 3


def test_gathering_shared_evidence_by_key_scores_as_comparing_each_article() -> None:
    rng = random.Random(7)
    vocabulary = [f"p:person {n}" for n in range(12)] + [f"q:quote {n}" for n in range(30)]
    members = [
        (
            rng.randrange(40),  # story
            article,
            frozenset(rng.sample(vocabulary[:6], 2) + rng.sample(vocabulary, rng.randrange(6))),
            DAY + timedelta(hours=rng.randrange(-72, 72)),
        )
        for article in range(1, 301)
    ]
    counts: Counter[str] = Counter()
    holders: dict[str, set[int]] = {}
    for _, article, keys, _ in members:
        counts.update(keys)
        for key in keys:
            holders.setdefault(key, set()).add(article)
    matched = 0
    for n in range(40):
        keys = frozenset(rng.sample(vocabulary, 4 + n % 5))
        args = (keys, DAY, members, 0.2, 14 * 24.0, None)
        each = matching_stories(*args, Counter(counts))
        assert matching_stories(*args, Counter(counts), holders) == each
        assert matching_stories(*args) == each
        matched += bool(each)
    assert matched > 10  # the comparison saw matches, not only empty answers
