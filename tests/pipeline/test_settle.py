"""A crawl's articles are placed in stories together: the order they arrive in decides nothing."""

from __future__ import annotations

import random
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
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
