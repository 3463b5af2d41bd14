"""One URL per article: strip tracking and AMP, choose a sane canonical, unwrap redirectors."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

import tldextract
from w3lib.url import canonicalize_url

HTTP_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that only say how a reader arrived, never which article it is.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid", "mc_eid",
        "igshid", "_ga", "_gl", "ocid", "ncid", "cmpid", "cmp", "intcmp", "int_cmp", "icid",
        "ito", "guccounter", "guce_referrer", "guce_referrer_sig", "__twitter_impression",
        "ref_src", "ref_url", "smid", "smtyp", "taid", "at_medium", "at_campaign", "rss",
        "ftag", "xtor", "mbid", "mkt_tok", "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp",
        "hsctatracking", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee",
        "fb_action_ids", "fb_action_types", "fb_ref", "fb_source", "action_object_map",
        "action_type_map", "action_ref_map", "s_kwcid", "ef_id", "dicbo", "oborigurl",
        "soc_src", "soc_trk", "sr_share", "sh", "wt.mc_id", "wt_mc", "vero_id", "oly_enc_id",
        "oly_anon_id", "_branch_match_id", "yptr", "spm", "trk", "trkcampaign",
        "nr_email_referer", "traffic_source", "s_cid", "cmp_id", "share_source",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
# `cid` is sometimes a content id (digits) and sometimes a campaign tag ("soc_tw_0301").
CAMPAIGN_CID = re.compile(
    r"^(?=.*[a-z])[a-z0-9]+(?:[_:|.\-][a-z0-9]+)+$|^(?:rss|nl|soc|sm|em|fb|tw)", re.I
)
AMP_QUERY_KEYS = frozenset({"amp", "_amp"})
REDIRECT_PARAMS = ("url", "u", "q", "target", "dest", "destination", "to", "redirect", "r")
REDIRECTOR_PATH = re.compile(
    r"(?:^|/)(?:apiclick|url|redirect|redir|click|clk|out|outbound|go|goto|link|away|exit|"
    r"r|l|track|jump|forward|ext|external)(?:\.(?:aspx?|php|html?|cgi|jsp))?/?$",
    re.I,
)
# A section front's last path segment: a plain word, no digits, no slug hyphens.
SECTION_SEGMENT = re.compile(r"^[a-z]+(?:[_-][a-z]+)?$", re.I)


def clean_url(url: str) -> str:
    """Return the URL without tracking parameters, AMP markers, fragment and default port."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in HTTP_SCHEMES or not parts.hostname:
            return url
        port = parts.port
    except ValueError:
        return url
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username is not None:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    query = urlencode(_kept_query(parts.query))
    path = _strip_amp_path(parts.path) or "/"
    rebuilt = urlunsplit((scheme, netloc, path, query, ""))
    cleaned = canonicalize_url(rebuilt, keep_blank_values=True, keep_fragments=False)
    return _drop_default_port(cleaned)


def _kept_query(query: str) -> list[tuple[str, str]]:
    """Return the query pairs that identify the page (no tracking, no AMP flags)."""
    kept = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        name = key.lower()
        if name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES):
            continue
        if name in AMP_QUERY_KEYS or (name in ("outputtype", "output") and value == "amp"):
            continue
        if name == "cid" and CAMPAIGN_CID.search(value):
            continue
        kept.append((key, value))
    return kept


def _strip_amp_path(path: str) -> str:
    """Remove AMP markers from a URL path."""
    path = re.sub(r"\.amp\.html?$", ".html", path, flags=re.I)
    path = re.sub(r"(?<=[^/])\.amp$", "", path, flags=re.I)
    path = re.sub(r"^/amp(?=/)", "", path, flags=re.I)
    return re.sub(r"/amp(/?)$", r"\1", path, flags=re.I)


def _drop_default_port(url: str) -> str:
    """Remove :80 / :443 that w3lib may have kept."""
    parts = urlsplit(url)
    if parts.port is not None and parts.port == DEFAULT_PORTS.get(parts.scheme):
        netloc = parts.netloc.rsplit(":", 1)[0]
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def is_amp(url: str) -> bool:
    """Whether the URL is an AMP copy of an article."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if (parts.hostname or "").startswith("amp."):
        return True
    if _strip_amp_path(parts.path) != parts.path:
        return True
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in AMP_QUERY_KEYS or (key.lower() == "outputtype" and value == "amp"):
            return True
    return False


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    """A suffix-list extractor that uses the bundled snapshot and never touches the network."""
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


def site_of(url: str) -> str | None:
    """Return the registrable domain of a URL (the host itself for IP addresses)."""
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return None
    if not host:
        return None
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    result = _extractor()(host)
    if not result.suffix:  # a suffix the snapshot does not know (e.g. ".example"): last 2 labels
        return ".".join(host.split(".")[-2:])
    return f"{result.domain}.{result.suffix}" if result.domain else host


def same_site(a: str, b: str) -> bool:
    """Whether two URLs belong to the same registrable domain."""
    site_a = site_of(a)
    return site_a is not None and site_a == site_of(b)


def choose_canonical(page_url: str, declared: str | None) -> str:
    """Return the page's declared canonical URL when it is sane, else the cleaned page URL."""
    fallback = clean_url(page_url)
    if not declared or not declared.strip():
        return fallback
    try:
        resolved = urljoin(page_url.strip(), declared.strip())
        parts = urlsplit(resolved)
    except ValueError:
        return fallback
    if parts.scheme.lower() not in HTTP_SCHEMES or not parts.hostname:
        return fallback
    if not same_site(resolved, page_url) or is_amp(resolved):
        return fallback
    if _is_front_for(resolved, page_url):
        return fallback
    return clean_url(resolved)


def _segments(path: str) -> list[str]:
    """Return the non-empty segments of a URL path."""
    return [segment for segment in path.split("/") if segment]


def _is_front_for(declared: str, page_url: str) -> bool:
    """Whether `declared` is a home page or section front while the page is an article."""
    page = urlsplit(page_url.strip())
    page_segments = _segments(_strip_amp_path(page.path))
    declared_parts = urlsplit(declared)
    declared_segments = _segments(declared_parts.path)
    if not page_segments and not page.query:
        return False  # the page is itself a front; nothing deeper to protect
    if not declared_segments:
        return not declared_parts.query
    if len(declared_segments) >= len(page_segments):
        return False
    last = declared_segments[-1]
    if not SECTION_SEGMENT.match(last):
        return False  # ids and slugs ("123", "alita-2-cast-news") name articles
    is_ancestor = page_segments[: len(declared_segments)] == declared_segments
    return is_ancestor or len(page_segments) - len(declared_segments) >= 2


def unwrap_redirect(url: str) -> str | None:
    """Return the target of a news-search or redirector wrapper link, else None."""
    target = _unwrap_once(url)
    for _ in range(3):  # wrappers are sometimes nested
        inner = _unwrap_once(target) if target else None
        if inner is None:
            break
        target = inner
    return target


def _unwrap_once(url: str) -> str | None:
    """Unwrap one level of redirector link."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in HTTP_SCHEMES or not parts.query:
        return None
    if not REDIRECTOR_PATH.search(parts.path):
        return None
    params = {key.lower(): value for key, value in parse_qsl(parts.query, keep_blank_values=True)}
    for name in REDIRECT_PARAMS:
        target = _as_http_url(params.get(name, ""))
        if target:
            return target
    return None


def _as_http_url(value: str) -> str | None:
    """Return the value as an absolute http(s) URL, decoding it once more if needed."""
    value = value.strip()
    if re.match(r"https?%3a", value, re.I):
        value = unquote(value)
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() in HTTP_SCHEMES and parts.hostname:
        return value
    return None
