"""The Atom feed of developments, read back with feedparser as a feed reader would."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import feedparser

from alerts.feed import atom_feed, story_tag
from alerts.records import StoryItem

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script> & <img src=x onerror=alert(1)> " onmouseover="x'


def story(
    story_id: int,
    *,
    title: str = "Studio pencils in 2031 for the Alita sequel",
    url: str | None = "https://ledger.example/2031",
    evidence: str | None = "The studio told exhibitors to expect the sequel in 2031.",
    outlets: tuple[str, ...] = ("The Reel Ledger", "Cinema Dispatch"),
    hours_ago: int = 1,
) -> StoryItem:
    """A release story with sensible defaults."""
    moment = NOW - timedelta(hours=hours_ago)
    return StoryItem(
        story_id=story_id,
        title=title,
        url=url,
        category="release",
        categories=("release", "production"),
        evidence=evidence,
        change="release: 2031 (was: no earlier than 2030)",
        outlets=outlets,
        first_reporter=outlets[0] if outlets else None,
        first_seen=moment - timedelta(days=1),
        developed_at=moment,
    )


def feed(*stories: StoryItem) -> bytes:
    """The feed of these stories."""
    return atom_feed(
        stories,
        topic_name="Alita: Battle Angel 2",
        feed_url="https://watch.example/feed.atom",
        site_url="https://watch.example",
        updated=NOW,
    )


def test_the_feed_parses_without_errors() -> None:
    parsed = feedparser.parse(feed(story(1), story(2, hours_ago=5)))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Alita: Battle Angel 2: developments"
    assert [link.rel for link in parsed.feed.links] == ["self", "alternate"]
    entry = parsed.entries[0]
    assert entry.title == "Studio pencils in 2031 for the Alita sequel"
    assert entry.link == "https://ledger.example/2031"
    assert entry.id == "tag:watch.example,2026:sequelwatch/story/1"
    assert entry.updated == "2026-11-25T06:00:00Z"
    assert [tag.term for tag in entry.tags] == ["release", "production"]
    assert entry.summary.splitlines() == [
        "New: release: 2031 (was: no earlier than 2030)",
        "\u201cThe studio told exhibitors to expect the sequel in 2031.\u201d",
        "First reported by The Reel Ledger, also Cinema Dispatch.",
    ]


def test_entries_come_newest_development_first_with_stable_ids() -> None:
    stories = (story(7, hours_ago=9), story(8, hours_ago=2), story(9, hours_ago=5))
    first = feedparser.parse(feed(*stories))
    assert [entry.id for entry in first.entries] == [
        story_tag(8, "https://watch.example"),
        story_tag(9, "https://watch.example"),
        story_tag(7, "https://watch.example"),
    ]
    again = feedparser.parse(feed(*reversed(stories)))
    assert [entry.id for entry in again.entries] == [entry.id for entry in first.entries]


def test_hostile_text_is_escaped_and_hostile_links_dropped() -> None:
    hostile = story(
        3,
        title=HOSTILE + "\r\nline two\x00\x0b",
        url="javascript:alert(1)",
        evidence=HOSTILE,
        outlets=(HOSTILE,),
    )
    data = feed(hostile, story(4, url="data:text/html,<script>alert(1)</script>"))
    assert b"<script" not in data and b"<img" not in data
    ET.fromstring(data)  # well-formed, even with characters XML cannot carry
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    entry = parsed.entries[0]
    assert entry.title == HOSTILE + " line two"
    assert entry.title_detail.type == "text/plain"
    assert HOSTILE in entry.summary
    links = [link.href for e in parsed.entries for link in e.get("links", [])]
    assert all(href.startswith(("http://", "https://")) for href in links)
    assert not any("javascript:" in href or "data:" in href for href in links)
