"""The polling loop the outbox worker and the timed-jobs runner share.

A subclass says what one pass is (`run_once`, returning how many items it took), how many
a full pass takes (`batch_size`), how long an idle loop waits (`poll_seconds`) and, if
anything, what follows each pass (`after_pass`). The loop runs passes back to back while
they come back full, otherwise after `wake()` or the poll interval; a failing pass (the
database down) is logged, never fatal. `stop()` lets the pass in hand finish within a
bound (the subclass sees `stopping` and hands back what it has not started), then cancels.
"""

from __future__ import annotations

import asyncio
import logging

logger = logging.getLogger(__name__)


class PollingLoop:
    # The background task's name, and the prefix of the loop's log lines.
    name = "loop"

    def __init__(self) -> None:
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    # --- what a subclass says ------------------------------------------------------------------

    async def run_once(self) -> int:
        """One pass; how many items it took."""
        raise NotImplementedError

    def batch_size(self) -> int:
        """How many items a full pass takes (a full pass is followed at once by another)."""
        raise NotImplementedError

    def poll_seconds(self) -> float:
        """How long an idle loop waits for a wake-up before looking again."""
        raise NotImplementedError

    async def after_pass(self) -> None:
        """Housekeeping after each pass (nothing by default)."""

    # --- the loop ------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """True once `stop()` (or `request_stop()`) was called: finish the item in hand only."""
        return self._stopping

    def wake(self) -> None:
        """Run the next pass now instead of at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        """Passes until `stop()`."""
        while not self._stopping:
            self._wakeup.clear()
            try:
                taken = await self.run_once()
            except Exception:  # noqa: BLE001 - the loop must outlive a bad pass
                logger.exception("%s: pass failed", self.name)
                taken = 0
            if self._stopping:
                break
            await self.after_pass()
            if taken >= self.batch_size():
                continue
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.poll_seconds())
            except TimeoutError:
                pass

    def start(self) -> None:
        """Start `run()` as a background task of the running loop."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name=self.name)

    def request_stop(self) -> None:
        """Stop after the item in hand; no new pass starts. `stop()` says this, then waits."""
        self._stopping = True
        self.wake()

    async def stop(self, timeout: float = 5.0) -> None:
        """Finish the item in hand (up to `timeout` seconds, then cancel the pass) and stop."""
        self.request_stop()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=timeout)
        except TimeoutError:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
