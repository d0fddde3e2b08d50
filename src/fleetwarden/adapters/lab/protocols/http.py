"""The web interface of a lab device (HTTP and HTTPS) and its UPnP device description.

A small hand-written HTTP/1.1 server: it parses a bounded request, answers like the
device's web UI (Basic, Digest or form login against ``device.accepts``, a login page,
robots.txt, 404s) and keeps the connection alive for a few requests. The runtime has
already done TLS for HTTPS. The request reader, header encoding and Digest check are
shared with the RTSP personality, which frames its messages the same way.

Persona text goes on the wire as the device would send it: the page title is inserted
raw on purpose (hostile banners are what the lab tests parsers with), but header values
lose CR/LF/NUL (``base.header_value``) so no persona can break the framing, and the UPnP
XML escapes everything so it stays well-formed. Client input that does not parse (a
target or Digest ``uri`` urlsplit refuses, Basic credentials that are not base64, a
Digest response that is not hex) is a 400 or a failed login, never a handler error.

Must not: trust any client-controlled size, serve files, run anything, lock accounts
out, or let persona text split a header or break the description XML.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape as html_escape
from urllib.parse import SplitResult, parse_qsl, urlsplit
from xml.sax.saxutils import escape as xml_escape

from fleetwarden.adapters.lab.protocols.base import (
    IDLE_TIMEOUT,
    LabContext,
    header_value,
    upnp_uuid,
    wire,
)
from fleetwarden.domain.lab import LabDevice, LabService, Service

#: Largest request line plus header block a device reads.
MAX_HEADER_BLOCK = 16 * 1024
MAX_HEADERS = 100
#: Largest request body a device reads (login forms are tiny).
MAX_BODY = 64 * 1024
#: Requests served on one kept-alive connection before the device closes it.
MAX_REQUESTS = 20
#: Digest nonces a device remembers, and for how long (seconds).
_NONCES_KEPT = 256
_NONCE_LIFETIME = 300.0
#: Form-login sessions a device remembers.
_SESSIONS_KEPT = 64

REASONS: Mapping[int, str] = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large",
    454: "Session Not Found", 455: "Method Not Valid in This State",
    461: "Unsupported Transport", 501: "Not Implemented", 505: "Version Not Supported",
}

_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")
_TARGET = re.compile(rb"[\x21-\x7e]{1,8192}")
_VERSION = re.compile(rb"[A-Z]{1,8}/\d\.\d")
#: Versions a device speaks, by protocol; another well-formed version gets a 505.
_SUPPORTED: Mapping[bytes, frozenset[bytes]] = {
    b"HTTP": frozenset({b"HTTP/1.1", b"HTTP/1.0"}), b"RTSP": frozenset({b"RTSP/1.0"})}
_HEADER_NAME = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
_AUTH_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)')
_NC = re.compile(r"[0-9a-fA-F]{8}")
#: An MD5 Digest response: anything else cannot be right, and is not compared.
_DIGEST_RESPONSE = re.compile(r"[0-9a-fA-F]{32}")
#: Characters XML 1.0 does not allow (controls, lone surrogates, U+FFFE/U+FFFF).
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DEFAULT_UPNP_TYPE = "urn:schemas-upnp-org:device:Basic:1"


# ----------------------------------------------------------------------- framing
class BadRequest(Exception):
    """A request the device refuses before routing it; the connection then closes."""

    def __init__(self, status: int = 400) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    version: str
    headers: Mapping[str, str]
    """Lower-case names; repeated headers joined with ", " as RFC 9110 allows."""
    body: bytes = b""

    @property
    def path(self) -> str:
        if self.target == "*":
            return "*"
        split = split_target(self.target)
        return (split.path if split else "") or "/"

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def wants_close(self) -> bool:
        """Whether the client asked to close after this request (HTTP/1.0 default)."""
        tokens = {t.strip().lower() for t in self.header("connection").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" not in tokens
        return "close" in tokens


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    reason: str = ""
    """Reason phrase when it differs from the usual one (RTSP's version error)."""


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None = None,
                       *, protocol: bytes = b"HTTP") -> Request | None:
    """The next request, None at EOF or idle timeout; raises BadRequest when malformed.

    The whole request (head and body) must arrive within ``IDLE_TIMEOUT``, so a client
    trickling bytes cannot hold a connection forever.
    """
    try:
        async with asyncio.timeout(IDLE_TIMEOUT):
            line = await _request_line(reader)
            if line is None:
                return None
            method, target, version = _parse_request_line(line, protocol)
            headers = _parse_headers(await _header_lines(reader, len(line)))
            request = Request(method, target, version, headers)
            body = await _read_body(reader, writer, request)
    except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
        return None
    return Request(method, target, version, headers, body)


async def _read_line(reader: asyncio.StreamReader) -> bytes | None:
    """One raw line with its ending; None at a clean EOF."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise BadRequest(400) from None
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest(400) from None
        return None


async def _request_line(reader: asyncio.StreamReader) -> bytes | None:
    """The request line, refused at the first byte that cannot belong to it, as real
    servers do: a scanner's binary probe gets its 400 instead of waiting for a newline."""
    for _ in range(2):  # one stray CRLF before a request is tolerated, not two
        method = await _method(reader)
        if method is None:
            return None
        if method:
            rest = await _read_line(reader)
            if rest is None:
                raise BadRequest(400)
            return method + rest
    raise BadRequest(400)


async def _method(reader: asyncio.StreamReader) -> bytes | None:
    """The method and its space, read byte by byte; b"" for a blank line, None at EOF."""
    method = b""
    while len(method) <= 32:
        try:
            byte = await reader.readexactly(1)
        except asyncio.IncompleteReadError:
            if method:
                raise BadRequest(400) from None
            return None
        if byte == b" " and method:
            return method + byte
        if byte in (b"\r", b"\n") and not method:
            if byte == b"\r" and await reader.readexactly(1) != b"\n":
                raise BadRequest(400)
            return b""
        if not _TOKEN.fullmatch(byte):
            raise BadRequest(400)
        method += byte
    raise BadRequest(400)


async def _header_lines(reader: asyncio.StreamReader, used: int) -> list[bytes]:
    """Header lines up to the blank line, bounded in total size and count."""
    lines: list[bytes] = []
    size = used
    while True:
        line = await _read_line(reader)
        if line is None:
            raise BadRequest(400)
        size += len(line)
        if size > MAX_HEADER_BLOCK:
            raise BadRequest(400)
        line = line.rstrip(b"\r\n")
        if not line:
            return lines
        lines.append(line)
        if len(lines) > MAX_HEADERS:
            raise BadRequest(400)


def _parse_request_line(line: bytes, protocol: bytes) -> tuple[str, str, str]:
    parts = line.rstrip(b"\r\n").split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _TARGET.fullmatch(parts[1]):
        raise BadRequest(400)
    if not _VERSION.fullmatch(parts[2]):
        raise BadRequest(400)
    if parts[2] not in _SUPPORTED[protocol]:
        raise BadRequest(505)
    target = parts[1].decode("ascii")
    if split_target(target) is None:
        raise BadRequest(400)  # e.g. ``//[``: routing would have to split it
    return parts[0].decode("ascii"), target, parts[2].decode("ascii")


def split_target(target: str) -> SplitResult | None:
    """``urlsplit`` of a request target or URI; None when it refuses (``http://[``)."""
    try:
        return urlsplit(target)
    except ValueError:
        return None


def _parse_headers(lines: list[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not _HEADER_NAME.fullmatch(name):
            raise BadRequest(400)  # also refuses obsolete line folding
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        if key in headers:
            if key == "content-length" and headers[key] != text:
                raise BadRequest(400)
            text = headers[key] if key == "content-length" else f"{headers[key]}, {text}"
        headers[key] = text
    return headers


async def _read_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None,
                     request: Request) -> bytes:
    if request.header("transfer-encoding"):
        raise BadRequest(411)  # embedded servers rarely take chunked uploads
    length = request.header("content-length")
    if not length:
        return b""
    if not length.isdigit() or len(length) > 9:
        raise BadRequest(400)
    size = int(length)
    if size > MAX_BODY:
        raise BadRequest(413)
    if size and writer is not None and request.header("expect").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise BadRequest(400) from None


def quoted(text: str) -> str:
    """A quoted-string (RFC 9110) holding ``text``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(version: str, response: Response, *, server: str, head: bool = False,
           first: Iterable[tuple[str, bytes]] = (),
           last: Iterable[tuple[str, bytes]] = ()) -> bytes:
    """The response bytes: status, ``first``, Date, Server, own headers, ``last``, body."""
    reason = response.reason or REASONS.get(response.status, "Unknown")
    out = [f"{version} {response.status} {reason}".encode("ascii")]
    out += [name.encode("ascii") + b": " + header_value(value) for name, value in first]
    out.append(b"Date: " + formatdate(usegmt=True).encode("ascii"))
    if server:
        out.append(b"Server: " + header_value(server))
    out += [name.encode("ascii") + b": " + header_value(value)
            for name, value in (*response.headers, *last)]
    head_bytes = b"\r\n".join(out) + b"\r\n\r\n"
    return head_bytes if head else head_bytes + response.body


# ------------------------------------------------------------------------ digest
@dataclass(frozen=True)
class DigestVerdict:
    user: str | None = None
    """The authenticated user name; None when the request is not authenticated."""
    stale: bool = False


@dataclass
class DigestAuth:
    """RFC 7616/2617 Digest (MD5) for one realm, remembering the nonces it issued."""

    realm: str
    qop: bool = True
    """Offer and require qop=auth (HTTP); off, the legacy RFC 2069 form (RTSP cameras)."""
    opaque: str = field(default_factory=lambda: secrets.token_hex(16))
    nonces: OrderedDict[str, float] = field(default_factory=OrderedDict)

    def challenge(self, *, stale: bool = False) -> bytes:
        nonce = secrets.token_hex(16)
        self.nonces[nonce] = time.monotonic()
        while len(self.nonces) > _NONCES_KEPT:
            self.nonces.popitem(last=False)
        parts = [f"Digest realm={quoted(self.realm)}"]
        if self.qop:
            parts.append('qop="auth"')
        parts.append(f'nonce="{nonce}"')
        if self.qop:
            parts += [f'opaque="{self.opaque}"', "algorithm=MD5"]
        parts.append(f'stale="{"TRUE" if stale else "FALSE"}"')
        return header_value(", ".join(parts))

    def check(self, request: Request, authorization: str,
              accepts: Callable[[str, str], bool], passwords: Iterable[str]) -> DigestVerdict:
        """Who logged in; a right answer to a nonce we no longer hold is only "stale"."""
        params = parse_auth_params(authorization, "digest")
        if params is None or not self._well_formed(params, request):
            return DigestVerdict()
        user = params["username"].encode("latin-1").decode("utf-8", "replace")
        answer = params["response"].lower().encode("ascii")  # hex: checked in _well_formed
        if not any(accepts(user, p)
                   and hmac.compare_digest(
                       self._response(params, request.method, p).encode("ascii"), answer)
                   for p in passwords):
            return DigestVerdict()
        if not self._fresh(params["nonce"]):
            return DigestVerdict(stale=True)
        return DigestVerdict(user=user)

    def _well_formed(self, params: Mapping[str, str], request: Request) -> bool:
        required = {"username", "realm", "nonce", "uri", "response"}
        if not required <= params.keys() or not _DIGEST_RESPONSE.fullmatch(params["response"]):
            return False
        if params["realm"].encode("latin-1") != header_value(self.realm):
            return False  # the realm as the client saw it on the wire
        if params.get("algorithm", "MD5").upper() != "MD5":
            return False
        if "opaque" in params and params["opaque"] != self.opaque:
            return False
        if not _same_resource(params["uri"], request.target):
            return False
        qop = params.get("qop")
        if qop is None:
            return not self.qop
        return qop == "auth" and bool(_NC.fullmatch(params.get("nc", ""))) and bool(
            params.get("cnonce"))

    def _fresh(self, nonce: str) -> bool:
        issued = self.nonces.get(nonce)
        return issued is not None and time.monotonic() - issued < _NONCE_LIFETIME

    def _response(self, params: Mapping[str, str], method: str, password: str) -> str:
        """The expected response; header text is latin-1 here, so it hashes as sent."""
        secret = wire(password)
        ha1 = _md5(f"{params['username']}:{params['realm']}:".encode("latin-1") + secret)
        ha2 = _md5(f"{method}:{params['uri']}".encode("latin-1"))
        if "qop" in params:
            return _md5(f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:"
                        f"{params['qop']}:{ha2}".encode("latin-1"))
        return _md5(f"{ha1}:{params['nonce']}:{ha2}".encode("latin-1"))


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _same_resource(uri: str, target: str) -> bool:
    """Digest ``uri`` names the request target (clients send it absolute or as a path);
    a ``uri`` that does not even split names nothing."""
    if uri == target:
        return True
    mine, theirs = split_target(target), split_target(uri)
    if mine is None or theirs is None:
        return False
    return (mine.path or "/", mine.query) == (theirs.path or "/", theirs.query)


def parse_auth_params(authorization: str, scheme: str) -> dict[str, str] | None:
    """The auth-params of an Authorization header of ``scheme``; None for another scheme."""
    name, _, rest = authorization.strip().partition(" ")
    if name.lower() != scheme:
        return None
    params = {}
    for key, value in _AUTH_PARAM.findall(rest):
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[key.lower()] = value
    return params


def candidate_passwords(device: LabDevice) -> list[str]:
    """Every password the device could accept; ``device.accepts`` decides per user."""
    found = [c.password for c in device.credentials]
    if device.secret:
        found.append(device.secret)
    return list(dict.fromkeys(found))


# -------------------------------------------------------------------- serving loop
async def serve_requests(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                         server: str, route: Callable[[Request], Response]) -> None:
    """Read, route and answer up to ``MAX_REQUESTS`` requests on one connection."""
    for count in range(1, MAX_REQUESTS + 1):
        try:
            request = await read_request(reader, writer)
        except BadRequest as exc:
            refusal = _error_page(exc.status)
            writer.write(render("HTTP/1.1", refusal, server=server,
                                last=_framing(refusal, keep_alive=False)))
            return
        if request is None:
            return
        response = route(request)
        keep_alive = not (request.wants_close() or count == MAX_REQUESTS)
        writer.write(render("HTTP/1.1", response, server=server,
                            head=request.method == "HEAD",
                            last=_framing(response, keep_alive=keep_alive)))
        await writer.drain()
        if not keep_alive:
            return


def _framing(response: Response, *, keep_alive: bool) -> list[tuple[str, bytes]]:
    return [("Content-Type", response.content_type.encode("ascii")),
            ("Content-Length", str(len(response.body)).encode("ascii")),
            ("Connection", b"keep-alive" if keep_alive else b"close")]


# -------------------------------------------------------------------------- pages
def _page(title: bytes, body: str) -> bytes:
    """An HTML page; ``title`` is persona bytes, inserted raw like a real device would."""
    return (b'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>' + title
            + b"</title></head>\n<body>\n" + body.encode("utf-8") + b"\n</body></html>\n")


def _error_page(status: int, headers: list[tuple[str, bytes]] | None = None) -> Response:
    text = f"{status} {REASONS.get(status, 'Error')}"
    return Response(status, _page(text.encode("ascii"), f"<h1>{text}</h1>"),
                    headers=headers or [])


def _title(device: LabDevice) -> bytes:
    return wire(device.persona.get("http_title", f"{device.vendor} {device.model}"))


_ROBOTS = b"User-agent: *\nDisallow: /\n"
_METHODS = ("GET", "HEAD", "POST")
_REFUSED = {"PUT", "DELETE", "PATCH", "TRACE", "CONNECT"}


@dataclass
class _WebUi:
    """One device's web interface on one service: who may log in and how."""

    device: LabDevice
    service: Service
    digest: DigestAuth
    sessions: OrderedDict[str, str]

    @property
    def persona(self) -> Mapping[str, str]:
        return self.device.persona

    @property
    def mode(self) -> str:
        return self.persona.get("http_auth", "form")

    @property
    def realm(self) -> str:
        return self.persona.get("http_realm", self.device.model)

    @property
    def login_path(self) -> str:
        return self.persona.get("http_login_path", "/login.html")

    def route(self, request: Request) -> Response:
        if request.method not in _METHODS:
            return self._other_method(request)
        if request.path == "/robots.txt":
            return Response(200, _ROBOTS, "text/plain")
        if request.path == "/favicon.ico":
            return _error_page(404)
        if self.mode == "basic":
            return self._basic(request)
        if self.mode == "digest":
            return self._digest(request)
        return self._form(request)

    def _other_method(self, request: Request) -> Response:
        allow = [("Allow", ", ".join((*_METHODS, "OPTIONS")).encode("ascii"))]
        if request.method == "OPTIONS":
            return Response(200, b"", "text/plain", headers=allow)
        return _error_page(405 if request.method in _REFUSED else 501, allow)

    # ---- Basic and Digest: every page but robots.txt needs credentials
    def _basic(self, request: Request) -> Response:
        user = self._basic_user(request.header("authorization"))
        if user is None:
            challenge = header_value(f"Basic realm={quoted(self.realm)}")
            return self._unauthorized([("WWW-Authenticate", challenge)])
        return self._protected(request, user)

    def _basic_user(self, authorization: str) -> str | None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:  # binascii.Error, non-ASCII text and bad UTF-8 are all ValueErrors
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except ValueError:
            return None
        user, colon, password = decoded.partition(":")
        if colon and self.device.accepts(self.service, user, password):
            return user
        return None

    def _digest(self, request: Request) -> Response:
        verdict = self.digest.check(
            request, request.header("authorization"),
            lambda user, password: self.device.accepts(self.service, user, password),
            candidate_passwords(self.device))
        if verdict.user is not None:
            return self._protected(request, verdict.user)
        challenge = self.digest.challenge(stale=verdict.stale)
        return self._unauthorized([("WWW-Authenticate", challenge)])

    def _unauthorized(self, headers: list[tuple[str, bytes]]) -> Response:
        body = _page(_title(self.device), "<h1>401 Unauthorized</h1>\n"
                     "<p>Authorization required to access this device.</p>")
        return Response(401, body, headers=headers)

    def _protected(self, request: Request, user: str) -> Response:
        if request.path in ("/", "/index.html", "/index.htm", self._post_path):
            return self._home(user)
        return _error_page(404)

    def _home(self, user: str, headers: list[tuple[str, bytes]] | None = None) -> Response:
        device = self.device
        body = (f"<h1>Device status</h1>\n<p>Logged in as {html_escape(user)}.</p>\n"
                f"<table><tr><td>Model</td><td>{html_escape(device.model)}</td></tr>\n"
                f"<tr><td>Firmware</td><td>{html_escape(device.firmware_version)}</td></tr>\n"
                f"<tr><td>Serial number</td><td>{html_escape(device.serial)}</td></tr></table>")
        return Response(200, _page(_title(device), body), headers=headers or [])

    # ---- form login: a login page, a POST target and a session cookie
    @property
    def _post_path(self) -> str:
        split = split_target(self.login_path)
        return (split.path if split else "") or "/"

    def _form(self, request: Request) -> Response:
        if request.method == "POST" and request.path == self._post_path:
            return self._login(request)
        if request.path not in ("/", "/index.html", "/index.htm", self._post_path):
            return _error_page(404)
        user = self._session_user(request.header("cookie"))
        if user is not None:
            return self._home(user)
        return self._login_page()

    def _login_page(self, failed: bool = False, status: int = 200) -> Response:
        notice = '<p class="error">Invalid user name or password</p>\n' if failed else ""
        action = html_escape(self.login_path, quote=True)
        body = (f"{notice}<form method=\"post\" action=\"{action}\">\n"
                '<label>User name <input type="text" name="username"></label>\n'
                '<label>Password <input type="password" name="password"></label>\n'
                '<input type="submit" value="Login">\n</form>')
        return Response(status, _page(_title(self.device), body))

    def _login(self, request: Request) -> Response:
        """A session cookie, or a 403 page (a 401 would need a challenge); no lockout."""
        fields = _form_fields(request)
        user = fields.get("username", fields.get("user", ""))
        password = fields.get("password", fields.get("pass", fields.get("pwd", "")))
        if fields and self.device.accepts(self.service, user, password):
            token = secrets.token_hex(16)
            self.sessions[token] = user
            while len(self.sessions) > _SESSIONS_KEPT:
                self.sessions.popitem(last=False)
            cookie = f"session={token}; Path=/; HttpOnly".encode("ascii")
            return self._home(user, [("Set-Cookie", cookie)])
        return self._login_page(failed=True, status=403)

    def _session_user(self, cookie: str) -> str | None:
        for part in cookie.split(";"):
            name, _, value = part.strip().partition("=")
            if name == "session" and value in self.sessions:
                return self.sessions[value]
        return None


def _form_fields(request: Request) -> dict[str, str]:
    """The url-encoded form of a POST; empty when it is something else or too big."""
    kind = request.header("content-type").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return {}
    try:
        pairs = parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True,
                          max_num_fields=32)
    except ValueError:
        return {}
    return dict(pairs)


async def serve_http(device: LabDevice, service: LabService, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, lab: LabContext) -> None:
    """The device's web UI on HTTP or HTTPS (the runtime already did TLS)."""
    realm = device.persona.get("http_realm", device.model)
    digest = lab.device_state(device, f"{service.service.value}-digest",
                              lambda: DigestAuth(realm))
    sessions = lab.device_state(device, "http-sessions", OrderedDict)
    ui = _WebUi(device, service.service, digest, sessions)
    await serve_requests(reader, writer, server=device.persona.get("http_server", ""),
                         route=ui.route)


# -------------------------------------------------------------------------- UPnP
_DESCRIPTION_PATHS = ("/description.xml", "/rootDesc.xml")


def _xml_text(value: str) -> str:
    """Text that is always well-formed XML, whatever bytes the persona holds."""
    return xml_escape(_XML_INVALID.sub("\ufffd", value))


def presentation_url(device: LabDevice) -> str | None:
    """The device's web UI address, preferring plain HTTP like most devices do."""
    for kind, scheme, default in ((Service.HTTP, "http", 80), (Service.HTTPS, "https", 443)):
        web = device.service(kind)
        if web is not None:
            port = "" if web.port == default else f":{web.port}"
            return f"{scheme}://{device.ip}{port}/"
    return None


def description_xml(device: LabDevice) -> bytes:
    """The UPnP device description (UDA 1.0) with the device's persona and truth."""
    persona = device.persona
    fields = [
        ("deviceType", persona.get("upnp_device_type", _DEFAULT_UPNP_TYPE)),
        ("friendlyName", persona.get("upnp_friendly_name", device.hostname)),
        ("manufacturer", persona.get("upnp_manufacturer", device.vendor)),
        ("modelDescription", f"{device.model} firmware {device.firmware_version}"),
        ("modelName", persona.get("upnp_model_name", device.model)),
        ("modelNumber", persona.get("upnp_model_number", device.model)),
        ("serialNumber", device.serial),
        ("firmwareVersion", device.firmware_version),
        ("UDN", f"uuid:{upnp_uuid(device)}"),
    ]
    url = presentation_url(device)
    if url is not None:
        fields.append(("presentationURL", url))
    inner = "".join(f"    <{name}>{_xml_text(value)}</{name}>\n" for name, value in fields)
    text = ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<root xmlns="urn:schemas-upnp-org:device-1-0">\n'
            "  <specVersion>\n    <major>1</major>\n    <minor>0</minor>\n  </specVersion>\n"
            f"  <device>\n{inner}  </device>\n</root>\n")
    return text.encode("utf-8")


def _upnp_route(device: LabDevice) -> Callable[[Request], Response]:
    def route(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _error_page(405, [("Allow", b"GET, HEAD")])
        if request.path in _DESCRIPTION_PATHS:
            return Response(200, description_xml(device), 'text/xml; charset="utf-8"')
        return _error_page(404)
    return route


async def serve_upnp(device: LabDevice, service: LabService, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, lab: LabContext) -> None:
    """The UPnP description server SSDP answers point at (LOCATION: .../description.xml)."""
    await serve_requests(reader, writer, server=device.persona.get("upnp_server", ""),
                         route=_upnp_route(device))
