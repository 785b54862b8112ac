"""Strawberry's schema-extension hooks, looked up once per extension class.

For every operation Strawberry asks each extension instance, for each of the four
hooks (operation, parse, validate, execute), whether its class overrides the hook and
whether it is a generator, then wraps it in a new `contextmanager` (which copies the
function's name, docstring and signature with `functools.update_wrapper`): about fifty
lookups and wrappers per request with this schema's twelve extensions (measured: ~4% of
the CPU of an anonymous `{ __typename }`, see docs/performance.md). Here the answer is kept per
(class, hook) and each operation binds it to its instance with a `partial`. The hooks
run exactly as Strawberry runs them (same order, same exit stacks, same exception
handling); only the lookup is shared.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

# Plain methods (neither generator kind) are left to Strawberry's own wrapping.
_PLAIN = object()
_plans: dict[tuple[type, str], Any] = {}


def _plan(cls: type, hook_name: str) -> Any:
    """None (no hook), _PLAIN, or (context manager factory taking the instance, is_async)."""
    key = (cls, hook_name)
    if key in _plans:
        return _plans[key]
    hook: Callable[..., Any] | None = getattr(cls, hook_name)
    if hook is getattr(SchemaExtension, hook_name):
        plan = None
    elif inspect.isgeneratorfunction(hook):
        plan = (contextlib.contextmanager(hook), False)
    elif inspect.isasyncgenfunction(hook):
        plan = (contextlib.asynccontextmanager(hook), True)
    else:
        plan = _PLAIN
    _plans[key] = plan
    return plan


class _CachedHookLookup:
    __slots__ = ()
    HOOK_NAME: str

    def get_hook(self, extension: SchemaExtension) -> WrappedHook | None:
        plan = _plan(type(extension), self.HOOK_NAME)
        if plan is None:
            return None
        if plan is _PLAIN:
            return super().get_hook(extension)  # type: ignore[misc]
        factory, is_async = plan
        return WrappedHook(extension=extension, hook=functools.partial(factory, extension), is_async=is_async)


class _Operation(_CachedHookLookup, OperationContextManager):
    __slots__ = ()


class _Validation(_CachedHookLookup, ValidationContextManager):
    __slots__ = ()


class _Parsing(_CachedHookLookup, ParsingContextManager):
    __slots__ = ()


class _Executing(_CachedHookLookup, ExecutingContextManager):
    __slots__ = ()


class CachedHooksRunner(SchemaExtensionsRunner):
    """Strawberry's runner for one operation's extensions, with the hook lookup shared."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)
