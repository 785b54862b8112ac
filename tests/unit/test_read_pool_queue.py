"""The read pool's queue (app/read_pool.py), on stand-in connections (no database): callers
that find every connection busy are served first come first served, a caller that gives
up (cancelled, or past the wait) leaves its turn to the next, and a connection's failure
frees its place for a waiting caller. The pool against PostgreSQL: tests/scale/test_read_pool.py."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app.read_pool import ReadPool, ReadPoolClosed

LOG = logging.getLogger("tests.read_pool")


class Connection:
    """Answers `fetch` with (its number, the statement) once the statement's gate opens."""

    def __init__(self, number: int, gates: dict[str, asyncio.Event]) -> None:
        self.number = number
        self.gates = gates
        self.closed = False
        self.broken = False

    async def fetch(self, sql: str, *values):
        if sql in self.gates:
            await self.gates[sql].wait()
        if self.broken:
            raise ConnectionResetError("lost")
        return [(self.number, sql)]

    def is_closed(self) -> bool:
        return self.closed

    def is_in_transaction(self) -> bool:
        return False

    def terminate(self) -> None:
        self.closed = True

    async def close(self, *, timeout=None) -> None:
        self.closed = True


def pool_of(size: int, wait_seconds: float = 10) -> tuple[ReadPool, list[Connection], dict[str, asyncio.Event]]:
    opened: list[Connection] = []
    gates: dict[str, asyncio.Event] = {}

    async def connect(**kwargs) -> Connection:
        opened.append(Connection(len(opened) + 1, gates))
        return opened[-1]

    return ReadPool({}, size=size, wait_seconds=wait_seconds, connect=connect), opened, gates


async def _until(condition) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0)


async def test_callers_beyond_the_size_are_served_in_arrival_order():
    pool, opened, gates = pool_of(1)
    gates["hold"] = asyncio.Event()
    served: list[str] = []

    async def read(sql: str) -> None:
        rows = await pool.fetch(sql, (), LOG)
        served.append(rows[0][1])

    holder = asyncio.create_task(read("hold"))
    await _until(lambda: pool.counts() == (1, 1, 0))
    waiting = []
    for name in ("first", "second", "third"):
        waiting.append(asyncio.create_task(read(name)))
        await _until(lambda n=len(waiting): pool.counts()[2] == n)
    gates["hold"].set()
    async with asyncio.timeout(5):
        await asyncio.gather(holder, *waiting)
    assert served == ["hold", "first", "second", "third"]
    assert len(opened) == 1 and pool.counts() == (1, 0, 0)


async def test_a_caller_that_gives_up_leaves_its_turn_to_the_next():
    pool, opened, gates = pool_of(1, wait_seconds=0.05)
    gates["hold"] = asyncio.Event()
    holder = asyncio.create_task(pool.fetch("hold", (), LOG))
    await _until(lambda: pool.counts()[1] == 1)
    with pytest.raises(TimeoutError):  # the bounded wait
        await pool.fetch("late", (), LOG)
    pool.wait_seconds = 10
    cancelled = asyncio.create_task(pool.fetch("cancelled", (), LOG))
    await _until(lambda: pool.counts()[2] == 1)
    patient = asyncio.create_task(pool.fetch("patient", (), LOG))
    await _until(lambda: pool.counts()[2] == 2)
    cancelled.cancel()
    gates["hold"].set()
    async with asyncio.timeout(5):
        assert await patient == [(1, "patient")]
        await holder
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert pool.counts() == (1, 0, 0)


async def test_a_failed_connection_is_dropped_and_its_place_goes_to_a_waiting_caller():
    pool, opened, gates = pool_of(1)
    gates["hold"] = asyncio.Event()
    failing = asyncio.create_task(pool.fetch("hold", (), LOG))
    await _until(lambda: pool.counts()[1] == 1)
    waiter = asyncio.create_task(pool.fetch("next", (), LOG))
    await _until(lambda: pool.counts()[2] == 1)
    opened[0].broken = True  # the held statement fails with its connection
    gates["hold"].set()
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(failing, 5)
    assert await asyncio.wait_for(waiter, 5) == [(2, "next")]  # on a new connection
    assert opened[0].closed and pool.counts() == (1, 0, 0)


async def test_a_closed_pool_refuses_reads_and_waiting_callers():
    pool, opened, gates = pool_of(1)
    gates["hold"] = asyncio.Event()
    holder = asyncio.create_task(pool.fetch("hold", (), LOG))
    await _until(lambda: pool.counts()[1] == 1)
    waiter = asyncio.create_task(pool.fetch("waiting", (), LOG))
    await _until(lambda: pool.counts()[2] == 1)
    await pool.close()
    with pytest.raises(ReadPoolClosed):
        await asyncio.wait_for(waiter, 5)
    with pytest.raises(ReadPoolClosed):
        await pool.fetch("after", (), LOG)
    assert all(connection.closed for connection in opened)
    gates["hold"].set()
    await asyncio.wait_for(holder, 5)  # the stand-in does not notice it was cut
