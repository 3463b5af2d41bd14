"""Scrapy settings derived from the sequelwatch configuration."""

from __future__ import annotations

from typing import Any

from config import Settings


def from_config(settings: Settings) -> dict[str, Any]:
    """The Scrapy settings that carry out the [crawl] table: etiquette, limits, retries."""
    crawl = settings.crawl
    polite = crawl.download_delay > 0
    return {
        "SEQUELWATCH_CONFIG": str(settings.path),
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "DOWNLOAD_DELAY": crawl.download_delay,
        "CONCURRENT_REQUESTS": crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_host,
        # AutoThrottle starts from the configured delay and only ever slows down from
        # there; a delay of 0 means as fast as the per-host concurrency allows.
        "AUTOTHROTTLE_ENABLED": polite,
        "AUTOTHROTTLE_START_DELAY": crawl.download_delay,
        "AUTOTHROTTLE_MAX_DELAY": max(60.0, crawl.download_delay),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.concurrency_per_host),
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "DOWNLOAD_MAXSIZE": crawl.max_response_bytes,
        "DOWNLOAD_WARNSIZE": crawl.max_response_bytes // 2,
        "RETRY_TIMES": crawl.retries,
        "SEQUELWATCH_MAX_RETRY_AFTER": crawl.max_retry_after,
        "REDIRECT_MAX_TIMES": crawl.max_redirects,
    }
