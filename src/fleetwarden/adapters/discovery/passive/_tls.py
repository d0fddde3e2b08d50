"""The TLS a passive observer can read: ClientHello SNI, ServerHello version, and the
server's certificate (read by ``discovery.certificates``, as the active scanner does).

The handshake is read from one direction of a TCP stream as it arrives, segment by
segment, because records and handshake messages span segments (a certificate chain
rarely fits in one). It is parsed here rather than with ``dpkt.ssl`` because a capture
gives pieces, not whole records, and a hostile one gives lengths that lie; every length
is checked against what is there and against ``MAX_HANDSHAKE``.

Must not: decrypt anything, trust a length field, or keep more than ``MAX_HANDSHAKE``
bytes of one stream.
"""

from __future__ import annotations

from collections.abc import Mapping

from fleetwarden.adapters.discovery import certificates
from fleetwarden.domain.discovery import CertificateInfo, bounded

#: Bytes of one direction's handshake kept at most (a whole certificate chain fits).
MAX_HANDSHAKE = 128 * 1024
HANDSHAKE, CLIENT_HELLO, SERVER_HELLO, CERTIFICATE, SERVER_HELLO_DONE = 22, 1, 2, 11, 14
VERSIONS: Mapping[int, str] = {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1",
                               0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
_SUPPORTED_VERSIONS, _SERVER_NAME = 0x002B, 0x0000


class TlsError(ValueError):
    """The bytes are not the TLS they claim to be."""


class HandshakeStream:
    """One direction of a TCP connection, read as TLS handshake messages.

    ``feed`` takes segments in sequence order (a retransmitted overlap is trimmed, a
    gap ends the stream) and returns the handshake messages completed so far."""

    __slots__ = ("next_seq", "records", "messages", "size", "closed")

    def __init__(self, seq: int) -> None:
        self.next_seq = seq
        self.records = b""
        self.messages = b""
        self.size = 0
        self.closed = False
        """True once the plaintext handshake is over, cut, or too big."""

    def feed(self, seq: int, payload: bytes) -> list[tuple[int, bytes]]:
        ahead = (seq - self.next_seq) & 0xFFFFFFFF
        if ahead >= 0x80000000:  # starts before what we have: a retransmission
            behind = 0x100000000 - ahead
            if behind >= len(payload):
                return []
            payload = payload[behind:]
        elif ahead:  # a segment is missing from the capture: the stream is unreadable
            self.closed = True
            return []
        self.next_seq = (self.next_seq + len(payload)) & 0xFFFFFFFF
        self.size += len(payload)
        if self.size > MAX_HANDSHAKE:
            self.closed = True
            return []
        self.records = self.records + payload if self.records else payload
        return self._messages()

    def _messages(self) -> list[tuple[int, bytes]]:
        data, at, n = self.records, 0, len(self.records)
        fragments = [self.messages] if self.messages else []
        while n - at >= 5:
            kind, length = data[at], (data[at + 3] << 8) | data[at + 4]
            if data[at + 1] != 3 or length > 18_432:
                raise TlsError("not a TLS record")
            if kind != HANDSHAKE:  # ChangeCipherSpec, alert, data: no more plaintext
                self.closed = True
                break
            if n - at - 5 < length:
                break
            fragments.append(data[at + 5:at + 5 + length])
            at += 5 + length
        self.records = data[at:] if at < n else b""
        msgs = fragments[0] if len(fragments) == 1 else b"".join(fragments)
        out: list[tuple[int, bytes]] = []
        at, n = 0, len(msgs)
        while n - at >= 4:
            length = (msgs[at + 1] << 16) | (msgs[at + 2] << 8) | msgs[at + 3]
            if n - at - 4 < length:
                break
            out.append((msgs[at], msgs[at + 4:at + 4 + length]))
            at += 4 + length
        self.messages = msgs[at:] if at < n else b""
        return out


def _after(data: bytes, at: int, size: int) -> int:
    """The offset after the length-prefixed (``size`` bytes) field at ``at``."""
    if at + size > len(data):
        raise TlsError("length field cut short")
    length = int.from_bytes(data[at:at + size], "big")
    end = at + size + length
    if end > len(data):
        raise TlsError("field runs past its message")
    return end


def _extensions_at(body: bytes, at: int) -> tuple[int, int]:
    """(start, end) of the extension list whose length field is at ``at``; (0, 0) when
    the message ends before it (extensions are optional)."""
    if at + 2 > len(body):
        if at > len(body):
            raise TlsError("hello cut short")
        return 0, 0
    end = at + 2 + (body[at] << 8 | body[at + 1])
    if end > len(body):
        raise TlsError("extensions run past the hello")
    return at + 2, end


def _find(body: bytes, pos: int, end: int, wanted: int) -> tuple[int, int] | None:
    """(start, size) of extension ``wanted`` among those in ``body[pos:end]``."""
    while pos + 4 <= end:
        kind, size = body[pos] << 8 | body[pos + 1], body[pos + 2] << 8 | body[pos + 3]
        pos += 4
        if pos + size > end:
            raise TlsError("extension runs past its block")
        if kind == wanted:
            return pos, size
        pos += size
    return None


def client_hello_sni(body: bytes) -> str | None:
    """The host name a client asked for (server_name extension), if any."""
    at = 34 + 1 + body[34]  # version, random, session id
    at += 2 + (body[at] << 8 | body[at + 1])  # cipher suites
    at += 1 + body[at]  # compression methods
    found = _find(body, *_extensions_at(body, at), _SERVER_NAME)
    if found is None:
        return None
    pos, size = found
    if size < 5 or body[pos + 2] != 0:  # a list whose first entry is a host name
        return None
    length = body[pos + 3] << 8 | body[pos + 4]
    if 5 + length > size:
        raise TlsError("server name runs past its extension")
    return bounded(body[pos + 5:pos + 5 + length])


def server_hello_version(body: bytes) -> str | None:
    """The negotiated version: supported_versions when present (TLS 1.3), else the
    legacy field."""
    if len(body) < 38:
        raise TlsError("ServerHello cut short")
    version = body[0] << 8 | body[1]
    at = 34 + 1 + body[34] + 3  # session id, then cipher suite and compression method
    found = _find(body, *_extensions_at(body, at), _SUPPORTED_VERSIONS)
    if found is not None and found[1] == 2:
        version = body[found[0]] << 8 | body[found[0] + 1]
    return VERSIONS.get(version, f"0x{version:04x}")


def leaf_certificate(body: bytes) -> bytes | None:
    """The first (the server's own) DER certificate of a TLS 1.0-1.2 Certificate."""
    chain_end = _after(body, 0, 3)
    if chain_end == 3:
        return None
    return body[6:_after(body[:chain_end], 3, 3)]


def certificate_info(der: bytes) -> CertificateInfo:
    """The facts of a DER certificate; ``TlsError`` when it cannot be read, so that a
    capture counts it as malformed and nmap's import skips it with a note."""
    info = certificates.certificate_info(der)
    if info is None:
        raise TlsError("unreadable certificate")
    return info
