"""What the alerts stages pass between them: a digest's stories, the digest, the message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StoryItem:
    """One development as a subscriber sees it."""

    story_id: int
    title: str  # the best headline (from the web: hostile until escaped)
    url: str | None  # the first reporter's article; only http(s) URLs are ever kept
    category: str  # the category it is filed under in the digest
    categories: tuple[str, ...]  # every category of the story
    evidence: str | None  # the sentence that proves it, as written
    change: str | None  # what is new, e.g. "release: 2031 (was: no earlier than 2030)"
    outlets: tuple[str, ...]  # who reported it, first reporter first
    first_reporter: str | None
    first_seen: datetime  # UTC-aware
    developed_at: datetime  # UTC-aware: when it was opened or last changed


@dataclass(frozen=True, slots=True)
class Digest:
    """One message's worth of developments for one subscriber."""

    email: str
    token: str  # the subscriber's unsubscribe / preferences token
    timezone: str  # IANA name, e.g. "Europe/Rome"
    frequency: str  # instant | daily | weekly
    stories: tuple[StoryItem, ...]  # newest development first
    topic_name: str  # "Alita: Battle Angel 2"
    base_url: str  # where the links in the message point, no trailing slash
    generated_at: datetime  # UTC-aware


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered message: subject, plain text and HTML (CSS inlined)."""

    subject: str
    text: str
    html: str
