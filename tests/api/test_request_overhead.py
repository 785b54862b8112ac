"""The per-request shortcuts around the compiled plan answer as the long way would.

`_settle` awaits a lone pending field without gather; these tests hold it to gather's
outcomes: the value, a bail caused by the failure, and a cancellation that reaches the
field and goes on up.
"""

from __future__ import annotations

import asyncio

import pytest

from app.api import compiled


async def _value(value):
    await asyncio.sleep(0)
    return value


async def _failing():
    await asyncio.sleep(0)
    raise ValueError("boom")


async def test_one_pending_field_settles_to_its_value():
    results = {"a": 1, "b": _value(2)}
    assert await compiled._settle(results, ["b"]) == {"a": 1, "b": 2}
    items = [1, _value(2), 3]
    assert await compiled._settle(items, [1]) == [1, 2, 3]


async def test_one_failing_field_bails_with_its_failure_as_gather_would():
    for settle, holder, keys in (
        (compiled._settle, {"a": None}, ["a"]),
        (compiled._settle, [None], [0]),
    ):
        holder[keys[0]] = _failing()
        with pytest.raises(compiled.Bail) as raised:
            await settle(holder, keys)
        assert isinstance(raised.value.__cause__, ValueError)
        assert holder[keys[0]] is raised.value.__cause__


async def test_cancelling_the_request_cancels_the_lone_field_and_goes_on_up():
    started, reached = asyncio.Event(), asyncio.Event()

    async def field():
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            reached.set()
            raise

    for settle, holder, keys in (
        (compiled._settle, {"a": None}, ["a"]),
        (compiled._settle, [None], [0]),
    ):
        started.clear()
        reached.clear()
        holder[keys[0]] = field()
        task = asyncio.ensure_future(settle(holder, keys))
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        assert reached.is_set()


async def test_a_cancelled_loader_future_is_a_cancellation_not_a_bail():
    future = asyncio.get_running_loop().create_future()
    future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await compiled._settle({"a": future}, ["a"])
