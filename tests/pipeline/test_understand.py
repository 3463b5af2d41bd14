"""Understanding stored articles: copies, stories, stale news, labels, facts and history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import config
from config import StorySettings, Topic
from pipeline.ingest import Ingestor
from pipeline.records import EntryHint, Page
from pipeline.reprocess import reprocess
from pipeline.store import Store

TOPIC = Path(config.__file__).parent / "topics" / "alita-battle-angel-2.toml"
DAY = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

SALAZAR = """<html lang="en"><head><title>{title}</title>
<meta property="og:site_name" content="{outlet}">
<meta property="article:published_time" content="{published}"></head><body><article>
<h1>{title}</h1>{body}</article></body></html>"""


def page(
    url: str, title: str, body: str, outlet: str, published: datetime, seen: datetime | None = None
) -> Page:
    """A fetched page as the crawler hands it over."""
    paragraphs = "".join(f"<p>{p.strip()}</p>" for p in body.strip().split("\n\n"))
    html = SALAZAR.format(
        title=title, body=paragraphs, outlet=outlet, published=published.isoformat()
    )
    return Page(
        url=url,
        source="test",
        fetched_at=seen or published + timedelta(hours=1),
        html=html,
        hint=EntryHint(),
    )


CAST_A = """
Rosa Salazar says she will return as Alita in Alita: Battle Angel 2, and that she has kept up
the stunt training the first film demanded so that she is ready the day the call comes.

Speaking at a fan convention in Austin on Saturday, Salazar said director Robert Rodriguez
still sends her notes about the character. "I never really left Iron City," she told the crowd.

The sequel remains in development at 20th Century Studios, with producer James Cameron
involved, though no production schedule has been announced.

Salazar said she has read pages of the script and called the role unfinished business,
adding that she hoped the wait would be worth it for the fans who campaigned for the film.
"""

CAST_B = """
Alita: Battle Angel 2 star Rosa Salazar is ready to come back. At a convention in Austin this
weekend the actor confirmed she will return as Alita whenever cameras roll.

"I never really left Iron City," Salazar said, describing ongoing conversations with Robert
Rodriguez about where the cyborg heroine goes next.

She added that she keeps training for the fight scenes, and that the project is alive at
20th Century Studios with James Cameron producing.
"""

RELEASE = """
Alita: Battle Angel 2 will not reach theaters before 2030, a Lightstorm executive told
exhibitors on Thursday. The sequel has to wait until after Avatar 5, which opens in December
2028, because James Cameron's team and technology are committed to Pandora until then.

The executive said the project remains in development at 20th Century Studios and that
Robert Rodriguez is still attached to direct. No budget has been set.

Fans who have waited since 2019 will have to wait a while longer, the executive said, but
the team meets every month to keep the film moving.
"""

DELAY = """
Alita: Battle Angel 2 has been pushed to 2031. The studio told staff on Monday that the
sequel will not open in December 2030 as planned, after the shoot slipped into 2030.

Robert Rodriguez is still directing and James Cameron still produces. The delay follows a
rewrite of the final act, according to two people with knowledge of the production.

Rosa Salazar remains attached to return as Alita.
"""


@pytest.fixture
def topic() -> Topic:
    return config.load_topic(TOPIC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store.db")


def test_rewrites_join_one_story_and_a_copy_points_to_its_original(
    store: Store, topic: Topic
) -> None:
    ingest = Ingestor(store, topic, StorySettings()).ingest
    first = ingest(
        page(
            "https://a.example/cast",
            "Rosa Salazar will return as Alita in Alita 2",
            CAST_A,
            "The Trade Ledger",
            DAY,
        )
    )
    rewrite = ingest(
        page(
            "https://b.example/cast",
            "Alita 2: Rosa Salazar is ready to come back",
            CAST_B,
            "ScreenFan",
            DAY + timedelta(hours=5),
        )
    )
    copy = ingest(
        page(
            "https://c.example/copy",
            "Rosa Salazar will return as Alita in Alita 2",
            "Originally published by The Trade Ledger.\n\n" + CAST_A,
            "Pulse Hub",
            DAY + timedelta(hours=8),
        )
    )
    other = ingest(
        page(
            "https://d.example/window",
            "Alita: Battle Angel 2 won't arrive before 2030",
            RELEASE,
            "Reel Dispatch",
            DAY + timedelta(hours=10),
        )
    )
    assert first.kept and rewrite.kept and copy.kept and other.kept
    assert first.story_id == rewrite.story_id == copy.story_id
    assert other.story_id != first.story_id
    assert copy.duplicate_of == first.article_id
    assert rewrite.duplicate_of is None
    stories = {s["story_id"]: s for s in store.stories()}
    cast_story = stories[first.story_id]
    assert cast_story["sources"] == 3
    assert cast_story["first_reporter"] == "The Trade Ledger"
    assert "cast" in cast_story["categories"]
    labels = dict(
        store.conn.execute(
            "SELECT category, sentence FROM article_labels WHERE article_id = ?",
            (first.article_id,),
        ).fetchall()
    )
    assert "will return as Alita" in labels["cast"]


def test_a_changed_fact_is_a_new_development_with_what_it_replaced(
    store: Store, topic: Topic
) -> None:
    ingest = Ingestor(store, topic, StorySettings()).ingest
    window = ingest(
        page(
            "https://d.example/window",
            "Alita: Battle Angel 2 won't arrive before 2030",
            RELEASE,
            "Reel Dispatch",
            DAY,
        )
    )
    delay = ingest(
        page(
            "https://e.example/delay",
            "Alita: Battle Angel 2 delayed to 2031",
            DELAY,
            "Studio Desk",
            DAY + timedelta(days=20),
        )
    )
    assert delay.story_id != window.story_id
    changes = [r for r in store.timeline() if r["category"] == "release"]
    assert changes[0]["value"] == "no earlier than 2030" and changes[0]["replaced"] is None
    moved = [r for r in changes if r["value"] == "2031"]
    assert moved and moved[0]["replaced"] in {"no earlier than 2030", "after Avatar 5"}
    assert moved[0]["outlet"] == "Studio Desk"
    assert moved[0]["url"] == "https://e.example/delay"
    story = {s["story_id"]: s for s in store.stories()}[delay.story_id]
    assert story["last_development"] is not None


def test_a_stale_repost_does_not_make_an_old_story_new(store: Store, topic: Topic) -> None:
    ingest = Ingestor(store, topic, StorySettings()).ingest
    old = ingest(
        page(
            "https://f.example/2023",
            "Alita: Battle Angel 2 won't arrive before 2030",
            RELEASE,
            "Old News",
            datetime(2023, 10, 5, tzinfo=UTC),
            seen=DAY,
        )
    )
    row = store.conn.execute(
        "SELECT stale FROM articles WHERE id = ?", (old.article_id,)
    ).fetchone()
    assert row == (1,)
    story = {s["story_id"]: s for s in store.stories()}[old.story_id]
    assert story["stale"] == 1 and story["last_development"] is None


def test_reprocess_rebuilds_the_same_understanding(store: Store, topic: Topic) -> None:
    ingest = Ingestor(store, topic, StorySettings()).ingest
    ingest(
        page(
            "https://a.example/cast",
            "Rosa Salazar will return as Alita in Alita 2",
            CAST_A,
            "The Trade Ledger",
            DAY,
        )
    )
    ingest(
        page(
            "https://b.example/cast",
            "Alita 2: Rosa Salazar is ready to come back",
            CAST_B,
            "ScreenFan",
            DAY + timedelta(hours=5),
        )
    )
    ingest(
        page(
            "https://d.example/window",
            "Alita: Battle Angel 2 won't arrive before 2030",
            RELEASE,
            "Reel Dispatch",
            DAY + timedelta(hours=10),
        )
    )
    before = [(s["title"], s["articles"], s["categories"]) for s in store.stories()]
    facts = store.conn.execute("SELECT count(*) FROM facts").fetchone()
    report = reprocess(store, topic, StorySettings(), batch=2)
    assert report.articles == 3 and report.kept == 3 and report.stories == 2
    assert [(s["title"], s["articles"], s["categories"]) for s in store.stories()] == before
    assert store.conn.execute("SELECT count(*) FROM facts").fetchone() == facts
