"""The limits hold, with their codes, when a ParserCache and a ValidationCache are added
(in either order), and they do not defeat the validation cache."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from strawberry.extensions import ParserCache, ValidationCache

from app.api.accounts.types import Program, User
from app.api.group_sessions.types import GroupSession, Registration
from app.api.schema import AppSchema, Mutation, Query, schema_config, schema_extensions
from app.settings import Settings

HOP = "upcomingGroupSessions(first: 1) { edges { node { host { %s } } } }"
TOO_DEEP = "{ viewer { " + HOP % (HOP % "upcomingGroupSessions(first: 1) { edges { cursor } }") + " } }"
CASES = [
    ("{ viewer { name } } #" + "x" * 15_001, "DOCUMENT_TOO_LARGE"),
    ("{ viewer { " + "name " * 2100 + "} }", "TOO_MANY_TOKENS"),
    (TOO_DEEP, "QUERY_TOO_DEEP"),
    ("{ " + " ".join(f"a{i}: viewer {{ name }}" for i in range(16)) + " }", "TOO_MANY_ALIASES"),
    ("{ dashboard { sessions(first: 100) { edges { node { participants(first: 100) "
     "{ edges { node { participant { name } } } } } } } } }", "QUERY_TOO_COMPLEX"),
    ("{ viewer { name ", "GRAPHQL_PARSE_FAILED"),
    ("{ viewer { nope } }", "GRAPHQL_VALIDATION_FAILED"),
]


@dataclass
class BareContext:
    request_id: str = "t"
    viewer: object = None

    def fresh_loaders(self) -> None:
        pass


def schema_with_caches(caches_first: bool) -> AppSchema:
    settings = Settings()
    caches = [lambda: ParserCache(maxsize=50), lambda: ValidationCache(maxsize=50)]
    ours = schema_extensions(settings)
    return AppSchema(
        query=Query, mutation=Mutation, types=[User, Program, GroupSession, Registration],
        extensions=caches + ours if caches_first else ours + caches, config=schema_config(settings),
    )


@pytest.mark.parametrize("caches_first", [False, True])
async def test_limits_hold_with_caches(caches_first):
    schema = schema_with_caches(caches_first)
    for query, code in CASES:
        for _ in range(2):  # the second time, from the caches
            result = await schema.execute(query, context_value=BareContext())
            assert result.errors, (code, caches_first)
            assert result.errors[0].extensions.get("code") == code, (code, caches_first, result.errors)
            assert result.data is None


async def test_the_limits_do_not_defeat_the_validation_cache():
    schema = schema_with_caches(caches_first=False)
    cache = ValidationCache(maxsize=50).cached_validate_document
    before = cache.cache_info().hits
    for _ in range(3):
        result = await schema.execute("{ viewer { name } }", context_value=BareContext())
        assert result.errors is None and result.data == {"viewer": None}
    assert cache.cache_info().hits >= before + 2
