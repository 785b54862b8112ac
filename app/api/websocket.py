"""The graphql-transport-ws handler: Strawberry's, plus two ways a connection ends early.

Too slow: a client that stops reading fills the socket, the operation sending to it
blocks, and its queue in the broker overflows. The operation cannot report that itself
(it is stuck on the send), so the overflow calls `drop_connection`, which cancels the
connection's operations and closes the socket with 1013 (Try Again Later) and a reason.
graphql-ws clients treat 1013 as retryable: they reconnect and subscribe again.

Access ended: a socket is signed in by the token of its `connection_init`, and lives at
most as long as that token signs its user in. It is checked again
- before every operation on the socket (queries and mutations travel over it too), which
  also refreshes the viewer's roles; one statement, and it counts as a use of the token;
- when the user's "access changed" signal arrives (app.live.access: a token revoked, a
  password set, a membership removed; from any process when the broker is Redis): then
  each running subscription is also asked whether the viewer may still see what it
  watches, and one that may not ends with a NOT_FOUND error;
- when the token expires (a timer set at connect, moved when the token is used).
A token that no longer signs the user in closes the socket with 4403, like a refused
`connection_init`. `signOut` sent over the socket closes it too, once its answer is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, Message

from app.api.errors import TopLevelError, TopLevelErrorCode
from app.api.loaders import Loaders
from app.api.socket_limits import TOO_MANY_FOR_USER_CLOSE_CODE, too_many_for_user_reason
from app.live.access import access_channel
from app.live.broker import Subscription

logger = logging.getLogger(__name__)

TOO_SLOW_CLOSE_CODE = 1013
TOO_SLOW_CLOSE_REASON = "Subscriber too slow: updates were dropped; reconnect and refetch"
ACCESS_CLOSE_CODE = 4403
ACCESS_ENDED_REASON = "Sign-in ended (token revoked or expired): sign in again"
SIGNED_OUT_REASON = "Signed out"
NO_LONGER_VISIBLE = "You can no longer see what this subscription watched (your access changed)."

# Sends one `next` message, given its payload already encoded as JSON text (see next_sender).
NextSender = Callable[[str], Awaitable[None]]

# Asked again when the viewer's access changes: may they still see what a subscription
# watches? Given loaders made for the viewer's current roles.
StillVisible = Callable[[Loaders], Awaitable[bool]]


class LiveTransportWSHandler(BaseGraphQLTransportWSHandler):
    """Strawberry's graphql-transport-ws handler with `drop_connection` and
    `guard_subscription` on the context, and the access checks of the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None
        # The token the socket signed in with (None until connection_init succeeded).
        self._token: str | None = None
        self._stop_listening: Callable[[], None] | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._recheck_task: asyncio.Task[None] | None = None
        self._recheck_again = False
        self._guards: dict[Subscription, StillVisible] = {}
        # Subscriptions reach the connection through their context (one per socket).
        self.context.drop_connection = self.drop_connection
        self.context.guard_subscription = self.guard_subscription
        self.context.next_sender = self.next_sender

    # --- too slow --------------------------------------------------------------------------

    def drop_connection(self) -> None:
        """Close this connection as too slow. Synchronous and idempotent: it is called from
        the broker's fan-out, which must never wait on a subscriber."""
        if self._closing:
            return
        logger.warning("closing a WebSocket whose client reads too slowly (%d operations)", len(self.operations))
        self._stop_operations()
        self._close_task = asyncio.create_task(self._send_close(TOO_SLOW_CLOSE_CODE, TOO_SLOW_CLOSE_REASON))

    def _stop_operations(self) -> None:
        """Mark the socket closing and cancel every operation but the calling one (which
        returns by itself): nothing is sent from now on."""
        self._closing = True
        current = asyncio.current_task()
        for operation in list(self.operations.values()):
            if operation.task is not None and operation.task is not current:
                operation.task.cancel()
        self.operations.clear()

    async def _close(self, code: int, reason: str) -> None:
        if self._closing:
            return
        self._stop_operations()
        await self._send_close(code, reason)

    async def _send_close(self, code: int, reason: str) -> None:
        # The close frame queues behind what the client has not read yet; uvicorn's
        # keepalive ping ends the connection if the client never reads again.
        try:
            await self.websocket.close(code=code, reason=reason)
        except Exception:  # noqa: BLE001 - the peer is gone already: nothing left to close
            pass

    def forget_id(self, id: str) -> None:
        # Tolerant: closing may have forgotten every operation already.
        self.operations.pop(id, None)

    async def handle_message(self, message: Message) -> None:
        await super().handle_message(message)
        # Strawberry's reader keeps the last message it decoded until the next one arrives,
        # which on an idle subscribed socket is hours away; what the message asked for has
        # been taken from it by now (an operation keeps its query and variables itself).
        message.clear()

    async def send_message(self, message: Message) -> None:
        if self._closing:  # nothing may follow the close frame
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
        if socket is None or viewer is None or await socket.admit_user(viewer.id):
            return True
        limit = self.view.socket_limits.per_user
        await self._close(TOO_MANY_FOR_USER_CLOSE_CODE, too_many_for_user_reason(limit))
        return False

    # --- live events sent without Strawberry's per-result path -------------------------------

    def next_sender(self) -> NextSender | None:
        """For the operation running in the calling task (None if none is): a function that
        sends it a `next` message whose payload is JSON text already encoded, exactly as
        Strawberry would frame `{"id", "type": "next", "payload"}`, and sends nothing once the
        operation completed or the socket is closing (as `send_message` does). Live events
        use it to encode a payload once for every subscriber with the same result
        (app.api.live_execution.deliver)."""
        task = asyncio.current_task()
        operation = next((op for op in self.operations.values() if op.task is task), None)
        if operation is None:
            return None
        try:
            prefix = '{"id":' + orjson.dumps(operation.id).decode() + ',"type":"next","payload":'
        except TypeError:  # an id orjson refuses (a lone surrogate): the view's encoder escapes it
            return None

        # Starlette's `send` with the ASGI message itself (its `send_text` only builds it):
        # whatever wraps the socket's ASGI send still sees the frame.
        websocket_send = self.websocket.ws.send

        async def send(payload: str) -> None:
            if operation.completed or self._closing:
                return
            try:
                await websocket_send({"type": "websocket.send", "text": prefix + payload + "}"})
            except WebSocketDisconnect:
                # The peer is gone: the socket's reader sees it too and ends the connection
                # with its operations (raised here, the error would travel the event stream
                # and be logged as a failed event).
                pass

        return send

    # --- access ------------------------------------------------------------------------------

    def guard_subscription(self, subscription: Subscription, still_visible: StillVisible) -> Callable[[], None]:
        """Ask `still_visible` again whenever the viewer's access changes, and end
        `subscription` with NOT_FOUND when it answers False. Returns the function that
        stops asking (call it when the subscription ends)."""
        self._guards[subscription] = still_visible
        return lambda: self._guards.pop(subscription, None)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_init_received:
            # Strawberry has cancelled its init timer; the cancelled task would otherwise stay
            # referenced for the socket's life, with its CancelledError's traceback and the
            # frames that holds. The loop finishes the cancellation by itself.
            self.connection_init_timeout_task = None
        context = self.context
        if self.connection_acknowledged and not self._closing and self._token is None and context.token and context.viewer:
            self._token = context.token
            self._stop_listening = context.broker.fanout.listen(
                access_channel(context.viewer.id), self._access_changed
            )
            self._expire_at(context.token_expires_at)

    async def run_operation(self, operation: Operation) -> None:
        if self._closing:
            return
        if self._token is not None:
            try:
                allowed = await self._check_access(record_use=True)
            except Exception:  # noqa: BLE001 - the database failed: refuse this one operation
                logger.exception("could not check a WebSocket's token; operation %s refused", operation.id)
                error = GraphQLError(
                    "Unexpected error.", extensions={"code": TopLevelErrorCode.INTERNAL_SERVER_ERROR.value}
                )
                await operation.send_initial_errors([error])
                return
            if not allowed:
                return
        await super().run_operation(operation)
        if self._token is not None and self.context.token is None:
            # signOut ran on this socket: its answer is sent; the socket ends with its token.
            await self._close(ACCESS_CLOSE_CODE, SIGNED_OUT_REASON)

    async def _check_access(self, *, record_use: bool) -> bool:
        """Look the socket's token up again: False (and the socket closing with 4403) when
        it no longer signs the viewer in; otherwise the viewer and roles are refreshed."""
        found = await self.view.signed_in_by(self._token, record_use=record_use)
        context = self.context
        if self._closing:
            return False
        if found is None or context.viewer is None or found.user.id != context.viewer.id:
            logger.info("closing a WebSocket whose token no longer signs in")
            await self._close(ACCESS_CLOSE_CODE, ACCESS_ENDED_REASON)
            return False
        context.viewer = found.user
        context.viewer_roles = found.roles
        self._expire_at(found.expires_at)
        return True

    def _access_changed(self, message: dict[str, Any]) -> None:
        """The fan-out's callback for the user's signal: re-check soon, never block."""
        self._recheck_soon()

    def _recheck_soon(self) -> None:
        if self._closing or self._token is None:
            return
        if self._recheck_task is None or self._recheck_task.done():
            self._recheck_task = asyncio.create_task(self._recheck())
        else:
            # A check is under way and may have read before this change committed.
            self._recheck_again = True

    async def _recheck(self) -> None:
        try:
            while not self._closing:
                self._recheck_again = False
                if self.context.token is None:
                    return  # signed out on this socket: that operation closes it
                if await self._check_access(record_use=False):
                    await self._end_invisible_subscriptions()
                if not self._recheck_again:
                    return
        except Exception:  # noqa: BLE001 - a failed check must not kill the socket's reader
            logger.exception("re-checking a WebSocket's access failed; the next operation checks again")

    async def _end_invisible_subscriptions(self) -> None:
        if not self._guards:
            return
        loaders = Loaders(self.context.viewer, self.context.viewer_roles)
        for subscription, still_visible in list(self._guards.items()):
            if subscription.dropped:
                self._guards.pop(subscription, None)
            elif not await still_visible(loaders):
                self._guards.pop(subscription, None)
                subscription.fail(TopLevelError(NO_LONGER_VISIBLE, TopLevelErrorCode.NOT_FOUND))

    def _expire_at(self, expires_at: datetime | None) -> None:
        """(Re)set the timer that checks the token when it is due to expire."""
        if expires_at is None:
            return
        if self._expiry is not None:
            self._expiry.cancel()
        # A hair late rather than early: a check that finds the token still valid sets the
        # timer again, and must not spin.
        delay = max((expires_at - self.view.clock()).total_seconds(), 0.0) + 0.01
        self._expiry = asyncio.get_running_loop().call_later(delay, self._recheck_soon)

    async def shutdown(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
        if self._expiry is not None:
            self._expiry.cancel()
        if self._recheck_task is not None and not self._recheck_task.done():
            self._recheck_task.cancel()
        self._guards.clear()
        await super().shutdown()
