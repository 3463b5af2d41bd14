"""The web face in a real headless Chromium: subscribe, confirm, change, unsubscribe.

Needs Debian's `chromium` and `chromium-driver` and the `selenium` package; when one is
missing the test fails (CI installs them), it is not skipped.
"""

from __future__ import annotations

import html
import re
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

import config
from alerts.delivery import OutboxTransport
from alerts.digest import Postman
from pipeline.ingest import Ingestor
from pipeline.store import Store, utcnow
from sequelwatch.web import BackgroundServer, make_app
from tests.helpers import ROOT
from tests.stories import CAST_A, RELEASE, page

HOSTILE_TITLE = '<script>alert("owned")</script> Rosa Salazar will return as Alita in Alita 2'
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1200,900",
)
WAIT = 20


def _find(*names: str) -> str | None:
    """The first of these programs on PATH."""
    return next((found for name in names if (found := shutil.which(name))), None)


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """Headless Chromium driven by Debian's chromedriver; the test fails when one is missing."""
    chromium = _find("chromium", "chromium-browser")
    driver_path = _find("chromedriver")
    if chromium is None or driver_path is None:
        pytest.fail(
            "the browser test needs Chromium and its driver: "
            "apt-get install -y chromium chromium-driver"
        )
    try:
        from selenium import webdriver
    except ImportError:
        pytest.fail("the browser test needs selenium: pip install -e '.[dev]'")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in CHROME_ARGS:
        options.add_argument(argument)
    # an explicit driver path: Selenium Manager never goes looking on the network
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A socket bound to a free loopback port, so the base URL is known before the app."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture
def settings(tmp_path: Path, listening: socket.socket) -> config.Settings:
    """Settings whose links point at the listening socket, with two recent developments."""
    port = listening.getsockname()[1]
    path = tmp_path / "sequelwatch.toml"
    path.write_text(
        f'database = "store.db"\ntopic = "{ROOT}/config/topics/alita-battle-angel-2.toml"\n'
        f'sources = "{ROOT}/config/sources.toml"\n[delivery]\noutbox = "outbox"\n'
        f'base_url = "http://127.0.0.1:{port}"\n',
        encoding="utf-8",
    )
    loaded = config.load(path)
    store = Store(loaded.database)
    ingest = Ingestor(store, loaded.topic, loaded.stories).ingest
    recent = utcnow() - timedelta(days=2)
    ingest(page("https://a.example/cast", html.escape(HOSTILE_TITLE), CAST_A, "Trade", recent))
    ingest(
        page(
            "https://d.example/window",
            "Alita 2 won't arrive before 2030",
            RELEASE,
            "Reel Dispatch",
            recent + timedelta(hours=5),
        )
    )
    store.close()
    return loaded


def outbox(settings: config.Settings) -> list[EmailMessage]:
    """The messages written to the outbox, oldest first."""
    files = sorted(settings.outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime)
    return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]


def mail_arrives(settings: config.Settings) -> list[EmailMessage]:
    """The outbox once something is in it (the app mails after answering)."""
    deadline = time.monotonic() + WAIT
    while not (messages := outbox(settings)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return messages


def link(message: EmailMessage, action: str) -> str:
    """The message's {base_url}/{action}/TOKEN link, as the reader would click it."""
    body = message.get_body(("plain",))
    assert body is not None, "the message has no plain-text part"
    found = re.search(rf"http://127\.0\.0\.1:\d+/{action}/[A-Za-z0-9_-]+", body.get_content())
    assert found, f"no {action} link in {message['Subject']!r}"
    return found.group(0)


def stored(settings: config.Settings, email: str) -> dict[str, Any]:
    """The stored subscriber of an address."""
    store = Store(settings.database)
    try:
        found = store.subscriber(email=email)
    finally:
        store.close()
    assert found is not None, f"{email} is not stored"
    return found


def test_a_reader_subscribes_confirms_changes_and_leaves_in_a_real_browser(
    settings: config.Settings, listening: socket.socket
) -> None:
    with chromium_browser() as browser:
        reader_session(browser, settings, listening)


def reader_session(browser: Any, settings: config.Settings, listening: socket.socket) -> None:
    """Everything a reader does, from the developments page to unsubscribing."""
    from selenium.common.exceptions import NoAlertPresentException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import Select, WebDriverWait

    def wait_until(condition: Any) -> None:
        # the page is read while it may still be changing: Chrome answers a read of a node
        # the navigation just replaced with a plain WebDriverException, so try again
        WebDriverWait(browser, WAIT, ignored_exceptions=(WebDriverException,)).until(condition)

    def heading_is(text: str) -> None:
        wait_until(shown.text_to_be_present_in_element((By.TAG_NAME, "h1"), text))

    def tick(name: str, value: str, on: bool) -> None:
        box = browser.find_element(By.CSS_SELECTOR, f'input[name="{name}"][value="{value}"]')
        if box.is_selected() != on:
            box.click()

    transport = OutboxTransport(settings.outbox)
    with BackgroundServer(make_app(settings, transport=transport), sock=listening) as server:
        # the developments, with the hostile title shown as text and never run
        browser.get(f"{server.url}/")
        assert HOSTILE_TITLE in browser.find_element(By.CLASS_NAME, "stories").text
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018

        browser.get(f"{server.url}/subscribe")
        browser.find_element(By.ID, "email").send_keys("reader@example.org")
        for category, wanted in (("cast", True), ("release", True), ("plot", False)):
            tick("categories", category, wanted)
        tick("categories", "production", False)
        tick("frequency", "weekly", True)
        Select(browser.find_element(By.ID, "timezone")).select_by_visible_text("Europe/Rome")
        browser.find_element(By.CSS_SELECTOR, "#subscribe button[type=submit]").click()
        heading_is("Check your inbox")

        [confirmation] = mail_arrives(settings)
        assert confirmation["To"] == "reader@example.org"
        browser.get(link(confirmation, "confirm"))
        assert "Cast, Release" in browser.find_element(By.CSS_SELECTOR, "dl.summary").text
        assert stored(settings, "reader@example.org")["status"] == "pending"
        browser.find_element(By.CSS_SELECTOR, "#confirm button").click()
        heading_is("You are subscribed")
        subscriber = stored(settings, "reader@example.org")
        assert subscriber["status"] == "active"
        assert (subscriber["categories"], subscriber["frequency"], subscriber["timezone"]) == (
            "cast,release",
            "weekly",
            "Europe/Rome",
        )

        # the first digest carries the preferences and unsubscribe links
        store = Store(settings.database)
        try:
            report = Postman(store, settings, transport).run(to="reader@example.org")
        finally:
            store.close()
        assert len(report.sent) == 1, report
        digest = outbox(settings)[-1]
        browser.get(link(digest, "preferences"))
        tick("categories", "cast", False)
        tick("categories", "plot", True)
        tick("frequency", "daily", True)
        browser.find_element(By.CSS_SELECTOR, "#preferences button[type=submit]").click()
        wait_until(shown.presence_of_element_located((By.ID, "saved")))
        subscriber = stored(settings, "reader@example.org")
        assert (subscriber["categories"], subscriber["frequency"]) == ("release,plot", "daily")

        browser.get(link(digest, "unsubscribe"))
        assert stored(settings, "reader@example.org")["status"] == "active"  # a GET never leaves
        browser.find_element(By.CSS_SELECTOR, "#unsubscribe button").click()
        heading_is("You are unsubscribed")
        assert stored(settings, "reader@example.org")["status"] == "unsubscribed"
