"""Sign-in rate limiting: attempts per email and per client address in a fixed window.

Every attempt is counted *before* the password is checked (an atomic increment), so
concurrent guesses cannot slip past the limit; an attempt over either limit is refused
without any password work. A successful sign-in clears its email's counter (the
client's counter is left alone, so one valid account cannot buy more guesses).

No flood resets a lock:
- the client's counter is counted first, and a client over its limit creates no
  counter for the email it sends (junk emails from one address cost one counter);
- a full store refuses new counters (RATE_LIMITED until its oldest window ends) instead
  of forgetting old ones, so the counter of a locked email is never dropped early;
- Redis refusing writes (out of memory) refuses the attempt too. Redis should keep the
  default `maxmemory-policy noeviction`: an eviction policy would forget counters.
(At most one signIn per request is enforced by the API: app.api.extensions.OneSignInPerRequest.)

Counters live in this process (`InMemoryAttemptCounter`) or in Redis
(`RedisAttemptCounter`, when REDIS_URL is set) so that every worker shares them; with
Redis, each process also keeps its own bounded copy, so a Redis outage never resets what
was counted. Keys are hashed: neither the emails nor the addresses are stored in clear.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from app import metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    """An attempt over the limit; `retry_after` is in whole seconds (at least 1)."""

    retry_after: int

    @property
    def message(self) -> str:
        return f"Too many sign-in attempts. Try again in {_duration(self.retry_after)}."


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class StoreFull(Exception):
    """No room for a new counter; `retry_after` is when the oldest window ends (seconds)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"sign-in counters full for {retry_after:.0f}s")
        self.retry_after = retry_after


class AttemptCounter(Protocol):
    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        """Count one attempt for `key`; returns (attempts in this window, seconds until it ends).
        Raises StoreFull when `key` has no counter and none can be created."""

    async def clear(self, key: str) -> None: ...

    async def close(self) -> None: ...


class InMemoryAttemptCounter:
    """Fixed-window counters in a dict, bounded to `max_keys`. When full, expired windows
    are swept; if none has expired, a new key is refused (StoreFull): counting never
    forgets a window before it ends.

    Windows are kept in the order they started; with one window length (the limiter uses
    one) that is also the order they end, so a sweep only looks at the front."""

    def __init__(self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys = max_keys
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, attempts)
        self._full_reported = False

    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        now = self.clock()
        ends, count = self._windows.get(key, (0.0, 0))
        if ends <= now:
            self._windows.pop(key, None)
            if len(self._windows) >= self.max_keys:
                self._make_room(now)
            ends, count = now + window_seconds, 0
        self._windows[key] = (ends, count + 1)  # a new window goes last
        return count + 1, ends - now

    def raise_to(self, key: str, count: int) -> None:
        """Raise the count of `key`'s current window to at least `count` (what another
        store counted); its window and its place in the store stay as they are."""
        if key in self._windows:
            ends, current = self._windows[key]
            if count > current:
                self._windows[key] = (ends, count)  # reassigning keeps the dict order

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)

    async def close(self) -> None:
        self._windows.clear()

    def __len__(self) -> int:
        return len(self._windows)

    def _make_room(self, now: float) -> None:
        while self._windows:
            key, (ends, _) = next(iter(self._windows.items()))
            if ends > now:
                break
            del self._windows[key]
        if len(self._windows) < self.max_keys:
            self._full_reported = False
            return
        oldest_end = next(iter(self._windows.values()))[0]
        if not self._full_reported:  # once per episode: a flood must not flood the log too
            self._full_reported = True
            logger.warning("sign-in rate limit: %d counters in use; refusing new ones", len(self._windows))
        raise StoreFull(oldest_end - now)


class RedisAttemptCounter:
    """Fixed-window counters in Redis (SET NX EX + INCR + PTTL in one MULTI), shared by
    every process, and also in this process's memory (`local`, bounded like
    InMemoryAttemptCounter). An attempt counts as the stricter (higher) of the two.

    The local copy is what makes an outage harmless: every attempt this process sees is
    counted locally, and each answer from Redis raises the local count to Redis's (which
    holds the other processes' attempts too), so when Redis cannot be reached the local
    counts, holding everything seen before the outage, keep limiting (logged); nothing
    starts again from zero. When Redis comes back its own counts apply again, the stricter
    one winning (a local window may end up to one window later than Redis's).

    When Redis is reachable but refuses the write (out of memory), the attempt is refused
    (StoreFull). A full local store while Redis answers leaves the attempt to Redis (the
    store logs that it is full); during an outage it refuses, as the in-memory counter does."""

    def __init__(self, url: str, *, prefix: str, local_max_keys: int = 100_000) -> None:
        from redis.asyncio import Redis
        from redis.backoff import ExponentialWithJitterBackoff
        from redis.retry import Retry

        self.prefix = prefix
        self.redis = Redis.from_url(
            url,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 2),
            socket_timeout=2,
            socket_connect_timeout=2,
        )
        self.local = InMemoryAttemptCounter(max_keys=local_max_keys)
        self._outage_reported = False

    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        from redis.exceptions import OutOfMemoryError, RedisError

        try:
            local: tuple[int, float] | StoreFull = await self.local.hit(key, window_seconds)
        except StoreFull as full:
            local = full
        name = self.prefix + key
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(name, 0, ex=window_seconds, nx=True)
                pipe.incr(name)
                pipe.pttl(name)
                _, count, ttl_ms = await pipe.execute()
        except (RedisError, OSError) as error:
            if isinstance(error, OutOfMemoryError):
                logger.warning("sign-in rate limit: Redis refuses writes (%s); refusing attempts", error)
                raise StoreFull(window_seconds) from None
            if not self._outage_reported:  # once per outage: every attempt would log it
                self._outage_reported = True
                logger.warning("sign-in rate limit: Redis unavailable (%s); counting in this process's memory", error)
            if isinstance(local, StoreFull):
                raise local from None
            return local
        if self._outage_reported:
            self._outage_reported = False
            logger.warning("sign-in rate limit: Redis reachable again; counting in Redis")
        shared = (int(count), max(int(ttl_ms), 0) / 1000 if ttl_ms and ttl_ms > 0 else float(window_seconds))
        if isinstance(local, StoreFull):
            return shared
        if shared[0] > local[0]:
            self.local.raise_to(key, shared[0])
            return shared
        return local if local[0] > shared[0] else (shared[0], max(shared[1], local[1]))

    async def clear(self, key: str) -> None:
        from redis.exceptions import RedisError

        await self.local.clear(key)
        try:
            await self.redis.delete(self.prefix + key)
        except (RedisError, OSError) as error:
            logger.warning("sign-in rate limit: Redis unavailable (%s)", error)

    async def close(self) -> None:
        await self.redis.aclose()


def client_key(address: str | None) -> str:
    """The unit limited per client: the IPv4 address, or the IPv6 /64 network (one
    subscriber usually holds a whole /64)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _hashed(kind: str, value: str) -> str:
    return f"sign-in:{kind}:{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


class SignInLimiter:
    """At most `per_email` attempts per email and `per_client` per client address in
    every window of `window_seconds`."""

    def __init__(self, counter: AttemptCounter, *, per_email: int, per_client: int, window_seconds: int) -> None:
        self.counter = counter
        self.per_email = per_email
        self.per_client = per_client
        self.window_seconds = window_seconds

    async def attempt(self, *, email: str, client: str | None) -> Refusal | None:
        """Count an attempt; a Refusal when it is over either limit or no counter can be
        kept for it (check nothing then). The client is counted first: a client over its
        limit is refused without its email being counted, so it cannot fill the store."""
        try:
            client_count, client_left = await self.counter.hit(
                _hashed("client", client_key(client)), self.window_seconds
            )
            if client_count > self.per_client:
                return _refusal(client_left)
            email_count, email_left = await self.counter.hit(_hashed("email", email), self.window_seconds)
        except StoreFull as full:
            return _refusal(full.retry_after)
        return _refusal(email_left) if email_count > self.per_email else None

    async def succeeded(self, *, email: str) -> None:
        await self.counter.clear(_hashed("email", email))

    async def close(self) -> None:
        await self.counter.close()


def _refusal(seconds: float) -> Refusal:
    metrics.SIGN_INS_REFUSED.inc()
    return Refusal(retry_after=max(1, math.ceil(seconds)))


def limiter_from_settings(settings) -> SignInLimiter:
    """In Redis when settings.redis_url is set, else in this process."""
    counter: AttemptCounter
    if settings.redis_url:
        counter = RedisAttemptCounter(
            settings.redis_url, prefix=settings.redis_key_prefix, local_max_keys=settings.sign_in_max_counters
        )
    else:
        counter = InMemoryAttemptCounter(max_keys=settings.sign_in_max_counters)
    return SignInLimiter(
        counter,
        per_email=settings.sign_in_attempts_per_email,
        per_client=settings.sign_in_attempts_per_client,
        window_seconds=settings.sign_in_window_seconds,
    )
