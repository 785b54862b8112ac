"""GraphQL over HTTP media types: which one a client accepts, and error bodies in it.

The spec (graphql-over-http, "Accept" and "Legacy watershed") lets a client ask for
`application/graphql-response+json`, whose HTTP status tells request errors (4xx) from
execution results (2xx); `application/json` is the legacy type, always 200 for a
well-formed GraphQL response. Missing Accept, `*/*` and `application/*` mean
`application/json`. A client that accepts neither still gets `application/json`
(the spec's second permitted choice, instead of 406).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping

import orjson
from starlette.responses import Response

from app.api.errors import TopLevelErrorCode

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


# Clients send a handful of distinct Accept values, and a request asks up to three times.
@functools.lru_cache(maxsize=256)
def response_media_type(accept: str | None) -> str:
    """The media type to answer with for this Accept header value."""
    best: dict[str, float] = {}
    for item in (accept or "").split(","):
        kind, *params = item.split(";")
        kind = kind.strip().lower()
        if kind in {GRAPHQL_RESPONSE_JSON, JSON, "application/*", "*/*"}:
            best[kind] = max(best.get(kind, 0.0), _quality(params))
    wanted = best.get(GRAPHQL_RESPONSE_JSON, 0.0)
    legacy = max(best.get(JSON, 0.0), best.get("application/*", 0.0), best.get("*/*", 0.0))
    return GRAPHQL_RESPONSE_JSON if wanted > 0 and wanted >= legacy else JSON


def encode_json(data: object) -> bytes:
    """`data` as compact JSON in UTF-8 (non-ASCII characters as themselves, not `\\u`
    escapes: the responses declare `charset=utf-8`), encoded by orjson."""
    try:
        return orjson.dumps(data)
    except TypeError:
        # What orjson refuses and the stdlib takes: a lone surrogate (a request may carry
        # "\\ud800", and an error message may quote it back), an integer past 64 bits, a
        # key that is not a string. Escaped to ASCII, the answer is still valid JSON.
        return json.dumps(data, separators=(",", ":")).encode()


def error_response(
    message: str,
    *,
    status_code: int,
    code: TopLevelErrorCode,
    accept: str | None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A GraphQL-shaped error body (`{"errors": [...]}`, no `data`) with an HTTP status,
    in the media type the client accepts."""
    body = {"errors": [{"message": message, "extensions": {"code": code.value}}]}
    return Response(
        encode_json(body),
        status_code=status_code,
        headers=dict(headers or {}),
        media_type=f"{response_media_type(accept)}; charset=utf-8",
    )
