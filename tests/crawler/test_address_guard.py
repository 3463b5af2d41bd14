"""The guard in Scrapy: refused before connecting, and nothing ever leaves 127.0.0.0/8.

The crawls run on tests.crawler.fakenet's fake network: its names answer public and
internal addresses, public ones are routed to a loopback server, and any other
connection is refused and logged. Even with the guard broken (try it: make
process_request return at once), the crawl can reach nothing beyond 127.0.0.0/8, and
these tests fail by naming what it tried.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import pytest
from scrapy import Request
from scrapy.resolver import dnscache

from crawler.address_guard import InternalAddressGuard, InternalAddressRefused
from crawler.middlewares import SOURCE
from sequelwatch.demo import TOPIC
from sequelwatch.sampleworld.server import SITE, fill_placeholders
from tests.crawler.test_addresses import NAMES, PUBLIC_SOURCE, resolve
from tests.helpers import ROOT, run_cli

# -- the middleware, in process (no lookups, so no reactor is needed) --------------------


def guard(**kwargs: Any) -> InternalAddressGuard:
    """A guard for one public and one loopback source, with its lookups answered already."""
    made = InternalAddressGuard(
        {"public": PUBLIC_SOURCE, "local": "http://127.0.0.1:8123/feed.rss"}, resolve, **kwargs
    )
    made.answers.update({name: tuple(answers) for name, answers in NAMES.items()})
    return made


def request(url: str, source: str | None) -> Request:
    """A request as the spiders make it (robots.txt requests carry no source)."""
    return Request(url, meta={SOURCE: source} if source else {})


def test_the_guard_raises_with_the_readable_reason() -> None:
    with pytest.raises(InternalAddressRefused, match=r"internal.test is an internal address"):
        asyncio.run(guard().process_request(request("http://internal.test/a", "public")))
    asyncio.run(guard().process_request(request("http://news.public.test/a", "public")))
    asyncio.run(guard().process_request(request("http://127.0.0.1:8123/a", "local")))


def test_robots_txt_may_follow_a_request_the_guard_let_through_and_nothing_else() -> None:
    checked = guard()
    asyncio.run(checked.process_request(request("http://127.0.0.1:8123/a.html", "local")))
    asyncio.run(checked.process_request(request("http://127.0.0.1:8123/robots.txt", None)))
    with pytest.raises(InternalAddressRefused):
        asyncio.run(checked.process_request(request("http://127.0.0.1:9999/robots.txt", None)))


def test_the_guard_pins_the_address_it_judged_for_the_connection() -> None:
    checked = guard(pin_dns=True)
    try:
        asyncio.run(checked.process_request(request("http://cdn.public.test/a", "public")))
        assert dnscache["cdn.public.test"] == "203.0.113.20"
        # an IPv6-only name leaves Scrapy's IPv4 resolver to look again, unjudged: refused
        with pytest.raises(InternalAddressRefused, match="no IPv4 address"):
            asyncio.run(checked.process_request(request("http://v6.public.test/a", "public")))
    finally:
        for name in ("cdn.public.test", "v6.public.test"):
            dnscache.pop(name, None)


# -- real crawls on the fake network --------------------------------------------------

GOOD = "/trade/2026/11/alita-battle-angel-2-release-window-2030.html"
REBOUND = "/geek/2026/11/rosa-salazar-alita-2-return.html"
LOCAL = "/screenfan/2026/11/rosa-salazar-alita-sequel-comeback.html"
NETWORK = {  # host name -> successive answers
    "news.public.test": [["203.0.113.10"]],
    "internal.test": [["10.0.0.7"]],
    "mixed.test": [["203.0.113.11", "10.0.0.8"]],
    "rebind.test": [["203.0.113.12"], ["10.0.0.9"]],  # public to the check, then internal
    "localhost": [["127.0.0.1"]],
}
NETWORK_ROUTED = ("203.0.113.10", "203.0.113.11", "203.0.113.12")  # to the fake web server


@dataclass
class Seen:
    """One request a loopback server received: its Host header and path."""

    host: str
    path: str


@dataclass
class Server:
    """A loopback HTTP server answering from a table of routes, logging every request."""

    port: int = 0
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)


@contextmanager
def serving() -> Iterator[Server]:
    """Serve a Server's routes on 127.0.0.1 (port 0) for the duration of the block."""
    server, lock = Server(), threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Keep stderr quiet."""

        def do_GET(self) -> None:
            """Log the request, then answer from the routes (404 otherwise)."""
            with lock:
                server.seen.append(Seen(self.headers.get("Host", ""), self.path))
            status, headers, body = server.routes.get(self.path, (404, {}, b"not here"))
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.port = httpd.server_port
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def rss(links: list[str]) -> tuple[int, dict[str, str], bytes]:
    """An RSS feed whose entries (all about the topic, so all followed) link to links."""
    items = "".join(
        f"<item><title>Alita: Battle Angel 2 news, part {number}</title>"
        f"<link>{escape(link)}</link><guid>{escape(link)}</guid>"
        "<description>What we know about Alita: Battle Angel 2.</description></item>"
        for number, link in enumerate(links, 1)
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}'
    body += "</channel></rss>"
    return 200, {"Content-Type": "application/rss+xml"}, body.encode()


def page(path: str, base: str) -> tuple[int, dict[str, str], bytes]:
    """A sample-world article page, as served from base."""
    data = fill_placeholders((SITE / path.lstrip("/")).read_bytes(), base)
    return 200, {"Content-Type": "text/html; charset=utf-8"}, data


def redirect(location: str) -> tuple[int, dict[str, str], bytes]:
    """A 302 to location."""
    return 302, {"Location": location}, b""


@dataclass
class FakeWorld:
    """The public web (one loopback server behind routed addresses), a canary, a config."""

    web: Server
    canary: Server
    network: Path
    connections: Path
    config: Path

    def crawl(self) -> subprocess.CompletedProcess[str]:
        """`sequelwatch crawl` in its own process, on the fake network."""
        # a proxy from the environment would take every request elsewhere (fenced, but failing)
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env["SEQUELWATCH_CONFIG"] = str(self.config)
        return subprocess.run(
            [sys.executable, "-m", "tests.crawler.fakenet", str(self.network), "crawl"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )

    def attempts(self) -> list[str]:
        """Every connection the crawl tried: "HOST PORT routed|loopback|refused"."""
        if not self.connections.exists():
            return []
        return self.connections.read_text(encoding="utf-8").splitlines()


def build_world(folder: Path, web: Server, canary: Server, allow_internal: bool) -> FakeWorld:
    """Routes, the fake network's table and a configuration of three sources."""
    local = f"http://127.0.0.1:{web.port}"
    canary_url = f"http://127.0.0.1:{canary.port}/alita-battle-angel-2"
    web.routes.update(
        {
            "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"),
            "/feed.rss": rss(
                [
                    f"http://news.public.test{GOOD}",
                    "http://internal.test/alita-battle-angel-2-leak.html",
                    "http://news.public.test/go/metadata",
                    "http://news.public.test/go/canary",
                    f"http://2130706433:{canary.port}/alita-battle-angel-2-decimal",
                    f"http://[::ffff:127.0.0.1]:{canary.port}/alita-battle-angel-2-mapped",
                    "http://mixed.test/alita-battle-angel-2.html",
                    f"http://rebind.test{REBOUND}",
                ]
            ),
            "/go/metadata": redirect("http://169.254.169.254/latest/meta-data/"),
            "/go/canary": redirect(canary_url),
            "/moved.rss": redirect("http://10.0.0.7/feed.rss"),
            "/local.rss": rss(
                [
                    f"{local}{LOCAL}",
                    f"{canary_url}-other-port",
                    f"http://localhost:{web.port}/alita-battle-angel-2-by-name",
                ]
            ),
            GOOD: page(GOOD, "http://news.public.test"),
            REBOUND: page(REBOUND, "http://rebind.test"),
            LOCAL: page(LOCAL, local),
        }
    )
    network = folder / "network.json"
    routes = {address: f"127.0.0.1:{web.port}" for address in NETWORK_ROUTED}
    log = folder / "connections.log"
    network.write_text(json.dumps({"names": NETWORK, "routes": routes, "log": str(log)}))
    (folder / "sources.toml").write_text(
        "".join(
            f'[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{url}"\n\n'
            for name, url in (
                ("public-news", "http://news.public.test/feed.rss"),
                ("public-moved", "http://news.public.test/moved.rss"),
                ("local-feed", f"{local}/local.rss"),
            )
        ),
        encoding="utf-8",
    )
    config = folder / "sequelwatch.toml"
    config.write_text(
        f'database = "store.db"\ntopic = {str(TOPIC)!r}\nsources = "sources.toml"\n'
        "[crawl]\ndownload_delay = 0\nconcurrency_per_host = 8\ntimeout = 5.0\nretries = 0\n"
        f"allow_internal = {str(allow_internal).lower()}\n",
        encoding="utf-8",
    )
    return FakeWorld(web, canary, network, log, config)


@pytest.fixture
def servers() -> Iterator[tuple[Server, Server]]:
    """The fake public web's server and the canary, both on 127.0.0.1."""
    with serving() as web, serving() as canary:
        yield web, canary


def exported_urls(config: Path) -> set[str]:
    """Every URL of every stored article that was fetched (not just named by a feed)."""
    done = run_cli("export", "--format", "jsonl", config_path=config, check=True)
    articles = [json.loads(line) for line in done.stdout.splitlines()]
    return {url for a in articles if not a["unresolved"] for url in (a["url"], *a["urls"])}


def source_health(config: Path) -> dict[str, dict[str, Any]]:
    """Each source's health, by name, from `sequelwatch status --json`."""
    done = run_cli("status", "--json", config_path=config, check=True)
    return {s["name"]: s for s in json.loads(done.stdout)["sources"]}


@pytest.mark.slow
def test_internal_links_and_redirects_are_refused_before_connecting(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    world = build_world(tmp_path, *servers, allow_internal=False)
    done = world.crawl()
    assert done.returncode == 0, done.stdout + done.stderr

    # Nothing connected anywhere the guard refused: not the canary, not a routed address
    # under a refused name, not (had the fence been needed) anything off loopback.
    assert world.canary.seen == []
    assert [line for line in world.attempts() if not line.endswith(("routed", "loopback"))] == []
    hosts = {seen.host for seen in world.web.seen}
    assert hosts == {"news.public.test", "rebind.test", f"127.0.0.1:{world.web.port}"}

    # The good links were fetched and stored, the rebinding name from its judged address.
    urls = exported_urls(world.config)
    assert f"http://news.public.test{GOOD}" in urls
    assert f"http://rebind.test{REBOUND}" in urls
    assert f"http://127.0.0.1:{world.web.port}{LOCAL}" in urls
    assert {urlsplit(url).netloc for url in urls} == hosts

    # Each refusal is recorded with its reason: the articles in the log, the source on it.
    for words in (
        "internal.test is an internal address (10.0.0.7, private)",
        "169.254.169.254 is an internal address (link-local)",
        "127.0.0.1 is an internal address (loopback)",
        "2130706433 is an internal address (127.0.0.1, loopback)",
        "::ffff:127.0.0.1 is an internal address (loopback via IPv4-mapped)",
        "mixed.test is an internal address (10.0.0.8, private)",
        "localhost is an internal address (127.0.0.1, loopback)",
    ):
        assert words in done.stderr, words
    health = source_health(world.config)
    assert health["public-moved"]["last_status"] == "error"
    assert health["public-moved"]["last_error"].startswith(
        "refused before connecting: 10.0.0.7 is an internal address (private)"
    )
    assert health["public-news"]["last_status"] == "ok"
    assert health["local-feed"]["last_status"] == "ok"
    # a refused request was never sent, so it is not counted as one
    runs = run_cli(
        "query", "SELECT source, requests FROM source_runs", "--json", config_path=world.config
    )
    requests = {row["source"]: row["requests"] for row in json.loads(runs.stdout)}
    assert requests == {"public-news": 5, "public-moved": 1, "local-feed": 2}


@pytest.mark.slow
def test_allow_internal_turns_the_guard_off(servers: tuple[Server, Server], tmp_path: Path) -> None:
    world = build_world(tmp_path, *servers, allow_internal=True)
    done = world.crawl()
    assert done.returncode == 0, done.stdout + done.stderr
    # Without the guard the crawl goes for every internal address. The loopback canary
    # answers; the fake network's fence refuses the rest, which proves it holds.
    assert {seen.path for seen in world.canary.seen} >= {
        "/alita-battle-angel-2",
        "/alita-battle-angel-2-decimal",
        "/alita-battle-angel-2-other-port",
    }
    refused = {line.rsplit(" ", 2)[0] for line in world.attempts() if line.endswith("refused")}
    assert {"10.0.0.7", "169.254.169.254"} <= refused
    assert "refused before connecting" not in done.stderr
