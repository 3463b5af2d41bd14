"""The message around a digest: headers for delivery and unsubscribing, and both parts."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

import pytest

from alerts.message import build_message, make_message_id, parse_message, wire_bytes
from alerts.records import Rendered

RENDERED = Rendered(
    subject="Alita 2: Rosa Salazar returning as Alita, release moves to 2031 + 3 more",
    text="Alita: Battle Angel 2: 5 new developments\n\n"
    + "* Rosa Salazar returns \u2014 \u201cyes\u201d\n"
    + "A long line " * 20
    + "\n",
    html='<!DOCTYPE html><html><body><p style="color: #111;">Rosa Salazar \u2014 '
    + "x" * 2000
    + "</p></body></html>",
)
DATE = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
UNSUBSCRIBE = "https://watch.example/unsubscribe/" + "t" * 120
MAILTO = "mailto:unsubscribe@watch.example?subject=unsubscribe%20tok"


def message(**changes: object) -> EmailMessage:
    """A message built from RENDERED with the given arguments changed."""
    arguments: dict[str, object] = {
        "sender": "sequelwatch <alerts@watch.example>",
        "to": "reader@example.org",
        "message_id": make_message_id("reservation-17", "watch.example"),
        "unsubscribe_url": UNSUBSCRIBE,
        "unsubscribe_mailto": MAILTO,
        "date": DATE,
    }
    arguments.update(changes)
    rendered = arguments.pop("rendered", RENDERED)
    assert isinstance(rendered, Rendered)
    return build_message(rendered, **arguments)  # type: ignore[arg-type]


def received(built: EmailMessage) -> EmailMessage:
    """The message as a mail server would pass it on: serialized and parsed back."""
    parsed = email.message_from_bytes(built.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_the_headers_say_who_what_when_and_how_to_leave() -> None:
    parsed = received(message())
    assert parsed["From"] == "sequelwatch <alerts@watch.example>"
    assert parsed["To"] == "reader@example.org"
    assert parsed["Subject"] == RENDERED.subject
    assert parsed["Date"].datetime == DATE
    assert parsed["Message-ID"] == make_message_id("reservation-17", "watch.example")
    assert parsed["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>, <{MAILTO}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_long_unsubscribe_url_is_not_encoded_or_broken() -> None:
    raw = message().as_bytes()
    assert f"List-Unsubscribe: <{UNSUBSCRIBE}>, <{MAILTO}>\r\n".encode() in raw
    assert b"=?utf-8?" not in raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_without_an_unsubscribe_url_there_is_no_one_click_header() -> None:
    parsed = received(message(unsubscribe_url=None))
    assert parsed["List-Unsubscribe"] == f"<{MAILTO}>"
    assert parsed["List-Unsubscribe-Post"] is None
    bare = received(message(unsubscribe_url=None, unsubscribe_mailto=None))
    assert bare["List-Unsubscribe"] is None and bare["List-Unsubscribe-Post"] is None


def test_both_parts_are_present_in_order_and_decode() -> None:
    parsed = received(message())
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in parts)
    text, html = (part.get_content() for part in parts)
    assert text.replace("\r\n", "\n") == RENDERED.text
    assert html.replace("\r\n", "\n").rstrip("\n") == RENDERED.html
    # 7-bit quoted-printable bodies in lines a mail server takes, under a MIME-Version
    assert parsed["MIME-Version"] == "1.0"
    assert all(part["Content-Transfer-Encoding"] == "quoted-printable" for part in parts)
    wire = message().as_bytes()
    assert wire.isascii() and max(len(line) for line in wire.split(b"\r\n")) <= 998
    body = wire.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 78


def test_the_message_id_is_stable_per_key() -> None:
    first = make_message_id("reservation-17", "watch.example")
    assert first == make_message_id("reservation-17", "watch.example")
    assert first != make_message_id("reservation-18", "watch.example")
    assert first.startswith("<") and first.endswith("@watch.example>")
    assert received(message())["Message-ID"] == received(message())["Message-ID"]


@pytest.mark.parametrize("domain", ["", "bad domain", "a>b", "x\r\ny"])
def test_a_message_id_needs_a_domain(domain: str) -> None:
    with pytest.raises(ValueError):
        make_message_id("k", domain)


@pytest.mark.parametrize(
    "changes",
    [
        {"rendered": Rendered("Hi\r\nBcc: victim@example.org", "t", "<p>h</p>")},
        {"rendered": Rendered("Hi\nthere", "t", "<p>h</p>")},
        {"to": "reader@example.org\r\nBcc: victim@example.org"},
        {"sender": "x <a@b.example>\nBcc: v@example.org"},
        {"message_id": "<a@b>\r\nBcc: v@example.org"},
        {"message_id": "no-brackets@b"},
        {"unsubscribe_url": "https://x.example/u\r\nBcc: v@example.org"},
        {"unsubscribe_url": "javascript:alert(1)"},
        {"unsubscribe_mailto": "https://not-a-mailto.example"},
        {"unsubscribe_mailto": "mailto:a@b>, <https://evil.example"},
        {"date": datetime(2026, 11, 25, 8, 0)},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_header_injection_and_bad_values_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        message(**changes)


def test_a_stored_message_reads_back_to_the_same_bytes() -> None:
    stored = bytes(message())
    again = parse_message(stored)
    assert bytes(again) == stored
    assert again["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>, <{MAILTO}>"
    assert f"List-Unsubscribe: <{UNSUBSCRIBE}>".encode() in again.as_bytes()


@pytest.mark.parametrize(
    "rendered",
    [
        RENDERED,
        Rendered(
            subject="=_ and =3D in a subject \u00e9",
            text="lines\r\nin every\rstyle\n=_boundary-like =3D text\n\n" + "\u00e9" * 500,
            html="<p>--=_not a boundary</p>\r\n" * 300 + "no newline at the end",
        ),
        Rendered(subject="empty parts", text="", html=""),
    ],
)
def test_the_bytes_sent_are_the_email_packages_own(rendered: Rendered) -> None:
    # Messages are serialized by hand (the email package's generator cost as much as
    # rendering a digest); what goes out must be byte for byte what it would write.
    built = message(rendered=rendered)
    sent = wire_bytes(built)
    assert sent == built.as_bytes()
    boundary = built.get_boundary()
    assert boundary and sent.count(f"--{boundary}".encode()) == 3  # two parts, one close
    again = email.message_from_bytes(sent, policy=policy.default)
    for kind, body in (("plain", rendered.text), ("html", rendered.html)):
        decoded = again.get_body((kind,)).get_content()
        assert decoded.split() == body.split()  # line ends become CRLF; words stay
