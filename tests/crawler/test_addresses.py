"""The internal-address policy, with addresses as data and a resolver the test controls."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from crawler.addresses import Unresolvable, judge, literal_address

NAMES = {
    "news.public.test": ["203.0.113.10"],
    "cdn.public.test": ["203.0.113.20", "2001:db8::20"],
    "v6.public.test": ["2001:db8::6"],
    "internal.test": ["10.0.0.7"],
    "mixed.test": ["203.0.113.11", "10.0.0.8"],  # one internal answer is enough
    "mapped.test": ["::ffff:192.168.1.1"],
    "ula.test": ["fd00::5"],
    "intranet.corp": ["10.1.2.3"],
    "wiki.corp": ["10.1.2.4"],
    "localhost": ["127.0.0.1", "::1"],
}
PUBLIC_SOURCE = "http://news.public.test/feed.rss"


def resolve(host: str) -> Sequence[str]:
    """The test's resolver: the NAMES table, and nothing else."""
    try:
        return NAMES[host]
    except KeyError:
        raise Unresolvable(host) from None


# (URL a public source led to, words the refusal must contain)
INTERNAL = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.255.255.254:8080/admin", "loopback"),
    ("http://2130706433/", "127.0.0.1, loopback"),
    ("http://0177.0.0.1/", "127.0.0.1, loopback"),
    ("http://0x7f.0.0.1/", "127.0.0.1, loopback"),
    ("http://0x7f000001/", "127.0.0.1, loopback"),
    ("http://017700000001/", "127.0.0.1, loopback"),
    ("http://127.1/", "127.0.0.1, loopback"),
    ("http://127.0.0.1./", "loopback"),
    ("http://0/", "0.0.0.0, this-host"),
    ("http://0.0.0.0:8000/", "this-host"),
    ("http://10.0.0.7/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://172.31.255.255/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://3232235777/", "192.168.1.1, private"),
    ("http://0xc0.0xa8.1.1/", "192.168.1.1, private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://0xa9fea9fe/latest/meta-data/", "169.254.169.254, link-local"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://192.0.0.170/", "IETF protocol"),
    ("http://224.0.0.1/", "multicast"),
    ("http://255.255.255.255/", "reserved"),
    ("http://[::1]/", "loopback"),
    ("http://[::]/", "unspecified"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25eth0]/", "link-local"),
    ("http://[fd12:3456::1]/", "unique-local"),
    ("http://[fec0::1]/", "site-local"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[::ffff:127.0.0.1]/", "loopback via IPv4-mapped"),
    ("http://[::ffff:a9fe:a9fe]/", "link-local via IPv4-mapped"),
    ("http://[::ffff:0:a00:7]/", "private via IPv4-translated"),
    ("http://[::127.0.0.1]/", "loopback via IPv4-compatible"),
    ("http://[64:ff9b::10.0.0.7]/", "private via NAT64"),
    ("http://[2002:c0a8:101::1]/", "private via 6to4"),
    ("http://internal.test/alita-2.html", "10.0.0.7, private"),
    ("https://internal.test:8443/", "10.0.0.7, private"),
    ("ftp://internal.test/file", "10.0.0.7, private"),
    ("http://mixed.test/", "10.0.0.8, private"),
    ("http://mapped.test/", "private via IPv4-mapped"),
    ("http://ula.test/", "unique-local"),
    ("http://LOCALHOST/", "127.0.0.1, loopback"),
]

PUBLIC = [
    "http://news.public.test/alita-2.html",
    "https://news.public.test:8443/x",
    "http://cdn.public.test/",
    "http://v6.public.test/",
    "http://203.0.113.10/",
    "http://8.8.8.8/",
    "http://93.184.216.34:8080/",
    "http://[2606:4700:4700::1111]/",
    "http://[2001:db8::1]/",
    "http://100.128.0.1/",  # just past the carrier-grade NAT range
    "http://172.32.0.1/",  # just past 172.16.0.0/12
    "http://192.169.0.1/",
    "http://198.18.0.1/",  # fake-IP proxy clients answer every name from here
    "http://1.1.1.1./",
    "data:text/plain,hello",
]


@pytest.mark.parametrize(("url", "words"), INTERNAL)
def test_a_public_source_may_not_reach_an_internal_address(url: str, words: str) -> None:
    verdict = judge(url, PUBLIC_SOURCE, resolve)
    assert not verdict.allowed
    assert verdict.reason.startswith("refused before connecting: ")
    assert f"{words})" in verdict.reason
    assert "allow_internal" in verdict.reason


@pytest.mark.parametrize("url", PUBLIC)
def test_a_public_address_may_be_reached_from_any_source(url: str) -> None:
    for source in (PUBLIC_SOURCE, "http://127.0.0.1:8123/feed.rss", None):
        assert judge(url, source, resolve).allowed, (url, source)


@pytest.mark.parametrize(
    ("source", "url", "allowed"),
    [
        # configured on loopback: its own site, and nothing else internal
        ("http://127.0.0.1:8123/feed.rss", "http://127.0.0.1:8123/news/alita-2.html", True),
        ("http://127.0.0.1:8123/feed.rss", "http://2130706433:8123/news/", True),
        ("http://127.0.0.1:8123/feed.rss", "http://127.0.0.1:6379/", False),
        ("http://127.0.0.1:8123/feed.rss", "http://127.0.0.2:8123/", False),
        ("http://127.0.0.1:8123/feed.rss", "http://localhost:8123/", False),
        ("http://127.0.0.1:8123/feed.rss", "http://169.254.169.254/", False),
        ("http://127.0.0.1:8123/feed.rss", "http://news.public.test/a.html", True),
        # an intranet name: its own host on the web ports, http or https
        ("http://intranet.corp/feed.rss", "https://intranet.corp/news/a.html", True),
        ("http://intranet.corp/feed.rss", "http://INTRANET.corp./news/a.html", True),
        ("http://intranet.corp/feed.rss", "http://intranet.corp:8080/", False),
        ("http://intranet.corp/feed.rss", "http://wiki.corp/a.html", False),
        ("http://intranet.corp/feed.rss", "http://10.1.2.3/a.html", False),
        ("http://[fd00::5]:8080/feed", "http://[fd00::5]:8080/a.html", True),
        ("http://[fd00::5]:8080/feed", "http://[fd00::6]:8080/a.html", False),
        # a public source earns nothing internal, not even on its own host's other ports
        (PUBLIC_SOURCE, "http://news.public.test/other.html", True),
        (PUBLIC_SOURCE, "http://10.0.0.7/", False),
        (None, "http://127.0.0.1:8123/", False),
    ],
)
def test_only_a_source_configured_at_an_internal_site_may_reach_it(
    source: str | None, url: str, allowed: bool
) -> None:
    assert judge(url, source, resolve).allowed is allowed


def test_a_host_that_cannot_be_resolved_is_refused_not_let_through() -> None:
    verdict = judge("http://nowhere.test/a.html", PUBLIC_SOURCE, resolve)
    assert not verdict.allowed
    assert verdict.reason == "cannot resolve the host name nowhere.test"
    assert not judge("http://%31%32%37.0.0.1/", PUBLIC_SOURCE, resolve).allowed
    assert not judge("http://nowhere.test/", PUBLIC_SOURCE, lambda host: []).allowed


def test_a_file_url_is_refused() -> None:
    verdict = judge("file:///etc/passwd", PUBLIC_SOURCE, resolve)
    assert not verdict.allowed and "a file on this machine" in verdict.reason


def test_the_resolver_is_asked_only_about_names_off_the_sources_site() -> None:
    asked: list[str] = []

    def recording(host: str) -> Sequence[str]:
        asked.append(host)
        return resolve(host)

    judge("http://10.0.0.7/", PUBLIC_SOURCE, recording)
    judge("http://2130706433/", PUBLIC_SOURCE, recording)
    judge("http://news.public.test/same-site.html", PUBLIC_SOURCE, recording)
    judge("http://mixed.test/", PUBLIC_SOURCE, recording)
    assert asked == ["mixed.test"]


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("0x7F.1", "127.0.0.1"),
        ("0x7f.0x0.0x0.0x1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("10.0.258", "10.0.1.2"),
        ("4294967295", "255.255.255.255"),
        ("0x", "0.0.0.0"),
        ("[::ffff:10.0.0.1]", "::ffff:a00:1"),
        ("4294967296", None),
        ("256.0.0.1", None),
        ("1.2.3.4.5", None),
        ("08.0.0.1", None),
        ("0xg.0.0.1", None),
        ("1e3", None),
        ("\u0661.0.0.1", None),  # an Arabic-Indic digit is not a digit here
        ("example.com", None),
        ("", None),
    ],
)
def test_addresses_are_read_in_every_spelling_the_system_accepts(
    host: str, address: str | None
) -> None:
    found = literal_address(host)
    assert (str(found) if found else None) == address
