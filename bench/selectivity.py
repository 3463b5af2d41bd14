"""Requests per article kept, on a feed where few entries are about the sequel.

`python bench/selectivity.py --entries 5000 --share 0.01 --runs 3`

One RSS feed of `entries` items, `share` of them about Alita: Battle Angel 2 and the rest
about other films (their titles, summaries and categories never name a topic term).
sequelwatch crawls it on a fresh store; the server counts every request it answers,
robots.txt and the feed itself included. The naive crawler fetches every entry:
entries / sequel articles requests per article (100 at 1 %), before robots.txt and feed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.site import serve_site  # noqa: E402
from bench.throughput import crawl, spread, stored, write_config  # noqa: E402


def selectivity(entries: int = 5000, share: float = 0.01, runs: int = 3) -> dict[str, Any]:
    """Requests made per article kept (robots.txt and the feed counted), median of runs."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-selectivity-") as tmp,
        serve_site(
            entries, Path(tmp), sequel_share=share, others="films", per_feed=entries
        ) as served,
    ):
        rows = []
        for r in range(runs):
            config_path = write_config(Path(tmp) / f"run{r}", served.site.feeds)
            before = served.traffic()
            seconds = crawl(config_path)
            used = served.traffic() - before
            counts = stored(config_path)
            rows.append({"requests": used.requests, "seconds": round(seconds, 3), **counts})
        sequel = served.site.sequel_articles
    ratios = [row["requests"] / row["kept"] if row["kept"] else float("inf") for row in rows]
    return {
        "entries": entries,
        "share": share,
        "runs": runs,
        "server": served.server,
        "sequel_entries": sequel,
        "runs_detail": rows,
        "requests_per_kept": spread(ratios),
        "naive_requests_per_kept": round(entries / sequel, 2) if sequel else None,
        "counted": "every request the server answered: robots.txt, the feed, article pages",
    }


def main() -> None:
    """Run the selectivity bench and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--share", type=float, default=0.01)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(selectivity(args.entries, args.share, args.runs), indent=2))


if __name__ == "__main__":
    main()
