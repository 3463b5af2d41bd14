"""The SQLite store: the schema, its numbered migrations, and every SQL statement."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from config import Source
from pipeline.records import Article, Fact, Label, Relevance

BUSY_TIMEOUT_MS = 10_000
# Near-duplicate candidates compared per article: those sharing the most LSH buckets.
LSH_CANDIDATES = 200
# Articles read from one LSH bucket, the newest: more than that in one bucket is boilerplate.
BUCKET_READ = 200
# Story articles a new article is compared with: in a busy window, those nearest in time.
STORY_CANDIDATES = 300


class StoreError(Exception):
    """The store cannot do what was asked (a bad query, a write through `query`, ...)."""


def utcnow() -> datetime:
    """The current time, UTC-aware, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 text of a UTC-aware datetime, as the store keeps it."""
    return moment.astimezone(UTC).isoformat() if moment else None


# Each migration runs once, in order; PRAGMA user_version holds how many have run.
# Never edit one that has shipped: add the next.
MIGRATIONS: tuple[str, ...] = (
    # 1: sources with their health, articles and their URLs, crawl runs.
    """
    CREATE TABLE sources (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        url TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        last_status TEXT,
        last_http_status INTEGER,
        last_error TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        etag TEXT,
        last_modified TEXT,
        last_fetched TEXT,
        last_ok TEXT,
        last_new_article TEXT
    );
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        outlet TEXT,
        authors TEXT NOT NULL DEFAULT '[]',
        published TEXT,
        first_seen TEXT NOT NULL,
        language TEXT,
        description TEXT,
        text TEXT NOT NULL DEFAULT '',
        source TEXT,
        relevant INTEGER NOT NULL,
        relevance REAL NOT NULL,
        relevance_reason TEXT NOT NULL,
        unresolved INTEGER NOT NULL DEFAULT 0,
        from_feed INTEGER NOT NULL DEFAULT 0,
        story_id INTEGER,
        duplicate_of INTEGER REFERENCES articles(id)
    );
    CREATE INDEX articles_relevant_first_seen ON articles(relevant, first_seen);
    CREATE TABLE article_urls (
        url TEXT PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        first_seen TEXT NOT NULL
    );
    CREATE INDEX article_urls_article ON article_urls(article_id);
    CREATE TABLE crawl_runs (
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        finished TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        sources INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        not_modified INTEGER NOT NULL DEFAULT 0,
        new_articles INTEGER NOT NULL DEFAULT 0,
        prefiltered INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE source_runs (
        run_id INTEGER NOT NULL REFERENCES crawl_runs(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        requests INTEGER NOT NULL DEFAULT 0,
        not_modified INTEGER NOT NULL DEFAULT 0,
        entries INTEGER NOT NULL DEFAULT 0,
        new_articles INTEGER NOT NULL DEFAULT 0,
        known INTEGER NOT NULL DEFAULT 0,
        prefiltered INTEGER NOT NULL DEFAULT 0,
        irrelevant INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, source)
    );
    """,
    # 2: near-duplicates (MinHash bands), stories, labels with evidence, facts with history.
    """
    ALTER TABLE articles ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE articles ADD COLUMN evidence TEXT NOT NULL DEFAULT '[]';
    CREATE INDEX articles_story ON articles(story_id);
    CREATE INDEX articles_moment ON articles(min(coalesce(published, first_seen), first_seen));
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        first_article_id INTEGER REFERENCES articles(id),
        first_seen TEXT NOT NULL,
        last_updated TEXT NOT NULL,
        last_development TEXT,
        stale INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX stories_last_updated ON stories(last_updated);
    CREATE TABLE article_labels (
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        category TEXT NOT NULL,
        confidence REAL NOT NULL,
        sentence TEXT NOT NULL,
        PRIMARY KEY (article_id, category)
    );
    CREATE TABLE facts (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        story_id INTEGER REFERENCES stories(id),
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        value TEXT NOT NULL,
        detail TEXT,
        sentence TEXT NOT NULL,
        confidence REAL NOT NULL,
        outlet TEXT,
        stated_at TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        replaces INTEGER REFERENCES facts(id),
        is_change INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX facts_subject ON facts(kind, subject, stated_at);
    CREATE INDEX facts_story ON facts(story_id);
    CREATE TABLE article_signatures (
        article_id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        signature BLOB NOT NULL
    );
    CREATE TABLE minhash_bands (
        band INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        PRIMARY KEY (band, bucket, article_id)
    ) WITHOUT ROWID;
    CREATE VIEW developments AS
    SELECT s.id AS story_id,
           coalesce((SELECT a.title FROM articles a WHERE a.story_id = s.id
                      ORDER BY a.duplicate_of IS NOT NULL, a.stale,
                               coalesce(a.published, a.first_seen), a.id LIMIT 1),
                    s.title) AS title,
           s.first_seen, s.last_updated, s.last_development, s.stale,
           (SELECT group_concat(category, ',') FROM (
                SELECT DISTINCT l.category FROM article_labels l
                JOIN articles a ON a.id = l.article_id
                WHERE a.story_id = s.id ORDER BY l.category)) AS categories,
           (SELECT l.category FROM article_labels l JOIN articles a ON a.id = l.article_id
             WHERE a.story_id = s.id GROUP BY l.category
             ORDER BY sum(l.confidence) DESC, l.category LIMIT 1) AS main_category,
           (SELECT count(*) FROM articles a WHERE a.story_id = s.id) AS articles,
           (SELECT count(DISTINCT coalesce(a.outlet, a.url)) FROM articles a
             WHERE a.story_id = s.id) AS sources,
           (SELECT a.outlet FROM articles a WHERE a.story_id = s.id
             ORDER BY a.duplicate_of IS NOT NULL, coalesce(a.published, a.first_seen), a.id
             LIMIT 1) AS first_reporter,
           (SELECT a.url FROM articles a WHERE a.story_id = s.id
             ORDER BY a.duplicate_of IS NOT NULL, coalesce(a.published, a.first_seen), a.id
             LIMIT 1) AS first_url,
           coalesce((SELECT max(f.stated_at) FROM facts f
                      WHERE f.story_id = s.id AND f.is_change = 1),
                    (SELECT min(coalesce(a.published, a.first_seen), a.first_seen)
                       FROM articles a WHERE a.story_id = s.id
                      ORDER BY a.duplicate_of IS NOT NULL,
                               coalesce(a.published, a.first_seen) LIMIT 1)) AS news_at,
           (SELECT f.subject || ': ' || f.value
                   || CASE WHEN f.kind = 'cast' AND f.detail IS NOT NULL
                           THEN ' (' || f.detail || ')' ELSE '' END
              FROM facts f WHERE f.story_id = s.id
             ORDER BY f.is_change DESC, f.stated_at DESC, f.id DESC LIMIT 1) AS latest_fact
    FROM stories s;
    CREATE VIEW timeline AS
    SELECT f.kind AS category, f.subject, f.value, f.detail, f.stated_at, f.is_change,
           (SELECT p.value FROM facts p WHERE p.id = f.replaces) AS replaced,
           f.outlet, a.url, a.title, f.sentence, f.story_id, f.id AS fact_id
    FROM facts f JOIN articles a ON a.id = f.article_id;
    """,
    # 3: subscribers, the digests reserved and sent to them, and which stories each carried.
    """
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        categories TEXT NOT NULL,
        frequency TEXT NOT NULL,
        timezone TEXT NOT NULL DEFAULT 'UTC',
        token TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL DEFAULT 'pending',
        created_at TEXT NOT NULL,
        confirmed_at TEXT,
        unsubscribed_at TEXT,
        rejected_reason TEXT
    );
    CREATE TABLE digests (
        id INTEGER PRIMARY KEY,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE,
        subject TEXT NOT NULL,
        message BLOB NOT NULL,
        status TEXT NOT NULL DEFAULT 'reserved',
        created_at TEXT NOT NULL,
        sent_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT,
        last_error TEXT
    );
    CREATE INDEX digests_pending ON digests(status, next_attempt);
    CREATE TABLE deliveries (
        digest_id INTEGER NOT NULL REFERENCES digests(id) ON DELETE CASCADE,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        story_id INTEGER NOT NULL,
        developed_at TEXT NOT NULL,
        PRIMARY KEY (digest_id, story_id)
    );
    CREATE INDEX deliveries_subscriber_story ON deliveries(subscriber_id, story_id, developed_at);
    """,
    # 4: what the operator was last told about each source (told once when it breaks,
    # once when it recovers).
    """
    ALTER TABLE sources ADD COLUMN alert_state TEXT;
    ALTER TABLE sources ADD COLUMN alerted_at TEXT;
    """,
    # 5: an article's facts by article: what an earlier article said of a subject was found
    # through (kind, subject) and then scanned, 10 ms per fact in a store of 100,000.
    """
    CREATE INDEX facts_article ON facts(article_id, kind, subject);
    """,
    # 6: a subscriber's digests: who is due and what they were last sent scanned every
    # digest ever made for each subscriber (35 s a run after a month for 1,000 people).
    """
    CREATE INDEX digests_subscriber ON digests(subscriber_id, kind, status, created_at, sent_at);
    """,
    # 7: the full-text index follows an article's title and text only. sqlite-utils' update
    # trigger fired on every UPDATE of the row, so marking an article (its story, its
    # original, its evidence) took its whole text out of the index and put it back, several
    # times per article: a tenth of a crawl's time in its own process.
    """
    DROP TRIGGER IF EXISTS articles_au;
    CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
      INSERT INTO articles_fts (articles_fts, rowid, title, text)
        VALUES ('delete', old.rowid, old.title, old.text);
      INSERT INTO articles_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
    END;
    """,
)

# When an article's news happened, as indexed by articles_moment (keep the two identical).
_MOMENT = "min(coalesce(published, first_seen), first_seen)"
# An article a new one may join: one in a story that copies no other.
_CANDIDATE = "story_id IS NOT NULL AND duplicate_of IS NULL"

SOURCE_RUN_COUNTERS = (
    "requests",
    "not_modified",
    "entries",
    "new_articles",
    "known",
    "prefiltered",
    "irrelevant",
    "errors",
    "bytes",
)


@dataclass(frozen=True, slots=True)
class SavedArticle:
    """What saving an article did: its row id and whether it was new."""

    id: int
    new: bool


class Store:
    """sequelwatch's SQLite store; one per process and thread."""

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        path = Path(path)
        if not create and not path.exists():
            raise StoreError(f"{path}: no store here yet (run `sequelwatch crawl` first)")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # It holds subscribers' addresses: readable by its owner only. SQLite gives the
            # -wal and -shm files the same permissions as the database.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.path = path
        self._depth = 0
        self.db = sqlite_utils.Database(path)
        self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.db.execute("PRAGMA foreign_keys = ON")
        # In WAL mode NORMAL never corrupts the store; a power cut may cost the last
        # commits, a crashed process costs nothing (FULL would fsync every article).
        self.db.execute("PRAGMA synchronous = NORMAL")
        # A big store's indexes (the LSH buckets above all) take each new article to pages
        # far apart: 32 MB of them stay cached, and the log is copied back into the store
        # every 8,000 pages rather than 1,000, so that a page changed by several articles
        # is written back once (a crawl into 100,000 articles: 12 % faster, closing included).
        self.db.execute("PRAGMA cache_size = -32000")
        self.db.execute("PRAGMA wal_autocheckpoint = 8000")
        self.migrate()

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[None]:
        """One transaction around several writes; a nested call joins the outer one.

        `immediate` takes the write lock at once, so what the transaction reads first
        cannot change before it writes, even from another process.
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            with self.conn:
                if immediate:
                    self.conn.execute("BEGIN IMMEDIATE")
                yield
        finally:
            self._depth = 0

    @property
    def conn(self) -> sqlite3.Connection:
        """The underlying connection."""
        return self.db.conn

    def migrate(self) -> int:
        """Apply the migrations not yet applied; return the schema version."""
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this sequelwatch knows"
            )
        if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.db.enable_wal()
        for number in range(version + 1, len(MIGRATIONS) + 1):
            with self.conn:
                self.conn.executescript("BEGIN;" + MIGRATIONS[number - 1] + ";")
                if number == 1:
                    self._create_fts()
                self.conn.execute(f"PRAGMA user_version = {number}")
        return len(MIGRATIONS)

    def _create_fts(self) -> None:
        """Full-text search over titles and main texts, kept in step by triggers."""
        self.db.table("articles").enable_fts(
            ["title", "text"], fts_version="FTS5", create_triggers=True, replace=True
        )

    # -- sources -------------------------------------------------------------------------

    def sync_sources(self, sources: Iterable[Source]) -> None:
        """Make the sources table list the configured sources (health is kept)."""
        with self.transaction():
            for source in sources:
                row = self.conn.execute(
                    "SELECT url FROM sources WHERE name = ?", (source.name,)
                ).fetchone()
                if row is None:
                    self.conn.execute(
                        "INSERT INTO sources (name, kind, url, enabled) VALUES (?, ?, ?, ?)",
                        (source.name, source.kind, source.url, int(source.enabled)),
                    )
                    continue
                # A new URL is a new document: its old validators mean nothing.
                reset = row[0] != source.url
                self.conn.execute(
                    "UPDATE sources SET kind = ?, url = ?, enabled = ?,"
                    " etag = CASE WHEN ? THEN NULL ELSE etag END,"
                    " last_modified = CASE WHEN ? THEN NULL ELSE last_modified END"
                    " WHERE name = ?",
                    (source.kind, source.url, int(source.enabled), reset, reset, source.name),
                )

    def validators(self, name: str) -> tuple[str | None, str | None]:
        """The ETag and Last-Modified last seen for a source."""
        row = self.conn.execute(
            "SELECT etag, last_modified FROM sources WHERE name = ?", (name,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def save_validators(self, name: str, etag: str | None, last_modified: str | None) -> None:
        """Keep a source's ETag and Last-Modified (a missing one leaves the old one)."""
        with self.transaction():
            self.conn.execute(
                "UPDATE sources SET etag = COALESCE(?, etag),"
                " last_modified = COALESCE(?, last_modified) WHERE name = ?",
                (etag, last_modified, name),
            )

    def record_source_ok(
        self,
        name: str,
        *,
        http_status: int,
        etag: str | None,
        last_modified: str | None,
        when: datetime | None = None,
    ) -> None:
        """The source answered (200 or 304): reset its failures, keep its validators."""
        when_text = iso(when or utcnow())
        status = "not_modified" if http_status == 304 else "ok"
        with self.transaction():
            self.conn.execute(
                "UPDATE sources SET last_status = ?, last_http_status = ?, last_error = NULL,"
                " failures = 0, last_fetched = ?, last_ok = ?,"
                " etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified)"
                " WHERE name = ?",
                (status, http_status, when_text, when_text, etag, last_modified, name),
            )

    def record_source_error(
        self, name: str, error: str, *, http_status: int | None = None, when: datetime | None = None
    ) -> None:
        """The source failed: keep the readable error and count the failure."""
        with self.transaction():
            self.conn.execute(
                "UPDATE sources SET last_status = 'error', last_http_status = ?,"
                " last_error = ?, failures = failures + 1, last_fetched = ? WHERE name = ?",
                (http_status, error, iso(when or utcnow()), name),
            )

    def set_source_alert(self, name: str, state: str | None, when: datetime) -> None:
        """Remember what the operator was told about a source (None: nothing is wrong)."""
        with self.transaction():
            self.conn.execute(
                "UPDATE sources SET alert_state = ?, alerted_at = ? WHERE name = ?",
                (state, iso(when), name),
            )

    def sources_health(self) -> list[dict[str, Any]]:
        """Every source with its health and its result in the last run that crawled it."""
        rows = []
        for row in self.db.query(
            "SELECT s.name, s.kind, s.url, s.enabled, s.last_status, s.last_http_status,"
            " s.last_error, s.failures, s.etag, s.last_modified, s.last_fetched, s.last_ok,"
            " s.last_new_article, s.alert_state, s.alerted_at,"
            " r.run_id, r.requests, r.not_modified, r.new_articles,"
            " r.prefiltered, r.errors"
            " FROM sources s LEFT JOIN source_runs r ON r.source = s.name"
            " AND r.run_id = (SELECT max(run_id) FROM source_runs WHERE source = s.name)"
            " ORDER BY s.name"
        ):
            last = {
                k: row.pop(k)
                for k in (
                    "run_id",
                    "requests",
                    "not_modified",
                    "new_articles",
                    "prefiltered",
                    "errors",
                )
            }
            row["last_result"] = last if last["run_id"] is not None else None
            rows.append(row)
        return rows

    # -- articles ------------------------------------------------------------------------

    def article_for_urls(self, urls: Iterable[str]) -> int | None:
        """The id of the article any of these URLs points to, if one does."""
        urls = list(dict.fromkeys(urls))
        if not urls:
            return None
        marks = ",".join("?" * len(urls))
        row = self.conn.execute(
            f"SELECT article_id FROM article_urls WHERE url IN ({marks}) LIMIT 1", urls
        ).fetchone()
        return int(row[0]) if row else None

    def known_url(self, url: str) -> bool:
        """Whether this URL already leads to a stored article."""
        return self.article_for_urls([url]) is not None

    def add_urls(self, article_id: int, urls: Iterable[str], when: datetime | None = None) -> None:
        """Point more URLs at a stored article (those already known are left alone)."""
        when_text = iso(when or utcnow())
        with self.transaction():
            self.conn.executemany(
                "INSERT OR IGNORE INTO article_urls (url, article_id, first_seen) VALUES (?, ?, ?)",
                [(url, article_id, when_text) for url in dict.fromkeys(urls)],
            )

    def save_article(self, article: Article) -> SavedArticle:
        """Store an article and its URLs, or add the URLs to the article one of them names.

        An article known only by its feed's headline (`unresolved`) whose page has now
        been fetched is filled in and understood again: it counts as new.
        """
        existing = self.article_for_urls((article.url, *article.urls))
        if existing is not None:
            self.add_urls(existing, (article.url, *article.urls), article.fetched_at)
            if not article.unresolved and self._is_unresolved(existing):
                self._resolve(existing, article)
                return SavedArticle(existing, True)
            return SavedArticle(existing, False)
        row = {
            "url": article.url,
            "title": article.title,
            "outlet": article.outlet,
            "authors": json.dumps(list(article.authors), ensure_ascii=False),
            "published": iso(article.published),
            "first_seen": iso(article.fetched_at),
            "language": article.language,
            "description": article.description,
            "text": article.text,
            "source": article.source,
            "relevant": int(article.relevance.kept),
            "relevance": round(article.relevance.score, 4),
            "relevance_reason": article.relevance.reason,
            # 1: the page failed for now and is asked for again; 2: it is gone for good
            "unresolved": 2 if article.unresolved and article.gone else int(article.unresolved),
            "from_feed": int(article.from_feed),
        }
        with self.transaction():
            cursor = self.conn.execute(
                f"INSERT INTO articles ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
            article_id = int(cursor.lastrowid or 0)
            self.conn.executemany(
                "INSERT OR IGNORE INTO article_urls (url, article_id, first_seen) VALUES (?, ?, ?)",
                [(url, article_id, row["first_seen"]) for url in (article.url, *article.urls)],
            )
            if article.relevance.kept:
                self.conn.execute(
                    "UPDATE sources SET last_new_article = ? WHERE name = ?",
                    (row["first_seen"], article.source),
                )
        return SavedArticle(article_id, True)

    def _is_unresolved(self, article_id: int) -> bool:
        """Whether a stored article is only its feed's headline."""
        row = self.conn.execute(
            "SELECT unresolved FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return bool(row and row[0])

    def resolved_article_for_urls(self, urls: Iterable[str]) -> int | None:
        """The article these URLs lead to, unless it is only a headline still to fetch."""
        article_id = self.article_for_urls(urls)
        if article_id is None or self._is_unresolved(article_id):
            return None
        return article_id

    def unresolved_articles(
        self, source: str, since: datetime, limit: int
    ) -> list[tuple[str, str]]:
        """(url, title) of a source's headline-only articles first seen since then, newest
        first: the pages to ask for again."""
        rows = self.conn.execute(
            "SELECT url, title FROM articles WHERE unresolved = 1 AND source = ?"
            " AND first_seen >= ? ORDER BY first_seen DESC LIMIT ?",
            (source, iso(since), limit),
        )
        return [(str(url), str(title)) for url, title in rows]

    def _resolve(self, article_id: int, article: Article) -> None:
        """Fill in a headline-only article with its fetched page and forget what was
        understood from the headline, so that it is placed again from the whole text."""
        with self.transaction():
            story = self.article_story(article_id)
            self.conn.execute(
                "UPDATE articles SET title = ?, outlet = coalesce(?, outlet), authors = ?,"
                " published = coalesce(?, published), language = coalesce(?, language),"
                " description = ?, text = ?, relevant = ?, relevance = ?,"
                " relevance_reason = ?, unresolved = 0, story_id = NULL, duplicate_of = NULL,"
                " evidence = '[]' WHERE id = ?",
                (
                    article.title,
                    article.outlet,
                    json.dumps(list(article.authors), ensure_ascii=False),
                    iso(article.published),
                    article.language,
                    article.description,
                    article.text,
                    int(article.relevance.kept),
                    round(article.relevance.score, 4),
                    article.relevance.reason,
                    article_id,
                ),
            )
            self.conn.execute(
                "UPDATE facts SET replaces = NULL WHERE replaces IN"
                " (SELECT id FROM facts WHERE article_id = ?)",
                (article_id,),
            )
            for table in ("facts", "article_labels", "article_signatures", "minhash_bands"):
                self.conn.execute(f"DELETE FROM {table} WHERE article_id = ?", (article_id,))
            self.conn.execute(  # the story it alone made, if any, goes with what it said
                "DELETE FROM stories WHERE id = ? AND NOT EXISTS"
                " (SELECT 1 FROM articles a WHERE a.story_id = stories.id)",
                (story,),
            )

    def article_count(self, *, relevant_only: bool = True) -> int:
        """How many articles are stored (about the topic, by default)."""
        where = " WHERE relevant = 1" if relevant_only else ""
        return int(self.conn.execute(f"SELECT count(*) FROM articles{where}").fetchone()[0])

    def export_rows(self) -> Iterator[dict[str, Any]]:
        """One row per article about the topic, with all its URLs, oldest first."""
        sql = """
            SELECT a.id, a.url, a.title, a.outlet, a.authors, a.published, a.first_seen,
                   a.language, a.relevance, a.relevance_reason, a.source, a.unresolved,
                   a.story_id, a.duplicate_of, a.stale,
                   (SELECT json_group_array(u.url) FROM article_urls u
                     WHERE u.article_id = a.id ORDER BY u.url) AS urls,
                   (SELECT json_group_array(l.category) FROM (
                        SELECT category FROM article_labels
                        WHERE article_id = a.id ORDER BY category) l) AS categories
            FROM articles a WHERE a.relevant = 1 ORDER BY a.first_seen, a.id
        """
        for row in self.db.query(sql):
            authors = json.loads(row.pop("authors") or "[]")
            yield {
                "url": row["url"],
                "urls": sorted(json.loads(row["urls"] or "[]")),
                "title": row["title"],
                "outlet": row["outlet"],
                "author": ", ".join(authors),
                "published": row["published"],
                "first_seen": row["first_seen"],
                "language": row["language"],
                "relevance": row["relevance"],
                "relevance_reason": row["relevance_reason"],
                "categories": json.loads(row["categories"] or "[]"),
                "story_id": row["story_id"],
                "duplicate_of": row["duplicate_of"],
                "stale": bool(row["stale"]),
                "source": row["source"],
                "unresolved": bool(row["unresolved"]),
            }

    def search(
        self, terms: str, *, limit: int = 20, everything: bool = False
    ) -> list[dict[str, Any]]:
        """Articles matching a full-text query, best first (about the topic, by default)."""
        where = "" if everything else "AND a.relevant = 1"
        sql = f"""
            SELECT a.id, a.title, a.outlet, a.published, a.url, a.relevance,
                   snippet(articles_fts, 1, '[', ']', ' ... ', 12) AS snippet
            FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid
            WHERE articles_fts MATCH ? {where}
            ORDER BY rank LIMIT ?
        """
        try:
            return [dict(r) for r in self.db.query(sql, [_fts_query(terms), limit])]
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot search for {terms!r}: {exc}") from None

    # -- duplicates, stories, labels, facts ----------------------------------------------

    def save_signature(
        self, article_id: int, blob: bytes, buckets: Sequence[tuple[int, int]]
    ) -> None:
        """Keep an article's MinHash signature and put it in its LSH buckets."""
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO article_signatures (article_id, signature) VALUES (?, ?)",
                (article_id, blob),
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO minhash_bands (band, bucket, article_id) VALUES (?, ?, ?)",
                [(band, bucket, article_id) for band, bucket in buckets],
            )

    def lsh_candidates(
        self, buckets: Sequence[tuple[int, int]], limit: int = LSH_CANDIDATES
    ) -> dict[int, bytes]:
        """The signatures of the articles that share LSH buckets with these, those sharing
        the most first, at most `limit` of them.

        A copy shares many buckets with its original; boilerplate shared by a site's every
        page fills a few buckets with thousands of articles that share nothing else, and
        comparing them all made ingesting into a store of 100,000 four times slower. Of
        such a crowded bucket only its newest BUCKET_READ articles are read: reading all of
        it cost 2.6 ms an article at 100,000 (6,000 rows), and an older original is still
        found through the buckets of its own text, which it shares with its copy alone.
        """
        if not buckets:
            return {}
        # one query: each bucket is read through the primary key, SQLite counts and ranks
        # (a Python counter over the rows took 7 ms an article in a store of 100,000)
        lookup = " UNION ALL ".join(
            [
                "SELECT * FROM (SELECT article_id FROM minhash_bands WHERE band = ? AND bucket = ?"
                f" ORDER BY article_id DESC LIMIT {BUCKET_READ})"
            ]
            * len(buckets)
        )
        chosen = [
            int(row[0])
            for row in self.conn.execute(
                f"SELECT article_id, count(*) AS shared FROM ({lookup}) GROUP BY article_id"
                " ORDER BY shared DESC, article_id DESC LIMIT ?",
                [*(part for pair in buckets for part in pair), limit],
            )
        ]
        if not chosen:
            return {}
        marks = ",".join("?" * len(chosen))
        rows = self.conn.execute(
            f"SELECT article_id, signature FROM article_signatures WHERE article_id IN ({marks})",
            chosen,
        )
        return {int(article_id): blob for article_id, blob in rows}

    def mark_article(
        self, article_id: int, *, duplicate_of: int | None, stale: bool, evidence: Iterable[str]
    ) -> None:
        """Record what understanding found: the original it copies, staleness, evidence keys."""
        with self.transaction():
            self.conn.execute(
                "UPDATE articles SET duplicate_of = ?, stale = ?, evidence = ? WHERE id = ?",
                (duplicate_of, int(stale), json.dumps(sorted(evidence)), article_id),
            )

    def story_signatures(self, story_id: int, limit: int = LSH_CANDIDATES) -> dict[int, bytes]:
        """The MinHash signatures of a story's articles that copy no other (the latest
        `limit` of a big story)."""
        return {
            int(article): blob
            for article, blob in self.conn.execute(
                "SELECT a.id, s.signature FROM articles AS a"
                " JOIN article_signatures AS s ON s.article_id = a.id"
                " WHERE a.story_id = ? AND a.duplicate_of IS NULL ORDER BY a.id DESC LIMIT ?",
                (story_id, limit),
            )
        }

    def original_of(self, article_id: int) -> int:
        """The article a copy copies, following copies of copies to the first."""
        seen = {article_id}
        while True:
            row = self.conn.execute(
                "SELECT duplicate_of FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
            if not row or row[0] is None or row[0] in seen:
                return article_id
            article_id = int(row[0])
            seen.add(article_id)

    def article_texts(self, article_ids: Sequence[int]) -> dict[int, str]:
        """The main text of each of these articles, by id."""
        return {k: v or "" for k, v in self._of_articles("text", article_ids).items()}

    def text_lengths(self, article_ids: Sequence[int]) -> dict[int, int]:
        """The length in characters of each of these articles' main text, by id."""
        return {k: int(v or 0) for k, v in self._of_articles("length(text)", article_ids).items()}

    def _of_articles(self, column: str, article_ids: Sequence[int]) -> dict[int, Any]:
        """One column (a fixed SQL expression, never user input) of these articles, by id."""
        if not article_ids:
            return {}
        marks = ",".join("?" * len(article_ids))
        query = f"SELECT id, {column} FROM articles WHERE id IN ({marks})"
        return {
            int(article): value for article, value in self.conn.execute(query, tuple(article_ids))
        }

    def published(self, article_id: int) -> datetime | None:
        """When an article says it was published."""
        row = self.conn.execute(
            "SELECT published FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def set_original(self, copy_id: int, original_id: int) -> None:
        """Make a stored article the copy of one found later that was published earlier."""
        with self.transaction():
            self.conn.execute(
                "UPDATE articles SET duplicate_of = ? WHERE id = ?", (original_id, copy_id)
            )

    def article_story(self, article_id: int) -> int | None:
        """The story an article belongs to."""
        row = self.conn.execute(
            "SELECT story_id FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def story_candidates(
        self, since: str, until: str, near: str, limit: int = STORY_CANDIDATES
    ) -> list[tuple[int, int, str, datetime]]:
        """(story, article, evidence as stored, when) of the story articles in a time window.

        An article's news happened when it was published, or when it was first seen if that
        came earlier (a publication date in the future is not believed). A busy window
        gives the `limit` articles nearest in time (the lower id first at equal distance):
        rewrites come within hours. `pipeline.window` answers the same from memory.
        """
        rows = self.conn.execute(
            f"SELECT story_id, id, evidence, {_MOMENT} AS moment FROM articles"
            f" WHERE {_MOMENT} BETWEEN ? AND ? AND {_CANDIDATE}"
            f" ORDER BY abs(julianday({_MOMENT}) - julianday(?)), id LIMIT ?",
            (since, until, near, limit),
        )
        return [
            (int(story), int(article), keys, datetime.fromisoformat(when))
            for story, article, keys, when in rows
        ]

    def window_articles(
        self, since: str, until: str, article_id: int | None = None
    ) -> list[tuple[int, int, str, str, float]]:
        """(story, article, evidence, moment, its julian day) of the articles `story_candidates`
        chooses from in a time window, or of one article if it is one of them."""
        only = "" if article_id is None else " AND id = ?"
        return [
            (int(story), int(article), keys, moment, float(day))
            for story, article, keys, moment, day in self.conn.execute(
                f"SELECT story_id, id, evidence, {_MOMENT} AS moment, julianday({_MOMENT})"
                f" FROM articles WHERE {_MOMENT} BETWEEN ? AND ? AND {_CANDIDATE}{only}",
                (since, until) if article_id is None else (since, until, article_id),
            )
        ]

    def julian_day(self, moment: str) -> float:
        """A stored time as the julian day SQLite measures distances in time with."""
        return float(self.conn.execute("SELECT julianday(?)", (moment,)).fetchone()[0])

    def create_story(self, article_id: int, title: str, when: str, *, stale: bool) -> int:
        """Open a story with its first article; a stale one is no development."""
        with self.transaction():
            cursor = self.conn.execute(
                "INSERT INTO stories (title, first_article_id, first_seen, last_updated,"
                " last_development, stale) VALUES (?, ?, ?, ?, ?, ?)",
                (title, article_id, when, when, None if stale else when, int(stale)),
            )
            story_id = int(cursor.lastrowid or 0)
            self.conn.execute(
                "UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id)
            )
        return story_id

    def join_story(self, article_id: int, story_id: int, when: str, *, stale: bool) -> None:
        """Add an article to a story; only a fresh one updates it."""
        with self.transaction():
            self.conn.execute(
                "UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id)
            )
            if not stale:
                self.conn.execute(
                    "UPDATE stories SET last_updated = max(last_updated, ?), stale = 0"
                    " WHERE id = ?",
                    (when, story_id),
                )

    def merge_stories(self, stories: Sequence[int]) -> int:
        """Make several stories one, the oldest; return its id.

        Articles, facts and what subscribers were sent move to the oldest story, which
        keeps the earliest first sighting and the latest update and development.
        """
        if len(stories) == 1:
            return stories[0]
        marks = ",".join("?" * len(stories))
        rows = self.conn.execute(
            f"SELECT id FROM stories WHERE id IN ({marks}) ORDER BY first_seen, id",
            list(stories),
        ).fetchall()
        keep, absorbed = int(rows[0][0]), [int(r[0]) for r in rows[1:]]
        if not absorbed:
            return keep
        gone = ",".join("?" * len(absorbed))
        with self.transaction():
            self.conn.execute(
                f"UPDATE stories SET"
                f" last_updated = (SELECT max(last_updated) FROM stories"
                f"   WHERE id = ? OR id IN ({gone})),"
                f" last_development = (SELECT max(last_development) FROM stories"
                f"   WHERE id = ? OR id IN ({gone})),"
                f" stale = (SELECT min(stale) FROM stories WHERE id = ? OR id IN ({gone}))"
                f" WHERE id = ?",
                [keep, *absorbed, keep, *absorbed, keep, *absorbed, keep],
            )
            for table in ("articles", "facts"):
                self.conn.execute(
                    f"UPDATE {table} SET story_id = ? WHERE story_id IN ({gone})", [keep, *absorbed]
                )
            # what a subscriber was sent about either story counts as sent about the merger
            self.conn.execute(
                f"UPDATE OR IGNORE deliveries SET story_id = ? WHERE story_id IN ({gone})",
                [keep, *absorbed],
            )
            self.conn.execute(f"DELETE FROM deliveries WHERE story_id IN ({gone})", absorbed)
            self.conn.execute(f"DELETE FROM stories WHERE id IN ({gone})", absorbed)
        return keep

    def save_labels(self, article_id: int, labels: Iterable[Label]) -> None:
        """Store an article's categories with their confidence and evidence sentence."""
        with self.transaction():
            self.conn.execute("DELETE FROM article_labels WHERE article_id = ?", (article_id,))
            self.conn.executemany(
                "INSERT INTO article_labels (article_id, category, confidence, sentence)"
                " VALUES (?, ?, ?, ?)",
                [(article_id, lb.category, round(lb.confidence, 3), lb.sentence) for lb in labels],
            )

    def save_facts(
        self,
        article_id: int,
        story_id: int | None,
        facts: Sequence[Fact],
        *,
        outlet: str | None,
        stated_at: str,
        first_seen: str,
        stale: bool,
    ) -> int:
        """Store an article's facts against what was known before; return how many changed."""
        changes = 0
        with self.transaction():
            for fact in facts:
                before = self._values_before(
                    fact.kind, fact.subject, stated_at, article_id, story_id
                )
                # a rewrite repeating what its story already said is no change either
                change = fact.value not in before and not self._story_says(story_id, fact)
                replaces = next(iter(before.values()), None) if change else None
                self.conn.execute(
                    "INSERT INTO facts (article_id, story_id, kind, subject, value, detail,"
                    " sentence, confidence, outlet, stated_at, first_seen, replaces, is_change)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        article_id,
                        story_id,
                        fact.kind,
                        fact.subject,
                        fact.value,
                        fact.detail,
                        fact.sentence,
                        round(fact.confidence, 3),
                        outlet,
                        stated_at,
                        first_seen,
                        replaces,
                        int(change),
                    ),
                )
                changes += change
            if changes and story_id is not None and not stale:
                self.conn.execute(
                    "UPDATE stories SET last_development = ? WHERE id = ?", (first_seen, story_id)
                )
        return changes

    def _story_says(self, story_id: int | None, fact: Fact) -> bool:
        """Whether an article of this story already stated this fact."""
        if story_id is None:
            return False
        row = self.conn.execute(
            "SELECT 1 FROM facts WHERE story_id = ? AND kind = ? AND subject = ? AND value = ?"
            " LIMIT 1",
            (story_id, fact.kind, fact.subject, fact.value),
        ).fetchone()
        return row is not None

    def _values_before(
        self, kind: str, subject: str, stated_at: str, article_id: int, story_id: int | None
    ) -> dict[str, int]:
        """What the latest earlier article of another story said of a subject (value -> id).

        Rewrites of one story repeat its facts: only another story's word can be replaced.
        """
        row = self.conn.execute(
            "SELECT article_id FROM facts WHERE kind = ? AND subject = ? AND stated_at <= ?"
            " AND article_id != ? AND (story_id IS NULL OR story_id IS NOT ?)"
            " ORDER BY stated_at DESC, id DESC LIMIT 1",
            (kind, subject, stated_at, article_id, story_id),
        ).fetchone()
        if row is None:
            return {}
        return {
            value: int(fact_id)
            for fact_id, value in self.conn.execute(
                "SELECT id, value FROM facts WHERE kind = ? AND subject = ? AND article_id = ?"
                " ORDER BY id",
                (kind, subject, row[0]),
            )
        }

    def clear_understanding(self) -> None:
        """Forget stories, labels, facts and the duplicate index, to rebuild them."""
        with self.transaction():
            for sql in (
                "UPDATE articles SET story_id = NULL, duplicate_of = NULL, stale = 0,"
                " evidence = '[]'",
                "DELETE FROM facts",
                "DELETE FROM article_labels",
                "DELETE FROM stories",
                "DELETE FROM minhash_bands",
                "DELETE FROM article_signatures",
            ):
                self.conn.execute(sql)

    def waiting_articles(self, limit: int) -> list[dict[str, Any]]:
        """Kept articles not yet in a story, in the order their news happened."""
        return [
            dict(r)
            for r in self.db.query(
                f"SELECT id, title, outlet, published, first_seen, description, text"
                f" FROM articles WHERE story_id IS NULL AND relevant = 1"
                f" ORDER BY {_MOMENT}, id LIMIT ?",
                [limit],
            )
        ]

    def still_waiting(self, article_ids: Sequence[int]) -> set[int]:
        """Which of these articles are still not in a story."""
        marks = ",".join("?" * len(article_ids))
        return {
            int(row[0])
            for row in self.conn.execute(
                f"SELECT id FROM articles WHERE story_id IS NULL AND id IN ({marks})",
                list(article_ids),
            )
        }

    def articles_in_order(self, after_id: int, limit: int) -> list[dict[str, Any]]:
        """Stored articles in the order they were first seen, a batch at a time."""
        return [
            dict(r)
            for r in self.db.query(
                "SELECT id, url, title, outlet, published, first_seen, language, description,"
                " text, source, unresolved FROM articles WHERE id > ? ORDER BY id LIMIT ?",
                [after_id, limit],
            )
        ]

    def set_relevance(self, article_id: int, relevance: Relevance) -> None:
        """Store a new relevance judgement for an article."""
        with self.transaction():
            self.conn.execute(
                "UPDATE articles SET relevant = ?, relevance = ?, relevance_reason = ?"
                " WHERE id = ?",
                (int(relevance.kept), round(relevance.score, 4), relevance.reason, article_id),
            )

    def story_count(self) -> int:
        """How many stories there are."""
        return int(self.conn.execute("SELECT count(*) FROM stories").fetchone()[0])

    def stories(self, limit: int = 20, category: str | None = None) -> list[dict[str, Any]]:
        """The latest stories (developments first), with categories, sources and latest fact."""
        where = "WHERE (',' || categories || ',') LIKE ?" if category else ""
        params: list[Any] = [f"%,{category},%"] if category else []
        rows = [
            dict(r)
            for r in self.db.query(
                f"SELECT * FROM developments {where}"
                " ORDER BY coalesce(last_development, last_updated) DESC, story_id DESC LIMIT ?",
                [*params, limit],
            )
        ]
        for row in rows:
            row["outlets"] = [
                r["outlet"]
                for r in self.db.query(
                    "SELECT DISTINCT outlet FROM articles WHERE story_id = ? AND outlet IS NOT NULL"
                    " ORDER BY first_seen, id",
                    [row["story_id"]],
                )
            ]
        return rows

    def timeline(self, *, changes_only: bool = True) -> list[dict[str, Any]]:
        """Facts per category over time, with what each replaced and its source."""
        where = "WHERE is_change = 1" if changes_only else ""
        return [
            dict(r)
            for r in self.db.query(
                f"SELECT * FROM timeline {where} ORDER BY category, stated_at, fact_id"
            )
        ]

    # -- subscribers and their digests ---------------------------------------------------

    def add_subscriber(self, row: dict[str, Any]) -> int:
        """Store a new subscriber; StoreError when the address is already there."""
        try:
            with self.transaction():
                cursor = self.conn.execute(
                    f"INSERT INTO subscribers ({', '.join(row)})"
                    f" VALUES ({', '.join('?' * len(row))})",
                    list(row.values()),
                )
        except sqlite3.IntegrityError:
            raise StoreError(f"{row.get('email')} is already subscribed") from None
        return int(cursor.lastrowid or 0)

    def subscriber(
        self,
        *,
        email: str | None = None,
        token: str | None = None,
        subscriber_id: int | None = None,
    ) -> dict[str, Any] | None:
        """One subscriber by address, token or id."""
        column, value = next(
            (c, v)
            for c, v in (("email", email), ("token", token), ("id", subscriber_id))
            if v is not None
        )
        rows = list(self.db.query(f"SELECT * FROM subscribers WHERE {column} = ?", [value]))
        return dict(rows[0]) if rows else None

    def subscribers(self) -> list[dict[str, Any]]:
        """Every subscriber, with when their last message was sent."""
        return [
            dict(r)
            for r in self.db.query(
                "SELECT s.*, (SELECT max(sent_at) FROM digests d WHERE d.subscriber_id = s.id"
                " AND d.kind != 'confirmation' AND d.status = 'sent') AS last_sent"
                " FROM subscribers s ORDER BY s.email"
            )
        ]

    def update_subscriber(self, subscriber_id: int, **fields: Any) -> None:
        """Change some of a subscriber's columns."""
        if not fields:
            return
        sets = ", ".join(f"{name} = ?" for name in fields)
        with self.transaction():
            self.conn.execute(
                f"UPDATE subscribers SET {sets} WHERE id = ?", [*fields.values(), subscriber_id]
            )

    def new_developments(
        self, subscriber_id: int, since: str, categories: Sequence[str], limit: int = 50
    ) -> list[dict[str, Any]]:
        """Stories that developed after `since`, in these categories, not yet sent to them."""
        # The view's columns cost a scan of each story's articles: only the chosen rows pay.
        keys = _new_development_keys(len(categories))
        sql = f"""
            SELECT d.* FROM ({keys}) k JOIN developments d ON d.story_id = k.story_id
            ORDER BY d.last_development DESC, d.story_id DESC
        """
        return [dict(r) for r in self.db.query(sql, [since, *categories, subscriber_id, limit])]

    def new_development_keys(
        self, subscriber_id: int, since: str, categories: Sequence[str], limit: int = 50
    ) -> list[tuple[int, str]]:
        """(story_id, last_development) of new_developments, newest first, without the view."""
        sql = _new_development_keys(len(categories))
        params = [since, *categories, subscriber_id, limit]
        return [(int(r[0]), str(r[1])) for r in self.conn.execute(sql, params)]

    def developments_of(self, story_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The `developments` rows of these stories, by story id (gone stories left out)."""
        if not story_ids:
            return {}
        marks = ",".join("?" * len(story_ids))
        return {
            r["story_id"]: dict(r)
            for r in self.db.query(
                f"SELECT * FROM developments WHERE story_id IN ({marks})", list(story_ids)
            )
        }

    def story_details(self, story_id: int, prefer: str | None = None) -> dict[str, Any]:
        """What a digest shows of a story: evidence per category, latest change, outlets.

        The change shown is the latest in the preferred category (the story's main one),
        else the latest of any.
        """
        evidence = {
            r["category"]: r["sentence"]
            for r in self.db.query(
                "SELECT l.category, l.sentence FROM article_labels l"
                " JOIN articles a ON a.id = l.article_id WHERE a.story_id = ?"
                " ORDER BY a.duplicate_of IS NULL, l.confidence ASC",  # best original wins
                [story_id],
            )
        }
        change = next(
            iter(
                self.db.query(
                    "SELECT subject, value, detail, replaced, category FROM timeline"
                    " WHERE story_id = ? AND is_change = 1"
                    " ORDER BY (category IS ?) DESC, stated_at DESC, fact_id DESC LIMIT 1",
                    [story_id, prefer],
                )
            ),
            None,
        )
        outlets = [
            r["outlet"]
            for r in self.db.query(
                "SELECT outlet FROM articles WHERE story_id = ? AND outlet IS NOT NULL"
                " GROUP BY outlet ORDER BY min(coalesce(published, first_seen))",
                [story_id],
            )
        ]
        return {
            "evidence": evidence,
            "change": dict(change) if change else None,
            "outlets": outlets,
        }

    def reserve_digest(
        self,
        row: dict[str, Any],
        stories: Sequence[tuple[int, str]],
    ) -> int | None:
        """Reserve a message and the stories it carries, before it is sent.

        None, reserving nothing, when one of these developments is already reserved for
        the subscriber: two senders (the daemon's digest check and a crawl's instant
        alerts) may compose the same digest at once, and only the first may send it.
        """
        with self.transaction(immediate=True):
            if self._reserved_already(row["subscriber_id"], stories):
                return None
            cursor = self.conn.execute(
                f"INSERT INTO digests ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
            digest_id = int(cursor.lastrowid or 0)
            self.conn.executemany(
                "INSERT INTO deliveries (digest_id, subscriber_id, story_id, developed_at)"
                " VALUES (?, ?, ?, ?)",
                [(digest_id, row["subscriber_id"], story, when) for story, when in stories],
            )
        return digest_id

    def _reserved_already(self, subscriber_id: int, stories: Sequence[tuple[int, str]]) -> bool:
        """Whether any of these developments is reserved for the subscriber (as in
        new_developments: a story reserved at or after this development)."""
        return any(
            self.conn.execute(
                "SELECT 1 FROM deliveries WHERE subscriber_id = ? AND story_id = ?"
                " AND developed_at >= ? LIMIT 1",
                (subscriber_id, story, when),
            ).fetchone()
            for story, when in stories
        )

    def pending_digests(self, now: str) -> list[dict[str, Any]]:
        """Reserved or failed messages whose (next) attempt is due, oldest first."""
        return [
            dict(r)
            for r in self.db.query(
                "SELECT d.*, s.email, s.status AS subscriber_status FROM digests d"
                " JOIN subscribers s ON s.id = d.subscriber_id"
                " WHERE d.status IN ('reserved', 'failed')"
                " AND (d.next_attempt IS NULL OR d.next_attempt <= ?) ORDER BY d.id",
                [now],
            )
        ]

    def mark_digest(self, digest_id: int, status: str, **fields: Any) -> None:
        """Record a message's outcome: sent, failed (to retry) or rejected."""
        sets = ", ".join(["status = ?", "attempts = attempts + 1", *(f"{k} = ?" for k in fields)])
        with self.transaction():
            self.conn.execute(
                f"UPDATE digests SET {sets} WHERE id = ?", [status, *fields.values(), digest_id]
            )

    def last_sent(self, subscriber_id: int) -> str | None:
        """When the subscriber's last digest or alert was sent (or reserved, if pending)."""
        row = self.conn.execute(
            "SELECT max(created_at) FROM digests WHERE subscriber_id = ?"
            " AND kind != 'confirmation' AND status != 'rejected'",
            (subscriber_id,),
        ).fetchone()
        return row[0] if row else None

    def delivery_log(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest messages, with their recipient, status and stories."""
        return [
            dict(r)
            for r in self.db.query(
                "SELECT d.id, s.email, d.kind, d.subject, d.message_id, d.status, d.created_at,"
                " d.sent_at, d.attempts, d.last_error,"
                " (SELECT group_concat(story_id) FROM deliveries v WHERE v.digest_id = d.id)"
                " AS stories FROM digests d JOIN subscribers s ON s.id = d.subscriber_id"
                " ORDER BY d.id DESC LIMIT ?",
                [limit],
            )
        ]

    # -- crawl runs ------------------------------------------------------------------------

    def start_run(self, source_names: Sequence[str], when: datetime | None = None) -> int:
        """Open a crawl run and return its id."""
        with self.transaction():
            cursor = self.conn.execute(
                "INSERT INTO crawl_runs (started, sources) VALUES (?, ?)",
                (iso(when or utcnow()), len(source_names)),
            )
        return int(cursor.lastrowid or 0)

    def interrupt_stale_runs(self, started_before: datetime, when: datetime | None = None) -> int:
        """Mark as `interrupted` the runs still `running` that began before then: their
        crawl was killed (no crawl outlives its time limit). How many there were."""
        with self.transaction():
            cursor = self.conn.execute(
                "UPDATE crawl_runs SET status = 'interrupted', finished = ?"
                " WHERE status = 'running' AND started < ?",
                (iso(when or utcnow()), iso(started_before)),
            )
        return cursor.rowcount

    def record_source_run(
        self, run_id: int, source: str, status: str, error: str | None, counts: dict[str, int]
    ) -> None:
        """Store one source's result in a run (replacing an earlier one for that pair)."""
        values = [int(counts.get(key, 0)) for key in SOURCE_RUN_COUNTERS]
        with self.transaction():
            self.conn.execute(
                f"INSERT OR REPLACE INTO source_runs (run_id, source, status, error,"
                f" {', '.join(SOURCE_RUN_COUNTERS)}) VALUES (?, ?, ?, ?,"
                f" {', '.join('?' * len(SOURCE_RUN_COUNTERS))})",
                [run_id, source, status, error, *values],
            )

    def finish_run(self, run_id: int, when: datetime | None = None) -> dict[str, Any]:
        """Close a run: add up its sources' results and set its status."""
        totals = self.conn.execute(
            "SELECT count(*), sum(status = 'error'), sum(requests), sum(not_modified),"
            " sum(new_articles), sum(prefiltered), sum(errors), sum(bytes)"
            " FROM source_runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        count, failed = totals[0] or 0, totals[1] or 0
        status = "failed" if count and failed == count else ("partial" if failed else "ok")
        with self.transaction():
            self.conn.execute(
                "UPDATE crawl_runs SET finished = ?, status = ?, requests = ?, not_modified = ?,"
                " new_articles = ?, prefiltered = ?, errors = ?, bytes = ? WHERE id = ?",
                (iso(when or utcnow()), status, *[(v or 0) for v in totals[2:]], run_id),
            )
        return dict(next(self.db.query("SELECT * FROM crawl_runs WHERE id = ?", [run_id])))

    def source_runs(self, run_id: int) -> list[dict[str, Any]]:
        """The per-source results of one run."""
        return [
            dict(r)
            for r in self.db.query(
                "SELECT * FROM source_runs WHERE run_id = ? ORDER BY source", [run_id]
            )
        ]

    def recent_runs(self, limit: int = 5) -> list[dict[str, Any]]:
        """The latest crawl runs, newest first."""
        return [
            dict(r)
            for r in self.db.query("SELECT * FROM crawl_runs ORDER BY id DESC LIMIT ?", [limit])
        ]


def _new_development_keys(categories: int) -> str:
    """SQL for the stories a subscriber has not had yet; parameters: since, the categories,
    the subscriber's id, the limit."""
    marks = ",".join("?" * categories)
    return f"""
        SELECT s.id AS story_id, s.last_development FROM stories s
        WHERE s.last_development IS NOT NULL AND s.last_development > ?
          AND EXISTS (SELECT 1 FROM article_labels l JOIN articles a ON a.id = l.article_id
                      WHERE a.story_id = s.id AND l.category IN ({marks}))
          AND NOT EXISTS (SELECT 1 FROM deliveries v WHERE v.subscriber_id = ?
                          AND v.story_id = s.id
                          AND v.developed_at >= s.last_development)
        ORDER BY s.last_development DESC, s.id DESC LIMIT ?
    """


def _fts_query(terms: str) -> str:
    """Quote each word so that user input is searched for, never parsed as FTS syntax."""
    words = [w for w in terms.replace('"', " ").split() if w]
    return " ".join(f'"{w}"' for w in words) or '""'


# PRAGMAs that only report: allowed bare, and those naming a table also with their argument.
_REPORTING_PRAGMAS = frozenset({
    "application_id", "collation_list", "compile_options", "data_version", "database_list",
    "encoding", "foreign_keys", "freelist_count", "function_list", "journal_mode",
    "module_list", "page_count", "page_size", "pragma_list", "schema_version", "user_version",
})  # fmt: skip
_INSPECTING_PRAGMAS = frozenset({
    "foreign_key_check", "foreign_key_list", "index_info", "index_list", "index_xinfo",
    "integrity_check", "quick_check", "table_info", "table_list", "table_xinfo",
})  # fmt: skip


class _ReadsOnly:
    """An SQLite authorizer for `query`: no ATTACH (nor VACUUM INTO), no setting PRAGMAs.

    The read-only connection already refuses writes to the store; ATTACH would still
    create a file anywhere, and a PRAGMA could change how the connection behaves.
    """

    def __init__(self) -> None:
        self.refused: str | None = None

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, inside: str | None
    ) -> int:
        """SQLITE_OK for reading, SQLITE_DENY (remembering what) for the rest."""
        if action == sqlite3.SQLITE_ATTACH:
            self.refused = "ATTACH and VACUUM INTO are refused (they open another file)"
        elif action == sqlite3.SQLITE_DETACH:
            self.refused = "DETACH is refused"
        elif action == sqlite3.SQLITE_PRAGMA and not _reporting_pragma(arg1 or "", arg2):
            setting = f"PRAGMA {arg1}" + (f" = {arg2}" if arg2 is not None else "")
            self.refused = f"{setting} is refused (only PRAGMAs that report are allowed)"
        else:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY


def _reporting_pragma(name: str, argument: str | None) -> bool:
    """Whether a PRAGMA only reports (no setting, no checkpoint, no optimize)."""
    name = name.lower()
    return name in _INSPECTING_PRAGMAS or (name in _REPORTING_PRAGMAS and argument is None)


def read_only_query(path: Path, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Run one SQL statement on a read-only connection; a write is refused."""
    if not path.exists():
        raise StoreError(f"{path}: no store here yet (run `sequelwatch crawl` first)")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    guard = _ReadsOnly()
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = ON")
        conn.set_authorizer(guard)
        conn.row_factory = sqlite3.Row
        cursor = conn.execute(sql, params)
        return [dict(row) for row in cursor.fetchall()]
    except sqlite3.Error as exc:
        message = str(exc)
        if guard.refused:
            raise StoreError(f"`query` is read-only: {guard.refused}") from None
        if "readonly" in message or "read-only" in message or "query_only" in message:
            raise StoreError("`query` is read-only: writing statements are refused") from None
        raise StoreError(f"query failed: {message}") from None
    finally:
        conn.close()
