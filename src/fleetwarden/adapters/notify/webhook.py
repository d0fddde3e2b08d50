"""POST an alert to a webhook, signed with HMAC-SHA256 when the tenant set a secret.

The receiver checks ``X-Fleetwarden-Signature: sha256=<hex>`` over the raw body.

Must not: follow redirects (a redirect could carry the body somewhere unintended) or put
the secret or the response body in an error.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request

from fleetwarden import __version__
from fleetwarden.errors import FleetwardenError

TIMEOUT = 10.0


class WebhookError(FleetwardenError):
    """The webhook endpoint could not be reached or did not accept the alert."""

    code = "webhook"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, secret: str | None) -> None:
    headers = {"Content-Type": "application/json",
               "User-Agent": f"fleetwarden/{__version__}"}
    if secret:
        headers["X-Fleetwarden-Signature"] = signature(body, secret)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"webhook answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WebhookError(f"webhook unreachable: {type(reason).__name__}") from None
    if not 200 <= status < 300:
        raise WebhookError(f"webhook answered HTTP {status}")
