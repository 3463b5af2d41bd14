"""The topic's learned model: what it decides beside the rules, and how one is learned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config import ConfigError, Topic, load_topic
from pipeline.facts import analyse
from pipeline.model import Model, load_model, topic_model
from pipeline.relevance import judge, sentences
from pipeline.train import main as train

# A fan post that never names the film: the rules cannot tell what "the sequel" is.
FAN_POST = (
    "WE DID IT. It's officially greenlit.",
    "The trades just posted it and a studio spokesperson confirmed it, so this isn't another"
    " 'sources say' tease. The studio greenlit the sequel. Rodriguez directing, Cameron"
    " producing through Lightstorm.\n\nEight years of billboards and blood drives. Rosa is only"
    " 'expected' to come back because her deal isn't signed yet, which, fine, I'll take"
    " expected.\n\nThe bad news: they're saying no release before 2030 because Weta has to fit"
    " it around Avatar. I will be old. I do not care.",
)
BOX_OFFICE = (
    "Why Alita: Battle Angel's $404 million was not enough",
    "Alita: Battle Angel opened in February 2019 and finished its run with $404 million"
    " worldwide, more than half of it from China. With a production budget reported at"
    " $170 million and a large marketing spend, analysts said the film needed close to $500"
    " million to break even, which is why fans had to wait so long for any news of a sequel."
    "\n\nIn the United States the film took $85 million, behind the studio's hopes.",
)


def rules_only(topic: Topic) -> Topic:
    """The shipped topic without its model: the rules decide."""
    return topic.model_copy(update={"model": None})


def test_the_shipped_topic_has_a_model(topic: Topic) -> None:
    model = topic_model(topic)
    assert model is not None
    assert model.categories == ("cast", "release", "plot", "production")
    assert model.articles > 1000 and "dev" in model.trained_on
    # the sets it is scored on were never learned from
    assert not {"heldout22", "heldout23", "heldout24", "heldout25"} & set(model.trained_on)


def test_the_model_keeps_a_fan_post_the_rules_drop(topic: Topic) -> None:
    title, text = FAN_POST
    by_rules = judge(rules_only(topic), title, text, outlet="Reddit")
    assert not by_rules.kept
    relevance = judge(topic, title, text, outlet="Reddit")
    assert relevance.kept and relevance.score >= 0.5
    assert "by the rules; the topic's model:" in relevance.reason
    labels = {
        label.category: label for label in analyse(topic, title, text, outlet="Reddit").labels
    }
    assert "production" in labels
    written = {view.text for view in sentences(topic, title, text, outlet="Reddit")}
    for label in labels.values():
        assert label.sentence in written  # a sentence of the article, as written
        assert 0.0 < label.confidence <= 1.0


def test_the_model_drops_the_first_films_box_office(topic: Topic) -> None:
    relevance = judge(topic, *BOX_OFFICE)
    assert not relevance.kept
    assert analyse(topic, *BOX_OFFICE).labels == ()


def test_an_article_without_a_word_the_model_knows_is_left_to_the_rules(topic: Topic) -> None:
    # the model's intercept alone would keep it: most labelled articles were relevant
    for title, text in (("", ""), ("🎉🎉🎉", "!!! ??? ..."), ("Zzyzx qwfp", "Vbnmx qwfpz.")):
        relevance = judge(topic, title, text)
        assert not relevance.kept
        assert relevance.reason.endswith("the topic's model knows none of its words.")
        assert analyse(topic, title, text).labels == ()


def test_a_fact_always_earns_its_kind_its_label(topic: Topic) -> None:
    title = "Alita: Battle Angel 2 is dated for December 2031"
    text = (
        "Disney has dated Alita: Battle Angel 2 for December 19, 2031. Rosa Salazar returns"
        " as Alita, and Robert Rodriguez directs from a script he wrote with James Cameron."
    )
    found = analyse(topic, title, text)
    kinds = {fact.kind for fact in found.facts}
    assert "release" in kinds
    assert kinds <= {label.category for label in found.labels}


def test_without_a_model_the_rules_decide(topic: Topic) -> None:
    rules = rules_only(topic)
    assert topic_model(rules) is None
    title = "Rosa Salazar will return as Alita in Alita: Battle Angel 2"
    text = "Rosa Salazar will return as Alita in Alita: Battle Angel 2, the studio confirmed."
    relevance = judge(rules, title, text)
    assert relevance.kept and "model" not in relevance.reason
    assert [label.category for label in analyse(rules, title, text).labels] == ["cast"]


def test_a_missing_or_broken_model_is_a_clear_error(tmp_path: Path, topic: Topic) -> None:
    shipped = Path(__file__).parents[2] / "config" / "topics" / "alita-battle-angel-2.toml"
    text = shipped.read_text(encoding="utf-8")
    (tmp_path / "topic.toml").write_text(
        text.replace('model = "alita-battle-angel-2.model.json"', 'model = "nowhere.json"'),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="model: file not found"):
        load_topic(tmp_path / "topic.toml")
    (tmp_path / "nowhere.json").write_text('{"format": 99}', encoding="utf-8")
    broken = load_topic(tmp_path / "topic.toml")
    with pytest.raises(ConfigError, match="cannot be read"):
        judge(broken, "Alita 2", "Alita 2 is coming.")


def test_a_model_survives_its_json(topic: Topic, tmp_path: Path) -> None:
    model = topic_model(topic)
    assert model is not None
    again = Model.from_json(json.loads(json.dumps(model.to_json())))
    vector = again.vector(*FAN_POST, "")
    assert again.relevance(vector) == pytest.approx(model.relevance(model.vector(*FAN_POST, "")))
    with pytest.raises(ValueError, match="format"):
        Model.from_json({**model.to_json(), "format": 0})


ARTICLE = '''id = "{ident}"
title = "{title}"
description = ""
text = """{text}"""
outlet = "Ledger"
language = "en"
url = "https://ledger.example/{ident}"
published = "2028-03-0{day}T10:00:00Z"
first_seen = "2028-03-0{day}T10:30:00Z"
relevant = {relevant}
categories = {categories}
story = "{story}"
duplicate_of = ""
stale = false
trap = "{trap}"
facts = []
'''


def _labelled(folder: Path) -> None:
    """Twenty-four small labelled articles in two annotators' batches: casting and release
    news of the sequel, and reviews of the first film."""
    folder.mkdir()
    for n in range(24):
        batch, day = ("a" if n % 2 else "b"), n % 9 + 1
        if n % 3 == 0:
            title, text = (
                "A look back at the first film",
                (
                    f"The first film opened in 2019 and critics praised the effects. Review {n}:"
                    " the action is fun, the romance is thin, the ending is abrupt."
                ),
            )
            relevant, categories, story, trap = "false", "[]", "", "review-2019"
        elif n % 3 == 1:
            title, text = (
                "Alita 2 casting news",
                (
                    f"Rosa Salazar will return as Alita in the sequel, casting report {n}. The"
                    " actor said she signed her deal and cannot wait to play the cyborg again."
                ),
            )
            relevant, categories, story, trap = "true", '["cast"]', f"cast-{n}", ""
        else:
            title, text = (
                "Alita 2 release date",
                (
                    f"Disney dated the sequel for December 2031, release report {n}. The studio"
                    " set the release in IMAX and 3D after Avatar 5."
                ),
            )
            relevant, categories, story, trap = "true", '["release"]', f"release-{n}", ""
        ident = f"{batch}{n}-article"
        (folder / f"{ident}.toml").write_text(
            ARTICLE.format(
                ident=ident,
                title=title,
                text=text,
                day=day,
                relevant=relevant,
                categories=categories,
                story=story,
                trap=trap,
            ),
            encoding="utf-8",
        )


def test_learning_a_model_and_cross_validating_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _labelled(tmp_path / "set")
    out = tmp_path / "learned.model.json"
    assert train(["--cv", "--out", str(out), str(tmp_path / "set")]) == 0
    printed = capsys.readouterr().out
    assert "the rules: 24 articles" in printed
    assert "the model, each of 24 batches left out in turn" in printed
    assert "categories (micro)" in printed
    model = load_model(out)
    assert model.articles == 24 and model.trained_on == ("set",)
    sequel = model.vector("Alita 2 casting", "", "Rosa Salazar will return as Alita in the sequel.")
    review = model.vector("A look back", "", "The first film opened in 2019; critics praised it.")
    assert model.relevance(sequel) > 0.5 > model.relevance(review)
    chances = model.category_probabilities(sequel, {})
    assert chances["cast"] > chances["release"]


def test_learning_needs_labelled_articles_and_an_aim(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        train([str(tmp_path)])  # neither --out nor --cv
    with pytest.raises(SystemExit):
        train(["--cv", str(tmp_path)])  # no articles there
