"""bench/run.py's bookkeeping: `--only` keeps the other sections' figures with their dates."""

from __future__ import annotations

import subprocess
import sys

from bench.run import SECTIONS, collect, report, table
from tests.helpers import ROOT

EARLIER = {
    "machine": "x86_64, 2 cores",
    "date": "2026-12-06T06:33:17+00:00",
    "throughput": {"pipeline_vs_bare": {"median": 0.2023, "min": 0.19, "max": 0.21}},
    "pipeline_vs_bare": 0.2023,
    "delivery": {"digests_per_s": {"median": 79.2, "min": 75.0, "max": 81.0}},
    "digests_per_s": 79.2,
}


def test_sections_not_rerun_keep_their_figures_and_the_date_they_ran() -> None:
    results = collect(2000, 3, quick=True, only=(), earlier=EARLIER)
    assert results["pipeline_vs_bare"] == 0.2023
    assert results["digests_per_s"] == 79.2
    assert results["delivery"] == EARLIER["delivery"]
    assert results["section_dates"] == {
        "throughput": EARLIER["date"],
        "delivery": EARLIER["date"],
    }
    assert results["date"] != EARLIER["date"]
    shown = report(results, 2000, 3)
    assert "Kept from earlier runs (`--only` reran the rest): throughput (2026-12-06)" in shown
    assert "| 0.2023 | >= 0.6 | NO |" in table(results)


def test_a_full_run_names_no_earlier_section() -> None:
    results = {**EARLIER, "section_dates": dict.fromkeys(SECTIONS, EARLIER["date"])}
    assert "Kept from earlier" not in report(results, 2000, 3)


def test_an_unknown_section_is_refused_before_anything_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--only", "throughput,speed"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no section speed" in done.stderr


def test_the_report_says_what_a_page_costs_each_contender_in_cpu() -> None:
    throughput = {
        name: {"cpu_ms_per_page": {"median": ms, "min": ms, "max": ms}}
        for name, ms in (("bare", 2.31), ("sequelwatch", 12.64), ("trafilatura", 4.0))
    }
    throughput["news-please"] = {"pages_per_s": None, "reason": "not installed"}
    shown = report({**EARLIER, "throughput": throughput}, 2000, 3)
    assert "ms (median, all of a contender's processes): the bare spider 2.3," in shown
    assert "sequelwatch 12.6, trafilatura 4.0." in shown
    # an older results.json without the figure still makes a report
    assert "CPU per page" not in report(EARLIER, 2000, 3)
