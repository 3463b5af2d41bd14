"""Reader processes: a busy crawl reads its pages on the other core, with the same result."""

from __future__ import annotations

import json
import pickle
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bench.site import serve_site
from bench.throughput import write_config
from config import load_topic
from crawler.reading import START_AFTER, Readers
from tests.helpers import ROOT, run_cli

pytestmark = pytest.mark.slow
PAGES = START_AFTER + 60


def _crawl(folder: Path, feeds: tuple[str, ...], readers: int) -> tuple[str, Path]:
    """Crawl the feeds into a fresh store with that many reader processes; the log."""
    config_path = write_config(folder, feeds)
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("[crawl]\n", f"[crawl]\nreaders = {readers}\n"))
    done = run_cli("crawl", config_path=config_path, timeout=300, check=True)
    return done.stderr, folder / "sequelwatch.db"


def _what_a_user_sees(db: Path) -> dict[str, Any]:
    """Stories as groups of URLs, labels and facts per URL, copies by URL."""
    conn = sqlite3.connect(db)
    try:
        url = dict(conn.execute("SELECT id, url FROM articles"))
        groups: dict[int, set[str]] = {}
        for story, article in conn.execute(
            "SELECT story_id, id FROM articles WHERE story_id IS NOT NULL"
        ):
            groups.setdefault(story, set()).add(url[article])
        labels = sorted(
            (url[a], c, s)
            for a, c, s in conn.execute("SELECT article_id, category, sentence FROM article_labels")
        )
        facts = sorted(
            (url[a], k, s, v, r is not None, c)
            for a, k, s, v, r, c in conn.execute(
                "SELECT article_id, kind, subject, value, replaces, is_change FROM facts"
            )
        )
        copies = sorted(
            (url[a], url[d])
            for a, d in conn.execute(
                "SELECT id, duplicate_of FROM articles WHERE duplicate_of IS NOT NULL"
            )
        )
        kept = conn.execute("SELECT count(*) FROM articles WHERE relevant = 1").fetchone()[0]
    finally:
        conn.close()
    stories = sorted(sorted(group) for group in groups.values())
    return {"kept": kept, "stories": stories, "labels": labels, "facts": facts, "copies": copies}


def test_a_busy_crawl_reads_in_a_reader_process_and_stores_the_same(tmp_path: Path) -> None:
    with serve_site(PAGES, tmp_path / "site", server="python") as served:
        with_readers, db_readers = _crawl(tmp_path / "readers", served.site.feeds, 1)
        alone, db_alone = _crawl(tmp_path / "alone", served.site.feeds, 0)
    assert "reader process(es)" in with_readers
    assert "reader process" not in alone
    assert "reader process died" not in with_readers
    read_there = re.search(r"(\d+) of (\d+) pages were read by reader processes", with_readers)
    assert read_there, with_readers[-2000:]
    assert 0 < int(read_there[1]) < int(read_there[2]) <= PAGES  # both processes read
    seen = _what_a_user_sees(db_readers)
    assert seen["kept"] >= 0.9 * PAGES and seen["labels"] and seen["facts"] and seen["stories"]
    assert seen == _what_a_user_sees(db_alone)


def test_a_small_crawl_starts_no_reader(tmp_path: Path) -> None:
    with serve_site(START_AFTER // 2, tmp_path / "site", server="python") as served:
        log, db = _crawl(tmp_path / "small", served.site.feeds, 1)
    assert "reader process" not in log
    assert _what_a_user_sees(db)["kept"] >= 0.9 * (START_AFTER // 2)


def test_readers_start_once_many_pages_are_asked_for_before_any_comes_back() -> None:
    topic = load_topic(ROOT / "config" / "topics" / "alita-battle-angel-2.toml")
    few, many = Readers(topic, 1), Readers(topic, 1)
    try:
        for _ in range(START_AFTER):
            few.expect()
            many.expect()
        assert few.pool is None and many.pool is None  # a small crawl starts none
        many.expect()
        assert many.pool is not None and many.started is not None
        many.started.result(timeout=120)  # the reader process is up before any page is read
        assert many.seen == 0
    finally:
        few.close()
        many.close()


def test_the_topic_travels_to_a_reader_process_whole() -> None:
    topic = load_topic(ROOT / "config" / "topics" / "alita-battle-angel-2.toml")
    again = pickle.loads(pickle.dumps(topic))
    assert again == topic and hash(again) == hash(topic)
    assert json.dumps(again.model_dump(mode="json")) == json.dumps(topic.model_dump(mode="json"))
