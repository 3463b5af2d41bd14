"""SIGKILL at random moments: the daemon or its crawl child, while crawling, storing, sending.

A `random.Random(SEED)` chooses, round after round, whom to kill and when; the daemon is
restarted after each kill. A news wire in a copy of the sample world gets a new article
most rounds, so every round has something to fetch, store, place and mail, and the SMTP
server keeps each message a moment before it answers 250, so a kill can fall after the
message is in but before the daemon heard so. At the end the daemon runs until the work
is done and stops on SIGTERM, and the store must be whole, every article of a crawl that
reported done stored and placed, no development mailed twice under two Message-IDs, and
the schedule running again. A failure prints the seed and the kill log: set
SEQUELWATCH_KILL_SEED to replay a seed.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

import config
from pipeline.store import Store
from sequelwatch.demo import write_config
from sequelwatch.sampleworld.server import SITE, SampleWorld, serve
from tests.alerts.conftest import StartServer
from tests.alerts.smtp_servers import RecordingHandler
from tests.helpers import run_cli, start_daemon
from tests.sequelwatch.test_daemon import mail_and_web, wait_for

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("SEQUELWATCH_KILL_SEED", "20261205"))
KILLS = 20
WIRE = "wire-desk"
ACCEPT_DELAY = 0.3  # seconds the SMTP server holds a message it kept before answering 250
ORPHAN_SHARE = 0.4  # daemon kills that leave its crawl child running, as without systemd

# names and words of the wire's made-up articles
FIRST = [
    "Mara", "Tobias", "Ines", "Oskar", "Leilani", "Dmitri", "Soraya", "Kwame", "Yuna", "Felix",
    "Ayesha", "Bruno",
]  # fmt: skip
LAST = [
    "Okonkwo", "Lindqvist", "Barrientos", "Halloran", "Kapoor", "Vasquez", "Moreau", "Tanaka",
    "Whitlock",
]  # fmt: skip
WORDS = [
    "harbor", "lantern", "copper", "meadow", "violin", "glacier", "orchard", "saddle",
    "thunder", "velvet", "canyon", "marble", "pepper", "ribbon", "falcon", "quarry", "timber",
    "walnut", "comet", "ember", "fjord", "gravel", "hazel", "island", "jasmine", "kettle",
    "lagoon", "mosaic", "nectar", "oyster", "pebble", "quartz", "raven", "sapphire", "tundra",
    "umber", "valley", "willow", "yarrow", "zephyr", "anchor", "bramble", "cobalt", "dune",
    "fossil", "garnet", "heron", "ivory", "juniper", "kelp",
]  # fmt: skip


class SlowAcceptingHandler(RecordingHandler):
    """Keeps each message, then waits before its 250: the window where a killed sender has
    delivered without knowing it."""

    def __init__(self) -> None:
        super().__init__()
        self.unanswered = 0  # messages kept whose 250 is not out yet

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message, then answer late."""
        reply = self.keep(server, session, envelope)
        self.unanswered += 1
        try:
            await asyncio.sleep(ACCEPT_DELAY)
        finally:
            self.unanswered -= 1
        return reply


# -- the world: the sample world plus a wire that publishes as the test goes ---------------


def wire_article(number: int) -> tuple[str, list[str]]:
    """The title and paragraphs of the wire's article `number`: a casting, its own story."""
    rng = random.Random(f"wire-{number}")
    name = f"{FIRST[number % len(FIRST)]} {LAST[(number * 7) % len(LAST)]}"
    first, second, third = rng.sample(WORDS, 3)
    title = f"{name} joins Alita: Battle Angel 2 for the {first} {second} sequence"
    paragraphs = [
        f"{name} has joined the cast of Alita: Battle Angel 2, the studio confirmed.",
        f'"I have dreamed of the {third} scene since {1990 + number}, truly," {name} said.',
    ]
    # words drawn at random keep the pages apart for the near-duplicate check
    paragraphs += [" ".join(rng.sample(WORDS, 9)).capitalize() + "." for _ in range(8)]
    return title, paragraphs


@dataclass
class Wire:
    """A feed in the served copy of the sample world, with an article page per item."""

    folder: Path
    base_url: str
    published: list[tuple[str, float]] = field(default_factory=list)  # (URL, time.time())

    def publish(self) -> str:
        """Put up one more article and its feed item (atomically); return its URL."""
        number = len(self.published)
        title, paragraphs = wire_article(number)
        url = f"{self.base_url}/wire/{number}.html"
        now = datetime.now(UTC)
        body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        _write(
            self.folder / f"{number}.html",
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title>"
            f'<link rel="canonical" href="{url}">'
            f'<meta property="og:site_name" content="Wire Desk">'
            f'<meta property="article:published_time" content="{now.isoformat()}">'
            f"</head><body><article><h1>{html.escape(title)}</h1>{body}</article></body></html>",
        )
        _write(self.folder / "feed.rss", self.feed([*(u for u, _ in self.published), url], now))
        self.published.append((url, time.time()))  # the feed is up from now on
        return url

    def feed(self, urls: list[str], now: datetime) -> str:
        """The RSS feed of these articles, newest first."""
        items = "".join(
            f"<item><title>{html.escape(wire_article(n)[0])}</title><link>{url}</link>"
            f"<guid>{url}</guid><pubDate>{format_datetime(now)}</pubDate></item>"
            for n, url in reversed(list(enumerate(urls)))
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Wire Desk</title><link>{self.base_url}/wire/</link>"
            f"<description>Casting news</description>{items}</channel></rss>"
        )


def _write(path: Path, text: str) -> None:
    """Replace a file at once, so the server never serves half of it."""
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


@pytest.fixture
def growing_world(tmp_path: Path) -> Iterator[tuple[SampleWorld, Wire]]:
    """The sample world served from a copy that the test can add a wire's articles to."""
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    (site / "wire").mkdir()
    with serve(site=site) as world:
        wire = Wire(site / "wire", world.base_url)
        _write(wire.folder / "feed.rss", wire.feed([], datetime.now(UTC)))
        yield world, wire


def kill_config(folder: Path, world: SampleWorld, smtp_port: int) -> config.Settings:
    """Every sample source each 1-2 s plus the wire each second; mail to the loopback."""
    path = write_config(folder, world.base_url)
    lines = (folder / "sources.toml").read_text(encoding="utf-8").splitlines()
    every = iter(["1s", "2s"] * len(lines))
    sources = "\n".join(f'every = "{next(every)}"' if s.startswith("every =") else s for s in lines)
    sources += (
        f'\n[[sources]]\nname = "{WIRE}"\nkind = "feed"\n'
        f'url = "{world.base_url}/wire/feed.rss"\nevery = "1s"\n'
    )
    (folder / "sources.toml").write_text(sources, encoding="utf-8")
    return config.load(mail_and_web(path, smtp_port, grace="5s"))


# -- the daemon and its children -----------------------------------------------------------


def children(pid: int) -> list[int]:
    """The live child processes of a process (every thread's), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread or the process just ended
    return [p for p in found if alive(p)]


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@dataclass
class Kill:
    """One kill, for the replay log."""

    round: int
    target: str  # the daemon (with or without its crawl), its crawl, or a miss
    pid: int | None
    delay: float
    at: float  # seconds since the first daemon started
    messages: int  # messages the SMTP server had kept by then
    unanswered: int  # of which the sender had not heard 250 yet

    @property
    def landed(self) -> bool:
        """Whether something was killed (a crawl may end, or not come, before its kill)."""
        return not self.target.startswith("crawl:")

    def __str__(self) -> str:
        return (
            f"round {self.round:2d} at {self.at:5.1f} s: {self.target} (pid {self.pid}),"
            f" delay {self.delay:.2f} s, {self.messages} messages kept,"
            f" {self.unanswered} awaiting their 250"
        )


@dataclass
class Harness:
    """Starts, kills and restarts the daemon; keeps the kill log."""

    settings: config.Settings
    log: Path
    mail: SlowAcceptingHandler
    daemon: subprocess.Popen[bytes] | None = None
    starts: list[float] = field(default_factory=list)  # time.time() of each start
    kills: list[Kill] = field(default_factory=list)
    orphans: list[int] = field(default_factory=list)
    killed: set[int] = field(default_factory=set)  # dying children may linger a moment
    t0: float = 0.0

    def start(self) -> None:
        """Start `sequelwatch daemon` in its own process group, checking digests each second."""
        self.starts.append(time.time())
        self.t0 = self.t0 or time.monotonic()
        self.daemon = start_daemon(self.settings.path, self.log, new_session=True)

    def crawl_child(self, within: float) -> int | None:
        """The daemon's running crawl child, waiting up to `within` seconds for one."""
        assert self.daemon is not None
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and self.daemon.poll() is None:
            found = [p for p in children(self.daemon.pid) if p not in self.killed]
            if found:
                return found[0]
            time.sleep(0.05)
        return None

    def record(self, number: int, target: str, pid: int | None, delay: float) -> None:
        """Add a line to the kill log."""
        at = time.monotonic() - self.t0
        mail = self.mail
        self.kills.append(Kill(number, target, pid, delay, at, len(mail.received), mail.unanswered))

    def kill_daemon(self, number: int, delay: float, with_children: bool) -> None:
        """SIGKILL the daemon (and its process group, as systemd would), then restart it."""
        assert self.daemon is not None
        time.sleep(delay)
        ended = self.daemon.poll()
        assert ended is None, f"the daemon had exited by itself (exit {ended})"
        left = children(self.daemon.pid)
        if with_children:
            os.killpg(self.daemon.pid, signal.SIGKILL)
        else:
            self.daemon.send_signal(signal.SIGKILL)
            self.orphans += left
        target = "daemon" if not left else "daemon and its crawl"
        if left and not with_children:
            target = "daemon, its crawl left running"
        self.record(number, target, self.daemon.pid, delay)
        self.daemon.wait(10)  # reaped: its lock is free, only the new daemon will hold it
        self.start()

    def kill_crawl(self, number: int, delay: float) -> None:
        """SIGKILL the daemon's crawl child `delay` seconds after it started (if it still runs)."""
        child = self.crawl_child(within=8.0)
        assert self.daemon is not None
        ended = self.daemon.poll()
        assert ended is None, f"the daemon had exited by itself (exit {ended})"
        if child is None:
            self.record(number, "crawl: none came", None, delay)
            return
        time.sleep(delay)
        if not alive(child):
            self.record(number, "crawl: ended first", child, delay)
            return
        os.kill(child, signal.SIGKILL)
        self.killed.add(child)
        self.record(number, "crawl", child, delay)

    def stop(self) -> int:
        """SIGTERM: the daemon finishes what runs and exits (its code)."""
        assert self.daemon is not None
        self.daemon.send_signal(signal.SIGTERM)
        return self.daemon.wait(60)

    def cleanup(self) -> None:
        """Kill whatever is left: the daemon's group and orphaned crawls."""
        if self.daemon is not None and self.daemon.poll() is None:
            os.killpg(self.daemon.pid, signal.SIGKILL)
            self.daemon.wait(10)
        for pid in self.orphans:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    def report(self) -> str:
        """The seed, the kill log and the end of the daemon's log, to replay a failure."""
        lines = [f"SEQUELWATCH_KILL_SEED={SEED} replays these kills:"]
        lines += [str(kill) for kill in self.kills]
        landed = sum(kill.landed for kill in self.kills)
        sending = sum(kill.unanswered > 0 for kill in self.kills)
        lines.append(f"{landed} kills, {sending} of them while a message awaited its 250")
        tail = self.log.read_text(encoding="utf-8").splitlines()[-60:] if self.log.exists() else []
        return "\n".join([*lines, "-- the daemon's log, last lines:", *tail])


# -- subscribers, through the command line -------------------------------------------------


def subscribe(settings: config.Settings, mail: RecordingHandler, address: str) -> None:
    """Subscribe an address for instant alerts, and confirm it from the mail it got."""
    run_cli("subscribe", address, "--frequency", "instant", config_path=settings.path, check=True)
    confirmation = mail.messages_to(address)[-1]
    body = confirmation.get_body(("plain",))
    assert body is not None
    token = re.search(r"/confirm/([\w-]{43})", body.get_content())
    assert token is not None, "no confirmation link in the confirmation message"
    run_cli("confirm", token.group(1), config_path=settings.path, check=True)


def subscribe_confirmed(settings: config.Settings, address: str) -> None:
    """An operator subscribes an address with no opt-in, for instant alerts."""
    run_cli(
        "subscribe",
        address,
        "--frequency",
        "instant",
        "--confirmed",
        config_path=settings.path,
        check=True,
    )


# -- what must hold at the end -------------------------------------------------------------


def rows(database: Path, sql: str, *params: object) -> list[sqlite3.Row]:
    """Rows of one query on a read-only connection."""
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def all_delivered(settings: config.Settings) -> bool:
    """Whether every active subscriber has every development and nothing is pending."""
    store = Store(settings.database)
    try:
        pending = store.pending_digests("9999")
        categories = tuple(settings.topic.categories)
        owed = [
            s
            for s in store.subscribers()
            if s["status"] == "active" and store.new_developments(s["id"], "", categories)
        ]
        waiting = store.waiting_articles(1)
    finally:
        store.close()
    return not pending and not owed and not waiting


def work_done(settings: config.Settings, wire: Wire, since: float) -> bool:
    """The last published article stored, everything mailed, every source crawled since."""
    database = settings.database
    last_url = wire.published[-1][0]
    stored = rows(database, "SELECT 1 FROM article_urls WHERE url = ?", last_url)
    fetched = rows(database, "SELECT name, last_fetched FROM sources WHERE enabled = 1")
    crawled = all(
        r["last_fetched"] and datetime.fromisoformat(r["last_fetched"]).timestamp() >= since
        for r in fetched
    )
    return bool(stored) and crawled and all_delivered(settings)


def check_store_is_whole(database: Path) -> None:
    """PRAGMA integrity_check, no article left waiting, none placed twice, no empty story."""
    assert [tuple(r) for r in rows(database, "PRAGMA integrity_check")] == [("ok",)]
    waiting = rows(database, "SELECT id, url FROM articles WHERE relevant = 1 AND story_id IS NULL")
    assert not waiting, f"kept articles left waiting for a story: {[dict(r) for r in waiting]}"
    twice = rows(
        database,
        "SELECT article_id, kind, subject, value, count(*) AS times FROM facts"
        " GROUP BY article_id, kind, subject, value HAVING count(*) > 1",
    )
    assert not twice, f"articles understood twice (facts repeated): {[dict(r) for r in twice]}"
    empty = rows(
        database,
        "SELECT id, title FROM stories s"
        " WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.story_id = s.id)",
    )
    assert not empty, f"stories without articles: {[dict(r) for r in empty]}"


def check_reported_articles_stored(database: Path, wire: Wire, reference: set[str]) -> None:
    """Every wire article a finished crawl of the wire saw is stored, and so is every
    sample-world article that a clean crawl stores."""
    stored = {
        r["url"]: r["first_seen"]
        for r in rows(
            database,
            "SELECT u.url, a.first_seen FROM article_urls u JOIN articles a ON a.id = u.article_id",
        )
    }
    unseen = [url for url, _ in wire.published if url not in stored]
    assert not unseen, f"published articles never stored: {unseen}"
    runs = rows(
        database,
        "SELECT r.id, r.started, r.finished FROM crawl_runs r"
        " JOIN source_runs s ON s.run_id = r.id"
        " WHERE r.finished IS NOT NULL AND s.source = ? AND s.status != 'error'",
        WIRE,
    )
    for url, up in wire.published:
        # the first finished crawl of the wire that began after the article went up
        done = [r for r in runs if datetime.fromisoformat(r["started"]).timestamp() > up]
        if done:
            first = min(done, key=lambda r: r["id"])
            assert stored[url] <= first["finished"], (
                f"{url} went up before run {first['id']} started ({first['started']}), which"
                f" finished at {first['finished']} without it; stored only at {stored[url]}"
            )
    lost = sorted(reference - set(stored))
    assert not lost, f"sample-world articles lost to the kills: {lost}"


def check_each_development_mailed_once(database: Path, mail: RecordingHandler) -> None:
    """No (subscriber, story, development) under two Message-IDs, in the store or the mail."""
    carried: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for r in rows(
        database,
        "SELECT d.message_id, v.subscriber_id, v.story_id, v.developed_at FROM deliveries v"
        " JOIN digests d ON d.id = v.digest_id WHERE d.status NOT IN ('rejected', 'cancelled')",
    ):
        carried[r["message_id"]].append((r["subscriber_id"], r["story_id"], r["developed_at"]))
    status = {r["message_id"]: r["status"] for r in rows(database, "SELECT * FROM digests")}
    received = [m.message["Message-ID"] for m in mail.received]
    stray = [mid for mid in received if mid not in status]
    assert not stray, f"messages mailed without a reservation: {stray}"
    unsent = [mid for mid in received if status[mid] != "sent"]
    assert not unsent, f"messages delivered but not marked sent: {unsent}"
    for where, ids in (("the store", list(carried)), ("the SMTP server", received)):
        by_development: dict[tuple[int, int, str], set[str]] = defaultdict(set)
        for message_id in ids:
            for development in carried.get(message_id, []):
                by_development[development].add(message_id)
        twice = {k: sorted(v) for k, v in by_development.items() if len(v) > 1}
        assert not twice, f"developments under two Message-IDs in {where}: {twice}"


def check_daemon_log(log: Path) -> None:
    """Nothing but log lines (a daemon refusing to start, say because of the lock file a
    killed one left, would print its error bare), no error logged, and every crawl ended
    well or by our SIGKILL."""
    lines = log.read_text(encoding="utf-8").splitlines()
    stray = [line for line in lines if not line.startswith("{")]
    assert not stray, f"the daemon wrote more than its log: {stray}"
    entries = [json.loads(line) for line in lines]
    errors = [e["message"] + e.get("error", "") for e in entries if e["level"] == "error"]
    assert not errors, f"errors in the daemon's log: {errors}"
    endings = [e["message"] for e in entries if e["message"].startswith("crawl finished")]
    bad = [m for m in endings if not re.search(r"; exit (0|-9);", m)]
    assert not bad, f"crawls that failed on their own: {bad}"


def check_schedule_resumed(database: Path, since: float) -> None:
    """After the last restart crawls finished and every source was fetched again."""
    later = rows(
        database, "SELECT id, started FROM crawl_runs WHERE finished IS NOT NULL ORDER BY id"
    )
    assert any(datetime.fromisoformat(r["started"]).timestamp() >= since for r in later)
    for r in rows(database, "SELECT name, last_fetched FROM sources WHERE enabled = 1"):
        assert r["last_fetched"], f"{r['name']} was never fetched"
        when = datetime.fromisoformat(r["last_fetched"]).timestamp()
        assert when >= since, f"{r['name']} not fetched since the last restart"


def reference_articles(folder: Path, world: SampleWorld) -> set[str]:
    """The URLs a clean crawl of the sample world stores (run beside the kills)."""
    path = write_config(folder, world.base_url)
    run_cli("crawl", config_path=path, check=True)
    return {r["url"] for r in rows(folder / "sequelwatch.db", "SELECT url FROM articles")}


# -- the test ------------------------------------------------------------------------------


def play_round(harness: Harness, rng: random.Random, number: int, wire: Wire) -> None:
    """Maybe publish and subscribe, then one kill chosen by the seed."""
    if rng.random() < 0.8:
        wire.publish()
    if rng.random() < 0.15:
        subscribe_confirmed(harness.settings, f"late{number}@example.org")
    if rng.random() < 0.5:
        harness.kill_crawl(number, delay=rng.uniform(0.0, 2.0))
    else:
        with_children = rng.random() >= ORPHAN_SHARE
        harness.kill_daemon(number, delay=rng.uniform(0.3, 4.0), with_children=with_children)


def test_sigkill_at_random_moments_loses_nothing_and_mails_nothing_twice(
    growing_world: tuple[SampleWorld, Wire], tmp_path: Path, smtp_server: StartServer
) -> None:
    world, wire = growing_world
    mail = SlowAcceptingHandler()
    settings = kill_config(tmp_path / "watch", world, smtp_server(mail).port)
    background = ThreadPoolExecutor(1)
    reference = background.submit(reference_articles, tmp_path / "reference", world)
    subscribe(settings, mail, "fan@example.org")
    subscribe_confirmed(settings, "trade@example.org")
    harness = Harness(settings, tmp_path / "daemon.log", mail)
    rng = random.Random(SEED)
    try:
        harness.start()
        number = 0
        while sum(kill.landed for kill in harness.kills) < KILLS:
            play_round(harness, rng, number, wire)
            number += 1
            assert number < 2 * KILLS, "too many rounds without a kill"
        wire.publish()
        last_start = harness.starts[-1]
        wait_for(lambda: work_done(settings, wire, last_start), 40, "the work after the kills")
        assert harness.stop() == 0
        for pid in harness.orphans:
            wait_for(lambda pid=pid: not alive(pid), 30, f"the end of orphaned crawl {pid}")
        database = settings.database
        check_store_is_whole(database)
        check_reported_articles_stored(database, wire, reference.result(60))
        check_each_development_mailed_once(database, mail)
        check_schedule_resumed(database, last_start)
        check_daemon_log(harness.log)
    except BaseException:
        print(harness.report())
        raise
    finally:
        harness.cleanup()
        background.shutdown()
    print(harness.report().split("\n-- ")[0])  # shown with -s: what this seed did
