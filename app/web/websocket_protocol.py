"""uvicorn's WebSocket protocol (websockets' sans-I/O implementation, what uvicorn picks
by default) with less kept per idle connection.

A thousand idle subscribers each keep one of these for hours. uvicorn's own keeps, for the
connection's whole life, an `asyncio.Queue` for what the client sends (four deques of
~760 B each, most of them never used) and an `asyncio.Event` for write back-pressure (one
more deque), and the handshake's request and response (their headers) long after the
handshake. Here the queue and the event are a list and a waiter, and the handshake's objects
are dropped once the handshake is over. Everything else (framing, limits, keepalive pings,
closing, back-pressure) is uvicorn's and websockets', unchanged. Measured in
docs/performance.md ("Memory per idle subscriber").

The pinned uvicorn's attributes are relied on (`queue`, `writable`, `request`, `response`,
`conn.parser`); tests/live and tests/web exercise every path through them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import Protocol


class Inbox:
    """What `asyncio.Queue` does for uvicorn's receive side (`put_nowait`, `get`, `empty`),
    unbounded, FIFO, with a plain list and the readers' one shared future: an idle socket
    holds an empty list instead of four deques, an event and a lock's worth of state."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    async def get(self) -> Any:
        """The oldest item, waiting for one. Several readers may wait at once (they share
        the waiter, shielded, so a cancelled reader does not cancel the others' wait)."""
        while not self._items:
            waiter = self._waiter
            if waiter is None or waiter.done():
                waiter = self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(waiter)
        return self._items.pop(0)


class Flag:
    """What `asyncio.Event` does for uvicorn's write back-pressure (`set`, `clear`,
    `is_set`, `wait`), without the event's deque of waiters while nobody waits (almost
    always: it is cleared only while the transport's buffer is over its high-water mark)."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = True
        self._waiter: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        while not self._set:
            waiter = self._waiter
            if waiter is None or waiter.done():
                waiter = self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(waiter)


class LeanWebSocketsProtocol(WebSocketsSansIOProtocol):
    """uvicorn's `websockets-sansio` protocol with the lighter queue and flag above, and
    the handshake's request and response let go once the handshake is over."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.response.status_code != 101:
            return  # refused: uvicorn has answered and is closing
        # The scope holds the headers the app reads; uvicorn reads the request no more.
        self.request = None
        # websockets' handshake parser keeps the request in a local variable of its
        # generator for as long as the connection lives. Once the request is parsed (this
        # event), that generator only delegates to the frame parser, which now waits for
        # bytes with nothing read: a fresh frame parser in its place is in the same state.
        # Only when nothing is buffered (a client waits for the 101 before sending frames)
        # and the stream has not ended; otherwise the connection keeps the original one.
        conn = self.conn
        if conn.parser_exc is None and not conn.reader.eof and not conn.reader.buffer:
            conn.parser = Protocol.parse(conn)
            next(conn.parser)

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and self.initial_response is None:
            # Read to send the 101 (or a refusal); nothing reads it afterwards.
            self.response = None
