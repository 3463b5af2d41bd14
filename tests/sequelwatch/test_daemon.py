"""The real daemon as a process: crawls and a digest on schedule, SIGTERM mid-crawl, restart."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

import config
from alerts.subscribers import choices, subscribe
from pipeline.store import Store, iso, utcnow
from sequelwatch.demo import write_config
from sequelwatch.sampleworld.server import SampleWorld
from tests.alerts.conftest import StartServer
from tests.alerts.smtp_servers import RecordingHandler
from tests.helpers import ROOT, daemon_events, run_cli, start_daemon

pytestmark = pytest.mark.slow


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll until check() holds, or fail saying what never happened."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {seconds} s")


def daemon_config(folder: Path, world: SampleWorld, smtp_port: int) -> config.Settings:
    """The sample world every 3 s, plus a slow source, mail to a loopback server."""
    path = write_config(folder, world.base_url)
    sources = (folder / "sources.toml").read_text(encoding="utf-8")
    sources = "\n".join(
        'every = "3s"' if line.startswith("every = ") else line for line in sources.splitlines()
    )
    sources += (
        f'\n[[sources]]\nname = "slow"\nkind = "feed"\n'
        f'url = "{world.url("/bad/slow?seconds=6")}"\nevery = "3s"\n'
    )
    (folder / "sources.toml").write_text(sources, encoding="utf-8")
    return config.load(mail_and_web(path, smtp_port, grace="2s"))


def mail_and_web(path: Path, smtp_port: int, grace: str) -> Path:
    """Add to a configuration: mail to the loopback SMTP server, the web face on a free
    port, and the daemon's stop grace; return its path."""
    web_port = free_port()
    path.write_text(
        path.read_text(encoding="utf-8")
        + f'\n[delivery]\nmethod = "smtp"\nbase_url = "http://127.0.0.1:{web_port}"\n'
        f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
        f'timeout = 5\n[schedule]\ngrace = "{grace}"\ncrawl_timeout = "60s"\n'
        f'[web]\nlisten = "127.0.0.1:{web_port}"\n',
        encoding="utf-8",
    )
    return path


def start(settings: config.Settings, log: Path) -> subprocess.Popen[bytes]:
    """The daemon as `sequelwatch daemon` would run under systemd."""
    return start_daemon(settings.path, log)


def events(log: Path) -> list[str]:
    """The messages of the daemon's JSON log lines."""
    return daemon_events(log)


def test_the_daemon_keeps_its_schedule_stops_cleanly_and_resumes(
    world: SampleWorld, tmp_path: Path, smtp_server: StartServer
) -> None:
    handler = RecordingHandler()
    mail = smtp_server(handler)
    settings = daemon_config(tmp_path, world, mail.port)
    store = Store(settings.database)
    subscribe(
        store,
        "fan@example.org",
        choices(None, "daily", "UTC", ("cast", "release", "plot", "production")),
        confirmed=True,
    )
    found = store.subscriber(email="fan@example.org")
    assert found is not None  # confirmed yesterday: today's 08:00 digest is due
    store.update_subscriber(found["id"], confirmed_at=iso(utcnow() - timedelta(days=1)))
    store.close()
    log = tmp_path / "daemon.log"

    daemon = start(settings, log)
    try:
        wait_for(lambda: any(m.startswith("crawl finished") for m in events(log)), 60, "a crawl")
        wait_for(lambda: len(handler.messages_to("fan@example.org")) == 1, 60, "the digest")
        status = json.loads(run_cli("status", "--json", config_path=settings.path).stdout)
        assert status["daemon"]["running"] and status["daemon"]["pid"] == daemon.pid
        assert {job["id"] for job in status["jobs"]} >= {"digest", "crawl:trade-ledger"}
        second = subprocess.run(
            [sys.executable, "-m", "sequelwatch", "--config", str(settings.path), "daemon"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode != 0 and "another sequelwatch daemon" in second.stderr

        def crawling() -> bool:
            messages = events(log)
            started = sum(m.startswith("crawl started") for m in messages)
            return started > sum(m.startswith("crawl finished") for m in messages)

        wait_for(crawling, 30, "a crawl in progress")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(60) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert "daemon stopped" in events(log)
    check = sqlite3.connect(settings.database)
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert check.execute("SELECT count(*) FROM crawl_runs WHERE status = 'running'").fetchone() == (
        0,
    )
    check.close()

    restarted = start(settings, log)
    try:
        wait_for(
            lambda: (
                events(log).count("daemon stopped") == 1
                and sum(m.startswith("daemon started") for m in events(log)) == 2
            ),
            30,
            "the restart",
        )
        time.sleep(6)  # several digest checks and crawls later...
        assert len(handler.messages_to("fan@example.org")) == 1  # ...no second digest
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(60) == 0
    finally:
        if restarted.poll() is None:
            restarted.kill()
