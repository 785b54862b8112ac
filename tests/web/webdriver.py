"""A minimal W3C WebDriver client (over httpx) for driving Debian's chromium through
chromedriver: enough to load a page, find elements, click, type and read text."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.servers import free_port

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
CONTROL = "\ue009"
DELETE = "\ue017"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    for binary in ("chromium", "chromedriver"):
        if shutil.which(binary) is None:
            return f"{binary} is not installed (apt-get install chromium chromium-driver; see scripts/ci_http.sh)"
    return None


class WebDriverError(AssertionError):
    pass


class Browser:
    """One chromium session."""

    def __init__(self, http: httpx.AsyncClient, session_id: str) -> None:
        self.http = http
        self.base = f"/session/{session_id}"

    async def command(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = await self.http.request(method, self.base + path, json=payload if method == "POST" else None)
        if not response.content:
            raise WebDriverError(f"{method} {path}: empty answer ({response.status_code})")
        body = response.json()
        if response.status_code != 200:
            raise WebDriverError(f"{method} {path}: {body.get('value')}")
        return body["value"]

    async def get(self, url: str) -> None:
        await self.command("POST", "/url", {"url": url})

    async def find(self, css: str | None = None, *, xpath: str | None = None) -> str:
        """The element matching `css` (or `xpath`), waiting for it up to the implicit timeout."""
        using, value = ("xpath", xpath) if xpath else ("css selector", css)
        found = await self.command("POST", "/element", {"using": using, "value": value})
        return found[ELEMENT]

    async def click(self, element: str) -> None:
        await self.command("POST", f"/element/{element}/click", {})

    async def keys(self, text: str, *, modifier: str | None = None) -> None:
        """Types `text` into the focused element, as key presses (editors such as Monaco
        hide their textarea, so element "send keys" cannot reach them). With `modifier`
        (e.g. CONTROL) held down throughout."""
        actions: list[dict[str, str]] = []
        if modifier:
            actions.append({"type": "keyDown", "value": modifier})
        for char in text:
            actions += [{"type": "keyDown", "value": char}, {"type": "keyUp", "value": char}]
        if modifier:
            actions.append({"type": "keyUp", "value": modifier})
        await self.command("POST", "/actions", {"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})
        await self.command("DELETE", "/actions")

    async def text(self, element: str) -> str:
        return await self.command("GET", f"/element/{element}/text")

    async def script(self, source: str, *args: Any) -> Any:
        return await self.command("POST", "/execute/sync", {"script": source, "args": list(args)})

    async def script_async(self, source: str, *args: Any) -> Any:
        """Runs `source` with a callback as its last argument; returns what it is called with."""
        return await self.command("POST", "/execute/async", {"script": source, "args": list(args)})

    async def console(self) -> list[dict[str, Any]]:
        """Browser console entries since the last call (chromedriver's log extension)."""
        return await self.command("POST", "/se/log", {"type": "browser"})

    async def wait_for_text(self, css: str, wanted: str, *, timeout: float = 20) -> str:
        """The text of `css` once it contains `wanted` (a MutationObserver in the page
        reports it); fails after `timeout` seconds with the text shown then."""
        await self.command("POST", "/timeouts", {"script": int(timeout * 1000)})
        try:
            return await self.script_async(
                """
                const [css, wanted, done] = arguments;
                const observer = new MutationObserver(() => check());
                function check() {
                  const element = document.querySelector(css);
                  if (element && element.innerText.includes(wanted)) {
                    observer.disconnect();
                    done(element.innerText);
                    return true;
                  }
                  return false;
                }
                if (!check()) observer.observe(document.body, {subtree: true, childList: true, characterData: true});
                """,
                css,
                wanted,
            )
        except WebDriverError as error:
            if "timeout" not in str(error):
                raise
            shown = await self.script("const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", css)
            raise WebDriverError(f"{css} never showed {wanted!r} within {timeout} s; it shows {shown!r}") from None




@contextlib.asynccontextmanager
async def chromium(*, implicit_wait_seconds: float = 20) -> AsyncIterator[Browser]:
    """A headless chromium session driven through a chromedriver of its own."""
    port = free_port()
    driver = await asyncio.create_subprocess_exec(
        shutil.which("chromedriver"),
        f"--port={port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            await asyncio.wait_for(_until_ready(http), timeout=20)
            capabilities = {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": shutil.which("chromium"),
                    "args": [*CHROMIUM_ARGS, f"--user-data-dir={profile.name}"],
                },
                "goog:loggingPrefs": {"browser": "ALL"},
            }
            response = await http.post("/session", json={"capabilities": {"alwaysMatch": capabilities}})
            if response.status_code != 200:
                raise WebDriverError(f"chromium did not start: {response.text}")
            browser = Browser(http, response.json()["value"]["sessionId"])
            await browser.command("POST", "/timeouts", {"implicit": int(implicit_wait_seconds * 1000)})
            try:
                yield browser
            finally:
                await http.delete(browser.base)
    finally:
        driver.terminate()
        await asyncio.wait_for(driver.wait(), timeout=10)
        profile.cleanup()


async def _until_ready(http: httpx.AsyncClient) -> None:
    # chromedriver opens its port a moment after it starts; there is no event to wait on.
    while True:
        try:
            response = await http.get("/status")
            if response.status_code == 200 and response.json()["value"].get("ready"):
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
