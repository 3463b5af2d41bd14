"""Typed settings and the default configuration files. Imports nothing of the project."""

from config.errors import ConfigError
from config.settings import (
    DEFAULT_CONFIG,
    CrawlSettings,
    DeliverySettings,
    OperatorSettings,
    ScheduleSettings,
    Settings,
    SmtpSettings,
    Source,
    StorySettings,
    WebSettings,
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
    "OperatorSettings",
    "ScheduleSettings",
    "Settings",
    "SmtpSettings",
    "Source",
    "StorySettings",
    "WebSettings",
    "Topic",
    "__version__",
    "config_path",
    "load",
    "load_topic",
    "parse_duration",
]
