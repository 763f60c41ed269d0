"""The real app in a real browser: `postroom up` as users start it, driven by Playwright on Debian's chromium.

One live server per test session (the browser tests share the xdist group "browser", so one worker runs them all):
its own POSTROOM_HOME with SQLite, an aiosmtpd capture server as the outbound relay, routes for four queues and
the README's example mail imported through the pipeline.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from liveconsole import (
    EXAMPLES,
    QUEUES,
    REPO,
    START_TIMEOUT_S,
    VIEWPORT,
    LiveConsole,
    find_chromium,
    postroom_command,
    read_admin_login,
    wait_for_port,
)

from smtpcapture import CaptureServer, find_free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing browser test carries the tail of the live server's log (what the app said while it failed)."""
    report: pytest.TestReport = yield
    console = getattr(item, "funcargs", {}).get("live_console")
    if report.failed and isinstance(console, LiveConsole):
        report.sections.append(("postroom up log (tail)", console.log_tail()))
    return report


@pytest.fixture(scope="session")
def live_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    """GIVEN `postroom up` on free ports with routes for Support, Sales, Billing and HR and the examples imported."""
    home = tmp_path_factory.mktemp("browser-home")
    with CaptureServer() as outbox:
        console = LiveConsole(home=home, web_port=find_free_port(), smtp_port=find_free_port(), outbox=outbox)
        with console.log_path.open("wb") as log:
            console.process = subprocess.Popen(
                [*postroom_command(), "up", "--web-port", str(console.web_port), "--smtp-port", str(console.smtp_port)],
                env=console.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_port(console, timeout=START_TIMEOUT_S)
            console.username, console.password = read_admin_login(home)
            for address, queue in QUEUES:
                console.run("route", "add", address, queue)
            console.run("import", str(EXAMPLES))
            yield console
        finally:
            console.process.terminate()
            try:
                console.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                console.process.kill()
                console.process.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium under Playwright; skipped with the reason when either is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need playwright: pip install -e '.[test]'")
    executable = find_chromium()
    if executable is None:
        pytest.skip("browser tests need Debian's chromium: apt-get install chromium (scripts/test does it as root)")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # chromium's sandbox cannot start as root
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def signed_in_state(browser: Browser, live_console: LiveConsole) -> dict[str, Any]:
    """The admin's session cookie, from signing in once through the login form."""
    context = browser.new_context(base_url=live_console.base_url, viewport=VIEWPORT)
    page = context.new_page()
    page.goto("/login/")
    page.get_by_label("User name").fill(live_console.username)
    page.get_by_label("Password").fill(live_console.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_console.base_url}/")
    state = context.storage_state()
    context.close()
    return dict(state)


@pytest.fixture
def page(browser: Browser, live_console: LiveConsole, signed_in_state: dict[str, Any]) -> Iterator[Page]:
    """A fresh tab signed in as the admin; a JavaScript error on any page fails the test."""
    context = browser.new_context(base_url=live_console.base_url, viewport=VIEWPORT, storage_state=signed_in_state)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


@pytest.fixture
def anonymous_page(browser: Browser, live_console: LiveConsole) -> Iterator[Page]:
    context = browser.new_context(base_url=live_console.base_url, viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where full-page screenshots go: $POSTROOM_TEST_ARTIFACTS/screenshots, else test-artifacts/ in the repo."""
    folder = Path(os.environ.get("POSTROOM_TEST_ARTIFACTS") or REPO / "test-artifacts") / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
