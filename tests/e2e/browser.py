"""Driving Debian's Chromium through Playwright: a tab that records what went wrong in
the browser, signing in through the real form, and full-page screenshots.

Must not: download a browser (``playwright install`` is never needed: the browser is
``/usr/bin/chromium``), bypass the page's Content-Security-Policy, or hide a console
error from the test that caused it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Dialog, Page, Response, ViewportSize

from tests.e2e.demo import WebUser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-proxy-server"]
#: Where the screenshots of the main pages go (gitignored; ``make clean`` removes them).
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1366, "height": 900}
#: The screenshots this test session took.
SAVED: set[Path] = set()


@dataclass
class Tab:
    """A page plus everything the browser complained about or was asked to show."""

    page: Page
    errors: list[str] = field(default_factory=list)
    """Console errors (CSP violations are among them) and uncaught exceptions."""
    dialogs: list[str] = field(default_factory=list)
    """alert/confirm/prompt messages: a hostile banner that ran would show up here."""
    expected: set[int] = field(default_factory=set)
    """HTTP statuses the test provokes on purpose (Chromium logs each as an error)."""

    @classmethod
    def watch(cls, page: Page) -> Tab:
        tab = cls(page)
        page.on("console", tab._console)
        page.on("pageerror", lambda exc: tab.errors.append(f"uncaught: {exc}"))
        page.on("dialog", tab._dialog)
        page.on("response", tab._response)
        return tab

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url')})")

    def _response(self, response: Response) -> None:
        """Every dashboard page the tab loads, however it got there, has the CSP (a
        redirect has no content to protect)."""
        if (response.request.resource_type == "document" and "/ui/" in response.url
                and not 300 <= response.status < 400):
            try:
                check_csp(response)
            except AssertionError as exc:
                self.errors.append(f"{response.url}: {exc}")

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def open(self, path: str, *, status: int = 200) -> Response:
        """Go to ``path`` as a person would type it; the answer must be ``status`` and
        carry the dashboard's Content-Security-Policy."""
        response = self.page.goto(path)
        assert response is not None, path
        assert response.status == status, f"{path}: HTTP {response.status}"
        check_csp(response)
        return response

    def shot(self, name: str) -> Path:
        path = SHOTS / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        SAVED.add(path)
        return path

    def allow(self, status: int) -> None:
        """The test is about to provoke ``status``: not an error of the page."""
        self.expected.add(status)

    def assert_clean(self) -> None:
        errors = [e for e in self.errors
                  if not any(f"status of {s} (" in e for s in self.expected)]
        assert not errors, "the browser reported errors:\n" + "\n".join(errors)
        assert not self.dialogs, f"a dialog opened: {self.dialogs}"


def check_csp(response: Response) -> None:
    """Scripts and styles from this origin only: no inline script or style, ever."""
    csp = response.headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("script-src") == ["'self'"], csp
    assert directives.get("style-src") == ["'self'"], csp
    assert directives.get("default-src") == ["'none'"], csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp


def fill_sign_in(tab: Tab, user: WebUser, code: str) -> Response | None:
    """Type email, password and code into the sign-in page and submit it."""
    page = tab.page
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_label("Authenticator code").fill(code)
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Sign in").click()
    return nav.value


def csrf_of(tab: Tab) -> str:
    """This session's CSRF token, from the sign-out form every signed-in page has."""
    value = tab.page.locator("form[action='/ui/logout'] input[name=csrf]").get_attribute("value")
    assert value, "no CSRF token on the page"
    return value


def forge_post(tab: Tab, action: str, fields: dict[str, str]) -> Response:
    """Post a form the page never offered, as someone with the browser's developer tools
    would: from this tab, with its cookies and whatever fields they choose."""
    with tab.page.expect_navigation() as nav:
        tab.page.evaluate(
            """([action, fields]) => {
                const form = document.createElement("form");
                form.method = "post";
                form.action = action;
                for (const [name, value] of Object.entries(fields)) {
                    const input = document.createElement("input");
                    input.type = "hidden";
                    input.name = name;
                    input.value = value;
                    form.appendChild(input);
                }
                document.body.appendChild(form);
                form.submit();
            }""", [action, fields])
    return nav.value
