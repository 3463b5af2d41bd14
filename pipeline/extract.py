"""What sequelwatch makes of one article page: metadata from the page itself, then main text."""

from __future__ import annotations

import html as htmllib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import htmldate
import lxml.etree
import lxml.html
import py3langid
import trafilatura

from pipeline.records import Extracted

logger = logging.getLogger(__name__)

MAX_HTML_CHARS = 5_000_000  # larger "pages" are not articles; parse only their start
MIN_ARTICLE_BODY = 300  # a JSON-LD articleBody shorter than this is a teaser
# trafilatura's main extractor alone (fast mode) is kept when it finds this much text; a
# page where it finds less is extracted again with its fallbacks (readability, jusText),
# which cost as much again and, on pages the main extractor reads, change nothing.
MIN_FAST_TEXT = 500
MIN_LANGID_TEXT = 200  # below this, guessing the language from text is unreliable
ARTICLE_TYPES = frozenset(
    {
        "article", "newsarticle", "blogposting", "reportagenewsarticle", "reportagenews",
        "analysisnewsarticle", "opinionnewsarticle", "reviewnewsarticle", "liveblogposting",
        "backgroundnewsarticle", "asknewsarticle", "askpublicnewsarticle", "report",
        "techarticle", "satiricalarticle", "socialmediaposting", "review",
    }
)  # fmt: skip
DATE_META_KEYS = (
    "article:published_time", "og:article:published_time", "parsely-pub-date",
    "sailthru.date", "dc.date", "dc.date.issued", "dcterms.date", "dcterms.created",
    "datepublished", "pubdate", "publishdate", "publish-date", "date",
)  # fmt: skip
AUTHOR_META_KEYS = ("article:author", "author", "parsely-author", "sailthru.author", "dc.creator")
LANGUAGE_CODES_3 = {
    "eng": "en", "spa": "es", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de", "ita": "it",
    "por": "pt", "jpn": "ja", "zho": "zh", "chi": "zh", "kor": "ko", "rus": "ru",
}  # fmt: skip
TITLE_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|·|•|::)\s+")
BYLINE_PREFIX = re.compile(
    r"^(?:(?:written|words|posted|reported)\s+)?(?:by|por|par|von)\b:?\s*", re.I
)
AUTHOR_SPLIT = re.compile(r"\s*(?:,|;|\||&|\band\b)\s*", re.I)
AUTHOR_ROLE = re.compile(r"\b(?:staff|writer|editor|correspondent|contributor|reporter)s?\b", re.I)
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Sources:
    """Everything read from one parsed page, shared by the field extractors."""

    tree: lxml.html.HtmlElement
    url: str
    meta: dict[str, list[str]]  # lower-cased meta name/property -> content values
    graph: list[JsonObject]  # every JSON-LD object on the page
    article: JsonObject  # the article-like JSON-LD object, or {}


def extract(html: str, url: str) -> Extracted:
    """Return the metadata and main text of one article page; never raises on bad input."""
    tree = _parse(html)
    if tree is None:
        return Extracted(None, None, None, (), None, None, None, "")
    graph = _jsonld_objects(tree)
    page = _Sources(tree, url, _meta_tags(tree), graph, _article_object(graph))
    outlet = _outlet(page)
    title = _title(page, outlet)
    text = _drop_headline(_text(tree, page.article, url), title)
    return Extracted(
        title=title,
        canonical=_canonical(page),
        outlet=outlet,
        authors=_authors(page),
        published=_published(page),
        language=_language(page, text),
        description=_first(
            page.meta.get("description"),
            page.meta.get("og:description"),
            page.meta.get("twitter:description"),
            [page.article.get("description")],
        ),
        text=text,
    )


def _parse(html: str) -> lxml.html.HtmlElement | None:
    """Parse a document once; None when there is nothing to parse."""
    if not isinstance(html, str) or not html.strip():
        return None
    data = CONTROL_CHARS.sub("", html[:MAX_HTML_CHARS]).encode("utf-8", "replace")
    # Bytes with an explicit encoding: lxml refuses str input that declares its own encoding.
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:
        return lxml.html.document_fromstring(data, parser=parser)
    except (ValueError, lxml.etree.ParserError):
        return None


def _drop_headline(text: str, title: str | None) -> str:
    """Remove the headline when the extractor repeated it as the first paragraph."""
    first, _, rest = text.partition("\n\n")
    if title and rest and _squash(first) == _squash(title):
        return rest
    return text


def _clean(value: object) -> str:
    """Unescape entities and collapse whitespace in a metadata string."""
    if not isinstance(value, str):
        return ""
    return " ".join(htmllib.unescape(value).split())


def _first(*candidates: list[Any] | None) -> str | None:
    """Return the first non-empty cleaned string among lists of candidates."""
    for values in candidates:
        for value in values or ():
            cleaned = _clean(value)
            if cleaned:
                return cleaned
    return None


def _meta_tags(tree: lxml.html.HtmlElement) -> dict[str, list[str]]:
    """Map each lower-cased meta name/property/itemprop to its content values, in order."""
    meta: dict[str, list[str]] = {}
    for element in tree.iter("meta"):
        content = element.get("content")
        if content is None:
            continue
        for attribute in ("property", "name", "itemprop", "http-equiv"):
            key = (element.get(attribute) or "").strip().lower()
            if key:
                meta.setdefault(key, []).append(content)
    return meta


def _jsonld_objects(tree: lxml.html.HtmlElement) -> list[JsonObject]:
    """Return every JSON-LD object on the page, with @graph and lists flattened."""
    objects: list[JsonObject] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        data = _load_json(script.text or "")
        objects.extend(_flatten(data, depth=0))
    return objects


def _load_json(raw: str) -> Any:
    """Parse JSON-LD, forgiving the usual breakage; None when it cannot be read."""
    raw = raw.strip().removeprefix("<![CDATA[").removesuffix("]]>").strip().rstrip(";")
    for attempt in (raw, re.sub(r",\s*([}\]])", r"\1", raw)):
        try:
            return json.loads(attempt, strict=False)
        except (ValueError, RecursionError):
            continue
    return None


def _flatten(data: Any, depth: int) -> Iterator[JsonObject]:
    """Yield the objects of a JSON-LD value: lists, @graph arrays and mainEntity included."""
    if depth > 5:
        return
    if isinstance(data, list):
        for item in data:
            yield from _flatten(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if isinstance(data.get(key), list | dict):
                yield from _flatten(data[key], depth + 1)


def _types(obj: JsonObject) -> set[str]:
    """Return the lower-cased schema.org types of a JSON-LD object, without prefixes."""
    raw = obj.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return {v.rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower() for v in values if isinstance(v, str)}


def _article_object(objects: list[JsonObject]) -> JsonObject:
    """Return the first article-like JSON-LD object, or an empty dict."""
    for obj in objects:
        if _types(obj) & ARTICLE_TYPES:
            return obj
    return {}


def _resolve(value: Any, graph: list[JsonObject]) -> Any:
    """Replace a bare {"@id": ...} reference with the object it names in the graph."""
    if isinstance(value, dict) and "@id" in value and len(value) <= 2 and "name" not in value:
        for obj in graph:
            if obj.get("@id") == value["@id"] and obj is not value:
                return obj
    return value


def _title(page: _Sources, outlet: str | None) -> str | None:
    """Return the headline without a trailing site name."""
    declared = _first(
        [page.article.get("headline"), page.article.get("name")],
        page.meta.get("og:title"),
        page.meta.get("twitter:title"),
        page.meta.get("parsely-title"),
    )
    if declared:
        return _strip_site_suffix(declared, outlet, generic=False)
    title = _first([page.tree.findtext(".//title")])
    if title:
        return _strip_site_suffix(title, outlet, generic=True)
    return _first([h1.text_content() for h1 in page.tree.iter("h1")][:1])


def _strip_site_suffix(title: str, outlet: str | None, generic: bool) -> str:
    """Remove a trailing " | Site" (always for <title>, else only when it names the outlet)."""
    parts = TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    suffix = parts[-1]
    head = title[: title.rfind(suffix)].rstrip(" |-–—·•:")
    if not head:
        return title
    if (
        outlet
        and _squash(suffix)
        and (_squash(outlet) in _squash(suffix) or _squash(suffix) in _squash(outlet))
    ):
        return head
    if generic and len(suffix.split()) <= 4 and len(head.split()) > len(suffix.split()):
        return head
    return title


def _squash(value: str) -> str:
    """Lower-case letters and digits only, to compare site names."""
    return re.sub(r"\W+", "", value.lower())


def _outlet(page: _Sources) -> str | None:
    """Return the publication's name."""
    publisher = _resolve(page.article.get("publisher"), page.graph)
    if isinstance(publisher, list) and publisher:
        publisher = _resolve(publisher[0], page.graph)
    publisher_name = publisher.get("name") if isinstance(publisher, dict) else publisher
    websites = [obj.get("name") for obj in page.graph if "website" in _types(obj)]
    return _first(
        page.meta.get("og:site_name"), [publisher_name], websites, page.meta.get("application-name")
    )


def _canonical(page: _Sources) -> str | None:
    """Return the page's declared canonical URL, absolutised against the page URL."""
    links = [el.get("href") for el in page.tree.iter("link") if _is_canonical_link(el)]
    declared = _first(links, page.meta.get("og:url"))
    try:
        base = urljoin(page.url, page.tree.xpath("string(//base/@href)").strip())
        return urljoin(base, declared) if declared else None
    except ValueError:  # an unparseable URL, e.g. a broken IPv6 host
        return None


def _is_canonical_link(element: lxml.html.HtmlElement) -> bool:
    """Whether a <link> is rel=canonical (rel holds space-separated tokens)."""
    return "canonical" in (element.get("rel") or "").lower().split()


def _authors(page: _Sources) -> tuple[str, ...]:
    """Return the article's author names, cleaned and deduplicated."""
    candidates = [_jsonld_names(page.article.get("author"), page.graph)]
    candidates += [page.meta.get(key, []) for key in AUTHOR_META_KEYS]
    candidates.append([el.text_content() for el in page.tree.xpath("//a[@rel='author']")])
    microdata = page.tree.xpath("//*[@itemprop='author']//*[@itemprop='name']")
    candidates.append([el.text_content() for el in microdata])
    for values in candidates:
        names = _clean_names(values)
        if names:
            return names
    return ()


def _jsonld_names(value: Any, graph: list[JsonObject]) -> list[str]:
    """Return the names in a JSON-LD author value: a string, an object or a list of them."""
    value = _resolve(value, graph)
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, list):
        items = [item for item in value[:20] if not isinstance(item, list)]  # bounded depth
        return [name for item in items for name in _jsonld_names(item, graph)]
    return []


def _clean_names(values: list[str]) -> tuple[str, ...]:
    """Split bylines into names; drop URLs, handles, job titles and duplicates."""
    names: dict[str, str] = {}
    for value in values:
        for part in AUTHOR_SPLIT.split(BYLINE_PREFIX.sub("", _clean(value))):
            name = BYLINE_PREFIX.sub("", part).strip(" .:-")
            if not _looks_like_name(name):
                continue
            names.setdefault(name.casefold(), name)
    return tuple(names.values())


def _looks_like_name(name: str) -> bool:
    """Whether a byline fragment is a person's (or desk's) name rather than junk."""
    if not name or len(name) > 60 or len(name.split()) > 6:
        return False
    if "://" in name or name.lower().startswith("www.") or "@" in name or "/" in name:
        return False
    if AUTHOR_ROLE.search(name) and len(name.split()) <= 2:
        return False
    return any(char.isalpha() for char in name)


def _published(page: _Sources) -> datetime | None:
    """Return the publication time in UTC, from metadata first and htmldate last."""
    candidates = [page.article.get("datePublished"), page.article.get("dateCreated")]
    candidates += [value for key in DATE_META_KEYS for value in page.meta.get(key, [])]
    candidates += page.tree.xpath(
        "//article//time/@datetime | //main//time/@datetime | //time[@pubdate]/@datetime"
        " | //*[@itemprop='datePublished']/@datetime"
    )
    for candidate in candidates:
        if isinstance(candidate, str):
            parsed = _parse_date(candidate)
            if parsed:
                return parsed
    return _htmldate(page)


def _parse_date(value: str) -> datetime | None:
    """Parse an ISO 8601 or RFC 2822 date; naive values are taken as UTC."""
    value = value.strip()
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if not 1990 <= parsed.year <= datetime.now(UTC).year + 1:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _htmldate(page: _Sources) -> datetime | None:
    """Ask htmldate for the original publication date, the last resort."""
    try:
        found = htmldate.find_date(
            page.tree, url=page.url, original_date=True, extensive_search=True,
            outputformat="%Y-%m-%dT%H:%M:%S",
        )  # fmt: skip
    # htmldate runs heuristics over hostile markup; a failure there only means "no date".
    except Exception:
        logger.debug("htmldate failed on %s", page.url, exc_info=True)
        return None
    return _parse_date(found) if isinstance(found, str) else None


def _language(page: _Sources, text: str) -> str | None:
    """Return the page's ISO 639-1 language, declared first, guessed from text last."""
    declared = [page.tree.get("lang"), page.tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    declared += [page.article.get("inLanguage")] + [obj.get("inLanguage") for obj in page.graph]
    declared += page.meta.get("og:locale", []) + page.meta.get("content-language", [])
    for value in declared:
        code = _iso639_1(value)
        if code:
            return code
    if len(text) > MIN_LANGID_TEXT:
        return str(py3langid.classify(text)[0])
    return None


def _iso639_1(value: Any) -> str | None:
    """Normalise "es-ES", "en_US", "ENG" or a JSON-LD Language to a two-letter code."""
    if isinstance(value, dict):
        value = value.get("alternateName") or value.get("name")
    if not isinstance(value, str):
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    primary = LANGUAGE_CODES_3.get(primary, primary)
    return primary if re.fullmatch(r"[a-z]{2}", primary) else None


def _text(tree: lxml.html.HtmlElement, article: JsonObject, url: str | None) -> str:
    """Return the main text: JSON-LD articleBody when substantial, else trafilatura's."""
    body = article.get("articleBody")
    if isinstance(body, str):
        paragraphs = _paragraphs(_strip_tags(body))
        if len(paragraphs) >= MIN_ARTICLE_BODY:
            return paragraphs
    text = _trafilatura(tree, url, fast=True)
    if len(text) < MIN_FAST_TEXT:
        text = _trafilatura(tree, url, fast=False) or text
    return _paragraphs(text)


def _trafilatura(tree: lxml.html.HtmlElement, url: str | None, *, fast: bool) -> str:
    """trafilatura's main text of a page, with or without its fallback extractors."""
    try:
        text = trafilatura.extract(
            tree, url=url, include_comments=False, favor_precision=True, fast=fast
        )
    # trafilatura is a heuristic over arbitrary markup; a failure there only means "no text".
    except Exception:
        logger.debug("trafilatura failed on %s", url, exc_info=True)
        return ""
    return text or ""


def _strip_tags(body: str) -> str:
    """Turn an articleBody that carries HTML into plain text with one line per block."""
    if "<" not in body:
        return htmllib.unescape(body)
    body = re.sub(r"(?i)<br\s*/?>|</(?:p|h[1-6]|li|div|blockquote)\s*>", "\n", body)
    return htmllib.unescape(re.sub(r"<[^>]*>", "", body))


def _paragraphs(text: str) -> str:
    """Collapse whitespace in each line and separate paragraphs by one blank line."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n\n".join(line for line in lines if line)
