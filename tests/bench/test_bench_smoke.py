"""The bench scripts on a tiny site, so that they do not rot (no figures are judged here)."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bench.selectivity import selectivity
from bench.site import build_site, serve_site
from bench.throughput import steady_state, throughput


def _between_0_and_1(figure: dict[str, float]) -> bool:
    """A median share with its min and max, all within [0, 1]."""
    return all(0 <= figure[key] <= 1 for key in ("median", "min", "max"))


def test_site_is_deterministic(tmp_path: Path) -> None:
    """The same size and seed write the same bytes."""
    one = build_site(tmp_path / "a", "http://127.0.0.1:1", 12)
    two = build_site(tmp_path / "b", "http://127.0.0.1:1", 12)
    assert one.articles == two.articles and len(one.articles) == 12
    page = one.articles[0].removeprefix("http://127.0.0.1:1")
    assert (one.root / page.lstrip("/")).read_bytes() == (two.root / page.lstrip("/")).read_bytes()


@pytest.mark.parametrize("server", ["python", "auto"])
def test_site_answers_conditional_get_with_304(server: str, tmp_path: Path) -> None:
    """Both servers send ETag and Last-Modified, answer 304, and count what they send."""
    with serve_site(20, tmp_path, server=server) as served:  # type: ignore[arg-type]
        with urllib.request.urlopen(served.site.feeds[0]) as response:
            etag, body = response.headers["ETag"], response.read()
        assert etag and b"<rss" in body
        request = urllib.request.Request(served.site.feeds[0], headers={"If-None-Match": etag})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request)
        assert answer.value.code == 304
        traffic = served.traffic()
    assert traffic.requests == 2 and traffic.bytes > len(body)


def test_throughput_smoke() -> None:
    """Bare spider and sequelwatch fetch every page; peers skipped."""
    figures = throughput(pages=20, runs=1, with_peers=False)
    assert figures["bare"]["pages_per_s"]["median"] > 0
    assert figures["sequelwatch"]["pages_per_s"]["median"] > 0
    assert figures["bare"]["pages_done"] == [20]
    assert figures["sequelwatch"]["kept"][0] > 0
    assert figures["pipeline_vs_bare"] > 0
    assert figures["trafilatura_vs_ours"] is None and figures["newsplease_vs_ours"] is None
    # the CPU of every process a contender ran: the crawl's readers are counted too
    for name in ("bare", "sequelwatch"):
        assert figures[name]["cpu_ms_per_page"]["median"] > 0
        assert figures[name]["cpu_seconds"][0] > 0


def test_steady_state_smoke() -> None:
    """The second crawl costs a share of the first."""
    figures = steady_state(pages=20, runs=1)
    assert _between_0_and_1(figures["recrawl_requests_share"])
    assert _between_0_and_1(figures["recrawl_bytes_share"])
    # times are not asserted in tests (a tiny site is all process start-up): only present
    assert figures["recrawl_time_share"]["median"] > 0


def test_selectivity_smoke() -> None:
    """Few requests per kept article on a feed of mostly other films."""
    figures = selectivity(entries=200, share=0.05, runs=1)
    assert figures["sequel_entries"] == 10
    assert figures["requests_per_kept"]["median"] >= 1
    assert figures["naive_requests_per_kept"] == 20
