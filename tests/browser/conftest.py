"""Headless Chromium for the browser tests: Debian's `chromium` driven by Playwright.

Playwright's own browser download cannot work here (no internet), so it launches the
system binary. Every page is watched: a console error, an uncaught exception, a failed
request, a 5xx, or a request to any origin but the stack's (a CDN, say) fails the test. One 404 is an answer, not a
failure: a job page asks for the job's error surface, which is not there until someone requests it.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, expect, sync_playwright

from tests.stack import IN_CI, ROOT, Stack

ARTIFACTS = ROOT / "tests" / "artifacts"
# generous: the machine is shared with other test runs
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Per test, not per session: Playwright's sync API keeps an asyncio loop running in the main
# thread while it is open, and every later test that calls asyncio.run() would fail.
@pytest.fixture
def chromium() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        message = "Debian's chromium is not installed: `make install` installs it (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# GET /v1/jobs/{id}/landscape answers 404 `landscape_not_found` until an error surface is requested,
# and the job page asks on load to show one that exists. Chromium logs any 4xx fetch as a console
# error; for this URL it is let through once the response has said exactly that.
LANDSCAPE_URL = re.compile(r"/v1/jobs/[^/?#]+/landscape$")
NOT_FOUND_LOG = "Failed to load resource: the server responded with a status of 404"


@dataclass
class WatchedPage:
    page: Page
    origin: str
    problems: list[str] = field(default_factory=list)
    # requests a test breaks on purpose (Page.route … abort()): their failure is the point
    broken: list[re.Pattern[str]] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if message.text.startswith(NOT_FOUND_LOG) and LANDSCAPE_URL.search(url):
            return  # on_response checks what that 404 said
        if any(pattern.search(url) for pattern in self.broken):
            return
        self.problems.append(f"console error: {message.text} at {message.location}")

    def on_request(self, request: Request) -> None:
        if not request.url.startswith((self.origin + "/", "data:", "blob:")):
            self.problems.append(f"request outside the app: {request.url}")

    def on_request_failed(self, request: Request) -> None:
        if any(pattern.search(request.url) for pattern in self.broken):
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def on_response(self, response: Response) -> None:
        if response.status >= 500:
            self.problems.append(f"{response.status} from {response.request.method} {response.url}")
        elif response.status == 404 and LANDSCAPE_URL.search(response.url):
            # read now: a body is gone once the page navigates
            code = response.json().get("error", {}).get("code")
            if response.request.method != "GET" or code != "landscape_not_found":
                self.problems.append(f"404 {code} from {response.request.method} {response.url}")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_clean(self) -> None:
        assert not self.problems, "the page had problems:\n" + "\n".join(self.problems)


@pytest.fixture
def alice(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(stack.keys["alice"]) as client:
        yield client


@pytest.fixture
def watched(chromium: Browser, stack: Stack) -> Iterator[WatchedPage]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watched = WatchedPage(page, stack.base_url)
    page.on("console", watched.on_console)
    page.on("pageerror", lambda error: watched.problems.append(f"uncaught: {error}"))
    page.on("request", watched.on_request)
    page.on("requestfailed", watched.on_request_failed)
    page.on("response", watched.on_response)
    try:
        yield watched
    finally:
        context.close()
