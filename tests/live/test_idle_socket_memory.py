"""What an idle subscribed socket keeps in the server (issue 14's memory target): uvicorn's
protocol without the handshake's objects and with the lighter queue and flag
(app.web.websocket_protocol), and the operation's extension hooks held as bare generators
(app.api.extension_hooks), which end exactly as Strawberry's own runner ends them."""

from __future__ import annotations

import asyncio
import gc
import inspect

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import OperationContextManager
from websockets.exceptions import InvalidStatus
from websockets.protocol import Protocol

from app.api.extension_hooks import CachedHooksRunner, _Operation
from app.web.graphql_view import GraphQLView
from app.web.websocket_protocol import Flag, Inbox, LeanWebSocketsProtocol
from tests.live.conftest import WAIT, WS, wait_for_subscriptions

EVENTS = "subscription { registrationEvents { kind } }"


def _live(kind: type) -> list:
    gc.collect()  # what earlier tests left behind goes first
    return [o for o in gc.get_objects() if type(o) is kind]


async def test_an_idle_subscribed_socket_keeps_no_handshake_and_no_hook_wrappers(live, world):
    async with WS.signed_in(live, world.host.token) as client:
        await client.subscribe("1", EVENTS)
        await wait_for_subscriptions(live, 1)

        # the server runs in this process; sockets of earlier tests are closed
        [protocol] = [p for p in _live(LeanWebSocketsProtocol) if not p.disconnected]
        assert protocol.request is None and protocol.response is None
        assert isinstance(protocol.queue, Inbox) and isinstance(protocol.writable, Flag)
        # the handshake parser (which keeps the request) replaced by the frame parser
        assert protocol.conn.parser.gi_code is Protocol.parse.__code__

        [operation] = [o for o in _live(_Operation) if o._held]
        assert all(inspect.isgenerator(g) or inspect.isasyncgen(g) for g, _ in operation._held)
        held = {type(g.gi_frame.f_locals["self"]).__name__ for g, _ in operation._held}
        # the hooks with work left at the end; DocumentLimits and ValidationRules are plain
        assert held == {"PersistedQueries", "FreshLoaders", "RequestLog", "MaskUnexpectedErrors"}

        # still a working socket: messages in order, answered
        await client.send({"type": "ping"})
        await client.send({"type": "ping"})
        assert await client.recv() == {"type": "pong"}
        assert await client.recv() == {"type": "pong"}


# --- the queue and the flag ---------------------------------------------------------------


async def test_inbox_is_fifo_and_wakes_each_waiting_reader():
    inbox = Inbox()
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert not inbox.empty() and inbox.qsize() == 2
    assert [await inbox.get(), await inbox.get()] == [1, 2]
    assert inbox.empty()

    readers = [asyncio.create_task(inbox.get()) for _ in range(2)]
    await asyncio.sleep(0)  # both waiting
    inbox.put_nowait("a")
    inbox.put_nowait("b")
    async with asyncio.timeout(WAIT):
        assert sorted(await asyncio.gather(*readers)) == ["a", "b"]


async def test_a_cancelled_reader_neither_loses_an_item_nor_stops_the_others():
    inbox = Inbox()
    cancelled, other = asyncio.create_task(inbox.get()), asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    inbox.put_nowait("x")
    async with asyncio.timeout(WAIT):
        assert await other == "x"
    assert inbox.empty()


async def test_flag_blocks_writers_only_while_cleared():
    flag = Flag()
    assert flag.is_set()
    async with asyncio.timeout(WAIT):
        await flag.wait()  # set: returns at once
    flag.clear()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    waiters[0].cancel()  # one writer gives up: the other still waits, then goes on
    flag.set()
    async with asyncio.timeout(WAIT):
        await waiters[1]
    assert waiters[0].cancelled()


# --- operation hooks: the same life as under Strawberry's runner ----------------------------


class Trace:
    def __init__(self) -> None:
        self.events: list[str] = []


def _extensions(trace: Trace, *, suppress_in: str | None = None, raise_at_exit_in: str | None = None):
    """A plain hook, a generator hook, an async generator hook, one without an operation hook."""

    class Plain(SchemaExtension):
        def on_operation(self) -> None:
            trace.events.append("plain")

    def generator_hook(name: str):
        def on_operation(self):
            trace.events.append(f"enter {name}")
            try:
                yield
            except ValueError as error:
                trace.events.append(f"{name} saw {error}")
                if name != suppress_in:
                    raise
            finally:
                trace.events.append(f"exit {name}")
            if name == raise_at_exit_in:
                raise KeyError(name)

        return on_operation

    class First(SchemaExtension):
        on_operation = generator_hook("first")

    class Second(SchemaExtension):
        async def on_operation(self):
            trace.events.append("enter second")
            try:
                yield
            except ValueError as error:
                trace.events.append(f"second saw {error}")
                if suppress_in != "second":
                    raise
            finally:
                trace.events.append("exit second")

    class Third(SchemaExtension):
        on_operation = generator_hook("third")

    class NoHook(SchemaExtension):
        pass

    return [First(), Plain(), Second(), NoHook(), Third()]


async def _run(manager_class: type, body_raises: bool, **options) -> tuple[list[str], str]:
    trace = Trace()
    outcome = "ok"
    try:
        async with manager_class(_extensions(trace, **options)):
            trace.events.append("body")
            if body_raises:
                raise ValueError("boom")
    except Exception as error:  # noqa: BLE001 - what came out is the outcome compared
        outcome = f"{type(error).__name__}: {error}"
    return trace.events, outcome


@pytest.mark.parametrize(
    "body_raises, options",
    [
        (False, {}),
        (True, {}),
        (True, {"suppress_in": "third"}),
        (True, {"suppress_in": "second"}),
        (False, {"raise_at_exit_in": "third"}),
        (True, {"raise_at_exit_in": "first", "suppress_in": "third"}),
    ],
    ids=["clean", "error-propagates", "suppressed-innermost", "suppressed-async", "exit-raises", "suppressed-then-raises"],
)
async def test_operation_hooks_enter_and_exit_as_under_strawberry(body_raises, options):
    ours = await _run(_Operation, body_raises, **options)
    strawberrys = await _run(OperationContextManager, body_raises, **options)
    assert ours == strawberrys
    assert ours[0][:4] == ["enter first", "plain", "enter second", "enter third"]


@pytest.mark.parametrize("manager_class", [_Operation, OperationContextManager])
def test_the_sync_path_refuses_async_hooks_as_strawberry_does(manager_class):
    trace = Trace()
    with pytest.raises(RuntimeError, match="failed to complete synchronously"):
        with manager_class(_extensions(trace)):
            pass
    gc.collect()  # the hook entered before the refusal is closed when it is dropped
    assert trace.events == ["enter first", "plain", "exit first"]


def test_the_runner_gives_operations_the_lean_manager():
    runner = CachedHooksRunner(execution_context=None, extensions=[])
    assert isinstance(runner.operation(), _Operation)


async def test_websockets_to_graphql_skip_starlette_stack_other_paths_do_not(app, live):
    assert isinstance(app.websocket_endpoint, GraphQLView)  # no tracing configured here
    # /nowhere/graphql still goes through Starlette's router, which refuses it
    with pytest.raises(InvalidStatus):
        async with WS.open(live + "/nowhere"):
            pass
