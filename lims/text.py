"""Text helpers: accent-insensitive search keys for Vietnamese, and spreadsheet-safe cells."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# Đ/đ is a letter of its own in Unicode, not D with a combining mark, so NFD alone does not fold it.
_LETTERS = str.maketrans({"đ": "d", "Đ": "d"})


def fold(text: str | None) -> str:
    """Lower-case, accent-free, single-spaced form of ``text`` used to search Vietnamese without diacritics.

    >>> fold("  Chợ  Tân Phú – Đắk Lắk ")
    'cho tan phu – dak lak'
    >>> fold(None)
    ''
    """
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFD", text.translate(_LETTERS))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped).strip().lower()


def fold_serial(text: str | None) -> str:
    """Search key of a serial number: folded, without spaces, dashes, dots or slashes.

    >>> fold_serial(" AB-12 34/5 ")
    'ab12345'
    """
    return re.sub(r"[\s\-./_]", "", fold(text))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Neutralise a text cell that a spreadsheet would run as a formula (CSV/formula injection, OWASP).

    >>> safe_cell('=HYPERLINK("http://x")')
    '\\'=HYPERLINK("http://x")'
    >>> safe_cell("-12.5")
    '-12.5'
    >>> safe_cell(7)
    7
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        if re.fullmatch(r"[+-]?\d+(\.\d+)?", value):
            return value  # a plain signed number is data, not a formula
        return "'" + value
    return value
