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
    problem: str | None = None  # what the parser skipped or recovered from, if anything


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
    parser = _parser()
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise NotASitemap(f"not a sitemap: {exc}") from None
    if root is None:
        raise NotASitemap("not a sitemap: empty document")
    problem = _problem(root, parser)
    kind = _local(root.tag)
    if kind == "sitemapindex":
        children = tuple(
            (loc, parse_date(_text(el, "lastmod")))
            for el in root
            if _local(el.tag) == "sitemap" and (loc := _text(el, "loc"))
        )
        return Sitemap(children=children[:MAX_SITEMAP_ENTRIES], entries=(), problem=problem)
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
    return Sitemap(children=(), entries=tuple(entries), problem=problem)


def _problem(root: etree._Element, parser: etree.XMLParser) -> str | None:
    """What was wrong with a document the recovering parser still read, if anything.

    Said aloud because recovery is silent: a billion-laughs bomb or 100,000 nested tags
    would otherwise read as a sitemap that lists nothing.
    """
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        return (
            "the sitemap declares its own XML entities (an XML attack?): none was expanded"
            " or fetched; read as far as possible without them"
        )
    errors = [e for e in parser.error_log if e.level >= etree.ErrorLevels.ERROR]
    if any(e.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT and "depth" in e.message for e in errors):
        return "elements nested more than 256 deep (a parser bomb?); read up to there"
    if errors:
        first = errors[0].message.splitlines()[0][:160] if errors[0].message else "?"
        return f"ill-formed sitemap, read as far as possible: {first}"
    return None
