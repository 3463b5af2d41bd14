"""The literal screens: the words a pattern cannot match without, and that a screened regex
answers exactly as the regex alone would."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from config import Topic
from pipeline import classify, facts, relevance
from pipeline.evaluate import load_items
from pipeline.literals import Screened, Terms, literal_screen, required, screened
from pipeline.relevance import terms_pattern

EVAL = Path(__file__).resolve().parents[1] / "data" / "eval"


def test_a_phrase_requires_its_longest_exact_run() -> None:
    assert required(r"\b(?:is|are) set to return\b") == {"is set to return", "are set to return"}


def test_a_gap_of_any_words_splits_what_is_required() -> None:
    # "(?:\w+ ){0,2}" may be absent or anything: the words after it are required on their own
    assert required(r"\bnot (?:\w+ ){0,2}(?:signed|joined)\b") == {"signed", "joined"}
    # of the runs a pattern requires, the one whose shortest string is longest screens best
    assert required(r"\b(?:has|have) not (?:\w+ ){0,2}signed\b") == {"has not ", "have not "}


def test_alternatives_each_give_what_they_require() -> None:
    found = required(r"\b(?:greenlit|green-lit|(?:cameras|filming) (?:begin|began)\w*)\b")
    assert found is not None
    assert {"greenlit", "green-lit"} <= found
    assert all(any(word in text for word in found) for text in ("cameras began", "filming begins"))


def test_a_pattern_that_needs_no_word_has_no_screen() -> None:
    assert required(r"\b20[2-9]\d\b") == {"20"}  # too short to screen with
    assert literal_screen([r"\b20[2-9]\d\b"]) is None
    assert literal_screen([r"\bsigned\b", r"\w+ly\b"]) is None  # one of them needs nothing
    assert required(r"(?i)signed") is None  # case folded: not spelled out


def test_a_word_of_an_unspaced_script_screens_with_two_characters() -> None:
    screen = literal_screen(["降板", r"\bexited\b"])
    assert screen is not None
    assert screen.search("ローザ・サラザールが降板") and screen.search("she exited the project")
    assert not screen.search("she will return")


def test_a_screened_regex_finds_what_the_regex_finds() -> None:
    regex = re.compile(r"\b(?:will|would) (?:not )?return\b")
    found = screened(regex)
    assert isinstance(found, Screened)
    text = "Salazar would not return, she said; Waltz will return."
    assert [m.span() for m in found.finditer(text)] == [m.span() for m in regex.finditer(text)]
    assert found.search(text, 20) is not None and found.search(text, 20).span() == (42, 53)  # type: ignore[union-attr]
    assert found.search("nothing of the kind here") is None
    assert list(found.finditer("nothing of the kind here")) == []


def _screens(topic: Topic) -> list[Screened]:
    """Every screened regex the shipped topic compiles into."""
    matchers, earlier = classify._matchers(topic)
    found: list[object] = [earlier, classify._declines(topic)]
    for matcher in matchers:
        found += [matcher.patterns.screen, matcher.lone_patterns.screen, matcher.facts.screen]
        found += [matcher.hint_patterns.screen]
    vocabulary = facts._vocabulary(topic)
    found += [*vocabulary.screens.values(), vocabulary.negation, vocabulary.denial]
    found += [vocabulary.making, *(relevance._matcher(topic).trap_screens or ())]
    return [item for item in found if isinstance(item, Screened)]


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    """Every sentence of the labelled articles, normalized as the pipeline reads them."""
    texts = [
        relevance.normalize(part)
        for item in load_items(sorted(EVAL.iterdir()))
        for part in (item["title"], *re.split(r"(?<=[.!?])\s+|\n+", item["text"]))
        if part.strip()
    ]
    assert len(texts) > 10_000
    return texts


def test_no_screen_of_the_shipped_topic_hides_a_match(topic: Topic, sentences: list[str]) -> None:
    """Over every labelled sentence (in a dozen languages), a screened regex matches
    exactly where its regex alone does."""
    screens = _screens(topic)
    assert len(screens) >= 8  # the status phrases, categories' patterns, denials...
    matched = 0
    for screen in screens:
        for text in sentences:
            expected = screen.regex.search(text)
            assert (screen.search(text) is None) == (expected is None), (screen.pattern[:80], text)
            matched += expected is not None
    assert matched > 1000  # the screens were tried on sentences that have their phrases


def test_a_term_list_skips_a_text_without_the_words_its_terms_need() -> None:
    terms = terms_pattern(["Rosa Salazar", "Zalem", "#AlitaArmy", "Dr. Ido"])
    assert terms is not None
    # each term's longest whole word: the rarest, the best screen
    assert terms.needed == {"salazar", "zalem", "alitaarmy", "ido"}
    assert terms.pieces == ()
    assert not terms.could_be_in("the studio said nothing")
    assert not terms.could_be_in("rosa parks and dr. who")
    assert [m.group() for m in terms.finditer("rosa salazar and dr. ido in zalem")] == [
        "rosa salazar",
        "dr. ido",
        "zalem",
    ]
    assert terms.search("the #alitaarmy trends") is not None
    # the screen is by whole words: "zalems" is no word of a term, nor is it a match
    assert terms.search("zalems") is None and terms.regex.search("zalems") is None


def test_a_term_in_a_script_without_spaces_is_looked_for_as_a_piece() -> None:
    terms = terms_pattern(["アリータ", "Alita"])
    assert terms is not None
    assert terms.needed == {"alita"} and terms.pieces == ("アリータ",)
    # "アリータ2の続編" is one run of word characters: the piece is found inside it
    assert terms.search("アリータ2の続編が決定") is not None
    assert terms.search("続編が決定") is None


def test_a_term_needs_a_word_that_is_whole_in_every_text_it_is_in() -> None:
    # "the studio": every text has "the"; "studio" is the word worth looking for
    terms = terms_pattern(["the studio", "set to return"])
    assert terms is not None and terms.needed == {"studio", "return"}
    # a word of the term that runs on into a script without spaces is no whole word
    unspaced = terms_pattern(["Ido 銃夢戦記"])
    assert unspaced is not None and unspaced.needed == {"ido"}
    assert unspaced.search(relevance.normalize("Ido 銃夢戦記2の続編")) is not None


def test_a_category_that_could_say_nothing_is_told_at_once(
    topic: Topic, sentences: list[str]
) -> None:
    """A sentence a category's combined screen rules out gets nothing from its words,
    names and patterns read one by one; most sentences are ruled out for most categories."""
    settings = topic.classify
    ruled_out = 0
    for matcher in classify._matchers(topic)[0]:
        assert matcher.anything is not None
        slow = dataclasses.replace(matcher, anything=None)
        for text in sentences:
            if matcher.says_nothing(text):
                ruled_out += 1
                assert classify._raw_score(slow, text, settings) == classify._NOTHING, text
    assert ruled_out > len(sentences)  # over four categories, most pairs say nothing


def test_part_of_a_text_is_searched_without_the_screen() -> None:
    terms = terms_pattern(["return"])
    assert terms is not None
    text = "she is returning"
    # up to `endpos` the word reads "return": the regex finds it, and so must the screen
    assert terms.search(text, 0, 13) is not None
    assert terms.search(text) is None


def test_no_term_list_of_the_shipped_topic_hides_a_match(
    topic: Topic, sentences: list[str]
) -> None:
    """Over every labelled sentence, each term list of the shipped topic finds exactly
    what its regex alone finds."""
    matchers, _ = classify._matchers(topic)
    found = [t for m in matchers for t in (m.terms, m.hints, m.names, m.places)]
    judge = relevance._matcher(topic)
    found += [judge.aliases, judge.franchise, judge.sequel_words, judge.support, judge.people]
    found += [judge.broad]
    found += [facts._vocabulary(topic).ours]
    lists = [item for item in found if isinstance(item, Terms)]
    assert len(lists) >= 15
    matched = 0
    for terms in lists:
        for text in sentences:
            expected = [m.span() for m in terms.regex.finditer(text)]
            assert [m.span() for m in terms.finditer(text)] == expected, (terms.pattern[:60], text)
            matched += bool(expected)
    assert matched > 10_000


def test_screens_sharing_an_index_each_answer_for_their_own_strings() -> None:
    returns = screened(re.compile(r"\b(?:will|would) return\b"))
    greenlit = screened(re.compile(r"\b(?:greenlit|green-lit)\b"))
    assert isinstance(returns, Screened) and isinstance(greenlit, Screened)
    text = "the sequel was greenlit on monday"
    assert returns.search(text) is None
    assert greenlit.search(text) is not None
    # a screen added after the text was first looked at still finds its strings in it
    later = screened(re.compile(r"\bon monday\b"))
    assert later.search(text) is not None
    assert greenlit.search(text) is not None and returns.search(text) is None
    # part of a text is looked at through the screen's own regex of its strings
    assert greenlit.search(text, 0, 18) is None
    assert greenlit.search(text, 0, 23) is not None


def test_a_topic_compiled_again_adds_nothing_to_the_index() -> None:
    first = screened(re.compile(r"\b(?:shelved|on hold)\b"))
    again = screened(re.compile(r"\b(?:on hold|shelved)\b"))
    assert isinstance(first, Screened) and isinstance(again, Screened)
    assert first.key == again.key  # one set of strings, one number: the index stays its size
    assert again.search("the sequel is on hold") is not None


def test_the_topic_vocabulary_finds_what_one_regex_of_it_finds(
    topic: Topic, sentences: list[str]
) -> None:
    """The categories' words and patterns, asked through their screens, answer as one
    regex of them all would, over every labelled sentence."""
    vocabulary = relevance._matcher(topic).vocabulary
    assert vocabulary is not None
    categories = topic.categories.values()
    terms = relevance.terms_pattern(t for c in categories for g in c.terms.values() for t in g)
    assert terms is not None
    patterns = [relevance.normalize(p) for c in categories for p in c.patterns]
    whole = re.compile("|".join([terms.pattern, *(f"(?:{p})" for p in patterns)]))
    found = 0
    for text in sentences:
        expected = whole.search(text) is not None
        assert vocabulary.found_in(text) == expected, text
        found += expected
    assert 1000 < found < len(sentences) - 1000
