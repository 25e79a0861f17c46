"""Browser fixtures: one real ``citybrain serve`` with the demo cameras per module, users made
with the command line, and Playwright (PyPI) driving Debian's Chromium headless; never a
downloaded browser. Every page is watched: a request to any host other than the server's is
aborted and counted, and the test fails on it, as it does on a script error or a CSP refusal."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from e2e.serving import PASSWORD, ServerProcess

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
#: Where the tests leave a screenshot of every page (README: "Console screenshots").
SCREENSHOTS = Path(os.environ.get("CITYBRAIN_SCREENSHOTS") or ROOT / "out" / "console-screenshots")
SIZES = {"1280x720": (1280, 720), "3840x2160": (3840, 2160)}
USERS = {"ada": "admin", "sam": "supervisor", "opa": "operator", "aud": "auditor"}

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")


@dataclass
class Watched:
    """A signed-in page and what it asked for."""

    page: Any
    server: ServerProcess
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def paths(self, fragment: str) -> list[str]:
        return [url for url in self.requests if fragment in url]

    def go(self, hash_: str, heading: str) -> None:
        self.page.goto(f"{self.server.url}/#/{hash_}")
        self.page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=60_000)

    def until(self, expression: str, timeout: float = 30.0) -> None:
        """Wait until a JavaScript expression is true. (Playwright's wait_for_function evaluates
        strings inside the page, which the console's CSP rightly forbids; evaluate() does not.)"""
        deadline = time.monotonic() + timeout
        while not self.page.evaluate(f"() => Boolean({expression})"):
            assert time.monotonic() < deadline, f"not true in {timeout} s: {expression}"
            self.page.wait_for_timeout(200)

    def shoot(self, name: str) -> None:
        """Screenshots of the current page at the laptop's and the wall's size."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for size, (width, height) in SIZES.items():
            self.page.set_viewport_size({"width": width, "height": height})
            self.page.wait_for_timeout(600)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"))
        self.page.set_viewport_size({"width": 1280, "height": 720})


@pytest.fixture(scope="module")
def console_server(
    samples_dir: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """``citybrain serve`` with a looping demo camera per development clip."""
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} missing: scripts/install --test installs Debian's chromium")
    folder = tmp_path_factory.mktemp("console")
    config = folder / "server.yaml"
    config.write_text("demo: true\nlive_fps: 2\nworkers: 1\ndetector_threads: 1\n")
    env = dict(os.environ)
    env.pop("CITYBRAIN_DATA", None)
    env.update(
        CITYBRAIN_SAMPLES=str(samples_dir), CITYBRAIN_MODEL_DIR=str(model_dir), OMP_NUM_THREADS="1"
    )
    server = ServerProcess(folder / "data", env, config=config)
    server.start(timeout=120)
    for name, role in USERS.items():
        server.add_user(name, role)
    server.add_user("olu", "operator", cameras="demo-lobby")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(console_server: ServerProcess) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@pytest.fixture
def sign_in(browser: Any, console_server: ServerProcess) -> Iterator[Any]:
    """``sign_in(user)`` opens the console, signs in through its form, returns a Watched page."""
    opened: list[tuple[Any, Watched]] = []
    own = urlsplit(console_server.url).netloc

    def open_as(username: str) -> Watched:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        watched = Watched(page=page, server=console_server)

        def route(request_route: Any) -> None:
            url = request_route.request.url
            host = urlsplit(url).netloc
            if urlsplit(url).scheme in ("data", "blob") or host == own:
                watched.requests.append(url)
                request_route.continue_()
            else:
                watched.foreign.append(url)
                request_route.abort()

        context.route("**/*", route)
        page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                watched.problems.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        page.goto(console_server.url + "/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("navigation", name="Main").wait_for()
        opened.append((context, watched))
        return watched

    yield open_as
    for context, watched in opened:
        context.close()
        assert watched.foreign == [], f"requests to other hosts: {watched.foreign}"
        assert watched.problems == [], f"page problems: {watched.problems}"
