"""How the near-duplicate lookup grows with the store: `python bench/dedupe_growth.py 1000 10000`.

Fills a store with synthetic articles of one topic (a shared vocabulary, so that unrelated
articles overlap as real ones do, and one copy in ten), then times the lookup of new
articles against the LSH index: candidates returned and milliseconds per lookup.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pipeline.dedupe import Signature, best_match, signature
from pipeline.store import Store

VOCABULARY = [f"w{i}" for i in range(3000)] + ["alita", "sequel", "cameron", "rodriguez"] * 50


def article(rng: random.Random, words: int = 220) -> str:
    """A synthetic article: words drawn from the topic's vocabulary."""
    return " ".join(rng.choice(VOCABULARY) for _ in range(words))


def fill(store: Store, count: int, rng: random.Random) -> None:
    """Store `count` articles' signatures, one in ten a light copy of an earlier one."""
    texts: list[str] = []
    for number in range(count):
        if texts and number % 10 == 0:
            words = rng.choice(texts).split()
            words[rng.randrange(len(words))] = "changed"
            text = " ".join(words)
        else:
            text = article(rng)
        texts.append(text)
        if len(texts) > 200:
            texts.pop(0)
        sig = signature(text)
        assert sig is not None
        store.conn.execute(
            "INSERT INTO articles (id, url, title, first_seen, relevant, relevance,"
            " relevance_reason) VALUES (?, ?, 't', '2026-01-01', 1, 1, 'bench')",
            (number + 1, f"https://bench.example/{number}"),
        )
        store.save_signature(number + 1, sig.to_bytes(), sig.buckets())
    store.conn.commit()


def lookups(store: Store, rng: random.Random, count: int = 200) -> tuple[float, float]:
    """Median milliseconds and candidates per lookup of a new article."""
    times, found = [], []
    for _ in range(count):
        sig = signature(article(rng))
        assert sig is not None
        started = time.perf_counter()
        candidates = store.lsh_candidates(sig.buckets())
        best_match(sig, {k: Signature.from_bytes(v) for k, v in candidates.items()})
        times.append((time.perf_counter() - started) * 1000)
        found.append(len(candidates))
    return statistics.median(times), statistics.mean(found)


def main(sizes: list[int]) -> None:
    """Print one line per store size."""
    for size in sizes:
        rng = random.Random(size)
        with tempfile.TemporaryDirectory() as scratch:
            store = Store(Path(scratch) / "bench.db")
            started = time.perf_counter()
            fill(store, size, rng)
            filled = time.perf_counter() - started
            median, candidates = lookups(store, rng)
            store.close()
        print(
            f"{size:>7} articles: filled in {filled:.1f} s; lookup {median:.2f} ms median,"
            f" {candidates:.1f} candidates"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000])
