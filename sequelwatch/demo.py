"""`make demo`: the whole job end to end, offline, on the bundled sample world."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import config
from pipeline.store import Store
from sequelwatch.sampleworld.server import SampleWorld, serve

HERE = Path(__file__).parent
SAMPLE_SOURCES = HERE / "sampleworld" / "sources.toml"
TOPIC = Path(config.__file__).parent / "topics" / "alita-battle-angel-2.toml"
DEMO_FOLDER = Path("data") / "demo"


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


def run_demo(folder: Path | None, echo: Callable[[str], None]) -> None:
    """Serve the sample world, crawl it twice, print what was kept, and write a digest."""
    folder = folder or DEMO_FOLDER
    _clear(folder)
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
    _send_digest(config_path, echo)


def _clear(folder: Path) -> None:
    """Remove what an earlier demo left in the folder (only the demo's own files)."""
    for name in ("sequelwatch.db", "sequelwatch.db-wal", "sequelwatch.db-shm"):
        (folder / name).unlink(missing_ok=True)
    outbox = folder / "data" / "outbox"
    if outbox.is_dir():
        shutil.rmtree(outbox)


def _send_digest(config_path: Path, echo: Callable[[str], None]) -> None:
    """Subscribe a demo reader and write their digest of the sample world to the outbox."""
    from alerts.delivery import transport_for
    from alerts.digest import Postman, outbox_files
    from alerts.subscribers import choices, subscribe

    settings = config.load(config_path)
    store = Store(settings.database)
    try:
        known = tuple(settings.topic.categories)
        subscribe(
            store,
            "reader@example.org",
            choices(None, "daily", "Europe/Rome", known),
            confirmed=True,
        )
        postman = Postman(store, settings, transport_for(settings.delivery, settings.outbox, {}))
        report = postman.run()
    finally:
        store.close()
    echo(f"\n== digest for reader@example.org: {', '.join(report.sent) or 'nothing new'}")
    files = outbox_files(settings.outbox)
    if files:
        echo(f"outbox message: {files[-1]}")
        echo(f"web copy: {postman.web_copy}")


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
