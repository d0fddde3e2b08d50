"""Product and version where a protocol states them plainly (Server headers, SSH ids).

Only the obvious is read here (``lighttpd/1.4.45``, ``SSH-2.0-dropbear_2019.78``,
``mosquitto version 2.0.18``); what a banner means for vendor and model is the
fingerprint rules' job (``catalogues/fingerprints``), with evidence.

Must not: guess vendors or models, or return anything not found in the given text.
"""

from __future__ import annotations

import re

_SOFTWARE = re.compile(r"([A-Za-z][A-Za-z0-9 ._+-]{0,63}?)[/_ -]v?(\d[\w.+~-]{0,31})")
_NAME_ONLY = re.compile(r"[A-Za-z][A-Za-z0-9 ._+-]{0,63}")
_VERSION_AFTER = re.compile(r"version\s+v?(\d[\w.+~-]{0,31})", re.IGNORECASE)
_FTP_SERVERS = re.compile(
    r"\b(vsFTPd|ProFTPD|Pure-FTPd|FileZilla Server|Microsoft FTP Service|BusyBox ftpd|"
    r"GNU inetutils FTPD|wu-ftpd)\b[ (/v]*(\d[\w.+-]{0,31})?", re.IGNORECASE)


def from_server_header(value: str | None) -> tuple[str | None, str | None]:
    """``lighttpd/1.4.45`` -> (lighttpd, 1.4.45); ``App-webs/`` -> (App-webs, None)."""
    if not value:
        return None, None
    head = re.split(r"[;(,]", value.strip(), maxsplit=1)[0].strip()
    first = head.split(" ")[0] if "/" in head.split(" ")[0] else head
    name, slash, rest = first.partition("/")
    name = name.strip()
    if not _NAME_ONLY.fullmatch(name):
        return None, None
    version = re.match(r"v?(\d[\w.+~-]{0,31})", rest.strip()) if slash else None
    return name, version.group(1) if version else None


def from_ssh_banner(line: str | None) -> tuple[str | None, str | None]:
    """``SSH-2.0-OpenSSH_9.6p1 Debian`` -> (OpenSSH, 9.6p1)."""
    if not line or not line.startswith("SSH-"):
        return None, None
    software = line.split("-", 2)[2] if line.count("-") >= 2 else ""
    software = software.split(" ")[0]
    found = _SOFTWARE.fullmatch(software) or _SOFTWARE.match(software)
    if found:
        return found.group(1), found.group(2)
    return (software, None) if _NAME_ONLY.fullmatch(software) else (None, None)


def from_broker_version(text: str | None) -> tuple[str | None, str | None]:
    """``mosquitto version 2.0.18`` -> (mosquitto, 2.0.18)."""
    if not text:
        return None, None
    version = _VERSION_AFTER.search(text)
    name = text.split(" ")[0]
    if not _NAME_ONLY.fullmatch(name):
        return None, version.group(1) if version else None
    return name, version.group(1) if version else None


def from_ftp_banner(text: str | None) -> tuple[str | None, str | None]:
    """Well-known FTP daemons that name themselves in the greeting."""
    found = _FTP_SERVERS.search(text or "")
    return (found.group(1), found.group(2)) if found else (None, None)
