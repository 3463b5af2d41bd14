"""Subscribers: validation, double opt-in, changes and leaving, through the library and CLI."""

from __future__ import annotations

import json
import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from alerts.subscribers import (
    SubscriberError,
    choices,
    confirm,
    find,
    new_token,
    subscribe,
    unsubscribe,
)
from pipeline.store import Store
from sequelwatch.cli import cli
from tests.helpers import ROOT

KNOWN = ("cast", "release", "plot", "production")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store.db")


def test_addresses_and_choices_are_validated(store: Store) -> None:
    with pytest.raises(SubscriberError, match="not a valid email address"):
        subscribe(store, "not-an-address", choices(None, "daily", "UTC", KNOWN), confirmed=False)
    with pytest.raises(SubscriberError, match="unknown categories gossip"):
        choices(["cast", "gossip"], "daily", "UTC", KNOWN)
    with pytest.raises(SubscriberError, match="frequency"):
        choices(None, "hourly", "UTC", KNOWN)
    with pytest.raises(SubscriberError, match="unknown time zone"):
        choices(None, "daily", "Mars/Olympus", KNOWN)
    assert choices(None, "weekly", "Europe/Rome", KNOWN).categories == KNOWN


def test_double_opt_in_and_duplicates(store: Store) -> None:
    wanted = choices(["cast", "release"], "daily", "Europe/Rome", KNOWN)
    added = subscribe(store, "Reader@Example.org", wanted, confirmed=False)
    assert added["status"] == "pending" and len(added["token"]) >= 40
    with pytest.raises(SubscriberError, match="already subscribed"):
        subscribe(store, "reader@example.org", wanted, confirmed=False)
    confirmed = confirm(store, added["token"])
    assert confirmed["status"] == "active" and confirmed["confirmed_at"]
    with pytest.raises(SubscriberError, match="no subscriber with that token"):
        confirm(store, "wrong-token")


def test_tokens_are_long_random_and_never_look_like_options() -> None:
    tokens = {new_token() for _ in range(3000)}
    assert len(tokens) == 3000
    assert all(len(t) == 43 and not t.startswith("-") for t in tokens)


def test_leaving_and_coming_back(store: Store) -> None:
    wanted = choices(None, "daily", "UTC", KNOWN)
    first = subscribe(store, "reader@example.org", wanted, confirmed=True)
    assert unsubscribe(store, token=first["token"]) == "reader@example.org"
    assert find(store, email="reader@example.org")["status"] == "unsubscribed"
    with pytest.raises(SubscriberError, match="has unsubscribed"):
        confirm(store, first["token"])
    again = subscribe(store, "reader@example.org", wanted, confirmed=False)
    assert again["status"] == "pending" and again["token"] != first["token"]


def write_config(folder: Path) -> Path:
    """A configuration with a fresh store and an outbox in this folder."""
    path = folder / "sequelwatch.toml"
    path.write_text(
        f'database = "store.db"\ntopic = "{ROOT}/config/topics/alita-battle-angel-2.toml"\n'
        f'sources = "{ROOT}/config/sources.toml"\n[delivery]\noutbox = "outbox"\n'
        'base_url = "https://watch.example.org"\n',
        encoding="utf-8",
    )
    return path


def test_the_commands_a_subscriber_goes_through(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    run = CliRunner().invoke
    base = ["--config", str(config_path)]
    done = run(
        cli,
        [
            *base,
            "subscribe",
            "fan@example.org",
            "--categories",
            "cast,release",
            "--frequency",
            "weekly",
            "--timezone",
            "Europe/Rome",
        ],
    )
    assert done.exit_code == 0, done.output
    assert "must confirm" in done.output
    sent = list((tmp_path / "outbox").glob("*.eml"))
    assert len(sent) == 1
    message = message_from_bytes(sent[0].read_bytes(), policy=policy.default)
    assert message["To"] == "fan@example.org"
    body = message.get_body(("plain",)).get_content()
    link = re.search(r"https://watch\.example\.org/confirm/(\S+)", body)
    assert link, body
    token = link.group(1)
    assert f"sequelwatch confirm {token}" in body

    again = run(cli, [*base, "subscribe", "FAN@example.org"])
    assert again.exit_code == 1 and "already subscribed" in again.output
    bad = run(cli, [*base, "subscribe", "fan@", "--confirmed"])
    assert bad.exit_code == 1 and "not a valid email address" in bad.output

    listed = json.loads(run(cli, [*base, "subscribers", "--json"]).output)
    assert [(s["email"], s["status"]) for s in listed] == [("fan@example.org", "pending")]
    assert "token" not in listed[0]

    assert run(cli, [*base, "confirm", token]).exit_code == 0
    changed = run(cli, [*base, "subscriber", "fan@example.org", "--categories", "plot"])
    assert changed.exit_code == 0 and "plot" in changed.output
    listed = json.loads(run(cli, [*base, "subscribers", "--json"]).output)
    assert (listed[0]["status"], listed[0]["categories"], listed[0]["frequency"]) == (
        "active",
        "plot",
        "weekly",
    )

    gone = run(cli, [*base, "unsubscribe", "--token", token])
    assert gone.exit_code == 0 and "fan@example.org unsubscribed" in gone.output
