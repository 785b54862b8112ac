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

`on_operation` hooks stay open for as long as the operation runs, which for a
subscription is the socket's whole life. Strawberry holds each of them in a context
manager wrapper on an exit stack, with a hook record and a bound method per extension:
~4 KB per idle subscription with this schema's six operation hooks. Here an operation
holds only the hooks' suspended generators (a plain-function hook, having nothing to do
at the end, is not held at all), and the exit stack is built as the operation ends, with
the standard library's own context managers around those generators: the same order, the
same exception semantics as Strawberry's (nested `with` blocks).
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


_operation_plans: dict[type, Any] = {}
_GENERATOR, _ASYNC_GENERATOR, _FUNCTION = "generator", "async generator", "function"


def _operation_plan(cls: type) -> tuple[str, Callable[..., Any]] | None:
    """None (no on_operation hook), or (kind, the hook's function)."""
    if cls in _operation_plans:
        return _operation_plans[cls]
    hook = cls.on_operation
    if hook is SchemaExtension.on_operation:
        plan = None
    elif inspect.isgeneratorfunction(hook):
        plan = (_GENERATOR, hook)
    elif inspect.isasyncgenfunction(hook):
        plan = (_ASYNC_GENERATOR, hook)
    elif callable(hook):
        plan = (_FUNCTION, hook)
    else:
        raise ValueError(f"Hook on_operation on {cls.__name__} must be callable, received {hook!r}")
    _operation_plans[cls] = plan
    return plan


def _resume(generator: Any) -> contextlib.AbstractContextManager[None]:
    """The standard library's @contextmanager object around a generator already entered
    (run to its `yield`): its __exit__ uses nothing but the generator."""
    manager = contextlib._GeneratorContextManager.__new__(contextlib._GeneratorContextManager)
    manager.gen = generator
    return manager


def _resume_async(generator: Any) -> contextlib.AbstractAsyncContextManager[None]:
    """The same for an async generator (@asynccontextmanager)."""
    manager = contextlib._AsyncGeneratorContextManager.__new__(contextlib._AsyncGeneratorContextManager)
    manager.gen = generator
    return manager


class _Operation(OperationContextManager):
    """The operation's hooks, entered in the extensions' order and exited in reverse, as
    Strawberry's OperationContextManager does, holding only the suspended generators
    (see the module docstring). A hook that fails as it is entered propagates at once;
    the hooks entered before it are not exited (Strawberry's behaviour too)."""

    __slots__ = ("_held",)

    def __init__(self, extensions: list[SchemaExtension]) -> None:
        self.hooks = extensions  # type: ignore[assignment] - the extensions, looked up as they are entered
        self._held: list[tuple[Any, bool]] = []

    def _enter_sync(self, extension: SchemaExtension, kind: str, hook: Callable[..., Any]) -> Any:
        """Run one hook up to its `yield` (or in full, for a plain function); returns what
        an async caller must still await (an async generator's first step, a coroutine)."""
        if kind == _GENERATOR:
            generator = hook(extension)
            try:
                next(generator)
            except StopIteration:
                raise RuntimeError("generator didn't yield") from None
            self._held.append((generator, False))
            return None
        return hook(extension)

    async def __aenter__(self) -> None:
        for extension in self.hooks:
            plan = _operation_plan(type(extension))
            if plan is None:
                continue
            kind, hook = plan
            pending = self._enter_sync(extension, kind, hook)
            if kind == _ASYNC_GENERATOR:
                try:
                    await anext(pending)
                except StopAsyncIteration:
                    raise RuntimeError("generator didn't yield") from None
                self._held.append((pending, True))
            elif inspect.isawaitable(pending):
                await pending

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        # Like Strawberry's: a hook that swallows the error spares the hooks outside it,
        # but the operation's own error still propagates (the stack's answer is not returned).
        held, self._held = self._held, []
        stack = contextlib.AsyncExitStack()
        for generator, is_async in held:
            if is_async:
                stack.push_async_exit(_resume_async(generator))
            else:
                stack.push(_resume(generator))
        await stack.__aexit__(exc_type, exc_val, exc_tb)

    def __enter__(self) -> None:
        for extension in self.hooks:
            plan = _operation_plan(type(extension))
            if plan is None:
                continue
            kind, hook = plan
            if kind == _ASYNC_GENERATOR or (kind == _FUNCTION and inspect.iscoroutinefunction(hook)):
                raise RuntimeError(
                    f"SchemaExtension hook {extension}.on_operation failed to complete synchronously."
                )
            self._enter_sync(extension, kind, hook)

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        held, self._held = self._held, []
        stack = contextlib.ExitStack()
        for generator, _ in held:
            stack.push(_resume(generator))
        stack.__exit__(exc_type, exc_val, exc_tb)


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
