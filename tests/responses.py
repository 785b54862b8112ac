"""Helpers for comparing whole GraphQL response bodies."""

from __future__ import annotations

from typing import Any


def without_cost(body: Any) -> Any:
    """`body` without `extensions.cost`, which every executed query and mutation carries
    (app.api.extensions.QueryCostLimit), and without `extensions` when nothing else is in
    it: for tests that compare a whole response and are not about its cost. A batch (a
    list of bodies) is handled body by body; anything else is returned as it is."""
    if isinstance(body, list):
        return [without_cost(item) for item in body]
    if not isinstance(body, dict) or not isinstance(body.get("extensions"), dict):
        return body
    extensions = {k: v for k, v in body["extensions"].items() if k != "cost"}
    rest = {k: v for k, v in body.items() if k != "extensions"}
    return {**rest, "extensions": extensions} if extensions else rest
