"""An Atom 1.0 feed of developments, for people who prefer a feed reader."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from alerts.records import StoryItem
from alerts.render import CATEGORY_LABELS, one_line, safe_url

ATOM = "http://www.w3.org/2005/Atom"
TAG_DATE = "2026"  # the date part of the tag: URIs; changing it changes every entry's id
GENERATOR = "sequelwatch"
# Characters XML 1.0 cannot carry at all, even escaped: ElementTree would write them as-is.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    """The text without the characters XML forbids."""
    return _NOT_XML.sub("", text)


def _stamp(moment: datetime) -> str:
    """An RFC 3339 timestamp in UTC, e.g. 2026-11-24T23:30:00Z."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("feed timestamps must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def tag_uri(site_url: str, specific: str) -> str:
    """A tag: URI (RFC 4151) under the site's host name, e.g. tag:host,2026:sequelwatch/feed."""
    host = urlsplit(site_url).hostname or "localhost"
    return f"tag:{host},{TAG_DATE}:sequelwatch/{specific}"


def story_tag(story_id: int, site_url: str) -> str:
    """The entry's id: a tag: URI that stays the same for the same story."""
    return tag_uri(site_url, f"story/{story_id}")


def _child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Append a child element with escaped-on-write text and attributes."""
    element = ET.SubElement(parent, tag, {k: _xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _xml_text(text)
    return element


def entry_summary(story: StoryItem) -> str:
    """The entry's plain-text summary: what is new, the evidence and who reported it."""
    lines = []
    if story.change:
        lines.append(f"New: {one_line(story.change)}")
    if story.evidence:
        lines.append(f"\u201c{one_line(story.evidence)}\u201d")
    outlets = [name for name in (one_line(o) for o in story.outlets) if name]
    first = one_line(story.first_reporter) or (outlets[0] if outlets else "")
    if first:
        others = [name for name in outlets if name != first]
        also = f", also {', '.join(others)}" if others else ""
        lines.append(f"First reported by {first}{also}.")
    return "\n".join(lines) or one_line(story.title)


def _entry(feed: ET.Element, story: StoryItem, site_url: str) -> None:
    """Append one story as an Atom entry."""
    entry = _child(feed, "entry")
    _child(entry, "id", story_tag(story.story_id, site_url))
    _child(entry, "title", one_line(story.title) or "(untitled)", type="text")
    url = safe_url(story.url)
    if url is not None:
        _child(entry, "link", rel="alternate", type="text/html", href=url)
    _child(entry, "updated", _stamp(story.developed_at))
    _child(entry, "published", _stamp(story.first_seen))
    _child(entry, "summary", entry_summary(story), type="text")
    for category in dict.fromkeys((story.category, *story.categories)):
        term = one_line(category)
        if term:
            _child(entry, "category", term=term, label=CATEGORY_LABELS.get(term, term))


def atom_feed(
    stories: Sequence[StoryItem],
    *,
    topic_name: str,
    feed_url: str,
    site_url: str,
    updated: datetime,
) -> bytes:
    """The developments as an Atom 1.0 document (UTF-8), newest development first."""
    feed = ET.Element("feed", {"xmlns": ATOM})
    _child(feed, "id", tag_uri(site_url, "feed"))
    _child(feed, "title", f"{one_line(topic_name)}: developments", type="text")
    _child(feed, "updated", _stamp(updated))
    _child(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    if safe_url(site_url) is not None:
        _child(feed, "link", rel="alternate", type="text/html", href=site_url)
    author = _child(feed, "author")
    _child(author, "name", GENERATOR)
    _child(feed, "generator", GENERATOR)
    for story in sorted(stories, key=lambda item: item.developed_at, reverse=True):
        _entry(feed, story, site_url)
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
