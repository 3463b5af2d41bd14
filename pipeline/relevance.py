"""Is an article about the topic's sequel? A feed pre-filter and a sentence-level judge."""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from config.topic import RelevanceSettings, Topic
from pipeline.folding import normalize
from pipeline.literals import AnyOf, Finder, Screened, Terms, screen_strings, screened
from pipeline.memo import last_call
from pipeline.model import article_vector, topic_model
from pipeline.records import Relevance

# Inside a multi-word term, a space also matches a colon or a dash ("Alita: Battle Angel").
_TERM_SPLIT = re.compile(r"[\s:\-]+")
_TERM_GAP = r"[\s:\-]+"
# A sentence ends at . ! ? (with any closing quotes) followed by space, or at a line break.
# after . ! ? and an ellipsis comes a space; after the ideographic full stop (Japanese,
# Chinese) none does, and its closing brackets belong to the sentence before
# A title ("Dr. Ido") never ends one, nor an abbreviation before a number ("Dec. 19", "No. 4").
_TITLES = "".join(rf"(?<!\b{word}\.)" for word in ("mr", "mrs", "ms", "dr", "vs"))
_BEFORE_NUMBER = "".join(
    rf"(?<!\b{word}\.)"
    for word in (
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
        *("no", "nos", "vol", "ep", "pt", "ch", "art"),
    )
)
_SENTENCE_BREAK = re.compile(
    rf"(?<=[.!?\u2026]){_TITLES}(?:{_BEFORE_NUMBER}|(?=[\"')\]]*\s+[^\s\d]))[\"')\]]*\s+"
    r"|(?<=\u3002)[\u300d\u300f]*\s*|\s*\n\s*"
)
# Scripts written without spaces between words (Japanese, Chinese), and Korean, whose
# particles are written onto the word before them ("알리타를"): a term in them has no word
# boundary
UNSPACED = re.compile(
    r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    r"\uf900-\ufaff\uff66-\uff9f]"
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def terms_pattern(terms: Iterable[str]) -> Terms | None:
    """One compiled alternation of whole-word terms, longest first; None when empty.

    A term that starts or ends in a script written without spaces (Japanese, Chinese)
    has no word boundary on that side: "アリータ" is found in "アリータ2の続編".

    The terms are merged into a trie ("nova(?:s)?" rather than "novas|nova"): Python's re
    tries an alternation at every position of the text, and a few hundred separate branches
    made this the slowest part of reading an article. Each first character leads its
    branch, the word-boundary check after it. A text that has no whole word of any term is
    not searched at all (`pipeline.literals.Terms`).
    """
    trie: dict[bool, dict[str, Any]] = {True: {}, False: {}}  # by: bounded on the left
    needed: set[str] = set()  # a whole word of each term: a text without them has none
    pieces: set[str] = set()  # the start of a term without such a word, to look for instead
    for term in {normalize(term).strip() for term in terms}:
        words = [word for word in _TERM_SPLIT.split(term) if word]
        if not words:
            continue
        bounded = not UNSPACED.match(term[0])
        node = trie[bounded]
        for i, word in enumerate(words):
            if i:
                node = node.setdefault(_GAP_KEY, {})
            for char in word:
                node = node.setdefault(char, {})
        node[_END_KEY] = "" if UNSPACED.match(term[-1]) else r"(?!\w)"
        word = _key_word(words, bounded, bool(node[_END_KEY]))
        if word is None:
            pieces.add(words[0])
        else:
            needed.add(word)
    # Every branch starts with its first character, and the word-boundary check comes right
    # after it ("a(?<!\wa)lita"): an alternation whose branches all start with a character
    # lets re skip, in C, every position where none of those characters is.
    branches = [
        re.escape(first) + (rf"(?<!\w{re.escape(first)})" if bounded else "") + _trie_regex(child)
        for bounded, node in trie.items()
        for first, child in sorted(node.items())
    ]
    if not branches:
        return None
    # one unit: callers build on .pattern
    return Terms(re.compile(f"(?:{'|'.join(branches)})"), frozenset(needed), tuple(sorted(pieces)))


def _key_word(words: list[str], bounded: bool, ends_bounded: bool) -> str | None:
    """The longest run of word characters of a term (split into `words`) that is a whole
    word of any text the term occurs in: a gap, another character of the term or a word
    boundary on each side. The longest, as the rarest: a text without "studio" cannot hold
    "the studio", and every text has "the". None when no run is sure to be a whole word
    (a term that runs on into a script written without spaces on both sides)."""
    found: list[str] = []
    last = len(words) - 1
    for i, word in enumerate(words):
        for run in _WORD_RUN.finditer(word):
            starts_clear = run.start() > 0 or i > 0 or bounded
            ends_clear = run.end() < len(word) or i < last or ends_bounded
            if starts_clear and ends_clear:
                found.append(run.group())
    return max(found, key=len) if found else None


_WORD_RUN = re.compile(r"\w+")


_GAP_KEY = " "  # in a term trie: the gap between two words (never a character of a word)
_END_KEY = ""  # in a term trie: a term ends here; its value is the check after it


def _trie_regex(node: dict[str, Any]) -> str:
    """The regex of a term trie: a group of its branches, the longest tried first."""
    branches = [
        (_TERM_GAP if key == _GAP_KEY else re.escape(key)) + _trie_regex(child)
        for key, child in sorted(node.items())
        if key != _END_KEY
    ]
    if _END_KEY in node:  # a shorter term ends here: tried after every longer one
        branches.append(node[_END_KEY])
    if len(branches) == 1:
        return branches[0]
    return f"(?:{'|'.join(branches)})"


@dataclass(frozen=True, slots=True)
class _Matcher:
    """A topic's patterns, compiled once."""

    aliases: Terms | None
    franchise: Terms | None
    sequel_words: Terms | None
    support: Terms | None
    people: Terms | None  # the film's people alone, surnames too
    broad: Terms | None
    trap_screens: tuple[Finder, ...] | None  # every trap pattern, to find trap sentences
    traps: tuple[tuple[str, re.Pattern[str]], ...]  # each group alone, to name it
    context_traps: frozenset[str]  # groups that sequel news mentions as context
    lifts: tuple[tuple[str, re.Pattern[str]], ...]  # what lifts a group beside a sequel word
    squashed: tuple[str, ...]  # broad terms and outlet words without spaces: what names an
    # outlet after the film's world
    vocabulary: AnyOf | None  # the categories' terms and patterns


def _has_top_level_bar(pattern: str) -> bool:
    """True when the regex has a '|' outside any group or character class."""
    depth, in_class, escaped = 0, False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
    return False


_GROUP_NAME = re.compile(r"(?<!\\)\(\?P<\w+>")
# lookbehinds in front of a pattern's \b: "(?<!died in )(?<!away on )\bjune"
_LEADING_LOOKBEHINDS = re.compile(r"((?:\(\?<[!=](?:[^()\\]|\\.)*\))+)\\b")


def boundary_first(pattern: str) -> str:
    r"""The pattern with a \b that follows its leading lookbehinds moved in front of them.

    Zero-width checks commute, so it matches the same; but Python's re tries a pattern at
    every position, and a cheap \b first skips the positions inside words before the
    lookbehinds are tried (eight of them made one release pattern the slowest of all).
    """
    found = _LEADING_LOOKBEHINDS.match(pattern)
    if found is None:
        return pattern
    return "\\b" + found.group(1) + pattern[found.end() :]


def screen_pattern(patterns: Iterable[str]) -> Finder | None:
    """One regex for all the patterns, with their leading \\b hoisted out; None when
    there are none or they cannot be joined (then each pattern must be tried alone).

    Python's re tries an alternation at every position of the text; one shared \\b in
    front lets it skip the positions inside words, which makes this pass several times
    faster than one pass per pattern. Behind it, when the patterns have one, is the screen
    of the words they are built on (`pipeline.literals`): most texts have none of them.
    """
    # the screen only says whether any matches: group names (which two patterns may share)
    # are dropped unless a pattern refers back to one
    patterns = [p if "(?P=" in p else _GROUP_NAME.sub("(?:", p) for p in patterns]
    hoist = [p.startswith(r"\b") and not _has_top_level_bar(p) for p in patterns]
    bounded = [p[2:] for p, ok in zip(patterns, hoist, strict=True) if ok]
    other = [p for p, ok in zip(patterns, hoist, strict=True) if not ok]
    branches = [f"(?:{p})" for p in other]
    if bounded:
        branches.insert(0, r"\b(?:" + "|".join(f"(?:{p})" for p in bounded) + ")")
    if not branches:
        return None
    try:
        return screened(re.compile("|".join(branches)))
    except re.error:  # e.g. a global flag inside one pattern: scan each pattern instead
        return None


def _screens(patterns: list[str]) -> tuple[Finder, ...] | None:
    """Patterns as two finders: those built on words long enough to screen a sentence
    with, and the others ("$" and a number, "4k"), which would keep the first from being
    screened at all. None when they cannot be joined."""
    screenable = [p for p in patterns if screen_strings([p]) is not None]
    rest = [p for p in patterns if p not in screenable]
    found: list[Finder] = []
    for group in (screenable, rest):
        if group:
            finder = screen_pattern(group)
            if finder is None:
                return None
            found.append(finder)
    return tuple(found) or None


def _joined(patterns: Iterable[str]) -> re.Pattern[str]:
    """Topic patterns (accents folded) as one regex that finds any of them."""
    return re.compile("|".join(f"(?:{boundary_first(normalize(p))})" for p in patterns))


@functools.lru_cache(maxsize=16)
def _matcher(topic: Topic) -> _Matcher:
    """Compile a topic's terms and trap patterns (cached per topic)."""
    words = [word for group in topic.sequel_words.values() for word in group]
    patterns = [boundary_first(normalize(p)) for group in topic.traps for p in group.patterns]
    traps = tuple((group.name, _joined(group.patterns)) for group in topic.traps)
    return _Matcher(
        aliases=terms_pattern(topic.aliases),
        franchise=terms_pattern(topic.franchise),
        sequel_words=terms_pattern(words),
        support=terms_pattern((*topic.people, *_surnames(topic.people), *topic.places)),
        people=terms_pattern((*topic.people, *_surnames(topic.people))),
        broad=terms_pattern(topic.broad_terms),
        trap_screens=_screens(patterns),
        traps=traps,
        context_traps=frozenset(g.name for g in topic.traps if not g.counts_in_sequel_news),
        lifts=tuple(
            (group.name, _joined(group.lifted_by)) for group in topic.traps if group.lifted_by
        ),
        squashed=tuple(
            sorted({_squash(term) for term in (*topic.broad_terms, *topic.outlet_words)} - {""})
        ),
        vocabulary=_vocabulary(topic),
    )


def _surnames(people: Iterable[str]) -> list[str]:
    """What a writer calls a person after naming them once: the last word of a name written
    with spaces ("Salazar" for "Rosa Salazar"), when it is longer than a syllable."""
    found = []
    for person in people:
        words = person.split()
        if len(words) > 1 and len(words[-1]) > 3 and not UNSPACED.search(person):
            found.append(words[-1])
    return found


def _vocabulary(topic: Topic) -> AnyOf | None:
    """The words and phrases of the topic's categories (casting, release date, script...)."""
    terms = terms_pattern(
        term
        for category in topic.categories.values()
        for group in category.terms.values()
        for term in group
    )
    patterns = [normalize(p) for category in topic.categories.values() for p in category.patterns]
    screens = _screens(patterns) if patterns else ()
    if screens is None:
        return None
    finders = [terms, *screens] if terms else list(screens)
    return AnyOf(finders) if finders else None


def prefilter(topic: Topic, *texts: str) -> bool:
    """True when any of the topic's broad terms occurs in any of the texts."""
    broad = _matcher(topic).broad
    if broad is None:
        return False
    return any(text and broad.search(normalize(text)) for text in texts)


@dataclass(frozen=True, slots=True)
class _Document:
    """Normalized sentences joined into one string, index 0 being the title."""

    sentences: tuple[str, ...]
    joined: str
    starts: tuple[int, ...]
    originals: tuple[str, ...]  # each sentence as written, for evidence


@dataclass(frozen=True, slots=True)
class _Tally:
    """What the sentences of one article said, counted."""

    title_hit: bool  # the title names the sequel
    title_anchor: bool  # the title names the franchise (or the sequel), or the outlet does
    dedicated: bool  # the outlet is named after the film's world
    lead_hit: bool
    body: int  # sentences after the title
    sequel: int  # body sentences that name the sequel
    support: int  # body sentences about its people or places (anchored articles only), or
    # about casting, dates or scripts under a title that names the sequel
    trap: int  # body sentences that hit a trap and do not name the sequel
    traps: Counter[str]  # trap group -> sentences, title included


@dataclass(frozen=True, slots=True)
class _Kinds:
    """Which sentences (by index, 0 the title) are of which kind."""

    alias: set[int]  # name the sequel by one of its names
    named: set[int]  # name the sequel or the franchise
    sequel: set[int]
    support: set[int]
    trap_only: set[int]  # hit a trap and are not about the sequel
    by_trap: dict[str, set[int]]  # trap group -> sentences it counts against
    spoken: set[int]  # speak of the categories' subjects under a title naming the sequel
    dedicated: bool  # the outlet is named after the film's world
    title_person: bool  # the title names one of the film's people
    opening: bool = False  # the sequel is named outright in the opening, after the lead


@dataclass(frozen=True, slots=True)
class SentenceView:
    """One sentence of an article as the judge read it."""

    index: int  # 0 is the title
    text: str  # as written, original case and punctuation
    normalized: str  # as matched: case, accents and typographic punctuation folded
    kind: str  # "sequel", "support", "trap" or "other"
    traps: tuple[str, ...]  # the trap groups the judge counted in this sentence
    alias: bool  # names the sequel by one of its names


def _offsets(text: str) -> tuple[list[int], list[int]]:
    """Matching positions in normalize(text) and text, at each non-ASCII character."""
    norm_marks, orig_marks = [0], [0]
    position = last = 0
    for match in _NON_ASCII.finditer(text):
        start = match.start()
        position += start - last
        norm_marks.append(position)
        orig_marks.append(start)
        position += len(normalize(match.group()))
        norm_marks.append(position)
        orig_marks.append(start + 1)
        last = start + 1
    return norm_marks, orig_marks


def _to_original(marks: tuple[list[int], list[int]], position: int) -> int:
    """The position in the original text of a position in its normalized form."""
    norm_marks, orig_marks = marks
    i = bisect_right(norm_marks, position) - 1
    original = orig_marks[i] + position - norm_marks[i]
    return min(original, orig_marks[i + 1]) if i + 1 < len(orig_marks) else original


def _split(text: str, normalized: str) -> list[tuple[str, str]]:
    """Split text into non-empty sentences, each normalized and as written."""
    marks = _offsets(text)
    found: list[tuple[str, str]] = []
    start = 0
    breaks = [(m.start(), m.end()) for m in _SENTENCE_BREAK.finditer(normalized)]
    for end, resume in [*breaks, (len(normalized), len(normalized))]:
        part = normalized[start:end]
        if part.strip():
            first = start + len(part) - len(part.lstrip())
            # the evidence keeps the closing quotes that the break swallowed
            quotes = len(normalized[end:resume]) - len(normalized[end:resume].lstrip("\"')]"))
            last = start + len(part.rstrip()) + (quotes if end == start + len(part) else 0)
            original = text[_to_original(marks, first) : _to_original(marks, last)]
            found.append((part.strip(), original.strip()))
        start = resume
    return found


def _document(title: str, text: str, description: str) -> _Document:
    """Build the sentence list: title, then the description unless the text repeats it."""
    body_text, lead_text = normalize(text), normalize(description)
    body = _split(text, body_text)
    lead = [] if lead_text.strip() in body_text else _split(description, lead_text)
    pairs = [(normalize(title).strip(), title.strip()), *lead, *body]
    sentences = tuple(sentence for sentence, _ in pairs)
    starts, offset = [], 0
    for sentence in sentences:
        starts.append(offset)
        offset += len(sentence) + 1
    originals = tuple(original for _, original in pairs)
    return _Document(sentences, "\n".join(sentences), tuple(starts), originals)


def _hits(pattern: Finder | None, doc: _Document) -> set[int]:
    """Indexes of the sentences in which the pattern matches."""
    if pattern is None:
        return set()
    if isinstance(pattern, Screened):
        # a whole article has some word of most screens: each sentence is screened alone
        return {i for i, sentence in enumerate(doc.sentences) if pattern.search(sentence)}
    # a whole article has some word of most term lists: not worth splitting into words
    finder = pattern.regex if isinstance(pattern, Terms) else pattern
    return {bisect_right(doc.starts, m.start()) - 1 for m in finder.finditer(doc.joined)}


def _trap_hits(matcher: _Matcher, doc: _Document) -> dict[str, set[int]]:
    """For each trap group, the indexes of the sentences it matches."""
    if matcher.trap_screens is None:
        flagged = set(range(len(doc.sentences)))
    else:
        flagged = set().union(*(_hits(screen, doc) for screen in matcher.trap_screens))
    return {
        name: {i for i in flagged if pattern.search(doc.sentences[i])}
        for name, pattern in matcher.traps
    }


def _lifted(
    matcher: _Matcher, doc: _Document, by_trap: dict[str, set[int]], sequel: set[int]
) -> dict[str, set[int]]:
    """The trap hits without the `sequel` sentences (those that name it, or all of them
    under a title that does) that say it draws on what the trap names (`lifted_by`)."""
    for name, pattern in matcher.lifts:
        hits = by_trap.get(name)
        if hits:
            by_trap[name] = {
                i for i in hits if i not in sequel or not pattern.search(doc.sentences[i])
            }
    return by_trap


_LATER_YEAR = re.compile(r"\b20[2-9]\d\b")  # a year after the first film's
_COMMUNITY_WORDS = 6  # a lead this short naming the film is where it was posted


def _names_the_film(matcher: _Matcher, outlet: str | None) -> bool:
    """Whether an outlet is named after the film's world: one of the topic's broad terms or
    outlet words, spaced or not ("r/AlitaBattleAngel", "Iron City Boards", "Scrapyard Forums")."""
    if not outlet or not matcher.squashed:
        return False
    squashed = _squash(outlet)
    return any(term in squashed for term in matcher.squashed)


def _squash(text: str) -> str:
    """Text folded, with everything but letters and digits left out."""
    return "".join(ch for ch in normalize(text) if ch.isalnum())


def _kinds(
    matcher: _Matcher, doc: _Document, settings: RelevanceSettings, dedicated: bool = False
) -> _Kinds:
    """Classify every sentence: sequel, support, trap or neither. In a `dedicated` outlet's
    article the film is the subject, as if the title named it."""
    alias = _hits(matcher.aliases, doc)
    franchise = _hits(matcher.franchise, doc)
    words = _hits(matcher.sequel_words, doc)
    # under a title naming the sequel outright, "they are adapting the manga" is its news too
    naming = alias | words
    if 0 in alias | (franchise & words):
        naming = set(range(len(doc.sentences)))
    by_trap = _lifted(matcher, doc, _trap_hits(matcher, doc), naming)
    lead = set(range(1, settings.lead_sentences + 1))
    named = alias | franchise
    opening = set(range(1, settings.opening_sentences + 1))
    outright = (alias | (franchise & words)) - set().union(*by_trap.values())
    opens = bool(outright & opening) and not named & ({0} | lead)
    anchored = dedicated or opens or bool(named & ({0} | lead))
    # Sequel news speaks of the films it waits for: those traps are context where the title
    # names the film, or where the lead names the sequel under a title about nothing else.
    title_context = any(0 in by_trap[name] for name in matcher.context_traps if name in by_trap)
    lead_names_sequel = opens or bool(
        (alias | (franchise & words) | (words if anchored else set())) & lead
    )
    if 0 in named or (lead_names_sequel and not title_context):
        by_trap = {k: v for k, v in by_trap.items() if k not in matcher.context_traps}
    trapped = set().union(*by_trap.values())
    # A franchise name beside a sequel word in a trap sentence ("Alita's $404 million was
    # not enough for a sequel") is neither for nor against; an alias always counts.
    sequel = alias | ((franchise & words) - trapped)
    support: set[int] = set()
    if anchored:
        # Anchored: the title or lead names the film, so "the sequel" refers to it and its
        # people and places speak of it.
        sequel |= words - trapped - {0}
        support = _hits(matcher.support, doc) - trapped - sequel - {0}
        if dedicated and 0 in words - trapped:
            sequel.add(0)  # an outlet about the film: "the sequel" in a headline is its own
    # a title naming the franchise with news of a date to come ("Alita slips to 2032") names
    # the sequel: the first film's dates are past
    title = doc.sentences[0]
    if (
        0 in franchise
        and 0 not in trapped
        and _LATER_YEAR.search(title)
        and matcher.vocabulary
        and matcher.vocabulary.found_in(title)
    ):
        sequel.add(0)
    spoken: set[int] = set()
    if 0 in sequel or dedicated or opens or sequel & lead:
        # Under a title or lead that names the sequel, or in an outlet about the film, a
        # sentence of its casting, dates or scripts speaks of it ("don't expect it in
        # theaters before 2031"): it counts as support here, though not as evidence of what
        # the article is about. In such an outlet a headline of them names it ("pushed to
        # 2032 fml").
        # only the sentences left to tell about are read for them (the whole article took a
        # third of judging it)
        left = set(range(len(doc.sentences))) - trapped - sequel - support
        vocabulary = matcher.vocabulary
        spoken = {i for i in left if vocabulary and vocabulary.found_in(doc.sentences[i])}
        if dedicated and 0 in spoken:
            sequel.add(0)
        spoken.discard(0)
    trap_only = trapped - sequel - (franchise & words)
    title_person = bool(matcher.people and matcher.people.search(doc.sentences[0])) and (
        0 not in trapped
    )
    return _Kinds(
        alias, named, sequel, support, trap_only, by_trap, spoken, dedicated, title_person, opens
    )


def _tally(kinds: _Kinds, doc: _Document, settings: RelevanceSettings) -> _Tally:
    """Count what the sentences of one article said."""
    lead = set(range(1, settings.lead_sentences + 1))
    counts = Counter({name: len(hits & kinds.trap_only) for name, hits in kinds.by_trap.items()})
    return _Tally(
        title_hit=0 in kinds.sequel,
        # the title names the franchise, or one of its people under a lead that names the
        # sequel (an interview: "Christoph Waltz: 'I would go back to Iron City tomorrow'")
        title_anchor=0 in kinds.named
        or kinds.dedicated
        or kinds.opening
        or (kinds.title_person and bool(kinds.sequel & lead)),
        # an outlet about the film whose post opens on its casting, dates or scripts
        lead_hit=bool(kinds.sequel & lead)
        or (kinds.dedicated and bool(kinds.spoken & lead - kinds.trap_only)),
        body=len(doc.sentences) - 1,
        sequel=len(kinds.sequel - {0}),
        support=len(kinds.support) + len(kinds.spoken),
        trap=len(kinds.trap_only - {0}),
        traps=+counts,
        dedicated=kinds.dedicated,
    )


def _kind(kinds: _Kinds, index: int) -> str:
    """The kind of one sentence, by the judge's rules."""
    if index in kinds.sequel:
        return "sequel"
    if index in kinds.support:
        return "support"
    return "trap" if index in kinds.trap_only else "other"


def _views(kinds: _Kinds, doc: _Document) -> tuple[SentenceView, ...]:
    """Each sentence of a document with its kind and the traps the judge counted in it."""
    return tuple(
        SentenceView(
            index=i,
            text=original,
            normalized=sentence,
            kind=_kind(kinds, i),
            traps=tuple(name for name, hits in kinds.by_trap.items() if i in hits),
            alias=i in kinds.alias,
        )
        for i, (sentence, original) in enumerate(zip(doc.sentences, doc.originals, strict=True))
    )


def sentences(
    topic: Topic, title: str, text: str, description: str = "", outlet: str | None = None
) -> list[SentenceView]:
    """Every sentence of an article, title first, as written and as the judge classified it."""
    return list(judge_sentences(topic, title, text, description, outlet)[1])


def _score(tally: _Tally, settings: RelevanceSettings) -> float:
    """Weigh title, lead, share of sequel sentences and trap sentences into 0..1."""
    if tally.body:
        share = (tally.sequel + settings.support_weight * tally.support) / tally.body
        trap_share = tally.trap / tally.body
    else:  # a bare headline: judge it by itself
        share = 1.0 if tally.title_hit else 0.0
        trap_share = 1.0 if tally.traps else 0.0
    title = settings.title_weight if tally.title_hit else 0.0
    if not tally.title_hit and tally.title_anchor:
        title = settings.anchor_weight
        # an outlet about the film whose post names the sequel more than once: it is the
        # post's subject, as if its headline had named it
        if tally.dedicated and tally.sequel >= settings.min_sequel_sentences:
            title = settings.title_weight
    score = (
        title
        + settings.lead_weight * tally.lead_hit
        + settings.body_weight * min(1.0, share / settings.full_share)
        # what an article says of other things counts against it only where it outweighs
        # what it says of the sequel
        - settings.trap_penalty * max(0.0, trap_share - share / 2)
    )
    return round(min(1.0, max(0.0, score)), 3)


def _plural(count: int, word: str) -> str:
    """'1 sentence', '3 sentences'."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _reason(tally: _Tally, score: float, kept: bool) -> str:
    """One readable sentence saying what counted for and against."""
    parts = [
        "title names the sequel" if tally.title_hit else "title does not name the sequel",
        "lead names it" if tally.lead_hit else "lead does not",
        f"{tally.sequel} of {_plural(tally.body, 'sentence')} about the sequel"
        + (f" and {tally.support} supporting" if tally.support else ""),
    ]
    if tally.dedicated:
        parts.insert(2, "outlet is named after the film")
    if tally.traps:
        traps = [f"'{name}' in {_plural(n, 'sentence')}" for name, n in tally.traps.most_common(3)]
        parts.append("trap " + ", ".join(traps))
    parts.append(f"score {score:.2f}, {'kept' if kept else 'dropped'}")
    return "; ".join(parts) + "."


def judge(
    topic: Topic, title: str, text: str, description: str = "", outlet: str | None = None
) -> Relevance:
    """Decide whether an article is substantially about the topic's sequel, and say why.

    `outlet` is who published it: an outlet named after the film's world ("r/AlitaBattleAngel",
    "Iron City Boards") writes about the film, so "the sequel" in its posts is this one.
    """
    return judge_sentences(topic, title, text, description, outlet)[0]


_Judged = tuple[Relevance, tuple[SentenceView, ...]]


@last_call  # reading a kept article judges it again right after the crawl judged it
def judge_sentences(
    topic: Topic, title: str, text: str, description: str = "", outlet: str | None = None
) -> _Judged:
    """Judge an article and return its sentences as the judge classified them, in one pass."""
    judged = _judge_sentences(topic, title, text, description, outlet)
    if topic.model is not None:
        judged = _decided_by_model(topic, judged, title, text, description)
    return judged


def _decided_by_model(
    topic: Topic, judged: _Judged, title: str, text: str, description: str
) -> _Judged:
    """The topic's model decides (pipeline.model); the rules' reason stays beside its
    figure, and their reading of each sentence still gives the evidence."""
    relevance, views = judged
    model = topic_model(topic)
    assert model is not None
    vector = article_vector(model, title, description, text)
    if not vector.known:  # not one word it learned: its intercept alone is no judgement
        reason = f"{relevance.reason.removesuffix('.')}; the topic's model knows none of its words."
        return Relevance(relevance.score, relevance.kept, reason), views
    probability = model.relevance(vector)
    kept = probability >= model.threshold
    verdict = "kept" if kept else "dropped"
    reason = (
        f"{relevance.reason.removesuffix('.')} by the rules; "
        f"the topic's model: {probability:.2f}, {verdict}."
    )
    return Relevance(score=round(probability, 3), kept=kept, reason=reason), views


def _judge_sentences(
    topic: Topic, title: str, text: str, description: str, outlet: str | None
) -> _Judged:
    """`judge_sentences`, done."""
    settings = topic.relevance
    doc = _document(title, text, description)
    matcher = _matcher(topic)
    # an outlet named after the film, or a lead that is only a community's name
    # ("r/AlitaBattleAngel", "Motorball Forums > Film & Adaptations")
    dedicated = _names_the_film(matcher, outlet) or (
        len(description.split()) <= _COMMUNITY_WORDS and _names_the_film(matcher, description)
    )
    kinds = _kinds(matcher, doc, settings, dedicated)
    tally = _tally(kinds, doc, settings)
    score = _score(tally, settings)
    # an outlet about the film names it once for every post, as a headline would
    named = tally.title_hit + tally.sequel + tally.support + tally.dedicated
    required = min(settings.min_sequel_sentences, tally.body + 1)
    # A title that names only the franchise needs the body to speak of the sequel more than once.
    anchored = (
        tally.title_hit
        or tally.lead_hit
        or (tally.title_anchor and tally.sequel >= settings.min_sequel_sentences)
    )
    kept = score >= settings.keep_score and anchored and named >= required
    relevance = Relevance(score=score, kept=kept, reason=_reason(tally, score, kept))
    return relevance, _views(kinds, doc)


def as_written(original: str, start: int, end: int) -> str:
    """The part of a text as written whose normalized form spans start..end."""
    if original.isascii():
        return original[start:end]
    marks = _offsets(original)
    return original[_to_original(marks, start) : _to_original(marks, end)]
