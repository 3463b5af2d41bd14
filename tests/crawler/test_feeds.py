"""Reading feeds: entries, full content, Reddit-style links, feedparser's own corpus."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.feeds import NotAFeed, parse_feed
from crawler.spiders.search import strip_outlet

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>The Trade Ledger</title><link>http://127.0.0.1/</link>
<item><title>Alita 2 finds its window</title><link>/trade/alita-2.html?utm_source=rss</link>
<description>&lt;p&gt;Not before &lt;b&gt;2030&lt;/b&gt;.&lt;/p&gt;</description>
<pubDate>Fri, 20 Nov 2026 09:00:00 +0100</pubDate><dc:creator>Dana Park</dc:creator>
<category>Film</category></item>
<item><title>Full text entry</title><link>http://127.0.0.1/full</link>
<content:encoded><![CDATA[<p>%s</p>]]></content:encoded></item>
<item><title>No link at all</title></item>
</channel></rss>""" % (b"Rosa Salazar talks about the sequel at length. " * 20)

REDDIT = b"""<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>r/alitabattleangel</title>
<entry><title>Cameron says Alita 2 is still coming</title>
<link href="https://www.reddit.com/r/alitabattleangel/comments/abc/x/"/>
<content type="html">&lt;div&gt;submitted by /u/fan &lt;a href="https://news.example/alita-2"&gt;[link]&lt;/a&gt;
&lt;a href="https://www.reddit.com/r/alitabattleangel/comments/abc/x/"&gt;[comments]&lt;/a&gt;&lt;/div&gt;</content>
<updated>2026-11-21T10:00:00+00:00</updated></entry>
<entry><title>What do you want in the sequel?</title>
<link href="https://www.reddit.com/r/alitabattleangel/comments/def/y/"/>
<content type="html">&lt;a href="https://www.reddit.com/r/alitabattleangel/comments/def/y/"&gt;[link]&lt;/a&gt;</content>
</entry></feed>"""


def test_rss_entries_carry_what_the_feed_says() -> None:
    entries = parse_feed(RSS, "http://127.0.0.1/feeds/trade.rss").entries
    assert len(entries) == 2  # the entry without a link leads nowhere
    first = entries[0]
    assert first.link == "http://127.0.0.1/trade/alita-2.html?utm_source=rss"
    assert first.hint.title == "Alita 2 finds its window"
    assert first.hint.summary == "Not before 2030 ."
    assert first.hint.published == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert first.hint.authors == ("Dana Park",)
    assert first.hint.tags == ("Film",)
    assert first.content_html is None
    assert entries[1].content_html is not None and "Rosa Salazar" in entries[1].content_html


def test_a_reddit_entry_leads_to_its_link_and_a_self_post_to_itself() -> None:
    entries = parse_feed(REDDIT, "https://www.reddit.com/r/alitabattleangel/.rss").entries
    assert [e.link for e in entries] == [
        "https://news.example/alita-2",
        "https://www.reddit.com/r/alitabattleangel/comments/def/y/",
    ]


@pytest.mark.parametrize(
    "body", [b"", b"<html><body><p>Hello</p></body></html>", b"\x00\xff\xfe junk"]
)
def test_what_is_not_a_feed_is_refused_clearly(body: bytes) -> None:
    with pytest.raises(NotAFeed, match="not an RSS or Atom feed"):
        parse_feed(body, "http://127.0.0.1/x")


def test_google_news_titles_lose_their_outlet_suffix() -> None:
    from pipeline.records import EntryHint

    hint = strip_outlet(
        EntryHint(title="Alita 2 is a go - The Trade Ledger", outlet="The Trade Ledger")
    )
    assert (hint.title, hint.outlet) == ("Alita 2 is a go", "The Trade Ledger")
    untouched = strip_outlet(EntryHint(title="Alita 2 - what we know", outlet=None))
    assert untouched.title == "Alita 2 - what we know"


# feedparser's own test feeds (BSD-2-Clause), kept in the repository so CI reads them too
CORPUS = Path(__file__).resolve().parents[1] / "data" / "feedparser-tests"


def test_every_feed_of_feedparsers_corpus_reads_without_an_exception() -> None:
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in {".xml", ".rdf", ".atom", ".rss"})
    assert len(files) > 500
    read = refused = 0
    for path in files:
        try:
            entries = parse_feed(path.read_bytes(), "http://127.0.0.1/feed").entries
        except NotAFeed:
            refused += 1
            continue
        read += 1
        for entry in entries:
            for text in (entry.hint.title, entry.hint.summary, entry.link, *entry.hint.authors):
                assert text is None or isinstance(text, str)
    assert read > refused
