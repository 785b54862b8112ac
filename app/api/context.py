"""What every resolver receives as `info.context`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket

from app.accounts.models import ProgramRole, User
from app.api.loaders import Loaders
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
    _loaders: Loaders | None = field(init=False, default=None, repr=False)

    @property
    def loaders(self) -> Loaders:
        """This operation's loaders, made when first asked for (an HTTP request used to
        build them twice: with its context, and again as its operation started)."""
        if self._loaders is None:
            self._loaders = Loaders(self.viewer, self.viewer_roles)
        return self._loaders

    def fresh_loaders(self) -> None:
        """New loaders for the next operation (a WebSocket context outlives many)."""
        self._loaders = None

    @property
    def client_address(self) -> str | None:
        """The client's IP address (uvicorn resolves X-Forwarded-For from trusted proxies)."""
        client = getattr(self.request, "client", None)
        return client.host if client else None

