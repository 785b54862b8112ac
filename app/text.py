"""Text that clients send: what may be stored, shown and put in an email."""

from __future__ import annotations

import unicodedata


def clean_text(value: str) -> str:
    """Trimmed `value` without the characters no stored text should carry: C0 controls
    other than tab and newline, DEL, and lone UTF-16 surrogates (JSON can carry them as
    "\\ud800", but they are not text: they can be neither stored nor encoded)."""
    return "".join(
        ch
        for ch in value
        if (ch in "\t\n" or (ord(ch) >= 32 and ord(ch) != 127)) and unicodedata.category(ch) != "Cs"
    ).strip()


def has_surrogates(value: str) -> bool:
    """True when `value` holds a lone surrogate (see clean_text)."""
    return any("\ud800" <= ch <= "\udfff" for ch in value)
