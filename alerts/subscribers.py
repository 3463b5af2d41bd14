"""Subscribers: validated addresses, their choices, and the double opt-in."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from pipeline.store import Store, StoreError, iso, utcnow

FREQUENCIES = ("instant", "daily", "weekly")


class SubscriberError(Exception):
    """A subscription request that cannot be carried out, in one sentence."""


@dataclass(frozen=True, slots=True)
class Choices:
    """What a subscriber wants: categories, how often, in which time zone."""

    categories: tuple[str, ...]
    frequency: str
    timezone: str


def new_token() -> str:
    """A random token of 43 URL-safe characters that does not start with a dash.

    A leading dash would make `sequelwatch confirm TOKEN` read the token as an option.
    """
    while (token := secrets.token_urlsafe(32)).startswith("-"):
        pass
    return token


def normalize_email(address: str) -> str:
    """A validated, normalised address (no DNS lookups); SubscriberError otherwise."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise SubscriberError(f"{address!r} is not a valid email address: {exc}") from None


def choices(
    categories: Iterable[str] | None, frequency: str, timezone: str, known: Iterable[str]
) -> Choices:
    """Check a subscriber's choices against the topic's categories and the known zones."""
    known = tuple(known)
    picked = tuple(dict.fromkeys(c.strip() for c in categories or () if c.strip())) or known
    unknown = [c for c in picked if c not in known]
    if unknown:
        raise SubscriberError(
            f"unknown categories {', '.join(unknown)} (choose from {', '.join(known)})"
        )
    if frequency not in FREQUENCIES:
        raise SubscriberError(f"frequency must be one of {', '.join(FREQUENCIES)}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SubscriberError(f"unknown time zone {timezone!r} (e.g. Europe/Rome)") from None
    return Choices(picked, frequency, timezone)


def subscribe(store: Store, address: str, wanted: Choices, *, confirmed: bool) -> dict[str, Any]:
    """Add a subscriber (pending until confirmed, unless an operator confirms at once)."""
    email = normalize_email(address)
    existing = store.subscriber(email=email)
    now = iso(utcnow())
    fields = {
        "categories": ",".join(wanted.categories),
        "frequency": wanted.frequency,
        "timezone": wanted.timezone,
        "token": new_token(),
        "status": "active" if confirmed else "pending",
        "confirmed_at": now if confirmed else None,
    }
    if existing is not None:
        if existing["status"] in ("active", "pending"):
            raise SubscriberError(
                f"{email} is already subscribed ({existing['status']}); change it with"
                " `sequelwatch subscriber EMAIL ...`"
            )
        # someone who left (or bounced) may come back: a fresh token, a fresh opt-in
        store.update_subscriber(
            existing["id"], unsubscribed_at=None, rejected_reason=None, created_at=now, **fields
        )
        return {"email": email, **fields}
    try:
        store.add_subscriber({"email": email, "created_at": now, **fields})
    except StoreError as exc:
        raise SubscriberError(str(exc)) from None
    return {"email": email, **fields}


def find(store: Store, *, email: str | None = None, token: str | None = None) -> dict[str, Any]:
    """The subscriber of an address or token; SubscriberError when there is none."""
    found = store.subscriber(email=normalize_email(email)) if email else None
    if token:
        found = store.subscriber(token=token)
    if found is None:
        raise SubscriberError(f"no subscriber {'with that token' if token else email}")
    return found


def confirm(store: Store, token: str) -> dict[str, Any]:
    """Confirm a pending subscription by its token (what the link in the message does)."""
    found = find(store, token=token)
    if found["status"] == "unsubscribed":
        raise SubscriberError(f"{found['email']} has unsubscribed; subscribe again first")
    if found["status"] != "active":
        store.update_subscriber(found["id"], status="active", confirmed_at=iso(utcnow()))
    return find(store, token=token)


def unsubscribe(store: Store, *, email: str | None = None, token: str | None = None) -> str:
    """Stop every message to a subscriber; return the address."""
    found = find(store, email=email, token=token)
    store.update_subscriber(found["id"], status="unsubscribed", unsubscribed_at=iso(utcnow()))
    return str(found["email"])


def change(store: Store, address: str, wanted: Choices) -> dict[str, Any]:
    """Change a subscriber's categories, frequency or time zone."""
    found = find(store, email=address)
    store.update_subscriber(
        found["id"],
        categories=",".join(wanted.categories),
        frequency=wanted.frequency,
        timezone=wanted.timezone,
    )
    return find(store, email=address)
