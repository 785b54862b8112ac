"""How many WebSockets may be open at once, per client address and per user.

Counted in this process: the limits bound what one process holds (memory, tasks,
subscriptions), which is what they protect; with several processes behind a load balancer
a client may hold up to that many times more (docs/live.md#connection-limits).

- A client address (IPv4, or IPv6 /64, as for sign-in) over `per_ip` open sockets is
  refused as it connects: the socket is accepted and closed at once with 1013 (Try Again
  Later) and a reason, before any other work.
- A user over `per_user` open sockets is refused at `connection_init`, once the token
  says who they are: close 4429 with a reason, instead of the connection_ack.

Every socket that was counted is released when its connection ends, however it ends
(client close, error, init timeout, slow subscriber, server shutdown): the view holds it
in a `try/finally`, and releasing is synchronous so no cancellation can skip it.
"""

from __future__ import annotations

from collections import Counter

from app import metrics
from app.accounts.rate_limit import client_key

TOO_MANY_FROM_ADDRESS_CLOSE_CODE = 1013
TOO_MANY_FROM_ADDRESS_REASON = "Too many open connections from this address; try again later"
TOO_MANY_FOR_USER_CLOSE_CODE = 4429


def too_many_for_user_reason(limit: int) -> str:
    return f"Too many open connections for this user (at most {limit}); close one first"


class SocketLimits:
    """Open WebSockets per client address and per user, in this process."""

    def __init__(self, *, per_ip: int, per_user: int) -> None:
        self.per_ip = per_ip
        self.per_user = per_user
        self._by_address: Counter[str] = Counter()
        self._by_user: Counter[int] = Counter()

    def open(self, address: str | None) -> OpenSocket | None:
        """Count a new socket from `address`; None when that address has too many open."""
        key = client_key(address)
        if self._by_address[key] >= self.per_ip:
            return None
        self._by_address[key] += 1
        metrics.OPEN_SOCKETS.inc()
        return OpenSocket(self, key)

    def open_sockets(self) -> int:
        """Sockets counted now (all addresses)."""
        return sum(self._by_address.values())

    def signed_in_sockets(self, user_id: int) -> int:
        return self._by_user[user_id]

    def _release(self, counter: Counter, key: object) -> None:
        counter[key] -= 1
        if counter[key] <= 0:
            del counter[key]  # no entry kept for an address or user with nothing open


class OpenSocket:
    """One counted socket; `close()` releases it (idempotent)."""

    def __init__(self, limits: SocketLimits, address_key: str) -> None:
        self._limits = limits
        self._address_key: str | None = address_key
        self._user_id: int | None = None

    def admit_user(self, user_id: int) -> bool:
        """Count this socket for `user_id`; False (and nothing counted) when they have too
        many open. Once per socket: a socket signs in once."""
        if self._user_id is not None:
            return self._user_id == user_id
        if self._limits._by_user[user_id] >= self._limits.per_user:  # (reading adds no entry)
            return False
        self._limits._by_user[user_id] += 1
        self._user_id = user_id
        return True

    def close(self) -> None:
        if self._address_key is not None:
            self._limits._release(self._limits._by_address, self._address_key)
            self._address_key = None
            metrics.OPEN_SOCKETS.dec()
        if self._user_id is not None:
            self._limits._release(self._limits._by_user, self._user_id)
            self._user_id = None
