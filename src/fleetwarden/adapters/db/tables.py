"""The schema, as SQLAlchemy Core tables. Alembic migrations are the source of truth
for existing databases; this module must stay in step with the newest migration
(a test compares them).

Every tenant-owned table carries ``tenant_id``; repositories always filter on it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = DateTime(timezone=True)


def as_utc(ts: datetime | None) -> datetime | None:
    """A stored timestamp in UTC (SQLite hands ``TS`` columns back without a zone)."""
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _tenant() -> Column[int]:
    return Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False)


tenants = Table(
    "tenants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("settings", Text, nullable=False, default="{}"),
    Column("created_at", TS, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("email", String(254), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(256)),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", TS, nullable=False),
    # Web sign-in: TOTP secret (base32), the last time step accepted (no replay), and
    # the failure counter behind the lockout.
    Column("totp_secret", String(64)),
    Column("totp_last_step", BigInteger),
    Column("failed_signins", Integer, nullable=False, default=0, server_default="0"),
    Column("locked_until", TS),
    UniqueConstraint("tenant_id", "email"),
)

# A signed-in browser: only the SHA-256 of the cookie's secret is stored.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    _tenant(),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("revoked_at", TS),
    Column("client", String(64)),
    Index(None, "tenant_id"),
)

# A user's named filter of a dashboard list (the query string of the page).
saved_filters = Table(
    "saved_filters",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("page", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("query", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("tenant_id", "user_id", "page", "name"),
    Index(None, "tenant_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    _tenant(),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("label", String(128)),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS),
    Column("revoked_at", TS),
)

sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("name", String(128), nullable=False),
    Column("code", String(32)),
    Column("address", String(256)),
    Column("kind", String(64)),
    UniqueConstraint("tenant_id", "name"),
)

segments = Table(
    "segments",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("name", String(128), nullable=False),
    Column("cidrs", Text, nullable=False, default="[]"),
    Column("vlan", Integer),
    Column("zone", String(32)),
    Column("site_id", Integer, ForeignKey("sites.id")),
    UniqueConstraint("tenant_id", "name"),
)

suppliers = Table(
    "suppliers",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("name", String(128), nullable=False),
    Column("contact_email", String(254)),
    Column("disclosure_url", String(512)),
    Column("notes", Text),
    UniqueConstraint("tenant_id", "name"),
)

device_models = Table(
    "device_models",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("vendor", String(128), nullable=False),
    Column("model", String(128), nullable=False),
    Column("device_type", String(32), nullable=False),
    Column("category", String(16)),
    Column("supplier_id", Integer, ForeignKey("suppliers.id")),
    Column("end_of_support", Date),
    # the hardware CPE (cpe:2.3:h:...), the platform NVD configurations often require
    Column("cpe", String(512)),
    # The model's approved service profile (["tcp/443", "udp/161"]) or NULL: none defined
    Column("approved_services", Text),
    UniqueConstraint("tenant_id", "vendor", "model"),
)

devices = Table(
    "devices",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    _tenant(),
    Column("name", String(256), nullable=False),
    Column("device_type", String(32), nullable=False),
    Column("lifecycle_state", String(16), nullable=False),
    Column("model_id", Integer, ForeignKey("device_models.id")),
    Column("serial", String(128)),
    Column("mac_addresses", Text, nullable=False, default=""),
    Column("ip_addresses", Text, nullable=False, default=""),
    Column("imei", String(15)),
    Column("iccid", String(22)),
    Column("vin", String(17)),
    Column("hostname", String(253)),
    Column("cert_sha256", String(64)),
    Column("firmware_version", String(256)),
    Column("site_id", Integer, ForeignKey("sites.id")),
    Column("segment_id", Integer, ForeignKey("segments.id")),
    Column("owner", String(256)),
    Column("criticality", String(16), nullable=False),
    Column("first_seen", TS),
    Column("last_seen", TS),
    Column("tags", Text, nullable=False, default=""),
    Column("ever_in_service", Boolean, nullable=False, default=False),
    # when firmware_version last changed (NULL: unknown); the update-stale check reads it
    Column("firmware_updated_at", TS),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index(None, "tenant_id", "device_type", "site_id", "id"),
    # The dashboard's usual list, devices of a type at a site, sorted by name or by
    # last seen, reads one page in index order instead of sorting every match.
    Index(None, "tenant_id", "device_type", "site_id", "name", "id"),
    Index(None, "tenant_id", "device_type", "site_id", "last_seen", "id"),
    Index(None, "tenant_id", "site_id", "id"),
    Index(None, "tenant_id", "lifecycle_state", "id"),
    Index(None, "tenant_id", "id"),
    Index(None, "tenant_id", "name", "id"),
    Index(None, "tenant_id", "last_seen", "id"),
    Index(None, "tenant_id", "model_id", "firmware_version"),
)

# Strong identifiers are unique per tenant: this table is what refuses duplicates.
# No foreign key on tenant_id here or in device_addresses: device_id already ties each
# row to a device of the tenant, and the extra check cost ~10% of a million-row import.
device_identifiers = Table(
    "device_identifiers",
    metadata,
    Column("tenant_id", Integer, nullable=False),  # the device row names the tenant
    Column("kind", String(16), nullable=False),
    Column("value", String(128), nullable=False),
    Column(
        "device_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("devices.id", ondelete="CASCADE"),
        nullable=False,
    ),
    PrimaryKeyConstraint("tenant_id", "kind", "value"),
    Index(None, "device_id"),
    # Clustered on the key: one b-tree per row instead of a table plus its index.
    sqlite_with_rowid=False,
)

# Weak identifiers (IP, hostname) may be shared over time, so they only index.
device_addresses = Table(
    "device_addresses",
    metadata,
    Column("tenant_id", Integer, nullable=False),  # the device row names the tenant
    Column("kind", String(16), nullable=False),
    Column("value", String(253), nullable=False),
    Column(
        "device_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("devices.id", ondelete="CASCADE"),
        nullable=False,
    ),
    PrimaryKeyConstraint("tenant_id", "kind", "value", "device_id"),
    Index(None, "device_id"),
    sqlite_with_rowid=False,
)

software_components = Table(
    "software_components",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("name", String(256), nullable=False),
    Column("version", String(128)),
    Column("purl", String(512)),
    Column("cpe", String(512)),
    Column(
        "device_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("devices.id", ondelete="CASCADE"),
    ),
    Column("model_id", Integer, ForeignKey("device_models.id", ondelete="CASCADE")),
    Column("firmware_id", Integer, ForeignKey("firmware_images.id", ondelete="CASCADE")),
    Column("sbom_id", Integer, ForeignKey("sboms.id", ondelete="SET NULL")),
    Column("supplier", String(256)),
    # manual (records CLI/API), sbom, or discovery (a banner named it)
    Column("source", String(16), nullable=False, default="manual", server_default="manual"),
    Index(None, "tenant_id", "device_id"),
    Index(None, "tenant_id", "model_id"),
    Index(None, "tenant_id", "firmware_id"),
)

iot_systems = Table(
    "iot_systems",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("name", String(128), nullable=False),
    Column("description", Text),
    Column("scope", Text),
    Column("data_flows", Text, nullable=False, default="[]"),
    Column("raci", Text, nullable=False, default="[]"),
    Column("device_ids", Text, nullable=False, default="[]"),
    # business impact assessment: low | medium | high per axis, NULL until assessed
    Column("impact_confidentiality", String(8)),
    Column("impact_integrity", String(8)),
    Column("impact_availability", String(8)),
    UniqueConstraint("tenant_id", "name"),
)

data_items = Table(
    "data_items",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("name", String(128), nullable=False),
    Column("classification", String(32), nullable=False),
    Column("description", Text),
    Column("system_id", Integer, ForeignKey("iot_systems.id")),
    Column("protected_by", Text, nullable=False, default="[]"),
    Column("aggregate_of", Text, nullable=False, default="[]"),
    UniqueConstraint("tenant_id", "name"),
)

change_requests = Table(
    "change_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column(
        "device_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("devices.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("requester", String(256), nullable=False),
    Column("approver", String(256)),
    Column("reason", Text, nullable=False),
    Column("reference", String(128)),
    Column("status", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("decided_at", TS),
    Index(None, "tenant_id", "device_id"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    _tenant(),
    Column("seq", BigInteger, nullable=False),
    Column("at", String(32), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_type", String(64), nullable=False),
    Column("object_id", String(128), nullable=False),
    Column("before", Text),
    Column("after", Text),
    Column("reason", Text),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("tenant_id", "seq"),
    Index(None, "tenant_id", "object_type", "object_id"),
)

# The head pointer: lets verification notice events cut from the end of the chain.
audit_heads = Table(
    "audit_heads",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    _tenant(),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("signature", String(128), nullable=False),
    PrimaryKeyConstraint("tenant_id", "seq"),
)

# ------------------------------------------------------------------- discovery (R4)
discovery_scans = Table(
    "discovery_scans",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("sources", String(128), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("targets", Text, nullable=False, default="[]"),
    Column("options", Text, nullable=False, default="{}"),
    Column("outside_scope", Boolean, nullable=False, default=False),
    Column("registered", Boolean, nullable=False, default=True),
    Column("segment_id", Integer, ForeignKey("segments.id", ondelete="SET NULL")),
    Column("schedule_id", Integer),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS),
    Column("summary", Text, nullable=False, default="{}"),
    Column("error", Text),
    Index(None, "tenant_id", "started_at"),
)

# One row per host discovery knows: registered devices it has seen, the unregistered
# queue and hosts marked rogue. The fingerprint and services are the latest sighting.
discovered_hosts = Table(
    "discovered_hosts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    _tenant(),
    Column(
        "device_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("devices.id", ondelete="SET NULL"),
    ),
    Column("status", String(16), nullable=False),
    Column("ip", String(45)),
    Column("mac", String(17)),
    Column("hostname", String(253)),
    Column("serial", String(128)),
    Column("ssh_host_key", String(64)),
    Column("certificates", Text, nullable=False, default=""),
    Column("vendor", String(128)),
    Column("model", String(128)),
    Column("device_type", String(32)),
    Column("firmware_version", String(128)),
    Column("os", String(128)),
    Column("confidence", Float, nullable=False, default=0.0),
    Column("fingerprint", Text, nullable=False, default="{}"),
    Column("services", Text, nullable=False, default="[]"),
    Column("overrides", Text, nullable=False, default="{}"),
    Column("sources", String(128), nullable=False, default=""),
    Column("segment_id", Integer, ForeignKey("segments.id", ondelete="SET NULL")),
    Column("first_seen", TS),
    Column("last_seen", TS),
    Column("missing_since", TS),
    Column("last_scan_id", Integer),
    Column("note", Text),
    Index(None, "tenant_id", "status", "id"),
    Index(None, "tenant_id", "device_id"),
    Index(None, "tenant_id", "ip"),
    Index(None, "tenant_id", "mac"),
    Index(None, "tenant_id", "serial"),
    Index(None, "tenant_id", "ssh_host_key"),
    Index(None, "tenant_id", "hostname"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    _tenant(),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("title", String(512), nullable=False),
    Column("details", Text, nullable=False, default="{}"),
    Column(
        "device_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("devices.id", ondelete="SET NULL"),
    ),
    Column("host_id", BigInteger().with_variant(Integer, "sqlite")),
    Column("scan_id", Integer),
    Column("created_at", TS, nullable=False),
    Column("acknowledged_at", TS),
    Column("acknowledged_by", String(256)),
    Column("delivered_at", TS),
    Column("delivery_attempts", Integer, nullable=False, default=0),
    Column("delivery_error", String(256)),
    Index(None, "tenant_id", "id"),
    Index(None, "tenant_id", "delivered_at", "id"),
)

discovery_schedules = Table(
    "discovery_schedules",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("segment_id", Integer, ForeignKey("segments.id", ondelete="CASCADE"), nullable=False),
    Column("every_seconds", Integer, nullable=False),
    Column("options", Text, nullable=False, default="{}"),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("next_run_at", TS, nullable=False),
    Column("last_run_at", TS),
    Column("last_scan_id", Integer),
    Column("last_error", Text),
    Column("created_by", String(256), nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("tenant_id", "segment_id"),
)


# ------------------------------------------------------- vulnerability management (R5)
# A model's firmware release: a model+firmware SBOM describes every device running it.
firmware_images = Table(
    "firmware_images",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("model_id", Integer, ForeignKey("device_models.id", ondelete="CASCADE"),
           nullable=False),
    Column("version", String(256), nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("tenant_id", "model_id", "version"),
)

sboms = Table(
    "sboms",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column(
        "device_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("devices.id", ondelete="CASCADE"),
    ),
    Column("firmware_id", Integer, ForeignKey("firmware_images.id", ondelete="CASCADE")),
    Column("format", String(32), nullable=False),
    Column("name", String(256)),
    Column("version", String(256)),
    Column("serial", String(512)),
    Column("file_name", String(256), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("components", Integer, nullable=False),
    Column("imported_at", TS, nullable=False),
    Column("actor", String(256), nullable=False),
    Index(None, "tenant_id", "device_id"),
    Index(None, "tenant_id", "firmware_id"),
)

# Feeds are public reference data shared by every tenant (a CVE is the same CVE for all):
# no tenant_id. Who imported what is in feed_imports and the importer's audit chain.
vulnerabilities = Table(
    "vulnerabilities",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("source", String(8), nullable=False),
    Column("aliases", Text, nullable=False, default=""),
    Column("summary", Text),
    Column("published", TS),
    Column("modified", TS),
    Column("withdrawn", TS),
    Column("cvss_version", String(8)),
    Column("cvss_score", Float),
    Column("cvss_vector", String(256)),
    # the matching data (configurations or affected packages, every CVSS) as JSON
    Column("data", Text, nullable=False),
    Column("imported_at", TS, nullable=False),
    Index(None, "imported_at"),  # what changed since a tenant last matched (ADR 0009)
)

# What a vulnerability can match: cpe "vendor:product" or pkg "ecosystem:name" keys, so
# a new or changed component is matched only against its candidates.
vulnerability_keys = Table(
    "vulnerability_keys",
    metadata,
    Column("kind", String(8), nullable=False),
    Column("key", String(256), nullable=False),
    Column("vulnerability_id", String(64),
           ForeignKey("vulnerabilities.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("kind", "key", "vulnerability_id"),
    Index(None, "vulnerability_id"),
    sqlite_with_rowid=False,
)

kev_entries = Table(
    "kev_entries",
    metadata,
    Column("cve_id", String(32), primary_key=True),
    Column("vendor", String(256)),
    Column("product", String(256)),
    Column("date_added", Date),
    Column("due_date", Date),
    Column("known_ransomware", Boolean, nullable=False, default=False),
    Column("required_action", Text),
    Column("imported_at", TS, nullable=False),
)

epss_scores = Table(
    "epss_scores",
    metadata,
    Column("cve_id", String(32), primary_key=True),
    Column("epss", Float, nullable=False),
    Column("percentile", Float, nullable=False),
    Column("scored_on", Date),
    Column("imported_at", TS, nullable=False),
)

feed_imports = Table(
    "feed_imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(8), nullable=False),
    Column("file_name", String(256), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("records", Integer, nullable=False),
    Column("skipped", Integer, nullable=False, default=0),
    # the newest date the data itself carries (last modified record, catalogue date)
    Column("data_date", TS),
    Column("imported_at", TS, nullable=False),
    Column("tenant_id", Integer, ForeignKey("tenants.id")),
    Column("actor", String(256), nullable=False),
    Index(None, "source", "imported_at"),
)

# VEX statements are a supplier's or the tenant's own word about their products: tenant data.
vex_statements = Table(
    "vex_statements",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("vulnerability_id", String(64), nullable=False),
    Column("product", String(512), nullable=False),
    Column("status", String(24), nullable=False),
    Column("justification", String(64)),
    Column("impact_statement", Text),
    Column("action_statement", Text),
    Column("statement_time", TS),
    Column("author", String(256)),
    Column("document", String(512)),
    Column("imported_at", TS, nullable=False),
    Index(None, "tenant_id", "vulnerability_id"),
)

# A vulnerability matched on a firmware image's component (shared by every device that
# runs the image) or on a device's own component. Device findings are these rows fanned
# out over the devices (adapters/db/findings.py), so a million devices on 500 images
# cost 500 images' worth of rows. A match that stops matching keeps its row, fixed_at set.
vuln_matches = Table(
    "vuln_matches",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    _tenant(),
    Column("firmware_id", Integer, ForeignKey("firmware_images.id", ondelete="CASCADE")),
    Column(
        "device_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("devices.id", ondelete="CASCADE"),
    ),
    Column("vulnerability_id", String(64), nullable=False),
    # sha256 of subject, vulnerability and component: one row per such triple
    Column("match_key", String(64), nullable=False),
    Column("component_name", String(256), nullable=False),
    Column("component_version", String(128)),
    Column("component_purl", String(512)),
    Column("component_cpe", String(512)),
    Column("component_source", String(16), nullable=False),
    Column("basis", String(8), nullable=False),
    Column("reasons", Text, nullable=False, default="[]"),
    # points the vulnerability itself brings (domain/priority.signal_points) and why
    Column("signal_points", Integer, nullable=False),
    Column("signal_reasons", Text, nullable=False, default="[]"),
    Column("kev", Boolean, nullable=False, default=False),
    Column("epss", Float),
    Column("exposed", Boolean, nullable=False, default=False),
    Column("vex_status", String(24)),
    Column("vex_source", String(512)),
    Column("first_seen", TS, nullable=False),
    Column("fixed_at", TS),
    UniqueConstraint("tenant_id", "match_key"),
    Index(None, "tenant_id", "firmware_id"),
    Index(None, "tenant_id", "device_id"),
    Index(None, "tenant_id", "vulnerability_id"),
    Index(None, "tenant_id", "kev", "first_seen", "id"),
)

# A person's triage of one vulnerability on one device, or on every device running one
# firmware image; the device's own decision wins over the image's.
finding_decisions = Table(
    "finding_decisions",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("vulnerability_id", String(64), nullable=False),
    Column(
        "device_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("devices.id", ondelete="CASCADE"),
    ),
    Column("firmware_id", Integer, ForeignKey("firmware_images.id", ondelete="CASCADE")),
    Column("status", String(24), nullable=False),
    Column("justification", String(64)),
    Column("note", Text),
    Column("approver", String(256)),
    Column("expires_at", TS),
    Column("decided_by", String(256), nullable=False),
    Column("decided_at", TS, nullable=False),
    # set when matching no longer finds it on the device or image: the fix, verified
    Column("fixed_at", TS),
    UniqueConstraint("tenant_id", "device_id", "vulnerability_id"),
    UniqueConstraint("tenant_id", "firmware_id", "vulnerability_id"),
)

# Classification of the data each device's IoT systems handle, refreshed by every
# matching run so the findings query can weigh it in SQL (domain/priority.py).
device_data_classes = Table(
    "device_data_classes",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column(
        "device_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("devices.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("classification", String(32), nullable=False),
    PrimaryKeyConstraint("tenant_id", "device_id"),
    sqlite_with_rowid=False,
)

# Per tenant: when matching last ran, and the newest feed data it has seen (vulnerabilities
# imported after it are matched incrementally).
vuln_match_state = Table(
    "vuln_match_state",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), primary_key=True),
    Column("matched_at", TS, nullable=False),
    Column("feed_watermark", TS),
    Column("runs", Integer, nullable=False, default=0),
)


# ------------------------------------------------------------------------ compliance
# One compliance assessment run (probes + checks), its options and counts.
compliance_assessments = Table(
    "compliance_assessments",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("actor", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("targets", Text, nullable=False, default="[]"),
    Column("options", Text, nullable=False, default="{}"),
    Column("scan_id", Integer),
    Column("tool", String(128), nullable=False),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS),
    Column("summary", Text, nullable=False, default="{}"),
    Column("error", Text),
)

# The latest result of each check on each device (or unregistered host): an assessment
# replaces a subject's earlier results; the assessment row and its audit event keep the run.
compliance_results = Table(
    "compliance_results",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    _tenant(),
    Column(
        "device_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("devices.id", ondelete="CASCADE"),
    ),
    Column("host_id", BigInteger().with_variant(Integer, "sqlite")),
    Column("ip", String(45)),
    Column("check_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", Text, nullable=False, default="{}"),
    Column("assessment_id", Integer, ForeignKey("compliance_assessments.id"), nullable=False),
    Column("assessed_at", TS, nullable=False),
    Column("tool", String(128), nullable=False),
    Index(None, "tenant_id", "device_id", "check_id"),
    Index(None, "tenant_id", "host_id"),
    Index(None, "tenant_id", "check_id", "status"),
)

# A person's statement that a requirement is met (or not) on a model or device, with
# evidence files; it lapses at expires_at.
attestations = Table(
    "attestations",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("requirement_id", String(96), nullable=False),
    Column("subject_type", String(8), nullable=False),
    Column("subject_id", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("statement", Text, nullable=False),
    Column("method", String(64), nullable=False),
    Column("attested_by", String(256), nullable=False),
    Column("attested_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("revoked_at", TS),
    Column("revoked_by", String(256)),
    Index(None, "tenant_id", "requirement_id"),
    Index(None, "tenant_id", "subject_type", "subject_id"),
)

# Files behind an attestation, content-addressed by SHA-256 and kept in the database so
# the evidence moves with it and is written in the same transaction as the attestation.
evidence_files = Table(
    "evidence_files",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("attestation_id", Integer, ForeignKey("attestations.id", ondelete="CASCADE"),
           nullable=False),
    Column("name", String(256), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(128)),
    Column("content", LargeBinary, nullable=False),
    Column("added_by", String(256), nullable=False),
    Column("added_at", TS, nullable=False),
    Index(None, "tenant_id", "attestation_id"),
)

# An accepted exception to a check or requirement on a device or model (or every device:
# subject_type "tenant"), with justification and approver; lapses at expires_at.
waivers = Table(
    "waivers",
    metadata,
    Column("id", Integer, primary_key=True),
    _tenant(),
    Column("target", String(112), nullable=False),
    Column("subject_type", String(8), nullable=False),
    Column("subject_id", BigInteger().with_variant(Integer, "sqlite")),
    Column("justification", Text, nullable=False),
    Column("approver", String(256), nullable=False),
    Column("requested_by", String(256), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("revoked_at", TS),
    Column("revoked_by", String(256)),
    Index(None, "tenant_id", "target"),
)

# One row per tenant and day with the summary measures, for trends in `report summary`.
report_snapshots = Table(
    "report_snapshots",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("day", Date, nullable=False),
    Column("measures", Text, nullable=False),
    Column("taken_at", TS, nullable=False),
    PrimaryKeyConstraint("tenant_id", "day"),
)
