"""The web face, through aiohttp's test client, against a real store and the outbox."""

from __future__ import annotations

import asyncio
import html
import logging
import re
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, TestServer

import config
from alerts.delivery import OutboxTransport
from alerts.subscribers import choices, subscribe
from pipeline.ingest import Ingestor
from pipeline.store import Store
from sequelwatch.web import FACE, SECURITY_HEADERS, BackgroundServer, make_app
from tests.helpers import ROOT
from tests.stories import CAST_A, DAY, DELAY, RELEASE, page

KNOWN = ("cast", "release", "plot", "production")
HOSTILE_TITLE = '<script>alert("owned")</script> Rosa Salazar will return as Alita in Alita 2'
HOSTILE_OUTLET = "The <b>Trade</b> Ledger"
UNKNOWN_TOKEN = "x" * 43
Scenario = Callable[[TestClient[web.Request, web.Application]], Awaitable[None]]


def write_settings(folder: Path, database: str = "store.db") -> config.Settings:
    """A configuration in `folder` with its own store and outbox."""
    path = folder / "sequelwatch.toml"
    path.write_text(
        f'database = "{database}"\ntopic = "{ROOT}/config/topics/alita-battle-angel-2.toml"\n'
        f'sources = "{ROOT}/config/sources.toml"\n[delivery]\noutbox = "outbox"\n'
        'base_url = "https://watch.example.org"\nfrom = "Alita watch <alerts@watch.example.org>"\n',
        encoding="utf-8",
    )
    return config.load(path)


def fill(settings: config.Settings) -> None:
    """Three developments through the real pipeline; the first has a hostile title."""
    store = Store(settings.database)
    ingest = Ingestor(store, settings.topic, settings.stories).ingest
    # the page's HTML escapes them, so the extracted title and outlet carry the markup as text
    ingest(
        page(
            "https://a.example/cast",
            html.escape(HOSTILE_TITLE),
            CAST_A,
            html.escape(HOSTILE_OUTLET),
            DAY,
        )
    )
    ingest(
        page(
            "https://d.example/window",
            "Alita: Battle Angel 2 won't arrive before 2030",
            RELEASE,
            "Reel Dispatch",
            DAY + timedelta(hours=10),
        )
    )
    ingest(
        page(
            "https://e.example/delay",
            "Alita: Battle Angel 2 delayed to 2031",
            DELAY,
            "Studio Desk",
            DAY + timedelta(days=2),
        )
    )
    store.close()


@pytest.fixture
def settings(tmp_path: Path) -> config.Settings:
    """Settings whose store holds three developments."""
    loaded = write_settings(tmp_path)
    fill(loaded)
    return loaded


def run(settings: config.Settings, scenario: Scenario) -> None:
    """Serve a fresh app for the settings on a loopback port and play the scenario."""

    async def main() -> None:
        app = make_app(settings, transport=OutboxTransport(settings.outbox))
        async with TestClient(TestServer(app)) as client:
            await scenario(client)

    asyncio.run(main())


def csrf_of(page_html: str) -> str:
    """The CSRF token in a page's form."""
    match = re.search(r'name="csrf" value="([^"]+)"', page_html)
    assert match, "no CSRF token in the form"
    return match.group(1)


async def mailed(client: TestClient[web.Request, web.Application]) -> None:
    """Wait for the confirmations the app sends after answering."""
    await client.app[FACE].drain()


def outbox(settings: config.Settings) -> list[EmailMessage]:
    """The messages written to the outbox, oldest first."""
    files = sorted(settings.outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime)
    return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]


def link_in(message: EmailMessage, action: str) -> str:
    """The path of the message's {base_url}/{action}/TOKEN link."""
    body = message.get_body(("plain",))
    assert body is not None
    match = re.search(rf"https://watch\.example\.org(/{action}/[A-Za-z0-9_-]+)", body.get_content())
    assert match, f"no {action} link in the message"
    return match.group(1)


def subscriber(settings: config.Settings, email: str) -> dict[str, Any] | None:
    """The stored subscriber of an address."""
    store = Store(settings.database)
    try:
        return store.subscriber(email=email)
    finally:
        store.close()


def add_subscriber(settings: config.Settings, email: str, *, confirmed: bool = True) -> str:
    """A subscriber added through the library; returns their token."""
    store = Store(settings.database)
    try:
        wanted = choices(["cast"], "daily", "UTC", KNOWN)
        return str(subscribe(store, email, wanted, confirmed=confirmed)["token"])
    finally:
        store.close()


def test_the_developments_page_groups_stories_and_escapes_what_came_from_the_web(
    settings: config.Settings,
) -> None:
    async def scenario(client: TestClient[web.Request, web.Application]) -> None:
        response = await client.get("/")
        assert response.status == 200
        assert response.content_type == "text/html"
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        text = await response.text()
        assert "<script>alert" not in text and "<b>Trade</b>" not in text
        assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in text
        assert "The &lt;b&gt;Trade&lt;/b&gt; Ledger" in text
        for heading in ("<h2>Release</h2>", "<h2>Production</h2>", "Timeline of facts"):
            assert heading in text
        assert "first reported by <strong>Reel Dispatch</strong>" in text
        assert 'href="https://d.example/window"' in text
        assert "status: delayed" in text and "(was: in development)" in text  # what is new
        assert 'Also about: <span class="chip">Cast</span>' in text
        assert "release: 2031" in text and "was: no earlier than 2030" in text  # the timeline
        assert "Rosa Salazar: returning (Alita)" in text  # the cast timeline, with the role
        assert re.search(r"<script\b", text) is None  # the page has no scripts at all

    run(settings, scenario)


def test_the_feed_is_atom_with_every_story(settings: config.Settings) -> None:
    async def scenario(client: TestClient[web.Request, web.Application]) -> None:
        response = await client.get("/feed.atom")
        assert response.status == 200
        assert response.content_type == "application/atom+xml"
        parsed = feedparser.parse(await response.read())
        assert not parsed.bozo
        assert parsed.feed.title == "Alita: Battle Angel 2: developments"
        titles = {entry.title for entry in parsed.entries}
        assert HOSTILE_TITLE in titles and "Alita: Battle Angel 2 delayed to 2031" in titles
        assert parsed.entries[0].title == "Alita: Battle Angel 2 delayed to 2031"  # newest first

    run(settings, scenario)


def test_healthz_says_whether_the_store_answers(settings: config.Settings, tmp_path: Path) -> None:
    async def healthy(client: TestClient[web.Request, web.Application]) -> None:
        response = await client.get("/healthz")
        assert response.status == 200
        assert await response.json() == {"status": "ok", "database": True}

    async def broken(client: TestClient[web.Request, web.Application]) -> None:
        response = await client.get("/healthz")
        assert response.status == 503
        assert (await response.json())["database"] is False
        assert (await client.get("/")).status == 503

    run(settings, healthy)
    missing = tmp_path / "elsewhere"
    missing.mkdir()
    run(write_settings(missing, database="no/such/store.db"), broken)


def test_subscribe_confirm_from_the_email_then_change_and_unsubscribe(
    settings: config.Settings,
) -> None:
    async def scenario(client: TestClient[web.Request, web.Application]) -> None:
        form = await client.get("/subscribe")
        assert form.status == 200 and form.headers["Cache-Control"] == "no-store"
        cookie = form.cookies["sw_browser"]
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
        sent = await client.post(
            "/subscribe",
            data={
                "csrf": csrf_of(await form.text()),
                "email": "Fan@Example.org",
                "categories": ["cast", "release"],
                "frequency": "weekly",
                "timezone": "Europe/Rome",
            },
        )
        assert sent.status == 200
        assert "a confirmation is on its way" in await sent.text()
        await mailed(client)
        [message] = outbox(settings)
        assert message["To"] == "Fan@example.org"
        assert (subscriber(settings, "fan@example.org") or {})["status"] == "pending"

        confirm_path = link_in(message, "confirm")
        page_ = await client.get(confirm_path)
        text = await page_.text()
        assert "Cast, Release" in text and "Weekly digest" in text and "Europe/Rome" in text
        assert (subscriber(settings, "fan@example.org") or {})["status"] == "pending"  # GET is safe
        done = await client.post(confirm_path, data={"csrf": csrf_of(text)})
        assert done.status == 200 and "You are subscribed" in await done.text()
        found = subscriber(settings, "fan@example.org") or {}
        assert found["status"] == "active" and found["categories"] == "cast,release"

        preferences = f"/preferences/{found['token']}"
        text = await (await client.get(preferences)).text()
        assert 'value="cast" checked' in text and 'value="plot">' in text
        saved = await client.post(
            preferences,
            data={
                "csrf": csrf_of(text),
                "categories": ["plot"],
                "frequency": "instant",
                "timezone": "Asia/Tokyo",
            },
        )
        assert saved.status == 200 and 'id="saved"' in await saved.text()
        found = subscriber(settings, "fan@example.org") or {}
        assert (found["categories"], found["frequency"], found["timezone"]) == (
            "plot",
            "instant",
            "Asia/Tokyo",
        )

        unsubscribe = f"/unsubscribe/{found['token']}"
        text = await (await client.get(unsubscribe)).text()
        assert (subscriber(settings, "fan@example.org") or {})["status"] == "active"
        gone = await client.post(unsubscribe, data={"csrf": csrf_of(text)})
        assert gone.status == 200 and "You are unsubscribed" in await gone.text()
        assert (subscriber(settings, "fan@example.org") or {})["status"] == "unsubscribed"

    run(settings, scenario)


@pytest.mark.parametrize("multipart", [False, True])
def test_one_click_unsubscribe_needs_no_page_token(
    settings: config.Settings, multipart: bool
) -> None:
    token = add_subscriber(settings, "leaving@example.org")

    async def scenario(client: TestClient[web.Request, web.Application]) -> None:
        data: Any = {"List-Unsubscribe": "One-Click"}
        if multipart:
            data = FormData(data, default_to_multipart=True)
        response = await client.post(f"/unsubscribe/{token}", data=data)  # no cookie, no csrf
        assert response.status == 200
        assert (subscriber(settings, "leaving@example.org") or {})["status"] == "unsubscribed"
        again = await client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert again.status == 200  # idempotent

    run(settings, scenario)


def test_forms_without_a_valid_csrf_token_are_refused_and_change_nothing(
    settings: config.Settings,
) -> None:
    token = add_subscriber(settings, "kept@example.org")
    choices_ = {"categories": "plot", "frequency": "weekly", "timezone": "UTC"}

    async def scenario(client: TestClient[web.Request, web.Application]) -> None:
        subscribe_form = await (await client.get("/subscribe")).text()
        pages = {
            path: csrf_of(await (await client.get(path)).text())
            for path in (f"/preferences/{token}", f"/unsubscribe/{token}")
        }
        good = pages[f"/preferences/{token}"]
        issued, _, signature = good.partition(".")
        forged = {
            "missing": None,
            "wrong": "1.deadbeef",
            "tampered": f"{issued}.{signature[::-1]}",
            "older": f"{int(issued) - 1}.{signature}",
            "non-ascii": f"{issued}.é",
            "another form's": csrf_of(subscribe_form),
        }
        for why, bad in forged.items():
            for path in pages:
                data = {**choices_, **({"csrf": bad} if bad else {})}
                response = await client.post(path, data=data)
                assert response.status == 403, f"{why} token accepted at {path}"
            # at /subscribe, "another form's" token is the preferences one
            bad = good if why == "another form's" else bad
            response = await client.post(
                "/subscribe", data={"email": "new@example.org", **({"csrf": bad} if bad else {})}
            )
            assert response.status == 403, f"{why} token accepted at /subscribe"
        # the right token from another browser (no cookie) is refused too
        async with TestClient(TestServer(client.app)) as stranger:
            response = await stranger.post(f"/preferences/{token}", data={"csrf": good, **choices_})
            assert response.status == 403
            assert "form has expired" in await response.text()
        found = subscriber(settings, "kept@example.org") or {}
        assert (found["status"], found["categories"], found["frequency"]) == (
            "active",
            "cast",
            "daily",
        )
        assert subscriber(settings, "new@example.org") is None
        await mailed(client)
        assert outbox(settings) == []

    run(settings, scenario)


def test_the_subscribe_token_works_only_on_its_own_form(settings: config.Settings) -> None:
    token = add_subscriber(settings, "kept@example.org")

    async def scenario(client: TestClient[web.Request, web.Application]) -> None:
        form_token = csrf_of(await (await client.get("/subscribe")).text())
        response = await client.post(
            f"/unsubscribe/{token}", data={"csrf": form_token}
        )  # signed for /subscribe
        assert response.status == 403
        assert (subscriber(settings, "kept@example.org") or {})["status"] == "active"

    run(settings, scenario)


def test_an_unknown_or_malformed_token_is_a_plain_404(settings: config.Settings) -> None:
    add_subscriber(settings, "someone@example.org")

    async def scenario(client: TestClient[web.Request, web.Application]) -> None:
        for action in ("confirm", "unsubscribe", "preferences"):
            for token in (UNKNOWN_TOKEN, "short", "%3Cscript%3E"):
                for method in ("GET", "POST"):
                    data = {"List-Unsubscribe": "One-Click"} if method == "POST" else None
                    response = await client.request(method, f"/{action}/{token}", data=data)
                    assert response.status == 404, (method, action, token)
                    text = await response.text()
                    assert "This link is not valid." in text
                    assert "someone@example.org" not in text and "<script>" not in text
        response = await client.get("/no/such/page")
        assert response.status == 404
        assert response.headers["X-Frame-Options"] == "DENY"
        static = await client.get("/static/style.css")
        assert static.status == 200 and static.headers["X-Content-Type-Options"] == "nosniff"

    run(settings, scenario)
    assert (subscriber(settings, "someone@example.org") or {})["status"] == "active"


def test_a_token_only_reaches_its_own_subscriber(settings: config.Settings) -> None:
    mine = add_subscriber(settings, "me@example.org")
    add_subscriber(settings, "other@example.org")

    async def scenario(client: TestClient[web.Request, web.Application]) -> None:
        path = f"/preferences/{mine}"
        text = await (await client.get(path)).text()
        assert "me@example.org" in text and "other@example.org" not in text
        data = {"csrf": csrf_of(text), "email": "other@example.org", "categories": "plot"}
        await client.post(path, data={**data, "frequency": "weekly", "timezone": "UTC"})
        assert (subscriber(settings, "me@example.org") or {})["categories"] == "plot"
        assert (subscriber(settings, "other@example.org") or {})["categories"] == "cast"

    run(settings, scenario)


def test_known_and_invalid_addresses_get_clear_but_discreet_answers(
    settings: config.Settings,
) -> None:
    add_subscriber(settings, "active@example.org")
    add_subscriber(settings, "pending@example.org", confirmed=False)

    async def post(client: TestClient[web.Request, web.Application], **data: Any) -> Any:
        form = await (await client.get("/subscribe")).text()
        return await client.post("/subscribe", data={"csrf": csrf_of(form), **data})

    async def scenario(client: TestClient[web.Request, web.Application]) -> None:
        new = await post(client, email="new@example.org", frequency="daily", timezone="UTC")
        answers = {await new.text()}
        for known in ("active@example.org", "PENDING@example.org"):
            response = await post(client, email=known, frequency="daily", timezone="UTC")
            assert response.status == 200
            answers.add(await response.text())
        assert len(answers) == 1  # the same page, word for word, for new and known addresses
        await mailed(client)
        assert [m["To"] for m in outbox(settings)] == ["new@example.org"]

        bad = await post(client, email="not an address", frequency="daily", timezone="UTC")
        assert bad.status == 400
        text = await bad.text()
        assert "does not look like an email address" in text and 'value="not an address"' in text
        zone = await post(client, email="z@example.org", frequency="daily", timezone="Mars/Olympus")
        assert zone.status == 400 and "unknown time zone" in await zone.text()
        hostile = await post(client, email='"><script>x()</script>', frequency="daily")
        assert hostile.status == 400 and "<script>x()" not in await hostile.text()
        assert subscriber(settings, "z@example.org") is None

    run(settings, scenario)


def test_subscribing_is_rate_limited_per_client_and_per_address(
    settings: config.Settings,
) -> None:
    async def post(client: TestClient[web.Request, web.Application], email: str, via: str) -> int:
        form = await (await client.get("/subscribe")).text()
        response = await client.post(
            "/subscribe",
            data={"csrf": csrf_of(form), "email": email, "timezone": "UTC"},
            headers={"X-Forwarded-For": via},  # as a reverse proxy on this host would send
        )
        if response.status == 429:
            assert "Too many requests" in await response.text()
        return response.status

    async def scenario(client: TestClient[web.Request, web.Application]) -> None:
        statuses = [await post(client, f"fan{n}@example.org", "203.0.113.7") for n in range(6)]
        assert statuses == [200] * 5 + [429]
        # one victim's address, from many clients: the sixth is refused
        statuses = [await post(client, "victim@example.org", f"198.51.100.{n}") for n in range(6)]
        assert statuses == [200] * 5 + [429]
        assert await post(client, "fan9@example.org", "192.0.2.1") == 200  # others still can
        await mailed(client)
        victims = [m for m in outbox(settings) if m["To"] == "victim@example.org"]
        assert len(victims) == 1

    run(settings, scenario)


def test_confirming_after_unsubscribing_says_so(settings: config.Settings) -> None:
    token = add_subscriber(settings, "left@example.org")

    async def scenario(client: TestClient[web.Request, web.Application]) -> None:
        await client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        text = await (await client.get(f"/confirm/{token}")).text()
        assert "You have unsubscribed" in text and "csrf" not in text

    run(settings, scenario)
    assert (subscriber(settings, "left@example.org") or {})["status"] == "unsubscribed"


def test_the_background_server_serves_and_logs_no_tokens(
    settings: config.Settings, caplog: pytest.LogCaptureFixture
) -> None:
    token = add_subscriber(settings, "logged@example.org")
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    with BackgroundServer(make_app(settings, transport=OutboxTransport(settings.outbox))) as server:
        assert urlsplit(server.url).port == server.port != 0
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=10) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"{server.url}/preferences/{token}", timeout=10) as response:
            assert b"logged@example.org" in response.read()
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("/preferences/…" in line for line in lines)
    assert not any(token in line for line in lines)
