"""Classification: categories with evidence, on short articles written for the tests."""

from __future__ import annotations

import tomllib
from pathlib import Path

import feedparser
import pytest

from config.topic import Topic, load_topic
from pipeline.classify import classify, sentence_evidence
from pipeline.extract import extract
from pipeline.relevance import judge, sentences


@pytest.fixture(scope="module")
def topic(rules: Topic) -> Topic:
    """These are tests of the rules: the shipped topic without its learned model."""
    return rules


ARTICLES = Path(__file__).parents[1] / "data" / "classify"
SAMPLE_WORLD = Path(__file__).parents[2] / "sequelwatch" / "sampleworld"


def article(name: str) -> tuple[str, str]:
    """A test article: (headline, body)."""
    text = (ARTICLES / f"{name}.txt").read_text(encoding="utf-8")
    title, _, body = text.partition("\n")
    return title.strip(), body.strip()


def earned(topic: Topic, name: str) -> dict[str, str]:
    """Category -> evidence sentence for one test article."""
    return {label.category: label.sentence for label in classify(topic, *article(name))}


def categories(topic: Topic, title: str, text: str, description: str = "") -> set[str]:
    """The categories an article earns."""
    return {label.category for label in classify(topic, title, text, description)}


@pytest.mark.parametrize(
    ("name", "category", "words"),
    [
        ("cast", "cast", "Rosa Salazar will return as Alita"),
        ("cast-denial", "cast", "Ed Skrein has not been approached"),
        ("release", "release", "after Avatar 5"),
        ("plot", "plot", "Nova, Zalem and a Motorball season"),
        ("production", "production", "Disney has greenlit"),
        ("es", "release", "no llegará a los cines antes de 2030"),
        ("it", "cast", "Rosa Salazar tornerà nei panni di Alita"),
    ],
)
def test_each_category_is_earned_with_its_sentence(
    topic: Topic, name: str, category: str, words: str
) -> None:
    labels = earned(topic, name)
    # the category the article is about comes first; a second one it also states may follow
    assert category in labels
    assert words in labels[category]  # as written: case and accents kept


def test_an_article_can_earn_several_categories(topic: Topic) -> None:
    labels = classify(topic, *article("multi"))
    assert {label.category for label in labels} == {"cast", "release"}
    assert all(0.0 < label.confidence <= 1.0 for label in labels)


GREENLIGHT = (
    "Alita: Battle Angel 2 gets the green light, Robert Rodriguez back to direct",
    "20th Century Studios has greenlit Alita: Battle Angel 2 after years in development. "
    "Robert Rodriguez directs from a screenplay he wrote with James Cameron, who produces "
    "through Lightstorm. Pre-production starts in Austin next spring, with principal "
    "photography planned for the following year and Weta FX on the visual effects. The "
    "budget is said to be smaller than the first film's. Story details are being kept "
    "quiet, though Rodriguez has said for years that the sequel would take Alita up to "
    "Zalem.",
)


def test_one_clear_sentence_of_a_side_subject_earns_it(topic: Topic) -> None:
    labels = {label.category: label.sentence for label in classify(topic, *GREENLIGHT)}
    # a long article about the greenlight; its one line on the story still files it as plot
    assert set(labels) == {"production", "plot"}
    assert "up to Zalem" in labels["plot"]


def test_a_review_summary_inside_sequel_news_earns_no_plot(topic: Topic) -> None:
    assert list(earned(topic, "trap-review")) == ["production"]


def test_another_films_sequel_earns_nothing(topic: Topic) -> None:
    assert classify(topic, *article("trap-other-sequel")) == ()


def test_an_article_the_judge_drops_earns_nothing(topic: Topic) -> None:
    title, body = article("cast")
    body = "\n\n".join(["A rewatch review of the 2019 film, four stars out of five."] * 6 + [body])
    assert not judge(topic, "Rewatch review: the 2019 cyborg film", body).kept
    assert classify(topic, "Rewatch review: the 2019 cyborg film", body) == ()


def test_trap_sentences_and_the_earlier_film_are_never_evidence(topic: Topic) -> None:
    views = sentences(topic, *article("trap-review"))
    evidence = {item.sentence.text for item in sentence_evidence(topic, views)}
    review = next(v for v in views if v.text.startswith("Our review"))
    assert review.kind == "trap" and review.traps == ("review-2019",)
    assert review.text not in evidence
    played = sentences(topic, *article("cast"))[-1]
    assert (
        played.text
        == "Rosa Salazar played Alita in 2019, when the first film opened to mixed reactions."
    )
    assert played.kind == "support"
    assert played.text not in {e.sentence.text for e in sentence_evidence(topic, [played])}


def test_sentences_are_given_as_written_title_first(topic: Topic) -> None:
    views = sentences(topic, "Alita 2: “Ready” – says Salazar", "Ella volverá. “Sí.” Bien")
    assert [v.text for v in views] == [
        "Alita 2: “Ready” – says Salazar",
        "Ella volverá.",
        "“Sí.”",
        "Bien",
    ]
    assert views[0].normalized == 'alita 2: "ready" - says salazar'
    assert views[0].kind == "sequel" and views[0].alias
    assert [v.index for v in views] == [0, 1, 2, 3]


MINIMAL = """
name = "Pacific Rim 3"
slug = "pacific-rim-3"
aliases = ["Pacific Rim 3"]
broad_terms = ["Pacific Rim"]
people = ["Rinko Kikuchi"]

[categories.cast]
terms.en = ["cast", "role"]
people = ["Rinko Kikuchi"]

[categories.release]
terms.en = ["release date"]
"""


def test_another_topic_defines_its_own_categories(tmp_path: Path) -> None:
    (tmp_path / "topic.toml").write_text(MINIMAL, encoding="utf-8")
    other = load_topic(tmp_path / "topic.toml")
    labels = classify(
        other,
        "Pacific Rim 3 adds Rinko Kikuchi to its cast",
        "Pacific Rim 3 has cast Rinko Kikuchi in her old role. Pacific Rim 3 has no release date.",
    )
    assert [label.category for label in labels] == ["cast"]
    assert labels[0].sentence == "Pacific Rim 3 has cast Rinko Kikuchi in her old role."


def _sample_articles() -> list[tuple[str, str, str, str, set[str]]]:
    """The sample world's articles: (path, title, text, description, expected categories)."""
    manifest = tomllib.loads((SAMPLE_WORLD / "manifest.toml").read_text(encoding="utf-8"))
    entries = {}
    for feed in SAMPLE_WORLD.glob("site/**/*.atom"):
        parsed = feedparser.parse(feed.read_text(encoding="utf-8").replace("@@BASE@@", ""))
        for entry in parsed.entries:
            if entry.get("content"):
                entries[entry.link] = (entry.title, entry.content[0].value)
    found = []
    for item in manifest["articles"]:
        path = item["path"]
        if item["template"] == "feed-entry":
            title, html = entries[path]
        else:
            title, html = "", (SAMPLE_WORLD / "site" / path.lstrip("/")).read_text(encoding="utf-8")
        page = extract(html.replace("@@BASE@@", "http://127.0.0.1"), "http://127.0.0.1" + path)
        found.append(
            (path, page.title or title, page.text, page.description or "", set(item["categories"]))
        )
    return found


def test_the_sample_world_is_classified_as_its_manifest_says(topic: Topic) -> None:
    counts = {name: [0, 0, 0] for name in topic.categories}  # true pos, false pos, false neg
    for _, title, text, description, expected in _sample_articles():
        got = categories(topic, title, text, description)
        for name, (tp, fp, fn) in counts.items():
            counts[name] = [
                tp + (name in got & expected),
                fp + (name in got - expected),
                fn + (name in expected - got),
            ]
    lines = []
    for name, (tp, fp, fn) in counts.items():
        precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
        lines.append(f"{name}: precision {precision:.2f} recall {recall:.2f}")
    tp, fp, fn = (sum(c[i] for c in counts.values()) for i in range(3))
    micro = 2 * tp / (2 * tp + fp + fn)
    print("; ".join(lines) + f"; micro-F1 {micro:.2f}")
    assert all(c[2] == 0 for c in counts.values()), lines  # every category found
    assert micro >= 0.85, lines


DELAY = (
    "Alita: Battle Angel 2 pushed to 2031 as shoot is delayed",
    "Alita: Battle Angel 2 will not make its December 2030 release date. 20th Century"
    " Studios confirmed that the start of filming has been delayed by several months and"
    " that the sequel will now open in 2031. The studio did not set a new date. Principal"
    " photography is now expected to begin in early 2030. Director Robert Rodriguez said"
    " the extra time would be used well. Rosa Salazar is set to return as Alita, and James"
    " Cameron produces.",
)


def test_a_side_subject_stated_as_a_fact_earns_its_category(topic: Topic) -> None:
    labels = {label.category: label.sentence for label in classify(topic, *DELAY)}
    assert {"release", "production", "cast"} <= set(labels)
    assert "Rosa Salazar is set to return" in labels["cast"]


def test_a_sentence_carrying_on_the_subject_counts(topic: Topic) -> None:
    title = "One more year for Alita: Battle Angel 2"
    text = (
        "Five weeks after it was greenlit, the Alita sequel has its first setback. The"
        " studio has moved the release from December 2030 to an unspecified date in 2031."
    )
    labels = {label.category: label.sentence for label in classify(topic, title, text)}
    assert "release" in labels


def test_one_place_of_the_story_in_a_sequel_sentence_is_plot(topic: Topic) -> None:
    title = "Alita 2 will take her up"
    text = (
        "Robert Rodriguez says the sequel's last act is set in Zalem, the floating city."
        " The film is in development."
    )
    assert "plot" in categories(topic, title, text)


def test_the_long_delayed_sequel_is_no_production_news(topic: Topic) -> None:
    title = "Rosa Salazar is back for Alita: Battle Angel 2"
    text = (
        "Rosa Salazar will reprise the title role in Alita: Battle Angel 2, ending years of"
        " speculation about whether the long-delayed sequel would recast its lead."
    )
    assert categories(topic, title, text) == {"cast"}


def test_the_studio_confirming_a_casting_is_no_production_news(topic: Topic) -> None:
    title = "Ed Skrein is back for Alita: Battle Angel 2"
    text = (
        "Ed Skrein has closed a deal to reprise his role as Zapan in Alita: Battle Angel 2,"
        " 20th Century Studios confirmed on Tuesday. The studio would not comment on the rest"
        " of the cast."
    )
    assert categories(topic, title, text) == {"cast"}


def test_no_date_yet_is_news_of_its_release(topic: Topic) -> None:
    title = "Alita: Battle Angel 2 starts performance capture in Austin"
    text = (
        "Production is under way on Alita: Battle Angel 2. Robert Rodriguez began"
        " performance capture on Monday at Troublemaker Studios. The shoot runs five"
        " months. Disney has not announced a release date."
    )
    labels = {label.category: label.sentence for label in classify(topic, title, text)}
    assert labels["release"] == "Disney has not announced a release date."
    undated = text.replace("has not announced a release date", "has not said a word")
    assert "release" not in categories(topic, title, undated)


def test_what_the_sequel_will_do_counts_beside_a_memory_of_the_first_film(topic: Topic) -> None:
    title = "Alita: Battle Angel 2 gets the green light"
    text = (
        "20th Century Studios announced that Alita: Battle Angel 2 is going into production."
        " Robert Rodriguez returns as director. The announcement did not include a synopsis,"
        " but Rodriguez has said the story will take Alita to Zalem, the floating city seen"
        " at the end of the first film."
    )
    assert "plot" in categories(topic, title, text)
    recap = text.replace("the story will take Alita to Zalem", "the story took Alita to Zalem")
    assert "plot" not in categories(topic, title, recap)


def test_a_parked_car_is_no_parked_film(topic: Topic) -> None:
    title = "Dario Vance cast as Jashugan in Alita: Battle Angel 2"
    text = (
        "Dario Vance has been cast as Jashugan in Alita: Battle Angel 2. If you know Vance"
        " from Cold Harbor, where he spent three seasons in a parked car, this may look odd."
    )
    assert "production" not in categories(topic, title, text)
    parked = "Alita: Battle Angel 2 is parked until the fourth Avatar film is finished."
    assert "production" in categories(topic, title, parked)


def test_a_character_named_as_an_actors_part_is_casting_not_plot(topic: Topic) -> None:
    title = "Marco Elling replaces Dario Vance in Alita: Battle Angel 2"
    text = (
        "Dario Vance has left Alita: Battle Angel 2, and Marco Elling will take over the role"
        " of Motorball champion Jashugan, the studio confirmed."
    )
    assert categories(topic, title, text) == {"cast"}
    story = text + " In the sequel Jashugan is the champion Alita must beat on her way to Zalem."
    assert "plot" in categories(topic, title, story)


def test_a_forum_thread_is_no_plot_thread(topic: Topic) -> None:
    title = "Mahershala Ali is not in Alita 2"
    text = (
        "Mahershala Ali's rep says he is not returning as Vector in Alita 2. UPDATE since"
        " this thread is on fire: Frameline got a statement from his rep."
    )
    assert "plot" not in categories(topic, title, text)


def test_declining_to_comment_on_casting_is_no_cast_news(topic: Topic) -> None:
    title = "Disney greenlights Alita: Battle Angel 2"
    text = (
        "20th Century Studios has greenlit Alita: Battle Angel 2, with Robert Rodriguez"
        " directing from a script he wrote with James Cameron. A studio spokesperson declined"
        " to comment on casting, including whether Rosa Salazar would return in the title role."
    )
    assert "cast" not in categories(topic, title, text)


def test_not_in_the_sequel_is_cast_news(topic: Topic) -> None:
    title = "Lana Condor NOT in Alita 2, rep kills the call sheet rumor"
    text = "Her rep says Lana hasn't been approached about the sequel."
    assert "cast" in categories(topic, title, text)


@pytest.mark.parametrize(
    "declined",
    [
        "Zur Besetzung wollte sich Rodriguez nicht äußern.",
        "El estudio no quiso comentar el reparto.",
        "Sul cast lo studio non ha voluto commentare.",
    ],
)
def test_declining_to_comment_earns_nothing_in_other_languages_too(
    topic: Topic, declined: str
) -> None:
    title = "Alita: Battle Angel 2"
    evidence = sentence_evidence(topic, sentences(topic, title, declined))
    assert not [e for e in evidence if e.sentence.index == 1]
    # the same sentence saying something is evidence of the cast
    said = declined.replace("wollte sich Rodriguez nicht äußern", "äußerte sich Rodriguez")
    said = said.replace("no quiso comentar", "comentó").replace("non ha voluto", "ha voluto")
    evidence = sentence_evidence(topic, sentences(topic, title, said))
    assert [e.category for e in evidence if e.sentence.index == 1] == ["cast"]


def test_an_actors_part_named_as_theirs_is_cast_news(topic: Topic) -> None:
    title = "The first Alita: Battle Angel 2 trailer takes Alita to Zalem"
    text = (
        "The trailer closes on a two-second shot of Keean Johnson's Hugo, alive and standing"
        " in a Zalem corridor."
    )
    assert "cast" in categories(topic, title, text)


def test_where_the_sequel_ends_or_what_is_set_where_is_plot(topic: Topic) -> None:
    title = "Alita: Battle Angel 2 moves to March 2031"
    text = (
        "Disney moved Alita: Battle Angel 2 to March 14, 2031, citing the visual effects. The"
        " cut is long, and its sequences inside Zalem are all digital. Insiders say the film"
        " ends at Zalem."
    )
    assert "plot" in categories(topic, title, text)
    plain = text.replace(", and its sequences inside Zalem are all digital", "").replace(
        " Insiders say the film ends at Zalem.", ""
    )
    assert "plot" not in categories(topic, title, plain)


def test_an_actor_who_wants_back_in_is_cast_news_beside_the_first_film(topic: Topic) -> None:
    title = "James Cameron: 'Alita 2 is in development, and Rosa wants back in'"
    assert "cast" in categories(topic, title, "It's in development.")
    title = "Alita: Battle Angel 2 gets the green light"
    text = (
        "20th Century Studios has greenlit Alita: Battle Angel 2, with Robert Rodriguez"
        " directing. No casting was announced. Rosa Salazar, who played the cyborg heroine in"
        " the first film, has said repeatedly that she wants to come back."
    )
    assert "cast" in categories(topic, title, text)
    recap = text.replace("has said repeatedly that she wants to come back", "was praised")
    assert "cast" not in categories(topic, title, recap)


def test_what_the_sequel_draws_from_the_manga_is_plot(topic: Topic) -> None:
    title = "Rosa Salazar and Christoph Waltz sign on for Alita: Battle Angel 2"
    text = (
        "Rosa Salazar has closed a deal to return as Alita in Alita: Battle Angel 2, and"
        " Christoph Waltz will again play Dr. Dyson Ido. Plot details are being kept under"
        " wraps, but the sequel is understood to draw on the Motorball chapters of Yukito"
        " Kishiro's manga."
    )
    assert categories(topic, title, text) == {"cast", "plot"}
    reprint = text.replace(
        "Plot details are being kept under wraps, but the sequel is understood to draw on the"
        " Motorball chapters of Yukito Kishiro's manga.",
        "Meanwhile the Motorball chapters of Yukito Kishiro's manga return in a deluxe edition.",
    )
    assert categories(topic, title, reprint) == {"cast"}


def test_what_is_said_of_the_story_counts_beside_a_memory_of_the_first_film(
    topic: Topic,
) -> None:
    title = "20th Century Studios greenlights Alita: Battle Angel 2"
    text = (
        "20th Century Studios has greenlit Alita: Battle Angel 2, with Robert Rodriguez back"
        " to direct and the script finished. The story is said to pick up shortly after the"
        " first film's final scene and to follow Alita toward the floating city of Zalem."
    )
    assert categories(topic, title, text) == {"production", "plot"}
    recap = text.replace(
        "The story is said to pick up shortly after the first film's final scene and to",
        "The first film's story was said to",
    )
    assert categories(topic, title, recap) == {"production"}


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        (  # the cast will return, beside the first film: future tense in Italian
            "«Alita: Battle Angel 2» ha una data: uscirà a luglio 2030",
            "Disney ha fissato la data d'uscita di Alita: Battle Angel 2. Rosa Salazar e"
            " Christoph Waltz torneranno nei ruoli di Alita e del dottor Dyson Ido, mentre Edward"
            " Norton riprenderà il ruolo di Nova, che nel film del 2019 compariva per pochi"
            " minuti.",
            {"release", "cast"},
        ),
        (  # what the sequel is based on, in Spanish, beside a manga
            "Rosa Salazar vuelve para «Alita: Battle Angel 2»",
            "Rosa Salazar repite como Alita en Alita: Battle Angel 2, confirmó el estudio."
            " Los detalles de la trama se mantienen en secreto, pero la película se basará en los"
            " capítulos del torneo de Motorball del manga de Yukito Kishiro.",
            {"cast", "plot"},
        ),
        (  # where it is set, in Portuguese
            "«Alita: Battle Angel 2» adia o início das filmagens",
            "A captura de performance de Alita: Battle Angel 2 foi adiada para setembro."
            " Rodriguez vai usar os meses extras para preparar uma abertura ambientada em Marte.",
            {"production", "plot"},
        ),
    ],
    ids=["it-future", "es-based-on", "pt-set-in"],
)
def test_the_sequels_cast_and_story_in_other_languages(
    topic: Topic, title: str, text: str, expected: set[str]
) -> None:
    assert categories(topic, title, text) == expected


def test_shooting_down_a_report_is_no_shoot(topic: Topic) -> None:
    title = "Mahershala Ali is not returning for Alita: Battle Angel 2, rep says"
    text = (
        "Mahershala Ali will not appear in Alita: Battle Angel 2, his representatives said"
        " Monday, shooting down a report that had spread over the weekend."
    )
    assert categories(topic, title, text) == {"cast"}
    shoot = text + " Shooting on the sequel is set to begin in Austin next spring."
    assert categories(topic, title, shoot) == {"cast", "production"}


def test_a_lone_star_screening_and_an_unanswered_question_are_no_cast_news(
    topic: Topic,
) -> None:
    title = "Robert Rodriguez on Alita 2: Nova is the villain this time"
    text = (
        "Robert Rodriguez took questions after a screening at the Lone Star Film Society."
        " He said the sequel's villain is Nova and that the story goes up to Zalem."
        " Asked who else returns, he said: I can't talk about casting tonight."
    )
    assert categories(topic, title, text) == {"plot"}


def test_playing_the_part_again_is_cast_news(topic: Topic) -> None:
    title = "Rosa Salazar on Alita: Battle Angel 2"
    text = (
        "So it's official: Rosa Salazar is playing Alita again in Alita: Battle Angel 2."
        " I'm back in the suit, she said of the sequel."
    )
    assert categories(topic, title, text) == {"cast"}


def test_a_podcast_released_on_tuesday_is_no_release_news(topic: Topic) -> None:
    title = "Edward Norton returns as Nova, the villain of Alita: Battle Angel 2"
    text = (
        "Edward Norton will return as Nova in Alita: Battle Angel 2, Robert Rodriguez said in"
        " a podcast released on Tuesday. The actor, seen only briefly in the 2019 film, moves"
        " to the centre of the sequel as its villain."
    )
    assert "release" not in categories(topic, title, text)
    dated = text + " The sequel itself moves to July 2030, and will be released in IMAX."
    assert "release" in categories(topic, title, dated)


def test_a_date_beside_the_shoot_is_the_shoots_not_the_release(topic: Topic) -> None:
    title = "Alita: Battle Angel 2 holds an open casting call in Austin"
    text = (
        "Alita: Battle Angel 2 is casting skaters and extras in Austin. Performance capture on"
        " the sequel runs between April and August 2027, the casting notice says."
    )
    assert "release" not in categories(topic, title, text)
    dated = text + " The sequel itself is expected in July 2030."
    assert "release" in categories(topic, title, dated)
    # nor is a death date a release date
    tribute = text + " It is dedicated to Jon Landau, who died in July 2024."
    assert "release" not in categories(topic, title, tribute)


def test_a_recap_of_the_2019_film_is_no_plot_but_what_picks_up_after_it_is(
    topic: Topic,
) -> None:
    title = "Jennifer Connelly on Alita: Battle Angel 2: 'I won't be in it'"
    text = (
        "Jennifer Connelly will not return for Alita: Battle Angel 2, her representative said."
        " Chiren, a cybersurgeon desperate to return to Zalem, is dismembered on Nova's orders"
        " at the end of the 2019 film."
    )
    assert categories(topic, title, text) == {"cast"}
    sequel = text + " The sequel's story picks up where the 2019 film left off, in Zalem."
    assert categories(topic, title, sequel) == {"cast", "plot"}


def test_signing_on_as_a_consultant_is_crew_not_cast(topic: Topic) -> None:
    title = "Yukito Kishiro joins Alita: Battle Angel 2"
    text = (
        "Yukito Kishiro, the creator of the manga, has signed on as a creative consultant on"
        " Alita: Battle Angel 2, Lightstorm said."
    )
    assert categories(topic, title, text) == {"production"}
    actor = text.replace("Yukito Kishiro, the creator of the manga,", "Rosa Salazar").replace(
        " as a creative consultant", ""
    )
    assert categories(topic, title.replace("Yukito Kishiro", "Rosa Salazar"), actor) == {"cast"}


def test_a_place_of_the_story_says_plot_alone_a_character_needs_more(topic: Topic) -> None:
    title = "Alita: Battle Angel 2 adds a block of reshoots in Austin"
    lead = "Alita: Battle Angel 2 will shoot for three more weeks in Austin next spring."
    place = " People close to the production describe an expansion of the film's Zalem material."
    character = " People close to the production describe an expansion of the film's Hugo material."
    assert "plot" in categories(topic, title, lead + place)
    # a character alone may be an actor's part: it weighs less than a sentence needs
    assert "plot" not in categories(topic, title, lead + character)


def test_the_storys_places_count_in_other_scripts(topic: Topic) -> None:
    title = "'알리타: 배틀 엔젤 2' 촬영 시작"
    text = (
        "'알리타: 배틀 엔젤 2'가 오스틴에서 촬영을 시작했다."
        " 관계자에 따르면 '알리타: 배틀 엔젤 2'에서 알리타는 모터볼 리그를 거쳐 자렘에 오른다."
    )
    assert "plot" in categories(topic, title, text)


def test_a_forum_named_after_a_place_of_the_story_is_no_plot(topic: Topic) -> None:
    title = "ALITA 2 - JULY 18 2031"
    text = "thats it thats the post, Alita 2 is out July 18 2031. IMAX AND 3D TOO"
    crumbs = "Motorball Forums > Film > Alita 2"
    found = {
        label.category for label in classify(topic, title, text, crumbs, outlet="Motorball Forums")
    }
    assert found == {"release"}
