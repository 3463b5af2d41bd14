"""Quality on the labelled development set, against the targets of the issue."""

from __future__ import annotations

from pathlib import Path

import pytest

import config
from pipeline.evaluate import Report, evaluate, format_report

DEV = Path(__file__).resolve().parents[1] / "data" / "eval" / "dev"
TOPIC = Path(config.__file__).parent / "topics" / "alita-battle-angel-2.toml"


# The held-out sets the topic's model never learned from (see the eval README).
UNSEEN = [DEV.parent / f"heldout{n}" for n in (22, 23, 24, 25)]


@pytest.fixture(scope="module")
def report() -> Report:
    """The development set run through the real stages into a real store, by the rules
    alone: the topic's model learned from this set, so only the rules can be measured on it."""
    rules = config.load_topic(TOPIC).model_copy(update={"model": None})
    done = evaluate([DEV], rules)
    print(format_report("dev, by the rules", done))
    return done


@pytest.fixture(scope="module")
def unseen() -> Report:
    """The held-out sets the model never learned from, pooled, with the shipped topic."""
    done = evaluate(UNSEEN, config.load_topic(TOPIC))
    print(format_report("heldout22 to heldout25, as shipped", done))
    return done


def test_as_shipped_on_articles_the_model_never_saw(unseen: Report) -> None:
    # The targets, on 180 articles by four annotators (2026-12-07: relevance 0.992,
    # categories 0.906; the rules alone 0.966 and 0.867).
    assert unseen.items == 180
    assert unseen.relevance.f1 >= 0.95
    assert unseen.categories_micro.f1 >= 0.90
    assert unseen.duplicates.recall >= 0.95 and unseen.duplicates.precision >= 0.98


def test_the_set_is_large_and_varied(report: Report) -> None:
    assert report.items >= 90
    assert report.duplicates.tp + report.duplicates.fn >= 4
    assert report.stories.tp + report.stories.fn >= 20


def test_relevance_f1(report: Report) -> None:
    assert report.relevance.f1 >= 0.95, report.errors


def test_category_micro_f1(report: Report) -> None:
    # The target. Each new batch is first scored untouched (d4- 0.817, d5- 0.741,
    # d6- 0.836, d7- 0.788, d8- 0.701, d9- 0.863, d10- 0.889, d11- 0.840, d12- 0.877) and then
    # worked through; it stays at or above the target (0.910, 596 articles, 2026-12-06).
    assert report.categories_micro.f1 >= 0.90


def test_duplicate_pairs(report: Report) -> None:
    assert report.duplicates.recall >= 0.95
    assert report.duplicates.precision >= 0.98


def test_story_pairs(report: Report) -> None:
    # No target in the issue: a guard under what the set scores, each annotator's batch in
    # a store of its own (P 1.00, R 0.78 on 2026-12-06). Recall is what falls short: short
    # snippets, Reddit posts and Japanese or Korean rewrites share too little evidence
    # (names, numbers) with their story.
    assert report.stories.precision >= 0.95
    assert report.stories.recall >= 0.75
