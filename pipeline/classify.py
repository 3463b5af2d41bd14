"""Which categories an article earns (cast, release, plot, production), each with its evidence."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from config.topic import Category, ClassifySettings, Topic
from pipeline.literals import AnyOf, Finder, Terms
from pipeline.records import Label
from pipeline.relevance import (
    SentenceView,
    boundary_first,
    judge_sentences,
    normalize,
    screen_pattern,
    terms_pattern,
)

# Kinds of sentence that speak of the sequel; a trap sentence never earns a category.
_ABOUT_SEQUEL = frozenset({"sequel", "support"})
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# what is yet to come: a sentence in the future, or of what someone wants or is expected to
# do, speaks of the sequel, whatever it recalls
_FUTURE = re.compile(
    r"\b(?:will|won.t|(?:is|are) (?:going|set|expected|coming|returning)|plans? to"
    r"|wants? (?:to|back)|hopes? to|would (?:love|like) to|(?:looking|looks) forward to"
    # what follows the first film: "the story picks up where the 2019 film left off"
    r"|(?:picks?|picking) up (?:\w+ ){0,3}(?:where|after|from)|left off"
    # what is reported of it: "the story is said to pick up after the first film's end"
    r"|(?:is|are) (?:said|understood|believed|reported|rumou?red|tipped) to (?!have\b)"
    # the same in the other languages the topic reads: "torneranno", "volverá", "reviendra"
    r"|(?:torner|riprender|sar|interpreter)(?:a|anno)|(?:volver|regresar|ser|estar)an?"
    r"|(?:voltar|retornar|ser)(?:a|ao)|(?:vai|vao|va|vont) (?:\w+ )?(?:voltar|revenir|\w+er)"
    r"|(?:reviendr|reprendr|ser)(?:a|ont)|(?:wird|werden) (?:\w+ ){0,4}zuruckkehren)\b"
)


@dataclass(frozen=True, slots=True)
class _Patterns:
    """Several patterns, each counted alone, with one regex of them all to skip a sentence
    that none of them matches (most sentences) in one pass."""

    each: tuple[re.Pattern[str], ...]
    screen: Finder | None  # None: they could not be joined

    @classmethod
    def of(cls, sources: Iterable[str]) -> _Patterns:
        """Compile the topic's patterns (accents folded) and their joined screen."""
        each = tuple(topic_regex(p) for p in sources)
        return cls(each, screen_pattern(p.pattern for p in each))

    def count(self, text: str) -> int:
        """How many of the patterns occur in the text."""
        if not self.each or (self.screen is not None and not self.screen.search(text)):
            return 0
        return sum(bool(p.search(text)) for p in self.each)

    def any(self, text: str) -> bool:
        """Whether any of the patterns occurs in the text."""
        if self.screen is not None:
            return bool(self.screen.search(text))
        return any(p.search(text) for p in self.each)

    @property
    def finders(self) -> tuple[Finder, ...]:
        """What finds them: the screen, or each pattern where there is none."""
        if not self.each:
            return ()
        return (self.screen,) if self.screen is not None else self.each


@dataclass(frozen=True, slots=True)
class _CategoryMatcher:
    """One category's words, patterns and names, compiled once."""

    name: str
    terms: Terms | None
    patterns: _Patterns
    lone_patterns: _Patterns  # outright only where no other category is
    hints: Terms | None
    hint_patterns: _Patterns
    names: Terms | None  # its people, and its places when they weigh the same
    places: Terms | None  # its places when they weigh otherwise (place_weight)
    facts: _Patterns  # the fact phrases of the category's kind
    facts_need_name: bool  # cast phrases ("will return") count only beside a name
    name_weight: float | None  # the category's own weight of a name, if any
    place_weight: float | None  # the category's own weight of a place, if any
    names_outright: int  # how many names say the category outright
    anything: AnyOf | None  # all of the above at once: a sentence with none says nothing

    def says_nothing(self, text: str) -> bool:
        """Whether a sentence has none of the category's words, names or patterns: most
        sentences, for most categories, told by one look at its words and screens."""
        return self.anything is not None and not self.anything.could_be_in(text)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One sentence that speaks for a category, and how strongly (weighted) it does."""

    category: str
    sentence: SentenceView
    score: float
    outright: bool = True  # a term, pattern or two names, not hints alone
    states_fact: bool = False  # a fact phrase of the category ("is set to return") beside a name
    earlier: bool = False  # beside a reference to the earlier film, so half about that film


def topic_regex(pattern: str) -> re.Pattern[str]:
    """Compile a topic pattern with its accents folded like the text (escapes keep their case)."""
    return re.compile(boundary_first(_NON_ASCII.sub(lambda m: normalize(m.group()), pattern)))


def _fact_patterns(topic: Topic, name: str) -> tuple[str, ...]:
    """The fact vocabulary's phrases for a category named like a fact kind: evidence too."""
    facts = topic.facts
    if name == "release":
        return tuple(p for window in facts.windows for p in window.patterns)
    rules = {"cast": facts.cast, "production": facts.production}.get(name, ())
    return tuple(p for rule in rules for p in rule.patterns)


def _with_spellings(topic: Topic, names: Iterable[str]) -> list[str]:
    """Names, each with the other scripts' spellings the topic lists for it."""
    return [form for name in names for form in (name, *topic.spellings.get(name, ()))]


def _compile(topic: Topic, name: str, category: Category) -> _CategoryMatcher:
    """Compile one category of the topic file, with the fact phrases of its kind."""
    separate = category.place_weight is not None
    names = category.people if separate else (*category.people, *category.places)
    places = category.places if separate else ()
    terms = terms_pattern(term for group in category.terms.values() for term in group)
    hints = terms_pattern(term for group in category.hints.values() for term in group)
    name_terms = terms_pattern(_with_spellings(topic, names))
    place_terms = terms_pattern(_with_spellings(topic, places))
    patterns = _Patterns.of(category.patterns)
    lone_patterns = _Patterns.of(category.lone_patterns)
    hint_patterns = _Patterns.of(category.hint_patterns)
    facts = _Patterns.of(_fact_patterns(topic, name))
    finders: list[Finder] = [f for f in (terms, hints, name_terms, place_terms) if f is not None]
    for group in (patterns, lone_patterns, hint_patterns, facts):
        finders += group.finders
    return _CategoryMatcher(
        name=name,
        terms=terms,
        patterns=patterns,
        lone_patterns=lone_patterns,
        hints=hints,
        hint_patterns=hint_patterns,
        names=name_terms,
        places=place_terms,
        facts=facts,
        facts_need_name=name == "cast",
        name_weight=category.name_weight,
        place_weight=category.place_weight,
        names_outright=category.names_outright,
        # with no names needed, a sentence with nothing at all would still say it outright
        anything=AnyOf(finders) if category.names_outright > 0 else None,
    )


def whether_pattern(patterns: Sequence[str]) -> Finder | None:
    """Topic patterns as one regex that tells whether any of them occurs (their leading
    word boundaries hoisted, as a screen); None without patterns."""
    if not patterns:
        return None
    screen = screen_pattern(topic_regex(p).pattern for p in patterns)
    return screen or topic_regex("|".join(f"(?:{p})" for p in patterns))


@functools.lru_cache(maxsize=16)
def _matchers(topic: Topic) -> tuple[tuple[_CategoryMatcher, ...], Finder | None]:
    """The topic's categories and its earlier-film patterns, compiled (cached per topic)."""
    categories = tuple(_compile(topic, name, c) for name, c in topic.categories.items())
    return categories, whether_pattern(topic.classify.earlier_film)


@functools.lru_cache(maxsize=16)
def _declines(topic: Topic) -> Finder | None:
    """The topic's patterns of declining to speak, as one regex (cached per topic)."""
    return whether_pattern(topic.classify.declines)


def _spans(pattern: Terms | None, text: str) -> dict[str, tuple[int, int]]:
    """The different strings a pattern matches in a text, each with its first span."""
    found: dict[str, tuple[int, int]] = {}
    for match in pattern.finditer(text) if pattern else ():
        found.setdefault(match.group(), match.span())
    return found


# a character named as an actor's part ("the role of Motorball champion Jashugan", "die Rolle
# des Jashugan"): a casting line, not the story
_ROLE_OF = re.compile(
    r"\b(?:role of|rolle des|rolle der|role de|papel de|ruolo di)(?: [\w'-]+){0,3} $"
)


def _as_role(text: str, start: int) -> bool:
    """Whether the name starting at text[start] is named as an actor's part."""
    return bool(_ROLE_OF.search(text, max(0, start - 60), start))


class _Raw(NamedTuple):
    """What one sentence says for one category."""

    score: float
    outright: bool  # a term, a pattern or enough of its names
    stated: bool  # one of the category's facts, beside a name where it needs one
    lone: bool  # outright by its lone patterns only ("in spring 2027"): another category's
    # outright words in the sentence make them its attribution


_NOTHING = _Raw(0.0, False, False, False)


def _raw_score(matcher: _CategoryMatcher, text: str, settings: ClassifySettings) -> _Raw:
    """What one normalized sentence says for a category, whether it says it outright and
    whether it states one of the category's facts.

    Outright is a term, a pattern or enough of its names; hints alone ("the studio", "producers")
    add weight to a category but never earn it.
    """
    if matcher.says_nothing(text):
        return _NOTHING
    strong = _spans(matcher.terms, text)
    people = sum(not _as_role(text, start) for start, _ in _spans(matcher.names, text).values())
    places = sum(not _as_role(text, start) for start, _ in _spans(matcher.places, text).values())
    names = people + places
    patterns = matcher.patterns.count(text)
    stated = bool((names or not matcher.facts_need_name) and matcher.facts.any(text))
    patterns += stated
    lone = matcher.lone_patterns.count(text)
    # a hint inside a term ("story" in "the story") is not counted twice
    hints = [
        span
        for word, span in _spans(matcher.hints, text).items()
        if word not in strong and not any(s <= span[0] < e for s, e in strong.values())
    ]
    weak = len(hints) + matcher.hint_patterns.count(text)
    name_weight = settings.name_weight if matcher.name_weight is None else matcher.name_weight
    score = (
        settings.term_weight * (len(strong) + patterns + lone)
        + settings.hint_weight * weak
        + name_weight * people
        + (name_weight if matcher.place_weight is None else matcher.place_weight) * places
    )
    outright = bool(strong or patterns or names >= matcher.names_outright)
    return _Raw(score, outright or bool(lone), stated, not outright and bool(lone))


def _factor(
    view: SentenceView, earlier: bool, settings: ClassifySettings, lead: int, near: bool
) -> float:
    """How much a sentence's evidence counts: its kind, its place, the earlier film."""
    if view.alias:
        factor = settings.alias_factor
    elif view.kind == "sequel":
        # a sequel word beside a reference to the earlier film is half about that film
        factor = 0.5 if earlier else 1.0
    elif view.kind == "support":
        factor = settings.support_factor
    elif near:  # a sentence carrying on the subject of the one before it
        factor = settings.context_factor
    else:  # further on in an article about the sequel
        factor = settings.distant_factor
    if view.index == 0:
        return factor * settings.title_factor
    return factor * (settings.lead_factor if view.index <= lead else 1.0)


def _about_sequel(view: SentenceView, kept: bool) -> bool:
    """Whether a sentence may earn a category: it speaks of the sequel and is no trap.

    The title of a kept article counts too unless it hits a trap: the judge kept the
    article for what it says, so its headline ("Rosa Salazar wants back in") is about it.
    """
    if view.kind in _ABOUT_SEQUEL:
        return True
    return kept and view.index == 0 and view.kind != "trap" and not view.traps


def _untrapped(view: SentenceView) -> bool:
    """Whether a sentence hit no trap."""
    return view.kind != "trap" and not view.traps


def _in_context(view: SentenceView, last_about: int | None, span: int) -> bool:
    """Whether a sentence of a kept article carries on the subject of a recent sequel
    sentence: no trap, and no more than `span` sentences after it."""
    return (
        last_about is not None
        and view.index - last_about <= span
        and view.kind != "trap"
        and not view.traps
    )


def _outlet_masked(text: str, outlet: str) -> str:
    """A normalized sentence with the outlet's own name blanked out: a forum named after
    the film's world ("Motorball Forums > Film") says nothing of the story by its name."""
    return text.replace(outlet, " " * len(outlet)) if outlet and outlet in text else text


def sentence_evidence(
    topic: Topic, views: Sequence[SentenceView], kept: bool = True, outlet: str | None = None
) -> list[Evidence]:
    """Every (sentence, category) pair in which a sentence about the sequel is evidence.

    A sentence that speaks for several categories shares its weight among them in
    proportion to what it says for each: it is mostly about one thing. The outlet's name
    is no evidence where the text repeats it.
    """
    named = normalize(outlet).strip() if outlet else ""
    categories, earlier_film = _matchers(topic)
    declines = _declines(topic)
    settings = topic.classify
    found: list[Evidence] = []
    last_about: int | None = None
    for view in views:
        about = _about_sequel(view, kept)
        near = kept and _in_context(view, last_about, settings.context_span)
        if about:
            last_about = view.index
        elif not (near or (kept and settings.distant_factor and _untrapped(view))):
            continue
        if declines and declines.search(view.normalized):
            continue  # "the studio declined to comment on casting"
        earlier = bool(earlier_film and earlier_film.search(view.normalized))
        if earlier and about and _FUTURE.search(view.normalized):
            # "the story will take Alita to Zalem, seen at the end of the first film" is the
            # sequel's: the earlier film is only what it recalls
            earlier = False
        elif earlier and view.kind != "sequel":
            continue  # "Rosa Salazar played Alita in 2019": the earlier film's news
        factor = _factor(view, earlier, settings, topic.relevance.lead_sentences, near)
        text = _outlet_masked(view.normalized, named)
        raw = {m.name: _raw_score(m, text, settings) for m in categories}
        # hints ("the studio confirmed") beside what a sentence says outright of another
        # category are its attribution, not a second subject; so is a lone pattern ("in
        # spring 2027") beside another category's own words ("capture begins")
        if any(r.outright and not r.lone for r in raw.values()):
            raw = {name: r for name, r in raw.items() if r.outright and not r.lone}
        elif any(r.outright for r in raw.values()):
            raw = {name: r for name, r in raw.items() if r.outright}
        total = sum(r.score for r in raw.values())
        for name, (score, outright, stated, _) in raw.items():
            if score >= settings.min_sentence_score:
                share = (score / total) ** settings.split_power
                weighed = round(factor * score * share, 3)
                found.append(Evidence(name, view, weighed, outright, stated, earlier))
    return found


def earned(topic: Topic, found: Iterable[Evidence]) -> dict[str, tuple[Evidence, ...]]:
    """The categories the evidence adds up to, each with its evidence, strongest first."""
    settings = topic.classify
    by_category: dict[str, list[Evidence]] = {}
    for item in found:
        by_category.setdefault(item.category, []).append(item)
    totals = {name: sum(e.score for e in items) for name, items in by_category.items()}
    # what the article says of the sequel alone: not beside the earlier film or a trap
    clear = {
        name: sum(e.score for e in items if not (e.earlier or e.sentence.traps))
        for name, items in by_category.items()
    }
    top = max(totals.values(), default=0.0)
    side = settings.share_of_top * top
    side_score = side if settings.side_score is None else min(side, settings.side_score)
    return {
        name: tuple(sorted(items, key=lambda e: (-e.score, e.sentence.index)))
        for name, items in by_category.items()
        if totals[name] >= settings.min_score
        # a side subject earns its category when it weighs enough beside the main one, when
        # it is said clearly, not beside the earlier film, or when the article states one of
        # its facts ("Rosa Salazar is set to return")
        and (totals[name] >= side or clear[name] >= side_score or any(e.states_fact for e in items))
        and any(e.outright for e in items)
    }


def evidence(
    topic: Topic, title: str, text: str, description: str = "", outlet: str | None = None
) -> dict[str, tuple[Evidence, ...]]:
    """The categories a kept article earns, with all their evidence, strongest first.

    An article the judge drops earns nothing: it is not about the sequel.
    """
    return all_evidence(topic, title, text, description, outlet)[0]


def all_evidence(
    topic: Topic, title: str, text: str, description: str = "", outlet: str | None = None
) -> tuple[dict[str, tuple[Evidence, ...]], dict[str, tuple[Evidence, ...]]]:
    """The categories a kept article earns, and every category's evidence, earned or not
    (strongest first): a category short of its score still earns a label by a fact."""
    relevance, views = judge_sentences(topic, title, text, description, outlet)
    if not relevance.kept:
        return {}, {}
    found = sentence_evidence(topic, views, outlet=outlet)
    return earned(topic, found), ranked_evidence(found)


def ranked_evidence(found: Iterable[Evidence]) -> dict[str, tuple[Evidence, ...]]:
    """Every category's evidence, strongest first."""
    every: dict[str, list[Evidence]] = {}
    for item in found:
        every.setdefault(item.category, []).append(item)
    return {
        name: tuple(sorted(items, key=lambda e: (-e.score, e.sentence.index)))
        for name, items in every.items()
    }


def _proof(items: tuple[Evidence, ...]) -> Evidence:
    """The sentence that proves a category: a body sentence rather than the headline,
    unless the body says it much more weakly (the headline is shown beside it anyway)."""
    top = items[0]
    body = next((e for e in items if e.sentence.index != 0), None)
    return body if body is not None and body.score >= 0.5 * top.score else top


def labels(topic: Topic, found: dict[str, tuple[Evidence, ...]]) -> tuple[Label, ...]:
    """One label per earned category: its best sentence and a confidence in 0..1."""
    half = topic.classify.half_confidence
    result = []
    for name in topic.categories:  # the topic file's order
        if name in found:
            total = sum(e.score for e in found[name])
            best = _proof(found[name]).sentence.text
            result.append(
                Label(category=name, confidence=round(total / (total + half), 3), sentence=best)
            )
    return tuple(result)


def classify(
    topic: Topic, title: str, text: str, description: str = "", outlet: str | None = None
) -> tuple[Label, ...]:
    """The categories an article about the sequel earns, each with its best evidence sentence."""
    return labels(topic, evidence(topic, title, text, description, outlet))
