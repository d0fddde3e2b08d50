"""HTTP(S) identification: one ``GET /`` for the Server header, title and login kind.

The request carries a Host header and ``Connection: close``; the answer is read up to
a head and body limit. The page title, the ``WWW-Authenticate`` scheme and realm
(``http.auth`` basic/digest, or ``form`` when the page holds a password field) and
the Server header become fields. One redirect is followed when it stays on the same
host and port. The head parser is shared with RTSP, which frames messages the same way.

Must not: send credentials, follow a redirect to another host or port, or read more
than ``HEAD_BYTES`` + ``BODY_BYTES``.
"""

from __future__ import annotations

import html
import re
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.net import Dialer, Stream
from fleetwarden.adapters.discovery.active.products import from_server_header
from fleetwarden.domain.discovery import Field

HEAD_BYTES = 16 * 1024
BODY_BYTES = 64 * 1024
USER_AGENT = "fleetwarden-discovery"

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_PASSWORD_FIELD = re.compile(rb"""type\s*=\s*["']?password""", re.IGNORECASE)
_REALM = re.compile(r'realm\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))', re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed response: status line, headers in order (lower-case names), body."""

    status_line: str
    status: int | None
    headers: tuple[tuple[str, str], ...]
    body: bytes
    head_text: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


def message_complete(data: bytes, *, body_needs_length: bool = False) -> bool:
    """Whether a response is whole: its head and, when announced, all of its body.

    Without Content-Length an HTTP body runs to EOF (we ask for ``Connection: close``);
    an RTSP message (``body_needs_length``) then has no body at all.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) >= HEAD_BYTES
    length = re.search(rb"\r\ncontent-length:\s*(\d{1,9})", data[:end], re.IGNORECASE)
    if length is None:
        return body_needs_length
    return len(data) - end - 4 >= min(int(length.group(1)), BODY_BYTES)


def parse_message(data: bytes, protocol: bytes) -> Message | None:
    """The response if ``data`` starts like one of ``protocol`` (b"HTTP", b"RTSP")."""
    if not data.startswith(protocol + b"/"):
        return None
    head, blank, body = data.partition(b"\r\n\r\n")
    if not blank and b"\n\n" in data:  # some embedded servers end lines with LF only
        head, blank, body = data.partition(b"\n\n")
    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
    status_line = lines[0].strip()
    parts = status_line.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    headers = []
    for line in lines[1:200]:
        name, colon, value = line.partition(":")
        if colon and name.strip():
            headers.append((name.strip().lower(), _utf8(value.strip())))
    return Message(status_line, status, tuple(headers), body[:BODY_BYTES],
                   _utf8("\n".join(lines)))


def _utf8(text: str) -> str:
    """Header text was decoded as latin-1 for parsing; most devices meant UTF-8."""
    return text.encode("latin-1").decode("utf-8", "replace")


def challenge(values: list[str]) -> tuple[str | None, str | None]:
    """(scheme, realm) of the first WWW-Authenticate challenge."""
    for value in values:
        scheme = value.strip().split(" ", 1)[0].strip().lower()
        if not scheme:
            continue
        found = _REALM.search(value)
        realm = None
        if found:
            realm = found.group(1) if found.group(1) is not None else found.group(2)
            realm = re.sub(r"\\(.)", r"\1", realm)
        return scheme, realm
    return None, None


def request(method: str, target: str, protocol: str = "HTTP/1.1",
            extra: tuple[str, ...] = ()) -> bytes:
    lines = [f"{method} {target} {protocol}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


async def exchange(stream: Stream, data: bytes, protocol: bytes, timeout: float
                   ) -> Message | None:
    """Send one request, read one bounded response."""
    stream.send(data)
    rtsp = protocol == b"RTSP"
    raw = await stream.read_until_quiet(
        HEAD_BYTES + BODY_BYTES, first=timeout, gap=timeout, total=timeout * 2,
        done=lambda data: message_complete(data, body_needs_length=rtsp))
    return parse_message(raw, protocol)


async def get(stream: Stream, host: str, path: str, timeout: float) -> Message | None:
    data = request("GET", path, extra=(
        f"Host: {host}", f"User-Agent: {USER_AGENT}", "Accept: */*", "Connection: close"))
    return await exchange(stream, data, b"HTTP", timeout)


def same_place_redirect(response: Message, port: int, ip: str) -> str | None:
    """The path of a redirect that stays on this host and port, else None."""
    if response.status not in (301, 302, 303, 307, 308):
        return None
    location = (response.header("location") or "").strip()
    if not location:
        return None
    try:
        split = urlsplit(location)
        target_port = split.port
    except ValueError:
        return None
    elsewhere = split.hostname != ip or (target_port is not None and target_port != port)
    if (split.scheme or split.netloc) and elsewhere:
        return None
    path = split.path or "/"
    if not path.startswith("/") or len(path) > 512:
        return None
    return path + (f"?{split.query}" if split.query else "")


def record(response: Message, draft: Draft) -> None:
    """Fill the draft's HTTP fields from a response."""
    server = response.header("server")
    draft.put(Field.HTTP_SERVER, server)
    draft.set_product(*from_server_header(server))
    if draft.banner is None:
        draft.set_banner(response.head_text)
    title = _TITLE.search(response.body)
    if title:
        text = html.unescape(title.group(1).decode("utf-8", "replace"))
        draft.put(Field.HTTP_TITLE, _SPACES.sub(" ", text))
    scheme, realm = challenge(response.all("www-authenticate"))
    if scheme:
        draft.put(Field.HTTP_AUTH, scheme)
        draft.put(Field.HTTP_REALM, realm)
    elif _PASSWORD_FIELD.search(response.body):
        draft.put(Field.HTTP_AUTH, "form")


async def identify(stream: Stream, dialer: Dialer, draft: Draft,
                   tls: ssl.SSLContext | None = None) -> bool:
    """GET / on an open stream (plain or TLS); True when the answer was HTTP."""
    port = draft.port
    host = dialer.ip if port in (80, 443) else f"{dialer.ip}:{port}"
    response = await get(stream, host, "/", dialer.read_timeout)
    if response is None:
        return False
    record(response, draft)
    path = same_place_redirect(response, port, dialer.ip)
    if path is not None and Field.HTTP_TITLE not in draft.fields:
        async with dialer.stream(port, tls=tls) as again:
            followed = await get(again, host, path, dialer.read_timeout) if again else None
        if followed is not None:
            record(followed, draft)
    return True
