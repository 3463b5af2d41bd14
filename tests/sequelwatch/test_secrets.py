"""The SMTP password, end to end: never in output, logs, the store or status; private files.

The daemon and the commands run as real processes against aiosmtpd on 127.0.0.1. The
server first refuses the login and, carelessly, quotes the password it got in its refusal;
then the right password arrives and the kept digests go out. Afterwards every byte the
runs printed or left on disk is searched for the password in every form it travels in.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

import config
from alerts.subscribers import choices
from pipeline.store import Store
from tests.alerts.conftest import StartServer
from tests.alerts.test_digest import KNOWN, subscribed
from tests.helpers import ROOT, daemon_events, run_cli, start_daemon
from tests.stories import add_developments

pytestmark = pytest.mark.slow

USER = "alerts"
PASSWORD_ENV = "SEQUELWATCH_TEST_SMTP_PASSWORD"
FANS = ("ada@example.org", "bo@example.org")
TOPIC = ROOT / "config" / "topics" / "alita-battle-angel-2.toml"


def quoting_authenticator(password: str) -> Callable[..., AuthResult]:
    """Accepts USER with this password; refuses anything else, quoting what it got."""

    def check(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> Any:
        if isinstance(data, LoginPassword):
            login, given = data.login.decode(), data.password.decode()
            if login == USER and given == password:
                return AuthResult(success=True, handled=False, auth_data=data)
            return AuthResult(
                success=False, handled=False, message=f"535 5.7.8 bad login: {login} / {given}"
            )
        return AuthResult(success=False, handled=False)

    return check


def write_config(folder: Path, port: int, method: str = "smtp") -> Path:
    """Mail through 127.0.0.1:port with a login; no sources, no web face, no retry wait."""
    (folder / "sources.toml").write_text("", encoding="utf-8")
    path = folder / "sequelwatch.toml"
    path.write_text(
        f'database = "data/sequelwatch.db"\ntopic = "{TOPIC}"\nsources = "sources.toml"\n'
        f'[delivery]\nmethod = "{method}"\noutbox = "data/outbox"\n'
        'base_url = "https://watch.example.org"\nretry_after = "0s"\n'
        f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 5\n'
        f'user = "{USER}"\npassword_env = "{PASSWORD_ENV}"\n'
        '[schedule]\ngrace = "2s"\n[web]\nenabled = false\n',
        encoding="utf-8",
    )
    return path


def fill(store: Store, settings: config.Settings) -> None:
    """Two developments and two subscribers whose first daily digest is due."""
    add_developments(store, settings.topic, settings.stories)
    for address in FANS:
        subscribed(store, address, choices(None, "daily", "UTC", KNOWN))


def forms(password: str) -> list[bytes]:
    """The password as written and as AUTH PLAIN and AUTH LOGIN carry it."""
    plain = base64.b64encode(f"\0{USER}\0{password}".encode())
    return [password.encode(), base64.b64encode(password.encode()), plain]


def run_daemon_until(
    config_path: Path, log: Path, done: Callable[[list[str]], bool], seconds: float
) -> None:
    """Run `sequelwatch daemon` until its log shows `done`, then stop it with SIGTERM."""
    daemon = start_daemon(config_path, log)
    try:
        deadline = time.monotonic() + seconds
        while not done(daemon_events(log)):
            assert time.monotonic() < deadline, f"the daemon never got there:\n{log.read_text()}"
            assert daemon.poll() is None, f"the daemon died:\n{log.read_text()}"
            time.sleep(0.2)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)


@pytest.fixture
def plain_umask() -> Iterator[None]:
    """The common umask 022, so that private modes come from the code, not the test setup."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    """A file's permission bits."""
    return stat.S_IMODE(path.stat().st_mode)


def test_the_smtp_password_shows_nowhere_and_the_files_are_private(
    tmp_path: Path,
    smtp_server: StartServer,
    monkeypatch: pytest.MonkeyPatch,
    plain_umask: None,
) -> None:
    password = f"Zalem-{secrets.token_hex(8)}/Motorball+"  # unique: a hit cannot be chance
    stale = f"Iron-City-{secrets.token_hex(8)}=Scrapyard"  # last year's, refused
    server = smtp_server(authenticator=quoting_authenticator(password), auth_required=True)
    folder = tmp_path / "watch"
    folder.mkdir()
    config_path = write_config(folder, server.port)
    settings = config.load(config_path)
    store = Store(settings.database)  # the store makes the database, -wal and -shm files
    # A reader keeps them open, so the -wal and -shm stay to be read and checked at the end.
    holder = sqlite3.connect(settings.database)
    holder.execute("SELECT count(*) FROM digests").fetchone()
    fill(store, settings)
    store.close()
    outputs: list[str] = []

    # The daemon with last year's password: the server refuses it, quoting it back.
    monkeypatch.setenv(PASSWORD_ENV, stale)
    log = folder / "daemon.log"
    run_daemon_until(
        config_path,
        log,
        lambda events: sum(e.startswith("digest not sent") for e in events) >= 2,
        seconds=60,
    )
    assert "[password]" in log.read_text(encoding="utf-8")  # the quote was shown, redacted

    # By hand, with debug logging, still refused: the digests stay kept.
    refused = run_cli("-vv", "digest", config_path=config_path)
    outputs += [refused.stdout, refused.stderr]
    assert refused.returncode == 1 and "login refused" in refused.stdout

    # The right password: the kept digests go out.
    monkeypatch.setenv(PASSWORD_ENV, password)
    sent = run_cli("-vv", "digest", config_path=config_path)
    outputs += [sent.stdout, sent.stderr]
    assert sent.returncode == 0 and sent.stdout.count("sent again:") == 2, sent.stdout + sent.stderr
    assert sorted(r.rcpt_tos[0] for r in server.received) == list(FANS)
    assert {r.login for r in server.received} == {USER}

    for args in [("status", "--json"), ("status",), ("subscribers", "--json")]:
        done = run_cli(*args, config_path=config_path, check=True)
        outputs += [done.stdout, done.stderr]
    sql = "SELECT status, attempts, last_error FROM digests"
    kept = run_cli("query", sql, "--json", config_path=config_path, check=True)
    outputs += [kept.stdout, kept.stderr]
    rows = json.loads(kept.stdout)
    assert {row["status"] for row in rows} == {"sent"} and all(r["attempts"] > 1 for r in rows)

    # The outbox: a confirmation written while the password is still in the environment.
    write_config(folder, server.port, method="outbox")
    confirming = run_cli("subscribe", "late@example.org", config_path=config_path, check=True)
    outputs += [confirming.stdout, confirming.stderr]

    files = [p for p in folder.rglob("*") if p.is_file()]
    leaks = [
        str(where)
        for where, data in [(p, p.read_bytes()) for p in files]
        + [("output", "\n".join(outputs).encode()), ("daemon log", log.read_bytes())]
        for secret in (password, stale)
        for form in forms(secret)
        if form in data
    ]
    assert leaks == []

    database = settings.database
    for suffix in ("", "-wal", "-shm"):
        private = database.with_name(database.name + suffix)
        assert mode(private) == 0o600, private
    messages = list(settings.outbox.glob("*.eml"))
    assert len(messages) == 1 and "late@example.org" in messages[0].read_text(encoding="utf-8")
    assert all(mode(path) == 0o600 for path in settings.outbox.iterdir())
    assert mode(settings.outbox) & 0o077 == 0  # nobody else may even list it
    holder.close()
