"""Politeness: the per-host delay is kept between requests to one host."""

from __future__ import annotations

from pathlib import Path

import pytest

from sequelwatch.sampleworld.server import SampleWorld
from tests.helpers import run_cli

pytestmark = pytest.mark.slow


def test_requests_to_one_host_are_spaced_by_the_download_delay(
    world: SampleWorld, tmp_path: Path
) -> None:
    from sequelwatch.demo import TOPIC

    (tmp_path / "sources.toml").write_text(
        f'[[sources]]\nname = "listing"\nkind = "listing"\nurl = "{world.url("/listing/news/")}"\n'
        'links = "article.teaser h2 a"\nnext = "a.next"\n',
        encoding="utf-8",
    )
    config_path = tmp_path / "sequelwatch.toml"
    config_path.write_text(
        f'database = "store.db"\ntopic = {str(TOPIC)!r}\nsources = "sources.toml"\n'
        "[crawl]\ndownload_delay = 0.4\nconcurrency_per_host = 1\n",
        encoding="utf-8",
    )
    done = run_cli("crawl", config_path=config_path)
    assert done.returncode == 0, done.stderr
    times = sorted(r.at for r in world.requests)
    assert len(times) >= 5
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # Scrapy spreads the delay between 0.5x and 1.5x; AutoThrottle only ever slows down.
    assert min(gaps) >= 0.4 * 0.5 * 0.9, gaps
