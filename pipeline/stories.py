"""Stories: which articles report the same news, judged by the evidence they share.

An article's evidence is what survives rewriting and translation: the facts it states,
the people and places it names, the years and sums it gives, the quotes it carries and
the rarer words of its headline. Two articles are one story when the evidence they share
weighs enough against all the evidence either has.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from config import Topic
from pipeline.dedupe import tokens
from pipeline.records import Analysis
from pipeline.relevance import UNSPACED

# How much each kind of evidence says about "the same news": h people and g places named
# in the headline or lead, c the main category, s the subject of a fact, f a fact with its
# value, q a quote, n a year or sum, t a rarer headline word, p and l people and places
# anywhere in the text.
WEIGHTS = {
    "h": 3.0,
    "g": 1.5,
    "c": 2.0,
    "s": 2.0,
    "f": 4.0,
    "b": 1.0,
    "q": 3.0,
    "n": 1.0,
    "t": 1.0,
    "p": 0.5,
    "l": 0.5,
}
ROSTER = 3  # people given a status in one sentence that make it a recall of the cast so far
# An article is mainly about each category nearly as sure as its surest: two rewrites of
# one news whose top two categories swap places still share them (one category each split
# rewrites of one story on the development set; at 0.75 unrelated news starts to merge).
MAIN_SHARE = 0.85
# News is rewritten within a day or two: closeness in time counts, fading over the window.
SAME_NEWS_HOURS = 36.0
FLOOR = 0.25
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")
_MONEY = re.compile(r"\$\s?(\d+(?:[.,]\d+)?)\s*(million|billion|m|bn)\b", re.IGNORECASE)
_QUOTE = re.compile(
    r"[\"\u201c\u201e\u00ab]([^\"\u201c\u201d\u201e\u00ab\u00bb]{12,300})[\"\u201d\u00bb]"
)
_TITLE_WORD_MIN = 5
# A name the topic does not list ("Michelle Rodriguez", "Texas Film Commission"): two or
# more capitalised words in a row. News names its people the same way in every language.
_CAPITAL = r"[A-Z\u00c0-\u00de][a-z\u00df-\u00ff'\u2019]+"
_PROPER_NAME = re.compile(rf"(?<![\w.])(?:{_CAPITAL})(?:[ -](?:{_CAPITAL})){{1,3}}(?!\w)")
# Capitalised words that start sentences or titles rather than names
_NOT_NAMES = frozenset(
    [
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "his",
        "her",
        "its",
        "their",
        "our",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "by",
        "after",
        "before",
        "when",
        "while",
        "as",
        "but",
        "and",
        "or",
        "if",
        "it",
        "he",
        "she",
        "they",
        "we",
        "you",
        "i",
        "el",
        "la",
        "los",
        "las",
        "un",
        "una",
        "del",
        "en",
        "con",
        "por",
        "para",
        "le",
        "les",
        "des",
        "du",
        "de",
        "et",
        "au",
        "aux",
        "une",
        "il",
        "elle",
        "der",
        "die",
        "das",
        "ein",
        "eine",
        "und",
        "mit",
        "im",
        "am",
        "il",
        "lo",
        "gli",
        "i",
        "dei",
        "della",
        "di",
        "per",
        "con",
        "o",
        "a",
        "os",
        "as",
        "um",
        "uma",
        "do",
        "da",
        "em",
        "com",
        "para",
        "no",
        "na",
        "nos",
        "nas",
    ]
)


def _forms(topic: Topic) -> list[tuple[str, str, str]]:
    """(key prefix, name, a way of writing it) for every person and place: each as listed,
    and in the other scripts of `spellings`, which name the person or place as listed."""
    same = {form: name for name, forms in topic.spellings.items() for form in forms}
    found = []
    for prefix, names in (("p", topic.people), ("l", topic.places)):
        for name in names:
            for form in (name, *topic.spellings.get(name, ())):
                found.append((prefix, " ".join(tokens(same.get(name, name))), form))
    return found


@functools.lru_cache(maxsize=16)
def _names(topic: Topic) -> dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]]:
    """The topic's people and places written with spaces between words, by their first
    word: (key prefix, name, its words)."""
    index: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}
    for prefix, name, form in _forms(topic):
        words = tuple(tokens(form))
        if words and not UNSPACED.search(form):
            entry = (prefix, name, words)
            if entry not in index.get(words[0], []):
                index.setdefault(words[0], []).append(entry)
    return {first: tuple(entries) for first, entries in index.items()}


@functools.lru_cache(maxsize=16)
def _unspaced_names(topic: Topic) -> tuple[tuple[str, str, str], ...]:
    """The topic's people and places as Japanese, Chinese or Korean write them: (key prefix,
    name, its words joined). These scripts write a name onto the words around it ("サラザール
    が", "코넬리가"), so it is looked for inside the text's words, not as words of its own."""
    found = {
        (prefix, name, " ".join(tokens(form)))
        for prefix, name, form in _forms(topic)
        if UNSPACED.search(form) and tokens(form)
    }
    return tuple(sorted(found))


def _named(topic: Topic, words: list[str]) -> set[tuple[str, str]]:
    """The (key prefix, name) of every person and place whose words occur in a row.

    One walk over the words, where a regex per name searched the whole text (the slowest
    part of an article's evidence, with a topic of some fifty names).
    """
    index = _names(topic)
    found = set()
    for i, word in enumerate(words):
        for prefix, name, parts in index.get(word, ()):
            if len(parts) == 1 or tuple(words[i : i + len(parts)]) == parts:
                found.add((prefix, name))
    unspaced = _unspaced_names(topic)
    if unspaced:
        joined = " ".join(words)
        if not joined.isascii():
            found.update((prefix, name) for prefix, name, form in unspaced if form in joined)
    return found


@functools.lru_cache(maxsize=16)
def _common_words(topic: Topic) -> frozenset[str]:
    """Words of the film's own names: every article has them, so they tell stories apart not."""
    words: set[str] = set()
    for term in (*topic.aliases, *topic.franchise):
        words.update(tokens(term))
    for group in topic.sequel_words.values():
        for term in group:
            words.update(tokens(term))
    return frozenset(words)


def _folded(text: str) -> str:
    """Text as space-joined folded tokens, for name matching."""
    return " ".join(tokens(text))


def evidence_keys(
    topic: Topic, title: str, text: str, analysis: Analysis, lead: str = ""
) -> frozenset[str]:
    """The evidence an article offers for telling which news it reports."""
    opening = lead or _first_sentences(text)  # the standfirst, or the first sentences
    head_text = f"{title}\n{opening}"
    # a fact the headline or lead states is the news; one further down is mostly background
    # ("Salazar, who has said she will return, ...") that other news repeats
    # a sentence that gives the status of several people ("Salazar returns, Waltz is back and
    # Norton returns") recalls the cast so far: what any news of the film may repeat
    per_sentence = Counter(f.sentence for f in analysis.facts if f.kind == "cast")
    facts = [
        f
        for f in analysis.facts
        if f.kind != "cast" or f.sentence in head_text or per_sentence[f.sentence] < ROSTER
    ]
    keys = {
        f"{'f' if f.sentence in head_text else 'b'}:{f.kind}:{_folded(f.subject)}:"
        f"{_folded(f.value)}"
        for f in facts
    }
    keys.update(f"s:{f.kind}:{_folded(f.subject)}" for f in facts)
    if analysis.labels:  # what the article is mainly about: its most confident categories
        top = max(label.confidence for label in analysis.labels)
        keys.update(
            f"c:{label.category}"
            for label in analysis.labels
            if label.confidence >= MAIN_SHARE * top
        )
    body = f"{title}\n{text}"
    head = head_names = _named(topic, tokens(head_text))
    body_names = _named(topic, tokens(body))
    for prefix, name in body_names:
        keys.add(f"{prefix}:{name}")
        if (prefix, name) in head:
            keys.add(f"{'h' if prefix == 'p' else 'g'}:{name}")
    keys.update(f"n:{year}" for year in _YEAR.findall(body))
    keys.update(f"n:{_folded(amount)}{unit[0].lower()}" for amount, unit in _MONEY.findall(body))
    for quote in _QUOTE.findall(body):
        words = tokens(quote)
        if len(words) >= 4:
            digest = hashlib.blake2b(" ".join(words[:12]).encode(), digest_size=6).hexdigest()
            keys.add(f"q:{digest}")
    common = _common_words(topic)
    listed = {name for _, name in head_names | body_names}
    head_proper = _proper_names(opening, common) | _title_names(title, text, common)
    for name in _proper_names(text, common) | head_proper:
        if not any(known in name for known in listed):  # "Director Robert Rodriguez"
            keys.add(f"p:{name}")
            if name in head_proper:
                keys.add(f"h:{name}")
    keys.update(
        f"t:{word}"
        for word in tokens(title)
        if len(word) >= _TITLE_WORD_MIN and word not in common and not word.isdigit()
    )
    return frozenset(keys)


def _proper_names(text: str, common: frozenset[str]) -> set[str]:
    """The multi-word names in a text, folded, leaving out words that open sentences and
    the film's own name ("Alita Battle Angel" says nothing about which news)."""
    found = set()
    for match in _PROPER_NAME.finditer(text):
        words = [w for w in tokens(match.group()) if w not in _NOT_NAMES]
        while words and words[0] in common:
            words.pop(0)
        if len(words) >= 2 and not all(w in common for w in words):
            found.add(" ".join(words))
    return found


def _title_names(title: str, text: str, common: frozenset[str]) -> set[str]:
    """The names in a headline. A headline in title case capitalises every word, so a name
    found there ("Tom Holkenborg Returns") is cut to the longest part of it that the text
    names too ("tom holkenborg"), and dropped when the text names no part of it."""
    found = _proper_names(title, common)
    words = [w for w in title.split() if w[:1].isalpha()]
    if not found or sum(w[:1].isupper() for w in words) < 0.6 * len(words):
        return found
    folded = f" {_folded(text)} "
    names = set()
    for name in found:
        parts = name.split()
        runs = (
            " ".join(parts[i : i + size])
            for size in range(len(parts), 1, -1)
            for i in range(len(parts) - size + 1)
        )
        name = next((run for run in runs if f" {run} " in folded), "")
        if name:
            names.add(name)
    return names


def _first_sentences(text: str, count: int = 2) -> str:
    """The first sentences of a text: where news names its subject."""
    parts = re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=count)
    return " ".join(parts[:count])


def _weight(key: str, count: int, total: int) -> float:
    """A key's weight: its kind's, lowered when many (`count`) of `total` articles share it."""
    return WEIGHTS.get(key[:1], 1.0) * _rarity_factor(count, total)


def _weights(
    keys: Iterable[str], rarity: Counter[str], waiting: Counter[str], total: int
) -> dict[str, float]:
    """`_weight` of many keys, each counted in `rarity` and `waiting`, at once: a call per
    key took a quarter of the time `matching_stories` takes."""
    kind, factor, counted, waits = WEIGHTS.get, _rarity_factor, rarity.get, waiting.get
    return {
        key: kind(key[:1], 1.0) * factor(counted(key, 0) + waits(key, 0), total) for key in keys
    }


@functools.lru_cache(maxsize=65_536)
def _rarity_factor(count: int, total: int) -> float:
    """How much of its kind's weight a key keeps when `count` of `total` articles share it.

    Cached: a window's counts and totals are small numbers that come back again and again.
    """
    if total < 4:
        return 1.0
    return min(1.0, math.log(1 + total / (1 + count)) / math.log(1 + total / 2))


def similarity(a: Iterable[str], b: Iterable[str], rarity: Counter[str], total: int) -> float:
    """Weighted Jaccard similarity of two articles' evidence (0..1)."""
    first, second = set(a), set(b)
    union = first | second
    if not union:
        return 0.0
    shared = sum(_weight(k, rarity[k], total) for k in first & second)
    return shared / sum(_weight(k, rarity[k], total) for k in union)


def closeness(hours: float, window_hours: float) -> float:
    """1.0 for articles a day or so apart, fading to FLOOR at the end of the window."""
    if hours <= SAME_NEWS_HOURS:
        return 1.0
    fade = (hours - SAME_NEWS_HOURS) / max(1.0, window_hours - SAME_NEWS_HOURS)
    return max(FLOOR, 1.0 - (1.0 - FLOOR) * min(1.0, fade))


@dataclass(frozen=True, slots=True)
class Match:
    """A story an article reports: its most alike article's score and the mean over all."""

    story: int
    best: float
    mean: float


def matching_stories(
    keys: frozenset[str],
    when: datetime,
    members: Sequence[tuple[int, int, frozenset[str], datetime]],
    threshold: float,
    window_hours: float,
    background: Background | None = None,
    counts: Counter[str] | None = None,
    holders: Mapping[str, set[int]] | None = None,
) -> list[Match]:
    """The stories whose most alike article is alike enough, most alike first.

    How rare a piece of evidence is comes from the window's articles and from the
    `background` of articles being placed together with this one; `counts`, when given,
    is how many of the `members` have each key and `holders` which of them (by article),
    both kept up to date by `pipeline.window`.
    The mean over a story's articles tells a story the article is about as a whole from
    one it only touches through a single article: only the former is a reason to merge.

    Only the stories that can match are scored in full. An article's score is at most
    what it shares over what this article has (the union weighs no less than this
    article's own evidence), which needs the weights of this article's keys alone; a story
    none of whose articles reaches the threshold by that bound is left out, as it would be
    after scoring. Weighing every key of every article in the window took most of a crawl's
    placing time. With `holders`, only the holders of this article's rarer keys are
    scored for that bound (`_likely_stories`): most of the window shares only a common key
    or two with it, which cannot reach the bar.
    """
    if not keys or not members:
        return []
    rarity: Counter[str] = Counter() if counts is None else counts
    if counts is None:
        for _, _, member, _ in members:
            rarity.update(member)
    sizes = Counter(story_id for story_id, _, _, _ in members)  # each story's window articles
    dates = _release_dates(keys)
    total = len(members)
    waiting: Counter[str] = Counter()
    if background is not None:
        waiting = background.counts
        total += background.articles
    own = _weights(keys, rarity, waiting, total)
    # fsum is exact: the same evidence scores the same whatever order the sets iterate in
    mine = math.fsum(own.values())
    # the bound, with room for rounding: a story it lets through is scored exactly
    bar = threshold * mine * (1 - 1e-9)
    # the articles with some evidence in common (only they score above 0), and its weight
    if holders is None:
        sharing = [(s, m, seen) for s, _, m, seen in members if not keys.isdisjoint(m)]
        common = [math.fsum(map(own.__getitem__, keys & m)) for _, m, _ in sharing]
        likely = {
            story_id
            for (story_id, _, seen), shared in zip(sharing, common, strict=True)
            if shared >= bar and shared * closeness(_hours(when, seen), window_hours) >= bar
        }
    else:
        likely = _likely_stories(keys, own, members, holders, bar, when, window_hours)
        sharing, common = [], []
        for story_id, _, member, seen in members:
            if story_id in likely and not keys.isdisjoint(member):
                sharing.append((story_id, member, seen))
                common.append(math.fsum(map(own.__getitem__, keys & member)))
    if not likely:
        return []
    # an article whose headline gives another release date reports another development
    # (checked only here: it can only lower a score)
    scored = [
        (item, shared)
        for item, shared in zip(sharing, common, strict=True)
        if item[0] in likely and not _other_date(dates, item[1])
    ]
    if not scored:
        return []
    weight = _weights(set().union(*(item[1] for item, _ in scored)), rarity, waiting, total)
    scores: dict[int, list[float]] = {}
    for (story_id, member, seen), shared in scored:
        union = mine + math.fsum(map(weight.__getitem__, member)) - shared
        near = closeness(_hours(when, seen), window_hours)
        scores.setdefault(story_id, []).append(shared / union * near)
    # the story's other articles in the window score 0: they count in its mean
    found = [
        Match(story_id, max(each), math.fsum(each) / sizes[story_id])
        for story_id, each in scores.items()
        if max(each) >= threshold
    ]
    return sorted(found, key=lambda match: (-match.best, match.story))


def _likely_stories(
    keys: frozenset[str],
    own: dict[str, float],
    members: Sequence[tuple[int, int, frozenset[str], datetime]],
    holders: Mapping[str, set[int]],
    bar: float,
    when: datetime,
    window_hours: float,
) -> set[int]:
    """The stories with an article whose share of this article's evidence (near in time)
    reaches the bar, found through the keys that few articles hold.

    The keys many articles hold (a lead actor's name, "the sequel") weigh little: together
    they are kept under the bar, so an article that shares nothing else cannot reach it and
    is never looked at. Only the holders of the other keys are: a few, not the window.
    """
    common, rare = 0.0, set()
    for key in sorted(keys, key=lambda k: (-len(holders.get(k, ())), k)):
        if (common + own[key]) * (1 + 1e-12) < bar:
            common += own[key]
        else:
            rare.add(key)
    looked = set().union(*(holders.get(key, ()) for key in rare))
    likely = set()
    for story_id, article, member, seen in members:
        if article in looked and story_id not in likely:
            shared = math.fsum(map(own.__getitem__, keys & member))
            if shared >= bar and shared * closeness(_hours(when, seen), window_hours) >= bar:
                likely.add(story_id)
    return likely


_RELEASE_HEAD = "f:release:release:"


@functools.lru_cache(maxsize=65_536)
def _release_dates(keys: frozenset[str]) -> frozenset[str]:
    """The release years (or windows) an article's headline or lead gives, "2031" for
    "2031-07" and for "no earlier than 2031" (cached: a window's articles come back for
    every article placed)."""
    found = set()
    for key in keys:
        if key.startswith(_RELEASE_HEAD):
            value = key[len(_RELEASE_HEAD) :]
            year = _YEAR.search(value)
            found.add(year.group() if year and "avatar" not in value else value)
    return frozenset(found)


def _other_date(dates: frozenset[str], member: frozenset[str]) -> bool:
    """Whether two articles' headlines give different release dates: a new date is a new
    development, not a rewrite of the one before ("delayed to 2031" after "not before
    2030"), however much else they share."""
    if not dates:
        return False
    theirs = _release_dates(member)
    return bool(theirs) and dates.isdisjoint(theirs)


def _hours(when: datetime, seen: datetime) -> float:
    """Hours between two moments, either way."""
    return abs((when - seen).total_seconds()) / 3600


@dataclass
class Background:
    """The evidence of articles waiting to be placed: counted for rarity, not matched.

    A crawl places its new articles together: the first of them is weighed knowing what
    the rest say, so which came in first does not decide which stories they make.
    """

    counts: Counter[str] = field(default_factory=Counter)
    articles: int = 0

    def add(self, keys: Iterable[str]) -> None:
        """One more waiting article."""
        self.counts.update(keys)
        self.articles += 1

    def remove(self, keys: Iterable[str]) -> None:
        """An article placed: from now on the window's articles count it."""
        self.counts.subtract(keys)
        self.articles -= 1


@functools.lru_cache(maxsize=200_000)
def parse_evidence(stored: str) -> frozenset[str]:
    """Stored evidence (a JSON list) as a set, parsed once per distinct value."""
    return frozenset(json.loads(stored))
