"""How many WebSockets may be open at once, per client address and per user.

- A client address (IPv4, or IPv6 /64, as for sign-in) over `per_ip` open sockets is
  refused as it connects: the socket is accepted and closed at once with 1013 (Try Again
  Later) and a reason, before any other work.
- A user over `per_user` open sockets is refused at `connection_init`, once the token
  says who they are: close 4429 with a reason, instead of the connection_ack.

Where they are counted:
- Without Redis, in this process: with N processes behind a load balancer a client may
  hold up to N times the limits (docs/live.md#connection-limits).
- With Redis (REDIS_URL), across every process (`SharedSocketCounts`): one sorted set per
  user and per address (the address hashed), holding one member per open socket scored
  by its last heartbeat (Redis's clock). Adding a socket is one Lua script that drops the
  members whose heartbeat lapsed, counts the rest and adds the new one only under the
  limit: two processes racing cannot both slip past it. Every process refreshes its own
  members every `heartbeat` seconds; a member not refreshed for `LAPSE_HEARTBEATS`
  heartbeats (its process died without releasing it) stops counting by itself.
- When Redis cannot be reached, each process counts its own sockets (the local counts
  are always kept) and logs it once; the heartbeat keeps trying, and when Redis answers
  again it registers every socket open here (those admitted meanwhile included), so the
  shared counts are whole again within one heartbeat. During the outage the limits hold
  per process only.

Every socket that was counted is released when its connection ends, however it ends
(client close, error, init timeout, slow subscriber, server shutdown): the view holds it
in a `try/finally`, and releasing is synchronous here (the shared release follows in the
background; if it fails, the member lapses) so no cancellation can skip it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import uuid
from collections import Counter

from app import metrics
from app.accounts.rate_limit import client_key

logger = logging.getLogger(__name__)

TOO_MANY_FROM_ADDRESS_CLOSE_CODE = 1013
TOO_MANY_FROM_ADDRESS_REASON = "Too many open connections from this address; try again later"
TOO_MANY_FOR_USER_CLOSE_CODE = 4429
# A socket's shared entry stops counting this many heartbeats after its last refresh.
LAPSE_HEARTBEATS = 3


def too_many_for_user_reason(limit: int) -> str:
    return f"Too many open connections for this user (at most {limit}); close one first"


# Redis's clock in milliseconds, so every process judges freshness by the same clock.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
# KEYS[1]: the set; ARGV: member, limit, lapse (ms). 1 when counted, 0 when over the limit.
_ADD = _NOW + """
local lapse = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - lapse)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * lapse)
return 1
"""
# KEYS: sets; ARGV[1]: lapse (ms), ARGV[i + 1]: the member of KEYS[i]. (Re)adds each one:
# a socket open here counts, even if its entry lapsed or was never written (an outage).
_REFRESH = _NOW + """
local lapse = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[i + 1])
  redis.call('PEXPIRE', key, 2 * lapse)
end
return #KEYS
"""
# KEYS[1]: a set. Members whose heartbeat is fresh.
_COUNT = _NOW + """
return redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')
"""


class SharedSocketCounts:
    """Open sockets of every process, in Redis sorted sets (see the module docstring).
    Its methods raise the client's errors (RedisError, OSError); SocketLimits handles them."""

    def __init__(self, url: str, *, prefix: str, heartbeat: float) -> None:
        from redis.asyncio import Redis
        from redis.backoff import ExponentialWithJitterBackoff
        from redis.retry import Retry

        self.prefix = prefix
        self.lapse_ms = int(heartbeat * LAPSE_HEARTBEATS * 1000)
        # Short timeouts: a connecting socket waits on this.
        self.redis = Redis.from_url(
            url, retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.2), 1),
            socket_timeout=1, socket_connect_timeout=1,
        )
        self._add = self.redis.register_script(_ADD)
        self._refresh = self.redis.register_script(_REFRESH)
        self._count = self.redis.register_script(_COUNT)

    def user_key(self, user_id: int) -> str:
        return f"{self.prefix}ws:user:{user_id}"

    def address_key(self, address_key: str) -> str:
        # Hashed, as sign-in counters are: no address stored in clear.
        return f"{self.prefix}ws:address:{hashlib.sha256(address_key.encode()).hexdigest()[:32]}"

    async def add(self, key: str, member: str, limit: int) -> bool:
        """Count `member` in `key` if fewer than `limit` fresh members are there (atomic)."""
        return bool(await self._add(keys=[key], args=[member, limit, self.lapse_ms]))

    async def refresh(self, entries: list[tuple[str, str]]) -> None:
        """Mark these (key, member) entries alive now (with none, ask Redis whether it answers)."""
        if not entries:
            await self.redis.ping()
        for start in range(0, len(entries), 500):
            chunk = entries[start:start + 500]
            await self._refresh(keys=[key for key, _ in chunk], args=[self.lapse_ms, *(m for _, m in chunk)])

    async def remove(self, entries: list[tuple[str, str]]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, member in entries:
                pipe.zrem(key, member)
            await pipe.execute()

    async def count(self, key: str) -> int:
        """Fresh members of `key` (for operators and tests)."""
        return int(await self._count(keys=[key], args=[self.lapse_ms]))

    async def close(self) -> None:
        await self.redis.aclose()


class SocketLimits:
    """Open WebSockets per client address and per user: in this process, and across
    processes through `shared` when given (see the module docstring)."""

    def __init__(
        self, *, per_ip: int, per_user: int, shared: SharedSocketCounts | None = None, heartbeat: float = 10.0
    ) -> None:
        self.per_ip = per_ip
        self.per_user = per_user
        self.shared = shared
        self.heartbeat = heartbeat
        self._by_address: Counter[str] = Counter()
        self._by_user: Counter[int] = Counter()
        self._process = uuid.uuid4().hex[:12]
        self._ids = itertools.count(1)
        self._open: set[OpenSocket] = set()
        self._shared_down = False
        self._lock = asyncio.Lock()  # a release waits for a refresh that may re-add it
        self._pending: set[asyncio.Task[None]] = set()
        self._heartbeat_task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings) -> SocketLimits:
        heartbeat = settings.ws_connection_heartbeat.total_seconds()
        shared = (
            SharedSocketCounts(settings.redis_url, prefix=settings.redis_key_prefix, heartbeat=heartbeat)
            if settings.redis_url else None
        )
        return cls(
            per_ip=settings.ws_max_connections_per_ip, per_user=settings.ws_max_connections_per_user,
            shared=shared, heartbeat=heartbeat,
        )

    # --- counting ------------------------------------------------------------------------------

    async def open(self, address: str | None) -> OpenSocket | None:
        """Count a new socket from `address`; None when that address has too many open."""
        key = client_key(address)
        if self._by_address[key] >= self.per_ip:
            return None
        self._by_address[key] += 1
        socket = OpenSocket(self, key, f"{self._process}:{next(self._ids)}")
        self._open.add(socket)
        try:
            admitted = self.shared is None or await self._add_shared(
                socket, self.shared.address_key(key), self.per_ip
            )
        except BaseException:
            socket.close()
            raise
        if not admitted:
            socket.close()
            return None
        metrics.OPEN_SOCKETS.inc()
        socket.counted = True
        return socket

    async def _add_shared(self, socket: OpenSocket, key: str, limit: int) -> bool:
        """Count `socket` in the shared set `key`: False when that set is full. While Redis
        cannot be reached, only the local count (already taken) applies."""
        from redis.exceptions import RedisError

        if not self._shared_down:
            try:
                added = await self.shared.add(key, socket.member, limit)
            except (RedisError, OSError) as error:
                self._down(error)
            else:
                if not added:
                    return False
        socket.shared_keys.append(key)  # counted (or to be registered by the heartbeat)
        if socket.closed:  # it ended while Redis answered
            self._remove_later([(key, socket.member)])
        return True

    def open_sockets(self) -> int:
        """Sockets counted now in this process (all addresses)."""
        return sum(self._by_address.values())

    def signed_in_sockets(self, user_id: int) -> int:
        """Sockets of `user_id` counted now in this process."""
        return self._by_user[user_id]

    async def shared_sockets_of_user(self, user_id: int) -> int | None:
        """Sockets of `user_id` open in every process (None without Redis)."""
        return None if self.shared is None else await self.shared.count(self.shared.user_key(user_id))

    def _release(self, counter: Counter, key: object) -> None:
        counter[key] -= 1
        if counter[key] <= 0:
            del counter[key]  # no entry kept for an address or user with nothing open

    def _closed(self, socket: OpenSocket) -> None:
        self._open.discard(socket)
        if socket.shared_keys:
            self._remove_later([(key, socket.member) for key in socket.shared_keys])

    # --- the shared counts in the background ---------------------------------------------------

    def _remove_later(self, entries: list[tuple[str, str]]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self._remove(entries))
        except RuntimeError:  # no loop (interpreter shutting down): the entries lapse
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _remove(self, entries: list[tuple[str, str]]) -> None:
        from redis.exceptions import RedisError

        async with self._lock:
            try:
                await self.shared.remove(entries)
            except (RedisError, OSError) as error:
                self._down(error)  # they lapse by themselves

    def _down(self, error: BaseException) -> None:
        if not self._shared_down:
            self._shared_down = True
            logger.warning(
                "WebSocket limits: Redis unavailable (%s); counting this process's sockets only until it answers",
                error,
            )

    async def refresh(self) -> None:
        """One heartbeat: mark every socket open here alive in the shared counts (and
        register those admitted while Redis was away)."""
        from redis.exceptions import RedisError

        if self.shared is None:
            return
        async with self._lock:
            entries = [(key, socket.member) for socket in list(self._open) for key in socket.shared_keys]
            try:
                await self.shared.refresh(entries)
            except (RedisError, OSError) as error:
                self._down(error)
                return
        if self._shared_down:
            self._shared_down = False
            logger.warning("WebSocket limits: Redis answers again; counting sockets across processes")

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)  # the heartbeat's period, not a synchronization
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - the next beat tries again
                logger.exception("WebSocket limits: heartbeat failed")

    async def start(self) -> None:
        """Start the heartbeat (with Redis only)."""
        if self.shared is not None and self._heartbeat_task is None:
            self._heartbeat_task = asyncio.create_task(self._beat(), name="socket-limits-heartbeat")

    async def stop(self) -> None:
        """Stop the heartbeat, give back what is still counted here, close the client."""
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task
            self._heartbeat_task = None
        if self.shared is None:
            return
        for socket in list(self._open):
            self._closed(socket)
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=5)
        await self.shared.close()


class OpenSocket:
    """One counted socket; `close()` releases it (idempotent)."""

    def __init__(self, limits: SocketLimits, address_key: str, member: str) -> None:
        self._limits = limits
        self._address_key: str | None = address_key
        self._user_id: int | None = None
        self.member = member
        self.shared_keys: list[str] = []
        self.closed = False
        self.counted = False  # in the OPEN_SOCKETS gauge

    async def admit_user(self, user_id: int) -> bool:
        """Count this socket for `user_id`; False (and nothing counted) when they have too
        many open (here, or with Redis in every process). Once per socket: a socket signs in once."""
        if self._user_id is not None:
            return self._user_id == user_id
        limits = self._limits
        if self.closed or limits._by_user[user_id] >= limits.per_user:  # (reading adds no entry)
            return False
        limits._by_user[user_id] += 1  # taken before the shared count: a racing admit here sees it
        self._user_id = user_id
        if limits.shared is None:
            return True
        try:
            admitted = await limits._add_shared(self, limits.shared.user_key(user_id), limits.per_user)
        except BaseException:
            self._give_back_user()
            raise
        if not admitted:
            self._give_back_user()
        return admitted

    def _give_back_user(self) -> None:
        if self._user_id is not None and not self.closed:
            self._limits._release(self._limits._by_user, self._user_id)
        self._user_id = None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._address_key is not None:
            self._limits._release(self._limits._by_address, self._address_key)
            self._address_key = None
        if self.counted:  # admitted (a socket refused at the door was never counted)
            self.counted = False
            metrics.OPEN_SOCKETS.dec()
        if self._user_id is not None:
            self._limits._release(self._limits._by_user, self._user_id)
            self._user_id = None
        self._limits._closed(self)
