"""The Scrapy project at the root: `scrapy list`, and settings that carry out [crawl]."""

from __future__ import annotations

import subprocess
import sys

import config
from crawler.run import scrapy_settings
from tests.helpers import ROOT


def test_scrapy_list_names_the_four_spiders() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scrapy.cmdline", "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["feed", "listing", "search", "sitemap"]


def test_the_crawl_table_becomes_scrapy_settings() -> None:
    loaded = config.load(ROOT / "config" / "sequelwatch.toml")
    settings = scrapy_settings(loaded, run_id=7)
    assert settings.getbool("REMOTE_CONTROL_ENABLED") is False
    assert settings.getbool("TELNETCONSOLE_ENABLED") is False
    assert settings.getbool("ROBOTSTXT_OBEY") is True
    assert settings.getfloat("DOWNLOAD_DELAY") == loaded.crawl.download_delay
    assert settings.getbool("AUTOTHROTTLE_ENABLED") is True
    assert settings.getfloat("AUTOTHROTTLE_START_DELAY") == loaded.crawl.download_delay
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == loaded.crawl.concurrency_per_host
    assert settings.get("USER_AGENT").startswith("sequelwatch/")
    assert settings.getint("DOWNLOAD_MAXSIZE") == loaded.crawl.max_response_bytes
    assert settings.getint("SEQUELWATCH_RUN_ID") == 7
    middlewares = settings.getdict("DOWNLOADER_MIDDLEWARES")
    assert middlewares["scrapy.downloadermiddlewares.retry.RetryMiddleware"] is None


def test_no_delay_means_no_autothrottle(tmp_path) -> None:  # type: ignore[no-untyped-def]
    loaded = config.load(ROOT / "config" / "sequelwatch.toml")
    fast = loaded.model_copy(
        update={"crawl": loaded.crawl.model_copy(update={"download_delay": 0.0})}
    )
    settings = scrapy_settings(fast, run_id=1)
    assert settings.getbool("AUTOTHROTTLE_ENABLED") is False
    assert settings.getfloat("DOWNLOAD_DELAY") == 0
