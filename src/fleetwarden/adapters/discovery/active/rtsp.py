"""RTSP identification: OPTIONS, then DESCRIBE without credentials, on one connection.

OPTIONS shows the Server header (``Rtsp Server/3.0``, ``GStreamer RTSP server``);
DESCRIBE normally answers 401 with the Digest or Basic realm, which names many camera
lines (``IP Camera(xxxxxx)``, ``AXIS_<MAC>``).

Must not: send credentials, SETUP or PLAY (no media is ever asked for).
"""

from __future__ import annotations

from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.http import USER_AGENT, challenge, exchange, request
from fleetwarden.adapters.discovery.active.net import Stream
from fleetwarden.adapters.discovery.active.products import from_server_header
from fleetwarden.domain.discovery import Field


async def identify(stream: Stream, ip: str, draft: Draft, timeout: float) -> bool:
    """True when the service answered like RTSP."""
    url = f"rtsp://{ip}:{draft.port}/"
    common = (f"User-Agent: {USER_AGENT}",)
    options = await exchange(stream, request("OPTIONS", url, "RTSP/1.0",
                                             ("CSeq: 1", *common)), b"RTSP", timeout)
    if options is None:
        return False
    draft.service = "rtsp"
    draft.set_banner(options.head_text)
    server = options.header("server")
    describe = await exchange(stream, request("DESCRIBE", url, "RTSP/1.0",
                                              ("CSeq: 2", "Accept: application/sdp", *common)),
                              b"RTSP", timeout)
    if describe is not None:
        server = server or describe.header("server")
        _, realm = challenge(describe.all("www-authenticate"))
        draft.put(Field.RTSP_REALM, realm)
    draft.put(Field.RTSP_SERVER, server)
    draft.set_product(*from_server_header(server))
    return True
