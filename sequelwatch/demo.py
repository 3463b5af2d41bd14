"""`make demo`: the whole job end to end, offline, on the bundled sample world."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import config
from pipeline.store import Store
from sequelwatch.sampleworld.server import SampleWorld, serve

HERE = Path(__file__).parent
SAMPLE_SOURCES = HERE / "sampleworld" / "sources.toml"
TOPIC = Path(config.__file__).parent / "topics" / "alita-battle-angel-2.toml"


def write_config(folder: Path, base_url: str, topic: Path = TOPIC) -> Path:
    """Write a configuration for the sample world served at base_url; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = SAMPLE_SOURCES.read_text(encoding="utf-8").replace("@@BASE@@", base_url)
    (folder / "sources.toml").write_text(sources, encoding="utf-8")
    path = folder / "sequelwatch.toml"
    path.write_text(
        f'database = "sequelwatch.db"\n'
        f"topic = {str(topic)!r}\n"
        f'sources = "sources.toml"\n\n'
        f"[crawl]\n"
        f"download_delay = 0      # local sources: as fast as the per-host concurrency allows\n"
        f"concurrency_per_host = 4\n"
        f"timeout = 10.0\n"
        f"retries = 1\n",
        encoding="utf-8",
    )
    return path


def crawl_once(config_path: Path, echo: Callable[[str], None]) -> tuple[int, float]:
    """Run `sequelwatch crawl` as its own process (a fresh reactor); return code and seconds."""
    started = time.monotonic()
    env = dict(os.environ, SEQUELWATCH_CONFIG=str(config_path))
    done = subprocess.run(
        [sys.executable, "-m", "sequelwatch", "crawl"], env=env, capture_output=True, text=True
    )
    echo(done.stdout.rstrip())
    if done.returncode:
        echo(done.stderr.rstrip())
    return done.returncode, time.monotonic() - started


def _requests(world: SampleWorld) -> int:
    """How many requests the sample world has answered since its log was cleared."""
    count = len(world.requests)
    world.clear_log()
    return count


def run_demo(keep: Path | None, echo: Callable[[str], None]) -> None:
    """Serve the sample world, crawl it twice, and print what was kept and what it cost."""
    with tempfile.TemporaryDirectory(prefix="sequelwatch-demo-") as scratch:
        folder = keep or Path(scratch)
        with serve() as world:
            config_path = write_config(folder, world.base_url)
            echo(f"sample world at {world.base_url}; store at {folder / 'sequelwatch.db'}\n")
            echo("== first crawl")
            code, first_seconds = crawl_once(config_path, echo)
            first_requests = _requests(world)
            if code:
                raise RuntimeError("the first crawl failed (see above)")
            echo("\n== second crawl, right after (conditional GET, known URLs skipped)")
            _, second_seconds = crawl_once(config_path, echo)
            second_requests = _requests(world)
        _print_articles(folder / "sequelwatch.db", echo)
        echo(
            f"\nfirst crawl: {first_requests} requests in {first_seconds:.1f} s;"
            f" second crawl: {second_requests} requests in {second_seconds:.1f} s"
        )


def _print_articles(database: Path, echo: Callable[[str], None]) -> None:
    """List the articles kept, with outlet and relevance."""
    store = Store(database, create=False)
    try:
        rows = list(store.export_rows())
        dropped = store.article_count(relevant_only=False) - len(rows)
    finally:
        store.close()
    echo(f"\n== {len(rows)} articles about the sequel kept ({dropped} fetched and dropped)")
    for row in rows:
        flag = " (unresolved)" if row["unresolved"] else ""
        echo(f"  {row['relevance']:.2f}  {row['outlet'] or '?'}: {row['title']}{flag}")
