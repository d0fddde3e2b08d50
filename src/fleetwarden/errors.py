"""The one exception family of fleetwarden.

Adapters and services raise these; the CLI and the API map them to an exit code or
an HTTP status with a one-line message. Messages must never carry secrets.
"""

from __future__ import annotations


class FleetwardenError(Exception):
    """Base of every error the product reports to a user."""

    exit_code = 1
    http_status = 500
    code = "error"


class InputError(FleetwardenError):
    """The caller gave something malformed: bad value, unknown column, bad file."""

    exit_code = 2
    http_status = 422
    code = "invalid_input"


class NotFound(FleetwardenError):
    """No such object in the caller's tenant (also used for other tenants' objects)."""

    exit_code = 2
    http_status = 404
    code = "not_found"


class Conflict(FleetwardenError):
    """The change clashes with stored state: a duplicate identifier, a used name."""

    exit_code = 2
    http_status = 409
    code = "conflict"


class IllegalTransition(FleetwardenError):
    """A lifecycle transition the state machine or one of its guards refuses."""

    exit_code = 2
    http_status = 409
    code = "illegal_transition"


class ApprovalRequired(FleetwardenError):
    """The tenant requires an approved change request for this change."""

    exit_code = 2
    http_status = 409
    code = "approval_required"


class AuthenticationError(FleetwardenError):
    """Missing, malformed, expired or wrong credentials."""

    exit_code = 2
    http_status = 401
    code = "unauthenticated"


class PermissionDenied(FleetwardenError):
    """Authenticated, but the role does not allow the action."""

    exit_code = 2
    http_status = 403
    code = "forbidden"


class ConfigurationError(FleetwardenError):
    """The installation is not set up the way the command needs (no tenant, no key)."""

    exit_code = 1
    http_status = 500
    code = "configuration"


class StorageError(FleetwardenError):
    """The database could not be reached or refused the operation."""

    exit_code = 1
    http_status = 503
    code = "storage"


class AuditChainError(FleetwardenError):
    """The audit log failed verification."""

    exit_code = 1
    http_status = 500
    code = "audit_chain_broken"


class LabError(FleetwardenError):
    """The device lab could not start, stop or describe itself (ports, state, scenario)."""

    exit_code = 1
    http_status = 500
    code = "lab"


class ScanError(FleetwardenError):
    """A discovery scan itself failed (a sweep worker died), not a device."""

    exit_code = 1
    http_status = 500
    code = "scan"


class SbomError(FleetwardenError):
    """An SBOM file was refused: unknown or unsupported format, malformed, or hostile."""

    exit_code = 2
    http_status = 422
    code = "sbom"


class FeedError(FleetwardenError):
    """A vulnerability feed file is unreadable, malformed, hostile or holds a bad record."""

    exit_code = 2
    http_status = 422
    code = "feed"
