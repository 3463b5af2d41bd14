"""The literal words a regex cannot match without, found by reading its parse tree.

Python's re tries an alternation of many patterns at every position of a text, paying for
each branch that does not start with a plain character; a screen of a hundred status
phrases cost more than everything else in a sentence. Most sentences contain none of the
words those phrases are built on ("signed", "return", "greenlit"). `required` finds, for a
pattern, a set of strings one of which every match contains; `screened` puts a regex behind
them (`Screened`). Every screen's strings are in one Aho-Corasick automaton (pyahocorasick),
so a sentence is scanned once, in C, for all the screens asked about it. `Terms` does the
same for a term trie with the words its terms start with.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

import ahocorasick

# An exact set bigger than this stops growing (what follows is cut off): enough to spell
# "(?:is|are|was) (?:set|expected) to" out, not so many that the screen is slow itself.
MOST_STRINGS = 64
# A set whose shortest string is shorter than this screens little ("a", "of"): the screen
# is made only when every pattern has a set at least this long. Two characters of a
# script written without spaces ("降板", "하차") are a word, and rare enough.
SHORTEST = 3
SHORTEST_UNSPACED = 2

_Strings = frozenset[str]


def required(pattern: str) -> _Strings | None:
    """Strings one of which every match of the pattern contains (the longest such set
    found), or None when none could be told: case-insensitive, or no literal throughout."""
    try:
        parsed = _parser.parse(pattern)
    except re.error:
        return None
    if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
        return None
    return _best(_sequence(list(parsed)))


def _best(candidates: Iterable[_Strings]) -> _Strings | None:
    """The candidate that screens best: the longest shortest string, then the fewest."""
    found = [c for c in candidates if c and all(c)]
    if not found:
        return None
    return max(found, key=lambda c: (min(map(len, c)), -len(c)))


def _sequence(items: list[tuple[Any, Any]]) -> list[_Strings]:
    """Every set a sequence of parsed items requires: the runs of items that match exact
    strings (spelled out together) and what each other item requires."""
    found: list[_Strings] = []
    run: _Strings | None = None  # the exact strings of the run of items so far
    for op, av in items:
        exact = _exact(op, av)
        if exact is not None:
            joined = exact if run is None else _join(run, exact)
            if joined is None:  # too many: keep the run so far and start again
                if run is not None:
                    found.append(run)
                joined = exact
            run = joined
            continue
        if run is not None:
            found.append(run)
            run = None
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue  # zero-width: nothing consumed, nothing required inside the match
        found.extend(_inner(op, av))
    if run is not None:
        found.append(run)
    return found


def _join(first: _Strings, then: _Strings) -> _Strings | None:
    """Every string of `first` followed by every string of `then`; None when too many."""
    if len(first) * len(then) > MOST_STRINGS:
        return None
    return frozenset(a + b for a in first for b in then)


def _exact(op: Any, av: Any) -> _Strings | None:
    """The strings an item matches when it can match only a few exact strings."""
    if op is C.LITERAL:
        return frozenset({chr(av)})
    if op is C.SUBPATTERN:
        return None if av[1] or av[2] else _exact_sequence(list(av[-1]))
    if op is C.BRANCH:
        strings: set[str] = set()
        for branch in av[1]:
            exact = _exact_sequence(list(branch))
            if exact is None:
                return None
            strings |= exact
        return frozenset(strings) if len(strings) <= MOST_STRINGS else None
    if op is C.IN and all(kind is C.LITERAL for kind, _ in av) and len(av) <= 8:
        return frozenset(chr(code) for _, code in av)
    return None


def _exact_sequence(items: list[tuple[Any, Any]]) -> _Strings | None:
    """The exact strings a whole sequence matches, if it can match only a few."""
    strings: _Strings = frozenset({""})
    for op, av in items:
        exact = _exact(op, av)
        if exact is None:
            return None
        joined = _join(strings, exact)
        if joined is None:
            return None
        strings = joined
    return strings


def _inner(op: Any, av: Any) -> list[_Strings]:
    """What an item that matches no few exact strings requires, from what is inside it."""
    if op is C.SUBPATTERN:
        return [] if av[1] or av[2] else _sequence(list(av[-1]))
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) and av[0] >= 1:
        return _sequence(list(av[2]))
    if op is C.ATOMIC_GROUP:
        return _sequence(list(av))
    if op is C.BRANCH:
        # each branch must give a set; the item requires their union
        union: set[str] = set()
        for branch in av[1]:
            best = _best(_sequence(list(branch)))
            if best is None:
                return []
            union |= best
        return [frozenset(union)]
    return []


class _StringIndex:
    """The strings of every screen in one Aho-Corasick automaton, each string with the
    screens that need it: a sentence is scanned once for all the screens asked about it
    (a dozen of them), not once by each screen's own regex."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owners: dict[str, set[int]] = {}
        self.keys: dict[frozenset[str], int] = {}  # each set of strings registered once
        self.screens = 0  # how many sets are registered: the automaton's version
        self.automaton: Any = None

    def register(self, strings: frozenset[str]) -> int:
        """Add a screen's strings; its number, by which `_present` names it. The same
        strings (the same topic compiled again) keep the number they were given."""
        with self.lock:
            if strings in self.keys:
                return self.keys[strings]
            key = self.keys[strings] = self.screens
            for string in strings:
                self.owners.setdefault(string, set()).add(key)
            automaton = ahocorasick.Automaton()
            for string, owners in self.owners.items():
                automaton.add_word(string, frozenset(owners))
            automaton.make_automaton()
            self.automaton = automaton
            self.screens = key + 1
        return key


_INDEX = _StringIndex()


@functools.lru_cache(maxsize=1024)
def _present(text: str, version: int) -> frozenset[int]:
    """The screens (by number) some string of which the text contains; `version` keeps an
    answer given before a screen was added from being taken for one after."""
    found: set[int] = set()
    for _, owners in _INDEX.automaton.iter(text):
        found |= owners
    return frozenset(found)


class Screened:
    """A regex searched only in the texts that contain a string it cannot match without:
    `search` and `finditer` as on the regex, answered at once for the other texts."""

    __slots__ = ("key", "literals", "regex")

    def __init__(self, regex: re.Pattern[str], literals: re.Pattern[str], key: int) -> None:
        self.regex = regex
        self.literals = literals  # the strings as one regex: for part of a text
        self.key = key  # the screen's number in _INDEX: for a whole text

    @property
    def pattern(self) -> str:
        """The regex's pattern."""
        return self.regex.pattern

    def could_be_in(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> bool:
        """Whether the text (or its part from pos to endpos) has a string the regex needs."""
        if pos == 0 and endpos == sys.maxsize:
            return self.key in _present(string, _INDEX.screens)
        return self.literals.search(string, pos, endpos) is not None

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        """The regex's first match, if the text has one of the strings it needs."""
        if not self.could_be_in(string, pos, endpos):
            return None
        return self.regex.search(string, pos, endpos)

    def finditer(
        self, string: str, pos: int = 0, endpos: int = sys.maxsize
    ) -> Iterator[re.Match[str]]:
        """The regex's matches, if the text has one of the strings it needs."""
        if not self.could_be_in(string, pos, endpos):
            return iter(())
        return self.regex.finditer(string, pos, endpos)


_WORD = re.compile(r"\w+")


@functools.lru_cache(maxsize=1024)
def words_of(text: str) -> frozenset[str]:
    """The words (runs of word characters) of a text: each sentence is split once, and every
    term list asked about it after that answers from the set (a text's hash is kept)."""
    return frozenset(_WORD.findall(text))


class Terms:
    """A term trie's regex, searched only in the texts that have one of the words its terms
    need (or, for a term that has no such word, the piece of it before its first gap).

    Each term needs its longest run of word characters that is a whole word of any text it
    occurs in ("studio" for "the studio"), so a sentence none of whose words is one of them
    cannot hold it; most sentences hold none of a category's names or words. Asked for part
    of a text (`pos`, `endpos`), where a word may be cut short, the regex is searched at once.
    """

    __slots__ = ("needed", "pieces", "regex")

    def __init__(
        self, regex: re.Pattern[str], needed: frozenset[str], pieces: tuple[str, ...]
    ) -> None:
        self.regex = regex
        self.needed = needed
        self.pieces = pieces

    @property
    def pattern(self) -> str:
        """The regex's pattern."""
        return self.regex.pattern

    def could_be_in(self, text: str) -> bool:
        """Whether the text has a word (or piece) without which no term can occur in it."""
        if not self.needed.isdisjoint(words_of(text)):
            return True
        return any(piece in text for piece in self.pieces)

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        """The regex's first match, if the text could hold a term."""
        if pos == 0 and endpos == sys.maxsize and not self.could_be_in(string):
            return None
        return self.regex.search(string, pos, endpos)

    def finditer(
        self, string: str, pos: int = 0, endpos: int = sys.maxsize
    ) -> Iterator[re.Match[str]]:
        """The regex's matches, if the text could hold a term."""
        if pos == 0 and endpos == sys.maxsize and not self.could_be_in(string):
            return iter(())
        return self.regex.finditer(string, pos, endpos)


# a regex, or one behind a screen: what finds any of several terms or patterns
Finder = re.Pattern[str] | Screened | Terms


class AnyOf:
    """Several finders asked at once whether a text could hold a match of any of them: the
    words their terms need, the screens' strings (one scan for all), and a search of each
    regex that has neither. False is certain; True means look closer."""

    __slots__ = ("finders", "keys", "needed", "pieces", "plain")

    def __init__(self, finders: Iterable[Finder]) -> None:
        self.finders = tuple(finders)
        needed: set[str] = set()
        pieces: list[str] = []
        keys: set[int] = set()
        plain: list[re.Pattern[str]] = []
        for finder in self.finders:
            if isinstance(finder, Terms):
                needed |= finder.needed
                pieces += finder.pieces
            elif isinstance(finder, Screened):
                keys.add(finder.key)
            else:
                plain.append(finder)
        self.needed = frozenset(needed)
        self.pieces = tuple(dict.fromkeys(pieces))
        self.keys = frozenset(keys)
        self.plain = tuple(plain)

    def could_be_in(self, text: str) -> bool:
        """Whether any of the finders could match somewhere in the text."""
        if not self.needed.isdisjoint(words_of(text)):
            return True
        if any(piece in text for piece in self.pieces):
            return True
        if self.keys and not self.keys.isdisjoint(_present(text, _INDEX.screens)):
            return True
        return any(pattern.search(text) for pattern in self.plain)

    def found_in(self, text: str) -> bool:
        """Whether any of the finders matches somewhere in the text."""
        return self.could_be_in(text) and any(f.search(text) for f in self.finders)


def screened(regex: re.Pattern[str]) -> Finder:
    """The regex behind the literal screen of what it requires, when it has one."""
    strings = screen_strings([regex.pattern])
    if strings is None:
        return regex
    return Screened(regex, _trie_pattern(strings), _INDEX.register(strings))


def screen_strings(patterns: Iterable[str]) -> frozenset[str] | None:
    """The strings the patterns require: a text without any of them matches none of the
    patterns. None when a pattern requires no string long enough to screen with."""
    strings: set[str] = set()
    for pattern in patterns:
        found = required(pattern)
        if found is None or not all(map(_long_enough, found)):
            return None
        strings |= found
    return frozenset(strings) or None


def literal_screen(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One regex of the strings the patterns require (a trie, no boundaries): a text it does
    not match matches none of the patterns. None when a pattern requires no string long
    enough to screen with."""
    strings = screen_strings(patterns)
    return None if strings is None else _trie_pattern(strings)


def _trie_pattern(strings: Iterable[str]) -> re.Pattern[str]:
    """The strings as one regex, a trie without boundaries."""
    trie: dict[str, Any] = {}
    for string in strings:
        node = trie
        for char in string:
            node = node.setdefault(char, {})
        node[""] = {}
    return re.compile(_trie(trie))


def _long_enough(string: str) -> bool:
    """Whether a string is long enough to screen with."""
    return len(string) >= (SHORTEST if string.isascii() else SHORTEST_UNSPACED)


def _trie(node: dict[str, Any]) -> str:
    """A trie as a regex that matches as soon as any of its strings ends."""
    if "" in node:
        return ""  # a string ends here: whatever follows, one was found
    branches = [re.escape(char) + _trie(child) for char, child in sorted(node.items())]
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"
