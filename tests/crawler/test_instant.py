"""After a crawl that found something, instant subscribers get one alert; a feed is written."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import feedparser
import pytest

import config
from tests.helpers import run_cli

pytestmark = pytest.mark.slow


def test_an_instant_subscriber_hears_after_the_crawl_and_only_once(world_config: Path) -> None:
    settings = config.load(world_config)
    added = run_cli(
        "subscribe",
        "now@example.org",
        "--frequency",
        "instant",
        "--categories",
        "cast,release",
        "--confirmed",
        config_path=world_config,
        check=True,
    )
    assert "subscribed" in added.stdout
    daily = run_cli(
        "subscribe", "later@example.org", "--confirmed", config_path=world_config, check=True
    )
    assert daily.returncode == 0

    first = run_cli("crawl", config_path=world_config, check=True)
    assert "instant alerts:" in first.stdout
    messages = list(settings.outbox.glob("*.eml"))
    assert len(messages) == 1, first.stdout
    alert = message_from_bytes(messages[0].read_bytes(), policy=policy.default)
    assert alert["To"] == "now@example.org"
    text = alert.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Rosa Salazar" in text and "2030" in text
    assert "Motorball" not in text  # plot is not among their categories

    second = run_cli("crawl", config_path=world_config, check=True)
    assert "instant alerts:" not in second.stdout
    assert len(list(settings.outbox.glob("*.eml"))) == 1

    feed = run_cli("feed", config_path=world_config, check=True)
    path = Path(feed.stdout.split("wrote ", 1)[1].strip())
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo and len(parsed.entries) >= 5
    assert any("Salazar" in entry.title for entry in parsed.entries)
