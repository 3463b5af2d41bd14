"""The configuration files: defaults, paths, and the errors a user sees for bad keys."""

from __future__ import annotations

from pathlib import Path

import pytest

import config
from config import ConfigError, load, parse_duration

TOPIC = Path(config.__file__).parent / "topics" / "alita-battle-angel-2.toml"


def write(folder: Path, main: str, sources: str = "") -> Path:
    """Write a main file (topic pointing at the shipped one) and a sources file."""
    (folder / "sources.toml").write_text(sources, encoding="utf-8")
    path = folder / "sequelwatch.toml"
    path.write_text(f"topic = {str(TOPIC)!r}\nsources = 'sources.toml'\n{main}", encoding="utf-8")
    return path


FEED = """
[[sources]]
name = "trade"
kind = "feed"
url = "http://127.0.0.1:1/feed.rss"
every = "30m"
enabled = true
"""


def test_the_shipped_configuration_loads_with_real_sources() -> None:
    settings = load(Path("config/sequelwatch.toml"))
    assert settings.database == (Path("data") / "sequelwatch.db").resolve()
    assert settings.topic.name == "Alita: Battle Angel 2"
    kinds = {s.kind for s in settings.sources}
    assert kinds >= {"feed", "search", "listing", "sitemap"}
    urls = " ".join(s.url for s in settings.sources)
    for host in (
        "news.google.com",
        "bing.com",
        "reddit.com",
        "deadline.com",
        "variety.com",
        "hollywoodreporter.com",
        "collider.com",
        "screenrant.com",
        "slashfilm.com",
    ):
        assert host in urls
    assert settings.crawl.obey_robots is True
    assert settings.crawl.allow_internal is False  # the internal-address guard is on
    assert settings.crawl.user_agent.startswith("sequelwatch/")


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'database = "data/x.db"\n', FEED)
    settings = load(path)
    assert settings.database == tmp_path / "data" / "x.db"
    assert settings.sources[0].name == "trade"
    assert settings.sources[0].every_seconds == 1800


def test_the_environment_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'database = "env.db"\n', FEED)
    assert load(env={"SEQUELWATCH_CONFIG": str(path)}).database == tmp_path / "env.db"
    assert load(path, env={"SEQUELWATCH_CONFIG": "/nonexistent.toml"}).path == path


@pytest.mark.parametrize(
    ("main", "sources", "file", "words"),
    [
        (
            "[crawl]\ndownload_delai = 1.0\n",
            FEED,
            "sequelwatch.toml",
            ["unknown key", "crawl.download_delai"],
        ),
        (
            '[crawl]\ndownload_delay = "fast"\n',
            FEED,
            "sequelwatch.toml",
            ["crawl.download_delay", "expected", "'fast'"],
        ),
        (
            "[crawl]\nconcurrency_per_host = 0\n",
            FEED,
            "sequelwatch.toml",
            ["crawl.concurrency_per_host", "greater than or equal to 1"],
        ),
        (
            '[crawl]\nallow_internal = "yes"\n',
            FEED,
            "sequelwatch.toml",
            ["crawl.allow_internal", "'yes'"],
        ),
        (
            "",
            FEED.replace('"feed"', '"rss"'),
            "sources.toml",
            ["sources[0].kind", "'feed'", "'rss'"],
        ),
        (
            "",
            FEED.replace('"30m"', '"half an hour"'),
            "sources.toml",
            ["sources[0].every", "duration"],
        ),
        (
            "",
            FEED.replace('"http://127.0.0.1:1/feed.rss"', '"ftp://x/feed"'),
            "sources.toml",
            ["sources[0].url", "http"],
        ),
        (
            "",
            FEED.replace('kind = "feed"', 'kind = "listing"'),
            "sources.toml",
            ["sources[0]", "links"],
        ),
        ("", FEED + 'colour = "red"\n', "sources.toml", ["unknown key", "sources[0].colour"]),
        ("", FEED + FEED, "sources.toml", ["two sources are named 'trade'"]),
        (
            "",
            FEED.replace("enabled = true", 'enabled = "yes"'),
            "sources.toml",
            ["sources[0].enabled", "'yes'"],
        ),
    ],
)
def test_a_wrong_key_or_value_is_refused_naming_file_and_key(
    tmp_path: Path, main: str, sources: str, file: str, words: list[str]
) -> None:
    path = write(tmp_path, main, sources)
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert str(tmp_path / file) in message
    for word in words:
        assert word in message


def test_a_missing_file_and_broken_toml_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("database = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(broken)


def test_durations() -> None:
    assert [parse_duration(t) for t in ("45s", "30m", "6h", "1d")] == [45, 1800, 21600, 86400]
    with pytest.raises(ValueError):
        parse_duration("soon")
