"""One URL per article: tracking and AMP stripped, canonicals checked, redirectors unwrapped."""

from __future__ import annotations

import pytest

from pipeline.canonical import choose_canonical, clean_url, same_site, unwrap_redirect

ARTICLE = "https://www.novascreen.example/news/2025/03/alita-battle-angel-2-writer"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # tracking parameters
        (
            "https://www.novascreen.example/news/alita-2?utm_source=twitter&utm_medium=social",
            "https://www.novascreen.example/news/alita-2",
        ),
        (
            "https://reelledger.example/a/rosa-salazar?fbclid=IwAR0abc&id=42&gclid=xyz",
            "https://reelledger.example/a/rosa-salazar?id=42",
        ),
        (
            "https://cinder.example/film/motorball?mc_cid=1a2b&mc_eid=3c4d&_ga=2.1.2&igshid=z",
            "https://cinder.example/film/motorball",
        ),
        (
            "https://news.example.co.uk/film/alita?ocid=msedgntp&cmpid=rss&smid=tw-share&taid=x",
            "https://news.example.co.uk/film/alita",
        ),
        (
            "https://frame.example/alita-austin?guccounter=1&guce_referrer=aHR0&guce_referrer_sig=Q",
            "https://frame.example/alita-austin",
        ),
        (
            "https://frame.example/alita?ref_src=twsrc%5Etfw&__twitter_impression=true&ito=792",
            "https://frame.example/alita",
        ),
        ("https://frame.example/alita?UTM_Campaign=Spring", "https://frame.example/alita"),
        ("https://frame.example/alita?rss", "https://frame.example/alita"),
        ("https://frame.example/alita?cid=soc_tw_0301", "https://frame.example/alita"),
        ("https://frame.example/story?cid=123456", "https://frame.example/story?cid=123456"),
        # query kept, sorted
        ("https://frame.example/story.php?p=9&a=1", "https://frame.example/story.php?a=1&p=9"),
        # case, port, fragment
        (
            "HTTPS://WWW.NovaScreen.Example:443/News/Alita-2#comments",
            "https://www.novascreen.example/News/Alita-2",
        ),
        ("http://frame.example:80/alita", "http://frame.example/alita"),
        ("http://frame.example:8080/alita", "http://frame.example:8080/alita"),
        ("http://127.0.0.1:8765/pages/a.html#x", "http://127.0.0.1:8765/pages/a.html"),
        ("https://frame.example", "https://frame.example/"),
        # AMP forms
        ("https://frame.example/alita-austin/amp/", "https://frame.example/alita-austin/"),
        ("https://frame.example/alita-austin/amp", "https://frame.example/alita-austin"),
        (
            "https://frame.example/amp/movies/alita-austin",
            "https://frame.example/movies/alita-austin",
        ),
        (
            "https://frame.example/movies/alita-austin.amp.html",
            "https://frame.example/movies/alita-austin.html",
        ),
        ("https://frame.example/movies/alita?amp", "https://frame.example/movies/alita"),
        (
            "https://frame.example/movies/alita?amp=1&page=2",
            "https://frame.example/movies/alita?page=2",
        ),
        ("https://frame.example/movies/alita?outputType=amp", "https://frame.example/movies/alita"),
        (
            "https://news.example.co.uk/news/entertainment-123.amp",
            "https://news.example.co.uk/news/entertainment-123",
        ),
        # not http(s): unchanged
        ("  mailto:desk@frame.example  ", "mailto:desk@frame.example"),
        ("ftp://files.example/alita.txt", "ftp://files.example/alita.txt"),
        ("not a url at all", "not a url at all"),
        ("", ""),
    ],
)
def test_clean_url(url: str, expected: str) -> None:
    assert clean_url(url) == expected


def test_clean_url_is_idempotent() -> None:
    url = "https://WWW.frame.example:443/amp/movies/alita.amp.html?utm_source=x&b=2&a=1#top"
    once = clean_url(url)
    assert clean_url(once) == once == "https://www.frame.example/movies/alita.html?a=1&b=2"


@pytest.mark.parametrize(
    ("page_url", "declared", "expected"),
    [
        # sane canonicals are kept (and cleaned)
        (ARTICLE + "?utm_source=rss", ARTICLE, ARTICLE),
        (ARTICLE, ARTICLE + "?utm_medium=email#top", ARTICLE),
        (
            "https://frame.example/amp/movies/alita-austin",
            "https://frame.example/movies/alita-austin",
            "https://frame.example/movies/alita-austin",
        ),
        # relative canonical, resolved against the page
        (
            "https://frame.example/amp/movies/alita-austin",
            "/movies/alita-austin",
            "https://frame.example/movies/alita-austin",
        ),
        # another subdomain of the same site is fine
        (
            "https://m.frame.example/movies/alita-austin",
            "https://www.frame.example/movies/alita-austin",
            "https://www.frame.example/movies/alita-austin",
        ),
        (
            "https://film.news.example.co.uk/a/alita-2-story",
            "https://www.news.example.co.uk/a/alita-2-story",
            "https://www.news.example.co.uk/a/alita-2-story",
        ),
        # a shorter id-style canonical is an article, not a section
        (
            "https://frame.example/story/84512/alita-sequel-austin",
            "/story/84512",
            "https://frame.example/story/84512",
        ),
        # missing or empty
        (ARTICLE + "?fbclid=1", None, ARTICLE),
        (ARTICLE, "   ", ARTICLE),
        # cross-domain canonical: refused
        (ARTICLE, "https://www.aggregator.example/news/alita-battle-angel-2-writer", ARTICLE),
        (
            "https://syndicate.example/x/alita-news",
            "https://frame.example/x/alita-news",
            "https://syndicate.example/x/alita-news",
        ),
        # home page canonical: refused
        (ARTICLE, "https://www.novascreen.example/", ARTICLE),
        (ARTICLE, "/", ARTICLE),
        (
            "https://frame.example/index.php?p=4521",
            "https://frame.example/",
            "https://frame.example/index.php?p=4521",
        ),
        # section front canonical: refused
        (ARTICLE, "https://www.novascreen.example/news/", ARTICLE),
        (ARTICLE, "/movies", ARTICLE),
        # AMP canonical: refused
        (ARTICLE, ARTICLE + "/amp/", ARTICLE),
        (ARTICLE, ARTICLE + "?outputType=amp", ARTICLE),
        # not http(s): refused
        (ARTICLE, "javascript:alert(1)", ARTICLE),
        (ARTICLE, "ftp://www.novascreen.example/news/file", ARTICLE),
        # loopback test servers compare as themselves
        (
            "http://127.0.0.1:8001/news/alita-2-cast",
            "/news/alita-2-cast?utm_source=x",
            "http://127.0.0.1:8001/news/alita-2-cast",
        ),
        (
            "http://127.0.0.1:8001/news/alita-2-cast",
            "http://127.0.0.2:8001/news/alita-2-cast",
            "http://127.0.0.1:8001/news/alita-2-cast",
        ),
        (
            "http://localhost:8001/news/alita-2-cast",
            "http://localhost:8001/news/alita-2-cast?a=1",
            "http://localhost:8001/news/alita-2-cast?a=1",
        ),
        # a home page declaring itself stays the home page
        ("https://frame.example/?utm_source=x", "https://frame.example/", "https://frame.example/"),
    ],
)
def test_choose_canonical(page_url: str, declared: str | None, expected: str) -> None:
    assert choose_canonical(page_url, declared) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("https://www.frame.example/a", "https://m.frame.example/b", True),
        ("https://www.news.example.co.uk/a", "https://news.example.co.uk/b", True),
        ("https://frame.example/a", "https://frame.example.net/a", False),
        ("https://one-news.co.uk/a", "https://two-news.co.uk/a", False),
        ("https://www.one-news.co.uk/a", "https://film.one-news.co.uk/b", True),
        ("https://alice.github.io/a", "https://bob.github.io/a", False),  # private suffix
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/b", True),
        ("http://127.0.0.1/a", "http://127.0.0.2/a", False),
        ("http://localhost/a", "http://localhost:8080/b", True),
        ("not a url", "not a url", False),
    ],
)
def test_same_site(a: str, b: str, expected: bool) -> None:
    assert same_site(a, b) is expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=6620A1B2&url=https%3a%2f%2f"
            "www.frame.example%2fmovies%2falita-austin%3fpage%3d2&c=1234&mkt=en-us",
            "https://www.frame.example/movies/alita-austin?page=2",
        ),
        (
            "https://www.google.com/url?rct=j&sa=t&url=https://reelledger.example/a/rosa-salazar"
            "&ct=ga&cd=CAIyGg&usg=AOvVaw",
            "https://reelledger.example/a/rosa-salazar",
        ),
        (
            "https://www.google.com/url?q=https%3A%2F%2Fcinder.example%2Ffilm%2Fmotorball&sa=D",
            "https://cinder.example/film/motorball",
        ),
        (
            "https://l.social.example/l.php?u=https%3A%2F%2Ffrane.example%2Falita&h=AT0",
            "https://frane.example/alita",
        ),
        (
            "https://newsletter.example/click?target=https%253A%252F%252Ffame.example%252Fa",
            "https://fame.example/a",
        ),
        ("https://aggregator.example/out?to=http://frame.example/x", "http://frame.example/x"),
        (
            "https://aggregator.example/redirect.php?dest=https://frame.example/x",
            "https://frame.example/x",
        ),
        # nested wrappers are unwrapped to the end
        (
            "https://www.google.com/url?url=https%3A%2F%2Fwww.bing.com%2Fnews%2Fapiclick.aspx%3F"
            "url%3Dhttps%253A%252F%252Fframe.example%252Fdeep",
            "https://frame.example/deep",
        ),
        # not redirectors
        ("https://www.google.com/url?q=alita+battle+angel+2", None),
        ("https://www.google.com/search?q=https://frame.example/x", None),
        ("https://frame.example/movies/alita-austin?url=https://elsewhere.example/", None),
        ("https://aggregator.example/out?to=javascript:alert(1)", None),
        ("https://aggregator.example/out", None),
        ("mailto:someone@example.com?url=https://frame.example/", None),
        ("", None),
    ],
)
def test_unwrap_redirect(url: str, expected: str | None) -> None:
    assert unwrap_redirect(url) == expected
