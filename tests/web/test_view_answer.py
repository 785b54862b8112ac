"""The view's answers (`GraphQLView.create_response`, both paths) are built from their
encoded body and raw headers (`Answer`): the same status, headers and body as Strawberry's
way, a Starlette `Response` made from the body and the sub-response's headers."""

from __future__ import annotations

import pytest
from starlette.background import BackgroundTask
from starlette.responses import Response

from app.web.graphql_view import Answer
from app.web.negotiation import GRAPHQL_RESPONSE_JSON, JSON, encode_json
from tests.web.test_direct_stack import the_view


def the_old_way(response_data, sub_response: Response) -> Response:
    """create_response as it was written with `Response(...)` (the reference)."""
    media_type = sub_response.media_type or "application/json"
    response = Response(encode_json(response_data), media_type=f"{media_type}; charset=utf-8")
    response.headers.raw.extend(item for item in sub_response.headers.raw if item[0] != b"content-type")
    if sub_response.background:
        response.background = sub_response.background
    if sub_response.status_code:
        response.status_code = sub_response.status_code
    if (
        media_type == GRAPHQL_RESPONSE_JSON
        and not sub_response.status_code
        and isinstance(response_data, dict)
        and "data" not in response_data
    ):
        response.status_code = 400
    return response


async def sent(response: Response) -> list[dict]:
    messages: list[dict] = []

    async def send(message: dict) -> None:
        messages.append(message)

    await response({"type": "http"}, None, send)
    return messages


def noop() -> None:
    return None


@pytest.mark.parametrize("media_type", [JSON, GRAPHQL_RESPONSE_JSON, None])
@pytest.mark.parametrize("data", [{"data": {"a": "é"}}, {"errors": [{"message": "no"}]}, [{"data": None}]])
@pytest.mark.parametrize("change", ["nothing", "header", "cookie", "status", "background", "content-type"])
async def test_the_same_answer_as_a_starlette_response(app, media_type, data, change):
    view = the_view(app)
    subs = []
    for _ in range(2):
        sub = Response()
        sub.status_code = None
        del sub.headers["content-length"]
        sub.media_type = media_type
        if change == "header":
            sub.headers["X-Extra"] = "1"
        elif change == "cookie":
            sub.set_cookie("name", "value")
        elif change == "status":
            sub.status_code = 418
        elif change == "background":
            sub.background = BackgroundTask(noop)
        elif change == "content-type":
            sub.headers["Content-Type"] = "text/plain"
        subs.append(sub)
    ours, theirs = view.create_response(data, subs[0]), the_old_way(data, subs[1])
    assert isinstance(ours, Answer)
    assert (ours.status_code, ours.raw_headers, ours.body, ours.media_type) == (
        theirs.status_code, theirs.raw_headers, theirs.body, theirs.media_type
    )  # fmt: skip
    assert (ours.background is None) == (theirs.background is None)
    assert await sent(ours) == await sent(theirs)


async def test_the_sub_response_is_strawberrys(app):
    """get_sub_response: Strawberry's empty Response (no status, no headers), with the
    negotiated media type."""
    from starlette.requests import Request
    from strawberry.asgi import GraphQL

    view = the_view(app)
    scope = {"type": "http", "method": "POST", "headers": [(b"accept", GRAPHQL_RESPONSE_JSON.encode())]}
    ours = await view.get_sub_response(Request(scope))
    theirs = await GraphQL.get_sub_response(view, Request(scope))
    assert (ours.status_code, ours.raw_headers, ours.body, ours.background) == (
        theirs.status_code, theirs.raw_headers, theirs.body, theirs.background
    )  # fmt: skip
    assert ours.media_type == GRAPHQL_RESPONSE_JSON
    ours.set_cookie("a", "b")
    ours.headers["X-Extra"] = "1"
    assert [name for name, _ in ours.raw_headers] == [b"set-cookie", b"x-extra"]
