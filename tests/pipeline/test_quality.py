"""Quality on the labelled development set, against the targets of the issue."""

from __future__ import annotations

from pathlib import Path

import pytest

import config
from pipeline.evaluate import Report, evaluate, format_report

DEV = Path(__file__).resolve().parents[1] / "data" / "eval" / "dev"
TOPIC = Path(config.__file__).parent / "topics" / "alita-battle-angel-2.toml"


@pytest.fixture(scope="module")
def report() -> Report:
    """The development set run through the real stages into a real store."""
    done = evaluate([DEV], config.load_topic(TOPIC))
    print(format_report("dev", done))
    return done


def test_the_set_is_large_and_varied(report: Report) -> None:
    assert report.items >= 90
    assert report.duplicates.tp + report.duplicates.fn >= 4
    assert report.stories.tp + report.stories.fn >= 20


def test_relevance_f1(report: Report) -> None:
    assert report.relevance.f1 >= 0.95, report.errors


def test_category_micro_f1(report: Report) -> None:
    # The target. The 196 dev articles score 0.912 (the 50 d4- ones, first seen
    # at 0.817, were worked through on 2026-12-05: cameos, voices, casting verbs in
    # Portuguese, loglines and final acts).
    assert report.categories_micro.f1 >= 0.90


def test_duplicate_pairs(report: Report) -> None:
    assert report.duplicates.recall >= 0.95
    assert report.duplicates.precision >= 0.98


def test_story_pairs(report: Report) -> None:
    # No target in the issue: a guard just under what the 146 articles score (P 0.81,
    # R 0.81). The 50 articles added on 2026-12-05 (d3-) brought it down from 0.94/0.89:
    # short snippets and Spanish and French rewrites share too few names with their
    # story, and two stories about the film's technology, weeks apart, merge.
    assert report.stories.precision >= 0.78
    assert report.stories.recall >= 0.78
