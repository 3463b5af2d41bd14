"""Understanding stored articles: copies, stories, stale news, labels, facts and history."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config import StorySettings, Topic
from pipeline.dedupe import signature
from pipeline.ingest import Ingestor, IngestResult
from pipeline.records import EntryHint, Page
from pipeline.reprocess import reprocess
from pipeline.store import Store
from tests.pipeline.test_dedupe import spin
from tests.stories import CAST_A, CAST_B, DAY, DELAY, RELEASE, page


def window_page(published: datetime) -> Page:
    """A trade report: the sequel not in theaters before 2030, after Avatar 5."""
    title = "Alita: Battle Angel 2 won't arrive before 2030"
    return page("https://d.example/window", title, RELEASE, "Reel Dispatch", published)


def delay_page(published: datetime) -> Page:
    """A later report: the sequel delayed to 2031."""
    title = "Alita: Battle Angel 2 delayed to 2031"
    return page("https://e.example/delay", title, DELAY, "Studio Desk", published)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store.db")


def test_rewrites_join_one_story_and_a_copy_points_to_its_original(
    store: Store, topic: Topic
) -> None:
    ingest = Ingestor(store, topic, StorySettings()).ingest
    first = ingest(
        page(
            "https://a.example/cast",
            "Rosa Salazar will return as Alita in Alita 2",
            CAST_A,
            "The Trade Ledger",
            DAY,
        )
    )
    rewrite = ingest(
        page(
            "https://b.example/cast",
            "Alita 2: Rosa Salazar is ready to come back",
            CAST_B,
            "ScreenFan",
            DAY + timedelta(hours=5),
        )
    )
    copy = ingest(
        page(
            "https://c.example/copy",
            "Rosa Salazar will return as Alita in Alita 2",
            "Originally published by The Trade Ledger.\n\n" + CAST_A,
            "Pulse Hub",
            DAY + timedelta(hours=8),
        )
    )
    other = ingest(window_page(DAY + timedelta(hours=10)))
    assert first.kept and rewrite.kept and copy.kept and other.kept
    assert first.story_id == rewrite.story_id == copy.story_id
    assert other.story_id != first.story_id
    assert copy.duplicate_of == first.article_id
    assert rewrite.duplicate_of is None
    stories = {s["story_id"]: s for s in store.stories()}
    cast_story = stories[first.story_id]
    assert cast_story["sources"] == 3
    assert cast_story["first_reporter"] == "The Trade Ledger"
    assert "cast" in cast_story["categories"]
    labels = dict(
        store.conn.execute(
            "SELECT category, sentence FROM article_labels WHERE article_id = ?",
            (first.article_id,),
        ).fetchall()
    )
    assert "will return as Alita" in labels["cast"]


def _original_then_copy(
    store: Store, topic: Topic, settings: StorySettings, copied: str, original: str = CAST_A
) -> tuple[IngestResult, IngestResult]:
    """A trade report on a cast return, then a content farm's copy of it three hours on."""
    ingest = Ingestor(store, topic, settings).ingest
    title = "Rosa Salazar will return as Alita in Alita 2"
    first = ingest(page("https://a.example/cast", title, original, "The Trade Ledger", DAY))
    copy = ingest(
        page("https://e.example/spun", title, copied, "Content Farm", DAY + timedelta(hours=3))
    )
    return first, copy


def test_a_spun_copy_the_lsh_index_misses_is_found_in_its_story(store: Store, topic: Topic) -> None:
    spun = spin(CAST_A, 0.22, seed=9)  # a third of its word pairs are the original's
    original_signature, spun_signature = signature(CAST_A), signature(spun)
    assert original_signature is not None and spun_signature is not None
    assert original_signature.jaccard(spun_signature) >= StorySettings().duplicate_threshold
    # and not one LSH bucket in common: the index alone would call it a new article
    assert not set(original_signature.buckets()) & set(spun_signature.buckets())

    first, copy = _original_then_copy(store, topic, StorySettings(), spun)
    assert copy.kept and copy.story_id == first.story_id
    assert copy.duplicate_of == first.article_id


def test_within_its_story_a_heavier_spun_copy_is_still_a_copy(store: Store, topic: Topic) -> None:
    settings = StorySettings()
    spun = spin(CAST_A, 0.28, seed=9)  # a fifth of its word pairs are the original's
    original_signature, spun_signature = signature(CAST_A), signature(spun)
    assert original_signature is not None and spun_signature is not None
    alike = original_signature.jaccard(spun_signature)
    assert settings.story_duplicate_threshold <= alike < settings.duplicate_threshold

    first, copy = _original_then_copy(store, topic, settings, spun)
    assert copy.story_id == first.story_id
    assert copy.duplicate_of == first.article_id


INTERVIEW_REST = """
Q: How far along is the script? A: Robert sends pages every few weeks. He and Jim argue over
every scene, which is how you know they care. I have read enough to know where she goes next,
and I am not allowed to say much more than that.

Q: Has the technology changed since the first film? A: Completely. The head rig is lighter,
there are more cameras around the volume, and the people at Weta can see the performance on a
monitor while we are still shooting the take, which changes how you play a scene.

Q: Do you keep in touch with the rest of the cast? A: Christoph sends me terrible jokes by text
message, and Keean and I have a group chat with half the stunt team that never goes quiet.

Q: What do you say to the fans who campaigned? A: That they did this. Billboards in Times
Square, the art books, the petitions, all of it reached the studio, and I want to thank every
one of them when we are finally on set together in Austin.

Q: Anything you can tell us about the story? A: She is older, angrier, and she has a lot less
patience for people who tell her what she is. That is all I will give you today, sorry.

Q: How do you prepare, years before a shoot? A: I run, I skate, I do the fight drills twice a
week with the same coordinator, and I read the manga again every winter to stay close to her.

Q: Will it be worth the wait? A: I think so. Nobody involved would have come back for anything
less, and the pages I have seen are the best thing I have read in a long time, honestly.
"""


def test_a_scrapers_excerpt_of_a_long_interview_is_a_copy(store: Store, topic: Topic) -> None:
    # a scraper posts the first two paragraphs and a link: a sixth of the interview, so the
    # two are little alike as wholes, but every word pair of the excerpt is the original's
    interview = CAST_A + INTERVIEW_REST
    opening = "\n\n".join(CAST_A.strip().split("\n\n")[:2])
    excerpt = f"{opening}\n\n[Continue reading at tradeledger.example]"
    original_signature, excerpt_signature = signature(interview), signature(excerpt)
    assert original_signature is not None and excerpt_signature is not None
    assert original_signature.jaccard(excerpt_signature) < StorySettings().story_duplicate_threshold

    first, copy = _original_then_copy(store, topic, StorySettings(), excerpt, original=interview)
    assert copy.kept and copy.story_id == first.story_id
    assert copy.duplicate_of == first.article_id


def test_a_news_search_snippet_of_an_article_is_no_copy_of_it(store: Store, topic: Topic) -> None:
    # a news search's page: the article's first paragraphs under "Outlet - 3 hours ago"
    ingest = Ingestor(store, topic, StorySettings()).ingest
    title = "Rosa Salazar will return as Alita in Alita 2"
    first = ingest(page("https://a.example/cast", title, CAST_A, "The Trade Ledger", DAY))
    opening = "\n\n".join(CAST_A.strip().split("\n\n")[:3]) + " ..."
    snippet = page("https://news.example/s?q=alita", title, opening, "News Finder", DAY)
    snippet = replace(snippet, hint=EntryHint(summary="The Trade Ledger - 3 hours ago"))
    found = ingest(snippet)
    assert found.kept and found.story_id == first.story_id
    assert found.duplicate_of is None


def test_a_rewrite_of_the_same_news_is_no_excerpt(store: Store, topic: Topic) -> None:
    first, rewrite = _original_then_copy(store, topic, StorySettings(), CAST_B)
    assert rewrite.story_id == first.story_id
    assert rewrite.duplicate_of is None


def test_a_changed_fact_is_a_new_development_with_what_it_replaced(
    store: Store, topic: Topic
) -> None:
    ingest = Ingestor(store, topic, StorySettings()).ingest
    window = ingest(window_page(DAY))
    delay = ingest(delay_page(DAY + timedelta(days=20)))
    assert delay.story_id != window.story_id
    changes = [r for r in store.timeline() if r["category"] == "release"]
    assert changes[0]["value"] == "no earlier than 2030" and changes[0]["replaced"] is None
    moved = [r for r in changes if r["value"] == "2031"]
    assert moved and moved[0]["replaced"] in {"no earlier than 2030", "after Avatar 5"}
    assert moved[0]["outlet"] == "Studio Desk"
    assert moved[0]["url"] == "https://e.example/delay"
    story = {s["story_id"]: s for s in store.stories()}[delay.story_id]
    assert story["last_development"] is not None


def test_a_newcomer_cast_is_a_new_development_on_the_timeline(store: Store, topic: Topic) -> None:
    ingest = Ingestor(store, topic, StorySettings()).ingest
    ingest(window_page(DAY))
    title = "Alita: Battle Angel 2 casts its Motorball champion"
    body = (
        "Dario Vance, a Juilliard graduate best known for the crime series Cold Harbor, has "
        "been cast as Jashugan in Alita: Battle Angel 2, 20th Century Studios said on Tuesday."
        "\n\nVance joins Rosa Salazar, who returns as Alita."
    )
    cast = ingest(page("https://c.example/jashugan", title, body, "Reel Dispatch", DAY))
    # a name the topic file never listed is news: on the timeline, with its source
    changes = [r for r in store.timeline() if r["category"] == "cast"]
    joining = [r for r in changes if r["subject"] == "Dario Vance"]
    assert joining and joining[0]["value"] == "joining" and joining[0]["replaced"] is None
    assert joining[0]["url"] == "https://c.example/jashugan"
    story = {s["story_id"]: s for s in store.stories()}[cast.story_id]
    assert story["last_development"] is not None


def test_a_new_date_the_next_day_is_a_new_story_and_a_rewrite_is_not(
    store: Store, topic: Topic
) -> None:
    ingest = Ingestor(store, topic, StorySettings()).ingest
    window = ingest(window_page(DAY))
    rewrite = ingest(
        page(
            "https://f.example/window",
            "No Alita 2 before 2030, Lightstorm tells exhibitors",
            "Alita: Battle Angel 2 will not reach theaters before 2030, a Lightstorm"
            " executive told exhibitors. Robert Rodriguez is still attached to direct and"
            " James Cameron's team must finish Avatar 5 first.",
            "Cinema Wire",
            DAY + timedelta(hours=5),
        )
    )
    delay = ingest(delay_page(DAY + timedelta(days=1)))
    assert rewrite.story_id == window.story_id
    assert delay.story_id not in {None, window.story_id}


def test_a_stale_repost_does_not_make_an_old_story_new(store: Store, topic: Topic) -> None:
    ingest = Ingestor(store, topic, StorySettings()).ingest
    old = ingest(
        page(
            "https://f.example/2023",
            "Alita: Battle Angel 2 won't arrive before 2030",
            RELEASE,
            "Old News",
            datetime(2023, 10, 5, tzinfo=UTC),
            seen=DAY,
        )
    )
    row = store.conn.execute(
        "SELECT stale FROM articles WHERE id = ?", (old.article_id,)
    ).fetchone()
    assert row == (1,)
    story = {s["story_id"]: s for s in store.stories()}[old.story_id]
    assert story["stale"] == 1 and story["last_development"] is None


def test_reprocess_rebuilds_the_same_understanding(store: Store, topic: Topic) -> None:
    ingest = Ingestor(store, topic, StorySettings()).ingest
    ingest(
        page(
            "https://a.example/cast",
            "Rosa Salazar will return as Alita in Alita 2",
            CAST_A,
            "The Trade Ledger",
            DAY,
        )
    )
    ingest(
        page(
            "https://b.example/cast",
            "Alita 2: Rosa Salazar is ready to come back",
            CAST_B,
            "ScreenFan",
            DAY + timedelta(hours=5),
        )
    )
    ingest(window_page(DAY + timedelta(hours=10)))
    before = [(s["title"], s["articles"], s["categories"]) for s in store.stories()]
    facts = store.conn.execute("SELECT count(*) FROM facts").fetchone()
    report = reprocess(store, topic, StorySettings(), batch=2)
    assert report.articles == 3 and report.kept == 3 and report.stories == 2
    assert [(s["title"], s["articles"], s["categories"]) for s in store.stories()] == before
    assert store.conn.execute("SELECT count(*) FROM facts").fetchone() == facts


def test_a_title_case_headline_names_people_not_their_verbs(topic: Topic) -> None:
    from pipeline.facts import analyse
    from pipeline.stories import evidence_keys

    title = "Tom Holkenborg Returns to Score 'Alita: Battle Angel 2', Reps Say"
    text = (
        "Composer Tom Holkenborg is back for the sequel, Robert Rodriguez confirmed on"
        " Sunday. Holkenborg wrote the music for the first film."
    )
    keys = evidence_keys(topic, title, text, analyse(topic, title, text))
    # the headline's name is the one the text gives; "Returns" and "Reps Say" are no names
    assert "h:tom holkenborg" in keys
    assert not any("returns" in key or "reps" in key for key in keys if key[:2] in {"h:", "p:"})


def test_the_cast_so_far_is_no_evidence_of_which_news_an_article_reports(topic: Topic) -> None:
    from pipeline.facts import analyse
    from pipeline.stories import evidence_keys

    title = "Mahershala Ali is not in 'Alita: Battle Angel 2', his representative says"
    text = (
        "Mahershala Ali is not involved in Alita: Battle Angel 2, his representative said. "
        "A weekend report had him back as Vector in flashbacks. "
        "Vector died in the first film. "
        "What we know about the cast so far: Rosa Salazar returns as Alita, Christoph Waltz "
        "is back as Ido and Edward Norton is set to return as Nova."
    )
    analysis = analyse(topic, title, text)
    returning = {f.subject for f in analysis.facts if f.value == "returning"}
    assert returning == {"Rosa Salazar", "Christoph Waltz", "Edward Norton"}  # facts all the same
    keys = evidence_keys(topic, title, text, analysis)
    # the denial is the news; the roster any news of the film may repeat tells no story
    assert "s:cast:mahershala ali" in keys
    assert not {"s:cast:rosa salazar", "b:cast:christoph waltz:returning"} & keys


def test_a_crawled_fan_outlet_post_is_kept_and_read(
    store: Store, topic: Topic, rules: Topic
) -> None:
    from tests.pipeline.test_relevance import FAN_POST

    by_rules = Ingestor(store, rules, StorySettings()).ingest
    title, body = FAN_POST
    fan = by_rules(page("https://r.example/1", title, body, "r/AlitaBattleAngel", DAY))
    general = by_rules(page("https://r.example/2", title, body, "r/movies", DAY))
    # the rules alone know what "the sequel" is only where the outlet names the film
    assert fan.kept and not general.kept
    # the topic's model reads the post as a fan would, wherever it was posted
    shipped = Ingestor(store, topic, StorySettings()).ingest
    assert shipped(page("https://r.example/3", title, body, "r/movies", DAY)).kept
    labels = store.conn.execute(
        "SELECT category FROM article_labels WHERE article_id = ?", (fan.article_id,)
    ).fetchall()
    assert ("production",) in [tuple(row) for row in labels]


def test_a_korean_or_japanese_rewrite_joins_the_story_by_its_peoples_names(
    store: Store, topic: Topic
) -> None:
    ingest = Ingestor(store, topic, StorySettings()).ingest
    denial = (
        "Jennifer Connelly will not appear in Alita: Battle Angel 2, her representative said"
        " on Tuesday. A rumour had Connelly back as Chiren in flashbacks.\n\n"
        "Robert Rodriguez wrote on social media that the story of Chiren is finished."
    )
    english = ingest(
        page("https://a.example/1", "Jennifer Connelly Not in Alita 2", denial, "Trade", DAY)
    )
    korean = ingest(
        page(
            "https://b.example/1",
            "제니퍼 코넬리, 알리타: 배틀 엔젤 2 출연설 사실 아니다",
            "제니퍼 코넬리가 알리타: 배틀 엔젤 2에 출연하지 않는다고 소속사가 밝혔다.\n\n"
            "코넬리는 로버트 로드리게즈 감독의 속편에 출연하지 않는다.",
            "Star News Korea",
            DAY + timedelta(hours=6),
        )
    )
    japanese = ingest(
        page(
            "https://c.example/1",
            "ジェニファー・コネリー、アリータ2出演を否定",
            "ジェニファー・コネリーがアリータ2に出演しないことを代理人が明らかにした。\n\n"
            "ロバート・ロドリゲス監督の続編にコネリーは出演しない。",
            "Eiga News",
            DAY + timedelta(hours=8),
        )
    )
    assert english.kept and korean.kept and japanese.kept
    assert korean.story_id == english.story_id
    assert japanese.story_id == english.story_id
    [story] = store.stories()
    assert story["articles"] == 3


def test_an_article_is_mainly_about_every_category_nearly_as_sure_as_its_surest(
    topic: Topic,
) -> None:
    from pipeline.records import Analysis, Label
    from pipeline.stories import evidence_keys

    title, text = "Alita: Battle Angel 2 is dated", "Alita: Battle Angel 2 opens in July 2030."

    def main_categories(*labels: tuple[str, float]) -> set[str]:
        analysis = Analysis(tuple(Label(c, p, text) for c, p in labels), ())
        keys = evidence_keys(topic, title, text, analysis)
        return {key[2:] for key in keys if key.startswith("c:")}

    # two rewrites whose top two categories swap places still share both
    assert main_categories(("release", 0.9), ("production", 0.85)) == {"release", "production"}
    assert main_categories(("release", 0.85), ("production", 0.9)) == {"release", "production"}
    # a side subject is not what the article is about
    assert main_categories(("release", 0.9), ("production", 0.5)) == {"release"}
