"""Pages per second beside the limit and the peers, and the steady-state recrawl.

`python bench/throughput.py --pages 2000 --runs 3 [--no-peers]`

Over the same generated site in one run, each run interleaved (bare, ours, peers) so that
a noisy machine slows them alike: a bare Scrapy spider that reads the feeds and fetches
each article (the limit), `sequelwatch crawl` on a fresh store with the feeds as sources
(every title names Alita, so every page is fetched and goes through the whole pipeline),
and the peers (bench/peers.py). Then the steady state: a crawl, and at once a second crawl
of the unchanged site with the same store, counted at the server.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import peers  # noqa: E402
from bench.site import ServedSite, Traffic, port_80_or_free, serve_site  # noqa: E402

TOPIC = Path(__file__).resolve().parents[1] / "config" / "topics" / "alita-battle-angel-2.toml"
USER_AGENT = "sequelwatch-bench/0.1 (+local)"
CONCURRENCY = 16
TIMEOUT = 1800.0  # seconds a single crawl may take before the bench gives up


def spread(values: list[float]) -> dict[str, float]:
    """The median of the runs with min and max beside it."""
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
    }


def write_config(folder: Path, feeds: list[str] | tuple[str, ...]) -> Path:
    """A sequelwatch configuration whose sources are these feeds, with a store in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = "".join(
        f'[[sources]]\nname = "bench-{i:03d}"\nkind = "feed"\nurl = "{url}"\n'
        f'every = "30m"\nenabled = true\n\n'
        for i, url in enumerate(feeds, 1)
    )
    (folder / "sources.toml").write_text(sources, encoding="utf-8")
    path = folder / "sequelwatch.toml"
    path.write_text(
        f'database = "sequelwatch.db"\ntopic = {str(TOPIC)!r}\nsources = "sources.toml"\n\n'
        f"[crawl]\ndownload_delay = 0\nconcurrency_per_host = {CONCURRENCY}\n"
        f"concurrency = {CONCURRENCY}\ntimeout = 30.0\nretries = 1\n"
        f"user_agent = {USER_AGENT!r}\n\n"
        f'[delivery]\noutbox = "outbox"\n\n[web]\nenabled = false\n',
        encoding="utf-8",
    )
    return path


def sequelwatch_command() -> list[str]:
    """The `sequelwatch` command of this environment."""
    script = Path(sys.executable).with_name("sequelwatch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sequelwatch"]


def crawl(config_path: Path) -> float:
    """Run `sequelwatch --config FILE crawl` in its own process; return wall seconds."""
    started = time.perf_counter()
    done = subprocess.run(
        [*sequelwatch_command(), "--config", str(config_path), "crawl"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"sequelwatch crawl failed ({done.returncode}): {done.stderr[-500:]}")
    return seconds


def bare_spider(feed_list: Path) -> None:
    """The limit: read the feeds, fetch every article, yield only its URL (in this process)."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    class BareSpider(scrapy.Spider):
        """Feeds -> article pages -> URLs; no parsing beyond the feed's links."""

        name = "bare"

        async def start(self) -> Any:
            """One request per feed."""
            for url in feed_list.read_text(encoding="utf-8").split():
                yield scrapy.Request(url, callback=self.parse)

        def parse(self, response: Any) -> Any:
            """Follow each item's link."""
            for link in response.xpath("//item/link/text()").getall():
                yield scrapy.Request(link, callback=self.page)

        def page(self, response: Any) -> Any:
            """Yield only the page's URL."""
            yield {"url": response.url}

    process = CrawlerProcess(
        {
            "ROBOTSTXT_OBEY": True,
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "CONCURRENT_REQUESTS": CONCURRENCY,
            "CONCURRENT_REQUESTS_PER_DOMAIN": CONCURRENCY,
            "COOKIES_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
            "USER_AGENT": USER_AGENT,
            "LOG_LEVEL": "WARNING",
        }
    )
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler)
    process.start()
    print(json.dumps({"items": crawler.stats.get_value("item_scraped_count", 0)}))


def run_bare(served: ServedSite, folder: Path) -> tuple[float, int]:
    """Run the bare spider in a fresh process; return wall seconds and pages yielded."""
    folder.mkdir(parents=True, exist_ok=True)
    feed_list = folder / "feeds.txt"
    feed_list.write_text("\n".join(served.site.feeds) + "\n", encoding="utf-8")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--bare-spider", str(feed_list)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=folder,  # away from scrapy.cfg: no project settings
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"bare spider failed: {done.stderr[-500:]}")
    return seconds, int(json.loads(done.stdout.strip().splitlines()[-1])["items"])


def stored(config_path: Path) -> dict[str, int]:
    """How many articles the crawl stored, and how many it kept as relevant."""
    db = sqlite3.connect(config_path.parent / "sequelwatch.db")
    try:
        query = "SELECT count(*), coalesce(sum(relevant), 0) FROM articles"
        total, kept = db.execute(query).fetchone()
    finally:
        db.close()
    return {"stored": int(total), "kept": int(kept)}


def _peer_pythons(with_peers: bool) -> dict[str, Path | str]:
    """Each peer's venv Python, or the reason it is unavailable."""
    found: dict[str, Path | str] = {}
    for name in ("trafilatura", "news-please"):
        if not with_peers:
            found[name] = "skipped (with_peers=False)"
            continue
        try:
            found[name] = peers.peer_python(name)
        except peers.PeerUnavailable as exc:
            found[name] = str(exc)
    return found


def children_cpu() -> float:
    """CPU seconds (user and system) of this process's children that have ended and been
    waited for, their own children included: a contender's processes, all of them."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _one_run(
    served: ServedSite, folder: Path, pythons: dict[str, Path | str]
) -> dict[str, dict[str, Any]]:
    """One interleaved run of every contender: seconds, CPU seconds, pages, requests at
    the server."""
    pages = len(served.site.articles)
    out: dict[str, dict[str, Any]] = {}
    before, cpu = served.traffic(), children_cpu()
    seconds, items = run_bare(served, folder)
    out["bare"] = {"seconds": seconds, "pages": items, "requests": _delta(served, before)}
    out["bare"]["cpu_seconds"] = children_cpu() - cpu
    config_path = write_config(folder / "ours", served.site.feeds)
    before, cpu = served.traffic(), children_cpu()
    seconds = crawl(config_path)
    out["sequelwatch"] = {"seconds": seconds, "pages": pages, "requests": _delta(served, before)}
    out["sequelwatch"]["cpu_seconds"] = children_cpu() - cpu
    out["sequelwatch"].update(stored(config_path))
    for name, runner in (("trafilatura", _trafilatura), ("news-please", _newsplease)):
        python = pythons[name]
        if isinstance(python, Path):
            before, cpu = served.traffic(), children_cpu()
            try:
                run = runner(python, served, folder / name)
            except (peers.PeerUnavailable, subprocess.TimeoutExpired) as exc:
                out[name] = {"error": str(exc)[:500]}
                continue
            out[name] = {"seconds": run.seconds, "pages": run.extracted}
            out[name]["requests"] = _delta(served, before)
            out[name]["cpu_seconds"] = children_cpu() - cpu
    return out


def _trafilatura(python: Path, served: ServedSite, folder: Path) -> peers.PeerRun:
    """Run trafilatura's feed crawler over the site's feeds."""
    return peers.run_trafilatura(python, list(served.site.feeds), folder, TIMEOUT)


def _newsplease(python: Path, served: ServedSite, folder: Path) -> peers.PeerRun:
    """Run news-please over the site's article URLs."""
    return peers.run_newsplease(python, list(served.site.articles), folder, TIMEOUT)


def _delta(served: ServedSite, before: Traffic) -> int:
    """Requests the server answered since before."""
    return (served.traffic() - before).requests


def throughput(
    pages: int = 2000, runs: int = 3, with_peers: bool = True, served: ServedSite | None = None
) -> dict[str, Any]:
    """Pages per second of the bare spider, sequelwatch and the peers, median of runs."""
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        if served is None:
            port = port_80_or_free() if with_peers else 0
            with serve_site(pages, Path(tmp), port=port) as own:
                return throughput(pages, runs, with_peers, own)
        pythons = _peer_pythons(with_peers)
        results = [_one_run(served, Path(tmp) / f"run{r}", pythons) for r in range(runs)]
    count = len(served.site.articles)
    figures: dict[str, Any] = {"pages": count, "runs": runs, "server": served.server}
    for name in ("bare", "sequelwatch", "trafilatura", "news-please"):
        failed = [r[name]["error"] for r in results if "error" in r.get(name, {})]
        if name not in results[0] or failed:
            figures[name] = {"pages_per_s": None, "reason": failed[0] if failed else pythons[name]}
            continue
        figures[name] = {
            "pages_per_s": spread([count / r[name]["seconds"] for r in results]),
            # how much computing a page costs it, on every core it used
            "cpu_ms_per_page": spread([r[name]["cpu_seconds"] * 1e3 / count for r in results]),
            "seconds": [round(r[name]["seconds"], 3) for r in results],
            "cpu_seconds": [round(r[name]["cpu_seconds"], 3) for r in results],
            "pages_done": [r[name]["pages"] for r in results],
            "requests": [r[name]["requests"] for r in results],
        }
        if isinstance(pythons.get(name), Path):
            figures[name]["version"] = peers.version(pythons[name], name)  # type: ignore[arg-type]
    figures["sequelwatch"]["kept"] = [r["sequelwatch"]["kept"] for r in results]
    ours = figures["sequelwatch"]["pages_per_s"]["median"]
    figures["pipeline_vs_bare"] = round(ours / figures["bare"]["pages_per_s"]["median"], 4)
    for name, key in (
        ("trafilatura", "trafilatura_vs_ours"),
        ("news-please", "newsplease_vs_ours"),
    ):
        theirs = figures[name]["pages_per_s"]
        figures[key] = round(theirs["median"] / ours, 4) if theirs else None
    return figures


def steady_state(
    pages: int = 2000, runs: int = 3, served: ServedSite | None = None
) -> dict[str, Any]:
    """A crawl, then at once a second one of the unchanged site: its cost as shares of the first."""
    with tempfile.TemporaryDirectory(prefix="bench-steady-") as tmp:
        if served is None:
            with serve_site(pages, Path(tmp)) as own:
                return steady_state(pages, runs, own)
        firsts, seconds_ = [], []
        for r in range(runs):
            config_path = write_config(Path(tmp) / f"run{r}", served.site.feeds)
            rows = []
            for _ in range(2):
                before = served.traffic()
                wall = crawl(config_path)
                used = served.traffic() - before
                rows.append({"requests": used.requests, "bytes": used.bytes, "seconds": wall})
            firsts.append(rows[0])
            seconds_.append(rows[1])
    shares = {
        key: [s[key] / f[key] for f, s in zip(firsts, seconds_, strict=True)]
        for key in ("requests", "bytes", "seconds")
    }
    return {
        "pages": len(served.site.articles),
        "runs": runs,
        "server": served.server,
        "first": firsts,
        "second": seconds_,
        "recrawl_requests_share": spread(shares["requests"]),
        "recrawl_bytes_share": spread(shares["bytes"]),
        "recrawl_time_share": spread(shares["seconds"]),
    }


def main() -> None:
    """Run throughput and steady state; print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true", help="skip trafilatura and news-please")
    parser.add_argument("--bare-spider", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_spider:
        bare_spider(args.bare_spider)
        return
    with (
        tempfile.TemporaryDirectory(prefix="bench-site-") as tmp,
        serve_site(args.pages, Path(tmp), port=port_80_or_free()) as served,
    ):
        figures = {
            "throughput": throughput(args.pages, args.runs, not args.no_peers, served),
            "steady_state": steady_state(args.pages, args.runs, served),
        }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
