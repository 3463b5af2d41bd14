"""A generated news site on 127.0.0.1 for the benchmarks: `python bench/site.py --pages 2000`.

Article pages in the sample world's three templates (JSON-LD with the article body,
OpenGraph only, JSON-LD with an AMP twin), RSS feeds that list them, a Google News
sitemap and robots.txt, all written from a fixed seed. Served by nginx when it is
installed (static files: ETag, Last-Modified and 304s come free), else by a threaded
stdlib server that does the same. Both count the requests and bytes they send.

The prose: sentence templates with inline alternatives ({a|b|c}) and slots (<person>), so
two articles of one kind share a subject but rarely whole runs of words, and
near-duplicate detection sees distinct articles, as it would in a real news stream.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import html
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

SEED = 20261124
# Real-sounding sentences to mix in: the labelled evaluation articles' bodies.
CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "eval"
BROAD = re.compile(r"alita|battle angel|gunnm|gunm|zalem|iron city|motorball|salazar|kishiro", re.I)
FILE_TIME = datetime(2026, 11, 23, 6, 0, tzinfo=UTC).timestamp()  # every file's mtime
NEWEST = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)
Others = Literal["franchise", "films"]

CAST = [
    ("Rosa Salazar", "Alita"),
    ("Christoph Waltz", "Dr. Dyson Ido"),
    ("Jennifer Connelly", "Chiren"),
    ("Keean Johnson", "Hugo"),
    ("Ed Skrein", "Zapan"),
    ("Lana Condor", "Koyomi"),
    ("Eiza González", "Nyssiana"),
    ("Jackie Earle Haley", "Grewishka"),
]
NEW_ROLES = ["Nova", "Vector", "Gelda", "Jashugan", "Den", "Sechs", "Kaos", "Lou"]
FIRST = "Maren Theo Priya Jenna Marcus Ana Desmond Lucia Kenji Amara Felix Sofia Idris Noor"
LAST = "Ostby Nakamura Raman Morales Whitfield Vidal Okafor Brandt Sato Lindqvist Haddad Reyes"
CITIES = ["Los Angeles", "Austin", "Toronto", "London", "Atlanta", "Vancouver", "Berlin"]
MONTHS = ["January", "February", "March", "April", "May", "June", "September", "October"]
PLACES = ["Zalem", "Iron City", "Mars", "the Motorball arena", "the Factory", "the Scrapyard"]
ADJECTIVES = "Silent Last Crimson Hollow Paper Northern Quiet Broken Golden Distant Hidden Wild"
NOUNS = "Harbor Lanterns Protocol Glacier Circuit Orchard Meridian Tide Kingdom Signal Comet"
STUDIOS = ["Paragon Pictures", "Tidewater", "Northbay Films", "Lumen Studios", "Red Kite"]

SEQUEL = ["Alita: Battle Angel 2", "Alita 2", "the Alita sequel", "Alita: Battle Angel 2"]

SEQUEL_TITLES = {
    "cast": [
        "<sequel_t>: <person> {is set to return as|confirms she is back as|in talks to "
        "reprise} <role>",
        "<newname> {joins|boards|lands a key role in} <sequel_t> as <newrole>",
        "<person> {says|tells fans|insists} {the cast is ready|'we are all in'} for <sequel_t>",
    ],
    "release": [
        "<sequel_t> {won't reach theaters before|is now aimed at|gets a window of} <year>",
        "<sequel_t> release {slips|moves|is pencilled in} {to|for} <month> <year>",
    ],
    "plot": [
        "<sequel_t> will {take Alita to|head for|finally reach} <place>, <person> says",
        "<sequel_t> story {details emerge|teased|takes shape}: {a trip to|a war over|the fall "
        "of} <place>",
    ],
    "production": [
        "<sequel_t> {sets a|eyes a|confirms a} <month> {shoot|start of filming} in <city>",
        "Cameron and Rodriguez {lock|finish|deliver} the <sequel_t> {script|draft|screenplay}",
    ],
}

SEQUEL_SENTENCES = [
    "<person> {said|told reporters|confirmed} {on Thursday|this week|over the weekend} that"
    " <sequel> {remains|is still} {a living project|in active development|a priority} at"
    " 20th Century Studios.",
    "{According to|Speaking to|In an interview with} <outlet>, <person> {described|called}"
    " <sequel> {'unfinished business'|'the film we always meant to make'|'a bigger story'}.",
    "The {first film|2019 original} grossed {roughly|about|close to} $404 million"
    " {worldwide|around the world}, {a solid number|a figure} {undercut by|weighed against}"
    " a budget {reported at|said to be} about $170 million.",
    "<newname> {is said to be|is reportedly|will be} {playing|cast as} <newrole>, a character"
    " {fans of the manga|readers of Yukito Kishiro's books|longtime fans} {know well|will "
    "recognise}.",
    "{Filming|Principal photography|The shoot} {could begin|is expected to start|is pencilled in}"
    " {in|around|by} <month> <year> in <city>, {two people familiar with the plans|a "
    "producer|the studio}"
    " {said|confirmed|indicated}.",
    "<sequel> {is not expected|will not arrive|is unlikely to open} before <year>, {according "
    "to|per}"
    " {the studio's schedule|Lightstorm Entertainment|people close to the production}.",
    "{The story|The script|The new draft} {picks up|continues|begins} {soon after|a year "
    "after|right after}"
    " the first film, with Alita {heading for|fighting her way to|looking up at} <place>.",
    "Robert Rodriguez {is still expected|remains attached|has signed} to direct, with James Cameron"
    " {producing|writing alongside him|overseeing the script}.",
    "{Fans|The Alita Army|Supporters of the first film} {have campaigned|have pushed|have lobbied}"
    " for <sequel> {for years|since 2019|ever since the first film reached home video}.",
    "<person> {returns|is back|is confirmed} as <role>, {the studio said|a spokesperson confirmed|"
    "according to the casting announcement}.",
    "{The budget|The cost|The scale} of <sequel> {has not been disclosed|remains unclear|is still"
    " being negotiated}, {but|though|and} {insiders|sources|observers} expect {a leaner|a "
    "similar|a larger} production.",
    "<person> said {the team|Rodriguez|Cameron} {has|already has} {pages|a draft|an outline}"
    " {and|with} {ideas|plans|designs} for <place>.",
]

FRANCHISE_TITLES = [
    "Alita: Battle Angel {gets a 4K steelbook|returns to theaters|lands on streaming} {this "
    "<month>|in <month>}",
    "Battle Angel Alita {manga|omnibus|art book} {gets a deluxe edition|returns to print|is "
    "reissued}",
    "{Revisiting|Rewatching|Why we still love} Alita: Battle Angel, {<number> years on|in <year>}",
]
FRANCHISE_SENTENCES = [
    "The {2019 film|original film|first movie} {followed|told the story of|introduced} a cyborg"
    " {found in a scrapheap|rebuilt by Dr. Dyson Ido|with no memory of her past}.",
    "Yukito Kishiro's {manga|comic|series} {first ran|began|appeared} in 1990 and {has been|was}"
    " {reissued|translated|collected} {many times|in several editions|around the world}.",
    "The {new edition|release|reissue} {includes|adds|comes with} {concept art|a commentary track|"
    "a booklet} and {an interview|a conversation|a short essay} {with|by} <newname>.",
    "{Collectors|Fans|Readers} {can order|will find|can pick up} {it|the set|the release} {from|in}"
    " <month> {at|for} ${number}.",
    "{Critics|Reviewers|Audiences} {praised|admired|singled out} {the motion capture|the Motorball"
    " scenes|Rosa Salazar's performance} when the film {opened|was released}.",
]

OTHER_TITLES = [
    "'<film>' {crosses|nears|passes} $<number>0 million {worldwide|at the box office}",
    "<newname> {to star in|boards|joins} '<film>' for <studio>",
    "'<film>' heads back for {six weeks of|two weeks of|additional} reshoots",
    "<studio> {dates|moves|sets} '<film>' for <month> <year>",
    "Northbay Film Festival {adds|unveils|premieres} '<film>'",
]
OTHER_SENTENCES = [
    "'<film>' {opened|debuted|arrived} {in|across} {3,400|2,900|4,100} theaters {last "
    "weekend|on Friday|this month}.",
    "<newname> {will direct|is directing|wrote and directs} {the film|the feature|the adaptation}"
    " for <studio>, {which|and the studio} {acquired|bought|won} {the rights|the script|the "
    "project} {last year|in <year>}.",
    "{Tracking|Early projections|Analysts} {suggest|point to|expect} {an opening|a debut|a start}"
    " {of|near|above} $<number> million.",
    "{The reshoots|The extra days|The new scenes} {will take place|are scheduled|are planned}"
    " in <city> {in|during|through} <month>.",
    "{Critics|Festival audiences|Early viewers} {called it|have described it as|praised it as}"
    " {a quiet triumph|an ambitious mess|a crowd-pleaser}.",
    "<studio> {declined to comment|did not respond|would not confirm} {on the budget|on the "
    "date|further}.",
    "The {cast|ensemble|lineup} {also includes|features|adds} <newname> and <newname2>.",
]

QUOTE_PARTS = [
    "we are not done with her",
    "the world is so much bigger this time",
    "there is a lot of Mars in it",
    "nobody wants a half-hearted version",
    "the fans earned this",
    "I still have the scars from the first one",
    "the technology has finally caught up",
    "it has to be worth the wait",
    "we kept the crew together",
    "the script surprised me",
    "it is darker and funnier",
    "Motorball is only the start",
    "we shot tests last spring",
    "the studio has been patient",
    "Jim reads every draft",
    "Robert has pages",
    "I have a lot of feelings about it",
    "there is no version without Rosa",
    "the designs are already on the wall",
    "it will look like nothing else",
    "we learned a lot from the first film",
    "the schedule is the only question",
    "the story is half told",
    "it is a family story",
]
FILLER = [
    "{Elsewhere|Meanwhile|In other news}, '<film>' {opened|debuted|arrived} {with|to}"
    " $<number> million {at home|overseas|in its first week}.",
    "<studio> {is also|has also been} {developing|shopping|financing} '<film>', {with|and}"
    " <newname2> {attached|in talks|on board}.",
    "{The|This} {news|report|update} {follows|comes after|arrives weeks after} {a|an}"
    " {interview|panel|profile} {in|with} <outlet> {last|earlier this} {month|spring|year}.",
    "<newname2>, {who|an analyst who} {covers|tracks|follows} {the studio|genre films|franchises}"
    " for <outlet>, {said|noted|argued} {the timing|the budget|the window} {made sense|was no"
    " surprise|was telling}.",
]

_CHOICE = re.compile(r"\{([^{}]*)\}")
_SLOT = re.compile(r"<(\w+)>")


@dataclass(frozen=True)
class Prose:
    """One article's words: headline, standfirst, paragraphs, section and author."""

    title: str
    dek: str
    paragraphs: tuple[str, ...]
    section: str
    author: str
    kind: str  # "sequel", "franchise" or "other"


def load_corpus(folder: Path = CORPUS) -> tuple[list[str], list[str]]:
    """Sentences of the evaluation articles: about the sequel, and free of the topic's terms."""
    sequel: list[str] = []
    other: list[str] = []
    for path in sorted(folder.glob("*/*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        if data.get("language", "en") != "en":
            continue
        text = data.get("text", "").replace("*", "")
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z\"])", text):
            sentence = " ".join(sentence.split())
            if len(sentence) < 40:
                continue
            if data.get("relevant"):
                sequel.append(sentence)
            elif not BROAD.search(sentence):
                other.append(sentence)
    return sequel, other


class Writer:
    """Writes articles from a fixed seed: the same seed gives the same words."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.sequel_corpus, self.other_corpus = load_corpus() if CORPUS.is_dir() else ([], [])

    def name(self) -> str:
        """An invented person's name."""
        return f"{self.rng.choice(FIRST.split())} {self.rng.choice(LAST.split())}"

    def film(self) -> str:
        """An invented film title, never one of the topic's terms."""
        return f"The {self.rng.choice(ADJECTIVES.split())} {self.rng.choice(NOUNS.split())}"

    def fill(self, template: str, slots: dict[str, str]) -> str:
        """Pick one alternative in each {a|b} and fill each <slot>."""
        text = _CHOICE.sub(lambda m: self.rng.choice(m.group(1).split("|")), template)
        return _SLOT.sub(lambda m: slots[m.group(1)], text)

    def quote(self, speaker: str) -> str:
        """An invented quote of a few parts, said by speaker."""
        parts = self.rng.sample(QUOTE_PARTS, k=3)
        verb = self.rng.choice(["said", "told the crowd", "added", "explained"])
        return f'"{parts[0].capitalize()}, {parts[1]}, and {parts[2]}," {speaker} {verb}.'

    def slots(self) -> dict[str, str]:
        """Fresh slot values for one article."""
        person, role = self.rng.choice(CAST)
        rng = self.rng
        return {
            "person": person,
            "role": role,
            "newname": self.name(),
            "newname2": self.name(),
            "newrole": rng.choice(NEW_ROLES),
            "sequel": rng.choice(SEQUEL),
            "sequel_t": rng.choice(["Alita: Battle Angel 2", "Alita 2"]),
            "place": rng.choice(PLACES),
            "city": rng.choice(CITIES),
            "month": rng.choice(MONTHS),
            "year": str(rng.choice([2028, 2029, 2030, 2031])),
            "number": str(rng.randint(12, 95)),
            "film": self.film(),
            "studio": rng.choice(STUDIOS),
            "outlet": rng.choice(["Deadline", "Variety", "Empire", "Collider", "IGN"]),
        }

    def article(self, kind: str) -> Prose:
        """One article of a kind: "sequel", "franchise" or "other"."""
        slots = self.slots()
        if kind == "sequel":
            section = self.rng.choice(list(SEQUEL_TITLES))
            titles, pool = SEQUEL_TITLES[section], SEQUEL_SENTENCES
        elif kind == "franchise":
            section, titles, pool = "home-video", FRANCHISE_TITLES, FRANCHISE_SENTENCES
        else:
            section, titles, pool = "film", OTHER_TITLES, OTHER_SENTENCES
        title = self.fill(self.rng.choice(titles), slots)
        title = title[0].upper() + title[1:]
        templates = self.rng.sample(pool, k=min(len(pool), self.rng.randint(2, 3)))
        templates += self.rng.sample(FILLER, k=1)
        sentences = [self.fill(t, slots) for t in templates]
        corpus = self.sequel_corpus if kind == "sequel" else self.other_corpus
        if corpus:
            sentences += self.rng.sample(corpus, k=min(len(corpus), self.rng.randint(8, 12)))
        if kind == "sequel":
            sentences.insert(self.rng.randint(1, 3), self.quote(slots["person"]))
            sentences.insert(self.rng.randint(4, 6), self.quote(slots["newname"]))
        self.rng.shuffle(sentences[1:])
        paragraphs = [" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2)]
        dek = paragraphs[0].split(". ")[0].rstrip(".") + "."
        return Prose(title, dek, tuple(paragraphs), section, self.name(), kind)


# --- the pages ----------------------------------------------------------------------------

OUTLETS = [  # slug, name, template
    ("trade", "The Trade Ledger", "jsonld-body"),
    ("screenfan", "ScreenFan Daily", "opengraph"),
    ("geek", "Geekwire Weekly", "jsonld-amp"),
    ("reel", "Reel Report", "jsonld-body"),
    ("frame", "Frame Rate", "opengraph"),
]
STYLE = (
    "body{font-family:Georgia,serif;margin:0;color:#222}header,footer{background:#111;"
    "color:#eee;padding:1em}main{display:flex;gap:2em;padding:1em}article{flex:3}aside{flex:1}"
)


@dataclass(frozen=True)
class Page:
    """One generated article page: where it lives and what the feed says of it."""

    url: str
    path: str
    outlet: str
    template: str
    prose: Prose
    published: datetime


@dataclass(frozen=True)
class Site:
    """A generated site on disk and the URLs that lead into it."""

    root: Path
    base_url: str
    articles: tuple[str, ...]
    feeds: tuple[str, ...]
    sitemap: str
    sequel_articles: int


def _slug(text: str) -> str:
    """A URL slug from a headline."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:70]


def _kinds(pages: int, sequel_share: float, others: Others) -> list[str]:
    """Each page's kind: sequel pages spread evenly, the rest franchise or other films."""
    other = "franchise" if others == "franchise" else "other"
    return [
        "sequel" if int((i + 1) * sequel_share) > int(i * sequel_share) else other
        for i in range(pages)
    ]


def _head_meta(page: Page, base: str) -> str:
    """The <head> metadata of one template: JSON-LD, OpenGraph or both."""
    p, e = page.prose, html.escape
    when = page.published.isoformat().replace("+00:00", "Z")
    meta = [f'<link rel="canonical" href="{page.url}">']
    if page.template != "jsonld-body":
        meta += [
            f'<meta name="author" content="{e(p.author)}">',
            '<meta property="og:type" content="article">',
            f'<meta property="og:title" content="{e(p.title)}">',
            f'<meta property="og:description" content="{e(p.dek)}">',
            f'<meta property="og:site_name" content="{e(page.outlet)}">',
            f'<meta property="og:url" content="{page.url}">',
            f'<meta property="article:published_time" content="{when}">',
        ]
    if page.template == "jsonld-amp":
        meta.append(f'<link rel="amphtml" href="{page.url.removesuffix(".html")}/amp/">')
    if page.template != "opengraph":
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "mainEntityOfPage": {"@type": "WebPage", "@id": page.url},
            "headline": p.title,
            "description": p.dek,
            "datePublished": when,
            "author": [{"@type": "Person", "name": p.author}],
            "publisher": {"@type": "Organization", "name": page.outlet},
            "inLanguage": "en",
            "articleSection": p.section,
        }
        if page.template == "jsonld-body":
            ld["articleBody"] = "\n\n".join(p.paragraphs)
        script = json.dumps(ld, indent=2, ensure_ascii=False).replace("</", "<\\/")
        meta.append(f'<script type="application/ld+json">\n{script}\n</script>')
    return "\n".join(meta)


def render_page(page: Page, related: list[Page], base: str) -> str:
    """The article page in its outlet's template, with the site's chrome around it."""
    p, e = page.prose, html.escape
    body = "\n".join(f"<p>{e(para)}</p>" for para in p.paragraphs)
    trending = "".join(f'<li><a href="{r.path}">{e(r.prose.title)}</a></li>' for r in related)
    day = page.published.strftime("%B %d, %Y")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(p.title)} | {e(page.outlet)}</title>
<meta name="description" content="{e(p.dek)}">
{_head_meta(page, base)}
<style>{STYLE}</style>
</head>
<body class="article-page">
<header class="site-header"><a class="logo" href="/">{e(page.outlet)}</a>
<nav class="main-menu"><ul><li><a href="/film/">Film</a></li><li><a href="/tv/">TV</a></li>
<li><a href="/box-office/">Box Office</a></li>
<li><a href="/newsletter/">Newsletter</a></li></ul></nav>
</header>
<main id="content">
<article class="post">
<h1 class="headline">{e(p.title)}</h1>
<p class="dek">{e(p.dek)}</p>
<p class="byline">By <a rel="author" href="/authors/{_slug(p.author)}/">{e(p.author)}</a>
&middot; Published <time datetime="{page.published.isoformat()}">{day}</time></p>
<div class="article-body">
{body}
</div>
<div class="share"><span>Share this story</span> <a href="#">X</a> <a href="#">Email</a></div>
</article>
<aside class="sidebar"><section class="trending-now"><h3>Trending now</h3><ol>{trending}</ol>
</section><section class="newsletter-signup"><h3>Get the newsletter</h3>
<p>The week's film news in your inbox every Friday.</p></section></aside>
</main>
<footer class="site-footer"><a href="/about/">About</a> <a href="/privacy/">Privacy</a>
<p>&copy; 2026 {e(page.outlet)}</p></footer>
</body>
</html>
"""


def render_amp(page: Page) -> str:
    """The AMP twin of a page: the same article, canonical pointing at the original."""
    p, e = page.prose, html.escape
    body = "\n".join(f"<p>{e(para)}</p>" for para in p.paragraphs)
    return f"""<!doctype html>
<html amp lang="en">
<head>
<meta charset="utf-8">
<title>{e(p.title)} | {e(page.outlet)}</title>
<link rel="canonical" href="{page.url}">
<meta name="author" content="{e(p.author)}">
<style amp-boilerplate>body{{visibility:hidden}}</style>
</head>
<body>
<article><h1>{e(p.title)}</h1><p class="dek">{e(p.dek)}</p>
{body}
</article>
</body>
</html>
"""


def render_feed(base: str, number: int, pages: list[Page]) -> str:
    """An RSS 2.0 feed listing pages, newest first; some links carry tracking parameters."""
    e = html.escape
    items = []
    for i, page in enumerate(pages):
        link = page.url + ("?utm_source=rss&utm_medium=feed" if i % 3 == 0 else "")
        items.append(
            f"<item><title>{e(page.prose.title)}</title><link>{e(link)}</link>"
            f'<guid isPermaLink="false">bench-{_slug(page.path)}</guid>'
            f"<dc:creator>{e(page.prose.author)}</dc:creator>"
            f"<pubDate>{formatdate(page.published.timestamp(), usegmt=True)}</pubDate>"
            f"<category>{e(page.prose.section)}</category>"
            f"<description>{e(page.prose.dek)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Bench News {number}</title><link>{base}/</link>"
        f"<description>Film news, page {number}</description><language>en-us</language>\n"
        + "\n".join(items)
        + "\n</channel></rss>\n"
    )


def render_news_sitemap(pages: list[Page]) -> str:
    """A Google News sitemap of the pages."""
    e = html.escape
    urls = [
        f"<url><loc>{e(p.url)}</loc><news:news><news:publication><news:name>{e(p.outlet)}"
        "</news:name><news:language>en</news:language></news:publication>"
        f"<news:publication_date>{p.published.isoformat()}</news:publication_date>"
        f"<news:title>{e(p.prose.title)}</news:title></news:news></url>"
        for p in pages
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset'
        ' xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
        + "\n".join(urls)
        + "\n</urlset>\n"
    )


def plan_pages(base: str, pages: int, sequel_share: float, others: Others, seed: int) -> list[Page]:
    """Every article page's place, outlet, words and date, newest first."""
    writer = Writer(seed)
    planned = []
    for i, kind in enumerate(_kinds(pages, sequel_share, others)):
        slug, outlet, template = OUTLETS[i % len(OUTLETS)]
        prose = writer.article(kind)
        published = NEWEST - timedelta(minutes=37 * i)
        path = f"/{slug}/{published:%Y/%m}/{_slug(prose.title)}-{i:05d}.html"
        planned.append(Page(base + path, path, outlet, template, prose, published))
    return planned


def _write(root: Path, path: str, text: str) -> None:
    """Write one file under root at a URL path."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def build_site(
    root: Path,
    base_url: str,
    pages: int = 2000,
    *,
    sequel_share: float = 1.0,
    others: Others = "franchise",
    per_feed: int = 100,
    seed: int = SEED,
) -> Site:
    """Write the site under root for base_url: pages, AMP twins, feeds, sitemap, robots.txt."""
    planned = plan_pages(base_url, pages, sequel_share, others, seed)
    for i, page in enumerate(planned):
        related = [planned[(i + k) % len(planned)] for k in (1, 7, 13)]
        _write(root, page.path, render_page(page, related, base_url))
        if page.template == "jsonld-amp":
            _write(root, page.path.removesuffix(".html") + "/amp/index.html", render_amp(page))
    feeds = []
    for number, start in enumerate(range(0, len(planned), per_feed), 1):
        path = f"/feeds/news-{number:03d}.rss"
        _write(root, path, render_feed(base_url, number, planned[start : start + per_feed]))
        feeds.append(base_url + path)
    _write(root, "/sitemaps/news.xml", render_news_sitemap(planned[:1000]))
    _write(
        root,
        "/robots.txt",
        f"User-agent: *\nDisallow: /private/\n\nSitemap: {base_url}/sitemaps/news.xml\n",
    )
    _write(root, "/index.html", "<!doctype html><title>Bench News</title><h1>Bench News</h1>\n")
    for folder, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(folder, name), (FILE_TIME, FILE_TIME))
    return Site(
        root=root,
        base_url=base_url,
        articles=tuple(p.url for p in planned),
        feeds=tuple(feeds),
        sitemap=base_url + "/sitemaps/news.xml",
        sequel_articles=sum(p.prose.kind == "sequel" for p in planned),
    )


# --- serving ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Traffic:
    """What a server has sent so far: responses and bytes (headers included)."""

    requests: int
    bytes: int

    def __sub__(self, other: Traffic) -> Traffic:
        """The traffic between two readings."""
        return Traffic(self.requests - other.requests, self.bytes - other.bytes)


@dataclass
class ServedSite:
    """A site being served: its URLs, which server, and its traffic counter."""

    site: Site
    server: str  # "nginx" or "python"
    _counter: _Counter | None = None
    _access_log: Path | None = None

    @property
    def base_url(self) -> str:
        """Where the site is served."""
        return self.site.base_url

    def traffic(self) -> Traffic:
        """Requests answered and bytes sent since the server started."""
        if self._counter is not None:
            return self._counter.read()
        assert self._access_log is not None
        return _read_access_log(self._access_log)


@dataclass
class _Counter:
    """The fallback server's tally, shared by its threads."""

    requests: int = 0
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, requests: int, sent: int) -> None:
        """Count a response or more bytes of one."""
        with self.lock:
            self.requests += requests
            self.bytes += sent

    def read(self) -> Traffic:
        """The tally now."""
        with self.lock:
            return Traffic(self.requests, self.bytes)


def _read_access_log(path: Path) -> Traffic:
    """Sum nginx's access log (one "$status $bytes_sent" line per response)."""
    previous = None
    for _ in range(20):  # nginx logs a response just after sending it: wait until it settles
        lines = path.read_text(encoding="ascii").splitlines() if path.exists() else []
        now = Traffic(len(lines), sum(int(line.split()[1]) for line in lines))
        if now == previous:
            return now
        previous = now
        time.sleep(0.05)
    assert previous is not None
    return previous


def _free_port(wanted: int = 0) -> int:
    """A port that is free on 127.0.0.1 now (nginx cannot listen on port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", wanted))
        return int(sock.getsockname()[1])


def port_80_or_free() -> int:
    """Port 80 when this process may bind it (trafilatura refuses URLs like 127.0.0.1:8080)."""
    try:
        return _free_port(80)
    except OSError:
        return _free_port()


NGINX_CONF = """daemon off;
worker_processes 1;
{user}pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ text/html html; application/rss+xml rss; application/xml xml; text/plain txt; }}
    default_type application/octet-stream;
    log_format bench '$status $bytes_sent $request_uri';
    access_log {prefix}/access.log bench;
    client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi; uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    sendfile on; keepalive_requests 100000; server_tokens off;
    server {{ listen 127.0.0.1:{port}; root {root}; index index.html; etag on; }}
}}
"""


@contextlib.contextmanager
def _nginx(nginx: str, root: Path, prefix: Path, port: int) -> Iterator[Path]:
    """Run nginx in the foreground on root at 127.0.0.1:port; yield its access log."""
    prefix.mkdir(parents=True, exist_ok=True)
    # As root, nginx's workers would run as "nobody", who cannot read a private temp folder.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, prefix=prefix, port=port, root=root))
    process = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_listening(port, process)
        yield prefix / "access.log"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until the server accepts connections; raise if it exits first."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"nginx exited with {process.returncode}: {error.strip()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on 127.0.0.1:{port} within 10 s")


class _Handler(BaseHTTPRequestHandler):
    """Static files with ETag and Last-Modified, 304s, keep-alive, and a byte count."""

    protocol_version = "HTTP/1.1"
    server_version = "bench"
    root: Path
    counter: _Counter

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep stderr quiet."""

    def flush_headers(self) -> None:
        """Count the header bytes as they go out."""
        self.counter.add(0, sum(len(chunk) for chunk in getattr(self, "_headers_buffer", [])))
        super().flush_headers()

    def do_GET(self) -> None:
        """Answer a GET from the site folder."""
        path = unquote(urlsplit(self.path).path)
        target = (self.root / path.lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(self.root) or not target.is_file():
            self._answer(404, b"<h1>Not Found</h1>", {"Content-Type": "text/html"})
            return
        stat = target.stat()
        etag = f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'  # nginx's shape
        modified = formatdate(stat.st_mtime, usegmt=True)
        headers = {"ETag": etag, "Last-Modified": modified}
        if self.headers.get("If-None-Match") == etag or (
            "If-None-Match" not in self.headers
            and self.headers.get("If-Modified-Since") == modified
        ):
            self._answer(304, b"", headers)
            return
        types = {".html": "text/html", ".rss": "application/rss+xml", ".xml": "application/xml"}
        headers["Content-Type"] = types.get(target.suffix, "text/plain")
        self._answer(200, target.read_bytes(), headers)

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Send one complete response and count it."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        # counted before it goes out: a client that has its answer finds it counted
        self.counter.add(1, len(body) if status != 304 else 0)
        self.end_headers()
        if body and status != 304:
            self.wfile.write(body)


def _base_url(port: int) -> str:
    """The site's base URL on a loopback port."""
    return "http://127.0.0.1" if port == 80 else f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def serve_site(
    pages: int = 2000,
    folder: Path | None = None,
    *,
    sequel_share: float = 1.0,
    others: Others = "franchise",
    per_feed: int = 100,
    server: Literal["auto", "nginx", "python"] = "auto",
    port: int = 0,
) -> Iterator[ServedSite]:
    """Build the site in folder (a temp one by default) and serve it on 127.0.0.1:port."""
    with contextlib.ExitStack() as stack:
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-site-")))
        nginx = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
        root = folder / "site"
        if root.exists():
            shutil.rmtree(root)
        if server != "python" and nginx:
            port = port or _free_port()
            site = build_site(
                root, _base_url(port), pages,
                sequel_share=sequel_share, others=others, per_feed=per_feed,
            )  # fmt: skip
            log = stack.enter_context(_nginx(nginx, root.resolve(), folder / "nginx", port))
            yield ServedSite(site, "nginx", _access_log=log)
            return
        if server == "nginx":
            raise RuntimeError("nginx is not installed (apt-get install -y nginx-light)")
        counter = _Counter()
        handler = type("Handler", (_Handler,), {"root": root.resolve(), "counter": counter})
        httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        httpd.daemon_threads = True
        stack.callback(httpd.server_close)
        site = build_site(
            root, _base_url(httpd.server_port), pages,
            sequel_share=sequel_share, others=others, per_feed=per_feed,
        )  # fmt: skip
        handler.root = root.resolve()
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        stack.callback(httpd.shutdown)
        yield ServedSite(site, "python", _counter=counter)


def main() -> None:
    """Serve the site until interrupted and print where."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--server", choices=["auto", "nginx", "python"], default="auto")
    parser.add_argument("--folder", type=Path, default=None, help="keep the site here")
    args = parser.parse_args()
    # A SIGTERM unwinds the context manager too, so that nginx does not outlive us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with serve_site(args.pages, args.folder, server=args.server) as served:
        print(f"{served.server} serving {len(served.site.articles)} pages at {served.base_url}")
        print(f"feeds: {served.site.feeds[0]} ... ({len(served.site.feeds)})")
        print(f"news sitemap: {served.site.sitemap}")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
