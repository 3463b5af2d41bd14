"""Text folded for matching: case, accents and typographic punctuation ignored."""

from __future__ import annotations

import re
import unicodedata

# Typographic punctuation folded to ASCII before matching, so that topic patterns can be
# written in plain ASCII ("Alita’s" matches like "Alita's", "–" like "-").
_ASCII_PUNCT = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u02bc": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u00a0": " ",
    }
)
# Combining marks left by NFKD decomposition: dropping them removes accents ("é" -> "e").
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def normalize(text: str) -> str:
    """Fold case, accents and typographic punctuation so that matching ignores them."""
    text = text.translate(_ASCII_PUNCT).casefold()
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))
