"""Render a sample digest to HTML and screenshot it with headless Chromium (docs/digest.png)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.records import Digest, StoryItem  # noqa: E402
from alerts.render import render_digest, write_web_copy  # noqa: E402

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def _story(
    story_id: int,
    category: str,
    title: str,
    change: str | None,
    evidence: str,
    outlets: tuple[str, ...],
    developed: str,
) -> StoryItem:
    """One fictional development reported by fictional outlets."""
    moment = datetime.fromisoformat(developed).replace(tzinfo=UTC)
    slug = title.lower().replace(" ", "-")[:40].strip("-")
    return StoryItem(
        story_id=story_id,
        title=title,
        url=f"https://{outlets[0].lower().replace(' ', '')}.example/{slug}",
        category=category,
        categories=(category,),
        evidence=evidence,
        change=change,
        outlets=outlets,
        first_reporter=outlets[0],
        first_seen=moment,
        developed_at=moment,
    )


def sample_digest() -> Digest:
    """A realistic daily digest: six developments over the four categories."""
    stories = (
        _story(
            41,
            "cast",
            "Rosa Salazar signs on to return as Alita",
            "Rosa Salazar: returning as Alita",
            "Salazar has closed a deal to reprise the role, two people close to the "
            "production said on Tuesday.",
            ("Backlot Wire", "The Reel Ledger", "Frame Rate Daily"),
            "2026-11-24T23:30:00",
        ),
        _story(
            38,
            "cast",
            "Christoph Waltz in early talks to come back as Dr. Ido",
            "Christoph Waltz: in talks as Dyson Ido",
            "Waltz is in early talks to return, though no deal has been signed yet.",
            ("Iron City Observer",),
            "2026-11-24T09:10:00",
        ),
        _story(
            40,
            "release",
            "Studio pencils in 2031 for the Alita sequel",
            "release: 2031 (was: no earlier than 2030)",
            "The studio has told exhibitors to expect the sequel in 2031, a year later "
            "than the producers had hoped.",
            ("The Reel Ledger", "Cinema Dispatch"),
            "2026-11-24T17:05:00",
        ),
        _story(
            36,
            "plot",
            "Producer says the sequel centres on the Motorball tournament",
            "plot: follows the Motorball championship",
            "The new film picks up a year later and builds to the Motorball championship "
            "in Iron City, the producer told a fan convention.",
            ("Scrapyard Weekly", "Frame Rate Daily"),
            "2026-11-23T20:45:00",
        ),
        _story(
            39,
            "production",
            "Cameras expected to roll in Austin next spring",
            "status: filming planned for spring 2028 (was: in development)",
            "Pre-production has begun in Austin, with filming planned for the spring.",
            ("Backlot Wire", "Iron City Observer", "Cinema Dispatch", "Scrapyard Weekly"),
            "2026-11-24T12:20:00",
        ),
        _story(
            35,
            "production",
            "Original composer back to score the sequel",
            None,
            "The composer confirmed he will score the film, calling the first one "
            "\u201cthe most fun I have had in a studio\u201d.",
            ("Frame Rate Daily",),
            "2026-11-23T08:00:00",
        ),
    )
    return Digest(
        email="reader@example.org",
        token="k3v9QmZx2b",
        timezone="Europe/Rome",
        frequency="daily",
        stories=stories,
        topic_name="Alita: Battle Angel 2",
        base_url="https://sequelwatch.example",
        generated_at=datetime(2026, 11, 25, 7, 0, tzinfo=UTC),
    )


def screenshot(html: Path, png: Path, *, dark: bool, size: str) -> None:
    """Screenshot the HTML file with headless Chromium (a fresh profile each time)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed: apt-get install -y chromium")
    extra = ("--force-dark-mode", "--blink-settings=preferredColorScheme=0") if dark else ()
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                *extra,
                f"--user-data-dir={profile}",
                f"--window-size={size}",
                f"--screenshot={png}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main() -> None:
    """Render the sample digest and write digest.png and digest-dark.png."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go")
    parser.add_argument("--size", default="800,1700", help="the window size, WIDTH,HEIGHT")
    args = parser.parse_args()
    rendered = render_digest(sample_digest())
    with tempfile.TemporaryDirectory() as work:
        html = write_web_copy(rendered, Path(work) / "digest.html")
        screenshot(html, args.out / "digest.png", dark=False, size=args.size)
        screenshot(html, args.out / "digest-dark.png", dark=True, size=args.size)
    print(f"subject: {rendered.subject}")
    print(f"wrote {args.out / 'digest.png'} and {args.out / 'digest-dark.png'}")


if __name__ == "__main__":
    main()
