"""Reading RSS and Atom with feedparser: entries, what they say, where they lead."""

from __future__ import annotations

import calendar
import contextlib
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.sax import SAXParseException

import feedparser
from lxml import etree
from lxml import html as lxml_html

from crawler.decoding import feed_bytes
from pipeline.records import EntryHint

# A full-content entry carries the article itself: at least this much text.
FULL_CONTENT_MIN_CHARS = 600
# libxml2's own limit without XML_PARSE_HUGE; no feed comes near it.
MAX_DEPTH = 256
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
# A document whose first element is a feed's root, after any XML declaration,
# processing instructions, comments and DOCTYPE.
_FEED_ROOT = re.compile(
    r"^\s*(?:<\?.*?\?>\s*|<!--.*?-->\s*|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>\s*)*"
    r"<(?:rss|feed|rdf:RDF)[\s>]",
    re.DOTALL | re.IGNORECASE,
)
# An ENTITY declaration before the first element: feedparser drops every entity that is
# not a plain string, so a feed that declares them and then fails is an XML attack.
_DECLARED_ENTITY = re.compile(rb"^[^<]*(?:<[?!][^<]*)*?<!ENTITY", re.DOTALL)


class NotAFeed(ValueError):
    """The document is not an RSS or Atom feed that can be read."""


@dataclass(frozen=True, slots=True)
class Feed:
    """A parsed feed: its entries, and what was wrong with it if it was ill-formed."""

    entries: list[FeedEntry]
    problem: str | None  # the parser's complaint when it had to recover


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry: where it leads, what it says, and its full content if it has one."""

    link: str
    hint: EntryHint
    content_html: str | None  # the entry's own full text, when it carries the article


def plain(text: str | None) -> str:
    """Markup-free, whitespace-collapsed text."""
    if not text:
        return ""
    return _SPACE.sub(" ", _TAGS.sub(" ", text)).strip()


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> Feed:
    """Parse a feed document; raise NotAFeed when nothing in it reads as a feed."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    body = feed_bytes(body, content_type)
    if _too_deep(body):
        raise NotAFeed(f"elements nested more than {MAX_DEPTH} deep (a parser bomb?); not read")
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=True)
    version = parsed.get("version") or ""
    if not version and not parsed.entries:
        reason = parsed.get("bozo_exception")
        detail = f": {_first_line(reason)}" if reason else ""
        raise NotAFeed(f"not an RSS or Atom feed{detail}")
    feed_title = plain(parsed.feed.get("title"))
    entries = []
    for raw in parsed.entries:
        entry = _entry(raw, url, feed_title)
        if entry is not None:
            entries.append(entry)
    problem = None
    if parsed.get("bozo") and isinstance(parsed.get("bozo_exception"), SAXParseException):
        problem = f"ill-formed feed, read as far as possible: {_first_line(parsed.bozo_exception)}"
        if _DECLARED_ENTITY.match(body):
            problem = (
                "the feed declares its own XML entities (an XML attack?): none was expanded"
                " or fetched; read as far as possible without them"
            )
    return Feed(entries, problem)


def _too_deep(body: bytes) -> bool:
    """Whether the document nests elements deeper than MAX_DEPTH.

    feedparser is pure Python: 100,000 nested tags cost it seconds, on the one thread
    that also moves every other download along (they time out meanwhile). libxml2 finds
    out in microseconds; it stops at the limit, expands no entity and fetches nothing.
    """
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    # not even XML: feedparser's lenient parser will say what it makes of it
    with contextlib.suppress(etree.XMLSyntaxError):
        etree.fromstring(body, parser=parser)
    return any(
        error.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT and "depth" in error.message
        for error in parser.error_log
    )


def is_feed_document(text: str) -> bool:
    """Whether a document (say, a supposed article page) is really an RSS or Atom feed."""
    return _FEED_ROOT.match(text[:8192].lstrip("\ufeff")) is not None


def _first_line(error: object) -> str:
    """The first line of an exception's message, shortened."""
    return str(error).splitlines()[0][:160] if str(error) else type(error).__name__


def _entry(raw: Any, feed_url: str, feed_title: str) -> FeedEntry | None:
    """One feedparser entry as a FeedEntry; None when it leads nowhere."""
    own = urljoin(feed_url, raw_link) if (raw_link := (raw.get("link") or "").strip()) else ""
    content = _content(raw)
    shared = _aggregator_link(content or "")
    if shared and shared.rstrip("/") != own.rstrip("/"):
        link, full = shared, None  # a link post: the article is where it points
    else:
        link = own
        # a self post ([link] to itself) is its own whole content, however short
        full = content if shared or len(plain(content)) >= FULL_CONTENT_MIN_CHARS else None
    if not link or urlsplit(link).scheme not in ("http", "https"):
        return None
    source = raw.get("source") or {}
    hint = EntryHint(
        title=plain(raw.get("title")) or None,
        summary=plain(raw.get("summary")) or None,
        link=link,
        published=_when(raw.get("published_parsed") or raw.get("updated_parsed")),
        # Google News names the outlet in <source>, Bing News in <News:Source>; else the
        # feed's own title (a page's site name, when one is fetched, comes first).
        outlet=plain(source.get("title") or raw.get("news_source")) or feed_title or None,
        authors=_authors(raw),
        tags=tuple(t for t in (plain(tag.get("term")) for tag in raw.get("tags") or []) if t),
        language=_language(raw),
    )
    return FeedEntry(link=link, hint=hint, content_html=full)


def _content(raw: Any) -> str | None:
    """The entry's longest HTML content (content:encoded, Atom content), if any."""
    values = [str(item.get("value") or "") for item in raw.get("content") or []]
    return max(values, key=len) if any(values) else None


def _aggregator_link(content: str) -> str | None:
    """Where a Reddit-style entry ("submitted by ... [link] [comments]") points."""
    if "[link]" not in content:
        return None
    try:
        tree = lxml_html.fragment_fromstring(content, create_parent="div")
    except (ValueError, SyntaxError):
        return None
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if (anchor.text_content() or "").strip() == "[link]" and href.startswith("http"):
            return href
    return None


def _when(parsed: time.struct_time | None) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _authors(raw: Any) -> tuple[str, ...]:
    """The entry's author names."""
    names = [plain(a.get("name")) for a in raw.get("authors") or []]
    if not any(names) and raw.get("author"):
        names = [plain(raw.get("author"))]
    return tuple(dict.fromkeys(n for n in names if n))


def _language(raw: Any) -> str | None:
    """The entry's declared language, as a two-letter code."""
    for detail in ("title_detail", "summary_detail"):
        lang = (raw.get(detail) or {}).get("language")
        if lang:
            return str(lang).split("-")[0].lower()[:2] or None
    return None
