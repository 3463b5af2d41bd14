"""Delivery: digests for 1,000 subscribers about 20 new stories, sent to a loopback SMTP server.

`python bench/delivery.py --subscribers 1000 --stories 20 --runs 3`

The stories are made by the real pipeline (`Ingestor.ingest` of synthetic pages from
bench/growth.py, dated in the last few days, until the store holds the number asked for);
the subscribers are confirmed through `alerts.subscribers.subscribe`. Each run copies that
store and, in a child process, has the real `alerts.digest.Postman` compose, render,
reserve, send (through `transport_for`, security "none": the default four connections,
each kept for the run, as the daemon uses) and record every digest. An aiosmtpd server
in this process, on 127.0.0.1, counts what it accepts. Figures: messages per second and
the sender's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


class CountingHandler:
    """An SMTP handler that accepts every message and counts it."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Accept the message."""
        with self.lock:
            self.count += 1
            number = self.count
        return f"250 2.0.0 OK: queued as B{number}"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def write_config(folder: Path, smtp_port: int) -> Path:
    """A configuration whose store is in `folder` and whose mail goes to the loopback server."""
    topic = ROOT / "config" / "topics" / "alita-battle-angel-2.toml"
    path = folder / "sequelwatch.toml"
    path.write_text(
        f'database = "sequelwatch.db"\ntopic = {str(topic)!r}\nsources = "sources.toml"\n\n'
        f'[delivery]\nmethod = "smtp"\noutbox = "outbox"\n'
        f'base_url = "http://127.0.0.1:8750"\n\n'
        f'[delivery.smtp]\nhost = "{HOST}"\nport = {smtp_port}\nsecurity = "none"\n'
        f"timeout = 10\n",
        encoding="utf-8",
    )
    (folder / "sources.toml").write_text("sources = []\n", encoding="utf-8")
    return path


def build_store(config_path: Path, stories: int, subscribers: int) -> dict[str, int]:
    """Ingest synthetic news until the store holds `stories` stories; add the subscribers."""
    import config
    from alerts.subscribers import choices, subscribe
    from bench.growth import articles, html
    from pipeline.ingest import Ingestor
    from pipeline.records import EntryHint, Page
    from pipeline.store import Store

    settings = config.load(config_path)
    store = Store(settings.database)
    try:
        ingest = Ingestor(store, settings.topic, settings.stories).ingest
        end = datetime.now(UTC) - timedelta(hours=1)
        made = count = 0
        # at most 25 days of news: all of it inside a new subscriber's first digest; a
        # second pass over the same days (another seed) when the first made too few stories
        for seed in (20, 21, 22):
            for item in articles(stories * 50, end, seed=seed):
                ingest(
                    Page(
                        url=item.url,
                        source="bench",
                        fetched_at=item.seen,
                        html=html(item),
                        hint=EntryHint(),
                    )
                )
                made += 1
                count = store.conn.execute("SELECT count(*) FROM stories").fetchone()[0]
                if count >= stories:
                    break
            if count >= stories:
                break
        else:
            raise RuntimeError(f"only {count} stories from {made} articles")
        known = tuple(settings.topic.categories)
        wanted = choices(None, "daily", "UTC", known)
        for number in range(subscribers):
            subscribe(store, f"reader{number}@example.org", wanted, confirmed=True)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    return {"articles": made, "stories": int(count), "subscribers": subscribers}


def send_child(config_path: Path) -> dict[str, Any]:
    """Send every due digest with the real Postman over SMTP; time, counts and peak RSS."""
    import os

    import config
    from alerts.delivery import transport_for
    from alerts.digest import Postman
    from bench.memory import peak_rss_mb
    from pipeline.store import Store

    settings = config.load(config_path)
    store = Store(settings.database)
    postman = Postman(
        store, settings, transport_for(settings.delivery, settings.outbox, os.environ)
    )
    before = peak_rss_mb()
    started = time.perf_counter()
    report = postman.run()
    seconds = time.perf_counter() - started
    stories = store.conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]
    store.close()
    return {
        "seconds": seconds,
        "sent": len(report.sent),
        "failed": len(report.failed) + len(report.rejected),
        "story_deliveries": int(stories),
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
    }


def _spread(values: list[float]) -> dict[str, float]:
    """Median, min and max."""
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def delivery(subscribers: int = 1000, stories: int = 20, runs: int = 3) -> dict[str, Any]:
    """Messages per second and peak RSS of sending digests to `subscribers` people."""
    from aiosmtpd.controller import Controller

    handler = CountingHandler()
    controller = Controller(handler, hostname=HOST, port=free_port())
    controller.start()
    rates: list[float] = []
    seconds: list[float] = []
    peaks: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="sequelwatch-delivery-") as scratch:
            template = Path(scratch) / "template"
            template.mkdir()
            made = build_store(write_config(template, controller.port), stories, subscribers)
            for run in range(runs):
                work = Path(scratch) / f"run{run}"
                work.mkdir()
                config_path = write_config(work, controller.port)
                shutil.copyfile(template / "sequelwatch.db", work / "sequelwatch.db")
                received = handler.count
                result = _child(config_path)
                arrived = handler.count - received
                if result["sent"] != subscribers or arrived != subscribers:
                    raise RuntimeError(
                        f"run {run}: {result['sent']} sent, {arrived} received,"
                        f" {subscribers} expected"
                    )
                seconds.append(result["seconds"])
                rates.append(result["sent"] / result["seconds"])
                peaks.append(result["peak_rss_mb"])
    finally:
        controller.stop()
    return {
        "subscribers": subscribers,
        "stories": made["stories"],
        "articles": made["articles"],
        "runs": runs,
        "seconds": _spread(seconds),
        "digests_per_s": _spread(rates),
        "peak_rss_mb": _spread(peaks),
    }


def _child(config_path: Path) -> dict[str, Any]:
    """Run one send in a fresh interpreter, so that its peak RSS is its own."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.delivery", "--child", str(config_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"the sending child failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Print the figures as JSON (or, with --child, run one timed send)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--stories", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(send_child(args.child)))
        return
    print(json.dumps(delivery(args.subscribers, args.stories, args.runs), indent=2))


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.path.insert(0, str(ROOT))
    main()
