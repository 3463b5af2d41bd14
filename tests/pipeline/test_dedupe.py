"""Near-duplicates: copies are found through the stored LSH index; rewrites are not copies."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from pipeline.dedupe import (
    Signature,
    best_match,
    best_stored_match,
    excerpt_share,
    may_be_excerpt,
    search_results,
    signature,
    tokens,
)
from pipeline.store import BUCKET_READ, Store

ORIGINAL = """
Producer Jon Landau's successor at Lightstorm told a room of exhibitors on Thursday that the
second Alita film will not reach cinemas before 2030. The company wants James Cameron free of
his Avatar obligations first, and the fifth Avatar film is dated for December 2028. Robert
Rodriguez is still attached to direct, and the studio has not set a budget. Rosa Salazar has
said she is ready whenever the call comes, and the script has been rewritten twice since the
strike ended. Fans who have waited since 2019 will have to wait a while longer, the producer
said, but the project is alive and the team meets every month to keep it moving forward.
"""

REWRITE = """
Don't expect the Alita sequel soon. Speaking to theatre owners, a Lightstorm executive
explained that Cameron's commitments to Pandora come first, which pushes any shoot past the
last Avatar release at the end of 2028. That makes 2030 the earliest realistic date. Rodriguez
remains the director, budget talks have not started, and Salazar keeps saying she is ready.
The company says the creative team still gathers monthly, so the film is far from dead, even
if the wait will stretch well past a decade since the original.
"""


def spin(text: str, rate: float, seed: int = 7) -> str:
    """Swap a share of the words for others, as article spinners do."""
    rng = random.Random(seed)
    words = text.split()
    swaps = ["film", "picture", "movie", "said", "noted", "stated", "soon", "shortly"]
    return " ".join(rng.choice(swaps) if rng.random() < rate else w for w in words)


def test_copies_are_alike_and_rewrites_are_not() -> None:
    original = signature(ORIGINAL)
    assert original is not None
    syndicated = signature(
        "Originally published by The Trade Ledger.\n" + ORIGINAL + "\nShare this."
    )
    edited = signature(ORIGINAL.replace("Thursday", "Wednesday").replace("twice", "three times"))
    spun = signature(spin(ORIGINAL, 0.15))
    rewrite = signature(REWRITE)
    assert syndicated and edited and spun and rewrite
    assert original.jaccard(syndicated) > 0.8
    assert original.jaccard(edited) > 0.7
    assert original.jaccard(spun) > 0.45
    assert original.jaccard(rewrite) < 0.15


def test_short_texts_are_not_compared() -> None:
    assert signature("Alita 2 is happening, says Cameron.") is None


def test_the_index_survives_a_restart_and_finds_only_candidates(tmp_path: Path) -> None:
    from tests.pipeline.test_store import article

    path = tmp_path / "store.db"
    store = Store(path)
    ids = {}
    for name, text in (("original", ORIGINAL), ("rewrite", REWRITE)):
        saved = store.save_article(article(f"https://a.example/{name}"))
        sig = signature(text)
        assert sig is not None
        store.save_signature(saved.id, sig.to_bytes(), sig.buckets())
        ids[name] = saved.id
    store.close()

    reopened = Store(path)
    copy = signature(ORIGINAL + " Share this story.")
    assert copy is not None
    candidates = {
        k: Signature.from_bytes(v) for k, v in reopened.lsh_candidates(copy.buckets()).items()
    }
    assert ids["original"] in candidates
    assert ids["rewrite"] not in candidates
    match = best_match(copy, candidates)
    assert match is not None and match[0] == ids["original"]


def test_stored_signatures_compared_at_once_match_one_at_a_time() -> None:
    rng = random.Random(3)
    original = signature(ORIGINAL)
    assert original is not None
    texts = [spin(ORIGINAL, rate, seed) for rate in (0.05, 0.2, 0.4, 0.7) for seed in range(4)]
    texts += [REWRITE, ORIGINAL]  # an exact copy ties with nothing but itself
    stored = {}
    for text in texts:
        found = signature(text)
        assert found is not None
        stored[rng.randrange(1, 10_000)] = found
    blobs = {article: sig.to_bytes() for article, sig in stored.items()}
    for threshold in (0.1, 0.25, 0.5, 0.99, 1.0):
        assert best_stored_match(original, blobs, threshold) == best_match(
            original, stored, threshold
        )
    tied = {9: stored[next(iter(stored))], 4: stored[next(iter(stored))]}
    assert best_stored_match(original, {k: v.to_bytes() for k, v in tied.items()}, 0.0) == (
        best_match(original, tied, 0.0)
    )
    assert best_stored_match(original, {}, 0.25) is None


def test_an_old_article_is_found_behind_buckets_crowded_by_a_sites_boilerplate(
    tmp_path: Path,
) -> None:
    from tests.pipeline.test_store import article

    footer = (
        "Subscribe to the Marquee Wire newsletter for the week in film, television and games."
        " Our reporters cover the studios, the festivals and the box office every day. Follow"
        " us on every network, send tips to the newsroom, and read our privacy and cookie"
        " policies, our terms of use and our corrections policy before you comment below."
        " Most read: "
    ) + " ".join(f"Headline number {n} about a film in the news this week." for n in range(12))
    rng = random.Random(11)
    words = [f"word{n}" for n in range(5000)]
    store = Store(tmp_path / "store.db")

    def stored(url: str, text: str) -> int:
        saved = store.save_article(article(url))
        sig = signature(text)
        assert sig is not None
        store.save_signature(saved.id, sig.to_bytes(), sig.buckets())
        return saved.id

    original = stored("https://marquee.example/original", ORIGINAL + footer)
    # the same site's later pages: other news, the same footer filling the same buckets
    for number in range(500):
        stored(f"https://marquee.example/{number}", " ".join(rng.sample(words, 40)) + footer)
    copy = signature("Originally published by Marquee Wire. " + ORIGINAL + " Share this story.")
    assert copy is not None

    crowded = store.conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM minhash_bands GROUP BY band, bucket"
        " HAVING count(*) > ?)",
        (BUCKET_READ,),
    ).fetchone()[0]
    match = best_stored_match(copy, store.lsh_candidates(copy.buckets()))

    assert crowded >= 3  # buckets of the footer alone, more than a lookup reads of each
    assert match is not None and match[0] == original


LEAD = (
    "Disney has set a release date for Alita: Battle Angel 2. The sequel will open in theaters"
    " on July 19, 2030, the studio announced Tuesday, and it will be released in IMAX and 3D,"
    " formats Lightstorm Entertainment has pushed on every one of its titles since Avatar"
)


def test_a_news_search_results_page_is_never_compared_as_a_copy() -> None:
    results = (
        f"{LEAD} ...\n\nThe Reel Dispatch · 2 hours ago\n\nMore results for this story:\n\n"
        "'Alita 2' claims a July 2030 slot (Frontrow Brief · 1 hour ago)\n\n"
        "CineNotizie · 40 minutes ago — Alita: Battle Angel 2 avrà una data"
    )
    assert search_results(results)
    assert signature(results) is None
    # other engines write "Outlet - 2 hours ago"
    assert search_results(f"The Reel Dispatch - 2 hours ago\n\n{LEAD} ...")
    # the article it quotes, and an article that mentions a day-old report, are compared
    assert not search_results(LEAD)
    assert signature(LEAD + " and the Avatar sequels.") is not None
    assert not search_results(f"{LEAD}, as Variety reported a day ago.")


def test_a_results_page_whose_lead_is_the_result_line_is_never_compared_as_a_copy() -> None:
    # a news search's snippet page: the story's first lines, with the outlet and its age as
    # the page's lead rather than in its text
    snippet = LEAD + " and the Avatar sequels ..."
    assert signature(snippet) is not None
    assert signature(snippet, "The Reel Dispatch - 3 hours ago") is None
    assert signature(snippet, "Disney dates the sequel for July 2030, in IMAX.") is not None


def test_an_excerpt_shares_nearly_all_its_word_pairs_with_its_original() -> None:
    original = LEAD + ". The date places the film between the two remaining Avatar sequels."
    assert excerpt_share(LEAD + " ... [Continue reading]", original) >= 0.8
    assert excerpt_share("Rosa Salazar will return as Alita, her agent said.", original) == 0.0


def test_only_texts_as_alike_as_an_excerpt_would_be_are_read_word_by_word() -> None:
    # a sixth of a long interview is about a sixth alike to it
    assert may_be_excerpt(0.17, 1_000, 6_000)
    # two articles of about the same length and a tenth alike are no excerpt of each other
    assert not may_be_excerpt(0.1, 5_000, 6_000)
    assert not may_be_excerpt(0.03, 500, 6_000)


def test_tokens_fold_case_and_accents_and_keep_other_characters() -> None:
    # accents and the voicing mark NFKD splits off a kana go; quotes and dashes split words
    assert tokens("Épée “Alita” ガ café—naïve") == ["epee", "alita", "カ", "cafe", "naive"]


def test_minhash_comes_without_scipy_and_datasketch_stays_whole() -> None:
    # datasketch's __init__ imports its LSH classes and with them scipy: a third of a second
    # and tens of megabytes in every process, for classes this project does not use
    code = (
        "import sys, pipeline.dedupe as d\n"
        "assert not any(m.startswith('scipy') for m in sys.modules), 'scipy was imported'\n"
        "import datasketch\n"
        "assert datasketch.MinHash is d.MinHash and datasketch.MinHashLSH\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
