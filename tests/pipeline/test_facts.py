"""Facts: release windows, cast statuses and production status, normalised and guarded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.topic import Topic
from pipeline.facts import analyse
from pipeline.records import Analysis, Fact
from pipeline.relevance import sentences


@pytest.fixture(scope="module")
def topic(rules: Topic) -> Topic:
    """These are tests of the rules: the shipped topic without its learned model."""
    return rules


ARTICLES = Path(__file__).parents[1] / "data" / "classify"
PUBLISHED = datetime(2026, 11, 20, tzinfo=UTC)


def article(name: str) -> tuple[str, str]:
    """A test article: (headline, body)."""
    title, _, body = (ARTICLES / f"{name}.txt").read_text(encoding="utf-8").partition("\n")
    return title.strip(), body.strip()


def analysed(topic: Topic, name: str, published: datetime | None = PUBLISHED) -> Analysis:
    """Analyse one test article."""
    return analyse(topic, *article(name), published=published)


def facts(result: Analysis, kind: str) -> dict[tuple[str, str], Fact]:
    """The facts of one kind, by (subject, value)."""
    return {(f.subject, f.value): f for f in result.facts if f.kind == kind}


def test_release_windows_are_normalised(topic: Topic) -> None:
    release = facts(analysed(topic, "release"), "release")
    assert set(release) == {("release", "no earlier than 2030"), ("release", "after Avatar 5")}
    assert release["release", "no earlier than 2030"].detail == "won't arrive before 2030"
    assert release["release", "after Avatar 5"].detail == "after Avatar 5"
    assert release["release", "after Avatar 5"].sentence.startswith("The sequel will be dated")


def test_other_films_and_the_first_film_give_no_release_date(topic: Topic) -> None:
    values = {value for _, value in facts(analysed(topic, "release"), "release")}
    # Avatar 5's December 2028, Avatar 3's December 2025, the first film's February 2019
    assert not values & {"2028-12", "2025-12", "2019-02", "2019-02-14", "2028", "2025"}


def test_months_and_relative_years_are_resolved(topic: Topic) -> None:
    release = facts(analysed(topic, "release-relative"), "release")
    assert set(release) == {("release", "2027"), ("release", "2027-06")}
    assert release["release", "2027"].detail == "next year"
    assert release["release", "2027-06"].detail == "June 2027"
    undated = facts(analysed(topic, "release-relative", published=None), "release")
    assert set(undated) == {("release", "2027-06")}  # "next year" needs a date to resolve


def test_when_the_film_is_shot_is_not_when_it_comes_out(topic: Topic) -> None:
    result = analyse(
        topic,
        "Alita: Battle Angel 2 delayed to 2031",
        "Alita: Battle Angel 2 has been pushed to 2031. The sequel will not open in December"
        " 2030 as planned, after the shoot slipped into 2030. Principal photography is now"
        " expected to begin in early 2029.",
        published=PUBLISHED,
    )
    assert {value for _, value in facts(result, "release")} == {"2031"}


def release_of(topic: Topic, text: str) -> set[str]:
    """The release values of a small article about the sequel."""
    result = analyse(topic, "Alita: Battle Angel 2 gets a new date", text, published=PUBLISHED)
    return {value for _, value in facts(result, "release")}


def test_the_date_a_film_moves_from_is_not_its_date(topic: Topic) -> None:
    assert release_of(
        topic, "Disney moved Alita: Battle Angel 2 out of December 2030 and into July 2032."
    ) == {"2032-07"}
    assert release_of(
        topic, "Disney has pushed Alita: Battle Angel 2 from June 20, 2031, to July 16, 2032."
    ) == {"2032-07"}
    assert release_of(
        topic, "Disney moved Alita: Battle Angel 2 from December to July 23, 2032."
    ) == {"2032-07"}


def test_christmas_is_december_and_a_shoot_is_not_a_release(topic: Topic) -> None:
    assert release_of(
        topic, "Disney dated Alita: Battle Angel 2 for the week before Christmas 2031."
    ) == {"2031-12"}
    assert release_of(
        topic,
        "Alita: Battle Angel 2 means a shoot in 2029 at the earliest, so Alita: Battle Angel 2 "
        "will not reach theaters before 2030.",
    ) == {"no earlier than 2030"}


def test_polish_months_and_more_ways_of_saying_not_before(topic: Topic) -> None:
    # a Polish month comes in three cases
    assert release_of(topic, "Alita: Battle Angel 2 trafi do kin w lipcu 2031 roku.") == {"2031-07"}
    assert release_of(
        topic, "Alita: Battle Angel 2 trafi do kin 20 grudnia 2030 roku, takze w IMAX."
    ) == {"2030-12"}
    assert release_of(
        topic, "Cameron says that puts Alita: Battle Angel 2 in 2031 at the very earliest."
    ) == {"no earlier than 2031"}
    assert release_of(
        topic, "Ein Kinostart von Alita: Battle Angel 2 vor 2032 ist damit ausgeschlossen."
    ) == {"no earlier than 2032"}


def test_cast_statuses_and_roles(topic: Topic) -> None:
    cast = facts(analysed(topic, "cast"), "cast")
    assert cast["Rosa Salazar", "returning"].detail == "Alita"
    # leaving: will not return; denied: a report of their involvement was denied
    assert cast["Mahershala Ali", "leaving"].detail == "Vector"
    assert cast["Keean Johnson", "wants to return"].detail is None
    assert set(cast) == {
        ("Rosa Salazar", "returning"),
        ("Mahershala Ali", "leaving"),
        ("Keean Johnson", "wants to return"),
    }  # "Rosa Salazar played Alita in 2019" is the first film's casting


def test_a_denied_rumour_is_a_denial(topic: Topic) -> None:
    cast = facts(analysed(topic, "cast-denial"), "cast")
    assert set(cast) == {("Ed Skrein", "denied")}
    assert cast["Ed Skrein", "denied"].detail == "Zapan"


def cast_of(topic: Topic, title: str, text: str) -> set[tuple[str, str]]:
    """The (person, status) cast facts of a small article."""
    return set(facts(analyse(topic, title, text, published=PUBLISHED), "cast"))


def test_people_named_together_share_their_status(topic: Topic) -> None:
    found = cast_of(
        topic,
        "Rosa Salazar and Christoph Waltz are set to return for Alita: Battle Angel 2",
        "Rosa Salazar, Christoph Waltz and Keean Johnson will reprise their roles in Alita: "
        "Battle Angel 2, the studio said on Tuesday. Jennifer Connelly will not return.",
    )
    assert found == {
        ("Rosa Salazar", "returning"),
        ("Christoph Waltz", "returning"),
        ("Keean Johnson", "returning"),
        ("Jennifer Connelly", "leaving"),
    }


def test_wishes_exits_denials_and_questions(topic: Topic) -> None:
    assert cast_of(
        topic,
        "Keean Johnson wants back in for Alita: Battle Angel 2",
        "Keean Johnson said he'd put the cyborg body back on tomorrow for Alita: Battle Angel 2.",
    ) == {("Keean Johnson", "wants to return")}
    assert cast_of(
        topic,
        "Lana Condor is not in Alita: Battle Angel 2, her representative says",
        "Christoph Waltz has left Alita: Battle Angel 2, the studio said.",
    ) == {("Lana Condor", "denied"), ("Christoph Waltz", "leaving")}
    assert cast_of(topic, "Keean Johnson back as Hugo in Alita: Battle Angel 2??", "") == set()


def test_a_japanese_article_speaks_of_the_person_as_the_topic_lists_them(topic: Topic) -> None:
    found = cast_of(
        topic,
        "『アリータ：バトル・エンジェル2』ローサ・サラザールの続投が決定",
        "『アリータ：バトル・エンジェル2』で、ローサ・サラザールが主人公アリータ役を続投する。",
    )
    assert found == {("Rosa Salazar", "returning")}


def test_a_newcomer_the_topic_does_not_know_is_joining(topic: Topic) -> None:
    # a new name is news no topic file can list beforehand: named beside "has been cast"
    found = cast_of(
        topic,
        "Alita: Battle Angel 2 casts its Motorball champion",
        "Dario Vance, a Juilliard graduate best known for the crime series Cold Harbor, has "
        "been cast as Jashugan in Alita: Battle Angel 2, 20th Century Studios said on Tuesday. "
        "Disney has also cast the stage actor Kai Tamura-Wells as Zapan in Alita: Battle "
        "Angel 2.",
    )
    assert found == {("Dario Vance", "joining"), ("Kai Tamura-Wells", "joining")}


def test_names_that_are_no_newcomers(topic: Topic) -> None:
    # a title-case headline, an outlet spoken to, a claim not yet a fact
    found = cast_of(
        topic,
        "Alita: Battle Angel 2 Casts Newcomer As Motorball Champion Jashugan",
        "Rosa Salazar, in a chat with Marquee Wire, confirmed that she is back as Alita in "
        "Alita: Battle Angel 2. An anonymous account claimed that Mahershala Ali had signed "
        "to reprise Vector in Alita: Battle Angel 2.",
    )
    assert found == {("Rosa Salazar", "returning")}


def test_production_statuses(topic: Topic) -> None:
    production = facts(analysed(topic, "production"), "production")
    assert set(production) == {("status", "greenlit"), ("status", "script written")}
    # "Cameras are not rolling yet": negated, so not shooting


def production_of(topic: Topic, text: str, title: str = "Alita: Battle Angel 2 news") -> set[str]:
    """The production statuses of a small article."""
    result = analyse(topic, title, text, published=PUBLISHED)
    return {value for _, value in facts(result, "production")}


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Disney delays Alita: Battle Angel 2 as Weta finishes Avatar 4.", "delayed"),
        ("Alita: Battle Angel 2 slips out of its December slot, Disney said.", "delayed"),
        ("Performance capture began in Austin on Monday for Alita: Battle Angel 2.", "shooting"),
        (
            "20th Century formally greenlights Alita: Battle Angel 2 after years of talks.",
            "greenlit",
        ),
        (
            "The Alita: Battle Angel 2 screenplay has been delivered to the studio.",
            "script written",
        ),
    ],
)
def test_production_statuses_said_other_ways(topic: Topic, text: str, status: str) -> None:
    assert production_of(topic, text) == {status}


def test_what_is_planned_is_no_status_yet(topic: Topic) -> None:
    assert production_of(
        topic,
        "Alita: Battle Angel 2 is in development. Cameras roll in Austin in October, and the "
        "studio will greenlight a budget first. Cameron co-wrote the script with Rodriguez.",
    ) == {"in development"}


def test_a_denied_report_states_no_status(topic: Topic) -> None:
    assert production_of(
        topic,
        "James Cameron dismissed reports that Alita: Battle Angel 2 was quietly shelved. "
        "Alita: Battle Angel 2 is in active development, he said.",
        title="Alita 2 is not shelved, Cameron says",
    ) == {"in development"}


def test_a_spanish_release_window(topic: Topic) -> None:
    release = facts(analysed(topic, "es"), "release")
    assert set(release) == {("release", "no earlier than 2030")}
    assert (
        release["release", "no earlier than 2030"].detail == "no llegará a los cines antes de 2030"
    )


def test_an_italian_cast_return(topic: Topic) -> None:
    cast = facts(analysed(topic, "it"), "cast")
    assert cast["Rosa Salazar", "returning"].detail == "Alita"


def test_traps_give_no_facts(topic: Topic) -> None:
    assert analysed(topic, "trap-other-sequel") == Analysis(labels=(), facts=())
    kinds = {f.kind for f in analysed(topic, "trap-review").facts}
    assert kinds == {"production"}


@pytest.mark.parametrize("name", ["cast", "cast-denial", "release", "production", "es", "it"])
def test_each_fact_keeps_its_sentence_as_written(topic: Topic, name: str) -> None:
    written = {view.text for view in sentences(topic, *article(name))}
    result = analysed(topic, name)
    assert result.facts
    for fact in result.facts:
        assert fact.sentence in written
        assert 0.0 < fact.confidence <= 1.0
        assert fact.detail is None or fact.detail.strip()
    assert {label.category for label in result.labels} >= {f.kind for f in result.facts}
