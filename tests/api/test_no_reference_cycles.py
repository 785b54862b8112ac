"""An operation's objects are freed when it ends, not when the garbage collector next runs.

A reference cycle among an operation's objects (its execution context, its loaders)
kept everything the operation made (rows, futures, response objects) alive until a
collection found it; the collector's passes over that garbage cost more CPU than some
whole requests. These tests run real operations with the collector told to keep what it
finds (`gc.DEBUG_SAVEALL`) and require that none of the operation's own objects are
among it.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from app.api.context import Context
from app.api.execution import AppExecutionContext, _weak_helpers
from app.api.loaders import Loaders, SharedLoader, _weakly
from tests.conftest import create_session, join
from tests.scale.pages import DASHBOARD_FUTURE, PUBLIC_SESSION_PAGE

# The objects of one operation; anything of these types found unreachable came from a cycle.
OPERATION_TYPES = (Context, Loaders, SharedLoader, AppExecutionContext)


@contextmanager
def cyclic_garbage(extra: tuple[type, ...] = ()) -> Iterator[list]:
    """The objects of OPERATION_TYPES (and `extra`) the collector finds unreachable
    (cyclic garbage, and what only it holds) among those made inside the block; the list
    is filled when the block ends."""
    kinds = OPERATION_TYPES + extra
    found: list = []
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.extend(o for o in gc.garbage if isinstance(o, kinds))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def names(objects: list) -> list[str]:
    return sorted(type(o).__name__ for o in objects)


async def test_reads_leave_no_cyclic_garbage(api, world):
    session = await create_session(api, world)
    await join(api, world.mentees[0], session["id"])
    with cyclic_garbage() as found:
        page = await api.data(PUBLIC_SESSION_PAGE, {"id": session["id"]}, token=world.mentees[1].token)
        dashboard = await api.data(DASHBOARD_FUTURE, {"first": 20}, token=world.host.token)
    # The operations ran through the loaders (participants, sessions) and answered.
    assert [e["node"]["participant"]["name"] for e in page["groupSession"]["participants"]["edges"]] == [
        "Hannah", "Mentee0"]
    assert [e["node"]["id"] for e in dashboard["dashboard"]["sessions"]["edges"]] == [session["id"]]
    assert names(found) == []


async def test_a_mutation_leaves_no_cyclic_garbage(api, world):
    # (An operation that fails does leave cycles: an exception's traceback holds the frames
    # that hold it. Those are the rare case, and Python's own.)
    session = await create_session(api, world)
    with cyclic_garbage() as found:
        joined = await join(api, world.mentees[0], session["id"])
    assert joined["userErrors"] == []
    assert names(found) == []


async def test_a_cycle_is_still_seen(api, world):
    """The check itself can fail: a Loaders made to reference itself is found."""
    with cyclic_garbage() as found:
        loaders = Loaders(None)
        loaders.myself = loaders
        del loaders
    assert names(found) == ["Loaders"]


async def test_a_weakly_held_batch_loads_while_its_loaders_live_and_says_so_after():
    class Owner:
        async def batch(self, keys):
            return [k * 2 for k in keys]

    owner = Owner()
    loader = SharedLoader(_weakly(owner.batch))
    assert await loader.load(21) == 42
    load = _weakly(owner.batch)
    del owner
    with pytest.raises(RuntimeError, match="has ended"):
        await load([1])


async def test_weak_execution_helpers_call_the_executor_while_it_lives():
    class Executor:
        tracked: list = []

        def gather_async_work(self, values):
            return ("gathered", list(values))

        def track_async_work(self, values):
            self.tracked.append(list(values))

    executor = Executor()
    helpers = _weak_helpers(executor)
    assert helpers.gather([1, 2]) == ("gathered", [1, 2])
    helpers.track([3])
    assert executor.tracked == [[3]]
    del executor
    with pytest.raises(RuntimeError, match="has ended"):
        helpers.gather([])
