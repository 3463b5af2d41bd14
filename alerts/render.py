"""Turn a digest into a message's subject, plain text and HTML (CSS inlined)."""

from __future__ import annotations

import functools
import os
import re
import tempfile
import textwrap
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from alerts.records import Digest, Rendered, StoryItem

TEMPLATES = Path(__file__).resolve().parent / "templates"
CATEGORY_ORDER = ("cast", "release", "plot", "production")
CATEGORY_LABELS = {"cast": "Cast", "release": "Release", "plot": "Plot", "production": "Production"}
SUBJECT_MAX = 120
SUMMARY_MAX = 60
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# "subject: value (was: old)", the shape of StoryItem.change
_CHANGE = re.compile(r"^(?P<subject>[^:]{1,60}):\s*(?P<value>.+?)(?:\s*\(was:\s*(?P<old>.*)\))?$")
_TRAILING_NUMBER = re.compile(r"\s(\d+)$")
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


@dataclass(frozen=True, slots=True)
class StoryView:
    """One story as the templates see it: one-line texts, a safe link, a local date."""

    title: str
    url: str | None
    change: str | None
    change_now: str | None  # the change without its "(was: ...)" tail
    change_was: str | None  # what the change replaced, shown muted
    evidence: str | None
    first_reporter: str | None
    others: tuple[str, ...]
    when: str


@dataclass(frozen=True, slots=True)
class Section:
    """The stories of one category, newest development first."""

    category: str
    label: str
    accent: str  # a CSS class chosen from a fixed list, never from the data
    stories: tuple[StoryView, ...]


def _environments() -> tuple[Environment, Environment]:
    """The HTML environment (autoescaped) and the plain-text one (not escaped)."""
    loader = FileSystemLoader(TEMPLATES)
    html = Environment(
        loader=loader,
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )
    text = Environment(
        loader=loader,
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    text.filters["fill"] = _fill
    return html, text


@functools.lru_cache(maxsize=4096)
def _fill(text: str, indent: int = 2, width: int = 72) -> str:
    """Wrap prose for the plain-text part without breaking words or URLs.

    Cached: a digest run wraps the same headlines and sentences for every subscriber who
    chose their categories, and wrapping was a sixth of sending a digest."""
    pad = " " * indent
    return textwrap.fill(
        text,
        width=width,
        initial_indent=pad,
        subsequent_indent=pad,
        break_long_words=False,
        break_on_hyphens=False,
    )


_HTML_ENV, _TEXT_ENV = _environments()


def one_line(text: str | None) -> str:
    """The text on one line: control, format and separator characters removed."""
    if not text:
        return ""
    if text.isascii() and text.isprintable():  # the common case: only spaces to fold
        return " ".join(text.split())
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):
            kept.append(" ")
        elif category != "Cf":
            kept.append(char)
    return " ".join("".join(kept).split())


def safe_url(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) URL, else None (javascript:, data:, ...)."""
    if not url or url != url.strip() or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def subscriber_zone(name: str) -> tzinfo:
    """The subscriber's time zone; UTC when the name is unknown or malformed."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return UTC


def local_date(moment: datetime, zone: tzinfo, *, with_time: bool = True) -> str:
    """A date like "Wed 25 Nov 2026, 00:30 CET" in the given zone (locale-independent)."""
    local = moment.astimezone(zone)
    day = f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}"
    if not with_time:
        return day
    return f"{day}, {local:%H:%M} {local.tzname() or 'UTC'}"


def short_topic_name(topic_name: str) -> str:
    """The topic's short name: the part before ":" plus a trailing number ("Alita 2")."""
    name = one_line(topic_name)
    head, colon, _ = name.partition(":")
    if not colon or not head.strip():
        return name
    number = _TRAILING_NUMBER.search(name)
    return f"{head.strip()} {number.group(1)}" if number else head.strip()


def clip(text: str, limit: int) -> str:
    """The text cut at a word boundary to at most limit characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


def summarize(story: StoryItem) -> str:
    """A few words for a subject line: the change read as a sentence, else the title."""
    change = one_line(story.change)
    match = _CHANGE.match(change) if change else None
    if match is None:
        return clip(change or one_line(story.title) or "a new development", SUMMARY_MAX)
    subject, value, old = match.group("subject", "value", "old")
    if story.category == "cast":
        phrase = f"{subject} {value}"
    elif old:
        phrase = f"{subject} moves to {value}"
    else:
        phrase = f"{subject}: {value}"
    return clip(phrase, SUMMARY_MAX)


def subject_line(topic_name: str, stories: Sequence[StoryItem]) -> str:
    """What is inside, e.g. "Alita 2: Rosa Salazar returning, release moves to 2031 + 3 more".

    The stories are summarised in the order given: render_digest passes them in the order
    the message shows them (by category, newest first).
    """
    prefix = clip(short_topic_name(topic_name), 40)
    if not stories:
        return f"{prefix}: no new developments"
    line = _subject(prefix, [summarize(story) for story in stories[:2]], len(stories))
    if len(line) > SUBJECT_MAX:
        line = _subject(prefix, [summarize(stories[0])], len(stories))
    return clip(line, SUBJECT_MAX)


def _subject(prefix: str, summaries: list[str], total: int) -> str:
    """The subject from its parts: "Prefix: first, second + N more"."""
    rest = total - len(summaries)
    return f"{prefix}: {', '.join(summaries)}" + (f" + {rest} more" if rest else "")


def ordered_categories(categories: Iterable[str]) -> list[str]:
    """Known categories in their fixed order, then the others alphabetically."""
    present = set(categories)
    known = [name for name in CATEGORY_ORDER if name in present]
    return known + sorted(present - set(CATEGORY_ORDER))


def split_change(change: str) -> tuple[str, str | None]:
    """The change and what it replaced: ("release: 2031", "2030") from "... (was: 2030)"."""
    match = _CHANGE.match(change)
    if match is None or not match.group("old"):
        return change, None
    return f"{match.group('subject')}: {match.group('value')}", match.group("old")


@functools.lru_cache(maxsize=4096)
def story_view(story: StoryItem, zone: tzinfo) -> StoryView:
    """The story's texts on one line, its link only if http(s), its date in the zone.

    Cached: a run shows the same development to every subscriber who chose its category.
    """
    outlets = tuple(name for name in (one_line(o) for o in story.outlets) if name)
    first = one_line(story.first_reporter) or (outlets[0] if outlets else "")
    change = one_line(story.change)
    now, was = split_change(change)
    return StoryView(
        title=one_line(story.title) or "(untitled)",
        url=safe_url(story.url),
        change=change or None,
        change_now=now or None,
        change_was=was,
        evidence=one_line(story.evidence) or None,
        first_reporter=first or None,
        others=tuple(name for name in outlets if name != first),
        when=local_date(story.developed_at, zone),
    )


def grouped(stories: Sequence[StoryItem]) -> list[tuple[str, list[StoryItem]]]:
    """(category, stories) in category order, newest development first in each."""
    return [
        (
            category,
            sorted(
                (story for story in stories if story.category == category),
                key=lambda story: story.developed_at,
                reverse=True,
            ),
        )
        for category in ordered_categories(story.category for story in stories)
    ]


def sections(stories: Sequence[StoryItem], zone: tzinfo) -> list[Section]:
    """The stories as the templates show them, grouped by category."""
    result = []
    for category, group in grouped(stories):
        label = CATEGORY_LABELS.get(category) or one_line(category).capitalize() or "Other"
        accent = f"cat-{category}" if category in CATEGORY_LABELS else "cat-other"
        result.append(Section(category, label, accent, tuple(story_view(s, zone) for s in group)))
    return result


def _account_link(base_url: str, action: str, token: str) -> str:
    """{base_url}/{action}/{token}, refusing a base URL that is not http(s)."""
    base = base_url.rstrip("/")
    if safe_url(base) is None:
        raise ValueError(f"base_url must be an absolute http(s) URL, not {base_url!r}")
    return f"{base}/{action}/{quote(token, safe='')}"


def _inline(html: str) -> str:
    """The HTML with its <style> rules inlined; @media blocks stay in a <style>."""
    return _INLINER.inline(html)


def _render(name: str, context: dict[str, Any]) -> tuple[str, str]:
    """Render NAME.txt and NAME.html with the same context."""
    text = _TEXT_ENV.get_template(f"{name}.txt").render(context)
    html = _inline(_HTML_ENV.get_template(f"{name}.html").render(context))
    return text, html


def render_digest(digest: Digest) -> Rendered:
    """The digest as a message: subject, plain text and HTML, dates in the subscriber's zone."""
    zone = subscriber_zone(digest.timezone)
    shown = sections(digest.stories, zone)
    in_order = [story for _, group in grouped(digest.stories) for story in group]
    count = len(in_order)
    subject = subject_line(digest.topic_name, in_order)
    token = digest.token
    context: dict[str, Any] = {
        "subject": subject,
        "topic_name": one_line(digest.topic_name),
        "count": count,
        "count_label": f"{count} new development" + ("" if count == 1 else "s"),
        "sections": shown,
        "date": local_date(digest.generated_at, zone, with_time=False),
        "preheader": preheader(shown, in_order),
        "frequency": one_line(digest.frequency),
        "email": one_line(digest.email),
        "zone_name": getattr(zone, "key", "UTC"),
        # a web copy has no subscriber: an empty token leaves the personal links out
        "unsubscribe_url": _account_link(digest.base_url, "unsubscribe", token) if token else None,
        "preferences_url": _account_link(digest.base_url, "preferences", token) if token else None,
    }
    text, html = _render("digest", context)
    return Rendered(subject=subject, text=text, html=html)


def preheader(shown: Sequence[Section], stories: Sequence[StoryItem]) -> str:
    """The line a mail client shows after the subject: the first change and the categories."""
    if not stories:
        return "Nothing new this time."
    labels = ", ".join(section.label for section in shown)
    first = summarize(stories[0])
    return clip(f"{first[:1].upper()}{first[1:]} · {labels}", 140)


def render_confirmation(
    email: str,
    token: str,
    topic_name: str,
    base_url: str,
    categories: tuple[str, ...],
    frequency: str,
) -> Rendered:
    """The double opt-in message: a link to {base_url}/confirm/{token} and the command."""
    chosen = ordered_categories(one_line(c) for c in categories if one_line(c))
    topic = one_line(topic_name)
    context: dict[str, Any] = {
        "topic_name": topic,
        "short_name": short_topic_name(topic),
        "email": one_line(email),
        "token": one_line(token),
        "confirm_url": _account_link(base_url, "confirm", token),
        "categories": _spoken_list([c.lower() for c in chosen]) or "all",
        "frequency": one_line(frequency),
    }
    subject = clip(f"Confirm your subscription to {topic} news", SUBJECT_MAX)
    context["subject"] = subject
    text, html = _render("confirm", context)
    return Rendered(subject=subject, text=text, html=html)


def _spoken_list(items: Sequence[str]) -> str:
    """The items as a sentence would list them: "cast, release and plot"."""
    return " and ".join(filter(None, (", ".join(items[:-1]), *items[-1:])))


def write_web_copy(rendered: Rendered, path: Path) -> Path:
    """Write the digest's HTML as a standalone file, atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(rendered.html)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
