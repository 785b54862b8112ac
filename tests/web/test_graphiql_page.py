"""The GraphiQL page in development: its assets come from the app itself (no CDN, no
inline script); in production neither the page nor its assets are served."""

from __future__ import annotations

from html.parser import HTMLParser

from app.web.graphiql import ASSETS_DIR
from tests.responses import without_cost


class Resources(HTMLParser):
    """Collects what a page loads: script srcs, inline script bodies, stylesheet hrefs."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str | None] = []
        self.inline: list[str] = []
        self.styles: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs.get("src"))
            self._in_script = True
        elif tag == "link" and attrs.get("rel") == "stylesheet":
            self.styles.append(attrs["href"])
        if any(name.startswith("on") for name in attrs):
            self.inline.append(f"event handler on <{tag}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(data)


async def test_page_loads_only_its_own_assets(api):
    page = await api.http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    resources = Resources()
    resources.feed(page.text)

    assert resources.inline == []
    assert resources.scripts and None not in resources.scripts
    for url in [*resources.scripts, *resources.styles]:
        assert url.startswith("/static/graphiql/"), url  # same origin: no CDN
        asset = await api.http.get(url)
        assert asset.status_code == 200, url
        assert asset.content == (ASSETS_DIR / url.rsplit("/", 1)[1]).read_bytes()
    assert "http://" not in page.text and "https://" not in page.text


async def test_editor_workers_are_served(api):
    for name in ("editor.worker.js", "json.worker.js", "graphql.worker.js"):
        response = await api.http.get(f"/static/graphiql/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_assets_are_compressed_for_clients_that_accept_it(api):
    response = await api.http.get("/static/graphiql/graphiql.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == (ASSETS_DIR / "graphiql.js").read_bytes()  # httpx decodes it


async def test_production_serves_no_ide(make_app, client_for):
    client = client_for(await make_app(app_env="production"))
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert (await client.get("/static/graphiql/graphiql.js")).status_code == 404
    # The API itself still answers.
    assert without_cost((await client.post("/graphql", json={"query": "{ __typename }"})).json()) == {"data": {"__typename": "Query"}}
