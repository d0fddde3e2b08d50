"""Fixtures of the browser tests: one demo (with its lab) and one Chromium per module,
and signed-in tabs per role.

Signing in costs a TOTP step (each code is good once per user), so each role signs in
through the form once and later tabs reuse its cookies (Playwright's storage state).
Without Chromium the tests skip locally and fail in CI (``make test`` installs it).

Must not: start a second demo in the same module, or sign in more often than the
server's replay protection allows (``WebUser.next_code`` waits when it must).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.browser import ARGS, CHROMIUM, SAVED, SHOTS, VIEWPORT, Tab, fill_sign_in
from tests.e2e.demo import Demo, Scanned, running_demo, scan_some_of_the_lab


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if not os.access(CHROMIUM, os.X_OK):
        why = (f"{CHROMIUM} is missing: `make test` installs Debian's chromium when run "
               "as root (scripts/browser-deps.sh)")
        if _in_ci():
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    shutil.rmtree(SHOTS, ignore_errors=True)  # this run's screenshots only
    with running_demo(tmp_path_factory.mktemp("e2e-demo")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Headless Chromium, reaching the demo's loopback (one per xdist worker)."""
    folder = tmp_path_factory.mktemp("chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=demo.chromium_command(str(CHROMIUM), folder), args=ARGS,
            headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def _signed_in() -> dict[str, Path]:
    """Storage state (cookies) per role, filled on first use."""
    return {}


@pytest.fixture(scope="module")
def scanned(demo: Demo) -> Scanned:
    """A hostile and two unregistered lab devices, just seen by a discovery scan."""
    return scan_some_of_the_lab(demo)


@pytest.fixture
def tab(demo: Demo, browser: Browser, _signed_in: dict[str, Path],
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str | None], Tab]]:
    """``tab(role)``: a new browser tab signed in as that role (None: signed out)."""
    contexts = []

    def open_tab(role: str | None) -> Tab:
        state = _signed_in.get(role) if role else None
        context = browser.new_context(base_url=demo.url, viewport=VIEWPORT,
                                      storage_state=state)
        context.set_default_timeout(20_000)
        contexts.append(context)
        new = Tab.watch(context.new_page())
        if role and state is None:
            user = demo.users[role]
            new.open("/ui/login")
            response = fill_sign_in(new, user, user.next_code())
            assert response is not None and response.url.endswith("/ui/"), (
                f"{role} could not sign in: {new.page.inner_text('main')}")
            path = tmp_path_factory.mktemp("state") / f"{role}.json"
            context.storage_state(path=str(path))
            _signed_in[role] = path
        return new

    yield open_tab
    for context in contexts:
        context.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the screenshots went (without xdist; ``make test`` says it itself)."""
    if SAVED:
        terminalreporter.write_line(f"browser test screenshots: {len(SAVED)} in {SHOTS}")
