"""Fixtures of the browser tests: a server process, Debian's chromium, a fresh page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import CHROMIUM_FLAGS, ServerProcess
from tests.conftest import CHROMIUM


@pytest.fixture
def start_server(
    transactional_db: None, tmp_path: Path
) -> Iterator[Callable[..., ServerProcess]]:
    """Start a server process with extra environment; it is killed after the test."""
    started: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        server = ServerProcess(tmp_path / f"server{len(started)}.log", **env)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Chromium for one module: Playwright's sync API keeps an asyncio loop on this
    thread while it runs, which the tests after the browser tests must not inherit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context and page; an uncaught JavaScript error fails the test."""
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


@pytest.fixture(autouse=True)
def _orm_between_browser_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API keeps an asyncio loop on this thread; the ORM calls the tests
    # make between two browser calls are synchronous all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
