"""Quality, measured: precision, recall and F1 on a labelled evaluation set.

`python -m pipeline.evaluate tests/data/eval/dev` runs every article of the set through
the real stages into a temporary store (relevance, duplicates, stories, labels, facts)
and compares what was found with the labels the set's authors wrote.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from config import StorySettings, Topic, load_topic
from pipeline.records import Article
from pipeline.relevance import judge
from pipeline.store import Store
from pipeline.understand import Subject, understand

CATEGORIES = ("cast", "release", "plot", "production")
DEFAULT_TOPIC = (
    Path(__file__).resolve().parent.parent / "config" / "topics" / ("alita-battle-angel-2.toml")
)


@dataclass
class Score:
    """Counts of true positives, false positives and false negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: set[Any], gold: set[Any]) -> None:
        """Count one comparison of predicted and gold sets."""
        self.tp += len(predicted & gold)
        self.fp += len(predicted - gold)
        self.fn += len(gold - predicted)

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1.0 when there was nothing to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """The harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    """Every score of one evaluation run."""

    items: int = 0
    relevance: Score = field(default_factory=Score)
    categories: dict[str, Score] = field(default_factory=lambda: {c: Score() for c in CATEGORIES})
    duplicates: Score = field(default_factory=Score)
    stories: Score = field(default_factory=Score)
    facts: Score = field(default_factory=Score)
    errors: list[str] = field(default_factory=list)

    @property
    def categories_micro(self) -> Score:
        """All categories' counts added up."""
        total = Score()
        for score in self.categories.values():
            total.tp, total.fp, total.fn = (
                total.tp + score.tp,
                total.fp + score.fp,
                total.fn + score.fn,
            )
        return total


def load_items(folders: Iterable[Path]) -> list[dict[str, Any]]:
    """The labelled articles of one or more folders, in the order they were first seen."""
    items = []
    for folder in folders:
        for path in sorted(Path(folder).glob("*.toml")):
            with path.open("rb") as handle:
                items.append(tomllib.load(handle))
    return sorted(items, key=lambda item: (str(item["first_seen"]), item["id"]))


def as_datetime(value: Any) -> datetime:
    """A TOML datetime or ISO string as an aware datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment


def _ingest(store: Store, topic: Topic, settings: StorySettings, item: dict[str, Any]) -> None:
    """Store one labelled article and understand it, as a crawl would."""
    title, text = item["title"], item["text"].strip()
    description = item.get("description", "")
    relevance = judge(topic, title, text, description, item.get("outlet"))
    published, first_seen = as_datetime(item["published"]), as_datetime(item["first_seen"])
    article = Article(
        url=item["url"],
        urls=(item["url"],),
        title=title,
        outlet=item.get("outlet"),
        authors=(),
        published=published,
        language=item.get("language"),
        description=description,
        text=text,
        source="eval",
        fetched_at=first_seen,
        relevance=relevance,
    )
    saved = store.save_article(article)
    if relevance.kept:
        subject = Subject(saved.id, title, text, description, article.outlet, published, first_seen)
        understand(store, topic, settings, subject)


def _pairs(groups: dict[Any, list[str]]) -> set[frozenset[str]]:
    """Every unordered pair of ids that share a group."""
    return {
        frozenset(pair)
        for members in groups.values()
        for pair in itertools.combinations(sorted(members), 2)
    }


def _gold_duplicate_groups(items: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Originals with their copies, from the labels."""
    parent = {item["id"]: item.get("duplicate_of") or item["id"] for item in items}

    def root(name: str) -> str:
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    groups: dict[str, list[str]] = defaultdict(list)
    for item in items:
        groups[root(item["id"])].append(item["id"])
    return groups


def evaluate(
    folders: Sequence[Path], topic: Topic, settings: StorySettings | None = None
) -> Report:
    """Run the labelled articles through the stages and score what was found."""
    settings = settings or StorySettings()
    items = load_items(folders)
    report = Report(items=len(items))
    with tempfile.TemporaryDirectory() as scratch:
        for name, batch in _batches(items).items():
            store = Store(Path(scratch) / f"{name}.db")
            try:
                for item in batch:
                    _ingest(store, topic, settings, item)
                _score(store, batch, report)
            finally:
                store.close()
    return report


def _batches(items: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The articles by annotator batch (the id's prefix: "d4" of "d4-jashugan-es").

    Each batch invents its own news on its own timeline, so each is run in a store of its
    own: two annotators who both had the sequel greenlit in March 2028 wrote one story
    twice, and together in one store the two would rightly be merged.
    """
    batches: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        batches[str(item["id"]).split("-", 1)[0]].append(item)
    return batches


def _score(store: Store, items: Sequence[dict[str, Any]], report: Report) -> None:
    """Compare the store's findings with the labels."""
    found = {
        row["url"]: row
        for row in store.db.query("SELECT id, url, relevant, story_id, duplicate_of FROM articles")
    }
    by_id = {row["id"]: row["url"] for row in found.values()}
    labels: dict[str, set[str]] = defaultdict(set)
    for row in store.db.query("SELECT article_id, category FROM article_labels"):
        labels[by_id[row["article_id"]]].add(row["category"])
    facts: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for row in store.db.query("SELECT article_id, kind, subject, value FROM facts"):
        facts[by_id[row["article_id"]]].add((row["kind"], row["subject"].lower(), row["value"]))
    story_groups: dict[Any, list[str]] = defaultdict(list)
    copy_groups: dict[Any, list[str]] = defaultdict(list)
    for item in items:
        row = found[item["url"]]
        gold_relevant = bool(item["relevant"])
        report.relevance.add({1} if row["relevant"] else set(), {1} if gold_relevant else set())
        if not row["relevant"] and gold_relevant:
            report.errors.append(f"missed: {item['id']}")
        if row["relevant"] and not gold_relevant:
            report.errors.append(f"kept a {item.get('trap') or 'non-sequel'} article: {item['id']}")
        for category in CATEGORIES:
            predicted = {category} & labels[item["url"]]
            report.categories[category].add(predicted, {category} & set(item["categories"]))
        gold_facts = {(f["kind"], f["subject"].lower(), f["value"]) for f in item.get("facts", [])}
        report.facts.add(facts[item["url"]], gold_facts)
        if row["story_id"] is not None:
            story_groups[row["story_id"]].append(item["id"])
        copy_groups[store.original_of(row["id"])].append(item["id"])
    gold_stories: dict[Any, list[str]] = defaultdict(list)
    for item in items:
        if item["relevant"] and item.get("story"):
            gold_stories[item["story"]].append(item["id"])
    relevant = {item["id"] for item in items if item["relevant"]}
    predicted_story_pairs = {p for p in _pairs(story_groups) if p <= relevant}
    report.stories.add(predicted_story_pairs, _pairs(gold_stories))
    report.duplicates.add(_pairs(copy_groups), _pairs(_gold_duplicate_groups(items)))


def format_report(name: str, report: Report, labels_only: bool = False) -> str:
    """The report as a small table; `labels_only`: relevance and categories alone."""
    rows = [("relevance", report.relevance)]
    rows += [(f"category {c}", s) for c, s in report.categories.items()]
    rows.append(("categories (micro)", report.categories_micro))
    if not labels_only:
        rows += [
            ("duplicate pairs", report.duplicates),
            ("story pairs", report.stories),
            ("facts", report.facts),
        ]
    lines = [f"{name}: {report.items} articles", f"{'':22} {'P':>6} {'R':>6} {'F1':>6}  tp/fp/fn"]
    for label, score in rows:
        lines.append(
            f"{label:22} {score.precision:6.3f} {score.recall:6.3f} {score.f1:6.3f}"
            f"  {score.tp}/{score.fp}/{score.fn}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate each folder named on the command line and print its table; with --pooled,
    one table of all of them together instead (each annotator's batch still in a store of
    its own), the figure of several held-out sets at once; with --rules, without the
    topic's learned model (the figure of the sets it learned from)."""
    args = list(argv if argv is not None else sys.argv[1:])
    usage = "usage: python -m pipeline.evaluate [--pooled] [--rules] FOLDER [FOLDER ...]"
    if "-h" in args or "--help" in args:
        print(usage)
        print("  --pooled  one table of all the folders together")
        print("  --rules   the topic's rules alone, without its learned model")
        return 0
    options = {"--pooled", "--rules"}
    pooled = "--pooled" in args
    folders = [Path(a) for a in args if a not in options]
    unknown = [a for a in args if a.startswith("-") and a not in options]
    missing = [str(f) for f in folders if not any(f.glob("*.toml"))]
    if not folders or unknown or missing:
        print(usage, file=sys.stderr)
        if unknown:
            print(f"unknown option: {' '.join(unknown)}", file=sys.stderr)
        elif missing:
            print(f"no labelled articles (*.toml) in: {', '.join(missing)}", file=sys.stderr)
        return 2
    topic = load_topic(DEFAULT_TOPIC)
    if "--rules" in args:
        topic = topic.model_copy(update={"model": None})
    runs = (
        [(" + ".join(f.name for f in folders), folders)]
        if pooled
        else [(str(f), [f]) for f in folders]
    )
    for name, group in runs:
        report = evaluate(group, topic)
        print(format_report(name, report))
        for error in report.errors:
            print(f"  {error}")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
