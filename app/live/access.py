"""The "access changed" signal: a message on the channel `user:<id>` saying that what the
user may do changed (a token of theirs was revoked, their password was set, they left a
program). Every open WebSocket of that user listens to it and checks its token and roles
again at once (app.api.websocket), in every process when the broker is Redis.

The signal carries nothing but its kind: the socket reads the truth from the database, so
a forged or repeated signal costs one lookup and grants nothing. A signal that is lost (a
Redis outage) is caught up by the check every new operation on a socket makes anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.live.broker import Broker

ACCESS_CHANGED: dict[str, Any] = {"type": "access_changed"}


def access_channel(user_id: int) -> str:
    return f"user:{user_id}"


async def announce_access_changed(broker: Broker, user_ids: Iterable[int]) -> None:
    """Tell the open sockets of these users, in every process, to check their access again.
    Call it after the change committed. Never raises for a broker outage (it logs)."""
    for user_id in dict.fromkeys(user_ids):
        await broker.publish(access_channel(user_id), ACCESS_CHANGED)
