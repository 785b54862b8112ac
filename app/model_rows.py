"""Tortoise model instances from the rows of raw statements (`app.db.fetch_rows`).

`Model._init_from_db(**columns)` is Tortoise's quickest way to build an instance, yet per
instance it takes a keyword dict built for it, and four attribute stores through the
model's `__setattr__` (a Python call each). Pages and every signed-in request build a few
of them per statement; `from_row` builds the same instance from the row's positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from tortoise.models import Model

M = TypeVar("M", bound=Model)

_set = object.__setattr__


def from_row(model: type[M], row: Sequence[Any], at: dict[str, int]) -> M:
    """What `model._init_from_db(**{column: row[i] for column, i in at.items()})` gives:
    the model's instance whose database column `column` holds `row[at[column]]`. `at`
    names every column of the model (a partial row goes through `_init_from_db` itself,
    which then builds a partial instance)."""
    meta = model._meta
    try:
        # `_init_from_db`'s loops, in its order, reading the row by position; the model's
        # private attributes set as it sets them (its `__setattr__` does nothing more for
        # these four on an instance without `_await_when_save`).
        self = model.__new__(model)
        _set(self, "_partial", False)
        _set(self, "_saved_in_db", True)
        _set(self, "_custom_generated_pk", meta.db_pk_column not in meta.generated_db_fields)
        _set(self, "_await_when_save", {})
        for key, model_field, _field in meta.db_native_fields:
            _set(self, model_field, row[at[key]])
        for key, model_field, field in meta.db_default_fields:
            if (value := row[at[key]]) is not None:
                value = field.field_type(value)
            _set(self, model_field, value)
        for key, model_field, field in meta.db_complex_fields:
            _set(self, model_field, field.to_python_value(row[at[key]]))
    except KeyError:
        return model._init_from_db(**{column: row[i] for column, i in at.items()})
    return self
