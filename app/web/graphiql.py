"""The GraphiQL page (development mode only), served with its assets from the app itself.

The assets in static/graphiql/ are built by scripts/build_graphiql (npm + esbuild, from
scripts/graphiql/) and committed, so serving them needs no npm and no CDN: the page works
offline and on an intranet, under a CSP that allows scripts from this origin only.
"""

from __future__ import annotations

import html
from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from app.web.headers import IDE_CONTENT_SECURITY_POLICY

ASSETS_PATH = "/static/graphiql"
ASSETS_DIR = Path(__file__).parent / "static" / "graphiql"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphiQL · Group sessions API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{assets}/graphiql.css">
</head>
<body>
<div id="graphiql" data-endpoint="{endpoint}" data-assets="{assets}/">Loading GraphiQL…</div>
<script src="{assets}/graphiql.js"></script>
</body>
</html>
"""


def page_response(*, endpoint: str) -> Response:
    """The GraphiQL HTML page for the GraphQL endpoint at path `endpoint`."""
    body = _PAGE.format(assets=ASSETS_PATH, endpoint=html.escape(endpoint, quote=True))
    return HTMLResponse(body, headers={"Content-Security-Policy": IDE_CONTENT_SECURITY_POLICY})


class _IDEAssets(StaticFiles):
    """StaticFiles whose responses carry the IDE's CSP (a worker script runs under the CSP
    of its own response) and are revalidated rather than cached blindly (names carry no hash)."""

    def file_response(self, *args, **kwargs) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Content-Security-Policy"] = IDE_CONTENT_SECURITY_POLICY
        response.headers["Cache-Control"] = "no-cache"
        return response


def assets_route() -> Mount:
    """The route serving the built assets; install it only where GraphiQL is on."""
    # Compressed: the editor's script is about 5 MB. Only these files: API answers stay
    # uncompressed, since compressing secrets next to client-chosen input is what BREACH uses.
    assets = GZipMiddleware(_IDEAssets(directory=ASSETS_DIR), minimum_size=1000)
    return Mount(ASSETS_PATH, app=assets, name="graphiql-assets")
