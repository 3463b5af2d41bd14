"""The sample world served for real on 127.0.0.1, checked with urllib and feedparser."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import tomllib
import urllib.robotparser
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qs, urlsplit
from urllib.request import HTTPRedirectHandler, ProxyHandler, Request, build_opener

import feedparser
import pytest
from bs4 import BeautifulSoup
from lxml import etree

from sequelwatch.sampleworld import SITE, SampleWorld, load_manifest, serve, sources_toml

REPO = Path(__file__).resolve().parents[2]
FEEDS = [
    "/feeds/trade.rss",
    "/feeds/fan.atom",
    "/search/gnews.rss",
    "/search/bing.rss",
    "/r/alitabattleangel/.rss",
]
SITEMAPS = ["/sitemaps/index.xml", "/sitemaps/news.xml", "/sitemaps/pages.xml"]
TRAPS = {
    "",
    "box-office-2019",
    "review-2019",
    "rerelease-2019",
    "manga",
    "anime-1993",
    "prequel-series",
    "cast-other-work",
    "other-sequel",
    "sidebar-mention",
}
CATEGORIES = {"cast", "release", "plot", "production"}
TEMPLATES = {"jsonld", "opengraph", "amp", "feed-entry", "plain"}


@dataclass
class Response:
    """What a test needs from one HTTP exchange."""

    status: int
    headers: Message
    body: bytes
    url: str


class _NoRedirect(HTTPRedirectHandler):
    """Hand 3xx answers back instead of following them."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    follow: bool = True,
    timeout: float = 5.0,
) -> Response:
    """One request with urllib, never through a proxy; HTTP errors are answers too."""
    handlers = [ProxyHandler({})] + ([] if follow else [_NoRedirect()])
    request = Request(url, method=method, headers=headers or {})
    try:
        with build_opener(*handlers).open(request, timeout=timeout) as answer:
            return Response(answer.status, answer.headers, answer.read(), answer.url)
    except HTTPError as error:
        return Response(error.code, error.headers, error.read(), error.url)


@pytest.fixture(scope="module")
def world() -> Iterator[SampleWorld]:
    with serve() as running:
        yield running


@pytest.fixture(scope="module")
def manifest() -> dict:
    return load_manifest()


def page_articles(manifest: dict) -> list[dict]:
    return [a for a in manifest["articles"] if a["template"] != "feed-entry"]


def test_placeholders_are_filled_in_every_text_file(world: SampleWorld) -> None:
    servable = [
        f for f in SITE.rglob("*") if f.suffix in {".rss", ".atom", ".xml", ".html", ".txt"}
    ]
    assert len(servable) > 40
    for file in servable:
        path = "/" + file.relative_to(SITE).as_posix()
        path = path.removesuffix("index.html").replace("/index.atom", "/.rss")
        answer = fetch(world.url(path))
        assert answer.status == 200, path
        assert b"@@" not in answer.body, path
    assert world.base_url.encode() in fetch(world.url("/feeds/trade.rss")).body


def test_content_types(world: SampleWorld) -> None:
    expected = {
        "/feeds/trade.rss": "application/rss+xml; charset=utf-8",
        "/feeds/fan.atom": "application/atom+xml",
        "/r/alitabattleangel/.rss": "application/atom+xml",
        "/sitemaps/news.xml": "application/xml",
        "/listing/news/": "text/html; charset=utf-8",
        "/robots.txt": "text/plain",
    }
    for path, ctype in expected.items():
        assert fetch(world.url(path)).headers["Content-Type"].startswith(ctype), path


def test_conditional_get(world: SampleWorld) -> None:
    first = fetch(world.url("/feeds/trade.rss"))
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"') and last_modified == "Mon, 23 Nov 2026 06:00:00 GMT"

    again = fetch(world.url("/feeds/trade.rss"), headers={"If-None-Match": etag})
    assert (again.status, again.body) == (304, b"")
    since = fetch(world.url("/feeds/trade.rss"), headers={"If-Modified-Since": last_modified})
    assert since.status == 304
    older = fetch(
        world.url("/feeds/trade.rss"),
        headers={"If-Modified-Since": "Sun, 01 Nov 2026 00:00:00 GMT"},
    )
    assert older.status == 200
    # A stale ETag wins over a fresh date: the file changed.
    changed = fetch(
        world.url("/feeds/trade.rss"),
        headers={"If-None-Match": '"old"', "If-Modified-Since": last_modified},
    )
    assert changed.status == 200 and changed.body == first.body


def test_head_is_get_without_body(world: SampleWorld) -> None:
    got = fetch(world.url("/listing/news/"))
    head = fetch(world.url("/listing/news/"), method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(len(got.body))
    assert head.headers["ETag"] == got.headers["ETag"]


def test_unknown_path_is_a_small_html_404(world: SampleWorld) -> None:
    answer = fetch(world.url("/no/such/page.html"))
    assert answer.status == 404
    assert answer.headers["Content-Type"].startswith("text/html") and b"Not Found" in answer.body
    assert fetch(world.url("/redirects.toml")).status == 404
    assert fetch(world.url("/../server.py")).status == 404


def test_directory_without_slash_redirects(world: SampleWorld) -> None:
    answer = fetch(world.url("/listing/news"), follow=False)
    assert answer.status == 301 and answer.headers["Location"] == world.url("/listing/news/")


def test_gnews_redirects_land_on_articles(world: SampleWorld, manifest: dict) -> None:
    feed = feedparser.parse(fetch(world.url("/search/gnews.rss")).body)
    links = [entry.link for entry in feed.entries]
    assert links and all("/gnews/rss/articles/" in link for link in links)
    assert all(" - " in entry.title and entry.source.title for entry in feed.entries)
    by_url = {u: a for a in manifest["articles"] for u in a["urls"]}
    unresolved = set(manifest["unresolved"])
    for link in links:
        path = link.removeprefix(world.base_url)
        first = fetch(link, follow=False)
        assert first.status == 302, link
        landed = fetch(link)
        if path in unresolved:
            assert landed.status == 404
        else:
            assert landed.status == 200
            assert urlsplit(landed.url).path == by_url[path]["path"]
    assert unresolved <= {link.removeprefix(world.base_url) for link in links}


def test_bing_links_unwrap_to_articles(world: SampleWorld, manifest: dict) -> None:
    paths = {a["path"] for a in manifest["articles"]}
    feed = feedparser.parse(fetch(world.url("/search/bing.rss")).body)
    assert len(feed.entries) >= 4
    for entry in feed.entries:
        query = parse_qs(urlsplit(entry.link).query)
        target = query["url"][0]
        assert target.startswith(world.base_url) and urlsplit(target).path in paths
        answer = fetch(entry.link, follow=False)
        assert answer.status == 302 and answer.headers["Location"] == target


def test_robots_and_the_private_link(world: SampleWorld, manifest: dict) -> None:
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(fetch(world.url("/robots.txt")).body.decode().splitlines())
    for path in manifest["never_fetched"]:
        assert not robots.can_fetch("sequelwatch", world.url(path))
    for article in page_articles(manifest):
        assert robots.can_fetch("sequelwatch", world.url(article["path"]))

    soup = BeautifulSoup(fetch(world.url("/listing/news/")).body, "lxml")
    selected = [a["href"] for a in soup.select("article.teaser h2 a")]
    assert set(manifest["never_fetched"]) <= set(selected)
    assert soup.select_one("a.next")["href"] == "/listing/news/page/2/"
    trending = [a["href"] for a in soup.select(".trending a")]
    assert trending and not set(trending) & set(selected)
    second = BeautifulSoup(fetch(world.url("/listing/news/page/2/")).body, "lxml")
    assert second.select("article.teaser h2 a") and second.select_one("a.next") is None


def test_every_manifest_url_of_a_page_answers_200(world: SampleWorld, manifest: dict) -> None:
    for article in page_articles(manifest):
        for path in [article["path"], *article["urls"]]:
            assert fetch(world.url(path)).status == 200, path


def test_manifest_is_consistent(manifest: dict) -> None:
    sources = tomllib.loads(sources_toml("http://127.0.0.1:1"))["sources"]
    names = {source["name"] for source in sources}
    assert all(source["url"].startswith("http://127.0.0.1:1/") for source in sources)
    paths = {a["path"] for a in manifest["articles"]}
    assert len(paths) == len(manifest["articles"]) >= 20
    for article in manifest["articles"]:
        assert article["trap"] in TRAPS and article["template"] in TEMPLATES
        assert set(article["categories"]) <= CATEGORIES
        assert set(article["reached_by"]) <= names and article["reached_by"], article["path"]
        assert article["path"] in article["urls"]
        if article["relevant"]:
            assert article["categories"] and article["story"] and not article["trap"]
        else:
            assert not article["categories"] and not article["story"]
        assert not article["duplicate_of"] or article["duplicate_of"] in paths
    stories = [a["story"] for a in manifest["articles"] if a["story"]]
    assert stories.count("salazar-return") == 3
    assert {a["language"] for a in manifest["articles"]} == {"en", "es", "it"}


def test_feeds_parse_cleanly(world: SampleWorld, manifest: dict) -> None:
    feed_entries = {a["path"] for a in manifest["articles"] if a["template"] == "feed-entry"}
    seen: set[str] = set()
    for path in FEEDS:
        feed = feedparser.parse(fetch(world.url(path)).body)
        assert not feed.bozo, (path, feed.get("bozo_exception"))
        assert feed.entries, path
        seen |= {entry.link.removeprefix(world.base_url) for entry in feed.entries}
    assert feed_entries <= seen
    fan = feedparser.parse(fetch(world.url("/feeds/fan.atom")).body)
    assert all(entry.content[0].value.count("<p>") >= 3 for entry in fan.entries)
    trade = feedparser.parse(fetch(world.url("/feeds/trade.rss")).body)
    assert len(trade.entries) == 12
    assert sum("alita" in (e.title + e.summary).lower() for e in trade.entries) == 3


def test_sitemaps_are_well_formed(world: SampleWorld) -> None:
    ns = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    for path in SITEMAPS:
        tree = etree.fromstring(fetch(world.url(path)).body)
        for loc in tree.findall(".//sm:loc", ns):
            assert fetch(loc.text).status == 200, loc.text


def test_bad_status_routes(world: SampleWorld) -> None:
    for code in (404, 410, 500):
        assert fetch(world.url(f"/bad/status/{code}")).status == code


def test_slow_route_times_out_then_answers(world: SampleWorld) -> None:
    with pytest.raises((TimeoutError, URLError)):
        fetch(world.url("/bad/slow?seconds=1"), timeout=0.3)
    quick = fetch(world.url("/bad/slow?seconds=0"))
    assert quick.status == 200 and not feedparser.parse(quick.body).bozo


def test_redirect_loop(world: SampleWorld) -> None:
    first = fetch(world.url("/bad/loop"), follow=False)
    second = fetch(first.headers["Location"], follow=False)
    assert first.status == second.status == 302
    assert second.headers["Location"] == world.url("/bad/loop")
    assert fetch(world.url("/bad/loop")).status in {301, 302}  # urllib gives up on the loop


def test_broken_feeds_are_bozo(world: SampleWorld) -> None:
    notfeed = fetch(world.url("/bad/notfeed.rss"))
    assert notfeed.headers["Content-Type"].startswith("application/rss+xml")
    assert feedparser.parse(notfeed.body).bozo
    assert feedparser.parse(fetch(world.url("/bad/broken.rss")).body).bozo


def test_huge_feed_is_streamed(world: SampleWorld) -> None:
    head = fetch(world.url("/bad/huge.rss"), method="HEAD")
    size = int(head.headers["Content-Length"])
    assert size >= 30 * 1024 * 1024
    connection = http.client.HTTPConnection(urlsplit(world.base_url).netloc, timeout=10)
    connection.request("GET", "/bad/huge.rss")
    answer, total = connection.getresponse(), 0
    while chunk := answer.read(1 << 20):
        total += len(chunk)
    connection.close()
    assert total == size


def test_undecodable_page(world: SampleWorld) -> None:
    first, second = (
        fetch(world.url("/bad/undecodable.html")),
        fetch(world.url("/bad/undecodable.html")),
    )
    assert first.headers["Content-Type"] == "text/html; charset=utf-8"
    assert first.body == second.body
    with pytest.raises(UnicodeDecodeError):
        first.body.decode("utf-8")


def test_retry_after_once_per_server() -> None:
    with serve() as fresh:
        busy = fetch(fresh.url("/bad/retry-after"))
        assert busy.status == 503 and busy.headers["Retry-After"] == "1"
        ready = fetch(fresh.url("/bad/retry-after"))
        assert ready.status == 200 and feedparser.parse(ready.body).entries


def test_reset_drops_the_connection(world: SampleWorld) -> None:
    world.clear_log()
    with pytest.raises((ConnectionError, http.client.HTTPException, URLError)):
        fetch(world.url("/bad/reset"), timeout=2)
    resets = [r.status for r in world.requests if r.path == "/bad/reset"]
    assert resets == [0]


def test_request_log(world: SampleWorld) -> None:
    world.clear_log()
    fetch(world.url("/feeds/fan.atom?x=1"), headers={"User-Agent": "sequelwatch-test"})
    # Only this test's path: a handler from another test (the slow route) may log late.
    (record,) = [r for r in world.requests if r.path.startswith("/feeds/fan.atom")]
    assert (record.method, record.path, record.status) == ("GET", "/feeds/fan.atom?x=1", 200)
    assert record.headers["User-Agent"] == "sequelwatch-test"
    world.clear_log()
    assert not any(r.path.startswith("/feeds/fan.atom") for r in world.requests)


def test_main_prints_base_url_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "sequelwatch.sampleworld.server", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO) as proc:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        assert fetch(base + "/robots.txt").status == 200
        proc.terminate()
        assert proc.wait(timeout=10) == 0
