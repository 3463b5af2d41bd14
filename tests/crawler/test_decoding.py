"""Bodies whose bytes and declared encoding disagree are read as their authors meant."""

from __future__ import annotations

from crawler.decoding import decode_utf8, feed_bytes

TEXT = "Rosa Salazar’s café “interview”"


def test_windows_1252_read_as_utf8_keeps_its_accents_and_quotes() -> None:
    assert decode_utf8(TEXT.encode("cp1252")) == TEXT


def test_stray_bytes_in_utf8_leave_the_rest_of_the_text_alone() -> None:
    mixed = TEXT.encode() + b" \xff\xc3 " + TEXT.encode()
    assert decode_utf8(mixed) == f"{TEXT} ÿÃ {TEXT}"


def test_a_feed_meant_as_utf8_is_repaired_and_any_other_is_left_to_feedparser() -> None:
    declared_utf8 = f'<?xml version="1.0" encoding="utf-8"?><t>{TEXT}</t>'.encode("cp1252")
    assert feed_bytes(declared_utf8, "application/rss+xml").decode() == declared_utf8.decode(
        "cp1252"
    )
    latin = '<?xml version="1.0" encoding="iso-8859-1"?><t>café</t>'.encode("latin-1")
    assert feed_bytes(latin, None) == latin
    assert feed_bytes(declared_utf8, "text/xml; charset=windows-1252") == declared_utf8
    utf16 = f"<t>{TEXT}</t>".encode("utf-16")
    assert feed_bytes(utf16, "application/rss+xml") == utf16
