"""Real crawls of the sample world served on 127.0.0.1, through the `sequelwatch` command."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers import run_cli

MANIFEST = tomllib.loads(
    (
        Path(__file__).resolve().parents[2] / "sequelwatch" / "sampleworld" / "manifest.toml"
    ).read_text(encoding="utf-8")
)
pytestmark = pytest.mark.slow


def paths(urls: list[str]) -> set[str]:
    """The paths (with query) of a list of URLs."""
    out = set()
    for url in urls:
        parts = urlsplit(url)
        out.add(parts.path + (f"?{parts.query}" if parts.query else ""))
    return out


def export(config_path: Path) -> list[dict[str, Any]]:
    """The articles about the topic, as `sequelwatch export` gives them."""
    done = run_cli("export", "--format", "jsonl", config_path=config_path, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample world crawled twice; what each crawl printed and fetched."""
    from sequelwatch.demo import write_config
    from sequelwatch.sampleworld.server import serve

    with serve() as world:
        config_path = write_config(tmp_path_factory.mktemp("crawl"), world.base_url)
        first = run_cli("crawl", config_path=config_path)
        first_requests = list(world.requests)
        world.clear_log()
        articles = export(config_path)
        second = run_cli("crawl", config_path=config_path)
        second_requests = list(world.requests)
        status = json.loads(run_cli("status", "--json", config_path=config_path, check=True).stdout)
        yield {
            "world": world,
            "config": config_path,
            "first": first,
            "second": second,
            "first_requests": first_requests,
            "second_requests": second_requests,
            "articles": articles,
            "status": status,
        }


def find(articles: list[dict[str, Any]], entry: dict[str, Any]) -> dict[str, Any] | None:
    """The exported article that one of the manifest entry's paths leads to."""
    wanted = {entry["path"], *entry.get("urls", [])}
    for article in articles:
        if paths(article["urls"]) & wanted or urlsplit(article["url"]).path in wanted:
            return article
    return None


def test_the_first_crawl_succeeds_and_reports_every_source(crawled: dict[str, Any]) -> None:
    first = crawled["first"]
    assert first.returncode == 0, first.stderr
    for source in tomllib.loads(crawled["config"].with_name("sources.toml").read_text())["sources"]:
        assert source["name"] in first.stdout
    assert "new_articles" in first.stdout
    # the process ends at once after its work (sequelwatch.cli.main): what it printed last
    # still reaches the pipes, and what it wrote is in the store
    assert re.search(r"\nrun \d+: ok, \d+ requests, .* new articles", first.stdout)
    assert first.stdout.endswith("errors\n"), first.stdout[-200:]
    assert "placed " in first.stderr and crawled["articles"]


def test_the_crawl_says_what_it_kept_without_scrapys_chatter(crawled: dict[str, Any]) -> None:
    stderr = crawled["first"].stderr
    assert "kept '" in stderr or 'kept "' in stderr
    assert "Crawled (200)" not in stderr  # Scrapy's DEBUG lines, one per request
    assert "Scraped from" not in stderr  # and one per item, with the page's whole text
    assert "Deprecation" not in stderr


def test_every_relevant_article_is_kept_and_no_trap_is(crawled: dict[str, Any]) -> None:
    articles = crawled["articles"]
    missing, wrongly_kept = [], []
    for entry in MANIFEST["articles"]:
        if not entry.get("reached_by"):
            continue
        found = find(articles, entry)
        if entry["relevant"] and found is None:
            missing.append(entry["path"])
        if not entry["relevant"] and found is not None:
            wrongly_kept.append((entry["path"], found["relevance_reason"]))
    assert missing == []
    assert wrongly_kept == []


def test_each_kept_article_has_its_fields(crawled: dict[str, Any]) -> None:
    for article in crawled["articles"]:
        assert article["title"] and " - " not in article["title"][-30:] or article["unresolved"]
        assert article["url"].startswith("http://127.0.0.1:")
        assert "utm_" not in article["url"] and "/amp" not in article["url"]
        assert article["relevance"] > 0 and article["relevance_reason"]
        assert article["first_seen"]
        if not article["unresolved"]:
            assert article["published"] and article["outlet"] and article["language"]


def test_the_amp_twin_and_tracking_urls_point_to_one_article(crawled: dict[str, Any]) -> None:
    for entry in MANIFEST["articles"]:
        if entry.get("template") == "amp" and entry.get("reached_by") and entry["relevant"]:
            found = find(crawled["articles"], entry)
            assert found is not None
            assert not urlsplit(found["url"]).path.rstrip("/").endswith("amp")
    urls = [u for a in crawled["articles"] for u in a["urls"]]
    assert len(urls) == len(set(urls))


def test_robots_txt_is_obeyed(crawled: dict[str, Any]) -> None:
    fetched = {r.path for r in crawled["first_requests"]}
    assert "/robots.txt" in fetched
    for path in MANIFEST.get("never_fetched", []):
        assert path not in fetched


def test_the_pre_filter_saves_requests(crawled: dict[str, Any]) -> None:
    fetched = {r.path.split("?")[0] for r in crawled["first_requests"]}
    for entry in MANIFEST["articles"]:
        if (
            entry.get("trap") == ""
            and not entry["relevant"]
            and "trade-ledger" in entry.get("reached_by", [])
        ):
            assert entry["path"] not in fetched
    totals = {s["source"]: s for s in crawled_runs(crawled)}
    assert sum(s["prefiltered"] for s in totals.values()) > 0


def crawled_runs(crawled: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-source results of the first run, read with `sequelwatch query`."""
    done = run_cli(
        "query",
        "SELECT * FROM source_runs WHERE run_id = 1",
        "--json",
        config_path=crawled["config"],
        check=True,
    )
    return json.loads(done.stdout)


def test_news_search_links_are_resolved_or_marked_unresolved(crawled: dict[str, Any]) -> None:
    fetched = [r.path for r in crawled["first_requests"]]
    assert not any(p.startswith("/bing/") for p in fetched), "Bing links are unwrapped, not fetched"
    assert any(p.startswith("/gnews/") for p in fetched), "Google News links are followed"
    unresolved = [a for a in crawled["articles"] if a["unresolved"]]
    for path in MANIFEST.get("unresolved", []):
        assert any(path in paths(a["urls"]) for a in unresolved)


def test_full_content_entries_need_no_page_fetch(crawled: dict[str, Any]) -> None:
    fetched = {r.path for r in crawled["first_requests"]}
    entries = [
        e for e in MANIFEST["articles"] if e.get("template") == "feed-entry" and e["relevant"]
    ]
    assert entries
    for entry in entries:
        assert entry["path"] not in fetched
        assert find(crawled["articles"], entry) is not None


def test_an_immediate_second_crawl_costs_almost_nothing(crawled: dict[str, Any]) -> None:
    second = crawled["second"]
    assert second.returncode == 0, second.stderr
    requests = crawled["second_requests"]
    sources = tomllib.loads(crawled["config"].with_name("sources.toml").read_text())["sources"]
    statuses = [r.status for r in requests if r.path != "/robots.txt"]
    assert statuses.count(304) == len(sources)
    assert len(requests) < len(crawled["first_requests"]) / 4
    assert len(export(crawled["config"])) == len(crawled["articles"])


def test_status_shows_each_source_healthy(crawled: dict[str, Any]) -> None:
    status = crawled["status"]
    assert {"name", "kind", "url", "last_status", "last_error", "failures", "last_fetched"} <= set(
        status["sources"][0]
    )
    for source in status["sources"]:
        assert source["last_status"] == "not_modified", source
        assert source["failures"] == 0
    assert status["runs"][0]["status"] == "ok"


def test_search_finds_kept_articles(crawled: dict[str, Any]) -> None:
    done = run_cli("search", "Salazar", "--json", config_path=crawled["config"], check=True)
    hits = json.loads(done.stdout)
    assert hits and all("Salazar" in (h["title"] + h["snippet"]) for h in hits)


def test_the_listing_follows_next_and_requests_say_who_we_are(crawled: dict[str, Any]) -> None:
    fetched = {r.path for r in crawled["first_requests"]}
    assert "/listing/news/page/2/" in fetched
    for request in crawled["first_requests"]:
        agent = {k.lower(): v for k, v in request.headers.items()}.get("user-agent", "")
        assert agent.startswith("sequelwatch/"), agent
    second = [r for r in crawled["second_requests"] if r.path == "/feeds/trade.rss"]
    headers = {k.lower(): v for k, v in second[0].headers.items()}
    assert headers.get("if-none-match") and headers.get("if-modified-since")


def test_export_as_csv_has_one_row_per_article(crawled: dict[str, Any]) -> None:
    import csv
    import io

    done = run_cli("export", "--format", "csv", config_path=crawled["config"], check=True)
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == len(crawled["articles"])
    for column in (
        "url",
        "urls",
        "title",
        "outlet",
        "author",
        "published",
        "first_seen",
        "language",
        "relevance",
        "categories",
        "story_id",
    ):
        assert column in rows[0]


def test_rewrites_share_a_story_and_copies_point_to_their_original(crawled: dict[str, Any]) -> None:
    articles = crawled["articles"]
    by_story: dict[str, set[Any]] = {}
    for entry in MANIFEST["articles"]:
        found = find(articles, entry)
        if not entry["relevant"] or found is None or not entry.get("story"):
            continue
        by_story.setdefault(entry["story"], set()).add(found["story_id"])
        if entry.get("duplicate_of"):
            original = find(articles, {"path": entry["duplicate_of"]})
            assert original is not None
            assert found["duplicate_of"] is not None
    for story, ids in by_story.items():
        assert len(ids) == 1 and None not in ids, (story, ids)
    assert len({i for ids in by_story.values() for i in ids}) == len(by_story)


def test_articles_carry_their_categories(crawled: dict[str, Any]) -> None:
    wrong = []
    for entry in MANIFEST["articles"]:
        found = find(crawled["articles"], entry)
        if (
            entry["relevant"]
            and found is not None
            and not found["unresolved"]
            and not set(entry["categories"]) <= set(found["categories"])
        ):
            wrong.append((entry["path"], entry["categories"], found["categories"]))
    assert len(wrong) <= 1, wrong


def test_stories_and_timeline_show_the_developments(crawled: dict[str, Any]) -> None:
    done = run_cli("stories", "--json", config_path=crawled["config"], check=True)
    stories = json.loads(done.stdout)
    assert stories
    for story in stories:
        assert story["title"] and story["first_reporter"] and story["sources"] >= 1
    salazar = [s for s in stories if "Salazar" in s["title"] and "cast" in (s["categories"] or "")]
    assert salazar and salazar[0]["sources"] >= 3
    timeline = json.loads(
        run_cli("timeline", "--json", config_path=crawled["config"], check=True).stdout
    )
    values = {(row["category"], row["value"]) for row in timeline}
    assert ("release", "no earlier than 2030") in values
    text = run_cli("timeline", config_path=crawled["config"], check=True).stdout
    assert "release" in text and "no earlier than 2030" in text


def test_reprocess_rebuilds_the_same_stories_without_fetching(crawled: dict[str, Any]) -> None:
    """Kept last in this module: it rewrites the store the other tests read."""
    world = crawled["world"]
    before = json.loads(run_cli("stories", "--json", config_path=crawled["config"]).stdout)
    world.clear_log()
    done = run_cli("reprocess", config_path=crawled["config"], check=True)
    assert "articles:" in done.stdout and "stories" in done.stdout
    assert world.requests == []
    after = json.loads(run_cli("stories", "--json", config_path=crawled["config"]).stdout)
    assert sorted((s["title"], s["articles"]) for s in after) == sorted(
        (s["title"], s["articles"]) for s in before
    )
