"""The store: schema and migrations, articles and their URLs, source health, read-only query."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config import Source
from pipeline.records import Article, Relevance
from pipeline.store import MIGRATIONS, Store, StoreError, read_only_query

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def article(
    url: str,
    *,
    title: str = "Rosa Salazar is ready for Alita 2",
    kept: bool = True,
    urls: tuple[str, ...] = (),
) -> Article:
    """An article as the pipeline would hand it to the store."""
    return Article(
        url=url,
        urls=(url, *urls),
        title=title,
        outlet="The Trade Ledger",
        authors=("Dana Park", "Luis Ortega"),
        published=WHEN,
        language="en",
        description=None,
        text="Rosa Salazar says she would return as Alita in the sequel.",
        source="trade",
        fetched_at=WHEN,
        relevance=Relevance(0.9 if kept else 0.1, kept, "title names the sequel"),
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(tmp_path / "store.db")
    opened.sync_sources([Source(name="trade", kind="feed", url="http://127.0.0.1:1/f.rss")])
    return opened


def test_a_new_store_is_migrated_with_wal_and_foreign_keys(store: Store) -> None:
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    tables = set(store.db.table_names())
    assert {
        "sources",
        "articles",
        "article_urls",
        "crawl_runs",
        "source_runs",
        "articles_fts",
    } <= tables
    store.close()
    again = Store(store.path)  # reopening applies nothing twice
    assert again.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_store_newer_than_the_code_is_refused(store: Store) -> None:
    store.conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    store.close()
    with pytest.raises(StoreError, match="newer"):
        Store(store.path)


def test_every_url_of_an_article_points_to_it(store: Store) -> None:
    first = store.save_article(
        article("https://a.example/x", urls=("https://a.example/x?utm_source=rss",))
    )
    assert first.new
    again = store.save_article(article("https://a.example/x/amp/", urls=("https://a.example/x",)))
    assert again == type(first)(first.id, False)
    assert store.article_for_urls(["https://a.example/x/amp/"]) == first.id
    assert store.known_url("https://a.example/x?utm_source=rss")
    rows = list(store.export_rows())
    assert len(rows) == 1
    assert rows[0]["urls"] == sorted(
        ["https://a.example/x", "https://a.example/x/amp/", "https://a.example/x?utm_source=rss"]
    )
    assert rows[0]["author"] == "Dana Park, Luis Ortega"
    assert rows[0]["published"] == "2026-11-20T09:00:00+00:00"


def test_export_and_search_leave_out_what_is_off_topic(store: Store) -> None:
    store.save_article(article("https://a.example/on"))
    store.save_article(article("https://a.example/off", title="Alita box office", kept=False))
    assert [r["url"] for r in store.export_rows()] == ["https://a.example/on"]
    assert [r["url"] for r in store.search("Salazar")] == ["https://a.example/on"]
    assert len(store.search("Salazar", everything=True)) == 2
    assert store.search('"unbalanced AND (') == []  # user input is never FTS syntax


def test_search_follows_a_text_filled_in_and_not_the_marks_on_an_article(store: Store) -> None:
    headline = article("https://a.example/h", title="Alita 2 news")
    headline = replace(headline, text="", unresolved=True)
    saved = store.save_article(headline)
    assert store.search("Salazar", everything=True) == []
    # the page is fetched later: its text is searchable from then on
    again = store.save_article(article("https://a.example/h"))
    assert again.new and again.id == saved.id
    assert [r["url"] for r in store.search("Salazar")] == ["https://a.example/h"]
    # marking the article (its original, its evidence) changes that row alone: its text
    # is not taken out of the index and put back
    before = store.conn.total_changes
    store.mark_article(saved.id, duplicate_of=None, stale=True, evidence=["p:rosa salazar"])
    assert store.conn.total_changes - before == 1
    assert [r["url"] for r in store.search("Salazar")] == ["https://a.example/h"]


def test_source_health_counts_consecutive_failures_and_keeps_validators(store: Store) -> None:
    store.record_source_ok(
        "trade", http_status=200, etag='"abc"', last_modified="Mon, 23 Nov 2026 06:00:00 GMT"
    )
    store.record_source_error("trade", "HTTP 500 Internal Server Error", http_status=500)
    store.record_source_error("trade", "timed out", http_status=None)
    health = store.sources_health()[0]
    assert health["last_status"] == "error"
    assert health["failures"] == 2
    assert health["last_error"] == "timed out"
    assert store.validators("trade") == ('"abc"', "Mon, 23 Nov 2026 06:00:00 GMT")
    store.record_source_ok("trade", http_status=304, etag=None, last_modified=None)
    health = store.sources_health()[0]
    assert (health["last_status"], health["failures"], health["last_error"]) == (
        "not_modified",
        0,
        None,
    )
    assert health["etag"] == '"abc"'


def test_a_changed_source_url_forgets_its_validators(store: Store) -> None:
    store.record_source_ok("trade", http_status=200, etag='"abc"', last_modified=None)
    store.sync_sources([Source(name="trade", kind="feed", url="http://127.0.0.1:1/other.rss")])
    assert store.validators("trade") == (None, None)


def test_runs_add_up_their_sources(store: Store) -> None:
    run = store.start_run(["trade", "fan"])
    store.record_source_run(run, "trade", "ok", None, {"requests": 5, "new_articles": 2})
    store.record_source_run(run, "fan", "error", "HTTP 500", {"requests": 3, "errors": 1})
    finished = store.finish_run(run)
    assert (finished["status"], finished["requests"], finished["new_articles"]) == ("partial", 8, 2)
    assert store.recent_runs()[0]["id"] == run


def test_query_is_read_only(store: Store) -> None:
    store.save_article(article("https://a.example/on"))
    rows = read_only_query(store.path, "SELECT title FROM articles")
    assert rows == [{"title": "Rosa Salazar is ready for Alita 2"}]
    for sql in (
        "DELETE FROM articles",
        "DROP TABLE articles",
        "UPDATE sources SET failures = 9",
        "CREATE TABLE x (y)",
        "PRAGMA user_version = 0",
    ):
        with pytest.raises(StoreError, match="read-only"):
            read_only_query(store.path, sql)
    assert store.article_count() == 1
    with pytest.raises(StoreError, match="no such table"):
        read_only_query(store.path, "SELECT * FROM nope")


def test_query_opens_no_other_file_and_sets_no_pragma(store: Store, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refused = {
        f"ATTACH DATABASE '{elsewhere / 'a.db'}' AS a": "ATTACH and VACUUM INTO are refused",
        f"ATTACH 'file:{elsewhere / 'b.db'}?mode=rwc' AS b": "ATTACH and VACUUM INTO",
        f"VACUUM INTO '{elsewhere / 'copy.db'}'": "ATTACH and VACUUM INTO",
        "DETACH main": "DETACH is refused",
        "PRAGMA writable_schema = 1": "PRAGMA writable_schema = 1 is refused",
        "PRAGMA query_only = 0": "PRAGMA query_only = 0 is refused",
        "PRAGMA journal_mode = delete": "PRAGMA journal_mode = delete is refused",
        "PRAGMA wal_checkpoint(TRUNCATE)": "PRAGMA wal_checkpoint = TRUNCATE is refused",
    }
    for sql, said in refused.items():
        with pytest.raises(StoreError, match=f"^`query` is read-only: {re.escape(said)}"):
            read_only_query(store.path, sql)
    assert list(elsewhere.iterdir()) == []  # no file was created, not even an empty one
    # PRAGMAs that report still answer, as does their table-valued form.
    assert read_only_query(store.path, "PRAGMA journal_mode") == [{"journal_mode": "wal"}]
    assert read_only_query(store.path, "PRAGMA table_info(articles)")[0]["name"] == "id"
    assert read_only_query(store.path, "SELECT name FROM pragma_table_info('articles')")


def test_the_store_is_a_real_sqlite_file_others_can_read(store: Store) -> None:
    store.save_article(article("https://a.example/on"))
    other = sqlite3.connect(store.path)
    assert other.execute(
        "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'sequel'"
    ).fetchone() == (1,)


def test_a_new_store_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = Store(tmp_path / "private.db")
    store.save_article(article("https://a.example/on"))
    for name in ("private.db", "private.db-wal", "private.db-shm"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name


def test_merged_stories_keep_the_oldest_with_everything_and_what_was_sent(store: Store) -> None:
    first = store.save_article(article("https://a.example/1")).id
    second = store.save_article(article("https://b.example/2")).id
    older = store.create_story(
        first, "Rosa Salazar is ready", "2026-11-20T09:00:00+00:00", stale=False
    )
    newer = store.create_story(second, "Salazar: ready", "2026-11-20T11:00:00+00:00", stale=False)
    subscriber = store.add_subscriber(
        {
            "email": "fan@example.org",
            "categories": "cast",
            "frequency": "daily",
            "token": "t0ken",
            "status": "confirmed",
            "created_at": "2026-11-19T00:00:00+00:00",
        }
    )
    digest = {
        "subscriber_id": subscriber,
        "kind": "digest",
        "message_id": "<1@sequelwatch>",
        "subject": "Alita 2",
        "message": b"",
        "created_at": "2026-11-20T12:00:00+00:00",
    }
    store.reserve_digest(digest, [(newer, "2026-11-20T11:00:00+00:00")])

    assert store.merge_stories([newer, older]) == older

    assert store.story_count() == 1
    row = store.conn.execute(
        "SELECT first_seen, last_updated, last_development FROM stories WHERE id = ?", (older,)
    ).fetchone()
    assert tuple(row) == (
        "2026-11-20T09:00:00+00:00",
        "2026-11-20T11:00:00+00:00",
        "2026-11-20T11:00:00+00:00",
    )
    assert {store.article_story(first), store.article_story(second)} == {older}
    # the development the subscriber was sent about the newer story is not sent again
    assert store.conn.execute(
        "SELECT story_id FROM deliveries WHERE subscriber_id = ?", (subscriber,)
    ).fetchall() == [(older,)]


def test_a_headline_whose_page_comes_later_is_filled_in_and_counts_as_new(store: Store) -> None:
    from dataclasses import replace

    headline = replace(article("https://a.example/1"), text="", unresolved=True)
    first = store.save_article(headline)
    assert store.resolved_article_for_urls(["https://a.example/1"]) is None
    since = datetime(2026, 11, 19, tzinfo=UTC)
    assert store.unresolved_articles("trade", since, 10) == [
        ("https://a.example/1", headline.title)
    ]

    page = article("https://a.example/1")
    again = store.save_article(page)

    assert again == type(again)(first.id, True)
    row = store.conn.execute(
        "SELECT unresolved, text FROM articles WHERE id = ?", (first.id,)
    ).fetchone()
    assert tuple(row) == (0, page.text)
    assert store.resolved_article_for_urls(["https://a.example/1"]) == first.id
    assert store.unresolved_articles("trade", since, 10) == []
    # a page fetched once more is no news
    assert store.save_article(page).new is False


def test_a_run_left_running_past_the_crawl_limit_is_marked_interrupted(store: Store) -> None:
    killed = store.start_run(["trade"], when=datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    running = store.start_run(["trade"], when=datetime(2026, 11, 20, 8, 55, tzinfo=UTC))
    assert store.interrupt_stale_runs(datetime(2026, 11, 20, 8, 40, tzinfo=UTC)) == 1
    statuses = dict(store.conn.execute("SELECT id, status FROM crawl_runs").fetchall())
    assert statuses == {killed: "interrupted", running: "running"}


def test_near_duplicate_candidates_are_those_sharing_the_most_buckets(store: Store) -> None:
    ids = [store.save_article(article(f"https://a.example/{n}")).id for n in range(30)]
    boilerplate = [(0, 7)]  # a bucket every page of a site shares
    for article_id in ids[:-1]:
        store.save_signature(article_id, b"sig%d" % article_id, boilerplate)
    copy = ids[-1]
    store.save_signature(copy, b"copy", [(0, 7), *((band, 1000 + band) for band in range(1, 40))])
    mine = [(0, 7), *((band, 1000 + band) for band in range(1, 40))]

    found = store.lsh_candidates(mine, limit=5)

    assert len(found) == 5
    assert copy in found and found[copy] == b"copy"
