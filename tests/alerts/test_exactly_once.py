"""Delivery exactly once, against real SMTP servers on 127.0.0.1: failures keep the stories,
a rejected address is marked, and a crash after acceptance resends the same message."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

import config
from alerts.delivery import SmtpTransport
from alerts.digest import Postman
from alerts.records import Digest
from alerts.subscribers import choices
from pipeline.store import Store
from tests.alerts.conftest import StartServer
from tests.alerts.smtp_servers import FailingHandler, RecordingHandler, RejectingHandler
from tests.alerts.test_digest import DAY, KNOWN, subscribed
from tests.helpers import ROOT
from tests.stories import add_developments


def smtp_config(folder: Path, port: int) -> config.Settings:
    """A configuration that mails through a loopback server without TLS."""
    path = folder / "sequelwatch.toml"
    path.write_text(
        f'database = "store.db"\ntopic = "{ROOT}/config/topics/alita-battle-angel-2.toml"\n'
        f'sources = "{ROOT}/config/sources.toml"\n[delivery]\nmethod = "smtp"\n'
        'base_url = "https://watch.example.org"\nfrom = "Alita watch <alerts@watch.example.org>"\n'
        f'retry_after = "15m"\n[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\n'
        'security = "none"\ntimeout = 5\n',
        encoding="utf-8",
    )
    return config.load(path)


def fill(settings: config.Settings, *addresses: str) -> Store:
    """A store with two developments and confirmed subscribers."""
    store = Store(settings.database)
    add_developments(store, settings.topic, settings.stories)
    for address in addresses:
        subscribed(store, address, choices(None, "daily", "UTC", KNOWN))
    return store


def reserved_ids(store: Store) -> dict[str, str]:
    """Message-ID per status-and-address of every reserved digest."""
    return {f"{r['email']}": r["message_id"] for r in store.delivery_log()}


def test_a_temporary_failure_keeps_the_digest_and_resends_it_unchanged(
    tmp_path: Path, smtp_server: StartServer
) -> None:
    failing = smtp_server(FailingHandler("DATA", "451 4.3.0 mailbox busy: try again later"))
    settings = smtp_config(tmp_path, failing.port)
    store = fill(settings, "a@example.org", "b@example.org")
    now = DAY + timedelta(days=1)
    first = Postman(store, settings, SmtpTransport(settings.delivery.smtp, {}), lambda: now).run()
    assert first.sent == [] and len(first.failed) == 2
    assert "451" in first.failed[0]
    ids = reserved_ids(store)
    log = store.delivery_log()
    assert {r["status"] for r in log} == {"failed"} and all(r["stories"] for r in log)

    working = smtp_server(RecordingHandler())
    settings = smtp_config(tmp_path, working.port)
    transport = SmtpTransport(settings.delivery.smtp, {})
    too_soon = Postman(store, settings, transport, lambda: now + timedelta(minutes=5)).run()
    assert too_soon.retried == [] and working.received == []
    later = Postman(store, settings, transport, lambda: now + timedelta(minutes=16)).run()
    assert len(later.retried) == 2 and later.sent == []
    got = {r.rcpt_tos[0]: r.message["Message-ID"] for r in working.received}
    assert got == ids  # the same messages, not new digests
    assert len(store.delivery_log()) == 2
    again = Postman(store, settings, transport, lambda: now + timedelta(hours=2)).run()
    assert again.sent == [] and again.retried == [] and len(working.received) == 2


def test_a_rejected_address_is_marked_and_the_others_delivered(
    tmp_path: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(RejectingHandler("gone@example.org"))
    settings = smtp_config(tmp_path, server.port)
    store = fill(settings, "gone@example.org", "fan@example.org")
    report = Postman(
        store, settings, SmtpTransport(settings.delivery.smtp, {}), lambda: DAY + timedelta(days=1)
    ).run()
    assert [line.split(":")[0] for line in report.sent] == ["fan@example.org"]
    assert len(report.rejected) == 1 and "550" in report.rejected[0]
    gone = store.subscriber(email="gone@example.org")
    assert gone is not None and gone["status"] == "rejected" and "550" in gone["rejected_reason"]
    assert [r.rcpt_tos for r in server.received] == [("fan@example.org",)]


class AcceptThenStall(RecordingHandler):
    """Keeps the first message, then stalls before saying so: the client dies waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.kept = threading.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self.keep(server, session, envelope)
        if not self.kept.is_set():
            self.kept.set()
            await asyncio.sleep(30)
        return reply


@pytest.mark.slow
def test_a_crash_after_acceptance_resends_the_same_message(
    tmp_path: Path, smtp_server: StartServer
) -> None:
    handler = AcceptThenStall()
    server = smtp_server(handler, timeout=60)
    settings = smtp_config(tmp_path, server.port)
    fill(settings, "fan@example.org").close()
    env = dict(os.environ, SEQUELWATCH_CONFIG=str(settings.path))
    command = [sys.executable, "-m", "sequelwatch", "digest"]
    child = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert handler.kept.wait(60), "the server never got the digest"
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    first, second = (r.message for r in server.received)
    assert first["Message-ID"] == second["Message-ID"]
    assert first.get_body(("plain",)).get_content() == second.get_body(("plain",)).get_content()
    store = Store(settings.database)
    assert [r["status"] for r in store.delivery_log()] == ["sent"]
    # a later run has nothing more to send
    again = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "nothing new to send" in again.stdout
    assert len(server.received) == 2


class RacingPostman(Postman):
    """Composes a digest, then lets a rival sender deliver it before reserving it: what the
    daemon's digest check and a crawl's instant alerts can do to each other."""

    rival: Postman

    def compose(self, subscriber: Mapping[str, Any]) -> tuple[Digest, list[tuple[int, str]]] | None:
        composed = super().compose(subscriber)
        self.rival.run()
        return composed


def test_two_senders_composing_one_digest_send_it_once(
    tmp_path: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(RecordingHandler())
    settings = smtp_config(tmp_path, server.port)
    store = fill(settings, "fan@example.org")
    other = Store(settings.database)  # the rival is another process: its own connection
    transport = SmtpTransport(settings.delivery.smtp, {})
    now = DAY + timedelta(days=1)
    racing = RacingPostman(store, settings, transport, lambda: now)
    racing.rival = Postman(other, settings, transport, lambda: now + timedelta(seconds=1))
    report = racing.run()
    assert report.sent == [] and report.nothing_new == 1
    assert len(server.received) == 1  # the rival's, under its Message-ID only
    assert [r["message_id"] for r in store.delivery_log()] == [
        server.received[0].message["Message-ID"]
    ]
    other.close()
