"""Articles the tests share: pages as the crawler hands them over, about a few developments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from config import StorySettings, Topic
from pipeline.ingest import Ingestor
from pipeline.records import EntryHint, Page
from pipeline.store import Store

DAY = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

SALAZAR = """<html lang="en"><head><title>{title}</title>
<meta property="og:site_name" content="{outlet}">
<meta property="article:published_time" content="{published}"></head><body><article>
<h1>{title}</h1>{body}</article></body></html>"""


def page(
    url: str, title: str, body: str, outlet: str, published: datetime, seen: datetime | None = None
) -> Page:
    """A fetched page as the crawler hands it over."""
    paragraphs = "".join(f"<p>{p.strip()}</p>" for p in body.strip().split("\n\n"))
    html = SALAZAR.format(
        title=title, body=paragraphs, outlet=outlet, published=published.isoformat()
    )
    return Page(
        url=url,
        source="test",
        fetched_at=seen or published + timedelta(hours=1),
        html=html,
        hint=EntryHint(),
    )


CAST_A = """
Rosa Salazar says she will return as Alita in Alita: Battle Angel 2, and that she has kept up
the stunt training the first film demanded so that she is ready the day the call comes.

Speaking at a fan convention in Austin on Saturday, Salazar said director Robert Rodriguez
still sends her notes about the character. "I never really left Iron City," she told the crowd.

The sequel remains in development at 20th Century Studios, with producer James Cameron
involved, though no production schedule has been announced.

Salazar said she has read pages of the script and called the role unfinished business,
adding that she hoped the wait would be worth it for the fans who campaigned for the film.
"""

CAST_B = """
Alita: Battle Angel 2 star Rosa Salazar is ready to come back. At a convention in Austin this
weekend the actor confirmed she will return as Alita whenever cameras roll.

"I never really left Iron City," Salazar said, describing ongoing conversations with Robert
Rodriguez about where the cyborg heroine goes next.

She added that she keeps training for the fight scenes, and that the project is alive at
20th Century Studios with James Cameron producing.
"""

RELEASE = """
Alita: Battle Angel 2 will not reach theaters before 2030, a Lightstorm executive told
exhibitors on Thursday. The sequel has to wait until after Avatar 5, which opens in December
2028, because James Cameron's team and technology are committed to Pandora until then.

The executive said the project remains in development at 20th Century Studios and that
Robert Rodriguez is still attached to direct. No budget has been set.

Fans who have waited since 2019 will have to wait a while longer, the executive said, but
the team meets every month to keep the film moving.
"""

DELAY = """
Alita: Battle Angel 2 has been pushed to 2031. The studio told staff on Monday that the
sequel will not open in December 2030 as planned, after the shoot slipped into 2030.

Robert Rodriguez is still directing and James Cameron still produces. The delay follows a
rewrite of the final act, according to two people with knowledge of the production.

Rosa Salazar remains attached to return as Alita.
"""


def add_developments(
    store: Store,
    topic: Topic,
    stories: StorySettings,
    *,
    cast_title: str = "Rosa Salazar will return as Alita in Alita 2",
    cast_outlet: str = "The Trade Ledger",
) -> None:
    """Two developments, ten hours apart: a casting statement and a release window."""
    ingest = Ingestor(store, topic, stories).ingest
    ingest(page("https://a.example/cast", cast_title, CAST_A, cast_outlet, DAY))
    ingest(
        page(
            "https://d.example/window",
            "Alita: Battle Angel 2 won't arrive before 2030",
            RELEASE,
            "Reel Dispatch",
            DAY + timedelta(hours=10),
        )
    )
