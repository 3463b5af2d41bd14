"""Readers beside a writing daemon: `query`, `search` and `export` never see a locked store.

The real daemon crawls the sample world every few seconds while `reprocess` rewrites the
stories in a loop; four reader threads run the read commands as real processes the whole
time. Then `query` is given writes, a schema PRAGMA and an ATTACH: each is refused in one
clear sentence and the store is as it was.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sequelwatch.demo import write_config
from sequelwatch.sampleworld.server import SampleWorld
from tests.helpers import daemon_events, run_cli, start_daemon

pytestmark = pytest.mark.slow

READERS = 4
READING_SECONDS = 20.0


def json_rows(out: str) -> list[Any]:
    """Output of a --json command: one JSON list."""
    rows = json.loads(out)
    assert isinstance(rows, list)
    return rows


def jsonl_rows(out: str) -> list[Any]:
    """Output of `export`: one JSON object per line."""
    return [json.loads(line) for line in out.splitlines()]


# (arguments, how to parse the output)
READS: list[tuple[tuple[str, ...], Callable[[str], list[Any]]]] = [
    (("query", "SELECT count(*) AS n FROM articles", "--json"), json_rows),
    (("search", "Salazar", "--json"), json_rows),
    (("export", "--format", "jsonl"), jsonl_rows),
]


@dataclass
class Outcome:
    """One finished command: what ran, how it ended, when it ran."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str
    started: float  # time.monotonic()
    ended: float

    def overlaps(self, other: Outcome) -> bool:
        """Whether the two ran at the same time for a while."""
        return self.started < other.ended and other.started < self.ended


def problem(outcome: Outcome, parse: Callable[[str], list[Any]] | None) -> str | None:
    """What is wrong with one run of a command, or None."""
    said = f"{' '.join(outcome.args)} -> {outcome.code}: {outcome.err.strip()[-400:]}"
    if outcome.code != 0 or "locked" in outcome.err.lower():
        return said
    if parse is not None:
        try:
            parse(outcome.out)
        except (ValueError, AssertionError):
            return f"{said} (unreadable output {outcome.out[:200]!r})"
    return None


def run(config_path: Path, args: tuple[str, ...]) -> Outcome:
    """Run one command as its own process and time it."""
    started = time.monotonic()
    done = run_cli(*args, config_path=config_path, timeout=60)
    return Outcome(args, done.returncode, done.stdout, done.stderr, started, time.monotonic())


def keep_running(
    config_path: Path,
    commands: list[tuple[tuple[str, ...], Callable[[str], list[Any]] | None]],
    until: float,
    outcomes: list[tuple[Outcome, str | None]],
    first: int = 0,
) -> None:
    """Run the commands in turn until the deadline, keeping each outcome and its problem."""
    turn = first
    while time.monotonic() < until:
        args, parse = commands[turn % len(commands)]
        outcome = run(config_path, args)
        outcomes.append((outcome, problem(outcome, parse)))
        turn += 1


def busy_config(folder: Path, world: SampleWorld) -> Path:
    """The sample world crawled every 2 s, no web face, messages to the outbox."""
    path = write_config(folder, world.base_url)
    sources = folder / "sources.toml"
    sources.write_text(
        "\n".join(
            'every = "2s"' if line.startswith("every = ") else line
            for line in sources.read_text(encoding="utf-8").splitlines()
        ),
        encoding="utf-8",
    )
    path.write_text(
        path.read_text(encoding="utf-8")
        + '\n[schedule]\ngrace = "2s"\njitter = 0\n[web]\nenabled = false\n',
        encoding="utf-8",
    )
    return path


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll until check() holds, or fail saying what never happened."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.2)


def test_readers_never_see_a_locked_store_while_the_daemon_and_reprocess_write(
    world: SampleWorld, tmp_path: Path
) -> None:
    config_path = busy_config(tmp_path, world)
    fan = ("subscribe", "fan@example.org", "--frequency", "instant", "--confirmed")
    run_cli(*fan, config_path=config_path, check=True)  # the daemon mails too
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config_path, log)
    try:
        wait_for(
            lambda: any(e.startswith("crawl finished") for e in daemon_events(log)), 40, "a crawl"
        )
        crawls_before = sum(e.startswith("crawl started") for e in daemon_events(log))
        until = time.monotonic() + READING_SECONDS
        read: list[tuple[Outcome, str | None]] = []
        written: list[tuple[Outcome, str | None]] = []
        threads = [
            threading.Thread(target=keep_running, args=(config_path, READS, until, read, n))
            for n in range(READERS)
        ]
        threads.append(
            threading.Thread(
                target=keep_running, args=(config_path, [(("reprocess",), None)], until, written)
            )
        )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(READING_SECONDS + 90)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(60) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)

    events = daemon_events(log)
    stopping = next(i for i, e in enumerate(events) if e.startswith("stopping"))
    # (a crawl still running at the stop is ended on purpose and need not exit 0)
    crawls = [e for e in events[:stopping] if e.startswith("crawl finished")]
    # The daemon crawled (and wrote) while the readers read, not only before.
    assert sum(e.startswith("crawl started") for e in events) > crawls_before, events
    assert not [e for e in events if "locked" in e.lower()], events
    assert all("; exit 0;" in e for e in crawls), crawls
    assert {o.args[0] for o, _ in read} == {"query", "search", "export"}
    assert [p for _, p in read if p] == []
    assert written and [p for _, p in written if p] == []
    # Many reads ran while reprocess was rewriting the stories (however loaded the machine).
    during = [r for r, _ in read if any(r.overlaps(w) for w, _ in written)]
    assert len(during) >= READERS, f"{len(during)} of {len(read)} reads met a reprocess"
    found = [o for o, _ in read if o.args[0] == "search" and json_rows(o.out)]
    assert found, "search never found Salazar"
    # Nor did a crawl's writes meet a lock (they would be stored as source errors).
    errors = run_cli(
        "query",
        "SELECT error FROM source_runs WHERE error IS NOT NULL"
        " UNION ALL SELECT last_error FROM sources WHERE last_error IS NOT NULL",
        "--json",
        config_path=config_path,
        check=True,
    )
    assert "locked" not in errors.stdout.lower(), errors.stdout


def fingerprint(config_path: Path) -> str:
    """The schema and the row counts of the store, as `query` reads them."""
    sql = (
        "SELECT (SELECT group_concat(sql, ';') FROM sqlite_master) AS schema,"
        " (SELECT count(*) FROM articles) AS articles,"
        " (SELECT count(*) FROM subscribers) AS subscribers"
    )
    return run_cli("query", sql, "--json", config_path=config_path, check=True).stdout


REFUSED = {
    "DELETE FROM articles": "writing statements are refused",
    "INSERT INTO subscribers (email, categories, frequency, token, created_at)"
    " VALUES ('x@example.org', 'cast', 'daily', 't', '2026')": "writing statements are refused",
    "PRAGMA writable_schema = 1": "PRAGMA writable_schema = 1 is refused",
    "ATTACH DATABASE '{other}' AS other": "ATTACH and VACUUM INTO are refused",
    "VACUUM INTO '{other}'": "ATTACH and VACUUM INTO are refused",
}


def test_query_cannot_write_and_says_so_in_one_sentence(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, "http://127.0.0.1:9")  # never crawled here
    run_cli("subscribe", "fan@example.org", "--confirmed", config_path=config_path, check=True)
    before = fingerprint(config_path)
    other = tmp_path / "elsewhere" / "other.db"
    other.parent.mkdir()
    for sql, said in REFUSED.items():
        refused = run_cli("query", sql.format(other=other), config_path=config_path)
        assert refused.returncode == 1, sql
        assert refused.stderr.startswith("Error: `query` is read-only: "), refused.stderr
        assert said in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1  # one sentence, no traceback
    assert fingerprint(config_path) == before
    assert not other.exists()
