"""Reading sitemaps: indexes, news sitemaps, and documents that are neither."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.sitemaps import NotASitemap, parse_sitemap

NEWS = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
 <url><loc>http://127.0.0.1/a/alita-2-window.html</loc>
  <news:news><news:publication><news:name>The Trade Ledger</news:name>
   <news:language>en</news:language></news:publication>
   <news:publication_date>2026-11-20T09:00:00+01:00</news:publication_date>
   <news:title>Alita 2 window set</news:title>
   <news:keywords>Alita, sequel</news:keywords></news:news></url>
 <url><loc>http://127.0.0.1/b/plain.html</loc><lastmod>2026-11-01</lastmod></url>
 <url><lastmod>2026-11-01</lastmod></url>
</urlset>"""

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
 <sitemap><loc>http://127.0.0.1/news.xml</loc><lastmod>2026-11-22</lastmod></sitemap>
 <sitemap><loc>http://127.0.0.1/pages.xml</loc></sitemap>
</sitemapindex>"""


def test_a_news_sitemap_gives_titles_dates_and_outlets() -> None:
    sitemap = parse_sitemap(NEWS)
    assert sitemap.children == ()
    first, second = sitemap.entries
    assert first.link == "http://127.0.0.1/a/alita-2-window.html"
    assert first.title == "Alita 2 window set"
    assert first.outlet == "The Trade Ledger"
    assert first.published == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert first.tags == ("Alita", "sequel")
    assert (second.title, second.published) == (None, datetime(2026, 11, 1, tzinfo=UTC))


def test_an_index_lists_its_children() -> None:
    sitemap = parse_sitemap(INDEX)
    assert [c[0] for c in sitemap.children] == [
        "http://127.0.0.1/news.xml",
        "http://127.0.0.1/pages.xml",
    ]
    assert sitemap.children[0][1] == datetime(2026, 11, 22, tzinfo=UTC)


@pytest.mark.parametrize("body", [b"<rss version='2.0'><channel/></rss>", b"not xml at all", b""])
def test_other_documents_are_refused(body: bytes) -> None:
    with pytest.raises(NotASitemap):
        parse_sitemap(body)


def test_entities_are_never_expanded() -> None:
    laughs = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
    <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
    <!ENTITY xxe SYSTEM "file:///etc/passwd">]>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://127.0.0.1/&lol2;&xxe;</loc></url></urlset>"""
    sitemap = parse_sitemap(laughs)
    for entry in sitemap.entries:
        assert "root:" not in (entry.link or "")
        assert "lollol" not in (entry.link or "")
