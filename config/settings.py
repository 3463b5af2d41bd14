"""Typed settings: the main TOML file, its crawl table and the sources file."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from config.errors import ConfigError, from_validation
from config.topic import Topic, load_topic

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/sequelwatch/sequelwatch"
DEFAULT_CONFIG = Path("config") / "sequelwatch.toml"
PACKAGED_CONFIG = Path(__file__).with_name("sequelwatch.toml")
ENV_VAR = "SEQUELWATCH_CONFIG"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as "45s", "30m", "6h" or "1d"; ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f'a duration such as "45s", "30m", "6h" or "1d", not {text!r}')
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _checked_duration(text: str) -> str:
    """A duration that parses, kept as written."""
    parse_duration(text)
    return text


def _int_to_float(value: Any) -> Any:
    """Accept 1 where 1.0 is meant: TOML users write both (a bool stays refused)."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


Duration = Annotated[str, AfterValidator(_checked_duration)]
Number = Annotated[float, BeforeValidator(_int_to_float)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class CrawlSettings(_Model):
    """How politely and how far a crawl goes."""

    download_delay: Annotated[Number, Field(ge=0)] = 1.0
    concurrency_per_host: Annotated[int, Field(ge=1, le=64)] = 2
    concurrency: Annotated[int, Field(ge=1, le=256)] = 16
    obey_robots: bool = True
    user_agent: str = f"sequelwatch/{__version__} (+{PROJECT_URL})"
    timeout: Annotated[Number, Field(gt=0)] = 30.0
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    max_retry_after: Annotated[Number, Field(ge=0)] = 120.0
    max_response_bytes: Annotated[int, Field(ge=1024)] = 8 * 1024 * 1024
    max_listing_pages: Annotated[int, Field(ge=1, le=100)] = 3
    max_redirects: Annotated[int, Field(ge=0, le=20)] = 5
    readers: Annotated[int, Field(ge=0, le=16)] = Field(
        default=1,
        description=(
            "Processes that extract and read pages beside a busy crawl (one that has fetched"
            " more than 40 pages), so that a second core does that work; 0 reads every page"
            " in the crawl's own process."
        ),
    )
    allow_internal: bool = Field(
        default=False,
        description=(
            "Let every source's links and redirects reach internal addresses (loopback,"
            " private, link-local, unique-local, ...). Off, a request to an internal address"
            " is refused before it connects unless it goes to the site its own source is"
            " configured at. Turn it on only to crawl your own intranet from sources you trust."
        ),
    )

    @field_validator("user_agent")
    @classmethod
    def _one_line(cls, value: str) -> str:
        """A User-Agent goes into a header: one printable line."""
        if not value.strip() or any(ch in value for ch in "\r\n\0"):
            raise ValueError("a non-empty single line")
        return value


class StorySettings(_Model):
    """How articles become stories: duplicates, the time window, stale news."""

    window: Duration = "14d"  # a story takes new articles for this long after its last update
    stale_after: Duration = "30d"  # published this long before first seen: stale news
    join_threshold: Annotated[Number, Field(gt=0, le=1)] = 0.15  # evidence similarity to join
    duplicate_threshold: Annotated[Number, Field(gt=0, le=1)] = 0.25  # MinHash Jaccard of a copy
    # ... of an article of the story it joined: there the news is known to be the same, and
    # a word-spun copy (0.24) stands further from it than rewrites stand from each other
    story_duplicate_threshold: Annotated[Number, Field(gt=0, le=1)] = 0.2

    @property
    def window_seconds(self) -> float:
        """The story window in seconds."""
        return parse_duration(self.window)

    @property
    def stale_seconds(self) -> float:
        """The stale-news threshold in seconds."""
        return parse_duration(self.stale_after)


class SmtpSettings(_Model):
    """How to reach the mail server; the password comes from the environment only."""

    host: str = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str = ""
    password_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = (
        "SEQUELWATCH_SMTP_PASSWORD"
    )
    timeout: Annotated[Number, Field(gt=0)] = 30.0
    connections: Annotated[int, Field(ge=1, le=20)] = 4  # sending at once, each its own login


class DeliverySettings(_Model):
    """Where messages go: an outbox folder of .eml files (the default) or an SMTP server."""

    method: Literal["outbox", "smtp"] = "outbox"
    outbox: str = "data/outbox"
    from_: Annotated[str, Field(alias="from")] = "sequelwatch <alerts@example.org>"
    base_url: str = "http://localhost:8750"
    smtp: SmtpSettings = SmtpSettings()
    retry_after: Duration = "15m"  # first wait after a failed send; doubles, up to a day

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, populate_by_name=True)

    @field_validator("from_", "base_url")
    @classmethod
    def _one_line(cls, value: str) -> str:
        """Both go into headers: one printable line."""
        if not value.strip() or any(ch in value for ch in "\r\n\0"):
            raise ValueError("a non-empty single line")
        return value

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        """Links in messages point here."""
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("an absolute http:// or https:// URL")
        return value.rstrip("/")


class ScheduleSettings(_Model):
    """When the daemon sends digests, and how it treats a crawl that runs long."""

    timezone: str = "UTC"  # for daily_at / weekly_on when a subscriber set no zone
    daily_at: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "08:00"
    weekly_on: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    crawl_timeout: Duration = "20m"  # a crawl child still running then is stopped
    grace: Duration = "30s"  # on SIGTERM, how long a running crawl or send may finish
    jitter: Annotated[Number, Field(ge=0, le=0.5)] = 0.1  # share of a source's interval

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        """An IANA time zone name."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as UTC or Europe/Rome") from None
        return value


class WebSettings(_Model):
    """The daemon's small web face."""

    enabled: bool = True
    listen: Annotated[str, Field(pattern=r"^[^\s:]+:\d{1,5}$")] = "127.0.0.1:8750"

    @property
    def host(self) -> str:
        """The address to listen on."""
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        """The port to listen on."""
        return int(self.listen.rpartition(":")[2])


class OperatorSettings(_Model):
    """Who hears about failing sources, and when."""

    operator: str = ""  # an address; empty: operator alerts only in the log and `status`
    failures: Annotated[int, Field(ge=1, le=100)] = 3  # consecutive failures that alert
    silent_after: Duration = "7d"  # a source that yielded articles and then none this long


class Source(_Model):
    """One configured feed, news search feed, listing page or sitemap."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    kind: Literal["feed", "search", "listing", "sitemap"]
    url: str
    every: Duration = "1h"
    enabled: bool = True
    links: str | None = None
    next: str | None = None
    max_pages: Annotated[int, Field(ge=1, le=100)] | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        """Only absolute http(s) URLs can be crawled."""
        if not re.match(r"^https?://[^\s/]+", value) or any(ch.isspace() for ch in value):
            raise ValueError("an absolute http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _listing_keys(self) -> Source:
        """`links` belongs to listings (and is required there); `next` only to listings."""
        if self.kind == "listing" and not self.links:
            raise ValueError("a listing source needs `links` (CSS selector of article links)")
        if self.kind != "listing" and (self.links or self.next):
            raise ValueError('`links` and `next` are only for kind = "listing"')
        return self

    @property
    def every_seconds(self) -> float:
        """The crawl interval in seconds."""
        return parse_duration(self.every)


class Settings(_Model):
    """Everything sequelwatch reads from its configuration files."""

    path: Path
    database: Path
    topic: Topic
    topic_path: Path
    sources_path: Path
    sources: tuple[Source, ...]
    crawl: CrawlSettings
    stories: StorySettings = StorySettings()
    delivery: DeliverySettings = DeliverySettings()
    outbox: Path = Path("data/outbox")  # the delivery outbox, resolved against the file
    schedule: ScheduleSettings = ScheduleSettings()
    web: WebSettings = WebSettings()
    alerts: OperatorSettings = OperatorSettings()

    def source(self, name: str) -> Source:
        """The source of that name; KeyError when there is none."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


class _MainFile(_Model):
    database: str = "data/sequelwatch.db"
    topic: str = "topics/alita-battle-angel-2.toml"
    sources: str = "sources.toml"
    crawl: CrawlSettings = CrawlSettings()
    stories: StorySettings = StorySettings()
    delivery: DeliverySettings = DeliverySettings()
    schedule: ScheduleSettings = ScheduleSettings()
    web: WebSettings = WebSettings()
    alerts: OperatorSettings = OperatorSettings()


class _SourcesFile(_Model):
    sources: tuple[Source, ...] = ()

    @field_validator("sources", mode="before")
    @classmethod
    def _array_of_tables(cls, value: Any) -> Any:
        """TOML arrays arrive as lists; the settings keep tuples."""
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _unique_names(self) -> _SourcesFile:
        """Two sources with one name could not be told apart in status or --source."""
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                raise ValueError(f"two sources are named {source.name!r}")
            seen.add(source.name)
        return self


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file, or raise ConfigError saying what is wrong with it."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def config_path(
    explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """The configuration file to use: the argument, $SEQUELWATCH_CONFIG, else the default."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else PACKAGED_CONFIG


def load(
    explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Load the settings, the sources and the topic; relative paths are relative to the file."""
    path = config_path(explicit, env).resolve()
    try:
        main = _MainFile.model_validate(read_toml(path))
    except ValidationError as err:
        raise from_validation(path, err) from None
    base = path.parent
    sources_path = (base / main.sources).resolve()
    try:
        sources = _SourcesFile.model_validate(read_toml(sources_path))
    except ValidationError as err:
        raise from_validation(sources_path, err) from None
    topic_path = (base / main.topic).resolve()
    return Settings(
        path=path,
        database=(base / main.database).resolve(),
        topic=load_topic(topic_path),
        topic_path=topic_path,
        sources_path=sources_path,
        sources=sources.sources,
        crawl=main.crawl,
        stories=main.stories,
        delivery=main.delivery,
        outbox=(base / main.delivery.outbox).resolve(),
        schedule=main.schedule,
        web=main.web,
        alerts=main.alerts,
    )
