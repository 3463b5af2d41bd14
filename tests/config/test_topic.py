"""The topic file: the shipped one loads, and a wrong key, type or regex is named."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import config
from config import ConfigError
from config.topic import Topic, load_topic

SHIPPED = Path(config.__file__).parent / "topics" / "alita-battle-angel-2.toml"

MINIMAL = """
name = "Pacific Rim 3"
slug = "pacific-rim-3"
aliases = ["Pacific Rim 3"]
broad_terms = ["Pacific Rim"]
"""

TRAP = """
[[traps]]
name = "box-office"
patterns = ['\\bbox office\\b']
"""


def write(folder: Path, text: str) -> Path:
    """Write a topic file and return its path."""
    path = folder / "topic.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_topic_loads() -> None:
    topic = load_topic(SHIPPED)
    assert topic.name == "Alita: Battle Angel 2"
    assert topic.slug == "alita-battle-angel-2"
    assert "Alita 2" in topic.aliases
    assert {"Alita", "Battle Angel", "Gunnm"} <= set(topic.broad_terms)
    assert {"en", "es", "it", "de", "fr", "pt", "id"} <= set(topic.sequel_words)
    assert "secuela" in topic.sequel_words["es"]
    assert {"Rosa Salazar", "Robert Rodriguez", "James Cameron"} <= set(topic.people)
    assert {"Zalem", "Iron City", "Motorball"} <= set(topic.places)
    names = {trap.name for trap in topic.traps}
    assert {"box-office-2019", "review-2019", "manga-anime", "prequel-series"} <= names


def test_a_topic_is_frozen_and_hashable() -> None:
    topic = load_topic(SHIPPED)
    assert hash(topic) == hash(load_topic(SHIPPED))
    with pytest.raises(TypeError):
        topic.sequel_words["en"] = ("follow-up",)
    with pytest.raises(ValueError):
        topic.name = "Another film"  # type: ignore[misc]


def test_a_topic_hashed_once_stays_equal_to_its_copies_and_other_loads() -> None:
    # the hash is worked out once and kept on the topic; it must not make a hashed topic
    # differ from an unhashed one, outlive a change (model_copy) or travel to another
    # process (a reader process gets the topic pickled)
    topic = load_topic(SHIPPED)
    hashed = hash(topic)
    fresh = load_topic(SHIPPED)
    assert fresh == topic and {topic: "cached"}[fresh] == "cached"
    travelled = pickle.loads(pickle.dumps(topic))
    assert travelled == topic and hash(travelled) == hashed
    renamed = topic.model_copy(update={"name": "Another film"})
    assert renamed != topic and hash(renamed) != hashed


def test_a_minimal_topic_takes_defaults(tmp_path: Path) -> None:
    topic = load_topic(write(tmp_path, MINIMAL + TRAP))
    assert isinstance(topic, Topic)
    assert topic.franchise == () and dict(topic.sequel_words) == {}
    assert topic.relevance.keep_score == 0.5
    assert topic.traps[0].patterns == (r"\bbox office\b",)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (MINIMAL + 'alias = ["Pacific Rim III"]\n', ["unknown key 'alias'"]),
        (MINIMAL + "[relevance]\nkeep_treshold = 0.4\n", ["unknown key 'relevance.keep_treshold'"]),
        (
            MINIMAL.replace('aliases = ["Pacific Rim 3"]', 'aliases = "Pacific Rim 3"'),
            ["'aliases'"],
        ),
        (MINIMAL + '[relevance]\nkeep_score = "high"\n', ["'relevance.keep_score'", "'high'"]),
        (MINIMAL + "[sequel_words]\nen = [3]\n", ["'sequel_words.en[0]'"]),
        (MINIMAL + '[sequel_words]\nen = ["sequel", " "]\n', ["'sequel_words.en[1]'", "blank"]),
        (MINIMAL.replace('slug = "pacific-rim-3"', 'slug = "Pacific Rim"'), ["'slug'"]),
        (MINIMAL.replace('broad_terms = ["Pacific Rim"]', ""), ["missing key 'broad_terms'"]),
        (
            MINIMAL + TRAP.replace("\\bbox office\\b", "\\b(box office"),
            ["'traps[0].patterns[0]'", "regular expression", "missing )"],
        ),
        (
            MINIMAL + TRAP.replace("\\bbox office\\b", "\\bBox Office"),
            ["'traps[0].patterns[0]'", "lowercase"],
        ),
        (MINIMAL + TRAP + TRAP, ["'traps'", "repeated: box-office"]),
        (
            MINIMAL + '[spellings]\n"Idris Elba" = ["イドリス・エルバ"]\n',
            ["spellings", "not listed: Idris Elba"],
        ),
    ],
)
def test_a_wrong_key_type_or_pattern_names_file_and_key(
    tmp_path: Path, text: str, words: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_topic(path)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="not found") as caught:
        load_topic(path)
    assert str(path) in str(caught.value)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "aliases = [\n")
    with pytest.raises(ConfigError, match="invalid TOML") as caught:
        load_topic(path)
    assert str(path) in str(caught.value)
