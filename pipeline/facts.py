"""Typed facts (release windows, cast statuses, production status) read from evidence sentences."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from config.topic import StatusRule, Topic
from pipeline.classify import (
    Evidence,
    earned,
    labels,
    ranked_evidence,
    sentence_evidence,
    topic_regex,
    whether_pattern,
)
from pipeline.literals import Finder, Terms, screened
from pipeline.model import article_vector, rule_features, topic_model
from pipeline.records import Analysis, Fact, Label
from pipeline.relevance import (
    SentenceView,
    as_written,
    judge_sentences,
    normalize,
    terms_pattern,
)

# Calendar words are language data, not topic data: the same for every film. They are
# matched against normalized text (lowercase, accents removed). Polish months come in three
# cases ("w lipcu 2031", "20 grudnia 2030").
# fmt: off
MONTHS: dict[int, tuple[str, ...]] = {
    1: ("january", "jan", "enero", "gennaio", "januar", "janvier", "janeiro", "januari",
        "styczen", "stycznia", "styczniu"),
    2: ("february", "feb", "febrero", "febbraio", "februar", "fevrier", "fevereiro", "februari",
        "luty", "lutego", "lutym"),
    3: ("march", "mar", "marzo", "marz", "mars", "marco", "maret", "marzec", "marca", "marcu"),
    4: ("april", "apr", "abril", "aprile", "avril", "kwiecien", "kwietnia", "kwietniu"),
    5: ("may", "mayo", "maggio", "mai", "maio", "mei", "maju"),  # not "maja": a first name
    6: ("june", "jun", "junio", "giugno", "juni", "juin", "junho", "czerwiec", "czerwca",
        "czerwcu"),
    7: ("july", "jul", "julio", "luglio", "juli", "juillet", "julho", "lipiec", "lipca", "lipcu"),
    8: ("august", "aug", "agosto", "aout", "agustus", "sierpien", "sierpnia", "sierpniu"),
    9: ("september", "sep", "sept", "septiembre", "setiembre", "settembre", "septembre",
        "setembro", "wrzesien", "wrzesnia", "wrzesniu"),
    10: ("october", "oct", "octubre", "ottobre", "oktober", "octobre", "outubro", "pazdziernik",
         "pazdziernika", "pazdzierniku"),
    11: ("november", "nov", "noviembre", "novembre", "novembro", "listopad", "listopada",
         "listopadzie"),
    12: ("december", "dec",
         "christmas", "navidad", "natale", "weihnachten", "noel", "natal",  # Christmas 2031
         "diciembre", "dicembre", "dezember", "decembre", "dezembro", "desember", "grudzien",
         "grudnia", "grudniu"),
}
# Relative years, resolved against the article's publication date: phrase -> years ahead.
RELATIVE_YEARS: dict[str, int] = {
    "next year": 1, "this year": 0, "el proximo ano": 1, "el ano que viene": 1, "este ano": 0,
    "l'anno prossimo": 1, "il prossimo anno": 1, "quest'anno": 0, "nachstes jahr": 1,
    "nachsten jahr": 1, "dieses jahr": 0, "l'annee prochaine": 1, "cette annee": 0,
    "ano que vem": 1, "proximo ano": 1, "tahun depan": 1, "tahun ini": 0,
}
# fmt: on
# Where a clause ends inside a sentence: punctuation (not the comma of "December 14, 2030")
# and the conjunctions that turn to another subject.
CLAUSE_BREAK = re.compile(
    r"[;()\[\]]|,(?!\s*\d)|\s-\s|\b(?:but|while|whereas|although|pero|aunque|mientras|ma|"
    r"mentre|sebbene|aber|wahrend|obwohl|mais|alors que|bien que|mas|enquanto|embora|tapi|"
    r"namun|sementara)\b"
)

_MONTH_OF = {name: number for number, names in MONTHS.items() for name in names}
_MONTH_NAMES = "|".join(sorted(_MONTH_OF, key=len, reverse=True))
_DATE = re.compile(
    rf"\b(?:(?P<day>\d{{1,2}})(?:st|nd|rd|th|er|o)?\.?\s+(?:de\s+|di\s+)?)?"
    rf"(?P<month>{_MONTH_NAMES})\.?\s+(?:(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+)?"
    rf"(?:de\s+|del\s+)?(?P<year>20\d\d)\b"
)
_YEAR = re.compile(r"(?<![\d$.,])\b(?P<year>20\d\d)\b(?![.,]?\d)")
_RELATIVE = re.compile(
    r"(?<!\w)(?:" + "|".join(re.escape(p) for p in sorted(RELATIVE_YEARS, key=len)[::-1]) + r")\b"
)
# A date right after one of these is the one a film had before: "moved out of December
# 2030", "from July 2031 to June 2032", "the 2032 window announced only weeks ago was undone"
_REPLACED = re.compile(
    r"\b(?:out of|off|from|loses|lost|undoes|undid|previously|originally|formerly|initially|"
    r"had been|was set for|was dated for|vacates|desde|dal|dalla|von|van)\s+"
    r"(?:(?!to\b|into\b|a\b|al\b|naar\b|nach\b|para\b|per\b)\w+\s+){0,2}$"  # not "from May to"
)
# How many words before a status phrase a negation or hedge cancels it.
_NEGATION_WORDS = 5


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    """The topic's fact vocabulary, compiled once."""

    windows: tuple[tuple[str, re.Pattern[str]], ...]
    cast: tuple[tuple[StatusRule, Finder], ...]
    production: tuple[tuple[StatusRule, Finder], ...]
    # every status phrase of each, as one regex: most sentences state none (None: not joined)
    screens: dict[str, Finder | None]
    negation: Finder | None
    denial: Finder | None
    making: Finder | None
    other_films: re.Pattern[str] | None
    earlier_film: Finder | None
    role: re.Pattern[str] | None
    ours: Terms | None  # what names our film: aliases, franchise, sequel words
    people: tuple[tuple[str, str, str], ...]  # (name as written, normalized, surname)
    named: frozenset[str]  # every word of the topic's names and terms: no newcomer's name


def _any(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for several, or None when there are none."""
    return topic_regex("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def _screen(rules: tuple[StatusRule, ...]) -> Finder | None:
    """All the rules' phrases as one regex that tells whether a sentence has any of them."""
    return whether_pattern([p for rule in rules for p in rule.patterns])


def _rules(rules: tuple[StatusRule, ...]) -> tuple[tuple[StatusRule, Finder], ...]:
    """Each status rule with its patterns compiled into one regex (behind the screen of the
    words they need: a sentence that states one status seldom has another's words)."""
    return tuple(
        (rule, screened(topic_regex("|".join(f"(?:{p})" for p in rule.patterns)))) for rule in rules
    )


def _role_pattern(topic: Topic) -> re.Pattern[str] | None:
    """'as Vector', 'play Alita', 'nei panni di Alita': a cue, then a role, named 'role'."""
    cues = terms_pattern(cue for group in topic.facts.role_cues.values() for cue in group)
    roles = terms_pattern(topic.facts.roles)
    if cues is None or roles is None:
        return None
    return re.compile(rf"{cues.pattern}\s+(?:\w+\s+){{0,2}}?(?P<role>{roles.pattern})")


@functools.lru_cache(maxsize=16)
def _vocabulary(topic: Topic) -> _Vocabulary:
    """Compile a topic's fact vocabulary (cached per topic)."""
    facts = topic.facts
    cast = topic.categories.get("cast")
    people = cast.people if cast else topic.people
    return _Vocabulary(
        windows=tuple(
            (rule.value, topic_regex(p)) for rule in facts.windows for p in rule.patterns
        ),
        cast=_rules(facts.cast),
        production=_rules(facts.production),
        screens={
            "cast": _screen(facts.cast),
            "production": _screen(facts.production),
        },
        negation=whether_pattern(facts.negations),
        denial=whether_pattern(facts.denials),
        making=whether_pattern(facts.making),
        other_films=_any(facts.other_films),  # where it is named matters
        earlier_film=whether_pattern(topic.classify.earlier_film),
        role=_role_pattern(topic),
        ours=terms_pattern(
            (*topic.aliases, *topic.franchise, *(w for g in topic.sequel_words.values() for w in g))
        ),
        people=_cast_names(topic, people),
        named=_named_words(topic),
    )


def _cast_names(topic: Topic, people: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    """(the person, a name of theirs normalized, its last word) for each way the topic
    writes each cast member: other scripts' spellings ("ローサ・サラザール") name the person
    as the topic lists them, so a Japanese article's fact is about "Rosa Salazar"."""
    canonical = {v: name for name, variants in topic.spellings.items() for v in variants}
    names: dict[str, str] = {}
    for person in people:
        names.setdefault(person, canonical.get(person, person))
        for variant in topic.spellings.get(person, ()):
            names.setdefault(variant, person)
    return tuple(
        (person, normalize(name), normalize(name).split()[-1]) for name, person in names.items()
    )


def _named_words(topic: Topic) -> frozenset[str]:
    """The words of every name and term the topic knows (the film, its world, its people,
    its categories' words): a capitalized run made of one of them names no newcomer."""
    terms: list[str] = [
        *topic.aliases, *topic.franchise, *topic.people, *topic.places, *topic.broad_terms,
        *topic.outlet_words, *topic.facts.roles,
        *(w for group in topic.sequel_words.values() for w in group),
    ]  # fmt: skip
    for category in topic.categories.values():
        terms += [*category.people, *category.places]
        terms += [t for group in category.terms.values() for t in group]
        terms += [t for group in category.hints.values() for t in group]
    words = {word for term in terms for word in _WORD.findall(normalize(term))}
    return frozenset(words | _NOT_NAMES)


@dataclass(frozen=True, slots=True)
class _Context:
    """What every fact of one article is read against."""

    vocabulary: _Vocabulary
    earliest_year: int  # release years before this are not the sequel's
    published: datetime | None
    names: tuple[tuple[str, Terms], ...]  # person -> their full name or surname


def _clause(text: str, position: int) -> tuple[int, int]:
    """The start and end of the clause around a position in a sentence."""
    start, end = 0, len(text)
    for match in CLAUSE_BREAK.finditer(text):
        if match.end() <= position:
            start = match.end()
        elif match.start() >= position:
            end = match.start()
            break
    return start, end


def _clause_before(text: str, position: int) -> str:
    """The part of the clause around a position that comes before it."""
    start, _ = _clause(text, position)
    return text[start:position]


def _just_before(pattern: Finder | None, text: str, position: int) -> bool:
    """True when the pattern occurs within the few words of the clause before a position."""
    if pattern is None:
        return False
    before = " ".join(_clause_before(text, position).split()[-_NEGATION_WORDS:])
    return bool(pattern.search(before))


def _negated(vocabulary: _Vocabulary, text: str, position: int) -> bool:
    """True when a negation or hedge stands within a few words before a position."""
    return _just_before(vocabulary.negation, text, position)


def _made_then(vocabulary: _Vocabulary, text: str, position: int) -> bool:
    """True when one of the few words before a window speaks of making the film ("a shoot
    in 2029 at the earliest"), not of releasing it."""
    return _just_before(vocabulary.making, text, position)


def _of_making(vocabulary: _Vocabulary, text: str, position: int) -> bool:
    """True when the clause before a date speaks of making the film, not releasing it."""
    if vocabulary.making is None:
        return False
    return bool(vocabulary.making.search(_clause_before(text, position)))


def _confidence(item: Evidence) -> float:
    """How far a fact can be trusted from where its sentence stands.

    A sentence that only carries on the subject of the one before it ("It moved to 2031.")
    may earn a category but is too loosely tied to the sequel to state a fact about it:
    it stays below the confidence at which facts are recorded.
    """
    view = item.sentence
    if view.alias:
        return 0.9
    return {"sequel": 0.8, "support": 0.65}.get(view.kind, 0.55) if view.index else 0.65


def _fact(
    kind: str, subject: str, value: str, detail: str | None, item: Evidence, weight: float
) -> Fact:
    """A fact read from one evidence sentence."""
    return Fact(
        kind=kind,
        subject=subject,
        value=value,
        detail=detail,
        sentence=item.sentence.text,
        confidence=round(_confidence(item) * weight, 3),
    )


def _phrase(view: SentenceView, match: re.Match[str]) -> str:
    """A matched phrase as the article wrote it."""
    return as_written(view.text, *match.span())


def _windows(ctx: _Context, item: Evidence) -> Iterator[tuple[tuple[int, int], Fact]]:
    """Release windows named by the topic's phrases: 'after Avatar 5', 'no earlier than 2030'."""
    text = item.sentence.normalized
    for value, pattern in ctx.vocabulary.windows:
        for match in pattern.finditer(text):
            year = match.groupdict().get("year")
            if year is not None and int(year) < ctx.earliest_year:
                continue
            if year is not None and _made_then(ctx.vocabulary, text, match.start()):
                continue  # "a shoot in 2029 at the earliest": when it is made
            normalised = value.replace("{year}", year or "")
            fact = _fact("release", "release", normalised, _phrase(item.sentence, match), item, 1.0)
            yield match.span(), fact


def _about_sequel(ctx: _Context, text: str, position: int) -> bool:
    """True unless the date belongs to another film or to the earlier one.

    It does when its clause names one, or when the last film named before it in the
    sentence is another one ("will wait for the final Avatar film, due in December 2028").
    """
    start, end = _clause(text, position)
    clause = text[start:end]
    guards = (ctx.vocabulary.other_films, ctx.vocabulary.earlier_film)
    if any(guard and guard.search(clause) for guard in guards):
        return False
    other = ctx.vocabulary.other_films
    before = text[:position]
    last_other = max((m.end() for m in other.finditer(before)), default=-1) if other else -1
    if last_other < 0:
        return True
    ours = ctx.vocabulary.ours
    last_ours = max((m.end() for m in ours.finditer(before)), default=-1) if ours else -1
    return last_ours > last_other


def _dates(ctx: _Context, item: Evidence, taken: list[tuple[int, int]]) -> Iterator[Fact]:
    """Plain dates and years ('December 2030', 'in 2030', 'next year') said of the sequel."""
    text = item.sentence.normalized
    found: list[tuple[re.Match[str], str, float]] = []
    for match in _DATE.finditer(text):
        month = _MONTH_OF[match["month"]]
        found.append((match, f"{match['year']}-{month:02d}", 0.9))
    for match in _YEAR.finditer(text):
        found.append((match, match["year"], 0.8))
    if ctx.published is not None:
        for match in _RELATIVE.finditer(text):
            year = ctx.published.year + RELATIVE_YEARS[match.group()]
            found.append((match, str(year), 0.7))
    for match, value, weight in found:
        start, end = match.span()
        if any(s <= start < e or s < end <= e for s, e in taken):
            continue
        if int(value[:4]) < ctx.earliest_year or not _about_sequel(ctx, text, start):
            continue
        if _negated(ctx.vocabulary, text, start) or _of_making(ctx.vocabulary, text, start):
            continue
        if _REPLACED.search(_clause_before(text, start)):
            taken.append((start, end))  # nor is the year inside it the new date
            continue  # the date it had: "moved out of December 2030"
        taken.append((start, end))
        yield _fact("release", "release", value, _phrase(item.sentence, match), item, weight)


def _release(ctx: _Context, item: Evidence) -> list[Fact]:
    """Release facts from one evidence sentence: windows first, then plain dates."""
    windows = list(_windows(ctx, item))
    taken = [span for span, _ in windows]
    return [fact for _, fact in windows] + list(_dates(ctx, item, taken))


def _statuses(
    ctx: _Context, kind: str, text: str, asks: bool = False
) -> Iterator[tuple[int, StatusRule, re.Match[str]]]:
    """Every status phrase in a sentence that no negation cancels, with its rule's rank; with
    `asks`, none of a question."""
    vocabulary = ctx.vocabulary
    rules = vocabulary.cast if kind == "cast" else vocabulary.production
    screen = vocabulary.screens[kind]
    if screen is not None and not screen.search(text):
        return
    denial = vocabulary.denial
    # a denial or a rumour states nothing; nor does a question asking whether someone is
    # in ("Keean Johnson back as Hugo??"), though one may take a status as given ("Now that
    # it's greenlit, what ...?")
    denied = bool(denial and denial.search(text)) or (asks and text.rstrip().endswith("?"))
    for rank, (rule, pattern) in enumerate(rules):
        for match in pattern.finditer(text):
            if rule.negatable and (denied or _negated(vocabulary, text, match.start())):
                continue
            yield rank, rule, match


def _people(ctx: _Context, text: str) -> list[tuple[int, int, str]]:
    """Where the cast's people are named in a sentence: (start, end, full name)."""
    found: list[tuple[int, int, str]] = []
    for person, pattern in ctx.names:
        found.extend((m.start(), m.end(), person) for m in pattern.finditer(text))
    return sorted(found)


# Capitalized words that start no one's name however they are written ("Sources Say", "The
# Studio", "Exclusive"): language data, not topic data.
_COMMON_WORDS = (
    "the a an and or but in on at of for to from with by as this that these those it its "
    "he she they we you his her their our my your who what when where why how not no "
    "yes also only just now then here there after before while since until "
    "mr mrs ms dr sir dame lord lady st jr sr "
    "monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday "
    "exclusive breaking update updated report reports sources source according news "
    "studio studios entertainment pictures films film movie movies productions company "
    "disney netflix warner universal paramount sony marvel lionsgate amazon apple hbo "
    "imax dolby oscar oscars academy award awards emmy golden globe globes comic con "
    "reddit twitter instagram youtube tiktok facebook podcast newsletter forum blog "
    "hollywood los angeles new york london paris tokyo texas austin wellington zealand "
    "el la los las le les il lo gli der die das ein eine un une o os as um uma "
    "de del da di du van von ver sequel"
)
_NOT_NAMES = frozenset(
    normalize(word)
    for word in [*_COMMON_WORDS.split(), *(name for names in MONTHS.values() for name in names)]
)
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
# what stands before a work's title, not a person's name: a quote, an italic mark, or
# the kind of work ("the crime series Cold Harbor")
_TITLED = re.compile(
    r"(?:[*\"'\u2018\u201c\u00ab_]|\b(?:series|serie|s\u00e9rie|show|film|movie|miniseries|drama|"
    r"sitcom|play|novel|comedy|album|podcast|site|magazine|outlet|trade|newsletter|studio|"
    r"company)(?:\s+\w+)?\s)$"
    # ... or a place, a medium or someone spoken to: "with Marquee Wire", "at Fantastic Fest"
    r"|\b(?:with|at|on|in|during|from|by|the|to|for|of|via|told|tells|said|says|per|a|an)\s$",
    re.IGNORECASE,
)
# lower-case words inside a name ("Joris van Leeuwen", "Tomás de la Vega")
_PARTICLES = frozenset(
    {"van", "von", "de", "del", "della", "da", "di", "du", "der", "den", "la", "le", "dos", "das"}
)
# how far (in characters of the normalized sentence) a newcomer's name may stand from the
# status phrase that speaks of them: right before it ("Dario Vance has been cast"), or just after
_NEWCOMER_BEFORE = 40
_NEWCOMER_AFTER = 25


def _capitalized(word: str) -> bool:
    """A word written like a name: a capital, then not all capitals ("Vance", not "ALERT")."""
    return word[0].isupper() and not (len(word) > 1 and word.isupper())


def _newcomers(vocabulary: _Vocabulary, view: SentenceView) -> list[tuple[int, int, str]]:
    """People the topic does not know, named in a sentence: two or three capitalized words
    in a row, none of them a word of the topic's names or terms or a common word
    ("Dario Vance", "Kai Tamura-Wells"); where they stand in the normalized sentence.

    A headline written in title case ("Dario Vance Joins Cast") capitalizes every word, so
    none of its runs is taken for a name; nor is a title ("the series *Cold Harbor*",
    "'Saltwater Road'") or a possessive ("Vienna's Burgtheater").
    """
    words = list(_WORD.finditer(view.text))
    if not words or not any(len(w.group()) > 3 and not _capitalized(w.group()) for w in words[1:]):
        return []  # no lower-case word of four letters or more: a title-case headline
    found: list[tuple[int, int, str]] = []
    run: list[re.Match[str]] = []

    def close() -> None:
        while run and not _capitalized(run[-1].group()):
            run.pop()  # a particle ends no name
        names = [w.group() for w in run if _capitalized(w.group())]
        if (
            2 <= len(names) <= 3
            and not any(normalize(n) in vocabulary.named for n in names)
            and not any(n.endswith(("'s", "\u2019s")) for n in names)
            and not _TITLED.search(view.text, 0, run[0].start())
        ):
            name = view.text[run[0].start() : run[-1].end()]
            at = view.normalized.find(normalize(name))
            if at >= 0:
                found.append((at, at + len(normalize(name)), name))
        run.clear()

    for word in words:
        adjacent = run and view.text[run[-1].end() : word.start()] == " "
        if run and not adjacent:
            close()
        text = word.group()
        if _capitalized(text) or run and text in _PARTICLES:
            run.append(word)
        else:
            close()
    close()
    return found


def _near(
    person: tuple[int, int, str],
    matches: list[re.Match[str]],
    others: list[tuple[int, int, str]],
    text: str,
) -> bool:
    """Whether a newcomer is who a status phrase speaks of: named right before it, or just
    after "cast", or as the subject of its clause with an aside between ("Dario Vance, a
    Juilliard graduate, has been cast") and no one else named in between."""
    start, end, _ = person
    for m in matches:
        # after the phrase only as its object: "has cast the stage actor Kai Tamura-Wells"
        # ("will play Lou Collins" names a part)
        if m.group().endswith("cast") and 0 <= start - m.end() <= _NEWCOMER_AFTER:
            return True
        if m.start() < end:
            continue
        close = m.start() - end <= _NEWCOMER_BEFORE or text.startswith(",", end)
        if close and not any(end <= s < m.start() for s, _, _ in others):
            return True
    return False


# what joins the names of several people who share one status ("Rosa Salazar and Christoph
# Waltz are set to return"): a comma or an "and" alone between two names
_AND = re.compile(r"\s*(?:,|&|\band\b|\by\b|\be\b|\bet\b|\bund\b|\bdan\b)\s*(?:\band\b\s*)?")


def _persons_for(
    people: list[tuple[int, int, str]], text: str, position: int
) -> tuple[list[str], float]:
    """The people a status phrase speaks of: the nearest before it with those listed
    together with them ("A, B and C will return"), else the nearest after it."""
    before = [p for p in people if p[1] <= position]
    if before:
        found = [before[-1]]
        for earlier in reversed(before[:-1]):
            if not _AND.fullmatch(text, earlier[1], found[-1][0]):
                break
            found.append(earlier)
        return [name for _, _, name in reversed(found)], 1.0
    after = [p for p in people if p[0] >= position]
    return ([after[0][2]], 0.8) if after else ([], 0.0)


def _role(
    ctx: _Context, view: SentenceView, people: list[tuple[int, int, str]], at: int
) -> str | None:
    """The role stated after a person and before the next one ('as Vector'), as written."""
    if ctx.vocabulary.role is None:
        return None
    until = min((start for start, _, _ in people if start > at), default=len(view.normalized))
    for match in ctx.vocabulary.role.finditer(view.normalized, at, until):
        if match.end("role") <= until:
            return as_written(view.text, *match.span("role"))
    return None


def _cast(ctx: _Context, item: Evidence) -> list[Fact]:
    """Cast facts from one evidence sentence: a person, their status and their role.

    The person is one the topic names, or a newcomer named right beside the status phrase
    ("Dario Vance has been cast as Jashugan"): a new name is news the topic file cannot
    list beforehand.
    """
    view = item.sentence
    statuses = list(_statuses(ctx, "cast", view.normalized, asks=True))
    if not statuses:
        return []
    people = _people(ctx, view.normalized)
    matches = [match for _, _, match in statuses]
    candidates = [
        person
        for person in _newcomers(ctx.vocabulary, view)
        if not any(s < person[1] and person[0] < e for s, e, _ in people)
    ]
    newcomers = [
        person
        for person in candidates
        if _near(person, matches, people + candidates, view.normalized)
    ]
    people = sorted(people + newcomers)
    if not people:
        return []
    best: dict[str, tuple[int, str, float]] = {}
    for rank, rule, match in statuses:
        persons, weight = _persons_for(people, view.normalized, match.start())
        for person in persons:
            if person not in best or rank < best[person][0]:
                best[person] = (rank, rule.value, weight)
    facts = []
    for person, (_, value, weight) in best.items():
        at = next(start for start, _, name in people if name == person)
        facts.append(_fact("cast", person, value, _role(ctx, view, people, at), item, weight))
    return facts


def _production(ctx: _Context, item: Evidence) -> list[Fact]:
    """The production status one evidence sentence states, if any."""
    view = item.sentence
    found = min(_statuses(ctx, "production", view.normalized), default=None, key=lambda s: s[0])
    if found is None:
        return []
    _, rule, match = found
    return [_fact("production", "status", rule.value, _phrase(view, match), item, 1.0)]


@functools.lru_cache(maxsize=1024)
def _person_pattern(terms: tuple[str, ...]) -> Terms | None:
    """One person's names as a pattern (cached: every article asks for the same few)."""
    return terms_pattern(terms)


def _names(vocabulary: _Vocabulary, article: str) -> tuple[tuple[str, Terms], ...]:
    """Each cast member's pattern: the full name, and the surname once the article named them."""
    names = []
    for person, full, surname in vocabulary.people:
        terms = (full, surname) if full in article and surname != full else (full,)
        pattern = _person_pattern(terms)
        if pattern is not None:
            names.append((person, pattern))
    return tuple(names)


def _merge(facts: list[Fact]) -> tuple[Fact, ...]:
    """One fact per kind, subject and value: the surest, preferring one with a detail."""
    best: dict[tuple[str, str, str], Fact] = {}
    for fact in facts:
        key = (fact.kind, fact.subject, fact.value)
        known = best.get(key)
        if known is None or (fact.confidence, fact.detail is not None) > (
            known.confidence,
            known.detail is not None,
        ):
            best[key] = fact
    return tuple(best.values())


def _discount(ctx: _Context, item: Evidence, facts: list[Fact]) -> list[Fact]:
    """Facts from a sentence that also speaks of the earlier film, trusted less."""
    view, earlier = item.sentence, ctx.vocabulary.earlier_film
    if view.alias or earlier is None or not earlier.search(view.normalized):
        return facts
    return [replace(fact, confidence=round(fact.confidence * 0.6, 3)) for fact in facts]


_READERS = {"release": _release, "cast": _cast, "production": _production}
# How sure a fact read from a category's evidence must be to earn the category its label
# when the evidence alone falls short (as sure as a fact must be to be recorded at all).
FACT_EARNS_LABEL = 0.4
# ... for the kinds whose facts say their category by themselves: a date is a release
# window, a named person with a status ("returning", "denied") is casting news, where a
# production status word ("delayed", "back") can belong to a casting sentence
FACT_EARNS_LABEL_KINDS = frozenset({"release", "cast"})


@dataclass(frozen=True, slots=True)
class RulesReading:
    """What the topic's rules read in an article taken to be about the sequel."""

    earned: frozenset[str]  # the categories its evidence earns
    found: dict[str, tuple[Evidence, ...]]  # ... and those its facts earn, with evidence
    every: dict[str, tuple[Evidence, ...]]  # every category's evidence, strongest first
    facts: tuple[Fact, ...]


def read_by_rules(
    topic: Topic,
    views: Sequence[SentenceView],
    title: str,
    text: str,
    description: str = "",
    published: datetime | None = None,
    outlet: str | None = None,
) -> RulesReading:
    """Classify an article's sentences and read typed facts out of its evidence, as if it
    were about the sequel.

    A category whose evidence falls short of its score still earns its label when one of
    its sentences states a fact of its kind outright ("Sortie prévue en 2031.", the last
    line of a casting story): every fact's kind is among the article's categories.
    """
    evidence = sentence_evidence(topic, views, outlet=outlet)
    every = ranked_evidence(evidence)
    found = earned(topic, evidence)
    evidence_earned = frozenset(found)
    vocabulary = _vocabulary(topic)
    floor = max(topic.facts.earliest_year or 0, published.year if published else 0)
    article = normalize(" ".join((title, description, text)))
    ctx = _Context(vocabulary, floor, published, _names(vocabulary, article))
    facts: list[Fact] = []
    for category, items in every.items():
        reader = _READERS.get(category)
        if reader is None:
            continue
        is_earned = category in found
        if not is_earned and category not in FACT_EARNS_LABEL_KINDS:
            continue
        read: list[Fact] = []
        for item in sorted(items, key=lambda e: e.sentence.index):
            if is_earned or item.outright:
                read.extend(_discount(ctx, item, reader(ctx, item)))
        if not is_earned:
            read = [fact for fact in read if fact.confidence >= FACT_EARNS_LABEL]
            if not read:
                continue
            found[category] = items
        facts.extend(read)
    return RulesReading(evidence_earned, found, every, _merge(facts))


def rules_found(reading: RulesReading) -> dict[str, tuple[float, ...]]:
    """What the rules found for each category, as a model reads it (pipeline.model)."""
    return {
        name: rule_features(
            name in reading.found,
            name in reading.earned,
            sum(e.score for e in items),
            max(e.score for e in items),
        )
        for name, items in reading.every.items()
    }


def analyse(
    topic: Topic,
    title: str,
    text: str,
    description: str = "",
    published: datetime | None = None,
    outlet: str | None = None,
) -> Analysis:
    """Classify an article and read typed facts out of its evidence sentences.

    An article the judge drops earns nothing. With a topic model (pipeline.model), the
    model decides the categories from the article's words and what the rules found; each
    label's sentence is still the best evidence the rules found for it, or else the
    sentence whose words speak most for it. A fact's kind is always among the labels.
    """
    relevance, views = judge_sentences(topic, title, text, description, outlet)
    if not relevance.kept:
        return Analysis(labels=(), facts=())
    reading = read_by_rules(topic, views, title, text, description, published, outlet)
    model = topic_model(topic)
    vector = article_vector(model, title, description, text) if model is not None else None
    if model is None or vector is None or not vector.known:
        return Analysis(labels=labels(topic, reading.found), facts=reading.facts)
    chances = model.category_probabilities(vector, rules_found(reading))
    fact_kinds = {fact.kind for fact in reading.facts if fact.confidence >= FACT_EARNS_LABEL}
    decided: list[Label] = []
    for name in topic.categories:  # the topic file's order
        chance = chances.get(name)
        if chance is None:  # a category the model does not know: the rules decide
            if name in reading.found:
                decided.extend(labels(topic, {name: reading.found[name]}))
            continue
        if chance < model.threshold and name not in fact_kinds:
            continue
        items = reading.every.get(name)
        if items:
            # as sure as its evidence says (as the rules' labels are): how strongly an
            # article speaks of each category tells its main subject from side ones
            [label] = labels(topic, {name: items})
            decided.append(label)
        else:
            # no sentence is evidence by the rules: the one whose words speak most for it,
            # at half the model's certainty
            best = model.best_sentence(name, (view.text for view in views))
            sentence = views[best if best is not None else 0].text
            decided.append(Label(name, round(chance / 2, 3), sentence))
    return Analysis(labels=tuple(decided), facts=reading.facts)
