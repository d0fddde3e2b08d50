"""The deeper network probes of a compliance assessment: a full TLS scan and default
credentials.

``tls.scan_tls`` runs sslyze against TLS services discovery found and grades each one
with sslyze's Mozilla TLS configuration checker; ``credentials.test_default_credentials``
tries a few well-known public vendor defaults (``catalogues/credentials``) on a device's
login services. Both return the values of ``domain.compliance.facts`` (``TlsScan``,
``CredentialTest``) and never raise for one bad device: an unreachable, hostile or
broken service becomes an ``error`` or a ``skipped`` reason.

Must not: connect to anything but the (address, port) pairs it is given (no sweeping,
no following redirects or form actions to another host or port); try credentials on a
host the caller has not authorised, or more than the attempt budget on any login; keep
or log a password (results and logs name the account and the catalogue entry id only).
"""

from __future__ import annotations
