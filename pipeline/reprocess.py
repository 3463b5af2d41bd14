"""Re-run relevance, duplicates, stories, labels and facts over the stored articles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from config import StorySettings, Topic
from pipeline.relevance import judge
from pipeline.store import Store
from pipeline.understand import Understanding, settle

BATCH = 200


@dataclass
class ReprocessReport:
    """What a reprocess found: articles read, kept, copies, stories, fact changes."""

    articles: int = 0
    kept: int = 0
    duplicates: int = 0
    stories: int = 0
    changes: int = 0


def reprocess(
    store: Store,
    topic: Topic,
    settings: StorySettings,
    progress: Callable[[ReprocessReport], None] | None = None,
    batch: int = BATCH,
) -> ReprocessReport:
    """Judge every stored article again, then rebuild copies, stories, labels and facts.

    Relevance is written one transaction per batch; the kept articles are then settled
    as a crawl's are: read together, placed in the order their news happened.
    """
    report = ReprocessReport()
    store.clear_understanding()
    after = 0
    while rows := store.articles_in_order(after, batch):
        with store.transaction():
            for row in rows:
                report.articles += 1
                relevance = judge(
                    topic,
                    row["title"],
                    row["text"] or "",
                    row["description"] or "",
                    row["outlet"],
                )
                store.set_relevance(row["id"], relevance)
                report.kept += relevance.kept
        after = rows[-1]["id"]
        if progress:
            progress(report)

    def placed(found: Understanding) -> None:
        report.duplicates += found.duplicate_of is not None
        report.changes += found.changes
        if progress:
            progress(report)

    settle(store, topic, settings, each=placed)
    report.stories = store.story_count()
    if progress:
        progress(report)
    return report
