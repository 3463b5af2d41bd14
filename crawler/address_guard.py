"""The downloader middleware that refuses internal addresses a source did not earn.

It runs before every other project middleware that could connect (robots.txt included)
and sees every request, including each redirect hop and meta refresh: Scrapy's redirect
middlewares hand their new request back to the engine, which sends it through all the
downloader middlewares again. The rules themselves are in `crawler.addresses`.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.resolver import CachingThreadedResolver, dnscache
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.misc import load_object
from twisted.internet.threads import deferToThread

from crawler.addresses import Resolver, Site, Unresolvable, Verdict, judge, site_of, system_resolver
from crawler.middlewares import SOURCE
from crawler.state import crawl_state

logger = logging.getLogger(__name__)


class InternalAddressRefused(IgnoreRequest):
    """A request for an internal address that its source did not earn."""


class _NotLookedUp(Exception):
    """The host is not in the cache yet: judge again in a thread, where lookups may block."""


class InternalAddressGuard:
    """Judge every request by crawler.addresses before anything connects for it."""

    def __init__(
        self,
        sources: Mapping[str, str],
        resolve: Resolver = system_resolver,
        pin_dns: bool = False,
    ) -> None:
        self.sources = dict(sources)  # source name -> its configured URL
        self.resolve = resolve
        self.pin_dns = pin_dns
        self.answers: dict[str, tuple[str, ...]] = {}  # host -> addresses; () unresolvable
        self.vouched: set[Site] = set()  # sites a source's request was let through to

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> InternalAddressGuard:
        """The configured sources; not installed at all when [crawl] allow_internal is true."""
        settings = crawl_state(crawler).settings
        if settings.crawl.allow_internal:
            raise NotConfigured("[crawl] allow_internal = true: internal addresses allowed")
        resolver = load_object(crawler.settings["TWISTED_DNS_RESOLVER"])
        return cls(
            {source.name: source.url for source in settings.sources},
            pin_dns=isinstance(resolver, type) and issubclass(resolver, CachingThreadedResolver),
        )

    async def process_request(self, request: Request) -> None:
        """Raise InternalAddressRefused for a request its source may not make."""
        site = site_of(request.url)
        source = request.meta.get(SOURCE)
        if source is None and site in self.vouched:
            # robots.txt, asked for on behalf of a request this guard has just let through
            return
        verdict = await self._judge(request.url, self.sources.get(source) if source else None)
        if not verdict.allowed:
            logger.debug("%s: %s", source, verdict.reason)
            raise InternalAddressRefused(verdict.reason)
        if verdict.addresses and not self._pin(request.url, verdict):
            raise InternalAddressRefused(
                f"{urlsplit(request.url).hostname} has no IPv4 address to connect to"
                " (Scrapy's resolver connects over IPv4 only)"
            )
        if site is not None:
            self.vouched.add(site)

    async def _judge(self, url: str, source_url: str | None) -> Verdict:
        """Judge from the cache on the reactor thread; look a new name up in a thread."""
        try:
            return judge(url, source_url, self._cached)
        except _NotLookedUp:
            return await maybe_deferred_to_future(
                deferToThread(judge, url, source_url, self._look_up)
            )

    def _cached(self, host: str) -> tuple[str, ...]:
        """The addresses looked up for host earlier in this crawl."""
        if host not in self.answers:
            raise _NotLookedUp(host)
        return self.answers[host]

    def _look_up(self, host: str) -> tuple[str, ...]:
        """Ask the resolver once per crawl (a failure too is remembered for the crawl)."""
        try:
            answers = tuple(self.resolve(host))
        except Unresolvable:
            answers = ()
        self.answers[host] = answers
        return answers

    def _pin(self, url: str, verdict: Verdict) -> bool:
        """Make Scrapy connect to an address that was judged, not to a fresh DNS answer.

        Without this, a name could answer a public address to the check and an internal
        one to the connection a moment later (DNS rebinding). Scrapy's default resolver
        keeps one IPv4 address per name in `dnscache` for the whole crawl; seeding it with
        a judged address closes that gap. False when there is no IPv4 answer to pin.
        """
        host = urlsplit(url).hostname
        if not (self.pin_dns and host):
            return True
        for answer in verdict.addresses:
            try:
                address = ipaddress.ip_address(answer)
            except ValueError:
                continue
            if address.version == 4:
                dnscache[host] = str(address)
                return True
        # Nothing to pin: the connection would make its own, unjudged, IPv4 lookup.
        return False
