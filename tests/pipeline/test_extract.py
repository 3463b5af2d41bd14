"""What sequelwatch reads from an article page: title, outlet, authors, date, language, text."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.extract import extract
from pipeline.records import Extracted

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"


def page(name: str, url: str = "https://site.example/news/2025/alita-story") -> Extracted:
    """Extract one of the test pages."""
    return extract((PAGES / name).read_text(encoding="utf-8"), url)


def test_jsonld_graph_page() -> None:
    result = page("jsonld_graph.html")
    assert result.title == "Alita: Battle Angel 2 finally has a writer – and a shooting window"
    assert result.outlet == "Nova Screen Daily"
    assert result.authors == ("Ines Okafor", "Dario Kettering")  # @id resolved, "By " dropped
    assert result.published == datetime(2025, 3, 14, 7, 30, tzinfo=UTC)
    assert result.language == "en"
    assert result.canonical == (
        "https://www.novascreen.example/news/2025/03/alita-battle-angel-2-writer/"
    )
    assert result.description is not None and "hired a screenwriter" in result.description
    # the text is the JSON-LD articleBody, paragraph by paragraph
    paragraphs = result.text.split("\n\n")
    assert len(paragraphs) == 3
    assert paragraphs[0].startswith("The sequel to the 2019 cyberpunk adventure")
    assert "floating city of Zalem" in paragraphs[1]
    assert "Returning cast members have not been announced" in paragraphs[2]


def test_opengraph_only_page() -> None:
    result = page("opengraph_only.html")
    assert result.title == "Rosa Salazar talks about a return to Iron City"
    assert result.outlet == "The Reel Ledger"
    # article:author is a URL, so the names come from the "By A and B" meta byline
    assert result.authors == ("Marisol Vega", "Tom Reyes")
    assert result.published == datetime(2025, 2, 3, 18, 45, tzinfo=UTC)  # naive -> UTC
    assert result.language == "en"  # og:locale en_GB
    assert result.canonical == "https://reelledger.example/interviews/rosa-salazar-iron-city-return"
    assert result.description == (
        "The star says she would come back for a sequel if the story is right."
    )
    assert "I would step back into that body tomorrow" in result.text
    assert "keeping the hashtag for the sequel trending" in result.text
    assert not result.text.startswith("Rosa Salazar talks about")  # headline not repeated


def test_amp_page_with_relative_canonical() -> None:
    result = page("amp_page.html", url="https://framerate.example/amp/movies/alita-austin")
    assert result.canonical == "https://framerate.example/movies/alita-sequel-could-shoot-in-austin"
    assert result.title == "Alita sequel could shoot in Austin, report says"
    assert result.outlet == "Frame Rate Weekly"
    assert result.authors == ("Priya Lindqvist",)  # the author URL is not a name
    assert result.published == datetime(2025, 1, 20, 15, 0, tzinfo=UTC)
    assert result.language == "en"
    # articleBody is a short teaser, so the text comes from the page
    assert "Too short to trust" not in result.text
    assert "Texas stages where much of the first film was made" in result.text
    assert "several departments had been asked about their availability" in result.text
    assert "Television" not in result.text  # the amp-sidebar menu


def test_cluttered_page_keeps_only_the_article() -> None:
    result = page("cluttered.html", url="https://cinderpost.example/film/motorball-returns")
    assert result.title == "Motorball returns: what the Alita sequel means for the sport"
    assert result.outlet == "Cinder Post"
    assert result.authors == ("Hal Brennan",)
    assert result.published == datetime(2025, 4, 2, 11, 15, tzinfo=UTC)
    for sentence in (
        "Motorball, the brutal rolling bloodsport at the heart of the first film",
        "with a league season running through the middle of the story",
        "a second unit could spend several weeks on the track sequences alone",
        "the sequel remains in active development",
    ):
        assert sentence in result.text
    for clutter in (
        "Film desk",  # navigation
        "Subscribe today",
        "Trending now",
        "Desert planet sequel adds a mysterious villain",
        "Robot cop reboot",  # sidebar
        "Sign up for our weekly newsletter",
        "Zapan deserved better",  # comments
        "I will wait six more",
        "All rights reserved",  # footer
    ):
        assert clutter not in result.text
    assert result.text.count("\n\n") == 3  # four paragraphs, blank-line separated


def test_spanish_page_without_declared_language() -> None:
    result = page("spanish.html", url="https://pantalla-austral.example/cine/secuela-alita")
    assert result.language == "es"  # guessed from the text
    assert result.title == "La secuela de Alita: Ángel de combate sigue en pie, según su productor"
    assert result.outlet == "Pantalla Austral"
    assert result.authors == ("Lucía Ferrández",)  # "Por " dropped
    assert result.published == datetime(2025, 5, 10, 12, 0, tzinfo=UTC)  # sailthru.date
    assert "la continuación de Alita no ha sido cancelada" in result.text


def test_visible_date_only() -> None:
    result = page("visible_date.html", url="https://scorepages.example/blog/alita-composer")
    assert result.published is not None
    assert result.published.date() == datetime(2025, 3, 7).date()
    assert result.published.tzinfo is not None
    assert result.title == "Composer hints at new music for the Alita sequel"
    assert result.outlet is None
    assert "themes for a second Alita film have already been sketched" in result.text


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        ('<html lang="es-ES">', "es"),
        ('<html lang="pt_BR">', "pt"),
        ('<html><meta property="og:locale" content="fr_FR">', "fr"),
        (
            '<html><script type="application/ld+json">{"@type": "NewsArticle", "inLanguage": "de"}'
            "</script>",
            "de",
        ),
        ('<html lang="x-default"><meta property="og:locale" content="it_IT">', "it"),
        ("<html>", None),  # too little text to guess
    ],
)
def test_declared_language_is_normalised(declaration: str, expected: str | None) -> None:
    result = extract(declaration + "<body><p>Alita.</p></body></html>", "https://x.example/a")
    assert result.language == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            '<meta property="article:published_time" content="2025-06-01T10:00:00Z">',
            datetime(2025, 6, 1, 10, 0, tzinfo=UTC),
        ),
        (
            '<meta name="parsely-pub-date" content="2025-06-01T12:00:00+02:00">',
            datetime(2025, 6, 1, 10, 0, tzinfo=UTC),
        ),
        ('<meta name="dc.date" content="2025-06-01">', datetime(2025, 6, 1, tzinfo=UTC)),
        (
            '<meta name="pubdate" content="Sun, 01 Jun 2025 10:00:00 GMT">',
            datetime(2025, 6, 1, 10, 0, tzinfo=UTC),
        ),
        ('<meta name="date" content="not a date">', None),
    ],
)
def test_date_meta_tags(head: str, expected: datetime | None) -> None:
    html = f"<html><head>{head}</head><body><p>Alita.</p></body></html>"
    assert extract(html, "https://x.example/a").published == expected


def test_time_element_in_article() -> None:
    html = (
        "<html><body><aside><time datetime='2020-01-01T00:00:00Z'>old</time></aside>"
        "<article><time datetime='2025-07-04T18:00:00-07:00'>July 4</time><p>Alita.</p>"
        "</article></body></html>"
    )
    assert extract(html, "https://x.example/a").published == datetime(2025, 7, 5, 1, tzinfo=UTC)


def test_title_suffix_removed_from_title_tag() -> None:
    html = "<html><head><title>  Alita 2 gets a   date - Frame Rate </title></head></html>"
    assert extract(html, "https://x.example/a").title == "Alita 2 gets a date"


def test_invalid_jsonld_is_skipped_and_forgiven() -> None:
    html = (
        '<html><head><script type="application/ld+json">{{{ not json</script>'
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Trailing, ok",'
        ' "author": "Jun Takeda",}</script></head><body></body></html>'
    )
    result = extract(html, "https://x.example/a")
    assert result.title == "Trailing, ok"
    assert result.authors == ("Jun Takeda",)


HOSTILE = {
    "empty": "",
    "whitespace": "   \n\t ",
    "plain text": "just some words about a film, with no markup at all",
    "malformed": "<html><head><title>Half<body><p>Alita <b>returns <i>to</p></div></span>",
    "deep nesting": "<div>" * 100_000 + "Alita" + "</div>" * 100_000,
    "unclosed nesting": "<html><body>" + "<span><b>" * 50_000,
    "binary junk": bytes(range(256)).decode("utf-8", errors="replace") * 200,
    "nul bytes": "<html>\x00<body><p>Alita\x00 returns</p></body></html>",
    "lone surrogate": "<p>\ud800 Alita</p>",
    "encoding declaration": '<?xml version="1.0" encoding="utf-8"?><html><body><p>Alita</p>',
    "deep json": '<script type="application/ld+json">' + "[" * 100_000 + "</script>",
    "absurd dates": '<meta name="date" content="99999-01-01"><meta name="pubdate" content="0000">',
    "broken canonical": '<link rel="canonical" href="http://[::1"><p>Alita</p>',
    "deep json author": '<script type="application/ld+json">{"@type": "NewsArticle", "author": '
    + "[" * 900
    + '"x"'
    + "]" * 900
    + "}</script>",
    "overflowing date": '<meta name="pubdate" content="Sun, 01 Jun 99999999999999999999 10:00">',
}


@pytest.mark.parametrize("html", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_never_crashes(html: str) -> None:
    started = time.perf_counter()
    result = extract(html, "https://x.example/a")
    assert isinstance(result, Extracted)
    assert isinstance(result.text, str)
    assert result.published is None or result.published.tzinfo is not None
    assert time.perf_counter() - started < 5


def test_empty_input_gives_empty_record() -> None:
    assert extract("", "https://x.example/a") == Extracted(
        None, None, None, (), None, None, None, ""
    )
