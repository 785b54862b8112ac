"""The official GraphQL over HTTP audit (graphql-http's serverAudits) against the served
app: every MUST passes, and every SHOULD passes or is explained (scripts/http-audit/audit.mjs,
docs/api.md, "The audit")."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

AUDIT = Path(__file__).resolve().parents[2] / "scripts" / "http-audit"


def audit_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (AUDIT / "node_modules" / "graphql-http").is_dir():
        return "graphql-http is not installed (cd scripts/http-audit && npm ci; see scripts/ci_http.sh)"
    return None


@pytest.mark.skipif(audit_missing() is not None, reason=audit_missing() or "")
@pytest.mark.timeout(300)  # the graphql-http audit alone is bounded at 120 s
async def test_graphql_http_audit_passes(app, serve):
    base = await serve(app)
    node = await asyncio.create_subprocess_exec(
        shutil.which("node"),
        str(AUDIT / "audit.mjs"),
        f"{base}/graphql",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(node.communicate(), timeout=120)
    report = output.decode()
    assert node.returncode == 0, report
    assert "0 MUST failed" in report, report
