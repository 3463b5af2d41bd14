"""Learning a topic's model (pipeline.model) from labelled articles.

    python -m pipeline.train --out config/topics/NAME.model.json FOLDER [FOLDER ...]
    python -m pipeline.train --cv FOLDER [FOLDER ...]

FOLDER holds labelled articles in the evaluation set's format (tests/data/eval/README.md).
`--out` learns from all of them and writes the model; name it in the topic file
(`model = "NAME.model.json"`) and run `sequelwatch reprocess`. `--cv` writes nothing: it
leaves out each annotator's batch in turn (a folder, or the articles of a folder whose ids
share their first part: `d7-...`), learns from the others and scores the left-out batch,
then prints the rules' figures and the model's over all of them, as `pipeline.evaluate`
prints them. Learning needs scikit-learn (`pip install -e '.[train]'`); reading a model
does not.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import Topic, load_topic
from pipeline.evaluate import (
    CATEGORIES,
    DEFAULT_TOPIC,
    Report,
    as_datetime,
    format_report,
    load_items,
)
from pipeline.facts import FACT_EARNS_LABEL, read_by_rules, rules_found
from pipeline.model import Model, rule_features, save_model, terms, tfidf, words
from pipeline.relevance import judge_sentences

MIN_DF = 3  # a term is learned from when this many labelled articles have it
STRENGTH = 10.0  # scikit-learn's C: how little the weights are held back (L2)
THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled article, read once: its terms and what the rules found."""

    id: str
    batch: str  # who wrote it: the folder, and the first part of its id
    relevant: bool
    categories: frozenset[str]
    terms: Counter[str]
    found: dict[str, tuple[float, ...]]  # what the rules found per category (as if kept)
    fact_kinds: frozenset[str]  # the kinds of the facts the rules read (as if kept)
    rules_kept: bool
    rules_labels: frozenset[str]  # the rules' labels where they keep the article
    found_labels: frozenset[str]  # the rules' labels, as if they kept it


def examples(folders: Sequence[Path], topic: Topic) -> list[Example]:
    """The labelled articles of some folders, read by the topic's rules alone."""
    rules = topic.model_copy(update={"model": None})
    found = []
    for folder in folders:
        for item in load_items([folder]):
            title, text = item["title"], item["text"].strip()
            description, outlet = item.get("description", ""), item.get("outlet")
            published = as_datetime(item["published"])
            relevance, views = judge_sentences(rules, title, text, description, outlet)
            reading = read_by_rules(rules, views, title, text, description, published, outlet)
            found.append(
                Example(
                    id=item["id"],
                    batch=f"{folder.name}:{item['id'].split('-')[0]}",
                    relevant=bool(item["relevant"]),
                    categories=frozenset(item["categories"]) if item["relevant"] else frozenset(),
                    terms=terms(words(title, description, text)),
                    found=rules_found(reading),
                    fact_kinds=frozenset(
                        f.kind for f in reading.facts if f.confidence >= FACT_EARNS_LABEL
                    ),
                    rules_kept=relevance.kept,
                    rules_labels=frozenset(reading.found) if relevance.kept else frozenset(),
                    found_labels=frozenset(reading.found),
                )
            )
    return found


def _regression(rows: Any, answers: Sequence[bool]) -> Any:
    """A logistic regression learned from rows of features (scikit-learn, imported here)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=STRENGTH, max_iter=5000).fit(rows, list(answers))


def learn(
    batch: Sequence[Example], categories: Sequence[str] = CATEGORIES, trained_on: Sequence[str] = ()
) -> Model:
    """A model learned from labelled examples."""
    from scipy.sparse import csr_matrix, hstack

    df: Counter[str] = Counter()
    for example in batch:
        df.update(example.terms.keys())
    n = len(batch)
    kept = sorted(term for term, count in df.items() if count >= MIN_DF)
    idf = {term: math.log((1 + n) / (1 + df[term])) + 1.0 for term in kept}
    column = {term: index for index, term in enumerate(kept)}

    def matrix(chosen: Sequence[Example]) -> Any:
        data, indices, pointers = [], [], [0]
        for example in chosen:
            for term, value in tfidf(example.terms, idf).items():
                indices.append(column[term])
                data.append(value)
            pointers.append(len(indices))
        return csr_matrix((data, indices, pointers), shape=(len(chosen), len(kept)))

    every = matrix(batch)
    columns, coefficients, bias, rules = ["relevant"], [], {}, {}
    relevance = _regression(every, [e.relevant for e in batch])
    coefficients.append(relevance.coef_[0])
    bias["relevant"] = float(relevance.intercept_[0])
    about = [e for e in batch if e.relevant]
    words_of_about = matrix(about)
    empty = rule_features(False, False, 0.0, 0.0)
    for name in categories:
        answers = [name in e.categories for e in about]
        if len(set(answers)) < 2:
            continue  # nothing to tell apart: the rules decide this category
        alone = _regression(words_of_about, answers)
        extra = csr_matrix([list(e.found.get(name, empty)) for e in about])
        joined = _regression(hstack([words_of_about, extra]).tocsr(), answers)
        columns += [name, f"{name}+rules"]
        coefficients += [alone.coef_[0], joined.coef_[0][: len(kept)]]
        bias[name] = float(alone.intercept_[0])
        bias[f"{name}+rules"] = float(joined.intercept_[0])
        rules[name] = tuple(float(w) for w in joined.coef_[0][len(kept) :])
    weights = {
        term: tuple(float(row[index]) for row in coefficients) for term, index in column.items()
    }
    return Model.of(
        columns,
        idf,
        weights,
        bias=bias,
        rules=rules,
        threshold=THRESHOLD,
        trained_on=tuple(trained_on),
        articles=n,
    )


def decide(model: Model, example: Example) -> tuple[bool, frozenset[str]]:
    """What the model says of an example, as pipeline.facts.analyse decides it."""
    vector = model.features(example.terms)
    if not vector.known:  # not one word it learned: the rules decide
        return example.rules_kept, example.rules_labels
    if model.relevance(vector) < model.threshold:
        return False, frozenset()
    chances = model.category_probabilities(vector, example.found)
    # a category the model does not know is the rules' (as if they had kept the article)
    return True, frozenset(
        name
        for name in CATEGORIES
        if (name in chances and (chances[name] >= model.threshold or name in example.fact_kinds))
        or (name not in chances and name in example.found_labels)
    )


def count(report: Report, example: Example, kept: bool, labels: frozenset[str]) -> None:
    """Count one example's decision into a report's relevance and categories."""
    report.items += 1
    report.relevance.add(
        {example.id} if kept else set(), {example.id} if example.relevant else set()
    )
    for name, score in report.categories.items():
        score.add({name} & labels if kept else set(), {name} & example.categories)


def cross_validate(batch: Sequence[Example]) -> tuple[Report, Report]:
    """The rules' scores and the model's, each annotator's batch left out in turn."""
    rules, model_scores = Report(), Report()
    for example in batch:
        count(rules, example, example.rules_kept, example.rules_labels)
    for left_out in sorted({e.batch for e in batch}):
        model = learn([e for e in batch if e.batch != left_out])
        for example in batch:
            if example.batch == left_out:
                count(model_scores, example, *decide(model, example))
    return rules, model_scores


def main(argv: Sequence[str] | None = None) -> int:
    """Learn a model and write it, or cross-validate one and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.train", description=__doc__)
    parser.add_argument("folders", nargs="+", type=Path, metavar="FOLDER")
    parser.add_argument("--out", type=Path, help="write the learned model here")
    parser.add_argument("--cv", action="store_true", help="cross-validate; write nothing")
    parser.add_argument("--topic", type=Path, default=DEFAULT_TOPIC, help="the topic file")
    args = parser.parse_args(argv)
    if not args.out and not args.cv:
        parser.error("say --out FILE, --cv or both")
    empty = [str(f) for f in args.folders if not any(f.glob("*.toml"))]
    if empty:
        parser.error(f"no labelled articles (*.toml) in: {', '.join(empty)}")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("learning needs scikit-learn: pip install -e '.[train]'", file=sys.stderr)
        return 2
    batch = examples(args.folders, load_topic(args.topic))
    if len({e.relevant for e in batch}) < 2:
        parser.error("the labelled articles must include relevant and irrelevant ones")
    if args.cv:
        rules, model = cross_validate(batch)
        print(format_report("the rules", rules, labels_only=True))
        print()
        batches = len({e.batch for e in batch})
        print(format_report(f"the model, each of {batches} batches left out in turn", model, True))
    if args.out:
        model_ = learn(batch, trained_on=[f.name for f in args.folders])
        save_model(model_, args.out)
        print(f"{args.out}: learned from {len(batch)} articles, {model_.terms} terms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
