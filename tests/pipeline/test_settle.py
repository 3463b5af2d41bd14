"""A crawl's articles are placed in stories together: the order they arrive in decides nothing."""

from __future__ import annotations

import random
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from config import StorySettings, Topic
from pipeline.ingest import Ingestor
from pipeline.records import Page
from pipeline.store import Store
from pipeline.understand import settle
from sequelwatch.sampleworld.server import SITE

MANIFEST = tomllib.loads((SITE.parent / "manifest.toml").read_text(encoding="utf-8"))
BASE = "https://sample.example"
FETCHED = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def story_pages() -> list[tuple[str, Page]]:
    """(story, page) for each manifest article about the sequel served as a page of its own."""
    pages = []
    for entry in MANIFEST["articles"]:
        file = SITE / entry["path"].lstrip("/")
        if entry["path"].endswith("/"):
            file = file / "index.html"
        if not entry["relevant"] or not entry.get("story") or not file.is_file():
            continue
        html = file.read_text(encoding="utf-8")
        pages.append((entry["story"], Page(BASE + entry["path"], "sample", FETCHED, html)))
    return pages


def partition(store: Store, pages: list[tuple[str, Page]]) -> dict[str, set[int | None]]:
    """The story ids each manifest story's articles ended up in."""
    found: dict[str, set[int | None]] = {}
    for story, page in pages:
        row = store.conn.execute(
            "SELECT a.story_id FROM articles a JOIN article_urls u ON u.article_id = a.id"
            " WHERE u.url = ?",
            (page.url,),
        ).fetchone()
        found.setdefault(story, set()).add(row[0] if row else None)
    return found


def test_the_sample_world_has_several_stories_to_tell_apart() -> None:
    stories = {story for story, _ in story_pages()}
    assert len(stories) >= 5
    assert len(story_pages()) >= 10


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_the_same_pages_in_any_order_make_the_same_stories(
    tmp_path: Path, topic: Topic, seed: int
) -> None:
    pages = story_pages()
    random.Random(seed).shuffle(pages)
    store = Store(tmp_path / "store.db")
    ingestor = Ingestor(store, topic, StorySettings())
    for _, page in pages:
        assert ingestor.ingest(page, wait=True).kept, page.url
    assert (
        ingestor.settle()
        == len(pages)
        - store.conn.execute("SELECT count(*) - count(DISTINCT id) FROM articles").fetchone()[0]
    )
    found = partition(store, pages)
    for story, ids in found.items():
        assert len(ids) == 1 and None not in ids, (story, ids)
    assert len({i for ids in found.values() for i in ids}) == len(found)
    store.close()


def test_articles_left_waiting_by_a_killed_crawl_are_placed_by_the_next_settle(
    tmp_path: Path, topic: Topic
) -> None:
    pages = story_pages()
    store = Store(tmp_path / "store.db")
    for _, page in pages[:5]:
        Ingestor(store, topic, StorySettings()).ingest(page, wait=True)
    store.close()  # the crawl dies here, before it settles
    store = Store(tmp_path / "store.db")
    waiting = store.conn.execute(
        "SELECT count(*) FROM articles WHERE relevant = 1 AND story_id IS NULL"
    ).fetchone()[0]
    assert waiting == 5
    ingestor = Ingestor(store, topic, StorySettings())
    for _, page in pages[5:]:
        ingestor.ingest(page, wait=True)
    assert ingestor.settle() == len(pages)
    assert ingestor.settle() == 0
    assert (
        store.conn.execute(
            "SELECT count(*) FROM articles WHERE relevant = 1 AND story_id IS NULL"
        ).fetchone()[0]
        == 0
    )
    store.close()


def test_an_article_touching_one_article_of_a_story_does_not_merge_it() -> None:
    from pipeline.stories import matching_stories

    when = datetime(2026, 11, 20, tzinfo=UTC)
    casting = frozenset({"c:cast", "h:rosa salazar", "f:cast:rosa salazar:returning", "q:1"})
    interview = frozenset({"c:production", "h:james cameron", "f:production:status:x", "q:2"})
    # story 1: the interview, told three times; one telling also mentions the casting
    members = [
        (1, 10, interview, when),
        (1, 11, interview | {"t:desk"}, when),
        (1, 12, interview | {"f:cast:rosa salazar:returning", "h:rosa salazar"}, when),
        (2, 20, casting, when),
    ]
    found = matching_stories(casting, when, members, 0.18, 14 * 24)
    assert [m.story for m in found][:1] == [2]
    touched = next(m for m in found if m.story == 1)
    # alike enough through one of its articles, but not as a whole: no reason to merge
    assert touched.mean < 0.18 <= touched.best


class RacedStore(Store):
    """Hands out the waiting articles, then lets a rival crawl place them first: what a
    crawl left running by a killed daemon does to the next one."""

    rival: Callable[[], object] | None = None

    def waiting_articles(self, limit: int) -> list[dict[str, Any]]:
        rows = super().waiting_articles(limit)
        rival, self.rival = self.rival, None
        if rival is not None:
            rival()
        return rows


def test_two_crawls_settling_at_once_place_each_article_once(tmp_path: Path, topic: Topic) -> None:
    pages = story_pages()
    store = Store(tmp_path / "store.db")
    ingestor = Ingestor(store, topic, StorySettings())
    for _, page in pages:
        ingestor.ingest(page, wait=True)
    other = Store(tmp_path / "store.db")  # the other crawl: another process, another connection
    raced = RacedStore(tmp_path / "store.db")
    raced.rival = lambda: settle(other, topic, StorySettings())
    assert settle(raced, topic, StorySettings()) == 0
    repeated = store.conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM facts GROUP BY article_id, kind, subject, value"
        " HAVING count(*) > 1)"
    ).fetchone()[0]
    assert repeated == 0
    assert store.conn.execute(
        "SELECT count(*) FROM articles WHERE relevant = 1 AND story_id IS NULL"
    ).fetchone() == (0,)
    for opened in (store, other, raced):
        opened.close()


def _every_article_scored(keys, when, members, threshold, window_hours, background=None):
    """The stories an article matches, by weighing every article in the window: what
    `matching_stories` must find while weighing only the stories that can match."""
    import math
    import re
    from collections import Counter

    from pipeline.stories import _weights, closeness

    rarity = Counter(key for _, _, member, _ in members for key in member)
    waiting = background.counts if background else Counter()
    total = len(members) + (background.articles if background else 0)
    sizes = Counter(story for story, _, _, _ in members)
    every = set(keys).union(*(member for _, _, member, _ in members))
    weight = _weights(every, rarity, waiting, total)
    mine = math.fsum(weight[k] for k in keys)

    def dates(article: frozenset[str]) -> set[str]:
        found = set()
        for key in article:
            if key.startswith("f:release:release:"):
                value = key.removeprefix("f:release:release:")
                year = re.search(r"20\d\d", value)
                found.add(year.group() if year and "avatar" not in value else value)
        return found

    scores: dict[int, list[float]] = {}
    for story, _, member, seen in members:
        common = math.fsum(weight[k] for k in keys & member)
        # two headlines that give different release dates report different developments
        if dates(keys) and dates(member) and not dates(keys) & dates(member):
            continue
        if common:
            union = mine + math.fsum(weight[k] for k in member) - common
            hours = abs((when - seen).total_seconds()) / 3600
            scores.setdefault(story, []).append(common / union * closeness(hours, window_hours))
    return sorted(
        (
            (story, max(each), math.fsum(each) / sizes[story])
            for story, each in scores.items()
            if max(each) >= threshold
        ),
        key=lambda found: (-found[1], found[0]),
    )


def test_matching_finds_what_weighing_every_article_finds() -> None:
    from pipeline.stories import Background, matching_stories

    chance = random.Random(20261205)
    vocabulary = [f"{kind}:{n}" for kind in "hgcsfqntpl" for n in range(12)] + [
        f"f:release:release:{value}"
        for value in ("2030", "2031", "2031-07", "no earlier than 2031", "after avatar 5")
    ]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    matched = 0
    for _ in range(300):
        members = [
            (
                chance.randrange(12),
                article,
                frozenset(chance.sample(vocabulary, chance.randint(1, 14))),
                start + timedelta(hours=chance.uniform(0, 400)),
            )
            for article in range(chance.randint(1, 60))
        ]
        keys = frozenset(chance.sample(vocabulary, chance.randint(1, 14)))
        when = start + timedelta(hours=chance.uniform(0, 400))
        background = Background()
        for _ in range(chance.randint(0, 5)):
            background.add(chance.sample(vocabulary, 6))
        threshold = chance.choice([0.1, 0.18, 0.3])
        found = matching_stories(keys, when, members, threshold, 14 * 24, background)
        expected = _every_article_scored(keys, when, members, threshold, 14 * 24, background)
        assert [(m.story, m.best, m.mean) for m in found] == expected
        matched += bool(found)
    # the comparison means something only if many articles match and many do not
    assert 50 < matched < 250
