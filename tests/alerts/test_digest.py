"""Digests: each development once, in the subscriber's categories, reserved before sending."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

import config
from alerts.delivery import OutboxTransport
from alerts.digest import Postman, SendReport
from alerts.subscribers import Choices, choices, subscribe
from pipeline.ingest import Ingestor
from pipeline.records import Page
from pipeline.store import Store, iso
from tests.helpers import ROOT
from tests.stories import DELAY, add_developments, page

DAY = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
KNOWN = ("cast", "release", "plot", "production")


@pytest.fixture
def settings(tmp_path: Path) -> config.Settings:
    path = tmp_path / "sequelwatch.toml"
    path.write_text(
        f'database = "store.db"\ntopic = "{ROOT}/config/topics/alita-battle-angel-2.toml"\n'
        f'sources = "{ROOT}/config/sources.toml"\n[delivery]\noutbox = "outbox"\n'
        'base_url = "https://watch.example.org"\nfrom = "Alita watch <alerts@watch.example.org>"\n',
        encoding="utf-8",
    )
    return config.load(path)


@pytest.fixture
def store(settings: config.Settings) -> Store:
    """A store with two developments: a casting statement and a release window."""
    opened = Store(settings.database)
    add_developments(opened, settings.topic, settings.stories)
    return opened


def sent(folder: Path) -> list[EmailMessage]:
    """The messages in the outbox, oldest first."""
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime)
    return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]  # type: ignore[misc]


def subscribed(store: Store, address: str, wanted: Choices) -> None:
    """A subscriber confirmed on DAY, the tests' clock, not the wall clock.

    A new subscriber's first digest reaches back a month from confirming: confirmed
    today, the fixed developments of DAY would drift out of reach as the calendar moves.
    """
    subscribe(store, address, wanted, confirmed=True)
    found = store.subscriber(email=address)
    assert found is not None
    store.update_subscriber(found["id"], confirmed_at=iso(DAY))


def postman(store: Store, settings: config.Settings, now: datetime) -> Postman:
    return Postman(store, settings, OutboxTransport(settings.outbox), now=lambda: now)


def test_each_development_reaches_a_subscriber_once(
    store: Store, settings: config.Settings
) -> None:
    subscribed(store, "fan@example.org", choices(None, "daily", "Europe/Rome", KNOWN))
    now = DAY + timedelta(days=1)
    report = postman(store, settings, now).run()
    assert len(report.sent) == 1
    [message] = sent(settings.outbox)
    assert message["To"] == "fan@example.org"
    assert "Alita" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "Rosa Salazar" in text and "2030" in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://watch.example.org/unsubscribe/" in message["List-Unsubscribe"]

    # the next day, nothing new: nothing is sent
    later = postman(store, settings, now + timedelta(days=1)).run()
    assert later.sent == [] and later.nothing_new == 1
    # a new development (the release window moves) is sent, and only it
    Ingestor(store, settings.topic, settings.stories).ingest(
        page(
            "https://e.example/delay",
            "Alita: Battle Angel 2 delayed to 2031",
            DELAY,
            "Studio Desk",
            now + timedelta(days=1),
            seen=now + timedelta(days=1, hours=1),
        )
    )
    third = postman(store, settings, now + timedelta(days=2)).run()
    assert len(third.sent) == 1
    newest = sent(settings.outbox)[-1].get_body(("plain",)).get_content()
    assert "2031" in newest and "Rosa Salazar will return" not in newest


def test_only_the_chosen_categories_and_only_confirmed_subscribers(
    store: Store, settings: config.Settings
) -> None:
    subscribed(store, "cast@example.org", choices(["cast"], "daily", "UTC", KNOWN))
    subscribed(store, "plot@example.org", choices(["plot"], "daily", "UTC", KNOWN))
    subscribe(store, "pending@example.org", choices(None, "daily", "UTC", KNOWN), confirmed=False)
    report = postman(store, settings, DAY + timedelta(days=1)).run()
    assert [line.split(":")[0] for line in report.sent] == ["cast@example.org"]
    text = sent(settings.outbox)[0].get_body(("plain",)).get_content()
    assert "Rosa Salazar" in text and "no earlier than 2030" not in text


def test_dry_run_and_to_send_nothing_else(store: Store, settings: config.Settings) -> None:
    subscribed(store, "a@example.org", choices(None, "daily", "UTC", KNOWN))
    subscribed(store, "b@example.org", choices(None, "weekly", "UTC", KNOWN))
    now = DAY + timedelta(days=1)
    planned = postman(store, settings, now).run(dry_run=True)
    assert len(planned.planned) == 2 and planned.sent == []
    assert not settings.outbox.exists() or not list(settings.outbox.glob("*.eml"))
    only = postman(store, settings, now).run(to="b@example.org")
    assert [line.split(":")[0] for line in only.sent] == ["b@example.org"]
    daily = postman(store, settings, now).run(frequency="daily")
    assert [line.split(":")[0] for line in daily.sent] == ["a@example.org"]


def test_the_web_copy_is_written(store: Store, settings: config.Settings) -> None:
    subscribed(store, "a@example.org", choices(None, "daily", "UTC", KNOWN))
    mailman = postman(store, settings, DAY + timedelta(days=1))
    mailman.run()
    assert mailman.web_copy.exists()
    assert "Rosa Salazar" in mailman.web_copy.read_text(encoding="utf-8")


def test_each_digest_carries_what_the_store_lists_as_new_for_that_subscriber(
    store: Store, settings: config.Settings
) -> None:
    wants = {
        "all@example.org": KNOWN,
        "cast@example.org": ("cast",),
        "release@example.org": ("release", "plot"),
        "production@example.org": ("production",),
    }
    for address, categories in wants.items():
        subscribed(store, address, choices(categories, "daily", "UTC", KNOWN))
    mailman = postman(store, settings, DAY + timedelta(days=1))
    carried = set()
    for subscriber in store.subscribers():
        listed = store.new_developments(subscriber["id"], "", wants[subscriber["email"]])
        composed = mailman.compose(subscriber)
        assert composed is not None
        digest, stories = composed
        assert stories == [(row["story_id"], row["last_development"]) for row in listed]
        assert [item.story_id for item in digest.stories] == [row["story_id"] for row in listed]
        assert [item.title for item in digest.stories] == [row["title"] for row in listed]
        carried.add(tuple(stories))
    assert len(carried) > 1  # the choices differ in what they get


# The release window of the fixture's second story moves a year: the story develops again.
WINDOW_MOVES = """
Alita: Battle Angel 2 will not reach theaters before 2031 now, a Lightstorm executive told
exhibitors on Monday, a year later than the 2030 window given last week. The sequel still waits
on Avatar 5, and James Cameron's team is committed to Pandora until then.

The executive said the project remains in development at 20th Century Studios and that
Robert Rodriguez is still attached to direct.
"""


class IngestsAfterTheFirst(Postman):
    """A Postman during whose run, right after the first digest, a story develops again."""

    page: Page

    def deliver_digest(
        self, subscriber: Mapping[str, Any], report: SendReport, dry_run: bool
    ) -> None:
        super().deliver_digest(subscriber, report, dry_run)
        if len(report.sent) == 1:
            Ingestor(self.store, self.settings.topic, self.settings.stories).ingest(self.page)


def test_a_story_that_develops_during_a_run_reaches_the_later_subscribers_as_it_is_now(
    store: Store, settings: config.Settings
) -> None:
    for address in ("a@example.org", "b@example.org"):
        subscribed(store, address, choices(None, "daily", "UTC", KNOWN))
    now = DAY + timedelta(days=1)
    mailman = IngestsAfterTheFirst(store, settings, OutboxTransport(settings.outbox), lambda: now)
    mailman.page = page(
        "https://f.example/window-moves",
        "Alita: Battle Angel 2 won't arrive before 2031",
        WINDOW_MOVES,
        "Exhibitor Wire",
        now - timedelta(hours=3),
        seen=now - timedelta(hours=2),
    )
    report = mailman.run()
    assert [line.split(":")[0] for line in report.sent] == ["a@example.org", "b@example.org"]
    texts = {m["To"]: m.get_body(("plain",)).get_content() for m in sent(settings.outbox)}
    assert "Exhibitor Wire" not in texts["a@example.org"]
    assert "also Exhibitor Wire" in texts["b@example.org"]  # the story as it is now
    carried = {r["email"]: r["stories"] for r in store.delivery_log()}
    assert carried["a@example.org"] == carried["b@example.org"]  # the same story, moved
    # a, who got the window before it moved, gets the move next time; b has it already
    later = postman(store, settings, now + timedelta(days=1)).run()
    assert [line.split(":")[0] for line in later.sent] == ["a@example.org"]
    newest = sent(settings.outbox)[-1]
    assert newest["To"] == "a@example.org"
    text = newest.get_body(("plain",)).get_content()
    assert "also Exhibitor Wire" in text and "Rosa Salazar" not in text
