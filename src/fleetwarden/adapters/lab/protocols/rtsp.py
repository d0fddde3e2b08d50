"""The RTSP/1.0 stream server of a lab camera or recorder, as scanners and players see it.

OPTIONS answers without credentials; DESCRIBE, SETUP and PLAY need Digest (the legacy
RFC 2069 form many cameras use, qop accepted) against ``device.accepts(Service.RTSP)``.
DESCRIBE returns an SDP with one H.264 track; SETUP and PLAY agree to a session. Framing
(bounded head, Content-Length body, 400 on garbage) is shared with the HTTP personality.

Must not: send media or open RTP/RTCP sockets, trust any client-controlled size, or let
persona text break the framing.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from fleetwarden.adapters.lab.protocols.base import IDLE_TIMEOUT, LabContext
from fleetwarden.adapters.lab.protocols.http import (
    BadRequest,
    DigestAuth,
    Request,
    Response,
    candidate_passwords,
    read_request,
    render,
)
from fleetwarden.domain.lab import LabDevice, LabService, Service

VERSION = "RTSP/1.0"
PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"
#: Requests on one connection; players send GET_PARAMETER keep-alives within the timeout.
MAX_REQUESTS = 100
#: Session timeout announced in ``Session:``; the device hangs up after this much silence.
SESSION_TIMEOUT = int(IDLE_TIMEOUT)
_NEEDS_AUTH = {"DESCRIBE", "SETUP", "PLAY"}
_KNOWN = {"ANNOUNCE", "PAUSE", "RECORD", "REDIRECT", "SET_PARAMETER"}
_CLIENT_PORTS = re.compile(r"client_port=(\d{1,5})-(\d{1,5})")
_SDP = "application/sdp"


@dataclass
class _Camera:
    """One RTSP connection: its authentication realm and (at most) one session."""

    device: LabDevice
    service: LabService
    digest: DigestAuth
    session: str | None = None

    def answer(self, request: Request) -> Response:
        method = request.method
        if method == "OPTIONS":
            return Response(200, headers=[("Public", PUBLIC.encode("ascii"))])
        if method in _KNOWN:
            return Response(405, headers=[("Allow", PUBLIC.encode("ascii"))])
        if method not in _NEEDS_AUTH | {"TEARDOWN", "GET_PARAMETER"}:
            return Response(501)
        if method in _NEEDS_AUTH:
            verdict = self.digest.check(
                request, request.header("authorization"),
                lambda user, password: self.device.accepts(Service.RTSP, user, password),
                candidate_passwords(self.device))
            if verdict.user is None:
                challenge = self.digest.challenge(stale=verdict.stale)
                return Response(401, headers=[("WWW-Authenticate", challenge)])
        return self._session_method(request)

    def _session_method(self, request: Request) -> Response:
        offered = request.header("session").split(";")[0].strip()
        if offered and offered != self.session:
            return Response(454)
        if request.method == "DESCRIBE":
            return self._describe(request)
        if request.method == "SETUP":
            return self._setup(request)
        if request.method == "PLAY":
            return self._play(request)
        if request.method == "TEARDOWN":
            self.session = None
            return Response(200)
        return Response(200, headers=self._session_header())

    def _describe(self, request: Request) -> Response:
        base = stream_url(self.device, self.service, request.target)
        return Response(200, sdp(self.device, base), _SDP,
                        headers=[("Content-Base", f"{base}/".encode("ascii"))])

    def _setup(self, request: Request) -> Response:
        transport = request.header("transport").split(",")[0].strip()
        if not transport.startswith("RTP/AVP"):
            return Response(461)
        if "client_port=" in transport and _CLIENT_PORTS.search(transport) is None:
            return Response(461)
        if self.session is None:
            self.session = secrets.token_hex(8).upper()
        reply = transport
        if "client_port=" in transport:
            reply += f";server_port={8000 + 2 * (self.device.index % 1000)}-" \
                     f"{8001 + 2 * (self.device.index % 1000)}"
        reply += f";ssrc={self._ssrc():08X}"
        return Response(200, headers=[*self._session_header(),
                                      ("Transport", reply.encode("latin-1"))])

    def _play(self, request: Request) -> Response:
        if self.session is None:
            return Response(455)
        base = stream_url(self.device, self.service, request.target)
        info = f"url={base}/trackID=1;seq=1;rtptime=0".encode("ascii")
        return Response(200, headers=[*self._session_header(), ("Range", b"npt=0.000-"),
                                      ("RTP-Info", info)])

    def _session_header(self) -> list[tuple[str, bytes]]:
        if self.session is None:
            return []
        return [("Session", f"{self.session};timeout={SESSION_TIMEOUT}".encode("ascii"))]

    def _ssrc(self) -> int:
        seed = f"{self.device.serial}:{self.session}".encode()
        return int.from_bytes(hashlib.sha256(seed).digest()[:4], "big")


def stream_url(device: LabDevice, service: LabService, target: str) -> str:
    """The absolute stream URL of a request (players send it absolute, scanners a path)."""
    if target.lower().startswith("rtsp://"):
        return target.rstrip("/")
    path = target if target.startswith("/") else "/"
    return f"rtsp://{device.ip}:{service.port}{path}".rstrip("/")


def sdp(device: LabDevice, base: str) -> bytes:
    """A session description with one H.264 video track, like an IP camera's main stream."""
    session_id = int.from_bytes(hashlib.sha256(device.serial.encode()).digest()[:6], "big")
    lines = [
        "v=0",
        f"o=- {session_id} 1 IN IP4 {device.ip}",
        "s=Media Presentation",
        "e=NONE",
        "b=AS:5050",
        "t=0 0",
        f"a=control:{base}/",
        "m=video 0 RTP/AVP 96",
        "c=IN IP4 0.0.0.0",
        "b=AS:5000",
        "a=recvonly",
        "a=x-dimensions:1920,1080",
        "a=control:trackID=1",
        "a=rtpmap:96 H264/90000",
        "a=fmtp:96 profile-level-id=640028;packetization-mode=1",
        "a=framerate:25.0",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _cseq(headers: Mapping[str, str]) -> list[tuple[str, bytes]]:
    """The CSeq to echo; scanners often send none, and then none is echoed."""
    value = headers.get("cseq", "").strip()
    return [("CSeq", value.encode("latin-1"))] if value else []


def _framing(response: Response) -> list[tuple[str, bytes]]:
    if not response.body:
        return []
    return [("Content-Type", response.content_type.encode("ascii")),
            ("Content-Length", str(len(response.body)).encode("ascii"))]


async def serve_rtsp(device: LabDevice, service: LabService, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, lab: LabContext) -> None:
    """Answer RTSP requests on one connection until the client leaves or misbehaves."""
    realm = device.persona.get("rtsp_realm", device.model)
    digest = lab.device_state(device, "rtsp-digest", lambda: DigestAuth(realm, qop=False))
    camera = _Camera(device, service, digest)
    server = device.persona.get("rtsp_server", "")
    for _ in range(MAX_REQUESTS):
        try:
            request = await read_request(reader, protocol=b"RTSP")
        except BadRequest as exc:
            reason = "RTSP Version Not Supported" if exc.status == 505 else ""
            status = exc.status if exc.status in (400, 413, 505) else 400
            writer.write(render(VERSION, Response(status, reason=reason), server=server))
            return
        if request is None:
            return
        response = camera.answer(request)
        writer.write(render(VERSION, response, server=server, first=_cseq(request.headers),
                            last=_framing(response)))
        await writer.drain()
        if not request.header("cseq"):
            return  # no player leaves out CSeq; a probe that did is done after one answer
