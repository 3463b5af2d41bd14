"""Source health for the operator: failing and silent sources, told once each way."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import config
from alerts.delivery import DeliveryError, Transport
from alerts.message import make_message_id
from pipeline.store import Store, iso

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Change:
    """A source that broke, went silent or recovered since the operator was last told."""

    source: str
    state: str  # failing | silent | recovered
    detail: str


def health_of(row: Mapping[str, Any], settings: config.Settings, now: datetime) -> str:
    """A source's health in one word: ok, failing, silent or never crawled."""
    if not row.get("last_fetched"):
        return "never crawled"
    if row["failures"] >= settings.alerts.failures:
        return "failing"
    last_article = row.get("last_new_article")
    quiet = timedelta(seconds=config.parse_duration(settings.alerts.silent_after))
    if last_article and now - datetime.fromisoformat(last_article) > quiet:
        return "silent"
    return "ok"


def _detail(row: Mapping[str, Any], state: str, settings: config.Settings) -> str:
    """One sentence on what is wrong (or that it is right again)."""
    if state == "failing":
        return f"{row['failures']} failures in a row; last error: {row['last_error']}"
    if state == "silent":
        return (
            f"no new article since {row['last_new_article']}"
            f" (more than {settings.alerts.silent_after})"
        )
    return "answering again" + (
        f", last fetched {row['last_fetched']}" if row["last_fetched"] else ""
    )


def changes(store: Store, settings: config.Settings, now: datetime) -> list[Change]:
    """Sources whose health changed since the operator was last told."""
    found = []
    for row in store.sources_health():
        health = health_of(row, settings, now)
        told = row["alert_state"]
        if health in ("failing", "silent") and told != health:
            found.append(Change(row["name"], health, _detail(row, health, settings)))
        elif health == "ok" and told in ("failing", "silent"):
            found.append(Change(row["name"], "recovered", _detail(row, "recovered", settings)))
    return found


def operator_message(found: list[Change], settings: config.Settings, now: datetime) -> EmailMessage:
    """One plain-text message to the operator about the sources that changed."""
    sender = settings.delivery.from_
    domain = (parseaddr(sender)[1] or "alerts@sequelwatch.invalid").rpartition("@")[2]
    message = EmailMessage()
    broken = [c for c in found if c.state != "recovered"]
    subject = (
        f"sequelwatch: {len(broken)} source(s) need attention"
        if broken
        else f"sequelwatch: {len(found)} source(s) recovered"
    )
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = settings.alerts.operator
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_message_id(
        f"health|{iso(now)}|{[(c.source, c.state) for c in found]}", domain
    )
    lines = [f"{c.source}: {c.state} - {c.detail}" for c in found]
    lines += ["", "See `sequelwatch status` for every source's health."]
    message.set_content("\n".join(lines))
    return message


def notify(
    store: Store, settings: config.Settings, transport: Transport, now: datetime
) -> list[Change]:
    """Find the sources whose health changed and tell the operator (or the log) once."""
    found = changes(store, settings, now)
    if not found:
        return found
    for change in found:
        logger.warning("source %s %s: %s", change.source, change.state, change.detail)
    if settings.alerts.operator:
        try:
            transport.send(operator_message(found, settings, now))
        except DeliveryError as exc:  # not recorded as told: the next check tries again
            logger.error("could not tell the operator about %d source(s): %s", len(found), exc)
            return found
    for change in found:
        store.set_source_alert(
            change.source, None if change.state == "recovered" else change.state, now
        )
    return found
