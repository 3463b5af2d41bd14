"""The web face: developments, their Atom feed, and the subscriber's pages (aiohttp).

Every request opens its own Store in a worker thread and closes it there: SQLite
connections stay in one thread, and the daemon's event loop never waits on the disk
or on the mail server.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import secrets
import socket
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import available_timezones

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

import config
from alerts import subscribers
from alerts.delivery import DeliveryError, Transport, transport_for
from alerts.digest import Postman
from alerts.feed import atom_feed
from alerts.records import StoryItem
from alerts.render import (
    CATEGORY_LABELS,
    grouped,
    local_date,
    one_line,
    ordered_categories,
    safe_url,
    story_view,
)
from pipeline.store import Store, StoreError, utcnow
from sequelwatch.web_guard import (
    CsrfGuard,
    RateLimit,
    RedactingAccessLogger,
    client_address,
)

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "web_templates"
STATIC = HERE / "web_static"
CSRF_COOKIE = "sw_browser"
STORY_LIMIT = 50
FREQUENCY_LABELS = {"instant": "As it happens", "daily": "Daily digest", "weekly": "Weekly digest"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
FACE: web.AppKey[WebFace] = web.AppKey("face")
T = TypeVar("T")


class Unavailable(Exception):
    """The store cannot be opened or is busy beyond its timeout."""


class WebFace:
    """The handlers, with what they share: settings, templates, mail, guards."""

    def __init__(self, settings: config.Settings, transport: Transport) -> None:
        self.settings = settings
        self.transport = transport
        self.csrf = CsrfGuard(secrets.token_bytes(32))
        self.by_client = RateLimit()
        self.by_address = RateLimit()
        self._mail_lock = threading.Lock()  # SmtpTransport keeps one connection attribute
        self._sending: set[asyncio.Task[None]] = set()
        self.categories = ordered_categories(settings.topic.categories) or list(CATEGORY_LABELS)
        self.zones = sorted(available_timezones())
        self.templates = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
        )

    # -- plumbing --------------------------------------------------------------------------

    def _in_store(self, work: Callable[[Store], T]) -> T:
        """Open the store, do the work, close it (all in the calling thread)."""
        try:
            store = Store(self.settings.database, create=False)
        except (StoreError, sqlite3.Error, OSError) as exc:
            raise Unavailable(str(exc)) from None
        try:
            return work(store)
        except sqlite3.OperationalError as exc:
            raise Unavailable(str(exc)) from None
        finally:
            store.close()

    async def store(self, work: Callable[[Store], T]) -> T:
        """Run work against a freshly opened store in a worker thread."""
        return await asyncio.to_thread(self._in_store, work)

    def page(
        self, name: str, http_status: int = 200, *, private: bool = False, **context: Any
    ) -> web.Response:
        """A rendered template; private pages (they carry a token) are never cached."""
        html = self.templates.get_template(name).render(
            topic_name=one_line(self.settings.topic.name), **context
        )
        response = web.Response(text=html, status=http_status, content_type="text/html")
        if private:
            response.headers["Cache-Control"] = "no-store"
        return response

    def message(self, status: int, title: str, text: str) -> web.Response:
        """A short page that says one thing (errors, refusals, outcomes)."""
        return self.page("message.html", status, private=True, title=title, text=text)

    def form(
        self, request: web.Request, name: str, *, http_status: int = 200, **context: Any
    ) -> web.Response:
        """A page with a form: a CSRF token in it, the browser cookie set if new."""
        browser = request.cookies.get(CSRF_COOKIE, "")
        fresh = not _TOKEN.match(browser)
        if fresh:
            browser = secrets.token_urlsafe(32)
        response = self.page(
            name, http_status, private=True, csrf=self.csrf.token(browser, request.path), **context
        )
        if fresh:
            secure = request.secure or request.headers.get("X-Forwarded-Proto") == "https"
            response.set_cookie(
                CSRF_COOKIE, browser, httponly=True, samesite="Strict", secure=secure, path="/"
            )
        return response

    def forged(self, request: web.Request, form: Mapping[str, Any]) -> web.Response | None:
        """A 403 page when the form's CSRF token does not verify, else None."""
        token = form.get("csrf")
        browser = request.cookies.get(CSRF_COOKIE)
        if self.csrf.valid(browser, request.path, token if isinstance(token, str) else None):
            return None
        return self.message(
            403,
            "This form has expired",
            "The form was not sent from this site, or it is too old, or your browser did not "
            "keep this site's cookie. Open the page again and resend it.",
        )

    def not_found(self) -> web.Response:
        """The same page for every unknown token or address."""
        return self.message(404, "Not found", "This link is not valid.")

    def wanted(self, form: Mapping[str, Any]) -> subscribers.Choices:
        """The form's categories, frequency and time zone; SubscriberError when invalid."""
        getall = getattr(form, "getall", None)
        picked = [str(c) for c in getall("categories", [])] if getall else []
        return subscribers.choices(
            picked,
            str(form.get("frequency", "daily")),
            str(form.get("timezone", "UTC")),
            self.categories,
        )

    def choice_context(self, chosen: subscribers.Choices | None = None) -> dict[str, Any]:
        """What the subscribe and preferences forms offer, with the current choices."""
        return {
            "categories": [(c, CATEGORY_LABELS.get(c, c.capitalize())) for c in self.categories],
            "frequencies": list(FREQUENCY_LABELS.items()),
            "zones": self.zones,
            "chosen": chosen or subscribers.Choices(tuple(self.categories), "daily", "UTC"),
        }

    def described(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A subscriber's choices in words, for their own pages only."""
        picked = [c for c in str(row["categories"]).split(",") if c]
        return {
            "email": row["email"],
            "status": row["status"],
            "category_labels": [CATEGORY_LABELS.get(c, c) for c in picked],
            "frequency_label": FREQUENCY_LABELS.get(row["frequency"], row["frequency"]),
            "timezone": row["timezone"],
            "token": row["token"],
        }

    async def subscriber(self, request: web.Request) -> dict[str, Any] | None:
        """The subscriber whose token is in the path (the token is the only key), or None."""
        token = request.match_info["token"]
        if not _TOKEN.match(token):
            return None
        row = await self.store(lambda store: store.subscriber(token=token))
        # the lookup is an index equality; compare again in constant time all the same
        if row is None or not hmac.compare_digest(str(row["token"]).encode(), token.encode()):
            return None
        return row

    # -- developments ----------------------------------------------------------------------

    def _developments(self, store: Store) -> tuple[list[StoryItem], list[dict[str, Any]]]:
        """The latest stories as StoryItems, and the timeline of changed facts."""
        postman = Postman(store, self.settings, self.transport)
        wanted = tuple(self.categories)
        items = [postman.story_item(row, wanted) for row in store.stories(limit=STORY_LIMIT)]
        return items, store.timeline(changes_only=True)

    async def index(self, request: web.Request) -> web.Response:
        """GET /: the latest developments by category, and the timeline of facts."""
        items, facts = await self.store(self._developments)
        timeline = []
        ordered = sorted(facts, key=lambda f: (self._rank(f["category"]), f["category"] or ""))
        for category, group in groupby(ordered, key=lambda f: f["category"]):
            entries = [self._fact(f) for f in group]
            entries.reverse()  # newest first
            timeline.append((self._label(category), entries))
        return self.page("index.html", sections=self._sections(items), timeline=timeline)

    def _sections(self, items: list[StoryItem]) -> list[dict[str, Any]]:
        """Stories under their main category, each with the other categories it touches."""
        shown = []
        for category, group in grouped(items):
            stories = [
                (story_view(item, UTC), [self._label(c) for c in item.categories if c != category])
                for item in group
            ]
            accent = f"cat-{category}" if category in CATEGORY_LABELS else "cat-other"
            shown.append(
                {
                    "id": category,
                    "label": self._label(category),
                    "accent": accent,
                    "stories": stories,
                }
            )
        return shown

    @staticmethod
    def _label(category: str | None) -> str:
        """A category's display name."""
        return CATEGORY_LABELS.get(category or "") or one_line(category).capitalize() or "Other"

    def _rank(self, category: str | None) -> int:
        """Where a category goes on the page: the topic's order, then the rest."""
        return self.categories.index(category) if category in self.categories else 99

    def _fact(self, fact: Mapping[str, Any]) -> dict[str, Any]:
        """One timeline entry as the template shows it: one-line texts, a safe link."""
        stated = datetime.fromisoformat(fact["stated_at"]) if fact["stated_at"] else None
        return {
            "when": local_date(stated, UTC, with_time=False) if stated else "",
            "subject": one_line(fact["subject"]),
            "value": one_line(fact["value"]),
            # a cast fact's detail is the role; the others repeat the value as written
            "detail": one_line(fact["detail"]) if fact["category"] == "cast" else "",
            "replaced": one_line(fact["replaced"]),
            "outlet": one_line(fact["outlet"]),
            "title": one_line(fact["title"]),
            "url": safe_url(fact["url"]),
        }

    async def feed(self, request: web.Request) -> web.Response:
        """GET /feed.atom: the same developments as an Atom feed."""
        items, _ = await self.store(self._developments)
        base = self.settings.delivery.base_url
        updated = max((item.developed_at for item in items), default=utcnow())
        body = atom_feed(
            items,
            topic_name=self.settings.topic.name,
            feed_url=f"{base}/feed.atom",
            site_url=f"{base}/",
            updated=updated,
        )
        return web.Response(body=body, content_type="application/atom+xml", charset="utf-8")

    async def healthz(self, request: web.Request) -> web.Response:
        """GET /healthz: 200 when the store opens and answers, else 503."""
        try:
            await self.store(lambda store: store.conn.execute("SELECT 1").fetchone())
        except Unavailable:
            return web.json_response({"status": "unavailable", "database": False}, status=503)
        return web.json_response({"status": "ok", "database": True})

    # -- subscribing -----------------------------------------------------------------------

    async def subscribe_form(self, request: web.Request) -> web.Response:
        """GET /subscribe: the form."""
        return self.form(request, "subscribe.html", email="", error=None, **self.choice_context())

    async def subscribe(self, request: web.Request) -> web.Response:
        """POST /subscribe: start the double opt-in; say the same thing for every address."""
        form = await request.post()
        refused = self.forged(request, form)
        if refused is not None:
            return refused
        email = str(form.get("email", ""))[:320]
        try:
            wanted = self.wanted(form)
        except subscribers.SubscriberError as exc:
            return self._subscribe_again(request, email, None, str(exc))
        if not self.by_client.allow(client_address(request)):
            return self._too_many()
        try:
            address = subscribers.normalize_email(email)
        except subscribers.SubscriberError:
            problem = "That does not look like an email address; please check it."
            return self._subscribe_again(request, email, wanted, problem)
        if not self.by_address.allow(address.lower()):
            return self._too_many()
        row = await self.store(lambda store: self._register(store, address, wanted))
        if row is not None:
            self._mail_later(row)
        return self.page("sent.html", private=True)

    def _subscribe_again(
        self, request: web.Request, email: str, wanted: subscribers.Choices | None, error: str
    ) -> web.Response:
        """The subscribe form again, with what was typed and what is wrong."""
        context = self.choice_context(wanted)
        return self.form(
            request, "subscribe.html", http_status=400, email=email, error=error, **context
        )

    def _too_many(self) -> web.Response:
        """The 429 page."""
        return self.message(
            429,
            "Too many requests",
            "This form was used too often for this address or from your network. "
            "Please try again in an hour.",
        )

    def _register(
        self, store: Store, address: str, wanted: subscribers.Choices
    ) -> dict[str, Any] | None:
        """Add a pending subscriber to mail; None for an address already active or pending."""
        existing = store.subscriber(email=address)
        if existing is not None and existing["status"] in ("active", "pending"):
            return None  # the page does not say so; a pending one's message is being retried
        try:
            return subscribers.subscribe(store, address, wanted, confirmed=False)
        except subscribers.SubscriberError:
            return None  # lost a race with another request for the same address

    def _mail_confirmation(self, store: Store, row: dict[str, Any]) -> None:
        """Send the double opt-in message; a failure stays reserved for the next run."""
        with self._mail_lock:
            try:
                Postman(store, self.settings, self.transport).send_confirmation(row)
            except DeliveryError as exc:
                logger.warning("confirmation not sent yet: %s", exc)

    def _mail_later(self, row: dict[str, Any]) -> None:
        """Mail after answering: a slow mail server must not tell new addresses from known."""
        task = asyncio.create_task(self.store(lambda store: self._mail_confirmation(store, row)))
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        """Forget a finished send; log what went wrong, if anything."""
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("confirmation failed", exc_info=task.exception())

    async def drain(self, app: web.Application | None = None) -> None:
        """Wait for the confirmations being sent (on shutdown; tests wait on it too)."""
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def confirm_page(self, request: web.Request) -> web.Response:
        """GET /confirm/TOKEN: what they will receive, and the button that confirms."""
        row = await self.subscriber(request)
        if row is None:
            return self.not_found()
        return self.form(request, "confirm.html", **self.described(row))

    async def confirm(self, request: web.Request) -> web.Response:
        """POST /confirm/TOKEN: confirm (idempotent) and show what they will receive."""
        row = await self.subscriber(request)
        if row is None:
            return self.not_found()
        refused = self.forged(request, await request.post())
        if refused is not None:
            return refused
        token = row["token"]
        try:
            row = await self.store(lambda store: subscribers.confirm(store, token))
        except subscribers.SubscriberError:
            return self.message(
                409, "You have unsubscribed", "Subscribe again from the subscribe page."
            )
        return self.page("confirmed.html", private=True, **self.described(row))

    async def unsubscribe_page(self, request: web.Request) -> web.Response:
        """GET /unsubscribe/TOKEN: a page with a button (a GET never unsubscribes)."""
        row = await self.subscriber(request)
        if row is None:
            return self.not_found()
        return self.form(request, "unsubscribe.html", **self.described(row))

    async def unsubscribe(self, request: web.Request) -> web.Response:
        """POST /unsubscribe/TOKEN: the button (with CSRF token) or RFC 8058 one-click."""
        row = await self.subscriber(request)
        if row is None:
            return self.not_found()
        form = await request.post()
        # RFC 8058: mail providers post this without any cookie or page token; the
        # unguessable token in the URL is what authorises it.
        one_click = form.get("List-Unsubscribe") == "One-Click"
        if not one_click:
            refused = self.forged(request, form)
            if refused is not None:
                return refused
        token = row["token"]
        await self.store(lambda store: subscribers.unsubscribe(store, token=token))
        return self.page("unsubscribed.html", private=True, **self.described(row))

    async def preferences_page(self, request: web.Request) -> web.Response:
        """GET /preferences/TOKEN: the subscriber's choices, to change."""
        row = await self.subscriber(request)
        if row is None:
            return self.not_found()
        return self._preferences(request, row, saved=False, error=None)

    def _preferences(
        self,
        request: web.Request,
        row: Mapping[str, Any],
        *,
        saved: bool,
        error: str | None,
        http_status: int = 200,
    ) -> web.Response:
        """The preferences form with the subscriber's current choices."""
        current = subscribers.Choices(
            tuple(c for c in str(row["categories"]).split(",") if c),
            row["frequency"],
            row["timezone"],
        )
        return self.form(
            request,
            "preferences.html",
            http_status=http_status,
            saved=saved,
            error=error,
            **self.choice_context(current),
            **self.described(row),
        )

    async def preferences(self, request: web.Request) -> web.Response:
        """POST /preferences/TOKEN: save the new choices."""
        row = await self.subscriber(request)
        if row is None:
            return self.not_found()
        form = await request.post()
        refused = self.forged(request, form)
        if refused is not None:
            return refused
        try:
            wanted = self.wanted(form)
        except subscribers.SubscriberError as exc:
            return self._preferences(request, row, saved=False, error=str(exc), http_status=400)
        email = row["email"]
        row = await self.store(lambda store: subscribers.change(store, email, wanted))
        return self._preferences(request, row, saved=True, error=None)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, static files and errors included, carries the security headers."""
    response.headers.update(SECURITY_HEADERS)


def make_app(settings: config.Settings, *, transport: Transport | None = None) -> web.Application:
    """The web application for these settings (mail goes through `transport` if given)."""
    face = WebFace(
        settings, transport or transport_for(settings.delivery, settings.outbox, os.environ)
    )

    @web.middleware
    async def errors(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Readable 404 and 503 pages."""
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return face.not_found()
        except Unavailable as exc:
            logger.warning("store unavailable: %s", exc)
            return face.message(503, "Unavailable", "The news store cannot be read right now.")

    app = web.Application(middlewares=[errors], client_max_size=64 * 1024)
    app[FACE] = face
    app.on_response_prepare.append(_security_headers)
    app.on_cleanup.append(face.drain)
    app.router.add_get("/", face.index)
    app.router.add_get("/feed.atom", face.feed)
    app.router.add_get("/healthz", face.healthz)
    app.router.add_get("/subscribe", face.subscribe_form)
    app.router.add_post("/subscribe", face.subscribe)
    for path, show, act in (
        ("/confirm/{token}", face.confirm_page, face.confirm),
        ("/unsubscribe/{token}", face.unsubscribe_page, face.unsubscribe),
        ("/preferences/{token}", face.preferences_page, face.preferences),
    ):
        app.router.add_get(path, show)
        app.router.add_post(path, act)
    app.router.add_static("/static", STATIC)
    return app


async def serve(
    app: web.Application, host: str, port: int, *, sock: socket.socket | None = None
) -> web.AppRunner:
    """Start serving in the running loop (on `sock` if given); stop with `runner.cleanup()`."""
    runner = web.AppRunner(app, access_log_class=RedactingAccessLogger, shutdown_timeout=5.0)
    await runner.setup()
    site: web.BaseSite = (
        web.SockSite(runner, sock) if sock is not None else web.TCPSite(runner, host, port)
    )
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port a started runner listens on (useful after asking for port 0)."""
    return int(runner.addresses[0][1])


class BackgroundServer:
    """The app served from its own thread and event loop, for callers without a loop."""

    def __init__(
        self,
        app: web.Application,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sock: socket.socket | None = None,
    ) -> None:
        self.app, self.host, self.port, self._sock = app, host, port, sock
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="web", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The server's base URL, e.g. http://127.0.0.1:8750."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        """Start listening; return once the socket is bound."""
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            serve(self.app, self.host, self.port, sock=self._sock), self._loop
        )
        self._runner = started.result(timeout=30)
        self.port = bound_port(self._runner)
        return self

    def stop(self) -> None:
        """Finish the requests in flight, close the socket and end the thread."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> BackgroundServer:
        """Start on entering the block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving it."""
        self.stop()
