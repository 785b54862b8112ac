"""Sign-in rate limiting: attempts per email and per client address in a fixed window.

Every attempt is counted *before* the password is checked (an atomic increment), so
concurrent guesses cannot slip past the limit; an attempt over either limit is refused
without any password work. A successful sign-in clears its email's counter (the
client's counter is left alone, so one valid account cannot buy more guesses).

Counters live in this process (`InMemoryAttemptCounter`) or in Redis
(`RedisAttemptCounter`, when REDIS_URL is set) so that every worker shares them. Keys
are hashed: neither the emails nor the addresses are stored in clear.
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


class AttemptCounter(Protocol):
    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        """Count one attempt for `key`; returns (attempts in this window, seconds until it ends)."""

    async def clear(self, key: str) -> None: ...

    async def close(self) -> None: ...


class InMemoryAttemptCounter:
    """Fixed-window counters in a dict, bounded to `max_keys` (expired windows are swept
    first, then the oldest windows are dropped)."""

    def __init__(self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys = max_keys
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, attempts)

    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        now = self.clock()
        ends, count = self._windows.get(key, (0.0, 0))
        if ends <= now:
            ends, count = now + window_seconds, 0
            self._windows.pop(key, None)
            if len(self._windows) >= self.max_keys:
                self._sweep(now)
        self._windows[key] = (ends, count + 1)
        return count + 1, ends - now

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)

    async def close(self) -> None:
        self._windows.clear()

    def _sweep(self, now: float) -> None:
        for key in [k for k, (ends, _) in self._windows.items() if ends <= now]:
            del self._windows[key]
        while len(self._windows) >= self.max_keys:
            del self._windows[next(iter(self._windows))]  # oldest window first (insertion order)


class RedisAttemptCounter:
    """Fixed-window counters in Redis (SET NX EX + INCR + PTTL in one MULTI), shared by
    every process. When Redis cannot be reached, counting falls back to this process's
    memory (logged), so sign-in keeps working and keeps being limited."""

    def __init__(self, url: str, *, prefix: str) -> None:
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
        self.fallback = InMemoryAttemptCounter()

    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        from redis.exceptions import RedisError

        name = self.prefix + key
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(name, 0, ex=window_seconds, nx=True)
                pipe.incr(name)
                pipe.pttl(name)
                _, count, ttl_ms = await pipe.execute()
        except (RedisError, OSError) as error:
            logger.warning("sign-in rate limit: Redis unavailable (%s); counting in memory", error)
            return await self.fallback.hit(key, window_seconds)
        return int(count), max(int(ttl_ms), 0) / 1000 if ttl_ms and ttl_ms > 0 else float(window_seconds)

    async def clear(self, key: str) -> None:
        from redis.exceptions import RedisError

        await self.fallback.clear(key)
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
        """Count an attempt; a Refusal when it is over either limit (check nothing then)."""
        email_count, email_left = await self.counter.hit(_hashed("email", email), self.window_seconds)
        client_count, client_left = await self.counter.hit(
            _hashed("client", client_key(client)), self.window_seconds
        )
        waits = []
        if email_count > self.per_email:
            waits.append(email_left)
        if client_count > self.per_client:
            waits.append(client_left)
        return Refusal(retry_after=max(1, math.ceil(max(waits)))) if waits else None

    async def succeeded(self, *, email: str) -> None:
        await self.counter.clear(_hashed("email", email))

    async def close(self) -> None:
        await self.counter.close()


def limiter_from_settings(settings) -> SignInLimiter:
    """In Redis when settings.redis_url is set, else in this process."""
    counter: AttemptCounter
    if settings.redis_url:
        counter = RedisAttemptCounter(settings.redis_url, prefix=settings.redis_key_prefix)
    else:
        counter = InMemoryAttemptCounter()
    return SignInLimiter(
        counter,
        per_email=settings.sign_in_attempts_per_email,
        per_client=settings.sign_in_attempts_per_client,
        window_seconds=settings.sign_in_window_seconds,
    )
