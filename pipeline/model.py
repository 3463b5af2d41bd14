"""What labelled articles taught: a linear model of an article's words, beside the rules.

The topic's rules (pipeline.relevance, pipeline.classify) say why an article is kept and
what it is about, sentence by sentence. They miss what a reader takes from the whole: a
fan post that never names the film ("WE DID IT. It's officially greenlit."), the third
topic of an article mentioned in passing. A topic may ship a model learned from its
labelled articles (`python -m pipeline.train`; `model = "FILE"` in the topic file):

- the features are the article's words and pairs of adjacent words, folded like the rules
  fold them (case, accents), weighted by TF-IDF (1 + log of the count, times how rare the
  term was among the labelled articles) and scaled to unit length;
- relevance is one logistic regression over them;
- each category is the mean of two logistic regressions over the articles about the
  sequel: one over the words alone, one over the words and what the rules found for the
  category (`RULE_FEATURES`).

Reading a model takes a dictionary look-up per word and one matrix product (numpy): no
learning library is needed here, only to train one (pipeline.train).
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from config.errors import ConfigError
from config.topic import Topic
from pipeline.folding import normalize
from pipeline.memo import last_call

FORMAT = 2
TOKEN = re.compile(r"\w\w+")
# what the rules found for a category, as the model reads it: whether they label it,
# whether its evidence alone earns it, and how much evidence there is (summed, and the
# strongest sentence's), log-scaled
RULE_FEATURES = ("labelled", "earned", "total", "best")


def words(*texts: str) -> list[str]:
    """The words of some texts, folded like the rules fold them, in order."""
    return TOKEN.findall(normalize("\n".join(texts)))


def terms(tokens: Sequence[str]) -> Counter[str]:
    """Each word and each pair of adjacent words, counted."""
    counted = Counter(tokens)
    counted.update(map(" ".join, zip(tokens, tokens[1:], strict=False)))
    return counted


def tfidf(counted: Mapping[str, int], idf: Mapping[str, float]) -> dict[str, float]:
    """The known terms of a text weighted by TF-IDF, scaled to unit length."""
    weighted = {
        term: (1.0 + math.log(count)) * idf[term] for term, count in counted.items() if term in idf
    }
    length = math.sqrt(math.fsum(value * value for value in weighted.values()))
    return {term: value / length for term, value in weighted.items()} if length else {}


def rule_features(labelled: bool, earned: bool, total: float, best: float) -> tuple[float, ...]:
    """What the rules found for one category, as the model's extra features."""
    return (float(labelled), float(earned), math.log1p(total), math.log1p(best))


def _sigmoid(value: float) -> float:
    """The logistic function, safe at both ends."""
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    small = math.exp(value)
    return small / (1.0 + small)


@dataclass(frozen=True, slots=True)
class Features:
    """What a model reads of one article: each column's weighted sum over its terms."""

    sums: tuple[float, ...]
    known: int  # how many of its terms the model knows: with none, it has nothing to say


@dataclass(frozen=True, slots=True)
class Model:
    """A topic's learned weights: per term its idf and one weight per column (a matrix of
    32-bit floats: a dictionary of per-term tuples cost every process that reads pages
    20 MB, and summing nine columns term by term in Python a millisecond a page)."""

    columns: tuple[str, ...]  # "relevant", then per category "<name>" and "<name>+rules"
    rows: dict[str, int]  # term -> its row
    idf: list[float]  # per row: how rare the term was among the labelled articles
    weights: np.ndarray  # per row, a weight per column (float32)
    _idf: np.ndarray  # idf as an array, to weigh many terms at once
    bias: dict[str, float]  # column -> intercept
    rules: dict[str, tuple[float, ...]]  # category -> weights of RULE_FEATURES
    threshold: float  # a probability at or above it says yes
    trained_on: tuple[str, ...]  # the labelled sets it learned from
    articles: int  # how many labelled articles

    @classmethod
    def of(
        cls,
        columns: Sequence[str],
        idf: Mapping[str, float],
        weights: Mapping[str, Sequence[float]],
        **rest: Any,
    ) -> Model:
        """A model from its idf and its weights per term and column."""
        order = sorted(weights)
        if any(len(weights[term]) != len(columns) for term in order):
            raise ValueError("a term's row does not have a weight per column")
        matrix = np.array([weights[term] for term in order], dtype=np.float32)
        return cls(
            columns=tuple(columns),
            rows={term: row for row, term in enumerate(order)},
            idf=[float(np.float32(idf[term])) for term in order],
            weights=matrix.reshape(len(order), len(columns)),
            _idf=np.array([idf[term] for term in order], dtype=np.float32).astype(np.float64),
            **rest,
        )

    @property
    def terms(self) -> int:
        """How many terms it knows."""
        return len(self.rows)

    @property
    def categories(self) -> tuple[str, ...]:
        """The categories it decides, in its columns' order."""
        return tuple(c for c in self.columns if c != "relevant" and not c.endswith("+rules"))

    def vector(self, title: str, description: str, text: str) -> Features:
        """An article's features."""
        return self.features(terms(words(title, description, text)))

    def features(self, counted: Mapping[str, int]) -> Features:
        """Counted terms weighted by TF-IDF, scaled to unit length (as `tfidf`), with each
        column's weighted sum over them."""
        known = counted.keys() & self.rows.keys()
        if not known:
            return Features((0.0,) * len(self.columns), 0)
        rows = np.fromiter((self.rows[term] for term in known), dtype=np.intp, count=len(known))
        counts = np.fromiter((counted[term] for term in known), dtype=np.float64, count=len(known))
        weighted = (1.0 + np.log(counts)) * self._idf[rows]
        weighted /= math.sqrt(float(weighted @ weighted))
        sums = weighted @ self.weights[rows].astype(np.float64)
        return Features(tuple(float(total) for total in sums), len(known))

    def relevance(self, vector: Features) -> float:
        """How probably the article is about the sequel (0..1)."""
        index = self.columns.index("relevant")
        return _sigmoid(vector.sums[index] + self.bias["relevant"])

    def category_probabilities(
        self, vector: Features, found: Mapping[str, tuple[float, ...]]
    ) -> dict[str, float]:
        """How probably the article is about each category (0..1), given its features and
        what the rules found for each (`rule_features`, zeros where nothing was)."""
        sums = dict(zip(self.columns, vector.sums, strict=True))
        empty = rule_features(False, False, 0.0, 0.0)
        result = {}
        for name in self.categories:
            words_only = _sigmoid(sums[name] + self.bias[name])
            extra = math.fsum(
                w * f for w, f in zip(self.rules[name], found.get(name, empty), strict=True)
            )
            with_rules = _sigmoid(sums[f"{name}+rules"] + self.bias[f"{name}+rules"] + extra)
            result[name] = (words_only + with_rules) / 2
        return result

    def best_sentence(self, category: str, sentences: Iterable[str]) -> int | None:
        """The index of the sentence whose words speak most for a category (None: none of
        them has a word that does)."""
        column = self.columns.index(category)
        best, best_score = None, 0.0
        for position, sentence in enumerate(sentences):
            rows = [self.rows[term] for term in terms(words(sentence)) if term in self.rows]
            score = math.fsum(float(self.weights[row, column]) * self.idf[row] for row in rows)
            if score > best_score:
                best, best_score = position, score
        return best

    def to_json(self) -> dict[str, Any]:
        """The model as a JSON document: its terms in order, and the table of their rows
        (idf, then a weight per column) as base64 of little-endian float32: a list of
        numbers per term took a quarter of a second and 20 MB to read."""
        table = np.column_stack([np.array(self.idf, dtype=np.float32), self.weights])
        return {
            "format": FORMAT,
            "trained_on": list(self.trained_on),
            "articles": self.articles,
            "threshold": self.threshold,
            "columns": list(self.columns),
            "bias": self.bias,
            "rules": {k: list(v) for k, v in self.rules.items()},
            "rule_features": list(RULE_FEATURES),
            "terms": sorted(self.rows, key=self.rows.__getitem__),
            "table": base64.b64encode(table.astype("<f4").tobytes()).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        """A model from its JSON document; ValueError when it is not one."""
        if data.get("format") != FORMAT:
            raise ValueError(f"not a sequelwatch model of format {FORMAT}")
        columns = tuple(data["columns"])
        if "relevant" not in columns or list(data["rule_features"]) != list(RULE_FEATURES):
            raise ValueError("the model's columns or rule features are not the ones read here")
        flat = np.frombuffer(base64.b64decode(data["table"], validate=True), dtype="<f4")
        names = data["terms"]
        if flat.size != len(names) * (len(columns) + 1):
            raise ValueError("the table does not have a row of weights per term")
        table = flat.reshape(len(names), len(columns) + 1).astype(np.float32)
        return cls(
            columns=columns,
            rows={term: row for row, term in enumerate(names)},
            idf=[float(value) for value in table[:, 0]],
            weights=np.ascontiguousarray(table[:, 1:]),
            _idf=table[:, 0].astype(np.float64),
            bias={k: float(v) for k, v in data["bias"].items()},
            rules={k: tuple(float(w) for w in v) for k, v in data["rules"].items()},
            threshold=float(data["threshold"]),
            trained_on=tuple(data.get("trained_on", ())),
            articles=int(data.get("articles", 0)),
        )


def save_model(model: Model, path: Path) -> None:
    """Write a model as compact JSON."""
    path.write_text(json.dumps(model.to_json(), separators=(",", ":")) + "\n", encoding="utf-8")


@functools.lru_cache(maxsize=4)
def _load(path: str, modified: float) -> Model:
    """A model file read once per change."""
    with open(path, encoding="utf-8") as handle:
        return Model.from_json(json.load(handle))


def load_model(path: str | Path) -> Model:
    """The model in a file (cached until the file changes); OSError or ValueError when it
    cannot be read."""
    resolved = Path(path)
    try:
        return _load(str(resolved), resolved.stat().st_mtime)
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"{resolved}: not a sequelwatch model ({err})") from err


def topic_model(topic: Topic) -> Model | None:
    """The topic's model, None when it has none; ConfigError when its file is no model."""
    if topic.model is None:
        return None
    try:
        return load_model(topic.model)
    except (OSError, ValueError) as err:
        raise ConfigError(f"model: {topic.model}: cannot be read ({err})") from err


@last_call  # the judge and then the classifier read the same article
def article_vector(model: Model, title: str, description: str, text: str) -> Features:
    """An article's features, worked out once for the judge and the classifier."""
    return model.vector(title, description, text)
