"""Text from bodies whose bytes and declared encoding disagree.

A page or feed that says UTF-8 but holds Windows-1252 bytes (or UTF-8 with a few
stray bytes pasted in) is common. Decoding it strictly loses every accent and curly
quote to U+FFFD; re-guessing the whole document turns its valid UTF-8 into mojibake.
Reading it as UTF-8 and only the bytes UTF-8 rejects as Windows-1252 keeps both right.
"""

from __future__ import annotations

import codecs
import re

from scrapy.http import TextResponse

_FALLBACK = "sequelwatch-utf8-cp1252"
_UNICODE_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)


def _cp1252_for_invalid(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: read the bytes UTF-8 rejected as Windows-1252."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    rejected = error.object[error.start : error.end]
    return bytes(rejected).decode("cp1252", "replace"), error.end


codecs.register_error(_FALLBACK, _cp1252_for_invalid)


def is_utf8(body: bytes) -> bool:
    """Whether the bytes are valid UTF-8."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_utf8(body: bytes) -> str:
    """UTF-8 text, with each byte sequence that is not UTF-8 read as Windows-1252."""
    return body.decode("utf-8", _FALLBACK)


def _means_utf8(name: str | None) -> bool:
    """Whether an encoding name stands for UTF-8 (unknown names do not)."""
    try:
        return name is not None and codecs.lookup(name).name == "utf-8"
    except LookupError:
        return False


def page_text(response: TextResponse) -> str:
    """A page's text; one that says UTF-8 but is not is read as decode_utf8 does."""
    if _means_utf8(response.encoding) and not is_utf8(response.body):
        return decode_utf8(response.body)
    return response.text


def feed_bytes(body: bytes, content_type: str | None) -> bytes:
    """A feed's bytes for feedparser: one meant as UTF-8 but not valid UTF-8, repaired.

    Left alone: valid UTF-8, a UTF-16/32 byte order mark, or another declared encoding
    (the Content-Type charset, else the XML declaration), which feedparser honours.
    """
    if is_utf8(body) or body.startswith(_UNICODE_BOMS):
        return body
    declared = _declared(body, content_type)
    if declared is not None and not _means_utf8(declared):
        return body
    return decode_utf8(body).encode("utf-8")


def _declared(body: bytes, content_type: str | None) -> str | None:
    """The encoding the Content-Type names, else the XML declaration's, else None."""
    if header := _CHARSET.search(content_type or ""):
        return header.group(1)
    if declaration := _XML_ENCODING.match(body):
        return declaration.group(1).decode("ascii")
    return None
