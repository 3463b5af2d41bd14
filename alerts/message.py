"""Turn a rendered digest into an email message with the headers that delivery needs."""

from __future__ import annotations

import binascii
import hashlib
import re
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime

from alerts.records import Rendered

# Headers are folded at 998, not 78: the email package would otherwise turn a long
# List-Unsubscribe URL into an RFC 2047 encoded word, which no client can follow.
# The bodies are encoded (quoted-printable, 76-character lines) before the switch.
HEADER_POLICY = policy.SMTP.clone(max_line_length=998)
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_MESSAGE_ID = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")


def _one_line(name: str, value: str) -> str:
    """The header value, refused when it carries CR, LF or another control character."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(f"the {name} header may not contain CR, LF or control characters")
    return value


def _unsubscribe_header(url: str | None, mailto: str | None) -> str | None:
    """The List-Unsubscribe value: <url>, <mailto:...>; None when neither is given."""
    targets = []
    if url is not None:
        if not url.lower().startswith(("https://", "http://")):
            raise ValueError("the unsubscribe URL must be http(s)")
        targets.append(url)
    if mailto is not None:
        if not mailto.lower().startswith("mailto:"):
            raise ValueError("the unsubscribe address must be a mailto: URI")
        targets.append(mailto)
    for target in targets:
        if any(ch in target for ch in "<>, ") or any(ord(ch) < 33 for ch in target):
            raise ValueError("an unsubscribe target may not contain spaces, commas or <>")
    return ", ".join(f"<{target}>" for target in targets) or None


def build_message(
    rendered: Rendered,
    *,
    sender: str,
    to: str,
    message_id: str,
    unsubscribe_url: str | None,
    unsubscribe_mailto: str | None,
    date: datetime,
) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) with stable ID and unsubscribe headers."""
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("the Date must be timezone-aware")
    if not _MESSAGE_ID.match(message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    headers = {
        "From": _one_line("From", sender),
        "To": _one_line("To", to),
        "Subject": _one_line("Subject", rendered.subject),
        "Date": format_datetime(date),
        "Message-ID": message_id,
    }
    unsubscribe = _unsubscribe_header(unsubscribe_url, unsubscribe_mailto)
    message = EmailMessage(policy=policy.SMTP)
    for name, value in headers.items():
        message[name] = value
    if unsubscribe is not None:
        message["List-Unsubscribe"] = unsubscribe
        if unsubscribe_url is not None:
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["MIME-Version"] = "1.0"
    # "=_" cannot occur in a quoted-printable body ("=" is always "=3D" there), so the
    # boundary needs no search through the parts.
    boundary = "=_" + hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:24]
    message.make_alternative(boundary=boundary)
    parts = [_text_part(rendered.text, "plain"), _text_part(rendered.html, "html")]
    for part in parts:
        message.attach(part)
    message.policy = HEADER_POLICY
    setattr(message, _WIRE, _serialize(message, boundary, parts))  # noqa: B010
    return message


def _serialize(message: EmailMessage, boundary: str, parts: list[EmailMessage]) -> bytes:
    """The bytes `bytes(message)` gives for a message made by build_message, made at a
    fraction of the cost: the email package's generator writes a body line by line, and
    serializing took as long as rendering the digest. A test compares the two."""
    texts = [
        _headers(part) + _LINE_END.sub("\r\n", str(part.get_payload())).encode("ascii")
        for part in parts
    ]
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    return b"".join(
        (
            _headers(message),
            f"--{boundary}\r\n".encode("ascii"),
            delimiter.join(texts),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        )
    )


_LINE_END = re.compile(r"\r\n|\r|\n")  # as the email package's generator splits lines


def _headers(part: EmailMessage) -> bytes:
    """A part's header block, folded by the message's policy, with its blank line."""
    return b"".join(HEADER_POLICY.fold_binary(name, value) for name, value in part.raw_items()) + (
        b"\r\n"
    )


def _text_part(body: str, subtype: str) -> EmailMessage:
    """A text part in UTF-8, quoted-printable. Encoded by binascii (in C): the email
    package's own encoder (`set_content(cte="quoted-printable")`) took a tenth of the time
    of sending a digest; both decode to the same text."""
    part = EmailMessage(policy=policy.SMTP)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii"))
    return part


def parse_message(data: bytes) -> EmailMessage:
    """A stored message read back so that it serializes to the same bytes (headers unfolded)."""
    message = message_from_bytes(data, policy=HEADER_POLICY)
    assert isinstance(message, EmailMessage)  # the policy's message_factory makes one
    setattr(message, _WIRE, data)  # noqa: B010 - what it was read from is what goes out
    return message


_WIRE = "_sequelwatch_wire_bytes"


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as it is stored and sent, serialized once: a finished message is not
    changed again, and serializing a digest costs as much as rendering it."""
    data: bytes | None = getattr(message, _WIRE, None)
    if data is None:
        data = bytes(message)
        setattr(message, _WIRE, data)  # noqa: B010
    return data


def make_message_id(key: str, domain: str) -> str:
    """A Message-ID that is the same for the same key: <sha256-prefix.sequelwatch@domain>."""
    if not _DOMAIN.match(domain):
        raise ValueError(f"not a domain for a Message-ID: {domain!r}")
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}.sequelwatch@{domain}>"
