"""Global IDs and the links we hand out (share links, email links).

Outside `app/api` so the email outbox can build the same links as the GraphQL API
without importing Strawberry. `app.api.pagination` uses the same encoding.
"""

from __future__ import annotations

import binascii
import functools

_URL_SAFE = bytes.maketrans(b"+/", b"-_")


# Kept for the texts encoded lately: a page encodes an ID or a cursor per row, and the
# same rows are asked for again and again (a popular session's participants); a lookup
# costs about half an encoding. The function is pure, so the cache cannot change an answer.
@functools.lru_cache(maxsize=16384)
def base64url(text: str) -> str:
    """base64url of the text's UTF-8 without padding: base64.urlsafe_b64encode's answer,
    without its two layers of calls."""
    return binascii.b2a_base64(text.encode(), newline=False).translate(_URL_SAFE).decode().rstrip("=")


def global_id(type_name: str, pk: int) -> str:
    """The opaque Relay global ID of a row: base64url("Type:pk") without padding."""
    return base64url(f"{type_name}:{pk}")


def group_session_url(public_web_url: str, session_id: int) -> str:
    """The public page of a group session, as shared by email and in `GroupSession.url`."""
    return f"{public_web_url.rstrip('/')}/group-sessions/{global_id('GroupSession', session_id)}"
