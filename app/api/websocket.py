"""The graphql-transport-ws handler: Strawberry's, plus dropping a connection that cannot
keep up.

A client that stops reading fills the socket, the operation sending to it blocks, and its
queue in the broker overflows. The operation cannot report that itself (it is stuck on
the send), so the overflow calls `drop_connection`, which cancels the connection's
operations and closes the socket with 1013 (Try Again Later) and a reason. graphql-ws
clients treat 1013 as retryable: they reconnect and subscribe again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message

from app.api.socket_limits import TOO_MANY_FOR_USER_CLOSE_CODE, too_many_for_user_reason

logger = logging.getLogger(__name__)

TOO_SLOW_CLOSE_CODE = 1013
TOO_SLOW_CLOSE_REASON = "Subscriber too slow: updates were dropped; reconnect and refetch"


class LiveTransportWSHandler(BaseGraphQLTransportWSHandler):
    """Strawberry's graphql-transport-ws handler with `drop_connection` on the context."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dropping = False
        self._close_task: asyncio.Task[None] | None = None
        # Subscriptions reach the connection through their context (one per socket).
        self.context.drop_connection = self.drop_connection

    def drop_connection(self) -> None:
        """Close this connection as too slow. Synchronous and idempotent: it is called from
        the broker's fan-out, which must never wait on a subscriber."""
        if self._dropping:
            return
        self._dropping = True
        logger.warning("closing a WebSocket whose client reads too slowly (%d operations)", len(self.operations))
        for operation in list(self.operations.values()):
            if operation.task is not None:
                operation.task.cancel()
        self.operations.clear()
        # The close frame queues behind what the client has not read yet; uvicorn's
        # keepalive ping ends the connection if the client never reads again.
        self._close_task = asyncio.create_task(self._close())

    async def _close(self) -> None:
        try:
            await self.websocket.close(code=TOO_SLOW_CLOSE_CODE, reason=TOO_SLOW_CLOSE_REASON)
        except Exception:  # noqa: BLE001 - the peer is gone already: nothing left to close
            pass

    def forget_id(self, id: str) -> None:
        # Tolerant: `drop_connection` may have forgotten every operation already.
        self.operations.pop(id, None)

    async def send_message(self, message: Message) -> None:
        if self._dropping:  # nothing may follow the close frame
            return
        if message["type"] == "connection_ack" and not await self._admit_viewer():
            return
        await super().send_message(message)

    async def _admit_viewer(self) -> bool:
        """Count this socket for the viewer `on_ws_connect` just signed in, as their
        connection_ack is about to go out; over WS_MAX_CONNECTIONS_PER_USER, close with 4429
        instead (no ack: the client never counts as connected)."""
        socket = getattr(self.context.request.state, "open_socket", None)
        viewer = self.context.viewer
        if socket is None or viewer is None or socket.admit_user(viewer.id):
            return True
        self._dropping = True
        limit = self.view.socket_limits.per_user
        await self._close_quietly(TOO_MANY_FOR_USER_CLOSE_CODE, too_many_for_user_reason(limit))
        return False

    async def _close_quietly(self, code: int, reason: str) -> None:
        try:
            await self.websocket.close(code=code, reason=reason)
        except Exception:  # noqa: BLE001 - the peer is gone already: nothing left to close
            pass
