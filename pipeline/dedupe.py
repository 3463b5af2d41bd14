"""Near-duplicates: MinHash signatures of an article's word pairs, banded for LSH lookup.

The bands live in the store (a table indexed by band and bucket), so the index survives
restarts and a lookup touches only the articles that share a band: never a pairwise scan.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import unicodedata
from dataclasses import dataclass
from types import ModuleType

import numpy as np


def _minhash_module() -> ModuleType:
    """datasketch's `minhash` module, imported without the package's `__init__`.

    The package imports all of its LSH classes on import, and they import scipy: a third of
    a second and tens of megabytes in every process (the crawl, its reader, each command),
    for classes this project does not use (its LSH index lives in the store). The bare
    package stands in while `minhash` and `hashfunc` load, then leaves: whoever imports
    `datasketch` itself later gets the whole package, with the same MinHash class.
    """
    if "datasketch" in sys.modules:
        import datasketch.minhash

        return datasketch.minhash
    spec = importlib.util.find_spec("datasketch")
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError("datasketch is not installed")
    sys.modules["datasketch"] = importlib.util.module_from_spec(spec)
    try:
        import datasketch.minhash

        return datasketch.minhash
    finally:
        del sys.modules["datasketch"]


MinHash = _minhash_module().MinHash

NUM_PERM = 192
ROWS = 3  # hash values per band
# 64 bands of 3: an article with Jaccard 0.33 (a word-spun copy) is a candidate 90 % of the
# time, 0.4: 98 %; an unrelated one of the same topic (0.05) under 1 %.
BANDS = 64
SEED = 20261124
MIN_TOKENS = 40  # shorter texts (a feed's headline and summary) are not compared
DUPLICATE_JACCARD = 0.25  # estimated Jaccard of word pairs from which one text copies another
# A scraper's excerpt (the first paragraphs, then "continue reading") is a small part of its
# original, so the two are little alike as wholes (a sixth of the text: Jaccard 0.17); what
# gives it away is that nearly all of its word pairs are the original's.
EXCERPT_FLOOR = 0.05  # estimated Jaccard from which two texts are compared word pair by pair
EXCERPT_SHARE = 0.8  # share of the shorter text's word pairs found in the longer: an excerpt
# An excerpt's Jaccard with its original is about its share of the original's length; two
# texts less than half as alike as that are no excerpt, and are not read to find out.
EXCERPT_FIT = 0.5

_WORD = re.compile(r"\w+", re.UNICODE)
# a news search's results page: "Filmspiegel Online · 1 hour ago — Rosa Salazar bestätigt ...",
# "The Studio Sheet - 2 hours ago"
_RESULT_LINE = re.compile(
    r"(?m)^[^\n·]{2,80}? [·|\u2013\u2014-] (?:\d+|an?|one) (?:min(?:ute)?|hour|day|week)s? ago\b",
    re.IGNORECASE,
)
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=SEED)
_PERMUTATIONS, _SCHEME = _TEMPLATE.permutations, _TEMPLATE.scheme


def _digest(chunk: bytes) -> bytes:
    """A band's 8-byte hash."""
    return hashlib.blake2b(chunk, digest_size=8).digest()


@dataclass(frozen=True, slots=True)
class Signature:
    """An article's MinHash signature and its LSH band buckets."""

    values: np.ndarray  # uint32[NUM_PERM]

    def to_bytes(self) -> bytes:
        """The signature as stored."""
        return self.values.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Signature:
        """A stored signature."""
        return cls(np.frombuffer(blob, dtype="<u4").astype(np.uint32))

    def buckets(self) -> list[tuple[int, int]]:
        """(band, bucket) pairs: a band's values hashed into one signed 64-bit integer."""
        raw, size = self.to_bytes(), ROWS * 4  # a band's values, as bytes
        return [
            (
                band,
                int.from_bytes(
                    _digest(raw[band * size : (band + 1) * size]), "little", signed=True
                ),
            )
            for band in range(BANDS)
        ]

    def jaccard(self, other: Signature) -> float:
        """The estimated Jaccard similarity of the two texts' word pairs."""
        return float(np.count_nonzero(self.values == other.values)) / NUM_PERM


def tokens(text: str) -> list[str]:
    """Lower-cased words without accents: what copies share even when re-typeset."""
    folded = text.casefold()
    if not folded.isascii():  # ASCII has no accents to drop
        folded = unicodedata.normalize("NFKD", folded)
        # only the non-ASCII characters can be combining marks: a call for each of them, not
        # for every character of the text
        folded = _NON_ASCII.sub(_uncombined, folded)
    return _WORD.findall(folded)


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _uncombined(match: re.Match[str]) -> str:
    """A character, or nothing when it is a combining mark (an accent NFKD took apart)."""
    char = match.group()
    return "" if unicodedata.combining(char) else char


def word_pairs(words: list[str]) -> set[str]:
    """The pairs of adjacent words: what a copy shares with its original."""
    return {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}


def excerpt_share(text: str | set[str], other: str) -> float:
    """How much of the shorter text's word pairs the longer one has (0..1); `text` may be
    given as its word pairs already."""
    first = text if isinstance(text, set) else word_pairs(tokens(text))
    second = word_pairs(tokens(other))
    short, long = sorted((first, second), key=len)
    return len(short & long) / len(short) if short else 0.0


def may_be_excerpt(similarity: float, length: int, other_length: int) -> bool:
    """Whether two texts this alike and this long may be an excerpt and its original: the
    estimated Jaccard is near the shorter one's share of the longer's length."""
    short, long = sorted((length, other_length))
    return long > 0 and similarity >= EXCERPT_FLOOR and similarity >= EXCERPT_FIT * short / long


def search_results(text: str) -> bool:
    """Whether a text is a news search's results page: the first lines of a story, then
    other outlets' headlines with their age. It quotes an article without being its copy."""
    return _RESULT_LINE.search(text) is not None


def signature(text: str, description: str = "") -> Signature | None:
    """The MinHash of a text's word pairs; None when the text is too short to compare or
    is a news search's results page (never a copy, nor anyone's original), whether the
    result line ("Trade Signal - 3 hours ago") is in the text or is the page's lead."""
    if search_results(text) or search_results(description):
        return None
    words = tokens(text)
    if len(words) < MIN_TOKENS:
        return None
    pairs = {pair.encode() for pair in word_pairs(words)}
    minhash = MinHash(num_perm=NUM_PERM, seed=SEED, permutations=_PERMUTATIONS, scheme=_SCHEME)
    minhash.update_batch(list(pairs))
    return Signature(minhash.hashvalues.astype(np.uint32))


def best_match(
    mine: Signature, candidates: dict[int, Signature], threshold: float = DUPLICATE_JACCARD
) -> tuple[int, float] | None:
    """The candidate most like this signature, if it is similar enough to be a copy."""
    scored = [(mine.jaccard(sig), article_id) for article_id, sig in candidates.items()]
    scored = [pair for pair in scored if pair[0] >= threshold]
    if not scored:
        return None
    # the most similar; among equals the oldest article (smallest id) is the original
    similarity, article_id = max(scored, key=lambda pair: (pair[0], -pair[1]))
    return article_id, similarity


def best_stored_match(
    mine: Signature, stored: dict[int, bytes], threshold: float = DUPLICATE_JACCARD
) -> tuple[int, float] | None:
    """`best_match` over signatures as stored, compared all at once: a store of 100,000
    gives up to 200 candidates an article, and one at a time they cost a millisecond."""
    if not stored:
        return None
    ids, similarity = _similarities(mine, stored)
    alike = similarity >= threshold
    if not alike.any():
        return None
    # the most similar; among equals the oldest article (smallest id) is the original
    best = max(zip(similarity[alike].tolist(), (-ids[alike]).tolist(), strict=True))
    return -best[1], best[0]


def somewhat_alike(
    mine: Signature, stored: dict[int, bytes], floor: float = EXCERPT_FLOOR
) -> list[tuple[int, float]]:
    """The stored signatures' articles at least `floor` alike to this one, with their
    estimated Jaccard, most alike first."""
    if not stored:
        return []
    ids, similarity = _similarities(mine, stored)
    order = np.argsort(-similarity, kind="stable")
    return [(int(ids[i]), float(similarity[i])) for i in order if similarity[i] >= floor]


def _similarities(mine: Signature, stored: dict[int, bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The stored articles' ids and their estimated Jaccard with this signature, all at once."""
    ids = np.fromiter(stored, dtype=np.int64, count=len(stored))
    values = np.frombuffer(b"".join(stored.values()), dtype="<u4").reshape(len(stored), NUM_PERM)
    return ids, np.count_nonzero(values == mine.values, axis=1) / NUM_PERM
