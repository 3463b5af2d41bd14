"""The digest as a subscriber receives it: escaping, grouping, dates, links, subject, parts."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import lxml.html
import pytest

from alerts.records import Digest, Rendered, StoryItem
from alerts.render import (
    render_confirmation,
    render_digest,
    safe_url,
    short_topic_name,
    subject_line,
    write_web_copy,
)

SANITIZE = (
    Path(__file__).resolve().parents[1] / "data" / "feedparser-tests" / "wellformed" / "sanitize"
)
NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
HOSTILE_TEXTS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '" onmouseover="x',
    "x</a><a href='javascript:alert(1)'>click</a>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "width: expression(alert(1))",
    "Rosa Salazar\r\nBcc: victim@example.org\r\n\r\n<b>injected</b>",
)
HOSTILE_URLS = (
    "javascript:alert(1)",
    " javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    'https://ok.example/x" onmouseover="alert(1)',
    "//no-scheme.example/x",
)


def story(
    story_id: int = 1,
    *,
    title: str = "Rosa Salazar signs on to return as Alita",
    category: str = "cast",
    change: str | None = "Rosa Salazar: returning as Alita",
    evidence: str | None = "Salazar has closed a deal to reprise the role.",
    outlets: tuple[str, ...] = ("Backlot Wire", "The Reel Ledger"),
    url: str | None = "https://backlot.example/salazar",
    developed_at: datetime = NOW - timedelta(hours=8),
) -> StoryItem:
    """A story with sensible defaults."""
    return StoryItem(
        story_id=story_id,
        title=title,
        url=url,
        category=category,
        categories=(category,),
        evidence=evidence,
        change=change,
        outlets=outlets,
        first_reporter=outlets[0] if outlets else None,
        first_seen=developed_at,
        developed_at=developed_at,
    )


def digest(*stories: StoryItem, timezone: str = "Europe/Rome", token: str = "tok123") -> Digest:
    """A daily digest for reader@example.org."""
    return Digest(
        email="reader@example.org",
        token=token,
        timezone=timezone,
        frequency="daily",
        stories=stories,
        topic_name="Alita: Battle Angel 2",
        base_url="https://watch.example",
        generated_at=NOW,
    )


def unsafe_parts(html: str) -> list[str]:
    """What a mail client could run: scripts, event handlers, non-http(s) links, expressions."""
    problems = []
    for element in lxml.html.document_fromstring(html).iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        if element.tag.lower() in ("script", "iframe", "object", "embed", "img", "form"):
            problems.append(f"<{element.tag}> element")
        for name, value in element.attrib.items():
            if name.lower().startswith("on"):
                problems.append(f"{name} attribute on <{element.tag}>")
            link = name.lower() in ("href", "src", "action", "background", "formaction")
            if link and not re.match(r"^(https?://|mailto:)", value):
                problems.append(f"{name}={value!r}")
            if re.search(r"expression\s*\(|javascript:", value, re.IGNORECASE):
                problems.append(f"{name}={value!r}")
    return problems


def headlines(html: str) -> list[str]:
    """The story headlines in the order the HTML shows them."""
    tree = lxml.html.document_fromstring(html)
    return [h3.text_content() for h3 in tree.iter("h3")]


def assert_safe(rendered: Rendered) -> None:
    """The properties every rendered digest must have, whatever the stories contain."""
    assert unsafe_parts(rendered.html) == []
    assert not re.search(r"[\x00-\x1f\x7f]", rendered.subject)
    assert len(rendered.subject) <= 120
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", rendered.text)  # one line per field


def test_hostile_text_and_links_are_escaped_or_dropped() -> None:
    stories = [
        story(
            i,
            title=text,
            evidence=text,
            change=text,
            outlets=(text, "Plain Outlet"),
            url=HOSTILE_URLS[i % len(HOSTILE_URLS)],
        )
        for i, text in enumerate(HOSTILE_TEXTS)
    ]
    rendered = render_digest(digest(*stories))
    assert_safe(rendered)
    visible = lxml.html.document_fromstring(rendered.html).text_content()
    assert "<script>alert(1)</script>" in visible  # shown as text, not run
    assert "<img src=x onerror=alert(1)>" in visible
    assert "Rosa Salazar Bcc: victim@example.org <b>injected</b>" in visible
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    assert "Bcc: victim" not in rendered.text.splitlines()[0]
    assert not any(line.startswith("Bcc:") for line in rendered.text.splitlines())


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_headline_with_a_non_http_link_is_shown_unlinked(url: str) -> None:
    rendered = render_digest(digest(story(url=url)))
    tree = lxml.html.document_fromstring(rendered.html)
    hrefs = [a.get("href") for a in tree.iter("a")]
    assert hrefs == [
        "https://watch.example/preferences/tok123",
        "https://watch.example/unsubscribe/tok123",
    ]
    assert headlines(rendered.html) == ["Rosa Salazar signs on to return as Alita"]
    assert url.strip() not in rendered.text


def test_safe_url_keeps_only_absolute_http_urls() -> None:
    assert safe_url("https://a.example/x?y=1") == "https://a.example/x?y=1"
    assert safe_url("HTTP://A.example/") == "HTTP://A.example/"
    assert [safe_url(url) for url in HOSTILE_URLS] == [None] * len(HOSTILE_URLS)
    assert safe_url("http:///nohost") is None
    assert safe_url(None) is None


def _corpus_stories(sanitize_html: bool) -> list[StoryItem]:
    """Stories made of feedparser's sanitize test cases: feed titles, entry titles, summaries."""
    stories = []
    for number, path in enumerate(sorted(SANITIZE.glob("*.xml"))):
        parsed = feedparser.parse(str(path), sanitize_html=sanitize_html)
        feed = parsed.feed
        outlet = str(feed.get("title") or "Outlet")
        texts = [(str(feed.get("title", "")), str(feed.get("subtitle", "")), None)]
        for entry in parsed.entries:
            content = " ".join(str(part.get("value", "")) for part in entry.get("content", []))
            summary = str(entry.get("summary", "")) + " " + content
            texts.append((str(entry.get("title", "")), summary, entry.get("link")))
        for index, (title, evidence, link) in enumerate(texts):
            if title or evidence.strip():
                stories.append(
                    story(
                        number * 100 + index,
                        title=title or evidence,
                        evidence=evidence,
                        change=title,
                        outlets=(outlet,),
                        url=str(link) if link else None,
                        category=("cast", "release", "plot", "production", path.stem)[index % 5],
                    )
                )
    return stories


@pytest.mark.parametrize("sanitize_html", [True, False], ids=["sanitized", "raw"])
def test_feedparser_sanitize_corpus_never_reaches_the_html_unescaped(sanitize_html: bool) -> None:
    stories = _corpus_stories(sanitize_html)
    assert len(stories) > 600  # nearly every test case contributed a story
    for start in range(0, len(stories), 80):
        rendered = render_digest(digest(*stories[start : start + 80]))
        assert_safe(rendered)


def test_stories_are_grouped_by_category_newest_first() -> None:
    stories = [
        story(1, title="Plot old", category="plot", developed_at=NOW - timedelta(days=2)),
        story(2, title="Music", category="music", developed_at=NOW - timedelta(hours=1)),
        story(3, title="Cast old", category="cast", developed_at=NOW - timedelta(days=3)),
        story(4, title="Production", category="production"),
        story(5, title="Cast new", category="cast", developed_at=NOW - timedelta(hours=2)),
        story(6, title="Release", category="release"),
        story(7, title="Plot new", category="plot", developed_at=NOW - timedelta(hours=3)),
    ]
    rendered = render_digest(digest(*stories))
    order = ["Cast new", "Cast old", "Release", "Plot new", "Plot old", "Production", "Music"]
    assert headlines(rendered.html) == order
    tree = lxml.html.document_fromstring(rendered.html)
    sections = [h2.text_content().split("·")[0].strip() for h2 in tree.iter("h2")]
    assert sections == ["Cast", "Release", "Plot", "Production", "Music"]
    text_titles = [line[2:] for line in rendered.text.splitlines() if line.startswith("* ")]
    assert text_titles == order
    assert [line for line in rendered.text.splitlines() if line.isupper()] == [
        "CAST",
        "RELEASE",
        "PLOT",
        "PRODUCTION",
        "MUSIC",
    ]


def test_dates_are_shown_in_the_subscribers_time_zone() -> None:
    late = story(developed_at=datetime(2026, 11, 24, 23, 30, tzinfo=UTC))
    rome = render_digest(digest(late, timezone="Europe/Rome"))
    assert "Wed 25 Nov 2026, 00:30 CET" in rome.text
    assert "Wed 25 Nov 2026, 00:30 CET" in lxml.html.document_fromstring(rome.html).text_content()
    assert "Dates are in Europe/Rome" in rome.text
    new_york = render_digest(digest(late, timezone="America/New_York"))
    assert "Tue 24 Nov 2026, 18:30 EST" in new_york.text


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../../etc/passwd", "Europe/Rome\n"])
def test_an_unknown_time_zone_falls_back_to_utc(zone: str) -> None:
    rendered = render_digest(
        digest(story(developed_at=datetime(2026, 11, 24, 23, 30, tzinfo=UTC)), timezone=zone)
    )
    assert "Tue 24 Nov 2026, 23:30 UTC" in rendered.text
    assert "Dates are in UTC" in rendered.text


def test_every_digest_carries_unsubscribe_and_preferences_links() -> None:
    rendered = render_digest(digest(story(), token="a/b c"))
    tree = lxml.html.document_fromstring(rendered.html)
    links = {a.text_content(): a.get("href") for a in tree.iter("a")}
    assert links["Unsubscribe"] == "https://watch.example/unsubscribe/a%2Fb%20c"
    assert links["Change what you receive"] == "https://watch.example/preferences/a%2Fb%20c"
    assert "Unsubscribe: https://watch.example/unsubscribe/a%2Fb%20c" in rendered.text
    assert "Change what you receive: https://watch.example/preferences/a%2Fb%20c" in rendered.text


def test_a_web_copy_without_a_token_has_no_personal_links() -> None:
    rendered = render_digest(digest(story(), token=""))
    assert "/unsubscribe/" not in rendered.html and "/unsubscribe/" not in rendered.text


def test_a_base_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="base_url"):
        render_digest(replace(digest(story()), base_url="javascript:alert(1)//"))


def test_the_subject_says_what_is_inside() -> None:
    cast = story(1, change="Rosa Salazar: returning as Alita", category="cast")
    release = story(
        2, category="release", change="release: 2031 (was: no earlier than 2030)", title="T"
    )
    plot = story(3, category="plot", change=None, title="Sequel adapts the Motorball arc")
    more = [story(i, category="production", change=None, title=f"Other {i}") for i in (4, 5)]
    assert render_digest(digest(cast)).subject == "Alita 2: Rosa Salazar returning as Alita"
    assert (
        render_digest(digest(release, cast)).subject
        == "Alita 2: Rosa Salazar returning as Alita, release moves to 2031"
    )
    assert (
        render_digest(digest(plot, *more, release, cast)).subject
        == "Alita 2: Rosa Salazar returning as Alita, release moves to 2031 + 3 more"
    )
    assert render_digest(digest(plot)).subject == "Alita 2: Sequel adapts the Motorball arc"


def test_a_long_subject_is_shortened_but_keeps_the_count() -> None:
    long = [story(i, change=None, title="A very long headline " * 8) for i in range(5)]
    subject = render_digest(digest(*long)).subject
    assert len(subject) <= 120
    assert subject.startswith("Alita 2: A very long headline")
    assert subject.endswith("+ 4 more")
    assert subject_line("Alita: Battle Angel 2", []) == "Alita 2: no new developments"


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("Alita: Battle Angel 2", "Alita 2"),
        ("Dune: Part Three", "Dune"),
        ("Avatar 3", "Avatar 3"),
        ("Alita:\nBattle Angel 2", "Alita 2"),
    ],
)
def test_short_topic_name(name: str, short: str) -> None:
    assert short_topic_name(name) == short


def test_css_is_inlined_into_a_table_layout_that_suits_dark_mode() -> None:
    html = render_digest(digest(story(), story(2, category="release"))).html
    tree = lxml.html.document_fromstring(html)
    styled = [element for element in tree.iter() if element.get("style")]
    assert len(styled) > 20
    assert all("flex" not in e.get("style") and "grid" not in e.get("style") for e in styled)
    assert tree.find(".//table[@role='presentation']") is not None
    headline_link = tree.find(".//h3/a")
    assert "color" in headline_link.get("style")
    for cell in tree.iter("td"):
        style = cell.get("style", "")
        if "background-color" in style:
            assert re.search(r"(^|;|\s)color:", style), style  # background never without text
    styles = [s.text_content() for s in tree.iter("style")]
    assert len(styles) == 1 and "prefers-color-scheme: dark" in styles[0]
    assert styles[0].strip().startswith("@media")  # the plain rules were inlined, not kept
    assert tree.find(".//meta[@name='color-scheme']").get("content") == "light dark"


def test_the_html_has_a_preheader() -> None:
    html = render_digest(digest(story())).html
    tree = lxml.html.document_fromstring(html)
    preheader = tree.find(".//body/div")
    assert "display: none" in preheader.get("style")
    assert preheader.text_content().startswith("Rosa Salazar returning as Alita · Cast")


def test_the_plain_text_part_reads_well() -> None:
    text = render_digest(digest(story(), story(2, category="release", outlets=("Solo",)))).text
    assert text.startswith("Alita: Battle Angel 2: 2 new developments\n")
    assert "<" not in text and "&amp;" not in text and "&#" not in text
    assert "* Rosa Salazar signs on to return as Alita\n" in text
    assert "  New: Rosa Salazar: returning as Alita\n" in text
    assert "\u201cSalazar has closed a deal to reprise the role.\u201d" in text
    assert "  First reported by Backlot Wire, also The Reel Ledger\n" in text
    assert "  First reported by Solo\n" in text
    assert "  https://backlot.example/salazar\n" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_the_confirmation_message_links_and_names_the_command() -> None:
    rendered = render_confirmation(
        "new@example.org",
        "tok-9",
        "Alita: Battle Angel 2",
        "https://watch.example",
        ("release", "cast"),
        "weekly",
    )
    assert rendered.subject == "Confirm your subscription to Alita: Battle Angel 2 news"
    assert "https://watch.example/confirm/tok-9" in rendered.text
    assert "sequelwatch confirm tok-9" in rendered.text
    assert "weekly digest of cast and release developments" in rendered.text
    tree = lxml.html.document_fromstring(rendered.html)
    links = {a.attrib["href"] for a in tree.iter("a") if "href" in a.attrib}
    assert links == {"https://watch.example/confirm/tok-9"}
    assert "sequelwatch confirm tok-9" in tree.text_content()
    assert unsafe_parts(rendered.html) == []


def test_the_confirmation_escapes_what_it_is_given() -> None:
    rendered = render_confirmation(
        "<script>alert(1)</script>@example.org", "t", "<b>x</b>", "http://h", ("plot",), "daily"
    )
    assert unsafe_parts(rendered.html) == []
    assert "<b>" not in rendered.html
    assert "daily digest of plot developments" in rendered.text
    everything = render_confirmation("a@b.example", "t", "T", "http://h", (), "daily")
    assert "daily digest of all developments" in everything.text


def test_the_web_copy_is_written_atomically(tmp_path: Path) -> None:
    target = tmp_path / "web" / "latest.html"
    first = render_digest(digest(story()))
    assert write_web_copy(first, target) == target
    second = render_digest(digest(story(title="Second")))
    write_web_copy(second, target)
    assert target.read_text(encoding="utf-8") == second.html
    assert [p.name for p in target.parent.iterdir()] == ["latest.html"]
