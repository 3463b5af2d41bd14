"""Scrapy settings that do not depend on the sequelwatch configuration.

`scrapy crawl NAME` at the root reads this module (scrapy.cfg); the values that come from
the sequelwatch configuration (delay, concurrency, User-Agent, ...) are added by
`crawler.scrapy_settings.from_config`, which the spiders apply when they start.
"""

BOT_NAME = "sequelwatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# An HTTP server that runs code sent to it has no place in a news monitor.
REMOTE_CONTROL_ENABLED = False
TELNETCONSOLE_ENABLED = False

ROBOTSTXT_OBEY = True
COOKIES_ENABLED = False
HTTPCACHE_ENABLED = False
DOWNLOAD_FAIL_ON_DATALOSS = False
DNS_TIMEOUT = 15
LOG_LEVEL = "WARNING"

DOWNLOADER_MIDDLEWARES = {
    # Scrapy's retry middleware neither backs off nor honours Retry-After: ours does both.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "crawler.middlewares.SkipKnownMiddleware": 560,
    "crawler.middlewares.ConditionalGetMiddleware": 570,
    "crawler.middlewares.SourceStatsMiddleware": 950,
}
ITEM_PIPELINES = {"crawler.pipelines.IngestPipeline": 300}
