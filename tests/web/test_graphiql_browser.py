"""GraphiQL in a real headless chromium: the page renders from the app's own assets under
its CSP, and a query typed in it runs against the API with the viewer's token."""

from __future__ import annotations

import json

import pytest

from tests.web.webdriver import CONTROL, DELETE, WebDriverError, chromium, chromium_missing
from tests.responses import without_cost

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")


async def test_graphiql_renders_and_runs_a_query(app, world, serve):
    base = await serve(app)
    async with chromium() as browser:
        await browser.get(f"{base}/graphql")
        await browser.click(await browser.find(".graphiql-query-editor .view-lines"))
        await browser.keys("a", modifier=CONTROL)  # select the default query...
        await browser.keys(DELETE)  # ...and clear it
        await browser.keys("{ viewer { name email } }")

        await browser.click(await browser.find(xpath="//button[normalize-space()='Headers']"))
        await browser.click(await browser.find(".graphiql-editor-tool .graphiql-editor:not(.hidden) .view-lines"))
        await browser.keys(json.dumps({"Authorization": f"Bearer {world.host.token}"}))

        await browser.click(await browser.find(".graphiql-execute-button"))
        result = await browser.wait_for_text(".graphiql-response", "hannah@example.org")

        # Monaco renders spaces as no-break spaces.
        assert without_cost(json.loads(result.replace("\xa0", " "))) == {
            "data": {"viewer": {"name": "Hannah", "email": "hannah@example.org"}}
        }
        # Subscriptions: the page may open its WebSocket (CSP connect-src 'self', and the
        # server's Origin check takes the page's own origin as same-origin).
        opened = await browser.script_async(
            """
            const done = arguments[arguments.length - 1];
            const socket = new WebSocket(arguments[0], 'graphql-transport-ws');
            socket.onopen = () => { socket.close(); done('open'); };
            socket.onerror = () => done('error');
            """,
            base.replace("http://", "ws://") + "/graphql",
        )
        assert opened == "open"

        # Nothing failed to load or was blocked by the page's CSP (a CDN script, an inline
        # script, a worker from elsewhere would all show up here).
        errors = [entry["message"] for entry in await browser.console() if entry["level"] == "SEVERE"]
        assert errors == []


async def test_a_host_watches_registrations_arrive_in_graphiql(app, world, serve):
    """The Headers tab's token reaches the WebSocket's connection_init, so a host sees a
    join made elsewhere arrive live in GraphiQL."""
    import httpx

    from tests.documents import JOIN
    from tests.conftest import create_session

    base = await serve(app)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:

        async def post(query, variables, token):
            response = await http.post("/graphql", json={"query": query, "variables": variables},
                                       headers={"Authorization": f"Bearer {token}"})
            return response.json()

        class Api:  # create_session's client, over the real server
            async def data(self, query, variables=None, *, token=None):
                body = await post(query, variables or {}, token)
                assert not body.get("errors"), body
                return body["data"]

        session = await create_session(Api(), world, title="Watched live")
        async with chromium() as browser:
            await browser.get(f"{base}/graphql")
            await browser.click(await browser.find(".graphiql-query-editor .view-lines"))
            await browser.keys("a", modifier=CONTROL)
            await browser.keys(DELETE)
            await browser.keys(
                "subscription { registrationEvents { kind registration { participant { name } } "
                "session { title participantCount } } }"
            )
            await browser.click(await browser.find(xpath="//button[normalize-space()='Headers']"))
            await browser.click(await browser.find(".graphiql-editor-tool .graphiql-editor:not(.hidden) .view-lines"))
            await browser.keys(json.dumps({"Authorization": f"Bearer {world.host.token}"}))
            await browser.click(await browser.find(".graphiql-execute-button"))

            # Join from "another browser" until the event shows: the subscription may still be
            # starting when the first join commits (bounded: a few attempts by distinct members).
            shown = None
            for member in [world.mentees[0], world.mentees[1], world.mentees[2]]:
                joined = await post(JOIN, {"id": session["id"]}, member.token)
                assert joined["data"]["joinGroupSession"]["userErrors"] == []
                try:
                    shown = await browser.wait_for_text(".graphiql-response", "JOINED", timeout=5)
                    break
                except WebDriverError:
                    continue
            assert shown is not None, "no registration event reached GraphiQL"
            event = json.loads(shown.replace("\xa0", " "))["data"]["registrationEvents"]
            assert event["kind"] == "JOINED" and event["session"]["title"] == "Watched live"
            assert event["registration"]["participant"]["name"].startswith("Mentee")
