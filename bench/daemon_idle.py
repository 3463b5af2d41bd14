"""Daemon idle: the RSS of the real `sequelwatch daemon` while it has nothing to do.

`python bench/daemon_idle.py --seconds 60`

The daemon runs on a store of 1,000 synthetic articles (bench/growth.py's cached store),
with two enabled sources on 127.0.0.1 that are crawled once a day and were fetched just
now (so none falls due), its web face on a free port and delivery to an outbox. Once the
web face answers, its VmRSS is read from /proc every second; then it gets SIGTERM and the
exit code is recorded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STORE_ARTICLES = 1000


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def write_config(folder: Path, web_port: int) -> Path:
    """A configuration for an idle daemon: daily sources on 127.0.0.1, mail to an outbox."""
    topic = ROOT / "config" / "topics" / "alita-battle-angel-2.toml"
    dead = free_port()  # nothing listens there: were a crawl to start, it would stay local
    (folder / "sources.toml").write_text(
        "".join(
            f'[[sources]]\nname = "{name}"\nkind = "feed"\n'
            f'url = "http://{HOST}:{dead}/{name}.xml"\nevery = "1d"\nenabled = true\n\n'
            for name in ("local-feed-a", "local-feed-b")
        ),
        encoding="utf-8",
    )
    path = folder / "sequelwatch.toml"
    path.write_text(
        f'database = "sequelwatch.db"\ntopic = {str(topic)!r}\nsources = "sources.toml"\n\n'
        f'[delivery]\nmethod = "outbox"\noutbox = "outbox"\n'
        f'base_url = "http://{HOST}:{web_port}"\n\n'
        f'[schedule]\ngrace = "5s"\n\n[web]\nenabled = true\nlisten = "{HOST}:{web_port}"\n',
        encoding="utf-8",
    )
    return path


def prepare_store(config_path: Path, articles: int, cache: Path) -> int:
    """Put a store of synthetic articles beside the config, its sources fetched just now."""
    import config
    from bench.growth import cached_store
    from pipeline.store import Store, iso, utcnow

    settings = config.load(config_path)
    shutil.copyfile(cached_store(articles, cache), settings.database)
    store = Store(settings.database)
    try:
        store.sync_sources(settings.sources)
        with store.transaction():
            store.conn.execute("UPDATE sources SET last_fetched = ?", (iso(utcnow()),))
        return store.article_count(relevant_only=False)
    finally:
        store.close()


def rss_mb(pid: int) -> float | None:
    """The process's resident set size in MB, or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def wait_for_web(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> float:
    """Wait until the web face answers; return how long it took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited with {process.returncode} before serving")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=2) as answer:
                answer.read()
            return time.monotonic() - started
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the daemon's web face did not answer within {seconds} s")


def daemon_idle(
    seconds: float = 60.0, *, articles: int = STORE_ARTICLES, cache: Path | None = None
) -> dict[str, Any]:
    """Sample the idle daemon's RSS every second for `seconds`, then stop it with SIGTERM."""
    from bench.growth import CACHE

    with tempfile.TemporaryDirectory(prefix="sequelwatch-idle-") as scratch:
        folder = Path(scratch)
        port = free_port()
        config_path = write_config(folder, port)
        stored = prepare_store(config_path, articles, cache or CACHE)
        log = folder / "daemon.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "sequelwatch", "--config", str(config_path), "daemon"],
                cwd=folder,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
            try:
                ready = wait_for_web(port, process)
                samples: list[float] = []
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    value = rss_mb(process.pid)
                    if value is None:
                        raise RuntimeError("the daemon exited while idle")
                    samples.append(value)
                    time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                process.send_signal(signal.SIGTERM)
                code = process.wait(timeout=60)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        text = log.read_text(encoding="utf-8", errors="replace")
    return {
        "seconds": seconds,
        "samples": len(samples),
        "store_articles": stored,
        "web_ready_seconds": round(ready, 2),
        "daemon_idle_rss_mb": {
            "median": round(statistics.median(samples), 1),
            "min": round(min(samples), 1),
            "max": round(max(samples), 1),
        },
        "first_rss_mb": round(samples[0], 1),
        "last_rss_mb": round(samples[-1], 1),
        "crawls_started": text.count("crawl started"),
        "exit_code": code,
    }


def main() -> None:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    print(json.dumps(daemon_idle(args.seconds), indent=2))


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.path.insert(0, str(ROOT))
    main()
