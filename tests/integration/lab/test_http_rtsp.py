"""The lab's web, UPnP-description and RTSP personalities, seen by real clients.

curl logs in with Basic, Digest and a form (and over the runtime's TLS), nmap -sV names
the services, and raw sockets check what clients cannot: framing under hostile persona
text, bounds on garbage and oversized requests, and that a device keeps serving after.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import socket
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET

import fleetwarden
from fleetwarden.adapters.lab.protocols.base import upnp_uuid, wire
from fleetwarden.adapters.lab.runtime import LabRuntime
from fleetwarden.domain.lab import Credential, LabDevice, Service, Weakness
from tests.integration.lab.harness import client_tool, make_device, running_lab

UPNP_NS = "{urn:schemas-upnp-org:device-1-0}"
_INVALID_UTF8 = b"\xff\xfe\xc3(".decode("utf-8", "surrogateescape")


def _hostile(model: str, hostname: str) -> dict[str, str]:
    """The [hostile] persona texts of families.toml, resolved like the planner does."""
    path = Path(fleetwarden.__file__).parent / "catalogues" / "lab" / "families.toml"
    texts = tomllib.loads(path.read_text(encoding="utf-8"))["hostile"]
    fields = {"model": model, "hostname": hostname, "long": "X" * 5000,
              "invalid_utf8": _INVALID_UTF8}
    return {key: value.format_map(fields) for key, value in texts.items()}


def _creds(user: str, password: str, *services: Service) -> tuple[Credential, ...]:
    return tuple(Credential(s, user, password) for s in services)


BASIC = make_device(
    (Service.HTTP,), vendor="Paxton", model="Net2 Plus ACU", family="access",
    credentials=_creds("admin", "admin", Service.HTTP),
    persona={"http_server": "GoAhead-Webs", "http_title": "Paxton Net2 Plus ACU Configuration",
             "http_auth": "basic", "http_realm": "Net2 Plus ACU"})
CAMERA = make_device(
    (Service.HTTP, Service.HTTPS, Service.RTSP, Service.UPNP),
    weaknesses=(Weakness.DEFAULT_CREDENTIALS, Weakness.UPNP_EXPOSED),
    credentials=_creds("admin", "12345", Service.HTTP, Service.HTTPS, Service.RTSP),
    serial="DS-2CD2143G2-I20220112AAWRJ12345",
    persona={"http_server": "App-webs/", "http_title": "", "http_auth": "digest",
             "http_realm": "DS-2CD2143G2-I", "http_login_path": "/doc/page/login.asp",
             "rtsp_server": "", "rtsp_realm": "IP Camera(J12345)",
             "upnp_server": "Linux/3.10.73, UPnP/1.0, Portable SDK for UPnP devices/1.6.18",
             "upnp_manufacturer": "Hikvision", "upnp_model_name": "DS-2CD2143G2-I",
             "upnp_model_number": "DS-2CD2143G2-I", "upnp_friendly_name": "hq-cam-0501",
             "upnp_device_type": "urn:schemas-upnp-org:device:Basic:1"})
UPS = make_device(
    (Service.HTTP, Service.RTSP), vendor="APC", model="Smart-UPS SRT 3000",
    family="building", credentials=_creds("apc", "apc", Service.HTTP),
    persona={"http_server": "lighttpd/1.4.45", "http_title": "APC Smart-UPS SRT 3000",
             "http_auth": "form", "http_login_path": "/logon.htm",
             "rtsp_server": "Rtsp Server/3.0", "rtsp_realm": "Login to AS1234567890"})
QUIET = make_device(
    (Service.HTTP,), vendor="Dahua", model="IPC-HFW5442E-ZE", family="dahua",
    persona={"http_server": "", "http_title": "WEB SERVICE", "http_auth": "form",
             "http_login_path": "/RPC2_Login"})
HOSTILE = make_device(
    (Service.HTTP, Service.RTSP, Service.UPNP),
    weaknesses=(Weakness.HOSTILE_BANNER, Weakness.UPNP_EXPOSED),
    persona={**_hostile("DS-2CD2143G2-I", "hq-cam-0502"), "http_auth": "basic",
             "http_realm": 'Realm "quoted"\r\nX-Injected: yes', "rtsp_realm": "IP Camera(1)",
             "upnp_manufacturer": "Hikvision", "upnp_model_name": "DS\udcff<&>\x1b[0m",
             "upnp_server": "UPnP/1.0 \udcff\r\nX-Injected: yes"})
GATEWAY = make_device(
    (Service.HTTP, Service.SSDP), weaknesses=(Weakness.UPNP_EXPOSED,), vendor="Teltonika",
    model="RUT955", persona={"http_server": "", "http_title": "Teltonika RUT955",
                             "http_auth": "basic", "upnp_manufacturer": "Teltonika"})
STRAY = make_device(  # surrogates: one stands for byte 0xff, one for no byte at all
    (Service.HTTP,), persona={"http_server": "srv\ud800/1.0\r\nX-Injected: 1",
                              "http_title": "Cam \ud800 \udcff", "http_auth": "form"})
DEVICES = (BASIC, CAMERA, UPS, QUIET, HOSTILE, GATEWAY, STRAY)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabRuntime]:
    with running_lab(DEVICES, tmp_path_factory.mktemp("lab")) as runtime:
        yield runtime
    assert runtime.stats.handler_errors == 0


def _port(device: LabDevice, service: Service) -> int:
    found = device.service(service)
    assert found is not None
    return found.port


def _url(device: LabDevice, service: Service = Service.HTTP, path: str = "/") -> str:
    scheme = "https" if service is Service.HTTPS else "http"
    return f"{scheme}://{device.ip}:{_port(device, service)}{path}"


# ------------------------------------------------------------------------ clients
def _curl(tmp_path: Path, *args: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers of the last response (lower-case names) and body, via curl."""
    heads, body = tmp_path / "headers", tmp_path / "body"
    done = subprocess.run(
        [client_tool("curl"), "-sS", "--max-time", "10", "-D", str(heads), "-o", str(body),
         "-w", "%{http_code}", *args], capture_output=True, text=True, timeout=20, check=False)
    assert done.returncode == 0, done.stderr
    last = heads.read_bytes().decode("latin-1").strip().split("\r\n\r\n")[-1]
    headers = {}
    for line in last.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(done.stdout), headers, body.read_bytes()


def _read_message(sock: socket.socket) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One HTTP or RTSP response: status line, headers (raw names lower-cased), body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get(b"content-length", b"0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def _exchange(device: LabDevice, service: Service, payload: bytes,
              ) -> tuple[bytes, dict[bytes, bytes], bytes]:
    with socket.create_connection((device.ip, _port(device, service)), timeout=5) as sock:
        sock.sendall(payload)
        return _read_message(sock)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _challenge(header: bytes) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', header.decode("latin-1")))


# -------------------------------------------------------------------------- HTTP
def test_basic_auth_with_curl(lab: LabRuntime, tmp_path: Path):
    status, headers, body = _curl(tmp_path, "-u", "admin:admin", _url(BASIC))
    assert status == 200
    assert headers["server"] == "GoAhead-Webs"
    assert b"<title>Paxton Net2 Plus ACU Configuration</title>" in body

    status, headers, body = _curl(tmp_path, "-u", "admin:wrong", _url(BASIC))
    assert status == 401
    assert headers["www-authenticate"] == 'Basic realm="Net2 Plus ACU"'
    status, _, _ = _curl(tmp_path, _url(BASIC))
    assert status == 401
    status, _, _ = _curl(tmp_path, "-u", f"fwlab:{BASIC.secret}", _url(BASIC))
    assert status == 200


def test_digest_auth_with_curl(lab: LabRuntime, tmp_path: Path):
    status, headers, body = _curl(tmp_path, "--digest", "-u", "admin:12345", _url(CAMERA))
    assert status == 200
    assert headers["server"] == "App-webs/"
    assert b"<title></title>" in body and CAMERA.firmware_version.encode() in body

    status, headers, _ = _curl(tmp_path, "--digest", "-u", "admin:54321", _url(CAMERA))
    assert status == 401
    challenge = headers["www-authenticate"]
    assert challenge.startswith('Digest realm="DS-2CD2143G2-I"')
    assert 'qop="auth"' in challenge and "nonce=" in challenge and "opaque=" in challenge
    status, _, _ = _curl(tmp_path, "--digest", "-u", "admin:12345", _url(CAMERA, path="/x"))
    assert status == 404


def test_a_replayed_or_forged_digest_is_refused(lab: LabRuntime):
    first = _exchange(CAMERA, Service.HTTP, b"GET / HTTP/1.1\r\nHost: cam\r\n\r\n")
    params = _challenge(first[1][b"www-authenticate"])
    ha1 = _md5(f"admin:{params['realm']}:12345")
    answer = _md5(f"{ha1}:{params['nonce']}:00000001:abc:auth:{_md5('GET:/')}")

    def ask(nonce: str, response: str, uri: str = "/") -> bytes:
        auth = (f'Digest username="admin", realm="{params["realm"]}", nonce="{nonce}", '
                f'uri="{uri}", qop=auth, nc=00000001, cnonce="abc", response="{response}", '
                f'opaque="{params["opaque"]}"')
        return _exchange(CAMERA, Service.HTTP,
                         f"GET / HTTP/1.1\r\nAuthorization: {auth}\r\n\r\n".encode())[0]

    assert ask(params["nonce"], answer).startswith(b"HTTP/1.1 200")
    assert ask(params["nonce"], "0" * 32).startswith(b"HTTP/1.1 401")
    assert ask("f" * 32, answer).startswith(b"HTTP/1.1 401")  # a nonce it never issued
    assert ask(params["nonce"], answer, uri="/other").startswith(b"HTTP/1.1 401")


def test_form_login_with_curl(lab: LabRuntime, tmp_path: Path):
    status, headers, body = _curl(tmp_path, _url(UPS))
    assert status == 200 and headers["server"] == "lighttpd/1.4.45"
    assert b"<title>APC Smart-UPS SRT 3000</title>" in body
    assert b'<form method="post" action="/logon.htm">' in body
    assert b'name="username"' in body and b'name="password"' in body

    jar = str(tmp_path / "cookies")
    status, headers, body = _curl(tmp_path, "-c", jar, "-d", "username=apc", "-d",
                                  "password=apc", _url(UPS, path="/logon.htm"))
    assert status == 200 and headers["set-cookie"].startswith("session=")
    status, _, body = _curl(tmp_path, "-b", jar, _url(UPS))
    assert status == 200 and b"Logged in as apc" in body

    status, headers, body = _curl(tmp_path, "-d", "username=apc", "-d", "password=nope",
                                  _url(UPS, path="/logon.htm"))
    assert status == 403 and "set-cookie" not in headers
    assert b"Invalid user name or password" in body
    for _ in range(10):  # failures never lock the account out
        _curl(tmp_path, "-d", "username=apc&password=bad", _url(UPS, path="/logon.htm"))
    status, _, _ = _curl(tmp_path, "-d", "username=apc&password=apc", _url(UPS, path="/logon.htm"))
    assert status == 200


def test_https_uses_the_runtime_tls(lab: LabRuntime, tmp_path: Path):
    url = _url(CAMERA, Service.HTTPS)
    status, headers, body = _curl(tmp_path, "-k", "--digest", "-u", "admin:12345", url)
    assert status == 200 and headers["server"] == "App-webs/" and b"<title></title>" in body
    status, _, _ = _curl(tmp_path, "-k", "--digest", "-u", "admin:bad", url)
    assert status == 401


def test_headers_head_keep_alive_and_extra_paths(lab: LabRuntime):
    conn = http.client.HTTPConnection(UPS.ip, _port(UPS, Service.HTTP), timeout=5)
    try:
        conn.request("GET", "/")
        page = conn.getresponse()
        body = page.read()
        for name in ("Date", "Content-Type", "Content-Length", "Connection", "Server"):
            assert page.getheader(name), name
        assert page.getheader("Connection") == "keep-alive"
        conn.request("HEAD", "/")
        head = conn.getresponse()
        assert head.read() == b"" and int(head.getheader("Content-Length")) == len(body)
        conn.request("GET", "/robots.txt")
        robots = conn.getresponse()
        assert robots.status == 200 and b"Disallow" in robots.read()
        conn.request("GET", "/favicon.ico")
        favicon = conn.getresponse()
        assert favicon.status == 404 and favicon.read()
        conn.request("GET", "/cgi-bin/nothing?x=1")
        missing = conn.getresponse()
        assert missing.status == 404 and b"<title>404 Not Found</title>" in missing.read()
        for _ in range(15):
            conn.request("GET", "/robots.txt")
            last = conn.getresponse()
            last.read()
        assert last.getheader("Connection") == "close"  # the 20th request on the connection
    finally:
        conn.close()


def test_no_server_header_when_the_persona_has_none(lab: LabRuntime):
    status, headers, body = _exchange(QUIET, Service.HTTP, b"GET / HTTP/1.0\r\n\r\n")
    assert status == b"HTTP/1.1 200 OK"
    assert b"server" not in headers and headers[b"connection"] == b"close"
    assert b"<title>WEB SERVICE</title>" in body and b'action="/RPC2_Login"' in body


def test_hostile_persona_is_sent_raw_but_cannot_break_framing(lab: LabRuntime):
    hostile = _hostile("DS-2CD2143G2-I", "hq-cam-0502")
    status, headers, body = _exchange(HOSTILE, Service.HTTP, b"GET / HTTP/1.1\r\n\r\n")
    assert status == b"HTTP/1.1 401 Unauthorized"
    assert headers[b"server"] == wire(hostile["http_server"])
    assert b"x-injected" not in headers
    assert headers[b"www-authenticate"] == b'Basic realm="Realm \\"quoted\\"X-Injected: yes"'
    assert b"<title>" + wire(hostile["http_title"]) + b"</title>" in body
    assert len(body) == int(headers[b"content-length"])


def test_a_surrogate_that_stands_for_no_byte_is_sent_as_u_fffd(lab: LabRuntime):
    status, headers, body = _exchange(STRAY, Service.HTTP, b"GET / HTTP/1.0\r\n\r\n")
    assert status == b"HTTP/1.1 200 OK"
    assert headers[b"server"] == b"srv\xef\xbf\xbd/1.0X-Injected: 1"
    assert b"<title>Cam \xef\xbf\xbd \xff</title>" in body


@pytest.mark.parametrize("payload", [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64),
    b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 20480 + b"\r\n\r\n",
    b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(101)) + b"\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"POST /logon.htm HTTP/1.1\r\nContent-Length: 999999\r\n\r\n",
    b"GET / HTTP/1.1\r\n folded: header\r\n\r\n",
    b"\r\n\r\n",
    b"HELP\r\n",
])
def test_malformed_requests_get_400_or_close_and_the_device_keeps_serving(
        lab: LabRuntime, payload: bytes):
    with socket.create_connection((UPS.ip, _port(UPS, Service.HTTP)), timeout=5) as sock:
        try:
            sock.sendall(payload)
            reply = sock.recv(4096)
        except ConnectionResetError:
            reply = b""
    assert reply == b"" or re.match(rb"HTTP/1\.1 4(00|11|13) ", reply), reply[:80]
    assert reply == b"" or b"Connection: close" in reply
    status, _, _ = _exchange(UPS, Service.HTTP, b"GET / HTTP/1.0\r\n\r\n")
    assert status == b"HTTP/1.1 200 OK"


def test_a_target_urlsplit_refuses_gets_400(lab: LabRuntime):
    errors = lab.stats.handler_errors
    for target in (b"//[", b"http://[::1/", b"/a?b=//["):
        status, headers, _ = _exchange(UPS, Service.HTTP, b"GET " + target + b" HTTP/1.1\r\n\r\n")
        if target == b"/a?b=//[":  # only the query: splits fine, so just not found
            assert status.startswith(b"HTTP/1.1 404"), status
        else:
            assert status == b"HTTP/1.1 400 Bad Request", (target, status)
            assert headers[b"connection"] == b"close"
    status, _, _ = _exchange(CAMERA, Service.RTSP, b"OPTIONS rtsp://[ RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    assert status == b"RTSP/1.0 400 Bad Request"
    assert lab.stats.handler_errors == errors


def _basic(token: bytes) -> bytes:
    return _exchange(BASIC, Service.HTTP,
                     b"GET / HTTP/1.1\r\nAuthorization: Basic " + token + b"\r\n\r\n")[0]


def test_basic_credentials_that_are_not_base64_are_just_wrong(lab: LabRuntime):
    errors = lab.stats.handler_errors
    for token in (b"\xe9", b"YWRt\xe9", b"!!!!", b"YWRtaW4", b"/w==", b""):
        assert _basic(token) == b"HTTP/1.1 401 Unauthorized", token  # /w== is byte 0xff
    assert _basic(b"YWRtaW46YWRtaW4=") == b"HTTP/1.1 200 OK"  # admin:admin, still fine
    assert lab.stats.handler_errors == errors


def _http_digest(**override: str) -> bytes:
    """The status line of a Digest login to CAMERA's web UI, right unless overridden."""
    first = _exchange(CAMERA, Service.HTTP, b"GET / HTTP/1.1\r\n\r\n")
    params = _challenge(first[1][b"www-authenticate"])
    ha1 = _md5(f"admin:{params['realm']}:12345")
    fields = {"username": "admin", "realm": params["realm"], "nonce": params["nonce"],
              "uri": "/", "qop": "auth", "nc": "00000001", "cnonce": "abc",
              "response": _md5(f"{ha1}:{params['nonce']}:00000001:abc:auth:{_md5('GET:/')}"),
              "opaque": params["opaque"]}
    fields.update(override)
    auth = ", ".join(f'{k}="{v}"' for k, v in fields.items())
    return _exchange(CAMERA, Service.HTTP, f"GET / HTTP/1.1\r\nAuthorization: Digest {auth}"
                     "\r\n\r\n".encode("latin-1"))[0]


def test_digest_uri_or_response_that_cannot_be_compared_is_a_failed_login(lab: LabRuntime):
    errors = lab.stats.handler_errors
    assert _http_digest() == b"HTTP/1.1 200 OK"
    for override in ({"uri": "http://["}, {"uri": "//["}, {"response": "\xe9" * 32},
                     {"response": "z" * 32}, {"response": "0" * 31}):
        assert _http_digest(**override) == b"HTTP/1.1 401 Unauthorized", override
    assert lab.stats.handler_errors == errors


def test_rtsp_digest_uri_or_response_that_cannot_be_compared_is_a_failed_login(
        lab: LabRuntime):
    errors = lab.stats.handler_errors
    url = f"rtsp://{CAMERA.ip}:{_port(CAMERA, Service.RTSP)}/Streaming/Channels/101"
    with socket.create_connection((CAMERA.ip, _port(CAMERA, Service.RTSP)), timeout=5) as s:
        s.sendall(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
        params = _challenge(_read_message(s)[1][b"www-authenticate"])
        for cseq, method in enumerate(("DESCRIBE", "SETUP", "PLAY"), start=2):
            ha1 = _md5(f"admin:{params['realm']}:12345")
            right = _md5(f"{ha1}:{params['nonce']}:{_md5(f'{method}:{url}')}")
            for uri, response in (("http://[", right), (url, "\xe9" * 32)):
                auth = (f'Digest username="admin", realm="{params["realm"]}", '
                        f'nonce="{params["nonce"]}", uri="{uri}", response="{response}"')
                s.sendall(f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\nAuthorization: {auth}"
                          "\r\nTransport: RTP/AVP;unicast\r\n\r\n".encode("latin-1"))
                status, headers, _ = _read_message(s)
                assert status == b"RTSP/1.0 401 Unauthorized", (method, uri, status)
                assert headers[b"cseq"] == str(cseq).encode()
    assert lab.stats.handler_errors == errors


def test_unsupported_version_and_methods(lab: LabRuntime):
    assert _exchange(UPS, Service.HTTP, b"GET / HTTP/2.0\r\n\r\n")[0].startswith(
        b"HTTP/1.1 505")
    assert _exchange(UPS, Service.HTTP, b"DELETE / HTTP/1.0\r\n\r\n")[0].startswith(
        b"HTTP/1.1 405")
    assert _exchange(UPS, Service.HTTP, b"BREW / HTTP/1.0\r\n\r\n")[0].startswith(
        b"HTTP/1.1 501")


# -------------------------------------------------------------------------- UPnP
def _description(device: LabDevice, path: str = "/description.xml",
                 service: Service = Service.UPNP) -> tuple[dict[bytes, bytes], ET.Element]:
    status, headers, body = _exchange(
        device, service, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        .encode())
    assert status == b"HTTP/1.1 200 OK", status
    assert headers[b"content-type"].startswith(b"text/xml")
    return headers, SafeET.fromstring(body)  # device output: parsed as untrusted


def test_upnp_description(lab: LabRuntime):
    headers, root = _description(CAMERA)
    assert headers[b"server"] == CAMERA.persona["upnp_server"].encode()
    assert root.tag == f"{UPNP_NS}root"
    assert root.findtext(f"{UPNP_NS}specVersion/{UPNP_NS}major") == "1"
    assert root.findtext(f"{UPNP_NS}specVersion/{UPNP_NS}minor") == "0"
    device = root.find(f"{UPNP_NS}device")
    assert device is not None
    found = {child.tag.removeprefix(UPNP_NS): child.text for child in device}
    assert found == {
        "deviceType": "urn:schemas-upnp-org:device:Basic:1",
        "friendlyName": "hq-cam-0501",
        "manufacturer": "Hikvision",
        "modelDescription": f"DS-2CD2143G2-I firmware {CAMERA.firmware_version}",
        "modelName": "DS-2CD2143G2-I",
        "modelNumber": "DS-2CD2143G2-I",
        "serialNumber": CAMERA.serial,
        "firmwareVersion": CAMERA.firmware_version,
        "UDN": f"uuid:{upnp_uuid(CAMERA)}",
        "presentationURL": _url(CAMERA).replace(":80/", "/"),
    }
    assert ET.tostring(_description(CAMERA, "/rootDesc.xml")[1]) == ET.tostring(root)
    status, _, _ = _exchange(CAMERA, Service.UPNP, b"GET /nothing HTTP/1.0\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 404")


def test_upnp_description_stays_well_formed_for_hostile_text(lab: LabRuntime):
    headers, root = _description(HOSTILE)
    assert headers[b"server"] == b"UPnP/1.0 \xffX-Injected: yes"
    assert b"x-injected" not in headers
    device = root.find(f"{UPNP_NS}device")
    assert device is not None
    friendly = _hostile("DS-2CD2143G2-I", "hq-cam-0502")["upnp_friendly_name"]
    assert device.findtext(f"{UPNP_NS}friendlyName") == friendly
    assert device.findtext(f"{UPNP_NS}modelName") == "DS\ufffd<&>\ufffd[0m"
    assert device.find(f"{UPNP_NS}presentationURL") is not None


def test_only_the_upnp_port_serves_the_description(lab: LabRuntime):
    # SSDP points only at a UPnP service; the web UI treats the path like any other page.
    status, _, _ = _exchange(GATEWAY, Service.HTTP, b"GET /description.xml HTTP/1.0\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 401")  # Basic protects every page, this one too
    status, _, _ = _exchange(UPS, Service.HTTP, b"GET /description.xml HTTP/1.0\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 404")


# -------------------------------------------------------------------------- RTSP
def test_rtsp_options_describe_with_digest_setup_and_play(lab: LabRuntime):
    url = f"rtsp://{CAMERA.ip}:{_port(CAMERA, Service.RTSP)}/Streaming/Channels/101"
    with socket.create_connection((CAMERA.ip, _port(CAMERA, Service.RTSP)), timeout=5) as s:
        def ask(method: str, cseq: int, *extra: str) -> tuple[bytes, dict[bytes, bytes], bytes]:
            lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", *extra, "", ""]
            s.sendall("\r\n".join(lines).encode())
            return _read_message(s)

        status, headers, _ = ask("OPTIONS", 1)
        assert status == b"RTSP/1.0 200 OK" and headers[b"cseq"] == b"1"
        assert headers[b"public"] == b"OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"
        assert b"server" not in headers  # the Hikvision-like persona has none

        status, headers, _ = ask("DESCRIBE", 2, "Accept: application/sdp")
        assert status == b"RTSP/1.0 401 Unauthorized" and headers[b"cseq"] == b"2"
        params = _challenge(headers[b"www-authenticate"])
        assert headers[b"www-authenticate"].startswith(b'Digest realm="IP Camera(J12345)"')

        def authorization(method: str, password: str) -> str:
            ha1 = _md5(f"admin:{params['realm']}:{password}")
            answer = _md5(f"{ha1}:{params['nonce']}:{_md5(f'{method}:{url}')}")
            return (f'Authorization: Digest username="admin", realm="{params["realm"]}", '
                    f'nonce="{params["nonce"]}", uri="{url}", response="{answer}"')

        status, _, _ = ask("DESCRIBE", 3, authorization("DESCRIBE", "wrong"))
        assert status == b"RTSP/1.0 401 Unauthorized"
        status, headers, sdp = ask("DESCRIBE", 4, authorization("DESCRIBE", "12345"))
        assert status == b"RTSP/1.0 200 OK" and headers[b"cseq"] == b"4"
        assert headers[b"content-type"] == b"application/sdp"
        assert headers[b"content-base"] == f"{url}/".encode()
        assert sdp.startswith(b"v=0\r\n") and b"m=video 0 RTP/AVP 96\r\n" in sdp
        assert b"a=rtpmap:96 H264/90000" in sdp

        status, _, _ = ask("PLAY", 5, authorization("PLAY", "12345"))
        assert status == b"RTSP/1.0 455 Method Not Valid in This State"
        status, headers, _ = ask("SETUP", 6, authorization("SETUP", "12345"),
                                 "Transport: RTP/AVP;unicast;client_port=5000-5001")
        assert status == b"RTSP/1.0 200 OK"
        session = headers[b"session"].split(b";")[0].decode()
        assert b"server_port=" in headers[b"transport"]
        status, headers, _ = ask("PLAY", 7, authorization("PLAY", "12345"),
                                 f"Session: {session}")
        assert status == b"RTSP/1.0 200 OK" and headers[b"cseq"] == b"7"
        status, _, _ = ask("TEARDOWN", 8, f"Session: {session}")
        assert status == b"RTSP/1.0 200 OK"


def test_rtsp_garbage_and_hostile_server_header(lab: LabRuntime):
    hostile = _hostile("DS-2CD2143G2-I", "hq-cam-0502")["rtsp_server"]
    status, headers, _ = _exchange(HOSTILE, Service.RTSP, b"\x00\x01garbage\r\n\r\n")
    assert status == b"RTSP/1.0 400 Bad Request"
    assert headers[b"server"] == wire(hostile)
    status, headers, _ = _exchange(HOSTILE, Service.RTSP,
                                   b"GET / RTSP/1.0\r\nCSeq: 1\r\nX: " + b"a" * 20000)
    assert status in (b"", b"RTSP/1.0 400 Bad Request")
    status, headers, _ = _exchange(HOSTILE, Service.RTSP,
                                   b"OPTIONS * RTSP/1.0\r\nCSeq: 9\r\n\r\n")
    assert status == b"RTSP/1.0 200 OK" and headers[b"cseq"] == b"9"
    status, _, _ = _exchange(HOSTILE, Service.RTSP, b"GET / HTTP/1.1\r\n\r\n")
    assert status == b"RTSP/1.0 505 RTSP Version Not Supported"


# -------------------------------------------------------------------------- nmap
def test_nmap_identifies_http_and_rtsp(lab: LabRuntime):
    nmap = client_tool("nmap")
    ports = f"{_port(UPS, Service.HTTP)},{_port(UPS, Service.RTSP)}"
    done = subprocess.run([nmap, "-sT", "-sV", "-Pn", "-n", "--script", "rtsp-methods",
                           "-p", ports, UPS.ip, "-oX", "-"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    found, scripts = {}, {}
    for port in ET.fromstring(done.stdout).iter("port"):  # noqa: S314 - our own nmap run
        service = port.find("service")
        assert service is not None
        found[int(port.get("portid", "0"))] = (service.get("name"), service.get("product"))
        scripts.update({s.get("id"): s.get("output") for s in port.iter("script")})
    assert found[_port(UPS, Service.HTTP)] == ("http", "lighttpd")
    assert found[_port(UPS, Service.RTSP)][0] == "rtsp"
    assert scripts["rtsp-methods"] == "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"

