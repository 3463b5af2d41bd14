"""A bad mail server, end to end through `sequelwatch digest`: nothing lost, nothing doubled.

Each run is the real command in its own process against aiosmtpd on 127.0.0.1. A server
that refuses, answers 4xx, drops the connection mid-DATA or is too slow makes the first
run fail and keep the digest; once a working server answers, the next run sends each
reserved message once, byte for byte, under the Message-ID it was reserved with.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import config
from alerts.subscribers import choices
from pipeline.store import Store
from tests.alerts.conftest import StartServer
from tests.alerts.smtp_servers import (
    DroppingSMTP,
    FailingHandler,
    RecordingHandler,
    RejectingHandler,
    RunningServer,
    SlowHandler,
    authenticator,
    refused_port,
)
from tests.alerts.test_digest import KNOWN, subscribed
from tests.helpers import ROOT, run_cli
from tests.stories import add_developments

pytestmark = pytest.mark.slow

FANS = ("ada@example.org", "bo@example.org")
TOPIC = ROOT / "config" / "topics" / "alita-battle-angel-2.toml"

# A bad server: given the fixture, it starts one (None: nothing listens at all).
BadServer = Callable[[StartServer], RunningServer | None]


def write_config(folder: Path, port: int, user: str = "") -> Path:
    """A configuration mailing through 127.0.0.1:port, no sources, 1 s timeout, no wait."""
    (folder / "sources.toml").write_text("", encoding="utf-8")
    path = folder / "sequelwatch.toml"
    path.write_text(
        f'database = "store.db"\ntopic = "{TOPIC}"\nsources = "sources.toml"\n'
        '[delivery]\nmethod = "smtp"\nbase_url = "https://watch.example.org"\n'
        'from = "Alita watch <alerts@watch.example.org>"\n'
        # no wait before a retry: the next run may resend at once
        'retry_after = "0s"\n'
        f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 1\n'
        f'user = "{user}"\n',
        encoding="utf-8",
    )
    return path


def fill(database: Path, *addresses: str) -> None:
    """Two developments and confirmed subscribers who have received nothing yet."""
    settings = config.load(database.parent / "sequelwatch.toml")
    store = Store(database)
    try:
        add_developments(store, settings.topic, settings.stories)
        for address in addresses:
            subscribed(store, address, choices(None, "daily", "UTC", KNOWN))
    finally:
        store.close()


def digests(database: Path) -> list[dict[str, Any]]:
    """Every digest in the store with its recipient and the stories it carries."""
    with sqlite3.connect(database) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT d.id, s.email, d.status, d.message_id, d.sent_at, d.attempts, d.last_error,"
            " (SELECT group_concat(story_id) FROM (SELECT story_id FROM deliveries v"
            "  WHERE v.digest_id = d.id ORDER BY story_id)) AS stories"
            " FROM digests d JOIN subscribers s ON s.id = d.subscriber_id ORDER BY s.email"
        ).fetchall()
    conn.close()
    return [dict(row) for row in rows]


def deliveries(database: Path) -> list[tuple[str, int]]:
    """(address, story) for every development reserved for someone, repeats included."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT s.email, v.story_id FROM deliveries v JOIN subscribers s"
            " ON s.id = v.subscriber_id ORDER BY s.email, v.story_id"
        ).fetchall()
    conn.close()
    return [(email, story) for email, story in rows]


def received_ids(server: RunningServer) -> dict[str, list[str]]:
    """The Message-IDs each recipient got from this server, in order."""
    got: dict[str, list[str]] = {}
    for message in server.received:
        got.setdefault(message.rcpt_tos[0], []).append(str(message.message["Message-ID"]))
    return got


def refusing(start: StartServer) -> None:
    """Nothing listens: the connection is refused."""
    return None


def busy_421(start: StartServer) -> RunningServer:
    """421 to MAIL FROM: the server is closing the session for now."""
    return start(FailingHandler("MAIL", "421 4.7.0 too many connections, try later"))


def busy_451(start: StartServer) -> RunningServer:
    """451 to the end of DATA: a local problem at the server."""
    return start(FailingHandler("DATA", "451 4.3.0 mailbox busy: try again later"))


def dropping(start: StartServer) -> RunningServer:
    """354 to DATA, then the connection is cut in the middle of the message."""
    return start(smtp_class=DroppingSMTP)


def slow(start: StartServer) -> RunningServer:
    """Takes 3 s to answer the end of DATA, and may keep it; the client waits 1 s."""
    return start(SlowHandler(3.0), timeout=30)


@pytest.mark.parametrize(
    ("bad_server", "error"),
    [
        (refusing, "refused the connection"),
        (busy_421, "421 4.7.0 too many connections"),
        (busy_451, "451 4.3.0 mailbox busy"),
        (dropping, "closed the connection before accepting the message"),
        (slow, "did not answer within 1s"),
    ],
    ids=["refused", "421", "451", "dropped-mid-data", "slow"],
)
def test_a_failing_server_keeps_the_digests_and_the_next_run_sends_them_once(
    tmp_path: Path, smtp_server: StartServer, bad_server: BadServer, error: str
) -> None:
    bad = bad_server(smtp_server)
    config_path = write_config(tmp_path, bad.port if bad else refused_port())
    database = tmp_path / "store.db"
    fill(database, *FANS)

    failed = run_cli("digest", config_path=config_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "kept for the next run" in failed.stderr
    assert failed.stdout.count("failed, kept for the next run:") == 2
    kept = digests(database)
    assert [d["email"] for d in kept] == list(FANS)
    for digest in kept:
        assert digest["status"] == "failed" and digest["sent_at"] is None
        assert error in digest["last_error"]
        assert digest["stories"]  # its developments stay reserved for this message
    reserved = {d["email"]: d["message_id"] for d in kept}
    carried = deliveries(database)

    working = smtp_server(RecordingHandler())
    write_config(tmp_path, working.port)  # the server is back
    recovered = run_cli("digest", config_path=config_path)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert recovered.stdout.count("sent again:") == 2
    assert received_ids(working) == {email: [mid] for email, mid in reserved.items()}
    sent = digests(database)
    assert {d["email"]: d["message_id"] for d in sent} == reserved
    assert {d["status"] for d in sent} == {"sent"} and all(d["last_error"] is None for d in sent)
    assert deliveries(database) == carried and len(set(carried)) == len(carried)
    if bad is not None:  # what the bad server got, if anything, was the same message
        assert all(mids == [reserved[to]] for to, mids in received_ids(bad).items())

    again = run_cli("digest", "--to", FANS[0], config_path=config_path)
    assert again.returncode == 0 and "nothing new to send" in again.stdout
    assert len(working.received) == 2


def test_a_rejected_address_is_marked_and_the_others_get_theirs_once(
    tmp_path: Path, smtp_server: StartServer
) -> None:
    gone, fan = FANS
    server = smtp_server(RejectingHandler(gone))
    config_path = write_config(tmp_path, server.port)
    database = tmp_path / "store.db"
    fill(database, *FANS)

    first = run_cli("digest", config_path=config_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"sent: {fan}:" in first.stdout
    assert f"rejected: {gone}:" in first.stdout and "550 5.1.1" in first.stdout
    by_address = {d["email"]: d for d in digests(database)}
    assert by_address[gone]["status"] == "rejected" and "550" in by_address[gone]["last_error"]
    assert by_address[fan]["status"] == "sent"
    assert received_ids(server) == {fan: [by_address[fan]["message_id"]]}
    listed = run_cli("subscribers", "--json", config_path=config_path, check=True)
    assert '"status": "rejected"' in listed.stdout and "550 5.1.1" in listed.stdout

    # Later runs send the rejected address nothing and the others nothing twice.
    server.handler.rejected = ""  # even if the mailbox came back
    later = run_cli("digest", config_path=config_path)
    assert later.returncode == 0 and "nothing new to send" in later.stdout
    assert received_ids(server) == {fan: [by_address[fan]["message_id"]]}
    assert len(digests(database)) == 2


def test_a_refused_login_keeps_the_digests_until_the_password_is_fixed(
    tmp_path: Path, smtp_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server(authenticator=authenticator("alerts", "the-right-one"), auth_required=True)
    config_path = write_config(tmp_path, server.port, user="alerts")
    database = tmp_path / "store.db"
    fill(database, *FANS)

    monkeypatch.setenv("SEQUELWATCH_SMTP_PASSWORD", "a-stale-one")
    refused = run_cli("digest", config_path=config_path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stdout.count("failed, kept for the next run:") == 2
    kept = digests(database)
    assert {d["status"] for d in kept} == {"failed"}
    assert all("535" in d["last_error"] and "login refused" in d["last_error"] for d in kept)
    reserved = {d["email"]: d["message_id"] for d in kept}

    monkeypatch.setenv("SEQUELWATCH_SMTP_PASSWORD", "the-right-one")
    fixed = run_cli("digest", config_path=config_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert received_ids(server) == {email: [mid] for email, mid in reserved.items()}
    assert {d["status"] for d in digests(database)} == {"sent"}
