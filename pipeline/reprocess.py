"""Re-run relevance, duplicates, stories, labels and facts over the stored articles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from config import StorySettings, Topic
from pipeline.relevance import judge
from pipeline.store import Store
from pipeline.understand import Subject, understand

BATCH = 200


@dataclass
class ReprocessReport:
    """What a reprocess found: articles read, kept, copies, stories, fact changes."""

    articles: int = 0
    kept: int = 0
    duplicates: int = 0
    stories: int = 0
    changes: int = 0


def _when(text: str | None) -> datetime | None:
    """A stored ISO 8601 time."""
    return datetime.fromisoformat(text) if text else None


def subject_of(row: dict[str, Any]) -> Subject:
    """The Subject of a stored article row."""
    return Subject(
        id=row["id"],
        title=row["title"],
        text=row["text"] or "",
        description=row["description"] or "",
        outlet=row["outlet"],
        published=_when(row["published"]),
        first_seen=_when(row["first_seen"]) or datetime.min,
    )


def reprocess(
    store: Store,
    topic: Topic,
    settings: StorySettings,
    progress: Callable[[ReprocessReport], None] | None = None,
    batch: int = BATCH,
) -> ReprocessReport:
    """Rebuild everything derived from the stored articles, one transaction per batch."""
    report = ReprocessReport()
    store.clear_understanding()
    after = 0
    while rows := store.articles_in_order(after, batch):
        with store.transaction():
            for row in rows:
                report.articles += 1
                relevance = judge(topic, row["title"], row["text"] or "", row["description"] or "")
                store.set_relevance(row["id"], relevance)
                if not relevance.kept:
                    continue
                report.kept += 1
                found = understand(store, topic, settings, subject_of(row))
                report.duplicates += found.duplicate_of is not None
                report.stories += found.new_story
                report.changes += found.changes
        after = rows[-1]["id"]
        if progress:
            progress(report)
    return report
