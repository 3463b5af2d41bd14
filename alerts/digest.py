"""Who gets what, exactly once: choose, render, reserve, send, and record each message.

A message is reserved in the store (its bytes, its Message-ID and the stories it carries)
before it is handed to the transport, and marked sent only once the server accepted it.
A failed send stays reserved and is sent again, byte for byte, on a later run; so a crash
between acceptance and the mark resends the same message, never a different digest.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import quote

import config
from alerts.delivery import DeliveryError, RecipientRejected, SetupFailure, Transport
from alerts.message import build_message, make_message_id, parse_message, wire_bytes
from alerts.records import Digest, Rendered, StoryItem
from alerts.render import render_confirmation, render_digest, write_web_copy
from alerts.schedule import DueCheck
from pipeline.store import Store, iso, utcnow

logger = logging.getLogger(__name__)

PERIODS = {
    "instant": timedelta(0),
    "daily": timedelta(hours=23),
    "weekly": timedelta(days=6, hours=23),
}
FIRST_DIGEST_REACH = timedelta(days=30)  # a new subscriber starts with the last month's news
MAX_BACKOFF = timedelta(days=1)


@dataclass
class SendReport:
    """What one run did, message by message."""

    sent: list[str] = field(default_factory=list)  # "address: subject"
    retried: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # kept for the next run
    rejected: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)  # --dry-run: what would be sent
    nothing_new: int = 0


def _when(text: str | None) -> datetime | None:
    """A stored ISO time."""
    return datetime.fromisoformat(text) if text else None


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links from the web reach a message."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def _change_text(change: Mapping[str, Any] | None) -> str | None:
    """What is new in a story: its latest changed fact and what it replaced."""
    if not change:
        return None
    role = f" as {change['detail']}" if change["category"] == "cast" and change["detail"] else ""
    was = f" (was: {change['replaced']})" if change["replaced"] else ""
    return f"{change['subject']}: {change['value']}{role}{was}"


class Postman:
    """Composes and delivers digests, instant alerts and confirmations for one store."""

    def __init__(
        self,
        store: Store,
        settings: config.Settings,
        transport: Transport,
        now: Callable[[], datetime] = utcnow,
        due: DueCheck | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.transport = transport
        self.now = now
        self.due_check = due
        self.categories = tuple(settings.topic.categories) or (
            "cast",
            "release",
            "plot",
            "production",
        )
        self.web_copy = settings.outbox.parent / "latest-digest.html"
        self._items: dict[tuple[int, str, tuple[str, ...]], StoryItem] = {}
        self._rows: dict[tuple[int, str], dict[str, Any]] = {}  # developments rows, this run
        self._latest: Digest | None = None  # the run's newest digest, for the web copy
        self._in_run = False
        # handed to a side-by-side transport, not yet recorded: (future, id, message, ...)
        self._handed: deque[tuple[Future[str], int, EmailMessage, Mapping[str, Any], int]] = deque()

    # -- composing -----------------------------------------------------------------------

    def story_item(self, row: Mapping[str, Any], wanted: tuple[str, ...]) -> StoryItem:
        """A development as the subscriber sees it (made once per run and choice)."""
        key = (row["story_id"], row["last_development"] or "", wanted)
        if key not in self._items:
            self._items[key] = self._story_item(row, wanted)
        return self._items[key]

    def _story_item(self, row: Mapping[str, Any], wanted: tuple[str, ...]) -> StoryItem:
        """A development as the subscriber sees it, filed under its main category."""
        story_categories = tuple(c for c in (row["categories"] or "").split(",") if c)
        main = row["main_category"]
        if main not in wanted:
            main = next(
                (c for c in self.categories if c in story_categories and c in wanted),
                main or "news",
            )
        details = self.store.story_details(row["story_id"], prefer=main)
        return StoryItem(
            story_id=row["story_id"],
            title=row["title"],
            url=_safe_url(row["first_url"]),
            category=main,
            categories=story_categories,
            evidence=details["evidence"].get(main),
            change=_change_text(details["change"]),
            outlets=tuple(details["outlets"]),
            first_reporter=row["first_reporter"],
            first_seen=_when(row["first_seen"]) or self.now(),
            # when the news happened (its report's date), not when a crawl came across it
            developed_at=_when(row["news_at"]) or _when(row["last_development"]) or self.now(),
        )

    def developments(self, keys: list[tuple[int, str]]) -> list[dict[str, Any]]:
        """The `developments` rows of these (story, development) keys, in their order.

        A row costs a scan of its story's articles and is the same for every subscriber it
        is new to, so each is read once per run and development, not once per subscriber.
        """
        missing = [story for story, when in keys if (story, when) not in self._rows]
        fresh = self.store.developments_of(missing) if missing else {}
        for row in fresh.values():
            self._rows[(row["story_id"], row["last_development"])] = row
        # a story that developed again since its key was read comes as it is now; one
        # merged away in the meantime not at all
        found = ((self._rows.get((story, when)) or fresh.get(story)) for story, when in keys)
        return [row for row in found if row is not None]

    def compose(self, subscriber: Mapping[str, Any]) -> tuple[Digest, list[tuple[int, str]]] | None:
        """The digest of a subscriber's undelivered developments, or None if nothing is new."""
        wanted = tuple(c for c in subscriber["categories"].split(",") if c)
        confirmed = _when(subscriber["confirmed_at"]) or self.now()
        since = iso(confirmed - FIRST_DIGEST_REACH) or ""
        rows = self.developments(self.store.new_development_keys(subscriber["id"], since, wanted))
        if not rows:
            return None
        items = tuple(self.story_item(row, wanted) for row in rows)
        digest = Digest(
            email=subscriber["email"],
            token=subscriber["token"],
            timezone=subscriber["timezone"],
            frequency=subscriber["frequency"],
            stories=items,
            topic_name=self.settings.topic.name,
            base_url=self.settings.delivery.base_url,
            generated_at=self.now(),
        )
        return digest, [(row["story_id"], row["last_development"]) for row in rows]

    def message(self, rendered: Rendered, subscriber: Mapping[str, Any], key: str) -> EmailMessage:
        """The message for one subscriber, with a Message-ID derived from its reservation."""
        base = self.settings.delivery.base_url
        sender = self.settings.delivery.from_
        address = parseaddr(sender)[1] or "alerts@example.org"
        domain = address.rpartition("@")[2] or "sequelwatch.invalid"
        token = subscriber["token"]
        return build_message(
            rendered,
            sender=sender,
            to=subscriber["email"],
            message_id=make_message_id(key, domain),
            unsubscribe_url=f"{base}/unsubscribe/{token}",
            unsubscribe_mailto=f"mailto:{address}?subject={quote('unsubscribe ' + token)}",
            date=self.now(),
        )

    # -- sending -------------------------------------------------------------------------

    def due(self, subscriber: Mapping[str, Any]) -> bool:
        """Whether a subscriber's next digest is due (instant ones always are).

        By hand (`sequelwatch digest`) a digest is due a period after the last one; the
        daemon passes its own check (daily_at / weekly_on in the subscriber's zone).
        """
        last = _when(self.store.last_sent(subscriber["id"]))
        if self.due_check is not None:
            return self.due_check(subscriber, last, self.now())
        period = PERIODS.get(subscriber["frequency"], PERIODS["daily"])
        return last is None or self.now() - last >= period

    def run(
        self, frequency: str | None = None, to: str | None = None, dry_run: bool = False
    ) -> SendReport:
        """Send what is pending, then each due subscriber's new developments."""
        report = SendReport()
        self._rows.clear()  # what the store says now, not what an earlier run read
        with _batch(self.transport):  # connections kept for the run, where the transport can
            self._in_run = True
            try:
                if not dry_run:
                    self.retry_pending(report)
                self._each_subscriber(report, frequency, to, dry_run)
            finally:
                self._in_run = False
                while self._handed:
                    self._settle(report)
        if self._latest is not None:
            # the web copy is for anyone: without any subscriber's personal links
            write_web_copy(render_digest(replace(self._latest, token="")), self.web_copy)
            self._latest = None
        return report

    def _each_subscriber(
        self, report: SendReport, frequency: str | None, to: str | None, dry_run: bool
    ) -> None:
        """Deliver the digest of every subscriber chosen and due."""
        for subscriber in self.store.subscribers():
            if subscriber["status"] != "active":
                continue
            if to is not None and subscriber["email"].lower() != to.lower():
                continue
            if frequency is not None and subscriber["frequency"] != frequency:
                continue
            if to is None and not self.due(subscriber):
                continue
            self.deliver_digest(subscriber, report, dry_run)

    def deliver_digest(
        self, subscriber: Mapping[str, Any], report: SendReport, dry_run: bool
    ) -> None:
        """Compose, reserve and send one subscriber's digest."""
        composed = self.compose(subscriber)
        if composed is None:
            report.nothing_new += 1
            return
        digest, stories = composed
        rendered = render_digest(digest)
        if dry_run:
            report.planned.append(
                f"{subscriber['email']}: {rendered.subject} ({len(stories)} stories)"
            )
            return
        key = hashlib.sha256(f"{subscriber['id']}|{iso(self.now())}|{stories}".encode()).hexdigest()
        message = self.message(rendered, subscriber, key)
        kind = "instant" if subscriber["frequency"] == "instant" else "digest"
        digest_id = self.store.reserve_digest(
            {
                "subscriber_id": subscriber["id"],
                "kind": kind,
                "message_id": message["Message-ID"],
                "subject": rendered.subject,
                "message": wire_bytes(message),
                "created_at": iso(self.now()),
            },
            stories,
        )
        if digest_id is None:  # another sender reserved these developments first
            logger.info("%s: already being sent by another run", subscriber["email"])
            report.nothing_new += 1
            return
        if self._latest is None or len(digest.stories) >= len(self._latest.stories):
            self._latest = digest
        self.send(digest_id, message, subscriber, report)

    def retry_pending(self, report: SendReport) -> None:
        """Send again, unchanged, every reserved or failed message whose time has come."""
        for row in self.store.pending_digests(iso(self.now()) or ""):
            if row["subscriber_status"] not in ("active", "pending"):
                self.store.mark_digest(row["id"], "cancelled", last_error="subscriber left")
                continue
            message = parse_message(row["message"])  # the same bytes, header for header
            subscriber = {"email": row["email"], "id": row["subscriber_id"]}
            self.send(row["id"], message, subscriber, report, attempts=row["attempts"])

    def send(
        self,
        digest_id: int,
        message: EmailMessage,
        subscriber: Mapping[str, Any],
        report: SendReport,
        attempts: int = 0,
    ) -> None:
        """Hand one reserved message to the transport and record what happened.

        During a run, a transport that sends side by side (`SmtpPool`) takes the message
        without waiting; what happened to it is recorded here, in the store's thread, once
        it is known and in the order the messages were handed over.
        """
        submit = getattr(self.transport, "submit", None)
        if submit is None or not self._in_run:
            try:
                outcome: str | DeliveryError = self.transport.send(message)
            except DeliveryError as exc:
                outcome = exc
            self._record(digest_id, message, subscriber, report, attempts, outcome)
            return
        self._handed.append((submit(message), digest_id, message, subscriber, attempts))
        waiting = 2 * int(getattr(self.transport, "connections", 1))
        while self._handed and (self._handed[0][0].done() or len(self._handed) > waiting):
            self._settle(report)

    def _settle(self, report: SendReport) -> None:
        """Wait for the oldest message handed over and record what happened to it."""
        future, digest_id, message, subscriber, attempts = self._handed.popleft()
        try:
            outcome: str | DeliveryError = future.result()
        except DeliveryError as exc:
            outcome = exc
        self._record(digest_id, message, subscriber, report, attempts, outcome)

    def _record(
        self,
        digest_id: int,
        message: EmailMessage,
        subscriber: Mapping[str, Any],
        report: SendReport,
        attempts: int,
        outcome: str | DeliveryError,
    ) -> None:
        """Mark the reserved message sent, failed (kept for later) or rejected."""
        line = f"{subscriber['email']}: {message['Subject']}"
        if isinstance(outcome, RecipientRejected):
            self.store.mark_digest(digest_id, "rejected", last_error=str(outcome))
            self.store.update_subscriber(
                subscriber["id"], status="rejected", rejected_reason=str(outcome)
            )
            report.rejected.append(f"{line} ({outcome})")
            logger.warning("rejected %s: %s", subscriber["email"], outcome)
            return
        if isinstance(outcome, DeliveryError):
            # A refusal of our setup (login, TLS, sender) says nothing against the message:
            # keep it, so the news goes out once the configuration is fixed.
            if outcome.temporary or isinstance(outcome, SetupFailure):
                self._fail(digest_id, str(outcome), attempts)
                report.failed.append(f"{line} ({outcome})")
            else:
                self.store.mark_digest(digest_id, "rejected", last_error=str(outcome))
                report.rejected.append(f"{line} ({outcome})")
            logger.warning("could not send to %s: %s", subscriber["email"], outcome)
            return
        self.store.mark_digest(digest_id, "sent", sent_at=iso(self.now()), last_error=None)
        (report.retried if attempts else report.sent).append(line)
        logger.info("sent %s (%s)", line, outcome)

    def _fail(self, digest_id: int, error: str, attempts: int) -> None:
        """Keep a message for a later run, waiting longer after each failure."""
        first = timedelta(seconds=config.parse_duration(self.settings.delivery.retry_after))
        wait = min(MAX_BACKOFF, first * 2**attempts)
        self.store.mark_digest(
            digest_id, "failed", last_error=error, next_attempt=iso(self.now() + wait)
        )

    def send_confirmation(self, subscriber: Mapping[str, Any]) -> str:
        """Send the double opt-in message now; return where it went."""
        rendered = render_confirmation(
            subscriber["email"],
            subscriber["token"],
            self.settings.topic.name,
            self.settings.delivery.base_url,
            tuple(subscriber["categories"].split(",")),
            subscriber["frequency"],
        )
        key = hashlib.sha256(f"confirm|{subscriber['token']}".encode()).hexdigest()
        message = self.message(rendered, subscriber, key)
        found = self.store.subscriber(email=subscriber["email"])
        assert found is not None
        digest_id = self.store.reserve_digest(
            {
                "subscriber_id": found["id"],
                "kind": "confirmation",
                "message_id": message["Message-ID"],
                "subject": rendered.subject,
                "message": wire_bytes(message),
                "created_at": iso(self.now()),
            },
            [],
        )
        assert digest_id is not None  # carrying no stories, it is always reserved
        report = SendReport()
        self.send(digest_id, message, found, report)
        if report.sent:
            return report.sent[0]
        raise DeliveryError((report.failed or report.rejected or ["not sent"])[0])


@contextmanager
def _batch(transport: Transport) -> Iterator[None]:
    """Keep one connection for a run when the transport can (SMTP); else nothing."""
    if isinstance(transport, AbstractContextManager):
        with transport:
            yield
    else:
        yield


def outbox_files(folder: Path) -> list[Path]:
    """The messages in an outbox folder, newest last."""
    return sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime)
