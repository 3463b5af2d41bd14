"""When a subscriber's digest is due: daily_at or weekly_on, in their own time zone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config import ScheduleSettings

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _zone(subscriber: Mapping[str, Any], schedule: ScheduleSettings) -> ZoneInfo:
    """The subscriber's zone, or the schedule's when they set none."""
    name = subscriber.get("timezone") or "UTC"
    if name == "UTC":
        name = schedule.timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def last_slot(
    frequency: str, schedule: ScheduleSettings, zone: ZoneInfo, now: datetime
) -> datetime:
    """The latest moment at or before now at which a digest of this frequency was due."""
    hour, minute = (int(part) for part in schedule.daily_at.split(":"))
    local = now.astimezone(zone)
    slot = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if slot > local:
        slot -= timedelta(days=1)
    if frequency == "weekly":
        back = (slot.weekday() - WEEKDAYS.index(schedule.weekly_on)) % 7
        slot -= timedelta(days=back)
    return slot


DueCheck = Callable[[Mapping[str, Any], datetime | None, datetime], bool]


def scheduled_due(schedule: ScheduleSettings) -> DueCheck:
    """A due-check for the daemon: instant always; daily and weekly once per slot."""

    def due(subscriber: Mapping[str, Any], last_sent: datetime | None, now: datetime) -> bool:
        """Whether the slot passed since the last message (or since they confirmed)."""
        if subscriber["frequency"] == "instant":
            return True
        slot = last_slot(subscriber["frequency"], schedule, _zone(subscriber, schedule), now)
        confirmed = subscriber.get("confirmed_at")
        reference = last_sent or (datetime.fromisoformat(confirmed) if confirmed else None)
        return reference is None or reference < slot

    return due
