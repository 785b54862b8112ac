"""What clients send to sign in and to change their own account."""

from __future__ import annotations

import strawberry


@strawberry.input(description="Email and password.")
class SignInInput:
    email: str = strawberry.field(description="The email the account was created with (any case).")
    password: str = strawberry.field(description="The account's password.")


@strawberry.input(description="Changes to the viewer's own account.")
class UpdateViewerInput:
    name: str | None = strawberry.field(default=None, description="New display name; left out stays.")
    time_zone: str | None = strawberry.field(
        default=None, description="IANA time zone (e.g. the browser's, Europe/Paris); emails use it."
    )
    email_reminders: bool | None = strawberry.field(
        default=None,
        description="False turns reminders before sessions off; registration and cancellation email still comes.",
    )
