"""One run, one SMTP session: every digest goes over one connection to a real aiosmtpd on
127.0.0.1, and a message the server refuses or cuts off costs that message alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.delivery import SmtpTransport
from alerts.digest import Postman
from tests.alerts.conftest import StartServer
from tests.alerts.smtp_servers import (
    DroppingForOneSMTP,
    DropsOneRecipient,
    FailingNthHandler,
    RecordingHandler,
    RefusingOneHandler,
    RunningServer,
)
from tests.alerts.test_digest import DAY
from tests.alerts.test_exactly_once import fill, smtp_config

READERS = ("a@example.org", "b@example.org", "c@example.org", "d@example.org")
FAILS = READERS[1]  # the second message of the run; the run goes by address
NOW = DAY + timedelta(days=1)

# A server that fails the message to FAILS (or the second message) one way.
BadServer = Callable[[StartServer], RunningServer]


def addresses(lines: list[str]) -> list[str]:
    """The addresses of a report's "address: subject" lines."""
    return [line.split(":")[0] for line in lines]


def test_a_run_sends_every_digest_over_one_connection(
    tmp_path: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(RecordingHandler())
    settings = smtp_config(tmp_path, server.port)
    store = fill(settings, *READERS)
    transport = SmtpTransport(settings.delivery.smtp, {})

    report = Postman(store, settings, transport, lambda: NOW).run()

    assert addresses(report.sent) == list(READERS)
    assert [r.rcpt_tos for r in server.received] == [(a,) for a in READERS]
    assert len({r.peer for r in server.received}) == 1  # one session for the whole run
    reserved = {r["email"]: r["message_id"] for r in store.delivery_log()}
    assert {r.rcpt_tos[0]: r.message["Message-ID"] for r in server.received} == reserved
    assert {r["status"] for r in store.delivery_log()} == {"sent"}


@pytest.mark.parametrize(
    ("bad_server", "error"),
    [
        (
            lambda start: start(
                RefusingOneHandler("DATA", "451 4.3.0 mailbox busy: try again later", FAILS)
            ),
            "451 4.3.0 mailbox busy",
        ),
        (
            lambda start: start(RefusingOneHandler("RCPT", "421 4.7.0 closing, try later", FAILS)),
            "421 4.7.0 closing",
        ),
        (
            lambda start: start(FailingNthHandler("MAIL", "421 4.7.0 too many, try later", 2)),
            "421 4.7.0 too many",
        ),
        (
            lambda start: start(FailingNthHandler("MAIL", "553 5.7.1 sender not allowed", 2)),
            "553 5.7.1 sender not allowed",
        ),
        (
            lambda start: start(DropsOneRecipient(FAILS), smtp_class=DroppingForOneSMTP),
            "closed the connection before accepting the message",
        ),
    ],
    ids=["451-at-data", "421-at-rcpt", "421-at-mail", "553-sender-setup", "dropped-mid-data"],
)
def test_a_failure_mid_run_keeps_that_digest_and_sends_the_rest(
    tmp_path: Path, smtp_server: StartServer, bad_server: BadServer, error: str
) -> None:
    bad = bad_server(smtp_server)
    settings = smtp_config(tmp_path, bad.port)
    store = fill(settings, *READERS)

    report = Postman(store, settings, SmtpTransport(settings.delivery.smtp, {}), lambda: NOW).run()

    others = [a for a in READERS if a != FAILS]
    assert addresses(report.sent) == others
    assert addresses(report.failed) == [FAILS] and error in report.failed[0]
    assert report.rejected == []
    by_address = {r.rcpt_tos[0]: r for r in bad.received}
    assert sorted(by_address) == others and len(bad.received) == len(others)
    # the broken session is replaced once; the messages after it share the new one
    assert by_address[READERS[2]].peer == by_address[READERS[3]].peer
    log = {r["email"]: r for r in store.delivery_log()}
    assert {a: log[a]["status"] for a in READERS} == {
        a: "sent" if a in others else "failed" for a in READERS
    }
    kept = log[FAILS]
    assert error in kept["last_error"] and kept["stories"]  # its stories stay with it
    assert all(log[a]["stories"] == kept["stories"] for a in others)

    working = smtp_server(RecordingHandler())
    settings = smtp_config(tmp_path, working.port)
    transport = SmtpTransport(settings.delivery.smtp, {})
    later = Postman(store, settings, transport, lambda: NOW + timedelta(minutes=16)).run()
    assert addresses(later.retried) == [FAILS] and later.sent == [] and later.failed == []
    [again] = working.received
    assert again.rcpt_tos == (FAILS,) and again.message["Message-ID"] == kept["message_id"]
    assert {r["status"] for r in store.delivery_log()} == {"sent"}
    assert len(store.delivery_log()) == len(READERS)


@pytest.mark.parametrize(
    ("stage", "reply", "address_rejected"),
    [
        ("RCPT", "550 5.1.1 no such mailbox here", True),
        ("DATA", "554 5.6.0 message refused as spam", False),
    ],
    ids=["550-at-rcpt", "554-at-data"],
)
def test_a_refusal_mid_run_rejects_that_digest_and_sends_the_rest(
    tmp_path: Path, smtp_server: StartServer, stage: str, reply: str, address_rejected: bool
) -> None:
    server = smtp_server(RefusingOneHandler(stage, reply, FAILS))
    settings = smtp_config(tmp_path, server.port)
    store = fill(settings, *READERS)
    transport = SmtpTransport(settings.delivery.smtp, {})

    report = Postman(store, settings, transport, lambda: NOW).run()

    others = [a for a in READERS if a != FAILS]
    assert addresses(report.sent) == others and report.failed == []
    assert addresses(report.rejected) == [FAILS] and reply[:3] in report.rejected[0]
    assert sorted(r.rcpt_tos[0] for r in server.received) == others
    log = {r["email"]: r for r in store.delivery_log()}
    assert log[FAILS]["status"] == "rejected" and reply[:3] in log[FAILS]["last_error"]
    subscriber = store.subscriber(email=FAILS)
    assert subscriber is not None
    assert subscriber["status"] == ("rejected" if address_rejected else "active")

    # nothing is sent again: a refused message is final, the others got theirs
    later = Postman(store, settings, transport, lambda: NOW + timedelta(minutes=16)).run()
    assert later.sent == [] and later.retried == [] and later.failed == []
    assert len(server.received) == len(others)
