"""Serve the API (development mode, a fresh SQLite database) on a free port and run the
graphql-http audit (audit.mjs) against it; exits with the audit's status.

Run it through scripts/audit_http, which prepares .venv and the npm packages.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import uvicorn

from app.db import migrate_database
from app.main import create_app
from app.settings import Settings

HERE = Path(__file__).resolve().parent
AUDIT_TIMEOUT_SECONDS = 120


async def main() -> int:
    # The audit sends broken documents on purpose; their tracebacks are noise here.
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="audit-http-") as tmp:
        database_url = f"sqlite://{tmp}/audit.sqlite3"
        await migrate_database(database_url)
        app = create_app(Settings(database_url=database_url))

        # Listening before uvicorn starts: the audit's first requests wait in the backlog.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/graphql"
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            node = await asyncio.create_subprocess_exec(shutil.which("node") or "node", str(HERE / "audit.mjs"), url)
            try:
                return await asyncio.wait_for(node.wait(), AUDIT_TIMEOUT_SECONDS)
            except TimeoutError:
                node.kill()
                await node.wait()
                print(f"audit did not finish within {AUDIT_TIMEOUT_SECONDS} s", file=sys.stderr)
                return 1
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, timeout=15)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
