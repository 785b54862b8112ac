"""`SharedLoader` batches and answers as Strawberry's DataLoader with a shield per load
(what it replaced), with less machinery per key: the same batches from the same loads,
the same outcome per key, and no field's cancellation reaching the row of another."""

from __future__ import annotations

import asyncio
import gc

import pytest
from strawberry.dataloader import DataLoader
from strawberry.exceptions import WrongNumberOfResultsReturned

from app.api.loaders import SharedLoader, loaded


class ShieldedLoader(DataLoader):
    """The reference: DataLoader, each load shielded (SharedLoader as it was)."""

    def load(self, key):  # noqa: ANN001, ANN201
        return asyncio.shield(super().load(key))


async def _turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def _scenario(cls, fields, *, answer=None) -> tuple[list, list]:
    """The batches `cls` calls its batch function with, and each field's outcome, for
    fields (key, loop turns before loading) run together."""
    calls: list[list] = []

    async def batch(keys):
        calls.append(list(keys))
        await asyncio.sleep(0)
        if answer is not None:
            return answer(keys)
        return [ValueError(key) if key.startswith("bad") else key.upper() for key in keys]

    loader = cls(batch)
    outcomes: list = []

    async def field(key: str, turns: int) -> None:
        await _turns(turns)
        try:
            outcomes.append((key, turns, await loader.load(key)))
        except Exception as error:  # noqa: BLE001 - compared
            outcomes.append((key, turns, repr(error)))

    await asyncio.gather(*(field(key, turns) for key, turns in fields))
    return calls, sorted(outcomes, key=repr)


@pytest.mark.parametrize(
    "fields",
    [
        [("a", 0)],
        [("a", 0), ("b", 0), ("a", 0)],
        [("a", 0), ("b", 1), ("c", 2), ("d", 3), ("a", 4), ("e", 5), ("b", 6)],
        [("bad1", 0), ("a", 0), ("bad1", 1), ("b", 3), ("bad2", 3)],
        [(f"k{i % 7}", i % 5) for i in range(40)],
    ],
)
async def test_the_same_batches_and_outcomes_as_a_shielded_dataloader(fields):
    assert await _scenario(SharedLoader, fields) == await _scenario(ShieldedLoader, fields)


async def test_a_failing_batch_fails_each_key_and_leaves_nothing_unretrieved():
    seen: list = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        for answer in (lambda keys: 1 / 0, lambda keys: keys[:-1]):
            fields = [("a", 0), ("b", 0), ("a", 1)]
            ours = await _scenario(SharedLoader, fields, answer=answer)
            assert ours == await _scenario(ShieldedLoader, fields, answer=answer)
            assert all(isinstance(outcome, str) for _, _, outcome in ours[1])
        assert WrongNumberOfResultsReturned.__name__ in ours[1][0][2]
        gc.collect()
        await _turns(2)
    finally:
        loop.set_exception_handler(None)
    assert seen == []


async def test_a_cancelled_field_does_not_cancel_the_row_for_the_others():
    release = asyncio.Event()
    calls: list = []

    async def batch(keys):
        calls.append(list(keys))
        await release.wait()
        return [key * 2 for key in keys]

    async def field():
        return await loader.load(1)

    loader = SharedLoader(batch)
    waiting, other = asyncio.ensure_future(field()), asyncio.ensure_future(field())
    await _turns(3)
    waiting.cancel()
    await _turns(1)
    assert waiting.cancelled() and not other.done()
    release.set()
    assert await asyncio.wait_for(other, 5) == 2
    assert await loader.load(1) == 2 and loaded(loader, 1) == 2
    assert calls == [[1]]


async def test_a_cancelled_request_leaves_no_pending_loader_task():
    release = asyncio.Event()

    async def batch(keys):
        await release.wait()
        return list(keys)

    loader = SharedLoader(batch)

    async def request():
        return await loader.load("a"), await loader.load("b")

    before = asyncio.all_tasks()
    task = asyncio.ensure_future(request())
    await _turns(3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    await asyncio.wait_for(asyncio.gather(*(asyncio.all_tasks() - before - {asyncio.current_task()})), 5)
    assert asyncio.all_tasks() - before == set()
    assert not loader._waiters  # every waiter settled or dropped with its batch
    assert loaded(loader, "a") == "a"  # the row read is kept for the operation's other fields


async def test_priming_settles_a_key_still_waiting_for_its_batch():
    calls: list = []

    async def batch(keys):
        calls.append(list(keys))
        return [key.upper() for key in keys]

    for cls in (SharedLoader, ShieldedLoader):
        calls.clear()
        loader = cls(batch)
        a, b = loader.load("a"), loader.load("b")
        loader.prime("a", "primed")
        loader.prime("b", "ignored")
        assert (await a, await b) == ("primed", "ignored")
        assert calls == []
        loader.prime("c", "C0")
        loader.prime("c", "C1")
        loader.prime("d", "D", force=True)
        assert await loader.load("c") == "C0" and await loader.load("d") == "D"
        assert await loader.load("e") == "E" and calls == [["e"]]
        # Many at once, one of them still waiting and one forced over a row read already.
        calls.clear()
        f, g = loader.load("f"), loader.load("g")
        loader.prime_many({"f": "primed f", "e": "E again", "h": "H"})
        loader.prime_many({"e": "E forced"}, force=True)
        assert (await f, await g) == ("primed f", "G") and calls == [["g"]]
        assert [await loader.load(key) for key in "eh"] == ["E forced", "H"]
        # A row primed with force while its batch runs: later loads get the primed row,
        # the loads made before get what the batch read.
        calls.clear()
        i = loader.load("i")
        await _turns(2)
        loader.prime("i", "I primed", force=True)
        assert (await i, await loader.load("i")) == ("I", "I primed") and calls == [["i"]]
