"""Several SMTP connections at once (`[delivery.smtp] connections`): a run hands each
digest to the next free connection without waiting for the server, and still records
every message once, in order, with what the server said about it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

import config
from alerts.delivery import SmtpPool, transport_for
from alerts.digest import Postman
from tests.alerts.conftest import StartServer
from tests.alerts.smtp_servers import RecordingHandler
from tests.alerts.test_digest import DAY
from tests.alerts.test_exactly_once import fill, smtp_config

READERS = tuple(f"reader{n}@example.org" for n in range(9))
NOW = DAY + timedelta(days=1)


class SlowHandler(RecordingHandler):
    """Takes a moment over each message, as a real server does; refuses some recipients."""

    def __init__(self, refusals: dict[str, str] | None = None) -> None:
        super().__init__()
        self.refusals = refusals or {}

    def refusal(self, stage: str, address: str | None) -> str | None:
        """The reply refusing this recipient, if any."""
        return self.refusals.get(address or "") if stage == "RCPT" else None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Wait, then keep the message."""
        await asyncio.sleep(0.1)
        return await super().handle_DATA(server, session, envelope)


def settings_with(folder: Path, port: int, connections: int) -> config.Settings:
    """The loopback SMTP settings with this many connections."""
    smtp_config(folder, port)
    path = folder / "sequelwatch.toml"
    path.write_text(path.read_text() + f"connections = {connections}\n", encoding="utf-8")
    return config.load(path)


def addresses(lines: list[str]) -> list[str]:
    """The addresses of a report's "address: subject" lines."""
    return [line.split(":")[0] for line in lines]


def test_a_run_sends_over_several_connections_at_once(
    tmp_path: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(SlowHandler())
    settings = settings_with(tmp_path, server.port, 3)
    store = fill(settings, *READERS)
    transport = transport_for(settings.delivery, settings.outbox, {})
    assert isinstance(transport, SmtpPool)

    report = Postman(store, settings, transport, lambda: NOW).run()

    assert addresses(report.sent) == list(READERS)  # recorded in the order handed over
    assert sorted(r.rcpt_tos[0] for r in server.received) == sorted(READERS)  # each once
    assert 1 < len({r.peer for r in server.received}) <= 3  # side by side, never more than 3
    reserved = {r["email"]: r["message_id"] for r in store.delivery_log()}
    assert {r.rcpt_tos[0]: r.message["Message-ID"] for r in server.received} == reserved
    assert {r["status"] for r in store.delivery_log()} == {"sent"}

    again = Postman(store, settings, transport, lambda: NOW + timedelta(minutes=5)).run()
    assert again.sent == [] and len(server.received) == len(READERS)  # each development once


def test_a_refusal_among_side_by_side_sends_costs_that_message_alone(
    tmp_path: Path, smtp_server: StartServer
) -> None:
    rejected, busy = READERS[2], READERS[5]
    handler = SlowHandler(
        {rejected: "550 5.1.1 no such mailbox here", busy: "451 4.3.0 mailbox busy, try later"}
    )
    server = smtp_server(handler)
    settings = settings_with(tmp_path, server.port, 4)
    store = fill(settings, *READERS)
    transport = transport_for(settings.delivery, settings.outbox, {})

    report = Postman(store, settings, transport, lambda: NOW).run()

    others = [a for a in READERS if a not in (rejected, busy)]
    assert addresses(report.sent) == others
    assert addresses(report.rejected) == [rejected] and "550" in report.rejected[0]
    assert addresses(report.failed) == [busy] and "451" in report.failed[0]
    assert sorted(r.rcpt_tos[0] for r in server.received) == sorted(others)
    log = {r["email"]: r["status"] for r in store.delivery_log()}
    assert log == {a: {rejected: "rejected", busy: "failed"}.get(a, "sent") for a in READERS}
    refused = store.subscriber(email=rejected)
    assert refused is not None and refused["status"] == "rejected"

    # the busy mailbox's digest goes out later, the same message; nobody else gets a second
    handler.refusals.clear()
    later = Postman(store, settings, transport, lambda: NOW + timedelta(minutes=16)).run()
    assert addresses(later.retried) == [busy] and later.sent == [] and later.failed == []
    assert [r.rcpt_tos[0] for r in server.received].count(busy) == 1
    assert len(server.received) == len(others) + 1
