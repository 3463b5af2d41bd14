"""The commands about subscribers and messages: subscribe ... digest, feed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

import config
from alerts.delivery import DeliveryError, transport_for
from alerts.digest import Postman, SendReport
from alerts.feed import atom_feed
from alerts.subscribers import (
    FREQUENCIES,
    SubscriberError,
    change,
    choices,
    confirm,
    find,
    subscribe,
    unsubscribe,
)
from pipeline.store import Store, StoreError, utcnow
from sequelwatch.cli import _echo_json, _settings, _table, cli


def _categories(value: str | None) -> list[str] | None:
    """A comma-separated list of categories."""
    return [c for c in value.split(",")] if value else None


def _postman(settings: config.Settings, store: Store) -> Postman:
    """The postman of this configuration's delivery method."""
    return Postman(store, settings, transport_for(settings.delivery, settings.outbox, os.environ))


def _run(settings: config.Settings, work: Any) -> Any:
    """Open (or create) the store, do the work; library errors become one clear message."""
    store = Store(settings.database)
    try:
        return work(store)
    except (SubscriberError, StoreError, DeliveryError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()


@cli.command("subscribe")
@click.argument("email")
@click.option("--categories", help="Comma-separated: cast,release,plot,production (default all).")
@click.option(
    "--frequency",
    type=click.Choice(FREQUENCIES),
    default="daily",
    show_default=True,
    help="instant (after each crawl that found something), daily or weekly.",
)
@click.option("--timezone", default="UTC", show_default=True, help="For dates, e.g. Europe/Rome.")
@click.option("--confirmed", is_flag=True, help="Operator: skip the double opt-in.")
@click.pass_context
def subscribe_command(
    ctx: click.Context,
    email: str,
    categories: str | None,
    frequency: str,
    timezone: str,
    confirmed: bool,
) -> None:
    """Subscribe an address; it receives digests once it confirms (double opt-in)."""
    settings = _settings(ctx)

    def work(store: Store) -> None:
        wanted = choices(_categories(categories), frequency, timezone, _known(settings))
        added = subscribe(store, email, wanted, confirmed=confirmed)
        if confirmed:
            click.echo(f"{added['email']} subscribed ({frequency}: {added['categories']})")
            return
        where = _postman(settings, store).send_confirmation(find(store, email=added["email"]))
        click.echo(f"{added['email']} must confirm: confirmation sent ({where})")

    _run(settings, work)


def _known(settings: config.Settings) -> tuple[str, ...]:
    """The topic's categories."""
    return tuple(settings.topic.categories) or ("cast", "release", "plot", "production")


@cli.command("confirm")
@click.argument("token")
@click.pass_context
def confirm_command(ctx: click.Context, token: str) -> None:
    """Confirm a subscription with the token from its confirmation message."""
    settings = _settings(ctx)
    found = _run(settings, lambda store: confirm(store, token))
    click.echo(f"{found['email']} confirmed: {found['frequency']} digest of {found['categories']}")


@cli.command("unsubscribe")
@click.argument("email", required=False)
@click.option("--token", help="The token from a message's unsubscribe link.")
@click.pass_context
def unsubscribe_command(ctx: click.Context, email: str | None, token: str | None) -> None:
    """Stop all messages to an address (by address, or by the token in its link)."""
    if not email and not token:
        raise click.UsageError("give an EMAIL or --token")
    settings = _settings(ctx)
    address = _run(settings, lambda store: unsubscribe(store, email=email, token=token))
    click.echo(f"{address} unsubscribed")


@cli.command("subscribers")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def subscribers_command(ctx: click.Context, as_json: bool) -> None:
    """Every subscriber with their choices and status."""
    settings = _settings(ctx)
    rows = _run(settings, lambda store: store.subscribers())
    for row in rows:
        row.pop("token", None)
    if as_json:
        _echo_json(rows)
    elif rows:
        click.echo(
            _table(
                rows,
                [
                    "email",
                    "status",
                    "frequency",
                    "categories",
                    "timezone",
                    "last_sent",
                    "rejected_reason",
                ],
            )
        )
    else:
        click.echo("no subscribers yet")


@cli.command("subscriber")
@click.argument("email")
@click.option("--categories", help="Comma-separated categories.")
@click.option("--frequency", type=click.Choice(FREQUENCIES), help="instant, daily or weekly.")
@click.option("--timezone", help="For dates, e.g. Europe/Rome.")
@click.pass_context
def subscriber_command(
    ctx: click.Context,
    email: str,
    categories: str | None,
    frequency: str | None,
    timezone: str | None,
) -> None:
    """Change a subscriber's categories, frequency or time zone."""
    settings = _settings(ctx)

    def work(store: Store) -> dict[str, Any]:
        current = find(store, email=email)
        wanted = choices(
            _categories(categories) or current["categories"].split(","),
            frequency or current["frequency"],
            timezone or current["timezone"],
            _known(settings),
        )
        return change(store, email, wanted)

    found = _run(settings, work)
    click.echo(
        f"{found['email']}: {found['frequency']} digest of {found['categories']}"
        f" ({found['timezone']})"
    )


@cli.command("digest")
@click.option("--frequency", type=click.Choice(FREQUENCIES), help="Only these subscribers.")
@click.option("--dry-run", is_flag=True, help="Print what would go to whom; send nothing.")
@click.option("--to", "to", help="Only this subscriber (due or not).")
@click.pass_context
def digest_command(
    ctx: click.Context, frequency: str | None, dry_run: bool, to: str | None
) -> None:
    """Send each due subscriber the developments they have not received yet."""
    settings = _settings(ctx)
    report = _run(settings, lambda store: _postman(settings, store).run(frequency, to, dry_run))
    echo_report(report, settings)
    if report.failed and not report.sent and not report.retried:
        raise click.ClickException("no message could be sent; they are kept for the next run")


def echo_report(report: SendReport, settings: config.Settings) -> None:
    """Say what a run sent, kept and refused."""
    for title, lines in (
        ("would send", report.planned),
        ("sent", report.sent),
        ("sent again", report.retried),
        ("failed, kept for the next run", report.failed),
        ("rejected", report.rejected),
    ):
        for line in lines:
            click.echo(f"{title}: {line}")
    if not (report.planned or report.sent or report.retried or report.failed or report.rejected):
        click.echo("nothing new to send")
    elif settings.delivery.method == "outbox" and (report.sent or report.retried):
        click.echo(f"outbox: {settings.outbox}")


@cli.command("feed")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Default: beside the outbox.")
@click.option("--limit", default=50, show_default=True, help="How many developments.")
@click.pass_context
def feed_command(ctx: click.Context, output: str | None, limit: int) -> None:
    """Write an Atom feed of the latest developments, for feed readers."""
    settings = _settings(ctx)

    def work(store: Store) -> Path:
        postman = _postman(settings, store)  # its story items are the digest's
        rows = [r for r in store.stories(limit) if r["last_development"]]
        items = [postman.story_item(r, _known(settings)) for r in rows]
        base = settings.delivery.base_url
        data = atom_feed(
            items,
            topic_name=settings.topic.name,
            feed_url=f"{base}/feed.atom",
            site_url=base,
            updated=utcnow(),
        )
        path = Path(output) if output else settings.outbox.parent / "feed.atom"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    click.echo(f"wrote {_run(settings, work)}")
