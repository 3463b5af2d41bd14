"""A hostile web, as sources and as article links: every failure recorded, nothing leaked.

One crawl of a server on 127.0.0.1 (tests/crawler/hostile.py) that misbehaves in every
way we know of, and a second crawl to see what the next one does. Each bad address is a
source of its own and also an entry in a good feed. The assertions are what a user can
check: the store (`export`, `query`), `status --json`, and the server's request log.
test_failures.py covers 404, 500, a slow answer, a redirect loop, HTML as a feed, a
broken feed, a huge feed, binary and a reset as sources; they are only links here.
"""

from __future__ import annotations

import json
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sequelwatch.demo import TOPIC
from tests.crawler import hostile_documents as docs
from tests.crawler.hostile import GIB, Hit, HostileWeb, serve_hostile
from tests.helpers import run_cli

pytestmark = pytest.mark.slow

TIMEOUT = 4.0  # [crawl] timeout: what the never-answering and dripping servers cost
RETRIES = 1
CAP = 4 * 1024 * 1024  # [crawl] max_response_bytes: above the 2 MB gzip bomb, far below 2 GiB
MEMORY_BOUND_KB = 1024 * 1024  # a crawl that held a 2 GiB body or bomb would pass 1 GiB

ENTITIES = "declares its own XML entities"
# source name -> (path, kind, words its last_error must hold)
FAILING = {
    "gone": ("/status/410", "feed", "HTTP 410 Gone"),
    "unavailable": ("/status/503", "feed", "HTTP 503 Service Unavailable"),
    "throttled": ("/status/429", "feed", "HTTP 429 Too Many Requests"),
    "never-answers": ("/never", "feed", "timed out"),
    "drips": ("/drip", "feed", "timed out"),
    "to-passwd": ("/to-passwd", "feed", "redirected to file:///etc/passwd, which is not an http"),
    "to-secret": ("/to-secret-feed", "feed", "which is not an http(s) address; not followed"),
    "to-ftp": ("/to-ftp", "feed", "redirected to ftp://127.0.0.1:"),
    "to-gopher": ("/to-gopher", "feed", "redirected to gopher://127.0.0.1:"),
    "to-data": ("/to-data", "feed", "redirected to data:text/html"),
    "refresh-to-file": ("/refresh-to-secret", "feed", "not an RSS or Atom feed"),
    "huge": ("/huge", "feed", "larger than the size cap"),
    "huge-chunked": ("/huge-chunked", "feed", "larger than the size cap"),
    "gzip-bomb": ("/bomb", "feed", "larger than the size cap (max_response_bytes) once decomp"),
    "gzip-bomb-sitemap": ("/sitemap-bomb.xml.gz", "sitemap", "size cap (max_response_bytes) once"),
    "nested-page": ("/nested", "feed", "elements nested more than 256 deep"),
    "nested-feed": ("/nested.rss", "feed", "elements nested more than 256 deep"),
    "nested-sitemap": ("/nested.xml", "sitemap", "elements nested more than 256 deep"),
    **{
        f"xml-{attack}-{kind}": (
            f"/xml/{attack}.{kind}",
            "sitemap" if kind == "xml" else "feed",
            ENTITIES,
        )
        for attack in docs.ATTACKS
        for kind in docs.XML_KINDS
    },
}
ENCODED_FEEDS = {
    "no-type": "/enc/no-type.rss",
    "wrong-type": "/enc/wrong-type.rss",
    "bad-utf8": "/enc/bad-utf8.rss",
    "cp1252": "/enc/cp1252.rss",
    "utf16": "/enc/utf16.rss",
    "html-is-feed": "/enc/html-is-feed.html",
}
ENCODED_PAGES = {
    "no-type": "/enc/no-type",
    "wrong-type": "/enc/wrong-type.html",
    "bad-utf8": "/enc/bad-utf8.html",
    "cp1252": "/enc/cp1252.html",
    "utf16": "/enc/utf16.html",
}
WORKING = {
    "good": ("/good.rss", "feed"),
    **{f"enc-{case}": (path, "feed") for case, path in ENCODED_FEEDS.items()},
    "local-links": ("/local/local-links.xml", "sitemap"),
    "local-index": ("/local/local-index.xml", "sitemap"),
    "local-listing": ("/local/local-links.html", "listing"),
}
# article links that cannot be read: the feed's own headline is kept, marked unresolved
UNREADABLE_LINKS = tuple(
    trap
    for trap in docs.ARTICLE_TRAPS
    if trap not in ("/busy-once", "/nested", "/refresh-to-secret", *ENCODED_PAGES.values())
)


@dataclass(frozen=True)
class Crawl:
    """What one `sequelwatch crawl` left behind, as a user would look at it."""

    returncode: int
    output: str
    health: dict[str, dict[str, Any]]  # status --json, by source name
    articles: list[dict[str, Any]]  # export, one row per article about the topic
    store: bytes  # the store's files, byte for byte
    hits: list[Hit]  # the requests the server saw during this crawl
    max_rss_kb: int  # the largest child process so far (this crawl's included)


def write_config(folder: Path, web: HostileWeb) -> Path:
    """Every failing and working source, with short limits so the crawl is quick."""
    lines = []
    for name, (path, kind, *_) in {**FAILING, **WORKING}.items():
        lines += ["[[sources]]", f'name = "{name}"', f'kind = "{kind}"', f'url = "{web.url(path)}"']
        lines += ['links = "ul.news a"'] if kind == "listing" else []
        lines.append("")
    (folder / "sources.toml").write_text("\n".join(lines), encoding="utf-8")
    config_file = folder / "sequelwatch.toml"
    config_file.write_text(
        f'database = "store.db"\ntopic = {str(TOPIC)!r}\nsources = "sources.toml"\n'
        "[crawl]\ndownload_delay = 0\nconcurrency = 64\nconcurrency_per_host = 32\n"
        f"timeout = {TIMEOUT}\nretries = {RETRIES}\nmax_response_bytes = {CAP}\n",
        encoding="utf-8",
    )
    return config_file


def crawl(config_path: Path, web: HostileWeb) -> Crawl:
    """Run one real crawl (bounded time: it must end well inside the timeout) and look."""
    before = len(web.hits())
    done = run_cli("crawl", config_path=config_path, timeout=120)
    web.settle()
    status = run_cli("status", "--json", config_path=config_path, check=True).stdout
    exported = run_cli("export", config_path=config_path, check=True).stdout
    return Crawl(
        returncode=done.returncode,
        output=done.stdout + done.stderr,
        health={s["name"]: s for s in json.loads(status)["sources"]},
        articles=[json.loads(line) for line in exported.splitlines()],
        store=b"".join(p.read_bytes() for p in sorted(config_path.parent.glob("store.db*"))),
        hits=web.hits()[before:],
        max_rss_kb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The hostile web, with its secret files in a folder of their own."""
    with serve_hostile(tmp_path_factory.mktemp("secrets")) as served:
        yield served


@pytest.fixture(scope="module")
def config_path(web: HostileWeb, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The configuration of every hostile source, with a fresh store."""
    return write_config(tmp_path_factory.mktemp("hostile"), web)


@pytest.fixture(scope="module")
def first(config_path: Path, web: HostileWeb) -> Crawl:
    """The first crawl of the hostile web."""
    return crawl(config_path, web)


@pytest.fixture(scope="module")
def second(first: Crawl, config_path: Path, web: HostileWeb) -> Crawl:
    """The next crawl, on the same store."""
    return crawl(config_path, web)


def linked(article: dict[str, Any], web: HostileWeb, path: str) -> bool:
    """Whether one of the article's URLs is this path on the hostile web."""
    return web.url(path) in article["urls"]


def article_at(crawl: Crawl, web: HostileWeb, path: str) -> dict[str, Any]:
    """The stored article one of whose URLs is this path."""
    found = [a for a in crawl.articles if linked(a, web, path)]
    assert len(found) == 1, f"{path}: {len(found)} articles"
    return found[0]


def tries(crawl: Crawl, path: str) -> list[Hit]:
    """The requests for exactly this path (with its query) in one crawl."""
    return [hit for hit in crawl.hits if hit.path == path]


def paced(hits: list[Hit], seconds: float) -> bool:
    """Whether each request came at least `seconds` after the one before."""
    return all(b.at - a.at >= seconds for a, b in zip(hits, hits[1:], strict=False))


# -- the first crawl -----------------------------------------------------------------------


def test_the_crawl_ends_and_stores_every_good_article(first: Crawl, web: HostileWeb) -> None:
    assert first.returncode == 0, first.output
    for name in WORKING:
        assert first.health[name]["last_status"] == "ok", first.health[name]
        assert first.health[name]["last_error"] is None
    for path in docs.GOOD_ARTICLES:
        assert not article_at(first, web, path)["unresolved"]
    # each document that also holds a bad entry still leads to its good one
    for via in ("local-links", "local-listing", "local-index"):
        assert [h for h in first.hits if h.path.endswith(f"?via={via}")], via
    assert first.max_rss_kb < MEMORY_BOUND_KB, "no body, bomb or entity was held whole"


@pytest.mark.parametrize("name", sorted(FAILING))
def test_each_bad_source_fails_with_a_readable_error(first: Crawl, name: str) -> None:
    health = first.health[name]
    assert health["last_status"] == "error", health
    assert FAILING[name][2] in health["last_error"], health
    assert health["failures"] == 1


def test_a_bad_article_link_keeps_the_feeds_headline_only(first: Crawl, web: HostileWeb) -> None:
    missing = []
    for trap in UNREADABLE_LINKS:
        found = [a for a in first.articles if linked(a, web, f"{trap}?as=article")]
        if not (found and found[0]["unresolved"]):
            missing.append(trap)
        elif found[0]["title"] != f"Alita: Battle Angel 2 news via {trap}":
            missing.append(f"{trap} (title {found[0]['title']!r})")
    assert not missing, "not kept as an unresolved headline: " + ", ".join(missing)
    assert first.health["good"]["last_error"] is None, "an article's failure is not the feed's"


def test_retry_after_is_honoured_and_nothing_is_hammered(first: Crawl, web: HostileWeb) -> None:
    busy = tries(first, "/busy-once?as=article")
    assert [hit.status for hit in busy] == [429, 200]
    assert paced(busy, 1.0), "the second try waited for Retry-After: 1"
    assert not article_at(first, web, docs.BUSY)["unresolved"]
    assert linked(article_at(first, web, docs.BUSY), web, "/busy-once?as=article")
    for path in ("/status/429", "/status/503"):
        for asked in (path, f"{path}?as=article"):
            assert len(tries(first, asked)) == RETRIES + 1, asked
            assert paced(tries(first, asked), 1.0), asked
    for path in ("/never", "/drip", "/never?as=article", "/drip?as=article"):
        assert len(tries(first, path)) == RETRIES + 1, path


def test_huge_bodies_stop_at_the_size_cap(first: Crawl) -> None:
    for path in ("/huge", "/huge-chunked", "/huge?as=article", "/huge-chunked?as=article"):
        for hit in tries(first, path):
            # what the server got out before the crawler hung up: the cap plus socket buffers
            assert hit.sent < 16 * CAP < 2 * GIB, (path, hit.sent)
    assert first.max_rss_kb < MEMORY_BOUND_KB


def test_a_page_of_100000_nested_tags_is_read_in_bounded_time(
    first: Crawl, web: HostileWeb
) -> None:
    deep = article_at(first, web, "/nested?as=article")
    assert deep["title"] == "Alita: Battle Angel 2 goes deep"
    assert not deep["unresolved"]


def test_no_redirect_or_link_leaves_the_web(
    first: Crawl, web: HostileWeb, config_path: Path
) -> None:
    marker = web.secrets.marker
    assert web.tripwire.connections == 0, "nothing spoke ftp:// or gopher:// to anyone"
    assert marker.encode() not in first.store, "no secret file (or data: URL) was read"
    assert b"root:x:0:0" not in first.store, "/etc/passwd was not read"
    assert not [hit.path for hit in first.hits if marker in hit.path]
    assert not any(marker in json.dumps(a) for a in first.articles)
    foreign = run_cli(
        "query",
        "--json",
        "SELECT url FROM article_urls WHERE url NOT LIKE 'http://%' AND url NOT LIKE 'https://%'",
        config_path=config_path,
        check=True,
    ).stdout
    assert json.loads(foreign) == []


@pytest.mark.parametrize("case", sorted(ENCODED_FEEDS))
def test_a_feed_in_a_wrong_or_mixed_encoding_is_read_right(
    first: Crawl, web: HostileWeb, case: str
) -> None:
    entry = article_at(first, web, f"/enc/story/{case}")
    assert entry["title"] == docs.encoded_title(case, "feed")


@pytest.mark.parametrize("case", sorted(ENCODED_PAGES))
def test_a_page_in_a_wrong_or_mixed_encoding_is_read_right(
    first: Crawl, web: HostileWeb, case: str
) -> None:
    page = article_at(first, web, f"{ENCODED_PAGES[case]}?as=article")
    assert page["title"] == docs.encoded_title(case, "page")
    assert not page["unresolved"]


def test_a_feed_linked_as_an_article_is_not_stored_as_one(first: Crawl, web: HostileWeb) -> None:
    link = article_at(first, web, "/enc/html-is-feed.html?as=article")
    assert link["unresolved"]
    assert link["title"] == "Alita: Battle Angel 2 news via /enc/html-is-feed.html"
    assert not [a for a in first.articles if a["title"] == "Hostile web"], "the feed's own title"


def test_xml_attacks_expand_nothing_read_nothing_fetch_nothing(
    first: Crawl, web: HostileWeb
) -> None:
    assert not [hit.path for hit in first.hits if hit.path.startswith("/dtd/")], "no DTD fetch"
    assert web.secrets.marker.encode() not in first.store, "no external entity read"
    assert b"lollollol" not in first.store, "no entity expanded"
    assert first.max_rss_kb < MEMORY_BOUND_KB
    for attack in docs.ATTACKS:
        for kind in docs.XML_KINDS:
            if attack.startswith("laughs") and kind == "xml":
                continue  # libxml2 stops at the bomb: the sitemap is read up to it
            via = f"?via={attack}-{kind}"
            assert [h for h in first.hits if h.path.endswith(via)], "the rest was read: " + via


# -- the next crawl ------------------------------------------------------------------------


def test_the_next_crawl_retries_every_failed_source(second: Crawl, web: HostileWeb) -> None:
    assert second.returncode == 0, second.output
    for name, (path, _, words) in FAILING.items():
        assert second.health[name]["failures"] == 2, second.health[name]
        assert words in second.health[name]["last_error"]
        assert tries(second, path), f"{name} was asked again"
    for path in ("/status/429", "/status/503"):
        assert len(tries(second, path)) == RETRIES + 1, "still paced, still bounded"
    # the good feed kept its ETag; the unreadable documents did not keep theirs
    assert second.health["good"]["last_status"] == "not_modified"
    assert [hit.status for hit in tries(second, "/good.rss")] == [304]
    for path in docs.GOOD_ARTICLES:
        assert not tries(second, path), "a stored article is not fetched again"


def test_the_next_crawl_asks_again_for_an_article_that_failed_for_now(second: Crawl) -> None:
    for path in ("/status/503", "/status/429", "/never", "/drip"):
        assert tries(second, f"{path}?as=article"), path
