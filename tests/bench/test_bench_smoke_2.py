"""Smoke runs of bench/growth.py, bench/delivery.py and bench/daemon_idle.py on tiny inputs.

Seconds, not a benchmark: they keep the scripts from rotting, and check that the figures
they hand to bench/run.py are there and sane.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bench.daemon_idle import daemon_idle
from bench.delivery import delivery
from bench.growth import STORE_END, articles, growth

pytestmark = pytest.mark.slow


def test_the_synthetic_news_has_unique_urls_copies_and_ends_near_the_store_end() -> None:
    made = list(articles(60, STORE_END, seed=1))
    assert len(made) == 60
    assert len({a.url for a in made}) == 60
    assert all(a.seen <= STORE_END + timedelta(days=3) for a in made)
    assert any(a.text.startswith("Originally published by") for a in made)


def test_growth_times_the_same_batch_into_each_store_size(tmp_path: Path) -> None:
    figures = growth([20, 40], batch=5, runs=1, cache=tmp_path)
    assert set(figures["ingest_seconds"]) == {"20", "40"}
    for size in ("20", "40"):
        spread = figures["ingest_seconds"][size]
        assert 0 < spread["min"] <= spread["median"] <= spread["max"] < 60
        assert figures["stores"][size]["articles"] == int(size)
    assert figures["largest_vs_smallest"] > 0
    assert 30 < figures["crawl_peak_rss_mb"] < 2000
    assert "ingest_100k_vs_1k" not in figures  # only when 1,000 and 100,000 were measured


def test_delivery_sends_one_digest_per_subscriber() -> None:
    figures = delivery(subscribers=5, stories=2, runs=1)
    assert figures["stories"] == 2
    assert figures["digests_per_s"]["median"] > 0
    assert 0 < figures["seconds"]["median"] < 60
    assert 30 < figures["peak_rss_mb"]["max"] < 2000


def test_the_idle_daemon_is_sampled_and_stops_cleanly(tmp_path: Path) -> None:
    figures = daemon_idle(3.0, articles=30, cache=tmp_path)
    assert figures["samples"] >= 3
    assert 10 < figures["daemon_idle_rss_mb"]["median"] < 1000
    assert figures["crawls_started"] == 0
    assert figures["exit_code"] == 0
