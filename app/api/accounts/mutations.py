"""Signing in and out, and changing one's own account: payloads and resolvers.

The resolvers are fields of the Mutation root (assembled in app.api.schema).
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.accounts import services as accounts
from app.accounts.models import User as UserRow
from app.api.accounts.inputs import SignInInput, UpdateViewerInput
from app.api.accounts.types import User
from app.api.errors import UserError
from app.api.mutation import mutate
from app.errors import DomainError, ErrorCode
from app.live.access import announce_access_changed
from app.calendars import feed as calendar_feed


@strawberry.type(description="The result of signIn.")
class SignInPayload:
    token: str | None = strawberry.field(
        default=None,
        description="Send as 'Authorization: Bearer <token>', and as connection_init payload "
        '{"authorization": "Bearer <token>"} on the WebSocket.',
    )
    viewer: User | None = strawberry.field(default=None, description="The signed-in user.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why sign-in failed; empty on success."
    )


@strawberry.type(description="The result of signOut.")
class SignOutPayload:
    signed_out: bool = strawberry.field(
        default=False,
        description="True when the token this request was signed in with is now revoked; "
        "it no longer signs anyone in, here or on a WebSocket.",
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was revoked; empty on success."
    )


@strawberry.type(description="The result of updateViewer.")
class UpdateViewerPayload:
    viewer: User | None = strawberry.field(default=None, description="The viewer as they are now.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was changed; empty on success."
    )


@strawberry.mutation(description="Email and password in, a bearer token out.")
async def sign_in(info: Info, input: SignInInput) -> SignInPayload:
    async def change(_: None) -> SignInPayload:
        # Counted before the password is checked, per email and per client address;
        # over the limit, RATE_LIMITED says when to retry and no password work is done.
        limiter = info.context.sign_in_limiter
        email = accounts.normalize_email(input.email)
        refusal = await limiter.attempt(email=email, client=info.context.client_address)
        if refusal is not None:
            raise DomainError.of(ErrorCode.RATE_LIMITED, refusal.message)
        user, token = await accounts.sign_in(email=input.email, password=input.password)
        await limiter.succeeded(email=email)
        return SignInPayload(token=token, viewer=User.from_row(user))

    return await mutate(info, SignInPayload, change, sign_in_required=False)


@strawberry.mutation(description="Change the viewer's name or time zone.")
async def update_viewer(info: Info, input: UpdateViewerInput) -> UpdateViewerPayload:
    async def change(viewer: UserRow) -> UpdateViewerPayload:
        user = await accounts.update_profile(
            viewer, name=input.name, time_zone=input.time_zone, email_reminders=input.email_reminders
        )
        return UpdateViewerPayload(viewer=User.from_row(user))

    return await mutate(info, UpdateViewerPayload, change)


@strawberry.type(description="The result of resetCalendarFeedUrl.")
class ResetCalendarFeedUrlPayload:
    calendar_feed_url: str | None = strawberry.field(
        default=None, description="The viewer's new private calendar feed link; the old one no longer works."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was changed; empty on success."
    )


@strawberry.mutation(
    description="Revokes the viewer's private calendar feed link at once and makes a new one "
    "(for a link that was shared by mistake)."
)
async def reset_calendar_feed_url(info: Info) -> ResetCalendarFeedUrlPayload:
    async def change(viewer: UserRow) -> ResetCalendarFeedUrlPayload:
        url = await calendar_feed.reset_feed(viewer.id, info.context.settings)
        return ResetCalendarFeedUrlPayload(calendar_feed_url=url)

    return await mutate(info, ResetCalendarFeedUrlPayload, change)


@strawberry.mutation(
    description="Revokes the bearer token this request is signed in with (other sessions of the user "
    "stay signed in). Requires a signed-in user. Sockets signed in with that token close with 4403; "
    "sent over a WebSocket, its answer comes first."
)
async def sign_out(info: Info) -> SignOutPayload:
    async def change(viewer: UserRow) -> SignOutPayload:
        token = info.context.token
        revoked = bool(token) and await accounts.revoke_token(token) is not None
        info.context.viewer = None
        info.context.token = None
        if revoked:
            # Other sockets signed in with this token close, in every process.
            await announce_access_changed(info.context.broker, [viewer.id])
        return SignOutPayload(signed_out=revoked)

    return await mutate(info, SignOutPayload, change)
