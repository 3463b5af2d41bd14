"""Which addresses a request may reach: internal addresses only from a source configured there.

A news monitor follows links that strangers write (feed entries, search results,
redirects). Without this policy, a public feed could make the crawler fetch
`http://169.254.169.254/latest/meta-data/`, a router's admin page or a service on
localhost, and store what came back. The rule here is pure (no Scrapy, no sockets of
its own): the caller passes the resolver, so tests give it addresses as data.

The rules, in order:

1. A request to its own source's site (the host of the source's configured URL, on the
   same port, or both on the standard web ports 80/443) is allowed: the user pointed the
   source there, internal or not.
2. Any other request is allowed when every address its host stands for is public.
   A host written as an address in any spelling the system would accept (decimal
   `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, IPv4-mapped IPv6) is read as that
   address; a name is resolved, and one internal answer among public ones is enough to
   refuse (a mixed answer could otherwise be used to slip past).
3. A host that cannot be resolved is refused too: the check must not fail open.
"""

from __future__ import annotations

import ipaddress
import socket
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host -> the addresses it stands for, as text; raises Unresolvable when there are none
Resolver = Callable[[str], Sequence[str]]

_WEB_PORTS = frozenset({80, 443})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}

# Documentation (TEST-NET) and benchmarking (198.18.0.0/15) ranges are deliberately
# absent: nothing internal lives there, and proxy clients with a "fake-IP" DNS mode
# answer every name from 198.18.0.0/15, so refusing it would refuse the whole web.
_IPV4_INTERNAL = tuple(
    (ipaddress.IPv4Network(net), kind)
    for net, kind in (
        ("0.0.0.0/8", "this-host"),  # 0.0.0.0 reaches the local machine on Linux
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),  # cloud metadata services live here
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol"),
        ("192.168.0.0/16", "private"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),  # includes the broadcast address
    )
)
_IPV6_INTERNAL = tuple(
    (ipaddress.IPv6Network(net), kind)
    for net, kind in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
# IPv6 forms that carry an IPv4 address in their low 32 bits and reach it
_IPV4_IN_LOW_BITS = (
    (ipaddress.IPv6Network("::ffff:0:0/96"), "IPv4-mapped"),
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), "IPv4-translated"),
    (ipaddress.IPv6Network("64:ff9b::/96"), "NAT64"),
    (ipaddress.IPv6Network("::/96"), "IPv4-compatible"),
)


class Unresolvable(LookupError):
    """A host name the resolver has no address for."""


@dataclass(frozen=True)
class Site:
    """Where a URL connects: its host (normalized) and port."""

    host: str
    port: int | None

    def same_as(self, other: Site) -> bool:
        """The same host, on the same port or both on the standard web ports."""
        if self.host != other.host:
            return False
        return self.port == other.port or {self.port, other.port} <= _WEB_PORTS


@dataclass(frozen=True)
class Verdict:
    """Whether a request may be made, and one sentence saying why."""

    allowed: bool
    reason: str
    addresses: tuple[str, ...] = ()  # what a looked-up name stood for, when it was looked up


def system_resolver(host: str) -> list[str]:
    """Every address (IPv4 and IPv6) the system's resolver gives for a host name."""
    try:
        # socket.getaddrinfo is looked up at call time on purpose: a test process may
        # replace it with a resolver it controls.
        answers = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(host) from exc
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


def normalize_host(host: str) -> str:
    """A URL's host as compared and judged: lower case, no brackets, final dot or zone."""
    # Not percent-decoded: the connection would not decode it either, so an encoded host
    # fails to resolve here and is refused (fail closed) rather than judged as another.
    host = host.strip().lower()
    host = host.removeprefix("[").removesuffix("]")
    host = host.partition("%")[0]  # an IPv6 zone (fe80::1%eth0) says which link, not where
    return host[:-1] if host.endswith(".") and not host.endswith("..") else host


def site_of(url: str) -> Site | None:
    """The site a URL connects to, or None when it names no host (or a bad port)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    host = normalize_host(parts.hostname or "")
    if not host:
        return None
    literal = literal_address(host)
    if literal is not None:  # one address, however it is spelled, is one site
        host = str(literal)
    return Site(host, port if port is not None else _DEFAULT_PORTS.get(parts.scheme.lower()))


def literal_address(host: str) -> IPAddress | None:
    """The address a host is written as, in any spelling the system accepts; else None."""
    host = normalize_host(host)
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return _loose_ipv4(host)


def _loose_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """IPv4 as inet_aton and browsers read it: 1 to 4 parts, each decimal, 0octal or 0xhex."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_ipv4_number(part) for part in parts]
    if any(number is None for number in numbers):
        return None
    *leading, last = [number for number in numbers if number is not None]
    if any(number > 255 for number in leading) or last >= 256 ** (4 - len(leading)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int | None:
    """One part of a loose IPv4 address (decimal, 0-prefixed octal, 0x-prefixed hex)."""
    if part[:2] in ("0x", "0X"):
        digits, base, allowed = part[2:], 16, string.hexdigits
    elif len(part) > 1 and part[0] == "0":
        digits, base, allowed = part[1:], 8, string.octdigits
    else:
        digits, base, allowed = part, 10, string.digits
    if not part or not all(ch in allowed for ch in digits):
        return None
    return int(digits, base) if digits else 0


def internal_kind(address: IPAddress) -> str | None:
    """What kind of internal address this is ("loopback", "private", ...), or None if public."""
    if isinstance(address, ipaddress.IPv4Address):
        return next((kind for net, kind in _IPV4_INTERNAL if address in net), None)
    for net, kind in _IPV6_INTERNAL:
        if address in net:
            return kind
    for inner, form in _embedded_ipv4(address):
        inner_kind = internal_kind(inner)
        if inner_kind:
            return f"{inner_kind} via {form}"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[ipaddress.IPv4Address, str]]:
    """The IPv4 addresses an IPv6 address leads to (mapped, NAT64, 6to4, Teredo)."""
    found = [
        (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), form)
        for net, form in _IPV4_IN_LOW_BITS
        if address in net
    ]
    if address.sixtofour is not None:
        found.append((address.sixtofour, "6to4"))
    if address.teredo is not None:
        found += [(inner, "Teredo") for inner in address.teredo]
    return found


def judge(url: str, source_url: str | None, resolve: Resolver = system_resolver) -> Verdict:
    """May a request for url, led to by the source configured at source_url, be made?"""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "data":
        return Verdict(True, "a data: URL connects nowhere")
    if scheme == "file":
        return Verdict(False, f"refused before connecting: {url} is a file on this machine")
    site = site_of(url)
    if site is None:
        return Verdict(False, f"refused before connecting: {url} names no host to check")
    source_site = site_of(source_url) if source_url else None
    if source_site is not None and site.same_as(source_site):
        return Verdict(True, "the source's own site")
    literal = literal_address(site.host)
    if literal is not None:
        addresses: tuple[str, ...] = ()
        candidates: list[IPAddress] = [literal]
    else:
        try:
            addresses = tuple(resolve(site.host))
        except Unresolvable:
            addresses = ()
        if not addresses:
            return Verdict(False, f"cannot resolve the host name {site.host}")
        candidates = [_parse_answer(answer) for answer in addresses]
    for candidate in candidates:
        kind = internal_kind(candidate)
        if kind:
            written = urlsplit(url).hostname or site.host
            return Verdict(False, _refusal(written, candidate, kind), addresses)
    return Verdict(True, "a public address", addresses)


def _parse_answer(answer: str) -> IPAddress:
    """One resolver answer as an address; an unreadable one counts as unspecified (internal)."""
    try:
        return ipaddress.ip_address(normalize_host(answer))
    except ValueError:
        return ipaddress.IPv6Address("::")


def _refusal(host: str, address: IPAddress, kind: str) -> str:
    """The readable reason stored on the source or logged for the article."""
    what = kind if _plainly(host) == address else f"{address}, {kind}"
    return (
        f"refused before connecting: {host} is an internal address ({what}); only a source"
        " configured at that site may reach it ([crawl] allow_internal)"
    )


def _plainly(host: str) -> IPAddress | None:
    """The address a host is written as in standard notation (not 2130706433), else None."""
    try:
        return ipaddress.ip_address(normalize_host(host))
    except ValueError:
        return None
