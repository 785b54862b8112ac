"""Servers the tests start, two ways, each with a bounded start and a bounded stop:

- `AppProcess`: `python -m app serve` or `python -m app worker` as a real process (its own
  process group, so uvicorn's workers stop with it), configured by the test's Settings
  through the environment, as production configures it;
- `serve_in_process`: an app the test already built, served by uvicorn in the test's event
  loop, with the options `python -m app serve` gives uvicorn (`uvicorn_options`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import uvicorn

from app.__main__ import uvicorn_options
from app.settings import Settings, format_duration
from tests import log_scan

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 60  # bound on a process's start-up (imports, migrations check, uvicorn workers)
STOP_SECONDS = 20  # bound on a graceful stop before SIGKILL


def free_port() -> int:
    """A port nothing listens on now (bound to port 0 and read back)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment that `Settings.from_env` reads back as `settings` (every field, as
    its upper-case variable): how a test hands its settings to a process."""
    env: dict[str, str] = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif field.name == "reminder_offsets" and not value:
            text = "none"  # unset would be the default offsets
        elif isinstance(value, tuple):
            text = ",".join(format_duration(v) if isinstance(v, timedelta) else str(v) for v in value)
        elif isinstance(value, timedelta):
            text = format_duration(value)
        else:
            text = str(value)
        env[field.name.upper()] = text
    return env


def process_environment(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any app setting a developer may have exported
    (a REDIS_URL, an SMTP_HOST...), then the test's settings, then `extra`."""
    names = {field.name.upper() for field in dataclasses.fields(Settings)}
    inherited = {k: v for k, v in os.environ.items() if k not in names}
    return {**inherited, **settings_environment(settings), **(extra or {})}


class AppProcess:
    """`python -m app <command> ...` with the test's settings, logging to `log_path`.

    `serve` gets a free port (`url`) and is ready when /healthz answers 200 (and `ready`,
    if given, accepts its JSON); `worker` is ready when it has said where it sends mail."""

    def __init__(
        self,
        command: str,
        settings: Settings,
        log_path: Path,
        *args: str,
        env: dict[str, str] | None = None,
        ready: Callable[[dict], bool] | None = None,
    ) -> None:
        self.command = command
        self.log_path = log_path
        self.args = list(args)
        self.ready = ready
        self.env = process_environment(settings, env)
        self.port = free_port() if command == "serve" else None
        if self.port is not None:
            self.args = ["--port", str(self.port), *self.args]
        self.process: asyncio.subprocess.Process | None = None
        self._output_collected = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    async def start(self, timeout: float = START_SECONDS) -> None:
        with self.log_path.open("w") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "app", self.command, *self.args,
                cwd=ROOT, env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            )
        try:
            async with asyncio.timeout(timeout):
                await (self._serving() if self.command == "serve" else self._log_says("outbox worker: sending through"))
        except TimeoutError:
            raise AssertionError(f"`python -m app {self.command}` not ready after {timeout}s:\n{self.log()}") from None

    async def _serving(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while True:
                self._still_running()
                try:
                    response = await http.get("/healthz")
                    if response.status_code == 200 and (self.ready is None or self.ready(response.json())):
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                await asyncio.sleep(0.1)  # polling a process we cannot be told about; bounded by start()

    async def _log_says(self, text: str) -> None:
        while text not in self.log():
            self._still_running()
            await asyncio.sleep(0.05)  # polling a log file; bounded by the caller

    def _still_running(self) -> None:
        if self.process.returncode is not None:
            raise AssertionError(f"`python -m app {self.command}` exited with {self.process.returncode}:\n{self.log()}")

    async def wait_for_log(self, text: str, timeout: float) -> None:
        """Wait (bounded) until the process's log contains `text`."""
        async with asyncio.timeout(timeout):
            await self._log_says(text)

    def send_signal(self, sig: int) -> None:
        """`sig` to the process itself (not its group): what a supervisor sends."""
        self.process.send_signal(sig)

    async def wait(self, timeout: float) -> int:
        """Its exit code, waiting at most `timeout` seconds."""
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stop(self, timeout: float = STOP_SECONDS) -> int:
        """SIGTERM the process group, SIGKILL it if it has not exited `timeout` s later;
        returns the exit code."""
        if self.process is None:
            return 0
        if self.process.returncode is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                _signal_group(self.process.pid, signal.SIGKILL)
                await asyncio.wait_for(self.process.wait(), 10)
        if not self._output_collected:  # its whole output joins the run's log scan (tests/log_scan.py)
            self._output_collected = True
            log_scan.SUITE.add_output(f"`python -m app {self.command}` output", self.log())
        return self.process.returncode


def stop_process_group(process: subprocess.Popen, timeout: float = STOP_SECONDS) -> None:
    """The same bounded stop for a process started with `subprocess.Popen(...,
    start_new_session=True)` outside an event loop (the benchmark runner's servers)."""
    if process.poll() is not None:
        return
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


@asynccontextmanager
async def app_process(
    command: str, settings: Settings, log_path: Path, *args: str, **options
) -> AsyncIterator[AppProcess]:
    """An `AppProcess`, started (ready) on entry and stopped on exit."""
    process = AppProcess(command, settings, log_path, *args, **options)
    try:
        await process.start()
        yield process
    finally:
        await process.stop()


def listening_socket() -> socket.socket:
    """A socket listening on a free port of 127.0.0.1, to hand to `serve_in_process`: a
    client may connect as soon as it exists (no port race, no readiness poll)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@asynccontextmanager
async def serve_in_process(app, settings: Settings | None = None, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Serve `app` (whose lifespan the caller already runs) with uvicorn in this event loop,
    configured as `python -m app serve` configures it for `settings` (the app's own by
    default); yields the base URL."""
    settings = settings or app.state.settings
    sock = sock or listening_socket()
    port = sock.getsockname()[1]
    # The options `python -m app serve` gives uvicorn (the message-size limit among them), so
    # the limits the tests check are the ones the app wires, not a fixture's own.
    config = uvicorn.Config(app, lifespan="off", log_level="warning", **uvicorn_options(settings))
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # uvicorn has no event for this; bounded
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()
