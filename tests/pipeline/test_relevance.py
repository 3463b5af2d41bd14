"""Relevance: the feed pre-filter and the judge, on short articles written for the tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.topic import Topic
from pipeline.relevance import (
    boundary_first,
    judge,
    normalize,
    prefilter,
    sentences,
    terms_pattern,
)


@pytest.fixture(scope="module")
def topic(rules: Topic) -> Topic:
    """These are tests of the rules: the shipped topic without its learned model."""
    return rules


ARTICLES = Path(__file__).parents[1] / "data" / "relevance"

SEQUEL_NEWS = ["cast", "release", "plot", "production", "denial", "overview"]
LANGUAGES = ["es", "it", "de", "fr", "pt", "id"]
TRAPS = {
    "box-office-2019": "box-office-2019",
    "review-2019": "review-2019",
    "rerelease-4k": "rerelease-streaming",
    "manga-edition": "manga-anime",
    "anime-1993": "manga-anime",
    "prequel-series": "prequel-series",
    "salazar-interview": "cast-other-work",
    "avatar-sidebar": "other-sequels",
}


def article(name: str) -> tuple[str, str]:
    """A test article: (headline, body)."""
    title, _, body = (ARTICLES / f"{name}.txt").read_text(encoding="utf-8").partition("\n")
    return title.strip(), body.strip()


@pytest.mark.parametrize("name", SEQUEL_NEWS + LANGUAGES)
def test_sequel_news_is_kept(topic: Topic, name: str) -> None:
    result = judge(topic, *article(f"keep-{name}"))
    assert result.kept, result.reason
    assert 0.5 <= result.score <= 1.0
    assert result.reason.startswith("title names the sequel")


@pytest.mark.parametrize(("name", "trap"), TRAPS.items())
def test_traps_are_dropped_and_named(topic: Topic, name: str, trap: str) -> None:
    result = judge(topic, *article(f"drop-{name}"))
    assert not result.kept, result.reason
    assert 0.0 <= result.score < 0.5
    assert f"'{trap}'" in result.reason


def test_the_reason_is_one_readable_sentence(topic: Topic) -> None:
    reason = judge(topic, *article("keep-overview")).reason
    assert "\n" not in reason and reason.endswith("kept.")
    assert "title names the sequel; lead names it;" in reason
    assert "trap 'box-office-2019' in 1 sentence" in reason


def test_a_passing_clause_in_the_lead_is_not_enough(topic: Topic) -> None:
    title, body = article("drop-salazar-interview")
    paragraphs = body.split("\n\n")
    clause = next(p for p in paragraphs if "Alita 2" in p)
    paragraphs.remove(clause)
    moved = "\n\n".join([paragraphs[0], clause, *paragraphs[1:]])
    result = judge(topic, title, moved)
    assert not result.kept, result.reason
    assert "lead names it" in result.reason


def test_a_sidebar_line_on_top_is_not_enough(topic: Topic) -> None:
    title, body = article("drop-avatar-sidebar")
    result = judge(topic, title, "Trending: Alita 2 update\n\n" + body)
    assert not result.kept, result.reason


def test_a_franchise_title_with_a_trap_does_not_name_the_sequel(topic: Topic) -> None:
    _, body = article("drop-review-2019")
    result = judge(topic, "Alita: Battle Angel review: a film that begs for a sequel", body)
    assert not result.kept
    assert result.reason.startswith("title does not name the sequel")


def test_a_feed_entry_without_a_page_is_judged_on_title_and_summary(topic: Topic) -> None:
    kept = judge(topic, "Alita 2 gets an update from Jon Landau", "", "The sequel is on track.")
    assert kept.kept, kept.reason
    assert judge(topic, "Alita 2: Rodriguez says the script is done", "").kept
    assert not judge(topic, "Alita: Battle Angel arrives in 4K this week", "").kept
    assert not judge(topic, "", "").kept


def test_the_description_is_read_once_when_the_text_repeats_it(topic: Topic) -> None:
    title, body = article("keep-cast")
    lead = body.split("\n\n")[0]
    assert judge(topic, title, body, lead) == judge(topic, title, body)


def test_the_topic_is_data(topic: Topic) -> None:
    other = Topic(
        name="Pacific Rim 3",
        slug="pacific-rim-3",
        aliases=("Pacific Rim 3",),
        franchise=("Pacific Rim",),
        sequel_words={"en": ("sequel",)},
        broad_terms=("Pacific Rim", "Jaeger"),
    )
    text = "Legendary has hired a writer for Pacific Rim 3. The sequel would shoot next year."
    assert judge(other, "Pacific Rim 3 finds its writer", text).kept
    assert not judge(topic, "Pacific Rim 3 finds its writer", text).kept
    assert prefilter(other, "A new Jaeger is coming") and not prefilter(topic, "A new Jaeger")


@pytest.mark.parametrize(
    "title",
    [
        "Alita: Battle Angel 2 finally has a shooting date",
        "Rosa Salazar teases Alita’s return",
        "ALITA 2: what we know",
        "Secuela de Alita: Ángel de combate, confirmada",
        "Gunnm live-action sequel news",
        "Battle Angel sequel update from Rodriguez",
    ],
)
def test_prefilter_lets_sequel_titles_through(topic: Topic, title: str) -> None:
    assert prefilter(topic, title)


@pytest.mark.parametrize(
    "title",
    [
        "Box office: the weekend's top ten",
        "Box office: a horror sequel leads a quiet weekend",
        "Alitalia strike grounds flights across Italy",
        "James Cameron sets the next Avatar sequel's shoot",
        "",
    ],
)
def test_prefilter_stops_other_titles(topic: Topic, title: str) -> None:
    assert not prefilter(topic, title)


def test_prefilter_reads_summary_and_tags_too(topic: Topic) -> None:
    assert prefilter(topic, "Weekend round-up", "", "Movies", "Gunnm")
    assert prefilter(topic, "Sci-fi news", "Cameron talks Battle Angel at CineCon.")


def test_normalize_folds_case_accents_and_typography() -> None:
    assert normalize("Sequência — ALITA’s “SUITE”") == 'sequencia - alita\'s "suite"'


def test_japanese_is_read_without_spaces_between_words(topic: Topic) -> None:
    from pipeline.classify import classify

    title = "エドワード・ノートン、『アリータ：バトル・エンジェル2』でノヴァ役続投"
    text = (
        "米20世紀スタジオは、『アリータ：バトル・エンジェル』続編でエドワード・ノートンが"
        "デスティ・ノヴァ役を再び演じると発表した。続編ではノヴァが物語の中心となる敵役となる。"
        "ロバート・ロドリゲス監督がコメントした。"
    )
    assert judge(topic, title, text).kept
    assert len(sentences(topic, title, text)) == 4  # the title and three sentences ending in 。
    assert "cast" in {label.category for label in classify(topic, title, text)}
    # and a spaced term still needs its word boundary
    assert not judge(topic, "Alitas everywhere", "Palitas 2 is a different thing.").kept


def test_korean_particles_do_not_hide_the_film(topic: Topic) -> None:
    from pipeline.classify import classify

    title = "'알리타: 배틀 엔젤 2', 2031년 7월 개봉 확정"
    text = (
        "디즈니가 '알리타: 배틀 엔젤 2'의 북미 개봉일을 2031년 7월 18일로 확정했다.\n\n"
        "속편은 아이맥스와 3D로도 상영될 예정이다. 로버트 로드리게즈 감독이 다시 메가폰을 잡았다."
    )
    assert judge(topic, title, text).kept
    assert "release" in {label.category for label in classify(topic, title, text)}


def test_a_short_post_under_a_sequel_title_speaks_of_it(topic: Topic) -> None:
    # Reddit: surnames, and talk of shooting, theaters and budget, never the film's name
    body = (
        "Source is the trade piece that dropped an hour ago.\n\n"
        "Rodriguez directing, script by him and Cameron.\n\n"
        "Reality check: they don't start shooting until 2030, so don't expect it in theaters"
        " before 2031 at the earliest.\n\n"
        "EDIT: the budget is apparently smaller than last time.\n\n"
        "Nine years of fans spamming every studio post and it worked.\n\n"
        "See you all in the megathread."
    )
    kept = judge(topic, "ALITA 2 IS GREENLIT. I repeat, it is greenlit", body)
    assert kept.kept, kept.reason
    assert "3 supporting" in kept.reason
    # the same talk under a title about something else is no sequel news
    assert not judge(topic, "Our weekly movie thread", body).kept


FAN_POST = (
    "WE ARE SO BACK",
    "The trade report just confirmed it: 20th Century officially greenlit the sequel.\n\n"
    "RR directing, Cameron producing. Nine years, guys.\n\n"
    "Edit: capture starts early next year in Austin apparently.",
)


def test_an_outlet_named_after_the_film_writes_about_it(topic: Topic) -> None:
    kept = judge(topic, *FAN_POST, outlet="Reddit r/AlitaBattleAngel")
    assert kept.kept, kept.reason
    assert "outlet is named after the film" in kept.reason
    # the same post in a general film forum could be about any sequel
    assert not judge(topic, *FAN_POST, outlet="Reddit r/movies").kept
    assert not judge(topic, *FAN_POST).kept
    # spaced or not, and by the film's world as well as its name
    assert judge(topic, *FAN_POST, outlet="Iron City Boards").kept
    # a lead that is only the community's name says where it was posted
    assert judge(topic, *FAN_POST, "r/AlitaBattleAngel", outlet="Reddit").kept
    # a fan outlet's post about the manga is still no sequel news
    _, manga = article("drop-manga-edition")
    assert not judge(topic, "New this week", manga, outlet="Alita Battle Angel Fans").kept


def test_in_a_fan_outlet_a_headline_of_dates_or_casting_names_the_film(topic: Topic) -> None:
    post = (
        "pushed to 2032 fml",
        "cant even be mad, its the VFX and not some studio drama. 2032 though.\n\n"
        "(reply) at least its a date and not another indefinitely on hold situation. the"
        " release date is the release date.",
    )
    assert judge(topic, *post, outlet="Motorball Forums").kept
    assert not judge(topic, *post, outlet="Movie Forums").kept


def _naive_terms(terms: list[str]) -> re.Pattern[str]:
    """The plain alternation terms_pattern replaced: each term alone, longest first."""
    sources = []
    for term in sorted({normalize(t).strip() for t in terms}, key=len, reverse=True):
        words = [re.escape(w) for w in re.split(r"[\s:\-]+", term) if w]
        left = "" if "\u3040" <= term[0] <= "\u9fff" else r"(?<!\w)"
        right = "" if "\u3040" <= term[-1] <= "\u9fff" else r"(?!\w)"
        sources.append(left + r"[\s:\-]+".join(words) + right)
    return re.compile("|".join(sources))


def test_terms_pattern_finds_what_each_term_alone_would() -> None:
    terms = [
        "Nova",
        "Novas",
        "Desty Nova",
        "Zalem",
        "Zale",
        "Alita: Battle Angel 2",
        "Alita",
        "battle angel",
        "Mars",
        "Mars Chronicle",
        "アリータ",
        "アリータ2",
        "続編",
        "Hugo",
        "Ido",
        "Idol",
    ]
    text = normalize(
        "Desty Nova and the Novas of Zalem; Alita - Battle Angel 2 (not Alita alone) goes to "
        "Mars, the Mars Chronicle arc, Idol Hugo's Ido, Zalemite, Marsh. アリータ2の続編。"
        "Alita:Battle   Angel 2, battle-angel, novas."
    )
    pattern = terms_pattern(terms)
    assert pattern is not None
    found = [m.group() for m in pattern.finditer(text)]
    assert found == [m.group() for m in _naive_terms(terms).finditer(text)]
    assert "desty nova" in found and "novas" in found and "alita - battle angel 2" in found
    assert "zale" not in found and "mars" in found and "marsh" not in found
    assert (
        "アリータ" in found and "続編" in found
    )  # "2" has a boundary: "アリータ2の" is not "アリータ2"


def test_terms_pattern_is_none_without_terms() -> None:
    assert terms_pattern([]) is None
    assert terms_pattern(["  ", ":-"]) is None


def test_in_a_fan_outlet_a_post_opening_on_its_news_is_about_the_film(topic: Topic) -> None:
    post = (
        "SEVEN MORE MONTHS??",
        "they moved the release date off christmas to july 23 2032. apparently weta needs"
        " more time on the vfx.\n\nhonestly tho i'd rather it look good than be rushed.\n\n"
        "anyone know what the dec IMAX screens get now",
    )
    kept = judge(topic, *post, outlet="r/alitabattleangel")
    assert kept.kept, kept.reason
    # the same words on a general film forum could be any film's delay
    assert not judge(topic, *post, outlet="r/movies").kept
    # a fan outlet's rewatch post names the film's people, not its news
    rewatch = (
        "Showed my kid the movie for the first time",
        "She screamed at the Motorball tryout and cried when Hugo fell.\n\nShe now calls"
        " the dog Zapan. Any recs for what to show her next?",
    )
    assert not judge(topic, *rewatch, outlet="r/alitabattleangel").kept


def test_a_fans_abbreviation_names_the_sequel(topic: Topic) -> None:
    post = (
        "JASHUGAN IS CAST",
        "big casting dump for A:BA2 today. new Ido = some austrian theatre guy. Condor is"
        " back as Koyomi and Keean Johnson says he's not in it.",
    )
    assert judge(topic, *post, outlet="r/movies").kept
    assert not judge(topic, *post[:1], post[1].replace("A:BA2", "ABA"), outlet="r/movies").kept


def test_a_podcasts_episode_is_no_tv_show(topic: Topic) -> None:
    recap = (
        "Ep. 214 recap: The Battle Angel blinks",
        "Dana and Theo opened this week's episode with the news that knocked Alita off"
        " Christmas: Disney has moved the sequel to July 23, 2032. Her theory: the extra"
        " months go into the Motorball final and the Zalem sequences.",
    )
    assert judge(topic, *recap, outlet="Second Reel (podcast)").kept
    show = sentences(topic, "Rosa Salazar's new show", "Rosa Salazar stars in all eight episodes.")
    assert "cast-other-work" in show[1].traps


def test_a_month_or_number_abbreviation_ends_no_sentence(topic: Topic) -> None:
    views = sentences(
        topic,
        "Alita 2 is dated",
        "Most anticipated, No. 4. It opens Dec. 19, 2031, in IMAX. Dr. Ido is back. 20th"
        " Century Studios confirmed it.",
    )
    assert [v.text for v in views[1:]] == [
        "Most anticipated, No. 4.",
        "It opens Dec. 19, 2031, in IMAX.",
        "Dr. Ido is back.",
        "20th Century Studios confirmed it.",
    ]


def test_a_long_fan_post_that_names_the_sequel_twice_is_about_it(topic: Topic) -> None:
    chatter = " ".join(
        f"We have typed this headline in our drafts {n} times and deleted it." for n in range(9)
    )
    post = (
        "IT'S HAPPENING: the Alita Army finally gets its answer",
        f"Nine years later. {chatter} Per the trades, Disney has officially said yes to Alita:"
        " Battle Angel 2. RR directs again and Jim produces. Nobody has said where the sequel"
        " goes, but the smart money says up. Thank you to everyone who bought a ticket.",
    )
    kept = judge(topic, *post, outlet="Iron City Dispatch")
    assert kept.kept, kept.reason
    # the same post naming the sequel once is a fan outlet's chatter
    once = post[1].replace("Alita: Battle Angel 2", "it")
    assert not judge(topic, post[0], once, outlet="Iron City Dispatch").kept


def test_under_a_lead_that_names_the_sequel_its_dates_and_casting_speak_of_it(
    topic: Topic,
) -> None:
    post = (
        "Eight years of hashtags and it actually worked",
        "Frameline is reporting that 20th Century has officially greenlit Alita: Battle Angel"
        " 2. Rodriguez is back to direct.\n\nCatch: no date, and don't expect it before 2030"
        " because Weta is busy.\n\nWhich, fine. I waited this long, I can wait three more"
        " years. Going to go rewatch the Motorball tryout to celebrate.\n\nLink in the"
        " comments.\n\nEDIT: people keep asking about Rosa. The article says nothing about"
        " casting.",
    )
    kept = judge(topic, *post, outlet="Reddit")
    assert kept.kept, kept.reason
    # the same post whose lead only names the first film is someone's rewatch
    rewatch = post[1].replace("officially greenlit Alita: Battle Angel 2", "re-released Alita")
    assert not judge(topic, post[0], rewatch, outlet="Reddit").kept


def test_an_interview_titled_by_one_of_the_films_people_is_about_the_sequel(
    topic: Topic,
) -> None:
    answers = " ".join(f'"Answer {n}," she says.' for n in range(12))
    interview = (
        "Rosa Salazar: 'I'd Go Back to Iron City Tomorrow'",
        "The actress on the sequel that keeps almost happening.\n\nSeven years after Alita:"
        " Battle Angel, she still gets asked about it. Salazar says she has stayed in touch"
        f" with Robert Rodriguez. {answers}\n\nWhat would she want from a second"
        ' film? "Let her be older."',
    )
    kept = judge(topic, *interview)
    assert kept.kept, kept.reason
    # the same answers under a title about nobody of the film
    assert not judge(topic, "An actress on patience", interview[1]).kept


def test_a_title_with_the_franchise_and_a_date_to_come_names_the_sequel(topic: Topic) -> None:
    views = sentences(topic, "Cut to Black #118: Alita slips to 2032", "Good morning.")
    assert views[0].kind == "sequel"
    assert sentences(topic, "Alita at ten: the 2029 rewatch", "Good morning.")[0].kind != "sequel"


def test_in_a_fan_outlet_the_sequel_in_a_headline_is_the_films(topic: Topic) -> None:
    title = 'Christoph Waltz on Ido, Iron City and the sequel: "If Robert calls, I\'m on the plane"'
    assert (
        sentences(topic, title, "We caught up with him.", outlet="Iron City Dispatch")[0].kind
        == "sequel"
    )
    assert sentences(topic, title, "We caught up with him.", outlet="Film Weekly")[0].kind != (
        "sequel"
    )


def test_an_outlet_named_after_a_place_of_the_films_world_is_a_fan_outlet(topic: Topic) -> None:
    post = (
        "Script is DONE - discussion",
        "Key bits: the script is finished and Cameron already gave notes. The sequel picks up a"
        " year after the first one, and the story goes up toward Zalem.",
    )
    kept = judge(topic, *post, outlet="Scrapyard Forums")
    assert kept.kept, kept.reason
    assert "outlet is named after the film" in kept.reason
    assert not judge(topic, *post, outlet="Film Forums").kept
    # the word names outlets only: a feed entry about a scrapyard is not let through
    assert not prefilter(topic, "Scrapyard fire closes the harbour road")


def test_the_sequel_drawing_on_the_manga_is_no_manga_trap(topic: Topic) -> None:
    title = "Rosa Salazar returns for Alita: Battle Angel 2"
    adapts = "The sequel is understood to draw on the Motorball chapters of Kishiro's manga."
    reprint = "The Motorball chapters of Kishiro's manga return in a deluxe edition."
    assert "manga-anime" not in judge(topic, title, adapts).reason
    assert "'manga-anime' in 1 sentence" in judge(topic, title, reprint).reason
    # under a title that names the sequel, "they" adapting the manga is the sequel's makers
    in_order = "If they are adapting the manga in order, the Motorball tournament comes first."
    assert "manga-anime" not in judge(topic, "Alita: Battle Angel 2 is greenlit", in_order).reason
    assert "manga-anime" in judge(topic, "Alita returns to theaters", in_order).reason


def test_a_newsletter_that_greets_its_readers_first_is_about_its_first_item(
    topic: Topic,
) -> None:
    memo = (
        "Monday Memo: a green light in Austin, a new guild board, and your weekend numbers",
        "Good morning. This week's memo is mostly about one thing, because half of you emailed"
        " me about it.\n\nTHE BIG ONE. It finally happened: the Alita sequel has a green"
        " light. 20th Century Studios signed off last week, Robert Rodriguez is directing,"
        " and Lightstorm is producing. Performance capture on the sequel should start in"
        " Austin next spring, and Weta FX is back. What I'm hearing about the story: it goes"
        " up to Zalem."
        "\n\nELSEWHERE. The writers' guild elected a new board.\n\nSee you next Monday.",
    )
    kept = judge(topic, *memo, outlet="The Monday Memo")
    assert kept.kept, kept.reason
    # the same memo leading with other news names the sequel only in passing, further down
    late = memo[1].replace(
        "THE BIG ONE.",
        "THE BIG ONE. The guild vote was closer than anyone expected. Turnout was the highest"
        " in a decade. The new board meets in January. Its first item is the streaming"
        " residuals fight. A profile of the winners is linked below.",
    )
    assert not judge(topic, memo[0], late, outlet="The Monday Memo").kept


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?<!died in )(?<!away on )\b(?:june|july) 20[2-9]\d\b",
        r"(?<!long.)\bdelayed\b",
        r"(?<!who )\b(?:played|starred)\b",
    ],
)
def test_a_boundary_moved_before_the_lookbehinds_matches_the_same(pattern: str) -> None:
    moved = boundary_first(pattern)
    assert moved.startswith(r"\b(?<!") and moved != pattern
    texts = [
        "the sequel is dated june 2027", "she died in june 2027", "it passed away on july 2028",
        "a long-delayed film", "the film was delayed again", "postjune 2027", "who played alita",
        "salazar played alita", "replayed", "dated june2027",
    ]  # fmt: skip
    for text in texts:
        assert [m.span() for m in re.finditer(moved, text)] == [
            m.span() for m in re.finditer(pattern, text)
        ], text
    assert boundary_first(r"\bnova\b") == r"\bnova\b"  # nothing to move
