"""Smoke runs of bench/growth.py, bench/delivery.py and bench/daemon_idle.py on tiny inputs.

Seconds, not a benchmark: they keep the scripts from rotting, and check that the figures
they hand to bench/run.py are there and sane.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from bench.daemon_idle import daemon_idle
from bench.delivery import delivery
from bench.growth import GENERATOR_VERSION, STORE_END, articles, cached_store, fill_store, growth
from pipeline.store import MIGRATIONS

pytestmark = pytest.mark.slow


def test_the_synthetic_news_has_unique_urls_copies_and_ends_near_the_store_end() -> None:
    made = list(articles(60, STORE_END, seed=1))
    assert len(made) == 60
    assert len({a.url for a in made}) == 60
    assert all(a.seen <= STORE_END + timedelta(days=3) for a in made)
    assert any(a.text.startswith("Originally published by") for a in made)


def test_growth_times_the_same_batch_into_each_store_size(tmp_path: Path) -> None:
    figures = growth([20, 40], batch=5, runs=1, cache=tmp_path)
    assert set(figures["ingest_seconds"]) == {"20", "40"}
    for size in ("20", "40"):
        spread = figures["ingest_seconds"][size]
        assert 0 < spread["min"] <= spread["median"] <= spread["max"] < 60
        assert figures["stores"][size]["articles"] == int(size)
    assert figures["largest_vs_smallest"] > 0
    assert 30 < figures["crawl_peak_rss_mb"] < 2000
    assert "ingest_100k_vs_1k" not in figures  # only when 1,000 and 100,000 were measured


def test_a_store_cached_before_the_latest_migration_is_upgraded_not_rebuilt(
    tmp_path: Path,
) -> None:
    latest = len(MIGRATIONS)
    older = tmp_path / f"growth-30-g{GENERATOR_VERSION}-m{latest - 1}.db"
    fill_store(older, 30, seed=30)
    conn = sqlite3.connect(older)  # as the previous version left it: one migration short
    # what the latest migration (7) changed, as it was before: the FTS trigger on any update
    conn.executescript(
        "DROP TRIGGER articles_au; CREATE TRIGGER articles_au AFTER UPDATE ON articles BEGIN"
        " INSERT INTO articles_fts (articles_fts, rowid, title, text)"
        " VALUES ('delete', old.rowid, old.title, old.text);"
        " INSERT INTO articles_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);"
        " END;"
    )
    conn.execute(f"PRAGMA user_version = {latest - 1}")
    conn.execute("UPDATE articles SET title = 'built by the older version' WHERE id = 1")
    conn.commit()
    conn.close()

    path = cached_store(30, cache=tmp_path)

    assert path.name == f"growth-30-g{GENERATOR_VERSION}-m{latest}.db"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest
    trigger = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'articles_au'").fetchone()
    assert "UPDATE OF title, text" in trigger[0]
    assert conn.execute("SELECT title FROM articles WHERE id = 1").fetchone() == (
        "built by the older version",
    )
    assert conn.execute("SELECT count(*) FROM articles").fetchone() == (30,)
    conn.close()
    assert older.exists()  # the older cache is copied, not changed


def test_delivery_sends_one_digest_per_subscriber() -> None:
    figures = delivery(subscribers=5, stories=2, runs=1)
    assert figures["stories"] == 2
    assert figures["digests_per_s"]["median"] > 0
    assert 0 < figures["seconds"]["median"] < 60
    assert 30 < figures["peak_rss_mb"]["max"] < 2000


def test_the_idle_daemon_is_sampled_and_stops_cleanly(tmp_path: Path) -> None:
    figures = daemon_idle(3.0, articles=30, cache=tmp_path)
    assert figures["samples"] >= 3
    assert 10 < figures["daemon_idle_rss_mb"]["median"] < 1000
    assert figures["crawls_started"] == 0
    assert figures["exit_code"] == 0
