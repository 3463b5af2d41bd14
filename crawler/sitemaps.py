"""Reading sitemaps, sitemap indexes and Google News sitemaps, safely."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from pipeline.records import EntryHint

MAX_SITEMAP_ENTRIES = 50_000  # the protocol's own limit per file


class NotASitemap(ValueError):
    """The document is not a sitemap or sitemap index."""


@dataclass(frozen=True, slots=True)
class Sitemap:
    """What one sitemap file holds: child sitemaps (an index) or page entries."""

    children: tuple[tuple[str, datetime | None], ...]  # (url, lastmod)
    entries: tuple[EntryHint, ...]


def _parser() -> etree.XMLParser:
    """An XML parser that expands no entities and fetches nothing (no XXE, no bombs)."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True
    )


def _local(tag: object) -> str:
    """The local name of an element's tag, without its namespace."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(element: etree._Element, *path: str) -> str | None:
    """The text of the first descendant along local names, stripped."""
    current: etree._Element | None = element
    for name in path:
        if current is None:
            return None
        current = next((c for c in current if _local(c.tag) == name), None)
    text = (current.text or "").strip() if current is not None else ""
    return text or None


def parse_date(text: str | None) -> datetime | None:
    """A W3C datetime of a sitemap (2026-11-20, 2026-11-20T09:00:00+01:00) in UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_sitemap(body: bytes) -> Sitemap:
    """Parse a sitemap or sitemap index; raise NotASitemap for anything else."""
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise NotASitemap(f"not a sitemap: {exc}") from None
    if root is None:
        raise NotASitemap("not a sitemap: empty document")
    kind = _local(root.tag)
    if kind == "sitemapindex":
        children = tuple(
            (loc, parse_date(_text(el, "lastmod")))
            for el in root
            if _local(el.tag) == "sitemap" and (loc := _text(el, "loc"))
        )
        return Sitemap(children=children[:MAX_SITEMAP_ENTRIES], entries=())
    if kind != "urlset":
        raise NotASitemap(f"not a sitemap: the document's root is <{kind or '?'}>")
    entries = []
    for el in root:
        if _local(el.tag) != "url" or not (loc := _text(el, "loc")):
            continue
        entries.append(
            EntryHint(
                title=_text(el, "news", "title"),
                link=loc,
                published=parse_date(_text(el, "news", "publication_date") or _text(el, "lastmod")),
                outlet=_text(el, "news", "publication", "name"),
                language=_text(el, "news", "publication", "language"),
                tags=tuple(
                    k.strip() for k in (_text(el, "news", "keywords") or "").split(",") if k.strip()
                ),
            )
        )
        if len(entries) >= MAX_SITEMAP_ENTRIES:
            break
    return Sitemap(children=(), entries=tuple(entries))
