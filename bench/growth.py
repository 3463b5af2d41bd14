"""Growth: the cost of ingesting 1,000 new articles into a store of 1,000, 10,000, 100,000.

`python bench/growth.py --sizes 1000 10000 100000 --runs 3`

The stores already there are synthetic but honest: news events of the topic (cast, release,
plot, production), each reported by one to five outlets in their own words within a day or
two, one article in ten a syndicated copy of another, one in eight about something else
(the 2019 film's box office, a review, a 4K release) and dropped by relevance, at a steady
rate (ARTICLES_PER_DAY) so that a store of 100,000 is a store that has run for years and
the story window sees as many articles at every size. They are filled through the same
stages as a crawl, less HTML extraction (`Store.save_article`, then `understand`), and
cached under bench/.cache/. Each timed run copies the cached store and ingests the same
1,000 new pages, dated after it, through the real `Ingestor.ingest` in a child process,
which reports its wall time and its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
GENERATOR_VERSION = 2  # bump when the synthetic world changes: cached stores are rebuilt
ARTICLES_PER_DAY = 40  # about what a busy week of sequel news brings, every day
STORE_END = datetime(2026, 1, 1, tzinfo=UTC)  # the stores' newest article; new ones follow

OUTLETS = [
    "The Trade Ledger",
    "ScreenFan",
    "Reel Dispatch",
    "Studio Desk",
    "Pulse Hub",
    "Frame Rate Daily",
    "Cinema Wire",
    "The Projection Booth",
    "Box Seat",
    "Marquee Report",
    "Film Frontier",
    "Set Visit",
    "The Cutting Room",
    "Lens & Light",
    "Premiere Post",
    "Silver Screen Times",
    "The Final Reel",
    "Genre Beat",
    "Popcorn Press",
    "Sci-Fi Signal",
    "Cyber Cinema",
    "The Callsheet",
    "Movie Mill",
    "Trailer Park News",
    "Red Carpet Review",
    "Scene Stealer",
    "Backlot Bulletin",
    "Widescreen Weekly",
    "Anime Angle",
    "Manga Matters",
    "Fandom Post",
    "The Big Picture",
    "Credits Roll",
    "Opening Night",
    "Fade In",
    "Storyboard",
    "Cinephile Circle",
    "The Screening Room",
    "Celluloid City",
    "Next Frame",
]
CAST = [
    ("Rosa Salazar", "Alita"),
    ("Christoph Waltz", "Dyson Ido"),
    ("Jennifer Connelly", "Chiren"),
    ("Mahershala Ali", "Vector"),
    ("Keean Johnson", "Hugo"),
    ("Ed Skrein", "Zapan"),
    ("Eiza González", "Nyssiana"),
    ("Lana Condor", "Koyomi"),
    ("Jackie Earle Haley", "Grewishka"),
    ("Edward Norton", "Nova"),
]
NEWCOMERS = [
    "Maya Torres",
    "Daniel Okafor",
    "Lena Fischer",
    "Kenji Watanabe",
    "Sofia Marin",
    "Idris Campbell",
    "Hana Kobayashi",
    "Lucas Moreau",
    "Amara Nwosu",
    "Theo Lindqvist",
]
NEW_ROLES = ["Figure Four", "Jashugan", "Sechs", "Den", "Lou", "Kaos", "Desty Nova's aide"]
CITIES = ["Austin", "Wellington", "Atlanta", "Toronto", "Budapest", "Vancouver", "Sydney"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
PLACES = ["Zalem", "Iron City", "Mars", "the Motorball arena", "the Scrapyard", "the URM"]
EVENTS = ["a fan convention", "a press junket", "a podcast interview", "a festival panel"]

LEADS = {
    "cast": [
        "{person} will return as {role} in Alita: Battle Angel 2, {who} said on {day}.",
        "{person} is set to reprise the role of {role} in the Alita sequel.",
        "Alita: Battle Angel 2 star {person} confirmed at {event} that {she} will return as"
        " {role}.",
        "{newcomer} has joined the cast of Alita: Battle Angel 2 as {newrole}.",
        "The Alita sequel has cast {newcomer} as {newrole}, according to {who}.",
    ],
    "release": [
        "Alita: Battle Angel 2 will not reach theaters before {year}, {who} told exhibitors"
        " on {day}.",
        "The Alita sequel is now dated for {month} {year}, {who} said.",
        "Alita: Battle Angel 2 has been pushed to {year} after the schedule slipped.",
        "20th Century Studios set Alita: Battle Angel 2 for release in {month} {year}.",
    ],
    "production": [
        "Filming on Alita: Battle Angel 2 will begin in {city} in {month} {year}, {who} said.",
        "Robert Rodriguez said the script for the Alita sequel is finished and that"
        " pre-production has started in {city}.",
        "Production on Alita: Battle Angel 2 is expected to start after Avatar 5 wraps.",
        "Cameras are rolling on Alita: Battle Angel 2 in {city}, {who} confirmed on {day}.",
    ],
    "plot": [
        "The Alita sequel will take Alita to {place}, Robert Rodriguez said at {event}.",
        "Alita: Battle Angel 2 will follow Alita as she climbs to {place} to confront Nova.",
        "Yukito Kishiro said the second film will adapt the Motorball arc and end on {place}.",
    ],
}
SUPPORT = [
    "{person} told the crowd that the team meets every month to keep the film moving.",
    "Robert Rodriguez is still attached to direct, and the studio has not set a budget.",
    '"{quote}," {person} said.',
    "{person} kept up the stunt training the first film demanded, {she} said at {event}.",
    "A writers' room met in {city} over the summer, according to {who}.",
]
# Background sentences are put together from these, so that two unrelated articles share
# about as many word pairs as two real ones on one film do.
NOUNS = [
    "studio",
    "schedule",
    "budget",
    "script",
    "draft",
    "trailer",
    "poster",
    "teaser",
    "campaign",
    "release",
    "slate",
    "franchise",
    "universe",
    "story",
    "chapter",
    "arc",
    "character",
    "villain",
    "cyborg",
    "heroine",
    "sequence",
    "stunt",
    "camera",
    "stage",
    "volume",
    "set",
    "location",
    "crew",
    "team",
    "producer",
    "director",
    "writer",
    "editor",
    "composer",
    "score",
    "soundtrack",
    "effect",
    "artist",
    "designer",
    "animator",
    "costume",
    "prop",
    "model",
    "rig",
    "capture",
    "rehearsal",
    "audience",
    "fan",
    "community",
    "forum",
    "petition",
    "billboard",
    "hashtag",
    "interview",
    "podcast",
    "panel",
    "convention",
    "festival",
    "premiere",
    "screening",
    "market",
    "exhibitor",
    "theater",
    "screen",
    "format",
    "studio",
    "executive",
    "agent",
    "deal",
    "contract",
    "option",
    "rights",
    "manga",
    "volume",
    "author",
    "publisher",
    "translation",
    "adaptation",
    "remake",
    "reboot",
    "spinoff",
    "series",
    "pilot",
    "episode",
    "network",
    "streamer",
    "platform",
    "window",
    "calendar",
    "quarter",
    "season",
    "summer",
    "winter",
    "holiday",
    "weekend",
    "morning",
    "evening",
    "update",
    "rumor",
    "report",
    "source",
    "statement",
    "memo",
    "meeting",
    "call",
    "plan",
    "timeline",
    "milestone",
    "delay",
    "gap",
]
ADJECTIVES = [
    "new",
    "early",
    "late",
    "long",
    "short",
    "quiet",
    "busy",
    "careful",
    "ambitious",
    "bigger",
    "darker",
    "lighter",
    "familiar",
    "fresh",
    "formal",
    "informal",
    "private",
    "public",
    "recent",
    "final",
    "first",
    "second",
    "third",
    "key",
    "major",
    "minor",
    "original",
    "revised",
    "detailed",
    "rough",
    "polished",
    "public",
    "local",
    "foreign",
    "digital",
    "practical",
    "technical",
    "creative",
    "financial",
    "legal",
    "tight",
    "loose",
    "steady",
    "patient",
    "eager",
    "cautious",
    "bold",
    "modest",
    "vast",
    "crowded",
    "empty",
    "huge",
    "small",
    "costly",
    "cheaper",
    "faster",
    "slower",
    "brighter",
    "sharper",
    "younger",
    "older",
    "loyal",
    "vocal",
    "restless",
    "hopeful",
    "skeptical",
    "curious",
    "quiet",
    "upbeat",
    "sober",
]
VERBS = [
    "discussed",
    "reviewed",
    "delayed",
    "approved",
    "shared",
    "described",
    "mentioned",
    "teased",
    "confirmed",
    "denied",
    "questioned",
    "praised",
    "criticized",
    "planned",
    "reworked",
    "expanded",
    "trimmed",
    "rebuilt",
    "tested",
    "shot",
    "previewed",
    "announced",
    "hinted",
    "weighed",
    "signed",
    "renewed",
    "extended",
    "paused",
    "restarted",
    "outlined",
    "sketched",
    "scouted",
    "booked",
    "hired",
    "cast",
    "pitched",
    "financed",
    "budgeted",
    "storyboarded",
    "rehearsed",
    "scored",
    "edited",
    "screened",
    "promoted",
    "marketed",
    "licensed",
    "translated",
    "adapted",
    "defended",
    "explained",
]
ADVERBS = [
    "quietly",
    "openly",
    "briefly",
    "recently",
    "finally",
    "already",
    "carefully",
    "reportedly",
    "publicly",
    "privately",
    "repeatedly",
    "eagerly",
    "slowly",
    "quickly",
    "loosely",
    "firmly",
]
PLACES_FAR = [
    "Austin",
    "Wellington",
    "Atlanta",
    "Toronto",
    "Budapest",
    "Vancouver",
    "Sydney",
    "London",
    "Tokyo",
    "Seoul",
    "Madrid",
    "Berlin",
    "Paris",
    "Rome",
    "Mexico City",
    "Sao Paulo",
    "Jakarta",
    "Mumbai",
    "Dublin",
    "Prague",
]
PATTERNS = (
    "The {a} {n} was {v} {r} by the {n2}, {who} said.",
    "{person} {v} the {a} {n} with the {n2} in {far} on {day}.",
    "According to {who}, the {n} {v} the {a} {n2} {r}.",
    "Several {a} {n}s in {far} {v} the {n2} after the {a2} {n3}.",
    "The {n} and the {a} {n2} were {r} {v} during the {n3} in {far}.",
    "{who_cap} {v} one {a} {n} for the {n2}, and the {n3} {v2} it {r}.",
    "Earlier this {n3}, the {a} {n} {v} {r}, while the {n2} stayed {a2}.",
    "One {a} {n} from {far} {v} the {n2} and {v2} the {a2} {n3}.",
)


def _background(rng: random.Random, values: dict[str, str]) -> str:
    """A background sentence from the grammar above."""
    n, n2, n3 = rng.sample(NOUNS, 3)
    a, a2 = rng.sample(ADJECTIVES, 2)
    v, v2 = rng.sample(VERBS, 2)
    who = values["who"]
    words = {
        "n": n,
        "n2": n2,
        "n3": n3,
        "a": a,
        "a2": a2,
        "v": v,
        "v2": v2,
        "r": rng.choice(ADVERBS),
        "far": rng.choice(PLACES_FAR),
        "who_cap": who[:1].upper() + who[1:],
    }
    return rng.choice(PATTERNS).format(**{**values, **words})


QUOTES = [
    "I never really left Iron City",
    "We are closer than we have ever been",
    "The script is the best thing I have read in years",
    "Alita's story is unfinished business",
    "We want to do it right rather than do it fast",
    "Nova is the villain we have been saving",
]
OFF_TOPIC = [
    (
        "Alita: Battle Angel's box office, five years on",
        "Alita: Battle Angel grossed $404 million worldwide in 2019 and its opening weekend"
        " disappointed the studio. Box office analysts called it an underperformer in the"
        " United States while it did well in China. The film's budget was reported at"
        " $170 million. Critics were divided and the Rotten Tomatoes score stayed middling."
        " {outlet} looked back at how the numbers were read at the time, and at what the"
        " grosses meant for the studio's later science fiction films. Analysts in {city}"
        " pointed to the crowded release calendar of that February.",
    ),
    (
        "Alita: Battle Angel review: a cyborg spectacle",
        "Our review of Alita: Battle Angel: the film follows a cyborg girl in Iron City and"
        " the verdict is a solid 3/5. Critics praised the Motorball scenes and the visual"
        " effects, while reviewers found the script overstuffed. Rosa Salazar's performance"
        " capture earns four stars out of five. The film tells a familiar story with real"
        " craft, and it is worth seeing on the biggest screen in {city}, {outlet} wrote.",
    ),
    (
        "Alita: Battle Angel arrives on Disney+ in 4K",
        "Alita: Battle Angel is now streaming on Disney+ in 4K Ultra HD, with a new Blu-ray"
        " steelbook to follow. The home release includes behind-the-scenes footage from"
        " {city}. The 2019 film's re-release on the service follows its earlier run on other"
        " platforms, {outlet} reported, and the 4K transfer was supervised by the original"
        " effects team.",
    ),
]
BODY = """<html lang="en"><head><title>{title}</title>
<meta property="og:site_name" content="{outlet}">
<meta property="article:published_time" content="{published}"></head><body><article>
<h1>{title}</h1>{paragraphs}</article></body></html>"""


@dataclass(frozen=True, slots=True)
class Synthetic:
    """One synthetic article: where it is, who wrote it, when, and what it says."""

    url: str
    title: str
    outlet: str
    text: str
    published: datetime
    seen: datetime


def _values(rng: random.Random, slots: dict[str, str]) -> dict[str, str]:
    """Values for a template's slots: the event's own first, random ones for the rest."""
    person, role = rng.choice(CAST)
    return {
        "person": person,
        "role": role,
        "she": rng.choice(["she", "he"]),
        "newcomer": rng.choice(NEWCOMERS),
        "newrole": rng.choice(NEW_ROLES),
        "year": str(rng.choice([2029, 2030, 2031, 2032])),
        "month": rng.choice(MONTHS),
        "city": rng.choice(CITIES),
        "place": rng.choice(PLACES),
        "event": rng.choice(EVENTS),
        "who": rng.choice(["a studio executive", "two people close to the film", "the star"]),
        "day": rng.choice(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]),
        "quote": rng.choice(QUOTES),
        "outlet": rng.choice(OUTLETS),
        **slots,
    }


def _fill(rng: random.Random, template: str, slots: dict[str, str]) -> str:
    """A template with its slots filled."""
    return template.format(**_values(rng, slots))


def _rewrite(rng: random.Random, lead: str, slots: dict[str, str]) -> str:
    """One outlet's article about an event: the news first, then its own background."""
    sentences = [_fill(rng, s, slots) for s in rng.sample(SUPPORT, rng.randint(1, 2))]
    sentences += [_background(rng, _values(rng, slots)) for _ in range(rng.randint(7, 11))]
    rng.shuffle(sentences)
    sentences.insert(0, lead)
    paragraphs, step = [], rng.randint(2, 3)
    for start in range(0, len(sentences), step):
        paragraphs.append(" ".join(sentences[start : start + step]))
    return "\n\n".join(paragraphs)


def _copy(rng: random.Random, original: Synthetic, serial: int) -> Synthetic:
    """A syndicated copy: the same text under another outlet, a word or two changed."""
    outlet = rng.choice(OUTLETS)
    words = original.text.split(" ")
    for _ in range(2):
        words[rng.randrange(len(words))] = rng.choice(["reportedly", "now", "also"])
    text = f"Originally published by {original.outlet}.\n\n" + " ".join(words)
    later = original.seen + timedelta(hours=rng.uniform(1, 30))
    return Synthetic(
        _url(outlet, original.title, serial), original.title, outlet, text, later, later
    )


def _url(outlet: str, title: str, serial: int) -> str:
    """A stable article URL on the outlet's site."""
    host = "".join(ch for ch in outlet.lower() if ch.isalnum())
    slug = "-".join("".join(ch for ch in w if ch.isalnum()) for w in title.lower().split()[:6])
    return f"https://www.{host}.example/news/{slug}-{serial}"


def articles(count: int, end: datetime, seed: int) -> Iterator[Synthetic]:
    """`count` synthetic articles, oldest first, the last one seen just before `end`."""
    rng = random.Random(seed)
    start = end - timedelta(days=count / ARTICLES_PER_DAY)
    step = timedelta(days=1 / ARTICLES_PER_DAY)
    made, clock, recent = 0, start, []
    while made < count:
        if rng.random() < 0.12:
            title, template = rng.choice(OFF_TOPIC)
            outlet = rng.choice(OUTLETS)
            text = (
                _fill(rng, template, {"outlet": outlet})
                + "\n\n"
                + " ".join(_background(rng, _values(rng, {})) for _ in range(4))
            )
            batch = [Synthetic(_url(outlet, title, made), title, outlet, text, clock, clock)]
        else:
            batch = _event(rng, clock, made)
        before = made
        for item in batch:
            if made >= count:
                return
            # one in a hundred is a re-post of old news, seen long after it was published
            if rng.random() < 0.01:
                item = Synthetic(
                    item.url,
                    item.title,
                    item.outlet,
                    item.text,
                    item.published - timedelta(days=rng.randint(60, 400)),
                    item.seen,
                )
            yield item
            made += 1
            recent.append(item)
            if rng.random() < 0.1 and made < count:
                yield _copy(rng, rng.choice(recent[-50:]), made)
                made += 1
        recent = recent[-50:]
        clock += step * (made - before)  # copies take their share of time too


def _event(rng: random.Random, clock: datetime, serial: int) -> list[Synthetic]:
    """One piece of news, reported by one to five outlets within two days."""
    category = rng.choices(list(LEADS), weights=[3, 3, 3, 1])[0]
    person, role = rng.choice(CAST)
    slots = {
        "person": person,
        "role": role,
        "newcomer": rng.choice(NEWCOMERS),
        "newrole": rng.choice(NEW_ROLES),
        "year": str(rng.choice([2029, 2030, 2031, 2032])),
        "month": rng.choice(MONTHS),
        "city": rng.choice(CITIES),
        "place": rng.choice(PLACES),
        "event": rng.choice(EVENTS),
        "quote": rng.choice(QUOTES),
    }
    lead = _fill(rng, rng.choice(LEADS[category]), slots)
    out = []
    for number, outlet in enumerate(rng.sample(OUTLETS, rng.choice([1, 1, 2, 2, 3, 4, 5]))):
        title = lead.split(",")[0].rstrip(".")[:90]
        if number:  # a rewrite: another headline, its own background
            title = f"{outlet.split()[-1]}: {title}"
        published = clock + timedelta(hours=rng.uniform(0, 40))
        seen = published + timedelta(minutes=rng.uniform(20, 300))
        text = _rewrite(rng, lead, slots)
        out.append(
            Synthetic(_url(outlet, title, serial + number), title, outlet, text, published, seen)
        )
    return sorted(out, key=lambda a: a.seen)


def html(item: Synthetic) -> str:
    """The article as a publisher's page."""
    paragraphs = "".join(f"<p>{p}</p>" for p in item.text.split("\n\n"))
    return BODY.format(
        title=item.title,
        outlet=item.outlet,
        published=item.published.isoformat(),
        paragraphs=paragraphs,
    )


# -- building the stores that are already there ----------------------------------------


def _settings() -> Any:
    """The project's settings (topic and story settings), loaded once at the edge."""
    import config

    return config.load(ROOT / "config" / "sequelwatch.toml")


def fill_store(path: Path, count: int, seed: int) -> float:
    """Fill a new store with `count` articles (save_article + understand); return seconds."""
    from pipeline.records import Article
    from pipeline.relevance import judge
    from pipeline.store import Store
    from pipeline.understand import Subject, understand

    settings = _settings()
    topic, stories = settings.topic, settings.stories
    store = Store(path)
    started = time.perf_counter()
    try:
        for item in articles(count, STORE_END, seed):
            relevance = judge(topic, item.title, item.text, "")
            article = Article(
                url=item.url,
                urls=(item.url,),
                title=item.title,
                outlet=item.outlet,
                authors=(),
                published=item.published,
                language="en",
                description=None,
                text=item.text,
                source="bench",
                fetched_at=item.seen,
                relevance=relevance,
            )
            with store.transaction():
                saved = store.save_article(article)
                if saved.new and relevance.kept:
                    understand(
                        store,
                        topic,
                        stories,
                        Subject(
                            saved.id,
                            item.title,
                            item.text,
                            "",
                            item.outlet,
                            item.published,
                            item.seen,
                        ),
                    )
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    return time.perf_counter() - started


def cached_store(count: int, cache: Path = CACHE) -> Path:
    """The cached store of `count` articles, built on first use.

    A store cached before the latest migrations is upgraded, as a user's store is when a
    new version opens it, rather than built again (the 100,000 take about an hour).
    """
    from pipeline.store import MIGRATIONS, Store

    cache.mkdir(parents=True, exist_ok=True)
    ignore = cache / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    path = cache / f"growth-{count}-g{GENERATOR_VERSION}-m{len(MIGRATIONS)}.db"
    if path.exists():
        return path
    building = path.with_suffix(".building")
    for leftover in building.parent.glob(building.name + "*"):
        leftover.unlink()
    older = _older_cache(cache, count, len(MIGRATIONS))
    if older is not None:
        shutil.copyfile(older, building)
        started = time.perf_counter()
        store = Store(building)  # opening a store runs its pending migrations
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        seconds = time.perf_counter() - started
        print(f"upgraded {older.name} in {seconds:.0f} s: {path}", file=sys.stderr)
    else:
        seconds = fill_store(building, count, seed=count)
        print(f"built a store of {count} articles in {seconds:.0f} s: {path}", file=sys.stderr)
    os.replace(building, path)
    return path


def _older_cache(cache: Path, count: int, migrations: int) -> Path | None:
    """The newest cached store of `count` articles from this generator and fewer migrations."""
    found = []
    for candidate in cache.glob(f"growth-{count}-g{GENERATOR_VERSION}-m*.db"):
        done = candidate.stem.rsplit("-m", 1)[1]
        if done.isdigit() and int(done) < migrations:
            found.append((int(done), candidate))
    return max(found)[1] if found else None


def store_summary(path: Path) -> dict[str, int]:
    """How many articles, kept ones, copies and stories a store holds."""
    queries = {
        "articles": "SELECT count(*) FROM articles",
        "kept": "SELECT count(*) FROM articles WHERE relevant = 1",
        "copies": "SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL",
        "stories": "SELECT count(*) FROM stories",
        "facts": "SELECT count(*) FROM facts",
    }
    conn = sqlite3.connect(path)
    try:
        return {name: int(conn.execute(sql).fetchone()[0]) for name, sql in queries.items()}
    finally:
        conn.close()


# -- one timed ingest, in a child process --------------------------------------------


def ingest_child(database: Path, batch: int) -> dict[str, float]:
    """Ingest `batch` new pages into the store through Ingestor.ingest; time and peak RSS."""
    import crawler.pipelines  # noqa: F401  (the crawl process has Scrapy loaded too)
    from bench.memory import peak_rss_mb
    from pipeline.ingest import Ingestor
    from pipeline.records import EntryHint, Page
    from pipeline.store import Store

    settings = _settings()
    pages = [
        Page(url=a.url, source="bench", fetched_at=a.seen, html=html(a), hint=EntryHint())
        for a in articles(batch, STORE_END + timedelta(days=batch / ARTICLES_PER_DAY), seed=7)
    ]
    store = Store(database)
    ingestor = Ingestor(store, settings.topic, settings.stories)
    before = peak_rss_mb()
    started = time.perf_counter()
    kept = sum(ingestor.ingest(page).kept for page in pages)
    store.close()  # timed too: closing copies the write-ahead log into the store
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    return {
        "seconds": seconds,
        "kept": kept,
        "rss_before_mb": before,
        "peak_rss_mb": peak,
    }


def timed_ingest(store: Path, batch: int, scratch: Path) -> dict[str, float]:
    """Copy the store and ingest into the copy in a fresh interpreter."""
    work = scratch / "work.db"
    for leftover in scratch.glob("work.db*"):
        leftover.unlink()
    shutil.copyfile(store, work)
    done = subprocess.run(
        [sys.executable, "-m", "bench.growth", "--child", str(work), "--batch", str(batch)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"the ingest child failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _spread(values: list[float]) -> dict[str, float]:
    """Median, min and max."""
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def growth(
    sizes: list[int], batch: int = 1000, runs: int = 3, *, cache: Path = CACHE
) -> dict[str, Any]:
    """Seconds and peak RSS to ingest `batch` new articles into stores of each size."""
    sizes = sorted(sizes)
    stores = {size: cached_store(size, cache) for size in sizes}
    seconds: dict[int, list[float]] = {size: [] for size in sizes}
    peaks: dict[int, list[float]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory(prefix="sequelwatch-growth-") as scratch:
        for _ in range(runs):  # sizes interleaved: a noisy minute hits them all alike
            for size in sizes:
                result = timed_ingest(stores[size], batch, Path(scratch))
                seconds[size].append(result["seconds"])
                peaks[size].append(result["peak_rss_mb"])
    smallest, largest = sizes[0], sizes[-1]
    ratio = statistics.median(seconds[largest]) / statistics.median(seconds[smallest])
    out: dict[str, Any] = {
        "batch": batch,
        "runs": runs,
        "built_through": "Store.save_article + understand (the Ingestor's stages less HTML"
        " extraction)",
        "stores": {str(size): store_summary(stores[size]) for size in sizes},
        "ingest_seconds": {str(size): _spread(seconds[size]) for size in sizes},
        "ingest_per_article_ms": {
            str(size): round(statistics.median(seconds[size]) / batch * 1000, 2) for size in sizes
        },
        "peak_rss_mb": {str(size): _spread(peaks[size]) for size in sizes},
        "largest_vs_smallest": round(ratio, 3),
        "crawl_peak_rss_mb": round(max(peaks[largest]), 1),
        "crawl_peak_rss_at": largest,
    }
    if batch == 1000:  # the name: median seconds per 1,000 new articles, by size
        out["ingest_1k_seconds"] = {
            str(size): out["ingest_seconds"][str(size)]["median"] for size in sizes
        }
    if smallest == 1000 and largest == 100_000:
        out["ingest_100k_vs_1k"] = out["largest_vs_smallest"]
    return out


def main() -> None:
    """Print the figures as JSON (or, with --child, run one timed ingest)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(ingest_child(args.child, args.batch)))
        return
    print(json.dumps(growth(args.sizes, args.batch, args.runs), indent=2))


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.path.insert(0, str(ROOT))
    main()
