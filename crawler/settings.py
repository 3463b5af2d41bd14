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
# Only the web is fetched. Scrapy would also read file:, data:, ftp: and s3: addresses,
# and the links it follows are written by strangers (feeds, sitemaps, listing pages):
# with no handler for those schemes, no link can make a crawl read a local file.
DOWNLOAD_HANDLERS = {"file": None, "data": None, "ftp": None, "s3": None}
DNS_TIMEOUT = 15
# Scrapy starts this many tasks for every response's output, whatever its size: an article
# page yields one item, and 100 (the default) made task creation a tenth of a crawl's CPU.
# 16 still lets a full-content feed's entries be read side by side.
CONCURRENT_ITEMS = 16
LOG_LEVEL = "WARNING"

DOWNLOADER_MIDDLEWARES = {
    # Scrapy's retry middleware neither backs off nor honours Retry-After: ours does both.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    # Before robots.txt (100) and everything else that connects: a refused address is
    # never contacted, not even for its robots.txt.
    "crawler.address_guard.InternalAddressGuard": 40,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "crawler.middlewares.SkipKnownMiddleware": 560,
    "crawler.middlewares.ConditionalGetMiddleware": 570,
    # Sees each response before Scrapy's RedirectMiddleware (600) does, to refuse a
    # redirect out of the web (file:, ftp:, data:, ...) or round a loop, saying so.
    "crawler.middlewares.RedirectGuardMiddleware": 610,
    "crawler.middlewares.SourceStatsMiddleware": 950,
}
ITEM_PIPELINES = {"crawler.pipelines.IngestPipeline": 300}
