"""The interfaces services depend on. Adapters implement them; fakes in unit tests do too.

A unit of work is one transaction scoped to one tenant: every repository it hands
out filters by that tenant, so no service can forget to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from fleetwarden.checks import Check
from fleetwarden.domain.audit import AuditEvent, ChainHead, Checkpoint
from fleetwarden.domain.compliance.catalogue import Framework
from fleetwarden.domain.compliance.exceptions import (
    Attestation,
    EvidenceFile,
    SubjectType,
    Waiver,
)
from fleetwarden.domain.compliance.facts import CredentialTest, TlsScan
from fleetwarden.domain.compliance.records import DeviceContext, NewResult, StoredResult
from fleetwarden.domain.discovery import HostObservation, ServiceObservation, Source
from fleetwarden.domain.findings import (
    Decision,
    FindingQuery,
    NewMatch,
    StoredMatch,
    Subject,
)
from fleetwarden.domain.fingerprint import Fingerprint
from fleetwarden.domain.identifiers import IdentifierKind
from fleetwarden.domain.inventory import Alert, DiscoveredHost, ScanRecord, Schedule
from fleetwarden.domain.model import ChangeRequest, Device, Tenant, TenantSettings, User
from fleetwarden.domain.reconcile import HostStatus
from fleetwarden.domain.records import Record, RecordKind
from fleetwarden.domain.risk import ThreatProfile
from fleetwarden.domain.vulns import (
    EpssScore,
    FeedSource,
    KevEntry,
    Sbom,
    SbomComponent,
    VexStatement,
    Vulnerability,
)


class Clock(Protocol):
    def now(self) -> datetime: ...


class Signer(Protocol):
    """Signs audit checkpoints with a key kept outside the database."""

    @property
    def key_id(self) -> str: ...

    def sign_checkpoint(self, tenant_id: int, seq: int, hash: str, at: str) -> Checkpoint: ...

    def verify_checkpoint(self, cp: Checkpoint) -> bool: ...


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    state: str | None = None
    device_type: str | None = None
    site_id: int | None = None
    segment_id: int | None = None
    model_id: int | None = None
    criticality: str | None = None
    search: str | None = None
    """Substring of name, serial or hostname."""
    sort: str = "id"
    descending: bool = False
    limit: int = 50
    after: tuple[Any, int] | None = None
    """Keyset cursor: (sort value, id) of the last row of the previous page."""


class DeviceRepository(Protocol):
    def get(self, device_id: int) -> Device | None: ...

    def get_many(self, device_ids: Iterable[int]) -> dict[int, Device]: ...

    def find(self, query: DeviceQuery) -> list[Device]: ...

    def count(self, query: DeviceQuery) -> int: ...

    def iterate(self, query: DeviceQuery, batch: int = 5000) -> Iterator[Device]: ...

    def lookup(self, kind: IdentifierKind, value: str) -> list[Device]: ...

    def add(self, device: Device) -> Device: ...

    def add_many(self, batch: Sequence[Device]) -> list[tuple[int, str]]:
        """Insert new devices in bulk; (index in batch, message) for each refused row."""
        ...

    def update(self, device: Device) -> Device: ...

    def delete(self, device_id: int) -> None: ...

    def refresh_statistics(self) -> None:
        """Tell the query planner about a bulk load (may commit work of its own)."""
        ...


class RecordRepository(Protocol):
    def get(self, kind: RecordKind, record_id: int) -> Record | None: ...

    def by_name(self, kind: RecordKind, name: str) -> Record | None: ...

    def list(
        self, kind: RecordKind, *, limit: int, offset: int, sort: str, descending: bool
    ) -> list[Record]: ...

    def count(self, kind: RecordKind) -> int: ...

    def add(self, record: Record) -> Record: ...

    def update(self, record: Record) -> Record: ...

    def delete(self, kind: RecordKind, record_id: int) -> None: ...

    def in_use(self, kind: RecordKind, record_id: int) -> str | None:
        """Why the record cannot be deleted (what still refers to it), or None."""
        ...


class AuditRepository(Protocol):
    def head(self) -> ChainHead | None: ...

    def init_head(self, genesis: str) -> None: ...

    def lock_head(self) -> ChainHead | None:
        """Read the head for appending, holding a lock until the transaction ends."""
        ...

    def append(self, event: AuditEvent) -> None: ...

    def add_checkpoint(self, cp: Checkpoint) -> None: ...

    def events(self, after_seq: int = 0, batch: int = 5000) -> Iterator[AuditEvent]: ...

    def checkpoints(self) -> Iterable[Checkpoint]: ...

    def for_object(self, object_type: str, object_id: str) -> list[AuditEvent]: ...


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """A search of the audit log, newest first. Filters are exact except ``action``."""

    actor: str | None = None
    action: str | None = None
    """A prefix: ``device.`` finds every device action."""
    object_type: str | None = None
    object_id: str | None = None
    since: str | None = None
    """Events at or after this timestamp (the log's own format, see ``format_timestamp``)."""
    until: str | None = None
    """Events before this timestamp."""
    before_seq: int | None = None
    """Keyset cursor: only events older than this seq."""
    limit: int = 50


class AuditSearch(Protocol):
    """Bounded reads of the audit log for people browsing it (the chain itself is read
    through ``AuditRepository``)."""

    def search(self, q: AuditQuery, *, floor: int) -> list[AuditEvent]:
        """Up to ``q.limit`` events matching ``q``, newest first, none below seq
        ``floor`` (the caller bounds how far back one read may look)."""
        ...

    def first_seq_at(self, at: str) -> int | None:
        """The lowest seq of an event at or after ``at`` (None: no such event)."""
        ...

    def latest_of_type(self, object_type: str, action: str, limit: int) -> list[AuditEvent]:
        """Up to ``limit`` events about objects of ``object_type`` with ``action``, newest
        first, read through the object index: for a type with few events (``import``)
        in a long log."""
        ...

    def last_checkpoint(self) -> Checkpoint | None: ...


class ChangeRequestRepository(Protocol):
    def get(self, cr_id: int) -> ChangeRequest | None: ...

    def list(self, device_id: int | None = None) -> list[ChangeRequest]: ...

    def add(self, cr: ChangeRequest) -> ChangeRequest: ...

    def set_status(self, cr_id: int, status: str, approver: str | None) -> None: ...


class UserRepository(Protocol):
    def get(self, user_id: int) -> User | None: ...

    def by_email(self, email: str) -> User | None: ...

    def list(self) -> list[User]: ...

    def add(self, user: User, password_hash: str | None) -> User: ...

    def add_token(self, token_id: str, user_id: int, secret_hash: str, label: str) -> None: ...

    def revoke_tokens(self, user_id: int) -> int: ...


@dataclass(frozen=True, slots=True)
class SignInState:
    """What web sign-in needs to know about a user; never leaves the services."""

    password_hash: str | None
    totp_secret: str | None
    totp_last_step: int | None
    """The last TOTP time step accepted: a code is good once."""
    failed_signins: int
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class SavedFilter:
    id: int
    page: str
    """Which dashboard list it filters (``devices``, ``vulns``, ...)."""
    name: str
    query: str
    """The list's query string, without the leading ``?``."""


class WebRepository(Protocol):
    def sign_in_state(self, user_id: int) -> SignInState | None: ...

    def set_sign_in_state(self, user_id: int, **values: Any) -> None: ...

    def add_session(self, session_id: str, user_id: int, now: datetime, expires: datetime,
                    client: str) -> None: ...

    def revoke_session(self, session_id: str, now: datetime) -> bool: ...

    def revoke_user_sessions(self, user_id: int, now: datetime) -> int: ...

    def purge_sessions(self, before: datetime) -> int: ...

    def saved_filters(self, user_id: int, page: str) -> list[SavedFilter]: ...

    def save_filter(self, user_id: int, page: str, name: str, query: str,
                    now: datetime) -> SavedFilter: ...

    def delete_filter(self, user_id: int, filter_id: int) -> SavedFilter | None: ...


class PasswordHasher(Protocol):
    """A slow, salted password hash (argon2id in production)."""

    def hash(self, password: str) -> str: ...

    def verify(self, hashed: str, password: str) -> bool: ...

    def needs_rehash(self, hashed: str) -> bool: ...


class TenantDirectory(Protocol):
    """The only unscoped repository: finding tenants and the token that names one."""

    def all(self) -> list[Tenant]: ...

    def by_name(self, name: str) -> Tenant | None: ...

    def by_id(self, tenant_id: int) -> Tenant | None: ...

    def add(self, name: str, now: datetime) -> Tenant: ...

    def save_settings(self, tenant_id: int, settings: TenantSettings) -> None: ...

    def token(self, token_id: str) -> Any: ...

    def web_session(self, session_id: str) -> Any: ...


class DiscoveryRepository(Protocol):
    def host(self, host_id: int) -> DiscoveredHost | None: ...

    def hosts_by(self, column: str, values: Iterable[str]) -> list[DiscoveredHost]: ...

    def hosts_with_certificates(self, shas: Iterable[str]) -> list[DiscoveredHost]: ...

    def hosts_of_devices(self, device_ids: Iterable[int]) -> list[DiscoveredHost]: ...

    def list_hosts(self, status: HostStatus | None, *, limit: int,
                   offset: int = 0) -> list[DiscoveredHost]: ...

    def count_hosts(self, status: HostStatus) -> int: ...

    def add_host(self, host: DiscoveredHost) -> DiscoveredHost: ...

    def update_host(self, host: DiscoveredHost) -> DiscoveredHost: ...

    def delete_host(self, host_id: int) -> None: ...

    def devices_by(self, kind: str, values: Iterable[str]) -> dict[str, list[int]]: ...

    def mark_seen(self, device_ids: Sequence[int], at: datetime) -> None: ...

    def segment_cidrs(self) -> dict[str, tuple[int, tuple[str, ...]]]: ...

    def add_scan(self, scan: ScanRecord) -> ScanRecord: ...

    def finish_scan(self, scan_id: int, status: str, finished_at: datetime,
                    summary: dict[str, Any], error: str | None = None) -> None: ...

    def scan(self, scan_id: int) -> ScanRecord | None: ...

    def scans(self, limit: int) -> list[ScanRecord]: ...

    def add_schedule(self, s: Schedule) -> Schedule: ...

    def schedule(self, schedule_id: int) -> Schedule | None: ...

    def schedule_for(self, segment_id: int) -> Schedule | None: ...

    def schedules(self) -> list[Schedule]: ...

    def due_schedules(self, now: datetime) -> list[Schedule]: ...

    def save_schedule_run(self, schedule_id: int, *, next_run_at: datetime,
                          last_run_at: datetime | None, last_scan_id: int | None,
                          last_error: str | None) -> None: ...

    def delete_schedule(self, schedule_id: int) -> None: ...

    def add_alert(self, a: Alert) -> Alert: ...

    def alert(self, alert_id: int) -> Alert | None: ...

    def alerts(self, *, kinds: Sequence[str] = (), unacknowledged: bool = False,
               since: datetime | None = None, device_id: int | None = None,
               limit: int = 100, before_id: int | None = None) -> list[Alert]: ...

    def acknowledge(self, alert_id: int, by: str, at: datetime) -> None: ...

    def undelivered(self, limit: int, max_attempts: int) -> list[Alert]: ...

    def mark_delivery(self, alert_id: int, *, delivered_at: datetime | None,
                      error: str | None) -> None: ...


ScanProgress = Callable[[int, int, int], None]
"""(hosts done, hosts in total, hosts found)."""
ReadProgress = Callable[[int, int], None]
"""(bytes read, bytes in total)."""


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What ``discover`` asks the active scanner for."""

    ports: str = "iot-top"
    udp: bool = False
    profile: str = "normal"
    rate: int | None = None


@dataclass(frozen=True, slots=True)
class PassiveRead:
    observations: tuple[HostObservation, ...]
    warnings: tuple[str, ...] = ()


class DiscoveryTools(Protocol):
    """The network and file side of discovery, and the fingerprint catalogue."""

    def ranges(self, targets: Sequence[str]) -> list[tuple[int, int]]:
        """TARGET strings as merged inclusive address ranges (InputError when malformed or
        in a block that is never scanned)."""
        ...

    def check_options(self, options: ScanOptions) -> None:
        """Refuse a bad port list, profile or rate (InputError) before anything is sent."""
        ...

    def scan(self, targets: Sequence[str], options: ScanOptions, *,
             allow_non_loopback: bool, progress: ScanProgress | None) -> list[HostObservation]:
        ...

    def read(self, source: Source, path: str, *,
             progress: ReadProgress | None) -> PassiveRead: ...

    def fingerprint(self, observations: Sequence[HostObservation],
                    overrides: Mapping[str, str] | None = None) -> Fingerprint: ...

    def software_products(self) -> Mapping[str, str]:
        """Software names fingerprints conclude -> CPE ``vendor:product`` (a catalogue)."""
        ...


AssessProgress = Callable[[str, int, int], None]
"""(phase: scan | tls | credentials | checks, done, total)."""


class ComplianceTools(Protocol):
    """Catalogues, check plug-ins, threat profiles and the assessment's deeper probes."""

    def frameworks(self) -> Sequence[Framework]: ...

    def checks(self) -> Mapping[str, Check]: ...

    def requirement_checks(self) -> Mapping[str, tuple[str, ...]]:
        """Requirement id -> ids of the checks that evidence it (sidecars + mapping files)."""
        ...

    def threat_profiles(self) -> Mapping[str, ThreatProfile]: ...

    def scan_tls(self, targets: Sequence[tuple[str, int, str]], *,
                 progress: Callable[[int, int], None] | None = None
                 ) -> dict[tuple[str, int], TlsScan]: ...

    def test_credentials(self, hosts: Sequence[tuple[str, str | None,
                                                     Sequence[ServiceObservation]]], *,
                         authorised: Callable[[str], bool],
                         progress: Callable[[int, int], None] | None = None
                         ) -> dict[str, CredentialTest]: ...


@dataclass(frozen=True, slots=True)
class FeedData:
    """Everything one feed file held, fully read and validated (nothing applied yet)."""

    source: FeedSource
    vulnerabilities: tuple[Vulnerability, ...] = ()
    kev: tuple[KevEntry, ...] = ()
    epss: tuple[EpssScore, ...] = ()
    vex: tuple[VexStatement, ...] = ()
    warnings: tuple[str, ...] = ()
    """One line per skipped record (only with ``skip_bad_records``)."""
    skipped: int = 0
    data_date: datetime | None = None
    """The newest date the data carries (last modified record, catalogue or score date)."""


class DataReaders(Protocol):
    """SBOM and feed files (offline), read into domain values or refused in one line."""

    def read_sbom(self, path: str) -> Sbom: ...

    def read_feed(self, path: str, *, skip_bad_records: bool,
                  progress: ReadProgress | None) -> FeedData: ...

    def feed_source(self, path: str) -> FeedSource:
        """What ``path`` holds, by content (FeedError when it is no feed we read)."""
        ...

    def stream_vulnerabilities(self, path: str, *, skip_bad_records: bool,
                               warn: Callable[[str], None],
                               progress: ReadProgress | None) -> Iterator[Vulnerability]:
        """An NVD file's records in file order, in flat memory; raises at a bad record."""
        ...


class FeedStore(Protocol):
    """Public feed data shared by all tenants (vulnerabilities, KEV, EPSS)."""

    def upsert_vulnerabilities(self, batch: Sequence[Vulnerability], now: datetime) -> int: ...

    def vulnerability(self, vuln_id: str) -> Vulnerability | None: ...

    def vulnerabilities(self, ids: Sequence[str]) -> list[Vulnerability]: ...

    def ids_for_keys(self, keys: Iterable[tuple[str, str]]) -> set[str]:
        """Vulnerabilities sharing a (kind, key) match key with the given ones."""
        ...

    def ids_imported_after(self, since: datetime | None) -> list[str]: ...

    def newest_import(self) -> datetime | None: ...

    def kev_many(self, cve_ids: Iterable[str]) -> dict[str, KevEntry]: ...

    def epss_many(self, cve_ids: Iterable[str]) -> dict[str, EpssScore]: ...

    def upsert_kev(self, entries: Sequence[KevEntry], now: datetime) -> None: ...

    def upsert_epss(self, scores: Sequence[EpssScore], now: datetime) -> None: ...

    def record_import(self, *, source: FeedSource, file_name: str, sha256: str, records: int,
                      skipped: int, data_date: datetime | None, now: datetime,
                      tenant_id: int | None, actor: str) -> int: ...

    def status(self, tenant_id: int | None) -> list[dict[str, Any]]: ...


class SoftwareRepository(Protocol):
    def firmware(self, model_id: int, version: str, now: datetime) -> int: ...

    def add_sbom(self, *, device_id: int | None, firmware_id: int | None, fmt: str,
                 name: str | None, version: str | None, serial: str | None, file_name: str,
                 sha256: str, components: int, now: datetime, actor: str) -> int: ...

    def components_of(self, *, device_id: int | None = None, firmware_id: int | None = None,
                      source: str | None = None) -> list[SbomComponent]: ...

    def replace_components(self, components: Iterable[SbomComponent], *, source: str,
                           sbom_id: int | None, device_id: int | None = None,
                           firmware_id: int | None = None) -> None: ...

    def add_vex(self, statements: Sequence[VexStatement], now: datetime) -> None: ...

    def count_vex(self) -> int: ...

    def firmware_id(self, model_id: int, version: str) -> int | None: ...


class FindingRepository(Protocol):
    """A tenant's vulnerability matches, triage decisions and findings (fan-out in SQL)."""

    def firmware_subjects(self, firmware_ids: Sequence[int] | None = None
                          ) -> list[Subject]: ...

    def device_subjects(self, device_ids: Sequence[int] | None = None) -> list[Subject]: ...

    def firmware_of_device(self, device_id: int) -> int | None: ...

    def stored(self, *, firmware_ids: Sequence[int] | None = None,
               device_ids: Sequence[int] | None = None,
               vulnerability_ids: Sequence[str] | None = None) -> list[StoredMatch]: ...

    def add_matches(self, subject: Subject, found: Sequence[NewMatch],
                    signals: dict[str, tuple[int, list[str], bool, float | None]],
                    now: datetime) -> None: ...

    def set_fixed(self, match_ids: Sequence[int], fixed_at: datetime | None) -> None: ...

    def set_reasons(self, updates: Sequence[tuple[int, tuple[str, ...]]]) -> None: ...

    def set_signals(self, vuln_id: str, points: int, reasons: list[str], kev: bool,
                    epss: float | None) -> None: ...

    def set_vex(self, match_id: int, status: str | None, source: str | None) -> None: ...

    def vex_statements(self, vulnerability_ids: Sequence[str]) -> list[VexStatement]: ...

    def affected_devices(self, firmware_ids: Sequence[int]) -> dict[int, list[int]]: ...

    def refresh_data_classes(self) -> int: ...

    def state(self) -> tuple[datetime | None, datetime | None, int]: ...

    def save_state(self, matched_at: datetime, watermark: datetime | None) -> None: ...

    def decide(self, vuln_id: str, *, device_id: int | None, firmware_id: int | None,
               decision: Decision, actor: str, now: datetime) -> dict[str, Any] | None: ...

    def unverified_decisions(self) -> list[tuple[int, str, int | None, int | None]]: ...

    def still_matches(self, vuln_id: str, *, device_id: int | None,
                      firmware_id: int | None) -> bool: ...

    def mark_decisions_fixed(self, ids: Sequence[int], now: datetime) -> None: ...

    def findings(self, q: FindingQuery, now: datetime,
                 response_days: tuple[int, int, int, int]) -> list[dict[str, Any]]: ...

    def report(self, by: str, q: FindingQuery, now: datetime,
               response_days: tuple[int, int, int, int]) -> list[dict[str, Any]]: ...


class ComplianceRepository(Protocol):
    """A tenant's assessments, latest check results, attestations, waivers, snapshots."""

    def add_assessment(self, *, actor: str, targets: Sequence[str], options: Mapping[str, Any],
                       tool: str, started_at: datetime) -> int: ...

    def finish_assessment(self, assessment_id: int, *, status: str, finished_at: datetime,
                          summary: Mapping[str, Any], scan_id: int | None = None,
                          error: str | None = None) -> None: ...

    def assessments(self, limit: int = 50) -> list[dict[str, Any]]: ...

    def replace_results(self, *, device_ids: Sequence[int], host_ids: Sequence[int],
                        results: Sequence[NewResult], assessment_id: int, tool: str,
                        at: datetime) -> None: ...

    def results(self, *, device_id: int | None = None, host_id: int | None = None
                ) -> list[StoredResult]: ...

    def unregistered_results(self) -> list[StoredResult]: ...

    def stream_results(self, device_ids: Sequence[int] | None = None
                       ) -> Iterator[tuple[int, str, str, str, str, str, datetime, str]]: ...

    def device_context(self, device_ids: Sequence[int]) -> dict[int, DeviceContext]: ...

    def systems_of(self) -> list[dict[str, Any]]: ...

    def set_model_profile(self, model_id: int, services: Sequence[str] | None) -> None: ...

    def add_attestation(self, a: Attestation) -> int: ...

    def add_evidence_file(self, attestation_id: int, name: str, content: bytes, sha256: str,
                          media_type: str | None, by: str, at: datetime) -> int: ...

    def evidence_content(self, file_id: int) -> tuple[EvidenceFile, bytes] | None: ...

    def attestation(self, attestation_id: int) -> Attestation | None: ...

    def attestations(self, *, ids: Sequence[int] | None = None,
                     requirement_id: str | None = None,
                     subject: tuple[SubjectType, int] | None = None,
                     active_at: datetime | None = None) -> list[Attestation]: ...

    def revoke_attestation(self, attestation_id: int, by: str, at: datetime) -> None: ...

    def add_waiver(self, w: Waiver) -> int: ...

    def waiver(self, waiver_id: int) -> Waiver | None: ...

    def waivers(self, *, ids: Sequence[int] | None = None, active_at: datetime | None = None,
                target: str | None = None) -> list[Waiver]: ...

    def revoke_waiver(self, waiver_id: int, by: str, at: datetime) -> None: ...

    def put_snapshot(self, day: date, measures: Mapping[str, float], at: datetime) -> bool: ...

    def snapshots(self, since: date) -> list[tuple[date, dict[str, float]]]: ...

    def result_counts(self) -> dict[str, int]: ...


@dataclass(frozen=True, slots=True)
class DeviceGroup:
    """Devices that share everything the overview counts them by."""

    device_type: str
    state: str
    site_id: int | None
    criticality: str
    zone: str | None
    """The zone of the device's segment; None without a segment or zone."""
    count: int


class OverviewRepository(Protocol):
    """Aggregates for the dashboard's overview (one statement each, never a row per
    device into Python)."""

    def device_groups(self) -> list[DeviceGroup]:
        """Every device of the tenant, counted per type, state, site, criticality and
        zone."""
        ...

    def device_groups_of(self, device_ids: Sequence[int]) -> dict[int, DeviceGroup]:
        """Each of these devices as a group of one (unknown ids left out)."""
        ...

    def site_names(self) -> dict[int, str]: ...

    def snapshot_taken_at(self, day: date) -> datetime | None:
        """When the daily summary snapshot of ``day`` was taken (None: there is none)."""
        ...


class UnitOfWork(Protocol):
    """One transaction for one tenant. Leaving the ``with`` block without commit rolls back."""

    tenant: Tenant
    tenants: TenantDirectory
    devices: DeviceRepository
    records: RecordRepository
    audit: AuditRepository
    audit_search: AuditSearch
    changes: ChangeRequestRepository
    users: UserRepository
    discovery: DiscoveryRepository
    feeds: FeedStore
    software: SoftwareRepository
    findings: FindingRepository
    compliance: ComplianceRepository
    web: WebRepository
    overview: OverviewRepository

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self) -> None: ...

    def bind(self, tenant: Tenant) -> None:
        """Scope the repositories to ``tenant`` (a unit of work opened without one)."""
        ...
