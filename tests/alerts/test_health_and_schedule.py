"""Operator alerts about sources (once each way) and when digests fall due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import config
from alerts.delivery import OutboxTransport
from alerts.health import health_of, notify
from alerts.schedule import last_slot, scheduled_due
from config import ScheduleSettings, Source
from pipeline.store import Store
from tests.helpers import ROOT

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def settings_for(folder: Path, operator: str = "ops@example.org") -> config.Settings:
    path = folder / "sequelwatch.toml"
    path.write_text(
        f'database = "store.db"\ntopic = "{ROOT}/config/topics/alita-battle-angel-2.toml"\n'
        f'sources = "{ROOT}/config/sources.toml"\n[delivery]\noutbox = "outbox"\n'
        f'[alerts]\noperator = "{operator}"\nfailures = 2\nsilent_after = "3d"\n',
        encoding="utf-8",
    )
    return config.load(path)


def test_the_operator_hears_once_when_a_source_breaks_and_once_when_it_recovers(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    store = Store(settings.database)
    store.sync_sources([Source(name="trade", kind="feed", url="http://127.0.0.1:1/f.rss")])
    outbox = OutboxTransport(settings.outbox)
    store.record_source_ok("trade", http_status=200, etag=None, last_modified=None, when=NOW)
    assert notify(store, settings, outbox, NOW) == []
    for _ in range(2):
        store.record_source_error("trade", "HTTP 500 Internal Server Error", http_status=500)
    [broken] = notify(store, settings, outbox, NOW)
    assert (broken.source, broken.state) == ("trade", "failing")
    assert "HTTP 500" in broken.detail
    assert notify(store, settings, outbox, NOW) == []  # told once
    store.record_source_ok("trade", http_status=200, etag=None, last_modified=None, when=NOW)
    [back] = notify(store, settings, outbox, NOW)
    assert back.state == "recovered"
    messages = sorted(settings.outbox.glob("*.eml"))
    assert len(messages) == 2
    assert any("need attention" in m.read_text() for m in messages)


def test_a_source_that_went_quiet_is_silent(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, operator="")
    row = {
        "last_fetched": "2026-11-24T11:00:00+00:00",
        "failures": 0,
        "last_new_article": (NOW - timedelta(days=4)).isoformat(),
    }
    assert health_of(row, settings, NOW) == "silent"
    assert health_of({**row, "last_new_article": NOW.isoformat()}, settings, NOW) == "ok"
    assert health_of({**row, "last_fetched": None}, settings, NOW) == "never crawled"


def test_digests_fall_due_at_their_local_time() -> None:
    schedule = ScheduleSettings(daily_at="08:00", weekly_on="mon", timezone="UTC")
    due = scheduled_due(schedule)
    rome = {
        "frequency": "daily",
        "timezone": "Europe/Rome",
        "confirmed_at": "2026-11-20T00:00:00+00:00",
    }
    # 07:30 UTC is 08:30 in Rome: today's slot has passed there
    at = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    assert due(rome, None, at)
    assert not due(rome, at - timedelta(minutes=10), at)  # sent after the slot already
    assert not due(
        {**rome, "timezone": "America/New_York"}, datetime(2026, 11, 23, 14, 0, tzinfo=UTC), at
    )  # 02:30 in New York: not yet
    monday = last_slot("weekly", schedule, ZoneInfo("UTC"), NOW)
    assert monday.weekday() == 0 and monday.hour == 8
    assert due({"frequency": "instant", "timezone": "UTC"}, NOW, NOW)
