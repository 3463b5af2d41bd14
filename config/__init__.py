"""Typed settings and the default configuration files. Imports nothing of the project."""

from config.errors import ConfigError
from config.settings import (
    DEFAULT_CONFIG,
    CrawlSettings,
    DeliverySettings,
    Settings,
    SmtpSettings,
    Source,
    StorySettings,
    __version__,
    config_path,
    load,
    parse_duration,
)
from config.topic import Topic, load_topic

__all__ = [
    "DEFAULT_CONFIG",
    "ConfigError",
    "CrawlSettings",
    "DeliverySettings",
    "Settings",
    "SmtpSettings",
    "Source",
    "StorySettings",
    "Topic",
    "__version__",
    "config_path",
    "load",
    "load_topic",
    "parse_duration",
]
