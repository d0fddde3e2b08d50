"""Tries a few well-known public default credentials on a device's login services.

The list is data (``catalogues/credentials/iot-defaults.toml``): factory accounts that
vendors print in their manuals, and the Mirai botnet's table. For each host the caller
has authorised, every login service discovery saw is tried with at most
``max_attempts_per_service`` entries, the fingerprinted vendor's own first, then the
generic ones; one connection at a time per host, ``delay`` seconds between attempts, and
it stops at the first success. The default budget (3) stays below the lockout thresholds
embedded devices publish (typically 5 to 7 failures), so no account is locked out.

Login services: Telnet (IAC negotiation answered by refusing every option, ``login:``
then ``Password:``, success is a shell prompt), FTP (USER/PASS), SSH (asyncssh, password
authentication only, no host-key check, no agent or keys), HTTP Basic and Digest (RFC
7616: MD5, SHA-256 and their -sess forms, qop=auth) and form login (the page's own form
with its hidden fields; success is a 2xx/3xx without the password field, failure a
401/403 or the login page again), RTSP DESCRIBE with Digest or Basic, and MQTT 3.1.1
CONNECT with user name and password (CONNACK 0 accepted, 4/5 refused). Services that
share one login count once and are tried over TLS where they can be: HTTP and HTTPS
showing the same login, and a broker's MQTT and MQTTS ports.

Everything a device sends is untrusted: reads are bounded in bytes and time, a form may
only post to the same host and port, and a hostile or broken service is skipped with a
short reason; no exception escapes for a device.

Must not: send anything to a host the caller did not authorise (``authorised(ip)`` is
asked first, and a refusal means not a single packet), connect anywhere but the given
hosts' observed ports, exceed the attempt budget, run commands in a shell it got into
(it only says ``exit``), or keep or log a password: results and logs carry the account
name and the catalogue entry id.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import hashlib
import ipaddress
import logging
import re
import secrets
import ssl
import tomllib
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import asyncssh

import fleetwarden
from fleetwarden.adapters.discovery.active.banner import (
    BANNER_BYTES,
    banner_complete,
    strip_telnet,
)
from fleetwarden.adapters.discovery.active.http import (
    BODY_BYTES,
    HEAD_BYTES,
    Message,
    message_complete,
    parse_message,
    same_place_redirect,
)
from fleetwarden.adapters.discovery.active.mqtt import CONNACK, read_packet
from fleetwarden.adapters.discovery.active.net import Stream
from fleetwarden.adapters.discovery.active.tls import client_context
from fleetwarden.adapters.wire.mqtt import packet, string
from fleetwarden.domain.compliance.facts import CredentialAttempt, CredentialTest
from fleetwarden.domain.discovery import Field, ServiceObservation
from fleetwarden.domain.fingerprint import vendor_key
from fleetwarden.errors import InputError

log = logging.getLogger("fleetwarden.assess")

CATALOGUE = Path(fleetwarden.__file__).parent / "catalogues" / "credentials" / "iot-defaults.toml"
#: Services a catalogue entry may name (``http`` covers HTTPS, ``mqtt`` covers MQTTS).
SERVICES = ("telnet", "ftp", "ssh", "http", "rtsp", "mqtt")
USER_AGENT = "fleetwarden-assess"
#: Raw bytes one Telnet session may read before it is given up (hostile banners).
_TELNET_BYTES = 4 * BANNER_BYTES

Progress = Callable[[int, int], None]
_T = TypeVar("_T")


# ------------------------------------------------------------------- the catalogue
@dataclass(frozen=True, slots=True)
class DefaultCredential:
    id: str
    vendors: tuple[str, ...]
    """Canonical vendor names the default belongs to; empty for a generic default."""
    services: tuple[str, ...]
    """Logins it applies to, from ``SERVICES``."""
    username: str
    password: str = field(repr=False)
    source: str = ""
    """Where the default is publicly documented."""


_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
#: Printable ASCII: public defaults are, and nothing else is safe in every protocol.
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_KEYS = {"id", "vendors", "services", "username", "password", "source"}


def load_default_credentials(path: Path | None = None) -> tuple[DefaultCredential, ...]:
    """The catalogue (the built-in one unless ``path`` is given), checked entry by entry;
    ``InputError`` with a one-line reason when it is malformed."""
    if path is None:
        return _builtin()
    return _load(Path(path))


@cache
def _builtin() -> tuple[DefaultCredential, ...]:
    return _load(CATALOGUE)


def _load(path: Path) -> tuple[DefaultCredential, ...]:
    name = path.name
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise InputError(f"credential catalogue {name}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"credential catalogue {name}: {_one_line(exc)}") from None
    unknown = set(doc) - {"credential"}
    if unknown:
        raise InputError(f"credential catalogue {name}: unknown section {sorted(unknown)[0]!r}")
    entries = doc.get("credential", [])
    if not isinstance(entries, list) or not entries:
        raise InputError(f"credential catalogue {name}: no [[credential]] entries")
    out: list[DefaultCredential] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, 1):
        label = f"entry #{index}"
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            label = f"entry {entry['id']!r}"
        try:
            credential = _entry(entry)
        except ValueError as exc:
            raise InputError(f"credential catalogue {name}: {label}: {exc}") from None
        if credential.id in seen:
            raise InputError(f"credential catalogue {name}: {label}: duplicate id")
        seen.add(credential.id)
        out.append(credential)
    return tuple(out)


def _entry(entry: Any) -> DefaultCredential:
    if not isinstance(entry, dict):
        raise ValueError("not a table")
    missing = _KEYS - set(entry)
    if missing:
        raise ValueError(f"missing {sorted(missing)[0]!r}")
    extra = set(entry) - _KEYS
    if extra:
        raise ValueError(f"unknown key {sorted(extra)[0]!r}")
    ident, username, password, source = (entry[k] for k in ("id", "username", "password",
                                                              "source"))
    if not isinstance(ident, str) or not _ID.fullmatch(ident):
        raise ValueError("id must be 1-64 lower-case letters, digits, '.', '_' or '-'")
    if not isinstance(username, str) or not username or len(username) > 64 \
            or not _PRINTABLE.fullmatch(username) or ":" in username:
        raise ValueError("username must be 1-64 printable ASCII characters without ':'")
    if not isinstance(password, str) or len(password) > 128 \
            or not _PRINTABLE.fullmatch(password):
        raise ValueError("password must be at most 128 printable ASCII characters")
    if password and f"{username}-{password}".casefold() in ident.casefold():
        raise ValueError("id must not spell out the account (it is kept in results)")
    if not isinstance(source, str) or not source.strip():
        raise ValueError("source must say where the default is documented")
    vendors, services = entry["vendors"], entry["services"]
    if not isinstance(vendors, list) or not all(isinstance(v, str) and v.strip()
                                                for v in vendors):
        raise ValueError("vendors must be a list of names (empty for a generic default)")
    if not isinstance(services, list) or not services:
        raise ValueError("services must be a non-empty list")
    for service in services:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r} (one of {', '.join(SERVICES)})")
    return DefaultCredential(ident, tuple(vendors), tuple(dict.fromkeys(services)), username,
                             password, source.strip())


def entries_for(catalogue: Sequence[DefaultCredential], vendor: str | None,
                service: str) -> tuple[DefaultCredential, ...]:
    """The entries tried on one login, in order: the vendor's own, then the generic ones,
    each account (user name and password) once."""
    key = vendor_key(vendor) if vendor else ""
    own = [c for c in catalogue if service in c.services and key
           and any(vendor_key(v) == key for v in c.vendors)]
    generic = [c for c in catalogue if service in c.services and not c.vendors]
    seen: set[tuple[str, str]] = set()
    out: list[DefaultCredential] = []
    for credential in own + generic:
        account = (credential.username, credential.password)
        if account not in seen:
            seen.add(account)
            out.append(credential)
    return tuple(out)


# -------------------------------------------------------------------- the runner
Host = tuple[str, str | None, Sequence[ServiceObservation]]


@dataclass(frozen=True, slots=True)
class _Settings:
    budget: int
    delay: float
    timeout: float


def test_default_credentials(
    hosts: Sequence[Host], *, authorised: Callable[[str], bool],
    max_attempts_per_service: int = 3, delay: float = 0.25, timeout: float = 5.0,
    concurrency: int = 32, progress: Progress | None = None,
    catalogue: Sequence[DefaultCredential] | None = None,
) -> dict[str, CredentialTest]:
    """One ``CredentialTest`` per host ip; see the module docstring for the rules.

    ``hosts`` are (ip, fingerprinted vendor or None, discovery's services). A host
    ``authorised(ip)`` refuses gets ``CredentialTest(authorised=False)`` and no traffic.
    """
    if max_attempts_per_service < 1:
        raise InputError("max_attempts_per_service must be at least 1")
    if timeout <= 0 or delay < 0 or concurrency < 1:
        raise InputError("timeout must be positive, delay not negative, concurrency >= 1")
    entries = tuple(catalogue) if catalogue is not None else load_default_credentials()
    settings = _Settings(max_attempts_per_service, delay, timeout)
    unique: dict[str, Host] = {}
    for host in hosts:
        ip = host[0]
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise InputError(f"not an IP address: {ip!r}") from None
        unique.setdefault(ip, host)
    return _run(_test_all(list(unique.values()), authorised, entries, settings, progress,
                          concurrency))


# Not a pytest test, whatever its name says.
test_default_credentials.__test__ = False  # type: ignore[attr-defined]


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to the end, also when the caller is itself inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _test_all(hosts: list[Host], authorised: Callable[[str], bool],
                    catalogue: tuple[DefaultCredential, ...], settings: _Settings,
                    progress: Progress | None, concurrency: int) -> dict[str, CredentialTest]:
    results: dict[str, CredentialTest] = {}
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(ip: str, vendor: str | None, services: Sequence[ServiceObservation]) -> None:
        nonlocal done
        if not authorised(ip):
            results[ip] = CredentialTest(authorised=False)
        else:
            async with gate:
                try:
                    results[ip] = await _HostTest(ip, vendor, services, catalogue,
                                                  settings).run()
                except Exception as exc:  # noqa: BLE001 - one host must not sink the rest
                    log.warning("credential test %s failed: %s", ip, type(exc).__name__)
                    results[ip] = CredentialTest(
                        authorised=True,
                        skipped={s.port: f"probe failed ({type(exc).__name__})"
                                 for s in services})
        done += 1
        if progress is not None:
            progress(done, len(hosts))

    await asyncio.gather(*(one(*host) for host in hosts))
    return results


# ------------------------------------------------------------------ one host
#: Discovery's service name -> the login it carries, and whether it is over TLS.
_KINDS: Mapping[str, tuple[str, bool]] = {
    "telnet": ("telnet", False), "ftp": ("ftp", False), "ssh": ("ssh", False),
    "http": ("http", False), "https": ("http", True), "rtsp": ("rtsp", False),
    "rtsps": ("rtsp", True), "mqtt": ("mqtt", False), "mqtts": ("mqtt", True),
}


class _Skip(Exception):
    """The service cannot be tested (nothing was sent, or nothing more can be)."""


class _NoVerdict(Exception):
    """Credentials went out but the answer says neither yes nor no."""


class _Login(Protocol):
    async def prepare(self) -> None:
        """Learn what the login needs without sending credentials; ``_Skip`` if none."""

    async def attempt(self, username: str, password: str) -> bool:
        """One login: True accepted, False refused; ``_Skip`` / ``_NoVerdict`` otherwise."""


@dataclass
class _Target:
    port: int
    kind: str
    tls: bool
    observation: ServiceObservation


class _HostTest:
    def __init__(self, ip: str, vendor: str | None, services: Sequence[ServiceObservation],
                 catalogue: tuple[DefaultCredential, ...], settings: _Settings) -> None:
        self.ip, self.vendor, self.services = ip, vendor, services
        self.catalogue, self.settings = catalogue, settings
        self.attempts: list[CredentialAttempt] = []
        self.tested: list[int] = []
        self.skipped: dict[int, str] = {}
        self.sent_any = False
        self.failures: Counter[str] = Counter()
        """Failed attempts per user name on this host, whatever the service."""

    async def run(self) -> CredentialTest:
        for group in self._groups():
            await self._group(group)
        return CredentialTest(authorised=True, attempts=tuple(self.attempts),
                              services_tested=tuple(sorted(set(self.tested))),
                              skipped=dict(sorted(self.skipped.items())))

    def _groups(self) -> list[list[_Target]]:
        """Login services, grouped by the login they share; TLS ports first in a group."""
        groups: dict[tuple[object, ...], list[_Target]] = {}
        for obs in self.services:
            kind, tls = _KINDS.get(obs.service, ("", False))
            if not kind or obs.transport != "tcp":
                continue
            tls = tls or obs.tls is not None
            fields = obs.fields
            key: tuple[object, ...] = (kind, obs.port)
            if kind == "http":
                auth = fields.get(Field.HTTP_AUTH)
                if auth not in ("basic", "digest", "form"):
                    self.skipped[obs.port] = "no login seen by discovery"
                    continue
                key = ("http", auth, fields.get(Field.HTTP_REALM))
            elif kind == "rtsp" and not fields.get(Field.RTSP_REALM):
                self.skipped[obs.port] = "no login seen by discovery (no realm)"
                continue
            elif kind == "mqtt":
                auth = fields.get(Field.MQTT_AUTH)
                if auth == "open":
                    self.skipped[obs.port] = "anonymous access allowed: no login to test"
                    continue
                if auth != "required":
                    self.skipped[obs.port] = "no login seen by discovery"
                    continue
                key = ("mqtt",)
            groups.setdefault(key, []).append(_Target(obs.port, kind, tls, obs))
        ordered = [sorted(g, key=lambda t: (not t.tls, t.port)) for g in groups.values()]
        return sorted(ordered, key=lambda g: min(t.port for t in g))

    async def _group(self, group: list[_Target]) -> None:
        done_on: int | None = None
        for target in group:
            if done_on is not None:
                self.skipped[target.port] = f"same login as port {done_on}"
                continue
            try:
                reached = await self._service(target)
            except Exception as exc:  # noqa: BLE001 - a device's junk must not stop the host
                log.info("credential test %s:%s failed: %s", self.ip, target.port,
                         type(exc).__name__)
                self.skipped[target.port] = f"probe failed ({type(exc).__name__})"
                reached = True  # credentials may have gone out: not again on a sibling
            if reached:
                done_on = target.port

    async def _service(self, target: _Target) -> bool:
        """Try the login on one port; True when it got as far as sending credentials.

        At most ``budget`` entries per service, and no account (user name) gets more
        than ``budget`` failures on this host across its services: Telnet, SSH and the
        web UI often check the same account, and its lockout counts them all.
        """
        port, kind = target.port, target.kind
        budget, timeout = self.settings.budget, self.settings.timeout
        candidates = entries_for(self.catalogue, self.vendor, kind)
        if not candidates:
            self.skipped[port] = f"no catalogue entry for {kind}"
            return False
        allowed = [e for e in candidates if self.failures[e.username] < budget][:budget]
        if not allowed:
            self.skipped[port] = "attempt budget of its accounts spent on other services"
            return False
        login = _login(self.ip, target, timeout)
        try:
            await asyncio.wait_for(login.prepare(), timeout * 4)
        except _Skip as exc:
            self.skipped[port] = _bounded(str(exc))
            return False
        except TimeoutError:
            self.skipped[port] = "no answer in time"
            return False
        tried = 0
        for entry in allowed:
            if self.failures[entry.username] >= budget:
                continue  # the account failed on this service already, up to its budget
            if self.sent_any and self.settings.delay:
                await asyncio.sleep(self.settings.delay)
            try:
                accepted = await asyncio.wait_for(
                    login.attempt(entry.username, entry.password), timeout * 4)
            except _Skip as exc:
                self.skipped[port] = _bounded(str(exc))
                return tried > 0
            except (_NoVerdict, TimeoutError) as exc:
                self.sent_any = True
                self.failures[entry.username] += 1
                self._record(port, kind, entry, False)
                why = str(exc) if isinstance(exc, _NoVerdict) else "no answer in time"
                self.skipped[port] = _bounded(f"no clear answer to entry {entry.id}: {why}")
                return True
            self.sent_any = True
            tried += 1
            self._record(port, kind, entry, accepted)
            if accepted:
                self.tested.append(port)
                return True
            self.failures[entry.username] += 1
        if tried == len(candidates):
            self.tested.append(port)
        else:
            self.skipped[port] = (f"attempt budget spent ({tried} of {len(candidates)} "
                                  "catalogue entries tried)")
        return True

    def _record(self, port: int, kind: str, entry: DefaultCredential, accepted: bool) -> None:
        self.attempts.append(CredentialAttempt(port=port, service=kind,
                                               username=entry.username, entry=entry.id,
                                               accepted=accepted))
        log.info("default credential %s %s:%s (%s) user %r: %s", entry.id, self.ip, port,
                 kind, entry.username, "ACCEPTED" if accepted else "refused")


def _login(ip: str, target: _Target, timeout: float) -> _Login:
    kind = target.kind
    if kind == "http":
        return _HttpLogin(ip, target.port, target.tls, timeout)
    if kind == "rtsp":
        return _RtspLogin(ip, target.port, target.tls, timeout)
    if kind == "telnet":
        return _TelnetLogin(ip, target.port, target.tls, timeout)
    if kind == "ftp":
        return _FtpLogin(ip, target.port, target.tls, timeout)
    if kind == "ssh":
        return _SshLogin(ip, target.port, timeout)
    return _MqttLogin(ip, target.port, target.tls, timeout)


# ------------------------------------------------------------------ connections
async def _open(ip: str, port: int, tls: bool, timeout: float) -> Stream:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(ip, port, ssl=client_context() if tls else None,
                                    limit=2 * (HEAD_BYTES + BODY_BYTES),
                                    ssl_handshake_timeout=timeout if tls else None),
            timeout * (2 if tls else 1))
    except TimeoutError:
        raise _Skip("cannot connect: no answer in time") from None
    except (OSError, ssl.SSLError, ValueError, EOFError) as exc:
        raise _Skip(f"cannot connect: {_why(exc)}") from None
    return Stream(reader, writer)


async def _close(stream: Stream) -> None:
    """Abort (no lingering, no TLS close_notify wait) and let the socket go."""
    stream.writer.transport.abort()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(stream.writer.wait_closed(), 1.0)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return _one_line(exc) or type(exc).__name__


# ------------------------------------------------------------------------ HTTP, RTSP
_AUTH_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)')
_PASSWORD_FIELD = re.compile(rb"""type\s*=\s*["']?password""", re.IGNORECASE)
_FAILURE_WORDS = re.compile(rb"invalid|incorrect|failed|denied|wrong password", re.IGNORECASE)
_DIGESTS = {"MD5": "md5", "MD5-SESS": "md5", "SHA-256": "sha256", "SHA-256-SESS": "sha256"}


def _challenge(values: list[str]) -> tuple[str | None, dict[str, str]]:
    """(scheme, auth-params) of the first Digest challenge, else of the first one."""
    parsed: list[tuple[str, dict[str, str]]] = []
    for value in values:
        scheme, _, rest = value.strip().partition(" ")
        params: dict[str, str] = {}
        for key, raw in _AUTH_PARAM.findall(rest):
            if raw.startswith('"'):
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            params.setdefault(key.lower(), raw)
        if scheme:
            parsed.append((scheme.lower(), params))
    for scheme, params in parsed:
        if scheme == "digest":
            return scheme, params
    return parsed[0] if parsed else (None, {})


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _digest(challenge: Mapping[str, str], username: str, password: str, method: str,
            uri: str) -> str:
    """The Authorization value answering a Digest challenge (RFC 7616, RFC 2069 form
    when the server offers no qop)."""
    nonce = challenge.get("nonce")
    if not nonce:
        raise _Skip("Digest challenge without a nonce")
    algorithm = challenge.get("algorithm", "MD5")
    name = _DIGESTS.get(algorithm.upper())
    if name is None:
        raise _Skip(f"Digest algorithm {algorithm[:20]!r} not supported")
    qops = [q.strip().lower() for q in challenge.get("qop", "").split(",") if q.strip()]
    if qops and "auth" not in qops:
        raise _Skip("Digest qop other than auth not supported")
    realm = challenge.get("realm", "")

    def h(text: str) -> str:
        return hashlib.new(name, text.encode("utf-8", "surrogateescape"),
                           usedforsecurity=False).hexdigest()

    cnonce, nc = secrets.token_hex(8), "00000001"
    ha1 = h(f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    response = (h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}") if qops
                else h(f"{ha1}:{nonce}:{ha2}"))
    parts = [f"username={_quote(username)}", f"realm={_quote(realm)}",
             f"nonce={_quote(nonce)}", f"uri={_quote(uri)}", f"response={_quote(response)}"]
    if "algorithm" in challenge:
        parts.append(f"algorithm={algorithm}")
    if "opaque" in challenge:
        parts.append(f"opaque={_quote(challenge['opaque'])}")
    if qops:
        parts += ["qop=auth", f"nc={nc}", f"cnonce={_quote(cnonce)}"]
    return "Digest " + ", ".join(parts)


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _request(method: str, target: str, protocol: str, headers: Sequence[str],
             body: bytes = b"") -> bytes:
    """A request; header text from a device (realm, nonce, cookies) is sent back as the
    bytes it came as, never with a CR or LF of its own."""
    lines = [f"{method} {target} {protocol}", *headers]
    head = "\r\n".join(line.replace("\r", "").replace("\n", "") for line in lines)
    return head.encode("utf-8", "surrogateescape") + b"\r\n\r\n" + body


async def _exchange(ip: str, port: int, tls: bool, timeout: float, data: bytes,
                    protocol: bytes) -> Message | None:
    """One request on its own connection, one bounded response (None if there is none)."""
    stream = await _open(ip, port, tls, timeout)
    try:
        stream.send(data)
        rtsp = protocol == b"RTSP"
        raw = await stream.read_until_quiet(
            HEAD_BYTES + BODY_BYTES, first=timeout, gap=timeout, total=timeout * 2,
            done=lambda got: message_complete(got, body_needs_length=rtsp))
    finally:
        await _close(stream)
    try:
        message = parse_message(raw, protocol)
    except ValueError:  # a status "code" int() refuses (thousands of digits, "²")
        return None
    return message if message is not None and message.status is not None else None


@dataclass
class _Form:
    action: str
    method: str
    user: str
    password: str
    hidden: list[tuple[str, str]]


class _FormParser(HTMLParser):
    """The first form with a password field: its action, method and input names."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self._current: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "form":
            self._current = {"action": values.get("action", ""),
                             "method": values.get("method", "get").upper(), "inputs": []}
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None and len(self.forms) <= 16:
            inputs = self._current["inputs"]
            if len(inputs) < 64:
                inputs.append((values.get("type", "text").lower(), values.get("name", ""),
                               values.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _login_form(body: bytes) -> _Form | None:
    parser = _FormParser()
    try:
        parser.feed(body[:BODY_BYTES].decode("utf-8", "replace"))
        parser.close()
    except Exception:  # noqa: BLE001 - a page that breaks the parser has no usable form
        return None
    for form in parser.forms:
        inputs = form["inputs"]
        password = next((n for t, n, _ in inputs if t == "password" and n), None)
        if password is None:
            continue
        texts = [n for t, n, _ in inputs if t in ("text", "email", "") and n]
        named = [n for n in texts if re.search("user|login|name|account|email", n, re.I)]
        user = (named or texts or [None])[0]
        if user is None:
            continue
        hidden = [(n, v) for t, n, v in inputs if t == "hidden" and n][:32]
        method = form["method"] if form["method"] in ("GET", "POST") else "POST"
        return _Form(form["action"], method, user, password, hidden)
    return None


class _HttpLogin:
    """HTTP Basic, Digest or form login on the page discovery saw asking for one."""

    def __init__(self, ip: str, port: int, tls: bool, timeout: float) -> None:
        self.ip, self.port, self.tls, self.timeout = ip, port, tls, timeout
        default = 443 if tls else 80
        self.host = ip if port == default else f"{ip}:{port}"
        self.path = "/"
        self.mode = ""
        self.challenge: dict[str, str] = {}

    async def _send(self, method: str, target: str, headers: Sequence[str] = (),
                    body: bytes = b"") -> Message | None:
        common = [f"Host: {self.host}", f"User-Agent: {USER_AGENT}", "Accept: */*",
                  "Connection: close"]
        data = _request(method, target, "HTTP/1.1", [*common, *headers], body)
        return await _exchange(self.ip, self.port, self.tls, self.timeout, data, b"HTTP")

    async def prepare(self) -> None:
        page = await self._send("GET", "/")
        if page is None:
            raise _Skip("no HTTP answer")
        redirect = same_place_redirect(page, self.port, self.ip)
        if redirect is not None:
            followed = await self._send("GET", redirect)
            if followed is not None:
                page, self.path = followed, redirect
        if page.status == 401:
            scheme, params = _challenge(page.all("www-authenticate"))
            if scheme not in ("basic", "digest"):
                raise _Skip(f"HTTP authentication scheme {str(scheme)[:20]!r} not supported")
            self.mode, self.challenge = scheme, params
            if scheme == "digest":
                _digest(params, "probe", "probe", "GET", self.path)  # refuses what it can't do
            return
        status = page.status or 0
        if 200 <= status < 300 and _login_form(page.body) is not None:
            self.mode = "form"
            return
        raise _Skip(f"no login seen (HTTP {status})")

    async def attempt(self, username: str, password: str) -> bool:
        if self.mode == "basic":
            return self._verdict(await self._send(
                "GET", self.path, [f"Authorization: {_basic(username, password)}"]))
        if self.mode == "digest":
            return await self._digest(username, password)
        return await self._form(username, password)

    def _verdict(self, response: Message | None) -> bool:
        if response is None:
            raise _NoVerdict("no HTTP answer")
        status = response.status or 0
        if status in (401, 403):
            return False
        if 200 <= status < 400:
            return True
        raise _NoVerdict(f"HTTP {status}")

    async def _digest(self, username: str, password: str) -> bool:
        for _ in range(2):  # a right answer to an expired nonce is "stale": once more
            authorization = _digest(self.challenge, username, password, "GET", self.path)
            response = await self._send("GET", self.path, [f"Authorization: {authorization}"])
            if response is None or response.status != 401:
                return self._verdict(response)
            scheme, params = _challenge(response.all("www-authenticate"))
            if scheme == "digest" and params.get("nonce"):
                self.challenge = params
            if params.get("stale", "").lower() != "true":
                return False
        return False

    async def _form(self, username: str, password: str) -> bool:
        page = await self._send("GET", self.path)  # a fresh page: tokens, cookies
        form = _login_form(page.body) if page is not None else None
        if page is None or form is None:
            raise _Skip("the login form is gone")
        target = self._form_target(form.action)
        fields = [*form.hidden, (form.user, username), (form.password, password)]
        encoded = urlencode(fields)
        headers = [*_cookies(page)]
        if form.method == "GET":
            joiner = "&" if "?" in target else "?"
            response = await self._send("GET", f"{target}{joiner}{encoded}", headers)
        else:
            body = encoded.encode("ascii")
            headers += ["Content-Type: application/x-www-form-urlencoded",
                        f"Content-Length: {len(body)}"]
            response = await self._send("POST", target, headers, body)
        return self._form_verdict(response)

    def _form_target(self, action: str) -> str:
        """Where the form posts, refused unless it is this host and port."""
        try:
            joined = urljoin(f"{'https' if self.tls else 'http'}://{self.host}{self.path}",
                             action.strip())
            split = urlsplit(joined)
            port = split.port or (443 if split.scheme == "https" else 80)
        except ValueError:
            raise _Skip("the login form's action does not parse") from None
        if split.hostname != self.ip or port != self.port \
                or split.scheme != ("https" if self.tls else "http"):
            raise _Skip("the login form posts to another host or port")
        path = split.path or "/"
        return path + (f"?{split.query}" if split.query else "")

    @staticmethod
    def _form_verdict(response: Message | None) -> bool:
        if response is None:
            raise _NoVerdict("no HTTP answer to the login form")
        status = response.status or 0
        if status in (401, 403):
            return False
        if 200 <= status < 300:
            if _PASSWORD_FIELD.search(response.body):
                return False  # the login page again
            if response.header("set-cookie"):
                return True
            return not _FAILURE_WORDS.search(response.body)
        if 300 <= status < 400:
            location = (response.header("location") or "").lower()
            if re.search("login|logon|signin|error|fail", location):
                return False
            if response.header("set-cookie"):
                return True
        raise _NoVerdict(f"HTTP {status} to the login form")


def _cookies(response: Message) -> list[str]:
    """A Cookie header with the name=value pairs the page set (bounded)."""
    pairs = [value.split(";", 1)[0].strip() for value in response.all("set-cookie")[:16]]
    pairs = [p for p in pairs if "=" in p and len(p) < 512]
    return [f"Cookie: {'; '.join(pairs)}"] if pairs else []


class _RtspLogin:
    """RTSP DESCRIBE with Digest (or Basic) credentials."""

    def __init__(self, ip: str, port: int, tls: bool, timeout: float) -> None:
        self.ip, self.port, self.tls, self.timeout = ip, port, tls, timeout
        self.url = f"{'rtsps' if tls else 'rtsp'}://{ip}:{port}/"
        self.scheme: str | None = None
        self.challenge: dict[str, str] = {}
        self.cseq = 0

    async def _describe(self, authorization: str | None = None) -> Message | None:
        self.cseq += 1
        headers = [f"CSeq: {self.cseq}", f"User-Agent: {USER_AGENT}", "Accept: application/sdp"]
        if authorization:
            headers.append(f"Authorization: {authorization}")
        data = _request("DESCRIBE", self.url, "RTSP/1.0", headers)
        return await _exchange(self.ip, self.port, self.tls, self.timeout, data, b"RTSP")

    async def prepare(self) -> None:
        answer = await self._describe()
        if answer is None:
            raise _Skip("no RTSP answer")
        if answer.status != 401:
            raise _Skip(f"no login asked (RTSP {answer.status})")
        self.scheme, self.challenge = _challenge(answer.all("www-authenticate"))
        if self.scheme == "digest":
            _digest(self.challenge, "probe", "probe", "DESCRIBE", self.url)
        elif self.scheme != "basic":
            raise _Skip(f"RTSP authentication scheme {str(self.scheme)[:20]!r} not supported")

    async def attempt(self, username: str, password: str) -> bool:
        for _ in range(2):
            if self.scheme == "basic":
                authorization = _basic(username, password)
            else:
                authorization = _digest(self.challenge, username, password, "DESCRIBE",
                                        self.url)
            answer = await self._describe(authorization)
            if answer is None:
                raise _NoVerdict("no RTSP answer")
            status = answer.status or 0
            if 200 <= status < 300:
                return True
            if status == 403:
                return False
            if status != 401:
                raise _NoVerdict(f"RTSP {status}")
            scheme, params = _challenge(answer.all("www-authenticate"))
            if scheme == "digest" and params.get("nonce"):
                self.challenge = params
            if params.get("stale", "").lower() != "true":
                return False
        return False


# ------------------------------------------------------------------------- Telnet
_IAC, _WILL, _WONT, _DO, _DONT = 255, 251, 252, 253, 254
_ECHO, _SGA = 1, 3
_TELNET_FAILURE = re.compile(r"incorrect|invalid|fail|denied|wrong|bad password", re.I)


def _last_line(text: str) -> str:
    lines = [line for line in text.replace("\r", "\n").split("\n") if line.strip()]
    return lines[-1].strip() if lines else ""


def _login_prompt(text: str) -> bool:
    last = _last_line(text)
    return last.endswith((":", ">")) and bool(re.search("login|user|name|account", last, re.I))


def _password_prompt(text: str) -> bool:
    last = _last_line(text)
    return last.endswith(":") and "pass" in last.lower()


def _telnet_verdict(text: str) -> bool | None:
    """After the password: False for a refusal or a new prompt, True for a shell prompt."""
    if _TELNET_FAILURE.search(text):
        return False
    if _login_prompt(text) or _password_prompt(text):
        return False
    if _last_line(text).endswith(("#", "$", ">", "%")):
        return True
    return None


class _TelnetSession:
    """A Telnet client that refuses every option (agreeing only to the server echoing
    and suppressing go-ahead) and reads bounded text."""

    def __init__(self, stream: Stream, timeout: float) -> None:
        self.stream, self.timeout = stream, timeout
        self.raw = b""
        self.answered: set[bytes] = set()
        self.mark = 0

    async def read(self, until: Callable[[str], bool]) -> str:
        """Text received since the last ``read`` until ``until(text)`` holds (or EOF,
        the byte limit, or ``timeout`` without anything new)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout * 2
        text = self._text()
        while not until(text) and len(self.raw) < _TELNET_BYTES:
            left = deadline - loop.time()
            if left <= 0:
                break
            chunk = await self.stream.read_some(_TELNET_BYTES - len(self.raw),
                                                min(left, self.timeout))
            if not chunk:
                break
            self.raw += chunk
            text = self._text()
        self.mark = len(strip_telnet(self.raw)[0])
        return text

    def _text(self) -> str:
        data, negotiation = strip_telnet(self.raw)
        for i in range(0, len(negotiation) - 2, 3):
            self._answer(negotiation[i:i + 3])
        return data[self.mark:].decode("utf-8", "replace")

    def _answer(self, request: bytes) -> None:
        if request in self.answered:
            return
        self.answered.add(request)
        command, option = request[1], request[2]
        if command == _DO:
            self.stream.send(bytes([_IAC, _WONT, option]))
        elif command == _WILL:
            reply = _DO if option in (_ECHO, _SGA) else _DONT
            self.stream.send(bytes([_IAC, reply, option]))

    def send_line(self, text: str) -> None:
        self.stream.send(text.encode("ascii").replace(b"\xff", b"\xff\xff") + b"\r\n")


class _TelnetLogin:
    def __init__(self, ip: str, port: int, tls: bool, timeout: float) -> None:
        self.ip, self.port, self.tls, self.timeout = ip, port, tls, timeout

    async def prepare(self) -> None:
        """Nothing to learn beforehand: each attempt reads the prompt itself."""

    async def attempt(self, username: str, password: str) -> bool:
        stream = await _open(self.ip, self.port, self.tls, self.timeout)
        try:
            session = _TelnetSession(stream, self.timeout)
            if not _login_prompt(await session.read(_login_prompt)):
                raise _Skip("no login prompt")
            session.send_line(username)
            if not _password_prompt(await session.read(_password_prompt)):
                raise _NoVerdict("no password prompt after the user name")
            session.send_line(password)
            verdict = _telnet_verdict(
                await session.read(lambda text: _telnet_verdict(text) is not None))
            if verdict is None:
                raise _NoVerdict("no shell prompt and no refusal after the password")
            if verdict:
                session.send_line("exit")
            return verdict
        finally:
            await _close(stream)


# ---------------------------------------------------------------------------- FTP
_FTP_REPLY = re.compile(rb"(?:^|\n)(\d{3}) [^\n]*\n?\s*$")


class _FtpLogin:
    def __init__(self, ip: str, port: int, tls: bool, timeout: float) -> None:
        self.ip, self.port, self.tls, self.timeout = ip, port, tls, timeout

    async def _reply(self, stream: Stream) -> int | None:
        data = await stream.read_until_quiet(BANNER_BYTES, first=self.timeout,
                                             gap=self.timeout, total=self.timeout * 2,
                                             done=banner_complete)
        found = _FTP_REPLY.search(data)
        return int(found.group(1)) if found else None

    async def prepare(self) -> None:
        """Nothing to learn beforehand: each attempt reads the greeting itself."""

    async def attempt(self, username: str, password: str) -> bool:
        stream = await _open(self.ip, self.port, self.tls, self.timeout)
        try:
            greeting = await self._reply(stream)
            if greeting != 220:
                raise _Skip("no FTP greeting" if greeting is None else
                            f"FTP server not ready ({greeting})")
            stream.send(f"USER {username}\r\n".encode("ascii"))
            code = await self._reply(stream)
            if code == 230:
                accepted = True  # the account needs no password at all
            elif code in (530, 430):
                accepted = False
            elif code == 331:
                stream.send(f"PASS {password}\r\n".encode("ascii"))
                code = await self._reply(stream)
                if code not in (230, 202, 530, 430):
                    raise _NoVerdict(f"FTP reply {code} to PASS" if code else "no FTP reply")
                accepted = code in (230, 202)
            else:
                raise _NoVerdict(f"FTP reply {code} to USER" if code else "no FTP reply")
            stream.send(b"QUIT\r\n")
            return accepted
        finally:
            await _close(stream)


# ---------------------------------------------------------------------------- SSH
class _SshClient(asyncssh.SSHClient):
    """Offers the password once, and nothing else (no keys, no keyboard-interactive)."""

    def __init__(self, password: str) -> None:
        self._password = password
        self.sent = False

    def password_auth_requested(self) -> str | None:
        if self.sent:
            return None
        self.sent = True
        return self._password

    def kbdint_auth_requested(self) -> str | None:
        return None

    def public_key_auth_requested(self) -> None:
        return None


class _SshLogin:
    def __init__(self, ip: str, port: int, timeout: float) -> None:
        self.ip, self.port, self.timeout = ip, port, timeout

    async def prepare(self) -> None:
        """Nothing to learn beforehand."""

    async def attempt(self, username: str, password: str) -> bool:
        client = _SshClient(password)
        try:
            conn = await asyncio.wait_for(asyncssh.connect(
                self.ip, self.port, username=username, client_factory=lambda: client,
                known_hosts=None, client_keys=None, agent_path=None, config=None,
                preferred_auth="password", connect_timeout=self.timeout,
                login_timeout=self.timeout, gss_host=None, gss_auth=False, gss_kex=False,
                agent_forwarding=False, x11_forwarding=False,
            ), self.timeout * 2)
        except asyncssh.PermissionDenied:
            if not client.sent:
                raise _Skip("SSH server offers no password login") from None
            return False
        except (asyncssh.Error, OSError, TimeoutError, ValueError, EOFError) as exc:
            why = "no answer in time" if isinstance(exc, TimeoutError) else _why(exc)
            if client.sent:
                raise _NoVerdict(f"SSH: {why}") from None
            raise _Skip(f"SSH handshake failed: {why}") from None
        conn.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.wait_closed(), 1.0)
        return True


# --------------------------------------------------------------------------- MQTT
_MQTT_REFUSED = (4, 5)  # bad user name or password, not authorised


class _MqttLogin:
    def __init__(self, ip: str, port: int, tls: bool, timeout: float) -> None:
        self.ip, self.port, self.tls, self.timeout = ip, port, tls, timeout

    async def prepare(self) -> None:
        """Discovery already saw the broker refuse an anonymous client."""

    async def attempt(self, username: str, password: str) -> bool:
        stream = await _open(self.ip, self.port, self.tls, self.timeout)
        try:
            client = f"fleetwarden-{secrets.token_hex(4)}"
            body = (string("MQTT") + bytes([4, 0xC2]) + (30).to_bytes(2, "big")
                    + string(client) + string(username) + string(password))
            stream.send(packet(0x10, body))
            answer = await read_packet(stream, self.timeout)
            if answer is None or answer[0] != CONNACK or len(answer[2]) != 2:
                raise _NoVerdict("no CONNACK")
            code = answer[2][1]
            if code == 0:
                stream.send(b"\xe0\x00")  # DISCONNECT
                return True
            if code in _MQTT_REFUSED:
                return False
            raise _NoVerdict(f"CONNACK code {code}")
        finally:
            await _close(stream)


# ------------------------------------------------------------------------ helpers
def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _bounded(text: str, limit: int = 160) -> str:
    text = _one_line(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"
