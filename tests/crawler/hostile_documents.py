"""The documents the hostile web serves: a good feed of bad links, encodings, XML attacks.

Templates carry placeholders that the server fills (see `fill`): @@BASE@@ (its address),
@@TRIP@@ (the tripwire's port), @@SECRET_TEXT@@, @@SECRET_PAGE@@ and @@SECRET_SITEMAP@@
(file:// URLs of files only the test knows) and @@DATA_URL@@ (a data: URL of a page).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

DATA = Path(__file__).resolve().parent.parent / "data" / "hostile"
RELEASE = "/trade/2026/11/alita-battle-angel-2-release-window-2030.html"
RETURN = "/trade/2026/11/rosa-salazar-ready-to-return-alita-2.html"
BUSY = "/trade/2026/11/cameron-alita-2-active-development.html"  # behind /busy-once
GOOD_ARTICLES = (RELEASE, RETURN)

# Each is linked from the good feed (with ?as=article); most are also sources of their own.
ARTICLE_TRAPS = (
    "/status/404",
    "/status/410",
    "/status/500",
    "/status/503",
    "/status/429",
    "/busy-once",
    "/never",
    "/drip",
    "/reset",
    "/loop",
    "/to-passwd",
    "/to-secret-page",
    "/to-ftp",
    "/to-gopher",
    "/to-data",
    "/refresh-to-secret",
    "/huge",
    "/huge-chunked",
    "/bomb",
    "/nested",
    "/enc/no-type",
    "/enc/wrong-type.html",
    "/enc/bad-utf8.html",
    "/enc/cp1252.html",
    "/enc/utf16.html",
    "/enc/html-is-feed.html",
)
ENCODINGS = ("no-type", "wrong-type", "bad-utf8", "cp1252", "utf16", "html-is-feed")

# lol1 is ten lol, lol2 ten lol1, ... lol9 is 10**9 of them: three gigabytes, once expanded
_LOL = "".join(f'  <!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">\n' for n in range(1, 10))
_LOL = _LOL.replace("&lol0;", "&lol;")
# attack name -> (DOCTYPE, the entity the document then uses). The "inline" variants keep
# the whole DOCTYPE on one line, which line-based DOCTYPE filters miss.
ATTACKS = {
    "laughs": (f'<!DOCTYPE lolz [\n  <!ENTITY lol "lol">\n{_LOL}]>', "lol9"),
    "laughs-inline": (f'<!DOCTYPE lolz [<!ENTITY lol "lol">{_LOL.replace(chr(10), "")}]>', "lol9"),
    "xxe": ('<!DOCTYPE rss [\n  <!ENTITY xxe SYSTEM "@@SECRET_TEXT@@">\n]>', "xxe"),
    "xxe-inline": ('<!DOCTYPE rss [<!ENTITY xxe SYSTEM "@@SECRET_TEXT@@">]>', "xxe"),
    "dtd": (
        '<!DOCTYPE rss SYSTEM "@@BASE@@/dtd/external.dtd" [\n'
        '  <!ENTITY % param SYSTEM "@@BASE@@/dtd/param.dtd">\n  %param;\n'
        '  <!ENTITY fetched SYSTEM "@@BASE@@/dtd/entity.txt">\n]>',
        "fetched",
    ),
}
# documents (in tests/data/hostile) that link to file:, data:, ftp: and gopher: addresses
LOCAL_LINKS = {
    "local-links.xml": "application/xml",
    "local-index.xml": "application/xml",
    "local-links.html": "text/html; charset=utf-8",
}
XML_KINDS = {"rss": "application/rss+xml", "atom": "application/atom+xml", "xml": "text/xml"}

_STORY = (
    "Rosa Salazar sat down at a café in Austin to talk about Alita: Battle Angel 2. "
    "“I am ready whenever Jim is,” she said of the sequel, which Lightstorm says will "
    "not reach theaters before 2030. The producer Jon Landau’s successor confirmed that "
    "the script for the Alita sequel is finished and that Salazar is expected to return. "
    "Pre-production on Alita: Battle Angel 2 is planned after the final Avatar film. "
    "Christoph Waltz and Keean Johnson are also in talks to come back to Iron City. "
)


@dataclass(frozen=True)
class Secrets:
    """Files on this machine that no crawl may ever read, each holding the marker.

    Each leads back to this server at /secret-<marker> too, so that reading one would
    show in the request log as well as in the store.
    """

    marker: str
    feed: Path  # an RSS feed whose entry is titled with the marker
    page: Path  # an article page titled with the marker
    sitemap: Path  # a news sitemap listing /secret-<marker>
    text: Path  # the marker alone, for XXE


def make_secrets(folder: Path, base_url: str) -> Secrets:
    """Write the secret files into folder, with a marker unique to this run."""
    marker = f"secret-{uuid.uuid4().hex}"
    folder.mkdir(parents=True, exist_ok=True)
    names = ("secret.rss", "secret.html", "secret.xml", "secret.txt")
    secrets = Secrets(marker, *(folder / name for name in names))
    title, link = f"Alita: Battle Angel 2 {marker}", f"{base_url}/{marker}"
    secrets.feed.write_bytes(rss([(title, link)]).replace(b"@@BASE@@", base_url.encode()))
    secrets.page.write_text(page(title), encoding="utf-8")
    secrets.sitemap.write_text(
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{link}</loc></url></urlset>",
        encoding="utf-8",
    )
    secrets.text.write_text(marker, encoding="utf-8")
    return secrets


def fill(template: bytes, base_url: str, trip_port: int, secrets: Secrets) -> bytes:
    """Fill a template's placeholders."""
    for name, value in (
        ("BASE", base_url),
        ("TRIP", str(trip_port)),
        ("SECRET_TEXT", secrets.text.as_uri()),
        ("SECRET_PAGE", secrets.page.as_uri()),
        ("SECRET_SITEMAP", secrets.sitemap.as_uri()),
        ("DATA_URL", data_url(secrets.marker)),
    ):
        template = template.replace(f"@@{name}@@".encode(), value.encode())
    return template


def rss(items: list[tuple[str, str]], full_content: bool = False) -> bytes:
    """An RSS 2.0 feed of (title, link) items, optionally each carrying the whole story."""
    body = "".join(
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<description>News about the Alita sequel.</description>"
        + (
            f"<content:encoded>{escape('<p>' + _STORY * 2 + '</p>')}</content:encoded>"
            * full_content
        )
        + "</item>\n"
        for title, link in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>Hostile web</title><link>@@BASE@@/</link>\n{body}</channel></rss>\n"
    ).encode()


def page(title: str) -> str:
    """An article page about the sequel."""
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"</head><body><article><h1>{escape(title)}</h1><p>{escape(_STORY)}</p>"
        f"<p>{escape(_STORY)}</p></article></body></html>"
    )


def good_feed() -> bytes:
    """Two good articles, then every trap as an article link."""
    items = [("Alita: Battle Angel 2 news", f"@@BASE@@{path}") for path in GOOD_ARTICLES]
    items += [
        (f"Alita: Battle Angel 2 news via {path}", f"@@BASE@@{path}?as=article")
        for path in ARTICLE_TRAPS
    ]
    return rss(items)


def encoded_title(case: str, where: str) -> str:
    """The title each encoding case's entry (where="feed") or page (where="page") carries."""
    return f"Alita: Battle Angel 2: Rosa Salazar’s café interview ({where} {case})"


def encoding_cases(filler: Callable[[bytes], bytes]) -> dict[str, tuple[bytes, str | None]]:
    """Path -> (body, Content-Type or None) for each encoding case, as feed and as page."""
    cases: dict[str, tuple[bytes, str | None]] = {}
    for case in ENCODINGS:
        # filled before encoding: the placeholders are ASCII only until then
        feed = filler(rss([(encoded_title(case, "feed"), f"@@BASE@@/enc/story/{case}")], True))
        html = page(encoded_title(case, "page")).encode()
        cases.update(_encode(case, feed, html))
    return cases


def _encode(case: str, feed: bytes, html: bytes) -> dict[str, tuple[bytes, str | None]]:
    """One encoding case's feed and page, as the misbehaving server sends them."""
    rss_type, html_type = "application/rss+xml; charset=utf-8", "text/html; charset=utf-8"
    if case == "no-type":
        return {"/enc/no-type.rss": (feed, None), "/enc/no-type": (html, None)}
    if case == "wrong-type":
        junk = "application/octet-stream"
        return {"/enc/wrong-type.rss": (feed, junk), "/enc/wrong-type.html": (html, junk)}
    if case == "bad-utf8":  # valid UTF-8 with a few stray bytes in the text, not the title
        feed, html = (d.replace(b"Austin", b"Aus\xff\xfetin\xc3") for d in (feed, html))
        return {"/enc/bad-utf8.rss": (feed, rss_type), "/enc/bad-utf8.html": (html, html_type)}
    if case == "cp1252":  # Windows-1252 bytes, declared UTF-8 in the headers and the document
        feed, html = (d.decode().encode("cp1252") for d in (feed, html))
        return {"/enc/cp1252.rss": (feed, rss_type), "/enc/cp1252.html": (html, html_type)}
    if case == "utf16":  # with a byte order mark and no charset in the header
        feed = feed.decode().replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16")
        html = html.decode().replace('charset="utf-8"', 'charset="utf-16"').encode("utf-16")
        return {
            "/enc/utf16.rss": (feed, "application/rss+xml"),
            "/enc/utf16.html": (html, "text/html"),
        }
    # html-is-feed: a feed served as text/html, as a source and as an article link
    return {"/enc/html-is-feed.html": (feed, html_type)}


def xml_attacks() -> dict[str, bytes]:
    """Path -> document, for each attack in an RSS feed, an Atom feed and a sitemap."""
    documents = {}
    for kind in XML_KINDS:
        template = (DATA / f"attack.{kind}").read_bytes()
        for name, (doctype, entity) in ATTACKS.items():
            documents[f"/xml/{name}.{kind}"] = (
                template.replace(b"@@DOCTYPE@@", doctype.encode())
                .replace(b"@@ENTITY@@", entity.encode())
                .replace(b"@@CASE@@", f"{name}-{kind}".encode())
            )
    return documents


def xml_type(path: str) -> str:
    """The Content-Type an XML attack document is served with."""
    return XML_KINDS[path.rsplit(".", 1)[-1]]


def data_url(marker: str) -> str:
    """A data: URL holding an article page titled with the marker."""
    encoded = base64.b64encode(page(f"Alita: Battle Angel 2 {marker}").encode()).decode()
    return f"data:text/html;base64,{encoded}"


def nested_feed(depth: int) -> bytes:
    """A valid RSS feed whose one entry comes after `depth` nested elements."""
    feed = rss([("Alita: Battle Angel 2 after the deep", f"@@BASE@@{RETURN}?via=nested-feed")])
    return feed.replace(b"<channel>", b"<channel>" + b"<x>" * depth + b"</x>" * depth)


def nested_sitemap(depth: int) -> bytes:
    """A sitemap whose one entry comes after `depth` nested elements."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "<x>" * depth
        + "</x>" * depth
        + f"<url><loc>@@BASE@@{RETURN}?via=nested-sitemap</loc></url></urlset>"
    ).encode()


def nested_page(depth: int) -> bytes:
    """An article page whose story sits inside `depth` nested <div> elements."""
    head = page("Alita: Battle Angel 2 goes deep").split("<article>")[0]
    story = f"<p>{escape(_STORY)}</p>" * 2
    return (head + "<div>" * depth + story + "</div>" * depth + "</body></html>").encode()
