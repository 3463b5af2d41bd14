"""`make bench`: every benchmark in one run, as ratios; writes results.json and RESULTS.md.

Each figure is the median of several runs with the min and max beside it (the machines
are shared and noisy: absolute times drift, ratios hold). Targets are those of issue 6.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

# key -> (description, target text, passes(value) or None)
TARGETS: dict[str, tuple[str, str, Callable[[float], bool] | None]] = {
    "pipeline_vs_bare": (
        "sequelwatch pages/s / bare Scrapy spider's",
        ">= 0.6",
        lambda v: v >= 0.6,
    ),
    "trafilatura_vs_ours": (
        "trafilatura --feed pages/s / ours",
        "< 1 (ours ahead)",
        lambda v: v < 1,
    ),
    "newsplease_vs_ours": ("news-please pages/s / ours", "< 1 (ours ahead)", lambda v: v < 1),
    "recrawl_bytes_share": ("second crawl's bytes / first's", "<= 0.05", lambda v: v <= 0.05),
    "requests_per_kept": (
        "requests per article kept (1 % relevant feed)",
        "<= 1.5",
        lambda v: v <= 1.5,
    ),
    "ingest_100k_vs_1k": ("ingest cost at 100,000 / at 1,000", "<= 1.5", lambda v: v <= 1.5),
    "crawl_peak_rss_mb": (
        "peak RSS ingesting into the largest store measured (MB)",
        "< 300",
        lambda v: v < 300,
    ),
    "digests_per_s": (
        "digests delivered per second (1,000 subscribers)",
        ">= 100",
        lambda v: v >= 100,
    ),
    "daemon_idle_rss_mb": ("daemon idle for a minute, RSS (MB)", "< 100", lambda v: v < 100),
}


def machine() -> str:
    """The machine in one line."""
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    memory = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "?",
    )
    return (
        f"{platform.machine()}, {cores} cores, {int(memory) // 1024 // 1024} GiB,"
        f" Python {platform.python_version()}, {platform.platform()}"
    )


SECTIONS = ("throughput", "steady_state", "selectivity", "growth", "delivery", "daemon_idle")


def collect(
    pages: int,
    runs: int,
    quick: bool,
    only: tuple[str, ...] = SECTIONS,
    earlier: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the benchmarks (the `only` sections; the others' figures are kept from the
    `earlier` results) and gather their figures, with the date each section ran."""
    from bench import daemon_idle, delivery, growth, selectivity, throughput

    now = datetime.now(UTC).isoformat()
    results: dict[str, Any] = {"machine": machine(), "date": now}
    earlier = earlier or {}
    dates = dict(earlier.get("section_dates") or {})
    for name in SECTIONS:
        if name not in only and name in earlier:
            results[name] = earlier[name]
            dates.setdefault(name, earlier.get("date", "?"))
            for key in TARGETS:
                if key in earlier and key not in results and _section_of(earlier, key) == name:
                    results[key] = earlier[key]
    results["section_dates"] = dates
    sections = {
        "throughput": lambda: throughput.throughput(pages, runs),
        "steady_state": lambda: throughput.steady_state(pages, runs),
        "selectivity": lambda: selectivity.selectivity(5000, 0.01, runs),
        "growth": lambda: growth.growth(
            [1000, 10000] if quick else [1000, 10000, 100000], 1000, runs
        ),
        "delivery": lambda: delivery.delivery(1000, 20, runs),
        "daemon_idle": lambda: daemon_idle.daemon_idle(60.0),
    }
    for name, run in sections.items():
        if name not in only:
            continue
        dates[name] = now
        print(f"== {name}", flush=True)
        try:
            figures = run()
        except Exception as exc:  # one broken benchmark must not hide the others
            figures = {"error": f"{type(exc).__name__}: {exc}"}
        results[name] = figures
        for key in TARGETS:
            if key in figures and key not in results:
                value = figures[key]  # a {median, min, max} figure keeps its median here
                results[key] = value.get("median") if isinstance(value, dict) else value
        print(json.dumps(figures, indent=2, default=str), flush=True)
    return results


def _section_of(results: dict[str, Any], key: str) -> str | None:
    """The section whose figures hold a target's key."""
    return next((n for n in SECTIONS if key in (results.get(n) or {})), None)


def table(results: dict[str, Any]) -> str:
    """The figures against their targets, as a Markdown table."""
    lines = ["| figure | value | target | met |", "|---|---|---|---|"]
    for key, (what, target, passes) in TARGETS.items():
        value = results.get(key)
        met = "n/a" if value is None or passes is None else ("yes" if passes(value) else "NO")
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        lines.append(f"| {what} (`{key}`) | {shown} | {target} | {met} |")
    return "\n".join(lines)


def report(results: dict[str, Any], pages: int, runs: int) -> str:
    """RESULTS.md: the machine, the date, the table, and what a quick run left out."""
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {results['machine']}  ",
        f"Date: {results['date']}  ",
        *_older_sections(results),
        f"Pages: {pages}; runs per figure: {runs} (median; min and max in results.json).",
        "",
        table(results),
        "",
    ]
    cpu = _cpu_line(results.get("throughput") or {})
    if cpu:
        lines += [cpu, ""]
    growth = results.get("growth") or {}
    at = growth.get("crawl_peak_rss_at")
    if results.get("ingest_100k_vs_1k") is None and at is not None:
        lines += [
            f"This run left out the 100,000-article store (`--quick`): the growth"
            f" figures stop at {at:,} articles, and the peak RSS is the one there.",
            "",
        ]
    lines += ["Details of every section are in `bench/results.json`.", ""]
    return "\n".join(lines)


def _cpu_line(throughput: dict[str, Any]) -> str | None:
    """What a page costs each contender in CPU, on all the cores it used: the work behind
    the pages per second."""
    names = {"bare": "the bare spider", "sequelwatch": "sequelwatch"}
    names |= {"trafilatura": "trafilatura", "news-please": "news-please"}
    costs = [
        f"{label} {throughput[name]['cpu_ms_per_page']['median']:.1f}"
        for name, label in names.items()
        if isinstance(throughput.get(name), dict) and "cpu_ms_per_page" in throughput[name]
    ]
    if not costs:
        return None
    return "CPU per page in the throughput runs, ms (median, all of a contender's processes): " + (
        ", ".join(costs) + "."
    )


def _older_sections(results: dict[str, Any]) -> list[str]:
    """A line naming the sections kept from an earlier run (`--only`), with their dates."""
    dates = results.get("section_dates") or {}
    older = [f"{name} ({when[:10]})" for name, when in dates.items() if when != results["date"]]
    if not older:
        return []
    return [f"Kept from earlier runs (`--only` reran the rest): {', '.join(older)}  "]


def main() -> None:
    """Parse the flags, run, print the table, write results.json and RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="Skip the 100,000-article store.")
    parser.add_argument(
        "--report", action="store_true", help="Only rewrite RESULTS.md from results.json."
    )
    parser.add_argument(
        "--only",
        help=f"Rerun these sections (comma-separated, of {', '.join(SECTIONS)}) and keep the"
        " others' figures from results.json, each with the date it ran.",
    )
    args = parser.parse_args()
    if args.report:
        results = json.loads((HERE / "results.json").read_text())
    elif args.only:
        only = tuple(name.strip() for name in args.only.split(",") if name.strip())
        unknown = [name for name in only if name not in SECTIONS]
        if unknown:
            parser.error(f"no section {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
        path = HERE / "results.json"
        earlier = json.loads(path.read_text()) if path.exists() else {}
        results = collect(args.pages, args.runs, args.quick, only, earlier)
        path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    else:
        results = collect(args.pages, args.runs, args.quick)
        (HERE / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (HERE / "RESULTS.md").write_text(report(results, args.pages, args.runs))
    print("\n" + table(results))


if __name__ == "__main__":
    main()
