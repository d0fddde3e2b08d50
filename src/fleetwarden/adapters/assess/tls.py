"""A full TLS scan of a device's TLS services with sslyze, graded against Mozilla's profiles.

Each target is scanned with exactly the commands sslyze's Mozilla TLS configuration
checker needs (``SCAN_COMMANDS``): every protocol's cipher suites (SSL 2.0 to TLS 1.3),
TLS_FALLBACK_SCSV, certificate information, elliptic curves, and the vulnerability
tests the checker reads (Heartbleed, ROBOT, CCS injection, compression, renegotiation,
extended master secret). Fewer commands would be faster, but then the checker refuses
to grade (``ServerScanResultIncomplete``). The set costs some 600 handshakes a service,
533 of them sslyze's one-suite-at-a-time enumeration, so two things keep it affordable
(ADR 0013):

* SSL 3.0, TLS 1.0 and TLS 1.1 are first offered with every suite sslyze knows, in two
  ClientHellos small enough for servers that choke on big ones; a protocol the server
  refuses both times (an alert or a closed connection, never a ServerHello) has all its
  suites rejected without trying them one by one (``_refused_protocols``). Anything
  else - a ServerHello, a timeout, an odd error - gets the full enumeration. A modern
  server then costs ~240 handshakes instead of ~600.
* Many targets are spread over one worker process per CPU: sslyze's handshakes hold
  the GIL, so one process never uses more than a core.

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

import contextlib
import dataclasses
import ipaddress
import logging
import math
import multiprocessing
import os
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from functools import cache
from pathlib import Path
from traceback import TracebackException
from typing import Any
from uuid import UUID

from cryptography.utils import CryptographyDeprecationWarning
from nassl.ssl_client import ClientCertificateRequested
from sslyze import (
    CertificateInfoExtraArgument,
    CipherSuiteRejectedByServer,
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
    TlsVersionEnum,
)
from sslyze.__version__ import __version__ as _SSLYZE_VERSION
from sslyze.connection_helpers.tls_connection import SslConnection
from sslyze.errors import ServerRejectedTlsHandshake
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    ServerScanResultIncomplete,
    TlsConfigurationAsJson,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)
from sslyze.plugins.openssl_cipher_suites.cipher_suites import CipherSuitesRepository
from sslyze.scanner.models import CipherSuitesScanAttempt

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
#: Protocols whose suites are enumerated only if the server does not refuse the protocol.
_GATED: tuple[tuple[ScanCommand, TlsVersionEnum], ...] = (
    (ScanCommand.SSL_3_0_CIPHER_SUITES, TlsVersionEnum.SSL_3_0),
    (ScanCommand.TLS_1_0_CIPHER_SUITES, TlsVersionEnum.TLS_1_0),
    (ScanCommand.TLS_1_1_CIPHER_SUITES, TlsVersionEnum.TLS_1_1),
)
#: Every suite of sslyze's legacy OpenSSL, in two ClientHellos of under 70 suites each
#: (the first is sslyze's own default list, kept small for servers that fail on big
#: hellos; the second is everything else). Together they offer every suite sslyze
#: would try one by one for SSL 3.0, TLS 1.0 and TLS 1.1.
_PROBE_CIPHERS = ("HIGH:MEDIUM:-aNULL:-eNULL:-3DES:-SRP:-PSK:-CAMELLIA",
                  "ALL:COMPLEMENTOFALL:-HIGH:-MEDIUM:aNULL:eNULL:3DES:SRP:PSK:CAMELLIA")
#: sslyze's words for a handshake that ended before any ServerHello: the refusals that
#: count. Anything else (a ServerHello, then trouble) means the protocol may be spoken.
_REFUSALS = frozenset({
    "TLS alert: protocol version ", "TLS alert: handshake failure",
    "TLS error: wrong version number", "TLS error: wrong SSL version",
    "Server interrupted the TLS handshake", "Server rejected the connection",
    "Server closed the connection during the TLS handshake",
})
#: Why every suite of a refused protocol is listed as rejected.
_PROTOCOL_REFUSED = "protocol refused (offered with every suite, two ClientHellos)"

#: Strictest first: the first profile met is the one reported.
_PROFILES = (TlsConfigurationEnum.MOZILLA_MODERN, TlsConfigurationEnum.MOZILLA_INTERMEDIATE,
             TlsConfigurationEnum.MOZILLA_OLD)

#: Below this many targets one process scans them all: starting workers costs seconds.
POOL_THRESHOLD = 16
#: Most targets a worker takes (and scans at once) at a time: progress moves as chunks
#: finish, and few servers per process keep sslyze's threads from fighting over the GIL
#: (measured: 4-8 servers per process scan as fast as 16 for 15 % less CPU).
CHUNK = 8

Target = tuple[str, int, str]


def scan_tls(targets: Sequence[Target], *, timeout: float = 5.0, concurrency: int = 32,
             progress: Callable[[int, int], None] | None = None,
             ca_file: Path | None = None, processes: int | None = None,
             pool_threshold: int = POOL_THRESHOLD,
             skip_refused: bool = True) -> dict[tuple[str, int], TlsScan]:
    """Scan every (ip, port, service) target; one ``TlsScan`` per (ip, port).

    ``timeout`` is sslyze's network timeout (whole seconds, at least 1); ``concurrency``
    is how many servers are scanned at once in all (each with up to
    ``PER_SERVER_CONNECTIONS`` connections); ``ca_file`` is a PEM bundle of the tenant's
    device CAs, trusted in addition to sslyze's stores. ``progress(done, total)`` is
    called as servers finish.

    sslyze is CPU-bound in one process (its handshakes hold the GIL), so from
    ``pool_threshold`` targets on they are spread over ``processes`` worker processes
    (default: one per CPU), started fresh (``spawn``: the caller may be a threaded
    server, where ``fork`` is unsafe), in chunks of ``CHUNK`` or fewer so ``progress``
    keeps moving. A worker that fails gives its chunk's targets an ``error`` instead.
    ``skip_refused=False`` enumerates the suites of protocols the server refused too.
    """
    results: dict[tuple[str, int], TlsScan] = {}
    valid: list[Target] = []
    extra = _extra_arguments(ca_file)
    for ip, port, service in _unique(targets):
        try:
            _request(ip, port, timeout, extra)
        except (ValueError, TypeError) as exc:
            results[(ip, port)] = _failed(port, service, f"not scanned: {_one_line(exc)}")
            continue
        valid.append((ip, port, service))
    total, done = len(valid) + len(results), len(results)
    if progress is not None and total:
        progress(done, total)
    if not valid:
        return results
    workers = max(1, processes if processes is not None else (os.cpu_count() or 1))
    if workers == 1 or len(valid) < max(2, pool_threshold):
        results.update(_scan_here(valid, timeout, concurrency, ca_file, skip_refused,
                                  _counter(progress, done, total)))
        return results
    results.update(_scan_pool(valid, timeout, concurrency, ca_file, skip_refused, workers,
                              _counter(progress, done, total)))
    return results


def _counter(progress: Callable[[int, int], None] | None, done: int, total: int
             ) -> Callable[[int], None]:
    """A callback adding ``n`` finished servers to the count ``progress`` sees."""
    state = [done]

    def finished(n: int) -> None:
        state[0] += n
        if progress is not None and n:
            progress(state[0], total)
    return finished


def _scan_pool(targets: list[Target], timeout: float, concurrency: int,
               ca_file: Path | None, skip_refused: bool, workers: int,
               finished: Callable[[int], None]) -> dict[tuple[str, int], TlsScan]:
    """``targets`` in chunks over ``workers`` fresh processes; a chunk whose worker fails
    gets ``error`` results, and a pool that cannot start leaves the work to this one."""
    results: dict[tuple[str, int], TlsScan] = {}
    size = max(1, min(CHUNK, math.ceil(len(targets) / (workers * 4))))
    chunks = [targets[i:i + size] for i in range(0, len(targets), size)]
    per_worker = max(1, min(size, math.ceil(concurrency / workers)))
    try:
        pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks)),
                                   mp_context=multiprocessing.get_context("spawn"))
    except (OSError, ValueError) as exc:
        log.warning("TLS scan: no worker processes (%s); scanning in this one",
                    _one_line(exc))
        return _scan_here(targets, timeout, concurrency, ca_file, skip_refused, finished)
    with pool:
        futures = {pool.submit(_scan_chunk, chunk, timeout, per_worker, ca_file,
                               skip_refused): chunk
                   for chunk in chunks}
        for future in as_completed(futures):
            chunk = futures[future]
            try:
                scanned = future.result()
            except Exception as exc:  # noqa: BLE001 - a broken worker blames no server
                log.warning("TLS scan worker failed: %s", _one_line(exc) or type(exc).__name__)
                why = f"sslyze worker failed: {type(exc).__name__}"
                scanned = {(ip, port): _failed(port, service, why)
                           for ip, port, service in chunk}
            results.update(scanned)
            finished(len(chunk))
    return results


def _scan_chunk(targets: list[Target], timeout: float, concurrency: int,
                ca_file: Path | None, skip_refused: bool) -> dict[tuple[str, int], TlsScan]:
    """A worker process's share (module level, so ``spawn`` can pickle it)."""
    return _scan_here(targets, timeout, concurrency, ca_file, skip_refused, lambda n: None)


def _scan_here(targets: list[Target], timeout: float, concurrency: int,
               ca_file: Path | None, skip_refused: bool, finished: Callable[[int], None]
               ) -> dict[tuple[str, int], TlsScan]:
    """Scan ``targets`` (already checked by ``_request``) with sslyze in this process."""
    results: dict[tuple[str, int], TlsScan] = {}
    extra = _extra_arguments(ca_file)
    requests: list[ServerScanRequest] = []
    pending: dict[UUID, Target] = {}
    refused: dict[UUID, frozenset[ScanCommand]] = {}
    probes = [_request(ip, port, timeout, extra) for ip, port, service in targets]
    gated: list[frozenset[ScanCommand]] = [frozenset()] * len(probes)
    if skip_refused:
        with ThreadPoolExecutor(max(1, min(concurrency, len(probes)))) as threads:
            gated = list(threads.map(_refused_protocols, probes))
    for (ip, port, service), probe, skip in zip(targets, probes, gated, strict=True):
        request = _request(ip, port, timeout, extra, SCAN_COMMANDS - skip) if skip else probe
        requests.append(request)
        pending[request.uuid] = (ip, port, service)
        refused[request.uuid] = skip
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
                server = _with_refused(server, refused[server.uuid])
                results[(ip, port)] = _to_scan(server, port, service)
                finished(1)
        except Exception as exc:  # noqa: BLE001 - sslyze itself failed: no server gets blamed
            log.warning("sslyze failed: %s", _one_line(exc))
    for ip, port, service in pending.values():  # only when sslyze itself broke down
        results[(ip, port)] = _failed(port, service, "sslyze stopped before this server")
    finished(len(pending))
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


def _request(ip: str, port: int, timeout: float, extra: ScanCommandsExtraArguments | None,
             commands: frozenset[ScanCommand] = SCAN_COMMANDS) -> ServerScanRequest:
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
        scan_commands=set(commands),
        scan_commands_extra_arguments=extra or ScanCommandsExtraArguments(),
    )


# ------------------------------------------------------------- refused protocols
def _refused_protocols(request: ServerScanRequest) -> frozenset[ScanCommand]:
    """The legacy protocols whose suites need no one-by-one enumeration: the server
    refused the protocol before any ServerHello both times it was offered every suite."""
    refused = set()
    for command, version in _GATED:
        if all(_refuses(request, version, ciphers) for ciphers in _PROBE_CIPHERS):
            refused.add(command)
    return frozenset(refused)


def _refuses(request: ServerScanRequest, version: TlsVersionEnum, ciphers: str) -> bool:
    """True only for a clean refusal of one ClientHello; False for a ServerHello and for
    anything unclear (a timeout, an error sslyze has no name for)."""
    connection = None
    try:
        connection = SslConnection(
            server_location=request.server_location,
            network_configuration=request.network_configuration, tls_version=version,
            should_ignore_client_auth=False, should_use_legacy_openssl=True)
        connection.ssl_client.set_cipher_list(ciphers)
        connection.connect(should_retry_connection=False)
    except ServerRejectedTlsHandshake as exc:
        return exc.error_message in _REFUSALS
    except ClientCertificateRequested:
        return False  # the server got as far as asking for a certificate
    except Exception:  # noqa: BLE001 - unclear: leave it to the full enumeration
        return False
    finally:
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
    return False


def _with_refused(server: ServerScanResult, refused: frozenset[ScanCommand]
                  ) -> ServerScanResult:
    """``server`` with a completed result, every suite rejected, for each protocol
    ``_refused_protocols`` found refused (sslyze did not run those commands)."""
    if not refused or server.scan_result is None:
        return server
    attempts: dict[str, Any] = {}
    for command, version in _GATED:
        if command in refused:
            attempts[command.value] = CipherSuitesScanAttempt(
                status=ScanCommandAttemptStatusEnum.COMPLETED, error_reason=None,
                error_trace=None, result=CipherSuitesScanResult(
                    tls_version_used=version, accepted_cipher_suites=[],
                    rejected_cipher_suites=[
                        CipherSuiteRejectedByServer(cipher_suite=suite,
                                                    error_message=_PROTOCOL_REFUSED)
                        for suite in CipherSuitesRepository.get_all_cipher_suites(version)]))
    return dataclasses.replace(
        server, scan_result=dataclasses.replace(server.scan_result, **attempts))


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
                issues = tuple(_bounded(f"{key}: {_sorted_sets(text)}", MAX_ISSUE_TEXT)
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


#: A Python set of strings as sslyze's checker prints it: ``{'TLSv1.1', 'TLSv1'}``.
_SET_OF_STRINGS = re.compile(r"\{('[^'{}]*'(?:, '[^'{}]*')*)\}")


def _sorted_sets(text: str) -> str:
    """The checker's text with each set's items sorted: sets print in hash order, which
    differs from process to process, and the same finding must read the same."""
    return _SET_OF_STRINGS.sub(
        lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", text)


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
