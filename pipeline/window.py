"""The story articles near in time, held in memory while `settle` places a batch."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline.store import STORY_CANDIDATES, Store
from pipeline.stories import parse_evidence


@dataclass(slots=True)
class _Member:
    """A story article in the window: its moment as stored and as the julian day SQLite
    measures distances with."""

    story: int
    article: int
    keys: frozenset[str]
    moment: str
    day: float
    seen: datetime


def _moment(member: _Member) -> str:
    """A member's moment as stored: what a time window is compared with."""
    return member.moment


def _order(member: _Member) -> tuple[str, int]:
    """Where a member stands in the window: by moment, then article."""
    return member.moment, member.article


class StoryWindow:
    """What `Store.story_candidates` answers between two times, answered from memory.

    `settle` holds the write lock while it places a batch, so only it changes these
    articles: it tells the window of each merge of stories, and has it `reload` each article
    it places and the one that article matched (which may have turned out to be a copy).
    Articles placed one after another look at much the same candidates, so the window
    counts their evidence as the candidates change rather than afresh for each article.
    """

    def __init__(self, store: Store, since: str, until: str) -> None:
        self._store, self._since, self._until = store, since, until
        self._members = sorted(
            (self._member(row) for row in store.window_articles(since, until)), key=_order
        )
        self._by_article = {member.article: member for member in self._members}
        self._chosen: dict[int, _Member] = {}  # the candidates last handed out
        self.counts: Counter[str] = Counter()  # how many of them have each key
        self.holders: dict[str, set[int]] = {}  # which of them (articles) have each key

    @staticmethod
    def _member(row: tuple[int, int, str, str, float]) -> _Member:
        """A member from a stored row."""
        story, article, stored, moment, day = row
        return _Member(
            story, article, parse_evidence(stored), moment, day, datetime.fromisoformat(moment)
        )

    def candidates(
        self, since: str, until: str, near: str, limit: int = STORY_CANDIDATES
    ) -> list[tuple[int, int, frozenset[str], datetime]]:
        """(story, article, evidence, when) of the articles `Store.story_candidates` gives;
        `counts` then counts their evidence, and `holders` says which of them have each key."""
        if since < self._since or until > self._until:
            raise ValueError(f"{since}..{until} is outside the window {self._since}..{self._until}")
        first = bisect_left(self._members, since, key=_moment)
        chosen = self._members[first : bisect_right(self._members, until, key=_moment)]
        if len(chosen) > limit:
            centre = self._store.julian_day(near)
            # sorted, not heapq.nsmallest: a window's distances fall then rise, two runs
            chosen.sort(key=lambda member: (abs(member.day - centre), member.article))
            del chosen[limit:]
        self._count(chosen)
        return [(member.story, member.article, member.keys, member.seen) for member in chosen]

    def _count(self, chosen: Sequence[_Member]) -> None:
        """Count the evidence of the new candidates: only what changed since the last ones."""
        now = {member.article: member for member in chosen}
        for article, member in self._chosen.items():
            if article not in now:
                self._forget(member)
        for article, member in now.items():
            if article not in self._chosen:
                self.counts.update(member.keys)
                for key in member.keys:
                    self.holders.setdefault(key, set()).add(article)
        self._chosen = now

    def _forget(self, member: _Member) -> None:
        """Take a candidate's evidence out of `counts` and `holders`."""
        self.counts.subtract(member.keys)
        for key in member.keys:
            holding = self.holders.get(key)
            if holding is not None:
                holding.discard(member.article)
                if not holding:
                    del self.holders[key]

    def reload(self, article: int) -> None:
        """Read an article again from the store: whether it is a candidate, and its story."""
        old = self._by_article.pop(article, None)
        if old is not None:
            del self._members[bisect_left(self._members, _order(old), key=_order)]
            if self._chosen.pop(article, None) is not None:
                self._forget(old)
        for row in self._store.window_articles(self._since, self._until, article):
            member = self._member(row)
            insort(self._members, member, key=_order)
            self._by_article[article] = member

    def merge(self, stories: Sequence[int], kept: int) -> None:
        """Stories were merged into `kept`: their articles are now its articles."""
        gone = set(stories) - {kept}
        if gone:
            for member in self._members:
                if member.story in gone:
                    member.story = kept
