"""The uvicorn server `python -m app serve` runs (one worker)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import uvicorn


class GracefulServer(uvicorn.Server):
    """uvicorn's server, except that the SIGTERM or SIGINT it shut down for gracefully is
    not raised again afterwards (uvicorn re-raises it once shut down, so the process would
    end killed by the signal, which supervisors count as a crash): the process exits 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()
