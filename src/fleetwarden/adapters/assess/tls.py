"""A full TLS scan of a device's TLS services with sslyze, graded against Mozilla's profiles.

Each target is scanned with exactly the commands sslyze's Mozilla TLS configuration
checker needs (``SCAN_COMMANDS``): every protocol's cipher suites (SSL 2.0 to TLS 1.3),
TLS_FALLBACK_SCSV, certificate information, elliptic curves, and the vulnerability
tests the checker reads (Heartbleed, ROBOT, CCS injection, compression, renegotiation,
extended master secret). Fewer commands would be faster, but then the checker refuses
to grade (``ServerScanResultIncomplete``); on loopback the whole set costs about half a
second per service, so it is kept whole.

The result is the strictest Mozilla profile met (modern, then intermediate, then old),
why the service misses intermediate (sslyze's own words, bounded), the accepted
protocols and the accepted suites that Mozilla's intermediate profile does not allow
(sslyze's bundled profile data, IANA names). Certificates are validated against
sslyze's trust stores plus, when given, the tenant's own device CA (``ca_file``):
devices on a private PKI otherwise always fail path validation.

Must not: scan anything but the (address, port) pairs given (addresses are IPs, never
resolved), raise for one bad server (it gets a ``TlsScan`` with ``error``), or let a
traceback reach a result.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path
from traceback import TracebackException
from uuid import UUID

from cryptography.utils import CryptographyDeprecationWarning
from sslyze import (
    CertificateInfoExtraArgument,
    CipherSuitesScanResult,
    ScanCommand,
    ScanCommandAttemptStatusEnum,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanResult,
    ServerScanStatusEnum,
)
from sslyze.__version__ import __version__ as _SSLYZE_VERSION
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    ServerScanResultIncomplete,
    TlsConfigurationAsJson,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)

from fleetwarden.domain.compliance.facts import TlsScan
from fleetwarden.errors import InputError

log = logging.getLogger("fleetwarden.assess")

TOOL = f"sslyze {_SSLYZE_VERSION}"
#: What is scanned: exactly what the Mozilla checker needs (it refuses to grade less).
SCAN_COMMANDS: frozenset[ScanCommand] = frozenset(SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER)
#: Connections sslyze opens to one server at once. Embedded web servers are fragile and
#: serve a handful of clients; sslyze's default (5) is kept, measured as fast as 10.
PER_SERVER_CONNECTIONS = 5
#: Connection retries after a timeout or reset (sslyze's default is 3).
NETWORK_RETRIES = 2
#: Issues kept per service, and characters per issue.
MAX_ISSUES = 10
MAX_ISSUE_TEXT = 160
MAX_ERROR_TEXT = 200

#: Protocol scan commands and the names ``TlsScan.accepted_protocols`` uses.
_PROTOCOLS: tuple[tuple[ScanCommand, str], ...] = (
    (ScanCommand.SSL_2_0_CIPHER_SUITES, "SSLv2"),
    (ScanCommand.SSL_3_0_CIPHER_SUITES, "SSLv3"),
    (ScanCommand.TLS_1_0_CIPHER_SUITES, "TLSv1"),
    (ScanCommand.TLS_1_1_CIPHER_SUITES, "TLSv1.1"),
    (ScanCommand.TLS_1_2_CIPHER_SUITES, "TLSv1.2"),
    (ScanCommand.TLS_1_3_CIPHER_SUITES, "TLSv1.3"),
)
#: Strictest first: the first profile met is the one reported.
_PROFILES = (TlsConfigurationEnum.MOZILLA_MODERN, TlsConfigurationEnum.MOZILLA_INTERMEDIATE,
             TlsConfigurationEnum.MOZILLA_OLD)

Target = tuple[str, int, str]


def scan_tls(targets: Sequence[Target], *, timeout: float = 5.0, concurrency: int = 32,
             progress: Callable[[int, int], None] | None = None,
             ca_file: Path | None = None) -> dict[tuple[str, int], TlsScan]:
    """Scan every (ip, port, service) target; one ``TlsScan`` per (ip, port).

    ``timeout`` is sslyze's network timeout (whole seconds, at least 1); ``concurrency``
    is how many servers are scanned at once (each with up to ``PER_SERVER_CONNECTIONS``
    connections); ``ca_file`` is a PEM bundle of the tenant's device CAs, trusted in
    addition to sslyze's stores. ``progress(done, total)`` is called as servers finish.
    """
    results: dict[tuple[str, int], TlsScan] = {}
    requests: list[ServerScanRequest] = []
    pending: dict[UUID, Target] = {}
    extra = _extra_arguments(ca_file)
    for ip, port, service in _unique(targets):
        try:
            request = _request(ip, port, timeout, extra)
        except (ValueError, TypeError) as exc:
            results[(ip, port)] = _failed(port, service, f"not scanned: {_one_line(exc)}")
            continue
        requests.append(request)
        pending[request.uuid] = (ip, port, service)
    total, done = len(requests) + len(results), len(results)
    if progress is not None and total:
        progress(done, total)
    if not requests:
        return results
    scanner = Scanner(per_server_concurrent_connections_limit=PER_SERVER_CONNECTIONS,
                      concurrent_server_scans_limit=max(1, min(concurrency, len(requests))))
    with warnings.catch_warnings():
        # sslyze's bundled trust stores hold a root with a negative serial number, which
        # cryptography warns about on load (in sslyze's worker threads; the filter is
        # process-wide while it is set, which is what reaches them).
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            scanner.queue_scans(requests)
            for server in scanner.get_results():
                ip, port, service = pending.pop(server.uuid)
                results[(ip, port)] = _to_scan(server, port, service)
                done += 1
                if progress is not None:
                    progress(done, total)
        except Exception as exc:  # noqa: BLE001 - sslyze itself failed: no server gets blamed
            log.warning("sslyze failed: %s", _one_line(exc))
    for ip, port, service in pending.values():  # only when sslyze itself broke down
        results[(ip, port)] = _failed(port, service, "sslyze stopped before this server")
    return results


# ----------------------------------------------------------------------- requests
def _unique(targets: Iterable[Target]) -> list[Target]:
    seen: dict[tuple[str, int], Target] = {}
    for ip, port, service in targets:
        seen.setdefault((ip, port), (ip, port, service))
    return list(seen.values())


def _extra_arguments(ca_file: Path | None) -> ScanCommandsExtraArguments | None:
    if ca_file is None:
        return None
    try:
        return ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(ca_file)))
    except ValueError as exc:
        raise InputError(f"--ca-file {ca_file}: {_one_line(exc)}") from None


def _request(ip: str, port: int, timeout: float,
             extra: ScanCommandsExtraArguments | None) -> ServerScanRequest:
    """One server's request; the address must be an IPv4/IPv6 literal (never resolved)."""
    address = str(ipaddress.ip_address(ip))
    if not 0 < int(port) < 65536:
        raise ValueError(f"port {port} out of range")
    return ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=address, port=int(port),
                                              ip_address=address),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=address,
            network_timeout=max(1, math.ceil(timeout)),
            network_max_retries=NETWORK_RETRIES),
        scan_commands=set(SCAN_COMMANDS),
        scan_commands_extra_arguments=extra or ScanCommandsExtraArguments(),
    )


# ------------------------------------------------------------------------ results
#: Parts of an IANA suite name that make it weak whatever the protocol: no encryption,
#: no authentication, export grade, RC4, single or triple DES, MD5 MACs, IDEA, and
#: static RSA key exchange (no forward secrecy; the ROBOT family of attacks). Sound
#: suites that are not Mozilla's intermediate choice (ECDHE with CBC and SHA-1) are
#: tls-mozilla-profile's finding, not this one's.
WEAK_PARTS = ("_NULL_", "_anon_", "_EXPORT", "_RC4_", "_DES_", "_3DES_", "_DES40_",
              "_MD5", "_IDEA_")
WEAK_PREFIXES = ("TLS_RSA_WITH_", "SSL_RSA_WITH_")


def is_weak_suite(name: str) -> bool:
    return (name.endswith("_NULL") or name.startswith(WEAK_PREFIXES)
            or any(part in name for part in WEAK_PARTS))


def _to_scan(server: ServerScanResult, port: int, service: str) -> TlsScan:
    if server.scan_status != ServerScanStatusEnum.COMPLETED or server.scan_result is None:
        return _failed(port, service,
                       f"not reachable over TLS: {_trace_line(server.connectivity_error_trace)}")
    attempts = server.scan_result
    protocols: list[str] = []
    weak: set[str] = set()
    failed: list[str] = []
    for command, name in _PROTOCOLS:
        attempt = getattr(attempts, command.value)
        if attempt.status != ScanCommandAttemptStatusEnum.COMPLETED or attempt.result is None:
            failed.append(_command_error(command, attempt))
            continue
        suites: CipherSuitesScanResult = attempt.result
        if not suites.is_tls_version_supported:
            continue
        protocols.append(name)
        weak |= {s.cipher_suite.name for s in suites.accepted_cipher_suites
                 if is_weak_suite(s.cipher_suite.name)}
    fallback = attempts.tls_fallback_scsv
    scsv = (fallback.result.supports_fallback_scsv
            if fallback.status == ScanCommandAttemptStatusEnum.COMPLETED and fallback.result
            else None)
    for command in sorted(SCAN_COMMANDS - {c for c, _ in _PROTOCOLS}, key=lambda c: c.value):
        attempt = getattr(attempts, command.value)
        if attempt.status != ScanCommandAttemptStatusEnum.COMPLETED:
            failed.append(_command_error(command, attempt))
    profile, issues = _grade(server)
    return TlsScan(
        port=port, service=service, accepted_protocols=tuple(protocols),
        weak_ciphers=tuple(sorted(weak)), fallback_scsv=scsv, mozilla_profile=profile,
        mozilla_issues=issues, tool=TOOL,
        error=_bounded("incomplete: " + "; ".join(failed), MAX_ERROR_TEXT) if failed else None)


def _grade(server: ServerScanResult) -> tuple[str | None, tuple[str, ...]]:
    """(strictest profile met, why intermediate is missed) by sslyze's checker."""
    met: str | None = None
    issues: tuple[str, ...] = ()
    for which in _PROFILES:
        try:
            check_server_against_tls_configuration(server, _profile(which))
        except ServerNotCompliantWithTlsConfiguration as exc:
            if which is TlsConfigurationEnum.MOZILLA_INTERMEDIATE:
                issues = tuple(_bounded(f"{key}: {text}", MAX_ISSUE_TEXT)
                               for key, text in sorted(exc.issues.items()))[:MAX_ISSUES]
            continue
        except ServerScanResultIncomplete as exc:
            return None, (_bounded(f"not graded: {_one_line(exc)}", MAX_ISSUE_TEXT),)
        except Exception as exc:  # noqa: BLE001 - a checker bug must not sink the scan
            return None, (_bounded(f"not graded: {_one_line(exc)}", MAX_ISSUE_TEXT),)
        if met is None:
            met = which.value
        if which is not TlsConfigurationEnum.MOZILLA_OLD:
            break  # a stricter profile met: the looser ones are not needed
    return met, issues


@cache
def _profile(which: TlsConfigurationEnum) -> TlsConfigurationAsJson:
    return MozillaTlsConfiguration.get(which)


def _command_error(command: ScanCommand, attempt: object) -> str:
    reason = getattr(attempt, "error_reason", None)
    label = getattr(reason, "value", None) or str(getattr(attempt, "status", "not run"))
    trace = getattr(attempt, "error_trace", None)
    detail = _trace_line(trace) if trace else ""
    return f"{command.value} {label}" + (f" ({detail[:80]})" if detail else "")


def _trace_line(trace: TracebackException | None) -> str:
    """``ExceptionName: message`` of a traceback sslyze kept, without the traceback."""
    if trace is None:
        return "no answer"
    kind = getattr(trace, "exc_type", None)
    name = kind.__name__ if isinstance(kind, type) else "error"
    text = _one_line(trace)
    return f"{name}: {text}" if text else name


def _failed(port: int, service: str, why: str) -> TlsScan:
    return TlsScan(port=port, service=service, tool=TOOL, error=_bounded(why, MAX_ERROR_TEXT))


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _bounded(text: str, limit: int) -> str:
    text = _one_line(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"
