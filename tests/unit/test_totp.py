"""TOTP (RFC 6238) as web sign-in uses it: drift window, replay refusal, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleetwarden.domain import totp

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC 6238's test key, base32
T = datetime(2026, 11, 24, 10, 0, 15, tzinfo=UTC)


def test_rfc6238_reference_value() -> None:
    # RFC 6238 appendix B: T=59 s gives 94287082 (8 digits, SHA-1); 6 digits: 287082.
    assert totp.code_at(SECRET, datetime.fromtimestamp(59, UTC)) == "287082"


def test_current_and_neighbouring_steps_are_accepted_once() -> None:
    step = int(T.timestamp()) // 30
    for offset in (-1, 0, 1):
        code = totp.code_at(SECRET, T + timedelta(seconds=30 * offset))
        assert totp.accepted_step(SECRET, code, T, None) == step + offset
    code = totp.code_at(SECRET, T)
    assert totp.accepted_step(SECRET, code, T, last_step=step) is None  # replay
    assert totp.accepted_step(SECRET, code, T, last_step=step - 1) == step


def test_stale_and_malformed_codes_are_refused() -> None:
    old = totp.code_at(SECRET, T - timedelta(seconds=90))
    assert totp.accepted_step(SECRET, old, T, None) is None
    for bad in ("", "12345", "1234567", "abcdef", "12 34 5x", "١٢٣٤٥٦"):
        assert totp.accepted_step(SECRET, bad, T, None) is None
    spaced = totp.code_at(SECRET, T)
    assert totp.accepted_step(SECRET, f"{spaced[:3]} {spaced[3:]}", T, None) is not None


def test_new_secrets_are_random_base32_of_160_bits() -> None:
    a, b = totp.new_secret(), totp.new_secret()
    assert a != b and len(a) == 32 and set(a) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    uri = totp.provisioning_uri(a, "iso@northshire.example (Northshire)")
    assert uri.startswith("otpauth://totp/") and "issuer=fleetwarden" in uri and a in uri
