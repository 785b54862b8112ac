"""Finding members by name: "ada", "lov" and "élo" find "Ada Lovelace" and "Éloïse".

A name is folded (compatibility decomposition, combining marks dropped, case folded) and
split into words; each word is stored in `user_name_word`, and the folded name in
`user.sort_name` orders member lists. A search is folded and split the same way, and each
of its words must be the start of some word of the name: a range query
(word >= 'lov' AND word < 'low') over the (word, user_id) index, so it is served by an
index however many members a program has.

Names are indexed wherever they are set: `accounts.create_user`, `accounts.update_profile`
(updateViewer), and for names set before this existed, migration 0005.
"""

from __future__ import annotations

import re
import unicodedata

from tortoise.backends.base.client import BaseDBAsyncClient

from app.accounts.models import User, UserNameWord

# What a search may hold; more is refused (BAD_USER_INPUT), never silently cut.
SEARCH_MAX_CHARS = 100
SEARCH_MAX_WORDS = 5
WORD_MAX = UserNameWord._meta.fields_map["word"].max_length  # longer words are stored cut
SORT_NAME_MAX = User._meta.fields_map["sort_name"].max_length

_NOT_WORD = re.compile(r"[\W_]+")
_LAST_CODE_POINT = 0x10FFFF


def fold(text: str) -> str:
    """`text` without case or accents: "Éloïse" -> "eloise", "Straße" -> "strasse"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str, *, joined: bool = True) -> list[str]:
    """The distinct folded words of `text`, in order, each at most WORD_MAX characters.
    Punctuation separates words ("Jean-Luc" -> jean, luc); with `joined`, a word written
    with inner punctuation is also kept whole ("O'Brien" -> o, brien, obrien)."""
    found: list[str] = []
    for chunk in fold(text).split():
        parts = [p for p in _NOT_WORD.split(chunk) if p]
        for word in parts + (["".join(parts)] if joined and len(parts) > 1 else []):
            word = word[:WORD_MAX]
            if word not in found:
                found.append(word)
    return found


def sort_key(name: str) -> str:
    """What member lists are ordered by: the folded name, spaces collapsed."""
    return " ".join(fold(name).split())[:SORT_NAME_MAX]


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """(low, high): the words starting with `prefix` are exactly those with
    low <= word < high, in code point order (the "C" collation; SQLite's BINARY); high is
    None when no string is above them all."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates are not text: skip to the next character
            code = 0xE000
        if code <= _LAST_CODE_POINT:
            chars[-1] = chr(code)
            return prefix, "".join(chars)
        chars.pop()
    return prefix, None


def search_words(search: str) -> list[str]:
    """The words of a search, folded; ValueError when it is over SEARCH_MAX_CHARS
    characters or SEARCH_MAX_WORDS words."""
    if len(search) > SEARCH_MAX_CHARS:
        raise ValueError(f"search must be at most {SEARCH_MAX_CHARS} characters.")
    # "jean-luc" is searched as jean and luc, each the start of a word: it finds "Jean-Luc"
    # and "Jean Luc" alike ("jeanluc" finds the first, whose joined form is stored too).
    found = words(search, joined=False)
    if len(found) > SEARCH_MAX_WORDS:
        raise ValueError(f"search must be at most {SEARCH_MAX_WORDS} words.")
    return found


async def index_name(user_id: int, name: str, *, connection: BaseDBAsyncClient | None = None) -> None:
    """Store the words of `name` as the user's searchable words, replacing any before; run
    inside the transaction that sets the name (which also sets `sort_name` to
    `sort_key(name)`)."""
    db = connection or User._meta.db
    await UserNameWord.filter(user_id=user_id).using_db(db).delete()
    await UserNameWord.bulk_create([UserNameWord(user_id=user_id, word=w) for w in words(name)], using_db=db)
