"""Basic leaf fields are read directly; everything else takes graphql-core's own path."""

from app.api.execution import _leaf_plan
from app.api.schema import build_schema


def test_basic_leaves_get_a_plan_and_resolvers_do_not():
    schema = build_schema()._schema
    session = schema.type_map["GroupSession"]
    assert _leaf_plan(schema, session, "title") is not None
    assert _leaf_plan(schema, session, "startsAt") is not None  # custom scalar, serialized by it
    assert _leaf_plan(schema, session, "status") is not None  # enum
    assert _leaf_plan(schema, session, "viewerCanJoin") is None  # a resolver
    assert _leaf_plan(schema, session, "host") is None  # an object
    assert _leaf_plan(schema, session, "participants") is None  # arguments
    assert _leaf_plan(schema, schema.type_map["User"], "email") is None  # a resolver (viewer-only)
