"""Bad sources: each failure is stored on its source, readable, and the others carry on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sequelwatch.sampleworld.server import SampleWorld
from tests.helpers import run_cli

pytestmark = pytest.mark.slow

BAD = {
    "gone": ("/bad/status/404", "HTTP 404"),
    "broken-server": ("/bad/status/500", "HTTP 500"),
    "hangs": ("/bad/slow?seconds=8", "timed out"),
    "loops": ("/bad/loop", "redirect"),
    "html-not-feed": ("/bad/notfeed.rss", "not an RSS or Atom feed"),
    "cut-off": ("/bad/broken.rss", "ill-formed feed"),
    "huge": ("/bad/huge.rss", "size cap"),
    "binary": ("/bad/undecodable.html", "not an RSS or Atom feed"),
    "resets": ("/bad/reset", "connection"),
}


def write_config(folder: Path, world: SampleWorld, sources: dict[str, str]) -> Path:
    """A configuration of feed sources at these paths, with short limits."""
    lines = []
    for name, path in sources.items():
        lines += [
            "[[sources]]",
            f'name = "{name}"',
            'kind = "feed"',
            f'url = "{world.url(path)}"',
            'every = "30m"',
            "",
        ]
    (folder / "sources.toml").write_text("\n".join(lines), encoding="utf-8")
    from sequelwatch.demo import TOPIC

    path = folder / "sequelwatch.toml"
    path.write_text(
        f'database = "store.db"\ntopic = {str(TOPIC)!r}\nsources = "sources.toml"\n'
        "[crawl]\ndownload_delay = 0\nconcurrency_per_host = 8\ntimeout = 2.0\nretries = 1\n"
        "max_response_bytes = 1048576\n",
        encoding="utf-8",
    )
    return path


def status(config_path: Path) -> dict[str, dict[str, Any]]:
    """Each source's health, by name, from `sequelwatch status --json`."""
    done = run_cli("status", "--json", config_path=config_path, check=True)
    return {s["name"]: s for s in json.loads(done.stdout)["sources"]}


def test_each_bad_source_is_recorded_and_the_good_one_is_crawled(
    world: SampleWorld, tmp_path: Path
) -> None:
    sources = {name: path for name, (path, _) in BAD.items()}
    sources["good"] = "/feeds/trade.rss"
    config_path = write_config(tmp_path, world, sources)
    done = run_cli("crawl", config_path=config_path)
    assert done.returncode == 0, done.stdout + done.stderr
    health = status(config_path)
    for name, (_, words) in BAD.items():
        assert health[name]["last_status"] == "error", health[name]
        assert words in health[name]["last_error"], health[name]
        assert health[name]["failures"] == 1
    assert health["good"]["last_status"] == "ok"
    assert health["good"]["last_error"] is None
    exported = run_cli("export", config_path=config_path, check=True).stdout.splitlines()
    assert exported, "the good source's articles are stored"
    # the failures stay readable in the plain status table too
    table = run_cli("status", config_path=config_path, check=True).stdout
    assert "HTTP 500" in table and "timed out" in table

    again = run_cli("crawl", config_path=config_path)
    assert again.returncode == 0
    assert status(config_path)["broken-server"]["failures"] == 2


def test_a_crawl_where_every_source_fails_exits_non_zero(
    world: SampleWorld, tmp_path: Path
) -> None:
    config_path = write_config(
        tmp_path, world, {"gone": "/bad/status/404", "broken": "/bad/status/500"}
    )
    done = run_cli("crawl", config_path=config_path)
    assert done.returncode != 0
    assert "every source failed" in done.stderr


def test_retry_after_is_honoured(world: SampleWorld, tmp_path: Path) -> None:
    config_path = write_config(tmp_path, world, {"busy": "/bad/retry-after"})
    done = run_cli("crawl", config_path=config_path)
    assert done.returncode == 0, done.stdout + done.stderr
    tries = [r for r in world.requests if r.path == "/bad/retry-after"]
    assert [r.status for r in tries] == [503, 200]
    assert status(config_path)["busy"]["last_status"] == "ok"


def test_an_unknown_source_name_is_refused(world: SampleWorld, tmp_path: Path) -> None:
    config_path = write_config(tmp_path, world, {"good": "/feeds/trade.rss"})
    done = run_cli("crawl", "--source", "nope", config_path=config_path)
    assert done.returncode != 0
    assert "no source named nope" in done.stderr
