"""The PostgreSQL client: Tortoise's asyncpg client plus a small pool of its own for the
hot reads (`app.db.fetch_rows` outside transactions).

Tortoise loads this module as the engine of a PostgreSQL connection (`tortoise_config`
names it; Tortoise reads `client_class`). Everything Tortoise does goes through its own
asyncpg pool as before; only `fetch_rows` borrows from the read pool.

Why a pool of its own: asyncpg's acquire and release (the acquire context, the release
task shielded from cancellation, the holder, the inactivity timer re-armed on each
release, the connection proxy) cost a sampling profile of the public session page ~5% of
the request's CPU, paid per statement. Lending a free connection here is a list pop and
giving it back a list append, with no await; only a caller that finds every connection
busy waits, in turn.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient

# asyncpg.create_pool's own options: what is left of Tortoise's pool template once they
# are taken out is what asyncpg.connect takes (the pool passes the same on). `connect` and
# `init` are honoured; `setup` (run at each acquire), `max_queries` and
# `max_inactive_connection_lifetime` are not: the read connections stay open until close.
_POOL_ONLY = ("min_size", "max_size", "max_queries", "max_inactive_connection_lifetime", "setup", "reset")
# How long closing one connection may take (a statement being cancelled, the goodbye to
# the server) before it is cut; Tortoise gives its pool's close the same.
CLOSE_SECONDS = 10.0


class ReadPoolClosed(asyncpg.InterfaceError):
    """A read asked a connection of a read pool that is closed (the app is shutting down)."""


class ReadPool:
    """At most `size` asyncpg connections for single read statements, opened on demand
    with `connect_kwargs` (what asyncpg.connect takes), kept open until `close()`.

    A connection goes back to the pool only after a statement that ended normally or
    with an error of the server that left it idle; after a cancellation (a request's
    timeout) or any other failure it is closed (the statement cancelled on the server
    first) and never lent again. A caller finding every connection busy waits, first
    come first served, at most `wait_seconds` (then TimeoutError)."""

    def __init__(
        self, connect_kwargs: dict[str, Any], *, size: int, wait_seconds: float, connect=None, init=None
    ) -> None:
        self.size = size
        self.wait_seconds = wait_seconds
        self._connect_kwargs = connect_kwargs
        self._connect_function = connect or asyncpg.connect
        self._init = init
        self._idle: list[asyncpg.Connection] = []
        self._open: set[asyncpg.Connection] = set()
        # Connections open, being opened or being closed: what counts against `size`.
        self._slots = 0
        # Callers waiting, in arrival order. Each gets a connection, or None: a free slot
        # to open one in.
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._closing: set[asyncio.Task] = set()
        self._closed = False

    # --- what the app reads -----------------------------------------------------------------

    async def fetch(self, sql: str, values: Sequence[Any], log: logging.Logger) -> list[asyncpg.Record]:
        """The rows of `sql` with `values` bound, run on a connection of the pool; the
        statement is logged to `log` as Tortoise logs it. Raises what asyncpg raises."""
        idle = self._idle
        connection = idle.pop() if idle else None
        if connection is None or connection.is_closed():
            connection = await self._lend_slowly(connection)
        log.debug("%s: %s", sql, values)
        try:
            rows = await connection.fetch(sql, *values)
        except asyncpg.PostgresError:
            # The server refused the statement: the connection is idle again, unless the
            # error came with its end (the server shutting it down) or left a transaction.
            if connection.is_closed() or connection.is_in_transaction():
                self._retire(connection)
            else:
                self._give_back(connection)
            raise
        except BaseException:
            # Cancelled (the statement may still run on the server), or the connection
            # failed: never lent again.
            self._retire(connection)
            raise
        self._give_back(connection)
        return rows

    # --- state, for the metrics -------------------------------------------------------------

    def counts(self) -> tuple[int, int, int]:
        """(open, in use, waiting): connections open (or being opened or closed), those
        not idle, and callers waiting for one."""
        waiting = sum(1 for waiter in self._waiters if not waiter.done())
        return self._slots, self._slots - len(self._idle), waiting

    # --- lending ------------------------------------------------------------------------------

    async def _lend_slowly(self, dead: asyncpg.Connection | None) -> asyncpg.Connection:
        """A connection for a caller that found none idle, or a closed one (dropped here)."""
        if dead is not None:
            self._drop(dead)
        while self._idle:
            connection = self._idle.pop()
            if not connection.is_closed():
                return connection
            self._drop(connection)
        if self._closed:
            raise ReadPoolClosed("the read pool is closed")
        if self._slots < self.size:
            self._slots += 1
            return await self._open_in_slot()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.wait_seconds):
                connection = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a connection (or a slot) just as the wait ended: pass it on.
                handed = waiter.result()
                if handed is None:
                    self._free_slot()
                else:
                    self._give_back(handed)
            else:
                waiter.cancel()
            raise
        if connection is None:  # a slot freed by a connection that was dropped
            return await self._open_in_slot()
        if connection.is_closed():  # it died while being handed over: a new one in its slot
            connection.terminate()
            self._open.discard(connection)
            return await self._open_in_slot()
        return connection

    async def _open_in_slot(self) -> asyncpg.Connection:
        """A new connection, in a slot the caller holds (freed again if opening fails)."""
        try:
            connection = await self._connect_function(**self._connect_kwargs)
        except BaseException:
            self._free_slot()
            raise
        try:
            if self._init is not None:
                await self._init(connection)
            if self._closed:  # closed while this one was being opened
                raise ReadPoolClosed("the read pool is closed")
        except BaseException:
            connection.terminate()
            self._free_slot()
            raise
        self._open.add(connection)
        return connection

    def _give_back(self, connection: asyncpg.Connection) -> None:
        if not self._hand_over(connection):
            self._idle.append(connection)

    def _free_slot(self) -> None:
        """A connection is gone: the first waiter may open one in its place."""
        if not self._hand_over(None):
            self._slots -= 1

    def _hand_over(self, handed: asyncpg.Connection | None) -> bool:
        """Give `handed` (a connection, or None: a slot to open one in) to the first caller
        still waiting; False when none is."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(handed)
                return True
        return False

    def _drop(self, connection: asyncpg.Connection) -> None:
        """Forget a connection that is closed already."""
        connection.terminate()
        self._open.discard(connection)
        self._free_slot()

    def _retire(self, connection: asyncpg.Connection) -> None:
        """Close a connection that may still run a statement: asyncpg's close sends the
        server a cancel request first and waits for it to take effect, so a cancelled
        read does not go on running on the server. In the background: the caller (being
        cancelled, or failing) does not wait for it. Its slot frees once it is closed."""
        if connection.is_closed():
            self._drop(connection)
            return
        task = asyncio.get_running_loop().create_task(self._close_one(connection, free_slot=True))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_one(self, connection: asyncpg.Connection, *, free_slot: bool) -> None:
        try:
            await connection.close(timeout=CLOSE_SECONDS)  # aborts the connection itself when it fails
        except (Exception, asyncio.CancelledError):  # noqa: BLE001 - gone either way
            connection.terminate()
        finally:
            self._open.discard(connection)
            if free_slot:
                self._free_slot()

    # --- shutdown -----------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every connection: idle ones with a goodbye to the server, one still lent
        out (a read past the shutdown grace) cut; waiting callers get ReadPoolClosed.
        Reads started afterwards get ReadPoolClosed too."""
        self._closed = True
        waiters, self._waiters = self._waiters, collections.deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(ReadPoolClosed("the read pool is closed"))
        idle, self._idle = self._idle, []
        for connection in self._open - set(idle):
            connection.terminate()
        closing = [asyncio.ensure_future(self._close_one(c, free_slot=True)) for c in idle]
        closing.extend(self._closing)
        if closing:
            await asyncio.wait(closing, timeout=CLOSE_SECONDS * 2)
        for connection in self._open:  # what did not close in time
            connection.terminate()
        self._open.clear()


class PostgresClient(AsyncpgDBClient):
    """Tortoise's asyncpg client, with a `ReadPool` opened and closed along with its own
    pool. Takes two options of its own from the connection's credentials:
    `read_pool_size` (0: no read pool, reads go through Tortoise's pool) and
    `read_pool_wait_seconds`."""

    def __init__(self, *args: Any, read_pool_size: int | str = 5, read_pool_wait_seconds: float | str = 15,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_pool_size = int(read_pool_size)
        self.read_pool_wait_seconds = float(read_pool_wait_seconds)
        self.reads: ReadPool | None = None

    async def create_connection(self, with_db: bool) -> None:
        await super().create_connection(with_db)
        if self.reads is not None:  # connected again without a close: no pool left behind
            await self.reads.close()
            self.reads = None
        if self.read_pool_size > 0 and with_db:
            # Tortoise's pool template, less what only a pool takes: the same server
            # settings (search_path for a schema, application_name), connection class and
            # extra options (ssl, timeouts...) as Tortoise's connections.
            template = self._template
            kwargs = {key: value for key, value in template.items() if key not in _POOL_ONLY}
            connect, init = kwargs.pop("connect", None), kwargs.pop("init", None)
            kwargs["password"] = self.password
            self.reads = ReadPool(
                kwargs, size=self.read_pool_size, wait_seconds=self.read_pool_wait_seconds, connect=connect, init=init
            )

    async def _close(self) -> None:
        reads, self.reads = self.reads, None
        try:
            if reads is not None:
                await reads.close()
        finally:
            await super()._close()


client_class = PostgresClient
