"""What every resolver receives as `info.context`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket

from app.accounts.models import ProgramRole, User
from app.clock import Clock, utcnow
from app.api.loaders import EventReads, Loaders
from app.group_sessions.events import Effects
from app.settings import Settings


@dataclass
class Context:
    """One per HTTP request, or per WebSocket connection (see app.web.graphql_view)."""

    request: Request | WebSocket
    response: Any
    settings: Settings
    effects: Effects
    broker: Any = None  # app.live.Broker, for subscriptions
    viewer: User | None = None
    # The bearer token that signed the viewer in (HTTP header or connection_init), for signOut.
    token: str | None = None
    request_id: str = ""
    sign_in_limiter: Any = None  # app.accounts.rate_limit.SignInLimiter
    # Operations in this HTTP request (a batch has several); see OneSignInPerRequest.
    operations_in_request: int = 1
    # graphql-transport-ws connection_init payload; must exist for Strawberry to fill it.
    connection_params: dict[str, Any] | None = None
    # The viewer's programs and roles when they came with the token (one statement for
    # both); None makes the loaders fetch them when first needed.
    viewer_roles: dict[int, ProgramRole] | None = None
    # When the token stops signing in unless used again (WebSocket: the socket closes then).
    token_expires_at: datetime | None = None
    # The server's clock (tests move it forward): what "now" is for phases, action flags
    # and the commands resolvers call.
    clock: Clock = utcnow
    _loaders: Loaders | None = field(default=None, init=False, repr=False)
    # (viewer, viewer_roles) as they were before `sign_in_as`, restored when the operation ends.
    _before_sign_in: tuple[User | None, dict[int, ProgramRole] | None] | None = field(default=None, init=False)

    @property
    def loaders(self) -> Loaders:
        """This operation's loaders, made when first asked for (an HTTP request made them
        twice: with its context, and again as its operation started)."""
        loaders = self._loaders
        if loaders is None:
            loaders = self._loaders = Loaders(self.viewer, self.viewer_roles)
        return loaders

    def fresh_loaders(self) -> None:
        """New loaders for the next operation (a WebSocket context outlives many), made
        when it first asks for them, for the viewer it has then."""
        self._loaders = None

    def for_event(self, event_reads: EventReads, prime: Callable[[Loaders], None]) -> EventContext:
        """This context for one execution of a live event, with loaders of its own, which
        `prime` fills with what the event carries."""
        return EventContext(self, event_reads, prime)

    def sign_in_as(self, user: User) -> None:
        """Treat `user` as the viewer for the rest of this operation: signIn's payload shows
        the signed-in user as they see themself (their email included). The request's own
        sign-in does not change: the next operation (of a batch, or on a WebSocket) runs as
        before, until the client sends the new token (see `end_operation`)."""
        if self._before_sign_in is None:
            self._before_sign_in = (self.viewer, self.viewer_roles)
        self.viewer = user
        self.viewer_roles = None
        self._loaders = Loaders(user)

    def end_operation(self) -> None:
        """Undo `sign_in_as` once its operation is over."""
        if self._before_sign_in is not None:
            self.viewer, self.viewer_roles = self._before_sign_in
            self._before_sign_in = None
            self.fresh_loaders()

    @property
    def client_address(self) -> str | None:
        """The client's IP address (uvicorn resolves X-Forwarded-For from trusted proxies)."""
        client = getattr(self.request, "client", None)
        return client.host if client else None


class EventContext:
    """A WebSocket's context for one execution of a live event: everything is the
    connection's (`Context`), except the loaders, which are this execution's own and read
    the viewer's rows along with every other subscriber's (`EventReads`).

    Its own object, not the connection's context with its loaders replaced: several
    subscriptions of one socket may execute events at the same time, and the loaders of
    an event are dropped with its execution instead of being kept by an idle socket.
    """

    __slots__ = ("_connection", "_event_reads", "_prime", "loaders", "viewer", "settings", "clock")

    def __init__(self, connection: Context, event_reads: EventReads, prime: Callable[[Loaders], None]) -> None:
        self._connection = connection
        self._event_reads = event_reads
        self._prime = prime
        # Read by most resolvers: kept here rather than looked up through __getattr__.
        self.viewer = connection.viewer
        self.settings = connection.settings
        self.clock = connection.clock
        self.fresh_loaders()

    def fresh_loaders(self) -> None:
        """New loaders for this execution (the compiled executor's fallback asks for them)."""
        self.loaders = Loaders(self.viewer, self._connection.viewer_roles, self._event_reads)
        self._prime(self.loaders)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)
