"""The `sequelwatch` command: parses arguments, calls the library, reports errors plainly."""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click
from tabulate import tabulate

import config
from pipeline.model import topic_model
from pipeline.store import Store, StoreError, read_only_query, utcnow

logger = logging.getLogger("sequelwatch")

# Set by a command whose process has nothing left to clean up when it returns (a crawl: its
# store closed, its reader processes gone): the console script then ends it at once.
_done: dict[str, bool] = {"exit_at_once": False}


def _setup_logging(verbose: int) -> None:
    """Progress lines on stderr; Scrapy's own chatter only when asked for."""
    level = logging.DEBUG if verbose > 1 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if verbose == 0 else level)
    for name in ("sequelwatch", "crawler"):
        logging.getLogger(name).setLevel(level)
    if verbose < 2:
        for name in ("scrapy", "twisted", "trafilatura", "htmldate", "py.warnings"):
            logging.getLogger(name).setLevel(logging.ERROR)


def _settings(ctx: click.Context) -> config.Settings:
    """Load the configuration once per command, turning errors into one clear message."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = config.load(obj.get("config_path"))
            topic_model(obj["settings"].topic)  # a broken model file fails here, not mid-crawl
        except config.ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    settings: config.Settings = obj["settings"]
    return settings


def _echo_json(data: Any) -> None:
    """Print JSON for scripts."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain text table of the chosen columns."""
    return tabulate([[r.get(c) for c in columns] for r in rows], headers=list(columns))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="SEQUELWATCH_CONFIG",
    help="Configuration file (default: $SEQUELWATCH_CONFIG, else config/sequelwatch.toml).",
)
@click.option("-v", "--verbose", count=True, help="More progress (-v); Scrapy's own log (-vv).")
@click.version_option(config.__version__, prog_name="sequelwatch")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Follow the news about one upcoming film: crawl, keep what matters, query it."""
    ctx.ensure_object(dict)["config_path"] = config_path
    _setup_logging(verbose + 1)


@cli.command()
@click.option("--source", "names", multiple=True, help="Crawl only this source (repeatable).")
@click.pass_context
def crawl(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Crawl the enabled sources once and store what is about the topic."""
    from crawler.run import UnknownSource
    from crawler.run import crawl as run_crawl

    settings = _settings(ctx)
    try:
        report = run_crawl(settings, names)
    except UnknownSource as exc:
        raise click.ClickException(str(exc)) from None
    columns = [
        "source",
        "status",
        "requests",
        "not_modified",
        "new_articles",
        "prefiltered",
        "irrelevant",
        "known",
        "errors",
        "error",
    ]
    click.echo(_table(report.sources, columns))
    run = report.run
    click.echo(
        f"\nrun {run['id']}: {run['status']}, {run['requests']} requests,"
        f" {run['not_modified']} not modified, {run['new_articles']} new articles,"
        f" {run['prefiltered']} skipped by the pre-filter, {run['errors']} errors"
    )
    if report.all_failed:
        raise click.ClickException("every source failed (see the table above)")
    if run["new_articles"]:
        _instant_alerts(settings)
    # Tearing down a big crawl's heap object by object took half a second after its work
    # was done: everything is written and closed, so the console script skips it.
    _done["exit_at_once"] = True


def _instant_alerts(settings: config.Settings) -> None:
    """After a crawl that found something: one message per instant subscriber with news."""
    from sequelwatch.cli_alerts import _postman, echo_report

    store = Store(settings.database)
    try:
        report = _postman(settings, store).run(frequency="instant")
    finally:
        store.close()
    if report.sent or report.retried or report.failed or report.rejected:
        click.echo("\ninstant alerts:")
        echo_report(report, settings)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--runs", default=5, show_default=True, help="How many recent runs to show.")
@click.pass_context
def status(ctx: click.Context, as_json: bool, runs: int) -> None:
    """Each source's health and last result, and the latest runs."""
    settings = _settings(ctx)
    store = Store(settings.database)
    try:
        store.sync_sources(settings.sources)
        sources = store.sources_health()
        recent = store.recent_runs(runs)
        articles = store.article_count()
    finally:
        store.close()
    from alerts.health import health_of
    from sequelwatch.daemon import daemon_info

    configured = {s.name for s in settings.sources}
    now = utcnow()
    for row in sources:
        row["configured"] = row["name"] in configured
        row["enabled"] = bool(row["enabled"])
        row["health"] = health_of(row, settings, now)
    info = daemon_info(settings.database)
    jobs = info.pop("jobs", [])
    model = topic_model(settings.topic)
    learned = (
        None
        if model is None
        else {"file": settings.topic.model, "articles": model.articles, "terms": model.terms}
    )
    if as_json:
        _echo_json(
            {
                "database": str(settings.database),
                "articles": articles,
                "topic": {"name": settings.topic.name, "model": learned},
                "daemon": info,
                "jobs": jobs,
                "sources": sources,
                "runs": recent,
            }
        )
        return
    running = (
        f"running, pid {info['pid']}, since {info['started']}" if info["running"] else "not running"
    )
    click.echo(f"store: {settings.database} ({articles} articles about the topic)")
    decided = (
        "its rules alone"
        if model is None
        else f"its rules and a model learned from {model.articles:,} labelled articles"
    )
    click.echo(f"topic: {settings.topic.name}, decided by {decided}")
    click.echo(f"daemon: {running}\n")
    if jobs:
        click.echo(_table(jobs, ["id", "next_run"]) + "\n")
    for row in sources:
        last = row["last_result"]
        row["last_result"] = (
            f"{last['new_articles']} new, {last['requests']} requests" if last else "never crawled"
        )
    click.echo(
        _table(
            sources,
            [
                "name",
                "kind",
                "enabled",
                "health",
                "last_status",
                "failures",
                "last_fetched",
                "last_result",
                "last_error",
            ],
        )
    )
    if recent:
        click.echo("\nlatest runs:")
        click.echo(
            _table(
                recent,
                [
                    "id",
                    "started",
                    "finished",
                    "status",
                    "requests",
                    "not_modified",
                    "new_articles",
                    "errors",
                ],
            )
        )


@cli.command()
@click.argument("terms", nargs=-1, required=True)
@click.option("--limit", default=20, show_default=True, help="How many results.")
@click.option("--all", "everything", is_flag=True, help="Include articles judged off-topic.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def search(
    ctx: click.Context, terms: tuple[str, ...], limit: int, everything: bool, as_json: bool
) -> None:
    """Full-text search over the stored articles' titles and texts."""
    settings = _settings(ctx)
    rows = _with_store(
        settings, lambda store: store.search(" ".join(terms), limit=limit, everything=everything)
    )
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['published'] or '':.10}  {row['outlet'] or ''}: {row['title']}")
        click.echo(f"    {row['url']}\n    {row['snippet']}")
    if not rows:
        click.echo("no matching articles")


@cli.command()
@click.argument("sql")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def query(ctx: click.Context, sql: str, as_json: bool) -> None:
    """Run one read-only SQL statement against the store (writes are refused)."""
    settings = _settings(ctx)
    try:
        rows = read_only_query(settings.database, sql)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _echo_json(rows)
    elif rows:
        click.echo(_table(rows, list(rows[0])))


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file instead of standard output.",
)
@click.pass_context
def export(ctx: click.Context, fmt: str, output: str | None) -> None:
    """Every article about the topic, one row each (JSON Lines or CSV)."""
    settings = _settings(ctx)

    def write(store: Store) -> None:
        """Stream the rows out while the store is open."""
        with click.open_file(output or "-", "w", encoding="utf-8") as handle:
            _write_rows(handle, store.export_rows(), fmt)

    _with_store(settings, write)


def _write_rows(handle: Any, rows: Iterable[dict[str, Any]], fmt: str) -> None:
    """Write export rows as JSON Lines or CSV (lists joined by a space / comma)."""
    if fmt == "jsonl":
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    writer: csv.DictWriter[str] | None = None
    for row in rows:
        flat = {
            k: (" ".join(v) if k == "urls" else ",".join(v)) if isinstance(v, list) else v
            for k, v in row.items()
        }
        if writer is None:
            writer = csv.DictWriter(handle, fieldnames=list(flat))
            writer.writeheader()
        writer.writerow(flat)


@cli.command()
@click.option("--limit", default=20, show_default=True, help="How many stories.")
@click.option("--category", help="Only stories in this category (cast, release, ...).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def stories(ctx: click.Context, limit: int, category: str | None, as_json: bool) -> None:
    """The latest stories: each development once, with categories, sources and latest fact."""
    settings = _settings(ctx)
    rows = _with_store(settings, lambda store: store.stories(limit, category))
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        flags = " (stale)" if row["stale"] else ""
        click.echo(f"#{row['story_id']} {row['title']}{flags}")
        click.echo(
            f"    {row['categories'] or 'no category'}; {row['sources']} sources,"
            f" first: {row['first_reporter'] or '?'} on {(row['first_seen'] or '')[:10]};"
            f" updated {(row['last_updated'] or '')[:10]}"
        )
        if row["latest_fact"]:
            click.echo(f"    latest fact: {row['latest_fact']}")
        click.echo(f"    outlets: {', '.join(row['outlets'])}")
    if not rows:
        click.echo("no stories yet")


@cli.command()
@click.option("--all", "everything", is_flag=True, help="Every fact, not only the changes.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def timeline(ctx: click.Context, everything: bool, as_json: bool) -> None:
    """How the facts changed over time, per category, with their sources."""
    settings = _settings(ctx)
    rows = _with_store(settings, lambda store: store.timeline(changes_only=not everything))
    if as_json:
        _echo_json(rows)
        return
    current = None
    for row in rows:
        if row["category"] != current:
            current = row["category"]
            click.echo(f"\n{current}")
        was = f" (was: {row['replaced']})" if row["replaced"] else ""
        role = f" as {row['detail']}" if row["category"] == "cast" and row["detail"] else ""
        click.echo(
            f"  {row['stated_at'][:10]}  {row['subject']}: {row['value']}{role}{was}"
            f"  [{row['outlet'] or '?'}] {row['url']}"
        )
    if not rows:
        click.echo("no facts yet")


@cli.command()
@click.pass_context
def reprocess(ctx: click.Context) -> None:
    """Re-run relevance, duplicates, stories, labels and facts over the stored articles."""
    from pipeline.reprocess import reprocess as run_reprocess

    settings = _settings(ctx)

    def progress(report: Any) -> None:
        logger.info("%d articles reprocessed", report.articles)

    report = _with_store(
        settings, lambda store: run_reprocess(store, settings.topic, settings.stories, progress)
    )
    click.echo(
        f"{report.articles} articles: {report.kept} about the topic, {report.duplicates} copies,"
        f" {report.stories} stories, {report.changes} fact changes"
    )


def _with_store(settings: config.Settings, work: Any) -> Any:
    """Open the existing store, do the work, close it; errors become one message."""
    try:
        store = Store(settings.database, create=False)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        return work(store)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()


@cli.command()
@click.argument("pages", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--url", help="The URL the page was saved from (default: a file:// URL).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per page.")
@click.pass_context
def inspect(ctx: click.Context, pages: tuple[str, ...], url: str | None, as_json: bool) -> None:
    """What sequelwatch makes of saved pages, without storing anything."""
    from sequelwatch.inspection import inspect_page

    settings = _settings(ctx)
    for path in pages:
        report = inspect_page(Path(path), settings.topic, url)
        if as_json:
            click.echo(json.dumps(report, ensure_ascii=False, default=str))
            continue
        click.echo(f"== {path}")
        for key, value in report.items():
            if key != "text":
                click.echo(f"{key:>12}: {value}")
        click.echo(f"\n{report['text']}\n")


@cli.command()
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False),
    help="Where the demo's store and outbox go (default: data/demo, emptied first).",
)
def demo(folder: str | None) -> None:
    """Serve the bundled sample world on 127.0.0.1, crawl it twice, show and mail the news."""
    from sequelwatch.demo import run_demo

    _setup_logging(0)
    try:
        run_demo(Path(folder) if folder else None, click.echo)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line per event; json for log shippers.",
)
@click.pass_context
def daemon(ctx: click.Context, log_format: str) -> None:
    """Run on schedule: crawl each source at its interval, send digests, serve the web face."""
    from sequelwatch.daemon import Daemon, DaemonError

    _setup_daemon_logging(log_format)
    path = ctx.obj.get("config_path")
    try:
        runner = Daemon(Path(path) if path else None)
    except (DaemonError, config.ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    ctx.exit(runner.run())


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def _setup_daemon_logging(log_format: str) -> None:
    """The daemon logs one line per event to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for name in ("apscheduler", "aiohttp.access", "scrapy", "twisted"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main() -> None:
    """Entry point of the console script."""
    try:
        cli(prog_name="sequelwatch")
    except SystemExit as exiting:
        if not _done["exit_at_once"]:
            raise
        code = exiting.code
        if isinstance(code, str):
            print(code, file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code if isinstance(code, int) else int(code is not None))


# The subscriber and message commands live in their own module; importing it adds them.
import sequelwatch.cli_alerts  # noqa: E402,F401
